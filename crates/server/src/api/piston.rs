//! Piston v2, at `/api/v2`: `GET /api/v2/runtimes` and `POST /api/v2/execute`, as Piston's
//! clients call them (facts: `../shared/compat/NOTES.md`; differences: `docs/api.md`). An
//! execute is a run now, on the interactive lane; Piston keeps nothing, nor does this.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Map, Value};

use super::read_body;
use crate::core::{self, Admitted, Job, Report};
use crate::error::ApiError;
use crate::AppState;

/// Piston's names for judgelet's languages, its aliases, and the runtime behind it when
/// Piston names one.
const RUNTIMES: [(&str, &str, &[&str], Option<&str>); 7] = [
    ("c", "c", &["gcc"], None),
    ("cpp", "c++", &["cpp", "g++"], None),
    ("python", "python", &["py", "py3", "python3"], None),
    ("java", "java", &[], None),
    ("go", "go", &["go", "golang"], None),
    ("rust", "rust", &["rs"], None),
    (
        "javascript",
        "javascript",
        &["node-javascript", "node-js", "javascript", "js"],
        Some("node"),
    ),
];

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v2/runtimes", get(runtimes))
        .route("/api/v2/execute", post(execute))
}

/// Errors as Piston words them: `{"message": ...}`.
struct PistonError(StatusCode, String);

impl IntoResponse for PistonError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "message": self.1 }))).into_response()
    }
}

impl From<ApiError> for PistonError {
    fn from(error: ApiError) -> PistonError {
        let status = error.status();
        let message = error.body()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        PistonError(status, message)
    }
}

fn bad(message: impl Into<String>) -> PistonError {
    PistonError(StatusCode::BAD_REQUEST, message.into())
}

/// A runtime this server has.
struct Runtime {
    language: Arc<lang::Language>,
    /// Piston's name for it.
    name: &'static str,
    aliases: &'static [&'static str],
    runtime: Option<&'static str>,
    version: String,
}

fn available(state: &AppState) -> Vec<Runtime> {
    RUNTIMES
        .iter()
        .filter_map(|(id, name, aliases, runtime)| {
            let language = state.toolchain.registry().get(id)?;
            Some(Runtime {
                version: super::version_number(language),
                language: language.clone(),
                name,
                aliases,
                runtime: *runtime,
            })
        })
        .collect()
}

async fn runtimes(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, PistonError> {
    authenticate(&state, &headers)?;
    let list: Vec<Value> = available(&state)
        .into_iter()
        .map(|r| {
            let mut entry =
                json!({ "language": r.name, "version": r.version, "aliases": r.aliases });
            if let Some(runtime) = r.runtime {
                entry["runtime"] = json!(runtime);
            }
            entry
        })
        .collect();
    Ok(Json(list).into_response())
}

/// Piston has no authentication; with the operator's keys configured, a request carries
/// one as its clients send it: a raw `Authorization: KEY` (or `Bearer KEY`).
fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<(), PistonError> {
    let keys = &state.config.api_keys;
    if keys.is_empty() {
        return Ok(());
    }
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim());
    match presented {
        Some(key) if keys.accepts(key) => Ok(()),
        Some(_) => Err(PistonError(StatusCode::FORBIDDEN, "unknown API key".into())),
        None => Err(PistonError(
            StatusCode::UNAUTHORIZED,
            "an API key is required (Authorization)".into(),
        )),
    }
}

/// Whether our toolchain's `version` answers Piston's `selector` (`*`, `3.x`, `>=3.10`,
/// an exact version).
fn version_matches(selector: &str, version: &str) -> bool {
    let selector = selector.trim();
    if selector == "*" || selector == version {
        return true;
    }
    match (
        semver::VersionReq::parse(selector),
        semver::Version::parse(version),
    ) {
        (Ok(requirement), Ok(version)) => requirement.matches(&version),
        _ => false,
    }
}

/// A limit in milliseconds (or bytes), `-1` or absent for the default; at most `most`.
fn limit(body: &Map<String, Value>, field: &str, most: u64) -> Result<Option<u64>, PistonError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_f64() {
            Some(-1.0) => Ok(None),
            Some(n) if n >= 0.0 && n <= most as f64 => Ok(Some(n as u64)),
            Some(n) if n > most as f64 => Err(bad(format!(
                "{field} cannot exceed the configured limit of {most}"
            ))),
            _ => Err(bad(format!("{field} must be a number"))),
        },
    }
}

