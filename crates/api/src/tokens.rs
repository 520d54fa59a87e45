//! API tokens: random, shown once, stored only as a blake3 hash. Issuing and revoking are
//! events (stream `token-<id>`), so the audit log shows who may act.

use std::collections::HashMap;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use store::{Actor, ActorKind, EventStore, ExpectedVersion, Json, NewEvent, StoreError};
use uuid::Uuid;
use workflow::definition::Role as StepRole;

/// What a token may do.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Admin,
    ProjectManager,
    /// Only the rollouts of the administrations named in the token.
    AuthorityStaff,
    /// Only automatable steps of the services named in the token.
    Automation,
    /// Reads everything, changes nothing.
    Auditor,
}

impl Role {
    pub const NAMES: &'static [&'static str] =
        &["admin", "project-manager", "authority-staff", "automation", "auditor"];

    pub fn from_name(name: &str) -> Option<Role> {
        Some(match name {
            "admin" => Role::Admin,
            "project-manager" => Role::ProjectManager,
            "authority-staff" => Role::AuthorityStaff,
            "automation" => Role::Automation,
            "auditor" => Role::Auditor,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Role::NAMES[self as usize]
    }
}

/// A token as recorded (without its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenIssued {
    pub token_id: Uuid,
    pub name: String,
    pub role: Role,
    /// ARS keys an authority-staff token is limited to.
    pub authorities: Vec<String>,
    /// Service keys an automation token is limited to.
    pub services: Vec<String>,
    /// blake3 of the secret, hex.
    pub secret_hash: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRevoked {
    pub token_id: Uuid,
    pub reason: String,
}

/// The caller of a request, after authentication.
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    pub token_id: Uuid,
    pub name: String,
    pub role: Role,
    pub authorities: Vec<String>,
    pub services: Vec<String>,
}

impl Principal {
    /// The actor its events are recorded for.
    pub fn actor(&self) -> Actor {
        let kind = if self.role == Role::Automation { ActorKind::Automation } else { ActorKind::Person };
        Actor { id: format!("token:{}", self.token_id), name: self.name.clone(), kind }
    }

    /// The domain's view: roles that complete steps.
    pub fn domain(&self) -> workflow::decide::Principal {
        let roles = match self.role {
            Role::ProjectManager => vec![StepRole::ProjectManager],
            Role::AuthorityStaff => vec![StepRole::AuthorityStaff],
            _ => vec![],
        };
        workflow::decide::Principal { actor: self.actor(), roles, admin: self.role == Role::Admin }
    }

    pub fn may_read_authority(&self, ars: &str) -> bool {
        match self.role {
            Role::AuthorityStaff => self.authorities.iter().any(|a| a == ars),
            _ => true,
        }
    }

    pub fn may_read_service(&self, key: &str) -> bool {
        match self.role {
            Role::Automation => self.services.iter().any(|s| s == key),
            _ => true,
        }
    }

    /// May see the rollout of `service` at `ars` at all.
    pub fn may_read_rollout(&self, service: &str, ars: &str) -> bool {
        self.may_read_authority(ars) && self.may_read_service(service)
    }

