//! What must survive: reopening, a second process, SIGKILL at any moment, and tampering.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use store::{
    verify_log, Actor, ActorKind, EventStore, ExpectedVersion, Json, NewEvent, StoreError, VerifyError,
};
use store_sled::{SledConfig, SledStore};
use uuid::Uuid;

fn event(n: u64) -> NewEvent {
    let actor = Actor { id: "person:a".into(), name: "A".into(), kind: ActorKind::Person, person: None };
    NewEvent::new(
        "TestHappened",
        1,
        Json::from_value(&serde_json::json!({ "n": n, "pad": "x".repeat(40) })),
        actor,
        Uuid::now_v7(),
    )
}

/// Opens the store (it waits itself for a handle of this process just dropped).
fn open(dir: &Path) -> SledStore {
    SledStore::open(SledConfig::new(dir)).expect("open")
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

/// sled releases its file lock from a background thread shortly after the last handle is gone:
/// a test that opens sled itself (not through `SledStore::open`, which waits) retries while the
/// error is that lock (up to 10 s).
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

/// Segments of a few events each (an event here is ~230 bytes), so tampering can reach closed
/// segments as well as the open one.
const SMALL_SEGMENTS: u64 = 600;

fn open_small(dir: &Path) -> Result<SledStore, StoreError> {
    let mut config = SledConfig::new(dir);
    config.segment_bytes = SMALL_SEGMENTS;
    let mut result = SledStore::open(config.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    while matches!(&result, Err(e) if e.to_string().contains("lock")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        result = SledStore::open(config.clone());
    }
    result
}

/// Writes `count` events to a new store of small segments in `dir`, closes it, and returns them.
async fn small_store_with(dir: &Path, count: u64) -> Vec<store::RecordedEvent> {
    let store = open_small(dir).expect("open");
    fill(&store, count).await;
    store.read_all(1, 10_000).await.expect("read")
}

/// The segment files of the store in `dir`: first position and path, in order.
fn segments(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut out: Vec<(u64, PathBuf)> = std::fs::read_dir(dir.join("segments"))
        .expect("segments")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .map(|p| (p.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse().ok()).expect("name"), p))
        .collect();
    out.sort();
    out
}

/// The file holding event `position` and the bytes of its frame there (length prefix included).
fn frame_of(dir: &Path, position: u64) -> (PathBuf, std::ops::Range<usize>) {
    let (first, path) = segments(dir).into_iter().rfind(|(first, _)| *first <= position).expect("segment");
    let bytes = std::fs::read(&path).expect("read segment");
    let mut at = 0;
    for _ in first..position {
        at += 4 + u32::from_be_bytes(bytes[at..at + 4].try_into().expect("length")) as usize;
    }
    let len = 4 + u32::from_be_bytes(bytes[at..at + 4].try_into().expect("length")) as usize;
    (path, at..at + len)
}

#[derive(Debug)]
enum After {
    Verified(u64),
    Broken(u64),
    OpenRefused(String),
}

/// Writes 20 events in small segments, lets `tamper` change the files in the data directory,
/// reopens the store and verifies the log.
fn verify_after(tamper: impl FnOnce(&Path)) -> After {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("dir");
    rt.block_on(async { fill(&open_small(dir.path()).expect("open"), 20).await });
    tamper(dir.path());
    rt.block_on(async {
        let store = match open_small(dir.path()) {
            Ok(store) => store,
            Err(e) => return After::OpenRefused(e.to_string()),
        };
        match verify_log(&store, |_| {}).await {
            Ok(report) => After::Verified(report.events),
            Err(VerifyError::Broken { position, .. }) => After::Broken(position),
            Err(e) => panic!("verify failed otherwise: {e}"),
        }
    })
}

fn edit(path: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).expect("read");
    change(&mut bytes);
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn verify_passes_on_an_untouched_log_of_many_segments() {
    let mut count = 0;
    assert!(matches!(verify_after(|dir| count = segments(dir).len()), After::Verified(20)));
    assert!(count >= 5, "the test means to cover closed segments; only {count} segments");
}

#[test]
fn verify_names_a_changed_byte_anywhere_in_an_event_of_a_closed_segment() {
    let dir = tempfile::tempdir().expect("dir");
    runtime().block_on(async { fill(&open_small(dir.path()).expect("open"), 20).await });
    let (path, frame) = frame_of(dir.path(), 7);
    assert_ne!(path, segments(dir.path()).last().expect("segments").1, "event 7 lies in a closed segment");
    // Every byte of the event (after the frame's length, which the offset index cross-checks).
    for offset in (4..frame.len()).step_by(11).chain([frame.len() - 1]) {
        let outcome = verify_after(|dir| {
            let (path, frame) = frame_of(dir, 7);
            edit(&path, |bytes| bytes[frame.start + offset] ^= 0x01);
        });
        assert!(matches!(outcome, After::Broken(7)), "byte {offset} changed: {outcome:?}");
    }
}

#[test]
fn verify_names_swapped_events() {
    let outcome = verify_after(|dir| {
        let ((a_path, a), (b_path, b)) = (frame_of(dir, 5), frame_of(dir, 6));
        assert_eq!(a.len(), b.len(), "the events are alike in size");
        let a_bytes = std::fs::read(&a_path).expect("read")[a.clone()].to_vec();
        let b_bytes = std::fs::read(&b_path).expect("read")[b.clone()].to_vec();
        edit(&a_path, |bytes| bytes[a].copy_from_slice(&b_bytes));
        edit(&b_path, |bytes| bytes[b].copy_from_slice(&a_bytes));
    });
    assert!(matches!(outcome, After::Broken(5)), "{outcome:?}");
}

#[test]
fn a_removed_event_stops_the_open_naming_its_segment() {
    let mut segment = PathBuf::new();
    let outcome = verify_after(|dir| {
        let (path, frame) = frame_of(dir, 12);
        edit(&path, |bytes| drop(bytes.drain(frame)));
        segment = path;
    });
    let After::OpenRefused(message) = outcome else { panic!("the open should fail: {outcome:?}") };
    assert!(message.contains("damaged") && message.contains(&segment.display().to_string()), "{message}");
}

#[test]
fn an_inserted_event_stops_the_open_naming_its_segment() {
    let mut segment = PathBuf::new();
    let outcome = verify_after(|dir| {
        let (path, frame) = frame_of(dir, 9);
        edit(&path, |bytes| {
            let copy = bytes[frame.clone()].to_vec();
            bytes.splice(frame.end..frame.end, copy);
        });
        segment = path;
    });
    let After::OpenRefused(message) = outcome else { panic!("the open should fail: {outcome:?}") };
    assert!(message.contains("damaged") && message.contains(&segment.display().to_string()), "{message}");
}

#[test]
fn a_stored_event_damaged_in_the_open_segment_stops_the_open_and_changes_nothing() {
    // Event 20 is in the open segment and was indexed: a bad frame there is damage, not a torn
    // write, and is not cut off.
    let dir = tempfile::tempdir().expect("dir");
    runtime().block_on(async { fill(&open_small(dir.path()).expect("open"), 20).await });
    let (path, frame) = frame_of(dir.path(), 20);
    assert_eq!(path, segments(dir.path()).last().expect("segments").1, "event 20 lies in the open segment");
    edit(&path, |bytes| bytes[frame.start + 40] ^= 0x01);
    let tampered = std::fs::read(&path).expect("read");
    match open_small(dir.path()) {
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains("damaged") && message.contains("event 20"), "{message}");
            assert!(message.contains(&path.display().to_string()), "{message}");
        }
        Ok(_) => panic!("the open should fail"),
    }
    assert_eq!(std::fs::read(&path).expect("read"), tampered, "the open changed the damaged segment");
    // The way out the README gives: without the index, the damaged event is the log's end.
    std::fs::remove_dir_all(dir.path().join("log")).expect("remove the index");
    let store = open_small(dir.path()).expect("open without the index");
    runtime().block_on(async {
        assert_eq!(store.head().await.expect("head").position, 19);
        // Event 20 was the seventh of `s-1`; the rebuilt index knows six.
        assert_eq!(store.stream_version("s-1").await.expect("version"), 6);
        verify_log(&store, |_| {}).await.expect("verifies");
    });
}

