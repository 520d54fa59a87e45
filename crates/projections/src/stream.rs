//! One rollout's own stream, folded. The one place that pages through a rollout's events,
//! decodes and evolves them: the engine loads a rollout with it before deciding, the API's
//! details, history and time travel read with it.

use store::{Direction, EventStore, RecordedEvent};
use workflow::rollout::{stream_id, Definitions, Meta, Rollout};
use workflow::{RolloutEvent, StepStatus};

use crate::model::ProjectionError;
use crate::projector::{Cut, Error};

/// Events read per call when folding a stream.
const STREAM_PAGE: usize = 1_000;

/// Decodes a stored event of a rollout's stream and applies it.
pub fn evolve_recorded(
    state: Option<Rollout>,
    e: &RecordedEvent,
    definitions: &dyn Definitions,
) -> Result<Rollout, ProjectionError> {
    let unreadable = |reason: String| ProjectionError::Unreadable { position: e.position, reason };
    let event =
        RolloutEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str()).map_err(unreadable)?;
    let meta = Meta { at: e.recorded_at, actor: &e.actor };
    Rollout::evolve(state, &event, &meta, definitions).map_err(|err| unreadable(err.to_string()))
}

/// Folds the rollout of `service_key` at `ars` from the start of its stream while `include`
/// holds, calling `visit` with each event and the rollout after it. `None`: no such rollout
/// (or its first event is not included).
pub async fn fold_rollout(
    store: &dyn EventStore,
    definitions: &(dyn Definitions + Sync),
    service_key: &str,
    ars: &str,
    mut include: impl FnMut(&RecordedEvent) -> bool,
    mut visit: impl FnMut(&RecordedEvent, &Rollout),
) -> Result<Option<Rollout>, Error> {
    let stream = stream_id(service_key, ars);
    let mut state = None;
    let mut from = 1;
    loop {
        let page = store.read_stream(&stream, from, Direction::Forward, STREAM_PAGE).await?;
        let Some(last) = page.last() else { break };
        from = last.version + 1;
        for e in &page {
            if !include(e) {
                return Ok(state);
            }
            let next = evolve_recorded(state, e, definitions)?;
            visit(e, &next);
            state = Some(next);
        }
    }
    Ok(state)
}

/// `state` (the fold of the rollout's first `state.version` events, or `None` for none)
/// brought forward with the events after it; returns the rollout now and how many events that
/// read.
pub async fn continue_rollout(
    store: &dyn EventStore,
    definitions: &(dyn Definitions + Sync),
    service_key: &str,
    ars: &str,
    mut state: Option<Rollout>,
) -> Result<(Option<Rollout>, u64), Error> {
    let stream = stream_id(service_key, ars);
    let mut from = state.as_ref().map_or(1, |r| r.version + 1);
    let mut read = 0;
    loop {
        let page = store.read_stream(&stream, from, Direction::Forward, STREAM_PAGE).await?;
        let Some(last) = page.last() else { break };
        from = last.version + 1;
        read += page.len() as u64;
        for e in &page {
            state = Some(evolve_recorded(state, e, definitions)?);
        }
        if page.len() < STREAM_PAGE {
            break;
        }
    }
    Ok((state, read))
}

/// The rollout as it is now, with everything its steps recorded.
pub async fn load_rollout(
    store: &dyn EventStore,
    definitions: &(dyn Definitions + Sync),
    service_key: &str,
    ars: &str,
) -> Result<Option<Rollout>, Error> {
    fold_rollout(store, definitions, service_key, ars, |_| true, |_, _| {}).await
}

/// One rollout as it stood after its first `version` events, with everything its steps
/// recorded (the read model keeps summaries): for the details of what the read model shows.
pub async fn rollout_at_version(
    store: &dyn EventStore,
    definitions: &(dyn Definitions + Sync),
    service_key: &str,
    ars: &str,
    version: u64,
) -> Result<Option<Rollout>, Error> {
    fold_rollout(store, definitions, service_key, ars, |e| e.version <= version, |_, _| {}).await
}

/// One rollout as it stood at `until`, from its own stream.
pub async fn rollout_as_of(
    store: &dyn EventStore,
    definitions: &(dyn Definitions + Sync),
    service_key: &str,
    ars: &str,
    until: Cut,
) -> Result<Option<Rollout>, Error> {
    fold_rollout(
        store,
        definitions,
        service_key,
        ars,
        |e| until.includes(e.position, e.recorded_at),
        |_, _| {},
    )
    .await
}

/// One event of a rollout's history and what it changed.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub event: RecordedEvent,
    /// The rollout's status and phase id after the event.
    pub status_after: &'static str,
    pub phase_after: String,
    /// (step id, status before — none for the first event —, status after) of each step whose
    /// status the event changed.
    pub step_changes: Vec<(String, Option<StepStatus>, StepStatus)>,
}

/// A rollout's history: up to `first` of its events after position `after`, each with the
/// change it made (the whole stream is folded: a change needs the state before it).
pub async fn history(
    store: &dyn EventStore,
    definitions: &(dyn Definitions + Sync),
    service_key: &str,
    ars: &str,
    after: Option<u64>,
    first: usize,
) -> Result<Vec<HistoryEntry>, Error> {
    let mut out = Vec::new();
    let full = std::sync::atomic::AtomicBool::new(first == 0);
    let mut before: Option<Vec<StepStatus>> = None;
    fold_rollout(
        store,
        definitions,
        service_key,
        ars,
        |_| !full.load(std::sync::atomic::Ordering::Relaxed),
        |e, next| {
            let statuses: Vec<StepStatus> = next.steps.iter().map(|s| s.status).collect();
            if after.is_none_or(|a| e.position > a) {
                let step_changes = next
                    .definition
                    .steps
                    .iter()
                    .zip(&statuses)
                    .enumerate()
                    .filter_map(|(i, (d, &to))| {
                        let was = before.as_ref().and_then(|b| b.get(i).copied());
                        (was != Some(to)).then(|| (d.id.clone(), was, to))
                    })
                    .collect();
                out.push(HistoryEntry {
                    event: e.clone(),
                    status_after: next.status().name(),
                    phase_after: next
                        .definition
                        .phases
                        .get(next.phase())
                        .map(|p| p.id.clone())
                        .unwrap_or_default(),
                    step_changes,
                });
                full.store(out.len() >= first, std::sync::atomic::Ordering::Relaxed);
            }
            before = Some(statuses);
        },
    )
    .await?;
    Ok(out)
}

/// The durable events at `positions`, in that order (an audit page); a position past the log's
/// end is left out.
pub async fn events_at(store: &dyn EventStore, positions: &[u64]) -> Result<Vec<RecordedEvent>, Error> {
    let mut out = Vec::with_capacity(positions.len());
    for &p in positions {
        if let Some(e) = store.read_event(p).await? {
            out.push(e);
        }
    }
    Ok(out)
}
