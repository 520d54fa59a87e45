//! The journal: what makes an append durable.
//!
//! Each group commit writes its events to the current journal file as frames
//! (`length:u32 BE`, then the event as `store::encode` writes it) and calls `fdatasync` once:
//! one write and one barrier per group, the machine's raw limit. The same events go into sled's
//! tree in memory; a checkpointer flushes sled and `fdatasync`s its file every
//! [`CHECKPOINT_INTERVAL`], after which journal files wholly below the checkpoint are deleted.
//! On open, events in the journal that sled lost are replayed into it.
//!
//! A frame is valid when it decodes and its content matches its hash, so a torn write at the
//! end of the last file (a crash mid-write) is recognised and cut off; an invalid frame anywhere
//! else is corruption and stops the open.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use store::{RecordedEvent, StoreError};

/// A journal file is closed and a new one begun once it holds this many bytes.
pub(crate) const FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// How often sled is made durable so that journal files can go.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

pub(crate) struct Journal {
    dir: PathBuf,
    current: File,
    current_path: PathBuf,
    current_bytes: u64,
    /// Closed files and the last position each holds.
    closed: Vec<(PathBuf, u64)>,
    /// Last position written to the current file.
    last_position: u64,
    frames: Vec<u8>,
}

fn file_name(first_position: u64) -> String {
    format!("{first_position:020}.journal")
}

/// The journal files in `dir`, oldest first.
fn files(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_at(dir, e))? {
        let path = entry.map_err(|e| io_at(dir, e))?.path();
        if path.extension().is_some_and(|x| x == "journal") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Every valid event in the journal, in order. A torn frame at the end of the last file ends
/// the journal; one anywhere else is corruption.
pub(crate) fn recover(dir: &Path) -> Result<Vec<RecordedEvent>, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| io_at(dir, e))?;
    let files = files(dir)?;
    let mut events = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let bytes = std::fs::read(path).map_err(|e| io_at(path, e))?;
        let mut at = 0usize;
        while at < bytes.len() {
            match frame(&bytes[at..]) {
                Some((event, len)) => {
                    events.push(event);
                    at += len;
                }
                None if i + 1 == files.len() => {
                    tracing::warn!(file = %path.display(), offset = at, "cut off a torn write at the end of the journal");
                    break;
                }
                None => {
                    return Err(StoreError::Io(format!(
                        "the journal file {} is corrupt at byte {at}",
                        path.display()
                    )))
                }
            }
        }
    }
    Ok(events)
}

fn frame(bytes: &[u8]) -> Option<(RecordedEvent, usize)> {
    let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let record = bytes.get(4..4 + len)?;
    let event = store::decode(record).ok()?;
    (store::event_hash(&event) == event.hash).then_some((event, 4 + len))
}

/// Deletes every journal file (after a checkpoint that covers all of them).
pub(crate) fn remove_all(dir: &Path) -> Result<(), StoreError> {
    for path in files(dir)? {
        std::fs::remove_file(&path).map_err(|e| io_at(&path, e))?;
    }
    crate::sync_dir(dir)
}

impl Journal {
    /// Deletes the old files (their events are in sled, durably) and begins a new one.
    pub(crate) fn start(dir: &Path, next_position: u64) -> Result<Journal, StoreError> {
        let old = files(dir)?;
        let path = dir.join(file_name(next_position));
        let current = File::options().create(true).append(true).open(&path).map_err(|e| io_at(&path, e))?;
        for old in old.into_iter().filter(|p| *p != path) {
            std::fs::remove_file(&old).map_err(|e| io_at(&old, e))?;
        }
        crate::sync_dir(dir)?;
        Ok(Journal {
            dir: dir.to_owned(),
            current,
            current_path: path,
            current_bytes: 0,
            closed: Vec::new(),
            last_position: next_position.saturating_sub(1),
            frames: Vec::new(),
        })
    }

    /// Writes the events and returns once they are on stable storage.
    pub(crate) fn write(&mut self, events: &[RecordedEvent]) -> Result<(), StoreError> {
        self.frames.clear();
        for e in events {
            let record = store::encode(e);
            self.frames.extend_from_slice(&(record.len() as u32).to_be_bytes());
            self.frames.extend_from_slice(&record);
        }
        self.current.write_all(&self.frames)?;
        self.current.sync_data()?;
        self.current_bytes += self.frames.len() as u64;
        if let Some(last) = events.last() {
            self.last_position = last.position;
        }
        Ok(())
    }

    /// Called between groups: begins a new file when the current one is full, and deletes
    /// closed files whose events sled holds durably (up to `checkpoint`).
    pub(crate) fn maintain(&mut self, checkpoint: u64) -> Result<(), StoreError> {
        if self.current_bytes >= FILE_BYTES_MAX {
            let path = self.dir.join(file_name(self.last_position + 1));
            let next = File::options().create(true).append(true).open(&path).map_err(|e| io_at(&path, e))?;
            crate::sync_dir(&self.dir)?;
            self.current = next;
            let old_path = std::mem::replace(&mut self.current_path, path);
            self.closed.push((old_path, self.last_position));
            self.current_bytes = 0;
        }
        while let Some((path, last)) = self.closed.first() {
            if *last > checkpoint {
                break;
            }
            std::fs::remove_file(path).map_err(|e| io_at(path, e))?;
            self.closed.remove(0);
        }
        Ok(())
    }
}

fn io_at(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", path.display()))
}
