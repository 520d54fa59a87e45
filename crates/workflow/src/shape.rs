//! What a workflow definition is once checked: its scope, roles, phases, steps and evidence
//! fields, a problem's diagnostic with its position, and the keys the file format knows.

use std::ops::Range;

use crate::condition::Condition;
use crate::duration::Deadline;
use crate::evidence::FieldType;

/// What a definition's instances are: one per administration and service, or one per service
/// at the Land level.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    Authority,
    Land,
}

impl Scope {
    /// The name the definition file uses (`scope = "…"`).
    pub fn name(self) -> &'static str {
        match self {
            Scope::Authority => "authority",
            Scope::Land => "land",
        }
    }
}

/// Who may complete a step (besides automation, which a step allows separately).
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord, Hash)]
pub enum Role {
    ProjectManager,
    AuthorityStaff,
    /// the association's staff: the form server's model assistants and their set-up for members.
    AssociationStaff,
}

impl Role {
    pub const NAMES: &'static [&'static str] = &["project-manager", "authority-staff", "association-staff"];

    pub fn from_name(name: &str) -> Option<Role> {
        match name {
            "project-manager" => Some(Role::ProjectManager),
            "authority-staff" => Some(Role::AuthorityStaff),
            "association-staff" => Some(Role::AssociationStaff),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::ProjectManager => "project-manager",
            Role::AuthorityStaff => "authority-staff",
            Role::AssociationStaff => "association-staff",
        }
    }
}

/// A validated definition. Steps are numbered in file order; phases hold ranges of them.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    pub id: String,
    pub version: u32,
    pub title: String,
    pub description: String,
    pub scope: Scope,
    /// For an authority-scope definition: the Land-level definition its `land:` dependencies name.
    pub land_definition: Option<String>,
    pub phases: Vec<Phase>,
    pub steps: Vec<Step>,
    /// A rollout is live once every step of this phase and the phases before it is done or
    /// not required (`live_after`; the last phase when not given).
    pub live_phase: usize,
    /// How long the personal data of the persons its rollouts' `person` evidence names is kept
    /// after a rollout ends (in operation or cancelled): `retention = "P2Y"`; none: until erased
    /// by hand or after the person left.
    pub retention: Option<crate::duration::Period>,
    /// blake3 of the file's bytes: a rollout is pinned to it.
    pub content_hash: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    pub id: String,
    pub title: String,
    pub description: String,
    pub steps: Range<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub id: String,
    pub phase: usize,
    pub title: String,
    pub description: String,
    pub roles: Vec<Role>,
    pub evidence: Vec<Field>,
    /// Indexes of the steps (of this definition) it depends on.
    pub depends_on: Vec<usize>,
    /// Steps of the service's Land-level rollout it depends on.
    pub land_depends_on: Vec<String>,
    pub condition: Option<Condition>,
    /// May be marked "not required" (with a reason).
    pub skippable: bool,
    pub deadline: Option<Deadline>,
    pub automatable: bool,
    /// Needs a second person's confirmation after completion.
    pub four_eyes: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub id: String,
    pub label: String,
    pub ty: FieldType,
    pub required: bool,
    /// For an `enum`: what each value is called on forms and pages (`labels`, in the order of
    /// `values`); empty: the values themselves.
    pub value_labels: Vec<String>,
}

impl Field {
    /// The words for a value of this field: its label when the definition gives one.
    pub fn value_label<'a>(&'a self, value: &'a str) -> &'a str {
        match &self.ty {
            FieldType::Enumeration(values) => values
                .iter()
                .position(|v| v == value)
                .and_then(|i| self.value_labels.get(i))
                .map_or(value, String::as_str),
            _ => value,
        }
    }
}

impl Step {
    /// Valid evidence for every field of the step (demo data, and to ask `decide` whether the
    /// step could be completed at all).
    pub fn example_evidence(&self, ars: &str) -> crate::Evidence {
        self.evidence.iter().map(|f| (f.id.clone(), f.ty.example(ars))).collect()
    }
}

impl Definition {
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }
}

/// A problem in a definition file, at a byte range of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Range<usize>,
    pub message: String,
    /// `None`: in the file itself. For a variant (`extends`): the base `id@version` when the
    /// problem is in the base's text (`span` is then a range of the base's text).
    pub origin: Option<String>,
}

impl Diagnostic {
    /// `file:line:column: message`, with 1-based line and column (in characters).
    pub fn render(&self, file: &str, source: &str) -> String {
        let (line, column) = line_column(source, self.span.start);
        format!("{file}:{line}:{column}: {}", self.message)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

pub const TOP_KEYS: &[&str] = &[
    "id",
    "version",
    "title",
    "description",
    "scope",
    "land_definition",
    "live_after",
    "retention",
    "phases",
];
pub const PHASE_KEYS: &[&str] = &["id", "title", "description", "steps"];
pub const STEP_KEYS: &[&str] = &[
    "id",
    "title",
    "description",
    "roles",
    "evidence",
    "depends_on",
    "condition",
    "skippable",
    "deadline",
    "automatable",
    "four_eyes",
];
pub const FIELD_KEYS: &[&str] = &["id", "label", "type", "required", "values", "labels"];
