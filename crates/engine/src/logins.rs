//! Persons who sign in through an identity provider (OpenID Connect).
//!
//! The identity of a login is the pair (issuer, subject), never the e-mail. The first login
//! registers a person (name and e-mail sealed under the person's key like every person datum)
//! and links the login to it (`LoginLinked`: the subject sealed under the person's key, and a
//! lookup hash keyed with the store's login key, so no plain subject is ever stored); it
//! records the access the issuer's mapping gave (`AccessChanged`). A later login appends
//! `AccessChanged` only when the mapped role or administrations differ, with the issuer's
//! mapping as the actor, so the audit shows who got which right and since when. Erasing the
//! person forgets the login: the registry drops its lookup and the sealed subject cannot be
//! opened any more, so the same human signing in again is a new person.
//!
//! A session ended by its person or revoked by a project manager is `SessionEnded` on the
//! person's stream: every server following the log refuses the session from then on.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use store::{Actor, ActorKind, ExpectedVersion, RecordedEvent, Timestamp};
use uuid::Uuid;

use crate::persons::{person_stream, sealed_text, PersonDetails, PERSON_ERASED, PERSON_REGISTERED};
use crate::{EngineError, Invocation, TokenRole};

/// Stored event type names and schema versions.
pub const LOGIN_LINKED: (&str, u32) = ("LoginLinked", 1);
pub const ACCESS_CHANGED: (&str, u32) = ("AccessChanged", 1);
pub const SESSION_ENDED: (&str, u32) = ("SessionEnded", 1);

/// The id, in the store's key store, of the key that hashes logins for their lookup (never a
/// person's id: version 8, all ones but the version and variant bits).
pub const LOGIN_LOOKUP_KEY: Uuid = Uuid::from_u128(0x10000000_0000_8000_8000_000000000001);

/// The access an issuer's mapping gives a person: a role and the administrations it acts for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    pub role: TokenRole,
    /// ARS, sorted, without repeats.
    pub authorities: Vec<String>,
}

/// A login as the identity provider vouched for it (its ID token checked).
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// The issuer's identifier, exactly as configured.
    pub issuer: String,
    /// The issuer's label, for the actor of the changes its mapping makes.
    pub issuer_label: String,
    pub subject: String,
    pub name: String,
    pub email: Option<String>,
    pub access: Access,
}

impl std::fmt::Debug for Login {
    /// Without the personal values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("issuer", &self.issuer)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

/// The payload of `LoginLinked`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginLinked {
    pub person_id: Uuid,
    pub issuer: String,
    /// Hex of blake3 keyed with the login key over issuer and subject.
    pub lookup: String,
    /// Base64 of the subject sealed with the person's key.
    pub sealed: String,
}

/// The payload of `AccessChanged`: the access the issuer's mapping now gives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessChanged {
    pub person_id: Uuid,
    pub issuer: String,
    #[serde(flatten)]
    pub access: Access,
}

/// The payload of `SessionEnded`: signed out, or revoked (the actor says by whom).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionEnded {
    pub person_id: Uuid,
    pub session_id: Uuid,
    pub reason: String,
}

/// A person's access as last recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Granted {
    pub access: Access,
    pub issuer: String,
    pub since: Timestamp,
}

