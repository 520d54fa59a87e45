//! Stores of the first layout kept every event in sled (`E` position → event) and made appends
//! durable in a journal (`DIR/journal`, frames as in the segments) that was emptied at each of
//! sled's checkpoints. Opening one moves its events into segment files, once, before sled is
//! opened:
//!
//! 1. The `E` events, then the journal's events after them, are written to `DIR/segments.moving`
//!    (each write synced).
//! 2. The old sled directory is set aside: `DIR/log` → `DIR/log.first-layout`.
//! 3. `DIR/segments.moving` → `DIR/segments`.
//! 4. The old sled directory and the journal are deleted.
//!
//! A crash repeats or finishes the step it happened in: a `segments.moving` without a set-aside
//! old directory is an interrupted copy and is deleted; with one, the copy was complete. The
//! open that follows builds a fresh, compact index in `DIR/log` from the segments (sled does
//! not give back the space of deleted keys).

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use store::{Head, RecordedEvent, StoreError};

use crate::keys::legacy_event_key;
use crate::{io_at, segments, sled_err, sync_dir};

/// Events written to the segments per `write` while moving.
const CHUNK: usize = 10_000;

/// Moves the events of a first-layout store in `dir` into segments (see above); does nothing for
/// a store of the current layout or a new one. Runs before sled is opened.
pub(crate) fn migrate(dir: &Path, cache_bytes: u64, segment_bytes: u64) -> Result<(), StoreError> {
    let log = dir.join("log");
    let segments = dir.join("segments");
    let moving = dir.join("segments.moving");
    let set_aside = dir.join("log.first-layout");
    let journal = dir.join("journal");
    if !set_aside.exists() {
        if moving.exists() {
            tracing::warn!(dir = %moving.display(), "deleting the segments of an interrupted move");
            std::fs::remove_dir_all(&moving).map_err(|e| io_at(&moving, e))?;
        }
        if segments.exists() || !log.exists() {
            return Ok(());
        }
        tracing::info!(dir = %dir.display(), "moving the events of a store of the first layout into segment files");
        let moved = {
            let db = sled::Config::new()
                .path(&log)
                .cache_capacity(cache_bytes)
                .open()
                .map_err(|e| StoreError::Io(format!("cannot open the log in {}: {e}", log.display())))?;
            // The first layout's tree: events and index together.
            let tree = db.open_tree("events").map_err(sled_err)?;
            // An index of the current layout whose segments are gone is not a store to convert.
            let index = db.open_tree(crate::keys::INDEX_TREE).map_err(sled_err)?;
            let indexed = crate::keys::read_indexed(&index).map_err(sled_err)?;
            if indexed > 0 {
                return Err(StoreError::Io(format!(
                    "the index in {} records {indexed} events, but their segment files ({}) are missing",
                    log.display(),
                    segments.display()
                )));
            }
            copy(&tree, &journal, &moving, segment_bytes)?
        };
        sync_dir(dir)?;
        wait_for_sled_to_let_go(&log)?;
        std::fs::rename(&log, &set_aside).map_err(|e| io_at(&log, e))?;
        sync_dir(dir)?;
        tracing::info!(events = moved, "moved the events into segment files");
    }
    if moving.exists() {
        std::fs::rename(&moving, &segments).map_err(|e| io_at(&moving, e))?;
        sync_dir(dir)?;
    }
    std::fs::remove_dir_all(&set_aside).map_err(|e| io_at(&set_aside, e))?;
    if journal.exists() {
        std::fs::remove_dir_all(&journal).map_err(|e| io_at(&journal, e))?;
    }
    sync_dir(dir)
}

/// sled releases its lock on its file from a background thread after the last handle is gone;
/// its directory is moved only once it has (at most 10 s).
fn wait_for_sled_to_let_go(log: &Path) -> Result<(), StoreError> {
    let db_file = log.join("db");
    let file = File::options().read(true).write(true).open(&db_file).map_err(|e| io_at(&db_file, e))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match file.try_lock() {
            Ok(()) => return file.unlock().map_err(|e| io_at(&db_file, e)),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Io(format!("{} stays locked after it was closed", db_file.display())))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_at(&db_file, e)),
        }
    }
}

/// Writes the `E` events and then the journal's newer ones to fresh segments; returns how many.
fn copy(
    tree: &sled::Tree,
    journal_dir: &Path,
    segments_dir: &Path,
    segment_bytes: u64,
) -> Result<u64, StoreError> {
    let (_log, mut appender, mut head) = segments::Log::open(segments_dir, segment_bytes, 0)?;
    let mut chunk = Vec::with_capacity(CHUNK);
    for entry in tree.range(legacy_event_key(0)..=legacy_event_key(u64::MAX)) {
        let (key, bytes) = entry.map_err(sled_err)?;
        let position = crate::keys::decode_u64(&key[1..]).unwrap_or(0);
        let event = store::decode(&bytes)
            .map_err(|reason| StoreError::Corrupt { position, reason: reason.clone() })?;
        chunk.push(continuing(&mut head, event, "the log")?);
        if chunk.len() == CHUNK {
            appender.write(&chunk)?;
            appender.maintain()?;
            chunk.clear();
        }
    }
    for event in journal_events(journal_dir)? {
        if event.position > head.position {
            chunk.push(continuing(&mut head, event, "the journal")?);
        }
    }
    appender.write(&chunk)?;
    appender.maintain()?;
    Ok(head.position)
}

/// `event`, if it is the one after `head` (which it then becomes).
fn continuing(head: &mut Head, event: RecordedEvent, source: &str) -> Result<RecordedEvent, StoreError> {
    if event.position != head.position + 1 {
        return Err(StoreError::Io(format!(
            "cannot move the events into segment files: {source} holds event {} after event {}",
            event.position, head.position
        )));
    }
    *head = Head::after(&event);
    Ok(event)
}

/// The valid events in the journal's files, in order (a torn frame ends a file).
fn journal_events(dir: &Path) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(out) };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "journal"))
        .collect();
    files.sort();
    for path in files {
        let bytes = std::fs::read(&path).map_err(|e| io_at(&path, e))?;
        let mut at = 0;
        while let Some(Ok((event, len))) = bytes.get(at..).map(segments::frame) {
            out.push(event);
            at += len;
        }
    }
    Ok(out)
}
