//! The embedded default event store, on sled.
//!
//! The layout on disk (see ARCHITECTURE.md): the events themselves in append-only segment files
//! (`DIR/segments`, see [`segments`]); sled (`DIR/log`) holds only the indexes — stream versions,
//! event ids, and the last position they cover (`keys.rs`).
//!
//! The append path:
//! 1. `append` checks nothing itself: it queues the write on the shared write queue
//!    ([`store::writer`]) and awaits its answer.
//! 2. The writer thread takes every write waiting at that moment (a group, up to
//!    [`store::limits::GROUP_APPENDS_MAX`]) and plans it ([`store::Group::plan`], the shared
//!    chain rules): limits, idempotency, expected version, positions, hashes. A refused append
//!    does not stop the others. Positions are assigned here, by the one writer, so position
//!    order is commit order.
//! 3. One durability barrier for the group: its events are appended to the open segment in one
//!    `write` and one `fdatasync`.
//! 4. The group's index entries are inserted into sled's tree, in memory, in position order,
//!    the last position they cover last.
//! 5. Only then the durable head advances (reads never show more), live subscribers get the
//!    batch, and every caller of the group gets its answer.
//! 6. Apart from the writer, a checkpointer flushes sled every [`CHECKPOINT_INTERVAL`] and
//!    `fdatasync`s its file itself (sled's own flush ends in `sync_file_range`, which leaves
//!    the disk's write cache alone). On open, sled holds a prefix of the index inserts; the
//!    events after the last position it covers are read from the segments and indexed again.

mod index;
mod keyfile;
mod keys;
mod legacy;
mod segments;
mod sessions;
mod writer;

use index::*;
use writer::*;

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use store::{
    write_queue, Clock, Committed, Direction, EventStore, ExpectedVersion, Head, NewEvent, RecordedEvent,
    StoreError, SystemClock, WriteQueue,
};
use tokio::sync::broadcast;
use uuid::Uuid;

pub use segments::{SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MAX};

/// How often sled's index is made durable (the events are, at every commit, in the segments;
/// this bounds what is indexed again at the next open).
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

use store::limits::LIVE_CHANNEL_BATCHES;
/// sled's page cache, unless configured otherwise. sled holds only the indexes; the events are
/// read from the segment files through the operating system's cache. Rebuilds, audit pages and
/// appends measured the same with 32 and 256 MiB on a log of a million events, and every MiB of
/// it is resident memory (BENCHMARKS.md, "Read models").
pub const CACHE_BYTES_DEFAULT: u64 = 32 * 1024 * 1024;

/// Where and how to open the store.
#[derive(Debug, Clone)]
pub struct SledConfig {
    /// The data directory. The events live in `DIR/segments`, their indexes in `DIR/log`;
    /// `DIR/LOCK` keeps a second process out.
    pub dir: PathBuf,
    /// Bytes of sled's page cache (it caches the indexes only).
    pub cache_bytes: u64,
    /// A segment file is closed, and the next begun, once it holds this many bytes (1 byte to
    /// [`SEGMENT_BYTES_MAX`]; default [`SEGMENT_BYTES_DEFAULT`]).
    pub segment_bytes: u64,
    pub clock: Arc<dyn Clock>,
    /// Appends are refused ([`StoreError::Unavailable`]) while the data directory's filesystem
    /// has less than this many bytes free, before the disk is completely full; they succeed
    /// again once there is room (default [`MIN_FREE_BYTES_DEFAULT`]; 0: only a failed write stops
    /// them).
    pub min_free_bytes: u64,
    /// For tests: makes the log's next writes or syncs fail (see [`Faults`]).
    pub faults: Option<Arc<Faults>>,
}

/// The free-space reserve unless configured otherwise: room for sled's own flushes, a segment's
/// offset index and the read models' checkpoint beside the log.
pub const MIN_FREE_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;

impl SledConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SledConfig {
            dir: dir.into(),
            cache_bytes: CACHE_BYTES_DEFAULT,
            segment_bytes: SEGMENT_BYTES_DEFAULT,
            clock: Arc::new(SystemClock),
            min_free_bytes: MIN_FREE_BYTES_DEFAULT,
            faults: None,
        }
    }
}

