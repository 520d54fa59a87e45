//! The conformance suite: the guarantees of [`EventStore`], checked the same way against every
//! backend. A backend's tests call [`crate::conformance_tests!`] with a constructor.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::{
    subscribe, verify_log, Actor, ActorKind, Direction, EventStore, ExpectedVersion, Json, MemoryStore,
    NewEvent, RecordedEvent, StoreError, Timestamp,
};

/// A size-limited tmpfs for the tests of a full disk, unmounted on drop. Mounting needs root
/// (CI runs as root): without it [`Tmpfs::mount`] is `None` and says the test skipped, unless
/// `ROLLOUT_REQUIRE_TMPFS=1` makes that a failure.
#[derive(Debug)]
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// A tmpfs of `size` (as `mount -o size=`, e.g. `48m`).
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("dir");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("ROLLOUT_REQUIRE_TMPFS").is_none(),
                "a tmpfs could not be mounted (root is needed)"
            );
            println!("skipped: a tmpfs could not be mounted (root is needed)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// A store under test and whatever must live as long as it (a temporary directory).
#[allow(missing_debug_implementations)]
pub struct TestStore {
    pub store: Arc<dyn EventStore>,
    pub keep: Box<dyn std::any::Any + Send>,
}

/// The log of `inner` as it is, but with live notifications from `live` instead of its own: a
/// test decides when subscribers hear of commits, or whether they ever do (a follower that
/// lags or stalls).
#[derive(Debug)]
pub struct Relayed {
    pub inner: Arc<dyn EventStore>,
    pub live: tokio::sync::broadcast::Sender<crate::Committed>,
    /// Whether someone asked for notifications (a subscriber, not a one-off catch-up).
    pub listened: std::sync::atomic::AtomicBool,
    /// `read_all` calls since then: a test waits for a follower's read instead of for a time.
    pub reads_while_listened: std::sync::atomic::AtomicUsize,
}

impl Relayed {
    pub fn new(
        inner: Arc<dyn EventStore>,
        live: tokio::sync::broadcast::Sender<crate::Committed>,
    ) -> Relayed {
        Relayed { inner, live, listened: Default::default(), reads_while_listened: Default::default() }
    }

    /// Calls of `read_all` completed after the first call of `notifications`.
    pub fn reads_while_listened(&self) -> usize {
        self.reads_while_listened.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl EventStore for Relayed {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.append(stream_id, expected, events).await
    }

    async fn append_recorded(&self, events: Vec<RecordedEvent>) -> Result<(), StoreError> {
        self.inner.append_recorded(events).await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from: u64,
        direction: Direction,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(stream_id, from, direction, max).await
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64, StoreError> {
        self.inner.stream_version(stream_id).await
    }

    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let listened = self.listened.load(std::sync::atomic::Ordering::SeqCst);
        let read = self.inner.read_all(from, max).await;
        if listened {
            self.reads_while_listened.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        read
    }

    async fn read_category(
        &self,
        prefix: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_category(prefix, after, max).await
    }

    async fn read_event(&self, position: u64) -> Result<Option<RecordedEvent>, StoreError> {
        self.inner.read_event(position).await
    }

    async fn read_event_by_id(&self, event_id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        self.inner.read_event_by_id(event_id).await
    }

    fn clock(&self) -> Arc<dyn crate::Clock> {
        self.inner.clock()
    }

    fn key_store(&self) -> Option<Arc<dyn crate::KeyStore>> {
        self.inner.key_store()
    }

    fn sessions(&self) -> Option<Arc<dyn crate::SessionStore>> {
        self.inner.sessions()
    }

    async fn head(&self) -> Result<crate::Head, StoreError> {
        self.inner.head().await
    }

    fn notifications(&self) -> tokio::sync::broadcast::Receiver<crate::Committed> {
        let receiver = self.live.subscribe();
        self.listened.store(true, std::sync::atomic::Ordering::SeqCst);
        receiver
    }
}

/// Generates one `#[tokio::test]` per conformance check. `$make` is an async expression that
/// yields a fresh, empty [`TestStore`].
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(optional async { Some($make.await) }, "never skipped");
    };
    // `$make` yields `Option<TestStore>`; `None` skips every check, saying so by name.
    (optional $make:expr, $why:expr) => {
        $crate::conformance_tests!(@optional $make, $why;
            no_stream_then_exact_versions,
            stale_versions_conflict,
            any_version_always_appends,
            concurrent_writers_at_one_version_one_wins,
            retried_append_is_applied_once,
            partial_or_foreign_retry_is_rejected,
            reads_streams_and_log,
            reads_a_category_in_log_order,
            reads_an_event_by_its_id,
            log_is_dense_and_chained,
            subscription_catches_up_then_goes_live,
            subscriber_sees_every_event_of_16_writers_once_in_order,
            slow_subscriber_falls_back_to_the_log,
            limits_reject_and_write_nothing,
            recorded_events_must_continue_the_chain,
            keeps_keys_until_destroyed,
            keeps_sessions_until_removed,
        );
    };
    (@optional $make:expr, $why:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let test: Option<$crate::conformance::TestStore> = $make.await;
                match test {
                    Some(test) => {
                        $crate::conformance::$name(test.store.clone()).await;
                        drop(test);
                    }
                    None => println!("skipped: {}: {}", stringify!($name), $why),
                }
            }
        )*
    };
}

