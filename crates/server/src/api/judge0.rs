//! Judge0 CE 1.13.1, at `/judge0`, as its clients call it (facts and sources:
//! `../shared/compat/NOTES.md`; differences: `docs/api.md`). A submission is a stored one
//! (`api` "judge0"): its token is its id, its run is the core run request, its Judge0
//! fields (expected output, limits as given, ...) are the stored metadata, and its status is
//! worked out from the run report when it is shown.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{read_body, timestamp};
use crate::callback::Message;
use crate::core::{self, Admitted, Job};
use crate::error::ApiError;
use crate::AppState;

/// The version the official SDK keys its language table on.
const VERSION: &str = "1.13.1";

/// Judge0's language ids for judgelet's languages: id, judgelet's language, Judge0's name
/// for it (the version in brackets is this server's toolchain). C and C++ keep all three
/// GCC ids of 1.13.1 (the SDK sends 52 for C++).
const LANGUAGES: [(u32, &str, &str); 11] = [
    (48, "c", "C (GCC {})"),
    (49, "c", "C (GCC {})"),
    (50, "c", "C (GCC {})"),
    (52, "cpp", "C++ (GCC {})"),
    (53, "cpp", "C++ (GCC {})"),
    (54, "cpp", "C++ (GCC {})"),
    (60, "go", "Go ({})"),
    (62, "java", "Java (OpenJDK {})"),
    (63, "javascript", "JavaScript (Node.js {})"),
    (71, "python", "Python ({})"),
    (73, "rust", "Rust ({})"),
];

const STATUSES: [&str; 14] = [
    "In Queue",
    "Processing",
    "Accepted",
    "Wrong Answer",
    "Time Limit Exceeded",
    "Compilation Error",
    "Runtime Error (SIGSEGV)",
    "Runtime Error (SIGXFSZ)",
    "Runtime Error (SIGFPE)",
    "Runtime Error (SIGABRT)",
    "Runtime Error (NZEC)",
    "Runtime Error (Other)",
    "Internal Error",
    "Exec Format Error",
];

/// Every field of a submission (the columns of 1.13.1 but `id`, and `status` and
/// `language`): what `fields=*` returns.
const FIELDS: [&str; 35] = [
    "source_code",
    "language_id",
    "stdin",
    "expected_output",
    "stdout",
    "status_id",
    "created_at",
    "finished_at",
    "time",
    "memory",
    "stderr",
    "token",
    "number_of_runs",
    "cpu_time_limit",
    "cpu_extra_time",
    "wall_time_limit",
    "memory_limit",
    "stack_limit",
    "max_processes_and_or_threads",
    "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit",
    "max_file_size",
    "compile_output",
    "exit_code",
    "exit_signal",
    "message",
    "wall_time",
    "compiler_options",
    "command_line_arguments",
    "redirect_stderr_to_stdout",
    "callback_url",
    "additional_files",
    "enable_network",
    "status",
    "language",
];

const DEFAULT_FIELDS: [&str; 8] = [
    "token",
    "time",
    "memory",
    "stdout",
    "stderr",
    "compile_output",
    "message",
    "status",
];

/// Limits: default, least, most, as 1.13.1 configures them.
struct Bound {
    field: &'static str,
    default: f64,
    least: f64,
    /// The least is exclusive (`greater_than`), not inclusive.
    exclusive: bool,
    most: f64,
}

const BOUNDS: [Bound; 8] = [
    Bound {
        field: "cpu_time_limit",
        default: 5.0,
        least: 0.0,
        exclusive: false,
        most: 15.0,
    },
    Bound {
        field: "cpu_extra_time",
        default: 1.0,
        least: 0.0,
        exclusive: false,
        most: 5.0,
    },
    Bound {
        field: "wall_time_limit",
        default: 10.0,
        least: 1.0,
        exclusive: false,
        most: 20.0,
    },
    Bound {
        field: "memory_limit",
        default: 128_000.0,
        least: 2048.0,
        exclusive: false,
        most: 512_000.0,
    },
    Bound {
        field: "stack_limit",
        default: 64_000.0,
        least: 0.0,
        exclusive: false,
        most: 128_000.0,
    },
    Bound {
        field: "max_processes_and_or_threads",
        default: 60.0,
        least: 0.0,
        exclusive: true,
        most: 120.0,
    },
    Bound {
        field: "max_file_size",
        default: 1024.0,
        least: 0.0,
        exclusive: false,
        most: 4096.0,
    },
    Bound {
        field: "number_of_runs",
        default: 1.0,
        least: 1.0,
        exclusive: false,
        most: 20.0,
    },
];

const MAX_BATCH: usize = 20;

pub fn router() -> Router<Arc<AppState>> {
    // Each route with and without a trailing slash: some clients (judge0api) add one.
    let routes: [(&str, axum::routing::MethodRouter<Arc<AppState>>); 11] = [
        ("/submissions", get(list).post(create)),
        ("/submissions/batch", get(get_batch).post(create_batch)),
        ("/submissions/{token}", get(show).delete(delete)),
        ("/languages", get(languages)),
        ("/languages/all", get(all_languages)),
        ("/languages/{id}", get(language)),
        ("/statuses", get(statuses)),
        ("/about", get(about)),
        ("/config_info", get(config_info)),
        ("/system_info", get(system_info)),
        ("/workers", get(workers)),
    ];
    let mut router = Router::new().route("/version", get(|| async { VERSION }));
    for (path, route) in routes {
        router = router
            .route(path, route.clone())
            .route(&format!("{path}/"), route);
    }
    router.fallback(|| async { Judge0Error::NotFound("not found".into()) })
}

