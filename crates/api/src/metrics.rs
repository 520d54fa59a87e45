//! `/metrics` in the Prometheus text format: requests and their latency, GraphQL errors by code
//! and operation, mutations by name, durable appends and their latency, group commits, whether
//! the store can write, open subscriptions, the read models' position and lag, the process's
//! memory and CPU time, and the build.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Latency buckets, seconds.
const BUCKETS: [f64; 10] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5];

/// A latency histogram with [`BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    count: AtomicU64,
    micros_sum: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
}

impl Histogram {
    pub fn observe(&self, seconds: f64) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.micros_sum.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {}", self.buckets[i].load(Ordering::Relaxed));
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.micros_sum.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Counters of the API (one per server).
#[derive(Debug, Default)]
pub struct Metrics {
    requests: AtomicU64,
    errors: AtomicU64,
    latency: Histogram,
    /// Durable appends (measured around the store's `append`).
    pub appends: Arc<Histogram>,
    graphql_errors: Mutex<BTreeMap<(String, String), u64>>,
    mutations: Mutex<BTreeMap<String, u64>>,
    /// Writes refused by a rate or volume limit, by the limit's name.
    write_refusals: Mutex<BTreeMap<&'static str, u64>>,
}

/// What the store reports (the sled store's writer counters), if it does.
pub type StoreStats = Arc<dyn Fn() -> Option<(u64, u64, u64)> + Send + Sync>;

/// What `/metrics` shows besides the counters kept here.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// The sled writer's (groups, appends, events), if the store reports them.
    pub store: Option<(u64, u64, u64)>,
    pub writable: bool,
    pub read_model_position: u64,
    pub log_position: u64,
    pub subscriptions_open: u64,
    /// The engine's rollout cache.
    pub cache: engine::CacheStats,
    /// The parsed documents kept.
    pub documents: crate::documents::DocumentStats,
    /// How far the hash chain was recomputed since the start, and whether it broke.
    pub verified_position: u64,
    pub log_broken: bool,
}

impl Metrics {
    pub fn observe(&self, seconds: f64, failed: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.latency.observe(seconds);
    }

    /// One GraphQL error with its `extensions.code`; `operation` is the request's first root
    /// field (a field of the schema) or `invalid`.
    pub fn graphql_error(&self, code: &str, operation: &str) {
        let mut map = self.graphql_errors.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((code.to_owned(), operation.to_owned())).or_default() += 1;
    }

    /// One call of the mutation `name`.
    /// A write refused by the limit `name` (`crate::rates`).
    pub fn write_refused(&self, name: &'static str) {
        *self.write_refusals.lock().unwrap_or_else(|p| p.into_inner()).entry(name).or_default() += 1;
    }

    pub fn mutation(&self, name: &str) {
        let mut map = self.mutations.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(name) {
            Some(n) => *n += 1,
            None => {
                map.insert(name.to_owned(), 1);
            }
        }
    }