#[test]
fn a_lost_offset_index_is_rebuilt_at_open() {
    let dir = tempfile::tempdir().expect("dir");
    let rt = runtime();
    let before = rt.block_on(small_store_with(dir.path(), 20));
    // A crash while closing a segment: its index is missing or cut short.
    let (first, _) = segments(dir.path())[0];
    let index = dir.path().join("segments").join(format!("{first:020}.idx"));
    let (second, _) = segments(dir.path())[1];
    let short = dir.path().join("segments").join(format!("{second:020}.idx"));
    let original = std::fs::read(&index).expect("index");
    std::fs::remove_file(&index).expect("remove index");
    edit(&short, |bytes| bytes.truncate(bytes.len() - 3));
    rt.block_on(async {
        let store = open_small(dir.path()).expect("reopen");
        assert_eq!(store.read_all(1, 100).await.expect("read"), before);
        verify_log(&store, |_| {}).await.expect("verifies");
    });
    assert_eq!(std::fs::read(&index).expect("rebuilt index"), original);
}

// ---- crash test -------------------------------------------------------------------------------

/// Segments of a few dozen events, so that kills also land while a segment is being closed.
fn open_crash(dir: &Path) -> SledStore {
    let mut config = SledConfig::new(dir);
    config.segment_bytes = 8 * 1024;
    SledStore::open(config).expect("open")
}

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
            let store = open_crash(dir.path());
            replays += u32::from(store.replayed_at_open() > 0);
            check_acknowledged(&store, &acked, round).await;
        });
    }
    println!(
        "{} acknowledged events checked over {rounds} kills; {replays} reopenings indexed events again",
        acked.len()
    );
    assert!(
        acked.len() > rounds as usize,
        "the child acknowledged too little to test anything: {}",
        acked.len()
    );
    assert!(replays > 0, "no kill ever left events for the open to index again");
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
        .arg(test_name("acknowledged_events_survive_sigkill"))
        .args(["--exact", "--nocapture", "--test-threads=1"])
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
fn a_torn_write_at_the_end_of_the_log_is_cut_off() {
    let dir = tempfile::tempdir().expect("dir");
    let acked: BTreeMap<u64, String> =
        run_child_and_kill(dir.path(), Duration::from_millis(100)).into_iter().collect();
    assert!(!acked.is_empty());
    let (_, last) = segments(dir.path()).pop().expect("a segment");
    // Half a frame: a length that promises more than is there.
    let mut file = std::fs::OpenOptions::new().append(true).open(&last).expect("open segment");
    std::io::Write::write_all(&mut file, &[0, 0, 1, 0, 1, 2, 3]).expect("append garbage");
    drop(file);
    runtime().block_on(async {
        let store = open_crash(dir.path());
        check_acknowledged(&store, &acked, 0).await;
        let head = store.head().await.expect("head").position;
        let next = store.append("after", ExpectedVersion::NoStream, vec![event(1)]).await.expect("append");
        assert_eq!(next[0].position, head + 1);
    });
}

