//! The HTTP gateway: every capability of judgelet as an OpenFaaS-style function.
//!
//! `POST /function/<name>` runs a function: one per language (`python`, `c`, `cpp`, ...),
//! the report's names `pythontimeout` and `cc`, and `run` (JSON with a `language`). A
//! `text/plain` body is the source and gets the program's stdout back, the status in
//! `X-Judgelet-Status`; a JSON body is a full request and gets the JSON run report. Also
//! `GET /system/functions`, `/languages`, `/healthz`, `/metrics`.
//!
//! [`app`] builds the router without a socket, so tests call it directly; [`function_app`]
//! serves a single function at `/` as the OpenFaaS function contract wants.
//!
//! Architecture invariant: this is the only crate that knows HTTP and wire types of the API.

mod admission;
mod error;
mod metrics;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lang::{RunOutcome, RunRequest, Toolchain};
use serde::Deserialize;
use serde_json::json;
use tracing::Instrument;

pub use error::ApiError;
use metrics::{FunctionName, Invocation, Metrics, Outcome};

/// How the gateway admits and sizes requests.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Runs at once: sandbox slots. Default: the number of CPUs.
    pub slots: usize,
    /// Requests that may wait for a slot; more get `429`.
    pub queue: usize,
    /// The longest a request waits for a slot before it gets `429`.
    pub queue_timeout: Duration,
    pub max_source_bytes: usize,
    pub max_stdin_bytes: usize,
    /// Problem packages for the `grade` function, one directory each.
    pub problems_dir: Option<std::path::PathBuf>,
    /// The longest a request body may take to arrive (of-watchdog's `read_timeout`).
    pub read_timeout: Option<Duration>,
    /// The longest a request may take, waiting for a slot included; its run is killed then
    /// (of-watchdog's `exec_timeout`, and `write_timeout`, which bounds the same span).
    pub deadline: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            slots: std::thread::available_parallelism().map_or(1, |n| n.get()),
            queue: 512,
            queue_timeout: Duration::from_secs(60),
            max_source_bytes: 1 << 20,
            max_stdin_bytes: 8 << 20,
            problems_dir: None,
            read_timeout: None,
            deadline: None,
        }
    }
}

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
    target: Target,
    invocations: AtomicU64,
}

pub struct AppState {
    toolchain: Arc<Toolchain>,
    grader: judge::Grader,
    problems: BTreeMap<String, Arc<judge::ProblemPackage>>,
    admission: admission::Admission,
    metrics: Arc<Metrics>,
    functions: BTreeMap<String, Function>,
    config: ServerConfig,
}

impl AppState {
    pub fn new(toolchain: Toolchain, config: ServerConfig) -> Arc<AppState> {
        let toolchain = Arc::new(toolchain);
        let problems = config
            .problems_dir
            .as_deref()
            .map(load_problems)
            .unwrap_or_default();
        let metrics = Arc::new(Metrics::new());
        let mut functions = BTreeMap::new();
        let mut add = |name: &str, target: Target| {
            let function = Function {
                target,
                invocations: AtomicU64::new(0),
            };
            functions.insert(name.to_owned(), function);
        };
        for id in toolchain.registry().ids() {
            add(&id, Target::Language(id.clone()));
        }
        for (alias, language) in ALIASES {
            if toolchain.registry().get(language).is_some() {
                add(alias, Target::Language(language.to_owned()));
            }
        }
        add("run", Target::Run);
        add("grade", Target::Grade);
        Arc::new(AppState {
            admission: admission::Admission::new(
                config.slots,
                config.queue,
                config.queue_timeout,
                metrics.clone(),
            ),
            grader: judge::Grader::new(toolchain.clone(), judge::GraderConfig::default()),
            toolchain,
            problems,
            metrics,
            functions,
            config,
        })
    }

    pub fn function_names(&self) -> Vec<String> {
        self.functions.keys().cloned().collect()
    }

    fn function(&self, name: &str) -> Result<&Function, ApiError> {
        self.functions
            .get(name)
            .ok_or_else(|| ApiError::UnknownFunction {
                name: name.to_owned(),
                known: self.function_names(),
            })
    }
}

/// Every function and the system routes, as `judgelet serve` serves them.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/function/{name}",
            post(
                |State(state): State<Arc<AppState>>,
                 Path(name): Path<String>,
                 headers: HeaderMap,
                 body: Body| async move { invoke(&state, &name, &headers, body).await },
            ),
        )
        .route("/", get(|| async { page("index.html") }))
        .route("/app.js", get(|| async { page("app.js") }))
        .route("/app.css", get(|| async { page("app.css") }))
        .route("/system/functions", get(system_functions))
        .route("/languages", get(languages))
        .route("/problems", get(problems))
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .fallback(|| async { not_found() })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(middleware::from_fn(call_id))
        .with_state(state)
}

