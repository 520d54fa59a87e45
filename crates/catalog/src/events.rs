//! The catalogue as events: one stream per authority (`authority-<ARS>`) and per service
//! (`service-<key>`), and the plan that brings them in line with the data files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use workflow::events::{from_tagged_payload, untagged_payload};

use crate::model::{Authority, DefinitionLevel, DefinitionRef, Service};
use crate::parse::Dataset;

/// Each variant's serde name is its stored type name, an explicit string.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase")]
pub enum CatalogEvent {
    #[serde(rename = "AuthorityRegistered")]
    AuthorityRegistered(Authority),
    /// The full new record and the names of the fields that changed.
    #[serde(rename = "AuthorityChanged")]
    AuthorityChanged { authority: Authority, changed: Vec<String> },
    /// A territorial change dissolved the authority; its tasks went to `successors`.
    #[serde(rename = "AuthorityDissolved")]
    AuthorityDissolved { successors: Vec<String>, note: String },
    #[serde(rename = "ServiceRegistered")]
    ServiceRegistered(Service),
    #[serde(rename = "ServiceChanged")]
    ServiceChanged { service: Service, changed: Vec<String> },
    /// A project manager gave the service another definition for new rollouts of `level`.
    #[serde(rename = "ServiceDefinitionSet")]
    ServiceDefinitionSet { level: DefinitionLevel, definition: DefinitionRef, reason: String },
    /// The administration's staff recorded the back-office system (Fachverfahren) it uses in a
    /// subject area (a service's `themenfeld`); `system: None` removes it.
    #[serde(rename = "BackOfficeSystemSet")]
    BackOfficeSystemSet { area: String, system: Option<BackOfficeSystem> },
}

/// A back-office system (Fachverfahren): product, vendor, version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackOfficeSystem {
    pub product: String,
    pub vendor: String,
    #[serde(default)]
    pub version: Option<String>,
}

impl CatalogEvent {
    /// Every stored type name and its schema version (a test holds them to
    /// `schema/event-types.txt`).
    pub const STORED_TYPES: &'static [(&'static str, u32)] = &[
        ("AuthorityRegistered", 1),
        ("AuthorityChanged", 1),
        ("AuthorityDissolved", 1),
        ("ServiceRegistered", 1),
        ("ServiceChanged", 1),
        ("ServiceDefinitionSet", 1),
        (vocab::names::BACK_OFFICE_SYSTEM_SET, 1),
    ];

    /// The stored type name and schema version.
    pub fn stored_type(&self) -> (&'static str, u32) {
        let i = match self {
            CatalogEvent::AuthorityRegistered(_) => 0,
            CatalogEvent::AuthorityChanged { .. } => 1,
            CatalogEvent::AuthorityDissolved { .. } => 2,
            CatalogEvent::ServiceRegistered(_) => 3,
            CatalogEvent::ServiceChanged { .. } => 4,
            CatalogEvent::ServiceDefinitionSet { .. } => 5,
            CatalogEvent::BackOfficeSystemSet { .. } => 6,
        };
        Self::STORED_TYPES[i]
    }

    pub fn to_payload(&self) -> serde_json::Value {
        untagged_payload(self)
    }

    /// `None` when the type is not a catalogue event.
    pub fn from_stored(
        event_type: &str,
        schema_version: u32,
        payload: &str,
    ) -> Option<Result<CatalogEvent, String>> {
        Self::STORED_TYPES.iter().find(|(name, _)| *name == event_type)?;
        Some(from_tagged_payload(event_type, event_type, schema_version, payload))
    }
}

/// The prefixes of the catalogue's streams: `authority-<ARS>` and `service-<key>`.
pub use vocab::names::AUTHORITY_STREAM_PREFIX;
pub use vocab::names::SERVICE_STREAM_PREFIX;

pub fn authority_stream(ars: &str) -> String {
    format!("{AUTHORITY_STREAM_PREFIX}{ars}")
}

