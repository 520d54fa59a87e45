#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! Workflow definitions as the API shows them: phases, steps, evidence fields.

use async_graphql::{Context, Object, SimpleObject};
use workflow::registry::Entry;

use crate::objects::catalog::Service;
use crate::objects::event::ActorInfo;
use crate::state::state;

/// A workflow definition with its exact text.
pub struct Definition {
    pub(crate) entry: Entry,
    /// `entry.definition`, for short.
    pub(crate) d: std::sync::Arc<workflow::Definition>,
}

impl Definition {
    pub(crate) fn new(entry: Entry) -> Definition {
        Definition { d: entry.definition.clone(), entry }
    }
}

/// A workflow definition: its phases and steps, its exact text, and who published it when.
/// A definition's text never changes under its id and version.
#[Object]
impl Definition {
    /// Its id.
    async fn id(&self) -> &str {
        &self.d.id
    }
    /// Its version.
    async fn version(&self) -> u32 {
        self.d.version
    }
    /// Its title.
    async fn title(&self) -> &str {
        &self.d.title
    }
    /// Its description.
    async fn description(&self) -> &str {
        &self.d.description
    }
    /// `authority` or `land`.
    async fn scope(&self) -> &str {
        self.d.scope.name()
    }
    /// For an authority definition: the Land-level definition its `land:` dependencies name.
    async fn land_definition(&self) -> Option<&str> {
        self.d.land_definition.as_deref()
    }
    /// Content hash the rollouts are pinned to (BLAKE3 of `source`).
    async fn content_hash(&self) -> &str {
        &self.d.content_hash
    }
    /// The exact text (TOML) as published.
    #[graphql(complexity = "crate::limits::DEFINITION_SOURCE_COST")]
    async fn source(&self) -> &str {
        &self.entry.source
    }
    /// Shipped with this server's binary (`workflows/`).
    async fn bundled(&self) -> bool {
        self.entry.bundled
    }
    /// When it was published into the log (RFC 3339); null for a bundled text the log has no
    /// publication of (a store written before definitions were events).
    async fn published_at(&self) -> Option<String> {
        self.entry.publication.as_ref().map(|p| p.at.to_string())
    }
    /// Who published it.
    async fn published_by(&self) -> Option<ActorInfo> {
        self.entry.publication.as_ref().map(|p| ActorInfo::of(&p.actor))
    }
    /// Why it was published.
    async fn reason(&self) -> Option<&str> {
        self.entry.publication.as_ref().map(|p| p.reason.as_str())
    }
    /// The services whose new rollouts start on it (at the administrations or at the Land).
    #[graphql(complexity = "crate::limits::list_complexity(crate::limits::SERVICES_ITEMS, child_complexity)")]
    async fn used_by(&self, ctx: &Context<'_>) -> Vec<Service> {
        let catalog = state(ctx).engine.catalog();
        catalog
            .services
            .into_values()
            .map(|e| e.service)
            .filter(|s| {
                [&s.definition, &s.land_definition]
                    .iter()
                    .any(|r| r.id == self.d.id && r.version == self.d.version)
            })
            .map(Service)
            .collect()
    }
    /// Its phases with their steps.
    async fn phases(&self) -> Vec<DefinitionPhase> {
        self.d
            .phases
            .iter()
            .map(|ph| DefinitionPhase {
                id: ph.id.clone(),
                title: ph.title.clone(),
                steps: self.d.steps[ph.steps.clone()]
                    .iter()
                    .map(|st| DefinitionStep {
                        id: st.id.clone(),
                        title: st.title.clone(),
                        description: st.description.clone(),
                        roles: st.roles.iter().map(|r| r.name().to_owned()).collect(),
                        depends_on: st
                            .depends_on
                            .iter()
                            .map(|&d| self.d.steps[d].id.clone())
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
                                labels: match &f.ty {
                                    workflow::FieldType::Enumeration(v) => {
                                        v.iter().map(|value| f.value_label(value).to_owned()).collect()
                                    }
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
    /// For `enum`: what each value is called (in the order of `values`; the value itself where
    /// the definition names none).
    labels: Vec<String>,
    /// For `leika`, `ars` and `uuid`: a regular expression valid values match as a whole (the
    /// HTML `pattern` dialect), for forms to check before sending. The server checks regardless.
    pattern: Option<String>,
    /// For `text` and `document`: characters at most.
    max_length: Option<u32>,
}

/// A definition by id and version, as a service names it (pinned, not "the latest").
pub struct DefinitionRef(pub(crate) catalog::DefinitionRef);

/// A definition by id and version, as a service names it (pinned, not "the latest").
#[Object]
impl DefinitionRef {
    /// The definition's id.
    async fn id(&self) -> &str {
        &self.0.id
    }
    /// Its version.
    async fn version(&self) -> u32 {
        self.0.version
    }
    /// The definition itself; null while this server does not know it.
    async fn definition(&self, ctx: &Context<'_>) -> Option<Definition> {
        state(ctx).engine.registry().entry(&self.0.id, self.0.version).map(Definition::new)
    }
}
