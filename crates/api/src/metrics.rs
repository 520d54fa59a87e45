//! `/metrics` in the Prometheus text format: requests and their latency, appends and group
//! commits of the store, the read models' position and how far they lag behind the log.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Latency buckets, seconds.
const BUCKETS: [f64; 10] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5];

/// Counters of the HTTP layer.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: AtomicU64,
    errors: AtomicU64,
    latency_us_sum: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
}

/// What the store reports (the sled store's writer counters), if it does.
pub type StoreStats = Arc<dyn Fn() -> Option<(u64, u64, u64)> + Send + Sync>;

impl Metrics {
    pub fn observe(&self, seconds: f64, failed: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.latency_us_sum.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The exposition text.
    pub fn render(
        &self,
        store: Option<(u64, u64, u64)>,
        read_model_position: u64,
        log_position: u64,
    ) -> String {
        let mut out = String::new();
        let requests = self.requests.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP rollout_http_requests_total HTTP requests to /graphql.\n# TYPE rollout_http_requests_total counter");
        let _ = writeln!(out, "rollout_http_requests_total {requests}");
        let _ = writeln!(out, "# HELP rollout_http_request_errors_total Requests answered with an HTTP error status.\n# TYPE rollout_http_request_errors_total counter");
        let _ = writeln!(out, "rollout_http_request_errors_total {}", self.errors.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP rollout_http_request_seconds Latency of /graphql requests.\n# TYPE rollout_http_request_seconds histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "rollout_http_request_seconds_bucket{{le=\"{b}\"}} {}",
                self.buckets[i].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "rollout_http_request_seconds_bucket{{le=\"+Inf\"}} {requests}");
        let _ = writeln!(
            out,
            "rollout_http_request_seconds_sum {}",
            self.latency_us_sum.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "rollout_http_request_seconds_count {requests}");
        if let Some((groups, appends, events)) = store {
            let _ = writeln!(out, "# HELP rollout_store_appends_total Appends written.\n# TYPE rollout_store_appends_total counter");
            let _ = writeln!(out, "rollout_store_appends_total {appends}");
            let _ = writeln!(out, "# HELP rollout_store_events_total Events written.\n# TYPE rollout_store_events_total counter");
            let _ = writeln!(out, "rollout_store_events_total {events}");
            let _ = writeln!(out, "# HELP rollout_store_group_commits_total Durability barriers (group commits).\n# TYPE rollout_store_group_commits_total counter");
            let _ = writeln!(out, "rollout_store_group_commits_total {groups}");
        }
        let _ = writeln!(out, "# HELP rollout_log_position Last durable position of the log.\n# TYPE rollout_log_position gauge");
        let _ = writeln!(out, "rollout_log_position {log_position}");
        let _ = writeln!(out, "# HELP rollout_read_model_position Position the read models have folded.\n# TYPE rollout_read_model_position gauge");
        let _ = writeln!(out, "rollout_read_model_position {read_model_position}");
        let _ = writeln!(out, "# HELP rollout_read_model_lag_events Events the read models are behind the log.\n# TYPE rollout_read_model_lag_events gauge");
        let _ = writeln!(
            out,
            "rollout_read_model_lag_events {}",
            log_position.saturating_sub(read_model_position)
        );
        out
    }
}