pub fn service_stream(key: &str) -> String {
    format!("{SERVICE_STREAM_PREFIX}{key}")
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuthorityEntry {
    pub authority: Authority,
    pub version: u64,
    /// Successors and note, once dissolved.
    pub dissolved: Option<(Vec<String>, String)>,
    /// The back-office systems it uses, by subject area.
    #[serde(default)]
    pub back_office: BTreeMap<String, BackOfficeSystem>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceEntry {
    pub service: Service,
    pub version: u64,
}

/// The catalogue folded from its events. Small (hundreds of entries per state): it is held in
/// memory whole.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub authorities: BTreeMap<String, AuthorityEntry>,
    pub services: BTreeMap<String, ServiceEntry>,
}

impl Catalog {
    /// The programme of a service (EfA for one the catalogue does not know).
    pub fn program_of(&self, service_key: &str) -> crate::Program {
        self.services.get(service_key).map(|s| s.service.program).unwrap_or_default()
    }

    /// The ARS of the Land itself: the administration of kind `land` (its key `XX0000000000`
    /// sorts first among the Land's, so the search ends at once).
    pub fn land_ars(&self) -> Option<String> {
        self.authorities
            .values()
            .find(|e| e.authority.kind == crate::AuthorityKind::Land)
            .map(|e| e.authority.ars.clone())
    }

    /// The key of the association that owns the form server's model rollouts: the
    /// administration of kind `zweckverband` (its key `XX9990000000` sorts last).
    pub fn association_ars(&self) -> Option<String> {
        self.authorities
            .values()
            .rev()
            .find(|e| e.authority.kind == crate::AuthorityKind::Zweckverband)
            .map(|e| e.authority.ars.clone())
    }

    /// Who owns the central rollout of a programme's services (the one the others wait on):
    /// the Land for EfA, the association for the form server; empty when the catalogue has
    /// no such administration.
    pub fn central_ars(&self, program: crate::Program) -> String {
        match program {
            crate::Program::Efa => self.land_ars(),
            crate::Program::Formularserver => self.association_ars(),
        }
        .unwrap_or_default()
    }

    /// Who owns the central rollout of `service_key`.
    pub fn central_of(&self, service_key: &str) -> String {
        self.central_ars(self.program_of(service_key))
    }

    /// Applies the event at `version` of `stream_id` unless the catalogue has it already (a
    /// process that follows the log meets its own appends again).
    pub fn apply_at(&mut self, stream_id: &str, version: u64, event: &CatalogEvent) {
        let known = if let Some(ars) = stream_id.strip_prefix(AUTHORITY_STREAM_PREFIX) {
            self.authorities.get(ars).map(|e| e.version)
        } else if let Some(key) = stream_id.strip_prefix(SERVICE_STREAM_PREFIX) {
            self.services.get(key).map(|e| e.version)
        } else {
            return;
        };
        if known.unwrap_or(0) < version {
            self.apply(stream_id, event);
        }
    }

    /// Applies one event of `stream_id`.
    pub fn apply(&mut self, stream_id: &str, event: &CatalogEvent) {
        match event {
            CatalogEvent::AuthorityRegistered(a) => {
                self.authorities.insert(
                    a.ars.clone(),
                    AuthorityEntry {
                        authority: a.clone(),
                        version: 1,
                        dissolved: None,
                        back_office: BTreeMap::new(),
                    },
                );
            }
            CatalogEvent::AuthorityChanged { authority, .. } => {
                if let Some(e) = self.authorities.get_mut(&authority.ars) {
                    e.authority = authority.clone();
                    e.version += 1;
                }
            }
            CatalogEvent::AuthorityDissolved { successors, note } => {
                let ars = stream_id.strip_prefix(AUTHORITY_STREAM_PREFIX).unwrap_or(stream_id);
                if let Some(e) = self.authorities.get_mut(ars) {
                    e.dissolved = Some((successors.clone(), note.clone()));
                    e.version += 1;
                }
            }
            CatalogEvent::BackOfficeSystemSet { area, system } => {
                let ars = stream_id.strip_prefix(AUTHORITY_STREAM_PREFIX).unwrap_or(stream_id);
                if let Some(e) = self.authorities.get_mut(ars) {
                    match system {
                        Some(s) => e.back_office.insert(area.clone(), s.clone()),
                        None => e.back_office.remove(area),
                    };
                    e.version += 1;
                }
            }
            CatalogEvent::ServiceRegistered(s) => {
                self.services.insert(s.key.clone(), ServiceEntry { service: s.clone(), version: 1 });
            }
            CatalogEvent::ServiceChanged { service, .. } => {
                if let Some(e) = self.services.get_mut(&service.key) {
                    e.service = service.clone();
                    e.version += 1;
                }
            }
            CatalogEvent::ServiceDefinitionSet { level, definition, .. } => {
                let key = stream_id.strip_prefix(SERVICE_STREAM_PREFIX).unwrap_or(stream_id);
                if let Some(e) = self.services.get_mut(key) {
                    match level {
                        DefinitionLevel::Authority => e.service.definition = definition.clone(),
                        DefinitionLevel::Land => e.service.land_definition = definition.clone(),
                    }
                    e.version += 1;
                }
            }
        }
    }

    /// Authorities that are not dissolved.
    pub fn active_authorities(&self) -> impl Iterator<Item = &Authority> {
        self.authorities.values().filter(|e| e.dissolved.is_none()).map(|e| &e.authority)
    }
}

/// Events for one stream, to append at `expected_version`.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub stream_id: String,
    pub expected_version: u64,
    pub events: Vec<CatalogEvent>,
}

