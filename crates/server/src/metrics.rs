//! Prometheus metrics, named as the OpenFaaS gateway names them where they mean the same, so
//! its dashboards work: `gateway_function_invocation_total{function_name,code}` and
//! `gateway_functions_seconds{function_name}`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Invocation {
    pub function_name: String,
    /// The HTTP status code.
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub function_name: String,
    /// The run status (`ok`, `compile_error`, ...).
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FunctionName {
    pub function_name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Delivery {
    /// `delivered`, `retried` (a try failed, another follows) or `failed` (given up).
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    pub invocations: Family<Invocation, Counter>,
    pub outcomes: Family<Outcome, Counter>,
    pub duration: Family<FunctionName, Histogram>,
    pub queue_depth: Gauge,
    pub in_flight: Gauge,
    pending: Gauge,
    running: Gauge,
    oldest_pending: Gauge<f64, std::sync::atomic::AtomicU64>,
    callbacks_due: Gauge,
    callbacks: Family<Delivery, Counter>,
    warm_waiting: Gauge,
    warm_memory: Gauge,
    warm_runs: Family<WarmRun, Counter>,
    /// Counters follow the toolchain's totals: one reader at a time adds the difference.
    warm_update: std::sync::Mutex<()>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WarmRun {
    /// `warm` (a waiting interpreter served it), `cold` (none waited), `lost` (one that
    /// waited had died: its run started cold).
    start: String,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let invocations = Family::<Invocation, Counter>::default();
        let outcomes = Family::<Outcome, Counter>::default();
        let duration = Family::<FunctionName, Histogram>::new_with_constructor(|| {
            // 1 ms to ~65 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 17))
        });
        let queue_depth = Gauge::default();
        let in_flight = Gauge::default();
        registry.register(
            "gateway_function_invocation",
            "Function invocations by HTTP status code",
            invocations.clone(),
        );
        registry.register(
            "judgelet_run_outcome",
            "Runs by function and status (ok, compile_error, time_limit_exceeded, ...)",
            outcomes.clone(),
        );
        registry.register(
            "gateway_functions_seconds",
            "Time to serve a function invocation, queueing included",
            duration.clone(),
        );
        registry.register(
            "judgelet_queue_depth",
            "Requests admitted and waiting for a sandbox slot",
            queue_depth.clone(),
        );
        registry.register(
            "judgelet_in_flight",
            "Requests holding a sandbox slot",
            in_flight.clone(),
        );
        let pending = Gauge::default();
        let running = Gauge::default();
        let oldest_pending = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let callbacks_due = Gauge::default();
        let callbacks = Family::<Delivery, Counter>::default();
        registry.register(
            "judgelet_submissions_pending",
            "Stored submissions queued or running, on every replica of the store",
            pending.clone(),
        );
        registry.register(
            "judgelet_submissions_running",
            "Stored submissions running, on every replica of the store",
            running.clone(),
        );
        registry.register(
            "judgelet_submissions_oldest_pending_seconds",
            "Age of the oldest queued submission (0 when none waits)",
            oldest_pending.clone(),
        );
        registry.register(
            "judgelet_callbacks_due",
            "Results waiting for their callback to be delivered",
            callbacks_due.clone(),
        );
        registry.register(
            "judgelet_callback_deliveries",
            "Callback delivery attempts by outcome (delivered, retried, failed: given up)",
            callbacks.clone(),
        );
        let (warm_waiting, warm_memory) = (Gauge::default(), Gauge::default());
        let warm_runs = Family::<WarmRun, Counter>::default();
        registry.register(
            "judgelet_warm_waiting",
            "Interpreters started ahead, waiting for a run (warm runtimes)",
            warm_waiting.clone(),
        );
        registry.register(
            "judgelet_warm_memory_bytes",
            "Memory the waiting interpreters hold",
            warm_memory.clone(),
        );
        registry.register(
            "judgelet_warm_runs",
            "Runs of languages with a warm runtime, by how they started",
            warm_runs.clone(),
        );
        Metrics {
            registry,
            warm_waiting,
            warm_memory,
            warm_runs,
            warm_update: std::sync::Mutex::new(()),
            invocations,
            outcomes,
            duration,
            queue_depth,
            in_flight,
            pending,
            running,
            oldest_pending,
            callbacks_due,
            callbacks,
        }
    }

    /// A function answered with HTTP `code` after `elapsed`.
    pub fn invoked(&self, function: &str, code: u16, elapsed: std::time::Duration) {
        let labels = FunctionName {
            function_name: function.to_owned(),
        };
        self.duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.invocations
            .get_or_create(&Invocation {
                function_name: function.to_owned(),
                code: code.to_string(),
            })
            .inc();
    }

    /// A run or grading of `function` ended with `status` (a run status or a verdict).
    pub fn outcome(&self, function: &str, status: &str) {
        self.outcomes
            .get_or_create(&Outcome {
                function_name: function.to_owned(),
                status: status.to_owned(),
            })
            .inc();
    }

    pub fn callback(&self, outcome: &str) {
        self.callbacks
            .get_or_create(&Delivery {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The store's figures, as housekeeping last read them.
    pub fn queue(&self, stats: &store::Stats) {
        self.pending.set(stats.pending as i64);
        self.running.set(stats.running as i64);
        self.callbacks_due.set(stats.callbacks_due as i64);
        let age = stats
            .oldest_queued_at
            .map_or(0.0, |at| (store::now() - at).max(0) as f64 / 1000.0);
        self.oldest_pending.set(age);
    }

    /// The warm runtimes' figures, as the toolchain has them now.
    pub fn warm(&self, stats: &lang::WarmStats) {
        self.warm_waiting.set(stats.waiting as i64);
        self.warm_memory.set(stats.memory_bytes as i64);
        let _one = self.warm_update.lock().unwrap_or_else(|e| e.into_inner());
        for (start, total) in [
            ("warm", stats.served),
            ("cold", stats.cold),
            ("lost", stats.lost),
        ] {
            let counter = self.warm_runs.get_or_create(&WarmRun {
                start: start.to_owned(),
            });
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
