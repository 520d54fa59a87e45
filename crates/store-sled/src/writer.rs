//! The one writer thread of the embedded store: it takes every write waiting, plans the group,
//! writes and syncs it to the open segment, indexes it in sled, then answers; after a failed
//! write or sync it refuses every group until the segment is recovered (`Failed`).

use std::path::Path;
use std::sync::Mutex;

use store::{Group, WriteReceiver};

use crate::*;

/// The single writer: owns the head and every append.
pub(crate) struct Writer {
    pub(crate) tree: sled::Tree,
    pub(crate) appender: segments::Appender,
    /// The head including this group's planned events.
    pub(crate) head: Head,
    pub(crate) durable: Arc<AtomicU64>,
    pub(crate) durable_head: Arc<Mutex<Head>>,
    pub(crate) live: broadcast::Sender<Committed>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) reserve: Reserve,
    /// Set when a write failed: what is on disk beyond the acknowledged events is unknown, so
    /// every append is refused until [`Writer::recover`] has cut it off and read the log back.
    pub(crate) failed: Option<Failed>,
    /// The last probe write ([`Writer::readiness`]): when, and what it said.
    pub(crate) probed: Option<(std::time::Instant, store::Health)>,
}

/// How often readiness writes a probe file at most.
pub(crate) const PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Writes 4 KiB to `DIR/.write-probe`, syncs it and removes it.
pub(crate) fn probe_write(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let path = dir.join(".write-probe");
    let result = std::fs::File::create(&path).and_then(|mut f| {
        f.write_all(&[0u8; 4096])?;
        f.sync_data()
    });
    let _ = std::fs::remove_file(&path);
    result
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("head", &self.head)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Failed {
    pub(crate) cause: String,
    /// The index (sled) may hold entries of events that were not acknowledged: this process
    /// cannot recover; a restart indexes again from the segments.
    pub(crate) fatal: bool,
}

impl Writer {
    pub(crate) fn run(shared: &Mutex<Writer>, mut queue: WriteReceiver) {
        while let Some(group) = queue.blocking_next_group() {
            let mut writer = shared.lock().unwrap_or_else(|p| p.into_inner());
            writer.commit(group);
            if writer.failed.is_none() {
                if let Err(e) = writer.appender.maintain() {
                    tracing::error!(error = %e, "closing a full segment failed; refusing appends until it succeeds");
                    writer.failed = Some(Failed {
                        cause: format!("the log could not begin a new segment ({e})"),
                        fatal: false,
                    });
                }
            }
        }
    }

    /// Writable, or why not; a failed writer whose cause has gone is recovered here.
    /// [`Writer::health`], and then a real write: a probe file written, synced and removed in
    /// the data directory (at most once a [`PROBE_EVERY`]). The free-space reserve can be 0 or
    /// the filesystem out of inodes or read-only: only a write says that writes work.
    pub(crate) fn readiness(&mut self) -> store::Health {
        let health = self.health();
        if !health.is_writable() {
            return health;
        }
        let now = std::time::Instant::now();
        if let Some((at, result)) = &self.probed {
            if now.duration_since(*at) < PROBE_EVERY {
                return result.clone();
            }
        }
        let result = match probe_write(&self.reserve.dir) {
            Ok(()) => store::Health::Writable,
            Err(e) => store::Health::Unwritable {
                cause: format!("a test write in the data directory failed ({e}); free space there and writes resume by themselves"),
                fatal: false,
            },
        };
        self.probed = Some((now, result.clone()));
        result
    }

    pub(crate) fn health(&mut self) -> store::Health {
        if let Some(Failed { cause, fatal: true }) = &self.failed {
            return store::Health::Unwritable { cause: cause.clone(), fatal: true };
        }
        if let Err(cause) = self.reserve.check() {
            return store::Health::Unwritable { cause, fatal: false };
        }
        if let Some(failed) = self.failed.clone() {
            match self.appender.recover(self.head) {
                Ok(()) => {
                    tracing::info!(after = %failed.cause, "the log is writable again");
                    self.failed = None;
                }
                Err(e) => {
                    return store::Health::Unwritable {
                        cause: format!("{}; reopening the log failed: {e}", failed.cause),
                        fatal: false,
                    }
                }
            }
        }
        store::Health::Writable
    }

    pub(crate) fn commit(&mut self, group: Group) {
        if let store::Health::Unwritable { cause, .. } = self.health() {
            group.fail(StoreError::Unavailable(cause));
            return;
        }
        let start_head = self.head;
        let plan = group.plan(&mut StoredIndex(&self.tree), &mut self.head, self.clock.now());
        let rows = plan.rows();
        if !rows.is_empty() {
            if let Err(e) = self.appender.write(rows) {
                // What is on disk beyond the acknowledged events is unknown now; nobody is told
                // a write succeeded, and no further write is taken until `recover` has cut it
                // off through a new descriptor and read the log back.
                let cause = format!("writing the log failed ({e})");
                tracing::error!(error = %e, "commit failed; refusing appends until the log is reopened");
                self.failed = Some(Failed { cause: cause.clone(), fatal: false });
                self.head = start_head;
                group.fail(StoreError::Unavailable(cause));
                return;
            }
            if let Err(e) = insert_index(&self.tree, rows) {
                let cause = format!("the index could not be updated ({e}); restart the server");
                tracing::error!(error = %e, "indexing failed; this process cannot write again");
                self.failed = Some(Failed { cause: cause.clone(), fatal: true });
                self.head = start_head;
                group.fail(StoreError::Unavailable(cause));
                return;
            }
            self.durable.store(self.head.position, Ordering::Release);
            self.counters.groups.fetch_add(1, Ordering::Relaxed);
            self.counters.appends.fetch_add(plan.writes_written() as u64, Ordering::Relaxed);
            self.counters.events.fetch_add(rows.len() as u64, Ordering::Relaxed);
            *self.durable_head.lock().unwrap_or_else(|p| p.into_inner()) = self.head;
            let _ = self.live.send(rows.into());
        }
        // A retry's events that cannot be read are answered as missing; the others are not
        // held up by them.
        let stored: Vec<RecordedEvent> = plan
            .retry_positions()
            .into_iter()
            .filter_map(|position| {
                event_at(&self.appender.log, position)
                    .inspect_err(|e| tracing::error!(error = %e, position, "reading a retried event failed"))
                    .ok()
            })
            .collect();
        group.answer(plan, &stored);
    }
}