async fn execute(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, PistonError> {
    authenticate(&state, &headers)?;
    // Whatever the content type: the npm client sends its JSON as text/plain.
    let config = &state.config;
    let bytes = read_body(body, config.max_json_bytes(), config.read_timeout).await?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "malformed JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let Some(body) = value.as_object() else {
        return Err(bad("the request is a JSON object"));
    };
    let text = |field: &str| body.get(field).and_then(Value::as_str);
    let asked = text("language").ok_or_else(|| bad("language is required as a string"))?;
    let selector = match body.get("version") {
        None | Some(Value::Null) => "*",
        Some(Value::String(version)) => version.as_str(),
        Some(_) => return Err(bad("version is required as a string")),
    };
    let runtime = available(&state).into_iter().find(|r| {
        (r.name == asked || r.aliases.contains(&asked)) && version_matches(selector, &r.version)
    });
    let Some(Runtime {
        language,
        name,
        version,
        ..
    }) = runtime
    else {
        return Err(bad(format!("{asked}-{selector} runtime is unknown")));
    };
    let files = body
        .get("files")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("files is required as an array"))?;
    if files.is_empty() {
        return Err(bad("files is required as an array"));
    }
    let mut decoded = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        let content = file
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("files[{i}].content is required as a string")))?;
        let contents = match file
            .get("encoding")
            .and_then(Value::as_str)
            .unwrap_or("utf8")
        {
            "utf8" => content.as_bytes().to_vec(),
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(content.trim())
                .map_err(|e| bad(format!("files[{i}].content is not valid base64: {e}")))?,
            "hex" => hex::decode(content.trim())
                .map_err(|e| bad(format!("files[{i}].content is not valid hex: {e}")))?,
            other => {
                return Err(bad(format!(
                    "files[{i}].encoding {other:?} is not base64, hex or utf8"
                )))
            }
        };
        let name = file
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        decoded.push((name, contents));
    }
    let mut stdin = match body.get("stdin") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(stdin)) => stdin.clone(),
        Some(_) => return Err(bad("stdin must be a string")),
    };
    // As Piston does.
    if !stdin.ends_with('\n') {
        stdin.push('\n');
    }
    let args = match body.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(args)) => args
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("args must be strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("args must be an array")),
    };
    let maxima = sandbox::Limits::MAXIMA;
    // Compilation runs with the server's own limits; a request's are checked, not used.
    limit(body, "compile_timeout", maxima.wall_time_ms)?;
    limit(body, "compile_cpu_time", maxima.cpu_time_ms)?;
    limit(body, "compile_memory_limit", maxima.memory_kib * 1024)?;
    let wall = limit(body, "run_timeout", maxima.wall_time_ms)?.unwrap_or(3000);
    let cpu = limit(body, "run_cpu_time", maxima.cpu_time_ms)?.unwrap_or(wall);
    let memory = limit(body, "run_memory_limit", maxima.memory_kib * 1024)?;
    let mut files = decoded.into_iter();
    let (main_name, source) = files.next().expect("at least one file");
    let request = lang::RunRequest {
        language: language.id.clone(),
        source,
        source_name: main_name,
        stdin: stdin.into_bytes(),
        args,
        limits: sandbox::LimitsRequest {
            cpu_time_ms: Some(cpu.max(1)),
            wall_time_ms: Some(wall.max(1)),
            memory_kib: memory.map(|bytes| bytes.div_ceil(1024)),
            ..sandbox::LimitsRequest::default()
        },
        files: files
            .enumerate()
            .map(|(i, (name, contents))| lang::File {
                // Piston's name for a file without one.
                name: name.unwrap_or_else(|| format!("file{}.code", i + 1)),
                contents,
            })
            .collect(),
    };
    if request.source.len() > config.max_source_bytes {
        return Err(ApiError::TooLarge {
            what: "the source",
            limit: config.max_source_bytes,
        }
        .into());
    }
    let checked = core::check(&state, Job::Run(request))?;
    let place = state.admission.place()?;
    let Report::Run(outcome) =
        core::execute(&state, checked, Admitted::Interactive(place), &|_| {}).await?
    else {
        return Err(ApiError::Internal("a run gave a grade report".into()).into());
    };
    state
        .metrics
        .outcome(&language.id, outcome.status().as_str());
    Ok(Json(answer(&outcome, name, &version)).into_response())
}