/// Errors in Judge0's words and shapes.
#[derive(Debug)]
enum Judge0Error {
    /// 422: the Rails errors hash, field by field.
    Invalid(BTreeMap<String, Vec<String>>),
    /// 400 `{"error": ...}`.
    Bad(String),
    /// 401 with an empty body: no or an unknown `X-Auth-Token`.
    Unauthorized,
    /// 403 with an empty body: listing and deleting need an operator's key.
    Forbidden,
    NotFound(String),
    /// 503 `{"error": ...}`: the queue is full, or the store is away.
    Unavailable(String),
    /// Anything else the core says, in judgelet's own error shape.
    Api(ApiError),
}

impl Judge0Error {
    fn field(field: &str, message: impl Into<String>) -> Judge0Error {
        Judge0Error::Invalid(BTreeMap::from([(field.to_owned(), vec![message.into()])]))
    }
}

impl From<ApiError> for Judge0Error {
    fn from(error: ApiError) -> Judge0Error {
        match error {
            ApiError::UnknownLanguage { language, .. } => Judge0Error::field(
                "language_id",
                format!("language {language:?} is not on this server"),
            ),
            ApiError::Overloaded(_) => Judge0Error::Unavailable("queue is full".into()),
            ApiError::StoreUnavailable(_) => {
                let message = error.to_string();
                // Logged by `body`, which names the database.
                let _ = error.body();
                Judge0Error::Unavailable(message)
            }
            ApiError::BadRequest(message) => Judge0Error::Bad(message),
            other => Judge0Error::Api(other),
        }
    }
}

impl From<store::Error> for Judge0Error {
    fn from(error: store::Error) -> Judge0Error {
        ApiError::from(error).into()
    }
}

impl IntoResponse for Judge0Error {
    fn into_response(self) -> Response {
        let error = |status, message: String| (status, Json(json!({ "error": message })));
        match self {
            Judge0Error::Invalid(errors) => {
                (StatusCode::UNPROCESSABLE_ENTITY, Json(errors)).into_response()
            }
            Judge0Error::Bad(message) => error(StatusCode::BAD_REQUEST, message).into_response(),
            Judge0Error::Unauthorized => StatusCode::UNAUTHORIZED.into_response(),
            Judge0Error::Forbidden => StatusCode::FORBIDDEN.into_response(),
            Judge0Error::NotFound(message) => error(StatusCode::NOT_FOUND, message).into_response(),
            Judge0Error::Unavailable(message) => {
                error(StatusCode::SERVICE_UNAVAILABLE, message).into_response()
            }
            Judge0Error::Api(error) => error.into_response(),
        }
    }
}

type Reply = Result<Response, Judge0Error>;

/// The query parameters Judge0's routes take.
#[derive(Debug, Default, Deserialize)]
struct Params {
    base64_encoded: Option<String>,
    wait: Option<String>,
    fields: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
    tokens: Option<String>,
    #[serde(rename = "X-Auth-Token")]
    auth_token: Option<String>,
    #[serde(rename = "X-Auth-User")]
    auth_user: Option<String>,
}

/// Judge0 turns a flag on only for the text `true`.
fn flag(value: &Option<String>) -> bool {
    value.as_deref() == Some("true")
}

impl Params {
    fn base64(&self) -> bool {
        flag(&self.base64_encoded)
    }

    /// The fields asked for: the default set, `*` for all, or a comma list.
    fn fields(&self) -> Result<Vec<&'static str>, Judge0Error> {
        let Some(asked) = self.fields.as_deref().filter(|f| !f.trim().is_empty()) else {
            return Ok(DEFAULT_FIELDS.to_vec());
        };
        if asked.trim() == "*" {
            return Ok(FIELDS.to_vec());
        }
        let mut fields = Vec::new();
        let mut unknown = Vec::new();
        for name in asked.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match FIELDS.iter().find(|f| **f == name) {
                Some(field) => fields.push(*field),
                None => unknown.push(name.to_owned()),
            }
        }
        match unknown.is_empty() {
            true => Ok(fields),
            false => Err(Judge0Error::Bad(format!(
                "invalid fields: [{}]",
                unknown.join(", ")
            ))),
        }
    }
}

/// With API keys configured, a request must carry one as `X-Auth-Token` (or
/// `X-Auth-User`), in a header or the query, as Judge0's authentication takes it.
fn authenticate(state: &AppState, headers: &HeaderMap, params: &Params) -> Result<(), Judge0Error> {
    let keys = &state.config.api_keys;
    if keys.is_empty() {
        return Ok(());
    }
    let presented = ["x-auth-token", "x-auth-user"]
        .into_iter()
        .filter_map(|name| headers.get(name).and_then(|v| v.to_str().ok()))
        .chain(params.auth_token.as_deref())
        .chain(params.auth_user.as_deref());
    for key in presented {
        if keys.accepts(key) {
            return Ok(());
        }
    }
    Err(Judge0Error::Unauthorized)
}

/// Listing and deleting are forbidden unless an operator configured keys (Judge0 forbids
/// them without `AUTHZ_TOKEN`), and then need one.
fn authorize(state: &AppState, headers: &HeaderMap, params: &Params) -> Result<(), Judge0Error> {
    if state.config.api_keys.is_empty() {
        return Err(Judge0Error::Forbidden);
    }
    authenticate(state, headers, params).map_err(|_| Judge0Error::Forbidden)
}

/// The Judge0 languages this server has: id, judgelet's language, name.
fn available(state: &AppState) -> Vec<(u32, Arc<lang::Language>, String)> {
    LANGUAGES
        .iter()
        .filter_map(|(id, language, name)| {
            let language = state.toolchain.registry().get(language)?;
            let name = name.replace("{}", &super::version_number(language));
            Some((*id, language.clone(), name))
        })
        .collect()
}

