//! The HTTP gateway: every capability of judgelet as an OpenFaaS-style function, now or
//! later.
//!
//! `POST /function/<name>` runs a function: one per language (`python`, `c`, `cpp`, ...),
//! the report's names `pythontimeout` and `cc`, `run` (JSON with a `language`) and `grade`.
//! A `text/plain` body is the source and gets the program's stdout back, the status in
//! `X-Judgelet-Status`; a JSON body is a full request and gets the JSON report.
//! `POST /async-function/<name>` stores the same request and answers `202` at once; the
//! queue runs it and `GET /results/<id>` (or a callback) gives the report. Also
//! `GET /system/functions`, `/languages`, `/problems`, `/healthz`, `/metrics`.
//!
//! ```text
//! api::function (wire format) ─▶ core::Job ─▶ core::check ─▶ now: admission + core::execute
//!                                                        └─▶ later: store ─▶ queue ─▶ core::execute
//! ```
//!
//! [`app`] builds the router without a socket, so tests call it directly; [`function_app`]
//! serves a single function at `/` as the OpenFaaS function contract wants.
//!
//! Architecture invariant: this is the only crate that knows HTTP and wire types of the API.

mod admission;
mod api;
mod callback;
mod catalogue;
mod core;
mod error;
mod metrics;
mod queue;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use lang::Toolchain;
use serde_json::json;
use tracing::Instrument;

pub use callback::CallbackRules;
pub use error::ApiError;
use metrics::Metrics;

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
    /// Problem packages for the `grade` function, one directory each; the server only reads
    /// them.
    pub problems_dir: Option<std::path::PathBuf>,
    /// Where problems uploaded with `PUT /problems/<id>` are kept; `None`: no uploads.
    pub uploads_dir: Option<std::path::PathBuf>,
    /// The largest zip an upload may send.
    pub max_upload_bytes: usize,
    /// How big an uploaded package may be once unpacked.
    pub archive_limits: judge::archive::ArchiveLimits,
    /// Keys that may change problems (`Authorization: Bearer`); none: clients on this host.
    pub admin_keys: ApiKeys,
    /// The longest a request body may take to arrive (of-watchdog's `read_timeout`).
    pub read_timeout: Option<Duration>,
    /// The longest a request may take, waiting for a slot included; its run is killed then
    /// (of-watchdog's `exec_timeout`, and `write_timeout`, which bounds the same span).
    pub deadline: Option<Duration>,
    /// Stored submissions and how they are run.
    pub submissions: SubmissionsConfig,
    /// Keys the compatible APIs (Judge0, Piston, Jobe) require, each in its own header;
    /// none: open.
    pub api_keys: ApiKeys,
    /// Origins whose pages may call the API from a browser (CORS); `*` for any. None by
    /// default: only the server's own page.
    pub cors_origins: Vec<String>,
}

/// The operator's API keys, compared in constant time.
#[derive(Clone, Debug, Default)]
pub struct ApiKeys(Vec<String>);

