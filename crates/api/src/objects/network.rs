#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! The OZG network: who is how far with a service (`peers`), and the contact persons who agreed
//! to be named for it (`giveContactConsent`, `withdrawContactConsent`). A peer shows the
//! administration, its phase and status, when it completed a step, and consented contacts —
//! never evidence, comments, questions or anything else of its rollout; `rollout`, `rollouts`,
//! `events` and the subscriptions keep their scopes.

use std::collections::HashMap;
use std::sync::OnceLock;

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use engine::Personal;
use workflow::StepStatus;

use app::Caller;
use crate::mutation::{invocation, person_id, remember_head};
use crate::objects::catalog::Authority;
use crate::objects::person::Person;
use crate::state::{caller, coded, engine_error, internal, state, writer};

/// The geometric centre of each administration's area (its seat, approximately): the middle of
/// its bounding box in the map layers `data/geo/brandenburg_verwaltungstraeger.geojson` and, for
/// the Landkreise, `brandenburg_kreise.geojson`.
fn seats() -> &'static HashMap<String, (f64, f64)> {
    static SEATS: OnceLock<HashMap<String, (f64, f64)>> = OnceLock::new();
    SEATS.get_or_init(|| {
        let mut out = HashMap::new();
        for layer in [crate::assets::GEO_KREISE, crate::assets::GEO_VERWALTUNGEN] {
            centres(layer, &mut out);
        }
        out
    })
}

/// The bounding-box centres of a layer's features, by ARS (a later layer wins).
fn centres(layer: &[u8], out: &mut HashMap<String, (f64, f64)>) {
    let geo: serde_json::Value = serde_json::from_slice(layer).unwrap_or_default();
    for f in geo["features"].as_array().into_iter().flatten() {
        let Some(ars) = f["properties"]["ars"].as_str() else { continue };
        let (mut lo, mut hi) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
        let mut visit = |p: &serde_json::Value| {
            if let (Some(x), Some(y)) = (p[0].as_f64(), p[1].as_f64()) {
                lo = (lo.0.min(x), lo.1.min(y));
                hi = (hi.0.max(x), hi.1.max(y));
            }
        };
        for polygon in f["geometry"]["coordinates"].as_array().into_iter().flatten() {
            for ring in polygon.as_array().into_iter().flatten() {
                // MultiPolygon rings hold points; a Polygon's rings are one level up.
                match ring.as_array() {
                    Some(points) if points.first().is_some_and(|p| p.is_array()) => {
                        points.iter().for_each(&mut visit)
                    }
                    _ => visit(ring),
                }
            }
        }
        if lo.0 <= hi.0 {
            out.insert(ars.to_owned(), ((lo.0 + hi.0) / 2.0, (lo.1 + hi.1) / 2.0));
        }
    }
}

/// Great-circle distance in kilometres between two (longitude, latitude) points.
fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, la2) = (a.1.to_radians(), b.1.to_radians());
    let (dla, dlo) = (la2 - la1, (b.0 - a.0).to_radians());
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    6371.0 * 2.0 * h.sqrt().asin()
}

/// A contact person who agreed to be named for the service.
#[derive(SimpleObject)]
pub struct NetworkContact {
    /// The person's id.
    id: ID,
    /// The name.
    name: String,
    /// The function or role.
    function: Option<String>,
    /// The e-mail address.
    email: Option<String>,
    /// The phone number.
    phone: Option<String>,
}

/// Another administration's progress on a service, as the network shows it.
#[derive(SimpleObject)]
pub struct Peer {
    /// The administration.
    authority: Authority,
    /// The phase its rollout is in (phase id).
    phase: String,
    /// `not_started`, `in_progress`, `blocked`, `live` or `cancelled`; `blocked` only where the
    /// token may read the rollout (another administration's blockage shows as the status it
    /// would have without it, so its end does not name whose an unnamed solution is).
    status: String,
    /// In operation.
    in_operation: bool,
    /// With `stepId`: when it completed that step (RFC 3339).
    completed_at: Option<String>,
    /// In the same Landkreis as the token's administration.
    same_landkreis: bool,
    /// Kilometres between the centres of the two administrations' areas (null when the token
    /// has no administration).
    distance_km: Option<f64>,
    /// Its contact persons who agreed to be named for this service (`giveContactConsent`).
    contacts: Vec<NetworkContact>,
    /// The back-office system it uses in the service's subject area, as its staff recorded it.
    back_office: Option<crate::objects::catalog::BackOfficeSystem>,
}