    // Long: the list of every metric, one entry each, in the order `/metrics` shows them.
    /// The exposition text.
    pub fn render(&self, g: Gauges) -> String {
        let mut out = String::new();
        let requests = self.requests.load(Ordering::Relaxed);
        let _ =
            writeln!(out, "# HELP rollout_build_info The running build.\n# TYPE rollout_build_info gauge");
        let _ = writeln!(out, "rollout_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        let _ = writeln!(out, "# HELP rollout_http_requests_total HTTP requests to /graphql.\n# TYPE rollout_http_requests_total counter");
        let _ = writeln!(out, "rollout_http_requests_total {requests}");
        let _ = writeln!(out, "# HELP rollout_http_request_errors_total Requests answered with an HTTP error status.\n# TYPE rollout_http_request_errors_total counter");
        let _ = writeln!(out, "rollout_http_request_errors_total {}", self.errors.load(Ordering::Relaxed));
        self.latency.render(&mut out, "rollout_http_request_seconds", "Latency of /graphql requests.");
        let _ = writeln!(out, "# HELP rollout_graphql_errors_total GraphQL errors by extensions.code and the operation's first root field.\n# TYPE rollout_graphql_errors_total counter");
        for ((code, operation), n) in self.graphql_errors.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "rollout_graphql_errors_total{{code=\"{code}\",operation=\"{operation}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP rollout_mutations_total Mutations called, by name (refused ones too).\n# TYPE rollout_mutations_total counter");
        for (name, n) in self.mutations.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "rollout_mutations_total{{name=\"{name}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP rollout_write_refusals_total Writes (and folds of the log) refused by a rate or volume limit, by limit.\n# TYPE rollout_write_refusals_total counter");
        for limit in [
            "WRITES_PER_TOKEN_PER_SECOND",
            "WRITES_PER_TOKEN_PER_DAY",
            "WRITES_PER_AUTHORITY_PER_SECOND",
            "LOG_FOLDS_PER_TOKEN",
        ] {
            let n = self
                .write_refusals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(limit)
                .copied()
                .unwrap_or(0);
            let _ = writeln!(out, "rollout_write_refusals_total{{limit=\"{limit}\"}} {n}");
        }
        self.appends.render(
            &mut out,
            "rollout_store_append_seconds",
            "Latency of durable appends to the store.",
        );
        let _ = writeln!(out, "# HELP rollout_log_verified_position The last log position whose hash chain this server recomputed since it started.\n# TYPE rollout_log_verified_position gauge\nrollout_log_verified_position {}", g.verified_position);
        let _ = writeln!(out, "# HELP rollout_log_broken Whether the log's hash chain is broken (1: see /readyz, run rollout verify).\n# TYPE rollout_log_broken gauge\nrollout_log_broken {}", u8::from(g.log_broken));
        let _ = writeln!(out, "# HELP rollout_store_writable Whether the store can write now (0: writes are refused, see /readyz).\n# TYPE rollout_store_writable gauge");
        let _ = writeln!(out, "rollout_store_writable {}", u8::from(g.writable));
        if let Some((groups, appends, events)) = g.store {
            let _ = writeln!(out, "# HELP rollout_store_appends_total Appends written.\n# TYPE rollout_store_appends_total counter");
            let _ = writeln!(out, "rollout_store_appends_total {appends}");
            let _ = writeln!(out, "# HELP rollout_store_events_total Events written.\n# TYPE rollout_store_events_total counter");
            let _ = writeln!(out, "rollout_store_events_total {events}");
            let _ = writeln!(out, "# HELP rollout_store_group_commits_total Durability barriers (group commits).\n# TYPE rollout_store_group_commits_total counter");
            let _ = writeln!(out, "rollout_store_group_commits_total {groups}");
        }
        let c = g.cache;
        let _ = writeln!(out, "# HELP rollout_engine_cache_entries Rollouts whose full state the engine keeps (commands read only the events an entry lacks).\n# TYPE rollout_engine_cache_entries gauge");
        let _ = writeln!(out, "rollout_engine_cache_entries {}", c.entries);
        let _ = writeln!(out, "# HELP rollout_engine_cache_capacity Rollouts the engine keeps at most.\n# TYPE rollout_engine_cache_capacity gauge");
        let _ = writeln!(out, "rollout_engine_cache_capacity {}", c.capacity);
        let _ = writeln!(out, "# HELP rollout_engine_cache_loads_total Rollout loads for commands: hit (the entry was current), advanced (brought forward), miss (folded).\n# TYPE rollout_engine_cache_loads_total counter");
        for (outcome, n) in [("hit", c.hits), ("advanced", c.advanced), ("miss", c.misses)] {
            let _ = writeln!(out, "rollout_engine_cache_loads_total{{outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP rollout_engine_cache_events_folded_total Events read to bring entries forward or to fold rollouts.\n# TYPE rollout_engine_cache_events_folded_total counter");
        let _ = writeln!(out, "rollout_engine_cache_events_folded_total {}", c.events_folded);
        let d = g.documents;
        let _ = writeln!(out, "# HELP rollout_graphql_documents_cached GraphQL documents kept parsed, by their text.\n# TYPE rollout_graphql_documents_cached gauge");
        let _ = writeln!(out, "rollout_graphql_documents_cached {}", d.entries);
        let _ = writeln!(out, "# HELP rollout_graphql_document_parses_total Documents of requests: hit (kept parsed), miss (parsed now).\n# TYPE rollout_graphql_document_parses_total counter");
        for (outcome, n) in [("hit", d.hits), ("miss", d.misses)] {
            let _ = writeln!(out, "rollout_graphql_document_parses_total{{outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP rollout_subscriptions_open Open GraphQL subscriptions.\n# TYPE rollout_subscriptions_open gauge");
        let _ = writeln!(out, "rollout_subscriptions_open {}", g.subscriptions_open);
        let _ = writeln!(out, "# HELP rollout_log_position Last durable position of the log.\n# TYPE rollout_log_position gauge");
        let _ = writeln!(out, "rollout_log_position {}", g.log_position);
        let _ = writeln!(out, "# HELP rollout_read_model_position Position the read models have folded.\n# TYPE rollout_read_model_position gauge");
        let _ = writeln!(out, "rollout_read_model_position {}", g.read_model_position);
        let _ = writeln!(out, "# HELP rollout_read_model_lag_events Events the read models are behind the log.\n# TYPE rollout_read_model_lag_events gauge");
        let _ = writeln!(
            out,
            "rollout_read_model_lag_events {}",
            g.log_position.saturating_sub(g.read_model_position)
        );
        if let Some((rss, cpu)) = process() {
            let _ = writeln!(out, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge");
            let _ = writeln!(out, "process_resident_memory_bytes {rss}");
            let _ = writeln!(out, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter");
            let _ = writeln!(out, "process_cpu_seconds_total {cpu}");
        }
        out
    }
}

/// Resident bytes and CPU seconds of this process, from `/proc/self/stat` (Linux).
fn process() -> Option<(u64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, rss field 24 (man 5 proc); `rest`
    // begins with field 3.
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    let (utime, stime, rss_pages) = (ticks(14)?, ticks(15)?, ticks(24)?);
    let ticks_per_second = rustix::param::clock_ticks_per_second().max(1) as f64;
    let page_bytes = rustix::param::page_size() as u64;
    Some((rss_pages * page_bytes, (utime + stime) as f64 / ticks_per_second))
}
