#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! The catalogue as the API shows it: administrations and services, and their pages.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use crate::connection::{connection, paginate};
use crate::limits::page_complexity;
use crate::objects::rollout::{rollouts_page, RolloutConnection, RolloutFilter};
use crate::state::{caller, page_size, state};
use app::Caller;

/// An administration.
pub struct Authority(pub(crate) catalog::Authority);

/// A back-office system (Fachverfahren) an administration uses in a subject area.
#[derive(SimpleObject, Clone)]
pub struct BackOfficeSystem {
    /// The subject area (a service's `subjectArea`, e.g. "Arbeit & Ruhestand").
    area: String,
    /// The product.
    product: String,
    /// Its vendor.
    vendor: String,
    /// The version in use.
    version: Option<String>,
}

impl BackOfficeSystem {
    /// Every back-office system of the administration `ars`, by area.
    pub(crate) fn all_of(engine: &engine::Engine, ars: &str) -> Vec<BackOfficeSystem> {
        engine.read_catalog(|c| {
            c.authorities
                .get(ars)
                .map(|e| e.back_office.iter().map(|(area, s)| BackOfficeSystem::of(area, s)).collect())
                .unwrap_or_default()
        })
    }

    pub(crate) fn of(area: &str, s: &catalog::events::BackOfficeSystem) -> BackOfficeSystem {
        BackOfficeSystem {
            area: area.to_owned(),
            product: s.product.clone(),
            vendor: s.vendor.clone(),
            version: s.version.clone(),
        }
    }
}

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
    /// The name as people say and write it: "Stadt Bernau bei Berlin", "Amt Peitz",
    /// "Landkreis Barnim" (the kind in front; lists sort by the place after it).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The name in the official register (Destatis GV100AD): "Bernau bei Berlin, Stadt".
    async fn official_name(&self) -> &str {
        &self.0.official_name
    }
    /// `landkreis`, `kreisfreie_stadt`, `amt`, `verbandsgemeinde`, `mitverwaltende_gemeinde`, `amtsfreie_gemeinde`, `land`.
    async fn kind(&self) -> &str {
        self.0.kind.name()
    }
    /// Inhabitants (31.12.2024).
    async fn population(&self) -> u64 {
        self.0.population
    }
    /// `grosse_kreisangehoerige_stadt` or `mittlere_kreisangehoerige_stadt` for a town that
    /// carries tasks of its Landkreis itself (from the catalogue's statuses file, with its
    /// source); null otherwise.
    async fn status(&self) -> Option<&str> {
        self.0.status.map(|s| s.name())
    }
    /// Names of its member municipalities.
    async fn members(&self) -> Vec<String> {
        self.0.members.iter().map(|m| m.name.clone()).collect()
    }
    /// The Landkreis it belongs to.
    async fn landkreis(&self, ctx: &Context<'_>) -> Option<LandkreisRef> {
        let lk = self.0.landkreis_ars.clone()?;
        let name = state(ctx)
            .projector
            .read(|m| m.catalog.authorities.get(&lk).map(|a| a.authority.name.clone()))
            .unwrap_or_default();
        Some(LandkreisRef { ars: lk, name })
    }
    /// The back-office systems (Fachverfahren) it uses, by subject area, as its staff recorded
    /// them (`setBackOfficeSystem`).
    async fn back_office_systems(&self, ctx: &Context<'_>) -> Vec<BackOfficeSystem> {
        BackOfficeSystem::all_of(&state(ctx).engine, &self.0.ars)
    }
    /// Its rollouts (within the token's scope).
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn rollouts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<RolloutConnection> {
        let c = caller(ctx)?;
        let filter = RolloutFilter { ars: Some(self.0.ars.clone()), ..Default::default() };
        Ok(rollouts_page(ctx, c, &filter, page_size(first)?, after.as_deref()))
    }
}

/// The programme a service belongs to.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "Program")]
pub enum ProgramName {
    /// Reuse of an EfA online service; its central rollout is the Land's.
    Efa,
    /// An online application assistant on the Land's form server: the association's model rollout,
    /// then one rollout per member municipality.
    Formularserver,
}

impl ProgramName {
    pub(crate) fn program(self) -> catalog::Program {
        match self {
            ProgramName::Efa => catalog::Program::Efa,
            ProgramName::Formularserver => catalog::Program::Formularserver,
        }
    }

