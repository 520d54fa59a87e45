//! Persons as records (contact people, the people behind tokens), with crypto-shredding.
//!
//! A person's personal values (name, function, e-mail, phone) are sealed with the person's own
//! key (`store::keys`) before they are appended: the log holds only the ciphertext
//! (`PersonRegistered.sealed`), the key lives in the store's key store, never in the log.
//! Erasing a person (`Engine::erase_person`) appends `PersonErased` (who, when, why — not the
//! data) and then destroys the key; the event hashes, and so `rollout verify`, do not change.
//! Every read goes through [`Engine::person_details`], which says `Erased` from the moment the
//! erasure is in the log, whether or not the key is already gone.
//!
//! Streams `person-<id>`; the registry (ids, administrations, ciphertext, dates: no plaintext)
//! is folded from them at open and follows the log.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use store::{Actor, ExpectedVersion, Key, RecordedEvent, Timestamp};
use uuid::Uuid;
use workflow::evidence::FieldType;

use crate::limits::{PERSON_FIELD_CHARS_MAX, PERSON_REASON_CHARS_MAX};
use crate::{EngineError, Invocation};

/// A retention period (`P2Y`, `P18M`, `P90D`).
pub use workflow::duration::Period as Retention;

/// Stored event type names and schema versions of the person streams.
pub const PERSON_REGISTERED: (&str, u32) = ("PersonRegistered", 1);
pub const PERSON_LEFT: (&str, u32) = ("PersonLeft", 1);
pub const PERSON_ERASED: (&str, u32) = ("PersonErased", 1);
pub const CONTACT_CONSENT_GIVEN: (&str, u32) = ("ContactConsentGiven", 1);
pub const CONTACT_CONSENT_WITHDRAWN: (&str, u32) = ("ContactConsentWithdrawn", 1);

/// What a consent for every service is recorded as.
pub const ALL_SERVICES: &str = "*";

/// The prefix of every person stream.
pub use vocab::names::PERSON_STREAM_PREFIX;

/// The reason recorded when erasing a person revokes the person's tokens.
pub const TOKEN_OF_ERASED_PERSON: &str = "die Person dieses Tokens wurde gelöscht";

/// What every read path shows instead of an erased person's values.
pub const ERASED_TEXT: &str = "[gelöscht]";
/// What it shows when the key is missing though the person was not erased (a log imported
/// without its keys file).
pub const UNAVAILABLE_TEXT: &str = "[nicht verfügbar]";

pub fn person_stream(id: Uuid) -> String {
    format!("{PERSON_STREAM_PREFIX}{id}")
}

/// A person's personal values in plain text: only ever in memory, never in the log or a file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonDetails {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl PersonDetails {
    /// Trims the values; the message names the field that is wrong.
    pub(crate) fn checked(self) -> Result<PersonDetails, String> {
        let trimmed = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let details = PersonDetails {
            name: self.name.trim().to_owned(),
            function: trimmed(self.function),
            email: trimmed(self.email),
            phone: trimmed(self.phone),
        };
        if !vocab::text::has_visible(&details.name) {
            return Err("name: a person needs a name".into());
        }
        for (field, value) in [
            ("name", Some(&details.name)),
            ("function", details.function.as_ref()),
            ("email", details.email.as_ref()),
            ("phone", details.phone.as_ref()),
        ] {
            if let Some(v) = value {
                if v.chars().count() > PERSON_FIELD_CHARS_MAX {
                    return Err(format!("{field}: has more than {PERSON_FIELD_CHARS_MAX} characters"));
                }
                if let Some(problem) = vocab::text::problem(v, field) {
                    return Err(problem);
                }
                if v.chars().any(char::is_control) {
                    return Err(format!("{field}: must not contain control characters"));
                }
            }
        }
        if let Some(email) = &details.email {
            FieldType::Email
                .check(&serde_json::Value::String(email.clone()))
                .map_err(|e| format!("email: {e}"))?;
        }
        if let Some(phone) = &details.phone {
            let ok = phone.chars().all(|c| c.is_ascii_digit() || " +-/()".contains(c))
                && phone.chars().filter(char::is_ascii_digit).count() >= 3;
            if !ok {
                return Err(format!("phone: {phone:?} is not a phone number (digits, spaces, + - / ( ))"));
            }
        }
        Ok(details)
    }
}

/// The payload of `PersonRegistered`: no plaintext.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonRegistered {
    pub person_id: Uuid,
    /// The administration the person works for.
    pub ars: String,
    /// Base64 of the person's [`PersonDetails`] as JSON, sealed with the person's key
    /// (XChaCha20-Poly1305, the person id as associated data).
    pub sealed: String,
}

