//! Jobe, the server behind Moodle's CodeRunner, at `/jobe/index.php/restapi` (facts:
//! `../shared/compat/NOTES.md`; differences: `docs/api.md`). A run is a run now, on the
//! interactive lane (Jobe has only immediate runs); files stored with `PUT files/ID` live in
//! the store, so every replica has them.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Map, Value};

use super::read_body;
use crate::core::{self, Admitted, Job, Report};
use crate::error::ApiError;
use crate::AppState;

/// Jobe's language ids for judgelet's languages; `go` and `rust` are judgelet's own.
const LANGUAGES: [(&str, &str); 7] = [
    ("c", "c"),
    ("cpp", "cpp"),
    ("java", "java"),
    ("nodejs", "javascript"),
    ("python3", "python"),
    ("go", "go"),
    ("rust", "rust"),
];

/// Outcomes, as Jobe numbers them.
const COMPILE_ERROR: u32 = 11;
const RUNTIME_ERROR: u32 = 12;
const TIME_LIMIT: u32 = 13;
const OK: u32 = 15;
const MEMORY_LIMIT: u32 = 17;
const ILLEGAL_SYSCALL: u32 = 19;
const INTERNAL_ERROR: u32 = 20;
const SERVER_OVERLOAD: u32 = 21;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/jobe/index.php/restapi/languages", get(languages))
        .route("/jobe/index.php/restapi/runs", post(runs))
        .route(
            "/jobe/index.php/restapi/files/{id}",
            put(put_file).head(head_file),
        )
}

/// Jobe's errors: the message, JSON-encoded, as the body, with its HTTP status.
struct JobeError(StatusCode, String);

impl IntoResponse for JobeError {
    fn into_response(self) -> Response {
        (self.0, Json(Value::String(self.1))).into_response()
    }
}

impl From<ApiError> for JobeError {
    fn from(error: ApiError) -> JobeError {
        let status = error.status();
        let message = error.body()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        JobeError(status, message)
    }
}

fn bad(message: impl Into<String>) -> JobeError {
    JobeError(StatusCode::BAD_REQUEST, message.into())
}

/// With the operator's keys configured, `X-API-KEY` must hold one (Jobe's
/// `require_api_keys`, its words).
fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<(), JobeError> {
    let keys = &state.config.api_keys;
    if keys.is_empty() {
        return Ok(());
    }
    match headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        None => Err(JobeError(StatusCode::FORBIDDEN, "Missing API key".into())),
        Some(key) if keys.accepts(key) => Ok(()),
        Some(_) => Err(JobeError(StatusCode::FORBIDDEN, "Unknown API key".into())),
    }
}

fn language(state: &AppState, id: &str) -> Option<Arc<lang::Language>> {
    let id = id.to_ascii_lowercase();
    let (_, ours) = LANGUAGES.iter().find(|(jobe, _)| *jobe == id)?;
    state.toolchain.registry().get(ours).cloned()
}

async fn languages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, JobeError> {
    authenticate(&state, &headers)?;
    let list: Vec<Value> = LANGUAGES
        .iter()
        .filter_map(|(jobe, ours)| {
            let language = state.toolchain.registry().get(ours)?;
            Some(json!([jobe, super::version_number(language)]))
        })
        .collect();
    Ok(Json(list).into_response())
}