/// Logins, access and ended sessions, folded from the person streams (one entry per person
/// who signed in: tens of thousands at most; ended sessions for a day after their end, longer
/// than any session lives).
#[derive(Debug)]
pub struct LoginRegistry {
    inner: RwLock<Folded>,
    /// Counts the sessions ended and persons erased; a WebSocket signed in by a session checks
    /// it again when this moves.
    ended: tokio::sync::watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Folded {
    by_lookup: HashMap<String, Uuid>,
    access: HashMap<Uuid, Granted>,
    ended: HashMap<Uuid, Timestamp>,
}

/// How long an ended session is remembered (longer than any session lives).
const ENDED_KEPT_MICROS: i64 = 24 * 3600 * 1_000_000;

impl Default for LoginRegistry {
    fn default() -> Self {
        LoginRegistry { inner: RwLock::default(), ended: tokio::sync::watch::Sender::new(0) }
    }
}

impl LoginRegistry {
    fn folded(&self) -> std::sync::RwLockWriteGuard<'_, Folded> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies an event of the log; other events are ignored, a repeat changes nothing.
    pub fn apply(&self, e: &RecordedEvent) {
        if !e.stream_id.starts_with(crate::persons::PERSON_STREAM_PREFIX) {
            return;
        }
        let ty = e.event_type.as_str();
        if ty == LOGIN_LINKED.0 {
            if let Ok(l) = e.data.decode::<LoginLinked>() {
                self.folded().by_lookup.insert(l.lookup, l.person_id);
            }
        } else if ty == ACCESS_CHANGED.0 {
            if let Ok(a) = e.data.decode::<AccessChanged>() {
                let granted = Granted { access: a.access, issuer: a.issuer, since: e.recorded_at };
                self.folded().access.insert(a.person_id, granted);
            }
        } else if ty == SESSION_ENDED.0 {
            if let Ok(s) = e.data.decode::<SessionEnded>() {
                let mut f = self.folded();
                let cutoff = e.recorded_at.unix_micros() - ENDED_KEPT_MICROS;
                f.ended.retain(|_, at| at.unix_micros() >= cutoff);
                f.ended.insert(s.session_id, e.recorded_at);
                drop(f);
                self.ended.send_modify(|n| *n += 1);
            }
        } else if ty == PERSON_ERASED.0 {
            if let Ok(x) = e.data.decode::<crate::persons::PersonErased>() {
                let mut f = self.folded();
                f.by_lookup.retain(|_, p| *p != x.person_id);
                f.access.remove(&x.person_id);
                drop(f);
                self.ended.send_modify(|n| *n += 1);
            }
        }
    }

    /// The person a login's lookup hash is linked to.
    pub fn person_of(&self, lookup: &str) -> Option<Uuid> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).by_lookup.get(lookup).copied()
    }

    /// A person's access as last recorded (persons who never signed in have none).
    pub fn access_of(&self, person: Uuid) -> Option<Granted> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).access.get(&person).cloned()
    }

    /// Every person's access as last recorded.
    pub fn all_access(&self) -> Vec<(Uuid, Granted)> {
        let f = self.inner.read().unwrap_or_else(|p| p.into_inner());
        f.access.iter().map(|(p, g)| (*p, g.clone())).collect()
    }

    /// Whether the session `id` was ended (signed out or revoked).
    pub fn is_ended(&self, id: Uuid) -> bool {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).ended.contains_key(&id)
    }

    /// Moves whenever a session ends or a person is erased.
    pub fn endings(&self) -> tokio::sync::watch::Receiver<u64> {
        self.ended.subscribe()
    }
}

/// The lookup hash of (issuer, subject) under the login key.
fn lookup(key: &store::Key, issuer: &str, subject: &str) -> String {
    let mut h = blake3::Hasher::new_keyed(key.expose());
    h.update(&(issuer.len() as u64).to_le_bytes());
    h.update(issuer.as_bytes());
    h.update(subject.as_bytes());
    h.finalize().to_hex().to_string()
}

/// What a sign-in did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub person: Uuid,
    /// The first login: the person was registered now.
    pub registered: bool,
    /// The mapped access differed from the recorded one: `AccessChanged` was appended.
    pub access_changed: bool,
}

/// The invocation of an issuer's mapping: the actor of the changes a login makes.
fn mapping_of(login: &Login) -> Invocation {
    Invocation::new(workflow::decide::Principal {
        actor: Actor {
            id: format!("idp:{}", login.issuer),
            name: format!("Zuordnung des Anmeldedienstes {}", login.issuer_label),
            kind: ActorKind::System,
            person: None,
        },
        roles: vec![],
        admin: false,
    })
}

impl crate::Engine {
    /// The logins, access and ended sessions, as this engine knows them.
    pub fn logins(&self) -> &LoginRegistry {
        &self.logins
    }

