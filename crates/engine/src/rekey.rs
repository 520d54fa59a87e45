//! A re-keyed copy (`rollout store copy --re-key`): the log of a store written before persons
//! were records, copied into a new, empty store with its plain-text personal data moved into
//! persons. The source is never changed (its hash chain is the proof of what happened); the
//! copy is a new chain whose first event, `StoreCopied`, names the source's head position and
//! hash, so the copy is linked to the original.
//!
//! What is moved: the values of contact-like `text` evidence fields (one person per
//! administration and name; the value becomes the person's id and the registry treats the field
//! as a `person` field from `StoreCopied` on) and the display names of person actors (one person
//! per actor; the actor then names the person, with no name in the event). A token behind such
//! an actor gets the person and a neutral label instead of its name. What is left in plain text
//! (e-mail fields that may be functional mailboxes, comments, automation names) is what
//! `rollout personal-data find` reports on the copy.
//!
//! Each event keeps its id, stream, version, time, actor id, correlation and causation; the
//! positions move by the events the copy adds (`StoreCopied`, the registrations), and every hash
//! is new. A registration is recorded at the time of the event that first named the person
//! (the log's time never goes back); `StoreCopied.copiedAt` says when the copy was made.

use std::collections::HashMap;

use serde_json::Value;
use store::{Actor, ActorKind, EventStore, Head, Json, RecordedEvent, Timestamp};
use uuid::Uuid;
use workflow::evidence::FieldType;
use workflow::registry::{FieldRef, StoreCopied, STORE_COPIED, STORE_COPY_STREAM};
use workflow::{Registry, RolloutEvent};

use crate::persons::{sealed_text, PersonDetails, PersonRegistered, PERSON_REGISTERED};
use crate::tokens::{TokenIssued, TokenRole, TOKEN_ISSUED, TOKEN_STREAM_PREFIX};
use crate::EngineError;

/// What a re-keyed copy did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RekeyReport {
    /// The source's events copied.
    pub events_copied: u64,
    /// Persons registered for plain-text values (contacts and actors).
    pub persons_registered: u64,
    /// Evidence values moved into persons.
    pub values_moved: u64,
    /// The fields that hold persons in the copy.
    pub person_fields: Vec<FieldRef>,
    /// The copy's head.
    pub head: Head,
}

/// Events per append into the target.
const BATCH: usize = 500;

/// Copies `source` into the empty `target`, re-keyed (see the module text). `copied_by` is the
/// actor of `StoreCopied` and of the registrations. The target's key store receives each new
/// person's key before the event that needs it is appended.
pub async fn rekeyed_copy(
    source: &dyn EventStore,
    target: &dyn EventStore,
    copied_by: &Actor,
    mut progress: impl FnMut(u64, u64),
) -> Result<RekeyReport, EngineError> {
    let keys = target.key_store().ok_or_else(|| {
        EngineError::Invalid(
            "the target keeps no keys, so it cannot hold the persons of a re-keyed copy".into(),
        )
    })?;
    let source_head = source.head().await?;
    // The definitions the source knows (to find the contact-like fields), and its catalogue.
    let (registry, catalog) = learn_source(source).await?;
    let person_fields = contact_fields(&registry);

    let first_at = source.read_all(1, 1).await?.first().map(|e| e.recorded_at);
    let copied_at = target.clock().now();
    let mut copy = Copy {
        fields: person_fields.clone(),
        head: Head::EMPTY,
        out: Vec::new(),
        pending_keys: Vec::new(),
        contacts: HashMap::new(),
        actors: HashMap::new(),
        definition_of: HashMap::new(),
        copied_by: copied_by.clone(),
        land: catalog.land_ars().unwrap_or_default(),
        association: catalog.association_ars().unwrap_or_default(),
        report: RekeyReport {
            events_copied: 0,
            persons_registered: 0,
            values_moved: 0,
            person_fields: person_fields.clone(),
            head: Head::EMPTY,
        },
    };
    copy.push(store_copied(
        first_at.unwrap_or(copied_at),
        copied_at,
        copied_by,
        &source_head,
        person_fields,
    )?);

    let mut from = 1;
    loop {
        let page = source.read_all(from, BATCH).await?;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for e in page {
            copy.event(e)?;
            copy.report.events_copied += 1;
        }
        copy.flush(target, &*keys).await?;
        progress(from - 1, source_head.position);
    }
    copy.flush(target, &*keys).await?;
    copy.report.head = copy.head;
    Ok(copy.report)
}

/// What a fold of the source teaches: its definitions and its catalogue (for the Land's and
/// the association's keys).
async fn learn_source(source: &dyn EventStore) -> Result<(Registry, catalog::Catalog), EngineError> {
    let registry = crate::definitions::bundled().map_err(EngineError::Unreadable)?;
    // And the catalogue, for the Land's and the association's keys.
    let mut catalog = catalog::Catalog::default();
    let mut from = 1;
    loop {
        let page = source.read_all(from, 1_000).await?;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for e in &page {
            crate::definitions::learn(&registry, e)?;
            if let Some(Ok(decoded)) =
                catalog::CatalogEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str())
            {
                catalog.apply(&e.stream_id, &decoded);
            }
        }
    }
    Ok((registry, catalog))
}

