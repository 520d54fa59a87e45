//! What must survive: reopening, a second process, SIGKILL at any moment, and tampering.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use store::{
    verify_log, Actor, ActorKind, EventStore, ExpectedVersion, Json, NewEvent, StoreError, VerifyError,
};
use store_sled::{event_key, SledConfig, SledStore};
use uuid::Uuid;

fn event(n: u64) -> NewEvent {
    let actor = Actor { id: "person:a".into(), name: "A".into(), kind: ActorKind::Person };
    NewEvent::new(
        "TestHappened",
        1,
        Json::from_value(&serde_json::json!({ "n": n, "pad": "x".repeat(40) })),
        actor,
        Uuid::now_v7(),
    )
}

/// Opens the store; waits for sled to release a lock a handle of this process just dropped.
fn open(dir: &Path) -> SledStore {
    when_unlocked(|| SledStore::open(SledConfig::new(dir)))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

async fn fill(store: &SledStore, count: u64) {
    for n in 0..count {
        store.append(&format!("s-{}", n % 3), ExpectedVersion::Any, vec![event(n)]).await.expect("append");
    }
}

#[tokio::test]
async fn reopened_store_has_every_event_and_continues_the_chain() {
    let dir = tempfile::tempdir().expect("dir");
    let before = {
        let store = open(dir.path());
        fill(&store, 25).await;
        store.read_all(1, 100).await.expect("read")
    };
    let store = open(dir.path());
    assert_eq!(store.read_all(1, 100).await.expect("read"), before);
    assert_eq!(store.head().await.expect("head").hash, before[24].hash);
    let next = store.append("s-0", ExpectedVersion::Exact(9), vec![event(99)]).await.expect("append");
    assert_eq!((next[0].position, next[0].prev_hash), (26, before[24].hash));
    verify_log(&store, |_| {}).await.expect("verifies");
}

#[tokio::test]
async fn a_second_opener_gets_a_clear_error() {
    let dir = tempfile::tempdir().expect("dir");
    let _first = open(dir.path());
    match SledStore::open(SledConfig::new(dir.path())) {
        Err(StoreError::Locked(message)) => {
            assert!(message.contains("in use by another process"), "{message}");
            assert!(message.contains(&dir.path().display().to_string()), "{message}");
        }
        other => panic!("expected a lock error, got {other:?}"),
    }
}

/// Writes 20 events, lets `tamper` change the raw sled tree, and returns what verify says.
fn verify_after(tamper: impl FnOnce(&sled::Tree)) -> Result<u64, VerifyError> {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("dir");
    rt.block_on(async { fill(&open(dir.path()), 20).await });
    {
        let db = open_raw(&dir.path().join("log"));
        tamper(&db.open_tree("events").expect("tree"));
        db.flush().expect("flush");
    }
    rt.block_on(async {
        let store = open(dir.path());
        verify_log(&store, |_| {}).await.map(|r| r.events)
    })
}

fn open_raw(path: &Path) -> sled::Db {
    when_unlocked(|| sled::open(path))
}

/// sled releases its file lock from a background thread shortly after the last handle is gone:
/// a reopen in the same process retries while the error is that lock (up to 10 s).
fn when_unlocked<T, E: std::fmt::Display>(mut open: impl FnMut() -> Result<T, E>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open() {
            Ok(opened) => return opened,
            Err(e) if Instant::now() < deadline && e.to_string().contains("lock") => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("open: {e}"),
        }
    }
}

fn broken_at(result: Result<u64, VerifyError>) -> u64 {
    match result {
        Err(VerifyError::Broken { position, .. }) => position,
        other => panic!("verify should have failed, got {other:?}"),
    }
}

#[test]
fn verify_passes_on_an_untouched_log() {
    assert_eq!(verify_after(|_| {}).expect("verifies"), 20);
}

#[test]
fn verify_names_a_changed_byte_anywhere_in_an_event() {
    let len = {
        let rt = runtime();
        let dir = tempfile::tempdir().expect("dir");
        rt.block_on(async {
            let store = open(dir.path());
            fill(&store, 1).await;
            store::encode(&store.read_event(1).await.expect("read").expect("event")).len()
        })
    };
    for offset in (0..len).step_by(11).chain([len - 1]) {
        let position = broken_at(verify_after(|tree| {
            let mut bytes = tree.get(event_key(7)).expect("get").expect("event 7").to_vec();
            bytes[offset] ^= 0x01;
            tree.insert(event_key(7), bytes).expect("insert");
        }));
        assert_eq!(position, 7, "byte {offset} changed");
    }
}

