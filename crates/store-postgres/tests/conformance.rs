//! The PostgreSQL store passes the conformance suite, and global order equals commit order under
//! many concurrent writers on several store instances (as several servers would be).
//! Runs when ROLLOUT_TEST_DATABASE_URL is set (CI sets it); otherwise each test says it skipped.

use std::sync::Arc;

use store::conformance::TestStore;
use store::{EventStore, ExpectedVersion};
use store_postgres::{PgConfig, PgStore};

const SKIPPED: &str = "ROLLOUT_TEST_DATABASE_URL is not set";

/// A store in a fresh schema of the test database.
fn config() -> Option<PgConfig> {
    let url = std::env::var("ROLLOUT_TEST_DATABASE_URL").ok()?;
    let mut config = PgConfig::new(url);
    config.schema = Some(format!("efa_t_{}", uuid::Uuid::now_v7().simple()));
    Some(config)
}

async fn pg_store() -> Option<TestStore> {
    let store = PgStore::open(config()?).await.expect("open the PostgreSQL store");
    Some(TestStore { store: Arc::new(store), keep: Box::new(()) })
}

store::conformance_tests!(optional pg_store(), SKIPPED);

/// Two store instances on one schema (two servers), 16 writers each, and a subscriber on a
/// third: it must see every position exactly once, in order — none skipped by a commit that
/// finished after a higher position became visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_skipped_with_many_writers_on_two_servers() {
    let Some(config) = config() else {
        println!("skipped: no_event_is_skipped_with_many_writers_on_two_servers: {SKIPPED}");
        return;
    };
    let a: Arc<dyn EventStore> = Arc::new(PgStore::open(config.clone()).await.expect("a"));
    let b: Arc<dyn EventStore> = Arc::new(PgStore::open(config.clone()).await.expect("b"));
    let watcher: Arc<dyn EventStore> = Arc::new(PgStore::open(config).await.expect("watcher"));
    let mut sub = store::subscribe(watcher, 1);
    const PER_WRITER: u64 = 25;
    let writers: Vec<_> = (0..32u64)
        .map(|w| {
            let store = if w % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                for i in 0..PER_WRITER {
                    let e = store::conformance::event(i);
                    store
                        .append(&format!("w-{w}"), ExpectedVersion::Exact(i), vec![e])
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    let total = 32 * PER_WRITER;
    for expected in 1..=total {
        let e = tokio::time::timeout(std::time::Duration::from_secs(60), sub.next())
            .await
            .expect("the subscriber keeps up")
            .expect("read")
            .expect("event");
        assert_eq!(e.position, expected, "no gap, no duplicate, commit order");
    }
    for w in writers {
        w.await.expect("writer");
    }
    store::verify_log(&*a, |_| {}).await.expect("the chain verifies");
}

/// `Blobs` on PostgreSQL: a value in several chunks comes back whole, a `put` replaces the whole
/// value (a shorter one leaves no chunk of the longer behind), another server sees it, and two
/// servers writing the same name at once both succeed, one after the other.
#[tokio::test]
async fn blobs_are_replaced_whole_in_chunks_and_shared_by_servers() {
    use store::Blobs;
    let Some(config) = config() else {
        eprintln!("skipped: {SKIPPED}");
        return;
    };
    let one = PgStore::open(config.clone()).await.expect("open");
    let two = PgStore::open(config).await.expect("open a second");
    assert_eq!(one.get("readmodel").await.expect("get"), None);
    let long: Vec<u8> = (0..store::limits::BLOB_CHUNK_BYTES * 2 + 7).map(|i| (i % 251) as u8).collect();
    one.put("readmodel", &long).await.expect("put");
    assert!(two.get("readmodel").await.expect("get").as_deref() == Some(&long[..]), "the long value whole");
    one.put("readmodel", b"short").await.expect("put");
    assert_eq!(two.get("readmodel").await.expect("get").as_deref(), Some(&b"short"[..]));
    assert_eq!(one.get("other").await.expect("get"), None);
    let (a, b) = tokio::join!(one.put("readmodel", b"from one"), two.put("readmodel", b"from two"));
    a.expect("one");
    b.expect("two");
    let now = one.get("readmodel").await.expect("get").expect("a value");
    assert!(now == b"from one" || now == b"from two", "{now:?}");
}

/// A table made by a build before stream ids were in collation "C" (the database's collation)
/// is changed once at open (two servers opening together included), and keeps its events:
/// categories are read by the index after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_table_gets_byte_ordered_stream_ids_and_keeps_its_events() {
    let Some(config) = config() else {
        println!("skipped: an_older_table_gets_byte_ordered_stream_ids: {SKIPPED}");
        return;
    };
    let schema = config.schema.clone().expect("schema");
    let store = PgStore::open(config.clone()).await.expect("open");
    for stream in ["authority-1", "rollout-a", "authority-2"] {
        store
            .append(stream, ExpectedVersion::NoStream, vec![store::conformance::event(0)])
            .await
            .expect("append");
    }
    drop(store);
    let (client, connection) =
        tokio_postgres::connect(&config.url, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    let collation = format!(
        "SELECT coalesce(collation_name, 'default') FROM information_schema.columns \
         WHERE table_schema = '{schema}' AND table_name = 'efa_events' AND column_name = 'stream_id'"
    );
    client
        .batch_execute(&format!(
            "ALTER TABLE {schema}.efa_events ALTER COLUMN stream_id TYPE TEXT COLLATE \"default\""
        ))
        .await
        .expect("as an older build made it");
    let before: String = client.query_one(&collation, &[]).await.expect("collation").get(0);
    assert_ne!(before, "C");
    // Two servers starting at once: both open (the second finds it changed under the lock).
    let (store, other) = tokio::join!(PgStore::open(config.clone()), PgStore::open(config));
    let (store, _other) = (store.expect("reopen"), other.expect("reopen beside it"));
    let after: String = client.query_one(&collation, &[]).await.expect("collation").get(0);
    assert_eq!(after, "C");
    let authorities = store.read_category("authority-", 0, 10).await.expect("read");
    assert_eq!(authorities.iter().map(|e| e.position).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(store.read_all(1, 10).await.expect("read").len(), 3);
}
