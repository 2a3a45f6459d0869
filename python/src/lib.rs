//! The Python module `ishowtts._ishowtts`, re-exported by the `ishowtts`
//! package (python/ishowtts/__init__.py).
//!
//! A thin layer over the engine: arguments become the engine's option
//! structs, the engine runs with the GIL released, results become numpy
//! arrays and small read-only classes, and errors become the exception
//! classes of `ishowtts._errors` by their stable code. All text-to-speech
//! logic stays in the `ishowtts` crate.

mod engine;
mod errors;
mod info;
mod options;
mod stream;

use pyo3::prelude::*;

#[pymodule]
fn _ishowtts(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<engine::Engine>()?;
    m.add_class::<stream::Stream>()?;
    m.add_class::<stream::Chunk>()?;
    m.add_class::<stream::ChunkTimings>()?;
    m.add_class::<info::VoiceInfo>()?;
    m.add_class::<info::RequestSummary>()?;
    m.add_class::<info::Metrics>()?;
    m.add_class::<info::Percentiles>()?;
    m.add_class::<info::CacheStats>()?;
    m.add_function(wrap_pyfunction!(engine::_config_defaults, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // Viseme names by id (`Chunk.phonemes`): the Oculus lip-sync set.
    let visemes: Vec<&str> = ishowtts::timing::Viseme::ALL
        .iter()
        .map(|v| v.name())
        .collect();
    m.add("VISEMES", visemes)?;
    Ok(())
}