/// The copy's first event: which source (its head), when, and which fields hold persons now.
fn store_copied(
    at: store::Timestamp,
    copied_at: store::Timestamp,
    copied_by: &Actor,
    source_head: &Head,
    person_fields: Vec<FieldRef>,
) -> Result<RecordedEvent, EngineError> {
    let copied = StoreCopied {
        source_head_position: source_head.position,
        source_head_hash: source_head.hash.to_string(),
        copied_at: copied_at.to_string(),
        person_fields,
    };
    Ok(RecordedEvent {
        event_id: Uuid::now_v7(),
        stream_id: STORE_COPY_STREAM.into(),
        version: 1,
        event_type: STORE_COPIED.0.into(),
        schema_version: STORE_COPIED.1,
        recorded_at: at,
        actor: copied_by.clone(),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        data: Json::to_json(&copied).map_err(|e| EngineError::Invalid(e.to_string()))?,
        ..blank()
    })
}

/// The contact-like `text` fields of every definition (as `personal-data find` judges them).
fn contact_fields(registry: &Registry) -> Vec<FieldRef> {
    let mut fields = Vec::new();
    for entry in registry.entries() {
        let d = &entry.definition;
        for step in &d.steps {
            for f in step
                .evidence
                .iter()
                .filter(|f| f.ty == FieldType::Text && crate::plaintext::names_a_person(f))
            {
                fields.push(FieldRef {
                    definition: d.id.clone(),
                    version: d.version,
                    step: step.id.clone(),
                    field: f.id.clone(),
                });
            }
        }
    }
    fields
}

fn blank() -> RecordedEvent {
    RecordedEvent {
        position: 0,
        event_id: Uuid::nil(),
        stream_id: String::new(),
        version: 0,
        event_type: String::new(),
        schema_version: 0,
        recorded_at: Timestamp::from_unix_micros(0),
        actor: Actor::system(),
        correlation_id: Uuid::nil(),
        causation_id: None,
        data: Json::from_value(&Value::Null),
        prev_hash: store::EventHash::GENESIS,
        hash: store::EventHash::GENESIS,
    }
}

struct Copy {
    fields: Vec<FieldRef>,
    head: Head,
    /// Events chained, not yet appended.
    out: Vec<RecordedEvent>,
    /// Keys of persons registered in `out`: stored before `out` is appended.
    pending_keys: Vec<(Uuid, store::Key)>,
    /// (ARS, name) → person.
    contacts: HashMap<(String, String), Uuid>,
    /// Actor id → person.
    actors: HashMap<String, Uuid>,
    /// Rollout stream → (definition id, version).
    definition_of: HashMap<String, (String, u32)>,
    copied_by: Actor,
    /// The Land's key (persons of no administration are the Land's) and the association's.
    land: String,
    association: String,
    report: RekeyReport,
}

impl Copy {
    /// Chains `e` after the head and queues it.
    fn push(&mut self, mut e: RecordedEvent) {
        e.position = self.head.position + 1;
        e.prev_hash = self.head.hash;
        e.hash = store::event_hash(&e);
        self.head = Head::after(&e);
        self.out.push(e);
    }

    async fn flush(
        &mut self,
        target: &dyn EventStore,
        keys: &dyn store::KeyStore,
    ) -> Result<(), EngineError> {
        if !self.pending_keys.is_empty() {
            keys.insert(std::mem::take(&mut self.pending_keys)).await?;
        }
        if !self.out.is_empty() {
            for chunk in std::mem::take(&mut self.out).chunks(store::limits::EVENTS_PER_APPEND_MAX) {
                target.append_recorded(chunk.to_vec()).await?;
            }
        }
        Ok(())
    }

    /// Registers a person named `name` at `ars`, recorded at `at` (before the event that names
    /// it); returns its id.
    fn register(&mut self, ars: &str, name: &str, at: Timestamp) -> Result<Uuid, EngineError> {
        let id = Uuid::now_v7();
        let key = store::Key::generate()?;
        let details = PersonDetails { name: name.trim().to_owned(), ..PersonDetails::default() };
        let registered =
            PersonRegistered { person_id: id, ars: ars.to_owned(), sealed: sealed_text(&key, id, &details)? };
        self.pending_keys.push((id, key));
        self.push(RecordedEvent {
            event_id: Uuid::now_v7(),
            stream_id: crate::persons::person_stream(id),
            version: 1,
            event_type: PERSON_REGISTERED.0.into(),
            schema_version: PERSON_REGISTERED.1,
            recorded_at: at.max(self.head.recorded_at),
            actor: self.copied_by.clone(),
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            data: Json::to_json(&registered).map_err(|e| EngineError::Invalid(e.to_string()))?,
            ..blank()
        });
        self.report.persons_registered += 1;
        Ok(id)
    }

