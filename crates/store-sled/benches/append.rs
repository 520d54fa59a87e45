//! Append and read throughput of the sled store, each beside a baseline measured in the same run.
//!
//! `cargo bench -p store-sled --bench append` (`BENCH_ONLY=serial|concurrent|read` runs one part; set `BENCH_EVENTS_READ` to change the size of the
//! read test, default 1,000,000; `BENCH_DIR` to put the data on another disk; `BENCH_CACHE_MB` to
//! size sled's cache, default the store's).
//! Results and their interpretation: BENCHMARKS.md.

use std::io::Write;

// The allocator the `rollout` binary uses (glibc's malloc triples the cost of reading the log:
// sled's large node allocations make it consolidate the small ones of decoded events).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::{Actor, ActorKind, EventStore, ExpectedVersion, Json, NewEvent};
use store_sled::{SledConfig, SledStore};
use uuid::Uuid;

/// The store's configuration: its default cache, or `BENCH_CACHE_MB`.
fn config(dir: std::path::PathBuf) -> SledConfig {
    let mut config = SledConfig::new(dir);
    if let Some(mb) = std::env::var("BENCH_CACHE_MB").ok().and_then(|v| v.parse::<u64>().ok()) {
        config.cache_bytes = mb << 20;
    }
    config
}

fn payload(n: u64) -> Json {
    Json::from_value(&serde_json::json!({
        "stepId": "fit_connect_zustellpunkt",
        "evidence": { "destinationId": "4f6bd8b0-6b5e-4c7a-9d1e-2f0c1a7e3b11", "note": "Zustellpunkt angelegt" },
        "comment": "bench",
        "n": n,
    }))
}

fn event(n: u64) -> NewEvent {
    let actor = Actor {
        id: "token:bench".into(),
        name: "Benchmark".into(),
        kind: ActorKind::Automation,
        person: None,
    };
    NewEvent::new("StepCompleted", 1, payload(n), actor, Uuid::now_v7())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir).expect("bench dir"),
        None => tempfile::tempdir().expect("bench dir"),
    }
}

