#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! What can be read: the query root, and the shapes only it answers (progress, the caller,
//! the log's head, overdue and blocked lists).

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use projections::GroupBy as ModelGroupBy;

use crate::limits::{page_complexity, PROGRESS_POINTS_MAX};
use crate::objects::catalog::ProgramName;
use crate::objects::catalog::{
    authorities_page, services_page, AuthorityConnection, AuthorityFilter, ServiceConnection, ServiceFilter,
};
use crate::objects::definition::Definition;
use crate::objects::event::{events_page, EventConnection, EventFilter};
use crate::objects::person::Person;
use crate::objects::rollout::{rollouts_page, Rollout, RolloutConnection, RolloutFilter};
use crate::state::{
    caller, check_scope, coded, cut, internal, manager, page_size, split_id, state, time_arg,
};
use app::Caller;

#[derive(Default, Debug)]
pub struct CoreQuery;

/// How progress is grouped.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "GroupBy")]
pub enum ProgressGrouping {
    /// By service.
    Service,
    /// By Landkreis; an Amt or Gemeinde counts under its Landkreis.
    Landkreis,
    /// By administration.
    Authority,
}

/// The cost of `progress`: one entry per group (as many as the grouping can have), and with
/// `asOf` a fold of the whole log.
fn progress_complexity(as_of: bool, by: ProgressGrouping, child_complexity: usize) -> usize {
    use crate::limits::{
        list_complexity, AUTHORITIES_ITEMS, LANDKREISE_ITEMS, LOG_FOLD_COST, SERVICES_ITEMS,
    };
    let groups = match by {
        ProgressGrouping::Service => SERVICES_ITEMS,
        ProgressGrouping::Landkreis => LANDKREISE_ITEMS,
        ProgressGrouping::Authority => AUTHORITIES_ITEMS,
    };
    list_complexity(groups, child_complexity) + if as_of { LOG_FOLD_COST } else { 0 }
}

/// Counts of one group. Rollouts are administrations' rollouts: a service's central rollout (the
/// Land's, or the association's model) counts only in its own administration's group, never as
/// an administration of its service or Landkreis. The responsibility figures (`responsible` to
/// `flaechendeckend`) count (service, administration) pairs where the administration is
/// responsible, of the services in the programme (offered or started); they are null in
/// `progressOverTime`. A group is listed when it has rollouts, an offer or an answer.
#[derive(SimpleObject)]
pub struct ProgressGroup {
    /// The service key, Landkreis ARS or administration ARS.
    key: String,
    /// Rollouts of administrations in the group (a central rollout only in its own
    /// administration's group).
    rollouts: u64,
    /// Share of applicable steps done, 0 to 100.
    percent_done: f64,
    /// Rollouts per phase and status.
    by_phase_status: Vec<PhaseStatusCount>,
    /// Rollouts in operation (status `live`).
    in_operation: u64,
    /// Rollouts blocked.
    blocked: u64,
    /// Rollouts with an open step past its due date at the time asked for (`asOf`, or now);
    /// null in `progressOverTime`.
    overdue: Option<u64>,
    /// Blocked rollouts by blockage category (category null: none given); empty in
    /// `progressOverTime`.
    blocked_by_category: Vec<BlockedCount>,
    /// Administrations responsible for the service(s) of the group: the level rule and its
    /// exceptions (`Authority.status`, the responsibility file, `ResponsibilityChanged`).
    responsible: Option<u64>,
    /// … to which the service was offered (`offerService`).
    offered: Option<u64>,
    /// … whose latest answer is INTERESTED.
    interested: Option<u64>,
    /// … whose latest answer is DECLINED (never counted as ended rollouts).
    declined: Option<u64>,
    /// … whose latest answer is DEFERRED.
    deferred: Option<u64>,
    /// … whose latest answer is OWN_SOLUTION.
    own_solution: Option<u64>,
    /// … that have not answered.
    no_answer: Option<u64>,
    /// … whose rollout is under way (not in operation, not ended).
    onboarding: Option<u64>,
    /// Coverage in percent: responsible administrations in operation ÷ responsible.
    coverage: Option<f64>,
    /// Coverage by population in percent: inhabitants served by the administrations in operation
    /// ÷ inhabitants served by the responsible ones (each inhabitant counted once: a Landkreis
    /// serves its area without the towns responsible themselves).
    population_coverage: Option<f64>,
    /// Every responsible administration of the group in operation ("flächendeckend", as the
    /// Dashboard Digitale Verwaltung defines it: 99 % is not).
    flaechendeckend: Option<bool>,
    /// Responsible administrations whose applications reach the back-office system digitally
    /// (Ende-zu-Ende, `setEndToEnd`).
    end_to_end: Option<u64>,
    /// Applications received online, every month recorded (`recordUsage`).
    applications: Option<u64>,
    /// With `groupBy: SERVICE` 1 (0 without responsible administrations); summed: the
    /// services counted.
    services: Option<u64>,
    /// Services in operation at every responsible administration (1 or 0 per service).
    services_flaechendeckend: Option<u64>,
}

