//! The embedded default event store, on sled.
//!
//! The append path (see ARCHITECTURE.md):
//! 1. `append` checks nothing itself: it queues a request for the writer thread and awaits its
//!    answer.
//! 2. The writer takes every request waiting at that moment (a group, up to
//!    [`GROUP_APPENDS_MAX`]) and plans each with the shared chain rules
//!    ([`store::plan_append`]): limits, idempotency, expected version, positions, hashes. A
//!    refused append does not stop the others. Positions are assigned here, by the one writer,
//!    so position order is commit order.
//! 3. One durability barrier for the group: its events are written to the journal in one
//!    `write` and one `fdatasync` (see [`journal`]).
//! 4. The group's events and their index entries are inserted into sled's tree, in memory, in
//!    position order. (Not as a sled batch: sled seals and syncs its write buffer for every
//!    batch, which would put a second device round trip on every group. Atomicity comes from
//!    the journal instead: after a crash, sled holds a prefix of these inserts and the journal
//!    replay completes it.)
//! 5. Only then the durable head advances (reads never show more), live subscribers get the
//!    batch, and every caller of the group gets its answer.
//! 6. Apart from the writer, a checkpointer flushes sled every [`journal::CHECKPOINT_INTERVAL`]
//!    and `fdatasync`s its file itself (sled's own flush ends in `sync_file_range`, which leaves
//!    the disk's write cache alone); journal files below the checkpoint are then deleted.
//!    On open, journal events that sled lost are replayed into it.

mod journal;
mod keys;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use store::{
    check_retry, plan_append, plan_continuation, AppendIndex, Clock, Committed, Direction, EventStore,
    ExpectedVersion, Head, NewEvent, Plan, RecordedEvent, StoreError, SystemClock,
};
use tokio::sync::{broadcast, mpsc, oneshot};
use uuid::Uuid;

pub use keys::event_key;

/// Appends committed together at most.
pub const GROUP_APPENDS_MAX: usize = 1_024;
/// Payload bytes committed together at most (a group closes once it has more).
pub const GROUP_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Requests waiting for the writer at most; further appends wait for room.
const QUEUE_DEPTH: usize = 8_192;
/// Capacity of the live channel; a subscriber further behind reads the log instead.
const LIVE_CHANNEL_BATCHES: usize = 1_024;
/// sled's page cache, unless configured otherwise. Small: on a log of a million events, first
/// reads (audit pages, the whole log at a rebuild) and appends were as fast with 32 MiB as with
/// 256 MiB (the operating system caches the file too); only reading the same events again was
/// faster with the larger cache, and every MiB of it is resident memory (BENCHMARKS.md, "Read
/// models").
pub const CACHE_BYTES_DEFAULT: u64 = 32 * 1024 * 1024;

/// Where and how to open the store.
#[derive(Debug, Clone)]
pub struct SledConfig {
    /// The data directory. The log lives in `DIR/log`; `DIR/LOCK` keeps a second process out.
    pub dir: PathBuf,
    /// Bytes of sled's page cache.
    pub cache_bytes: u64,
    pub clock: Arc<dyn Clock>,
}

impl SledConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SledConfig { dir: dir.into(), cache_bytes: CACHE_BYTES_DEFAULT, clock: Arc::new(SystemClock) }
    }
}

/// Counters of the writer since the store was opened (for metrics and benchmarks).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriterStats {
    /// Durability barriers (one per group commit).
    pub groups: u64,
    /// Appends written (retries and refusals not counted).
    pub appends: u64,
    pub events: u64,
}

#[derive(Debug, Default)]
struct Counters {
    groups: AtomicU64,
    appends: AtomicU64,
    events: AtomicU64,
}

/// The event store on sled. Cheap to clone; the writer thread stops when the last clone is gone.
#[derive(Clone, Debug)]
pub struct SledStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tree: sled::Tree,
    db: sled::Db,
    /// Position of the last durable event: reads stop here.
    durable: Arc<AtomicU64>,
    durable_head: Arc<Mutex<Head>>,
    live: broadcast::Sender<Committed>,
    counters: Arc<Counters>,
    /// Events replayed from the journal when the store was opened.
    replayed: u64,
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<std::thread::JoinHandle<()>>,
    checkpointer: Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<bool>)>,
    journal_dir: PathBuf,
    _lock: File,
}

