//! Checkpoints: the read model written to a file (or, with the log in PostgreSQL, to the store's
//! `Blobs`: [`to_bytes`], [`from_bytes`]) with the log position (and that event's hash) it was
//! folded up to, so a restart resumes from there instead of folding the whole log.
//!
//! The format: a JSON header line (`{"schema":4}`, so any build recognises a checkpoint of
//! another schema before reading further), the body in postcard (serde's compact binary
//! encoding: varint integers, no field names; the audit index's position lists as their
//! delta-encoded bytes, loaded without re-encoding), then a trailer of the body's length
//! (`u64`) and its CRC-32 (`u32`), little-endian. A torn, cut or altered checkpoint fails the
//! trailer (or, past it, the body's own checks) and is rebuilt, never loaded as a wrong model.
//!
//! Derived parts (progress counts, overdue and blocked lists) are not written: they are
//! recomputed from the rollouts on load. A checkpoint of another schema version, or whose
//! position's hash differs from the log's, is not used (the caller rebuilds and says so).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use catalog::Catalog;
use serde::{Deserialize, Serialize};
use store::{EventHash, Timestamp};
use workflow::rollout::{Definitions, Rollout, StepState, StepStatus};

use crate::model::{AuditIndex, ReadModel};

/// Raised whenever the read model's shape or meaning changes: older checkpoints are rebuilt.
/// 2: rollouts are kept as summaries (no step records). 3: a header line, compact steps.
/// 4: the binary body with its trailer.
pub const SCHEMA_VERSION: u32 = 5;

/// The trailer after the body: its length and CRC-32.
const TRAILER: usize = 12;

/// The first line of the file: read before the body, so a checkpoint of another schema is
/// recognised without parsing it.
#[derive(Serialize, Deserialize)]
struct Header {
    schema: u32,
}

/// The body as written: borrowed from the model and serialised as it is walked, so writing
/// a checkpoint copies nothing (it runs under the model's read lock).
#[derive(Serialize)]
struct SnapshotOut<'a> {
    position: u64,
    last_hash: EventHash,
    /// The catalogue as JSON (its serde form skips default fields, which a format without
    /// field names cannot): hundreds of entries, a small part of the whole.
    catalog: String,
    /// The definitions the rollouts run on, once each; a rollout names its by index.
    definitions: Vec<(&'a str, u32, &'a str)>,
    rollouts: RolloutsOut<'a>,
    audit: &'a AuditIndex,
}

/// Every rollout of the model, as `RolloutSnapshot`s, with the index of its definition.
struct RolloutsOut<'a>(&'a ReadModel, HashMap<(&'a str, u32, &'a str), u32>);

impl Serialize for RolloutsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.rollouts_blocked_since().map(|(r, blocked_since)| {
            let d = &r.definition;
            RolloutOut::of(r, self.1[&(&*d.id, d.version, &*d.content_hash)], blocked_since)
        }))
    }
}

/// One rollout as written, borrowed: the fields of `RolloutSnapshot`.
#[derive(Serialize)]
struct RolloutOut<'a> {
    service_key: &'a str,
    ars: &'a str,
    definition: u32,
    version: u64,
    #[serde(serialize_with = "compact_steps")]
    steps: &'a [StepState],
    #[serde(serialize_with = "land_steps")]
    land_steps_done: &'a workflow::LandSteps,
    blocked: &'a Option<String>,
    /// The blockage's category, vendor and step (a tuple: the body's format has no field names,
    /// so the event's optional fields are not skipped here).
    block: (&'a Option<String>, &'a Option<String>, &'a Option<String>),
    cancelled: &'a Option<String>,
    transferred_to: &'a Option<String>,
    assignee: &'a Option<String>,
    /// Microseconds since the epoch.
    started_at: i64,
    updated_at: i64,
    touched: bool,
    /// Since when it is blocked (microseconds), kept by the model beside the rollout.
    blocked_since: Option<i64>,
}

impl<'a> RolloutOut<'a> {
    fn of(r: &'a Rollout, definition: u32, blocked_since: Option<i64>) -> Self {
        RolloutOut {
            service_key: &r.service_key,
            ars: &r.ars,
            definition,
            version: r.version,
            steps: &r.steps,
            land_steps_done: &r.land_steps_done,
            blocked: &r.blocked,
            block: (&r.block.category, &r.block.vendor, &r.block.step),
            cancelled: &r.cancelled,
            transferred_to: &r.transferred_to,
            assignee: &r.assignee,
            started_at: r.started_at.unix_micros(),
            updated_at: r.updated_at.unix_micros(),
            touched: r.touched,
            blocked_since,
        }
    }
}

fn compact_steps<S: serde::Serializer>(steps: &&[StepState], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(steps.iter().map(compact))
}

fn land_steps<S: serde::Serializer>(steps: &&workflow::LandSteps, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(steps.iter())
}

/// The body as read.
#[derive(Deserialize)]
struct Snapshot {
    position: u64,
    last_hash: EventHash,
    catalog: String,
    definitions: Vec<(String, u32, String)>,
    rollouts: Vec<RolloutSnapshot>,
    audit: AuditIndex,
}