fn child(dir: &Path) -> ! {
    let rt = runtime();
    rt.block_on(async {
        let store = open_crash(dir);
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
/// after each; between two acknowledgements there must be an `fdatasync` of the open segment
/// after its `write`. Needs strace (`ROLLOUT_REQUIRE_STRACE=1`, as CI sets it, makes its absence
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
        .arg(test_name("every_acknowledged_append_was_fdatasynced_first"))
        .args(["--exact", "--nocapture", "--test-threads=1"])
        .env(STRACE_CHILD_DIR, dir.path().join("store"))
        .stdout(Stdio::null())
        .status()
        .expect("strace");
    assert!(status.success());
    let trace = std::fs::read_to_string(&trace).expect("trace");
    // Walk the calls in order: a segment write opens a window that only fdatasync of the same
    // file closes; an acknowledgement inside an open window is a violation.
    let mut unsynced = false;
    let mut acks = 0;
    for line in trace.lines() {
        if line.contains(".seg>") && line.contains("write(") {
            unsynced = true;
        } else if line.contains(".seg>") && line.contains("fdatasync(") && line.contains("= 0") {
            unsynced = false;
        } else if line.contains("\"ACK ") {
            assert!(!unsynced, "acknowledged before fdatasync:\n{trace}");
            acks += 1;
        }
    }
    assert_eq!(acks, 5, "every acknowledgement is in the trace:\n{trace}");
    let segment_syncs = trace.lines().filter(|l| l.contains("fdatasync(") && l.contains(".seg>")).count();
    assert!(segment_syncs >= 5, "one fdatasync per append at least, saw {segment_syncs}");
    println!(
        "{acks} acknowledgements, each after the segment's fdatasync ({segment_syncs} segment fdatasyncs)"
    );
}

// ---- stores of the first layout ----------------------------------------------------------------

/// Builds a store of the first layout in `dir`: events `..=in_sled` in sled as `E` keys with their
/// index entries, and events from `in_sled` (one overlapping) on in a journal file, as a crash
/// before a checkpoint left them.
fn first_layout_store(dir: &Path, events: &[store::RecordedEvent], in_sled: usize) {
    let db = when_unlocked(|| sled::open(dir.join("log")));
    let tree = db.open_tree("events").expect("tree");
    for e in &events[..in_sled] {
        let mut key = vec![b'E'];
        key.extend_from_slice(&e.position.to_be_bytes());
        tree.insert(key, store::encode(e)).expect("insert");
        let mut key = vec![b'V'];
        key.extend_from_slice(e.stream_id.as_bytes());
        key.push(0);
        key.extend_from_slice(&e.version.to_be_bytes());
        tree.insert(key, &e.position.to_be_bytes()).expect("insert");
        tree.insert([b"S".as_slice(), e.stream_id.as_bytes()].concat(), &e.version.to_be_bytes())
            .expect("insert");
        tree.insert([b"I".as_slice(), e.event_id.as_bytes()].concat(), &e.position.to_be_bytes())
            .expect("insert");
    }
    db.flush().expect("flush");
    let mut journal = Vec::new();
    for e in &events[in_sled - 1..] {
        let record = store::encode(e);
        journal.extend_from_slice(&(record.len() as u32).to_be_bytes());
        journal.extend_from_slice(&record);
    }
    std::fs::create_dir_all(dir.join("journal")).expect("journal dir");
    std::fs::write(dir.join("journal").join(format!("{:020}.journal", in_sled)), journal).expect("journal");
}

async fn memory_log(count: u64) -> Vec<store::RecordedEvent> {
    let memory = store::MemoryStore::new();
    fill_dyn(&memory, count).await;
    memory.read_all(1, 10_000).await.expect("read")
}

async fn fill_dyn(store: &dyn EventStore, count: u64) {
    for n in 0..count {
        store.append(&format!("s-{}", n % 3), ExpectedVersion::Any, vec![event(n)]).await.expect("append");
    }
}

#[tokio::test]
async fn a_store_of_the_first_layout_is_moved_into_segments_once() {
    let dir = tempfile::tempdir().expect("dir");
    let events = memory_log(30).await;
    first_layout_store(dir.path(), &events, 22);
    // Left by a copy a crash interrupted: replaced, not trusted.
    let moving = dir.path().join("segments.moving");
    std::fs::create_dir_all(&moving).expect("dir");
    std::fs::write(moving.join(format!("{:020}.seg", 1)), b"\0\0\0\x09half").expect("write");
    {
        let store = open_small(dir.path()).expect("open moves the events");
        assert_eq!(store.read_all(1, 100).await.expect("read"), events);
        assert_eq!(store.stream_version("s-2").await.expect("version"), 10);
        assert_eq!(store.replayed_at_open(), 30, "every event is indexed afresh after the move");
        verify_log(&store, |_| {}).await.expect("verifies");
        let next = store.append("s-0", ExpectedVersion::Exact(10), vec![event(99)]).await.expect("append");
        assert_eq!((next[0].position, next[0].prev_hash), (31, events[29].hash));
        // An event id of the first layout is still known: an append reusing it stores nothing.
        let reused = NewEvent { event_id: events[3].event_id, ..event(3) };
        let _ = store.append("s-0", ExpectedVersion::Any, vec![reused]).await;
        assert_eq!(store.head().await.expect("head").position, 31);
    }
    for gone in ["journal", "log.first-layout", "segments.moving"] {
        assert!(!dir.path().join(gone).exists(), "{gone} is gone after the move");
    }
    {
        let db = when_unlocked(|| sled::open(dir.path().join("log")));
        let tree = db.open_tree("index").expect("tree");
        assert_eq!(tree.scan_prefix(b"E").count(), 0, "the index holds no event");
        assert!(tree.contains_key(b"H").expect("get"), "the index is in its own tree");
    }
    let store = open_small(dir.path()).expect("reopen");
    assert_eq!(store.replayed_at_open(), 0, "a second open moves nothing");
    assert_eq!(store.read_all(1, 100).await.expect("read").len(), 31);
}

#[tokio::test]
async fn a_move_interrupted_after_the_old_index_was_set_aside_is_finished() {
    let dir = tempfile::tempdir().expect("dir");
    let events = small_store_with(dir.path(), 25).await;
    // The state between steps 2 and 3 of a move: the segments complete under their temporary
    // name, the old sled directory set aside, no index yet.
    std::fs::rename(dir.path().join("segments"), dir.path().join("segments.moving")).expect("rename");
    std::fs::rename(dir.path().join("log"), dir.path().join("log.first-layout")).expect("rename");
    let store = open_small(dir.path()).expect("open finishes the move");
    assert_eq!(store.read_all(1, 100).await.expect("read"), events);
    assert_eq!(store.stream_version("s-0").await.expect("version"), 9);
    assert!(!dir.path().join("log.first-layout").exists() && !dir.path().join("segments.moving").exists());
    verify_log(&store, |_| {}).await.expect("verifies");
}

#[tokio::test]
async fn an_index_whose_segments_are_gone_is_refused_not_taken_for_an_old_store() {
    let dir = tempfile::tempdir().expect("dir");
    fill(&open_small(dir.path()).expect("open"), 5).await;
    std::fs::remove_dir_all(dir.path().join("segments")).expect("remove the segments");
    match open_small(dir.path()) {
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains("records 5 events") && message.contains("are missing"), "{message}");
        }
        Ok(_) => panic!("an index without its segments must not open as an empty store"),
    }
    assert!(dir.path().join("log").exists(), "the index is left as it was");
}

