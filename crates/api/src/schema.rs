#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! The GraphQL schema: names fixed by DESIGN.md ("Outside contract"); every type and field has
//! a description. Errors carry `extensions.code`.

use std::sync::Arc;

use async_graphql::{Context, Enum, Error, ErrorExtensions, InputObject, Object, Schema, SimpleObject, ID};
use engine::{Engine, EngineError, Outcome, Request};
use projections::{GroupBy as ModelGroupBy, Projector};
use store::RecordedEvent;
use workflow::decide::Command;
use workflow::rollout::Rollout as DomainRollout;

use crate::tokens::{Principal, Role, Tokens};

/// Query depth, complexity and page size at most.
pub const DEPTH_MAX: usize = 12;
pub const COMPLEXITY_MAX: usize = 10_000;
pub const PAGE_MAX: usize = 500;

pub type ApiSchema = Schema<Query, Mutation, crate::subscriptions::SubscriptionRoot>;

/// What the resolvers share.
pub struct Services {
    pub engine: Arc<Engine>,
    pub projector: Arc<Projector>,
    pub tokens: Arc<Tokens>,
    /// Open subscriptions per token.
    pub open: Arc<crate::subscriptions::Open>,
    /// The last position each token's changes reached (read your own writes).
    pub written: Arc<crate::consistency::Written>,
}

pub fn build(services: Services) -> ApiSchema {
    Schema::build(Query, Mutation, crate::subscriptions::SubscriptionRoot)
        .data(services)
        .limit_depth(DEPTH_MAX)
        .limit_complexity(COMPLEXITY_MAX)
        .extension(crate::consistency::ReadYourWrites)
        .finish()
}

pub(crate) fn coded(code: &'static str, message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, e| e.set("code", code))
}

pub(crate) fn principal_of<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Principal> {
    principal(ctx)
}

pub(crate) fn services_of<'a>(ctx: &'a Context<'_>) -> &'a Services {
    services(ctx)
}

fn principal<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Principal> {
    ctx.data_opt::<Principal>().ok_or_else(|| coded("UNAUTHENTICATED", "a bearer token is required"))
}

fn services<'a>(ctx: &'a Context<'_>) -> &'a Services {
    ctx.data_unchecked::<Services>()
}

/// An engine error as the API reports it; internal causes are logged, not shown.
fn engine_error(e: EngineError) -> Error {
    match e {
        EngineError::Rejected(workflow::Rejection::EvidenceInvalid { step, problems }) => {
            let message =
                workflow::Rejection::EvidenceInvalid { step, problems: problems.clone() }.to_string();
            // Which fields are wrong, so a form can mark them.
            let fields: Vec<serde_json::Value> = problems
                .into_iter()
                .map(|(field, problem)| serde_json::json!({ "field": field, "problem": problem }))
                .collect();
            Error::new(message).extend_with(move |_, ext| {
                ext.set("code", "REJECTED");
                if let Ok(v) = async_graphql::Value::from_json(serde_json::Value::Array(fields.clone())) {
                    ext.set("fields", v);
                }
            })
        }
        EngineError::Rejected(r) => coded("REJECTED", r.to_string()),
        EngineError::Conflict { expected, actual } => {
            Error::new(format!("the rollout is at version {actual}, not {expected}")).extend_with(|_, ext| {
                ext.set("code", "CONFLICT");
                ext.set("currentVersion", actual);
            })
        }
        EngineError::UnknownService(_)
        | EngineError::UnknownAuthority(_)
        | EngineError::UnknownDefinition(_) => coded("NOT_FOUND", e.to_string()),
        EngineError::Dissolved(_) | EngineError::NotApplicable { .. } => coded("REJECTED", e.to_string()),
        EngineError::Store(store::StoreError::Limit { .. }) => coded("LIMIT_EXCEEDED", e.to_string()),
        EngineError::Store(store::StoreError::Io(cause)) => {
            tracing::error!(error = %cause, "the event store is unavailable");
            coded(
                "INTERNAL",
                "the event store is unavailable right now; try again (with the same idempotencyKey, a repeat is applied once)",
            )
        }
        other => {
            tracing::error!(error = %other, "internal error");
            coded("INTERNAL", "internal error")
        }
    }
}

/// Splits `"<serviceKey>:<ars>"`.
fn split_id(id: &str) -> async_graphql::Result<(&str, &str)> {
    id.split_once(':')
        .ok_or_else(|| coded("BAD_USER_INPUT", format!("`{id}` is not a rollout id (`<serviceKey>:<ars>`)")))
}

/// A rollout visible to the caller, or FORBIDDEN — also when it does not exist, so a token
/// learns nothing about administrations outside its scope.
fn check_scope(p: &Principal, service: &str, ars: &str) -> async_graphql::Result<()> {
    if p.may_read_rollout(service, ars) {
        Ok(())
    } else {
        Err(coded("FORBIDDEN", "this token may not access that rollout"))
    }
}

pub struct Query;

/// How progress is grouped.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum GroupBy {
    /// By service.
    Service,
    /// By Landkreis; an Amt or Gemeinde counts under its Landkreis.
    Landkreis,
    /// By administration.
    Authority,
}

