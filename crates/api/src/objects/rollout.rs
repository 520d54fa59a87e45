#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! Rollouts: the `Rollout` object and its steps and history, and `rollouts` pages from the read
//! model.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use workflow::rollout::Rollout as DomainRollout;

use crate::connection::{connection, paginate};
use crate::objects::event::{ActorInfo, Event};
use crate::state::{caller, internal, page_size, position_arg, state};
use app::Caller;

/// What an automation token may do on a rollout: work on (automatable) steps and comment.
pub(crate) use app::rollouts::mutation_of;

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
        let s = state(ctx);
        let r = &self.summary;
        let full = projections::rollout_at_version(
            &**s.engine.store(),
            &**s.engine.registry(),
            &r.service_key,
            &r.ars,
            r.version,
        )
        .await
        .map_err(|e| internal("reading a rollout's stream failed", e))?
        .map_or_else(|| r.clone(), Arc::new);
        Ok(self.details.get_or_init(|| full).clone())
    }
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
    /// The workflow definition it runs, with its phases, steps and exact text.
    async fn definition_details(&self, ctx: &Context<'_>) -> Option<crate::objects::definition::Definition> {
        let d = &self.summary.definition;
        state(ctx).engine.registry().entry(&d.id, d.version).map(crate::objects::definition::Definition::new)
    }

    /// Its history: every event, with the status, phase and step changes it made.
    #[graphql(complexity = "crate::limits::page_complexity(first, child_complexity)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        #[graphql(desc = "A position: only events after it.")] after: Option<String>,
    ) -> async_graphql::Result<Vec<HistoryEntry>> {
        let first = page_size(first)?;
        let after = position_arg(after.as_deref())?;
        let s = state(ctx);
        let entries = projections::history(
            &**s.engine.store(),
            &**s.engine.registry(),
            &self.summary.service_key,
            &self.summary.ars,
            after,
            first,
        )
        .await
        .map_err(|e| internal("reading a rollout's history failed", e))?;
        Ok(entries.into_iter().map(HistoryEntry::of).collect())
    }

    /// Whether an open step is past its due date now (the steps say which; `overdue` lists them
    /// all, longest overdue first).
    async fn overdue(&self, ctx: &Context<'_>) -> bool {
        self.summary.is_overdue(state(ctx).now())
    }

    /// Steps done (or marked not required), of those that apply.
    async fn steps_done(&self) -> u64 {
        self.summary.steps_done().0
    }

    /// Steps that apply to this rollout (its conditions decided which).
    async fn steps_applicable(&self) -> u64 {
        self.summary.steps_done().1
    }

    /// Whether its administration is responsible for the service now (the level rule and its
    /// exceptions); a central rollout (the Land's, the association's model) is no
    /// administration's: false.
    async fn responsible(&self, ctx: &Context<'_>) -> bool {
        state(ctx).engine.read_catalog(|c| c.is_responsible(&self.summary.service_key, &self.summary.ars))
    }

    /// The inhabitants its administration serves for this service: a Landkreis without the
    /// towns of its area responsible themselves, plus administrations whose task it carries by
    /// agreement.
    async fn population_served(&self, ctx: &Context<'_>) -> u64 {
        state(ctx).engine.read_catalog(|c| c.population_served(&self.summary.service_key, &self.summary.ars))
    }

    /// Administrations and municipalities (ARS) it acts for besides itself, by its exception
    /// (what its editorial entry must list).
    async fn acts_for(&self, ctx: &Context<'_>) -> Vec<String> {
        state(ctx).engine.read_catalog(|c| c.acts_for(&self.summary.service_key, &self.summary.ars))
    }

    /// Applications received online per month (`recordUsage`), oldest first.
    async fn usage(&self, ctx: &Context<'_>) -> Vec<UsageMonth> {
        let (service, ars) = (&self.summary.service_key, &self.summary.ars);
        state(ctx).engine.read_catalog(|c| {
            c.authorities
                .get(ars)
                .and_then(|e| e.usage.get(service))
                .map(|months| {
                    months
                        .iter()
                        .map(|(month, (count, source))| UsageMonth {
                            month: month.clone(),
                            count: *count,
                            source: source.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// Whether its applications reach the back-office system digitally (Ende-zu-Ende): as set
    /// with `setEndToEnd`, else true once its back-office step (`fachverfahren`) is done; null:
    /// not known yet.
    async fn end_to_end(&self, ctx: &Context<'_>) -> Option<bool> {
        let (service, ars) = (&self.summary.service_key, &self.summary.ars);
        let explicit = state(ctx)
            .engine
            .read_catalog(|c| c.authorities.get(ars).and_then(|e| e.end_to_end.get(service).copied()));
        app::coverage::end_to_end(explicit, Some(&self.summary))
    }

    /// Its steps in definition order.
    #[graphql(
        complexity = "crate::limits::list_complexity(crate::limits::ROLLOUT_STEPS_ITEMS, child_complexity)"
    )]
    async fn steps(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Step>> {
        let wanted = ctx.look_ahead();
        let records =
            ["evidence", "completedBy", "completedAt", "actions"].iter().any(|f| wanted.field(f).exists());
        let r = if records { self.details(ctx).await? } else { self.summary.clone() };
        let now = state(ctx).now();
        Ok((0..r.steps.len()).map(|i| Step::of(&r, i, now)).collect())
    }

    /// The questions (Rückfragen) on its steps, oldest first; `step`: only those on that step.
    #[graphql(
        complexity = "crate::limits::list_complexity(crate::limits::QUESTIONS_ITEMS, child_complexity)"
    )]
    async fn questions(
        &self,
        ctx: &Context<'_>,
        step: Option<String>,
    ) -> async_graphql::Result<Vec<crate::objects::work::Question>> {
        caller(ctx)?;
        let r = &self.summary;
        Ok(state(ctx)
            .engine
            .questions()
            .of_rollout(&r.service_key, &r.ars)
            .into_iter()
            .filter(|q| step.as_ref().is_none_or(|s| &q.step == s))
            .map(crate::objects::work::Question)
            .collect())
    }
}

impl Step {
    /// Step `i` of `r` as it stands at `now`.
    pub(crate) fn of(r: &Arc<DomainRollout>, i: usize, now: store::Timestamp) -> Step {
        let d = &r.definition;
        let (def, s) = (&d.steps[i], &r.steps[i]);
        let overdue = r.deadlines().any(|(j, due)| j == i && due < now);
        Step {
            rollout: r.clone(),
            id: def.id.clone(),
            title: def.title.clone(),
            phase: d.phases.get(def.phase).map(|p| p.id.clone()).unwrap_or_default(),
            status: s.status.name().into(),
            evidence: async_graphql::Json(serde_json::to_value(r.evidence(i).to_map()).unwrap_or_default()),
            completed_by: r.completed_by(i).map(ActorInfo::of),
            completed_at: r.completed_at(i).map(|t| t.to_string()),
            due_at: s.due_at().map(|t| t.to_string()),
            overdue,
        }
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
        let c = caller(ctx)?;
        if !c.may_write() {
            return Ok(Vec::new());
        }
        let cx = workflow::Context {
            principal: c.domain(),
            now: state(ctx).now(),
            facts: state(ctx).engine.facts(&self.rollout.service_key, &self.rollout.ars),
        };
        Ok(workflow::step_actions(&self.rollout, &self.id, &cx)
            .into_iter()
            .map(mutation_of)
            .filter(|m| c.may_use_mutation(m))
            .collect())
    }
}

/// One entry of a rollout's history: the event and what it changed.
#[derive(SimpleObject)]
pub struct HistoryEntry {
    /// The event.
    event: Event,
    /// The rollout's status after it.
    status_after: String,
    /// The rollout's phase after it.
    phase_after: String,
    /// Steps whose status it changed.
    step_changes: Vec<StepChange>,
}

impl HistoryEntry {
    fn of(h: projections::HistoryEntry) -> HistoryEntry {
        HistoryEntry {
            status_after: h.status_after.into(),
            phase_after: h.phase_after,
            step_changes: h
                .step_changes
                .into_iter()
                .map(|(step_id, from, to)| StepChange {
                    step_id,
                    from: from.map(|w| w.name().to_owned()),
                    to: to.name().to_owned(),
                })
                .collect(),
            event: Event(h.event),
        }
    }
}

/// A step's status before and after an event.
#[derive(SimpleObject)]
pub struct StepChange {
    /// Step id.
    step_id: String,
    /// Status before (absent for the first event).
    from: Option<String>,
    /// Status after.
    to: String,
}

/// Which rollouts.
#[derive(InputObject, Default)]
pub struct RolloutFilter {
    /// Only services of this programme.
    pub(crate) program: Option<crate::objects::catalog::ProgramName>,
    /// Only this service.
    pub(crate) service_key: Option<String>,
    /// Only this administration.
    pub(crate) ars: Option<String>,
    /// Only administrations of this Landkreis (and the Landkreis itself).
    pub(crate) landkreis_ars: Option<String>,
    /// Only rollouts in this phase (phase id).
    pub(crate) phase: Option<String>,
    /// Only this status: `not_started`, `in_progress`, `blocked`, `live`, `cancelled`.
    pub(crate) status: Option<String>,
}

connection!(
    RolloutConnection,
    RolloutEdge,
    Rollout,
    "A page of rollouts, ordered by id.",
    "A rollout and its cursor.",
    "The rollout id.",
    "The rollout.",
    total: "All rollouts matching the filter (within the token's scope)."
);

/// Rollouts matching `filter` visible to `c`, ordered by id, a page after `after`.
pub(crate) fn rollouts_page(
    ctx: &Context<'_>,
    c: &Caller,
    filter: &RolloutFilter,
    first: usize,
    after: Option<&str>,
) -> RolloutConnection {
    state(ctx).projector.read(|m| {
        let mut matching = app::rollouts::matching(m, c, &filter.selection());
        matching.sort_by_cached_key(|r| r.id());
        let (edges, total_count, page_info) = paginate(
            &matching,
            |r| r.id(),
            after,
            first,
            |cursor, r| RolloutEdge { cursor, node: Rollout::new((*r).clone()) },
        );
        RolloutConnection { total_count, edges, page_info }
    })
}

impl RolloutFilter {
    pub(crate) fn selection(&self) -> app::rollouts::Selection {
        app::rollouts::Selection {
            program: self.program.map(crate::objects::catalog::ProgramName::program),
            service_key: self.service_key.clone(),
            ars: self.ars.clone(),
            landkreis_ars: self.landkreis_ars.clone(),
            phase: self.phase.clone(),
            status: self.status.clone(),
        }
    }
}

/// What a blockage is about.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum BlockCategory {
    /// Fachverfahren / Hersteller (the back-office system or its vendor).
    Fachverfahren,
    /// Vertrag und Recht.
    VertragRecht,
    /// Technik und Anbindung.
    Technik,
    /// Personal.
    Personal,
    /// Finanzierung.
    Finanzierung,
    /// Land / Bund.
    LandBund,
    /// Sonstiges.
    Sonstiges,
}

impl BlockCategory {
    /// The stored name (`workflow::events::BLOCK_CATEGORIES`).
    pub(crate) fn stored(self) -> &'static str {
        match self {
            BlockCategory::Fachverfahren => "fachverfahren",
            BlockCategory::VertragRecht => "vertrag_recht",
            BlockCategory::Technik => "technik",
            BlockCategory::Personal => "personal",
            BlockCategory::Finanzierung => "finanzierung",
            BlockCategory::LandBund => "land_bund",
            BlockCategory::Sonstiges => "sonstiges",
        }
    }

    pub(crate) fn of(stored: &str) -> Option<BlockCategory> {
        [
            BlockCategory::Fachverfahren,
            BlockCategory::VertragRecht,
            BlockCategory::Technik,
            BlockCategory::Personal,
            BlockCategory::Finanzierung,
            BlockCategory::LandBund,
            BlockCategory::Sonstiges,
        ]
        .into_iter()
        .find(|c| c.stored() == stored)
    }
}

/// Applications received online in one month.
#[derive(async_graphql::SimpleObject)]
pub struct UsageMonth {
    /// The month (`YYYY-MM`).
    month: String,
    /// Applications received online.
    count: u64,
    /// Where the figure comes from.
    source: String,
}