/// Copies a data directory (files only, one level of subdirectories: `log`, `segments`).
fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

#[test]
fn a_log_cut_at_any_byte_opens_at_the_last_whole_event_once_the_index_is_rebuilt() {
    // What a crash inside a write leaves, at every place, and zeros a file system may leave
    // after the end: with the index gone (the README's way out), every cut is a torn write.
    let rt = runtime();
    let dir = tempfile::tempdir().expect("dir");
    let original = dir.path().join("original");
    rt.block_on(async { fill(&open(&original), 12).await });
    let segment = original.join("segments").join(format!("{:020}.seg", 1));
    let len = std::fs::metadata(&segment).expect("segment").len() as usize;
    let ends: Vec<usize> = (1..=12).map(|p| frame_of(&original, p).1.end).collect();
    for (round, cut) in (0..len).step_by(53).chain([len - 1, len]).enumerate() {
        let copy = dir.path().join(format!("cut-{round}"));
        copy_dir(&original, &copy);
        std::fs::remove_dir_all(copy.join("log")).expect("remove the index");
        let path = copy.join("segments").join(format!("{:020}.seg", 1));
        edit(&path, |bytes| {
            bytes.truncate(cut);
            bytes.extend_from_slice(&[0; 700][..(round % 3) * 350]);
        });
        let whole = ends.iter().filter(|&&end| end <= cut).count() as u64;
        rt.block_on(async {
            let store = open(&copy);
            assert_eq!(store.head().await.expect("head").position, whole, "cut at byte {cut}");
            verify_log(&store, |_| {}).await.unwrap_or_else(|e| panic!("cut at byte {cut}: {e}"));
            let next =
                store.append("after", ExpectedVersion::NoStream, vec![event(1)]).await.expect("append");
            assert_eq!(next[0].position, whole + 1);
        });
    }
}