/// Counts of one group.
#[derive(SimpleObject)]
pub struct ProgressGroup {
    /// The service key, Landkreis ARS or administration ARS.
    key: String,
    /// Rollouts in the group.
    rollouts: u64,
    /// Share of applicable steps done, 0 to 100.
    percent_done: f64,
    /// Rollouts per phase and status.
    by_phase_status: Vec<PhaseStatusCount>,
}

/// Rollouts in one phase with one status.
#[derive(SimpleObject)]
pub struct PhaseStatusCount {
    /// Phase id of the workflow definition.
    phase: String,
    /// `not_started`, `in_progress`, `blocked`, `live` or `cancelled`.
    status: String,
    /// Number of rollouts.
    count: u64,
}

/// The end of the log.
#[derive(SimpleObject)]
pub struct LogHead {
    /// The last durable position (0 for an empty log).
    position: u64,
    /// Its hash (hex).
    hash: String,
}

/// The caller.
#[derive(SimpleObject)]
pub struct Me {
    /// The actor id its events are recorded for (`token:<id>`).
    id: String,
    /// The token's name.
    name: String,
    /// `admin`, `project-manager`, `authority-staff`, `automation` or `auditor`.
    role: String,
    /// ARS keys an authority-staff token is limited to.
    authorities: Vec<String>,
    /// Service keys an automation token is limited to.
    services: Vec<String>,
}