/// A fault-injection seam for tests: the next `n` writes (or `fdatasync`s) of the log's open
/// segment fail with `EIO`, as a failing disk makes them. A failed sync comes after its write
/// reached the file, as it does on a real disk.
#[derive(Debug, Default)]
pub struct Faults {
    writes: AtomicU64,
    syncs: AtomicU64,
}

impl Faults {
    /// The next write of the log fails.
    pub fn fail_next_write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    /// The next `fdatasync` of the log fails (after its write).
    pub fn fail_next_sync(&self) {
        self.syncs.fetch_add(1, Ordering::SeqCst);
    }

    fn take(counter: &AtomicU64) -> std::io::Result<()> {
        match counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)) {
            Ok(_) => Err(std::io::Error::from_raw_os_error(5)), // EIO
            Err(_) => Ok(()),
        }
    }

    pub(crate) fn before_write(&self) -> std::io::Result<()> {
        Faults::take(&self.writes)
    }

    pub(crate) fn before_sync(&self) -> std::io::Result<()> {
        Faults::take(&self.syncs)
    }
}

/// Bytes free for unprivileged use on the filesystem of `dir` (`None` if it cannot be asked).
fn free_bytes(dir: &Path) -> Option<u64> {
    rustix::fs::statvfs(dir).ok().map(|s| s.f_bavail.saturating_mul(s.f_frsize))
}

/// Free bytes below which sled is not flushed even without a reserve (its flush writes a few
/// segments of its own log).
const FLUSH_FREE_FLOOR: u64 = 8 * 1024 * 1024;

/// With this much more free than the reserve, the next look at the disk can wait
/// [`FREE_RECHECK`]: groups are at most 16 MiB, and no few of them fill that margin in that time.
const FREE_MARGIN: u64 = 256 * 1024 * 1024;
const FREE_RECHECK: std::time::Duration = std::time::Duration::from_millis(200);

/// The free-space reserve of a data directory: `check` is `Err(cause)` while its filesystem has
/// less than `bytes` free. Far above it, the answer is kept for [`FREE_RECHECK`] (a `statvfs`
/// per group commit cost the serial append path measurably).
#[derive(Debug)]
struct Reserve {
    dir: PathBuf,
    bytes: u64,
    ok_until: Option<std::time::Instant>,
}

impl Reserve {
    fn new(dir: &Path, bytes: u64) -> Reserve {
        Reserve { dir: dir.to_owned(), bytes, ok_until: None }
    }