#[tokio::test]
async fn a_move_interrupted_before_deleting_the_old_files_is_finished() {
    let dir = tempfile::tempdir().expect("dir");
    let events = small_store_with(dir.path(), 10).await;
    // The state after step 3: the segments in place, the old files still there.
    for old in ["log.first-layout", "journal"] {
        std::fs::create_dir_all(dir.path().join(old)).expect("dir");
        std::fs::write(dir.path().join(old).join("old"), b"old").expect("write");
    }
    let store = open_small(dir.path()).expect("open finishes the move");
    assert_eq!(store.read_all(1, 100).await.expect("read"), events);
    assert_eq!(store.replayed_at_open(), 0, "the index in place is kept");
    assert!(!dir.path().join("log.first-layout").exists() && !dir.path().join("journal").exists());
}

#[tokio::test]
async fn reads_across_more_segments_than_are_kept_open_find_every_event() {
    // ~3 events per segment: 300 events are ~100 segments, more than the 64 whose files are
    // kept open, so reading them in turn evicts and reopens handles.
    let dir = tempfile::tempdir().expect("dir");
    let events = small_store_with(dir.path(), 300).await;
    assert!(segments(dir.path()).len() > 64, "{} segments", segments(dir.path()).len());
    let store = open_small(dir.path()).expect("reopen");
    for round in 0..2 {
        for k in 0..events.len() {
            // Far apart in turn: every read lands in a segment other than the last one's.
            let position = 1 + ((k * 37) % events.len()) as u64;
            let event = store.read_event(position).await.expect("read").expect("event");
            assert_eq!(event, events[position as usize - 1], "round {round}, event {position}");
        }
    }
    assert_eq!(store.read_all(1, 10_000).await.expect("read"), events);
}