/// Blocked rollouts of one blockage category.
#[derive(SimpleObject)]
pub struct BlockedCount {
    /// The category; null: none given.
    category: Option<crate::mutation::BlockCategory>,
    /// Blocked rollouts.
    count: u64,
}

impl ProgressGroup {
    fn of(f: app::report::Figures) -> ProgressGroup {
        let r = &f.reuse;
        ProgressGroup {
            responsible: Some(r.responsible),
            offered: Some(r.offered),
            interested: Some(r.interested),
            declined: Some(r.declined),
            deferred: Some(r.deferred),
            own_solution: Some(r.own_solution),
            no_answer: Some(r.no_answer),
            onboarding: Some(r.onboarding),
            coverage: Some(r.coverage()),
            population_coverage: Some(r.population_coverage()),
            flaechendeckend: Some(r.flaechendeckend()),
            end_to_end: Some(r.end_to_end),
            applications: Some(r.applications),
            services: Some(r.services),
            services_flaechendeckend: Some(r.services_flaechendeckend),
            percent_done: f.percent_done(),
            by_phase_status: phase_status_counts(&f.by_phase_status),
            in_operation: f.in_operation,
            blocked: f.blocked,
            overdue: Some(f.overdue),
            blocked_by_category: f
                .blocked_by_category
                .iter()
                .map(|(c, n)| BlockedCount { category: crate::mutation::BlockCategory::of(c), count: *n })
                .collect(),
            rollouts: f.rollouts,
            key: f.key,
        }
    }
}

