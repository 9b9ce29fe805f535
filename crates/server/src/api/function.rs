//! The OpenFaaS-style functions: `POST /function/<name>` runs now, `POST
//! /async-function/<name>` stores the same request for the queue (`202` with its id, an
//! optional `X-Callback-Url`), as the OpenFaaS gateway's queue-worker does.
//!
//! A `text/plain` body is the source, for a language's own function, and gets the program's
//! stdout back with the status in headers; a JSON body is a full request and gets the JSON
//! report: a run report for a language's function or `run`, a grade report for `grade`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{at_most, is_json, parse_json, read_body};
use crate::callback::Message;
use crate::core::{self, Admitted, Checked, GradeRequest, InlineTest, Job, ProblemSource, Report};
use crate::error::ApiError;
use crate::{AbortOnDrop, AppState};

/// Names the report's clients use, mapped to the languages they meant.
const ALIASES: [(&str, &str); 2] = [("pythontimeout", "python"), ("cc", "c")];

/// What a function does.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// Runs one language; the request need not name it.
    Language(String),
    /// Runs any language; the JSON request names it.
    Run,
    /// Grades against a problem package or inline tests.
    Grade,
}

struct Function {
    /// Its own name, whichever name it was called by.
    name: String,
    target: Target,
    invocations: AtomicU64,
}

/// The functions this server serves, by name.
pub struct Functions {
    functions: BTreeMap<String, Function>,
    /// Other names of the language functions, lower-case (`py`, `Python`, `golang`).
    aliases: BTreeMap<String, String>,
}

impl Functions {
    /// A function per language (and the report's aliases), `run` and `grade`.
    pub fn new(registry: &lang::Registry) -> Functions {
        let mut functions = BTreeMap::new();
        let mut add = |name: &str, target: Target| {
            let function = Function {
                name: name.to_owned(),
                target,
                invocations: AtomicU64::new(0),
            };
            functions.insert(name.to_owned(), function);
        };
        for id in registry.ids() {
            add(&id, Target::Language(id.clone()));
        }
        for (alias, language) in ALIASES {
            if registry.get(language).is_some() {
                add(alias, Target::Language(language.to_owned()));
            }
        }
        add("run", Target::Run);
        add("grade", Target::Grade);
        let mut aliases = BTreeMap::new();
        for language in registry.languages() {
            for alias in language.aliases.iter().chain([&language.id]) {
                aliases.insert(alias.to_ascii_lowercase(), language.id.clone());
            }
        }
        for name in functions.keys() {
            aliases.insert(name.to_ascii_lowercase(), name.clone());
        }
        Functions { functions, aliases }
    }

    pub fn names(&self) -> Vec<String> {
        self.functions.keys().cloned().collect()
    }

    /// A function by its name, or a language function by any of its language's names, in
    /// any case.
    fn get(&self, name: &str) -> Result<&Function, ApiError> {
        self.functions
            .get(name)
            .or_else(|| {
                let canonical = self.aliases.get(&name.to_ascii_lowercase())?;
                self.functions.get(canonical)
            })
            .ok_or_else(|| ApiError::UnknownFunction {
                name: name.to_owned(),
                known: self.names(),
            })
    }
}

/// A function call as it arrived.
pub struct Call {
    headers: HeaderMap,
    /// Text mode takes `stdin` and `arg` (repeated) here.
    query: Option<String>,
    body: Body,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Call {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: axum::extract::Request, _: &S) -> Result<Call, Self::Rejection> {
        let (parts, body) = request.into_parts();
        Ok(Call {
            headers: parts.headers,
            query: parts.uri.query().map(str::to_owned),
            body,
        })
    }
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/function/{name}",
            post(
                |State(state): State<Arc<AppState>>, Path(name): Path<String>, call: Call| async move {
                    invoke(&state, &name, call).await
                },
            ),
        )
        .route(
            "/async-function/{name}",
            post(
                |State(state): State<Arc<AppState>>, Path(name): Path<String>, call: Call| async move {
                    submit(&state, &name, call)
                        .await
                        .unwrap_or_else(IntoResponse::into_response)
                },
            ),
        )
}

/// One function at `/`.
pub fn single(state: &AppState, name: &str) -> Result<Router<Arc<AppState>>, ApiError> {
    state.functions.get(name)?;
    let name: Arc<str> = name.into();
    Ok(Router::new().route(
        "/",
        post(
            move |State(state): State<Arc<AppState>>, call: Call| async move {
                invoke(&state, &name, call).await
            },
        ),
    ))
}