    /// Signs a login in: registers its person at the first login, records the mapped access
    /// when it differs from the recorded one. The access's administrations must be known.
    pub async fn sign_in(&self, login: &Login) -> Result<SignedIn, EngineError> {
        let keys = self
            .store
            .key_store()
            .ok_or_else(|| EngineError::Invalid("this store keeps no keys, so no one can sign in".into()))?;
        let home = self.home_of(&login.access)?;
        let hash = lookup(&keys.create(LOGIN_LOOKUP_KEY).await?, &login.issuer, &login.subject);
        // Two first logins of one subject at once on this server register one person.
        let turn = self.turns.of(&format!("login-{hash}"));
        let _turn = turn.lock().await;
        let req = mapping_of(login);
        let changed = AccessChanged {
            person_id: Uuid::nil(),
            issuer: login.issuer.clone(),
            access: login.access.clone(),
        };
        if let Some(person) = self.logins.person_of(&hash).filter(|p| self.living_person(*p).is_ok()) {
            let recorded = self.logins.access_of(person);
            if recorded.is_some_and(|g| g.access == login.access && g.issuer == login.issuer) {
                return Ok(SignedIn { person, registered: false, access_changed: false });
            }
            let payload = AccessChanged { person_id: person, ..changed };
            self.append_login_events(person, None, vec![(ACCESS_CHANGED, json(&payload)?)], &req).await?;
            return Ok(SignedIn { person, registered: false, access_changed: true });
        }
        let id = Uuid::now_v7();
        let key = keys.create(id).await?;
        let details = login_details(login).map_err(EngineError::InvalidPerson)?;
        let registered = crate::persons::PersonRegistered {
            person_id: id,
            ars: home,
            sealed: sealed_text(&key, id, &details)?,
        };
        let subject = key.seal(id.as_bytes(), login.subject.as_bytes())?;
        let linked = LoginLinked {
            person_id: id,
            issuer: login.issuer.clone(),
            lookup: hash,
            sealed: base64::engine::general_purpose::STANDARD.encode(subject),
        };
        let events = vec![
            (PERSON_REGISTERED, json(&registered)?),
            (LOGIN_LINKED, json(&linked)?),
            (ACCESS_CHANGED, json(&AccessChanged { person_id: id, ..changed })?),
        ];
        self.append_login_events(id, Some(ExpectedVersion::NoStream), events, &req).await?;
        Ok(SignedIn { person: id, registered: true, access_changed: true })
    }

    /// Records that a session of `person` ended (signed out, or revoked by `req`'s actor).
    pub async fn end_session(
        &self,
        person: Uuid,
        session: Uuid,
        reason: &str,
        req: &Invocation,
    ) -> Result<(), EngineError> {
        let ended = SessionEnded { person_id: person, session_id: session, reason: reason.to_owned() };
        self.append_login_events(person, None, vec![(SESSION_ENDED, json(&ended)?)], req).await
    }

    /// The administration a person with `access` is registered for: the first of its
    /// administrations, else the Land (or, for association staff, the association). Every
    /// administration must be in the catalogue.
    fn home_of(&self, access: &Access) -> Result<String, EngineError> {
        let catalog = self.catalog.read().unwrap_or_else(|p| p.into_inner());
        if let Some(unknown) = access.authorities.iter().find(|a| !catalog.authorities.contains_key(*a)) {
            return Err(EngineError::UnknownAuthority(unknown.clone()));
        }
        let central = match access.role {
            TokenRole::AssociationStaff => catalog.association_ars(),
            _ => catalog.land_ars(),
        };
        access
            .authorities
            .first()
            .cloned()
            .or(central)
            .ok_or_else(|| EngineError::Invalid("the catalogue names no Land administration".into()))
    }

    /// Appends login events to a person's stream (at `expected`, or after the stream as it is
    /// when a living person's), applies them to the registries.
    async fn append_login_events(
        &self,
        person: Uuid,
        expected: Option<ExpectedVersion>,
        events: Vec<((&str, u32), serde_json::Value)>,
        req: &Invocation,
    ) -> Result<(), EngineError> {
        let new: Vec<_> =
            events.into_iter().enumerate().map(|(i, (ty, p))| crate::new_event_at(ty, p, req, i)).collect();
        let recorded = match expected {
            Some(expected) => self.store.append(&person_stream(person), expected, new).await?,
            None => {
                self.decide_on_stream(&person_stream(person), |stored| {
                    let folded = crate::PersonRegistry::default();
                    stored.iter().for_each(|e| {
                        folded.apply(e);
                    });
                    crate::persons::decide_person(folded.get(person).as_ref(), person)?;
                    Ok(new.clone())
                })
                .await?
            }
        };
        for e in &recorded {
            self.persons.apply(e);
            self.logins.apply(e);
        }
        Ok(())
    }
}

fn json(payload: &impl Serialize) -> Result<serde_json::Value, EngineError> {
    serde_json::to_value(payload).map_err(|e| EngineError::Invalid(e.to_string()))
}

/// The person values of a login, checked like any person's; an e-mail address the check
/// refuses is left out rather than refusing the login.
fn login_details(login: &Login) -> Result<PersonDetails, String> {
    let with_email =
        PersonDetails { name: login.name.clone(), email: login.email.clone(), ..Default::default() };
    match with_email.clone().checked() {
        Ok(d) => Ok(d),
        Err(e) if e.starts_with("email") => PersonDetails { email: None, ..with_email }.checked(),
        Err(e) => Err(e),
    }
}
