//! A failing disk: a write or `fdatasync` that fails (the fault-injection seam), and a real full
//! filesystem (a size-limited tmpfs, mounted here when the test runs as root). Nothing
//! acknowledged is lost, nothing unacknowledged appears, reads keep working, and writes succeed
//! again by themselves once the cause is gone.

use std::path::Path;
use std::sync::Arc;

use store::conformance::Tmpfs;
use store::{verify_log, Actor, ActorKind, EventStore, ExpectedVersion, Health, Json, NewEvent, StoreError};
use store_sled::{Faults, SledConfig, SledStore};
use uuid::Uuid;

fn event(n: u64, pad: usize) -> NewEvent {
    let actor = Actor { id: "person:a".into(), name: "A".into(), kind: ActorKind::Person, person: None };
    NewEvent::new(
        "TestHappened",
        1,
        Json::from_value(&serde_json::json!({ "n": n, "pad": "x".repeat(pad) })),
        actor,
        Uuid::now_v7(),
    )
}

fn open_with(dir: &Path, faults: Option<Arc<Faults>>, min_free_bytes: u64) -> SledStore {
    let mut config = SledConfig::new(dir);
    config.faults = faults;
    config.min_free_bytes = min_free_bytes;
    config.segment_bytes = 64 * 1024;
    SledStore::open(config).expect("open")
}

fn unavailable(r: &Result<Vec<store::RecordedEvent>, StoreError>) -> String {
    match r {
        Err(StoreError::Unavailable(cause)) => cause.clone(),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_write_or_sync_is_refused_reported_and_recovered_without_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let faults = Arc::new(Faults::default());
    let store = open_with(dir.path(), Some(faults.clone()), 0);
    for n in 0..10 {
        store.append("s", ExpectedVersion::Any, vec![event(n, 40)]).await.expect("append");
    }
    let before = store.read_all(1, 100).await.expect("read");

    for fail in [Faults::fail_next_write as fn(&Faults), Faults::fail_next_sync] {
        fail(&faults);
        let head = store.head().await.expect("head");
        let refused = store.append("s", ExpectedVersion::Any, vec![event(100, 40)]).await;
        let cause = unavailable(&refused);
        assert!(cause.contains("writing the log failed"), "{cause}");
        // Nothing of it is visible, reads work, and the head stayed where it was.
        assert_eq!(store.head().await.expect("head"), head);
        assert_eq!(store.read_all(1, 100).await.expect("read").len() as u64, head.position);
        // The next append (or a health probe) cuts off what the failed write left, through a
        // new descriptor, reads the log back, and goes on.
        assert_eq!(store.health().await, Health::Writable);
        let next = store.append("s", ExpectedVersion::Any, vec![event(101, 40)]).await.expect("append");
        assert_eq!((next[0].position, next[0].prev_hash), (head.position + 1, head.hash));
    }
    verify_log(&store, |_| {}).await.expect("verifies");
    drop(store);
    // Reopened from disk: exactly the acknowledged events, the failed ones nowhere.
    let store = SledStore::open(SledConfig::new(dir.path())).expect("reopen");
    let after = store.read_all(1, 100).await.expect("read");
    assert_eq!(&after[..10], &before[..]);
    assert_eq!(after.len(), 12);
    verify_log(&store, |_| {}).await.expect("verifies");
}

/// A real full filesystem: a tmpfs of 48 MiB, filled by another file until the store's reserve
/// is reached, with 16 writers appending. Needs root (CI runs as root); elsewhere it says it
/// skipped, unless `ROLLOUT_REQUIRE_TMPFS=1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_early_keeps_reads_and_resumes_once_space_is_freed() {
    let Some(mount) = Tmpfs::mount("48m") else { return };
    let dir = mount.path().join("store");
    let reserve = 8 * 1024 * 1024;
    let store = Arc::new(open_with(&dir, None, reserve));
    let filler = mount.path().join("filler");
    let writers = |round: u64| {
        (0..16u64)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut acknowledged = Vec::new();
                    let mut refusals = Vec::new();
                    for n in 0..40 {
                        let e = event(round * 10_000 + w * 100 + n, 2000);
                        let id = e.event_id;
                        match store.append(&format!("w-{w}"), ExpectedVersion::Any, vec![e]).await {
                            Ok(_) => acknowledged.push(id),
                            Err(StoreError::Unavailable(cause)) => refusals.push(cause),
                            Err(other) => panic!("writer {w}: {other}"),
                        }
                    }
                    (acknowledged, refusals)
                })
            })
            .collect::<Vec<_>>()
    };
    // Fill the disk to 600 KiB above the reserve, then write 16 × 40 × ~2 KB (1.3 MB): the
    // reserve is reached under load.
    let free = free_bytes(mount.path());
    fill(&filler, free.saturating_sub(reserve + 600 * 1024));
    let mut acknowledged = Vec::new();
    let mut refusals = Vec::new();
    for task in writers(1) {
        let (a, r) = task.await.expect("writer");
        acknowledged.extend(a);
        refusals.extend(r);
    }
    assert!(!refusals.is_empty() && !acknowledged.is_empty(), "the reserve was reached under load");
    // Top it up so that it is certainly below the reserve.
    fill(&mount.path().join("filler-2"), free_bytes(mount.path()).saturating_sub(reserve / 2));
    let refused = store.append("w-x", ExpectedVersion::Any, vec![event(1, 10)]).await;
    refusals.push(unavailable(&refused));
    assert!(refusals.iter().all(|c| c.contains("nearly full") && c.contains("reserve")), "{refusals:?}");
    match store.health().await {
        Health::Unwritable { cause, fatal: false } => assert!(cause.contains("nearly full"), "{cause}"),
        other => panic!("{other:?}"),
    }
    // Reads keep working.
    let head = store.head().await.expect("head");
    let stored = store.read_all(1, 10_000).await.expect("read");
    assert_eq!(stored.len() as u64, head.position);
    let ids: std::collections::HashSet<Uuid> = stored.iter().map(|e| e.event_id).collect();
    assert!(acknowledged.iter().all(|id| ids.contains(id)), "every acknowledged event is stored");
    assert_eq!(stored.len(), acknowledged.len(), "nothing unacknowledged appears");

    // Space freed: writes succeed again without a restart.
    std::fs::remove_file(&filler).expect("free");
    std::fs::remove_file(mount.path().join("filler-2")).expect("free");
    assert_eq!(store.health().await, Health::Writable);
    let mut again = 0;
    for task in writers(2) {
        let (a, r) = task.await.expect("writer");
        assert!(r.is_empty(), "{r:?}");
        again += a.len();
    }
    assert_eq!(again, 16 * 40);
    verify_log(&*store, |_| {}).await.expect("verifies");
    drop(store);
    let store = SledStore::open(SledConfig::new(&dir)).expect("reopen");
    assert_eq!(store.head().await.expect("head").position, head.position + 16 * 40);
}

fn free_bytes(path: &Path) -> u64 {
    let out =
        std::process::Command::new("df").args(["-B1", "--output=avail"]).arg(path).output().expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df's figure")
}

/// Writes `bytes` of zeros to `path` (stopping quietly where the disk ends).
fn fill(path: &Path, bytes: u64) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("filler");
    let block = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        if f.write_all(&block[..n]).is_err() {
            break;
        }
        left -= n as u64;
    }
    let _ = f.sync_all();
}
