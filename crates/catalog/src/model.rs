//! Administrations and services as the catalogue knows them. These structs are the payloads of
//! the catalogue's events, so they serialize (camelCase).

use serde::{Deserialize, Serialize};

/// The programme a service belongs to.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Program {
    /// Reuse of an EfA online service ("Einer für Alle"); its central rollout is the Land's.
    #[default]
    Efa,
    /// An online application assistant on the Land's form server, built by the Land's municipal
    /// IT association as a model and set up for each member; its central rollout is the model's,
    /// owned by the association.
    Formularserver,
}

impl Program {
    pub fn name(self) -> &'static str {
        match self {
            Program::Efa => "efa",
            Program::Formularserver => "formularserver",
        }
    }
}

/// The kind of a kommunaler Verwaltungsträger (and the Land).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorityKind {
    Landkreis,
    KreisfreieStadt,
    Amt,
    Verbandsgemeinde,
    MitverwaltendeGemeinde,
    AmtsfreieGemeinde,
    Land,
    /// The municipal IT association (owner of the form server's model rollouts).
    Zweckverband,
}

impl AuthorityKind {
    pub const ALL: [AuthorityKind; 8] = [
        AuthorityKind::Landkreis,
        AuthorityKind::KreisfreieStadt,
        AuthorityKind::Amt,
        AuthorityKind::Verbandsgemeinde,
        AuthorityKind::MitverwaltendeGemeinde,
        AuthorityKind::AmtsfreieGemeinde,
        AuthorityKind::Land,
        AuthorityKind::Zweckverband,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AuthorityKind::Landkreis => "landkreis",
            AuthorityKind::KreisfreieStadt => "kreisfreie_stadt",
            AuthorityKind::Amt => "amt",
            AuthorityKind::Verbandsgemeinde => "verbandsgemeinde",
            AuthorityKind::MitverwaltendeGemeinde => "mitverwaltende_gemeinde",
            AuthorityKind::AmtsfreieGemeinde => "amtsfreie_gemeinde",
            AuthorityKind::Land => "land",
            AuthorityKind::Zweckverband => "zweckverband",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A municipality (Gemeinde) that belongs to an authority.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub ags: String,
    pub name: String,
    pub population: u64,
}

/// A kommunaler Verwaltungsträger (or the Land).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authority {
    pub ars: String,
    pub kind: AuthorityKind,
    /// Display name ("Amt Gartz (Oder)", "Landkreis Uckermark").
    pub name: String,
    /// Official name as in GV100AD.
    pub official_name: String,
    /// The Landkreis it belongs to; none for Landkreise, kreisfreie Städte and the Land.
    pub landkreis_ars: Option<String>,
    pub seat: String,
    pub population: u64,
    pub members: Vec<Member>,
    /// A member of the association: the form server's assistants are set up for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub association_member: bool,
    /// A Große or Mittlere kreisangehörige Stadt (from the statuses file, with its source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<crate::reuse::TownStatus>,
}

/// Which level of administration is responsible for a service in the Land.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Land,
    LandkreisKfs,
    GemeindeAmt,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Land => "land",
            Level::LandkreisKfs => "landkreis_kfs",
            Level::GemeindeAmt => "gemeinde_amt",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Level::Land, Level::LandkreisKfs, Level::GemeindeAmt].into_iter().find(|l| l.name() == name)
    }
}

/// An online service that administrations are connected to.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub key: String,
    pub name: String,
    pub ozg_id: Option<u32>,
    pub leika_keys: Vec<String>,
    pub subject_area: String,
    /// The state that built the EfA service, where known.
    pub providing_state: Option<String>,
    pub responsible_level: Level,
    pub fee_based: bool,
    /// EfA or the form server (stores written before there were two read EfA).
    #[serde(default, skip_serializing_if = "is_efa")]
    pub program: Program,
    /// The definition an administration's rollout of this service starts on (pinned: id and
    /// version). Stores written before services named one read the bundled default.
    #[serde(default = "DefinitionRef::authority_default")]
    pub definition: DefinitionRef,
    /// The definition the service's Land-level rollout starts on.
    #[serde(default = "DefinitionRef::land_default")]
    pub land_definition: DefinitionRef,
}

fn is_efa(p: &Program) -> bool {
    *p == Program::Efa
}

/// A workflow definition by id and version, as a service names it: `efa-onboarding@1`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct DefinitionRef {
    pub id: String,
    pub version: u32,
}

impl DefinitionRef {
    pub fn new(id: impl Into<String>, version: u32) -> DefinitionRef {
        DefinitionRef { id: id.into(), version }
    }

    /// `efa-onboarding@1`: what an administration's rollout starts on unless its service says
    /// otherwise.
    pub fn authority_default() -> DefinitionRef {
        DefinitionRef::new("efa-onboarding", 1)
    }

