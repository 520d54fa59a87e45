//! Questions on a step (Rückfragen): a thread on one step of a rollout, addressed to the
//! administration, the Land, the association or the project team; answers; resolved or open; read
//! marks. Every message and every read mark is an event (actor, time) in the rollout's
//! question stream `questions-<serviceKey>:<ARS>`, apart from the rollout's own stream, so a
//! question never changes the rollout's version and whoever may read the rollout may read its
//! threads (the stream id says which rollout). The texts are work notes, like comments: no
//! personal data; the people are the events' actors (persons by id).
//!
//! The board (every thread, in memory: a few hundred bytes per message) is folded from the
//! question streams at open and follows the log.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use store::{Actor, RecordedEvent, Timestamp};
use uuid::Uuid;

use crate::{EngineError, Invocation};

pub const QUESTION_ASKED: (&str, u32) = ("QuestionAsked", 1);
pub const QUESTION_ANSWERED: (&str, u32) = ("QuestionAnswered", 1);
pub const QUESTION_RESOLVED: (&str, u32) = ("QuestionResolved", 1);
pub const QUESTION_REOPENED: (&str, u32) = ("QuestionReopened", 1);
pub const QUESTION_READ: (&str, u32) = ("QuestionRead", 1);

pub use workflow::rollout::{question_stream_id as question_stream, QUESTION_STREAM_PREFIX};

/// The rollout (service key, ARS) a question stream belongs to.
pub fn rollout_of_question_stream(stream_id: &str) -> Option<(&str, &str)> {
    stream_id.starts_with(QUESTION_STREAM_PREFIX).then(|| workflow::rollout::rollout_of_stream(stream_id))?
}

/// Whom a question is addressed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The rollout's administration (its staff).
    Administration,
    /// The Land's project managers.
    Land,
    /// The association (association staff).
    Association,
    /// The programme's project team (admins).
    ProjectTeam,
}

impl Party {
    pub fn name(self) -> &'static str {
        match self {
            Party::Administration => "administration",
            Party::Land => "land",
            Party::Association => "association",
            Party::ProjectTeam => "project_team",
        }
    }
}

/// The payload of `QuestionAsked`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionAsked {
    pub question_id: Uuid,
    pub step: String,
    pub to: Party,
    pub text: String,
}

/// The payload of `QuestionAnswered`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionAnswered {
    pub question_id: Uuid,
    pub text: String,
}

/// The payload of `QuestionResolved` and `QuestionReopened`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionStatusChanged {
    pub question_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The payload of `QuestionRead`: the actor read the thread up to `messages` messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionRead {
    pub question_id: Uuid,
    pub messages: u32,
}

/// One message of a thread: the question, then the answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub position: u64,
    pub at: Timestamp,
    pub actor: Actor,
    pub text: String,
}

/// A thread as the board keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    pub id: Uuid,
    pub service_key: String,
    pub ars: String,
    pub step: String,
    pub to: Party,
    /// The question first, then the answers, in log order.
    pub messages: Vec<Message>,
    /// Resolved: when and by whom; `None` while open.
    pub resolved: Option<(Timestamp, Actor)>,
    /// The position of the last resolution or reopening.
    status_position: u64,
    /// Who read how many messages, and when (the last mark of each actor).
    pub reads: BTreeMap<String, (u32, Timestamp, Actor)>,
}

impl Question {
    pub fn is_open(&self) -> bool {
        self.resolved.is_none()
    }

    /// Messages `actor_id` has not read that others wrote.
    pub fn unread_for(&self, actor_id: &str) -> usize {
        let read = self.reads.get(actor_id).map_or(0, |r| r.0 as usize);
        self.messages.iter().skip(read).filter(|m| m.actor.id != actor_id).count()
    }

    pub fn rollout_id(&self) -> String {
        workflow::rollout::rollout_id(&self.service_key, &self.ars)
    }
}

/// Every thread, by id and by rollout.
#[derive(Debug, Default)]
pub struct QuestionBoard {
    inner: RwLock<Board>,
}

