#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! The read side of the schema: connections (Relay) over rollouts, events, authorities and
//! services, a rollout's history with what each event changed, overdue and blocked lists,
//! workflow definitions, and `asOf` views of the past.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use projections::{AuditFilter, Cut};
use store::{EventStore, RecordedEvent, Timestamp};
use workflow::rollout::Rollout as DomainRollout;

use crate::schema::{coded, Event, Rollout};
use crate::tokens::{Principal, Role};

fn page_size(first: Option<i32>) -> async_graphql::Result<usize> {
    match first {
        None => Ok(50),
        Some(n) if n < 0 => Err(coded("BAD_USER_INPUT", "`first` must not be negative")),
        Some(n) if n as usize > crate::schema::PAGE_MAX => Err(coded(
            "LIMIT_EXCEEDED",
            format!("`first` is at most {}, asked for {n}", crate::schema::PAGE_MAX),
        )),
        Some(n) => Ok(n as usize),
    }
}

/// One page of `items` (ordered by `key`): the edges after cursor `after`, at most `first`,
/// the total count and the paging information. Every connection pages through this.
fn paginate<T, E>(
    items: &[T],
    key: impl Fn(&T) -> String,
    after: Option<&str>,
    first: usize,
    edge: impl Fn(String, &T) -> E,
) -> (Vec<E>, u64, PageInfo) {
    let start = after.map_or(0, |a| items.partition_point(|x| key(x).as_str() <= a));
    let page = &items[start.min(items.len())..];
    let page = &page[..first.min(page.len())];
    let end_cursor = page.last().map(&key);
    let edges = page.iter().map(|x| edge(key(x), x)).collect();
    let has_next_page = start + page.len() < items.len();
    (edges, items.len() as u64, PageInfo { has_next_page, end_cursor })
}

/// Paging information of a connection.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// More items follow.
    has_next_page: bool,
    /// The cursor of the last item of this page; pass it as `after` for the next page.
    end_cursor: Option<String>,
}

/// Which rollouts.
#[derive(InputObject, Default)]
pub struct RolloutFilter {
    /// Only this service.
    service_key: Option<String>,
    /// Only this administration.
    ars: Option<String>,
    /// Only administrations of this Landkreis (and the Landkreis itself).
    landkreis_ars: Option<String>,
    /// Only rollouts in this phase (phase id).
    phase: Option<String>,
    /// Only this status: `not_started`, `in_progress`, `blocked`, `live`, `cancelled`.
    status: Option<String>,
}

/// A page of rollouts, ordered by id.
#[derive(SimpleObject)]
pub struct RolloutConnection {
    /// All rollouts matching the filter (within the token's scope).
    total_count: u64,
    /// This page.
    edges: Vec<RolloutEdge>,
    /// Paging.
    page_info: PageInfo,
}

/// A rollout and its cursor.
#[derive(SimpleObject)]
pub struct RolloutEdge {
    /// The rollout id.
    cursor: String,
    /// The rollout.
    node: Rollout,
}

/// Which events of the audit log. Authority-staff tokens must name an administration of
/// theirs (`ars` or `rolloutId`), automation tokens a service of theirs.
#[derive(InputObject, Default)]
pub struct EventFilter {
    /// Only the events of this rollout (`"<serviceKey>:<ars>"`).
    rollout_id: Option<ID>,
    /// Only events by this actor (`token:<id>`, `system`, ...).
    actor: Option<String>,
    /// Only these event types, e.g. `["StepCompleted"]`.
    types: Option<Vec<String>>,
    /// Only events about this service.
    service_key: Option<String>,
    /// Only events about this administration.
    ars: Option<String>,
    /// Recorded at or after this time (RFC 3339).
    from: Option<String>,
    /// Recorded at or before this time (RFC 3339).
    until: Option<String>,
}

impl EventFilter {
    pub(crate) fn for_rollout(id: &ID) -> EventFilter {
        EventFilter { rollout_id: Some(id.clone()), ..Default::default() }
    }

