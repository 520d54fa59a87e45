//! Keeps a `ReadModel` current: loads the checkpoint (or folds the log), then follows the log
//! by subscription. Also time travel: folds of the log cut at a past position or time.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use store::{EventStore, Timestamp};
use tokio::sync::watch;
use workflow::rollout::Definitions;

use crate::checkpoint::{self, CheckpointError};
use crate::model::{ProjectionError, ReadModel};

/// Events read per call when folding the log.
const FOLD_PAGE: usize = 2_000;

pub type SharedDefinitions = Arc<dyn Definitions + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// How the model was loaded at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Resumed from a checkpoint at this position.
    Resumed(u64),
    /// Folded from the start of the log, and why.
    Rebuilt(String),
}

/// How long `progress_history` waits for the model to reach the log's head before it folds the
/// log for the current points instead.
const LIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Estimated bytes of settled progress points kept at most.
const HISTORY_BYTES: usize = 32 << 20;

/// Settled points of progress over time, by grouping and time, oldest first out.
#[derive(Debug)]
struct History {
    points: std::collections::HashMap<(crate::GroupBy, Timestamp), BTreeMap<String, crate::Counts>>,
    order: std::collections::VecDeque<((crate::GroupBy, Timestamp), usize)>,
    bytes: usize,
    /// Estimated bytes kept at most.
    budget: usize,
    folds: u64,
}

impl Default for History {
    fn default() -> Self {
        History {
            points: Default::default(),
            order: Default::default(),
            bytes: 0,
            budget: HISTORY_BYTES,
            folds: 0,
        }
    }
}

impl History {
    fn insert(&mut self, key: (crate::GroupBy, Timestamp), point: BTreeMap<String, crate::Counts>) {
        let size = point.iter().map(|(k, c)| 96 + k.len() + c.by_phase_status.len() * 64).sum::<usize>();
        if size > self.budget || self.points.contains_key(&key) {
            return;
        }
        while self.bytes + size > self.budget {
            let Some((old, old_size)) = self.order.pop_front() else { break };
            self.points.remove(&old);
            self.bytes -= old_size;
        }
        self.points.insert(key, point);
        self.order.push_back((key, size));
        self.bytes += size;
    }
}

pub struct Projector {
    model: RwLock<ReadModel>,
    /// Points of `progress_history` that can no longer change.
    history: std::sync::Mutex<History>,
    position: watch::Sender<u64>,
    store: Arc<dyn EventStore>,
    definitions: SharedDefinitions,
    checkpoint_place: Option<CheckpointPlace>,
    /// One checkpoint write at a time (they share the temporary file, or the name).
    checkpoint_lock: tokio::sync::Mutex<()>,
}

/// Where the read models' checkpoint is kept.
#[derive(Debug, Clone)]
pub enum CheckpointPlace {
    /// A file: the data directory's `readmodel.checkpoint`.
    File(PathBuf),
    /// The store's [`store::Blobs`] under [`checkpoint::blob_name`]: with the log in PostgreSQL,
    /// a server needs no writable local directory.
    Store(Arc<dyn store::Blobs>),
}

impl From<PathBuf> for CheckpointPlace {
    fn from(path: PathBuf) -> Self {
        CheckpointPlace::File(path)
    }
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector").field("position", &*self.position.borrow()).finish_non_exhaustive()
    }
}

/// Folds the log into `model` from its position on, until the end (or `until`).
async fn catch_up(
    store: &Arc<dyn EventStore>,
    definitions: &(dyn Definitions + Sync),
    model: &mut ReadModel,
    until: Cut,
    mut progress: impl FnMut(u64),
) -> Result<(), Error> {
    let from = model.position + 1;
    walk(store, from, |page| {
        for e in page {
            if !until.includes(e.position, e.recorded_at) {
                return Ok(false);
            }
            model.apply(e, definitions)?;
        }
        progress(model.position);
        Ok(true)
    })
    .await
}

