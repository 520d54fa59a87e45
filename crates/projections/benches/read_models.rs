//! Read models at scale: a generated, realistic log of 40,000 rollouts and about 1,000,000
//! events in a sled store; full rebuild beside a plain read of the same log, progress by
//! Landkreis, one page of an actor's audit history, resident memory.
//!
//! `cargo bench -p projections --bench read_models` (`BENCH_ROLLOUTS` changes the size).
//! Results: BENCHMARKS.md.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod support {
    pub mod generate;
}

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog::CatalogEvent;
use projections::{fold, AuditFilter, Cut, GroupBy};
use store::{Actor, ActorKind, EventStore, ExpectedVersion, NewEvent};
use store_sled::{SledConfig, SledStore};
use support::generate::{authority, new_event, register, rollout_events, service};
use workflow::RolloutEvent;

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The whole log, in pages of 10,000, to `visit` (the plain read).
async fn each_page(store: &Arc<dyn EventStore>, mut visit: impl FnMut(Vec<store::RecordedEvent>)) {
    let mut from = 1;
    loop {
        let page = store.read_all(from, 10_000).await.expect("read");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        visit(page);
    }
}

/// Pages (50 events) of an actor's audit history, each loaded from the store: p50 and p99.
async fn audit_pages(
    model: &projections::ReadModel,
    store: &Arc<dyn EventStore>,
) -> (Duration, Duration, Duration, Duration) {
    let mut index_times = Vec::new();
    let mut page_times = Vec::new();
    for i in 0..1_000u64 {
        let filter = AuditFilter { actor: Some(format!("person:{}", i % 100)), ..Default::default() };
        let cursor = (i * 104_729) % model.position;
        let t = Instant::now();
        let positions = model.audit(&filter, cursor, 50);
        index_times.push(t.elapsed());
        let mut events = BTreeMap::new();
        for p in positions {
            if let Some(e) = store.read_event(p).await.expect("read") {
                events.insert(p, e);
            }
        }
        std::hint::black_box(events.len());
        page_times.push(t.elapsed());
    }
    index_times.sort();
    page_times.sort();
    (pct(&index_times, 0.5), pct(&index_times, 0.99), pct(&page_times, 0.5), pct(&page_times, 0.99))
}