#[test]
fn verify_names_a_removed_event() {
    assert_eq!(broken_at(verify_after(|tree| drop(tree.remove(event_key(12)).expect("remove")))), 12);
}

#[test]
fn verify_names_swapped_events() {
    let position = broken_at(verify_after(|tree| {
        let a = tree.get(event_key(5)).expect("get").expect("5");
        let b = tree.get(event_key(6)).expect("get").expect("6");
        tree.insert(event_key(5), b).expect("insert");
        tree.insert(event_key(6), a).expect("insert");
    }));
    assert_eq!(position, 5);
}

#[test]
fn verify_names_an_inserted_event() {
    // An event copied in between: everything after it shifts by one.
    let position = broken_at(verify_after(|tree| {
        for p in (9..=20).rev() {
            let e = tree.get(event_key(p)).expect("get").expect("event");
            tree.insert(event_key(p + 1), e).expect("insert");
        }
    }));
    assert_eq!(position, 10);
}

// ---- crash test -------------------------------------------------------------------------------

const CHILD_DIR: &str = "ROLLOUT_CRASH_CHILD_DIR";

/// A child process appends under concurrent load and prints every acknowledged event; the parent
/// kills it with SIGKILL at random moments, reopens the store and checks that every acknowledged
/// event is there, unchanged, and that the chain verifies. Rounds: `ROLLOUT_CRASH_ROUNDS`
/// (default 20); seed: `ROLLOUT_CRASH_SEED` (printed, for replay).
#[test]
fn acknowledged_events_survive_sigkill() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        child(Path::new(&dir));
    }
    let rounds: u32 = std::env::var("ROLLOUT_CRASH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(20);
    let seed: u64 =
        std::env::var("ROLLOUT_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("crash test seed {seed} (ROLLOUT_CRASH_SEED={seed} replays the kill times)");
    let mut rng = seed | 1;
    let dir = tempfile::tempdir().expect("dir");
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut replays = 0;
    let rt = runtime();
    for round in 0..rounds {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        acked.extend(run_child_and_kill(dir.path(), Duration::from_millis(rng % 250)));
        rt.block_on(async {
            let store = open(dir.path());
            replays += u32::from(store.replayed_at_open() > 0);
            check_acknowledged(&store, &acked, round).await;
        });
    }
    println!(
        "{} acknowledged events checked over {rounds} kills; {replays} reopenings replayed the journal",
        acked.len()
    );
    assert!(
        acked.len() > rounds as usize,
        "the child acknowledged too little to test anything: {}",
        acked.len()
    );
    assert!(replays > 0, "no kill ever left events for the journal to replay");
}

/// Every acknowledged event is present and unchanged, and the chain verifies.
async fn check_acknowledged(store: &SledStore, acked: &BTreeMap<u64, String>, round: u32) {
    for (&position, hash) in acked {
        let event = store.read_event(position).await.expect("read");
        let event = event.unwrap_or_else(|| panic!("round {round}: acknowledged event {position} is lost"));
        assert_eq!(&event.hash.to_string(), hash, "round {round}: event {position} changed");
    }
    let report = verify_log(store, |_| {}).await.unwrap_or_else(|e| panic!("round {round}: {e}"));
    assert!(report.events >= acked.len() as u64);
}

/// Starts a child that appends to the store in `dir`, kills it with SIGKILL `kill_after` once it
/// writes, and returns the events it acknowledged (position → hash).
fn run_child_and_kill(dir: &Path, kill_after: Duration) -> Vec<(u64, String)> {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["acknowledged_events_survive_sigkill", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some((position, hash)) = line.strip_prefix("ACK ").and_then(|a| a.split_once(' ')) {
                acks.push((position.parse().expect("position"), hash.to_owned()));
            }
        }
        acks
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && std::fs::metadata(dir.join("WRITING")).is_err() {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(kill_after);
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    let _ = std::fs::remove_file(dir.join("WRITING"));
    reader.join().expect("reader")
}

#[test]
fn a_torn_write_at_the_end_of_the_journal_is_cut_off() {
    let dir = tempfile::tempdir().expect("dir");
    let acked: BTreeMap<u64, String> =
        run_child_and_kill(dir.path(), Duration::from_millis(100)).into_iter().collect();
    assert!(!acked.is_empty());
    let journal = std::fs::read_dir(dir.path().join("journal"))
        .expect("journal dir")
        .map(|e| e.expect("entry").path())
        .max()
        .expect("a journal file");
    // Half a frame: a length that promises more than is there.
    let mut file = std::fs::OpenOptions::new().append(true).open(&journal).expect("open journal");
    std::io::Write::write_all(&mut file, &[0, 0, 1, 0, 1, 2, 3]).expect("append garbage");
    drop(file);
    runtime().block_on(async {
        let store = open(dir.path());
        check_acknowledged(&store, &acked, 0).await;
        let head = store.head().await.expect("head").position;
        let next = store.append("after", ExpectedVersion::NoStream, vec![event(1)]).await.expect("append");
        assert_eq!(next[0].position, head + 1);
    });
}

#[test]
fn a_damaged_journal_before_its_end_stops_the_open() {
    let dir = tempfile::tempdir().expect("dir");
    let rt = runtime();
    rt.block_on(async { fill(&open(dir.path()), 3).await });
    // Two journal files, the older one damaged: that is not a torn write but corruption.
    let journal = dir.path().join("journal");
    std::fs::write(journal.join("00000000000000000001.journal"), [0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        .expect("write");
    std::fs::write(journal.join("00000000000000000002.journal"), []).expect("write");
    match SledStore::open(SledConfig::new(dir.path())) {
        Err(StoreError::Io(message)) => {
            assert!(message.contains("is corrupt at byte 0"), "{message}")
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

fn child(dir: &Path) -> ! {
    let rt = runtime();
    rt.block_on(async {
        let store = open(dir);
        std::fs::write(dir.join("WRITING"), b"").expect("marker");
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0u64.. {
                        let batch: Vec<_> = (0..1 + i % 3).map(event).collect();
                        let stored = store
                            .append(&format!("w{w}"), ExpectedVersion::Any, batch)
                            .await
                            .expect("append");
                        let mut out = String::new();
                        for e in stored {
                            out.push_str(&format!("ACK {} {}\n", e.position, e.hash));
                        }
                        use std::io::Write;
                        let mut stdout = std::io::stdout().lock();
                        stdout.write_all(out.as_bytes()).expect("write ack");
                        stdout.flush().expect("flush ack");
                    }
                })
            })
            .collect();
        for w in writers {
            let _ = w.await;
        }
    });
    std::process::exit(0)
}

// ---- durability barrier, seen from the kernel ----------------------------------------------

const STRACE_CHILD_DIR: &str = "ROLLOUT_STRACE_CHILD_DIR";

/// Runs a child under `strace` that appends 5 events one by one and prints an acknowledgement
/// after each; between two acknowledgements there must be an `fdatasync` of the journal after
/// the journal `write`. Needs strace (`ROLLOUT_REQUIRE_STRACE=1`, as CI sets it, makes its absence
/// a failure).
#[test]
fn every_acknowledged_append_was_fdatasynced_first() {
    if let Some(dir) = std::env::var_os(STRACE_CHILD_DIR) {
        runtime().block_on(async {
            let store = open(Path::new(&dir));
            for n in 0..5 {
                let stored = store.append("s", ExpectedVersion::Any, vec![event(n)]).await.expect("append");
                println!("ACK {}", stored[0].position);
            }
        });
        return;
    }
    if Command::new("strace").arg("-V").output().is_err() {
        assert!(std::env::var_os("ROLLOUT_REQUIRE_STRACE").is_none(), "strace is required but not installed");
        println!("skipped: strace is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let trace = dir.path().join("trace.txt");
    let status = Command::new("strace")
        .args(["-f", "-y", "-e", "trace=write,fdatasync,fsync,sync_file_range", "-o"])
        .arg(&trace)
        .arg(std::env::current_exe().expect("test binary"))
        .args([
            "every_acknowledged_append_was_fdatasynced_first",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(STRACE_CHILD_DIR, dir.path().join("store"))
        .stdout(Stdio::null())
        .status()
        .expect("strace");
    assert!(status.success());
    let trace = std::fs::read_to_string(&trace).expect("trace");
    // Walk the calls in order: a journal write opens a window that only fdatasync of the same
    // file closes; an acknowledgement inside an open window is a violation.
    let mut unsynced = false;
    let mut acks = 0;
    for line in trace.lines() {
        if line.contains(".journal>") && line.contains("write(") {
            unsynced = true;
        } else if line.contains(".journal>") && line.contains("fdatasync(") && line.contains("= 0") {
            unsynced = false;
        } else if line.contains("\"ACK ") {
            assert!(!unsynced, "acknowledged before fdatasync:\n{trace}");
            acks += 1;
        }
    }
    assert_eq!(acks, 5, "every acknowledgement is in the trace:\n{trace}");
    let journal_syncs = trace.lines().filter(|l| l.contains("fdatasync(") && l.contains(".journal>")).count();
    assert!(journal_syncs >= 5, "one fdatasync per append at least, saw {journal_syncs}");
    println!(
        "{acks} acknowledgements, each after the journal's fdatasync ({journal_syncs} journal fdatasyncs)"
    );
}
