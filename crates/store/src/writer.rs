//! The write queue every durable backend shares: callers queue their appends, one writer takes
//! them in groups, plans each group with the chain rules, makes it durable its own way, and
//! answers every caller.
//!
//! A backend's writer loop is:
//! ```text
//! while let Some(group) = receiver.next_group().await {     // or blocking_next_group()
//!     let plan = group.plan(&mut index, &mut head, clock.now());
//!     match make_durable(plan.rows()) {                    // the backend's own barrier
//!         Ok(()) => group.answer(plan, &stored_retries),   // retries: plan.retry_positions()
//!         Err(e) => group.fail(e),
//!     }
//! }
//! ```
//! Grouping, limits ([`GROUP_APPENDS_MAX`], [`GROUP_BYTES_MAX`], [`WRITE_QUEUE_DEPTH`]), planning
//! against what the group itself has planned, and the answers (a retry gets the events stored
//! the first time; an import gets nothing back) live here once.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::limits::{self, GROUP_APPENDS_MAX, GROUP_BYTES_MAX, WRITE_QUEUE_DEPTH};
use crate::{
    check_retry, plan_append, plan_continuation, AppendIndex, ExpectedVersion, Head, NewEvent, Plan,
    RecordedEvent, StoreError, Timestamp,
};

/// One write a caller queued.
#[derive(Debug)]
pub enum Write {
    /// New events for one stream (`EventStore::append`).
    Append { stream_id: String, expected: ExpectedVersion, events: Vec<NewEvent> },
    /// Events that already carry position, version and hash (`EventStore::append_recorded`).
    Recorded { events: Vec<RecordedEvent> },
}

impl Write {
    fn payload_bytes(&self) -> usize {
        match self {
            Write::Append { events, .. } => events.iter().map(|e| e.data.len()).sum(),
            Write::Recorded { events } => events.iter().map(|e| e.data.len()).sum(),
        }
    }

    /// The streams this write touches (for a backend that looks their versions up in advance).
    pub fn stream_ids(&self) -> impl Iterator<Item = &str> {
        let (one, many) = match self {
            Write::Append { stream_id, .. } => (Some(stream_id.as_str()), None),
            Write::Recorded { events } => (None, Some(events.iter().map(|e| e.stream_id.as_str()))),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    /// The event ids this write brings (for a backend that looks them up in advance).
    pub fn event_ids(&self) -> Box<dyn Iterator<Item = Uuid> + '_> {
        match self {
            Write::Append { events, .. } => Box::new(events.iter().map(|e| e.event_id)),
            Write::Recorded { events } => Box::new(events.iter().map(|e| e.event_id)),
        }
    }
}

type Reply = oneshot::Sender<Result<Vec<RecordedEvent>, StoreError>>;

struct Request {
    write: Write,
    reply: Reply,
}

/// The callers' end of the queue. Cheap to clone; when every clone is gone, the writer's
/// [`WriteReceiver`] ends after the last queued group.
#[derive(Clone, Debug)]
pub struct WriteQueue {
    requests: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.write.fmt(f)
    }
}

/// A new queue of [`WRITE_QUEUE_DEPTH`] appends: callers past it wait for room.
pub fn write_queue() -> (WriteQueue, WriteReceiver) {
    let (requests, queue) = mpsc::channel(WRITE_QUEUE_DEPTH);
    (WriteQueue { requests }, WriteReceiver { queue })
}

impl WriteQueue {
    /// Queues an append and waits until the writer has answered it (durable, or refused).
    pub async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.send(Write::Append { stream_id: stream_id.to_owned(), expected, events }).await
    }

    /// Queues already-recorded events (checked against the limits first) and waits.
    pub async fn append_recorded(&self, events: Vec<RecordedEvent>) -> Result<(), StoreError> {
        limits::check_recorded(&events)?;
        self.send(Write::Recorded { events }).await.map(|_| ())
    }

    async fn send(&self, write: Write) -> Result<Vec<RecordedEvent>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(Request { write, reply }).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// The writer's end of the queue: hands out groups.
#[derive(Debug)]
pub struct WriteReceiver {
    queue: mpsc::Receiver<Request>,
}

impl WriteReceiver {
    /// Waits for the next write, then takes every write waiting at that moment, up to
    /// [`GROUP_APPENDS_MAX`] appends and [`GROUP_BYTES_MAX`] payload bytes (counted as writes
    /// join, so the last one may pass it). `None` once every [`WriteQueue`] is gone.
    pub async fn next_group(&mut self) -> Option<Group> {
        let first = self.queue.recv().await?;
        Some(self.fill(first))
    }