fn changed_fields<T: Serialize>(old: &T, new: &T) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return vec!["*".into()];
    };
    b.iter().filter(|(k, v)| a.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect()
}

/// What to append so that the catalogue says what the files say: new entries are registered,
/// changed ones get one change event each, dissolutions are recorded once. Importing the same
/// files again plans nothing.
pub fn plan_import(catalog: &Catalog, data: &Dataset) -> Vec<Planned> {
    let mut out = Vec::new();
    for a in &data.authorities {
        match catalog.authorities.get(&a.ars) {
            None => out.push(Planned {
                stream_id: authority_stream(&a.ars),
                expected_version: 0,
                events: vec![CatalogEvent::AuthorityRegistered(a.clone())],
            }),
            Some(e) if e.authority != *a => out.push(Planned {
                stream_id: authority_stream(&a.ars),
                expected_version: e.version,
                events: vec![CatalogEvent::AuthorityChanged {
                    authority: a.clone(),
                    changed: changed_fields(&e.authority, a),
                }],
            }),
            Some(_) => {}
        }
    }
    for s in &data.services {
        match catalog.services.get(&s.key) {
            None => out.push(Planned {
                stream_id: service_stream(&s.key),
                expected_version: 0,
                events: vec![CatalogEvent::ServiceRegistered(s.clone())],
            }),
            Some(e) => {
                // The files give a new service its definitions; after that they are the
                // project managers' (`ServiceDefinitionSet`), and an import keeps them.
                let s = Service {
                    definition: e.service.definition.clone(),
                    land_definition: e.service.land_definition.clone(),
                    ..s.clone()
                };
                if e.service != s {
                    out.push(Planned {
                        stream_id: service_stream(&s.key),
                        expected_version: e.version,
                        events: vec![CatalogEvent::ServiceChanged {
                            changed: changed_fields(&e.service, &s),
                            service: s,
                        }],
                    })
                }
            }
        }
    }
    for d in &data.dissolutions {
        let dissolve =
            CatalogEvent::AuthorityDissolved { successors: d.successors.clone(), note: d.note.clone() };
        match catalog.authorities.get(&d.authority.ars) {
            None => out.push(Planned {
                stream_id: authority_stream(&d.authority.ars),
                expected_version: 0,
                events: vec![CatalogEvent::AuthorityRegistered(d.authority.clone()), dissolve],
            }),
            Some(e) if e.dissolved.is_none() => out.push(Planned {
                stream_id: authority_stream(&d.authority.ars),
                expected_version: e.version,
                events: vec![dissolve],
            }),
            Some(_) => {}
        }
    }
    out
}
