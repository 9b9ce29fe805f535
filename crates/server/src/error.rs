//! The one error type of the HTTP API. A program that fails is not a request that fails:
//! compile errors and crashes are `200` with the status in the body. These are the requests
//! judgelet cannot serve, each with its status code.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404: no function of that name; the body lists the known ones.
    #[error("unknown function {name:?}; known: {}", known.join(", "))]
    UnknownFunction { name: String, known: Vec<String> },
    /// 404: no language of that name here; the body lists the known ones.
    #[error("unknown language {language:?}; known: {}", known.join(", "))]
    UnknownLanguage {
        language: String,
        known: Vec<String>,
    },
    /// 404: no problem of that id; the body lists the known ones.
    #[error("unknown problem {problem:?}; known: {}", known.join(", "))]
    UnknownProblem { problem: String, known: Vec<String> },
    /// 404: no such path.
    #[error("{0}")]
    NotFound(String),
    /// 400: the body is not what the function takes (malformed JSON, invalid UTF-8, ...).
    #[error("{0}")]
    BadRequest(String),
    /// 413: the body or the source is larger than the server accepts.
    #[error("{what} is larger than {limit} bytes")]
    TooLarge { what: &'static str, limit: usize },
    /// 415: a content type the function does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 405: the method does not apply to the path.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 429: every slot is busy and the wait queue is full (or the wait was too long).
    #[error("server overloaded: {0}; retry later")]
    Overloaded(&'static str),
    /// 408: the client sent the body more slowly than `read_timeout` allows.
    #[error("the request body did not arrive within {0:?} (read_timeout)")]
    SlowBody(std::time::Duration),
    /// 401: the request needs a key it did not bring (or brought a wrong one).
    #[error("{0}")]
    Unauthorized(String),
    /// 403: this client may not do that here.
    #[error("{0}")]
    Forbidden(String),
    /// 409: the request conflicts with the resource's state (cancelling what is done).
    #[error("{0}")]
    Conflict(String),
    /// 503: the store of submissions cannot be reached; nothing was accepted. The detail
    /// (naming the database, without its password) is logged.
    #[error("the submission store is unavailable; nothing was stored; retry later")]
    StoreUnavailable(String),
    /// 504: the request took longer than its deadline (`exec_timeout`, `write_timeout`);
    /// its run was killed.
    #[error("the request did not finish within {0:?} (exec_timeout); its run was killed")]
    Deadline(std::time::Duration),
    /// 500: judgelet's own fault. The detail is logged, not sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::UnknownFunction { .. }
            | ApiError::UnknownLanguage { .. }
            | ApiError::UnknownProblem { .. }
            | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Overloaded(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::SlowBody(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Deadline(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::UnknownFunction { .. } => "unknown_function",
            ApiError::UnknownLanguage { .. } => "unknown_language",
            ApiError::UnknownProblem { .. } => "unknown_problem",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Overloaded(_) => "overloaded",
            ApiError::SlowBody(_) => "request_timeout",
            ApiError::Deadline(_) => "deadline_exceeded",
            ApiError::Conflict(_) => "conflict",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::StoreUnavailable(_) => "store_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }
}

impl From<lang::Error> for ApiError {
    fn from(error: lang::Error) -> ApiError {
        match error {
            lang::Error::UnknownLanguage { language, known } => {
                ApiError::UnknownLanguage { language, known }
            }
            lang::Error::Sandbox(sandbox::Error::Full) => ApiError::Overloaded("no free box"),
            lang::Error::InvalidRequest(message) => ApiError::BadRequest(message),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<store::Error> for ApiError {
    fn from(error: store::Error) -> ApiError {
        match error {
            store::Error::Full { .. } => {
                ApiError::Overloaded("the queue of stored submissions is full")
            }
            store::Error::Corrupt { .. } => ApiError::Internal(error.to_string()),
            other => ApiError::StoreUnavailable(other.to_string()),
        }
    }
}

impl ApiError {
    /// The JSON body: `{"error": {"code", "message"}}`, with `known` where it applies.
    /// Internal details are logged here, never sent.
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({ "code": self.code(), "message": self.to_string() });
        match self {
            ApiError::UnknownFunction { known, .. }
            | ApiError::UnknownLanguage { known, .. }
            | ApiError::UnknownProblem { known, .. } => {
                body["known"] = json!(known);
            }
            ApiError::Internal(detail) => tracing::error!(%detail, "internal error"),
            ApiError::StoreUnavailable(detail) => tracing::error!(%detail, "store unavailable"),
            _ => {}
        }
        json!({ "error": body })
    }

    /// When to try again, for the errors that pass.
    fn retry_after(&self) -> Option<&'static str> {
        match self {
            ApiError::Overloaded(_) => Some("1"),
            ApiError::StoreUnavailable(_) => Some("5"),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        if let ApiError::Unauthorized(_) = self {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"judgelet\""),
            );
        }
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        response
    }
}