enum Request {
    Append {
        stream_id: String,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        reply: oneshot::Sender<Result<Vec<RecordedEvent>, StoreError>>,
    },
    Recorded {
        events: Vec<RecordedEvent>,
        reply: oneshot::Sender<Result<Vec<RecordedEvent>, StoreError>>,
    },
}

impl Request {
    fn payload_bytes(&self) -> usize {
        match self {
            Request::Append { events, .. } => events.iter().map(|e| e.data.len()).sum(),
            Request::Recorded { events, .. } => events.iter().map(|e| e.data.len()).sum(),
        }
    }
}

/// Keeps other processes out of a data directory (created if missing): an exclusive `flock` on
/// `DIR/LOCK`, held until the returned file is dropped. [`SledStore::open`] takes it; a server
/// whose log is elsewhere takes it for its own files there (checkpoint, admin token).
pub fn lock_data_dir(dir: &Path) -> Result<File, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| io_at(dir, e))?;
    let lock_path = dir.join("LOCK");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| io_at(&lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(format!(
            "the data directory {} is in use by another process (it holds {})",
            dir.display(),
            lock_path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(io_at(&lock_path, e)),
    }
}

impl SledStore {
    /// Opens (or creates) the store in `config.dir`. Fails with [`StoreError::Locked`] when
    /// another process has it open.
    pub fn open(config: SledConfig) -> Result<Self, StoreError> {
        let dir = &config.dir;
        let lock = lock_data_dir(dir)?;
        let log_dir = dir.join("log");
        let db = sled::Config::new()
            .path(&log_dir)
            .cache_capacity(config.cache_bytes)
            .mode(sled::Mode::HighThroughput)
            // Durability is ours: the writer flushes and syncs each group itself.
            .flush_every_ms(None)
            .open()
            .map_err(|e| StoreError::Io(format!("cannot open the log in {}: {e}", log_dir.display())))?;
        let tree = db.open_tree("events").map_err(sled_err)?;
        // New files and directories must survive a crash too.
        sync_dir(dir)?;
        sync_dir(&log_dir)?;
        let db_file = File::open(log_dir.join("db")).map_err(|e| io_at(&log_dir.join("db"), e))?;
        let mut checkpointer = Checkpointer {
            db: db.clone(),
            db_file,
            blob_dir: log_dir.join("blobs"),
            synced_blobs: HashSet::new(),
            durable: Arc::new(AtomicU64::new(0)),
            checkpoint: Arc::new(AtomicU64::new(0)),
        };

        let (mut head, mut failed) = match read_head(&tree) {
            Ok(head) => (head, None),
            Err((head, e)) => {
                tracing::error!(error = %e, "the last stored event is unreadable; appends are refused");
                (head, Some(e.to_string()))
            }
        };
        let journal_dir = dir.join("journal");
        let before_replay = head.position;
        if failed.is_none() {
            head = replay_journal(&tree, head, &journal_dir)?;
        }
        let replayed = head.position - before_replay;
        checkpointer.durable.store(head.position, Ordering::Release);
        checkpointer.run_once()?;
        let journal = match journal::Journal::start(&journal_dir, head.position + 1) {
            Ok(journal) => Some(journal),
            Err(e) if failed.is_some() => {
                tracing::error!(error = %e, "cannot start the journal");
                None
            }
            Err(e) => return Err(e),
        };
        if journal.is_none() && failed.is_none() {
            failed = Some("the journal could not be started".into());
        }
        let durable = checkpointer.durable.clone();
        let checkpoint = checkpointer.checkpoint.clone();
        let durable_head = Arc::new(Mutex::new(head));
        let (live, _) = broadcast::channel(LIVE_CHANNEL_BATCHES);
        let (requests, queue) = mpsc::channel(QUEUE_DEPTH);
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            counters: counters.clone(),
            tree: tree.clone(),
            journal,
            checkpoint,
            head,
            durable: durable.clone(),
            durable_head: durable_head.clone(),
            live: live.clone(),
            clock: config.clock.clone(),
            failed,
        };
        let writer = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(StoreError::from)?;
        let (stop_checkpoints, stop) = std::sync::mpsc::channel::<()>();
        let checkpointer = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || checkpointer.run(stop))
            .map_err(StoreError::from)?;
        Ok(SledStore {
            inner: Arc::new(Inner {
                tree,
                db,
                durable,
                durable_head,
                live,
                counters,
                replayed,
                requests: Some(requests),
                writer: Some(writer),
                checkpointer: Some((stop_checkpoints, checkpointer)),
                journal_dir,
                _lock: lock,
            }),
        })
    }

    async fn request(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<Vec<RecordedEvent>, StoreError>>) -> Request,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let requests = self.inner.requests.as_ref().ok_or(StoreError::Closed)?;
        requests.send(make(reply)).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    fn durable(&self) -> u64 {
        self.inner.durable.load(Ordering::Acquire)
    }

    fn event_at(&self, position: u64) -> Result<Option<RecordedEvent>, StoreError> {
        match self.inner.tree.get(event_key(position)).map_err(sled_err)? {
            Some(bytes) => decode_at(position, &bytes).map(Some),
            None => Ok(None),
        }
    }

    pub fn writer_stats(&self) -> WriterStats {
        let c = &self.inner.counters;
        WriterStats {
            groups: c.groups.load(Ordering::Relaxed),
            appends: c.appends.load(Ordering::Relaxed),
            events: c.events.load(Ordering::Relaxed),
        }
    }

    /// Events that were replayed from the journal into sled when the store was opened (they were
    /// acknowledged before a crash, after the last checkpoint).
    pub fn replayed_at_open(&self) -> u64 {
        self.inner.replayed
    }

    /// Bytes sled's files take on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.inner.db.size_on_disk().map_err(sled_err)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer after it has answered every queued request.
        self.requests.take();
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                tracing::error!("the store writer thread panicked");
            }
        }
        // The checkpointer makes a last checkpoint when it stops.
        if let Some((stop, checkpointer)) = self.checkpointer.take() {
            drop(stop);
            match checkpointer.join() {
                // sled holds every event durably: the journal is not needed to reopen.
                Ok(true) => {
                    if let Err(e) = journal::remove_all(&self.journal_dir) {
                        tracing::warn!(error = %e, "could not remove the journal after the last checkpoint");
                    }
                }
                Ok(false) => {
                    tracing::warn!("the last checkpoint failed; the journal is replayed on the next open")
                }
                Err(_) => tracing::error!("the store checkpoint thread panicked"),
            }
        }
    }
}