/// Reads the log from position `from` to its end, page by page, into `visit` until it says
/// stop (`false`). Reading and visiting overlap: a reader task fetches the next pages while
/// this one folds (two cores).
async fn walk(
    store: &Arc<dyn EventStore>,
    from: u64,
    mut visit: impl FnMut(&[store::RecordedEvent]) -> Result<bool, Error>,
) -> Result<(), Error> {
    let (pages, mut incoming) =
        tokio::sync::mpsc::channel::<Result<Vec<store::RecordedEvent>, store::StoreError>>(4);
    let reader = {
        let store = store.clone();
        let mut from = from;
        tokio::spawn(async move {
            loop {
                let page = store.read_all(from, FOLD_PAGE).await;
                let last = match &page {
                    Ok(p) => p.last().map(|e| e.position),
                    Err(_) => None,
                };
                let failed = page.is_err();
                if pages.send(page).await.is_err() || failed {
                    return;
                }
                match last {
                    Some(p) => from = p + 1,
                    None => return,
                }
            }
        })
    };
    let result = async {
        while let Some(page) = incoming.recv().await {
            let page = page?;
            if page.is_empty() || !visit(&page)? {
                break;
            }
        }
        Ok(())
    }
    .await;
    reader.abort();
    result
}

/// Progress grouped `by`, as it stood at each of `times` (ascending; the same cut as
/// `Cut::Time`: events recorded at or before it), from one pass over the log — the data of a
/// burn-up chart. The pass reads the whole log up to the last time (held in memory is one
/// model, not one per point).
pub async fn progress_over_time(
    store: &Arc<dyn EventStore>,
    definitions: &(dyn Definitions + Sync),
    times: &[Timestamp],
    by: crate::GroupBy,
) -> Result<Vec<std::collections::BTreeMap<String, crate::Counts>>, Error> {
    progress_over_time_where(store, definitions, times, |m| m.progress(by)).await
}

/// [`progress_over_time`] with the counts of each point taken by `counts` (e.g. one
/// programme's: `ReadModel::progress_where`). Folds the log from its start: nothing is cached.
pub async fn progress_over_time_where(
    store: &Arc<dyn EventStore>,
    definitions: &(dyn Definitions + Sync),
    times: &[Timestamp],
    counts: impl Fn(&ReadModel) -> std::collections::BTreeMap<String, crate::Counts>,
) -> Result<Vec<std::collections::BTreeMap<String, crate::Counts>>, Error> {
    let mut model = ReadModel::default();
    let mut points = Vec::with_capacity(times.len());
    walk(store, 1, |page| {
        for e in page {
            while let Some(t) = times.get(points.len()) {
                if Cut::Time(*t).includes(e.position, e.recorded_at) {
                    break;
                }
                points.push(counts(&model));
            }
            if points.len() == times.len() {
                return Ok(false);
            }
            model.apply(e, definitions)?;
        }
        Ok(true)
    })
    .await?;
    while points.len() < times.len() {
        points.push(counts(&model));
    }
    Ok(points)
}

/// Where to cut the log for a view of the past.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    Everything,
    /// Up to and including this position.
    Position(u64),
    /// Events recorded at or before this time.
    Time(Timestamp),
}

impl Cut {
    pub(crate) fn includes(self, position: u64, at: Timestamp) -> bool {
        match self {
            Cut::Everything => true,
            Cut::Position(p) => position <= p,
            Cut::Time(t) => at <= t,
        }
    }
}

/// Folds the whole log (or the part before `until`) into a fresh model.
pub async fn fold(
    store: &Arc<dyn EventStore>,
    definitions: &(dyn Definitions + Sync),
    until: Cut,
    progress: impl FnMut(u64),
) -> Result<ReadModel, Error> {
    let mut model = ReadModel::default();
    catch_up(store, definitions, &mut model, until, progress).await?;
    Ok(model)
}