/// The OZG network part of the query root.
#[derive(Default, Debug)]
pub struct NetworkQuery;

#[Object]
impl NetworkQuery {
    /// Who is how far with a service, for every signed-in token: without `stepId`, every
    /// administration with a rollout of it, by phase and status; with `stepId`, those that
    /// completed that step. Nearest first (same Landkreis as the token's administration, then
    /// by distance), for tokens without an administration the earliest first. Each with the
    /// contact persons who agreed to be named for the service; never evidence, comments or
    /// questions.
    #[graphql(
        complexity = "crate::limits::list_complexity(crate::limits::AUTHORITIES_ITEMS, child_complexity)"
    )]
    async fn peers(
        &self,
        ctx: &Context<'_>,
        service_key: String,
        step_id: Option<String>,
        #[graphql(
            desc = "Only administrations that use this back-office product (case-insensitive) in the service's subject area: who uses the same system?"
        )]
        product: Option<String>,
    ) -> async_graphql::Result<Vec<Peer>> {
        let c = caller(ctx)?;
        let s = state(ctx);
        let central = s.engine.central_ars(&service_key);
        let rollouts: Vec<_> = s.projector.read(|m| {
            m.rollouts_of_service(&service_key)
                .filter(|r| r.ars != central && r.ars != catalog::LAND_ARS)
                .cloned()
                .collect()
        });
        if let Some(step) = &step_id {
            if !rollouts.iter().any(|r| r.definition.step_index(step).is_some()) && !rollouts.is_empty() {
                return Err(coded(
                    "BAD_USER_INPUT",
                    format!("no rollout of `{service_key}` has a step `{step}`"),
                ));
            }
        }
        let catalog = s.engine.catalog();
        let landkreis_of = |ars: &str| {
            catalog
                .authorities
                .get(ars)
                .and_then(|a| a.authority.landkreis_ars.clone())
                .unwrap_or_else(|| ars.to_owned())
        };
        let me = c.home();
        let my_kreis = me.map(landkreis_of);
        let my_seat = me.and_then(|a| seats().get(a).copied());
        // The persons who may be named for this service, by administration (one pass).
        let mut named: HashMap<String, Vec<uuid::Uuid>> = HashMap::new();
        for p in s.engine.persons().all().into_iter().filter(|p| p.named_for(&service_key)) {
            named.entry(p.ars).or_default().push(p.id);
        }
        let mut peers = Vec::new();
        let area =
            catalog.services.get(&service_key).map(|s| s.service.subject_area.clone()).unwrap_or_default();
        let wanted = product.map(|p| p.trim().to_lowercase()).filter(|p| !p.is_empty());
        for r in rollouts {
            let Some(entry) = catalog.authorities.get(&r.ars) else { continue };
            let back_office = entry.back_office.get(&area);
            if let Some(w) = &wanted {
                if back_office.is_none_or(|b| b.product.to_lowercase() != *w) {
                    continue;
                }
            }
            let back_office = back_office.map(|b| crate::objects::catalog::BackOfficeSystem::of(&area, b));
            let completed_at = match &step_id {
                None => None,
                Some(step) => {
                    let Some(i) = r.definition.step_index(step) else { continue };
                    if r.steps[i].status != StepStatus::Done {
                        continue;
                    }
                    // When: the step's record, from the engine's cache or the rollout's stream.
                    let full = s
                        .engine
                        .load(&r.service_key, &r.ars)
                        .await
                        .map_err(|e| internal("reading a peer's rollout failed", e))?;
                    full.and_then(|f| f.completed_at(i)).map(|t| t.to_string())
                }
            };
            let mut contacts = Vec::new();
            for &id in named.get(&r.ars).into_iter().flatten() {
                if let Some(Personal::Readable(d)) =
                    s.engine.person_details(id).await.map_err(engine_error)?
                {
                    contacts.push(NetworkContact {
                        id: ID(id.to_string()),
                        name: d.name,
                        function: d.function,
                        email: d.email,
                        phone: d.phone,
                    });
                }
            }
            let seat = seats().get(&r.ars).copied();
            peers.push(Peer {
                authority: Authority(entry.authority.clone()),
                phase: r.definition.phases.get(r.phase()).map(|p| p.id.clone()).unwrap_or_default(),
                // Another administration's blockage is not shown: its end would name whose the
                // unnamed solution that appears with it is.
                status: if c.may_read_rollout(&r.service_key, &r.ars) {
                    r.status()
                } else {
                    r.status_unblocked()
                }
                .name()
                .to_owned(),
                in_operation: r.status() == workflow::Status::Live,
                completed_at,
                same_landkreis: my_kreis.as_deref() == Some(landkreis_of(&r.ars).as_str()),
                distance_km: my_seat.zip(seat).map(|(a, b)| (km(a, b) * 10.0).round() / 10.0),
                contacts,
                back_office,
            });
        }
        peers.retain(|p| me != Some(p.authority.0.ars.as_str()));
        peers.sort_by(|a, b| {
            (
                !a.same_landkreis,
                a.distance_km.unwrap_or(f64::MAX),
                a.completed_at.clone(),
                a.authority.0.ars.clone(),
            )
                .partial_cmp(&(
                    !b.same_landkreis,
                    b.distance_km.unwrap_or(f64::MAX),
                    b.completed_at.clone(),
                    b.authority.0.ars.clone(),
                ))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(peers)
    }
}

/// A consent to be named as a network contact.
#[derive(InputObject)]
pub struct ContactConsentInput {
    /// The person's id.
    person_id: ID,
    /// The service; without it: every service (withdrawn without it: every consent).
    service_key: Option<String>,
    /// Why: how the person agreed (e.g. "schriftlich am 3.12."), or why it ends (kept in the
    /// person's history; put no other personal data here).
    reason: String,
}

/// The network part of the mutation root.
#[derive(Default, Debug)]
pub struct NetworkMutation;

/// The person `id`, when `c` may give or withdraw its consent: its own token, or staff (and
/// managers) of its administration.
fn consentable(ctx: &Context<'_>, id: uuid::Uuid) -> async_graphql::Result<Caller> {
    let c = writer(ctx)?;
    let record = state(ctx).engine.persons().get(id);
    match record {
        Some(p) if c.person == Some(id) || c.may_register_person(&p.ars) => Ok(c.clone()),
        _ => Err(coded(
            "FORBIDDEN",
            "only the person's own token or its administration's staff may change its consent",
        )),
    }
}

/// Gives or withdraws a consent for the caller, when it may.
async fn consent(ctx: &Context<'_>, input: ContactConsentInput, give: bool) -> async_graphql::Result<Person> {
    let id = person_id(&input.person_id)?;
    let c = consentable(ctx, id)?;
    let record = state(ctx)
        .engine
        .set_contact_consent(id, input.service_key.as_deref(), give, &input.reason, &invocation(ctx, &c))
        .await
        .map_err(engine_error)?;
    remember_head(ctx).await;
    Person::of(ctx, record).await
}

#[Object]
impl NetworkMutation {
    /// The person agrees to be named as a contact for a service (or every service) in the
    /// network (`ContactConsentGiven`); `peers` shows it from then on.
    async fn give_contact_consent(
        &self,
        ctx: &Context<'_>,
        input: ContactConsentInput,
    ) -> async_graphql::Result<Person> {
        consent(ctx, input, true).await
    }

    /// The consent is withdrawn (`ContactConsentWithdrawn`), effective at once everywhere.
    async fn withdraw_contact_consent(
        &self,
        ctx: &Context<'_>,
        input: ContactConsentInput,
    ) -> async_graphql::Result<Person> {
        consent(ctx, input, false).await
    }
}

/// A recorded solution of a blockage, as the network shows it to every token.
pub struct SolutionFound(app::solutions::Solved);

/// How a blockage was solved, found by `solutions`.
#[Object]
impl SolutionFound {
    /// Its log position (the `RolloutUnblocked` event).
    async fn position(&self) -> u64 {
        self.0.position
    }
    /// When it was solved (RFC 3339).
    async fn solved_at(&self) -> String {
        self.0.at.to_string()
    }
    /// The service.
    async fn service_key(&self) -> &str {
        &self.0.service_key
    }
    /// The step the blockage held up.
    async fn step_id(&self) -> Option<&str> {
        self.0.solution.block.step.as_deref()
    }
    /// What the blockage was about.
    async fn category(&self) -> Option<crate::mutation::BlockCategory> {
        self.0.solution.block.category.as_deref().and_then(crate::mutation::BlockCategory::of)
    }
    /// The vendor that blocked it.
    async fn vendor(&self) -> Option<&str> {
        self.0.solution.block.vendor.as_deref()
    }
    /// The problem (the block's reason).
    async fn problem(&self) -> &str {
        &self.0.solution.problem
    }
    /// How it was solved.
    async fn solution(&self) -> &str {
        &self.0.solution.text
    }
    /// The administration, when its staff agreed to be named (`shareName`); else null.
    async fn authority(&self, ctx: &Context<'_>) -> Option<Authority> {
        if !self.0.solution.share_name {
            return None;
        }
        state(ctx)
            .engine
            .read_catalog(|c| c.authorities.get(&self.0.ars).map(|a| Authority(a.authority.clone())))
    }
}

/// A page of solutions.
#[derive(SimpleObject)]
pub struct SolutionConnection {
    /// The solutions of this page.
    nodes: Vec<SolutionFound>,
    /// More follow.
    has_next_page: bool,
    /// Pass as `after` for the next page.
    end_cursor: Option<String>,
}

/// How blockages are grouped.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq)]
pub enum BlockageGrouping {
    /// By category.
    Category,
    /// By vendor ("Hersteller X blockiert 40 Kommunen").
    Vendor,
}

/// The blocked rollouts of one category or vendor.
#[derive(SimpleObject)]
pub struct BlockageGroup {
    /// The category's stored name (`fachverfahren`, …) or the vendor; empty: none given.
    key: String,
    /// Blocked rollouts in the group.
    count: u64,
    /// Administrations among them.
    authorities: u64,
    /// The rollouts (`"<serviceKey>:<ars>"`).
    rollout_ids: Vec<ID>,
}

/// The solutions search and the blockages part of the query root.
#[derive(Default, Debug)]
pub struct BlockageQuery;

#[Object]
impl BlockageQuery {
    /// Recorded solutions of blockages across all rollouts, for every signed-in token:
    /// full-text search in German (`query`; "Zertifikate" finds "Zertifikat"), by service and
    /// step; best match first, newest first without a query. The administration is named only
    /// where its staff agreed.
    async fn solutions(
        &self,
        ctx: &Context<'_>,
        service_key: Option<String>,
        step_id: Option<String>,
        query: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<SolutionConnection> {
        crate::state::network_reader(ctx)?;
        let first = crate::state::page_size(first)?;
        let offset = match after.as_deref() {
            None => 0,
            Some(a) => a.parse::<usize>().map_err(|_| {
                coded("BAD_USER_INPUT", format!("`after` {a:?} is not a cursor of `solutions`"))
            })?,
        };
        let search = app::solutions::Search {
            service_key: service_key.as_deref(),
            step: step_id.as_deref(),
            query: query.as_deref(),
        };
        let (found, more) = state(ctx)
            .solutions
            .search(&state(ctx).projector, &**state(ctx).engine.store(), &search, offset, first)
            .await
            .map_err(|e| internal("the solutions search failed", e))?;
        let end = offset + found.len();
        Ok(SolutionConnection {
            nodes: found.into_iter().map(SolutionFound).collect(),
            has_next_page: more,
            end_cursor: Some(end.to_string()),
        })
    }

    /// Blocked rollouts grouped by category or by vendor, largest group first (project
    /// managers, admins, auditors).
    #[graphql(
        complexity = "crate::limits::list_complexity(crate::limits::BLOCKAGE_GROUPS_ITEMS, child_complexity)"
    )]
    async fn blockages(
        &self,
        ctx: &Context<'_>,
        group_by: BlockageGrouping,
    ) -> async_graphql::Result<Vec<BlockageGroup>> {
        crate::state::manager(ctx, "blockages across administrations")?;
        let mut groups: std::collections::BTreeMap<String, (Vec<ID>, std::collections::BTreeSet<String>)> =
            Default::default();
        state(ctx).projector.read(|m| {
            for (_, id) in m.blocked() {
                let Some(r) = m.rollout(id) else { continue };
                let key = match group_by {
                    BlockageGrouping::Category => r.block.category.clone(),
                    BlockageGrouping::Vendor => r.block.vendor.clone(),
                }
                .unwrap_or_default();
                let g = groups.entry(key).or_default();
                g.0.push(ID(id.to_owned()));
                g.1.insert(r.ars.clone());
            }
        });
        let mut out: Vec<BlockageGroup> = groups
            .into_iter()
            .map(|(key, (ids, arss))| BlockageGroup {
                key,
                count: ids.len() as u64,
                authorities: arss.len() as u64,
                rollout_ids: ids,
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
        Ok(out)
    }
}

/// Escalating a group of blockages.
#[derive(InputObject)]
pub struct EscalateBlockagesInput {
    /// The category of the group (with `vendor`: both must match).
    category: Option<crate::mutation::BlockCategory>,
    /// The vendor of the group.
    vendor: Option<String>,
    /// Why, and to whom (kept on each rollout's history; no personal data).
    reason: String,
}

/// The rollouts an escalation was recorded on.
#[derive(SimpleObject)]
pub struct EscalationPayload {
    /// `"<serviceKey>:<ars>"` of each.
    rollout_ids: Vec<ID>,
}

/// The escalation part of the mutation root.
#[derive(Default, Debug)]
pub struct BlockageMutation;

#[Object]
impl BlockageMutation {
    /// Escalate every currently blocked rollout of a category and/or vendor (project managers
    /// and admins): a `BlockageEscalated` event with the reason on each one's history.
    async fn escalate_blockages(
        &self,
        ctx: &Context<'_>,
        input: EscalateBlockagesInput,
    ) -> async_graphql::Result<EscalationPayload> {
        let c = writer(ctx)?;
        if !c.may_escalate_blockages() {
            return Err(coded("FORBIDDEN", "escalating blockages needs a project manager or admin token"));
        }
        if input.category.is_none() && input.vendor.is_none() {
            return Err(coded("BAD_USER_INPUT", "name the group: `category`, `vendor` or both"));
        }
        let category = input.category.map(|k| k.stored().to_owned());
        let targets: Vec<(String, String)> = state(ctx).projector.read(|m| {
            m.blocked()
                .filter_map(|(_, id)| m.rollout(id))
                .filter(|r| category.is_none() || r.block.category == category)
                .filter(|r| input.vendor.is_none() || r.block.vendor == input.vendor)
                .map(|r| (r.service_key.clone(), r.ars.clone()))
                .collect()
        });
        let mut ids = Vec::new();
        for (service, ars) in targets {
            let command = workflow::Command::Escalate {
                reason: input.reason.clone(),
                category: category.clone(),
                vendor: input.vendor.clone(),
            };
            state(ctx)
                .engine
                .execute(&service, &ars, command, &invocation(ctx, c))
                .await
                .map_err(engine_error)?;
            ids.push(ID(format!("{service}:{ars}")));
        }
        remember_head(ctx).await;
        Ok(EscalationPayload { rollout_ids: ids })
    }
}

/// The back-office system an administration uses in a subject area.
#[derive(InputObject)]
pub struct BackOfficeSystemInput {
    /// The administration's ARS.
    ars: String,
    /// The subject area (a service's `subjectArea`).
    area: String,
    /// The product; absent: the administration uses none there any more.
    product: Option<String>,
    /// Its vendor (required with a product).
    vendor: Option<String>,
    /// The version in use.
    version: Option<String>,
}

/// The back-office systems part of the mutation root.
#[derive(Default, Debug)]
pub struct BackOfficeMutation;

#[Object]
impl BackOfficeMutation {
    /// Record the back-office system (Fachverfahren) an administration uses in a subject area
    /// (`BackOfficeSystemSet`; staff of the administration, project managers, admins); `peers`
    /// filters by it.
    async fn set_back_office_system(
        &self,
        ctx: &Context<'_>,
        input: BackOfficeSystemInput,
    ) -> async_graphql::Result<Vec<crate::objects::catalog::BackOfficeSystem>> {
        let c = writer(ctx)?;
        if !c.may_register_person(&input.ars) {
            return Err(coded(
                "FORBIDDEN",
                "only the administration's staff or a manager may record its back-office systems",
            ));
        }
        let system = match (input.product, input.vendor) {
            (None, _) => None,
            (Some(product), Some(vendor)) => {
                Some(catalog::events::BackOfficeSystem { product, vendor, version: input.version })
            }
            (Some(_), None) => return Err(coded("BAD_USER_INPUT", "`vendor` is required with a `product`")),
        };
        let s = state(ctx);
        s.engine
            .set_back_office_system(&input.ars, &input.area, system, &invocation(ctx, c))
            .await
            .map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(crate::objects::catalog::BackOfficeSystem::all_of(&s.engine, &input.ars))
    }
}