#[derive(Debug, Default)]
struct Board {
    by_id: HashMap<Uuid, Question>,
    /// Rollout id → thread ids, oldest first.
    by_rollout: HashMap<String, Vec<Uuid>>,
}

impl QuestionBoard {
    /// Applies an event of the log; other streams' events and repeats change nothing.
    pub fn apply(&self, e: &RecordedEvent) {
        let Some((service_key, ars)) = rollout_of_question_stream(&e.stream_id) else { return };
        let mut board = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let unreadable = |err: serde_json::Error| {
            tracing::warn!(position = e.position, error = %err, "an unreadable question event");
        };
        let message =
            |text: String| Message { position: e.position, at: e.recorded_at, actor: e.actor.clone(), text };
        match e.event_type.as_str() {
            t if t == QUESTION_ASKED.0 => {
                let Ok(q) = e.data.decode::<QuestionAsked>().map_err(unreadable) else { return };
                if board.by_id.contains_key(&q.question_id) {
                    return;
                }
                let question = Question {
                    id: q.question_id,
                    service_key: service_key.to_owned(),
                    ars: ars.to_owned(),
                    step: q.step,
                    to: q.to,
                    messages: vec![message(q.text)],
                    resolved: None,
                    status_position: 0,
                    reads: BTreeMap::new(),
                };
                board.by_rollout.entry(question.rollout_id()).or_default().push(q.question_id);
                board.by_id.insert(q.question_id, question);
            }
            t if t == QUESTION_ANSWERED.0 => {
                let Ok(a) = e.data.decode::<QuestionAnswered>().map_err(unreadable) else { return };
                if let Some(q) = board.by_id.get_mut(&a.question_id) {
                    // Another server's answer may arrive after this one's later one.
                    if let Err(at) = q.messages.binary_search_by_key(&e.position, |m| m.position) {
                        q.messages.insert(at, message(a.text));
                    }
                }
            }
            t if t == QUESTION_RESOLVED.0 || t == QUESTION_REOPENED.0 => {
                let Ok(c) = e.data.decode::<QuestionStatusChanged>().map_err(unreadable) else { return };
                if let Some(q) = board.by_id.get_mut(&c.question_id) {
                    if q.status_position < e.position {
                        q.status_position = e.position;
                        q.resolved = (t == QUESTION_RESOLVED.0).then(|| (e.recorded_at, e.actor.clone()));
                    }
                }
            }
            t if t == QUESTION_READ.0 => {
                let Ok(r) = e.data.decode::<QuestionRead>().map_err(unreadable) else { return };
                if let Some(q) = board.by_id.get_mut(&r.question_id) {
                    let known = q.reads.get(&e.actor.id).map_or(0, |m| m.0);
                    q.reads
                        .insert(e.actor.id.clone(), (r.messages.max(known), e.recorded_at, e.actor.clone()));
                }
            }
            _ => {}
        }
    }

    pub fn get(&self, id: Uuid) -> Option<Question> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).by_id.get(&id).cloned()
    }

    /// The threads of a rollout, oldest first.
    pub fn of_rollout(&self, service_key: &str, ars: &str) -> Vec<Question> {
        let board = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let id = workflow::rollout::rollout_id(service_key, ars);
        board.by_rollout.get(&id).into_iter().flatten().filter_map(|q| board.by_id.get(q).cloned()).collect()
    }

    /// Every thread for which `keep` holds, oldest first.
    pub fn all(&self, mut keep: impl FnMut(&Question) -> bool) -> Vec<Question> {
        let board = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<Question> = board.by_id.values().filter(|q| keep(q)).cloned().collect();
        out.sort_by_key(|q| q.messages.first().map_or(0, |m| m.position));
        out
    }
}

impl crate::Engine {
    pub fn questions(&self) -> &QuestionBoard {
        &self.questions
    }