    /// The person for an actor's display name, registered at first sight.
    fn actor_person(&mut self, actor: &Actor, ars: &str, at: Timestamp) -> Result<Uuid, EngineError> {
        if let Some(&id) = self.actors.get(&actor.id) {
            return Ok(id);
        }
        let id = self.register(ars, &actor.name, at)?;
        self.actors.insert(actor.id.clone(), id);
        Ok(id)
    }

    /// Copies one event of the source, re-keyed.
    fn event(&mut self, mut e: RecordedEvent) -> Result<(), EngineError> {
        let at = e.recorded_at;
        if e.stream_id.starts_with(TOKEN_STREAM_PREFIX) && e.event_type == TOKEN_ISSUED.0 {
            self.token_issued(&mut e)?;
        }
        if e.actor.kind == ActorKind::Person && e.actor.person.is_none() && !e.actor.name.trim().is_empty() {
            let land = self.land.clone();
            let id = self.actor_person(&e.actor, &land, at)?;
            e.actor = Actor { id: e.actor.id, name: String::new(), kind: e.actor.kind, person: Some(id) };
        }
        if e.stream_id.starts_with(vocab::names::ROLLOUT_STREAM_PREFIX) {
            self.rollout_event(&mut e)?;
        }
        self.push(e);
        Ok(())
    }

    /// A person token's name becomes a person of its administration (the Land's for others);
    /// the token names the person and keeps a neutral label.
    fn token_issued(&mut self, e: &mut RecordedEvent) -> Result<(), EngineError> {
        let Ok(mut issued) = e.data.decode::<TokenIssued>() else { return Ok(()) };
        if issued.role == TokenRole::Automation || issued.person.is_some() || issued.name.trim().is_empty() {
            return Ok(());
        }
        let ars = match issued.role {
            TokenRole::AuthorityStaff => issued.authorities.first().cloned(),
            TokenRole::AssociationStaff => Some(self.association.clone()),
            _ => None,
        }
        .unwrap_or_else(|| self.land.clone());
        let actor = Actor {
            id: format!("token:{}", issued.token_id),
            name: issued.name.clone(),
            kind: ActorKind::Person,
            person: None,
        };
        let id = self.actor_person(&actor, &ars, e.recorded_at)?;
        issued.person = Some(id);
        issued.name = format!("Token {}", &issued.token_id.to_string()[..8]);
        e.data = Json::to_json(&issued).map_err(|err| EngineError::Invalid(err.to_string()))?;
        Ok(())
    }

    /// Contact names in a completed step's evidence become persons of the rollout's
    /// administration; the value becomes the person's id.
    fn rollout_event(&mut self, e: &mut RecordedEvent) -> Result<(), EngineError> {
        let Ok(event) = RolloutEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str()) else {
            return Ok(());
        };
        let done = match event {
            RolloutEvent::Started(s) => {
                self.definition_of.insert(e.stream_id.clone(), (s.definition_id, s.definition_version));
                return Ok(());
            }
            RolloutEvent::DefinitionMigrated(m) => {
                if let Some((id, version)) = self.definition_of.get_mut(&e.stream_id) {
                    if let Some(to) = m.to_id {
                        *id = to;
                    }
                    *version = m.to_version;
                }
                return Ok(());
            }
            RolloutEvent::StepCompleted(done) => done,
            _ => return Ok(()),
        };
        let Some((definition, version)) = self.definition_of.get(&e.stream_id).cloned() else {
            return Ok(());
        };
        let fields: Vec<String> = self
            .fields
            .iter()
            .filter(|f| f.definition == definition && f.version == version && f.step == done.step)
            .map(|f| f.field.clone())
            .collect();
        let ars = e.stream_id.rsplit(':').next().unwrap_or(&self.land).to_owned();
        let mut payload: Value =
            serde_json::from_str(e.data.as_str()).map_err(|err| EngineError::Unreadable(err.to_string()))?;
        let mut changed = false;
        for field in fields {
            let Some(name) = done.evidence.get(&field).and_then(|v| v.as_str()).map(str::trim) else {
                continue;
            };
            if name.is_empty() {
                continue;
            }
            let key = (ars.clone(), name.to_owned());
            let id = match self.contacts.get(&key) {
                Some(&id) => id,
                None => {
                    let id = self.register(&ars, name, e.recorded_at)?;
                    self.contacts.insert(key, id);
                    id
                }
            };
            if let Some(slot) = payload.get_mut("evidence").and_then(|ev| ev.get_mut(&field)) {
                *slot = Value::String(id.to_string());
                changed = true;
                self.report.values_moved += 1;
            }
        }
        if changed {
            e.data = Json::from_value(&payload);
        }
        Ok(())
    }
}