/// The payload of `PersonLeft`: the person left the administration (the retention clock starts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonLeft {
    pub person_id: Uuid,
    /// `YYYY-MM-DD`.
    pub left_on: String,
    pub reason: String,
}

/// The payload of `PersonErased`: who erased is the event's actor; not the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonErased {
    pub person_id: Uuid,
    pub reason: String,
}

/// The payload of `ContactConsentGiven` and `ContactConsentWithdrawn`: the person agrees (or no
/// longer agrees) to be named as a contact for a service in the OZG network; no service: for
/// every service (withdrawn without a service: every consent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactConsent {
    pub person_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_key: Option<String>,
    /// Why (how the person agreed, or why it ends); events before it was asked for have none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// An erasure as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Erasure {
    pub at: Timestamp,
    pub by: Actor,
    pub reason: String,
}

/// A person as the registry keeps it: ids, dates and the ciphertext; no plaintext.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonRecord {
    pub id: Uuid,
    pub ars: String,
    pub sealed: Vec<u8>,
    pub registered_at: Timestamp,
    pub registered_by: Actor,
    pub left_on: Option<String>,
    pub erased: Option<Erasure>,
    /// The services the person agreed to be named as a network contact for ([`ALL_SERVICES`]:
    /// every one).
    pub consents: std::collections::BTreeSet<String>,
}

impl PersonRecord {
    /// May be named as a network contact for `service` now: consented, neither left nor erased.
    pub fn named_for(&self, service: &str) -> bool {
        self.erased.is_none()
            && self.left_on.is_none()
            && (self.consents.contains(ALL_SERVICES) || self.consents.contains(service))
    }
}

/// What can be read of a person's values.
#[derive(Clone, Debug, PartialEq)]
pub enum Personal {
    Readable(PersonDetails),
    /// Erased: shown as [`ERASED_TEXT`].
    Erased,
    /// The key is not in this store (imported without keys) or the ciphertext does not open.
    Unavailable,
}

/// Every person, folded from the person streams (tens of thousands at most: in memory, about
/// 300 bytes each).
#[derive(Debug, Default)]
pub struct PersonRegistry {
    by_id: RwLock<HashMap<Uuid, PersonRecord>>,
}

impl PersonRegistry {
    // Long: one arm per person event: the table of what each changes.
    /// Applies an event of the log; other streams' events are ignored, a repeat changes nothing.
    /// Returns the id of a person this event erased, the first time it is applied.
    pub fn apply(&self, e: &RecordedEvent) -> Option<Uuid> {
        if !e.stream_id.starts_with(PERSON_STREAM_PREFIX) {
            return None;
        }
        let mut map = self.by_id.write().unwrap_or_else(|p| p.into_inner());
        let unreadable = |err: String| {
            tracing::warn!(position = e.position, error = %err, "an unreadable person event");
            None
        };
        match e.event_type.as_str() {
            t if t == PERSON_REGISTERED.0 => {
                let r = match e.data.decode::<PersonRegistered>() {
                    Ok(r) => r,
                    Err(err) => return unreadable(err.to_string()),
                };
                let sealed = base64::engine::general_purpose::STANDARD.decode(&r.sealed).unwrap_or_default();
                map.entry(r.person_id).or_insert(PersonRecord {
                    id: r.person_id,
                    ars: r.ars,
                    sealed,
                    registered_at: e.recorded_at,
                    registered_by: e.actor.clone(),
                    left_on: None,
                    erased: None,
                    consents: Default::default(),
                });
                None
            }
            t if t == CONTACT_CONSENT_GIVEN.0 || t == CONTACT_CONSENT_WITHDRAWN.0 => {
                let c = match e.data.decode::<ContactConsent>() {
                    Ok(c) => c,
                    Err(err) => return unreadable(err.to_string()),
                };
                if let Some(p) = map.get_mut(&c.person_id) {
                    let key = c.service_key.unwrap_or_else(|| ALL_SERVICES.to_owned());
                    match (t == CONTACT_CONSENT_GIVEN.0, key == ALL_SERVICES) {
                        (true, _) => {
                            p.consents.insert(key);
                        }
                        (false, true) => p.consents.clear(),
                        (false, false) => {
                            p.consents.remove(&key);
                        }
                    }
                }
                None
            }
            t if t == PERSON_LEFT.0 => {
                let l = match e.data.decode::<PersonLeft>() {
                    Ok(l) => l,
                    Err(err) => return unreadable(err.to_string()),
                };
                if let Some(p) = map.get_mut(&l.person_id) {
                    p.left_on = Some(l.left_on);
                }
                None
            }
            t if t == PERSON_ERASED.0 => {
                let x = match e.data.decode::<PersonErased>() {
                    Ok(x) => x,
                    Err(err) => return unreadable(err.to_string()),
                };
                let p = map.get_mut(&x.person_id)?;
                if p.erased.is_some() {
                    return None;
                }
                p.erased = Some(Erasure { at: e.recorded_at, by: e.actor.clone(), reason: x.reason });
                p.consents.clear();
                // The ciphertext is of no use any more; the log keeps it.
                p.sealed = Vec::new();
                Some(x.person_id)
            }
            _ => None,
        }
    }