    /// Whether a live event matches (service and ARS of its stream, when it is a rollout's).
    pub(crate) fn accepts(&self, service: Option<&str>, ars: Option<&str>, e: &RecordedEvent) -> bool {
        let rollout_ok =
            self.rollout_id.as_ref().is_none_or(|id| e.stream_id == format!("rollout-{}", id.as_str()));
        let actor_ok = self.actor.as_ref().is_none_or(|a| &e.actor.id == a);
        let type_ok =
            self.types.as_ref().is_none_or(|t| t.is_empty() || t.iter().any(|t| t == &e.event_type));
        let service_ok = self.service_key.as_ref().is_none_or(|k| service == Some(k.as_str()));
        let ars_ok = self.ars.as_ref().is_none_or(|a| ars == Some(a.as_str()));
        let from_ok =
            self.from.as_ref().and_then(|f| f.parse::<Timestamp>().ok()).is_none_or(|f| e.recorded_at >= f);
        let until_ok =
            self.until.as_ref().and_then(|u| u.parse::<Timestamp>().ok()).is_none_or(|u| e.recorded_at <= u);
        rollout_ok && actor_ok && type_ok && service_ok && ars_ok && from_ok && until_ok
    }
}

/// A page of events, in log order.
#[derive(SimpleObject)]
pub struct EventConnection {
    /// This page.
    edges: Vec<EventEdge>,
    /// Paging.
    page_info: PageInfo,
}

/// An event and its cursor (its position).
#[derive(SimpleObject)]
pub struct EventEdge {
    /// The event's position.
    cursor: String,
    /// The event.
    node: Event,
}

fn time(value: &Option<String>, name: &str) -> async_graphql::Result<Option<Timestamp>> {
    value
        .as_deref()
        .map(|v| v.parse::<Timestamp>().map_err(|e| coded("BAD_USER_INPUT", format!("`{name}`: {e}"))))
        .transpose()
}

/// `asOf`: an RFC 3339 time, or a log position.
pub(crate) fn cut(as_of: &Option<String>) -> async_graphql::Result<Cut> {
    match as_of.as_deref() {
        None => Ok(Cut::Everything),
        Some(v) => match v.parse::<u64>() {
            Ok(p) => Ok(Cut::Position(p)),
            Err(_) => v.parse::<Timestamp>().map(Cut::Time).map_err(|e| {
                coded("BAD_USER_INPUT", format!("`asOf` is neither a position nor a time: {e}"))
            }),
        },
    }
}

fn visible(p: &Principal, r: &DomainRollout) -> bool {
    p.may_read_rollout(&r.service_key, &r.ars)
}

pub(crate) async fn load_events(
    store: &dyn EventStore,
    positions: &[u64],
) -> async_graphql::Result<Vec<RecordedEvent>> {
    let mut out = Vec::with_capacity(positions.len());
    for &p in positions {
        match store.read_event(p).await {
            Ok(Some(e)) => out.push(e),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, position = p, "reading an event failed");
                return Err(coded("INTERNAL", "internal error"));
            }
        }
    }
    Ok(out)
}