    pub fn may_write(&self) -> bool {
        self.role != Role::Auditor
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every token ever issued, folded from the log (tokens are few: held in memory).
#[derive(Debug, Default)]
pub struct Tokens {
    by_id: RwLock<HashMap<Uuid, (TokenIssued, bool)>>,
}

fn secret() -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Invalid(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Tokens {
    /// Reads every token event of the log.
    pub async fn load(store: &dyn EventStore) -> Result<Tokens, TokenError> {
        let tokens = Tokens::default();
        // The token streams only, not the whole log.
        let mut after = 0;
        loop {
            let page = store.read_category("token-", after, 5_000).await?;
            let Some(last) = page.last() else { break };
            after = last.position;
            for e in &page {
                tokens.apply(&e.event_type, e.data.as_str());
            }
        }
        Ok(tokens)
    }

    fn apply(&self, event_type: &str, data: &str) {
        let mut map = self.by_id.write().unwrap_or_else(|p| p.into_inner());
        match event_type {
            "TokenIssued" => {
                if let Ok(t) = serde_json::from_str::<TokenIssued>(data) {
                    map.insert(t.token_id, (t, true));
                }
            }
            "TokenRevoked" => {
                if let Ok(r) = serde_json::from_str::<TokenRevoked>(data) {
                    if let Some(entry) = map.get_mut(&r.token_id) {
                        entry.1 = false;
                    }
                }
            }
            _ => {}
        }
    }

    /// Issues a token; returns its record and the secret (`efa_<id>_<random>`), shown once.
    pub async fn issue(
        &self,
        store: &dyn EventStore,
        actor: Actor,
        name: &str,
        role: Role,
        authorities: Vec<String>,
        services: Vec<String>,
    ) -> Result<(TokenIssued, String), TokenError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(TokenError::Invalid("a token needs a name of 1 to 200 characters".into()));
        }
        if role == Role::AuthorityStaff && authorities.is_empty() {
            return Err(TokenError::Invalid(
                "an authority-staff token names at least one administration (ARS)".into(),
            ));
        }
        if role == Role::Automation && services.is_empty() {
            return Err(TokenError::Invalid("an automation token names at least one service".into()));
        }
        for ars in &authorities {
            if ars.len() != 12 || !ars.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TokenError::Invalid(format!("`{ars}` is not an ARS (12 digits)")));
            }
        }
        let token_id = Uuid::now_v7();
        let secret = secret()?;
        let issued = TokenIssued {
            token_id,
            name: name.to_owned(),
            role,
            authorities,
            services,
            secret_hash: blake3::hash(secret.as_bytes()).to_hex().to_string(),
        };
        let data = Json::to_json(&issued).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let event = NewEvent::new("TokenIssued", 1, data, actor, Uuid::now_v7());
        store.append(&format!("token-{token_id}"), ExpectedVersion::NoStream, vec![event]).await?;
        self.apply("TokenIssued", &serde_json::to_string(&issued).unwrap_or_default());
        Ok((issued, format!("efa_{}_{secret}", token_id.simple())))
    }

    /// Revokes a token; it is refused from then on.
    pub async fn revoke(
        &self,
        store: &dyn EventStore,
        actor: Actor,
        token_id: Uuid,
        reason: &str,
    ) -> Result<(), TokenError> {
        let known =
            self.by_id.read().unwrap_or_else(|p| p.into_inner()).get(&token_id).map(|(_, active)| *active);
        match known {
            None => return Err(TokenError::Invalid(format!("there is no token {token_id}"))),
            Some(false) => return Err(TokenError::Invalid(format!("token {token_id} is already revoked"))),
            Some(true) => {}
        }
        let revoked = TokenRevoked { token_id, reason: reason.to_owned() };
        let data = Json::to_json(&revoked).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let event = NewEvent::new("TokenRevoked", 1, data, actor, Uuid::now_v7());
        store.append(&format!("token-{token_id}"), ExpectedVersion::Exact(1), vec![event]).await?;
        self.apply("TokenRevoked", &serde_json::to_string(&revoked).unwrap_or_default());
        Ok(())
    }

    /// The principal of a bearer token, if it is valid and not revoked.
    pub fn authenticate(&self, bearer: &str) -> Option<Principal> {
        let rest = bearer.strip_prefix("efa_")?;
        let (id, secret) = rest.split_once('_')?;
        let id = Uuid::try_parse(id).ok()?;
        let map = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        let (t, active) = map.get(&id)?;
        let hash = blake3::hash(secret.as_bytes()).to_hex();
        // blake3's Hash comparison is constant-time; compare hashes, not strings.
        let stored = blake3::Hash::from_hex(&t.secret_hash).ok()?;
        if !*active || blake3::Hash::from_hex(hash.as_str()).ok()? != stored {
            return None;
        }
        Some(Principal {
            token_id: t.token_id,
            name: t.name.clone(),
            role: t.role,
            authorities: t.authorities.clone(),
            services: t.services.clone(),
        })
    }

    /// Keeps following the log from `after`: tokens issued or revoked through another server
    /// on the same database take effect here too.
    pub fn follow(
        self: std::sync::Arc<Self>,
        store: std::sync::Arc<dyn EventStore>,
        after: u64,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut events = store::subscribe(store, after + 1);
            while let Ok(Some(e)) = events.next().await {
                self.apply(&e.event_type, e.data.as_str());
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.read().unwrap_or_else(|p| p.into_inner()).is_empty()
    }
}