impl Projector {
    /// Loads the checkpoint kept at `checkpoint_place` when it matches the log (else folds the
    /// log from the start, and says why in the log output), catches up, and follows the log.
    pub async fn start(
        store: Arc<dyn EventStore>,
        definitions: SharedDefinitions,
        checkpoint_place: Option<CheckpointPlace>,
    ) -> Result<(Arc<Projector>, Start), Error> {
        let kept = match &checkpoint_place {
            None => None,
            Some(CheckpointPlace::File(path)) => Some(checkpoint::read(path, &*definitions)),
            Some(CheckpointPlace::Store(blobs)) => Some(match blobs.get(&checkpoint::blob_name()).await {
                Ok(Some(bytes)) => checkpoint::from_bytes(bytes, &*definitions),
                Ok(None) => Err(CheckpointError::Missing),
                Err(e) => Err(CheckpointError::Unreadable(e.to_string())),
            }),
        };
        let (mut model, start) = match kept {
            None => (ReadModel::default(), Start::Rebuilt("no checkpoint file configured".into())),
            Some(kept) => match kept {
                Ok(m) => match store.read_event(m.position).await? {
                    Some(e) if e.hash == m.last_hash => {
                        let p = m.position;
                        (m, Start::Resumed(p))
                    }
                    None if m.position == 0 => (m, Start::Resumed(0)),
                    _ => (
                        ReadModel::default(),
                        Start::Rebuilt(format!(
                            "the checkpoint does not match the log at position {}",
                            m.position
                        )),
                    ),
                },
                Err(e) => (ReadModel::default(), Start::Rebuilt(e.to_string())),
            },
        };
        match &start {
            Start::Resumed(p) => tracing::info!(position = p, "read models resume from their checkpoint"),
            Start::Rebuilt(why) if why == "no checkpoint" => {
                tracing::info!("read models are folded from the log")
            }
            Start::Rebuilt(why) => tracing::warn!(reason = %why, "read models are rebuilt from the log"),
        }
        catch_up(&store, &*definitions, &mut model, Cut::Everything, |_| {}).await?;
        let (position, _) = watch::channel(model.position);
        let projector = Arc::new(Projector {
            model: RwLock::new(model),
            position,
            store,
            definitions,
            checkpoint_place,
            checkpoint_lock: tokio::sync::Mutex::new(()),
            history: std::sync::Mutex::default(),
        });
        let follower = projector.clone();
        tokio::spawn(async move {
            if let Err(e) = follower.follow().await {
                tracing::error!(error = %e, "the read models stopped following the log");
            }
        });
        Ok((projector, start))
    }

    async fn follow(&self) -> Result<(), Error> {
        let from = self.position() + 1;
        let mut events = store::subscribe(self.store.clone(), from);
        while let Some(e) = events.next().await? {
            let mut model = self.model.write().unwrap_or_else(|p| p.into_inner());
            if e.position <= model.position {
                continue;
            }
            model.apply(&e, &*self.definitions)?;
            let p = model.position;
            drop(model);
            self.position.send_replace(p);
        }
        Ok(())
    }