/// Rollouts matching `filter` visible to `p`, ordered by id, a page after `after`.
pub(crate) fn rollouts_page(
    ctx: &Context<'_>,
    p: &Principal,
    filter: &RolloutFilter,
    first: usize,
    after: Option<&str>,
) -> RolloutConnection {
    let s = crate::schema::services_of(ctx);
    s.projector.read(|m| {
        let candidates: Box<dyn Iterator<Item = &std::sync::Arc<DomainRollout>>> =
            match (&filter.ars, &filter.service_key) {
                (Some(ars), _) => Box::new(m.rollouts_of_authority(ars)),
                (None, Some(key)) => Box::new(m.rollouts_of_service(key)),
                (None, None) => Box::new(m.rollouts()),
            };
        let landkreis_of =
            |ars: &str| m.catalog.authorities.get(ars).and_then(|a| a.authority.landkreis_ars.clone());
        let mut matching: Vec<&std::sync::Arc<DomainRollout>> = candidates
            .filter(|r| visible(p, r))
            .filter(|r| filter.service_key.as_ref().is_none_or(|k| &r.service_key == k))
            .filter(|r| filter.ars.as_ref().is_none_or(|a| &r.ars == a))
            .filter(|r| {
                filter
                    .landkreis_ars
                    .as_ref()
                    .is_none_or(|lk| &r.ars == lk || landkreis_of(&r.ars).as_ref() == Some(lk))
            })
            .filter(|r| filter.status.as_ref().is_none_or(|st| r.status().name() == st))
            .filter(|r| {
                filter
                    .phase
                    .as_ref()
                    .is_none_or(|ph| r.definition.phases.get(r.phase()).is_some_and(|x| &x.id == ph))
            })
            .collect();
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

/// A rollout's history: its events, folded one by one, with the change each made.
pub(crate) async fn history(
    ctx: &Context<'_>,
    service_key: &str,
    ars: &str,
    first: usize,
    after: Option<u64>,
) -> async_graphql::Result<Vec<HistoryEntry>> {
    let s = crate::schema::services_of(ctx);
    let store = s.engine.store();
    let stream = workflow::rollout::stream_id(service_key, ars);
    let mut state: Option<DomainRollout> = None;
    let mut out = Vec::new();
    let mut from = 1;
    loop {
        let page = store.read_stream(&stream, from, store::Direction::Forward, 1_000).await.map_err(|e| {
            tracing::error!(error = %e, "reading a stream failed");
            coded("INTERNAL", "internal error")
        })?;
        let Some(last) = page.last() else { break };
        from = last.version + 1;
        for e in page {
            let event = workflow::RolloutEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str())
                .map_err(|why| coded("INTERNAL", format!("unreadable event at {}: {why}", e.position)))?;
            let meta = workflow::Meta { at: e.recorded_at, actor: &e.actor };
            let before = state.clone();
            let next = DomainRollout::evolve(state, &event, &meta, &**s.engine.registry())
                .map_err(|why| coded("INTERNAL", why.to_string()))?;
            if after.is_none_or(|a| e.position > a) && out.len() < first {
                let step_changes = next
                    .definition
                    .steps
                    .iter()
                    .zip(&next.steps)
                    .enumerate()
                    .filter_map(|(i, (d, st))| {
                        let was = before.as_ref().and_then(|b| b.steps.get(i)).map(|x| x.status);
                        (was != Some(st.status)).then(|| StepChange {
                            step_id: d.id.clone(),
                            from: was.map(|w| w.name().to_owned()),
                            to: st.status.name().to_owned(),
                        })
                    })
                    .collect();
                out.push(HistoryEntry {
                    status_after: next.status().name().into(),
                    phase_after: next
                        .definition
                        .phases
                        .get(next.phase())
                        .map(|p| p.id.clone())
                        .unwrap_or_default(),
                    step_changes,
                    event: Event::new(e),
                });
            }
            state = Some(next);
        }
    }
    Ok(out)
}

pub(crate) async fn events_page(
    ctx: &Context<'_>,
    p: &Principal,
    filter: EventFilter,
    first: usize,
    after: Option<String>,
) -> async_graphql::Result<EventConnection> {
    let (mut service, mut ars) = (filter.service_key.clone(), filter.ars.clone());
    let stream = match &filter.rollout_id {
        Some(id) => {
            let (sk, a) = id
                .split_once(':')
                .ok_or_else(|| coded("BAD_USER_INPUT", format!("`{}` is not a rollout id", id.as_str())))?;
            service.get_or_insert_with(|| sk.to_owned());
            ars.get_or_insert_with(|| a.to_owned());
            Some(workflow::rollout::stream_id(sk, a))
        }
        None => None,
    };
    match p.role {
        Role::AuthorityStaff if !ars.as_ref().is_some_and(|a| p.may_read_authority(a)) => {
            return Err(coded(
                "FORBIDDEN",
                "an authority-staff token must name one of its administrations (`ars` or `rolloutId`)",
            ))
        }
        Role::Automation if !service.as_ref().is_some_and(|k| p.may_read_service(k)) => {
            return Err(coded(
                "FORBIDDEN",
                "an automation token must name one of its services (`serviceKey` or `rolloutId`)",
            ))
        }
        _ => {}
    }
    let after = match after {
        None => 0,
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| coded("BAD_USER_INPUT", format!("`after` must be a position, not `{a}`")))?,
    };
    let audit = AuditFilter {
        actor: filter.actor.clone(),
        stream,
        service,
        authority: ars,
        types: filter.types.clone().unwrap_or_default(),
        from: time(&filter.from, "from")?,
        until: time(&filter.until, "until")?,
    };
    let s = crate::schema::services_of(ctx);
    let positions = s.projector.read(|m| m.audit(&audit, after, first + 1));
    let has_next = positions.len() > first;
    let events = load_events(&**s.engine.store(), &positions[..positions.len().min(first)]).await?;
    let edges: Vec<EventEdge> = events
        .into_iter()
        .map(|e| EventEdge { cursor: e.position.to_string(), node: Event::new(e) })
        .collect();
    let end_cursor = edges.last().map(|e| e.cursor.clone());
    Ok(EventConnection { edges, page_info: PageInfo { has_next_page: has_next, end_cursor } })
}

pub(crate) fn first_of(first: Option<i32>) -> async_graphql::Result<usize> {
    page_size(first)
}

/// An administration.
pub struct Authority(pub(crate) catalog::Authority);

/// A Landkreis, by key and name.
#[derive(SimpleObject)]
pub struct LandkreisRef {
    /// Its ARS.
    ars: String,
    /// Its name.
    name: String,
}

/// An administration (kommunaler Verwaltungsträger) or the Land.
#[Object]
impl Authority {
    /// Amtlicher Regionalschlüssel, 12 digits.
    async fn ars(&self) -> &str {
        &self.0.ars
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// `landkreis`, `kreisfreie_stadt`, `amt`, `verbandsgemeinde`, `mitverwaltende_gemeinde`, `amtsfreie_gemeinde`, `land`.
    async fn kind(&self) -> &str {
        self.0.kind.name()
    }
    /// Inhabitants (31.12.2024).
    async fn population(&self) -> u64 {
        self.0.population
    }
    /// Names of its member municipalities.
    async fn members(&self) -> Vec<String> {
        self.0.members.iter().map(|m| m.name.clone()).collect()
    }
    /// The Landkreis it belongs to.
    async fn landkreis(&self, ctx: &Context<'_>) -> Option<LandkreisRef> {
        let lk = self.0.landkreis_ars.clone()?;
        let name = crate::schema::services_of(ctx)
            .projector
            .read(|m| m.catalog.authorities.get(&lk).map(|a| a.authority.name.clone()))
            .unwrap_or_default();
        Some(LandkreisRef { ars: lk, name })
    }
    /// Its rollouts (within the token's scope).
    #[graphql(complexity = "5 + first.unwrap_or(50).clamp(0, 500) as usize * child_complexity")]
    async fn rollouts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<RolloutConnection> {
        let p = crate::schema::principal_of(ctx)?;
        let filter = RolloutFilter { ars: Some(self.0.ars.clone()), ..Default::default() };
        Ok(rollouts_page(ctx, p, &filter, page_size(first)?, after.as_deref()))
    }
}

/// A service.
pub struct Service(pub(crate) catalog::Service);

/// An online service administrations are connected to.
#[Object]
impl Service {
    /// Its key, e.g. `wohngeld`.
    async fn key(&self) -> &str {
        &self.0.key
    }
    /// Its name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// LeiKa keys (14 digits).
    async fn leika_keys(&self) -> &[String] {
        &self.0.leika_keys
    }
    /// `land`, `landkreis_kfs` or `gemeinde_amt` (an assumption of the data, see data/SOURCES.md).
    async fn responsible_level(&self) -> &str {
        self.0.responsible_level.name()
    }
    /// Whether it charges fees (an assumption of the data).
    async fn fee_based(&self) -> bool {
        self.0.fee_based
    }
    /// Its rollouts (within the token's scope).
    #[graphql(complexity = "5 + first.unwrap_or(50).clamp(0, 500) as usize * child_complexity")]
    async fn rollouts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<RolloutConnection> {
        let p = crate::schema::principal_of(ctx)?;
        let filter = RolloutFilter { service_key: Some(self.0.key.clone()), ..Default::default() };
        Ok(rollouts_page(ctx, p, &filter, page_size(first)?, after.as_deref()))
    }
}

/// A page of administrations, ordered by ARS.
#[derive(SimpleObject)]
pub struct AuthorityConnection {
    /// All matching.
    total_count: u64,
    /// This page.
    edges: Vec<AuthorityEdge>,
    /// Paging.
    page_info: PageInfo,
}

/// An administration and its cursor (its ARS).
#[derive(SimpleObject)]
pub struct AuthorityEdge {
    /// The ARS.
    cursor: String,
    /// The administration.
    node: Authority,
}

/// Which administrations.
#[derive(InputObject, Default)]
pub struct AuthorityFilter {
    /// Only this kind.
    kind: Option<String>,
    /// Only those of this Landkreis.
    landkreis_ars: Option<String>,
    /// Name contains this text (case-insensitive).
    name_contains: Option<String>,
}

pub(crate) fn authorities_page(
    ctx: &Context<'_>,
    p: &Principal,
    filter: &AuthorityFilter,
    first: usize,
    after: Option<&str>,
) -> AuthorityConnection {
    let needle = filter.name_contains.as_ref().map(|n| n.to_lowercase());
    crate::schema::services_of(ctx).projector.read(|m| {
        let matching: Vec<&catalog::Authority> = m
            .catalog
            .active_authorities()
            .filter(|a| p.may_read_authority(&a.ars))
            .filter(|a| filter.kind.as_ref().is_none_or(|k| a.kind.name() == k))
            .filter(|a| filter.landkreis_ars.as_ref().is_none_or(|lk| a.landkreis_ars.as_ref() == Some(lk)))
            .filter(|a| needle.as_ref().is_none_or(|n| a.name.to_lowercase().contains(n)))
            .collect();
        let (edges, total_count, page_info) = paginate(
            &matching,
            |a| a.ars.clone(),
            after,
            first,
            |cursor, a| AuthorityEdge { cursor, node: Authority((*a).clone()) },
        );
        AuthorityConnection { total_count, edges, page_info }
    })
}

/// A page of services, ordered by key.
#[derive(SimpleObject)]
pub struct ServiceConnection {
    /// All matching.
    total_count: u64,
    /// This page.
    edges: Vec<ServiceEdge>,
    /// Paging.
    page_info: PageInfo,
}

/// A service and its cursor (its key).
#[derive(SimpleObject)]
pub struct ServiceEdge {
    /// The key.
    cursor: String,
    /// The service.
    node: Service,
}

/// Which services.
#[derive(InputObject, Default)]
pub struct ServiceFilter {
    /// Only this responsible level: `land`, `landkreis_kfs`, `gemeinde_amt`.
    responsible_level: Option<String>,
    /// Name contains this text (case-insensitive).
    name_contains: Option<String>,
}

pub(crate) fn services_page(
    ctx: &Context<'_>,
    p: &Principal,
    filter: &ServiceFilter,
    first: usize,
    after: Option<&str>,
) -> ServiceConnection {
    let needle = filter.name_contains.as_ref().map(|n| n.to_lowercase());
    crate::schema::services_of(ctx).projector.read(|m| {
        let matching: Vec<&catalog::Service> = m
            .catalog
            .services
            .values()
            .map(|e| &e.service)
            .filter(|s| p.may_read_service(&s.key))
            .filter(|s| filter.responsible_level.as_ref().is_none_or(|l| s.responsible_level.name() == l))
            .filter(|s| needle.as_ref().is_none_or(|n| s.name.to_lowercase().contains(n)))
            .collect();
        let (edges, total_count, page_info) = paginate(
            &matching,
            |sv| sv.key.clone(),
            after,
            first,
            |cursor, sv| ServiceEdge { cursor, node: Service((*sv).clone()) },
        );
        ServiceConnection { total_count, edges, page_info }
    })
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

pub(crate) fn overdue(ctx: &Context<'_>, p: &Principal, first: usize) -> Vec<OverdueStep> {
    crate::schema::services_of(ctx).projector.read(|m| {
        m.overdue(Timestamp::now())
            .filter(|(_, id, _)| m.rollout(id).is_some_and(|r| visible(p, r)))
            .take(first)
            .map(|(due, id, step)| OverdueStep {
                rollout_id: ID(id.into()),
                step_id: step.into(),
                due_at: due.to_string(),
            })
            .collect()
    })
}

pub(crate) fn blocked(ctx: &Context<'_>, p: &Principal, first: usize) -> Vec<BlockedRollout> {
    crate::schema::services_of(ctx).projector.read(|m| {
        m.blocked()
            .filter_map(|(since, id)| m.rollout(id).filter(|r| visible(p, r)).map(|r| (since, r)))
            .take(first)
            .map(|(since, r)| BlockedRollout {
                rollout_id: ID(r.id()),
                since: since.to_string(),
                reason: r.blocked.clone().unwrap_or_default(),
            })
            .collect()
    })
}

/// A workflow definition.
pub struct Definition(pub(crate) std::sync::Arc<workflow::Definition>);

/// A workflow definition as published: phases and steps.
#[Object]
impl Definition {
    /// Its id.
    async fn id(&self) -> &str {
        &self.0.id
    }
    /// Its version.
    async fn version(&self) -> u32 {
        self.0.version
    }
    /// Its title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// `authority` or `land`.
    async fn scope(&self) -> &str {
        match self.0.scope {
            workflow::Scope::Authority => "authority",
            workflow::Scope::Land => "land",
        }
    }
    /// Content hash the rollouts are pinned to.
    async fn content_hash(&self) -> &str {
        &self.0.content_hash
    }
    /// Its phases with their steps.
    async fn phases(&self) -> Vec<DefinitionPhase> {
        self.0
            .phases
            .iter()
            .map(|ph| DefinitionPhase {
                id: ph.id.clone(),
                title: ph.title.clone(),
                steps: self.0.steps[ph.steps.clone()]
                    .iter()
                    .map(|st| DefinitionStep {
                        id: st.id.clone(),
                        title: st.title.clone(),
                        description: st.description.clone(),
                        roles: st.roles.iter().map(|r| r.name().to_owned()).collect(),
                        depends_on: st
                            .depends_on
                            .iter()
                            .map(|&d| self.0.steps[d].id.clone())
                            .chain(st.land_depends_on.iter().map(|l| format!("land:{l}")))
                            .collect(),
                        condition: st.condition.as_ref().map(|c| c.source().to_owned()),
                        skippable: st.skippable,
                        automatable: st.automatable,
                        four_eyes: st.four_eyes,
                        deadline_hours: st.deadline.map(|d| d.hours),
                        evidence: st
                            .evidence
                            .iter()
                            .map(|f| EvidenceField {
                                id: f.id.clone(),
                                label: f.label.clone(),
                                field_type: f.ty.name().to_owned(),
                                required: f.required,
                                values: match &f.ty {
                                    workflow::FieldType::Enumeration(v) => v.clone(),
                                    _ => vec![],
                                },
                                pattern: f.ty.pattern().map(String::from),
                                max_length: f.ty.max_chars().map(|n| n as u32),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect()
    }
}

/// A phase of a definition.
#[derive(SimpleObject)]
pub struct DefinitionPhase {
    /// Phase id.
    id: String,
    /// Title.
    title: String,
    /// Its steps.
    steps: Vec<DefinitionStep>,
}

/// A step of a definition.
#[derive(SimpleObject)]
pub struct DefinitionStep {
    /// Step id.
    id: String,
    /// Title (German).
    title: String,
    /// Description (German).
    description: String,
    /// Roles that may complete it.
    roles: Vec<String>,
    /// Steps it waits for (`land:` for the Land-level rollout's steps).
    depends_on: Vec<String>,
    /// When it applies (the condition language).
    condition: Option<String>,
    /// May be marked not required.
    skippable: bool,
    /// Automation tokens may complete it.
    automatable: bool,
    /// Needs a second person's confirmation.
    four_eyes: bool,
    /// Deadline after it becomes ready, in hours.
    deadline_hours: Option<u32>,
    /// The evidence it records.
    evidence: Vec<EvidenceField>,
}

/// An evidence field of a step.
#[derive(SimpleObject)]
pub struct EvidenceField {
    /// Field id (the key in `evidence`).
    id: String,
    /// Label (German).
    label: String,
    /// `text`, `date`, `url`, `uuid`, `leika`, `ars`, `document`, `enum`, `boolean`, `number`.
    #[graphql(name = "type")]
    field_type: String,
    /// Must be given.
    required: bool,
    /// For `enum`: the allowed values.
    values: Vec<String>,
    /// For `leika`, `ars` and `uuid`: a regular expression valid values match as a whole (the
    /// HTML `pattern` dialect), for forms to check before sending. The server checks regardless.
    pattern: Option<String>,
    /// For `text` and `document`: characters at most.
    max_length: Option<u32>,
}

pub(crate) fn is_manager(p: &Principal) -> bool {
    matches!(p.role, Role::Admin | Role::ProjectManager | Role::Auditor)
}

pub(crate) async fn rollout_as_of(
    ctx: &Context<'_>,
    service: &str,
    ars: &str,
    cut: Cut,
) -> async_graphql::Result<Option<DomainRollout>> {
    let s = crate::schema::services_of(ctx);
    projections::rollout_as_of(&**s.engine.store(), &**s.engine.registry(), service, ars, cut).await.map_err(
        |e| {
            tracing::error!(error = %e, "time travel failed");
            coded("INTERNAL", "internal error")
        },
    )
}

pub(crate) async fn model_as_of(
    ctx: &Context<'_>,
    cut: Cut,
) -> async_graphql::Result<projections::ReadModel> {
    let s = crate::schema::services_of(ctx);
    projections::fold(s.engine.store(), &**s.engine.registry(), cut, |_| {}).await.map_err(|e| {
        tracing::error!(error = %e, "time travel failed");
        coded("INTERNAL", "internal error")
    })
}