    fn check(&mut self) -> Result<(), String> {
        let now = std::time::Instant::now();
        if self.bytes == 0 || self.ok_until.is_some_and(|t| now < t) {
            return Ok(());
        }
        self.ok_until = None;
        match free_bytes(&self.dir) {
            Some(free) if free < self.bytes => {
                // The path is the operator's to know (the log), not every client's.
                tracing::debug!(dir = %self.dir.display(), free, "the data directory's disk is below the reserve");
                Err(format!(
                    "the disk of the data directory is nearly full: {} MiB free, below the reserve of {} MiB; free space there and writes resume by themselves",
                    free / (1024 * 1024),
                    self.bytes.div_ceil(1024 * 1024)
                ))
            }
            Some(free) => {
                if free >= self.bytes.saturating_add(FREE_MARGIN) {
                    self.ok_until = Some(now + FREE_RECHECK);
                }
                Ok(())
            }
            None => Ok(()),
        }
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
    log: Arc<segments::Log>,
    /// Position of the last durable event: reads stop here.
    durable: Arc<AtomicU64>,
    durable_head: Arc<Mutex<Head>>,
    live: broadcast::Sender<Committed>,
    counters: Arc<Counters>,
    /// Events indexed again when the store was opened.
    replayed: u64,
    clock: Arc<dyn Clock>,
    /// The keys of personal data (`DIR/keys/`, `keyfile.rs`).
    keys: Arc<keyfile::FileKeys>,
    sessions: Arc<sessions::SledSessions>,
    /// The writer's state, shared with [`EventStore::health`], which may recover it.
    writer_state: Arc<Mutex<Writer>>,
    /// Taken on drop, which ends the writer after the queued groups.
    queue: Option<WriteQueue>,
    writer: Option<std::thread::JoinHandle<()>>,
    checkpointer: Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
    _lock: File,
}

/// Keeps other processes out of a data directory (created if missing): an exclusive `flock` on
/// `DIR/LOCK`, held until the returned file is dropped. [`SledStore::open`] takes it; a server
/// whose log is elsewhere takes it for its own files there (checkpoint, admin token).
pub fn lock_data_dir(dir: &Path) -> Result<File, StoreError> {
    {
        // The log, its index and its keys: the owner's only.
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| io_at(dir, e))?;
    }
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

/// sled in `dir/log` (the index), synced into its directory, and the checkpointer that will
/// make it durable.
fn open_sled(dir: &Path, config: &SledConfig) -> Result<(sled::Db, sled::Tree, Checkpointer), StoreError> {
    let log_dir = dir.join("log");
    let db = open_index(&log_dir, config.cache_bytes)?;
    let tree = db.open_tree(keys::INDEX_TREE).map_err(sled_err)?;
    // New files and directories must survive a crash too.
    sync_dir(dir)?;
    sync_dir(&log_dir)?;
    let db_file = File::open(log_dir.join("db")).map_err(|e| io_at(&log_dir.join("db"), e))?;
    let checkpointer = Checkpointer {
        reserve: Reserve::new(dir, config.min_free_bytes),
        db: db.clone(),
        db_file,
        blob_dir: log_dir.join("blobs"),
        synced_blobs: HashSet::new(),
        durable: Arc::new(AtomicU64::new(0)),
        checkpoint: 0,
    };
    Ok((db, tree, checkpointer))
}

/// The checkpoint thread and the sender that stops it.
type Checkpoints = (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>);

/// The writer thread and the checkpoint thread (with the sender that stops it).
fn start_threads(
    writer_state: Arc<Mutex<Writer>>,
    receiver: store::WriteReceiver,
    checkpointer: Checkpointer,
) -> Result<(std::thread::JoinHandle<()>, Checkpoints), StoreError> {
    let shared = writer_state;
    let writer = std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || Writer::run(&shared, receiver))
        .map_err(StoreError::from)?;
    let (stop_checkpoints, stop) = std::sync::mpsc::channel::<()>();
    let checkpointer = std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || checkpointer.run(stop))
        .map_err(StoreError::from)?;
    Ok((writer, (stop_checkpoints, checkpointer)))
}

impl SledStore {
    /// Opens (or creates) the store in `config.dir`. Fails with [`StoreError::Locked`] when
    /// another process has it open.
    pub fn open(config: SledConfig) -> Result<Self, StoreError> {
        if !(1..=SEGMENT_BYTES_MAX).contains(&config.segment_bytes) {
            return Err(StoreError::Invalid(format!(
                "the segment size must be between 1 and {SEGMENT_BYTES_MAX} bytes, not {}",
                config.segment_bytes
            )));
        }
        let dir = &config.dir;
        let lock = lock_data_dir(dir)?;
        legacy::migrate(dir, config.cache_bytes, config.segment_bytes)?;
        let (db, tree, mut checkpointer) = open_sled(dir, &config)?;
        let keys = Arc::new(keyfile::FileKeys::open(&dir.join("keys"))?);
        let sessions =
            Arc::new(sessions::SledSessions::new(db.open_tree(sessions::SESSIONS_TREE).map_err(sled_err)?));
        let segments_dir = dir.join("segments");
        let indexed = keys::read_indexed(&tree).map_err(sled_err)?;
        let (log, mut appender, head) = segments::Log::open(&segments_dir, config.segment_bytes, indexed)?;
        appender.faults = config.faults.clone();
        sync_dir(dir)?;
        let replayed = reindex(&tree, &log, indexed, head.position)?;
        checkpointer.durable.store(head.position, Ordering::Release);
        checkpointer.run_once()?;
        let durable = checkpointer.durable.clone();
        let durable_head = Arc::new(Mutex::new(head));
        let (live, _) = broadcast::channel(LIVE_CHANNEL_BATCHES);
        let (queue, receiver) = write_queue();
        let counters = Arc::new(Counters::default());
        let writer_state = Arc::new(Mutex::new(Writer {
            counters: counters.clone(),
            tree: tree.clone(),
            appender,
            head,
            durable: durable.clone(),
            durable_head: durable_head.clone(),
            live: live.clone(),
            clock: config.clock.clone(),
            reserve: Reserve::new(dir, config.min_free_bytes),
            failed: None,
            probed: None,
        }));
        let (writer, checkpoints) = start_threads(writer_state.clone(), receiver, checkpointer)?;
        Ok(SledStore {
            inner: Arc::new(Inner {
                tree,
                db,
                log,
                durable,
                durable_head,
                live,
                counters,
                replayed,
                clock: config.clock.clone(),
                keys,
                sessions,
                writer_state,
                queue: Some(queue),
                writer: Some(writer),
                checkpointer: Some(checkpoints),
                _lock: lock,
            }),
        })
    }

