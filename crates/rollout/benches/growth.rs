//! The growth curve: how the real server behaves as the log grows, on the embedded store and on
//! PostgreSQL. Run by hand (not in CI; 10^7 events take the better part of an hour):
//!
//! ```text
//! BENCH_SIZES=100000,1000000,10000000 BENCH_STORES=sled,postgres cargo bench -p rollout --bench growth
//! ```
//!
//! For each size it generates a realistic log through the store API (rollouts of
//! `efa-onboarding` advanced by the domain's own `decide`: 40 services times one administration
//! per thousand events, so 10^7 events are 400,000 rollouts, every German municipal
//! administration times 40 services), then starts `rollout serve` on it as a process of its own
//! and measures from outside: the cold start (no checkpoint: the read models are folded from the
//! whole log) until it listens, resident memory then and at its peak, serial `rollout(id)`,
//! `progress` and `addComment` (durable, each on another rollout) latencies over HTTP,
//! the checkpoint written at SIGTERM, and the warm start from it. Bytes on disk per event: the
//! data directory's allocated blocks, or the PostgreSQL schema's relations. The first size is the
//! baseline every later row is compared with ("as at 10^5").
//!
//! `BENCH_BASELINE_BIN=<another build of rollout>` (an earlier commit's) adds its cold and warm
//! start, checkpoint and memory on the same generated store, in the same run.
//! `BENCH_DIR` (default: a directory under /tmp) keeps the generated stores; PostgreSQL at
//! `ROLLOUT_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), in schemas
//! `efa_growth_<size>` that the bench drops and creates.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../../api/benches/support/client.rs"]
mod client;
#[path = "../../projections/benches/support/generate.rs"]
mod generate;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog::CatalogEvent;
use client::{gql, pct, Client};
use generate::{authority, new_event, register, rollout_events, service};
use store::{EventStore, ExpectedVersion, NewEvent};

const SERVICES: usize = 40;
/// Administrations per Landkreis.
const PER_LANDKREIS: usize = 25;
const WRITERS: usize = 32;
/// Requests per measured query or command.
const SAMPLES: usize = 1_000;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Sled,
    Postgres,
}

/// Where a generated log lives, and how a server is started on it.
struct Place {
    kind: Kind,
    dir: PathBuf,
    url: Option<String>,
    schema: String,
}

impl Place {
    fn server_args(&self) -> Vec<String> {
        match self.kind {
            Kind::Sled => vec!["--data-dir".into(), self.dir.display().to_string()],
            // No data directory: the checkpoint lives in the database.
            Kind::Postgres => vec!["--store".into(), self.url.clone().expect("url")],
        }
    }

    async fn open(&self) -> Arc<dyn EventStore> {
        match self.kind {
            Kind::Sled => Arc::new(
                store_sled::SledStore::open(store_sled::SledConfig::new(&self.dir)).expect("open sled"),
            ),
            Kind::Postgres => Arc::new(
                store_postgres::PgStore::open(store_postgres::PgConfig::new(self.url.clone().expect("url")))
                    .await
                    .expect("open PostgreSQL"),
            ),
        }
    }

    /// Bytes the store takes on disk: allocated blocks of the data directory, or every
    /// relation (with its indexes and TOAST) of the schema.
    fn bytes_on_disk(&self) -> u64 {
        match self.kind {
            Kind::Sled => allocated(&self.dir),
            Kind::Postgres => psql(&format!(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{}' AND c.relkind = 'r'",
                self.schema
            ))
            .parse()
            .expect("size"),
        }
    }

    /// The checkpoint's size, as stored; `json`: the JSON checkpoint of builds before schema 4
    /// (the baseline build's `readmodel.json` or blob `readmodel-v3`).
    fn checkpoint_bytes(&self, json: bool) -> u64 {
        let (file, blob) = match json {
            true => ("readmodel.json".to_owned(), "readmodel-v3".to_owned()),
            false => ("readmodel.checkpoint".to_owned(), projections::checkpoint::blob_name()),
        };
        match self.kind {
            Kind::Sled => std::fs::metadata(self.dir.join(file)).map(|m| m.len()).unwrap_or(0),
            Kind::Postgres => psql(&format!(
                "SELECT coalesce(sum(length(bytes)), 0) FROM {}.efa_blobs WHERE name = '{blob}'",
                self.schema
            ))
            .parse()
            .unwrap_or(0),
        }
    }
}

fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| allocated(&e.path())).sum())
            .unwrap_or(0)
    } else {
        meta.blocks() * 512
    }
}

fn database_url() -> String {
    std::env::var("ROLLOUT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// One statement through `psql` (the bench needs no client library of its own); its output.
fn psql(sql: &str) -> String {
    let out = Command::new("psql")
        .args([&database_url(), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql");
    assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The rollout ids of a size: administration `a` (of `administrations`) times service `s`.
fn ars(a: usize, landkreise: usize) -> String {
    let (lk, n) = (1 + a % landkreise, a / landkreise);
    format!("12{lk:03}{:04}{:03}", 1 + n / 1000, n % 1000)
}

/// Generates about `events` events: the catalogue, then rollouts appended by 32 writers.
async fn generate(store: &Arc<dyn EventStore>, events: u64) -> (Vec<String>, u64) {
    let registry = Arc::new(engine::definitions::bundled().expect("bundled"));
    let administrations = (events / 1_000).max(PER_LANDKREIS as u64) as usize;
    let landkreise = administrations.div_ceil(PER_LANDKREIS);
    let mut catalogue: Vec<CatalogEvent> = (1..=landkreise)
        .map(|lk| {
            CatalogEvent::AuthorityRegistered(authority(
                format!("12{lk:03}0000000"),
                format!("Landkreis {lk}"),
                None,
            ))
        })
        .collect();
    for a in 0..administrations {
        let lk = 1 + a % landkreise;
        catalogue.push(CatalogEvent::AuthorityRegistered(authority(
            ars(a, landkreise),
            format!("Gemeinde {a}"),
            Some(format!("12{lk:03}0000000")),
        )));
    }
    for s in 0..SERVICES {
        catalogue.push(CatalogEvent::ServiceRegistered(service(format!("dienst_{s}"), s % 3 == 0)));
    }
    register(&**store, &catalogue).await;
    let total = administrations * SERVICES;
    let started = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, registry) = (store.clone(), registry.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                for r in (w..total).step_by(WRITERS) {
                    let (s, a) = (r % SERVICES, r / SERVICES);
                    let ars = ars(a, landkreise);
                    let progress = (r * 7919) % 40;
                    let new: Vec<NewEvent> =
                        rollout_events(&registry, &format!("dienst_{s}"), &ars, progress, r as u64)
                            .iter()
                            .map(|(e, actor)| new_event(e, actor))
                            .collect();
                    n += new.len() as u64;
                    store
                        .append(&format!("rollout-dienst_{s}:{ars}"), ExpectedVersion::NoStream, new)
                        .await
                        .expect("append");
                    if w == 0 && (r / WRITERS).is_multiple_of((total / WRITERS / 10).max(1)) && r > 0 {
                        eprintln!(
                            "    … {:.0}% after {:.0?}",
                            100.0 * r as f64 / total as f64,
                            started.elapsed()
                        );
                    }
                }
                n
            })
        })
        .collect();
    let mut n = catalogue.len() as u64;
    for t in tasks {
        n += t.await.expect("writer");
    }
    let ids =
        (0..total).map(|r| format!("dienst_{}:{}", r % SERVICES, ars(r / SERVICES, landkreise))).collect();
    (ids, n)
}

/// A running `rollout serve`, and how long it took to listen.
struct Server {
    child: Child,
    address: String,
    token: String,
    started_in: Duration,
}

fn rss_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// Starts the server on `place` and waits until it listens (read models ready). The admin
/// token: from the data directory's file, or (PostgreSQL, no directory) the first start's
/// stdout; a later start reuses `token`.
fn start(binary: &str, place: &Place, token: Option<&str>, log: &Path) -> Server {
    let t = Instant::now();
    let mut child = Command::new(binary)
        .arg("serve")
        .args(place.server_args())
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log"))
        .spawn()
        .expect("spawn rollout serve");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = None;
    let address = loop {
        let Some(Ok(line)) = lines.next() else {
            panic!("the server ended before listening; see {}", log.display())
        };
        if line.starts_with("admin token (first start") {
            printed = lines.next().and_then(Result::ok);
        }
        if let Some(address) = line.strip_prefix("listening on http://") {
            break address.to_owned();
        }
    };
    let started_in = t.elapsed();
    // The rest of stdout is drained, so the server never blocks on it.
    std::thread::spawn(move || lines.for_each(drop));
    let token = match (token, printed) {
        (Some(t), _) => t.to_owned(),
        (None, Some(p)) => p,
        (None, None) => std::fs::read_to_string(place.dir.join("admin.token")).expect("admin.token"),
    };
    Server { child, address, token: token.trim().to_owned(), started_in }
}

/// SIGTERM (the server writes its checkpoint), then waits: how long the stop took.
fn stop(server: &mut Server) -> Duration {
    let t = Instant::now();
    let pid = server.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    let status = server.child.wait().expect("wait");
    assert!(status.success(), "the server stopped with {status}");
    t.elapsed()
}

/// `SAMPLES` serial requests made by `body(i)`: p50 and p99.
async fn serial(
    server: &Server,
    body: impl Fn(usize) -> (String, serde_json::Value),
) -> (Duration, Duration) {
    let mut client = Client::connect(&server.address).await;
    // A few unmeasured requests first (the connection's and the server's first use).
    for i in 0..10 {
        let (query, variables) = body(SAMPLES * 3 + i);
        gql(&mut client, &server.address, &server.token, &query, variables).await;
    }
    let mut times = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let (query, variables) = body(i);
        let t = Instant::now();
        let answer = gql(&mut client, &server.address, &server.token, &query, variables).await;
        times.push(t.elapsed());
        assert!(answer.get("errors").is_none(), "{query}: {answer}");
    }
    times.sort();
    (pct(&times, 0.5), pct(&times, 0.99))
}