    /// `efa-land@1`: what a Land-level rollout starts on unless its service says otherwise.
    pub fn land_default() -> DefinitionRef {
        DefinitionRef::new("efa-land", 1)
    }

    /// Reads `id@version`.
    pub fn parse(text: &str) -> Result<DefinitionRef, String> {
        let (id, version) = text
            .split_once('@')
            .ok_or_else(|| format!("`{text}` is not `<definition id>@<version>`, e.g. `efa-onboarding@1`"))?;
        let version: u32 = version
            .parse()
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| format!("`{text}`: the version after `@` must be a whole number from 1"))?;
        if id.is_empty()
            || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(format!("`{text}`: a definition id is lowercase letters, digits, `-` and `_`"));
        }
        Ok(DefinitionRef::new(id, version))
    }
}

impl std::fmt::Display for DefinitionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.id, self.version)
    }
}

/// Which of a service's two definitions: an administration's rollouts or the Land's.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefinitionLevel {
    Authority,
    Land,
}

/// An authority dissolved by a territorial change, and where its tasks went.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dissolution {
    pub authority: Authority,
    pub successors: Vec<String>,
    pub note: String,
}

/// Whether the rollout of `service` applies to `authority`, by the service's responsible level.
pub fn applies(service: &Service, authority: &Authority) -> bool {
    use AuthorityKind::*;
    // The form server's assistants are set up for the association's members (a project manager may
    // start one elsewhere too).
    if service.program == Program::Formularserver && !authority.association_member {
        return false;
    }
    match service.responsible_level {
        Level::Land => authority.kind == Land,
        Level::LandkreisKfs => matches!(authority.kind, Landkreis | KreisfreieStadt),
        Level::GemeindeAmt => {
            matches!(
                authority.kind,
                KreisfreieStadt | Amt | Verbandsgemeinde | MitverwaltendeGemeinde | AmtsfreieGemeinde
            )
        }
    }
}

/// The ARS of a member municipality of `authority` (its Verband's nine digits and the
/// municipality's three).
pub fn member_ars(authority: &Authority, member: &Member) -> String {
    format!("{}{}", &authority.ars[..9.min(authority.ars.len())], member.ags.get(5..).unwrap_or(""))
}

/// The facts the workflow conditions see for this authority and service.
pub fn facts(authority: &Authority, service: &Service) -> workflow::Facts {
    use workflow::condition::Value;
    let mut f = workflow::Facts::default();
    f.set("authority.kind", Value::Text(authority.kind.name().into()))
        .set("authority.ars", Value::Text(authority.ars.clone()))
        .set("authority.landkreis_ars", Value::Text(authority.landkreis_ars.clone().unwrap_or_default()))
        .set("authority.population", Value::Number(authority.population as f64))
        .set("authority.member_count", Value::Number(authority.members.len() as f64))
        .set("service.key", Value::Text(service.key.clone()))
        .set("service.fee_based", Value::Bool(service.fee_based))
        .set("service.responsible_level", Value::Text(service.responsible_level.name().into()))
        .set("service.providing_state", Value::Text(service.providing_state.clone().unwrap_or_default()));
    f
}

/// Checks that an ARS is 12 digits and fits the kind of authority.
pub fn check_ars(ars: &str, kind: AuthorityKind) -> Result<(), String> {
    if ars.len() != 12 || !ars.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("ARS `{ars}` must have 12 digits"));
    }
    let (kreis, verband, gemeinde) = (&ars[5..], &ars[5..9], &ars[9..]);
    let ok = match kind {
        AuthorityKind::Land => ars[2..].bytes().all(|b| b == b'0'),
        // An association has no ARS; its key is ARS-shaped with Kreis 999, which no Kreis has.
        AuthorityKind::Zweckverband => &ars[2..5] == "999" && ars[5..].bytes().all(|b| b == b'0'),
        AuthorityKind::Landkreis | AuthorityKind::KreisfreieStadt => {
            kreis == "0000000" && &ars[2..5] != "000"
        }
        AuthorityKind::Amt | AuthorityKind::Verbandsgemeinde | AuthorityKind::MitverwaltendeGemeinde => {
            verband != "0000" && gemeinde == "000"
        }
        AuthorityKind::AmtsfreieGemeinde => verband != "0000" && gemeinde != "000",
    };
    if ok {
        Ok(())
    } else {
        Err(format!("ARS `{ars}` does not fit a {} (see the ARS layout in data/SOURCES.md)", kind.name()))
    }
}

/// Checks a LeiKa key: 14 digits starting with 99.
pub fn check_leika(key: &str) -> Result<(), String> {
    if key.len() == 14 && key.starts_with("99") && key.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("LeiKa key `{key}` must be 14 digits starting with 99"))
    }
}