/// The store keeps the keys of personal data: created once, read back, destroyed for good,
/// exported and imported; destroying keys of others (or none) leaves the rest readable.
pub async fn keeps_keys_until_destroyed(store: Arc<dyn EventStore>) {
    let keys = store.key_store().expect("every durable store keeps keys");
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let key_a = keys.create(a).await.expect("create a");
    assert_eq!(keys.create(a).await.expect("create a again"), key_a, "an existing key is kept");
    let key_b = keys.create(b).await.expect("create b");
    assert_ne!(key_a, key_b);
    assert_eq!(keys.get(a).await.expect("get a"), Some(key_a.clone()));
    assert_eq!(keys.get(c).await.expect("get c"), None);
    keys.destroy(&[c]).await.expect("destroying a key that is not there");
    keys.destroy(&[a]).await.expect("destroy a");
    assert_eq!(keys.get(a).await.expect("get a"), None, "a destroyed key is gone");
    assert_eq!(keys.get(b).await.expect("get b"), Some(key_b.clone()), "the others stay readable");
    let key_c = crate::Key::generate().expect("key");
    keys.insert(vec![(c, key_c.clone()), (b, crate::Key::generate().expect("key"))]).await.expect("insert");
    assert_eq!(keys.get(c).await.expect("get c"), Some(key_c.clone()));
    assert_eq!(keys.get(b).await.expect("get b"), Some(key_b.clone()), "an imported key never replaces one");
    let mut all = keys.all().await.expect("all");
    all.sort_by_key(|(id, _)| *id);
    let mut expected = vec![(b, key_b), (c, key_c)];
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(all, expected);
}

/// The store keeps sign-in sessions beside the log: found by key, listed by person, replaced,
/// purged after their time, and every one of a person removed (an erasure).
pub async fn keeps_sessions_until_removed(store: Arc<dyn EventStore>) {
    use crate::{SessionRow, Timestamp};
    let sessions = store.sessions().expect("every durable store keeps sessions");
    let (anna, ben) = (Uuid::now_v7(), Uuid::now_v7());
    let at = |s: i64| Timestamp::from_unix_micros(s * 1_000_000);
    let row = |k: u8, person, until, value: &[u8]| SessionRow {
        key: [k; 32],
        person,
        keep_until: at(until),
        value: value.to_vec(),
    };
    sessions.put(row(1, anna, 100, b"a1")).await.expect("put");
    sessions.put(row(2, anna, 300, b"a2")).await.expect("put");
    sessions.put(row(3, ben, 300, b"b1")).await.expect("put");
    assert_eq!(sessions.get(&[1; 32]).await.expect("get"), Some(row(1, anna, 100, b"a1")));
    assert_eq!(sessions.get(&[9; 32]).await.expect("get"), None);
    sessions.put(row(1, anna, 200, b"a1 again")).await.expect("replace");
    assert_eq!(sessions.get(&[1; 32]).await.expect("get").map(|r| r.value), Some(b"a1 again".to_vec()));
    let mut of_anna = sessions.of_person(anna).await.expect("of person");
    of_anna.sort_by_key(|r| r.key);
    assert_eq!(of_anna, vec![row(1, anna, 200, b"a1 again"), row(2, anna, 300, b"a2")]);
    assert_eq!(sessions.purge(at(250)).await.expect("purge"), 1, "only the row kept until 200");
    assert_eq!(sessions.get(&[1; 32]).await.expect("get"), None);
    sessions.remove_person(anna).await.expect("remove");
    assert!(sessions.of_person(anna).await.expect("of person").is_empty());
    assert_eq!(sessions.of_person(ben).await.expect("of person").len(), 1, "another person's stay");
}