/// 256-byte `write` + `fdatasync`, in a loop, on the same disk: the machine's durable-write limit.
fn raw_fdatasync(dir: &std::path::Path, duration: Duration) -> f64 {
    let mut file = std::fs::File::create(dir.join("raw")).expect("raw file");
    let block = [0x5au8; 256];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        file.write_all(&block).expect("write");
        file.sync_data().expect("fdatasync");
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The same records the store writes, with their index entries, as batches of `batch` events
/// in one atomic sled batch, then flush and fdatasync: what keeping the events in sled itself
/// (the store's first layout) could reach at best.
fn raw_sled(dir: &std::path::Path, batch: usize, events: u64) -> f64 {
    let db = sled::Config::new()
        .path(dir.join("raw-sled"))
        .cache_capacity(store_sled::CACHE_BYTES_DEFAULT)
        .mode(sled::Mode::HighThroughput)
        .flush_every_ms(None)
        .open()
        .expect("raw sled");
    let tree = db.open_tree("events").expect("tree");
    let file = std::fs::File::open(dir.join("raw-sled").join("db")).expect("db file");
    let mut head = store::Head::EMPTY;
    let mut written = 0u64;
    let start = Instant::now();
    while written < events {
        let mut b = sled::Batch::default();
        for _ in 0..batch {
            let e = event(written);
            let mut rec = store::RecordedEvent {
                position: head.position + 1,
                event_id: e.event_id,
                stream_id: format!("rollout-wohngeld:{}", written % 400),
                version: written / 400 + 1,
                event_type: e.event_type,
                schema_version: 1,
                recorded_at: store::Clock::now(&store::SystemClock),
                actor: e.actor,
                correlation_id: e.correlation_id,
                causation_id: None,
                data: e.data,
                prev_hash: head.hash,
                hash: store::EventHash::GENESIS,
            };
            rec.hash = store::event_hash(&rec);
            head = store::Head::after(&rec);
            let mut ekey = b"E".to_vec();
            ekey.extend_from_slice(&rec.position.to_be_bytes());
            b.insert(ekey, store::encode(&rec));
            let mut vkey = b"V".to_vec();
            vkey.extend_from_slice(rec.stream_id.as_bytes());
            vkey.push(0);
            vkey.extend_from_slice(&rec.version.to_be_bytes());
            b.insert(vkey, &rec.position.to_be_bytes()[..]);
            let mut skey = b"S".to_vec();
            skey.extend_from_slice(rec.stream_id.as_bytes());
            b.insert(skey, &rec.version.to_be_bytes()[..]);
            let mut ikey = b"I".to_vec();
            ikey.extend_from_slice(rec.event_id.as_bytes());
            b.insert(ikey, &rec.position.to_be_bytes()[..]);
            written += 1;
        }
        tree.apply_batch(b).expect("batch");
        db.flush().expect("flush");
        file.sync_data().expect("fdatasync");
    }
    written as f64 / start.elapsed().as_secs_f64()
}

async fn serial(store: &SledStore, duration: Duration) -> (f64, Duration) {
    let mut latencies = Vec::new();
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < duration {
        let t = Instant::now();
        store
            .append(&format!("rollout-serial:{}", n % 100), ExpectedVersion::Any, vec![event(n)])
            .await
            .expect("append");
        latencies.push(t.elapsed());
        n += 1;
    }
    latencies.sort();
    (n as f64 / start.elapsed().as_secs_f64(), percentile(&latencies, 0.5))
}

async fn concurrent(store: &SledStore, writers: u64, per_writer: u64) -> (f64, Duration, Duration) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_writer as usize);
                for i in 0..per_writer {
                    let t = Instant::now();
                    store
                        .append(&format!("rollout-w{w}:{}", i % 20), ExpectedVersion::Any, vec![event(i)])
                        .await
                        .expect("append");
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("writer"));
    }
    let rate = latencies.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort();
    (rate, percentile(&latencies, 0.5), percentile(&latencies, 0.99))
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        total += if meta.is_dir() { dir_bytes(&entry.path()) } else { meta.len() };
    }
    total
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo test --benches` lists targets; nothing to list.
        return;
    }
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let read_events: u64 =
        std::env::var("BENCH_EVENTS_READ").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = bench_dir();
    println!("data in {}", dir.path().display());

    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "serial" {
        println!("\n## serial durable appends (one writer, one event each)");
        let raw = raw_fdatasync(dir.path(), Duration::from_secs(3));
        let store = SledStore::open(config(dir.path().join("serial"))).expect("open");
        let (rate, p50) = rt.block_on(serial(&store, Duration::from_secs(3)));
        drop(store);
        println!("raw 256-byte write + fdatasync : {raw:>10.0} /s");
        println!("store append (1 event)         : {rate:>10.0} /s   p50 {p50:?}   ratio {:.2}", rate / raw);
    }
    if only.is_empty() || only == "concurrent" {
        println!("\n## 64 concurrent appenders, one event each (group commit)");
        let store = SledStore::open(config(dir.path().join("concurrent"))).expect("open");
        let (rate, p50, p99) = rt.block_on(concurrent(&store, 64, 3_000));
        let stats = store.writer_stats();
        drop(store);
        let group = (stats.events as f64 / stats.groups as f64).round().max(1.0) as usize;
        let baseline = raw_sled(dir.path(), group, stats.events);
        println!("raw sled, same batches ({group:>3} events) + fdatasync : {baseline:>10.0} events/s");
        println!(
        "store, 64 appenders                          : {rate:>10.0} events/s   p50 {p50:?}   p99 {p99:?}   ratio {:.2}",
        rate / baseline
    );
        println!("groups {} for {} events (mean group {group})", stats.groups, stats.events);
    }
    if !(only.is_empty() || only == "read") {
        return;
    }
    println!("\n## reading the whole log of {read_events} events");
    let store = Arc::new(SledStore::open(config(dir.path().join("read"))).expect("open"));
    rt.block_on(async {
        let mut n = 0;
        while n < read_events {
            let batch: Vec<_> = (n..(n + 1_000).min(read_events)).map(event).collect();
            n += batch.len() as u64;
            store
                .append(&format!("rollout-read:{}", n % 40_000), ExpectedVersion::Any, batch)
                .await
                .expect("fill");
        }
    });
    // A cold start: the store is reopened before it is read.
    drop(store);
    let store = Arc::new(SledStore::open(config(dir.path().join("read"))).expect("reopen"));
    rt.block_on(async {
        let start = Instant::now();
        let mut from = 1;
        let mut count = 0u64;
        let mut bytes = 0u64;
        loop {
            let page = store.read_all(from, 10_000).await.expect("read");
            let Some(last) = page.last() else { break };
            from = last.position + 1;
            count += page.len() as u64;
            bytes += page.iter().map(|e| e.data.len() as u64).sum::<u64>();
        }
        let elapsed = start.elapsed();
        println!(
            "read_all, pages of 10,000       : {:>10.0} events/s   ({count} events, {:.1} MB payload, {elapsed:?})",
            count as f64 / elapsed.as_secs_f64(),
            bytes as f64 / 1e6
        );
    });
    drop(store);
    // The floor: reading the segment files and walking their frames, without decoding.
    let start = Instant::now();
    let mut count = 0u64;
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("read").join("segments"))
        .expect("segments")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    files.sort();
    for path in files {
        let bytes = std::fs::read(&path).expect("segment");
        let mut at = 0;
        while at + 4 <= bytes.len() {
            at += 4 + u32::from_be_bytes(bytes[at..at + 4].try_into().expect("length")) as usize;
            count += 1;
        }
    }
    let elapsed = start.elapsed();
    println!(
        "raw segment read, no decoding   : {:>10.0} events/s   ({count} events)",
        count as f64 / elapsed.as_secs_f64()
    );
    let on_disk = dir_bytes(&dir.path().join("read"));
    println!(
        "bytes on disk per event          : {:>10.0}   ({:.1} MB for {read_events} events)",
        on_disk as f64 / read_events as f64,
        on_disk as f64 / 1e6
    );
}