/// What can be read.
#[Object]
impl Query {
    /// The caller's principal and scope.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Me> {
        let p = principal(ctx)?;
        Ok(Me {
            id: p.actor().id,
            name: p.name.clone(),
            role: p.role.name().into(),
            authorities: p.authorities.clone(),
            services: p.services.clone(),
        })
    }

    /// One rollout by id, `"<serviceKey>:<ars>"`, e.g. `wohngeld:120540000000`; with `asOf`
    /// (an RFC 3339 time or a log position) as it stood then, folded from the log.
    async fn rollout(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<String>,
    ) -> async_graphql::Result<Option<Rollout>> {
        let p = principal(ctx)?;
        let (service, ars) = split_id(&id)?;
        check_scope(p, service, ars)?;
        let cut = crate::reads::cut(&as_of)?;
        if cut != projections::Cut::Everything {
            return Ok(crate::reads::rollout_as_of(ctx, service, ars, cut)
                .await?
                .map(|r| Rollout::new(Arc::new(r))));
        }
        let s = services(ctx);
        Ok(s.projector.read(|m| m.rollout(id.as_str()).cloned()).map(Rollout::new))
    }

    /// Rollouts, filtered, ordered by id, as a Relay connection (`first` at most 500).
    #[graphql(complexity = "5 + first.unwrap_or(50).clamp(0, 500) as usize * child_complexity")]
    async fn rollouts(
        &self,
        ctx: &Context<'_>,
        filter: Option<crate::reads::RolloutFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<crate::reads::RolloutConnection> {
        let p = principal(ctx)?;
        let first = crate::reads::first_of(first)?;
        Ok(crate::reads::rollouts_page(ctx, p, &filter.unwrap_or_default(), first, after.as_deref()))
    }

    /// The audit log: events, filtered, in log order, as a Relay connection. Answered from the
    /// audit index, never by scanning the log.
    #[graphql(complexity = "5 + first.unwrap_or(50).clamp(0, 500) as usize * child_complexity")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        filter: Option<crate::reads::EventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<crate::reads::EventConnection> {
        let p = principal(ctx)?;
        let first = crate::reads::first_of(first)?;
        crate::reads::events_page(ctx, p, filter.unwrap_or_default(), first, after).await
    }

    /// Administrations (within the token's scope), ordered by ARS.
    #[graphql(complexity = "5 + first.unwrap_or(50).clamp(0, 500) as usize * child_complexity")]
    async fn authorities(
        &self,
        ctx: &Context<'_>,
        filter: Option<crate::reads::AuthorityFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<crate::reads::AuthorityConnection> {
        let p = principal(ctx)?;
        let first = crate::reads::first_of(first)?;
        Ok(crate::reads::authorities_page(ctx, p, &filter.unwrap_or_default(), first, after.as_deref()))
    }

    /// Services (within the token's scope), ordered by key.
    #[graphql(complexity = "5 + first.unwrap_or(50).clamp(0, 500) as usize * child_complexity")]
    async fn services(
        &self,
        ctx: &Context<'_>,
        filter: Option<crate::reads::ServiceFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<crate::reads::ServiceConnection> {
        let p = principal(ctx)?;
        let first = crate::reads::first_of(first)?;
        Ok(crate::reads::services_page(ctx, p, &filter.unwrap_or_default(), first, after.as_deref()))
    }

    /// Open steps past their due date, longest overdue first (within the token's scope).
    async fn overdue(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<crate::reads::OverdueStep>> {
        let p = principal(ctx)?;
        Ok(crate::reads::overdue(ctx, p, crate::reads::first_of(first)?))
    }

    /// Blocked rollouts, longest blocked first (within the token's scope).
    async fn blocked(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<crate::reads::BlockedRollout>> {
        let p = principal(ctx)?;
        Ok(crate::reads::blocked(ctx, p, crate::reads::first_of(first)?))
    }

    /// The end of the log: the last durable position and its hash (follow the `events`
    /// subscription from here, or anchor an audit).
    async fn head(&self, ctx: &Context<'_>) -> async_graphql::Result<LogHead> {
        principal(ctx)?;
        let head = services(ctx).engine.store().head().await.map_err(|e| {
            tracing::error!(error = %e, "reading the head failed");
            coded("INTERNAL", "internal error")
        })?;
        Ok(LogHead { position: head.position, hash: head.hash.to_string() })
    }

    /// Every published workflow definition, with its phases and steps.
    async fn definitions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<crate::reads::Definition>> {
        principal(ctx)?;
        Ok(services(ctx).engine.registry().all().cloned().map(crate::reads::Definition).collect())
    }

    /// Progress counts of all rollouts the caller may see, grouped.
    async fn progress(
        &self,
        ctx: &Context<'_>,
        group_by: GroupBy,
        #[graphql(desc = "As it stood at this RFC 3339 time or log position (folded from the log).")]
        as_of: Option<String>,
    ) -> async_graphql::Result<Vec<ProgressGroup>> {
        progress_reader(ctx)?;
        let by = model_group(group_by);
        let cut = crate::reads::cut(&as_of)?;
        let past = match cut {
            projections::Cut::Everything => None,
            cut => Some(crate::reads::model_as_of(ctx, cut).await?),
        };
        let groups = |m: &projections::ReadModel| progress_groups(m.progress(by));
        Ok(match &past {
            Some(m) => groups(m),
            None => services(ctx).projector.read(groups),
        })
    }

    /// Progress counts over time, grouped: one point every few days (`everyDays`) from a start
    /// time up to an end time or now, each as it stood then — the data of a burn-up chart (e.g.
    /// live administrations per service per week). Folded from the log in one pass; points
    /// before the log's last event cannot change any more and are kept, so the same chart asked
    /// again is answered from memory (points at or after it are the current progress).
    async fn progress_over_time(
        &self,
        ctx: &Context<'_>,
        group_by: GroupBy,
        #[graphql(desc = "The first point (RFC 3339).")] from: String,
        #[graphql(desc = "The last point at most (RFC 3339); default: now.")] until: Option<String>,
        #[graphql(desc = "Days between points, 1 to 366.", default = 7)] every_days: i32,
    ) -> async_graphql::Result<Vec<ProgressPoint>> {
        progress_reader(ctx)?;
        let parse = |name: &str, v: &str| {
            v.parse::<store::Timestamp>()
                .map_err(|e| coded("BAD_USER_INPUT", format!("`{name}` is not an RFC 3339 time: {e}")))
        };
        let from = parse("from", &from)?;
        let until = match until {
            Some(u) => parse("until", &u)?,
            None => store::Timestamp::now(),
        };
        if !(1..=366).contains(&every_days) {
            return Err(coded("BAD_USER_INPUT", format!("`everyDays` must be 1 to 366, not {every_days}")));
        }
        if until < from {
            return Err(coded("BAD_USER_INPUT", "`until` is before `from`"));
        }
        let step = i64::from(every_days) * 86_400_000_000;
        let count = (until.unix_micros() - from.unix_micros()) / step + 1;
        if count > PROGRESS_POINTS_MAX as i64 {
            return Err(coded(
                "LIMIT_EXCEEDED",
                format!(
                    "at most {PROGRESS_POINTS_MAX} points; this asks for {count} (use a larger `everyDays`)"
                ),
            ));
        }
        let times: Vec<store::Timestamp> =
            (0..count).map(|i| store::Timestamp::from_unix_micros(from.unix_micros() + i * step)).collect();
        let series =
            services(ctx).projector.progress_history(&times, model_group(group_by)).await.map_err(|e| {
                tracing::error!(error = %e, "progress over time failed");
                coded("INTERNAL", "internal error")
            })?;
        Ok(times
            .iter()
            .zip(series)
            .map(|(at, groups)| ProgressPoint { at: at.to_string(), groups: progress_groups(groups) })
            .collect())
    }
}

/// The caller, when it may read progress over all rollouts (managers, admins, auditors).
fn progress_reader<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Principal> {
    let p = principal(ctx)?;
    if !crate::reads::is_manager(p) {
        return Err(coded(
            "FORBIDDEN",
            "progress over all rollouts needs a project manager, admin or auditor token",
        ));
    }
    Ok(p)
}

/// Points of `progressOverTime` at most.
pub const PROGRESS_POINTS_MAX: usize = 520;

/// Progress as it stood at one time.
#[derive(SimpleObject)]
pub struct ProgressPoint {
    /// The time (RFC 3339).
    at: String,
    /// The groups then (groups without rollouts are left out).
    groups: Vec<ProgressGroup>,
}

fn model_group(by: GroupBy) -> ModelGroupBy {
    match by {
        GroupBy::Service => ModelGroupBy::Service,
        GroupBy::Landkreis => ModelGroupBy::Landkreis,
        GroupBy::Authority => ModelGroupBy::Authority,
    }
}

fn progress_groups(groups: std::collections::BTreeMap<String, projections::Counts>) -> Vec<ProgressGroup> {
    groups
        .into_iter()
        .map(|(key, c)| ProgressGroup {
            key,
            rollouts: c.rollouts,
            percent_done: c.percent_done(),
            by_phase_status: c
                .by_phase_status
                .iter()
                .map(|((phase, status), n)| PhaseStatusCount {
                    phase: phase.clone(),
                    status: (*status).into(),
                    count: *n,
                })
                .collect(),
        })
        .collect()
}

/// A rollout: one service at one administration. From the read model it is a summary (no step
/// records); the records — evidence, who completed a step and when — are folded from the
/// rollout's stream, at the summary's version, the first time a query asks for them.
pub struct Rollout {
    /// As the read model (or a command, or time travel) has it.
    summary: Arc<DomainRollout>,
    /// With its step records, once a query asked for them.
    details: std::sync::OnceLock<Arc<DomainRollout>>,
}

impl Rollout {
    pub(crate) fn new(r: Arc<DomainRollout>) -> Self {
        Rollout { summary: r, details: std::sync::OnceLock::new() }
    }

    /// The rollout with its step records.
    async fn details(&self, ctx: &Context<'_>) -> async_graphql::Result<Arc<DomainRollout>> {
        if self.summary.has_records() {
            return Ok(self.summary.clone());
        }
        if let Some(d) = self.details.get() {
            return Ok(d.clone());
        }
        let s = services(ctx);
        let r = &self.summary;
        let full = projections::rollout_at_version(
            &**s.engine.store(),
            &**s.engine.registry(),
            &r.service_key,
            &r.ars,
            r.version,
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "reading a rollout's stream failed");
            coded("INTERNAL", "internal error")
        })?
        .map_or_else(|| r.clone(), Arc::new);
        Ok(self.details.get_or_init(|| full).clone())
    }
}

/// An actor: who recorded an event.
#[derive(SimpleObject)]
pub struct ActorInfo {
    /// `token:<id>`, `system`, ...
    id: String,
    /// Display name.
    name: String,
    /// `person`, `automation` or `system`.
    kind: String,
}

fn actor_info(a: &store::Actor) -> ActorInfo {
    let kind = match a.kind {
        store::ActorKind::Person => "person",
        store::ActorKind::Automation => "automation",
        store::ActorKind::System => "system",
    };
    ActorInfo { id: a.id.clone(), name: a.name.clone(), kind: kind.into() }
}

/// A step of a rollout.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Step {
    #[graphql(skip)]
    rollout: Arc<DomainRollout>,
    /// Step id of the definition.
    id: String,
    /// Title (German).
    title: String,
    /// Phase id.
    phase: String,
    /// `waiting`, `ready`, `in_progress`, `awaiting_confirmation`, `done`, `not_required`, `not_applicable`.
    status: String,
    /// The recorded evidence, field id → value.
    evidence: async_graphql::Json<serde_json::Value>,
    /// Who completed it.
    completed_by: Option<ActorInfo>,
    /// When it was completed (RFC 3339).
    completed_at: Option<String>,
    /// When it is due (RFC 3339).
    due_at: Option<String>,
    /// Open and past its due date now.
    overdue: bool,
}