fn actor() -> Actor {
    Actor { id: "person:test".into(), name: "Test Person".into(), kind: ActorKind::Person, person: None }
}

/// One event with a small payload naming `n`.
pub fn event(n: u64) -> NewEvent {
    NewEvent::new(
        "TestHappened",
        1,
        Json::from_value(&serde_json::json!({ "n": n })),
        actor(),
        Uuid::now_v7(),
    )
}

fn events(count: u64) -> Vec<NewEvent> {
    (0..count).map(event).collect()
}

async fn append(
    store: &dyn EventStore,
    stream: &str,
    expected: ExpectedVersion,
    count: u64,
) -> Vec<RecordedEvent> {
    match store.append(stream, expected, events(count)).await {
        Ok(stored) => stored,
        Err(e) => panic!("append to {stream} at {expected} failed: {e}"),
    }
}

fn assert_conflict(result: Result<Vec<RecordedEvent>, StoreError>, want_actual: u64) {
    match result {
        Err(StoreError::Conflict { actual, .. }) => {
            assert_eq!(actual, want_actual, "conflict names the actual version")
        }
        other => panic!("expected a conflict at version {want_actual}, got {other:?}"),
    }
}

pub async fn no_stream_then_exact_versions(store: Arc<dyn EventStore>) {
    let first = append(&*store, "s-1", ExpectedVersion::NoStream, 2).await;
    assert_eq!(first.iter().map(|e| (e.position, e.version)).collect::<Vec<_>>(), vec![(1, 1), (2, 2)]);
    let next = append(&*store, "s-1", ExpectedVersion::Exact(2), 1).await;
    assert_eq!((next[0].position, next[0].version), (3, 3));
    assert_eq!(store.stream_version("s-1").await.ok(), Some(3));
    assert_eq!(store.stream_version("missing").await.ok(), Some(0));
}

pub async fn stale_versions_conflict(store: Arc<dyn EventStore>) {
    append(&*store, "s-1", ExpectedVersion::NoStream, 2).await;
    assert_conflict(store.append("s-1", ExpectedVersion::NoStream, events(1)).await, 2);
    assert_conflict(store.append("s-1", ExpectedVersion::Exact(1), events(1)).await, 2);
    assert_conflict(store.append("s-1", ExpectedVersion::Exact(3), events(1)).await, 2);
    assert_conflict(store.append("other", ExpectedVersion::Exact(1), events(1)).await, 0);
    let head = store.head().await.ok().map(|h| h.position);
    assert_eq!(head, Some(2), "a conflict writes nothing");
}

pub async fn any_version_always_appends(store: Arc<dyn EventStore>) {
    append(&*store, "s-1", ExpectedVersion::Any, 1).await;
    let second = append(&*store, "s-1", ExpectedVersion::Any, 1).await;
    assert_eq!(second[0].version, 2);
}

pub async fn concurrent_writers_at_one_version_one_wins(store: Arc<dyn EventStore>) {
    append(&*store, "contested", ExpectedVersion::NoStream, 1).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.append("contested", ExpectedVersion::Exact(1), events(1)).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => wins += 1,
            Err(StoreError::Conflict { actual: 2, .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.stream_version("contested").await.ok(), Some(2));
}

pub async fn retried_append_is_applied_once(store: Arc<dyn EventStore>) {
    let batch = events(3);
    let first = store.append("s-1", ExpectedVersion::NoStream, batch.clone()).await.expect("first");
    append(&*store, "s-2", ExpectedVersion::Any, 1).await;
    // The retry names a now stale expected version: it is still answered with the first result.
    let again = store.append("s-1", ExpectedVersion::NoStream, batch).await.expect("retry");
    assert_eq!(first, again);
    assert_eq!(store.head().await.ok().map(|h| h.position), Some(4), "the retry wrote nothing");
    // Concurrent retries of one append: one write.
    let batch = events(2);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, batch) = (store.clone(), batch.clone());
            tokio::spawn(async move { store.append("s-3", ExpectedVersion::Any, batch).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task").expect("append"));
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]), "every retry sees the same events");
    assert_eq!(store.stream_version("s-3").await.ok(), Some(2));
}

