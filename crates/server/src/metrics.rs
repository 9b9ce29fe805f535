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

pub struct Metrics {
    registry: Registry,
    pub invocations: Family<Invocation, Counter>,
    pub outcomes: Family<Outcome, Counter>,
    pub duration: Family<FunctionName, Histogram>,
    pub queue_depth: Gauge,
    pub in_flight: Gauge,
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
        Metrics {
            registry,
            invocations,
            outcomes,
            duration,
            queue_depth,
            in_flight,
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