/// One function at `/`, health at `/_/health` and `/_/ready`: the OpenFaaS function
/// contract, for one function per deployment.
pub fn function_app(state: Arc<AppState>, name: &str) -> Result<Router, ApiError> {
    state.function(name)?;
    let name: Arc<str> = name.into();
    Ok(Router::new()
        .route(
            "/",
            post(move |State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body| async move {
                invoke(&state, &name, &headers, body).await
            }),
        )
        .route("/_/health", get(healthz))
        .route("/_/ready", get(healthz))
        .route("/metrics", get(render_metrics))
        .fallback(|| async { not_found() })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(middleware::from_fn(call_id))
        .with_state(state))
}

/// Ends a request at the configured deadline. Dropping it drops its run, which kills it.
async fn deadline(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    match state.config.deadline {
        Some(limit) => match tokio::time::timeout(limit, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::Deadline(limit).into_response(),
        },
        None => next.run(request).await,
    }
}

/// Serves `router` until `shutdown` resolves, then stops accepting and lets in-flight
/// requests finish for up to `drain`; runs still going after that are killed when their
/// requests are dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!(
            drain_s = drain.as_secs_f64(),
            "shutting down: draining in-flight requests"
        );
        let _ = stopping.send(());
    });
    tokio::select! {
        result = server => result,
        () = async { if stopped.await.is_ok() { tokio::time::sleep(drain).await } else { std::future::pending().await } } => {
            tracing::warn!("drain deadline passed; killing the runs still going");
            Ok(())
        }
    }
}

/// The page (`web/`, built into `crates/server/web/` and committed), embedded so the one
/// binary is the whole local product.
fn page(file: &str) -> Response {
    let (body, kind): (&'static [u8], &str) = match file {
        "index.html" => (
            include_bytes!("../web/index.html"),
            "text/html; charset=utf-8",
        ),
        "app.js" => (
            include_bytes!("../web/app.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => (include_bytes!("../web/app.css"), "text/css; charset=utf-8"),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            // A page with no external requests at all: scripts and styles only from here.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
            ),
        ],
        body,
    )
        .into_response()
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such path; functions are at POST /function/<name>".into())
}

/// A run request as JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    /// Required by `run`; for a language's own function, may be left out.
    language: Option<String>,
    source: String,
    #[serde(default)]
    stdin: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    limits: sandbox::LimitsRequest,
}

