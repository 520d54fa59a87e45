//! API tokens as events: random, shown once, stored only as a blake3 hash. Issuing and revoking
//! are engine commands (`Engine::issue_token`, `Engine::revoke_token`) appending to the stream
//! `token-<id>`, so the audit log shows who may act and who gave them the right. The registry
//! is folded from those streams and follows the log, so a token issued through another server on
//! the same database is accepted here too.

use std::collections::HashMap;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use store::RecordedEvent;
use uuid::Uuid;

/// Stored event type names and schema versions of the token streams.
pub const TOKEN_ISSUED: (&str, u32) = ("TokenIssued", 1);
pub const TOKEN_REVOKED: (&str, u32) = ("TokenRevoked", 1);

/// The prefix of every token stream.
pub use vocab::names::TOKEN_STREAM_PREFIX;

pub use crate::limits::TOKEN_NAME_CHARS_MAX;

pub fn token_stream(token_id: Uuid) -> String {
    format!("{TOKEN_STREAM_PREFIX}{token_id}")
}

/// What a token may do (not to be confused with `workflow::definition::Role`, who may complete
/// a step; `api` maps one to the other).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenRole {
    Admin,
    ProjectManager,
    /// Only the rollouts of the administrations named in the token.
    AuthorityStaff,
    /// Only automatable steps of the services named in the token.
    Automation,
    /// Reads everything, changes nothing.
    Auditor,
    /// the association's staff: the form server's rollouts of its members and its model rollouts; not
    /// the members' EfA rollouts.
    AssociationStaff,
}

impl TokenRole {
    pub const NAMES: &'static [&'static str] =
        &["admin", "project-manager", "authority-staff", "automation", "auditor", "association-staff"];

    pub fn from_name(name: &str) -> Option<TokenRole> {
        Some(match name {
            "admin" => TokenRole::Admin,
            "project-manager" => TokenRole::ProjectManager,
            "authority-staff" => TokenRole::AuthorityStaff,
            "automation" => TokenRole::Automation,
            "auditor" => TokenRole::Auditor,
            "association-staff" => TokenRole::AssociationStaff,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        TokenRole::NAMES[self as usize]
    }
}

/// A token as recorded (without its secret): the payload of `TokenIssued`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenIssued {
    pub token_id: Uuid,
    pub name: String,
    pub role: TokenRole,
    /// ARS keys an authority-staff token is limited to.
    pub authorities: Vec<String>,
    /// Service keys an automation token is limited to.
    pub services: Vec<String>,
    /// blake3 of the secret, hex.
    pub secret_hash: String,
    /// The registered person the token belongs to: its events name the person by id, and the
    /// name shown is the person's (erasable), never stored in the events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Uuid>,
    /// Why it was issued (tokens issued before it was asked for have none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// The payload of `TokenRevoked`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRevoked {
    pub token_id: Uuid,
    pub reason: String,
}

/// A token just issued: its record, the secret (shown once), and the event that recorded it.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub issued: TokenIssued,
    /// `efa_<id>_<random>`: the bearer secret. Nowhere else.
    pub secret: String,
    pub event: RecordedEvent,
}

/// What a new token is for.
#[derive(Clone, Debug)]
pub struct TokenSpec {
    pub name: String,
    pub role: TokenRole,
    pub authorities: Vec<String>,
    pub services: Vec<String>,
    /// The registered person the token belongs to, if any.
    pub person: Option<Uuid>,
    /// Why it is issued (kept in the audit log).
    pub reason: String,
}

