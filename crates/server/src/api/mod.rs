//! The front doors: one module per API surface, each translating its wire format to the core
//! requests (`core::Job`) and the core reports back. No module here runs anything itself.
//!
//! - [`function`]: the OpenFaaS-style functions, `POST /function/<name>` (now) and
//!   `POST /async-function/<name>` (stored, run later).
//! - [`results`]: the stored submissions, `GET` and `DELETE /results/<id>`.

pub mod function;
pub mod results;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};

use crate::error::ApiError;

/// Whether the request says its body is JSON.
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
        .unwrap_or(false)
}

/// The whole body, at most `limit` bytes, arriving within `timeout`.
pub async fn read_body(
    body: Body,
    limit: usize,
    timeout: Option<Duration>,
) -> Result<Bytes, ApiError> {
    let reading = axum::body::to_bytes(body, limit);
    let read = match timeout {
        Some(timeout) => tokio::time::timeout(timeout, reading)
            .await
            .map_err(|_| ApiError::SlowBody(timeout))?,
        None => reading.await,
    };
    read.map_err(|_| ApiError::TooLarge {
        what: "the request body",
        limit,
    })
}

pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "malformed JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })
}

pub fn at_most(what: &'static str, len: usize, limit: usize) -> Result<(), ApiError> {
    match len > limit {
        true => Err(ApiError::TooLarge { what, limit }),
        false => Ok(()),
    }
}