fn language_of(state: &AppState, id: u32) -> Option<(u32, Arc<lang::Language>, String)> {
    available(state)
        .into_iter()
        .find(|(known, _, _)| *known == id)
}

async fn languages(State(state): State<Arc<AppState>>) -> Response {
    let list: Vec<_> = available(&state)
        .into_iter()
        .map(|(id, _, name)| json!({ "id": id, "name": name }))
        .collect();
    Json(list).into_response()
}

async fn all_languages(State(state): State<Arc<AppState>>) -> Response {
    let list: Vec<_> = available(&state)
        .into_iter()
        .map(|(id, _, name)| json!({ "id": id, "name": name, "is_archived": false }))
        .collect();
    Json(list).into_response()
}

async fn language(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Reply {
    let found = id.parse().ok().and_then(|id| language_of(&state, id));
    let (id, language, name) = found
        .ok_or_else(|| Judge0Error::NotFound(format!("language with id {id} doesn't exist")))?;
    Ok(Json(json!({
        "id": id,
        "name": name,
        "is_archived": false,
        "source_file": language.source_file,
        "compile_cmd": language.compile.as_ref().map(|argv| argv.join(" ")),
        "run_cmd": language.run.join(" "),
    }))
    .into_response())
}

async fn statuses() -> Response {
    let list: Vec<_> = STATUSES
        .iter()
        .enumerate()
        .map(|(i, description)| json!({ "id": i + 1, "description": description }))
        .collect();
    Json(list).into_response()
}

async fn about() -> Response {
    Json(json!({
        "version": VERSION,
        "homepage": "https://github.com/judgelet/judgelet",
        "source_code": "https://github.com/judgelet/judgelet",
        "maintainer": "judgelet, answering in Judge0's words (docs/api.md)",
    }))
    .into_response()
}

fn bound(field: &str) -> &'static Bound {
    BOUNDS
        .iter()
        .find(|b| b.field == field)
        .expect("a field with bounds")
}

/// The 39 keys of 1.13.1's `config_info`, with what this server does.
async fn config_info(State(state): State<Arc<AppState>>) -> Response {
    let submissions = &state.config.submissions;
    Json(json!({
        "maintenance_mode": false,
        "enable_wait_result": true,
        "enable_compiler_options": false,
        "allowed_languages_for_compile_options": [],
        "enable_command_line_arguments": true,
        "enable_submission_delete": !state.config.api_keys.is_empty(),
        "enable_callbacks": true,
        "callbacks_max_tries": submissions.callback_tries,
        "callbacks_timeout": 10.0,
        "enable_additional_files": false,
        "max_queue_size": submissions.max_pending,
        "cpu_time_limit": bound("cpu_time_limit").default,
        "max_cpu_time_limit": bound("cpu_time_limit").most,
        "cpu_extra_time": bound("cpu_extra_time").default,
        "max_cpu_extra_time": bound("cpu_extra_time").most,
        "wall_time_limit": bound("wall_time_limit").default,
        "max_wall_time_limit": bound("wall_time_limit").most,
        "memory_limit": bound("memory_limit").default as u64,
        "max_memory_limit": bound("memory_limit").most as u64,
        "stack_limit": bound("stack_limit").default as u64,
        "max_stack_limit": bound("stack_limit").most as u64,
        "max_processes_and_or_threads": bound("max_processes_and_or_threads").default as u64,
        "max_max_processes_and_or_threads": bound("max_processes_and_or_threads").most as u64,
        "enable_per_process_and_thread_time_limit": false,
        "allow_enable_per_process_and_thread_time_limit": false,
        "enable_per_process_and_thread_memory_limit": false,
        "allow_enable_per_process_and_thread_memory_limit": false,
        "max_file_size": bound("max_file_size").default as u64,
        "max_max_file_size": bound("max_file_size").most as u64,
        "number_of_runs": 1,
        "max_number_of_runs": bound("number_of_runs").most as u64,
        "redirect_stderr_to_stdout": false,
        "max_extract_size": 10240,
        "enable_batched_submissions": true,
        "max_submission_batch_size": MAX_BATCH,
        "submission_cache_duration": 0.0,
        "use_docs_as_homepage": false,
        "allow_enable_network": false,
        "enable_network": false,
    }))
    .into_response()
}

/// `lscpu`'s key figures and `free`'s total, as Judge0 gathers them.
async fn system_info() -> Response {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("", |(_, v)| v.trim());
    let memory_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    Json(json!({
        "Architecture": std::env::consts::ARCH,
        "CPU(s)": cpus.to_string(),
        "Model name": model,
        "Mem": format!("{:.1}Gi", memory_kib as f64 / (1024.0 * 1024.0)),
    }))
    .into_response()
}

async fn workers(State(state): State<Arc<AppState>>) -> Reply {
    let stats = state.queue()?.stats().await?;
    let slots = state.config.slots as u64;
    let working = stats.running.min(slots);
    Ok(Json(json!([{
        "queue": "judgelet",
        "size": stats.pending.saturating_sub(stats.running),
        "available": slots,
        "idle": slots - working,
        "working": working,
        "paused": 0,
        "failed": 0,
    }]))
    .into_response())
}

/// What a Judge0 submission keeps beside its core run request: its fields as given (limits
/// with their defaults), to show them back and to judge the output.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Meta {
    language_id: u32,
    /// Its name here, with this server's toolchain version.
    language_name: String,
    #[serde(default, with = "optional_bytes")]
    expected_output: Option<Vec<u8>>,
    compiler_options: Option<String>,
    command_line_arguments: Option<String>,
    cpu_time_limit: f64,
    cpu_extra_time: f64,
    wall_time_limit: f64,
    memory_limit: f64,
    stack_limit: f64,
    max_processes_and_or_threads: f64,
    max_file_size: f64,
    number_of_runs: f64,
    redirect_stderr_to_stdout: bool,
    callback_url: Option<String>,
}