/// A run request as JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    /// Required by `run`; for a language's own function, may be left out.
    language: Option<String>,
    source: String,
    /// The source's file name (default: the language's, `main.py`; a Java class's own).
    source_name: Option<String>,
    /// Files beside the source: modules, headers, data.
    #[serde(default)]
    files: Vec<FileBody>,
    #[serde(default)]
    stdin: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    limits: sandbox::LimitsRequest,
}

/// A grade request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GradeBody {
    language: String,
    source: String,
    /// A problem's id (`GET /problems`) ...
    problem: Option<String>,
    /// ... or tests given inline.
    tests: Option<Vec<InlineTestBody>>,
    /// For inline tests: the default validator's flags.
    #[serde(default)]
    validator_flags: Vec<String>,
    /// For inline tests: the time limit (default 2 s).
    time_limit_ms: Option<u64>,
    /// Stop at the first failure (the format's default).
    #[serde(default = "yes")]
    stop_at_first_failure: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBody {
    name: String,
    content: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InlineTestBody {
    input: String,
    answer: String,
}

/// A request decoded to its core job.
struct Decoded {
    job: Job,
    /// The client spoke JSON, and gets JSON back.
    json: bool,
}

async fn decode(state: &AppState, function: &Function, call: Call) -> Result<Decoded, ApiError> {
    let Call {
        headers,
        query,
        body,
    } = call;
    let json = is_json(&headers);
    let config = &state.config;
    if function.target == Target::Grade && !json {
        return Err(ApiError::UnsupportedMediaType(
            "grade takes application/json: {language, source, problem} or {..., tests}".into(),
        ));
    }
    let limit = match json {
        true => config.max_json_bytes(),
        false => config.max_source_bytes,
    };
    let bytes = read_body(body, limit, config.read_timeout).await?;
    let job = match (&function.target, json) {
        (Target::Grade, _) => Job::Grade(grade_request(parse_json(&bytes)?, state)?),
        (_, true) => Job::Run(run_request(function, parse_json(&bytes)?, state)?),
        (Target::Language(language), false) => {
            let source = std::str::from_utf8(&bytes).map_err(|e| {
                ApiError::BadRequest(format!(
                    "the source is not valid UTF-8 (at byte {})",
                    e.valid_up_to()
                ))
            })?;
            // Text mode's stdin and arguments: `?stdin=...&arg=a&arg=b`.
            let mut stdin = String::new();
            let mut args = Vec::new();
            for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
                match &*key {
                    "stdin" => stdin.push_str(&value),
                    "arg" => args.push(value.into_owned()),
                    other => {
                        return Err(ApiError::BadRequest(format!(
                            "unknown query parameter {other:?}: text mode takes stdin and arg"
                        )))
                    }
                }
            }
            at_most("stdin", stdin.len(), config.max_stdin_bytes)?;
            Job::Run(lang::RunRequest {
                language: language.clone(),
                source: source.as_bytes().to_vec(),
                stdin: stdin.into_bytes(),
                args,
                ..lang::RunRequest::default()
            })
        }
        (Target::Run, false) => {
            return Err(ApiError::UnsupportedMediaType(
                "run takes application/json with a \"language\"; a language's own \
                 function (POST /function/python) takes plain source"
                    .into(),
            ))
        }
    };
    Ok(Decoded { job, json })
}

fn run_request(
    function: &Function,
    body: RunBody,
    state: &AppState,
) -> Result<lang::RunRequest, ApiError> {
    let config = &state.config;
    at_most("the source", body.source.len(), config.max_source_bytes)?;
    at_most("stdin", body.stdin.len(), config.max_stdin_bytes)?;
    let same = |asked: &str, own: &str| {
        state
            .toolchain
            .registry()
            .get(asked)
            .is_some_and(|l| l.id == own)
    };
    let language = match (&function.target, body.language) {
        (Target::Language(own), Some(asked)) if !same(&asked, own) => {
            return Err(ApiError::BadRequest(format!(
                "this function runs {own}, not {asked}; use POST /function/{asked} or /function/run"
            )))
        }
        (Target::Language(own), _) => own.clone(),
        (_, Some(language)) => language,
        (_, None) => {
            return Err(ApiError::BadRequest(
                "run needs a \"language\" (see GET /languages)".into(),
            ))
        }
    };
    let files: Vec<lang::File> = body
        .files
        .into_iter()
        .map(|f| lang::File {
            name: f.name,
            contents: f.content.into_bytes(),
        })
        .collect();
    let total: usize = files.iter().map(|f| f.contents.len()).sum();
    at_most("the files", total, config.max_source_bytes)?;
    Ok(lang::RunRequest {
        language,
        source: body.source.into_bytes(),
        source_name: body.source_name,
        stdin: body.stdin.into_bytes(),
        args: body.args,
        limits: body.limits,
        files,
    })
}