/// A rollout: one service at one administration, as its events made it.
#[Object]
impl Rollout {
    /// `"<serviceKey>:<ars>"`.
    async fn id(&self) -> ID {
        ID(self.summary.id())
    }

    /// The stream version: the number of events of this rollout. Pass it as `expectedVersion`.
    async fn version(&self) -> u64 {
        self.summary.version
    }

    /// `not_started`, `in_progress`, `blocked`, `live` or `cancelled`.
    async fn status(&self) -> &'static str {
        self.summary.status().name()
    }

    /// Id of the first phase with an unfinished step.
    async fn phase(&self) -> String {
        self.summary.definition.phases.get(self.summary.phase()).map(|p| p.id.clone()).unwrap_or_default()
    }

    /// The service's key.
    async fn service_key(&self) -> &str {
        &self.summary.service_key
    }

    /// The administration's ARS.
    async fn ars(&self) -> &str {
        &self.summary.ars
    }

    /// Why it is blocked, while it is.
    async fn blocked_reason(&self) -> Option<&str> {
        self.summary.blocked.as_deref()
    }

    /// The workflow definition it runs, `id@version`.
    async fn definition(&self) -> String {
        format!("{}@{}", self.summary.definition.id, self.summary.definition.version)
    }

    /// Its history: every event, with the status, phase and step changes it made.
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        #[graphql(desc = "A position: only events after it.")] after: Option<String>,
    ) -> async_graphql::Result<Vec<crate::reads::HistoryEntry>> {
        let first = crate::reads::first_of(first)?;
        let after = after
            .map(|a| {
                a.parse::<u64>()
                    .map_err(|_| coded("BAD_USER_INPUT", format!("`after` must be a position, not `{a}`")))
            })
            .transpose()?;
        crate::reads::history(ctx, &self.summary.service_key, &self.summary.ars, first, after).await
    }

    /// Whether an open step is past its due date now (the steps say which; `overdue` lists them
    /// all, longest overdue first).
    async fn overdue(&self) -> bool {
        self.summary.is_overdue(store::Timestamp::now())
    }

    /// Steps done (or marked not required), of those that apply.
    async fn steps_done(&self) -> u64 {
        self.summary.steps_done().0
    }

    /// Steps that apply to this rollout (its conditions decided which).
    async fn steps_applicable(&self) -> u64 {
        self.summary.steps_done().1
    }

    /// Its steps in definition order.
    async fn steps(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Step>> {
        let wanted = ctx.look_ahead();
        let records =
            ["evidence", "completedBy", "completedAt", "actions"].iter().any(|f| wanted.field(f).exists());
        let r = if records { self.details(ctx).await? } else { self.summary.clone() };
        let d = &r.definition;
        let now = store::Timestamp::now();
        let late: Vec<usize> = r.deadlines().filter(|(_, due)| *due < now).map(|(i, _)| i).collect();
        Ok(d.steps
            .iter()
            .zip(&r.steps)
            .enumerate()
            .map(|(i, (def, s))| Step {
                rollout: r.clone(),
                id: def.id.clone(),
                title: def.title.clone(),
                phase: d.phases.get(def.phase).map(|p| p.id.clone()).unwrap_or_default(),
                status: s.status.name().into(),
                evidence: async_graphql::Json(
                    serde_json::to_value(r.evidence(i).to_map()).unwrap_or_default(),
                ),
                completed_by: r.completed_by(i).map(actor_info),
                completed_at: r.completed_at(i).map(|t| t.to_string()),
                due_at: s.due_at().map(|t| t.to_string()),
                overdue: late.contains(&i),
            })
            .collect())
    }
}