/// What one size on one store measured.
struct Row {
    events: u64,
    rollouts: usize,
    generated: Duration,
    bytes_per_event: f64,
    cold: Duration,
    cold_rss: f64,
    rollout_query: (Duration, Duration),
    progress: (Duration, Duration),
    command: (Duration, Duration),
    steady_rss: f64,
    peak_rss: f64,
    checkpoint_mb: f64,
    stop: Duration,
    warm: Duration,
    warm_rss: f64,
    warm_peak: f64,
    /// The baseline build's (cold start, its RSS, checkpoint MB, warm start, its RSS).
    baseline: Option<(Duration, f64, f64, Duration, f64)>,
}

/// The baseline build (one that writes JSON checkpoints): cold start, resident memory, stop
/// (writing its checkpoint), the checkpoint's size, warm start, memory.
fn restarts(binary: &str, place: &Place, token: &str, log: &Path) -> (Duration, f64, f64, Duration, f64) {
    let mut cold = start(binary, place, Some(token), log);
    let cold_rss = rss_mb(cold.child.id(), "VmRSS:");
    stop(&mut cold);
    let checkpoint_mb = place.checkpoint_bytes(true) as f64 / 1e6;
    let mut warm = start(binary, place, Some(token), log);
    let warm_rss = rss_mb(warm.child.id(), "VmRSS:");
    stop(&mut warm);
    (cold.started_in, cold_rss, checkpoint_mb, warm.started_in, warm_rss)
}