impl TokenSpec {
    /// The rules a token must satisfy; the message names what is wrong.
    pub(crate) fn check(&self) -> Result<(), String> {
        let name = self.name.trim();
        if !vocab::text::has_visible(name) || name.chars().count() > TOKEN_NAME_CHARS_MAX {
            return Err(format!("a token needs a name of 1 to {TOKEN_NAME_CHARS_MAX} characters"));
        }
        if let Some(problem) = vocab::text::problem(name, "Der Name des Tokens") {
            return Err(problem);
        }
        let reason = self.reason.trim();
        if !vocab::text::has_visible(reason)
            || reason.chars().count() > crate::limits::PERSON_REASON_CHARS_MAX
        {
            return Err(format!(
                "a token needs a reason of 1 to {} characters (why it is issued)",
                crate::limits::PERSON_REASON_CHARS_MAX
            ));
        }
        if let Some(problem) = vocab::text::problem(reason, "Der Grund") {
            return Err(problem);
        }
        if self.role == TokenRole::AuthorityStaff && self.authorities.is_empty() {
            return Err("an authority-staff token names at least one administration (ARS)".into());
        }
        if self.role == TokenRole::Automation && self.services.is_empty() {
            return Err("an automation token names at least one service".into());
        }
        for ars in &self.authorities {
            if ars.len() != 12 || !ars.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("`{ars}` is not an ARS (12 digits)"));
            }
        }
        Ok(())
    }
}

/// 32 random bytes as hex: the secret part of a token.
pub(crate) fn secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Every token ever issued, folded from the token streams (tokens number in the hundreds: held
/// in memory).
#[derive(Debug)]
pub struct TokenRegistry {
    by_id: RwLock<HashMap<Uuid, (TokenIssued, bool)>>,
    /// Counts the revocations applied; whoever holds a token's connection open (a WebSocket)
    /// watches it and checks its token again when it moves.
    revocations: tokio::sync::watch::Sender<u64>,
}

impl Default for TokenRegistry {
    fn default() -> TokenRegistry {
        TokenRegistry { by_id: RwLock::default(), revocations: tokio::sync::watch::Sender::new(0) }
    }
}

impl TokenRegistry {
    /// Applies an event of the log; events of other streams are ignored. Applying the same
    /// event twice changes nothing.
    pub(crate) fn apply(&self, e: &RecordedEvent) {
        if !e.stream_id.starts_with(TOKEN_STREAM_PREFIX) {
            return;
        }
        let mut map = self.by_id.write().unwrap_or_else(|p| p.into_inner());
        if e.event_type == TOKEN_ISSUED.0 {
            match e.data.decode::<TokenIssued>() {
                Ok(t) => {
                    map.entry(t.token_id).or_insert((t, true));
                }
                Err(err) => tracing::warn!(position = e.position, error = %err, "an unreadable TokenIssued"),
            }
        } else if e.event_type == TOKEN_REVOKED.0 {
            match e.data.decode::<TokenRevoked>() {
                Ok(r) => {
                    if let Some(entry) = map.get_mut(&r.token_id) {
                        entry.1 = false;
                        drop(map);
                        self.revocations.send_modify(|n| *n += 1);
                    }
                }
                Err(err) => tracing::warn!(position = e.position, error = %err, "an unreadable TokenRevoked"),
            }
        }
    }

    /// The token and whether it is still active.
    pub fn get(&self, token_id: Uuid) -> Option<(TokenIssued, bool)> {
        self.by_id.read().unwrap_or_else(|p| p.into_inner()).get(&token_id).cloned()
    }

    /// Whether the token is known and not revoked.
    pub fn is_active(&self, token_id: Uuid) -> bool {
        self.by_id.read().unwrap_or_else(|p| p.into_inner()).get(&token_id).is_some_and(|(_, active)| *active)
    }

    /// Whether the token was revoked (a caller authenticated before keeps no right after it).
    pub fn is_revoked(&self, token_id: Uuid) -> bool {
        self.by_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&token_id)
            .is_some_and(|(_, active)| !*active)
    }

    /// Moves whenever a token is revoked (here or, followed from the log, on another server).
    pub fn revocations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revocations.subscribe()
    }

    /// The token a bearer secret (`efa_<id>_<secret>`) belongs to, if it is valid and active.
    pub fn authenticate(&self, bearer: &str) -> Option<TokenIssued> {
        let rest = bearer.strip_prefix("efa_")?;
        let (id, secret) = rest.split_once('_')?;
        let id = Uuid::try_parse(id).ok()?;
        let map = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        let (t, active) = map.get(&id)?;
        // blake3's Hash comparison is constant-time; compare hashes, not strings.
        let stored = blake3::Hash::from_hex(&t.secret_hash).ok()?;
        if !*active || blake3::hash(secret.as_bytes()) != stored {
            return None;
        }
        Some(t.clone())
    }

    /// The active tokens that name `person` as theirs.
    pub fn active_of_person(&self, person: Uuid) -> Vec<Uuid> {
        let map = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<Uuid> = map
            .values()
            .filter(|(t, active)| *active && t.person == Some(person))
            .map(|(t, _)| t.token_id)
            .collect();
        ids.sort_unstable();
        ids
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.read().unwrap_or_else(|p| p.into_inner()).is_empty()
    }
}

