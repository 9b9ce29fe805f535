//! The front doors: one module per API surface, each translating its wire format to the core
//! requests (`core::Job`) and the core reports back. No module here runs anything itself.
//!
//! - [`function`]: the OpenFaaS-style functions, `POST /function/<name>` (now) and
//!   `POST /async-function/<name>` (stored, run later).
//! - [`problems`]: the problems, `GET /problems`; uploads, `PUT` and `DELETE /problems/<id>`.
//! - [`results`]: the stored submissions, `GET` and `DELETE /results/<id>`.
//! - [`judge0`]: Judge0 CE 1.13.1 at `/judge0`.
//! - [`piston`]: Piston v2 at `/api/v2`.
//! - [`jobe`]: Jobe (Moodle CodeRunner's server) at `/jobe/index.php/restapi`.

pub mod function;
pub mod jobe;
pub mod judge0;
pub mod piston;
pub mod problems;
pub mod results;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};

use crate::callback::Message;
use crate::error::ApiError;

/// What a finished submission's callback carries, in the words of the front door it came
/// through.
pub fn callback_message(delivery: &store::Delivery) -> Message {
    match delivery.api.as_str() {
        "judge0" => judge0::callback_message(delivery),
        _ => function::callback_message(delivery),
    }
}

/// A time as RFC 3339 UTC with milliseconds (`2026-12-01T23:41:07.112Z`).
pub fn timestamp(ms: store::Millis) -> String {
    let time = std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

/// A toolchain's version number, from its version line: `12.2.0` from `gcc (Debian
/// 12.2.0-14) 12.2.0`, `1.19.8` from `go version go1.19.8 linux/amd64`.
pub fn version_number(language: &lang::Language) -> String {
    language
        .version
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '"')
        .map(|word| word.trim_start_matches(|c: char| !c.is_ascii_digit()))
        .find_map(|word| {
            let end = word
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(word.len());
            let number = word[..end].trim_end_matches('.');
            number.contains('.').then(|| number.to_owned())
        })
        .unwrap_or_else(|| language.version.clone())
}

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
