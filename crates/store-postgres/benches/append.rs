//! PostgreSQL beside sled, same workload, same run: durable appends with 1 and 64 concurrent
//! appenders (one event each), and reading the whole log.
//! `ROLLOUT_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p store-postgres --bench append`

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use store::{EventStore, ExpectedVersion};

async fn serial(store: &Arc<dyn EventStore>, duration: Duration) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        store
            .append(&format!("serial-{}", n % 100), ExpectedVersion::Any, vec![store::conformance::event(n)])
            .await
            .expect("append");
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn concurrent(store: &Arc<dyn EventStore>, writers: u64, per_writer: u64) -> (f64, Duration) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut worst = Duration::ZERO;
                for i in 0..per_writer {
                    let t = Instant::now();
                    store
                        .append(
                            &format!("w{w}-{}", i % 20),
                            ExpectedVersion::Any,
                            vec![store::conformance::event(i)],
                        )
                        .await
                        .expect("append");
                    worst = worst.max(t.elapsed());
                }
                worst
            })
        })
        .collect();
    let mut worst = Duration::ZERO;
    for t in tasks {
        worst = worst.max(t.await.expect("writer"));
    }
    ((writers * per_writer) as f64 / start.elapsed().as_secs_f64(), worst)
}

async fn read_all(store: &Arc<dyn EventStore>) -> (f64, u64) {
    let start = Instant::now();
    let (mut from, mut n) = (1, 0u64);
    loop {
        let page = store.read_all(from, 10_000).await.expect("read");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        n += page.len() as u64;
    }
    (n as f64 / start.elapsed().as_secs_f64(), n)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Ok(url) = std::env::var("ROLLOUT_TEST_DATABASE_URL") else {
        println!("set ROLLOUT_TEST_DATABASE_URL to run this benchmark");
        return;
    };
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let sled: Arc<dyn EventStore> =
            Arc::new(store_sled::SledStore::open(store_sled::SledConfig::new(dir.path())).expect("sled"));
        let mut config = store_postgres::PgConfig::new(url);
        config.schema = Some(format!("efa_b_{}", uuid::Uuid::now_v7().simple()));
        let pg: Arc<dyn EventStore> =
            Arc::new(store_postgres::PgStore::open(config).await.expect("postgres"));
        println!("{:<40} {:>14} {:>14}", "", "sled", "PostgreSQL");
        let (s, p) = (serial(&sled, Duration::from_secs(3)).await, serial(&pg, Duration::from_secs(3)).await);
        println!("{:<40} {s:>12.0}/s {p:>12.0}/s", "1 appender, 1 event each (durable)");
        let ((s, sw), (p, pw)) = (concurrent(&sled, 64, 500).await, concurrent(&pg, 64, 500).await);
        println!(
            "{:<40} {s:>12.0}/s {p:>12.0}/s   (slowest append: sled {sw:?}, PostgreSQL {pw:?})",
            "64 appenders, 1 event each (durable)"
        );
        // Fill both to 200,000 events for the read.
        for store in [&sled, &pg] {
            let mut n = store.head().await.expect("head").position;
            while n < 200_000 {
                let batch: Vec<_> = (0..1_000).map(store::conformance::event).collect();
                store
                    .append(&format!("fill-{}", n / 1_000), ExpectedVersion::Any, batch)
                    .await
                    .expect("fill");
                n += 1_000;
            }
        }
        let ((s, sn), (p, pn)) = (read_all(&sled).await, read_all(&pg).await);
        println!("{:<40} {s:>12.0}/s {p:>12.0}/s   ({sn} / {pn} events)", "read the whole log");
    });
}
