//! Every workflow definition this process knows, by id and version: the texts bundled with the
//! binary, and those published into the log (`DefinitionPublished`, one stream per definition
//! id). The log is the source of truth: a fold of the log teaches the registry each publication
//! in log order ([`Definitions::learn`]), so it knows a definition before it meets the first
//! rollout started on it. The bundled texts stay known, because rollouts of stores written
//! before definitions were events are pinned to them.
//!
//! A definition's text never changes under its id and version: a new wording is a new version.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use vocab::{Actor, Timestamp};

use crate::definition::{check_land_references, parse, Definition, Diagnostic, Scope};
use crate::extends::{extends_of, parse_variant};
pub use crate::known::{BaseRef, DefinitionPublished, FieldRef, DEFINITION_PUBLISHED};
use crate::known::{Definitions, Meta};

/// The prefix of every definition stream: `definition-<id>`.
pub use vocab::names::DEFINITION_STREAM_PREFIX;

pub fn definition_stream(id: &str) -> String {
    format!("{DEFINITION_STREAM_PREFIX}{id}")
}

/// Who published a definition into the log, when and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Publication {
    pub at: Timestamp,
    pub actor: Actor,
    pub reason: String,
}

/// One known definition with its exact text.
#[derive(Clone, Debug)]
pub struct Entry {
    pub definition: Arc<Definition>,
    pub source: Arc<str>,
    /// Shipped with this binary (`workflows/`).
    pub bundled: bool,
    /// `None` while the log holds no publication of it (a bundled text not yet published).
    pub publication: Option<Publication>,
    /// For a variant: the base its text extends.
    pub base: Option<BaseRef>,
}

/// Why a text cannot be published.
#[derive(Clone, Debug, PartialEq)]
pub enum PublishError {
    /// The text is not a valid definition: every problem, at its position.
    Invalid(Vec<Diagnostic>),
    /// The id and version are published with other content.
    Conflict { id: String, version: u32 },
    /// A newer version of the id is published already.
    NotNewer { id: String, version: u32, newest: u32 },
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishError::Invalid(d) => write!(f, "the definition has {} problem(s)", d.len()),
            PublishError::Conflict { id, version } => write!(
                f,
                "`{id}` version {version} is published with other content; a changed text needs a new version"
            ),
            PublishError::NotNewer { id, version, newest } => {
                write!(f, "`{id}` version {version} is older than the newest published version {newest}")
            }
        }
    }
}

/// What publishing a text comes to.
#[derive(Clone, Debug)]
pub enum Checked {
    /// A new version: append this event.
    New(DefinitionPublished),
    /// The same text is known already under its id and version: nothing to append.
    Known(Entry),
}

#[derive(Debug, Default)]
pub struct Registry {
    entries: RwLock<BTreeMap<(String, u32), Entry>>,
    /// Text fields whose values a re-keyed copy moved into persons ([`StoreCopied`]).
    person_fields: RwLock<Vec<FieldRef>>,
}

/// The stored type name and schema version of the first event of a copy made by
/// `rollout store copy --re-key`, in stream [`STORE_COPY_STREAM`].
pub const STORE_COPIED: (&str, u32) = ("StoreCopied", 1);
pub use vocab::names::STORE_COPY_STREAM;

/// A store is a re-keyed copy of another: what it was copied from (the source's head, so the
/// copy is linked to the original's hash chain) and which text fields of which definitions
/// now hold person ids instead of the plain-text names the source holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreCopied {
    pub source_head_position: u64,
    /// Hex of the source's head hash.
    pub source_head_hash: String,
    /// When the copy was made (RFC 3339); the event itself is dated at the source's first
    /// event, because a log's time never goes back.
    pub copied_at: String,
    pub person_fields: Vec<FieldRef>,
}

impl StoreCopied {
    pub fn from_payload(schema_version: u32, payload: &str) -> Result<StoreCopied, String> {
        if schema_version != STORE_COPIED.1 {
            return Err(format!(
                "`StoreCopied` has schema version {schema_version}; this build reads version 1"
            ));
        }
        serde_json::from_str(payload).map_err(|e| format!("`StoreCopied`: {e}"))
    }
}

