#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! Work for people: the caller's tasks (the steps it may advance now, and the open questions
//! addressed to it) and the questions on steps (Rückfragen) with their answers and read marks.
//! The tasks themselves are `app::tasks::task_list`'s.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use engine::questions::{Party, Question as DomainQuestion};
use store::Timestamp;

use crate::connection::{connection, paginate};
use crate::objects::catalog::ProgramName;
use crate::objects::event::ActorInfo;
use crate::objects::rollout::{Rollout, Step};
use crate::state::{caller, check_scope, coded, engine_error, internal, page_size, split_id, state, writer};
use crate::state::{invocation, remember_head};
use app::rollouts::{mutation_of, Selection};
use app::tasks::{task_list, TaskItem, TaskQuery};
use app::Caller;

/// Whom a question is addressed to.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum QuestionParty {
    /// The rollout's administration (its staff tokens).
    Administration,
    /// The Land (project-manager tokens).
    Land,
    /// The association (association-staff tokens).
    Association,
    /// The programme's project team (admin tokens).
    ProjectTeam,
}

impl QuestionParty {
    fn party(self) -> Party {
        match self {
            QuestionParty::Administration => Party::Administration,
            QuestionParty::Land => Party::Land,
            QuestionParty::Association => Party::Association,
            QuestionParty::ProjectTeam => Party::ProjectTeam,
        }
    }

    fn of(p: Party) -> QuestionParty {
        match p {
            Party::Administration => QuestionParty::Administration,
            Party::Land => QuestionParty::Land,
            Party::Association => QuestionParty::Association,
            Party::ProjectTeam => QuestionParty::ProjectTeam,
        }
    }
}

/// Which tasks.
#[derive(InputObject, Default, Clone)]
pub struct TaskFilter {
    /// Only services of this programme.
    pub(crate) program: Option<ProgramName>,
    /// Only this service.
    pub(crate) service_key: Option<String>,
    /// Only this administration.
    pub(crate) ars: Option<String>,
    /// Only administrations of this Landkreis (and the Landkreis itself).
    pub(crate) landkreis_ars: Option<String>,
    /// Only overdue steps (true) or only those not overdue (false).
    pub(crate) overdue: Option<bool>,
    /// Only steps (`STEP`) or only questions (`QUESTION`).
    pub(crate) kind: Option<TaskKind>,
}

impl TaskFilter {
    pub(crate) fn query(&self) -> TaskQuery {
        TaskQuery {
            selection: Selection {
                program: self.program.map(ProgramName::program),
                service_key: self.service_key.clone(),
                ars: self.ars.clone(),
                landkreis_ars: self.landkreis_ars.clone(),
                phase: None,
                status: None,
            },
            overdue: self.overdue,
            kind: self.kind.map(Into::into),
        }
    }
}

/// What a task is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "app::tasks::TaskKind")]
pub enum TaskKind {
    /// A step the token may start, complete or confirm now.
    Step,
    /// An open question addressed to the token's party.
    Question,
}

/// A task: a step the token may advance now, or an open question addressed to it.
pub struct Task(pub(crate) TaskItem);