async fn measure(kind: Kind, size: u64, base: &Path) -> Row {
    let schema = format!("efa_growth_{size}");
    let dir = base.join(format!("{kind:?}-{size}").to_lowercase());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let url = (kind == Kind::Postgres).then(|| {
        psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"));
        format!("{}?options=-csearch_path%3D{schema}", database_url())
    });
    let place = Place { kind, dir: dir.clone(), url, schema };
    let t = Instant::now();
    let (ids, events) = {
        let store = place.open().await;
        generate(&store, size).await
    };
    let generated = t.elapsed();
    if kind == Kind::Postgres {
        // Sizes as PostgreSQL reports them after its statistics and visibility maps are current.
        psql("VACUUM ANALYZE");
    }
    let bytes_per_event = place.bytes_on_disk() as f64 / events as f64;
    let log = dir.with_extension("log");
    eprintln!(
        "  {kind:?}: {events} events generated in {generated:.1?}; the server's log: {}",
        log.display()
    );

    let binary = env!("CARGO_BIN_EXE_rollout");
    let mut server = start(binary, &place, None, &log);
    let pid = server.child.id();
    let cold = server.started_in;
    let cold_rss = rss_mb(pid, "VmRSS:");
    let n = ids.len();
    // Rollouts spread over the whole log, in an order no cache has seen.
    let pick = |i: usize| &ids[(i * 7_368_787 + 13) % n];
    let rollout_query = serial(&server, |i| {
        (
            "query($id: ID!) { rollout(id: $id) { id version status phase } }".into(),
            serde_json::json!({ "id": pick(i) }),
        )
    })
    .await;
    let progress = serial(&server, |_| {
        ("{ progress(groupBy: LANDKREIS) { key rollouts percentDone } }".into(), serde_json::json!({}))
    })
    .await;
    let command = serial(&server, |i| {
        (
            "mutation($i: RolloutCommandInput!) { addComment(input: $i) { rollout { version } } }".into(),
            serde_json::json!({ "i": { "rolloutId": pick(i + SAMPLES), "reason": format!("Notiz {i}") } }),
        )
    })
    .await;
    let steady_rss = rss_mb(pid, "VmRSS:");
    let peak_rss = rss_mb(pid, "VmHWM:");
    let token = server.token.clone();
    let stopped = stop(&mut server);
    let checkpoint_mb = place.checkpoint_bytes(false) as f64 / 1e6;

    let mut warm = start(binary, &place, Some(&token), &log);
    let warm_pid = warm.child.id();
    let (warm_rss, warm_peak) = (rss_mb(warm_pid, "VmRSS:"), rss_mb(warm_pid, "VmHWM:"));
    let warm_in = warm.started_in;
    stop(&mut warm);
    // The baseline build on the same store: it finds no checkpoint of its own (another file or
    // blob name), so its first start is cold too.
    let baseline = std::env::var("BENCH_BASELINE_BIN").ok().map(|b| restarts(&b, &place, &token, &log));
    Row {
        events,
        rollouts: n,
        generated,
        bytes_per_event,
        cold,
        cold_rss,
        rollout_query,
        progress,
        command,
        steady_rss,
        peak_rss,
        checkpoint_mb,
        stop: stopped,
        warm: warm_in,
        warm_rss,
        warm_peak,
        baseline,
    }
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64().max(1e-9))
}

fn print(kind: Kind, rows: &[Row]) {
    let Some(base) = rows.first() else { return };
    println!("\n## {kind:?} (ratios: to the first size, {} events)", base.events);
    println!(
        "| events | rollouts | generated | bytes on disk / event | cold start | RSS after cold start | rollout(id) p50 / p99 | progress p50 / p99 | addComment p50 / p99 | RSS steady / peak | checkpoint | stop (writes it) | warm start | RSS after warm start / peak |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        println!(
            "| {} | {} | {:.0?} ({:.0}/s) | {:.0} | {:.2?} | {:.0} MB | {:.2?} / {:.2?} ({}) | {:.2?} / {:.2?} ({}) | {:.2?} / {:.2?} ({}) | {:.0} / {:.0} MB | {:.1} MB | {:.2?} | {:.2?} | {:.0} / {:.0} MB |",
            r.events,
            r.rollouts,
            r.generated,
            r.events as f64 / r.generated.as_secs_f64(),
            r.bytes_per_event,
            r.cold,
            r.cold_rss,
            r.rollout_query.0,
            r.rollout_query.1,
            ratio(r.rollout_query.1, base.rollout_query.1),
            r.progress.0,
            r.progress.1,
            ratio(r.progress.1, base.progress.1),
            r.command.0,
            r.command.1,
            ratio(r.command.1, base.command.1),
            r.steady_rss,
            r.peak_rss,
            r.checkpoint_mb,
            r.stop,
            r.warm,
            r.warm_rss,
            r.warm_peak,
        );
        if let Some((cold, cold_rss, checkpoint, warm, warm_rss)) = r.baseline {
            println!(
                "| {} | baseline build, same store | | | {cold:.2?} | {cold_rss:.0} MB | | | | | {checkpoint:.1} MB | | {warm:.2?} | {warm_rss:.0} MB |",
                r.events
            );
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sizes: Vec<u64> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("BENCH_SIZES: numbers"))
        .collect();
    let kinds: Vec<Kind> = std::env::var("BENCH_STORES")
        .unwrap_or_else(|_| "sled,postgres".into())
        .split(',')
        .map(|s| match s.trim() {
            "sled" => Kind::Sled,
            "postgres" => Kind::Postgres,
            other => panic!("BENCH_STORES: `{other}` is neither sled nor postgres"),
        })
        .collect();
    let base = std::env::var_os("BENCH_DIR").map(PathBuf::from).unwrap_or_else(|| "/tmp/efa-growth".into());
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    for kind in kinds {
        let mut rows = Vec::new();
        for &size in &sizes {
            eprintln!("{kind:?}, {size} events:");
            rows.push(rt.block_on(measure(kind, size, &base)));
            print(kind, &rows);
        }
    }
}
