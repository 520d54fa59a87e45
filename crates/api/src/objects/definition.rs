#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! Workflow definitions as the API shows them: phases, steps, evidence fields.

use async_graphql::{Object, SimpleObject};

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