/// Run in a child process (`BENCH_LOAD_ONLY=<dir>`): opens the store as `rollout serve` does
/// (sled with the server's default cache, or `BENCH_CACHE_MB`) and folds the read models — or,
/// with `BENCH_CHECKPOINT=<file>`, resumes from that checkpoint as a restarting server does —
/// printing the time and the resident memory: the figures of a starting server, not of the
/// process that generated the log. Then pages of audit history, loading their events from the
/// store (what the sled cache is for). With `BENCH_PLAIN_READ=1` it only reads the log (the
/// baseline).
fn load_only(dir: &str) {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let registry = Arc::new(engine::definitions::bundled().expect("bundled"));
    let mut config = SledConfig::new(dir);
    if let Some(mb) = std::env::var("BENCH_CACHE_MB").ok().and_then(|v| v.parse::<u64>().ok()) {
        config.cache_bytes = mb << 20;
    }
    let cache = format!("sled cache {} MiB", config.cache_bytes >> 20);
    let store: Arc<dyn EventStore> = Arc::new(SledStore::open(config).expect("open"));
    let opened = rss_mb();
    let start = Instant::now();
    if std::env::var_os("BENCH_PLAIN_READ").is_some() {
        let mut n = 0u64;
        rt.block_on(each_page(&store, |page| n += page.len() as u64));
        let took = start.elapsed();
        println!(
            "fresh process, plain read of the log ({cache}): {:>8.0} events/s ({took:?}); {opened:.0} MB after opening the store, {:.0} MB after reading",
            n as f64 / took.as_secs_f64(),
            rss_mb()
        );
        return;
    }
    let checkpoint = std::env::var_os("BENCH_CHECKPOINT").map(std::path::PathBuf::from);
    let model = if let Some(path) = checkpoint {
        let (projector, how) = rt
            .block_on(projections::Projector::start(store.clone(), registry.clone(), Some(path.into())))
            .expect("start");
        let took = start.elapsed();
        println!(
            "fresh process, resumed from the checkpoint ({cache}): {took:?} ({how:?}); {:.0} MB resident after loading",
            rss_mb()
        );
        projector.read(|m| m.clone())
    } else {
        let model = rt.block_on(fold(&store, &*registry, Cut::Everything, |_| {})).expect("fold");
        let took = start.elapsed();
        let loaded = rss_mb();
        // The allocator returns freed pages to the system after a delay.
        std::thread::sleep(Duration::from_secs(1));
        println!(
            "fresh process, rebuild (read + fold) ({cache}): {:>8.0} events/s ({took:?}); {loaded:.0} MB resident after loading {} rollouts, {:.0} MB a second later",
            model.position as f64 / took.as_secs_f64(),
            model.rollout_count(),
            rss_mb(),
        );
        model
    };
    let (_, _, p50, p99) = rt.block_on(audit_pages(&model, &store));
    println!(
        "    then audit pages with their 50 events loaded: p50 {p50:?} p99 {p99:?}; {:.0} MB resident",
        rss_mb()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Ok(dir) = std::env::var("BENCH_LOAD_ONLY") {
        return load_only(&dir);
    }
    let rollouts: usize = std::env::var("BENCH_ROLLOUTS").ok().and_then(|v| v.parse().ok()).unwrap_or(40_000);
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    // `BENCH_DIR` keeps the generated store there (it must not exist yet), e.g. to load it again
    // with `BENCH_LOAD_ONLY=<dir>`.
    let kept = std::env::var_os("BENCH_DIR").map(std::path::PathBuf::from);
    let dir = tempfile::tempdir().expect("dir");
    let dir_path = kept.clone().unwrap_or_else(|| dir.path().to_owned());
    let registry = Arc::new(engine::definitions::bundled().expect("bundled"));
    let store = Arc::new(SledStore::open(SledConfig::new(&dir_path)).expect("open"));

    // A catalogue at the scale of several states: 14 Landkreise, 2,000 municipal authorities,
    // 20 municipal services → 40,000 rollouts.
    let services = 20usize;
    let per_service = rollouts.div_ceil(services);
    let started = Instant::now();
    rt.block_on(async {
        let mut catalogue = Vec::new();
        for lk in 0..14u64 {
            catalogue.push(CatalogEvent::AuthorityRegistered(authority(
                format!("12{:03}0000000", 60 + lk),
                format!("Landkreis {lk}"),
                None,
            )));
        }
        for i in 0..per_service as u64 {
            let lk = 60 + i % 14;
            catalogue.push(CatalogEvent::AuthorityRegistered(authority(
                format!("12{lk:03}{:04}{:03}", 1 + i / 500, 1 + i % 500),
                format!("Gemeinde {i}"),
                Some(format!("12{lk:03}0000000")),
            )));
        }
        for s in 0..services {
            catalogue.push(CatalogEvent::ServiceRegistered(service(format!("dienst_{s}"), s % 3 == 0)));
        }
        register(&*store, &catalogue).await;
        // Rollouts, appended by 32 concurrent writers, one append per rollout.
        let total = services * per_service;
        let tasks: Vec<_> = (0..32usize)
            .map(|w| {
                let (store, registry) = (store.clone(), registry.clone());
                tokio::spawn(async move {
                    let mut n = 0u64;
                    for r in (w..total).step_by(32) {
                        let (s, i) = (r / per_service, (r % per_service) as u64);
                        let ars = format!("12{:03}{:04}{:03}", 60 + i % 14, 1 + i / 500, 1 + i % 500);
                        let progress = (r * 7919) % 40;
                        let events =
                            rollout_events(&registry, &format!("dienst_{s}"), &ars, progress, r as u64);
                        let new: Vec<NewEvent> = events.iter().map(|(e, a)| new_event(e, a)).collect();
                        n += new.len() as u64;
                        store
                            .append(&format!("rollout-dienst_{s}:{ars}"), ExpectedVersion::NoStream, new)
                            .await
                            .expect("append");
                    }
                    n
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("writer");
        }
    });
    let head = rt.block_on(store.head()).expect("head").position;
    println!("generated {rollouts} rollouts, {head} events in {:?}", started.elapsed());
    drop(store);
    let store: Arc<dyn EventStore> = Arc::new(SledStore::open(SledConfig::new(&dir_path)).expect("reopen"));

    println!("\n## full rebuild of the read models vs. a plain read of the same log");
    let (read_rate, read_time) = rt.block_on(async {
        let start = Instant::now();
        let mut n = 0u64;
        each_page(&store, |page| n += page.len() as u64).await;
        (n as f64 / start.elapsed().as_secs_f64(), start.elapsed())
    });
    let rss_before = rss_mb();
    let start = Instant::now();
    let model = rt.block_on(fold(&store, &*registry, Cut::Everything, |_| {})).expect("fold");
    let fold_time = start.elapsed();
    println!("plain read of the log   : {read_rate:>10.0} events/s ({read_time:?})");
    println!(
        "rebuild (read + fold)   : {:>10.0} events/s ({fold_time:?}), {} rollouts",
        head as f64 / fold_time.as_secs_f64(),
        model.rollout_count()
    );
    let rss_after = rss_mb();
    // Where the time goes: the fold alone, on events already in memory.
    let mut events = Vec::new();
    rt.block_on(each_page(&store, |page| events.extend(page)));
    let start = Instant::now();
    let mut in_memory = projections::ReadModel::default();
    for e in &events {
        in_memory.apply(e, &*registry).expect("apply");
    }
    println!(
        "fold alone (events in memory): {:>10.0} events/s",
        events.len() as f64 / start.elapsed().as_secs_f64()
    );
    drop(events);
    drop(in_memory);
    println!("resident memory         : {rss_after:.0} MB after loading ({rss_before:.0} MB before the read models; this process also generated the log)");

    println!("\n## queries");
    let mut times = Vec::new();
    for _ in 0..1_000 {
        let t = Instant::now();
        let groups = model.progress(GroupBy::Landkreis);
        std::hint::black_box(groups.len());
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "progress by Landkreis    : p50 {:?}  p99 {:?} (all {} rollouts, 14 groups)",
        pct(&times, 0.5),
        pct(&times, 0.99),
        model.rollout_count()
    );
    let (i50, i99, p50, p99) = rt.block_on(audit_pages(&model, &store));
    println!("audit page (50 events of one actor): index p50 {i50:?} p99 {i99:?}; with loading the events p50 {p50:?} p99 {p99:?}");

    let checkpoint = dir_path.join("bench-checkpoint.bin");
    projections::checkpoint::write(&model, &checkpoint).expect("checkpoint");
    println!(
        "\n## in a fresh process, as a starting server (sled cache: the server's default, then 256 MiB)"
    );
    drop(model);
    drop(store);
    let default_mb = (store_sled::CACHE_BYTES_DEFAULT >> 20).to_string();
    let runs: [(&str, &str, bool); 6] = [
        ("plain", &default_mb, false),
        ("rebuild", &default_mb, false),
        ("plain", &default_mb, false),
        ("rebuild", &default_mb, false),
        ("rebuild", "256", false),
        ("resume", &default_mb, true),
    ];
    for (what, cache_mb, from_checkpoint) in runs {
        let mut child = std::process::Command::new(std::env::current_exe().expect("exe"));
        child.env("BENCH_LOAD_ONLY", &dir_path).env("BENCH_CACHE_MB", cache_mb);
        if what == "plain" {
            child.env("BENCH_PLAIN_READ", "1");
        }
        if from_checkpoint {
            child.env("BENCH_CHECKPOINT", &checkpoint);
        }
        let out = child.output().expect("a fresh process");
        print!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    // Read your own writes, and how soon other readers see a change: a followed model (the
    // server's `Projector`) on this store; durable appends of one event each to existing
    // rollouts, one at a time; the time from the append's return until the model has applied it.
    // Last: the follower keeps the store open until the process ends.
    let store: Arc<dyn EventStore> = Arc::new(SledStore::open(SledConfig::new(&dir_path)).expect("reopen"));
    let (append_times, visible_times) = rt.block_on(async {
        let (projector, _) =
            projections::Projector::start(store.clone(), registry.clone(), None).await.expect("projector");
        let someone =
            Actor { id: "person:7".into(), name: "Person 7".into(), kind: ActorKind::Person, person: None };
        let (mut appends, mut visible) = (Vec::new(), Vec::new());
        for i in 0..1_000u64 {
            let ars = format!("12{:03}{:04}{:03}", 60 + i % 14, 1 + i / 500, 1 + i % 500);
            let comment = RolloutEvent::CommentAdded { text: format!("Notiz {i}"), step: None };
            let t = Instant::now();
            let stored = store
                .append(
                    &format!("rollout-dienst_1:{ars}"),
                    ExpectedVersion::Any,
                    vec![new_event(&comment, &someone)],
                )
                .await
                .expect("append");
            appends.push(t.elapsed());
            let t = Instant::now();
            projector.wait_for(stored[0].position).await;
            visible.push(t.elapsed());
        }
        appends.sort();
        visible.sort();
        (appends, visible)
    });
    println!(
        "\n## live, in the generating process\nlive: durable append of one event p50 {:?} p99 {:?}; then visible in the followed model p50 {:?} p99 {:?}",
        pct(&append_times, 0.5),
        pct(&append_times, 0.99),
        pct(&visible_times, 0.5),
        pct(&visible_times, 0.99)
    );
}
