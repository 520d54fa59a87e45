//! Checkpoints: the read model written to a file (or, with the log in PostgreSQL, to the store's
//! `Blobs`: [`to_bytes`], [`from_bytes`]) with the log position (and that event's hash) it was
//! folded up to, so a restart resumes from there instead of folding the whole log.
//!
//! Derived parts (progress counts, overdue and blocked lists) are not written: they are
//! recomputed from the rollouts on load. A checkpoint of another schema version, or whose
//! position's hash differs from the log's, is not used (the caller rebuilds and says so).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

use catalog::Catalog;
use serde::{Deserialize, Serialize};
use store::{EventHash, Timestamp};
use workflow::rollout::{Definitions, Rollout, StepState, StepStatus};

use crate::model::{AuditIndex, ReadModel};

/// Raised whenever the read model's shape or meaning changes: older checkpoints are rebuilt.
/// 2: rollouts are kept as summaries (no step records). 3: a header line, compact steps.
pub const SCHEMA_VERSION: u32 = 3;

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
    catalog: &'a Catalog,
    rollouts: RolloutsOut<'a>,
    blocked_since: HashMap<&'a str, i64>,
    audit: &'a AuditIndex,
}

/// Every rollout of the model, as `RolloutSnapshot`s.
struct RolloutsOut<'a>(&'a ReadModel);

impl Serialize for RolloutsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.rollouts().map(|r| RolloutOut::of(r)))
    }
}

/// One rollout as written, borrowed: the fields of `RolloutSnapshot`.
#[derive(Serialize)]
struct RolloutOut<'a> {
    service_key: &'a str,
    ars: &'a str,
    definition_id: &'a str,
    definition_version: u32,
    definition_hash: &'a str,
    version: u64,
    #[serde(serialize_with = "compact_steps")]
    steps: &'a [StepState],
    #[serde(serialize_with = "land_steps")]
    land_steps_done: &'a workflow::LandSteps,
    blocked: &'a Option<String>,
    cancelled: &'a Option<String>,
    transferred_to: &'a Option<String>,
    assignee: &'a Option<String>,
    started_at: Timestamp,
    updated_at: Timestamp,
    touched: bool,
}

impl<'a> RolloutOut<'a> {
    fn of(r: &'a Rollout) -> Self {
        RolloutOut {
            service_key: &r.service_key,
            ars: &r.ars,
            definition_id: &r.definition.id,
            definition_version: r.definition.version,
            definition_hash: &r.definition.content_hash,
            version: r.version,
            steps: &r.steps,
            land_steps_done: &r.land_steps_done,
            blocked: &r.blocked,
            cancelled: &r.cancelled,
            transferred_to: &r.transferred_to,
            assignee: &r.assignee,
            started_at: r.started_at,
            updated_at: r.updated_at,
            touched: r.touched,
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
    catalog: Catalog,
    rollouts: Vec<RolloutSnapshot>,
    blocked_since: HashMap<String, i64>,
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
    definition_id: String,
    definition_version: u32,
    definition_hash: String,
    version: u64,
    steps: Vec<CompactStep>,
    land_steps_done: Vec<String>,
    blocked: Option<String>,
    cancelled: Option<String>,
    transferred_to: Option<String>,
    assignee: Option<String>,
    started_at: Timestamp,
    updated_at: Timestamp,
    touched: bool,
}

/// Why a checkpoint was not used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("no checkpoint")]
    Missing,
    #[error("the checkpoint is unreadable: {0}")]
    Unreadable(String),
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
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&partial)?);
    write_into(model, &mut file)?;
    let file = file.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
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

/// The header line, then the body.
fn write_into(model: &ReadModel, out: &mut impl Write) -> Result<(), CheckpointError> {
    let snapshot = SnapshotOut {
        position: model.position,
        last_hash: model.last_hash,
        catalog: &model.catalog,
        rollouts: RolloutsOut(model),
        blocked_since: model.blocked_since().collect(),
        audit: &model.audit,
    };
    let unwritable = |e: serde_json::Error| CheckpointError::Unreadable(e.to_string());
    serde_json::to_writer(&mut *out, &Header { schema: SCHEMA_VERSION }).map_err(unwritable)?;
    out.write_all(b"\n")?;
    serde_json::to_writer(&mut *out, &snapshot).map_err(unwritable)?;
    Ok(())
}

/// Reads a checkpoint. The caller still has to check `position` and `last_hash` against the log.
pub fn read(path: &Path, definitions: &dyn Definitions) -> Result<ReadModel, CheckpointError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CheckpointError::Missing),
        Err(e) => return Err(e.into()),
    };
    read_from(std::io::BufReader::with_capacity(1 << 20, file), definitions)
}

/// Reads a checkpoint from bytes that [`to_bytes`] made.
pub fn from_bytes(bytes: &[u8], definitions: &dyn Definitions) -> Result<ReadModel, CheckpointError> {
    read_from(bytes, definitions)
}

fn read_from(mut reader: impl BufRead, definitions: &dyn Definitions) -> Result<ReadModel, CheckpointError> {
    // The schema first (the header line): an old checkpoint may not even parse as this one.
    let mut header = String::new();
    reader.read_line(&mut header)?;
    let header: Header =
        serde_json::from_str(&header).map_err(|e| CheckpointError::Unreadable(format!("header: {e}")))?;
    if header.schema != SCHEMA_VERSION {
        return Err(CheckpointError::OldSchema { found: header.schema });
    }
    let snapshot: Snapshot =
        serde_json::from_reader(reader).map_err(|e| CheckpointError::Unreadable(e.to_string()))?;
    let mut rollouts = Vec::with_capacity(snapshot.rollouts.len());
    for r in snapshot.rollouts {
        let definition = definitions
            .get(&r.definition_id, r.definition_version)
            .filter(|d| d.content_hash == r.definition_hash)
            .ok_or_else(|| {
                CheckpointError::UnknownDefinition(format!("{} v{}", r.definition_id, r.definition_version))
            })?;
        if definition.steps.len() != r.steps.len() {
            return Err(CheckpointError::Unreadable(format!(
                "rollout {}:{} has the wrong number of steps",
                r.service_key, r.ars
            )));
        }
        let rollout = Rollout {
            service_key: r.service_key,
            ars: r.ars,
            definition,
            version: r.version,
            steps: r.steps.into_iter().map(expand).collect(),
            land_steps_done: r.land_steps_done.into_iter().collect(),
            blocked: r.blocked,
            cancelled: r.cancelled,
            transferred_to: r.transferred_to,
            assignee: r.assignee,
            started_at: r.started_at,
            updated_at: r.updated_at,
            touched: r.touched,
            records: Vec::new(),
        };
        let blocked_since = snapshot.blocked_since.get(&rollout.id()).copied();
        rollouts.push((rollout, blocked_since));
    }
    Ok(ReadModel::restore(snapshot.position, snapshot.last_hash, snapshot.catalog, rollouts, snapshot.audit))
}