/// `Option<Vec<u8>>` as base64 text, for [`Meta`].
mod optional_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => lang::base64_bytes::serialize(bytes, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "lang::base64_bytes")] Vec<u8>);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
    }
}

/// The errors of one submission's fields, gathered as Rails does before answering 422.
#[derive(Default)]
struct Errors(BTreeMap<String, Vec<String>>);

impl Errors {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }
}

/// A submission's JSON object, read field by field with Rails' leniency (numbers may come
/// as numeric text, flags as `"true"`).
struct Fields<'a> {
    object: &'a Map<String, Value>,
    base64: bool,
}

impl Fields<'_> {
    fn present(&self, field: &str) -> Option<&Value> {
        self.object.get(field).filter(|v| !v.is_null())
    }

    fn number(&self, field: &str, errors: &mut Errors) -> Option<f64> {
        match self.present(field)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => s.trim().parse().ok().or_else(|| {
                errors.add(field, "is not a number");
                None
            }),
            _ => {
                errors.add(field, "is not a number");
                None
            }
        }
    }

    fn flag(&self, field: &str) -> bool {
        match self.present(field) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "true" | "1" | "t" | "on"),
            Some(Value::Number(n)) => n.as_f64() == Some(1.0),
            _ => false,
        }
    }

    fn text(&self, field: &str, errors: &mut Errors) -> Option<String> {
        match self.present(field)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => {
                errors.add(field, "is not a string");
                None
            }
        }
    }

    /// A text field the client may send base64-encoded: its bytes.
    fn bytes(&self, field: &str, errors: &mut Errors) -> Option<Vec<u8>> {
        let text = self.text(field, errors)?;
        if !self.base64 {
            return Some(text.into_bytes());
        }
        // Ruby's encode64 breaks lines every 60 characters: line breaks are not data.
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        match base64::engine::general_purpose::STANDARD.decode(compact) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                errors.add(field, format!("is not valid base64 ({e})"));
                None
            }
        }
    }

    /// A limit: its value, or the default; out of bounds is an error as Judge0 words it.
    fn limit(&self, field: &str, errors: &mut Errors) -> f64 {
        let bound = bound(field);
        let Some(value) = self.number(field, errors) else {
            return bound.default;
        };
        let least = bound.least;
        match bound.exclusive {
            true if value <= least => errors.add(field, format!("must be greater than {least}")),
            false if value < least => errors.add(
                field,
                format!("must be greater than or equal to {}", number_text(least)),
            ),
            _ => {}
        }
        if value > bound.most {
            errors.add(
                field,
                format!("must be less than or equal to {}", number_text(bound.most)),
            );
        }
        value
    }
}

/// A number as Rails shows it in a message: `15`, `0.5`.
fn number_text(value: f64) -> String {
    match value.fract() == 0.0 {
        true => format!("{}", value as i64),
        false => value.to_string(),
    }
}

/// Translates one submission object: the core run request and what Judge0 keeps beside it.
async fn translate(
    state: &AppState,
    object: &Value,
    base64: bool,
) -> Result<(lang::RunRequest, Meta), Judge0Error> {
    let Some(object) = object.as_object() else {
        return Err(Judge0Error::Bad("a submission is a JSON object".into()));
    };
    let fields = Fields { object, base64 };
    let mut errors = Errors::default();
    let source = fields.bytes("source_code", &mut errors);
    if source
        .as_ref()
        .is_none_or(|s| s.iter().all(u8::is_ascii_whitespace))
    {
        errors.add("source_code", "can't be blank");
    }
    let language = match fields.number("language_id", &mut errors) {
        None => {
            errors.add("language_id", "can't be blank");
            None
        }
        Some(id) => {
            let found = (id.fract() == 0.0 && id >= 0.0)
                .then(|| language_of(state, id as u32))
                .flatten();
            if found.is_none() {
                errors.add(
                    "language_id",
                    format!("language with id {} doesn't exist", number_text(id)),
                );
            }
            found
        }
    };
    let stdin = fields.bytes("stdin", &mut errors).unwrap_or_default();
    let expected_output = fields.bytes("expected_output", &mut errors);
    let compiler_options = fields.text("compiler_options", &mut errors);
    if compiler_options
        .as_ref()
        .is_some_and(|o| !o.trim().is_empty())
    {
        errors.add(
            "compiler_options",
            "setting compiler options is not allowed",
        );
    }
    let arguments = fields.text("command_line_arguments", &mut errors);
    let args = match &arguments {
        Some(text) if text.chars().count() > 512 => {
            errors.add(
                "command_line_arguments",
                "is too long (maximum is 512 characters)",
            );
            Vec::new()
        }
        Some(text) => shell_words::split(text).unwrap_or_else(|e| {
            errors.add(
                "command_line_arguments",
                format!("cannot be split into words: {e}"),
            );
            Vec::new()
        }),
        None => Vec::new(),
    };
    for (field, refusal) in [
        ("enable_network", "enabling network is not allowed"),
        (
            "enable_per_process_and_thread_time_limit",
            "setting per process and thread time limit is not allowed",
        ),
        (
            "enable_per_process_and_thread_memory_limit",
            "setting per process and thread memory limit is not allowed",
        ),
    ] {
        if fields.flag(field) {
            errors.add(field, refusal);
        }
    }
    if fields.present("additional_files").is_some() {
        errors.add("additional_files", "additional files are not allowed");
    }
    let callback_url = fields.text("callback_url", &mut errors);
    if let Some(url) = &callback_url {
        if let Err(e) = state.config.submissions.callbacks.check(url).await {
            errors.add("callback_url", e.to_string());
        }
    }
    let meta = Meta {
        language_id: language.as_ref().map_or(0, |(id, _, _)| *id),
        language_name: language
            .as_ref()
            .map_or(String::new(), |(_, _, name)| name.clone()),
        expected_output,
        compiler_options,
        command_line_arguments: arguments,
        cpu_time_limit: fields.limit("cpu_time_limit", &mut errors),
        cpu_extra_time: fields.limit("cpu_extra_time", &mut errors),
        wall_time_limit: fields.limit("wall_time_limit", &mut errors),
        memory_limit: fields.limit("memory_limit", &mut errors),
        stack_limit: fields.limit("stack_limit", &mut errors),
        max_processes_and_or_threads: fields.limit("max_processes_and_or_threads", &mut errors),
        max_file_size: fields.limit("max_file_size", &mut errors),
        number_of_runs: fields.limit("number_of_runs", &mut errors),
        redirect_stderr_to_stdout: fields.flag("redirect_stderr_to_stdout"),
        callback_url,
    };
    let source = source.unwrap_or_default();
    if source.len() > state.config.max_source_bytes {
        errors.add(
            "source_code",
            format!(
                "is too long (more than {} bytes)",
                state.config.max_source_bytes
            ),
        );
    }
    if stdin.len() > state.config.max_stdin_bytes {
        errors.add(
            "stdin",
            format!(
                "is too long (more than {} bytes)",
                state.config.max_stdin_bytes
            ),
        );
    }
    if !errors.0.is_empty() {
        return Err(Judge0Error::Invalid(errors.0));
    }
    let (_, language, _) = language.expect("checked above");
    let seconds_ms = |s: f64| (s * 1000.0).round() as u64;
    let request = lang::RunRequest {
        language: language.id.clone(),
        source,
        stdin,
        args,
        limits: sandbox::LimitsRequest {
            cpu_time_ms: Some(seconds_ms(meta.cpu_time_limit).max(1)),
            wall_time_ms: Some(seconds_ms(meta.wall_time_limit)),
            memory_kib: Some(meta.memory_limit as u64),
            processes: Some(meta.max_processes_and_or_threads as u32),
            file_size_bytes: Some(meta.max_file_size as u64 * 1024),
            ..sandbox::LimitsRequest::default()
        },
        ..lang::RunRequest::default()
    };
    Ok((request, meta))
}