fn is_json(headers: &HeaderMap) -> bool {
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

async fn invoke(state: &Arc<AppState>, name: &str, headers: &HeaderMap, body: Body) -> Response {
    let start = Instant::now();
    match state.function(name) {
        Ok(function) => {
            function.invocations.fetch_add(1, Ordering::Relaxed);
            let response = match function.target {
                Target::Grade => match grade_job(state, headers, body).await {
                    Ok(job) if wants_events(headers) => {
                        grade_events(state.clone(), job, name.to_owned())
                    }
                    Ok(job) => match grade(state, job, &|_| {}).await {
                        Ok(report) => {
                            record_outcome(state, name, report.verdict.as_str());
                            Json(report).into_response()
                        }
                        Err(e) => e.into_response(),
                    },
                    Err(e) => e.into_response(),
                },
                _ => match run_function(state, function, headers, body).await {
                    Ok((outcome, json)) => {
                        record_outcome(state, name, outcome.status().as_str());
                        respond(&outcome, json)
                    }
                    Err(e) => e.into_response(),
                },
            };
            let labels = FunctionName {
                function_name: name.to_owned(),
            };
            state
                .metrics
                .duration
                .get_or_create(&labels)
                .observe(start.elapsed().as_secs_f64());
            state
                .metrics
                .invocations
                .get_or_create(&Invocation {
                    function_name: name.to_owned(),
                    code: response.status().as_u16().to_string(),
                })
                .inc();
            response
        }
        Err(e) => e.into_response(),
    }
}

/// Decodes the request, waits for a slot, runs it. Returns the outcome and whether the
/// client spoke JSON.
async fn run_function(
    state: &AppState,
    function: &Function,
    headers: &HeaderMap,
    body: Body,
) -> Result<(RunOutcome, bool), ApiError> {
    let json = is_json(headers);
    let config = &state.config;
    let limit = match json {
        true => config.max_json_bytes(),
        false => config.max_source_bytes,
    };
    let bytes = read_body(body, limit, config.read_timeout).await?;
    let request = match json {
        true => decode_json(function, &bytes, config)?,
        false => {
            let Target::Language(language) = &function.target else {
                return Err(ApiError::UnsupportedMediaType(
                    "run takes application/json with a \"language\"; a language's own \
                     function (POST /function/python) takes plain source"
                        .into(),
                ));
            };
            let source = std::str::from_utf8(&bytes).map_err(|e| {
                ApiError::BadRequest(format!(
                    "the source is not valid UTF-8 (at byte {})",
                    e.valid_up_to()
                ))
            })?;
            RunRequest {
                language: language.clone(),
                source: source.as_bytes().to_vec(),
                ..RunRequest::default()
            }
        }
    };
    // Fail fast on an unknown language, before queueing.
    state.toolchain.language(&request.language)?;
    let _permit = state.admission.admit().await?;
    let outcome = state.toolchain.run(request).await?;
    Ok((outcome, json))
}

impl ServerConfig {
    /// A JSON request may carry the largest source and stdin, and some room for the rest.
    fn max_json_bytes(&self) -> usize {
        self.max_source_bytes + self.max_stdin_bytes + (64 << 10)
    }
}

async fn read_body(body: Body, limit: usize, timeout: Option<Duration>) -> Result<Bytes, ApiError> {
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

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "malformed JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })
}

fn at_most(what: &'static str, len: usize, limit: usize) -> Result<(), ApiError> {
    match len > limit {
        true => Err(ApiError::TooLarge { what, limit }),
        false => Ok(()),
    }
}

fn decode_json(
    function: &Function,
    bytes: &[u8],
    config: &ServerConfig,
) -> Result<RunRequest, ApiError> {
    let body: RunBody = parse_json(bytes)?;
    at_most("the source", body.source.len(), config.max_source_bytes)?;
    at_most("stdin", body.stdin.len(), config.max_stdin_bytes)?;
    let language = match (&function.target, body.language) {
        (Target::Run | Target::Grade, Some(language)) => language,
        (Target::Run | Target::Grade, None) => {
            return Err(ApiError::BadRequest(
                "run needs a \"language\" (see GET /languages)".into(),
            ))
        }
        (Target::Language(own), Some(asked)) if *own != asked => {
            return Err(ApiError::BadRequest(format!(
                "this function runs {own}, not {asked}; use POST /function/{asked} or /function/run"
            )))
        }
        (Target::Language(own), _) => own.clone(),
    };
    Ok(RunRequest {
        language,
        source: body.source.into_bytes(),
        stdin: body.stdin.into_bytes(),
        args: body.args,
        limits: body.limits,
    })
}

fn respond(outcome: &RunOutcome, json: bool) -> Response {
    let report = outcome.response();
    if json {
        return Json(report).into_response();
    }
    let mut body = outcome.stdout().to_vec();
    if report.status != lang::RunStatus::Ok {
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

/// What is deployed, in the shape of the OpenFaaS gateway's `GET /system/functions`.
async fn system_functions(State(state): State<Arc<AppState>>) -> Response {
    let registry = state.toolchain.registry();
    let isolation = state.toolchain.sandbox().isolation();
    let functions: Vec<_> = state
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

/// Problem packages under `dir`: every directory with a `problem.yaml`, two levels deep. A
/// package that does not load is logged, naming the file, and left out.
fn load_problems(dir: &std::path::Path) -> BTreeMap<String, Arc<judge::ProblemPackage>> {
    let mut problems = BTreeMap::new();
    let mut pending = vec![(dir.to_owned(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        if dir.join("problem.yaml").is_file() {
            match judge::ProblemPackage::load(&dir) {
                Ok(package) => {
                    problems.insert(package.id.clone(), Arc::new(package));
                }
                Err(e) => tracing::error!(error = %e, "problem package left out"),
            }
        } else if depth < 2 {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.path().is_dir() {
                    pending.push((entry.path(), depth + 1));
                }
            }
        }
    }
    tracing::info!(count = problems.len(), "problems loaded");
    problems
}

/// The problems the `grade` function knows, with their sample tests.
async fn problems(State(state): State<Arc<AppState>>) -> Response {
    let mut list = Vec::new();
    for package in state.problems.values() {
        let mut samples = Vec::new();
        for case in package.samples() {
            let (Ok(input), Ok(answer)) = (case.input.read().await, case.answer.read().await)
            else {
                continue;
            };
            samples.push(json!({
                "name": case.name,
                "input": String::from_utf8_lossy(&input),
                "answer": String::from_utf8_lossy(&answer),
            }));
        }
        list.push(json!({
            "id": package.id,
            "name": package.name,
            "type": match (package.interactive, package.scoring) {
                (true, _) => "interactive",
                (false, true) => "scoring",
                (false, false) => "pass-fail",
            },
            "time_limit_s": package.time_limit.map(|t| t.seconds),
            "memory_mib": package.memory_mib,
            "tests": package.cases.len(),
            "samples": samples,
            "statement": package.statement,
        }));
    }
    Json(list).into_response()
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
    tests: Option<Vec<InlineTest>>,
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
struct InlineTest {
    input: String,
    answer: String,
}

/// A decoded grade request.
struct GradeJob {
    package: Arc<judge::ProblemPackage>,
    language: String,
    submission: lang::Submission,
    stop_at_first_failure: bool,
}

async fn grade_job(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<GradeJob, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType(
            "grade takes application/json: {language, source, problem} or {..., tests}".into(),
        ));
    }
    let config = &state.config;
    let bytes = read_body(body, config.max_json_bytes(), config.read_timeout).await?;
    let body: GradeBody = parse_json(&bytes)?;
    at_most("the source", body.source.len(), config.max_source_bytes)?;
    let language = state.toolchain.language(&body.language)?.clone();
    let package = match (body.problem, body.tests) {
        (Some(id), None) => {
            state
                .problems
                .get(&id)
                .cloned()
                .ok_or_else(|| ApiError::UnknownProblem {
                    problem: id,
                    known: state.problems.keys().cloned().collect(),
                })?
        }
        (None, Some(tests)) => Arc::new(
            judge::ProblemPackage::inline(
                tests
                    .into_iter()
                    .map(|t| (t.input.into_bytes(), t.answer.into_bytes()))
                    .collect(),
                body.validator_flags,
                body.time_limit_ms.map(|ms| ms as f64 / 1000.0),
            )
            .map_err(|e| ApiError::BadRequest(e.to_string()))?,
        ),
        _ => {
            return Err(ApiError::BadRequest(
                "give either \"problem\" or \"tests\"".into(),
            ))
        }
    };
    Ok(GradeJob {
        package,
        submission: lang::Submission::single(&language, body.source.into_bytes()),
        language: language.id.clone(),
        stop_at_first_failure: body.stop_at_first_failure,
    })
}

/// Grades a job; its test cases take sandbox slots like any run. `on_test` hears of each case.
async fn grade(
    state: &AppState,
    job: GradeJob,
    on_test: &(dyn Fn(&judge::TestReport) + Send + Sync),
) -> Result<judge::GradeReport, ApiError> {
    let _place = state.admission.admit_many()?;
    let options = judge::GradeOptions {
        stop_at_first_failure: job.stop_at_first_failure,
        reveal_secret: false,
        slots: state.admission.slots(),
    };
    state
        .grader
        .grade(
            &job.package,
            &job.language,
            job.submission,
            &options,
            on_test,
        )
        .await
        .map_err(|e| match e {
            judge::Error::Lang(e) => e.into(),
            other => ApiError::Internal(other.to_string()),
        })
}

fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// Grading as server-sent events: `test` for each case as it is judged (in order), then
/// `report` with the whole report, or `error`. The client hanging up aborts the grading.
fn grade_events(state: Arc<AppState>, job: GradeJob, function: String) -> Response {
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
        let last = match grade(&state, job, &on_test).await {
            Ok(report) => {
                record_outcome(&state, &function, report.verdict.as_str());
                event("report", &report)
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

/// Aborts a task when the response it feeds is dropped (the client went away).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn record_outcome(state: &AppState, function: &str, status: &str) {
    state
        .metrics
        .outcomes
        .get_or_create(&Outcome {
            function_name: function.to_owned(),
            status: status.to_owned(),
        })
        .inc();
}

async fn languages(State(state): State<Arc<AppState>>) -> Response {
    let languages: Vec<_> = state
        .toolchain
        .registry()
        .languages()
        .map(|l| l.info())
        .collect();
    Json(languages).into_response()
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let sandbox = state.toolchain.sandbox();
    Json(json!({
        "status": "ok",
        "isolation": sandbox.isolation(),
        "cgroup": sandbox.cgroup_version(),
        "slots": state.config.slots,
        "queue": state.config.queue,
        "languages": state.toolchain.registry().ids(),
    }))
    .into_response()
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Accepts the caller's `X-Call-Id` (as the OpenFaaS gateway sends it) or makes one, logs
/// the request under it, and echoes it with the duration.
async fn call_id(request: Request, next: Next) -> Response {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = request
        .headers()
        .get("x-call-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            format!("{nanos:016x}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
        });
    let span = tracing::info_span!("request", call_id = %id, method = %request.method(), path = %request.uri().path());
    let start = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            seconds = elapsed.as_secs_f64(),
            "served"
        )
    });
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(HeaderName::from_static("x-call-id"), value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{:.6}", elapsed.as_secs_f64())) {
        headers.insert(HeaderName::from_static("x-duration-seconds"), value);
    }
    response
}