pub async fn reads_an_event_by_its_id(store: Arc<dyn EventStore>) {
    append(&*store, "s-1", ExpectedVersion::NoStream, 2).await;
    let stored = store.append("s-2", ExpectedVersion::NoStream, events(3)).await.expect("append");
    for e in &stored {
        let found = store.read_event_by_id(e.event_id).await.expect("read").expect("found by its id");
        assert_eq!(&found, e);
    }
    assert_eq!(store.read_event_by_id(Uuid::now_v7()).await.expect("read"), None, "an unknown id");
}

pub async fn partial_or_foreign_retry_is_rejected(store: Arc<dyn EventStore>) {
    let batch = events(2);
    store.append("s-1", ExpectedVersion::Any, batch.clone()).await.expect("append");
    let mut partial = batch.clone();
    partial.push(event(9));
    let err = store.append("s-1", ExpectedVersion::Any, partial).await;
    assert!(matches!(err, Err(StoreError::DuplicateEventId { .. })), "{err:?}");
    let foreign = store.append("s-other", ExpectedVersion::Any, batch).await;
    assert!(matches!(foreign, Err(StoreError::DuplicateEventId { .. })), "{foreign:?}");
    assert_eq!(store.head().await.ok().map(|h| h.position), Some(2));
}

pub async fn reads_streams_and_log(store: Arc<dyn EventStore>) {
    for i in 0..5 {
        append(&*store, "a", ExpectedVersion::Any, 1).await;
        append(&*store, if i % 2 == 0 { "b" } else { "c" }, ExpectedVersion::Any, 1).await;
    }
    let versions = |events: Vec<RecordedEvent>| events.iter().map(|e| e.version).collect::<Vec<_>>();
    let fwd = store.read_stream("a", 1, Direction::Forward, 100).await.expect("read");
    assert_eq!(versions(fwd.clone()), vec![1, 2, 3, 4, 5]);
    assert!(fwd.iter().all(|e| e.stream_id == "a"));
    assert_eq!(versions(store.read_stream("a", 3, Direction::Forward, 2).await.expect("read")), vec![3, 4]);
    assert_eq!(
        versions(store.read_stream("a", u64::MAX, Direction::Backward, 2).await.expect("read")),
        vec![5, 4]
    );
    assert_eq!(versions(store.read_stream("a", 2, Direction::Backward, 10).await.expect("read")), vec![2, 1]);
    assert!(store.read_stream("a", 6, Direction::Forward, 10).await.expect("read").is_empty());
    assert!(store.read_stream("nobody", 1, Direction::Forward, 10).await.expect("read").is_empty());
    let all = store.read_all(1, 100).await.expect("read");
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    let tail = store.read_all(8, 100).await.expect("read");
    assert_eq!(tail.len(), 3);
    assert_eq!(store.read_all(2, 3).await.expect("read").len(), 3);
    assert!(store.read_all(11, 10).await.expect("read").is_empty());
    let one = store.read_event(4).await.expect("read").expect("event 4");
    assert_eq!(one, all[3]);
    assert_eq!(store.read_event(11).await.expect("read"), None);
    assert_eq!(store.read_event(0).await.expect("read"), None);
    let head = store.head().await.expect("head");
    assert_eq!((head.position, head.hash), (10, all[9].hash));
    assert_eq!(all[3].data.as_str(), r#"{"n":0}"#);
}

pub async fn reads_a_category_in_log_order(store: Arc<dyn EventStore>) {
    for i in 0..6 {
        append(&*store, &format!("token-{}", i % 3), ExpectedVersion::Any, 1).await;
        append(&*store, "tokens", ExpectedVersion::Any, 1).await;
        append(&*store, &format!("rollout-{i}"), ExpectedVersion::Any, 2).await;
    }
    append(&*store, "token-", ExpectedVersion::Any, 1).await;
    // Beside the category's edges, byte by byte: the first id after it, another case, the
    // largest allowed characters inside it.
    for id in ["token.", "Token-x", "token-z/@:"] {
        append(&*store, id, ExpectedVersion::Any, 1).await;
    }
    let all = store.read_all(1, 1_000).await.expect("read");
    let want: Vec<u64> =
        all.iter().filter(|e| e.stream_id.starts_with("token-")).map(|e| e.position).collect();
    assert_eq!(want.len(), 8);
    let got = store.read_category("token-", 0, 100).await.expect("read");
    assert_eq!(got.iter().map(|e| e.position).collect::<Vec<_>>(), want, "the category, in log order");
    for e in &got {
        assert_eq!(Some(e), all.get(e.position as usize - 1), "the stored event, unchanged");
    }
    let page = store.read_category("token-", want[1], 3).await.expect("read");
    assert_eq!(
        page.iter().map(|e| e.position).collect::<Vec<_>>(),
        want[2..5].to_vec(),
        "paged after a position"
    );
    assert!(store.read_category("nothing-", 0, 10).await.expect("read").is_empty());
    let every = store.read_category("", 0, 1_000).await.expect("read");
    assert_eq!(every.len(), all.len(), "the empty prefix is the whole log");
}

pub async fn log_is_dense_and_chained(store: Arc<dyn EventStore>) {
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    let stream = format!("w{w}-s{}", i % 3);
                    store.append(&stream, ExpectedVersion::Any, events(1 + i % 2)).await.expect("append");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    let report = verify_log(&*store, |_| {}).await.expect("the log verifies");
    assert_eq!(report.events, 8 * 30);
}

pub async fn subscription_catches_up_then_goes_live(store: Arc<dyn EventStore>) {
    append(&*store, "s", ExpectedVersion::Any, 3).await;
    let mut sub = subscribe(store.clone(), 2);
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(next(&mut sub).await.position);
    }
    append(&*store, "s", ExpectedVersion::Any, 2).await;
    for _ in 0..2 {
        seen.push(next(&mut sub).await.position);
    }
    assert_eq!(seen, vec![2, 3, 4, 5]);
}