    /// [`Self::next_group`] for a writer on a thread of its own (not inside the runtime).
    pub fn blocking_next_group(&mut self) -> Option<Group> {
        let first = self.queue.blocking_recv()?;
        Some(self.fill(first))
    }

    fn fill(&mut self, first: Request) -> Group {
        let mut bytes = first.write.payload_bytes();
        let mut requests = vec![first];
        while requests.len() < GROUP_APPENDS_MAX && bytes < GROUP_BYTES_MAX {
            match self.queue.try_recv() {
                Ok(request) => {
                    bytes += request.write.payload_bytes();
                    requests.push(request);
                }
                Err(_) => break,
            }
        }
        Group { requests }
    }
}

/// Writes taken together: one durability barrier for all of them.
#[derive(Debug)]
pub struct Group {
    requests: Vec<Request>,
}

/// What became of one write of a group.
#[derive(Debug)]
enum Outcome {
    Written(Vec<RecordedEvent>),
    /// A retry of a stored append: the positions of its events; nothing is written.
    AlreadyStored(Vec<u64>),
    Refused(StoreError),
}

/// A group planned against the log: the rows to make durable, and each caller's outcome.
#[derive(Debug)]
pub struct GroupPlan {
    outcomes: Vec<Outcome>,
    rows: Vec<RecordedEvent>,
}

impl GroupPlan {
    /// The new events of the whole group, in position order, chained from the head `plan` was
    /// given. Empty when every write was refused or a retry.
    pub fn rows(&self) -> &[RecordedEvent] {
        &self.rows
    }

    /// The positions whose stored events [`Group::answer`] needs: the retries' events, except
    /// those this group itself writes (a retry queued behind its original).
    pub fn retry_positions(&self) -> Vec<u64> {
        let first_row = self.rows.first().map_or(u64::MAX, |e| e.position);
        let mut positions: Vec<u64> = self
            .outcomes
            .iter()
            .filter_map(|o| if let Outcome::AlreadyStored(p) = o { Some(p.iter().copied()) } else { None })
            .flatten()
            .filter(|&p| p < first_row)
            .collect();
        positions.sort_unstable();
        positions.dedup();
        positions
    }

    /// Writes of the group that write events.
    pub fn writes_written(&self) -> usize {
        self.outcomes.iter().filter(|o| matches!(o, Outcome::Written(_))).count()
    }
}

impl Group {
    pub fn writes(&self) -> impl Iterator<Item = &Write> {
        self.requests.iter().map(|r| &r.write)
    }

    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Plans every write in queue order with the chain rules, against `index` (the stored log)
    /// plus what the group's earlier writes planned; advances `head` past the planned rows. A
    /// refused write does not stop the others.
    pub fn plan(&self, index: &mut dyn AppendIndex, head: &mut Head, now: Timestamp) -> GroupPlan {
        let mut overlay = Overlay { stored: index, versions: HashMap::new(), ids: HashMap::new() };
        let mut rows = Vec::new();
        let outcomes = self
            .requests
            .iter()
            .map(|request| {
                let outcome = match &request.write {
                    Write::Append { stream_id, expected, events } => {
                        match plan_append(&mut overlay, head, stream_id, *expected, events.clone(), now) {
                            Ok(Plan::Write(records)) => Outcome::Written(records),
                            Ok(Plan::AlreadyStored(positions)) => Outcome::AlreadyStored(positions),
                            Err(e) => Outcome::Refused(e),
                        }
                    }
                    Write::Recorded { events } => {
                        let mut continued = *head;
                        match plan_continuation(&mut overlay, &mut continued, events, &mut HashMap::new()) {
                            Ok(()) => {
                                *head = continued;
                                Outcome::Written(events.clone())
                            }
                            Err(e) => Outcome::Refused(e),
                        }
                    }
                };
                if let Outcome::Written(records) = &outcome {
                    overlay.planned(records);
                    rows.extend(records.iter().cloned());
                }
                outcome
            })
            .collect();
        GroupPlan { outcomes, rows }
    }

