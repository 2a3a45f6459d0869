//! Engine errors as Python exceptions.
//!
//! The exception classes live in `ishowtts/_errors.py` (several of them
//! also derive from a builtin such as `ValueError` or `LookupError`, which
//! a class made in Rust cannot do); `from_code` there is the one table from
//! the engine's stable [`ErrorCode`](ishowtts::ErrorCode) to a class.

use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use ishowtts::Error;

static FROM_CODE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The exception for `e`: the class of its code, with its message.
pub fn to_py(e: Error) -> PyErr {
    Python::attach(|py| make(py, e.code() as i32, &e.to_string()))
}

fn make(py: Python<'_>, code: i32, message: &str) -> PyErr {
    let made = FROM_CODE
        .import(py, "ishowtts._errors", "from_code")
        .and_then(|from_code| from_code.call1((code, message)));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        // Only when the package is broken (the native module imported
        // without its Python half): still say what went wrong.
        Err(_) => PyRuntimeError::new_err(format!("ishowtts error {code}: {message}")),
    }
}

/// `Err(to_py(e))` for results of the core.
pub trait IntoPyResult<T> {
    /// Maps the engine's error to its exception.
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// An `InvalidParameterError` for a keyword argument out of its range.
pub fn invalid_parameter(name: &'static str, value: impl ToString, reason: &'static str) -> PyErr {
    to_py(Error::InvalidParameter {
        name,
        value: value.to_string(),
        reason,
    })
}

/// A `CallbackError` raised from `cause`, the exception a chunk callback
/// raised. Exceptions that are not `Exception`s (`KeyboardInterrupt`,
/// `SystemExit`) are not the callback's fault: they pass through as they
/// are.
pub fn callback_failed(py: Python<'_>, cause: PyErr) -> PyErr {
    if !cause.is_instance_of::<PyException>(py) {
        return cause;
    }
    let value = cause.value(py);
    let what = match (value.get_type().name(), value.str()) {
        (Ok(name), Ok(text)) if !text.to_string_lossy().is_empty() => {
            format!("{name}: {}", text.to_string_lossy())
        }
        (Ok(name), _) => name.to_string(),
        _ => "an exception".to_owned(),
    };
    let err = to_py(Error::CallbackFailed(format!(
        "the callback raised {what}; the request was cancelled"
    )));
    err.set_cause(py, Some(cause));
    err
}