    pub(crate) fn of(p: catalog::Program) -> ProgramName {
        match p {
            catalog::Program::Efa => ProgramName::Efa,
            catalog::Program::Formularserver => ProgramName::Formularserver,
        }
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
    /// EfA or the form server.
    async fn program(&self) -> ProgramName {
        ProgramName::of(self.0.program)
    }
    /// Who owns its central rollout, which the others wait on: the Land (the administration
    /// of kind `land`) for EfA, the association (kind `zweckverband`) for a form-server
    /// assistant.
    async fn central_ars(&self, ctx: &Context<'_>) -> String {
        crate::state::state(ctx).engine.central_ars(&self.0.key)
    }
    /// The definition its administrations' new rollouts start on (`setServiceDefinition`
    /// changes it; running rollouts keep theirs until migrated).
    async fn definition(&self) -> crate::objects::definition::DefinitionRef {
        crate::objects::definition::DefinitionRef(self.0.definition.clone())
    }
    /// The definition its new Land-level rollout starts on.
    async fn land_definition(&self) -> crate::objects::definition::DefinitionRef {
        crate::objects::definition::DefinitionRef(self.0.land_definition.clone())
    }
    /// Its rollouts (within the token's scope).
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn rollouts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<RolloutConnection> {
        let c = caller(ctx)?;
        let filter = RolloutFilter { service_key: Some(self.0.key.clone()), ..Default::default() };
        Ok(rollouts_page(ctx, c, &filter, page_size(first)?, after.as_deref()))
    }
}

connection!(
    AuthorityConnection,
    AuthorityEdge,
    Authority,
    "A page of administrations, ordered by ARS.",
    "An administration and its cursor (its ARS).",
    "The ARS.",
    "The administration.",
    total: "All matching."
);

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
    c: &Caller,
    filter: &AuthorityFilter,
    first: usize,
    after: Option<&str>,
) -> AuthorityConnection {
    let needle = filter.name_contains.as_ref().map(|n| n.to_lowercase());
    state(ctx).projector.read(|m| {
        let matching: Vec<&catalog::Authority> = m
            .catalog
            .active_authorities()
            .filter(|a| c.may_read_authority(&a.ars))
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

connection!(
    ServiceConnection,
    ServiceEdge,
    Service,
    "A page of services, ordered by key.",
    "A service and its cursor (its key).",
    "The key.",
    "The service.",
    total: "All matching."
);

/// Which services.
#[derive(InputObject, Default)]
pub struct ServiceFilter {
    /// Only this programme.
    program: Option<ProgramName>,
    /// Only this responsible level: `land`, `landkreis_kfs`, `gemeinde_amt`.
    responsible_level: Option<String>,
    /// Name contains this text (case-insensitive).
    name_contains: Option<String>,
}

pub(crate) fn services_page(
    ctx: &Context<'_>,
    c: &Caller,
    filter: &ServiceFilter,
    first: usize,
    after: Option<&str>,
) -> ServiceConnection {
    let needle = filter.name_contains.as_ref().map(|n| n.to_lowercase());
    state(ctx).projector.read(|m| {
        let matching: Vec<&catalog::Service> = m
            .catalog
            .services
            .values()
            .map(|e| &e.service)
            .filter(|s| c.may_read_service(&s.key))
            .filter(|s| filter.program.is_none_or(|p| p.program() == s.program))
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

/// The Land's profile: who the central parties are and what the report is called.
pub struct LandProfile(pub(crate) std::sync::Arc<catalog::profile::StoredProfile>);

/// The Land's profile: who the central parties are and what the report is called.
#[Object]
impl LandProfile {
    /// The profile's key (`brandenburg`).
    async fn key(&self) -> &str {
        &self.0.key
    }
    /// The Land's name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The Land's own key (ARS), the owner of the EfA services' central rollouts.
    async fn land_ars(&self) -> &str {
        &self.0.land_ars
    }
    /// The key of the association that owns the form server's model rollouts, if the Land has one.
    async fn association_ars(&self) -> Option<&str> {
        self.0.association.as_ref().map(|(ars, _)| ars.as_str())
    }
    /// The association's short name, if the Land has one.
    async fn association_name(&self) -> Option<&str> {
        self.0.association.as_ref().map(|(_, name)| name.as_str())
    }
    /// The programme report's title.
    async fn report_title(&self) -> &str {
        &self.0.report_title
    }
    /// The map layers' source and licence (shown under the map).
    async fn map_attribution(&self) -> &str {
        &self.0.map_attribution
    }
}