impl crate::Engine {
    /// Issues a token: checks the spec, appends `TokenIssued` (with the invocation's actor and
    /// correlation id) and returns its record, the secret and the event.
    pub async fn issue_token(
        &self,
        spec: TokenSpec,
        req: &crate::Invocation,
    ) -> Result<NewToken, crate::EngineError> {
        spec.check().map_err(crate::EngineError::InvalidToken)?;
        if let Some(person) = spec.person {
            self.living_person(person)?;
        }
        let token_id = Uuid::now_v7();
        let secret = secret().map_err(crate::EngineError::InvalidToken)?;
        let issued = TokenIssued {
            token_id,
            name: spec.name.trim().to_owned(),
            role: spec.role,
            authorities: spec.authorities,
            services: spec.services,
            secret_hash: blake3::hash(secret.as_bytes()).to_hex().to_string(),
            person: spec.person,
            reason: spec.reason.trim().to_owned(),
        };
        let payload =
            serde_json::to_value(&issued).map_err(|e| crate::EngineError::InvalidToken(e.to_string()))?;
        let event = crate::new_event(TOKEN_ISSUED, payload, req);
        let event = self.append_token_event(token_id, store::ExpectedVersion::NoStream, event).await?;
        Ok(NewToken { issued, secret: format!("efa_{}_{secret}", token_id.simple()), event })
    }

    /// Revokes a token; it is refused from then on (on every server following the log).
    /// Returns the event that recorded it.
    pub async fn revoke_token(
        &self,
        token_id: Uuid,
        reason: &str,
        req: &crate::Invocation,
    ) -> Result<RecordedEvent, crate::EngineError> {
        match self.tokens().get(token_id) {
            None => return Err(crate::EngineError::UnknownToken(token_id)),
            Some((_, false)) => return Err(crate::EngineError::TokenAlreadyRevoked(token_id)),
            Some((_, true)) => {}
        }
        let revoked = TokenRevoked { token_id, reason: reason.to_owned() };
        let payload =
            serde_json::to_value(&revoked).map_err(|e| crate::EngineError::InvalidToken(e.to_string()))?;
        let event = crate::new_event(TOKEN_REVOKED, payload, req);
        // Version 1 is the issue: a revocation that lost a race with another one conflicts.
        match self.append_token_event(token_id, store::ExpectedVersion::Exact(1), event).await {
            Err(crate::EngineError::Conflict { .. }) => {
                Err(crate::EngineError::TokenAlreadyRevoked(token_id))
            }
            other => other,
        }
    }

    /// Appends one event to a token's stream and applies it to the registry.
    async fn append_token_event(
        &self,
        token_id: Uuid,
        expected: store::ExpectedVersion,
        event: store::NewEvent,
    ) -> Result<RecordedEvent, crate::EngineError> {
        let recorded = self.store().append(&token_stream(token_id), expected, vec![event]).await?;
        let event = recorded.into_iter().next().ok_or_else(|| {
            crate::EngineError::Unreadable(format!("the append to token {token_id} returned no event"))
        })?;
        self.tokens().apply(&event);
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::{TokenRole, TokenSpec};

    fn named(name: &str) -> TokenSpec {
        TokenSpec {
            name: name.into(),
            role: TokenRole::Auditor,
            authorities: vec![],
            services: vec![],
            person: None,
            reason: "Prüfung".into(),
        }
    }

    /// A token's name is text a person would write (the command line reaches this check
    /// without the API's).
    #[test]
    fn a_token_name_holds_visible_text_only() {
        assert!(named("Prüfung 2026").check().is_ok());
        for bad in ["", "\u{200b}", "\u{200d}", "a\u{202e}b", "a\u{0}", "x\u{7}"] {
            assert!(named(bad).check().is_err(), "{bad:?}");
        }
    }
}
