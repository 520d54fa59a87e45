//! sled as the index of the segments: opening it, indexing events again after a crash, the
//! index the shared append planning asks, and the checkpointer that makes it durable.

use std::path::Path;

use store::{AppendIndex, RecordedEvent, StoreError};
use uuid::Uuid;

use crate::*;

/// Makes sled's index durable up to the writer's durable position, so that little is indexed
/// again at the next open.
pub(crate) struct Checkpointer {
    pub(crate) reserve: Reserve,
    pub(crate) db: sled::Db,
    pub(crate) db_file: File,
    pub(crate) blob_dir: PathBuf,
    pub(crate) synced_blobs: HashSet<std::ffi::OsString>,
    /// Position of the last durable (written and indexed) event, set by the writer.
    pub(crate) durable: Arc<AtomicU64>,
    /// Position up to which sled itself is durable.
    pub(crate) checkpoint: u64,
}

impl Checkpointer {
    /// Checkpoints until told to stop, and once more then.
    pub(crate) fn run(mut self, stop: std::sync::mpsc::Receiver<()>) {
        loop {
            let stopping = !matches!(
                stop.recv_timeout(CHECKPOINT_INTERVAL),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            );
            if let Err(e) = self.run_once() {
                tracing::error!(error = %e, "checkpoint of the index failed; the next open indexes again from the segments");
            }
            if stopping {
                return;
            }
        }
    }

    pub(crate) fn run_once(&mut self) -> Result<(), StoreError> {
        // Everything applied before the flush starts is covered by it.
        let durable = self.durable.load(Ordering::Acquire);
        if durable <= self.checkpoint && durable != 0 {
            return Ok(());
        }
        // Near a full disk sled's flush could fail and leave sled refusing every later insert;
        // skipped, the next open indexes the missing events again from the segments.
        if self.reserve.check().is_err() {
            return Ok(());
        }
        // Without a reserve (`min_free_bytes` 0) the same holds when the disk is all but full:
        // a flush that fails there poisons sled for the rest of the process.
        if free_bytes(&self.reserve.dir).is_some_and(|free| free < FLUSH_FREE_FLOOR) {
            return Ok(());
        }
        self.db.flush().map_err(sled_err)?;
        // sled's flush ends in sync_file_range, which does not flush the disk's write cache.
        self.db_file.sync_data()?;
        self.sync_new_blobs()?;
        self.checkpoint = durable;
        Ok(())
    }

    /// sled writes values too large for its log segments to files of their own and never syncs
    /// them. Our limits keep values far below that size; this is the safety net.
    pub(crate) fn sync_new_blobs(&mut self) -> Result<(), StoreError> {
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

/// Opens sled's index in `log_dir`. The caller holds `DIR/LOCK`, so no other process and no
/// other live handle has the store: a sled lock still held is a handle of this process that
/// was just dropped (sled lets go of its file lock from a thread of its own, shortly after);
/// the open waits for it, up to [`INDEX_LOCK_WAIT`].
pub(crate) fn open_index(log_dir: &Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + INDEX_LOCK_WAIT;
    loop {
        let opened = sled::Config::new()
            .path(log_dir)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            // Durability is ours: the writer flushes and syncs each group itself.
            .flush_every_ms(None)
            .open();
        match opened {
            // sled says so only in words (`ErrorKind::Other`, "could not acquire lock on …").
            Err(sled::Error::Io(e))
                if e.to_string().starts_with("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => {
                return Err(StoreError::Io(format!("cannot open the log in {}: {e}", log_dir.display())))
            }
            Ok(db) => return Ok(db),
        }
    }
}

/// How long an open waits for a just-dropped handle of this process to release sled's lock.
pub(crate) const INDEX_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Completes sled's index after a crash: sled holds a prefix of the writer's inserts (it
/// recovers its own log in order), so the events after the last position it records as indexed
/// are indexed again (idempotent: an entry inserted before the crash is inserted unchanged).
/// Returns how many events that was.
pub(crate) fn reindex(
    tree: &sled::Tree,
    log: &segments::Log,
    indexed: u64,
    head: u64,
) -> Result<u64, StoreError> {
    let mut from = indexed + 1;
    while from <= head {
        let to = head.min(from + store::limits::READ_BATCH_MAX as u64 - 1);
        insert_index(tree, &log.read_range(from, to)?)?;
        from = to + 1;
    }
    let replayed = head - indexed;
    if replayed > 0 {
        tracing::info!(events = replayed, "indexed events the last checkpoint had not covered");
    }
    Ok(replayed)
}

/// Inserts the events' index entries (see `keys`) in position order, then the last position
/// they cover.
pub(crate) fn insert_index(tree: &sled::Tree, events: &[RecordedEvent]) -> Result<(), StoreError> {
    for e in events {
        tree.insert(keys::version_key(&e.stream_id, e.version), &e.position.to_be_bytes())
            .map_err(sled_err)?;
        tree.insert(keys::stream_key(&e.stream_id), &e.version.to_be_bytes()).map_err(sled_err)?;
        tree.insert(keys::id_key(e.event_id), &e.position.to_be_bytes()).map_err(sled_err)?;
    }
    if let Some(last) = events.last() {
        tree.insert(keys::INDEXED, &last.position.to_be_bytes()).map_err(sled_err)?;
    }
    Ok(())
}

/// The event at `position`, which must be durable.
pub(crate) fn event_at(log: &segments::Log, position: u64) -> Result<RecordedEvent, StoreError> {
    log.read_range(position, position)?
        .pop()
        .ok_or_else(|| StoreError::Corrupt { position, reason: "indexed event is missing".into() })
}

/// The index as stored (the write queue's group plan adds what the group has planned).
pub(crate) struct StoredIndex<'a>(pub(crate) &'a sled::Tree);

impl AppendIndex for StoredIndex<'_> {
    fn stream_version(&mut self, stream_id: &str) -> Result<u64, StoreError> {
        stored_stream_version(self.0, stream_id)
    }

    fn position_of(&mut self, event_id: Uuid) -> Result<Option<u64>, StoreError> {
        match self.0.get(keys::id_key(event_id)).map_err(sled_err)? {
            Some(v) => Ok(keys::decode_u64(&v)),
            None => Ok(None),
        }
    }
}

pub(crate) fn stored_stream_version(tree: &sled::Tree, stream_id: &str) -> Result<u64, StoreError> {
    match tree.get(keys::stream_key(stream_id)).map_err(sled_err)? {
        Some(v) => {
            keys::decode_u64(&v).ok_or_else(|| StoreError::Io(format!("bad version entry of `{stream_id}`")))
        }
        None => Ok(0),
    }
}