    /// Asks a question on a step of a started rollout, addressed to `to`.
    pub async fn ask_question(
        &self,
        service_key: &str,
        ars: &str,
        step: &str,
        to: Party,
        text: &str,
        req: &Invocation,
    ) -> Result<Question, EngineError> {
        let rollout = self
            .load(service_key, ars)
            .await?
            .ok_or(EngineError::Rejected(workflow::Rejection::NotStarted))?;
        if rollout.definition.step_index(step).is_none() {
            return Err(EngineError::Rejected(workflow::Rejection::UnknownStep { step: step.to_owned() }));
        }
        let id = Uuid::now_v7();
        let command = QuestionCommand::Ask { id, step, to, text };
        self.question_command(service_key, ars, id, command, req).await
    }

    /// Answers a thread (open or resolved: an answer to a resolved one does not reopen it).
    pub async fn answer_question(
        &self,
        id: Uuid,
        text: &str,
        req: &Invocation,
    ) -> Result<Question, EngineError> {
        let q = self.questions.get(id).ok_or(EngineError::UnknownQuestion(id))?;
        self.question_command(&q.service_key, &q.ars, id, QuestionCommand::Answer { id, text }, req).await
    }

    /// Resolves an open thread, or reopens a resolved one.
    pub async fn set_question_resolved(
        &self,
        id: Uuid,
        resolved: bool,
        comment: Option<&str>,
        req: &Invocation,
    ) -> Result<Question, EngineError> {
        let q = self.questions.get(id).ok_or(EngineError::UnknownQuestion(id))?;
        let command = QuestionCommand::SetResolved { id, resolved, comment };
        self.question_command(&q.service_key, &q.ars, id, command, req).await
    }

    /// Marks a thread read by the caller up to its current last message; nothing is appended
    /// when the caller has read all of it already.
    pub async fn mark_question_read(&self, id: Uuid, req: &Invocation) -> Result<Question, EngineError> {
        let q = self.questions.get(id).ok_or(EngineError::UnknownQuestion(id))?;
        let command = QuestionCommand::MarkRead { id, reader: &req.principal.actor.id };
        self.question_command(&q.service_key, &q.ars, id, command, req).await
    }

    /// Decides `command` on the rollout's question stream as stored and appends at its version
    /// (decided again after a concurrent append: `write.rs`), then answers the thread.
    async fn question_command(
        &self,
        service_key: &str,
        ars: &str,
        id: Uuid,
        command: QuestionCommand<'_>,
        req: &Invocation,
    ) -> Result<Question, EngineError> {
        let stream = question_stream(service_key, ars);
        let recorded = self
            .decide_on_stream(&stream, |events| {
                let board = QuestionBoard::default();
                events.iter().for_each(|e| board.apply(e));
                let decided = decide_question(&board, &command)?;
                Ok(decided.into_iter().map(|(ty, payload)| crate::new_event(ty, payload, req)).collect())
            })
            .await?;
        for e in &recorded {
            self.questions.apply(e);
        }
        self.questions.get(id).ok_or(EngineError::UnknownQuestion(id))
    }
}