async fn next(sub: &mut crate::Subscription) -> RecordedEvent {
    match tokio::time::timeout(Duration::from_secs(20), sub.next()).await {
        Ok(Ok(Some(e))) => e,
        other => panic!("subscription did not deliver: {other:?}"),
    }
}

pub async fn subscriber_sees_every_event_of_16_writers_once_in_order(store: Arc<dyn EventStore>) {
    const WRITERS: u64 = 16;
    const PER_WRITER: u64 = 40;
    append(&*store, "before", ExpectedVersion::Any, 5).await;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..PER_WRITER {
                    store
                        .append(&format!("writer-{w}"), ExpectedVersion::Exact(i), events(1))
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    // Started while the writers run.
    tokio::task::yield_now().await;
    let mut sub = subscribe(store.clone(), 1);
    let total = 5 + WRITERS * PER_WRITER;
    let mut last_version: HashMap<String, u64> = HashMap::new();
    for expected in 1..=total {
        let e = next(&mut sub).await;
        assert_eq!(e.position, expected, "no gap, no duplicate, commit order");
        let v = last_version.entry(e.stream_id.clone()).or_insert(0);
        assert_eq!(e.version, *v + 1, "stream order");
        *v = e.version;
    }
    for w in writers {
        w.await.expect("writer");
    }
    let extra = tokio::time::timeout(Duration::from_millis(100), sub.next()).await;
    assert!(extra.is_err(), "nothing after the last event: {extra:?}");
}

pub async fn slow_subscriber_falls_back_to_the_log(store: Arc<dyn EventStore>) {
    let mut slow = subscribe(store.clone(), 1);
    // More batches than any live channel holds; the subscriber is not polled meanwhile, and the
    // writers must not wait for it.
    let appends = 3_000u64;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for _ in 0..appends {
                store.append("busy", ExpectedVersion::Any, events(1)).await.expect("append");
            }
        })
    };
    tokio::time::timeout(Duration::from_secs(120), writer)
        .await
        .expect("writers are not blocked")
        .expect("writer");
    for expected in 1..=appends {
        assert_eq!(next(&mut slow).await.position, expected);
    }
}