/// A task: a step the token may advance now, or an open question addressed to it.
#[Object]
impl Task {
    /// `<rolloutId>/<stepId>` for a step, `<rolloutId>/<stepId>/<questionId>` for a question.
    async fn id(&self) -> ID {
        let t = &self.0;
        let step = &t.rollout.definition.steps[t.step].id;
        ID(match &t.question {
            Some(q) => format!("{}/{step}/{}", t.rollout.id(), q.id),
            None => format!("{}/{step}", t.rollout.id()),
        })
    }
    /// `STEP` or `QUESTION`.
    async fn kind(&self) -> TaskKind {
        self.0.kind.into()
    }
    /// The rollout.
    async fn rollout(&self) -> Rollout {
        Rollout::new(self.0.rollout.clone())
    }
    /// The step (for a question: the step it is on).
    async fn step(&self, ctx: &Context<'_>) -> Step {
        Step::of(&self.0.rollout, self.0.step, state(ctx).now())
    }
    /// When the step is due (RFC 3339).
    async fn due_at(&self) -> Option<String> {
        self.0.due_at.map(|t| t.to_string())
    }
    /// Past its due date now.
    async fn overdue(&self) -> bool {
        self.0.overdue
    }
    /// What it waited for and is done now: its dependencies (step ids) and central steps
    /// (`land:<stepId>`: the Land's steps or the association's model release).
    async fn ready_because(&self) -> &[String] {
        &self.0.ready_because
    }
    /// The mutations the token may use on the step now (`startStep`, `completeStep`,
    /// `confirmStep`), as `Step.actions` lists them; empty for a question.
    async fn actions(&self) -> Vec<&'static str> {
        self.0.actions.iter().map(|a| mutation_of(*a)).collect()
    }
    /// The question, for a `QUESTION` task.
    async fn question(&self) -> Option<Question> {
        self.0.question.clone().map(Question)
    }
    /// Messages the token has not read in the questions on this step (for a `QUESTION` task:
    /// in that question).
    async fn unread_questions(&self) -> u64 {
        self.0.unread as u64
    }
}

connection!(
    TaskConnectionBase,
    TaskEdge,
    Task,
    "A page of tasks.",
    "A task and its cursor.",
    "The task's place in the order (due date, rollout, step).",
    "The task.",
    total: "All tasks matching the filter."
);

/// A page of the token's tasks, ordered by due date (overdue first, undated last), with the
/// counts of the start page.
#[derive(SimpleObject)]
pub struct TaskConnection {
    #[graphql(flatten)]
    page: TaskConnectionBase,
    /// Steps past their due date.
    overdue_count: u64,
    /// Steps due within the next 14 days, not yet overdue.
    due_soon_count: u64,
    /// Steps the token could work on that wait only for the Land's steps or the association's model
    /// release.
    waiting_for_central_count: u64,
    /// Messages the token has not read in the questions of these rollouts.
    unread_question_count: u64,
}

/// A message of a question thread: the question or an answer.
pub struct QuestionMessage(engine::questions::Message);

/// A message of a question thread: the question or an answer.
#[Object]
impl QuestionMessage {
    /// The event's log position.
    async fn position(&self) -> u64 {
        self.0.position
    }
    /// When (RFC 3339).
    async fn at(&self) -> String {
        self.0.at.to_string()
    }
    /// Who wrote it.
    async fn actor(&self) -> ActorInfo {
        ActorInfo::of(&self.0.actor)
    }
    /// The text (a work note: no personal data).
    async fn text(&self) -> &str {
        &self.0.text
    }
}

/// Who read a thread, how far, and when.
pub struct QuestionReadMark {
    actor: store::Actor,
    messages: u32,
    at: Timestamp,
}

/// Who read a thread, how far, and when.
#[Object]
impl QuestionReadMark {
    /// Who read it.
    async fn actor(&self) -> ActorInfo {
        ActorInfo::of(&self.actor)
    }
    /// Messages read (the first that many).
    async fn messages(&self) -> u32 {
        self.messages
    }
    /// When (RFC 3339).
    async fn at(&self) -> String {
        self.at.to_string()
    }
}

/// A question on a step (Rückfrage), with its answers, status and read marks. Every message
/// and mark is an event of the rollout's question stream.
pub struct Question(pub(crate) DomainQuestion);