#[async_graphql::ComplexObject]
impl Step {
    /// The step mutations the caller may use on it now: `startStep`, `completeStep`,
    /// `confirmStep`, `reopenStep`, `markStepNotRequired`. Each is decided as the mutation would
    /// be (for the caller's role, the step's state, dependencies, four eyes, a block), so a
    /// listed one is refused only when the evidence or reason entered is invalid or the rollout
    /// changed meanwhile. Empty for tokens that may not write.
    async fn actions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<&'static str>> {
        let p = principal(ctx)?;
        if !p.may_write() {
            return Ok(Vec::new());
        }
        let cx = workflow::Context { principal: p.domain(), now: store::Timestamp::now() };
        Ok(workflow::step_actions(&self.rollout, &self.id, &cx)
            .into_iter()
            .map(workflow::StepAction::mutation)
            .filter(|m| p.role != Role::Automation || AUTOMATION_MUTATIONS.contains(m))
            .collect())
    }
}

/// What an automation token may do on a rollout: work on (automatable) steps and comment.
const AUTOMATION_MUTATIONS: &[&str] = &["completeStep", "startStep", "addComment"];

/// An event of the audit log.
pub struct Event(RecordedEvent);

impl Event {
    pub(crate) fn new(e: RecordedEvent) -> Self {
        Event(e)
    }
}

/// An event of the log: who changed what, when, and its place in the hash chain.
#[Object]
impl Event {
    /// Global position in the log.
    async fn position(&self) -> u64 {
        self.0.position
    }
    /// The stream it belongs to.
    async fn stream_id(&self) -> &str {
        &self.0.stream_id
    }
    /// Version within its stream.
    async fn version(&self) -> u64 {
        self.0.version
    }
    /// The stored event type, e.g. `StepCompleted`.
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// When it was recorded (RFC 3339).
    async fn recorded_at(&self) -> String {
        self.0.recorded_at.to_string()
    }
    /// Who caused it.
    async fn actor(&self) -> ActorInfo {
        actor_info(&self.0.actor)
    }
    /// The payload.
    async fn data(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.data.to_value().unwrap_or_default())
    }
    /// Ties together the events of one request.
    async fn correlation_id(&self) -> String {
        self.0.correlation_id.to_string()
    }
    /// Its hash in the chain (hex).
    async fn hash(&self) -> String {
        self.0.hash.to_string()
    }
}

/// The rollout after a change, and the events the change appended.
#[derive(SimpleObject)]
pub struct RolloutPayload {
    /// The rollout after the change.
    rollout: Rollout,
    /// The events appended (for a repeat with the same idempotency key: the first ones).
    events: Vec<Event>,
}

/// After a change whose events are not in its answer: the caller's next operation waits for the
/// log's head as it is now, which includes them.
async fn remember_head(ctx: &Context<'_>) {
    let s = services(ctx);
    if let (Ok(p), Ok(head)) = (principal(ctx), s.engine.store().head().await) {
        s.written.record(p.token_id, head.position);
    }
}

/// The mutation's answer; the caller's next operation sees its events in the read models too.
fn payload(ctx: &Context<'_>, outcome: Outcome) -> RolloutPayload {
    if let (Ok(p), Some(last)) = (principal(ctx), outcome.events.last()) {
        services(ctx).written.record(p.token_id, last.position);
    }
    RolloutPayload {
        rollout: Rollout::new(Arc::new(outcome.rollout)),
        events: outcome.events.into_iter().map(Event).collect(),
    }
}