pub async fn limits_reject_and_write_nothing(store: Arc<dyn EventStore>) {
    use crate::limits::*;
    append(&*store, "s", ExpectedVersion::Any, 1).await;
    let big = NewEvent {
        data: Json::parse(format!("\"{}\"", "x".repeat(PAYLOAD_BYTES_MAX))).expect("json"),
        ..event(0)
    };
    let too_long = "x".repeat(STREAM_ID_BYTES_MAX + 1);
    let cases: Vec<(&str, Vec<NewEvent>, &str)> = vec![
        ("s", vec![big], "payload bytes of one event"),
        ("s", events(EVENTS_PER_APPEND_MAX as u64 + 1), "events per append"),
        ("s", vec![], "at least one event"),
        ("", events(1), "empty"),
        ("has space", events(1), "not allowed"),
        ("ümlaut", events(1), "not allowed"),
        (&too_long, events(1), "bytes"),
        ("s", vec![NewEvent { event_type: "no spaces".into(), ..event(0) }], "event type"),
        ("s", vec![NewEvent { actor: Actor { id: String::new(), ..actor() }, ..event(0) }], "actor id"),
    ];
    for (stream, batch, says) in cases {
        let result = store.append(stream, ExpectedVersion::Any, batch).await;
        match result {
            Err(e) => assert!(e.to_string().contains(says), "error `{e}` should say `{says}`"),
            Ok(_) => panic!("append to {stream:?} should fail with `{says}`"),
        }
    }
    let e = event(1);
    let dup = store.append("s", ExpectedVersion::Any, vec![e.clone(), e]).await;
    assert!(matches!(dup, Err(StoreError::Invalid(_))), "{dup:?}");
    assert_eq!(store.head().await.ok().map(|h| h.position), Some(1), "nothing was written");
    // Exactly at the limits is fine.
    let at_limit = Json::parse(format!("\"{}\"", "x".repeat(PAYLOAD_BYTES_MAX - 2))).expect("json");
    store
        .append("s", ExpectedVersion::Any, vec![NewEvent { data: at_limit, ..event(0) }])
        .await
        .expect("at limit");
    store.append(&"x".repeat(STREAM_ID_BYTES_MAX), ExpectedVersion::Any, events(1)).await.expect("long id");
}

pub async fn recorded_events_must_continue_the_chain(store: Arc<dyn EventStore>) {
    let source = MemoryStore::new();
    for i in 0..6 {
        source.append(&format!("s{}", i % 2), ExpectedVersion::Any, events(2)).await.expect("source");
    }
    let all = source.read_all(1, 100).await.expect("read");
    // A gap, a changed payload, a wrong link: refused, nothing written.
    let mut changed = all[0].clone();
    changed.data = Json::parse("{\"n\":99}").expect("json");
    // Recorded before the event before it (hashed anew, so only the time is wrong).
    let mut earlier = all[1].clone();
    earlier.recorded_at = Timestamp::from_unix_micros(all[0].recorded_at.unix_micros() - 1);
    earlier.hash = crate::event_hash(&earlier);
    for bad in [
        vec![all[1].clone()],
        vec![changed],
        vec![all[0].clone(), all[2].clone()],
        vec![all[0].clone(), earlier],
    ] {
        let err = store.append_recorded(bad).await;
        assert!(matches!(err, Err(StoreError::ChainBroken { .. })), "{err:?}");
    }
    assert_eq!(store.head().await.ok().map(|h| h.position), Some(0));
    let too_many = vec![all[0].clone(); crate::limits::EVENTS_PER_APPEND_MAX + 1];
    assert!(matches!(
        store.append_recorded(too_many).await,
        Err(StoreError::Limit { what: "events per append", .. })
    ));
    store.append_recorded(all[..5].to_vec()).await.expect("first part");
    store.append_recorded(all[5..].to_vec()).await.expect("rest");
    assert_eq!(store.read_all(1, 100).await.expect("read"), all);
    // It goes on as a normal log.
    let next = append(&*store, "s0", ExpectedVersion::Exact(6), 1).await;
    assert_eq!((next[0].position, next[0].prev_hash), (13, all[11].hash));
    verify_log(&*store, |_| {}).await.expect("verifies");
}

/// Random interleavings of appends from many tasks: afterwards every stream's versions are dense
/// and the global order has no gap. `plan[t]` lists task `t`'s appends as (stream, batch size).
pub async fn random_interleavings_keep_the_log_dense(store: Arc<dyn EventStore>, plan: Vec<Vec<(u8, u8)>>) {
    let total: u64 = plan.iter().flatten().map(|&(_, n)| u64::from(n)).sum();
    let tasks: Vec<_> = plan
        .into_iter()
        .map(|appends| {
            let store = store.clone();
            tokio::spawn(async move {
                for (stream, n) in appends {
                    let stream = format!("p-{stream}");
                    store.append(&stream, ExpectedVersion::Any, events(u64::from(n))).await.expect("append");
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let all = store.read_all(1, usize::MAX).await.expect("read");
    assert_eq!(all.len() as u64, total);
    let mut versions: HashMap<&str, u64> = HashMap::new();
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.position, i as u64 + 1, "global order has no gap");
        let v = versions.entry(&e.stream_id).or_insert(0);
        assert_eq!(e.version, *v + 1, "stream versions are dense");
        *v = e.version;
    }
    verify_log(&*store, |_| {}).await.expect("verifies");
}