    fn queue(&self) -> Result<&WriteQueue, StoreError> {
        self.inner.queue.as_ref().ok_or(StoreError::Closed)
    }

    fn durable(&self) -> u64 {
        self.inner.durable.load(Ordering::Acquire)
    }

    pub fn writer_stats(&self) -> WriterStats {
        let c = &self.inner.counters;
        WriterStats {
            groups: c.groups.load(Ordering::Relaxed),
            appends: c.appends.load(Ordering::Relaxed),
            events: c.events.load(Ordering::Relaxed),
        }
    }

    /// Events whose index entries were restored from the segments when the store was opened
    /// (they were acknowledged before a crash, after sled's last checkpoint).
    pub fn replayed_at_open(&self) -> u64 {
        self.inner.replayed
    }

    /// Bytes the log takes on disk: the segment files and sled's index.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.size_on_disk().map_err(sled_err)? + self.inner.log.bytes()?)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer after it has answered every queued request.
        self.queue.take();
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                tracing::error!("the store writer thread panicked");
            }
        }
        // The checkpointer makes a last checkpoint when it stops.
        if let Some((stop, checkpointer)) = self.checkpointer.take() {
            drop(stop);
            if checkpointer.join().is_err() {
                tracing::error!("the store checkpoint thread panicked");
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
        self.queue()?.append(stream_id, expected, events).await
    }

    async fn append_recorded(&self, events: Vec<RecordedEvent>) -> Result<(), StoreError> {
        self.queue()?.append_recorded(events).await
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
            out.push(event_at(&self.inner.log, position)?);
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
        self.inner.log.read_range(from, from + max as u64 - 1)
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
        positions.into_iter().map(|position| event_at(&self.inner.log, position)).collect()
    }

    async fn read_event(&self, position: u64) -> Result<Option<RecordedEvent>, StoreError> {
        if position == 0 || position > self.durable() {
            return Ok(None);
        }
        event_at(&self.inner.log, position).map(Some)
    }

    async fn read_event_by_id(&self, event_id: Uuid) -> Result<Option<RecordedEvent>, StoreError> {
        let position = match self.inner.tree.get(keys::id_key(event_id)).map_err(sled_err)? {
            Some(v) => keys::decode_u64(&v)
                .ok_or_else(|| StoreError::Io(format!("the index entry of event {event_id} is damaged")))?,
            None => return Ok(None),
        };
        self.read_event(position).await
    }

    async fn head(&self) -> Result<Head, StoreError> {
        Ok(*self.inner.durable_head.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock.clone()
    }

    fn key_store(&self) -> Option<Arc<dyn store::KeyStore>> {
        Some(self.inner.keys.clone())
    }

    fn sessions(&self) -> Option<Arc<dyn store::SessionStore>> {
        Some(self.inner.sessions.clone())
    }

    fn notifications(&self) -> broadcast::Receiver<Committed> {
        self.inner.live.subscribe()
    }

    async fn health(&self) -> store::Health {
        let state = self.inner.writer_state.clone();
        tokio::task::spawn_blocking(move || state.lock().unwrap_or_else(|p| p.into_inner()).readiness())
            .await
            .unwrap_or_else(|e| store::Health::Unwritable {
                cause: format!("the health check failed: {e}"),
                fatal: false,
            })
    }
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