    /// The registry of `store`'s person streams.
    pub async fn read(store: &dyn store::EventStore) -> Result<PersonRegistry, store::StoreError> {
        let persons = PersonRegistry::default();
        for e in store::read_categories(store, &[PERSON_STREAM_PREFIX]).await? {
            persons.apply(&e);
        }
        Ok(persons)
    }

    /// Whether `id` is a registered person not erased (without copying the record: asked for
    /// every request of a signed-in person).
    pub fn is_living(&self, id: Uuid) -> bool {
        self.by_id.read().unwrap_or_else(|p| p.into_inner()).get(&id).is_some_and(|p| p.erased.is_none())
    }

    pub fn get(&self, id: Uuid) -> Option<PersonRecord> {
        self.by_id.read().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    /// The persons of one administration, in registration order.
    pub fn of_authority(&self, ars: &str) -> Vec<PersonRecord> {
        let map = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<_> = map.values().filter(|p| p.ars == ars).cloned().collect();
        list.sort_by_key(|p| (p.registered_at, p.id));
        list
    }

    /// Every person, in registration order.
    pub fn all(&self) -> Vec<PersonRecord> {
        let map = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<_> = map.values().cloned().collect();
        list.sort_by_key(|p| (p.registered_at, p.id));
        list
    }

    /// Persons that left on or before `cutoff` (`YYYY-MM-DD`) and are not erased: due for
    /// erasure when the retention period before `cutoff` has passed.
    pub fn left_on_or_before(&self, cutoff: &str) -> Vec<Uuid> {
        let map = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        let mut due: Vec<_> = map
            .values()
            .filter(|p| p.erased.is_none() && p.left_on.as_deref().is_some_and(|d| d <= cutoff))
            .map(|p| p.id)
            .collect();
        due.sort_unstable();
        due
    }
}

pub(crate) fn sealed_text(key: &Key, id: Uuid, details: &PersonDetails) -> Result<String, EngineError> {
    let plain = zeroizing_json(details)?;
    let sealed = key.seal(id.as_bytes(), &plain)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

fn zeroizing_json(details: &PersonDetails) -> Result<zeroize::Zeroizing<Vec<u8>>, EngineError> {
    serde_json::to_vec(details).map(zeroize::Zeroizing::new).map_err(|e| EngineError::Invalid(e.to_string()))
}

fn check_reason(reason: &str) -> Result<String, EngineError> {
    let reason = reason.trim();
    if !vocab::text::has_visible(reason)
        || vocab::text::forbidden_char(reason).is_some()
        || reason.chars().count() > PERSON_REASON_CHARS_MAX
    {
        return Err(EngineError::InvalidPerson(format!(
            "reason: give a reason of 1 to {PERSON_REASON_CHARS_MAX} characters"
        )));
    }
    Ok(reason.to_owned())
}

impl crate::Engine {
    /// The persons, as this engine knows them.
    pub fn persons(&self) -> &PersonRegistry {
        &self.persons
    }

    fn key_store(&self) -> Result<std::sync::Arc<dyn store::KeyStore>, EngineError> {
        self.store.key_store().ok_or_else(|| {
            EngineError::Invalid("this store keeps no keys, so it cannot hold personal data".into())
        })
    }

    /// Registers a person of administration `ars`: creates the person's key (durable before
    /// the event), seals the values with it and appends `PersonRegistered`.
    pub async fn register_person(
        &self,
        ars: &str,
        details: PersonDetails,
        req: &Invocation,
    ) -> Result<PersonRecord, EngineError> {
        if !self.catalog.read().unwrap_or_else(|p| p.into_inner()).authorities.contains_key(ars) {
            return Err(EngineError::UnknownAuthority(ars.to_owned()));
        }
        let details = details.checked().map_err(EngineError::InvalidPerson)?;
        let id = Uuid::now_v7();
        let key = self.key_store()?.create(id).await?;
        let registered =
            PersonRegistered { person_id: id, ars: ars.to_owned(), sealed: sealed_text(&key, id, &details)? };
        self.append_person_event(id, ExpectedVersion::NoStream, PERSON_REGISTERED, &registered, req).await
    }

    /// Records that a person left their administration on `left_on` (`YYYY-MM-DD`).
    pub async fn record_person_left(
        &self,
        id: Uuid,
        left_on: &str,
        reason: &str,
        req: &Invocation,
    ) -> Result<PersonRecord, EngineError> {
        self.living_person(id)?;
        FieldType::Date
            .check(&serde_json::Value::String(left_on.to_owned()))
            .map_err(|e| EngineError::InvalidPerson(format!("leftOn: {e}")))?;
        // Within sane bounds: not after today, at most ten years back (an old date would start
        // an erasure by the retention policy at once).
        let today = self.now().to_string();
        let today = &today[..10];
        let earliest =
            format!("{:04}{}", today[..4].parse::<u32>().unwrap_or(0).saturating_sub(10), &today[4..]);
        if left_on > today || left_on < earliest.as_str() {
            return Err(EngineError::InvalidPerson(format!(
                "leftOn: {left_on} liegt nicht zwischen {earliest} und heute ({today})"
            )));
        }
        let left = PersonLeft { person_id: id, left_on: left_on.to_owned(), reason: check_reason(reason)? };
        self.person_command(id, PERSON_LEFT, &left, req).await
    }

    /// Records that a person agrees (`give`) or no longer agrees to be named as a network
    /// contact for `service` (`None`: every service; withdrawn without one: every consent);
    /// effective with the event. A named service must be known.
    pub async fn set_contact_consent(
        &self,
        id: Uuid,
        service: Option<&str>,
        give: bool,
        reason: &str,
        req: &Invocation,
    ) -> Result<PersonRecord, EngineError> {
        self.living_person(id)?;
        let reason = check_reason(reason)?;
        if let Some(key) = service.filter(|_| give) {
            if !self.catalog.read().unwrap_or_else(|p| p.into_inner()).services.contains_key(key) {
                return Err(EngineError::UnknownService(key.to_owned()));
            }
        }
        let consent = ContactConsent { person_id: id, service_key: service.map(str::to_owned), reason };
        let ty = if give { CONTACT_CONSENT_GIVEN } else { CONTACT_CONSENT_WITHDRAWN };
        self.person_command(id, ty, &consent, req).await
    }

    /// Erases a person: appends `PersonErased` (durable), then destroys the key and revokes the
    /// person's tokens. From the
    /// event on every read shows the person as erased; a crash before the key is destroyed is
    /// finished at the next open ([`crate::Engine::open`] destroys the keys of erased persons).
    pub async fn erase_person(
        &self,
        id: Uuid,
        reason: &str,
        req: &Invocation,
    ) -> Result<PersonRecord, EngineError> {
        self.living_person(id)?;
        let erased = PersonErased { person_id: id, reason: check_reason(reason)? };
        let record = self.person_command(id, PERSON_ERASED, &erased, req).await?;
        self.key_store()?.destroy(&[id]).await?;
        // The person's sign-in sessions and their times go with the person.
        if let Some(sessions) = self.store.sessions() {
            sessions.remove_person(id).await?;
        }
        self.revoke_tokens_of(id, req).await?;
        Ok(record)
    }

    /// A person's values as they can be read now.
    pub async fn person_details(&self, id: Uuid) -> Result<Option<Personal>, EngineError> {
        let Some(person) = self.persons.get(id) else { return Ok(None) };
        if person.erased.is_some() {
            return Ok(Some(Personal::Erased));
        }
        let Some(key) = self.key_store()?.get(id).await? else { return Ok(Some(Personal::Unavailable)) };
        let details = key
            .open(id.as_bytes(), &person.sealed)
            .ok()
            .and_then(|plain| serde_json::from_slice::<PersonDetails>(&plain).ok());
        Ok(Some(details.map_or(Personal::Unavailable, Personal::Readable)))
    }

    /// Destroys the keys of every erased person that still has one, and revokes their tokens
    /// still active (an erasure a crash cut short between its event and the key store).
    pub(crate) async fn finish_erasures(&self) -> Result<(), EngineError> {
        let erased: Vec<Uuid> =
            self.persons.all().into_iter().filter(|p| p.erased.is_some()).map(|p| p.id).collect();
        if erased.is_empty() {
            return Ok(());
        }
        if let Some(keys) = self.store.key_store() {
            keys.destroy(&erased).await?;
        }
        for &person in &erased {
            self.revoke_tokens_of(person, &Invocation::system()).await?;
        }
        Ok(())
    }

    /// Revokes the active tokens that name `person` (its erasure ends them).
    async fn revoke_tokens_of(&self, person: Uuid, req: &Invocation) -> Result<(), EngineError> {
        for token in self.tokens().active_of_person(person) {
            match self.revoke_token(token, TOKEN_OF_ERASED_PERSON, req).await {
                Ok(_) | Err(EngineError::TokenAlreadyRevoked(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Every `person` field of evidence the events record names a registered person who is
    /// not erased.
    pub(crate) fn check_persons_named(
        &self,
        rollout: &workflow::rollout::Rollout,
        events: &[workflow::RolloutEvent],
    ) -> Result<(), EngineError> {
        for event in events {
            let workflow::RolloutEvent::StepCompleted(done) = event else { continue };
            let Some(step) = rollout.definition.steps.iter().find(|s| s.id == done.step) else { continue };
            for field in step.evidence.iter().filter(|f| f.ty == FieldType::Person) {
                let Some(value) = done.evidence.get(&field.id).and_then(|v| v.as_str()) else { continue };
                let id = Uuid::parse_str(value).map_err(|_| {
                    EngineError::InvalidPerson(format!("{}: {value:?} is not a person id", field.id))
                })?;
                self.living_person(id)?;
            }
        }
        Ok(())
    }

    /// The person `id`, when it is registered and not erased (as this engine knows it; a
    /// write decides again on the person's stream as stored).
    pub(crate) fn living_person(&self, id: Uuid) -> Result<PersonRecord, EngineError> {
        decide_person(self.persons.get(id).as_ref(), id).cloned()
    }

    /// Decides an event of `payload` on the person as its stream is stored (registered and not
    /// erased: [`decide_person`]) and appends it at that version (decided again after a
    /// concurrent append: `write.rs`); applies it and returns the person.
    async fn person_command(
        &self,
        id: Uuid,
        event_type: (&'static str, u32),
        payload: &impl Serialize,
        req: &Invocation,
    ) -> Result<PersonRecord, EngineError> {
        let payload = serde_json::to_value(payload).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let recorded = self
            .decide_on_stream(&person_stream(id), |events| {
                let folded = PersonRegistry::default();
                events.iter().for_each(|e| {
                    folded.apply(e);
                });
                decide_person(folded.get(id).as_ref(), id)?;
                Ok(vec![crate::new_event(event_type, payload.clone(), req)])
            })
            .await?;
        for e in &recorded {
            self.persons.apply(e);
            self.logins.apply(e);
        }
        self.persons.get(id).ok_or(EngineError::UnknownPerson(id))
    }

    /// Appends one event of `payload` to the person's stream, applies it, and returns the person.
    async fn append_person_event(
        &self,
        id: Uuid,
        expected: ExpectedVersion,
        event_type: (&str, u32),
        payload: &impl Serialize,
        req: &Invocation,
    ) -> Result<PersonRecord, EngineError> {
        let payload = serde_json::to_value(payload).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let recorded = self
            .store
            .append(&person_stream(id), expected, vec![crate::new_event(event_type, payload, req)])
            .await?;
        for e in &recorded {
            self.persons.apply(e);
            self.logins.apply(e);
        }
        self.persons.get(id).ok_or(EngineError::UnknownPerson(id))
    }
}

/// The rule every change of a person obeys: the person is registered and not erased (an
/// erased person's stream takes no further event).
pub fn decide_person(person: Option<&PersonRecord>, id: Uuid) -> Result<&PersonRecord, EngineError> {
    match person {
        None => Err(EngineError::UnknownPerson(id)),
        Some(p) if p.erased.is_some() => Err(EngineError::PersonErased(id)),
        Some(p) => Ok(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_checked_field_by_field() {
        let ok = PersonDetails {
            name: " Erika ".into(),
            email: Some("e@amt.example.de".into()),
            ..Default::default()
        };
        assert_eq!(ok.checked().expect("ok").name, "Erika");
        let cases = [
            (PersonDetails { name: " ".into(), ..Default::default() }, "name:"),
            (PersonDetails { name: "E".into(), email: Some("kein".into()), ..Default::default() }, "email:"),
            (PersonDetails { name: "E".into(), phone: Some("abc".into()), ..Default::default() }, "phone:"),
            (PersonDetails { name: "E\u{7}".into(), ..Default::default() }, "U+0007 (Steuerzeichen)"),
        ];
        for (details, says) in cases {
            let err = details.checked().expect_err("refused");
            assert!(err.contains(says), "{err}");
        }
    }
}