/// A step as (status, ready at, due at, due set by hand, overdue recorded), times in
/// microseconds: a fifth of the size of the step's own serialisation.
type CompactStep = (StepStatus, Option<i64>, Option<i64>, bool, bool);

fn compact(s: &StepState) -> CompactStep {
    (
        s.status,
        s.ready_at().map(Timestamp::unix_micros),
        s.due_at().map(Timestamp::unix_micros),
        s.due_set_by_hand,
        s.overdue_recorded,
    )
}

fn expand((status, ready_at, due_at, due_set_by_hand, overdue_recorded): CompactStep) -> StepState {
    StepState::restored(
        status,
        ready_at.map(Timestamp::from_unix_micros),
        due_at.map(Timestamp::from_unix_micros),
        due_set_by_hand,
        overdue_recorded,
    )
}

/// One rollout as read (`RolloutOut` writes it).
#[derive(Deserialize)]
struct RolloutSnapshot {
    service_key: String,
    ars: String,
    definition: u32,
    version: u64,
    steps: Vec<CompactStep>,
    land_steps_done: Vec<String>,
    blocked: Option<String>,
    block: (Option<String>, Option<String>, Option<String>),
    cancelled: Option<String>,
    transferred_to: Option<String>,
    assignee: Option<String>,
    started_at: i64,
    updated_at: i64,
    touched: bool,
    blocked_since: Option<i64>,
}

/// Why a checkpoint was not used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("no checkpoint")]
    Missing,
    #[error("the checkpoint is unreadable: {0}")]
    Unreadable(String),
    /// Writing it failed (a full disk says so here, not as an unreadable checkpoint).
    #[error("the checkpoint could not be written: {0}")]
    Unwritable(String),
    #[error("the checkpoint has schema version {found}, this build uses {SCHEMA_VERSION}")]
    OldSchema { found: u32 },
    #[error("the checkpoint names definition `{0}`, which this server does not know")]
    UnknownDefinition(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The name of the checkpoint among the store's [`store::Blobs`]: by schema version, so servers
/// of two builds on one database (a rolling upgrade) keep one each.
pub fn blob_name() -> String {
    format!("readmodel-v{SCHEMA_VERSION}")
}

/// Writes the model to `path` atomically (temporary file, fsync, rename).
pub fn write(model: &ReadModel, path: &Path) -> Result<(), CheckpointError> {
    let partial = path.with_extension("partial");
    let written = (|| {
        let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&partial)?);
        write_into(model, &mut file)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok::<_, CheckpointError>(())
    })();
    if let Err(e) = written {
        // A partial file would only take the room a full disk lacks.
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The checkpoint as bytes (for [`store::Blobs`]), in the file's format.
pub fn to_bytes(model: &ReadModel) -> Result<Vec<u8>, CheckpointError> {
    let mut bytes = Vec::new();
    write_into(model, &mut bytes)?;
    Ok(bytes)
}

/// The header line, the body, the trailer.
fn write_into(model: &ReadModel, out: &mut impl Write) -> Result<(), CheckpointError> {
    let unwritable = |e: serde_json::Error| CheckpointError::Unwritable(e.to_string());
    let mut index = HashMap::new();
    let mut definitions = Vec::new();
    for r in model.rollouts() {
        let d = &r.definition;
        index.entry((&*d.id, d.version, &*d.content_hash)).or_insert_with(|| {
            definitions.push((&*d.id, d.version, &*d.content_hash));
            definitions.len() as u32 - 1
        });
    }
    let snapshot = SnapshotOut {
        position: model.position,
        last_hash: model.last_hash,
        catalog: serde_json::to_string(&model.catalog).map_err(unwritable)?,
        definitions,
        rollouts: RolloutsOut(model, index),
        audit: &model.audit,
    };
    serde_json::to_writer(&mut *out, &Header { schema: SCHEMA_VERSION }).map_err(unwritable)?;
    out.write_all(b"\n")?;
    let mut body = Summed { inner: &mut *out, crc: crc32fast::Hasher::new(), len: 0, failed: None };
    // postcard hides the IO error behind its own: the cause is kept by `Summed`.
    if let Err(e) = postcard::to_io(&snapshot, &mut body) {
        return Err(match body.failed.take() {
            Some(io) => CheckpointError::Io(io),
            None => CheckpointError::Unwritable(e.to_string()),
        });
    }
    let (len, crc) = (body.len, body.crc.finalize());
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&crc.to_le_bytes())?;
    Ok(())
}