/// A question on a step (Rückfrage) with its answers, status and read marks; every message
/// and mark is an event of the rollout's question stream (`questions-<serviceKey>:<ars>`).
#[Object]
impl Question {
    /// The question's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The rollout (`"<serviceKey>:<ars>"`).
    async fn rollout_id(&self) -> String {
        self.0.rollout_id()
    }
    /// The step it is on (step id).
    async fn step_id(&self) -> &str {
        &self.0.step
    }
    /// Whom it is addressed to.
    async fn to(&self) -> QuestionParty {
        QuestionParty::of(self.0.to)
    }
    /// Not resolved yet.
    async fn open(&self) -> bool {
        self.0.is_open()
    }
    /// When it was resolved (RFC 3339).
    async fn resolved_at(&self) -> Option<String> {
        self.0.resolved.as_ref().map(|(at, _)| at.to_string())
    }
    /// Who resolved it.
    async fn resolved_by(&self) -> Option<ActorInfo> {
        self.0.resolved.as_ref().map(|(_, a)| ActorInfo::of(a))
    }
    /// The question first, then the answers.
    #[graphql(complexity = "crate::limits::list_complexity(crate::limits::MESSAGES_ITEMS, child_complexity)")]
    async fn messages(&self) -> Vec<QuestionMessage> {
        self.0.messages.iter().cloned().map(QuestionMessage).collect()
    }
    /// Who read it, how far and when (each reader's last mark).
    async fn read_by(&self) -> Vec<QuestionReadMark> {
        self.0
            .reads
            .values()
            .map(|(messages, at, actor)| QuestionReadMark {
                actor: actor.clone(),
                messages: *messages,
                at: *at,
            })
            .collect()
    }
    /// Messages by others the calling token has not marked read.
    async fn unread(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(self.0.unread_for(&caller(ctx)?.actor().id) as u64)
    }
}

/// The questions and tasks part of the query root.
#[derive(Default, Debug)]
pub struct WorkQuery;

#[Object]
impl WorkQuery {
    /// The calling token's tasks: every step of the rollouts it may read for which the domain
    /// would accept `startStep`, `completeStep` or `confirmStep` from it now (as `Step.actions`
    /// says; reopening is no task), across services and programmes, and the open questions
    /// addressed to its party (staff: their administration; project managers: the Land;
    /// association staff: the association; admins: the project team). Ordered by due date, overdue
    /// first, undated last. A project manager narrows it with `ars` or `landkreisArs`.
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        filter: Option<TaskFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<TaskConnection> {
        let c = caller(ctx)?;
        let first = page_size(first)?;
        let s = state(ctx);
        let list = task_list(&s.engine, &s.projector, c, &filter.unwrap_or_default().query(), s.now())
            .await
            .map_err(|e| internal("reading a rollout's stream for the tasks failed", e))?;
        let (edges, total_count, page_info) = paginate(
            &list.items,
            |t| t.key.clone(),
            after.as_deref(),
            first,
            |cursor, t| TaskEdge { cursor, node: Task(t.clone()) },
        );
        Ok(TaskConnection {
            page: TaskConnectionBase { total_count, edges, page_info },
            overdue_count: list.overdue,
            due_soon_count: list.due_soon,
            waiting_for_central_count: list.waiting_for_central,
            unread_question_count: list.unread,
        })
    }

