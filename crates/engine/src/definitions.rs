//! Definitions as events: publishing a text (`DefinitionPublished` in `definition-<id>`), the
//! bundled texts published at start, a service's definitions (`ServiceDefinitionSet`), and
//! moving a service's running rollouts to another definition (`migrate_service`).

use std::collections::BTreeMap;

use catalog::{DefinitionLevel, DefinitionRef};
use store::{Direction, ExpectedVersion, RecordedEvent};
use uuid::Uuid;
use workflow::decide::{decide, Command, Context, Rejection};
use workflow::registry::{
    definition_stream, Checked, DefinitionPublished, Entry, StoreCopied, DEFINITION_PUBLISHED, STORE_COPIED,
    STORE_COPY_STREAM,
};
use workflow::rollout::{stream_id, Meta, Rollout};
use workflow::{Definition, Definitions, Registry, Scope, StepStatus};

use crate::{new_event, EngineError, Invocation};

/// The texts shipped in `workflows/`, as (file name, text).
pub const BUNDLED: &[(&str, &str)] = &[
    ("efa-onboarding.toml", include_str!("../../../workflows/efa-onboarding.toml")),
    // The base of the federal variant (`extends = "efa-onboarding@3"`), so before it.
    ("archive/efa-onboarding.v3.toml", include_str!("../../../workflows/archive/efa-onboarding.v3.toml")),
    // A variant comes after its base.
    ("efa-onboarding-bund.toml", include_str!("../../../workflows/efa-onboarding-bund.toml")),
    ("efa-land.toml", include_str!("../../../workflows/efa-land.toml")),
    ("formularserver-muster.toml", include_str!("../../../workflows/formularserver-muster.toml")),
    ("formularserver-assistent.toml", include_str!("../../../workflows/formularserver-assistent.toml")),
    // Published texts never change under their version: the earlier ones, kept as they were.
    ("archive/efa-onboarding.v1.toml", include_str!("../../../workflows/archive/efa-onboarding.v1.toml")),
    ("archive/efa-onboarding.v2.toml", include_str!("../../../workflows/archive/efa-onboarding.v2.toml")),
    (
        "archive/efa-onboarding-bund.v1.toml",
        include_str!("../../../workflows/archive/efa-onboarding-bund.v1.toml"),
    ),
    (
        "archive/efa-onboarding-bund.v2.toml",
        include_str!("../../../workflows/archive/efa-onboarding-bund.v2.toml"),
    ),
    (
        "archive/formularserver-assistent.v1.toml",
        include_str!("../../../workflows/archive/formularserver-assistent.v1.toml"),
    ),
];

/// A registry that knows the bundled texts (and, once the engine has read the log, every
/// publication). The bundled texts are checked by the tests, so a failure is a build bug,
/// reported as an error all the same.
pub fn bundled() -> Result<Registry, String> {
    Registry::with_bundled(BUNDLED)
}

/// What publishing a text did.
#[derive(Clone, Debug)]
pub struct Published {
    pub entry: Entry,
    /// The event appended; `None` when the same text was published already.
    pub event: Option<RecordedEvent>,
}

/// What moving one rollout to another definition would change (or changed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RolloutMigration {
    pub ars: String,
    /// Steps of the new definition that are new to the rollout.
    pub added: Vec<String>,
    /// Steps of the old definition without a counterpart (they had no progress).
    pub removed: Vec<String>,
    /// Steps whose progress carries over (new step ids).
    pub kept: Vec<String>,
    /// Carried-over steps that are done but lack evidence the new definition requires: to redo.
    pub to_redo: Vec<String>,
    /// Why the rollout cannot move; empty when it can (or did).
    pub problems: Vec<String>,
    /// The event recorded (not in a dry run).
    pub event: Option<RecordedEvent>,
}

/// What `migrate_service` did or would do.
#[derive(Clone, Debug)]
pub struct ServiceMigration {
    pub to: DefinitionRef,
    pub dry_run: bool,
    pub correlation_id: Uuid,
    /// Every rollout of the service that runs a definition of the target's scope and is not
    /// already on the target.
    pub rollouts: Vec<RolloutMigration>,
}

/// The event id of a publication: derived from what it publishes, so publishing the same text
/// twice (two servers starting at once) stores it once.
fn publication_event_id(p: &DefinitionPublished) -> Uuid {
    let mut h = blake3::Hasher::new();
    h.update(b"DefinitionPublished\0");
    h.update(p.id.as_bytes());
    h.update(&[0]);
    h.update(&p.version.to_be_bytes());
    h.update(p.content_hash.as_bytes());
    crate::derived_id(h)
}