/// A writer that counts and checksums what passes through it.
struct Summed<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
    /// The first write error, kept for the caller.
    failed: Option<std::io::Error>,
}

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = match self.inner.write(bytes) {
            Ok(n) => n,
            Err(e) => {
                let kept = std::io::Error::new(e.kind(), e.to_string());
                self.failed.get_or_insert(e);
                return Err(kept);
            }
        };
        self.crc.update(&bytes[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Reads a checkpoint. The caller still has to check `position` and `last_hash` against the log.
/// The whole file is read into memory first (the body is checked before it is decoded).
pub fn read(path: &Path, definitions: &dyn Definitions) -> Result<ReadModel, CheckpointError> {
    match std::fs::read(path) {
        Ok(bytes) => from_bytes(bytes, definitions),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CheckpointError::Missing),
        Err(e) => Err(e.into()),
    }
}

/// Reads a checkpoint from bytes that [`to_bytes`] made. The bytes are dropped once decoded,
/// before the model is built: a start does not hold the checkpoint and the model at once.
pub fn from_bytes(bytes: Vec<u8>, definitions: &dyn Definitions) -> Result<ReadModel, CheckpointError> {
    let snapshot = decode(&bytes)?;
    drop(bytes);
    build(snapshot, definitions)
}

fn unreadable(why: String) -> CheckpointError {
    CheckpointError::Unreadable(why)
}

/// The header, the trailer's length and checksum, then the body.
fn decode(bytes: &[u8]) -> Result<Snapshot, CheckpointError> {
    // The schema first (the header line): an old checkpoint may not even parse as this one.
    let (header, rest) = match bytes.iter().position(|&b| b == b'\n') {
        Some(end) => (&bytes[..end], &bytes[end + 1..]),
        None => (bytes, &[][..]),
    };
    let header: Header = serde_json::from_slice(header).map_err(|e| unreadable(format!("header: {e}")))?;
    if header.schema != SCHEMA_VERSION {
        return Err(CheckpointError::OldSchema { found: header.schema });
    }
    let Some(split) = rest.len().checked_sub(TRAILER) else {
        return Err(unreadable(format!("cut short: {} bytes after the header, no trailer", rest.len())));
    };
    let (body, trailer) = rest.split_at(split);
    let (len, crc) = trailer.split_at(8);
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
    if len != body.len() as u64 {
        return Err(unreadable(format!(
            "the body has {} bytes, its trailer says {len}: cut short or appended to",
            body.len()
        )));
    }
    if crc32fast::hash(body) != crc {
        return Err(unreadable("the body does not match its checksum: damaged".into()));
    }
    let (snapshot, left): (Snapshot, _) =
        postcard::take_from_bytes(body).map_err(|e| unreadable(format!("body: {e}")))?;
    if !left.is_empty() {
        return Err(unreadable(format!("{} bytes after the body", left.len())));
    }
    Ok(snapshot)
}

/// The model from a decoded body: every rollout checked against its definition first, then
/// each turned into the model's as the model takes it.
fn build(snapshot: Snapshot, definitions: &dyn Definitions) -> Result<ReadModel, CheckpointError> {
    let catalog: Catalog =
        serde_json::from_str(&snapshot.catalog).map_err(|e| unreadable(format!("catalogue: {e}")))?;
    let known = snapshot
        .definitions
        .iter()
        .map(|(id, version, hash)| {
            definitions
                .get(id, *version)
                .filter(|d| d.content_hash == *hash)
                .ok_or_else(|| CheckpointError::UnknownDefinition(format!("{id} v{version}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for r in &snapshot.rollouts {
        let Some(definition) = known.get(r.definition as usize) else {
            return Err(unreadable(format!(
                "rollout {}:{} names definition {}, which is not listed",
                r.service_key, r.ars, r.definition
            )));
        };
        if definition.steps.len() != r.steps.len() {
            return Err(unreadable(format!(
                "rollout {}:{} has the wrong number of steps",
                r.service_key, r.ars
            )));
        }
    }
    let rollouts = snapshot.rollouts.into_iter().map(|r| {
        let rollout = Rollout {
            service_key: r.service_key,
            ars: r.ars,
            definition: known[r.definition as usize].clone(),
            version: r.version,
            steps: r.steps.into_iter().map(expand).collect(),
            land_steps_done: r.land_steps_done.into_iter().collect(),
            blocked: r.blocked,
            block: workflow::events::Blockage { category: r.block.0, vendor: r.block.1, step: r.block.2 },
            cancelled: r.cancelled,
            transferred_to: r.transferred_to,
            assignee: r.assignee,
            started_at: Timestamp::from_unix_micros(r.started_at),
            updated_at: Timestamp::from_unix_micros(r.updated_at),
            touched: r.touched,
            records: Vec::new(),
        };
        (rollout, r.blocked_since)
    });
    Ok(ReadModel::restore(snapshot.position, snapshot.last_hash, catalog, rollouts, snapshot.audit))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk that takes `room` bytes, then says it is full.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            let n = bytes.len().min(self.room);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A checkpoint that cannot be written names the disk's error, not an unreadable checkpoint.
    #[test]
    fn a_full_disk_is_named_as_such() {
        let model = ReadModel::default();
        for room in [0, 20, 40] {
            let e = write_into(&model, &mut Full { room }).expect_err("full");
            let text = e.to_string();
            assert!(
                text.contains("No space left on device") && !text.contains("unreadable"),
                "{room}: {text}"
            );
        }
    }
}