    /// One question, if the token may read its rollout.
    async fn question(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Question>> {
        let c = caller(ctx)?;
        let id = question_id(&id)?;
        Ok(state(ctx)
            .engine
            .questions()
            .get(id)
            .filter(|q| c.may_read_rollout(&q.service_key, &q.ars))
            .map(Question))
    }

    /// The questions of the rollouts the token may read, oldest first: `to` one party, `open`
    /// only open (true) or resolved (false) ones, `ars` one administration.
    #[graphql(complexity = "crate::limits::page_complexity(first, child_complexity)")]
    async fn questions(
        &self,
        ctx: &Context<'_>,
        to: Option<QuestionParty>,
        open: Option<bool>,
        ars: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<Question>> {
        let c = caller(ctx)?;
        let first = page_size(first)?;
        let to = to.map(QuestionParty::party);
        Ok(state(ctx)
            .engine
            .questions()
            .all(|q| {
                c.may_read_rollout(&q.service_key, &q.ars)
                    && to.is_none_or(|t| q.to == t)
                    && open.is_none_or(|o| q.is_open() == o)
                    && ars.as_ref().is_none_or(|a| &q.ars == a)
            })
            .into_iter()
            .take(first)
            .map(Question)
            .collect())
    }
}

fn question_id(id: &ID) -> async_graphql::Result<uuid::Uuid> {
    id.parse().map_err(|_| coded("BAD_USER_INPUT", format!("`{}` is not a question id", id.as_str())))
}

/// A new question on a step.
#[derive(InputObject)]
pub struct AskQuestionInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// The step it is on.
    step_id: String,
    /// Whom it is addressed to.
    to: QuestionParty,
    /// The question (a work note: no personal data).
    text: String,
}

/// An answer to a question.
#[derive(InputObject)]
pub struct AnswerQuestionInput {
    /// The question's id.
    question_id: ID,
    /// The answer (a work note: no personal data).
    text: String,
}

/// Resolving or reopening a question.
#[derive(InputObject)]
pub struct QuestionStatusInput {
    /// The question's id.
    question_id: ID,
    /// Why (optional; a work note).
    comment: Option<String>,
}

/// Marking a question read.
#[derive(InputObject)]
pub struct MarkQuestionReadInput {
    /// The question's id.
    question_id: ID,
}

/// The questions part of the mutation root.
#[derive(Default, Debug)]
pub struct WorkMutation;

/// The question `id` if `c` may write on its rollout.
fn writable(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<(uuid::Uuid, Caller)> {
    let c = writer(ctx)?;
    if !c.may_take_part_in_questions() {
        return Err(coded("FORBIDDEN", "an automation token may not take part in questions"));
    }
    let id = question_id(id)?;
    let q = state(ctx).engine.questions().get(id);
    match q {
        Some(q) if c.may_read_rollout(&q.service_key, &q.ars) => Ok((id, c.clone())),
        // Also when it does not exist: a token learns nothing outside its scope.
        _ => Err(coded("FORBIDDEN", "this token may not access that question")),
    }
}

#[Object]
impl WorkMutation {
    /// Ask a question on a step of a rollout, addressed to the administration, the Land, ZV
    /// DIKOM or the project team (`QuestionAsked`). Whoever may read the rollout may read it.
    async fn ask_question(
        &self,
        ctx: &Context<'_>,
        input: AskQuestionInput,
    ) -> async_graphql::Result<Question> {
        let c = writer(ctx)?;
        if !c.may_take_part_in_questions() {
            return Err(coded("FORBIDDEN", "an automation token may not take part in questions"));
        }
        let (service, ars) = split_id(&input.rollout_id)?;
        check_scope(c, service, ars)?;
        let q = state(ctx)
            .engine
            .ask_question(service, ars, &input.step_id, input.to.party(), &input.text, &invocation(ctx, c))
            .await
            .map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(Question(q))
    }

    /// Answer a question (`QuestionAnswered`); the asker sees it as unread.
    async fn answer_question(
        &self,
        ctx: &Context<'_>,
        input: AnswerQuestionInput,
    ) -> async_graphql::Result<Question> {
        let (id, c) = writable(ctx, &input.question_id)?;
        let q = state(ctx)
            .engine
            .answer_question(id, &input.text, &invocation(ctx, &c))
            .await
            .map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(Question(q))
    }

    /// Resolve an open question (`QuestionResolved`).
    async fn resolve_question(
        &self,
        ctx: &Context<'_>,
        input: QuestionStatusInput,
    ) -> async_graphql::Result<Question> {
        let (id, c) = writable(ctx, &input.question_id)?;
        let q = state(ctx)
            .engine
            .set_question_resolved(id, true, input.comment.as_deref(), &invocation(ctx, &c))
            .await
            .map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(Question(q))
    }

    /// Reopen a resolved question (`QuestionReopened`).
    async fn reopen_question(
        &self,
        ctx: &Context<'_>,
        input: QuestionStatusInput,
    ) -> async_graphql::Result<Question> {
        let (id, c) = writable(ctx, &input.question_id)?;
        let q = state(ctx)
            .engine
            .set_question_resolved(id, false, input.comment.as_deref(), &invocation(ctx, &c))
            .await
            .map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(Question(q))
    }

    /// Mark a question read up to its last message (`QuestionRead`, once per new message:
    /// nothing is appended when the token has read it all). Auditors read without marking.
    async fn mark_question_read(
        &self,
        ctx: &Context<'_>,
        input: MarkQuestionReadInput,
    ) -> async_graphql::Result<Question> {
        let (id, c) = writable(ctx, &input.question_id)?;
        let q = state(ctx).engine.mark_question_read(id, &invocation(ctx, &c)).await.map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(Question(q))
    }
}
