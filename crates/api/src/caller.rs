//! Who calls: a request's bearer token, authenticated against the engine's token registry,
//! becomes a [`Caller`] with its role and scope; it becomes the actor of every event it causes.

use engine::{TokenIssued, TokenRegistry, TokenRole};
use store::{Actor, ActorKind};
use uuid::Uuid;
use workflow::definition::Role as StepRole;

/// The token of an `Authorization` value, `Bearer <token>`: the scheme in any case (RFC 9110),
/// blanks around the token trimmed. The one reading of a credential for HTTP, WebSocket
/// `connection_init`, downloads and `/metrics`.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(char::is_whitespace)?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The caller of a request, after authentication.
#[derive(Clone, Debug, PartialEq)]
pub struct Caller {
    pub token_id: Uuid,
    pub name: String,
    pub role: TokenRole,
    pub authorities: Vec<String>,
    pub services: Vec<String>,
    /// The registered person the token belongs to.
    pub person: Option<Uuid>,
}

impl Caller {
    /// The caller of a bearer token, if it is valid and not revoked.
    ///
    /// An association-staff token's scope is ZV DIKOM's as the catalogue says it now: its
    /// members and its own model rollouts, for the form server's services only (`scope` is
    /// asked for it: the member ARS and those services' keys).
    pub fn authenticate(
        tokens: &TokenRegistry,
        bearer: &str,
        scope: impl FnOnce() -> (Vec<String>, Vec<String>),
    ) -> Option<Caller> {
        let mut caller = tokens.authenticate(bearer).map(Caller::of)?;
        if caller.role == TokenRole::AssociationStaff {
            let (mut authorities, services) = scope();
            authorities.push(catalog::ASSOCIATION_ARS.to_owned());
            caller.authorities = authorities;
            caller.services = services;
        }
        Some(caller)
    }

    fn of(t: TokenIssued) -> Caller {
        Caller {
            token_id: t.token_id,
            name: t.name,
            role: t.role,
            authorities: t.authorities,
            services: t.services,
            person: t.person,
        }
    }

    /// The actor its events are recorded for.
    pub fn actor(&self) -> Actor {
        let kind = if self.role == TokenRole::Automation { ActorKind::Automation } else { ActorKind::Person };
        let id = format!("token:{}", self.token_id);
        match self.person {
            // The person's name is read from the person's record, never stored in the event.
            Some(person) => Actor { id, name: String::new(), kind, person: Some(person) },
            None => Actor { id, name: self.name.clone(), kind, person: None },
        }
    }

    /// The domain's view: roles that complete steps.
    pub fn domain(&self) -> workflow::decide::Principal {
        let roles = match self.role {
            TokenRole::ProjectManager => vec![StepRole::ProjectManager],
            TokenRole::AuthorityStaff => vec![StepRole::AuthorityStaff],
            TokenRole::AssociationStaff => vec![StepRole::AssociationStaff],
            _ => vec![],
        };
        workflow::decide::Principal { actor: self.actor(), roles, admin: self.role == TokenRole::Admin }
    }

    pub fn may_read_authority(&self, ars: &str) -> bool {
        match self.role {
            TokenRole::AuthorityStaff | TokenRole::AssociationStaff => {
                self.authorities.iter().any(|a| a == ars)
            }
            _ => true,
        }
    }

    pub fn may_read_service(&self, key: &str) -> bool {
        match self.role {
            TokenRole::Automation | TokenRole::AssociationStaff => self.services.iter().any(|s| s == key),
            _ => true,
        }
    }

    /// May see the rollout of `service` at `ars` at all.
    pub fn may_read_rollout(&self, service: &str, ars: &str) -> bool {
        self.may_read_authority(ars) && self.may_read_service(service)
    }

    pub fn may_write(&self) -> bool {
        self.role != TokenRole::Auditor
    }

    /// Whether `ars` is an administration the token works for as its staff: an authority-staff
    /// token's administrations; for association staff ZV DIKOM itself, never its members (it
    /// sets up their form-server rollouts; their people, consents and systems are theirs).
    pub fn is_staff_of(&self, ars: &str) -> bool {
        match self.role {
            TokenRole::AuthorityStaff => self.authorities.iter().any(|a| a == ars),
            TokenRole::AssociationStaff => ars == catalog::ASSOCIATION_ARS,
            _ => false,
        }
    }

    /// May read the values of a person of administration `ars` (managers and auditors every
    /// person; staff those of their own administrations; a token the person it belongs to).
    pub fn may_read_person(&self, person: Uuid, ars: &str) -> bool {
        self.person == Some(person) || self.is_manager() || self.is_staff_of(ars)
    }

    /// May see the name (never the contact details) of a person of `ars` who acted on a rollout
    /// the token may read, beyond [`Caller::may_read_person`]: ZV DIKOM's staff on its members'
    /// form-server rollouts, which it sets up with them (the history says who did what).
    pub fn may_see_actor_of(&self, ars: &str) -> bool {
        self.role == TokenRole::AssociationStaff && self.authorities.iter().any(|a| a == ars)
    }

    /// May register persons of administration `ars`, record that they left, give or withdraw
    /// their network consent and record its back-office systems: the Land's managers for
    /// every administration, staff for their own (never ZV DIKOM's staff for its members).
    pub fn may_register_person(&self, ars: &str) -> bool {
        matches!(self.role, TokenRole::Admin | TokenRole::ProjectManager) || self.is_staff_of(ars)
    }

    /// Managers, admins and auditors: they read across every administration.
    pub fn is_manager(&self) -> bool {
        matches!(self.role, TokenRole::Admin | TokenRole::ProjectManager | TokenRole::Auditor)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bearer_token_is_read_the_same_everywhere() {
        for value in ["Bearer efa_1_2", "bearer efa_1_2", "BEARER   efa_1_2  ", " Bearer\tefa_1_2"] {
            assert_eq!(super::bearer(value), Some("efa_1_2"), "{value:?}");
        }
        for value in ["", "Bearer", "Bearer   ", "Basic efa_1_2", "efa_1_2"] {
            assert_eq!(super::bearer(value), None, "{value:?}");
        }
    }
}