/// A run outcome as Piston's answer: a `run` stage and, for compiled languages, a
/// `compile` stage (and `run` a copy of it when compilation failed, as Piston does).
fn answer(outcome: &lang::RunOutcome, name: &str, version: &str) -> Value {
    let compile = outcome.compile.as_ref().map(compile_stage);
    let run = match (&outcome.run, &compile) {
        (Some(run), _) => run_stage(run),
        (None, Some(compile)) => compile.clone(),
        (None, None) => json!(null),
    };
    let mut answer = json!({ "language": name, "version": version, "run": run });
    if let Some(compile) = compile {
        answer["compile"] = compile;
    }
    answer
}

fn signal_name(signal: i32) -> String {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => return format!("SIG{signal}"),
    }
    .to_owned()
}

/// A stage as Piston reports it: `status` RE (exit code), SG (signal), TO (time), OL
/// (stdout too long), with the signal SIGKILL for the limits (memory too, where Piston's
/// kernel kills with SIGKILL), and judgelet's precise cause in `message`.
fn stage(
    stdout: String,
    stderr: String,
    exit_code: Option<i32>,
    signal: Option<i32>,
    limit: Option<sandbox::LimitKind>,
    times: (f64, f64, u64),
) -> Value {
    use sandbox::LimitKind;
    let (status, signal, code, message) = match limit {
        Some(LimitKind::CpuTime | LimitKind::WallTime) => (
            "TO",
            Some("SIGKILL".to_owned()),
            None,
            Some(format!(
                "{} limit exceeded",
                limit.map_or("", |l| l.as_str())
            )),
        ),
        Some(LimitKind::Stdout | LimitKind::FileSize) => (
            "OL",
            Some("SIGKILL".to_owned()),
            None,
            Some(format!(
                "{} limit exceeded",
                limit.map_or("", |l| l.as_str())
            )),
        ),
        Some(LimitKind::Memory) => (
            "SG",
            Some("SIGKILL".to_owned()),
            None,
            Some("memory limit exceeded".to_owned()),
        ),
        None => match (signal, exit_code) {
            (Some(signal), _) => ("SG", Some(signal_name(signal)), None, None),
            (None, Some(0)) => ("", None, Some(0), None),
            (None, code) => ("RE", None, code, None),
        },
    };
    let mut output = stdout.clone();
    output.push_str(&stderr);
    json!({
        "stdout": stdout,
        "stderr": stderr,
        "output": output,
        "code": code,
        "signal": signal,
        "message": message,
        "status": (!status.is_empty()).then_some(status),
        "cpu_time": times.0.round() as u64,
        "wall_time": times.1.round() as u64,
        "memory": times.2 * 1024,
    })
}

fn run_stage(run: &sandbox::RunReport) -> Value {
    stage(
        String::from_utf8_lossy(&run.stdout.bytes).into_owned(),
        String::from_utf8_lossy(&run.stderr.bytes).into_owned(),
        run.exit_code,
        run.signal,
        run.limit_exceeded,
        (run.cpu_time_ms, run.wall_time_ms, run.memory_kib),
    )
}

/// A compilation: the compiler's diagnostics are on stderr.
fn compile_stage(compile: &lang::CompileReport) -> Value {
    stage(
        String::new(),
        compile.output.clone(),
        compile.exit_code,
        compile.signal,
        compile.limit_exceeded,
        (
            compile.cpu_time_ms,
            compile.wall_time_ms,
            compile.memory_kib,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_selected_as_semver_selects_them() {
        assert!(version_matches("*", "3.11.2"));
        assert!(version_matches("3.11.2", "3.11.2"));
        assert!(version_matches("3.x", "3.11.2"));
        assert!(version_matches(">=3.10", "3.11.2"));
        assert!(!version_matches("3.12.0", "3.11.2"));
        assert!(!version_matches("2.x", "3.11.2"));
    }
}