fn grade_request(body: GradeBody, state: &AppState) -> Result<GradeRequest, ApiError> {
    at_most(
        "the source",
        body.source.len(),
        state.config.max_source_bytes,
    )?;
    let problem = match (body.problem, body.tests) {
        (Some(id), None) => {
            // A problem's validator and limits are its own: a flag given here would be
            // silently ignored, and a person would believe it applied.
            if !body.validator_flags.is_empty() || body.time_limit_ms.is_some() {
                return Err(ApiError::BadRequest(format!(
                    "\"validator_flags\" and \"time_limit_ms\" are for inline \"tests\": \
                     problem {id:?} has its own (GET /problems shows its limits)"
                )));
            }
            ProblemSource::Archive(id)
        }
        (None, Some(tests)) => ProblemSource::Inline {
            tests: tests
                .into_iter()
                .map(|t| InlineTest {
                    input: t.input.into_bytes(),
                    answer: t.answer.into_bytes(),
                })
                .collect(),
            validator_flags: body.validator_flags,
            time_limit_ms: body.time_limit_ms,
        },
        _ => {
            return Err(ApiError::BadRequest(
                "give either \"problem\" or \"tests\"".into(),
            ))
        }
    };
    Ok(GradeRequest {
        language: body.language,
        source: body.source.into_bytes(),
        problem,
        stop_at_first_failure: body.stop_at_first_failure,
    })
}

async fn invoke(state: &Arc<AppState>, name: &str, call: Call) -> Response {
    let start = Instant::now();
    let (name, response) = match state.functions.get(name) {
        Ok(function) => {
            let name = function.name.as_str();
            function.invocations.fetch_add(1, Ordering::Relaxed);
            let events = wants_events(&call.headers);
            let response = match decode(state, function, call).await {
                Ok(decoded) => run_now(state, name, decoded, events).await,
                Err(e) => e.into_response(),
            };
            (name, response)
        }
        Err(e) => return e.into_response(),
    };
    state
        .metrics
        .invoked(name, response.status().as_u16(), start.elapsed());
    response
}