/// An event decided: its stored type and version, and its payload.
pub type Decided = ((&'static str, u32), serde_json::Value);

/// A command on a rollout's question threads.
#[derive(Clone, Debug)]
pub enum QuestionCommand<'a> {
    Ask {
        id: Uuid,
        step: &'a str,
        to: Party,
        text: &'a str,
    },
    Answer {
        id: Uuid,
        text: &'a str,
    },
    SetResolved {
        id: Uuid,
        resolved: bool,
        comment: Option<&'a str>,
    },
    /// Read by `reader` (an actor id) up to the thread's last message.
    MarkRead {
        id: Uuid,
        reader: &'a str,
    },
}

/// Decides `command` on the threads of one rollout's question stream (`board`, folded from
/// it): the event to append (type and payload), none when there is nothing to record, or why
/// not. Every rule of questions is here; the engine only folds, appends and retries.
pub fn decide_question(
    board: &QuestionBoard,
    command: &QuestionCommand<'_>,
) -> Result<Option<Decided>, EngineError> {
    let thread = |id: Uuid| board.get(id).ok_or(EngineError::UnknownQuestion(id));
    let event = |ty: (&'static str, u32), payload: &dyn erased::Payload| Ok(Some((ty, payload.to_json()?)));
    match *command {
        QuestionCommand::Ask { id, step, to, text } => {
            let asked =
                QuestionAsked { question_id: id, step: step.to_owned(), to, text: check_text(text, "text")? };
            event(QUESTION_ASKED, &asked)
        }
        QuestionCommand::Answer { id, text } => {
            thread(id)?;
            event(QUESTION_ANSWERED, &QuestionAnswered { question_id: id, text: check_text(text, "text")? })
        }
        QuestionCommand::SetResolved { id, resolved, comment } => {
            if thread(id)?.is_open() != resolved {
                let what = if resolved { "resolved" } else { "open" };
                return Err(EngineError::QuestionState(format!("question {id} is already {what}")));
            }
            let comment = comment.map(|c| check_text(c, "comment")).transpose()?;
            let ty = if resolved { QUESTION_RESOLVED } else { QUESTION_REOPENED };
            event(ty, &QuestionStatusChanged { question_id: id, comment })
        }
        QuestionCommand::MarkRead { id, reader } => {
            let q = thread(id)?;
            let messages = q.messages.len() as u32;
            if q.reads.get(reader).is_some_and(|r| r.0 >= messages) {
                return Ok(None);
            }
            event(QUESTION_READ, &QuestionRead { question_id: id, messages })
        }
    }
}

/// Payloads as JSON, for [`decide_question`]'s one way of building an event.
mod erased {
    pub trait Payload {
        fn to_json(&self) -> Result<serde_json::Value, crate::EngineError>;
    }
    impl<T: serde::Serialize> Payload for T {
        fn to_json(&self) -> Result<serde_json::Value, crate::EngineError> {
            serde_json::to_value(self).map_err(|e| crate::EngineError::Invalid(e.to_string()))
        }
    }
}

/// A question's or answer's text: a work note (trimmed, not empty, within the note limits).
fn check_text(text: &str, what: &str) -> Result<String, EngineError> {
    workflow::decide::check_note(text, what).map_err(EngineError::Rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(position: u64, event_type: &str, data: serde_json::Value, actor: &str) -> RecordedEvent {
        RecordedEvent {
            position,
            event_id: Uuid::now_v7(),
            stream_id: question_stream("wohngeld", "120540000000"),
            version: position,
            event_type: event_type.into(),
            schema_version: 1,
            recorded_at: Timestamp::from_unix_micros(position as i64),
            actor: Actor::named(actor, actor, store::ActorKind::Person),
            correlation_id: Uuid::nil(),
            causation_id: None,
            data: store::Json::from_value(&data),
            prev_hash: store::EventHash::GENESIS,
            hash: store::EventHash::GENESIS,
        }
    }

    /// Another server's events may arrive after this one's later ones (its own appends are
    /// applied at once, the followed log later): the thread still reads in log order, a
    /// repeat changes nothing, and the last status by position wins.
    #[test]
    fn a_thread_is_in_log_order_whatever_order_its_events_arrive_in() {
        let id = Uuid::now_v7();
        let asked = event(
            1,
            QUESTION_ASKED.0,
            serde_json::json!({ "questionId": id, "step": "avv", "to": "land", "text": "F" }),
            "a",
        );
        let first =
            event(2, QUESTION_ANSWERED.0, serde_json::json!({ "questionId": id, "text": "eins" }), "b");
        let second =
            event(3, QUESTION_ANSWERED.0, serde_json::json!({ "questionId": id, "text": "zwei" }), "c");
        let resolved = event(4, QUESTION_RESOLVED.0, serde_json::json!({ "questionId": id }), "a");
        let reopened = event(5, QUESTION_REOPENED.0, serde_json::json!({ "questionId": id }), "b");
        let board = QuestionBoard::default();
        for e in [&asked, &second, &reopened, &first, &resolved, &second, &asked] {
            board.apply(e);
        }
        let q = board.get(id).expect("the thread");
        let texts: Vec<&str> = q.messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["F", "eins", "zwei"]);
        assert!(q.is_open(), "the reopening (position 5) is the last word");
        assert_eq!(q.unread_for("a"), 2);
    }
}
