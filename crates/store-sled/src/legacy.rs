//! Stores of the first layout kept every event in sled (`E` position → event) and made appends
//! durable in a journal (`DIR/journal`, frames as in the segments) that was emptied at each of
//! sled's checkpoints. Opening one moves its events into segment files, once:
//!
//! 1. Unless sled holds the marker `M`: segments left by an interrupted attempt are deleted; the
//!    `E` events, then the journal's events after them, are written to new segments (each write
//!    synced); the marker is inserted and sled made durable.
//! 2. With the marker: the `E` keys and the journal are deleted, sled made durable, the marker
//!    removed.
//!
//! A crash repeats the step it happened in. The index (`S`, `V`, `I`) keeps its layout; its
//! covered position `H` is absent afterwards, so the open that follows indexes every event
//! again from the segments (idempotent; it also adds what the journal held).

use std::path::Path;

use store::{Head, RecordedEvent, StoreError};

use crate::keys::legacy_event_key;
use crate::{segments, sled_err, Checkpointer};

const MIGRATED: &[u8] = b"M";
/// Events written to the segments per `write` while moving.
const CHUNK: usize = 10_000;

/// Moves the events of a first-layout store in `dir` into `segments_dir`; does nothing for a
/// store of the current layout.
pub(crate) fn migrate(
    dir: &Path,
    tree: &sled::Tree,
    segments_dir: &Path,
    segment_bytes: u64,
    checkpointer: &mut Checkpointer,
) -> Result<(), StoreError> {
    let journal_dir = dir.join("journal");
    if !tree.contains_key(MIGRATED).map_err(sled_err)? {
        let has_events = first_event_key(tree)?.is_some();
        if !has_events && !journal_dir.exists() {
            return Ok(());
        }
        tracing::info!(dir = %dir.display(), "moving the events of a store of the first layout into segment files");
        copy(tree, &journal_dir, segments_dir, segment_bytes)?;
        crate::sync_dir(dir)?;
        tree.insert(MIGRATED, &[1u8]).map_err(sled_err)?;
        checkpointer.sync()?;
    }
    let mut batch = sled::Batch::default();
    let mut removed = 0usize;
    for key in tree.range(legacy_event_key(0)..=legacy_event_key(u64::MAX)).keys() {
        batch.remove(key.map_err(sled_err)?);
        removed += 1;
        if removed.is_multiple_of(CHUNK) {
            tree.apply_batch(std::mem::take(&mut batch)).map_err(sled_err)?;
        }
    }
    tree.apply_batch(batch).map_err(sled_err)?;
    if journal_dir.exists() {
        std::fs::remove_dir_all(&journal_dir).map_err(|e| crate::io_at(&journal_dir, e))?;
        crate::sync_dir(dir)?;
    }
    checkpointer.sync()?;
    tree.remove(MIGRATED).map_err(sled_err)?;
    checkpointer.sync()?;
    tracing::info!(events = removed, "moved the events into segment files");
    Ok(())
}

fn first_event_key(tree: &sled::Tree) -> Result<Option<sled::IVec>, StoreError> {
    tree.range(legacy_event_key(0)..=legacy_event_key(u64::MAX)).keys().next().transpose().map_err(sled_err)
}

/// Writes the `E` events and then the journal's newer ones to fresh segments.
fn copy(
    tree: &sled::Tree,
    journal_dir: &Path,
    segments_dir: &Path,
    segment_bytes: u64,
) -> Result<(), StoreError> {
    if segments_dir.exists() {
        std::fs::remove_dir_all(segments_dir).map_err(|e| crate::io_at(segments_dir, e))?;
    }
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
    appender.maintain()
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
        let bytes = std::fs::read(&path).map_err(|e| crate::io_at(&path, e))?;
        let mut at = 0;
        while let Some(Ok((event, len))) = bytes.get(at..).map(segments::frame) {
            out.push(event);
            at += len;
        }
    }
    Ok(out)
}