    /// Reads the model.
    pub fn read<R>(&self, f: impl FnOnce(&ReadModel) -> R) -> R {
        f(&self.model.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The log position the model has folded up to.
    pub fn position(&self) -> u64 {
        *self.position.borrow()
    }

    /// Waits until the model has folded `position` (read your own writes).
    pub async fn wait_for(&self, position: u64) {
        let mut rx = self.position.subscribe();
        let _ = rx.wait_for(|&p| p >= position).await;
    }

    /// Progress grouped `by` at each of `times` (ascending), as `progress_over_time` folds it
    /// from the log, but kept: a point before the log's last event can no longer change (no
    /// event is ever recorded before the one before it), so it is folded once and then answered
    /// from memory (at most `HISTORY_BYTES`, estimated; the oldest go first); a point at or
    /// after the last event is the current progress, answered from the model.
    pub async fn progress_history(
        &self,
        times: &[Timestamp],
        by: crate::GroupBy,
    ) -> Result<Vec<BTreeMap<String, crate::Counts>>, Error> {
        let head = self.store.head().await?;
        let settled = times.partition_point(|t| *t < head.recorded_at);
        let mut out: Vec<Option<BTreeMap<String, crate::Counts>>> = {
            let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
            times[..settled].iter().map(|t| history.points.get(&(by, *t)).cloned()).collect()
        };
        let missing: Vec<Timestamp> =
            times[..settled].iter().zip(&out).filter(|(_, p)| p.is_none()).map(|(t, _)| *t).collect();
        if !missing.is_empty() {
            let mut folded = self.fold_points(&missing, by).await?.into_iter();
            let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
            for (t, slot) in times.iter().zip(out.iter_mut()).filter(|(_, p)| p.is_none()) {
                let point = folded.next().unwrap_or_default();
                history.insert((by, *t), point.clone());
                *slot = Some(point);
            }
        }
        let mut out: Vec<BTreeMap<String, crate::Counts>> = out.into_iter().flatten().collect();
        let live = &times[settled..];
        if !live.is_empty() {
            // Every event recorded so far is at or before these points: the model (once it has
            // the head read above) is their answer — unless it has meanwhile applied an event
            // recorded after a point, or does not catch up in time; those points are folded.
            let caught_up = tokio::time::timeout(LIVE_WAIT, self.wait_for(head.position)).await.is_ok();
            let (now, model_time) = self.read(|m| (m.progress(by), m.audit.times.last()));
            let model_time =
                model_time.map_or(Timestamp::from_unix_micros(i64::MIN), Timestamp::from_unix_micros);
            let past = if caught_up { live.partition_point(|t| *t < model_time) } else { live.len() };
            if past > 0 {
                out.extend(self.fold_points(&live[..past], by).await?);
            }
            out.extend(live[past..].iter().map(|_| now.clone()));
        }
        Ok(out)
    }

    /// `progress_over_time`, counted.
    async fn fold_points(
        &self,
        times: &[Timestamp],
        by: crate::GroupBy,
    ) -> Result<Vec<BTreeMap<String, crate::Counts>>, Error> {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).folds += 1;
        progress_over_time(&self.store, &*self.definitions, times, by).await
    }

    /// How many times `progress_history` has folded the log (the rest came from memory).
    pub fn history_folds(&self) -> u64 {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).folds
    }

    /// Writes the checkpoint now (a write already under way is waited for first).
    pub async fn checkpoint(&self) -> Result<(), Error> {
        let Some(place) = &self.checkpoint_place else { return Ok(()) };
        let _one_at_a_time = self.checkpoint_lock.lock().await;
        match place {
            CheckpointPlace::File(path) => {
                // Written under the read lock: queries go on, the follower waits for the write.
                let model = self.model.read().unwrap_or_else(|p| p.into_inner());
                checkpoint::write(&model, path)?;
            }
            CheckpointPlace::Store(blobs) => {
                // Serialised under the read lock, sent after it (the model is not held while
                // the database takes the bytes; they are in memory meanwhile).
                let bytes = {
                    let model = self.model.read().unwrap_or_else(|p| p.into_inner());
                    checkpoint::to_bytes(&model)?
                };
                blobs.put(&checkpoint::blob_name(), &bytes).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Counts, GroupBy};

    fn point(groups: usize) -> BTreeMap<String, Counts> {
        (0..groups).map(|g| (format!("g{g:03}"), Counts::default())).collect()
    }

    #[test]
    fn the_history_keeps_to_its_budget_dropping_the_oldest_first() {
        // A point of 10 groups is estimated at 10 × (96 + 4) = 1,000 bytes.
        let mut h = History { budget: 3_500, ..History::default() };
        let at = |i: i64| (GroupBy::Service, Timestamp::from_unix_micros(i));
        for i in 0..5 {
            h.insert(at(i), point(10));
            assert!(h.bytes <= h.budget, "{} bytes", h.bytes);
        }
        let kept: Vec<i64> = h.order.iter().map(|((_, t), _)| t.unix_micros()).collect();
        assert_eq!(kept, [2, 3, 4]);
        assert!(h.points.len() == 3 && !h.points.contains_key(&at(0)));
        // A point larger than the whole budget is not kept (and drops nothing).
        h.insert(at(9), point(40));
        assert!(!h.points.contains_key(&at(9)) && h.points.len() == 3);
        // The same point twice is counted once.
        h.insert(at(4), point(10));
        assert_eq!(h.bytes, 3_000);
    }
}