/// Start one rollout.
#[derive(InputObject)]
pub struct StartRolloutInput {
    /// The service key, e.g. `wohngeld`.
    service_key: String,
    /// The administration's ARS.
    ars: String,
}

/// Complete a step with its evidence.
#[derive(InputObject)]
pub struct CompleteStepInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// Step id of the definition.
    step_id: String,
    /// Evidence: field id → value (an object).
    evidence: async_graphql::Json<serde_json::Value>,
    /// The rollout version you saw; a different one is a `CONFLICT` naming the current one.
    expected_version: Option<u64>,
    /// A key of yours: repeating the mutation with it returns the first result and appends nothing.
    idempotency_key: Option<String>,
    /// A comment for the history.
    comment: Option<String>,
}

/// A command on one step.
#[derive(InputObject)]
pub struct StepCommandInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// Step id of the definition.
    step_id: String,
    /// Why: required to reopen a step or mark it not required; a comment when confirming.
    reason: Option<String>,
    /// The rollout version you saw; a different one is a `CONFLICT` naming the current one.
    expected_version: Option<u64>,
    /// A key of yours: repeating the mutation with it returns the first result and appends nothing.
    idempotency_key: Option<String>,
}

/// A command on a whole rollout.
#[derive(InputObject)]
pub struct RolloutCommandInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// Why (block, unblock, cancel), or the comment's text (addComment).
    reason: String,
    /// For addComment: the step it is about.
    step_id: Option<String>,
    /// The rollout version you saw; a different one is a `CONFLICT` naming the current one.
    expected_version: Option<u64>,
    /// A key of yours: repeating the mutation with it returns the first result and appends nothing.
    idempotency_key: Option<String>,
}

/// Assign a rollout to someone (or nobody).
#[derive(InputObject)]
pub struct AssignInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// Who is responsible; empty or absent: nobody.
    assignee: Option<String>,
    /// The rollout version you saw; a different one is a `CONFLICT` naming the current one.
    expected_version: Option<u64>,
    /// A key of yours: repeating the mutation with it returns the first result and appends nothing.
    idempotency_key: Option<String>,
}

/// Set a step's due date by hand.
#[derive(InputObject)]
pub struct SetDueDateInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// Step id of the definition.
    step_id: String,
    /// The due date (RFC 3339, e.g. `2026-12-31T23:59:59Z`).
    due_at: String,
    /// Why.
    reason: String,
    /// The rollout version you saw; a different one is a `CONFLICT` naming the current one.
    expected_version: Option<u64>,
    /// A key of yours: repeating the mutation with it returns the first result and appends nothing.
    idempotency_key: Option<String>,
}

/// Move a rollout to a newer version of its workflow definition.
#[derive(InputObject)]
pub struct MigrateRolloutInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// The version of the same definition to move to.
    definition_version: u32,
    /// Old step id → new step id, for steps that were renamed (steps that keep their id map to
    /// themselves). A step with progress and no counterpart is refused.
    #[graphql(default)]
    step_mapping: Vec<StepMapping>,
    /// The rollout version you saw; a different one is a `CONFLICT` naming the current one.
    expected_version: Option<u64>,
    /// A key of yours: repeating the mutation with it returns the first result and appends nothing.
    idempotency_key: Option<String>,
}

/// One renamed step.
#[derive(InputObject)]
pub struct StepMapping {
    /// The step id in the old version.
    from: String,
    /// The step id in the new version.
    to: String,
}

/// What starting a service's rollout everywhere did.
#[derive(SimpleObject)]
pub struct StartServicePayload {
    /// Rollouts started now.
    started: Vec<ID>,
    /// Rollouts that existed already (left alone).
    existing: u64,
}

/// Issue an API token (admin only).
#[derive(InputObject)]
pub struct IssueTokenInput {
    /// A name that says whose it is.
    name: String,
    /// `admin`, `project-manager`, `authority-staff`, `automation` or `auditor`.
    role: String,
    /// For `authority-staff`: the ARS keys it may act for.
    #[graphql(default)]
    authorities: Vec<String>,
    /// For `automation`: the service keys it may act for.
    #[graphql(default)]
    services: Vec<String>,
}

/// A newly issued token. The secret is shown only here.
#[derive(SimpleObject)]
pub struct IssuedToken {
    /// The token id (its actor id is `token:<id>`).
    id: ID,
    /// The bearer secret. Shown once.
    token: String,
    /// Its role.
    role: String,
}

pub struct Mutation;

fn request(ctx: &Context<'_>, p: &Principal) -> Request {
    let mut r = Request::new(p.domain());
    if let Some(id) = ctx.data_opt::<crate::RequestId>() {
        r.correlation_id = id.0;
    }
    r
}