    /// Answers every caller after the plan's rows are durable: an append with its events, an
    /// import with nothing, a retry with the events stored the first time (`stored` holds at
    /// least the plan's [`GroupPlan::retry_positions`]), a refusal with its error.
    pub fn answer(self, plan: GroupPlan, stored: &[RecordedEvent]) {
        let by_position: HashMap<u64, &RecordedEvent> =
            stored.iter().chain(&plan.rows).map(|e| (e.position, e)).collect();
        for (request, outcome) in self.requests.into_iter().zip(plan.outcomes) {
            let answer = match (request.write, outcome) {
                (Write::Recorded { .. }, Outcome::Written(_)) => Ok(Vec::new()),
                (Write::Append { .. }, Outcome::Written(records)) => Ok(records),
                (_, Outcome::Refused(e)) => Err(e),
                (Write::Append { stream_id, events, .. }, Outcome::AlreadyStored(positions)) => {
                    retried(&stream_id, &events, &positions, &by_position)
                }
                (Write::Recorded { .. }, Outcome::AlreadyStored(_)) => {
                    Err(StoreError::Invalid("an import is never a retry".into()))
                }
            };
            let _ = request.reply.send(answer);
        }
    }

    /// Answers every caller with `error`: nobody is told a write of this group succeeded.
    pub fn fail(self, error: StoreError) {
        for request in self.requests {
            let _ = request.reply.send(Err(error.clone()));
        }
    }
}