#[async_trait::async_trait]
impl EventStore for SledStore {
    async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let stream_id = stream_id.to_owned();
        self.request(|reply| Request::Append { stream_id, expected, events, reply }).await
    }

    async fn append_recorded(&self, events: Vec<RecordedEvent>) -> Result<(), StoreError> {
        store::limits::check_recorded(&events)?;
        self.request(|reply| Request::Recorded { events, reply }).await.map(|_| ())
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from: u64,
        direction: Direction,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let max = max.min(store::limits::READ_BATCH_MAX);
        let durable = self.durable();
        let (low, high) = (keys::version_key(stream_id, 1), keys::version_key(stream_id, u64::MAX));
        let entries: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match direction {
            Direction::Forward => {
                Box::new(self.inner.tree.range(keys::version_key(stream_id, from.max(1))..=high))
            }
            Direction::Backward => {
                if from == 0 {
                    return Ok(Vec::new());
                }
                Box::new(self.inner.tree.range(low..=keys::version_key(stream_id, from)).rev())
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            if out.len() == max {
                break;
            }
            let (_, position) = entry.map_err(sled_err)?;
            let position = keys::decode_u64(&position)
                .ok_or_else(|| StoreError::Io(format!("bad index entry in stream `{stream_id}`")))?;
            if position > durable {
                // Committed but not yet durable: not shown yet.
                if direction == Direction::Forward {
                    break;
                }
                continue;
            }
            match self.event_at(position)? {
                Some(event) => out.push(event),
                None => {
                    return Err(StoreError::Corrupt { position, reason: "indexed event is missing".into() })
                }
            }
        }
        Ok(out)
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64, StoreError> {
        stored_stream_version(&self.inner.tree, stream_id)
    }

    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let durable = self.durable();
        let from = from.max(1);
        if from > durable {
            return Ok(Vec::new());
        }
        let max = max.min(store::limits::READ_BATCH_MAX).min((durable - from + 1) as usize);
        // Positions are dense up to `durable`: exactly `max` events follow.
        let mut out = Vec::with_capacity(max);
        for entry in self.inner.tree.range(event_key(from)..=event_key(durable)).take(max) {
            let (key, bytes) = entry.map_err(sled_err)?;
            let position = keys::decode_u64(&key[1..]).unwrap_or(0);
            out.push(decode_at(position, &bytes)?);
        }
        Ok(out)
    }

    async fn read_category(
        &self,
        prefix: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let max = max.min(store::limits::READ_BATCH_MAX);
        let durable = self.durable();
        // The stream index (`V` stream 0 version → position) holds the category's streams
        // side by side; their positions, sorted, are the category in log order.
        let mut positions = Vec::new();
        for entry in self.inner.tree.scan_prefix(keys::version_key_prefix(prefix)) {
            let (_, position) = entry.map_err(sled_err)?;
            let position = keys::decode_u64(&position)
                .ok_or_else(|| StoreError::Io(format!("bad index entry in category `{prefix}`")))?;
            if position > after && position <= durable {
                positions.push(position);
            }
        }
        positions.sort_unstable();
        positions.truncate(max);
        let mut out = Vec::with_capacity(positions.len());
        for position in positions {
            match self.event_at(position)? {
                Some(event) => out.push(event),
                None => {
                    return Err(StoreError::Corrupt { position, reason: "indexed event is missing".into() })
                }
            }
        }
        Ok(out)
    }

    async fn read_event(&self, position: u64) -> Result<Option<RecordedEvent>, StoreError> {
        if position == 0 || position > self.durable() {
            return Ok(None);
        }
        self.event_at(position)
    }

    async fn head(&self) -> Result<Head, StoreError> {
        Ok(*self.inner.durable_head.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn notifications(&self) -> broadcast::Receiver<Committed> {
        self.inner.live.subscribe()
    }
}

/// The single writer: owns the head and every append.
struct Writer {
    tree: sled::Tree,
    /// `None` only when the store failed to open cleanly (then `failed` says why).
    journal: Option<journal::Journal>,
    /// Position up to which sled itself is durable (set by the checkpointer).
    checkpoint: Arc<AtomicU64>,
    /// The head including this group's planned events.
    head: Head,
    durable: Arc<AtomicU64>,
    durable_head: Arc<Mutex<Head>>,
    live: broadcast::Sender<Committed>,
    counters: Arc<Counters>,
    clock: Arc<dyn Clock>,
    /// Set when the log can no longer be trusted to match what callers were told; every append
    /// is refused with this reason until the store is reopened.
    failed: Option<String>,
}

type Reply = oneshot::Sender<Result<Vec<RecordedEvent>, StoreError>>;

enum Outcome {
    Written(Reply, Vec<RecordedEvent>),
    Retry { reply: Reply, stream_id: String, events: Vec<NewEvent>, positions: Vec<u64> },
    Refused(Reply, StoreError),
}

impl Writer {
    fn run(mut self, mut queue: mpsc::Receiver<Request>) {
        while let Some(first) = queue.blocking_recv() {
            let mut bytes = first.payload_bytes();
            let mut group = vec![first];
            while group.len() < GROUP_APPENDS_MAX && bytes < GROUP_BYTES_MAX {
                match queue.try_recv() {
                    Ok(request) => {
                        bytes += request.payload_bytes();
                        group.push(request);
                    }
                    Err(_) => break,
                }
            }
            self.commit(group);
            if let Some(journal) = self.journal.as_mut() {
                if let Err(e) = journal.maintain(self.checkpoint.load(Ordering::Acquire)) {
                    tracing::error!(error = %e, "journal maintenance failed; refusing further appends");
                    self.failed = Some(format!("the journal failed ({e}); restart the server"));
                }
            }
        }
    }

    fn commit(&mut self, group: Vec<Request>) {
        let start_head = self.head;
        let mut pending = Pending { tree: &self.tree, versions: HashMap::new(), ids: HashMap::new() };
        let mut written: Vec<RecordedEvent> = Vec::new();
        let mut outcomes = Vec::with_capacity(group.len());
        let now = self.clock.now();
        for request in group {
            if let Some(reason) = &self.failed {
                let (Request::Append { reply, .. } | Request::Recorded { reply, .. }) = request;
                outcomes.push(Outcome::Refused(reply, StoreError::Io(reason.clone())));
                continue;
            }
            match request {
                Request::Append { stream_id, expected, events, reply } => {
                    let retry = events.clone();
                    match plan_append(&mut pending, &mut self.head, &stream_id, expected, events, now) {
                        Ok(Plan::Write(records)) => {
                            pending.plan(&records);
                            written.extend(records.iter().cloned());
                            outcomes.push(Outcome::Written(reply, records));
                        }
                        Ok(Plan::AlreadyStored(positions)) => {
                            outcomes.push(Outcome::Retry { reply, stream_id, events: retry, positions })
                        }
                        Err(e) => outcomes.push(Outcome::Refused(reply, e)),
                    }
                }
                Request::Recorded { events, reply } => {
                    let mut head = self.head;
                    let mut versions = pending.versions.clone();
                    match plan_continuation(&mut pending, &mut head, &events, &mut versions) {
                        Ok(()) => {
                            self.head = head;
                            pending.plan(&events);
                            written.extend(events.iter().cloned());
                            outcomes.push(Outcome::Written(reply, Vec::new()));
                        }
                        Err(e) => outcomes.push(Outcome::Refused(reply, e)),
                    }
                }
            }
        }
        if !written.is_empty() {
            if let Err(e) = self.make_durable(&written) {
                // What is on disk is unknown now; nobody is told a write succeeded, and no
                // further write is taken until the store is reopened (which rereads the head).
                let reason = format!("the log could not be made durable ({e}); restart the server");
                tracing::error!(error = %e, "commit failed; refusing further appends");
                self.failed = Some(reason.clone());
                self.head = start_head;
                for outcome in outcomes {
                    let (Outcome::Written(reply, _)
                    | Outcome::Retry { reply, .. }
                    | Outcome::Refused(reply, _)) = outcome;
                    let _ = reply.send(Err(StoreError::Io(reason.clone())));
                }
                return;
            }
            self.durable.store(self.head.position, Ordering::Release);
            let appends = outcomes.iter().filter(|o| matches!(o, Outcome::Written(..))).count();
            self.counters.groups.fetch_add(1, Ordering::Relaxed);
            self.counters.appends.fetch_add(appends as u64, Ordering::Relaxed);
            self.counters.events.fetch_add(written.len() as u64, Ordering::Relaxed);
            *self.durable_head.lock().unwrap_or_else(|p| p.into_inner()) = self.head;
            let _ = self.live.send(written.into());
        }
        for outcome in outcomes {
            match outcome {
                Outcome::Written(reply, records) => {
                    let _ = reply.send(Ok(records));
                }
                Outcome::Refused(reply, e) => {
                    let _ = reply.send(Err(e));
                }
                Outcome::Retry { reply, stream_id, events, positions } => {
                    let _ = reply.send(self.stored(&stream_id, &events, &positions));
                }
            }
        }
    }

    fn stored(
        &self,
        stream_id: &str,
        events: &[NewEvent],
        positions: &[u64],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut out = Vec::with_capacity(positions.len());
        for &position in positions {
            let bytes = self
                .tree
                .get(event_key(position))
                .map_err(sled_err)?
                .ok_or_else(|| StoreError::Corrupt { position, reason: "indexed event is missing".into() })?;
            out.push(decode_at(position, &bytes)?);
        }
        check_retry(stream_id, events, &out)?;
        Ok(out)
    }

    /// Returns once the group's events are on stable storage (the journal) and in sled.
    fn make_durable(&mut self, events: &[RecordedEvent]) -> Result<(), StoreError> {
        let journal = self.journal.as_mut().ok_or(StoreError::Closed)?;
        journal.write(events)?;
        insert_all(&self.tree, events)
    }
}

/// Makes sled durable up to the writer's durable position, so that the journal can shrink.
struct Checkpointer {
    db: sled::Db,
    db_file: File,
    blob_dir: PathBuf,
    synced_blobs: HashSet<std::ffi::OsString>,
    /// Position of the last durable (journaled and applied) event, set by the writer.
    durable: Arc<AtomicU64>,
    /// Position up to which sled itself is durable.
    checkpoint: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Checkpoints until told to stop; returns whether the last checkpoint covers every event.
    fn run(mut self, stop: std::sync::mpsc::Receiver<()>) -> bool {
        loop {
            let stopping = !matches!(
                stop.recv_timeout(journal::CHECKPOINT_INTERVAL),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            );
            let result = self.run_once();
            if let Err(e) = &result {
                tracing::error!(error = %e, "checkpoint failed; the journal keeps the events meanwhile");
            }
            if stopping {
                return result.is_ok();
            }
        }
    }

    fn run_once(&mut self) -> Result<(), StoreError> {
        // Everything applied before the flush starts is covered by it.
        let durable = self.durable.load(Ordering::Acquire);
        if durable <= self.checkpoint.load(Ordering::Acquire) && durable != 0 {
            return Ok(());
        }
        self.db.flush().map_err(sled_err)?;
        // sled's flush ends in sync_file_range, which does not flush the disk's write cache.
        self.db_file.sync_data()?;
        self.sync_new_blobs()?;
        self.checkpoint.store(durable, Ordering::Release);
        Ok(())
    }

    /// sled writes values too large for its log segments to files of their own and never syncs
    /// them. Our limits keep values far below that size; this is the safety net.
    fn sync_new_blobs(&mut self) -> Result<(), StoreError> {
        let entries = match std::fs::read_dir(&self.blob_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut new = false;
        for entry in entries {
            let entry = entry?;
            if self.synced_blobs.insert(entry.file_name()) {
                File::open(entry.path())?.sync_all()?;
                new = true;
            }
        }
        if new {
            sync_dir(&self.blob_dir)?;
        }
        Ok(())
    }
}

/// Completes sled from the journal after a crash. sled holds a prefix of the inserts the writer
/// made (it recovers its own log in order), so every journal event is either stored whole, stored
/// in part (some index entries missing), or absent: inserting all of them again is idempotent.
/// Each must continue the chain; a stored event that differs from the journal's is corruption.
fn replay_journal(tree: &sled::Tree, head: Head, dir: &Path) -> Result<Head, StoreError> {
    let events = journal::recover(dir)?;
    let Some(first) = events.first() else {
        return Ok(head);
    };
    let corrupt = |position: u64, reason: String| {
        StoreError::Io(format!(
            "the journal in {} does not match the log at position {position}: {reason}",
            dir.display()
        ))
    };
    let mut link = match first.position {
        1 => Head::EMPTY,
        p => match tree.get(event_key(p - 1)).map_err(sled_err)? {
            Some(bytes) => Head::after(&decode_at(p - 1, &bytes)?),
            None => return Err(corrupt(p, format!("the log has no event {} before it", p - 1))),
        },
    };
    let mut replayed = 0u64;
    for e in &events {
        if e.position != link.position + 1 || e.prev_hash != link.hash {
            return Err(corrupt(e.position, "it does not continue the chain".into()));
        }
        match tree.get(event_key(e.position)).map_err(sled_err)? {
            Some(stored) if stored != store::encode(e) => {
                return Err(corrupt(e.position, "sled holds a different event".into()))
            }
            Some(_) => {}
            None => replayed += 1,
        }
        link = Head::after(e);
    }
    insert_all(tree, &events)?;
    if replayed > 0 {
        tracing::info!(events = replayed, "replayed the journal into the log");
    }
    Ok(if link.position > head.position { link } else { head })
}

/// Inserts events and their index entries (see `keys`), in position order.
fn insert_all(tree: &sled::Tree, events: &[RecordedEvent]) -> Result<(), StoreError> {
    for e in events {
        tree.insert(event_key(e.position), store::encode(e)).map_err(sled_err)?;
        tree.insert(keys::version_key(&e.stream_id, e.version), &e.position.to_be_bytes())
            .map_err(sled_err)?;
        tree.insert(keys::stream_key(&e.stream_id), &e.version.to_be_bytes()).map_err(sled_err)?;
        tree.insert(keys::id_key(e.event_id), &e.position.to_be_bytes()).map_err(sled_err)?;
    }
    Ok(())
}

/// The stored index plus what this group has planned.
struct Pending<'a> {
    tree: &'a sled::Tree,
    versions: HashMap<String, u64>,
    ids: HashMap<Uuid, u64>,
}

impl Pending<'_> {
    /// Records planned events, so later appends of the group see them.
    fn plan(&mut self, events: &[RecordedEvent]) {
        for e in events {
            self.versions.insert(e.stream_id.clone(), e.version);
            self.ids.insert(e.event_id, e.position);
        }
    }
}

impl AppendIndex for Pending<'_> {
    fn stream_version(&mut self, stream_id: &str) -> Result<u64, StoreError> {
        match self.versions.get(stream_id) {
            Some(&v) => Ok(v),
            None => stored_stream_version(self.tree, stream_id),
        }
    }

    fn position_of(&mut self, event_id: Uuid) -> Result<Option<u64>, StoreError> {
        if let Some(&p) = self.ids.get(&event_id) {
            return Ok(Some(p));
        }
        match self.tree.get(keys::id_key(event_id)).map_err(sled_err)? {
            Some(v) => Ok(keys::decode_u64(&v)),
            None => Ok(None),
        }
    }
}