/// Runs a decoded request while the client waits.
async fn run_now(state: &Arc<AppState>, name: &str, decoded: Decoded, events: bool) -> Response {
    let checked = match core::check(state, decoded.job) {
        Ok(checked) => checked,
        Err(e) => return e.into_response(),
    };
    if events && matches!(checked, Checked::Grade(_)) {
        return grade_events(state.clone(), checked, name.to_owned());
    }
    let place = match state.admission.place() {
        Ok(place) => place,
        Err(e) => return e.into_response(),
    };
    match core::execute(state, checked, Admitted::Interactive(place), &|_| {}).await {
        Ok(report) => {
            state.metrics.outcome(name, report.status());
            match report {
                Report::Run(outcome) => respond(&outcome, decoded.json),
                report => Json(report.to_json()).into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}

/// Stores a request to run later: `202` once it is committed, with its id.
async fn submit(state: &AppState, name: &str, call: Call) -> Result<Response, ApiError> {
    let start = Instant::now();
    let queue = state.queue()?;
    let function = state.functions.get(name)?;
    let callback = match call.headers.get("x-callback-url") {
        Some(url) => {
            let url = url.to_str().map_err(|_| {
                ApiError::BadRequest("X-Callback-Url is not a URL: not ASCII".into())
            })?;
            Some(state.config.submissions.callbacks.check(url).await?)
        }
        None => None,
    };
    let decoded = decode(state, function, call).await?;
    let job = serde_json::to_string(&decoded.job)
        .map_err(|e| ApiError::Internal(format!("serialise a job: {e}")))?;
    // Refused now, to the client that sent it, rather than failed later.
    core::check(state, decoded.job)?;
    let new = store::NewSubmission {
        api: "function",
        function: &function.name,
        job: &job,
        meta: None,
        callback_url: callback.as_ref().map(url::Url::as_str),
    };
    let id = queue.submit(&new).await?;
    function.invocations.fetch_add(1, Ordering::Relaxed);
    state.metrics.invoked(&function.name, 202, start.elapsed());
    let mut response = (StatusCode::ACCEPTED, Json(json!({ "id": id }))).into_response();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-call-id"), value);
    }
    Ok(response)
}

/// What a callback carries, as the OpenFaaS queue-worker sends it: the result as the body,
/// and the call's id, function, status and duration in headers.
pub fn callback_message(delivery: &store::Delivery) -> Message {
    let seconds = match (delivery.started_at, delivery.finished_at) {
        (Some(started), Some(finished)) => (finished - started).max(0) as f64 / 1000.0,
        _ => 0.0,
    };
    Message {
        method: reqwest::Method::POST,
        headers: vec![
            ("x-call-id", delivery.id.clone()),
            ("x-function-name", delivery.function.clone()),
            ("x-function-status", delivery.status.to_string()),
            ("x-duration-seconds", format!("{seconds:.3}")),
        ],
        body: delivery.result.clone(),
    }
}

fn respond(outcome: &lang::RunOutcome, json: bool) -> Response {
    let report = outcome.response();
    if json {
        return Json(report).into_response();
    }
    // Stdout as the program wrote it, which the report's clients read; after a failure,
    // the marked stderr and status sections, on a line of their own.
    let mut body = outcome.stdout().to_vec();
    if report.status != lang::RunStatus::Ok {
        if !body.is_empty() && !body.ends_with(b"\n") {
            body.push(b'\n');
        }
        body.extend_from_slice(outcome.diagnostic().as_bytes());
    }
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    put("x-judgelet-status", report.status.as_str().to_owned());
    put("x-judgelet-cpu-time-ms", report.cpu_time_ms.to_string());
    put("x-judgelet-wall-time-ms", report.wall_time_ms.to_string());
    put("x-judgelet-memory-kib", report.memory_kib.to_string());
    if let Some(code) = report.exit_code {
        put("x-judgelet-exit-code", code.to_string());
    }
    if let Some(signal) = report.signal {
        put("x-judgelet-signal", signal.to_string());
    }
    if let Some(limit) = report.limit_exceeded {
        put("x-judgelet-limit-exceeded", limit.as_str().to_owned());
    }
    response
}

fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// Grading as server-sent events: `test` for each case as it is judged (in order), then
/// `report` with the whole report, or `error`. The client hanging up aborts the grading.
fn grade_events(state: Arc<AppState>, checked: Checked, function: String) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    fn event(name: &str, data: &impl serde::Serialize) -> Event {
        Event::default()
            .event(name)
            .data(serde_json::to_string(data).unwrap_or_default())
    }
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let task = tokio::spawn(async move {
        let tests = sender.clone();
        let on_test = move |test: &judge::TestReport| {
            let _ = tests.send(event("test", test));
        };
        let graded = match state.admission.place() {
            Ok(place) => {
                core::execute(&state, checked, Admitted::Interactive(place), &on_test).await
            }
            Err(e) => Err(e),
        };
        let last = match graded {
            Ok(report) => {
                state.metrics.outcome(&function, report.status());
                event("report", &report.to_json())
            }
            Err(e) => event(
                "error",
                &json!({ "status": e.status().as_u16(), "message": e.to_string() }),
            ),
        };
        let _ = sender.send(last);
    });
    let stream = futures_util::stream::unfold(
        (receiver, AbortOnDrop(task)),
        |(mut receiver, guard)| async move {
            let event = receiver.recv().await?;
            Some((Ok::<_, std::convert::Infallible>(event), (receiver, guard)))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// What is deployed, in the shape of the OpenFaaS gateway's `GET /system/functions`.
pub async fn system_functions(State(state): State<Arc<AppState>>) -> Response {
    let registry = state.toolchain.registry();
    let isolation = state.toolchain.sandbox().isolation();
    let functions: Vec<_> = state
        .functions
        .functions
        .iter()
        .map(|(name, function)| {
            let mut annotations = json!({ "judgelet.isolation": isolation });
            if let Target::Language(id) = &function.target {
                if let Some(language) = registry.get(id) {
                    annotations["judgelet.language"] = json!(id);
                    annotations["judgelet.version"] = json!(language.version);
                }
            }
            json!({
                "name": name,
                "image": "judgelet",
                "namespace": "judgelet",
                "envProcess": format!("judgelet function {name}"),
                "invocationCount": function.invocations.load(Ordering::Relaxed),
                "replicas": 1,
                "availableReplicas": 1,
                "labels": { "faas_function": name },
                "annotations": annotations,
            })
        })
        .collect();
    Json(functions).into_response()
}