fn retried(
    stream_id: &str,
    events: &[NewEvent],
    positions: &[u64],
    stored: &HashMap<u64, &RecordedEvent>,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let out = positions
        .iter()
        .map(|&position| {
            stored.get(&position).map(|&e| e.clone()).ok_or_else(|| StoreError::Corrupt {
                position,
                reason: "the indexed event of a retried append is missing".into(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_retry(stream_id, events, &out)?;
    Ok(out)
}

/// The stored index plus what the group has planned so far.
struct Overlay<'a> {
    stored: &'a mut dyn AppendIndex,
    versions: HashMap<String, u64>,
    ids: HashMap<Uuid, u64>,
}

impl Overlay<'_> {
    fn planned(&mut self, events: &[RecordedEvent]) {
        for e in events {
            self.versions.insert(e.stream_id.clone(), e.version);
            self.ids.insert(e.event_id, e.position);
        }
    }
}

impl AppendIndex for Overlay<'_> {
    fn stream_version(&mut self, stream_id: &str) -> Result<u64, StoreError> {
        match self.versions.get(stream_id) {
            Some(&v) => Ok(v),
            None => self.stored.stream_version(stream_id),
        }
    }

    fn position_of(&mut self, event_id: Uuid) -> Result<Option<u64>, StoreError> {
        match self.ids.get(&event_id) {
            Some(&p) => Ok(Some(p)),
            None => self.stored.position_of(event_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, ActorKind, Json};

    fn event(n: u64) -> NewEvent {
        let actor =
            Actor { id: "person:test".into(), name: "Test".into(), kind: ActorKind::Person, person: None };
        NewEvent::new(
            "TestHappened",
            1,
            Json::from_value(&serde_json::json!({ "n": n })),
            actor,
            Uuid::now_v7(),
        )
    }

    /// An empty log.
    struct Empty;

    impl AppendIndex for Empty {
        fn stream_version(&mut self, _: &str) -> Result<u64, StoreError> {
            Ok(0)
        }
        fn position_of(&mut self, _: Uuid) -> Result<Option<u64>, StoreError> {
            Ok(None)
        }
    }

    fn now() -> Timestamp {
        Timestamp::from_unix_micros(1_700_000_000_000_000)
    }

    /// Queues `writes` in order, each once the one before is in the queue; returns the answers
    /// to await once the group is done.
    async fn queue_all(
        queue: &WriteQueue,
        writes: Vec<(&'static str, ExpectedVersion, Vec<NewEvent>)>,
    ) -> Vec<tokio::task::JoinHandle<Result<Vec<RecordedEvent>, StoreError>>> {
        let mut answers = Vec::new();
        for (i, (stream, expected, events)) in writes.into_iter().enumerate() {
            let sender = queue.clone();
            answers.push(tokio::spawn(async move { sender.append(stream, expected, events).await }));
            until_queued(queue, i + 1).await;
        }
        answers
    }

    async fn until_queued(queue: &WriteQueue, n: usize) {
        while WRITE_QUEUE_DEPTH - queue.requests.capacity() < n {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_group_plans_against_its_own_earlier_writes_and_a_refusal_stops_no_other() {
        let (queue, mut receiver) = write_queue();
        let original = vec![event(1)];
        let answers = queue_all(
            &queue,
            vec![
                ("a", ExpectedVersion::NoStream, original.clone()),
                // Sees the first write's version 1, though nothing is stored yet.
                ("a", ExpectedVersion::Exact(1), vec![event(2)]),
                // Stale: refused, and the writes around it still go in.
                ("a", ExpectedVersion::Exact(0), vec![event(3)]),
                // A retry queued behind its original: answered with the original's events.
                ("a", ExpectedVersion::NoStream, original),
                ("b", ExpectedVersion::Any, vec![event(4), event(5)]),
            ],
        )
        .await;
        let group = receiver.next_group().await.expect("a group");
        assert_eq!(group.len(), 5);
        let mut head = Head::EMPTY;
        let plan = group.plan(&mut Empty, &mut head, now());
        let rows: Vec<(&str, u64, u64)> =
            plan.rows().iter().map(|e| (e.stream_id.as_str(), e.version, e.position)).collect();
        assert_eq!(rows, [("a", 1, 1), ("a", 2, 2), ("b", 1, 3), ("b", 2, 4)]);
        assert_eq!(head.position, 4);
        assert_eq!(plan.writes_written(), 3);
        assert!(plan.retry_positions().is_empty(), "the retried events are in the group's own rows");
        let written = plan.rows().to_vec();
        group.answer(plan, &[]);
        let mut results = Vec::new();
        for answer in answers {
            results.push(answer.await.expect("the task ends"));
        }
        assert_eq!(results[0].as_ref().expect("first write")[0].position, 1);
        assert_eq!(results[1].as_ref().expect("second write")[0].position, 2);
        assert!(matches!(results[2], Err(StoreError::Conflict { actual: 2, .. })), "{:?}", results[2]);
        assert_eq!(results[3].as_ref().expect("the retry"), &written[..1]);
        assert_eq!(results[4].as_ref().expect("stream b").len(), 2);
    }

    #[tokio::test]
    async fn a_group_is_cut_at_the_append_limit_and_the_rest_waits_for_the_next() {
        let (queue, mut receiver) = write_queue();
        let n = GROUP_APPENDS_MAX + 3;
        let writes = (0..n).map(|i| ("s", ExpectedVersion::Any, vec![event(i as u64)])).collect();
        let answers = queue_all(&queue, writes).await;
        let first = receiver.next_group().await.expect("a group");
        let second = receiver.next_group().await.expect("the rest");
        assert_eq!((first.len(), second.len()), (GROUP_APPENDS_MAX, 3));
        first.fail(StoreError::Io("disk gone".into()));
        second.fail(StoreError::Io("disk gone".into()));
        for answer in answers {
            assert!(
                matches!(answer.await.expect("the task ends"), Err(StoreError::Io(m)) if m == "disk gone")
            );
        }
    }

    #[tokio::test]
    async fn a_group_is_cut_past_the_byte_limit() {
        let (queue, mut receiver) = write_queue();
        // Each append carries a little over a quarter of the group's byte limit.
        let big = |n: u64| {
            let mut e = event(n);
            e.data = Json::from_value(&serde_json::json!("x".repeat(GROUP_BYTES_MAX / 4 + 1)));
            e
        };
        let writes = (0..6).map(|i| ("s", ExpectedVersion::Any, vec![big(i)])).collect();
        let _answers = queue_all(&queue, writes).await;
        // The fourth append takes the group past the limit, and it is the last to join.
        assert_eq!(receiver.next_group().await.expect("a group").len(), 4);
        assert_eq!(receiver.next_group().await.expect("the rest").len(), 2);
    }

    #[tokio::test]
    async fn the_receiver_ends_when_every_queue_is_gone_and_a_caller_whose_writer_left_hears_closed() {
        let (queue, mut receiver) = write_queue();
        let answers = queue_all(&queue, vec![("s", ExpectedVersion::Any, vec![event(1)])]).await;
        drop(receiver.next_group().await.expect("a group")); // dropped unanswered
        assert!(matches!(
            answers.into_iter().next().expect("one answer").await.expect("the task ends"),
            Err(StoreError::Closed)
        ));
        drop(queue);
        assert!(receiver.next_group().await.is_none());
        let (queue, receiver) = write_queue();
        drop(receiver);
        assert!(matches!(
            queue.append("s", ExpectedVersion::Any, vec![event(1)]).await,
            Err(StoreError::Closed)
        ));
    }
}
