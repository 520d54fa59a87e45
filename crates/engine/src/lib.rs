//! Command handling: load a rollout's events, fold them, `decide`, append the new events with
//! the expected version. Plus the commands that span many streams: importing the catalogue,
//! starting a service's rollout for every administration it applies to, territorial changes,
//! and the Land-level policy that records Land steps in the administrations' rollouts.

mod cache;
mod catalogue;
pub mod deadlines;
pub mod definitions;
pub mod escalation;
pub mod limits;
pub mod logins;
pub mod persons;
pub mod plaintext;
pub mod profile;
pub mod questions;
pub mod rekey;
pub mod retention;
pub mod reuse;
mod starting;
pub mod tokens;
mod turns;
mod write;

use std::sync::{Arc, RwLock};

use catalog::{Catalog, CatalogEvent};
use store::{Actor, EventStore, ExpectedVersion, Json, NewEvent, RecordedEvent, StoreError, Timestamp};
use uuid::Uuid;
use workflow::decide::{decide, Command, Context, Principal, Rejection};
use workflow::rollout::{stream_id, Meta, Rollout};

pub use cache::CacheStats;
pub use deadlines::{spawn_deadline_policy, DEADLINE_ROUND};
pub use definitions::{Published, RolloutMigration, ServiceMigration};
pub use persons::{PersonDetails, PersonRecord, PersonRegistry, Personal, Retention};
pub use retention::spawn_retention_policy;
pub use tokens::{NewToken, TokenIssued, TokenRegistry, TokenRole, TokenSpec};
pub use workflow::Registry;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Rejected(Rejection),
    #[error("the rollout changed meanwhile: expected version {expected}, it is at version {actual}")]
    Conflict { expected: u64, actual: u64 },
    #[error("there is no service `{0}`")]
    UnknownService(String),
    #[error("there is no administration with ARS `{0}`")]
    UnknownAuthority(String),
    #[error("administration `{0}` was dissolved")]
    Dissolved(String),
    #[error("administration `{ars}` is not responsible for service `{service}` (level rule and exceptions)")]
    NotApplicable { service: String, ars: String },
    #[error("there is no definition `{0}`")]
    UnknownDefinition(String),
    #[error("{0}")]
    Publish(workflow::registry::PublishError),
    #[error("{0}")]
    Invalid(String),
    /// Input that is not accepted (a date, a missing category, an administration that is not
    /// responsible); the German message names what and where.
    #[error("{0}")]
    Refused(String),
    #[error("the log holds an event this server cannot read: {0}")]
    Unreadable(String),
    #[error("{0}")]
    InvalidToken(String),
    #[error("there is no token {0}")]
    UnknownToken(Uuid),
    #[error("token {0} is already revoked")]
    TokenAlreadyRevoked(Uuid),
    /// A person's values, a reason or a date that is not accepted; the message names the field.
    #[error("{0}")]
    InvalidPerson(String),
    #[error("there is no person {0}")]
    UnknownPerson(Uuid),
    #[error("person {0} is erased")]
    PersonErased(Uuid),
    #[error("there is no question {0}")]
    UnknownQuestion(Uuid),
    /// A question that is resolved already (or open already, to reopen).
    #[error("{0}")]
    QuestionState(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { expected, actual, .. } => EngineError::Conflict {
                expected: match expected {
                    ExpectedVersion::Exact(v) => v,
                    _ => 0,
                },
                actual,
            },
            other => EngineError::Store(other),
        }
    }
}

impl From<projections::Error> for EngineError {
    fn from(e: projections::Error) -> Self {
        match e {
            projections::Error::Store(e) => e.into(),
            other => EngineError::Unreadable(other.to_string()),
        }
    }
}

/// One call of the engine: who asks, the ids that tie the resulting events together, and the
/// caller's idempotency key and expected version.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub principal: Principal,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    /// The caller's key for this command: a repeat with the same key (and principal) returns the
    /// first result and appends nothing.
    pub idempotency_key: Option<String>,
    /// The rollout version the caller saw; a different one is a `Conflict`.
    pub expected_version: Option<u64>,
}

impl Invocation {
    pub fn new(principal: Principal) -> Self {
        Invocation {
            principal,
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            idempotency_key: None,
            expected_version: None,
        }
    }

    /// The system's own invocation (policies, first start, demo data): the system actor, with
    /// every right, and a fresh correlation id.
    pub fn system() -> Self {
        Invocation::new(Principal { actor: Actor::system(), roles: vec![], admin: true })
    }

