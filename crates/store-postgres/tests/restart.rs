//! PostgreSQL restarts under the store: meanwhile appends fail fast with a clear error (no hang),
//! afterwards the store reconnects by itself, and no acknowledged event is lost.
//! Restarts the machine's PostgreSQL: runs only with ROLLOUT_TEST_DATABASE_URL and
//! ROLLOUT_TEST_PG_RESTART=1 (CI sets both); it is its own test binary so that no other test
//! runs against the database meanwhile.

use std::process::Command;
use std::time::{Duration, Instant};

use store::{EventStore, ExpectedVersion, StoreError};
use store_postgres::{PgConfig, PgStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_survives_a_postgresql_restart() {
    let (Ok(url), Some(_)) =
        (std::env::var("ROLLOUT_TEST_DATABASE_URL"), std::env::var_os("ROLLOUT_TEST_PG_RESTART"))
    else {
        println!("skipped: the_store_survives_a_postgresql_restart: needs ROLLOUT_TEST_DATABASE_URL and ROLLOUT_TEST_PG_RESTART=1");
        return;
    };
    let mut config = PgConfig::new(url);
    config.schema = Some(format!("efa_t_{}", uuid::Uuid::now_v7().simple()));
    let store = PgStore::open(config).await.expect("open");
    let mut acked = Vec::new();
    for i in 0..10 {
        acked.extend(
            store
                .append("s", ExpectedVersion::Any, vec![store::conformance::event(i)])
                .await
                .expect("append"),
        );
    }
    let cluster = std::fs::read_dir("/etc/postgresql")
        .expect("a cluster")
        .next()
        .expect("version")
        .expect("entry")
        .file_name();
    let cluster = cluster.to_string_lossy().into_owned();
    let stop = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &cluster, "main", "stop"])
        .status()
        .expect("stop");
    assert!(stop.success());
    // While it is down: a clear error, fast.
    let t = Instant::now();
    let down = store.append("s", ExpectedVersion::Any, vec![store::conformance::event(99)]).await;
    let elapsed = t.elapsed();
    // Readiness says so, naming the cause.
    let health = store.health().await;
    let start = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &cluster, "main", "start"])
        .status()
        .expect("start");
    assert!(start.success());
    match down {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("PostgreSQL") || message.contains("connect"), "{message}")
        }
        other => panic!("expected Unavailable while PostgreSQL is down, got {other:?}"),
    }
    assert!(matches!(&health, store::Health::Unwritable { fatal: false, .. }), "{health:?}");
    assert!(elapsed < Duration::from_secs(15), "the error came after {elapsed:?}");
    // Afterwards it reconnects by itself.
    let deadline = Instant::now() + Duration::from_secs(60);
    let after = loop {
        match store.append("s", ExpectedVersion::Any, vec![store::conformance::event(100)]).await {
            Ok(events) => break events,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no reconnect: {e}"),
        }
    };
    assert_eq!(after[0].position, 11, "the failed append wrote nothing, the next continues the log");
    assert_eq!(store.health().await, store::Health::Writable, "ready again by itself");
    for e in &acked {
        assert_eq!(
            store.read_event(e.position).await.expect("read").as_ref(),
            Some(e),
            "acknowledged event {} survived",
            e.position
        );
    }
    store::verify_log(&store, |_| {}).await.expect("verifies");
}