/// Runs one engine command on a rollout for the caller, with its expected version and
/// idempotency key (scoped to the caller, the mutation and the rollout).
async fn run(
    ctx: &Context<'_>,
    mutation: &str,
    rollout_id: &ID,
    expected_version: Option<u64>,
    idempotency_key: Option<String>,
    command: Command,
) -> async_graphql::Result<RolloutPayload> {
    let p = writer(ctx)?;
    let (service, ars) = split_id(rollout_id)?;
    check_scope(p, service, ars)?;
    // Automation works on steps (the definition says which are automatable) and may comment;
    // it does not block, cancel, assign or set due dates.
    if p.role == Role::Automation && !AUTOMATION_MUTATIONS.contains(&mutation) {
        return Err(coded("FORBIDDEN", format!("an automation token may not use {mutation}")));
    }
    let mut req = request(ctx, p);
    req.expected_version = expected_version;
    req.idempotency_key = idempotency_key.map(|k| format!("{mutation}:{}:{k}", rollout_id.as_str()));
    let outcome = services(ctx).engine.execute(service, ars, command, &req).await.map_err(engine_error)?;
    Ok(payload(ctx, outcome))
}

fn writer<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Principal> {
    let p = principal(ctx)?;
    if !p.may_write() {
        return Err(coded("FORBIDDEN", "this token may only read"));
    }
    Ok(p)
}

/// What can be changed. Every change is an event with the token's principal as actor. The
/// answer holds the state after the change, and the same token's next query sees it in every
/// read model (waiting up to a second for it to be folded).
#[Object]
impl Mutation {
    /// Start the rollout of a service at one administration.
    async fn start_rollout(
        &self,
        ctx: &Context<'_>,
        input: StartRolloutInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let p = writer(ctx)?;
        check_scope(p, &input.service_key, &input.ars)?;
        let s = services(ctx);
        let outcome = s
            .engine
            .start_rollout(&input.service_key, &input.ars, None, &request(ctx, p))
            .await
            .map_err(engine_error)?;
        Ok(payload(ctx, outcome))
    }

    /// Complete a step with evidence.
    async fn complete_step(
        &self,
        ctx: &Context<'_>,
        input: CompleteStepInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let serde_json::Value::Object(map) = input.evidence.0 else {
            return Err(coded("BAD_USER_INPUT", "`evidence` must be an object of field id → value"));
        };
        let command = Command::CompleteStep {
            step: input.step_id,
            evidence: map.into_iter().collect(),
            comment: input.comment,
        };
        run(ctx, "completeStep", &input.rollout_id, input.expected_version, input.idempotency_key, command)
            .await
    }

    /// Start a step (mark it in progress).
    async fn start_step(
        &self,
        ctx: &Context<'_>,
        input: StepCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::StartStep { step: input.step_id.clone() };
        run(ctx, "startStep", &input.rollout_id, input.expected_version, input.idempotency_key, command).await
    }

    /// Confirm a four-eyes step someone else completed (`reason`: an optional comment).
    async fn confirm_step(
        &self,
        ctx: &Context<'_>,
        input: StepCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::ConfirmStep { step: input.step_id.clone(), comment: input.reason };
        run(ctx, "confirmStep", &input.rollout_id, input.expected_version, input.idempotency_key, command)
            .await
    }

    /// Reopen a completed step, with a reason; the steps that depend on it are reopened too.
    async fn reopen_step(
        &self,
        ctx: &Context<'_>,
        input: StepCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command =
            Command::ReopenStep { step: input.step_id.clone(), reason: input.reason.unwrap_or_default() };
        run(ctx, "reopenStep", &input.rollout_id, input.expected_version, input.idempotency_key, command)
            .await
    }

    /// Mark a skippable step as not required, with a reason.
    async fn mark_step_not_required(
        &self,
        ctx: &Context<'_>,
        input: StepCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::MarkNotRequired {
            step: input.step_id.clone(),
            reason: input.reason.unwrap_or_default(),
        };
        run(
            ctx,
            "markStepNotRequired",
            &input.rollout_id,
            input.expected_version,
            input.idempotency_key,
            command,
        )
        .await
    }

    /// Block a rollout, with a reason: no step changes until it is unblocked.
    async fn block_rollout(
        &self,
        ctx: &Context<'_>,
        input: RolloutCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::Block { reason: input.reason };
        run(ctx, "blockRollout", &input.rollout_id, input.expected_version, input.idempotency_key, command)
            .await
    }

    /// Unblock a rollout, with a reason.
    async fn unblock_rollout(
        &self,
        ctx: &Context<'_>,
        input: RolloutCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::Unblock { reason: input.reason };
        run(ctx, "unblockRollout", &input.rollout_id, input.expected_version, input.idempotency_key, command)
            .await
    }