/// A file id as Jobe takes it: letters and digits, at least 8 (CodeRunner's are MD5s).
fn file_id(id: &str) -> bool {
    id.len() >= 8 && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

async fn put_file(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, JobeError> {
    authenticate(&state, &headers)?;
    if !file_id(&id) {
        return Err(bad(format!(
            "Invalid file id {id:?}: letters and digits, at least 8"
        )));
    }
    let config = &state.config;
    let bytes = read_body(body, config.max_json_bytes(), config.read_timeout).await?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|_| bad("Missing or invalid file_contents"))?;
    let contents = value
        .get("file_contents")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Missing or invalid file_contents"))?;
    let compact: String = contents
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let contents = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| bad(format!("file_contents is not valid base64: {e}")))?;
    if contents.len() > config.max_stdin_bytes {
        return Err(ApiError::TooLarge {
            what: "the file",
            limit: config.max_stdin_bytes,
        }
        .into());
    }
    state.queue()?.put_file(&id, &contents).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn head_file(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, JobeError> {
    authenticate(&state, &headers)?;
    let found = file_id(&id) && state.queue()?.has_file(&id).await?;
    Ok(match found {
        true => StatusCode::NO_CONTENT,
        false => StatusCode::NOT_FOUND,
    }
    .into_response())
}

/// A number parameter, or `default`; beyond `most` (judgelet's maximum) refused.
fn parameter(
    parameters: &Map<String, Value>,
    name: &str,
    default: f64,
    most: f64,
) -> Result<f64, JobeError> {
    let value = match parameters.get(name) {
        None | Some(Value::Null) => return Ok(default),
        Some(value) => value
            .as_f64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| bad(format!("Parameter {name} is not a number")))?,
    };
    if value < 0.0 {
        return Err(bad(format!("Parameter {name} may not be negative")));
    }
    if value > most {
        return Err(bad(format!(
            "Parameter {name} ({value}) exceeds the maximum this server allows ({most})"
        )));
    }
    Ok(value)
}

async fn runs(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, JobeError> {
    authenticate(&state, &headers)?;
    let config = &state.config;
    let bytes = read_body(body, config.max_json_bytes(), config.read_timeout).await?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "Invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let spec = value
        .get("run_spec")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("No run_spec attribute found"))?;
    let text = |field: &str| spec.get(field).and_then(Value::as_str);
    let language_id = text("language_id").ok_or_else(|| bad("No language specified"))?;
    let language = language(&state, language_id).ok_or_else(|| {
        bad(format!(
            "Language '{}' is not known",
            language_id.to_ascii_lowercase()
        ))
    })?;
    let source = text("sourcecode").ok_or_else(|| bad("No sourcecode specified"))?;
    if source.len() > config.max_source_bytes {
        return Err(ApiError::TooLarge {
            what: "the source",
            limit: config.max_source_bytes,
        }
        .into());
    }
    // Jobe's hack: `prog.java` means "find the class", which a Java source without a name
    // gets anyway (languages.toml's `source_name`).
    let source_name = text("sourcefilename")
        .map(str::trim)
        .filter(|name| !name.is_empty() && *name != "prog.java")
        .map(str::to_owned);
    let input = text("input").unwrap_or_default();
    let mut files = Vec::new();
    if let Some(list) = spec.get("file_list") {
        let list = list.as_array().ok_or_else(|| bad("Invalid file list"))?;
        for entry in list {
            let (Some(id), Some(name)) = (
                entry.get(0).and_then(Value::as_str),
                entry.get(1).and_then(Value::as_str),
            ) else {
                return Err(bad("Invalid file list: each entry is [file_id, name]"));
            };
            let contents = match file_id(id) {
                true => state.queue()?.file(id).await?,
                false => None,
            };
            let Some(contents) = contents else {
                return Err(JobeError(
                    StatusCode::NOT_FOUND,
                    "One or more of the specified files is missing/unavailable".into(),
                ));
            };
            files.push(lang::File {
                name: name.to_owned(),
                contents,
            });
        }
    }
    let empty = Map::new();
    let parameters = spec
        .get("parameters")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let maxima = sandbox::Limits::MAXIMA;
    let cputime = parameter(
        parameters,
        "cputime",
        5.0,
        maxima.cpu_time_ms as f64 / 1000.0,
    )?;
    // Jobe's 0 is "no limit": here, the most the server allows.
    let most_mb = (maxima.memory_kib / 1024) as f64;
    let default_mb = match language.id.as_str() {
        "python" => 1000.0,
        _ => 400.0,
    };
    let memory = parameter(parameters, "memorylimit", default_mb, most_mb)?;
    let memory = if memory == 0.0 { most_mb } else { memory };
    let numprocs = parameter(parameters, "numprocs", 30.0, f64::from(maxima.processes))?;
    let disklimit = parameter(
        parameters,
        "disklimit",
        20.0,
        (maxima.file_size_bytes >> 20) as f64,
    )?;
    let streamsize = parameter(
        parameters,
        "streamsize",
        2.0,
        (maxima.stdout_bytes >> 20) as f64,
    )?;
    let args = match parameters.get("runargs") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(args)) => args
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("runargs must be strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("runargs must be a list")),
    };
    let cpu_ms = (cputime * 1000.0).round().max(1.0) as u64;
    let request = lang::RunRequest {
        language: language.id.clone(),
        source: source.as_bytes().to_vec(),
        source_name,
        stdin: input.as_bytes().to_vec(),
        args,
        limits: sandbox::LimitsRequest {
            cpu_time_ms: Some(cpu_ms),
            // Jobe's wall clock is a few times its CPU time.
            wall_time_ms: Some((cpu_ms * 3 + 1000).min(maxima.wall_time_ms)),
            memory_kib: Some((memory * 1024.0) as u64),
            processes: Some(numprocs as u32),
            file_size_bytes: Some((disklimit * 1024.0 * 1024.0) as u64),
            stdout_bytes: Some((streamsize * 1024.0 * 1024.0) as u64),
            ..sandbox::LimitsRequest::default()
        },
        files,
    };
    let checked = core::check(&state, Job::Run(request))?;
    let place = match state.admission.place() {
        Ok(place) => place,
        // Jobe answers an overload with HTTP 200 and outcome 21.
        Err(ApiError::Overloaded(_)) => return Ok(Json(overloaded()).into_response()),
        Err(e) => return Err(e.into()),
    };
    let outcome = match core::execute(&state, checked, Admitted::Interactive(place), &|_| {}).await
    {
        Ok(Report::Run(outcome)) => outcome,
        Ok(Report::Grade(_)) => {
            return Err(ApiError::Internal("a run gave a grade report".into()).into())
        }
        Err(ApiError::Overloaded(_)) => return Ok(Json(overloaded()).into_response()),
        Err(ApiError::Internal(detail)) => {
            tracing::error!(%detail, "internal error");
            return Ok(Json(result(INTERNAL_ERROR, "", b"", b"internal error")).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    state
        .metrics
        .outcome(&language.id, outcome.status().as_str());
    Ok(Json(answer(&outcome)).into_response())
}

fn overloaded() -> Value {
    result(SERVER_OVERLOAD, "", b"", b"")
}

/// Text as Jobe returns it: invalid UTF-8 escaped as `\xNN`.
fn escaped(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

fn result(outcome: u32, cmpinfo: &str, stdout: &[u8], stderr: &[u8]) -> Value {
    json!({
        "run_id": uuid::Uuid::new_v4().simple().to_string(),
        "outcome": outcome,
        "cmpinfo": cmpinfo,
        "stdout": escaped(stdout),
        "stderr": escaped(stderr),
    })
}

/// A run outcome as Jobe reports it.
fn answer(outcome: &lang::RunOutcome) -> Value {
    use lang::RunStatus;
    let compile_output = outcome.compile.as_ref().map_or("", |c| c.output.as_str());
    let Some(run) = &outcome.run else {
        return result(COMPILE_ERROR, compile_output, b"", b"");
    };
    let code = match outcome.status() {
        RunStatus::Ok => OK,
        RunStatus::CompileError => COMPILE_ERROR,
        RunStatus::TimeLimitExceeded => TIME_LIMIT,
        RunStatus::MemoryLimitExceeded => MEMORY_LIMIT,
        RunStatus::RunTimeError if run.signal == Some(31) => ILLEGAL_SYSCALL,
        RunStatus::RunTimeError | RunStatus::OutputLimitExceeded => RUNTIME_ERROR,
    };
    let mut stderr = run.stderr.bytes.clone();
    if outcome.status() == RunStatus::OutputLimitExceeded {
        stderr.extend_from_slice(b"\njudgelet: output limit exceeded\n");
    }
    // Jobe's cmpinfo is empty when compilation succeeded.
    let cmpinfo = match outcome.compile.as_ref() {
        Some(compile) if !compile.success => compile_output,
        _ => "",
    };
    result(code, cmpinfo, &run.stdout.bytes, &stderr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_escaped_as_jobe_does() {
        assert_eq!(escaped(b"ok \xff\xfe!"), "ok \\xff\\xfe!");
        assert_eq!(escaped("é".as_bytes()), "é");
    }

    #[test]
    fn file_ids_are_jobes() {
        assert!(file_id("0123456789abcdef0123456789abcdef"));
        assert!(!file_id("short"));
        assert!(!file_id("../../etc/passwd"));
    }
}