/// Applies one event to the registry when it is a publication.
pub(crate) fn learn(registry: &Registry, e: &RecordedEvent) -> Result<(), EngineError> {
    if e.event_type == STORE_COPIED.0 && e.stream_id == STORE_COPY_STREAM {
        let copied = StoreCopied::from_payload(e.schema_version, e.data.as_str())
            .map_err(|why| EngineError::Unreadable(format!("position {}: {why}", e.position)))?;
        registry.hold_persons(&copied.person_fields);
        return Ok(());
    }
    if e.event_type != DEFINITION_PUBLISHED.0
        || !e.stream_id.starts_with(workflow::registry::DEFINITION_STREAM_PREFIX)
    {
        return Ok(());
    }
    let published = DefinitionPublished::from_payload(e.schema_version, e.data.as_str())
        .map_err(|why| EngineError::Unreadable(format!("position {}: {why}", e.position)))?;
    registry
        .apply(&published, &Meta { at: e.recorded_at, actor: &e.actor })
        .map_err(|why| EngineError::Unreadable(format!("position {}: {why}", e.position)))
}

impl crate::Engine {
    /// Publishes a definition text: checked like `rollout workflow check`, then appended as
    /// `DefinitionPublished`. The same text again appends nothing and returns the known one.
    pub async fn publish_definition(
        &self,
        source: &str,
        reason: &str,
        req: &Invocation,
    ) -> Result<Published, EngineError> {
        let reason = &workflow::decide::check_note(reason, "reason").map_err(EngineError::Rejected)?;
        // A publication by another server that this one has not followed yet conflicts; it is
        // read then, and the text checked again.
        for attempt in 0..2 {
            let published = match self.registry().check(source, reason).map_err(EngineError::Publish)? {
                Checked::Known(entry) if entry.publication.is_some() => {
                    return Ok(Published { entry, event: None })
                }
                Checked::Known(entry) => DefinitionPublished {
                    id: entry.definition.id.clone(),
                    version: entry.definition.version,
                    content_hash: entry.definition.content_hash.clone(),
                    source: entry.source.to_string(),
                    reason: reason.to_owned(),
                    base: entry.base.clone(),
                },
                Checked::New(p) => p,
            };
            let stream = definition_stream(&published.id);
            let expected = match self.registry().published_versions(&published.id).len() as u64 {
                0 => ExpectedVersion::NoStream,
                n => ExpectedVersion::Exact(n),
            };
            let mut event = new_event(DEFINITION_PUBLISHED, published.to_payload(), req);
            event.event_id = publication_event_id(&published);
            match self.store().append(&stream, expected, vec![event]).await {
                Ok(recorded) => {
                    for e in &recorded {
                        learn(self.registry(), e)?;
                    }
                    let entry = self.registry().entry(&published.id, published.version).ok_or_else(|| {
                        EngineError::Unreadable("a published definition is not known".into())
                    })?;
                    let event = recorded.into_iter().next();
                    return Ok(Published { entry, event });
                }
                Err(store::StoreError::Conflict { .. }) if attempt == 0 => {
                    self.reload_definition(&published.id).await?
                }
                // Published through another server twice meanwhile: say so rather than guess.
                Err(store::StoreError::Conflict { .. }) => {
                    return Err(EngineError::Invalid(format!(
                        "`{}` was published by someone else meanwhile; look at its versions and try again",
                        published.id
                    )))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Invalid("publishing did not settle; try again".into()))
    }

    /// Publishes every bundled text the log does not have yet, by the system. Returns what it
    /// published (said in the server's log).
    pub async fn publish_bundled(&self) -> Result<Vec<Entry>, EngineError> {
        let mut out = Vec::new();
        for entry in self.registry().unpublished_bundled() {
            let reason = format!("mitgeliefert mit efa-rollout {}", env!("CARGO_PKG_VERSION"));
            let published = self.publish_definition(&entry.source, &reason, &Invocation::system()).await?;
            if published.event.is_some() {
                tracing::info!(
                    definition = %entry.definition.id,
                    version = entry.definition.version,
                    "published a bundled definition the log did not have"
                );
                out.push(published.entry);
            }
        }
        Ok(out)
    }

    /// Reads a definition's stream again (another server published meanwhile).
    async fn reload_definition(&self, id: &str) -> Result<(), EngineError> {
        let events = self.store().read_stream(&definition_stream(id), 1, Direction::Forward, 10_000).await?;
        for e in &events {
            learn(self.registry(), e)?;
        }
        Ok(())
    }

    /// The definition `r` names, learning it from the log first when another server published
    /// it and this one has not followed yet.
    pub async fn definition(&self, r: &DefinitionRef) -> Result<std::sync::Arc<Definition>, EngineError> {
        if let Some(d) = self.registry().get(&r.id, r.version) {
            return Ok(d);
        }
        self.reload_definition(&r.id).await?;
        self.registry().get(&r.id, r.version).ok_or_else(|| EngineError::UnknownDefinition(r.to_string()))
    }

    /// Gives a service another definition for new rollouts of `level` (a `ServiceDefinitionSet`
    /// event). The definition must be known and of the level's scope; running rollouts keep
    /// theirs until migrated.
    pub async fn set_service_definition(
        &self,
        service_key: &str,
        level: DefinitionLevel,
        to: DefinitionRef,
        reason: &str,
        req: &Invocation,
    ) -> Result<RecordedEvent, EngineError> {
        let reason = &workflow::decide::check_note(reason, "reason").map_err(EngineError::Rejected)?;
        let definition = self.definition(&to).await?;
        let scope = match level {
            DefinitionLevel::Authority => Scope::Authority,
            DefinitionLevel::Land => Scope::Land,
        };
        if definition.scope != scope {
            return Err(EngineError::Invalid(format!(
                "`{to}` is a {} definition; the {} level needs a {} one",
                definition.scope.name(),
                scope.name(),
                scope.name()
            )));
        }
        let version = {
            let catalog = self.catalog.read().unwrap_or_else(|p| p.into_inner());
            catalog
                .services
                .get(service_key)
                .ok_or_else(|| EngineError::UnknownService(service_key.into()))?
                .version
        };
        let event =
            catalog::CatalogEvent::ServiceDefinitionSet { level, definition: to, reason: reason.to_owned() };
        self.append_catalog_event(&catalog::events::service_stream(service_key), version, event, req).await
    }

    /// Appends one catalogue event to `stream` at its `version` (a change meanwhile is a
    /// conflict) and applies it to this engine's catalogue.
    async fn append_catalog_event(
        &self,
        stream: &str,
        version: u64,
        event: catalog::CatalogEvent,
        req: &Invocation,
    ) -> Result<RecordedEvent, EngineError> {
        let recorded = self
            .store()
            .append(
                stream,
                ExpectedVersion::Exact(version),
                vec![new_event(event.stored_type(), event.to_payload(), req)],
            )
            .await?;
        let recorded =
            recorded.into_iter().next().ok_or_else(|| EngineError::Unreadable("no event appended".into()))?;
        self.catalog.write().unwrap_or_else(|p| p.into_inner()).apply_at(stream, recorded.version, &event);
        Ok(recorded)
    }

    /// Records the back-office system (Fachverfahren) an administration uses in a subject area
    /// (`None`: none any more), as a catalogue event of its stream.
    pub async fn set_back_office_system(
        &self,
        ars: &str,
        area: &str,
        system: Option<catalog::events::BackOfficeSystem>,
        req: &Invocation,
    ) -> Result<RecordedEvent, EngineError> {
        let area = workflow::decide::check_note(area, "the subject area").map_err(EngineError::Rejected)?;
        let system = match system {
            Some(s) => Some(catalog::events::BackOfficeSystem {
                product: workflow::decide::check_note(&s.product, "the product")
                    .map_err(EngineError::Rejected)?,
                vendor: workflow::decide::check_note(&s.vendor, "the vendor")
                    .map_err(EngineError::Rejected)?,
                version: s.version.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()),
            }),
            None => None,
        };
        let version = {
            let catalog = self.catalog.read().unwrap_or_else(|p| p.into_inner());
            if !catalog.services.values().any(|s| s.service.subject_area == area) {
                return Err(EngineError::Rejected(workflow::Rejection::Invalid {
                    what: format!("subject area `{area}` (no service has it)"),
                }));
            }
            catalog.authorities.get(ars).ok_or_else(|| EngineError::UnknownAuthority(ars.into()))?.version
        };
        let event = catalog::CatalogEvent::BackOfficeSystemSet { area, system };
        self.append_catalog_event(&catalog::events::authority_stream(ars), version, event, req).await
    }

    /// The facts a definition's conditions are evaluated on, for a service at an administration.
    pub fn facts(&self, service_key: &str, ars: &str) -> workflow::Facts {
        let catalog = self.catalog.read().unwrap_or_else(|p| p.into_inner());
        match (catalog.authorities.get(ars), catalog.services.get(service_key)) {
            (Some(a), Some(s)) => catalog::facts(&a.authority, &s.service),
            _ => workflow::Facts::default(),
        }
    }

    /// Moves every rollout of a service that runs a definition of `to`'s scope (and is not on
    /// `to` already) to `to`. With `dry_run`, says per rollout what would change and appends
    /// nothing; otherwise migrates each under the invocation's one correlation id and names
    /// each rollout that could not move, and why. Cancelled and transferred rollouts are left.
    pub async fn migrate_service(
        &self,
        service_key: &str,
        to: &DefinitionRef,
        mapping: BTreeMap<String, String>,
        dry_run: bool,
        reason: &str,
        req: &Invocation,
    ) -> Result<ServiceMigration, EngineError> {
        let reason = workflow::decide::check_note(reason, "reason").map_err(EngineError::Rejected)?;
        let definition = self.definition(to).await?;
        let targets: Vec<String> = {
            let catalog = self.catalog.read().unwrap_or_else(|p| p.into_inner());
            if !catalog.services.contains_key(service_key) {
                return Err(EngineError::UnknownService(service_key.into()));
            }
            let central = catalog.central_of(service_key);
            let mut all: Vec<String> = catalog.authorities.keys().cloned().collect();
            all.retain(|ars| (*ars == central) == (definition.scope == Scope::Land));
            all
        };
        let mut report = ServiceMigration {
            to: to.clone(),
            dry_run,
            correlation_id: req.correlation_id,
            rollouts: Vec::new(),
        };
        let cx =
            Context { principal: req.principal.clone(), now: self.now(), facts: workflow::Facts::default() };
        for ars in targets {
            if self.store().stream_version(&stream_id(service_key, &ars)).await? == 0 {
                continue;
            }
            let Some(rollout) = self.load(service_key, &ars).await? else { continue };
            let on_target = rollout.definition.id == to.id && rollout.definition.version == to.version;
            if on_target || rollout.cancelled.is_some() || rollout.transferred_to.is_some() {
                continue;
            }
            let command = Command::Migrate {
                definition: definition.clone(),
                mapping: mapping.clone(),
                facts: self.facts(service_key, &ars),
                reason: Some(reason.clone()),
            };
            let mut one = RolloutMigration { ars: ars.clone(), ..RolloutMigration::default() };
            match decide(Some(&rollout), &command, &cx) {
                Err(Rejection::Migration { problems }) => one.problems = problems,
                Err(other) => one.problems = vec![other.to_string()],
                Ok(events) => {
                    describe(&rollout, &definition, &events, &mut one);
                    if !dry_run {
                        let step =
                            Invocation { idempotency_key: None, expected_version: None, ..req.clone() };
                        match self.execute(service_key, &ars, command, &step).await {
                            Ok(outcome) => one.event = outcome.events.into_iter().next(),
                            Err(EngineError::Rejected(Rejection::Migration { problems })) => {
                                one.problems = problems
                            }
                            Err(e @ (EngineError::Rejected(_) | EngineError::Conflict { .. })) => {
                                one.problems = vec![e.to_string()]
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
            report.rollouts.push(one);
        }
        Ok(report)
    }
}

/// Fills in what a planned `DefinitionMigrated` changes for `r`.
fn describe(r: &Rollout, to: &Definition, events: &[workflow::RolloutEvent], out: &mut RolloutMigration) {
    let Some(workflow::RolloutEvent::DefinitionMigrated(m)) = events.first() else { return };
    let targets: std::collections::BTreeSet<&str> = m.mapping.values().map(String::as_str).collect();
    out.added = to.steps.iter().filter(|s| !targets.contains(s.id.as_str())).map(|s| s.id.clone()).collect();
    out.removed =
        r.definition.steps.iter().filter(|s| !m.mapping.contains_key(&s.id)).map(|s| s.id.clone()).collect();
    for (old, new) in &m.mapping {
        let (Some(i), Some(j)) = (r.definition.step_index(old), to.step_index(new)) else { continue };
        let status = r.steps[i].status;
        let progressed =
            !matches!(status, StepStatus::Waiting | StepStatus::Ready | StepStatus::NotApplicable);
        if !progressed {
            continue;
        }
        out.kept.push(new.clone());
        if matches!(status, StepStatus::Done | StepStatus::AwaitingConfirmation) {
            let recorded = r.record(i).map(|rec| rec.evidence.to_map()).unwrap_or_default();
            let missing = to.steps[j].evidence.iter().any(|f| f.required && !recorded.contains_key(&f.id));
            if missing {
                out.to_redo.push(new.clone());
            }
        }
    }
}