fn stored_stream_version(tree: &sled::Tree, stream_id: &str) -> Result<u64, StoreError> {
    match tree.get(keys::stream_key(stream_id)).map_err(sled_err)? {
        Some(v) => {
            keys::decode_u64(&v).ok_or_else(|| StoreError::Io(format!("bad version entry of `{stream_id}`")))
        }
        None => Ok(0),
    }
}

/// The head of the stored log. When the last event is unreadable, the head as far as the key
/// tells, and the error.
fn read_head(tree: &sled::Tree) -> Result<Head, (Head, StoreError)> {
    let last = tree.range(event_key(0)..=event_key(u64::MAX)).next_back();
    match last {
        None => Ok(Head::EMPTY),
        Some(Err(e)) => Err((Head::EMPTY, sled_err(e))),
        Some(Ok((key, bytes))) => {
            let position = keys::decode_u64(&key[1..]).unwrap_or(0);
            decode_at(position, &bytes)
                .map(|e| Head::after(&e))
                .map_err(|e| (Head { position, ..Head::EMPTY }, e))
        }
    }
}

fn decode_at(position: u64, bytes: &[u8]) -> Result<RecordedEvent, StoreError> {
    store::decode(bytes).map_err(|reason| StoreError::Corrupt { position, reason })
}

fn sled_err(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Corruption { .. } => StoreError::Io(format!("sled reports corruption: {e}")),
        other => StoreError::Io(other.to_string()),
    }
}

fn io_at(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", path.display()))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_at(dir, e))
}
