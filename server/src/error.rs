//! JSON errors in the OpenAI shape, with a stable `code` clients can match
//! on: `{"error": {"message", "type", "code", "param"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ishowtts::{Error, ErrorCode};
use serde_json::json;

/// An error answer: status, stable code, message for people.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code (`voice_not_found`, `queue_full`, …).
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault, when one is.
    pub param: Option<&'static str>,
    /// Seconds to wait before retrying (429, 503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with no field and no retry hint.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            param: None,
            retry_after: None,
        }
    }

    /// A 400 about one request field.
    pub fn field(code: &'static str, param: &'static str, message: impl Into<String>) -> Self {
        Self {
            param: Some(param),
            ..Self::new(StatusCode::BAD_REQUEST, code, message)
        }
    }

    /// A 404 naming what exists.
    pub fn not_found(code: &'static str, param: &'static str, message: impl Into<String>) -> Self {
        Self {
            param: Some(param),
            ..Self::new(StatusCode::NOT_FOUND, code, message)
        }
    }

    /// The OpenAI error `type` for this status.
    fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "authentication_error",
            404 => "not_found_error",
            413 => "invalid_request_error",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            _ => "server_error",
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind(),
            "code": self.code,
            "param": self.param,
        }})
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        let status = match code {
            ErrorCode::VoiceNotFound => StatusCode::NOT_FOUND,
            ErrorCode::Busy => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::EngineClosed => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            ErrorCode::Unsupported => StatusCode::NOT_IMPLEMENTED,
            ErrorCode::Io
            | ErrorCode::ModelFormat
            | ErrorCode::Phonemizer
            | ErrorCode::Model
            | ErrorCode::CallbackFailed
            | ErrorCode::Internal
            | ErrorCode::Ok => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut err = ApiError::new(
            status,
            if code == ErrorCode::Busy {
                "queue_full"
            } else {
                code.name()
            },
            e.to_string(),
        );
        if code == ErrorCode::Busy {
            err.retry_after = Some(1);
        }
        err
    }
}