    /// Add a comment to a rollout's history (`reason` is the text).
    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        input: RolloutCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::Comment { text: input.reason, step: input.step_id };
        run(ctx, "addComment", &input.rollout_id, input.expected_version, input.idempotency_key, command)
            .await
    }

    /// Cancel a rollout, with a reason (project managers and admins).
    async fn cancel_rollout(
        &self,
        ctx: &Context<'_>,
        input: RolloutCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::Cancel { reason: input.reason };
        run(ctx, "cancelRollout", &input.rollout_id, input.expected_version, input.idempotency_key, command)
            .await
    }

    /// Assign a rollout to someone (or nobody).
    async fn assign_rollout(
        &self,
        ctx: &Context<'_>,
        input: AssignInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::Assign { assignee: input.assignee };
        run(ctx, "assignRollout", &input.rollout_id, input.expected_version, input.idempotency_key, command)
            .await
    }

    /// Set a step's due date by hand (project managers and admins).
    async fn set_due_date(
        &self,
        ctx: &Context<'_>,
        input: SetDueDateInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let due_at: store::Timestamp =
            input.due_at.parse().map_err(|e: String| coded("BAD_USER_INPUT", format!("`dueAt`: {e}")))?;
        let command = Command::SetDueDate { step: input.step_id.clone(), due_at, reason: input.reason };
        run(ctx, "setDueDate", &input.rollout_id, input.expected_version, input.idempotency_key, command)
            .await
    }

    /// Move a rollout to a newer version of its definition, with a validated step mapping
    /// (project managers and admins). Recorded as an event.
    async fn migrate_rollout(
        &self,
        ctx: &Context<'_>,
        input: MigrateRolloutInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let (service, ars) = split_id(&input.rollout_id)?;
        let s = services(ctx);
        // Scope first: a token learns nothing about rollouts outside it.
        check_scope(principal(ctx)?, service, ars)?;
        // From the log, not the read model: the caller's own recent writes count.
        let current =
            s.engine.load(service, ars).await.map_err(engine_error)?.map(|r| r.definition.id.clone());
        let Some(definition_id) = current else {
            return Err(coded("NOT_FOUND", format!("there is no rollout `{}`", input.rollout_id.as_str())));
        };
        let definition =
            workflow::Definitions::get(&**s.engine.registry(), &definition_id, input.definition_version)
                .ok_or_else(|| {
                    coded(
                        "NOT_FOUND",
                        format!("there is no version {} of `{definition_id}`", input.definition_version),
                    )
                })?;
        let facts = {
            let catalog = s.engine.catalog();
            match (catalog.authorities.get(ars), catalog.services.get(service)) {
                (Some(a), Some(sv)) => catalog::facts(&a.authority, &sv.service),
                _ => workflow::Facts::default(),
            }
        };
        let mapping = input.step_mapping.into_iter().map(|m| (m.from, m.to)).collect();
        let command = Command::Migrate { definition, mapping, facts };
        run(ctx, "migrateRollout", &input.rollout_id, input.expected_version, input.idempotency_key, command)
            .await
    }

    /// Start the rollout of a service for every administration it applies to (and its
    /// Land-level rollout); existing rollouts are left alone, so repeating it changes nothing.
    async fn start_service_rollout(
        &self,
        ctx: &Context<'_>,
        service_key: String,
    ) -> async_graphql::Result<StartServicePayload> {
        let p = writer(ctx)?;
        if !matches!(p.role, Role::Admin | Role::ProjectManager) {
            return Err(coded(
                "FORBIDDEN",
                "starting a service's rollout needs a project manager or admin token",
            ));
        }
        let summary =
            services(ctx).engine.start_service(&service_key, &request(ctx, p)).await.map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(StartServicePayload {
            started: summary.started.iter().map(|ars| ID(format!("{service_key}:{ars}"))).collect(),
            existing: summary.existing.len() as u64,
        })
    }

    /// Revoke a token (admin only); it is refused from then on.
    async fn revoke_token(&self, ctx: &Context<'_>, id: ID, reason: String) -> async_graphql::Result<bool> {
        let p = principal(ctx)?;
        if p.role != Role::Admin {
            return Err(coded("FORBIDDEN", "only an admin token may revoke tokens"));
        }
        let token_id = uuid::Uuid::try_parse(&id)
            .map_err(|_| coded("BAD_USER_INPUT", format!("`{}` is not a token id", id.as_str())))?;
        let s = services(ctx);
        s.tokens.revoke(&**s.engine.store(), p.actor(), token_id, &reason).await.map_err(|e| match e {
            crate::tokens::TokenError::Invalid(m) => coded("NOT_FOUND", m),
            other => {
                tracing::error!(error = %other, "revoking a token failed");
                coded("INTERNAL", "internal error")
            }
        })?;
        remember_head(ctx).await;
        Ok(true)
    }

    /// Issue an API token (admin only). The secret is in the answer and nowhere else.
    async fn issue_token(
        &self,
        ctx: &Context<'_>,
        input: IssueTokenInput,
    ) -> async_graphql::Result<IssuedToken> {
        let p = principal(ctx)?;
        if p.role != Role::Admin {
            return Err(coded("FORBIDDEN", "only an admin token may issue tokens"));
        }
        let role = Role::from_name(&input.role).ok_or_else(|| {
            coded(
                "BAD_USER_INPUT",
                format!("unknown role `{}`; roles are {}", input.role, Role::NAMES.join(", ")),
            )
        })?;
        let s = services(ctx);
        let (issued, token) = s
            .tokens
            .issue(&**s.engine.store(), p.actor(), &input.name, role, input.authorities, input.services)
            .await
            .map_err(|e| match e {
                crate::tokens::TokenError::Invalid(m) => coded("BAD_USER_INPUT", m),
                other => {
                    tracing::error!(error = %other, "issuing a token failed");
                    coded("INTERNAL", "internal error")
                }
            })?;
        remember_head(ctx).await;
        Ok(IssuedToken { id: ID(issued.token_id.to_string()), token, role: issued.role.name().into() })
    }
}