/// `entry`'s definition with `fields` (those that are its) of type `person`.
fn retyped(entry: &mut Entry, fields: &[FieldRef]) {
    let d = &entry.definition;
    let mine: Vec<&FieldRef> =
        fields.iter().filter(|f| f.definition == d.id && f.version == d.version).collect();
    if mine.is_empty() {
        return;
    }
    let mut definition = (**d).clone();
    for step in &mut definition.steps {
        for field in &mut step.evidence {
            if mine.iter().any(|f| f.step == step.id && f.field == field.id) {
                field.ty = crate::evidence::FieldType::Person;
            }
        }
    }
    entry.definition = Arc::new(definition);
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// A registry that knows `files` (name, text), the texts shipped with the binary; a variant
    /// after its base.
    pub fn with_bundled(files: &[(&str, &str)]) -> Result<Registry, String> {
        let registry = Registry::new();
        for (name, text) in files {
            let (definition, base) = registry.resolve(text).map_err(|diags| {
                let first = diags.first().map(|d| registry.render(d, name, text)).unwrap_or_default();
                format!("bundled definition {name} is invalid: {first}")
            })?;
            registry.insert(Entry {
                definition: Arc::new(definition),
                source: Arc::from(*text),
                bundled: true,
                publication: None,
                base,
            });
        }
        Ok(registry)
    }

    fn insert(&self, entry: Entry) {
        let key = (entry.definition.id.clone(), entry.definition.version);
        self.write().insert(key, entry);
    }

    /// A re-keyed copy ([`StoreCopied`]) moved the values of `fields` into persons: from now on
    /// those fields are `person` fields, in the definitions known and in those published later.
    /// The texts and their hashes are unchanged.
    pub fn hold_persons(&self, fields: &[FieldRef]) {
        self.person_fields.write().unwrap_or_else(|p| p.into_inner()).extend_from_slice(fields);
        for entry in self.write().values_mut() {
            retyped(entry, fields);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<(String, u32), Entry>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<(String, u32), Entry>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks a text for publication: valid (every problem at its position, the `land:`
    /// dependencies against the Land definitions known), and new or identical under its id and
    /// version, and not older than the newest published version.
    pub fn check(&self, source: &str, reason: &str) -> Result<Checked, PublishError> {
        let (definition, base) = self.resolve(source).map_err(PublishError::Invalid)?;
        let entries = self.read();
        if let Some(known) = entries.get(&(definition.id.clone(), definition.version)) {
            return if known.definition.content_hash == definition.content_hash {
                Ok(Checked::Known(known.clone()))
            } else {
                Err(PublishError::Conflict { id: definition.id, version: definition.version })
            };
        }
        let newest = published_versions(&entries, &definition.id).last().copied();
        if let Some(newest) = newest.filter(|&n| n > definition.version) {
            return Err(PublishError::NotNewer { id: definition.id, version: definition.version, newest });
        }
        let lands: Vec<(&Definition, &str)> = entries
            .values()
            .filter(|e| e.definition.scope == Scope::Land)
            .map(|e| (&*e.definition, &*e.source))
            .collect();
        let mut all = vec![(&definition, source)];
        all.extend(lands);
        let diags: Vec<Diagnostic> =
            check_land_references(&all).into_iter().filter(|(i, _)| *i == 0).map(|(_, d)| d).collect();
        if !diags.is_empty() {
            return Err(PublishError::Invalid(diags));
        }
        Ok(Checked::New(DefinitionPublished {
            id: definition.id.clone(),
            version: definition.version,
            content_hash: definition.content_hash.clone(),
            source: source.to_owned(),
            reason: reason.to_owned(),
            base,
        }))
    }

    /// Parses a text; a variant (`extends`) against its base, which must be known and not a
    /// variant itself.
    pub fn resolve(&self, source: &str) -> Result<(Definition, Option<BaseRef>), Vec<Diagnostic>> {
        let Some((id, version, span)) = extends_of(source) else {
            return parse(source.as_bytes()).map(|d| (d, None));
        };
        let problem = |message: String| vec![Diagnostic { span: span.clone(), message, origin: None }];
        let Some(base) = self.entry(&id, version) else {
            return Err(problem(format!("`extends` names `{id}@{version}`, which is not published")));
        };
        if base.base.is_some() {
            return Err(problem(format!("`{id}@{version}` is a variant itself; extend its base instead")));
        }
        let reference = BaseRef { id, version, content_hash: base.definition.content_hash.clone() };
        let definition = parse_variant(source, &reference.name(), &base.source)?;
        Ok((definition, Some(reference)))
    }

    /// The base whose text a diagnostic's span is in (`Diagnostic::origin`), if it is known.
    pub fn origin_of(&self, d: &Diagnostic) -> Option<Entry> {
        let (id, version) = d.origin.as_deref()?.split_once('@')?;
        self.entry(id, version.parse().ok()?)
    }

    /// `file:line:column: message`, at the base's line when the problem is in the base.
    pub fn render(&self, d: &Diagnostic, file: &str, source: &str) -> String {
        let base = self.origin_of(d);
        match (&d.origin, base) {
            (Some(origin), Some(base)) => d.render(&format!("{origin} (the base of {file})"), &base.source),
            _ => d.render(file, source),
        }
    }

    /// Applies a publication read from the log. A text that does not parse (written by a newer
    /// build) or that differs from a known one under its version is an error, and the registry
    /// is unchanged.
    pub fn apply(&self, published: &DefinitionPublished, meta: &Meta<'_>) -> Result<(), String> {
        let parsed = match &published.base {
            None => parse(published.source.as_bytes()),
            Some(base) => match self.entry(&base.id, base.version) {
                Some(known) if known.definition.content_hash == base.content_hash => {
                    parse_variant(&published.source, &base.name(), &known.source)
                }
                _ => {
                    return Err(format!(
                        "the base `{}` of `{}` version {} is not known with hash {}",
                        base.name(),
                        published.id,
                        published.version,
                        base.content_hash
                    ))
                }
            },
        };
        let definition = parsed.map_err(|diags| {
            let first = diags.first().map(|d| d.render("(published)", &published.source)).unwrap_or_default();
            format!(
                "the published text of `{}` version {} is invalid: {first}",
                published.id, published.version
            )
        })?;
        if (definition.id.as_str(), definition.version) != (published.id.as_str(), published.version)
            || definition.content_hash != published.content_hash
        {
            return Err(format!(
                "the publication of `{}` version {} does not match its own text",
                published.id, published.version
            ));
        }
        let publication =
            Some(Publication { at: meta.at, actor: meta.actor.clone(), reason: published.reason.clone() });
        let mut entries = self.write();
        let key = (definition.id.clone(), definition.version);
        match entries.get_mut(&key) {
            Some(known) if known.definition.content_hash != definition.content_hash => {
                return Err(format!(
                    "`{}` version {} is known with other content than the log publishes",
                    key.0, key.1
                ))
            }
            // The first publication counts; a repeat (a second server's start) changes nothing.
            Some(known) => {
                if known.publication.is_none() {
                    known.publication = publication;
                }
            }
            None => {
                let mut entry = Entry {
                    definition: Arc::new(definition),
                    source: Arc::from(published.source.as_str()),
                    bundled: false,
                    publication,
                    base: published.base.clone(),
                };
                retyped(&mut entry, &self.person_fields.read().unwrap_or_else(|p| p.into_inner()));
                entries.insert(key, entry);
            }
        }
        Ok(())
    }

    /// The versions of `id` the log has published, oldest first: one per event of its stream.
    pub fn published_versions(&self, id: &str) -> Vec<u32> {
        published_versions(&self.read(), id)
    }

    pub fn entry(&self, id: &str, version: u32) -> Option<Entry> {
        self.read().get(&(id.to_owned(), version)).cloned()
    }

    /// The newest known version of a definition.
    pub fn latest(&self, id: &str) -> Option<Arc<Definition>> {
        self.read()
            .range((id.to_owned(), 0)..=(id.to_owned(), u32::MAX))
            .next_back()
            .map(|(_, e)| e.definition.clone())
    }

    /// Every known definition, by id and version.
    pub fn entries(&self) -> Vec<Entry> {
        self.read().values().cloned().collect()
    }

    /// Bundled texts the log has no publication of yet.
    pub fn unpublished_bundled(&self) -> Vec<Entry> {
        self.read().values().filter(|e| e.bundled && e.publication.is_none()).cloned().collect()
    }
}

fn published_versions(entries: &BTreeMap<(String, u32), Entry>, id: &str) -> Vec<u32> {
    entries
        .range((id.to_owned(), 0)..=(id.to_owned(), u32::MAX))
        .filter(|(_, e)| e.publication.is_some())
        .map(|((_, v), _)| *v)
        .collect()
}

impl Definitions for Registry {
    fn get(&self, id: &str, version: u32) -> Option<Arc<Definition>> {
        self.read().get(&(id.to_owned(), version)).map(|e| e.definition.clone())
    }

    fn learn(&self, published: &DefinitionPublished, meta: &Meta<'_>) -> Result<(), String> {
        self.apply(published, meta)
    }

    fn learn_person_fields(&self, fields: &[FieldRef]) {
        self.hold_persons(fields)
    }
}