impl ApiKeys {
    /// Keys from text: one per line or separated by commas or spaces; `#` starts a comment.
    pub fn parse(text: &str) -> ApiKeys {
        ApiKeys(
            text.lines()
                .map(|line| line.split('#').next().unwrap_or_default())
                .flat_map(|line| line.split([',', ' ', '\t']))
                .filter(|key| !key.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn accepts(&self, presented: &str) -> bool {
        self.0
            .iter()
            .any(|key| constant_time_eq::constant_time_eq(key.as_bytes(), presented.as_bytes()))
    }
}

/// Stored (asynchronous) submissions: the queue, its leases, retention, callbacks.
#[derive(Clone, Debug)]
pub struct SubmissionsConfig {
    /// Submissions queued or running at most; more get `429`.
    pub max_pending: u64,
    /// Submissions this replica holds at once: running, or claimed and waiting for a slot.
    /// Default: one more than the slots.
    pub workers: Option<usize>,
    /// How long a claim lasts without renewal: a replica that dies loses its submissions
    /// to the others this long after its last renewal (renewed every third of it).
    pub lease: Duration,
    /// How often an idle worker looks for submissions another replica stored.
    pub poll: Duration,
    /// Results (and sources) are deleted this long after they finish.
    pub retention: Duration,
    /// This replica's name in results: host name and instance.
    pub runner: String,
    pub callbacks: CallbackRules,
    /// Deliveries tried per callback.
    pub callback_tries: u32,
    /// The wait before the second try; it doubles for each after.
    pub callback_retry: Duration,
}

impl Default for SubmissionsConfig {
    fn default() -> Self {
        SubmissionsConfig {
            max_pending: 100_000,
            workers: None,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(250),
            retention: Duration::from_secs(7 * 24 * 3600),
            runner: queue::runner_name(),
            callbacks: CallbackRules::default(),
            // 5 tries over a minute: after 4, 8, 16 and 32 s.
            callback_tries: 5,
            callback_retry: Duration::from_secs(4),
        }
    }
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
            uploads_dir: None,
            max_upload_bytes: 256 << 20,
            archive_limits: judge::archive::ArchiveLimits::default(),
            admin_keys: ApiKeys::default(),
            read_timeout: None,
            deadline: None,
            submissions: SubmissionsConfig::default(),
            api_keys: ApiKeys::default(),
            cors_origins: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// A JSON request may carry the largest source and stdin, and some room for the rest.
    fn max_json_bytes(&self) -> usize {
        self.max_source_bytes + self.max_stdin_bytes + (64 << 10)
    }
}

pub struct AppState {
    toolchain: Arc<Toolchain>,
    grader: judge::Grader,
    problems: catalogue::Catalogue,
    admission: Arc<admission::Admission>,
    metrics: Arc<Metrics>,
    functions: api::function::Functions,
    /// Stored submissions: `None` in function mode, which is stateless.
    queue: Option<queue::Queue>,
    config: ServerConfig,
}

impl AppState {
    /// The state of a server; with a store, it takes submissions to run later
    /// (`judgelet serve`), without one it only runs them now (`judgelet function`).
    pub fn new(
        toolchain: Toolchain,
        config: ServerConfig,
        store: Option<store::Store>,
    ) -> Arc<AppState> {
        let toolchain = Arc::new(toolchain);
        let problems =
            catalogue::Catalogue::load(config.problems_dir.as_deref(), config.uploads_dir.clone());
        let metrics = Arc::new(Metrics::new());
        Arc::new(AppState {
            admission: admission::Admission::new(
                config.slots,
                config.queue,
                config.queue_timeout,
                metrics.clone(),
            ),
            grader: judge::Grader::new(toolchain.clone(), judge::GraderConfig::default()),
            functions: api::function::Functions::new(toolchain.registry()),
            queue: store.map(|store| queue::Queue::new(store, &config)),
            toolchain,
            problems,
            metrics,
            config,
        })
    }

    pub fn function_names(&self) -> Vec<String> {
        self.functions.names()
    }

    /// The queue of stored submissions, which function mode has not.
    fn queue(&self) -> Result<&queue::Queue, ApiError> {
        self.queue.as_ref().ok_or_else(|| {
            ApiError::NotFound(
                "this server keeps no submissions (a single function is stateless: \
                 its platform queues asynchronous calls)"
                    .into(),
            )
        })
    }
}

/// Every function and the system routes, as `judgelet serve` serves them.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(api::function::router())
        .merge(api::results::router())
        .merge(api::problems::router())
        .nest("/judge0", api::judge0::router())
        .merge(api::piston::router())
        .merge(api::jobe::router())
        .route("/", get(|| async { page("index.html") }))
        .route("/app.js", get(|| async { page("app.js") }))
        .route("/app.css", get(|| async { page("app.css") }))
        .route("/system/functions", get(api::function::system_functions))
        .route("/languages", get(languages))
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .fallback(|| async {
            ApiError::NotFound(
                "no such path; functions are at POST /function/<name> and \
                 POST /async-function/<name>"
                    .into(),
            )
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(cors(&state.config.cors_origins))
        .layer(middleware::from_fn(call_id))
        .with_state(state)
}

/// Lets pages of the configured origins call the API, and answers their preflights. No
/// origin configured: no CORS headers at all (a browser then lets only same-origin pages in).
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, Any, CorsLayer};
    let layer = CorsLayer::new()
        .allow_methods([
            axum::http::Method::GET,
            axum::http::Method::POST,
            axum::http::Method::PUT,
            axum::http::Method::DELETE,
            axum::http::Method::HEAD,
        ])
        .allow_headers(Any)
        .expose_headers(Any)
        .max_age(Duration::from_secs(600));
    if origins.iter().any(|o| o == "*") {
        return layer.allow_origin(Any);
    }
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    match allowed.is_empty() {
        true => CorsLayer::new(),
        false => layer.allow_origin(AllowOrigin::list(allowed)),
    }
}

/// One function at `/`, health at `/_/health` and `/_/ready`: the OpenFaaS function
/// contract, for one function per deployment.
pub fn function_app(state: Arc<AppState>, name: &str) -> Result<Router, ApiError> {
    Ok(api::function::single(&state, name)?
        .route("/_/health", get(healthz))
        .route("/_/ready", get(healthz))
        .route("/metrics", get(render_metrics))
        .fallback(|| async {
            ApiError::NotFound("no such path; this function is served at POST /".into())
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(cors(&state.config.cors_origins))
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

/// Serves `router` (and, with a store, runs the stored submissions of `state`) until
/// `shutdown` resolves; then stops accepting and claiming, and lets in-flight requests and
/// runs finish for up to `drain`. Runs still going after that are killed: a request's when
/// it is dropped, a stored submission's after its claim is given back to the queue.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    state.toolchain.warm_up();
    let deriving = AbortOnDrop(tokio::spawn(derive_time_limits(state.clone())));
    let background = state
        .queue
        .as_ref()
        .map(|_| Arc::new(queue::start(state.clone())));
    let stopper = background.clone();
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    // Peers' addresses, for what only a client on this host may do.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!(
            drain_s = drain.as_secs_f64(),
            "shutting down: draining in-flight requests"
        );
        if let Some(background) = stopper {
            // No new claims from now on; the runs going on finish.
            background.stop();
        }
        let _ = stopping.send(());
    });
    let deadline = async {
        match stopped.await {
            Ok(()) => tokio::time::sleep(drain).await,
            Err(_) => std::future::pending().await,
        }
    };
    let drained = async {
        let result = server.await;
        if let Some(background) = &background {
            background.finished().await;
        }
        result
    };
    let result = tokio::select! {
        result = drained => result,
        () = deadline => {
            tracing::warn!("drain deadline passed; killing the runs still going");
            Ok(())
        }
    };
    if let Some(background) = background {
        background.shutdown().await;
    }
    drop(deriving);
    result
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
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

/// Derives the time limits the problems do not state, in the background lane, so that
/// `GET /problems` shows them and no grading waits for a derivation.
async fn derive_time_limits(state: Arc<AppState>) {
    for (package, _) in state.problems.all() {
        derive_time_limit(state.clone(), package).await;
    }
}

/// Derives `package`'s time limit, if it states none, in the background lane.
async fn derive_time_limit(state: Arc<AppState>, package: Arc<judge::ProblemPackage>) {
    if state.grader.effective_limits(&package).time_limit.is_some() {
        return;
    }
    let options = judge::GradeOptions {
        slots: state.admission.for_grading(admission::Lane::Background),
        ..judge::GradeOptions::new(state.config.slots)
    };
    match state.grader.time_limit(&package, &options).await {
        Ok(limit) => {
            tracing::info!(problem = %package.id, seconds = limit.seconds, "time limit derived")
        }
        Err(e) => {
            tracing::warn!(problem = %package.id, error = %e, "cannot derive a time limit")
        }
    }
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
        // Stored submissions: where (the URL without its password), and this replica's name
        // in their results.
        "store": state.queue.as_ref().map(|queue| queue.store_url()),
        "runner": state.queue.as_ref().map(|_| &state.config.submissions.runner),
    }))
    .into_response()
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> Response {
    if let Some(queue) = &state.queue {
        // Read at each scrape: a few indexed counts.
        match queue.stats().await {
            Ok(stats) => state.metrics.queue(&stats),
            Err(e) => tracing::warn!(error = %e, "cannot read the queue's figures"),
        }
    }
    state.metrics.warm(&state.toolchain.warm_stats());
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
    let path = request.uri().path();
    let function = path
        .strip_prefix("/function/")
        .or_else(|| path.strip_prefix("/async-function/"))
        .unwrap_or("");
    let span = tracing::info_span!("request", call_id = %id, method = %request.method(), path = %path, function = %function);
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
    // A stored submission's answer carries its own id, which its callback carries too.
    if !headers.contains_key("x-call-id") {
        if let Ok(value) = HeaderValue::from_str(&id) {
            headers.insert(HeaderName::from_static("x-call-id"), value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{:.6}", elapsed.as_secs_f64())) {
        headers.insert(HeaderName::from_static("x-duration-seconds"), value);
    }
    response
}