    /// The id of the `index`-th event of this request: derived from the idempotency key when
    /// there is one (so a repeat carries the same ids), otherwise a fresh UUID v7.
    fn event_id(&self, index: usize) -> Uuid {
        match &self.idempotency_key {
            None => Uuid::now_v7(),
            Some(key) => {
                let mut h = blake3::Hasher::new();
                h.update(self.principal.actor.id.as_bytes());
                h.update(&[0]);
                h.update(key.as_bytes());
                h.update(&(index as u64).to_be_bytes());
                derived_id(h)
            }
        }
    }

    fn actor(&self) -> &Actor {
        &self.principal.actor
    }
}

/// An event id derived from what `h` has hashed: a UUID version 8 (custom), RFC 9562 variant.
/// The same input gives the same id, so a repeat is found through the store's event-id index.
pub(crate) fn derived_id(h: blake3::Hasher) -> Uuid {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&h.finalize().as_bytes()[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// Every event type this build stores, with its schema version: the rollouts', the
/// catalogue's, the definitions' and the tokens'. A test holds them to `schema/event-types.txt`, so a renamed
/// type (which old logs could no longer be read with) fails it.
pub fn stored_event_types() -> Vec<(&'static str, u32)> {
    let mut all: Vec<(&'static str, u32)> = workflow::RolloutEvent::STORED_TYPES
        .iter()
        .chain(CatalogEvent::STORED_TYPES)
        .copied()
        .chain([
            workflow::registry::DEFINITION_PUBLISHED,
            tokens::TOKEN_ISSUED,
            tokens::TOKEN_REVOKED,
            persons::PERSON_REGISTERED,
            persons::PERSON_LEFT,
            persons::PERSON_ERASED,
            persons::CONTACT_CONSENT_GIVEN,
            persons::CONTACT_CONSENT_WITHDRAWN,
            logins::LOGIN_LINKED,
            logins::ACCESS_CHANGED,
            logins::SESSION_ENDED,
            workflow::registry::STORE_COPIED,
            questions::QUESTION_ASKED,
            questions::QUESTION_ANSWERED,
            questions::QUESTION_RESOLVED,
            questions::QUESTION_REOPENED,
            questions::QUESTION_READ,
            profile::PROFILE_CHOSEN,
        ])
        .collect();
    all.sort_unstable();
    all
}

/// A rollout after a command, and the events the command appended.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub rollout: Rollout,
    pub events: Vec<RecordedEvent>,
}

/// Which state an attempt at a command decides on.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Trust {
    /// The rollout cache's entry, as it is (no question to the store first): this engine's own
    /// appends keep it current; if another process appended since, the append's expected
    /// version is refused by the store and the command is decided again on the store's state.
    Cache,
    /// The store's: the entry is checked against the stream's version and brought forward.
    Store,
}

/// What an attempt came to.
enum Tried {
    /// The state before, and what the command did (boxed: the other variant is empty).
    Done(Box<(Option<Rollout>, Outcome)>),
    /// Decided on the cache's entry, it would have refused (an expected version not its own,
    /// or a rejection): the entry may be behind the log, so it is decided again on the store's
    /// state, which gives the answer.
    Stale,
}

/// What a service-wide start did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartSummary {
    pub started: Vec<String>,
    pub existing: Vec<String>,
}

/// What a territorial change did to the rollouts of a dissolved administration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DissolutionReport {
    pub ars: String,
    /// (service, successor ARS): rollouts taken over by the successor.
    pub moved: Vec<(String, String)>,
    /// Services whose rollout was ended without a takeover (the successor had its own, or there
    /// were several successors).
    pub closed: Vec<String>,
}

/// What a catalogue import did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportReport {
    pub events: usize,
    pub dissolutions: Vec<DissolutionReport>,
}