/// Reads the body as a JSON value.
async fn json_body(state: &AppState, body: Body) -> Result<Value, Judge0Error> {
    let config = &state.config;
    let bytes = read_body(body, config.max_json_bytes(), config.read_timeout).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Judge0Error::Bad(format!(
            "malformed JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })
}

/// Stores a translated submission for the queue: its token.
async fn enqueue(
    state: &AppState,
    request: &lang::RunRequest,
    meta: &Meta,
) -> Result<String, Judge0Error> {
    let job = serde_json::to_string(&Job::Run(request.clone()))
        .map_err(|e| ApiError::Internal(format!("serialise a job: {e}")))?;
    let meta_text = serde_json::to_string(meta)
        .map_err(|e| ApiError::Internal(format!("serialise Judge0 fields: {e}")))?;
    let new = store::NewSubmission {
        api: "judge0",
        function: &request.language,
        job: &job,
        meta: Some(&meta_text),
        callback_url: meta.callback_url.as_deref(),
    };
    Ok(state.queue()?.submit(&new).await?)
}

async fn create(
    State(state): State<Arc<AppState>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    authenticate(&state, &headers, &params)?;
    let fields = params.fields()?;
    let value = json_body(&state, body).await?;
    let (request, meta) = translate(&state, &value, params.base64()).await?;
    if !flag(&params.wait) {
        let token = enqueue(&state, &request, &meta).await?;
        return Ok((StatusCode::CREATED, Json(json!({ "token": token }))).into_response());
    }
    // wait=true: run now, on the interactive lane, and keep it like any submission.
    let queue = state.queue()?;
    let job = serde_json::to_string(&Job::Run(request.clone()))
        .map_err(|e| ApiError::Internal(format!("serialise a job: {e}")))?;
    let started = store::now();
    let checked = core::check(&state, Job::Run(request.clone()))?;
    let place = state.admission.place()?;
    let (result, status) =
        match core::execute(&state, checked, Admitted::Interactive(place), &|_| {}).await {
            Ok(report) => {
                state.metrics.outcome(&request.language, report.status());
                (report.to_json().to_string(), 200)
            }
            Err(e) => (e.body().to_string(), e.status().as_u16()),
        };
    let meta_text = serde_json::to_string(&meta)
        .map_err(|e| ApiError::Internal(format!("serialise Judge0 fields: {e}")))?;
    let new = store::NewSubmission {
        api: "judge0",
        function: &request.language,
        job: &job,
        meta: Some(&meta_text),
        callback_url: meta.callback_url.as_deref(),
    };
    let submission = queue.record(&new, started, &result, status).await?;
    let shown = match show_submission(&submission, &fields, params.base64()) {
        Ok(shown) => shown,
        // As Judge0: the token, and why the rest cannot be shown.
        Err(not_utf8) => json!({ "token": submission.id, "error": not_utf8 }),
    };
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

async fn create_batch(
    State(state): State<Arc<AppState>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    authenticate(&state, &headers, &params)?;
    let value = json_body(&state, body).await?;
    let Some(items) = value.get("submissions").and_then(Value::as_array) else {
        return Err(Judge0Error::Bad(
            "there should be at least one submission in a batch".into(),
        ));
    };
    if items.is_empty() {
        return Err(Judge0Error::Bad(
            "there should be at least one submission in a batch".into(),
        ));
    }
    if items.len() > MAX_BATCH {
        return Err(Judge0Error::Bad(format!(
            "number of submissions in a batch should be less than or equal to {MAX_BATCH}"
        )));
    }
    let mut answers = Vec::with_capacity(items.len());
    let mut any = false;
    for item in items {
        let answer = match translate(&state, item, params.base64()).await {
            Ok((request, meta)) => {
                any = true;
                json!({ "token": enqueue(&state, &request, &meta).await? })
            }
            Err(Judge0Error::Invalid(errors)) => json!(errors),
            Err(Judge0Error::Bad(message)) => json!({ "error": message }),
            Err(other) => return Err(other),
        };
        answers.push(answer);
    }
    let status = match any {
        true => StatusCode::CREATED,
        false => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok((status, Json(answers)).into_response())
}

/// A stored Judge0 submission, or 404.
async fn find(state: &AppState, token: &str) -> Result<store::Submission, Judge0Error> {
    match state.queue()?.get(token).await? {
        Some(submission) if submission.api == "judge0" => Ok(submission),
        _ => Err(Judge0Error::NotFound(format!(
            "submission with token {token} not found"
        ))),
    }
}

async fn show(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Reply {
    authenticate(&state, &headers, &params)?;
    let fields = params.fields()?;
    let submission = find(&state, &token).await?;
    let shown = show_submission(&submission, &fields, params.base64()).map_err(Judge0Error::Bad)?;
    Ok(Json(shown).into_response())
}

async fn get_batch(
    State(state): State<Arc<AppState>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Reply {
    authenticate(&state, &headers, &params)?;
    let fields = params.fields()?;
    let tokens = params
        .tokens
        .clone()
        .or_else(|| {
            headers
                .get("tokens")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let tokens: Vec<&str> = tokens
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if tokens.is_empty() {
        return Err(Judge0Error::Bad(
            "there should be at least one token".into(),
        ));
    }
    if tokens.len() > MAX_BATCH {
        return Err(Judge0Error::Bad(format!(
            "number of tokens should be less than or equal to {MAX_BATCH}"
        )));
    }
    let mut shown = Vec::with_capacity(tokens.len());
    for token in tokens {
        shown.push(match find(&state, token).await {
            Ok(submission) => {
                show_submission(&submission, &fields, params.base64()).map_err(Judge0Error::Bad)?
            }
            Err(Judge0Error::NotFound(_)) => Value::Null,
            Err(other) => return Err(other),
        });
    }
    Ok(Json(json!({ "submissions": shown })).into_response())
}

async fn list(
    State(state): State<Arc<AppState>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Reply {
    authorize(&state, &headers, &params)?;
    let fields = params.fields()?;
    let number = |text: &Option<String>, default: u64, what: &str| -> Result<u64, Judge0Error> {
        match text.as_deref() {
            None => Ok(default),
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Judge0Error::Bad(format!("invalid {what}: {text}"))),
        }
    };
    let page = number(&params.page, 1, "page")?;
    let per_page = number(&params.per_page, 20, "per_page")?.min(100);
    let (submissions, total) = state.queue()?.list("judge0", page, per_page).await?;
    let pages = total.div_ceil(per_page);
    let shown = submissions
        .iter()
        .map(|s| show_submission(s, &fields, params.base64()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Judge0Error::Bad)?;
    Ok(Json(json!({
        "submissions": shown,
        "meta": {
            "current_page": page,
            "next_page": (page < pages).then_some(page + 1),
            "prev_page": (page > 1).then(|| page - 1),
            "total_pages": pages,
            "total_count": total,
        },
    }))
    .into_response())
}

async fn delete(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Reply {
    authorize(&state, &headers, &params)?;
    let fields = params.fields()?;
    let submission = find(&state, &token).await?;
    let shown = show_submission(&submission, &fields, params.base64()).map_err(Judge0Error::Bad)?;
    match state.queue()?.delete(&token).await? {
        Some(Ok(_)) => Ok(Json(shown).into_response()),
        Some(Err(_)) => {
            let (id, description) = status_of(submission.state);
            Err(Judge0Error::Bad(format!(
                "submission cannot be deleted because its status is {id} ({description})"
            )))
        }
        None => Err(Judge0Error::NotFound(format!(
            "submission with token {token} not found"
        ))),
    }
}

/// The status of a submission that is not done: In Queue or Processing.
fn status_of(state: store::State) -> (u8, &'static str) {
    let id = match state {
        store::State::Running => 2,
        _ => 1,
    };
    (id, STATUSES[usize::from(id) - 1])
}

/// What a finished run says, in Judge0's terms.
struct Outcome {
    status: u8,
    stdout: Option<Vec<u8>>,
    stderr: Option<Vec<u8>>,
    compile_output: Option<Vec<u8>>,
    message: Option<String>,
    exit_code: Option<i32>,
    exit_signal: Option<i32>,
    time: Option<String>,
    wall_time: Option<String>,
    memory: Option<u64>,
}

impl Outcome {
    fn pending(status: u8) -> Outcome {
        Outcome {
            status,
            stdout: None,
            stderr: None,
            compile_output: None,
            message: None,
            exit_code: None,
            exit_signal: None,
            time: None,
            wall_time: None,
            memory: None,
        }
    }
}

/// Bytes of one of a report's streams: exact from base64 when it was not UTF-8.
fn stream(text: &str, base64: &Option<String>) -> Vec<u8> {
    base64
        .as_deref()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .unwrap_or_else(|| text.as_bytes().to_vec())
}

/// Empty is none, as Judge0 shows it.
fn present(bytes: Vec<u8>) -> Option<Vec<u8>> {
    (!bytes.is_empty()).then_some(bytes)
}

/// Judge0's comparison: each line's trailing whitespace, then the whole text's, ignored.
fn judge0_strip(text: &[u8]) -> Vec<u8> {
    let rstrip = |s: &[u8]| -> Vec<u8> {
        let end = s
            .iter()
            .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c | 0))
            .map_or(0, |i| i + 1);
        s[..end].to_vec()
    };
    let lines: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(rstrip).collect();
    rstrip(&lines.join(&b'\n'))
}

/// The Judge0 status of a finished run (signals as 1.13.1 maps isolate's), with the precise
/// cause in the message where Judge0 has no status for it.
fn outcome(report: &lang::RunResponse, meta: &Meta) -> Outcome {
    use lang::RunStatus;
    let mut stdout = stream(&report.stdout, &report.stdout_base64);
    let mut stderr = stream(&report.stderr, &report.stderr_base64);
    if meta.redirect_stderr_to_stdout {
        stdout.append(&mut stderr);
    }
    let limit = report.limit_exceeded.map(|l| l.as_str());
    let (status, message) = match report.status {
        RunStatus::CompileError => (6, None),
        RunStatus::TimeLimitExceeded => (
            5,
            Some(match limit {
                Some("wall_time") => "Wall time limit exceeded".to_owned(),
                _ => "Time limit exceeded".to_owned(),
            }),
        ),
        RunStatus::MemoryLimitExceeded => (
            12,
            Some(format!(
                "Memory limit exceeded: more than {} KB",
                report.limits.memory_kib
            )),
        ),
        RunStatus::OutputLimitExceeded => (
            8,
            Some(format!(
                "Output limit exceeded ({}): more than {} bytes",
                limit.unwrap_or("stdout"),
                match limit {
                    Some("file_size") => report.limits.file_size_bytes,
                    _ => report.limits.stdout_bytes,
                }
            )),
        ),
        RunStatus::RunTimeError => match (report.signal, report.exit_code) {
            (Some(signal), _) => (
                match signal {
                    11 => 7,
                    25 => 8,
                    8 => 9,
                    6 => 10,
                    _ => 12,
                },
                Some(format!("Caught fatal signal {signal}")),
            ),
            (None, code) => (
                11,
                Some(format!("Exited with error status {}", code.unwrap_or(1))),
            ),
        },
        RunStatus::Ok => match &meta.expected_output {
            Some(expected) if judge0_strip(expected) != judge0_strip(&stdout) => (4, None),
            _ => (3, None),
        },
    };
    let ran = report.status != RunStatus::CompileError;
    Outcome {
        status,
        stdout: present(stdout),
        stderr: present(stderr).filter(|_| !meta.redirect_stderr_to_stdout),
        compile_output: present(report.compile_output.clone().into_bytes()),
        message,
        exit_code: report.exit_code.filter(|_| ran),
        exit_signal: report.signal,
        time: ran.then(|| format!("{:.3}", report.cpu_time_ms / 1000.0)),
        wall_time: ran.then(|| format!("{:.3}", report.wall_time_ms / 1000.0)),
        memory: ran.then_some(report.memory_kib),
    }
}

/// A finished submission whose run failed as judgelet's fault (or was refused when it ran,
/// its problem gone): Internal Error, with judgelet's message.
fn internal(result: &str) -> Outcome {
    let message = serde_json::from_str::<Value>(result)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned));
    Outcome {
        message: message.or_else(|| Some("internal error".into())),
        ..Outcome::pending(13)
    }
}

fn outcome_of(submission: &View, meta: &Meta) -> Outcome {
    match (submission.state, submission.status, submission.result) {
        (store::State::Done, Some(200), Some(result)) => {
            match serde_json::from_str::<lang::RunResponse>(result) {
                Ok(report) => outcome(&report, meta),
                Err(_) => internal(result),
            }
        }
        (store::State::Done, _, Some(result)) => internal(result),
        (store::State::Cancelled, _, _) => Outcome {
            message: Some("cancelled".into()),
            ..Outcome::pending(13)
        },
        _ => Outcome::pending(status_of(submission.state).0),
    }
}

/// Ruby's `Base64.encode64`: a line break every 60 characters and at the end.
pub fn encode64(bytes: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(text.len() + text.len() / 60 + 1);
    for chunk in text.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// What showing a submission needs of it: a stored submission, or a delivery.
struct View<'a> {
    id: &'a str,
    state: store::State,
    status: Option<u16>,
    result: Option<&'a str>,
    meta: Option<&'a str>,
    /// The core request (for `source_code` and `stdin`); a delivery goes without.
    job: Option<&'a str>,
    submitted_at: store::Millis,
    finished_at: Option<store::Millis>,
}

impl<'a> From<&'a store::Submission> for View<'a> {
    fn from(submission: &'a store::Submission) -> View<'a> {
        View {
            id: &submission.id,
            state: submission.state,
            status: submission.status,
            result: submission.result.as_deref(),
            meta: submission.meta.as_deref(),
            job: Some(&submission.job),
            submitted_at: submission.submitted_at,
            finished_at: submission.finished_at,
        }
    }
}

/// A submission's `fields`, as Judge0 shows them; `Err` when a text field is not UTF-8 and
/// base64 was not asked for (Judge0's message).
fn show_submission<'a>(
    submission: impl Into<View<'a>>,
    fields: &[&str],
    base64: bool,
) -> Result<Value, String> {
    let submission = submission.into();
    let meta: Option<Meta> = submission.meta.and_then(|m| serde_json::from_str(m).ok());
    let Some(meta) = meta else {
        return Err(format!("submission {} has no Judge0 fields", submission.id));
    };
    // The stored request is read only for the fields that show it.
    let wants_request = fields.iter().any(|f| matches!(*f, "source_code" | "stdin"));
    let request = match submission
        .job
        .filter(|_| wants_request)
        .map(serde_json::from_str::<Job>)
    {
        Some(Ok(Job::Run(request))) => Some(request),
        _ => None,
    };
    let outcome = outcome_of(&submission, &meta);
    let text = |bytes: Option<&[u8]>| -> Result<Value, ()> {
        match bytes {
            None => Ok(Value::Null),
            Some(bytes) if base64 => Ok(Value::String(encode64(bytes))),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(|t| Value::String(t.to_owned()))
                .map_err(|_| ()),
        }
    };
    let mut shown = Map::new();
    let mut not_utf8 = Vec::new();
    for field in fields {
        let bytes: Option<Option<Vec<u8>>> = match *field {
            "source_code" => Some(request.as_ref().map(|r| r.source.clone())),
            "stdin" => Some(
                request
                    .as_ref()
                    .map(|r| r.stdin.clone())
                    .filter(|s| !s.is_empty()),
            ),
            "expected_output" => Some(meta.expected_output.clone()),
            "stdout" => Some(outcome.stdout.clone()),
            "stderr" => Some(outcome.stderr.clone()),
            "compile_output" => Some(outcome.compile_output.clone()),
            "message" => Some(outcome.message.clone().map(String::into_bytes)),
            _ => None,
        };
        let value = match bytes {
            Some(bytes) => match text(bytes.as_deref()) {
                Ok(value) => value,
                Err(()) => {
                    not_utf8.push(*field);
                    continue;
                }
            },
            None => match *field {
                "language_id" => json!(meta.language_id),
                "language" => json!({ "id": meta.language_id, "name": meta.language_name }),
                "status_id" => json!(outcome.status),
                "status" => {
                    json!({ "id": outcome.status, "description": STATUSES[usize::from(outcome.status) - 1] })
                }
                "created_at" => json!(timestamp(submission.submitted_at)),
                "finished_at" => json!(submission.finished_at.map(timestamp)),
                "time" => json!(outcome.time),
                "wall_time" => json!(outcome.wall_time),
                "memory" => json!(outcome.memory),
                "token" => json!(submission.id),
                "exit_code" => json!(outcome.exit_code),
                "exit_signal" => json!(outcome.exit_signal),
                "number_of_runs" => json!(meta.number_of_runs as u64),
                "cpu_time_limit" => json!(meta.cpu_time_limit),
                "cpu_extra_time" => json!(meta.cpu_extra_time),
                "wall_time_limit" => json!(meta.wall_time_limit),
                "memory_limit" => json!(meta.memory_limit as u64),
                "stack_limit" => json!(meta.stack_limit as u64),
                "max_processes_and_or_threads" => json!(meta.max_processes_and_or_threads as u64),
                "enable_per_process_and_thread_time_limit"
                | "enable_per_process_and_thread_memory_limit"
                | "enable_network" => json!(false),
                "max_file_size" => json!(meta.max_file_size as u64),
                "compiler_options" => json!(meta.compiler_options),
                "command_line_arguments" => json!(meta.command_line_arguments),
                "redirect_stderr_to_stdout" => json!(meta.redirect_stderr_to_stdout),
                "callback_url" => json!(meta.callback_url),
                _ => Value::Null,
            },
        };
        shown.insert((*field).to_owned(), value);
    }
    match not_utf8.is_empty() {
        true => Ok(Value::Object(shown)),
        false => Err(format!(
            "some attributes for this submission cannot be converted to UTF-8, use \
             base64_encoded=true query parameter ({})",
            not_utf8.join(", ")
        )),
    }
}

/// What Judge0 PUTs to a callback URL: the default fields, always base64.
pub fn callback_message(delivery: &store::Delivery) -> Message {
    let view = View {
        id: &delivery.id,
        state: store::State::Done,
        status: Some(delivery.status),
        result: Some(&delivery.result),
        meta: delivery.meta.as_deref(),
        job: None,
        submitted_at: delivery.started_at.unwrap_or_default(),
        finished_at: delivery.finished_at,
    };
    let body = show_submission(view, &DEFAULT_FIELDS, true)
        .unwrap_or_else(|error| json!({ "token": delivery.id, "error": error }));
    Message {
        method: reqwest::Method::PUT,
        headers: Vec::new(),
        body: body.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode64_breaks_lines_as_ruby_does() {
        assert_eq!(encode64(b"hello, Judge0\n"), "aGVsbG8sIEp1ZGdlMAo=\n");
        let long = encode64(&[b'x'; 100]);
        let lines: Vec<&str> = long.lines().collect();
        assert_eq!(
            lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
            [60, 60, 16]
        );
        assert!(long.ends_with('\n'));
        assert_eq!(encode64(b""), "");
    }

    #[test]
    fn output_is_compared_as_judge0_compares_it() {
        assert_eq!(judge0_strip(b"1 2  \n3\t\n\n\n"), b"1 2\n3");
        assert_eq!(judge0_strip(b"1 2\n3"), judge0_strip(b"1 2 \r\n3 \n"));
        assert_ne!(judge0_strip(b"1 2\n3"), judge0_strip(b"1  2\n3"));
        assert_ne!(
            judge0_strip(b" 1"),
            judge0_strip(b"1"),
            "leading space counts"
        );
    }

    #[test]
    fn config_info_bounds_match_1_13_1() {
        assert_eq!(bound("cpu_time_limit").most, 15.0);
        assert_eq!(bound("memory_limit").least, 2048.0);
        assert_eq!(bound("wall_time_limit").least, 1.0);
    }
}
