#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! The OZG network: who is how far with a service (`peers`), and the contact persons who agreed
//! to be named for it (`giveContactConsent`, `withdrawContactConsent`). A peer shows the
//! administration, its phase and status, when it completed a step, and consented contacts —
//! never evidence, comments, questions or anything else of its rollout; `rollout`, `rollouts`,
//! `events` and the subscriptions keep their scopes.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};

use crate::objects::catalog::Authority;
use crate::objects::person::Person;
use crate::state::{caller, coded, engine_error, internal, state, writer};
use crate::state::{invocation, person_id, remember_head};
use app::Caller;

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
        let query = app::network::PeerQuery {
            service_key: &service_key,
            step_id: step_id.as_deref(),
            product: product.as_deref(),
        };
        let found = app::network::peers(&s.engine, &s.projector, &s.centres, c, query).await.map_err(
            |e| match e {
                app::network::PeersError::NoSuchStep { .. } => coded("BAD_USER_INPUT", e.to_string()),
                app::network::PeersError::Engine(e) => engine_error(e),
            },
        )?;
        let peers = found
            .into_iter()
            .map(|p| Peer {
                authority: Authority(p.authority),
                phase: p.phase,
                status: p.status.name().to_owned(),
                in_operation: p.in_operation,
                completed_at: p.completed_at.map(|t| t.to_string()),
                same_landkreis: p.same_landkreis,
                distance_km: p.distance_km,
                contacts: p
                    .contacts
                    .into_iter()
                    .map(|d| NetworkContact {
                        id: ID(d.id.to_string()),
                        name: d.name,
                        function: d.function,
                        email: d.email,
                        phone: d.phone,
                    })
                    .collect(),
                back_office: p
                    .back_office
                    .map(|(area, b)| crate::objects::catalog::BackOfficeSystem::of(&area, &b)),
            })
            .collect();
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
    async fn category(&self) -> Option<crate::objects::rollout::BlockCategory> {
        self.0.solution.block.category.as_deref().and_then(crate::objects::rollout::BlockCategory::of)
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
        let c = crate::state::manager(ctx, "blockages across administrations")?;
        let by = match group_by {
            BlockageGrouping::Category => app::network::Grouping::Category,
            BlockageGrouping::Vendor => app::network::Grouping::Vendor,
        };
        let out = app::network::blockage_groups(&state(ctx).projector, c, by)
            .into_iter()
            .map(|g| BlockageGroup {
                key: g.key,
                count: g.rollout_ids.len() as u64,
                authorities: g.authorities,
                rollout_ids: g.rollout_ids.into_iter().map(ID).collect(),
            })
            .collect();
        Ok(out)
    }
}

/// Escalating a group of blockages.
#[derive(InputObject)]
pub struct EscalateBlockagesInput {
    /// The category of the group (with `vendor`: both must match).
    category: Option<crate::objects::rollout::BlockCategory>,
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
        let group = engine::escalation::BlockageGroup {
            category: input.category.map(|k| k.stored().to_owned()),
            vendor: input.vendor.clone(),
        };
        let s = state(ctx);
        let targets = app::network::blocked_in_group(&s.projector, c, &group);
        let escalated = s
            .engine
            .escalate_blockages(&targets, &group, &input.reason, &invocation(ctx, c))
            .await
            .map_err(engine_error)?;
        remember_head(ctx).await;
        let ids = escalated.into_iter().map(|(service, ars)| ID(format!("{service}:{ars}"))).collect();
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