pub struct Engine {
    store: Arc<dyn EventStore>,
    registry: Arc<Registry>,
    /// The catalogue, folded from the log at open, kept current by this engine's appends and
    /// by `follow_log` (another server's changes). Small (hundreds of entries).
    catalog: RwLock<Catalog>,
    /// Every token, folded from the token streams at open; `follow_tokens` keeps it current.
    tokens: Arc<TokenRegistry>,
    /// Every person (ids and ciphertext, no plaintext: `persons.rs`), folded like the tokens.
    persons: persons::PersonRegistry,
    /// Logins, access and ended sessions (`logins.rs`), folded from the same streams.
    logins: logins::LoginRegistry,
    /// Every question thread (`questions.rs`), folded like the tokens.
    questions: questions::QuestionBoard,
    /// The Land's profile (`profile.rs`), read at open.
    profile: RwLock<catalog::profile::StoredProfile>,
    /// Recently used rollouts' full state (`cache.rs`): a command reads only the events its
    /// entry lacks.
    rollouts: cache::RolloutCache,
    /// This engine's commands on one rollout take turns.
    turns: turns::StreamLocks,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("store", &self.store).finish_non_exhaustive()
    }
}

fn new_event(type_and_version: (&str, u32), payload: serde_json::Value, req: &Invocation) -> NewEvent {
    new_event_at(type_and_version, payload, req, 0)
}

fn new_event_at(
    type_and_version: (&str, u32),
    payload: serde_json::Value,
    req: &Invocation,
    index: usize,
) -> NewEvent {
    NewEvent {
        event_id: req.event_id(index),
        event_type: type_and_version.0.to_owned(),
        schema_version: type_and_version.1,
        actor: req.actor().clone(),
        correlation_id: req.correlation_id,
        causation_id: req.causation_id,
        data: Json::from_value(&payload),
    }
}

impl Engine {
    /// Opens the engine on a store; reads the catalogue, the published definitions (into
    /// `registry`, which the read models share) and the tokens from their streams.
    pub async fn open(store: Arc<dyn EventStore>, registry: Arc<Registry>) -> Result<Engine, EngineError> {
        Engine::open_with_cache(store, registry, limits::ROLLOUT_CACHE_ENTRIES).await
    }