#[tokio::test]
async fn a_damaged_offset_index_is_an_error_naming_the_event_not_a_panic() {
    let dir = tempfile::tempdir().expect("dir");
    small_store_with(dir.path(), 20).await;
    let (first, _) = segments(dir.path())[1];
    let index = dir.path().join("segments").join(format!("{first:020}.idx"));
    // The second entry of the index points far beyond the file; its length and last entry are
    // intact, so the open does not notice.
    edit(&index, |bytes| bytes[4..8].copy_from_slice(&u32::MAX.to_be_bytes()));
    let store = open_small(dir.path()).expect("open");
    for position in [first, first + 1] {
        match store.read_event(position).await {
            Err(StoreError::Corrupt { position: at, reason }) => {
                assert!((first..=first + 1).contains(&at), "{at}: {reason}");
                assert!(reason.contains("offset index") && reason.contains(".seg"), "{reason}");
            }
            other => panic!("event {position}: expected a corruption error, got {other:?}"),
        }
    }
    assert!(
        matches!(verify_log(&store, |_| {}).await, Err(VerifyError::Broken { position, .. }) if position == first)
    );
}

#[test]
fn a_segment_size_out_of_range_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("dir");
    for size in [0, store_sled::SEGMENT_BYTES_MAX + 1] {
        let mut config = SledConfig::new(dir.path());
        config.segment_bytes = size;
        match SledStore::open(config) {
            Err(StoreError::Invalid(message)) => assert!(message.contains("segment size"), "{message}"),
            other => panic!("size {size}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "nothing was created");
}

#[tokio::test]
async fn what_an_older_binary_would_write_leaves_the_index_alone() {
    // An older `rollout` opens sled's tree `events`, finds no event there, takes the log for empty
    // and writes its own first event and index entries into that tree.
    let dir = tempfile::tempdir().expect("dir");
    let events = small_store_with(dir.path(), 12).await;
    let foreign = memory_log(1).await;
    {
        let db = when_unlocked(|| sled::open(dir.path().join("log")));
        let tree = db.open_tree("events").expect("tree");
        for key in [b"Es-0".to_vec(), b"Ss-0".to_vec(), [b"Vs-0\0".as_slice(), &1u64.to_be_bytes()].concat()]
        {
            tree.insert(key, store::encode(&foreign[0])).expect("insert");
        }
        db.flush().expect("flush");
    }
    let store = open_small(dir.path()).expect("open");
    assert_eq!(store.read_all(1, 100).await.expect("read"), events);
    assert_eq!(store.stream_version("s-0").await.expect("version"), 4);
    assert_eq!(store.read_stream("s-0", 1, store::Direction::Forward, 100).await.expect("stream").len(), 4);
    verify_log(&store, |_| {}).await.expect("verifies");
}

/// The full name of a test of this module, as the test binary knows it (`durability::name`),
/// for running it alone in a child process.
fn test_name(name: &str) -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    format!("{module}::{name}")
}
