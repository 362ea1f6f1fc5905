//! The worker's own metrics, served at `/metrics` on its HTTP port in Prometheus' text format:
//! what ran, how it ended, how long a claimed task waited to start, and how often calls were
//! retried (what retry-spike alerts watch).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabel {
    pub operation: String,
}

pub struct Metrics {
    registry: Registry,
    pub tasks: Family<ResultLabel, Counter>,
    pub running: Gauge,
    pub claim_to_start: Histogram,
    pub retries: Family<OperationLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("relyard_worker");
        let tasks = Family::<ResultLabel, Counter>::default();
        let running = Gauge::default();
        // 0.5 ms … ~16 s.
        let claim_to_start = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        let retries = Family::<OperationLabel, Counter>::default();
        registry.register("tasks", "Tasks run to the end, by result", tasks.clone());
        registry.register("tasks_running", "Tasks running now", running.clone());
        registry.register(
            "claim_to_start_seconds",
            "From claimWork answering to the task's first process starting",
            claim_to_start.clone(),
        );
        registry.register(
            "retries",
            "Calls to the queue retried after a transient failure, by operation",
            retries.clone(),
        );
        Metrics {
            registry,
            tasks,
            running,
            claim_to_start,
            retries,
        }
    }

    pub fn task_finished(&self, result: &str) {
        self.tasks
            .get_or_create(&ResultLabel {
                result: result.to_string(),
            })
            .inc();
    }

    pub fn retried(&self, operation: &str) {
        self.retries
            .get_or_create(&OperationLabel {
                operation: operation.to_string(),
            })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_text_format() {
        let m = Metrics::new();
        m.task_finished("completed");
        m.task_finished("completed");
        m.retried("claimWork");
        let text = m.render();
        assert!(
            text.contains("relyard_worker_tasks_total{result=\"completed\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("relyard_worker_retries_total{operation=\"claimWork\"} 1"),
            "{text}"
        );
    }
}