fn phase_status_counts(
    counts: &std::collections::BTreeMap<(String, &'static str), u64>,
) -> Vec<PhaseStatusCount> {
    counts
        .iter()
        .map(|((phase, status), n)| PhaseStatusCount {
            phase: phase.clone(),
            status: (*status).into(),
            count: *n,
        })
        .collect()
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
#[graphql(complex)]
pub struct Me {
    /// The actor id its events are recorded for (`token:<id>`, or `person:<id>` when signed in).
    id: String,
    /// The token's name (empty when signed in: see `person`).
    name: String,
    /// `admin`, `project-manager`, `authority-staff`, `association-staff`, `automation` or
    /// `auditor`.
    role: String,
    /// ARS keys an authority-staff token is limited to.
    authorities: Vec<String>,
    /// The administrations (ARS) the caller acts for: the same as `authorities`.
    administrations: Vec<String>,
    /// Service keys an automation token is limited to.
    services: Vec<String>,
    /// How the caller came in: `token` (a bearer token) or `oidc` (signed in with an identity
    /// provider; a session cookie).
    auth_method: String,
    #[graphql(skip)]
    signed_in: Option<app::SignIn>,
    #[graphql(skip)]
    person_id: Option<uuid::Uuid>,
}

#[async_graphql::ComplexObject]
impl Me {
    /// The issuer a signed-in caller came from.
    async fn issuer(&self) -> Option<&str> {
        self.signed_in.as_ref().map(|s| s.issuer.as_str())
    }

    /// When a signed-in caller's session ends at the latest (RFC 3339).
    async fn session_expires(&self) -> Option<String> {
        self.signed_in.as_ref().map(|s| s.expires.to_string())
    }

    /// The person behind the caller (a signed-in person, or a token's person).
    async fn person(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::objects::person::Person>> {
        match self.person_id {
            Some(id) => crate::objects::person::Person::visible(ctx, id).await,
            None => Ok(None),
        }
    }
}

// The rollouts', catalogue's, audit log's and progress part of the query root (`schema::Query`
// describes them all).
#[Object]
impl CoreQuery {
    /// The Land this server serves: its profile, chosen when the store was initialised
    /// (`rollout init --profile`).
    async fn profile(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<crate::objects::catalog::LandProfile> {
        crate::state::reference_reader(ctx)?;
        Ok(crate::objects::catalog::LandProfile(state(ctx).profile.clone()))
    }

    /// The caller's principal and scope.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Me> {
        let c = caller(ctx)?;
        Ok(Me {
            id: c.actor().id,
            name: c.name.clone(),
            role: c.role.name().into(),
            authorities: c.authorities.clone(),
            administrations: c.authorities.clone(),
            services: c.services.clone(),
            auth_method: c.auth_method().into(),
            signed_in: c.signed_in.clone(),
            person_id: c.person,
        })
    }

    /// One rollout by id, `"<serviceKey>:<ars>"`, e.g. `wohngeld:120540000000`; with `asOf`
    /// (an RFC 3339 time or a log position) as it stood then, folded from the log.
    #[graphql(complexity = "crate::limits::rollout_complexity(as_of.is_some(), child_complexity)")]
    async fn rollout(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<String>,
    ) -> async_graphql::Result<Option<Rollout>> {
        let c = caller(ctx)?;
        let (service, ars) = split_id(&id)?;
        check_scope(c, service, ars)?;
        let cut = cut(as_of.as_deref())?;
        if cut != projections::Cut::Everything {
            return Ok(rollout_as_of(ctx, service, ars, cut).await?.map(|r| Rollout::new(Arc::new(r))));
        }
        let s = state(ctx);
        Ok(s.projector.read(|m| m.rollout(id.as_str()).cloned()).map(Rollout::new))
    }

    /// A registered person, for managers, auditors, staff of the person's administration and
    /// the person's own token; `null` for anyone else and for an unknown id.
    async fn person(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Person>> {
        Person::visible(ctx, crate::mutation::person_id(&id)?).await
    }

    /// The persons registered for an administration (erased ones included, shown as
    /// `[gelöscht]`), for those who may read them (staff: their own administrations).
    #[graphql(complexity = "crate::limits::list_complexity(crate::limits::PERSONS_ITEMS, child_complexity)")]
    async fn persons(&self, ctx: &Context<'_>, ars: String) -> async_graphql::Result<Vec<Person>> {
        let c = caller(ctx)?;
        let records = state(ctx).engine.persons().of_authority(&ars);
        let mut out = Vec::with_capacity(records.len());
        for record in records.into_iter().filter(|p| c.may_read_person(p.id, &p.ars)) {
            out.push(Person::of(ctx, record).await?);
        }
        Ok(out)
    }

    /// Rollouts, filtered, ordered by id, as a Relay connection (`first` at most 500).
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn rollouts(
        &self,
        ctx: &Context<'_>,
        filter: Option<RolloutFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<RolloutConnection> {
        let c = caller(ctx)?;
        let first = page_size(first)?;
        Ok(rollouts_page(ctx, c, &filter.unwrap_or_default(), first, after.as_deref()))
    }

    /// The audit log: events, filtered, in log order, as a Relay connection. Answered from the
    /// audit index, never by scanning the log.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        filter: Option<EventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<EventConnection> {
        let c = caller(ctx)?;
        let first = page_size(first)?;
        events_page(ctx, c, filter.unwrap_or_default(), first, after).await
    }

    /// Administrations (within the token's scope), ordered by ARS.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn authorities(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuthorityFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<AuthorityConnection> {
        let c = caller(ctx)?;
        let first = page_size(first)?;
        Ok(authorities_page(ctx, c, &filter.unwrap_or_default(), first, after.as_deref()))
    }

    /// Services (within the token's scope), ordered by key.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn services(
        &self,
        ctx: &Context<'_>,
        filter: Option<ServiceFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ServiceConnection> {
        let c = caller(ctx)?;
        let first = page_size(first)?;
        Ok(services_page(ctx, c, &filter.unwrap_or_default(), first, after.as_deref()))
    }

    /// Open steps past their due date, longest overdue first (within the token's scope).
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn overdue(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<OverdueStep>> {
        let c = caller(ctx)?;
        Ok(overdue_in_scope(ctx, c, page_size(first)?))
    }

    /// Blocked rollouts, longest blocked first (within the token's scope).
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn blocked(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<BlockedRollout>> {
        let c = caller(ctx)?;
        Ok(blocked_in_scope(ctx, c, page_size(first)?))
    }

    /// The end of the log: the last durable position and its hash (follow the `events`
    /// subscription from here, or anchor an audit).
    async fn head(&self, ctx: &Context<'_>) -> async_graphql::Result<LogHead> {
        crate::state::reference_reader(ctx)?;
        let head =
            state(ctx).engine.store().head().await.map_err(|e| internal("reading the head failed", e))?;
        Ok(LogHead { position: head.position, hash: head.hash.to_string() })
    }

    /// Every known workflow definition (published into the log, or bundled with the server),
    /// every version, by id and version, with its phases, steps and exact text.
    #[graphql(
        complexity = "crate::limits::list_complexity(crate::limits::DEFINITIONS_ITEMS, child_complexity)"
    )]
    async fn definitions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Definition>> {
        crate::state::reference_reader(ctx)?;
        Ok(state(ctx).engine.registry().entries().into_iter().map(Definition::new).collect())
    }

    /// One definition: the given version, or the newest.
    async fn definition(
        &self,
        ctx: &Context<'_>,
        id: String,
        #[graphql(desc = "Without it: the newest version.")] version: Option<u32>,
    ) -> async_graphql::Result<Option<Definition>> {
        crate::state::reference_reader(ctx)?;
        let registry = state(ctx).engine.registry();
        let version = match version {
            Some(v) => Some(v),
            None => registry.latest(&id).map(|d| d.version),
        };
        Ok(version.and_then(|v| registry.entry(&id, v)).map(Definition::new))
    }

    /// Progress counts of all rollouts the caller may see, grouped.
    #[graphql(complexity = "progress_complexity(as_of.is_some(), group_by, child_complexity)")]
    async fn progress(
        &self,
        ctx: &Context<'_>,
        group_by: ProgressGrouping,
        #[graphql(desc = "As it stood at this RFC 3339 time or log position (folded from the log).")]
        as_of: Option<String>,
        #[graphql(desc = "Only the services of this programme.")] program: Option<ProgramName>,
        #[graphql(desc = "Only this service (e.g. with `groupBy: LANDKREIS`: one service per Landkreis).")]
        service_key: Option<String>,
    ) -> async_graphql::Result<Vec<ProgressGroup>> {
        manager(ctx, "progress over all rollouts")?;
        let by = model_group(group_by);
        let cut = cut(as_of.as_deref())?;
        let past = match cut {
            projections::Cut::Everything => None,
            cut => Some(model_as_of(ctx, cut).await?),
        };
        let now = state(ctx).now();
        let groups = |m: &projections::ReadModel| {
            let at = app::report::counted_at(cut, m, now);
            app::report::figures(m, by, program.map(|p| p.program()), service_key.as_deref(), at)
                .into_iter()
                .map(ProgressGroup::of)
                .collect()
        };
        Ok(match &past {
            Some(m) => groups(m),
            None => state(ctx).projector.read(groups),
        })
    }

    /// Progress counts over time, grouped: one point every few days (`everyDays`) from a start
    /// time up to an end time or now, each as it stood then — the data of a burn-up chart (e.g.
    /// live administrations per service per week). Folded from the log in one pass; points
    /// before the log's last event cannot change any more and are kept, so the same chart asked
    /// again is answered from memory (points at or after it are the current progress).
    #[graphql(
        complexity = "crate::limits::LOG_FOLD_COST + crate::limits::PROGRESS_POINTS_ESTIMATE * progress_complexity(false, group_by, 1) + child_complexity"
    )]
    async fn progress_over_time(
        &self,
        ctx: &Context<'_>,
        group_by: ProgressGrouping,
        #[graphql(desc = "The first point (RFC 3339).")] from: String,
        #[graphql(desc = "The last point at most (RFC 3339); default: now.")] until: Option<String>,
        #[graphql(desc = "Days between points, 1 to 366.", default = 7)] every_days: i32,
        #[graphql(desc = "Only the services of this programme (folded from the log per request).")]
        program: Option<ProgramName>,
    ) -> async_graphql::Result<Vec<ProgressPoint>> {
        manager(ctx, "progress over all rollouts")?;
        let from = time_arg(Some(&from), "from")?.unwrap_or_default();
        let until = match time_arg(until.as_deref(), "until")? {
            Some(u) => u,
            None => state(ctx).now(),
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
        let times: Vec<vocab::Timestamp> =
            (0..count).map(|i| vocab::Timestamp::from_unix_micros(from.unix_micros() + i * step)).collect();
        let by = model_group(group_by);
        let s = state(ctx);
        s.fold_allowance(caller(ctx)?, 1)?;
        let _turn = s.fold_turn(crate::limits::FOLD_PERMITS).await?;
        let (projector, store, registry) =
            (s.projector.clone(), s.engine.store().clone(), s.engine.registry().clone());
        let points = times.clone();
        let series = crate::background::at_low_priority(async move {
            match program {
                None => projector.progress_history(&points, by).await,
                Some(_) => {
                    projections::progress_over_time_where(&store, &*registry, &points, |m| {
                        program_progress(m, by, program)
                    })
                    .await
                }
            }
        })
        .await
        .map_err(|e| {
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

/// Progress as it stood at one time.
#[derive(SimpleObject)]
pub struct ProgressPoint {
    /// The time (RFC 3339).
    at: String,
    /// The groups then (groups without rollouts are left out).
    groups: Vec<ProgressGroup>,
}

/// The model's progress, of one programme's services when `program` names one.
fn program_progress(
    m: &projections::ReadModel,
    by: ModelGroupBy,
    program: Option<ProgramName>,
) -> std::collections::BTreeMap<String, projections::Counts> {
    match program {
        None => m.progress(by),
        Some(p) => m.progress_where(by, |key| m.catalog.program_of(key) == p.program()),
    }
}

fn model_group(by: ProgressGrouping) -> ModelGroupBy {
    match by {
        ProgressGrouping::Service => ModelGroupBy::Service,
        ProgressGrouping::Landkreis => ModelGroupBy::Landkreis,
        ProgressGrouping::Authority => ModelGroupBy::Authority,
    }
}

/// The points of `progressOverTime` (no overdue count: it is not kept per point).
fn progress_groups(groups: std::collections::BTreeMap<String, projections::Counts>) -> Vec<ProgressGroup> {
    groups
        .into_iter()
        .map(|(key, c)| {
            let status =
                |name: &str| c.by_phase_status.iter().filter(|((_, s), _)| *s == name).map(|(_, n)| n).sum();
            ProgressGroup {
                key,
                rollouts: c.rollouts,
                percent_done: c.percent_done(),
                by_phase_status: phase_status_counts(&c.by_phase_status),
                in_operation: status("live"),
                blocked: status("blocked"),
                overdue: None,
                blocked_by_category: Vec::new(),
                responsible: None,
                offered: None,
                interested: None,
                declined: None,
                deferred: None,
                own_solution: None,
                no_answer: None,
                onboarding: None,
                coverage: None,
                population_coverage: None,
                flaechendeckend: None,
                end_to_end: None,
                applications: None,
                services: None,
                services_flaechendeckend: None,
            }
        })
        .collect()
}

/// An open step past its due date.
#[derive(SimpleObject)]
pub struct OverdueStep {
    /// The rollout.
    rollout_id: ID,
    /// The step.
    step_id: String,
    /// When it was due (RFC 3339).
    due_at: String,
}

/// A blocked rollout.
#[derive(SimpleObject)]
pub struct BlockedRollout {
    /// The rollout.
    rollout_id: ID,
    /// Since when (RFC 3339).
    since: String,
    /// Why.
    reason: String,
}

fn overdue_in_scope(ctx: &Context<'_>, c: &Caller, first: usize) -> Vec<OverdueStep> {
    let now = state(ctx).now();
    state(ctx).projector.read(|m| {
        m.overdue(now)
            .filter(|(_, id, _)| m.rollout(id).is_some_and(|r| c.may_read_rollout(&r.service_key, &r.ars)))
            .take(first)
            .map(|(due, id, step)| OverdueStep {
                rollout_id: ID(id.into()),
                step_id: step.into(),
                due_at: due.to_string(),
            })
            .collect()
    })
}

fn blocked_in_scope(ctx: &Context<'_>, c: &Caller, first: usize) -> Vec<BlockedRollout> {
    state(ctx).projector.read(|m| {
        m.blocked()
            .filter_map(|(since, id)| {
                m.rollout(id).filter(|r| c.may_read_rollout(&r.service_key, &r.ars)).map(|r| (since, r))
            })
            .take(first)
            .map(|(since, r)| BlockedRollout {
                rollout_id: ID(r.id()),
                since: since.to_string(),
                reason: r.blocked.clone().unwrap_or_default(),
            })
            .collect()
    })
}

/// One rollout as it stood at `cut`, folded from its stream.
async fn rollout_as_of(
    ctx: &Context<'_>,
    service: &str,
    ars: &str,
    cut: projections::Cut,
) -> async_graphql::Result<Option<workflow::Rollout>> {
    let s = state(ctx);
    let _turn = s.fold_turn(1).await?;
    let (store, registry) = (s.engine.store().clone(), s.engine.registry().clone());
    let (service, ars) = (service.to_owned(), ars.to_owned());
    crate::background::at_low_priority(async move {
        projections::rollout_as_of(&*store, &*registry, &service, &ars, cut).await
    })
    .await
    .map_err(|e| internal("time travel failed", e))
}

/// Every read model as it stood at `cut`, folded from the log.
async fn model_as_of(
    ctx: &Context<'_>,
    cut: projections::Cut,
) -> async_graphql::Result<projections::ReadModel> {
    let s = state(ctx);
    s.fold_allowance(caller(ctx)?, 1)?;
    let _turn = s.fold_turn(crate::limits::FOLD_PERMITS).await?;
    let (store, registry) = (s.engine.store().clone(), s.engine.registry().clone());
    crate::background::at_low_priority(
        async move { projections::fold(&store, &*registry, cut, |_| {}).await },
    )
    .await
    .map_err(|e| internal("time travel failed", e))
}