    /// [`Engine::open`] keeping the full state of at most `cache_entries` rollouts (0: none;
    /// every command folds its stream).
    pub async fn open_with_cache(
        store: Arc<dyn EventStore>,
        registry: Arc<Registry>,
        cache_entries: usize,
    ) -> Result<Engine, EngineError> {
        let mut catalog = Catalog::default();
        for e in store::read_categories(
            &*store,
            &[
                catalog::events::AUTHORITY_STREAM_PREFIX,
                catalog::events::SERVICE_STREAM_PREFIX,
                vocab::names::TARGETS_STREAM,
            ],
        )
        .await?
        {
            if let Some(decoded) = CatalogEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str())
            {
                catalog.apply(&e.stream_id, &decoded.map_err(EngineError::Unreadable)?);
            }
        }
        // A re-keyed copy's first event says which text fields hold persons.
        let prefixes = [workflow::registry::DEFINITION_STREAM_PREFIX, workflow::registry::STORE_COPY_STREAM];
        for e in store::read_categories(&*store, &prefixes).await? {
            definitions::learn(&registry, &e)?;
        }
        let tokens = TokenRegistry::default();
        for e in store::read_categories(&*store, &[tokens::TOKEN_STREAM_PREFIX]).await? {
            tokens.apply(&e);
        }
        let (persons, logins) = (persons::PersonRegistry::default(), logins::LoginRegistry::default());
        for e in store::read_categories(&*store, &[persons::PERSON_STREAM_PREFIX]).await? {
            persons.apply(&e);
            logins.apply(&e);
        }
        let questions = questions::QuestionBoard::default();
        for e in store::read_categories(&*store, &[questions::QUESTION_STREAM_PREFIX]).await? {
            questions.apply(&e);
        }
        let profile = profile::read(&*store).await?.unwrap_or_else(profile::default_profile);
        let engine = Engine {
            profile: RwLock::new(profile),
            store,
            registry,
            catalog: RwLock::new(catalog),
            tokens: Arc::new(tokens),
            persons,
            logins,
            questions,
            rollouts: cache::RolloutCache::new(cache_entries),
            turns: turns::StreamLocks::default(),
        };
        engine.finish_erasures().await?;
        Ok(engine)
    }

    /// Keeps this engine following the log from position `after` + 1: tokens, definitions and
    /// catalogue changes made through another server on the same database take effect here
    /// too (this engine's own appends, met again, change nothing).
    pub fn follow_log(self: &Arc<Self>, after: u64) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut events = store::subscribe(engine.store.clone(), after + 1);
            loop {
                match events.next().await {
                    Ok(Some(e)) => engine.follow(&e),
                    Ok(None) => return,
                    Err(err) => {
                        tracing::error!(error = %err, "the engine stopped following the log");
                        return;
                    }
                }
            }
        })
    }

    fn follow(&self, e: &RecordedEvent) {
        self.tokens.apply(e);
        self.questions.apply(e);
        self.logins.apply(e);
        if let (Some(erased), Some(keys)) = (self.persons.apply(e), self.store.key_store()) {
            // Erased through another server: its key store did it; this one forgets any copy.
            tokio::spawn(async move {
                if let Err(err) = keys.destroy(&[erased]).await {
                    tracing::error!(person = %erased, error = %err, "destroying an erased person's key failed");
                }
            });
        }
        if let Err(err) = definitions::learn(&self.registry, e) {
            tracing::error!(position = e.position, error = %err, "an unreadable definition publication");
        }
        if let Some(decoded) = CatalogEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str()) {
            match decoded {
                Ok(event) => self.catalog.write().unwrap_or_else(|p| p.into_inner()).apply_at(
                    &e.stream_id,
                    e.version,
                    &event,
                ),
                Err(err) => {
                    tracing::error!(position = e.position, error = %err, "an unreadable catalogue event")
                }
            }
        }
    }

    /// The clock's now: the store's clock, which also stamps the events.
    pub fn now(&self) -> Timestamp {
        self.store.clock().now()
    }

    /// The tokens, as this engine knows them.
    pub fn tokens(&self) -> &Arc<TokenRegistry> {
        &self.tokens
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// A copy of the catalogue.
    pub fn catalog(&self) -> Catalog {
        self.catalog.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the catalogue in place (no copy): for a lookup in a request.
    pub fn read_catalog<R>(&self, f: impl FnOnce(&Catalog) -> R) -> R {
        f(&self.catalog.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The rollout of `service_key` at `ars` as its stream has it now. The stream's version
    /// comes from the store's index; the state from the rollout cache when it holds that
    /// version, brought forward from an older entry with the events after it, or folded.
    pub async fn load(&self, service_key: &str, ars: &str) -> Result<Option<Rollout>, EngineError> {
        let stream = stream_id(service_key, ars);
        let version = self.store.stream_version(&stream).await?;
        if version == 0 {
            return Ok(None);
        }
        let start = match self.rollouts.get(&stream, version) {
            Some(r) if r.version == version => {
                self.rollouts.counted(cache::Outcome::Hit, 0);
                return Ok(Some(Rollout::clone(&r)));
            }
            other => other.map(|r| Rollout::clone(&r)),
        };
        let outcome = if start.is_some() { cache::Outcome::Advanced } else { cache::Outcome::Miss };
        let (rollout, read) =
            projections::continue_rollout(&*self.store, &*self.registry, service_key, ars, start).await?;
        self.rollouts.counted(outcome, read);
        if let Some(r) = &rollout {
            self.rollouts.put(&stream, r);
        }
        Ok(rollout)
    }

    /// What the rollout cache holds and did (for `/metrics` and benchmarks).
    pub fn cache_stats(&self) -> cache::CacheStats {
        self.rollouts.stats()
    }

    /// Decides `command` on the rollout and appends the events. A concurrent change between
    /// reading and appending is a `Conflict`, never a lost update.
    pub async fn execute(
        &self,
        service_key: &str,
        ars: &str,
        command: Command,
        req: &Invocation,
    ) -> Result<Outcome, EngineError> {
        let (before, outcome) = self.execute_one(service_key, ars, command, req).await?;
        if ars == self.central_ars(service_key) {
            self.propagate_land_steps(before.as_ref(), &outcome.rollout, outcome.events.first(), req).await?;
        }
        Ok(outcome)
    }

    /// `execute` without the Land-level policy; returns the state before, too. This engine's
    /// commands on one rollout take turns; without an expected version the command acts on the
    /// current state: when another process appended between reading and appending, it is
    /// decided again on the new state (up to [`limits::COMMAND_ATTEMPTS_MAX`] times), so only a
    /// caller that named a version sees `Conflict`.
    pub(crate) async fn execute_one(
        &self,
        service_key: &str,
        ars: &str,
        command: Command,
        req: &Invocation,
    ) -> Result<(Option<Rollout>, Outcome), EngineError> {
        let turn = self.turns.of(&stream_id(service_key, ars));
        let _turn = turn.lock().await;
        let mut attempt = 1;
        // The first attempt decides on the cached state without asking the store for the
        // stream's version; the store's expected-version check catches a stale entry.
        let mut state = Trust::Cache;
        loop {
            match self.attempt(service_key, ars, &command, req, state).await {
                Ok(Tried::Stale) => state = Trust::Store,
                Ok(Tried::Done(done)) => return Ok(*done),
                Err(EngineError::Conflict { .. })
                    if req.expected_version.is_none() && attempt < limits::COMMAND_ATTEMPTS_MAX =>
                {
                    // Another process appended meanwhile: decide again on what it left, a little
                    // later each time.
                    attempt += 1;
                    state = Trust::Store;
                    tokio::time::sleep(std::time::Duration::from_micros(50 * u64::from(attempt))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn attempt(
        &self,
        service_key: &str,
        ars: &str,
        command: &Command,
        req: &Invocation,
        trust: Trust,
    ) -> Result<Tried, EngineError> {
        if req.idempotency_key.is_some() {
            if let Some(outcome) = self.replay(service_key, ars, req).await? {
                return Ok(Tried::Done(Box::new((None, outcome))));
            }
        }
        let cached = match trust {
            Trust::Cache => self.rollouts.get(&stream_id(service_key, ars), u64::MAX),
            Trust::Store => None,
        };
        let (state, from_cache) = match cached {
            Some(r) => {
                self.rollouts.counted(cache::Outcome::Hit, 0);
                (Some(Rollout::clone(&r)), true)
            }
            None => (self.load(service_key, ars).await?, false),
        };
        let actual = state.as_ref().map_or(0, |r| r.version);
        if let Some(expected) = req.expected_version {
            if expected != actual {
                if from_cache {
                    // The entry may be behind the log: the store decides.
                    return Ok(Tried::Stale);
                }
                return Err(EngineError::Conflict { expected, actual });
            }
        }
        let before = state.clone();
        let cx = Context {
            principal: req.principal.clone(),
            now: self.now(),
            facts: self.facts(service_key, ars),
        };
        let events = match decide(state.as_ref(), command, &cx) {
            Ok(events) => events,
            // Refused on a state that may be behind the log: decided again on the store's.
            Err(_) if from_cache => return Ok(Tried::Stale),
            Err(why) => return Err(EngineError::Rejected(why)),
        };
        if let Some(r) = &state {
            self.check_persons_named(r, &events)?;
        }
        let expected = match &state {
            Some(r) => ExpectedVersion::Exact(r.version),
            None => ExpectedVersion::NoStream,
        };
        let new: Vec<NewEvent> =
            events.iter().map(|e| new_event(e.stored_type(), e.to_payload(), req)).collect();
        let recorded = self.store.append(&stream_id(service_key, ars), expected, new).await?;
        let mut rollout = state;
        for (event, stored) in events.iter().zip(&recorded) {
            let meta = Meta { at: stored.recorded_at, actor: &stored.actor };
            rollout = Some(
                Rollout::evolve(rollout, event, &meta, &*self.registry)
                    .map_err(|why| EngineError::Unreadable(why.to_string()))?,
            );
        }
        let rollout = rollout.ok_or_else(|| EngineError::Unreadable("a command appended nothing".into()))?;
        self.rollouts.put(&stream_id(service_key, ars), &rollout);
        Ok(Tried::Done(Box::new((before, Outcome { rollout, events: recorded }))))
    }

    /// A repeat of an idempotent request: the events its key names are stored already. The
    /// event-id index answers whether its first event is stored; only then are its events read
    /// (by id, in order) and the rollout loaded.
    async fn replay(
        &self,
        service_key: &str,
        ars: &str,
        req: &Invocation,
    ) -> Result<Option<Outcome>, EngineError> {
        let stream = stream_id(service_key, ars);
        let mut found: Vec<RecordedEvent> = Vec::new();
        while let Some(e) = self.store.read_event_by_id(req.event_id(found.len())).await? {
            if e.stream_id != stream {
                // The same key for another rollout: `api` scopes keys by rollout, so this is a
                // caller's own key collision; it is not the repeat of this command.
                break;
            }
            found.push(e);
            if found.len() >= store::limits::EVENTS_PER_APPEND_MAX {
                break;
            }
        }
        if found.is_empty() {
            return Ok(None);
        }
        let rollout = self
            .load(service_key, ars)
            .await?
            .ok_or_else(|| EngineError::Unreadable("a replayed rollout is empty".into()))?;
        Ok(Some(Outcome { rollout, events: found }))
    }
}
