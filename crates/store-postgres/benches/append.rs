//! PostgreSQL beside sled, same workload, same run: durable appends with 1 and 64 concurrent
//! appenders (one event each), and reading the whole log; and PostgreSQL's own ceiling, raw
//! autocommit `INSERT`s of a row of the same size on 1 and 64 connections.
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

/// Raw autocommit `INSERT`s of one row (a text key and `record_bytes` bytes, like an event) into
/// `table`, on `connections` connections at once, `per_connection` each: rows per second.
async fn raw_inserts(url: &str, table: &str, connections: usize, per_connection: usize) -> f64 {
    let record = vec![7u8; 300];
    let mut clients = Vec::new();
    for _ in 0..connections {
        let (client, connection) =
            tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(connection);
        clients.push(client);
    }
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(c, client)| {
            let (table, record) = (table.to_owned(), record.clone());
            tokio::spawn(async move {
                let insert = client
                    .prepare(&format!("INSERT INTO {table} (stream_id, record) VALUES ($1, $2)"))
                    .await
                    .expect("prepare");
                for i in 0..per_connection {
                    let stream = format!("raw-{c}-{}", i % 20);
                    client.execute(&insert, &[&stream, &record]).await.expect("insert");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("inserter");
    }
    (connections * per_connection) as f64 / start.elapsed().as_secs_f64()
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
        let mut config = store_postgres::PgConfig::new(url.clone());
        let schema = format!("efa_b_{}", uuid::Uuid::now_v7().simple());
        config.schema = Some(schema.clone());
        let pg: Arc<dyn EventStore> =
            Arc::new(store_postgres::PgStore::open(config).await.expect("postgres"));
        // PostgreSQL's ceiling on this machine, first: raw autocommit INSERTs.
        let raw = format!("{schema}.raw_insert");
        let (setup, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(connection);
        setup
            .batch_execute(&format!(
                "CREATE TABLE {raw} (position BIGSERIAL PRIMARY KEY, stream_id TEXT NOT NULL, record BYTEA NOT NULL)"
            ))
            .await
            .expect("raw table");
        let raw_one = raw_inserts(&url, &raw, 1, 1_500).await;
        let raw_64 = raw_inserts(&url, &raw, 64, 500).await;
        println!("{:<40} {:>14} {:>14}", "", "sled", "PostgreSQL");
        let (s, p) = (serial(&sled, Duration::from_secs(3)).await, serial(&pg, Duration::from_secs(3)).await);
        println!("{:<40} {s:>12.0}/s {p:>12.0}/s", "1 appender, 1 event each (durable)");
        println!("{:<40} {:>14} {raw_one:>12.0}/s   (PostgreSQL {:.2} of it)", "raw autocommit INSERT, 1 connection", "", p / raw_one);
        let ((s, sw), (p, pw)) = (concurrent(&sled, 64, 500).await, concurrent(&pg, 64, 500).await);
        println!(
            "{:<40} {s:>12.0}/s {p:>12.0}/s   (slowest append: sled {sw:?}, PostgreSQL {pw:?})",
            "64 appenders, 1 event each (durable)"
        );
        println!("{:<40} {:>14} {raw_64:>12.0}/s   (PostgreSQL {:.2} of it)", "raw autocommit INSERT, 64 connections", "", p / raw_64);
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
