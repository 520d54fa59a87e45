//! Who calls and what they may do: a [`Caller`] (an authenticated credential with its role and
//! scope) and every permission of the product as a named method. The adapters (GraphQL, HTTP
//! downloads, WebSockets, later mail and import) ask these methods and compare no role
//! themselves (`crates/api/tests/it/permissions.rs` reads their source to hold that).

use engine::questions::Party;
use engine::{TokenIssued, TokenRole};
use store::{Actor, ActorKind};
use uuid::Uuid;
use workflow::definition::Role as StepRole;

/// The mutations an automation token may use: it works on steps (the definition says which are
/// automatable) and may comment; it does not block, cancel, assign, ask or set due dates.
pub const AUTOMATION_MUTATIONS: &[&str] = &["completeStep", "startStep", "addComment"];

/// The caller of a request, after authentication.
#[derive(Clone, Debug, PartialEq)]
pub struct Caller {
    pub token_id: Uuid,
    pub name: String,
    pub role: TokenRole,
    /// The administrations (ARS) it works for or reads; for association staff the
    /// association's members and the association itself.
    pub authorities: Vec<String>,
    /// The services it is limited to (automation, association staff).
    pub services: Vec<String>,
    /// The registered person the token belongs to.
    pub person: Option<Uuid>,
    /// For association staff: the association itself (the ARS it works for as staff).
    pub association: Option<String>,
    /// Signed in through an identity provider (a session; `token_id` is the session's id),
    /// rather than with a bearer token.
    pub signed_in: Option<SignIn>,
}

/// How a signed-in caller came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    /// The issuer's identifier.
    pub issuer: String,
    /// When the session ends at the latest.
    pub expires: store::Timestamp,
}

/// Why an audit or event filter is refused for a caller (the filter must name its scope).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditRefusal {
    /// Staff must name one of their administrations.
    NameYourAdministration,
    /// Association staff must name a form-server rollout of the association or a member.
    NameAnAssociationRollout,
    /// Automation must name one of its services.
    NameYourService,
}

impl AuditRefusal {
    pub fn message(self) -> &'static str {
        match self {
            AuditRefusal::NameYourAdministration => {
                "an authority-staff token must name one of its administrations (`ars` or `rolloutId`)"
            }
            AuditRefusal::NameAnAssociationRollout => {
                "an association-staff token must name a form-server rollout of the association or one of its members (`rolloutId`, or `serviceKey` and `ars`)"
            }
            AuditRefusal::NameYourService => {
                "an automation token must name one of its services (`serviceKey` or `rolloutId`)"
            }
        }
    }
}

impl Caller {
    /// The caller of a stored token, without the association's scope (see
    /// [`crate::authenticate`], which adds it).
    pub fn of_token(t: TokenIssued) -> Caller {
        Caller {
            token_id: t.token_id,
            name: t.name,
            role: t.role,
            authorities: t.authorities,
            services: t.services,
            person: t.person,
            association: None,
            signed_in: None,
        }
    }

    /// The caller of a sign-in session, without the association's scope.
    pub fn of_session(s: &crate::sessions::Session) -> Caller {
        Caller {
            token_id: s.id,
            name: String::new(),
            role: s.access.role,
            authorities: s.access.authorities.clone(),
            services: vec![],
            person: Some(s.person),
            association: None,
            signed_in: Some(SignIn { issuer: s.issuer.clone(), expires: s.expires }),
        }
    }

    /// How it authenticated, as `Query.me` says it: `token` or `oidc`.
    pub fn auth_method(&self) -> &'static str {
        if self.signed_in.is_some() {
            "oidc"
        } else {
            "token"
        }
    }

    /// The actor its events are recorded for.
    pub fn actor(&self) -> Actor {
        let kind = if self.role == TokenRole::Automation { ActorKind::Automation } else { ActorKind::Person };
        let id = match (&self.signed_in, self.person) {
            // A signed-in person's events name the person, not the session.
            (Some(_), Some(person)) => format!("person:{person}"),
            _ => format!("token:{}", self.token_id),
        };
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

    // ---- reading ----

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

    /// May read the reference data every signed-in token shares: the catalogue's
    /// administrations and services (each list further within the token's scope), the workflow
    /// definitions and the log's head.
    pub fn may_read_reference_data(&self) -> bool {
        true
    }

    /// May read what the OZG network shares with every administration: recorded solutions to
    /// blockages and the signal that a service's network changed (who is ahead: `peers`, with
    /// contacts only by consent).
    pub fn may_read_network(&self) -> bool {
        true
    }

    /// Managers, admins and auditors: they read across every administration (progress over
    /// all rollouts, the programme report, blockages across administrations).
    pub fn is_manager(&self) -> bool {
        matches!(self.role, TokenRole::Admin | TokenRole::ProjectManager | TokenRole::Auditor)
    }

    /// May see an event of a rollout's stream (`service`, `ars`; `None` for streams of no
    /// rollout: the catalogue, tokens, persons) in a subscription.
    pub fn may_see_event(&self, service: Option<&str>, ars: Option<&str>) -> bool {
        // The same scope the audit log asks a filter to name.
        self.audit_scope(service, ars).is_ok()
    }

    /// Whether an audit query for `service` and `ars` (as named by its filter) stays in the
    /// caller's scope: staff, association staff and automation must name it.
    pub fn audit_scope(&self, service: Option<&str>, ars: Option<&str>) -> Result<(), AuditRefusal> {
        match self.role {
            TokenRole::AuthorityStaff if !ars.is_some_and(|a| self.may_read_authority(a)) => {
                Err(AuditRefusal::NameYourAdministration)
            }
            TokenRole::AssociationStaff
                if !(ars.is_some_and(|a| self.may_read_authority(a))
                    && service.is_some_and(|k| self.may_read_service(k))) =>
            {
                Err(AuditRefusal::NameAnAssociationRollout)
            }
            TokenRole::Automation if !service.is_some_and(|k| self.may_read_service(k)) => {
                Err(AuditRefusal::NameYourService)
            }
            _ => Ok(()),
        }
    }

    /// May read the values of a person of administration `ars` (managers and auditors every
    /// person; staff those of their own administrations; a token the person it belongs to).
    pub fn may_read_person(&self, person: Uuid, ars: &str) -> bool {
        self.person == Some(person) || self.is_manager() || self.is_staff_of(ars)
    }

    /// May see the name (never the contact details) of a person of `ars` who acted on a rollout
    /// the token may read, beyond [`Caller::may_read_person`]: the association's staff on its
    /// members' form-server rollouts, which it sets up with them (the history says who did what).
    pub fn may_see_actor_of(&self, ars: &str) -> bool {
        self.role == TokenRole::AssociationStaff && self.authorities.iter().any(|a| a == ars)
    }

    // ---- who the caller is in the network and in questions ----

    /// Whether `ars` is an administration the token works for as its staff: an authority-staff
    /// token's administrations; for association staff the association itself, never its members
    /// (it sets up their form-server rollouts; their people, consents and systems are theirs).
    pub fn is_staff_of(&self, ars: &str) -> bool {
        match self.role {
            TokenRole::AuthorityStaff => self.authorities.iter().any(|a| a == ars),
            TokenRole::AssociationStaff => self.association.as_deref() == Some(ars),
            _ => false,
        }
    }

    /// The administration a token stands for in the network: a staff token's first one; the
    /// association's staff stand for the association (never one of its members).
    pub fn home(&self) -> Option<&str> {
        match self.role {
            TokenRole::AuthorityStaff => self.authorities.first().map(String::as_str),
            TokenRole::AssociationStaff => self.association.as_deref(),
            _ => None,
        }
    }

    /// The party a token answers for: staff for their administration, project managers for the
    /// Land, association staff for the association, admins for the project team; auditors and
    /// automation for none.
    pub fn party(&self) -> Option<Party> {
        match self.role {
            TokenRole::AuthorityStaff => Some(Party::Administration),
            TokenRole::ProjectManager => Some(Party::Land),
            TokenRole::AssociationStaff => Some(Party::Association),
            TokenRole::Admin => Some(Party::ProjectTeam),
            TokenRole::Auditor | TokenRole::Automation => None,
        }
    }

    // ---- writing ----

    /// May change anything at all (every token but an auditor's).
    pub fn may_write(&self) -> bool {
        self.role != TokenRole::Auditor
    }

    /// May use the rollout mutation named `mutation` (automation only those of
    /// [`AUTOMATION_MUTATIONS`]); the rollout's scope is asked separately.
    pub fn may_use_mutation(&self, mutation: &str) -> bool {
        self.may_write() && (self.role != TokenRole::Automation || AUTOMATION_MUTATIONS.contains(&mutation))
    }

    /// May ask, answer, resolve and mark questions (every writing token but automation).
    pub fn may_take_part_in_questions(&self) -> bool {
        self.may_write() && self.role != TokenRole::Automation
    }

    /// May manage the programme: publish definitions, set a service's definition, migrate a
    /// service's rollouts, escalate blockages (project managers and admins).
    pub fn may_manage_programme(&self) -> bool {
        matches!(self.role, TokenRole::Admin | TokenRole::ProjectManager)
    }

    /// May publish a workflow definition.
    pub fn may_publish_definition(&self) -> bool {
        self.may_manage_programme()
    }

    /// May escalate a group of blockages.
    pub fn may_escalate_blockages(&self) -> bool {
        self.may_manage_programme()
    }

    /// May start the rollout of service `key` everywhere it applies: project managers and
    /// admins; the association's staff for a service in its scope (its own assistants).
    pub fn may_start_service(&self, key: &str) -> bool {
        self.may_manage_programme()
            || (self.role == TokenRole::AssociationStaff && self.may_read_service(key))
    }

    /// May issue and revoke tokens and erase persons (admins only).
    pub fn may_administer(&self) -> bool {
        self.role == TokenRole::Admin
    }

    /// May see who has which access from which issuer, and every person's sessions: the
    /// Land's project managers and admins.
    pub fn may_oversee_access(&self) -> bool {
        matches!(self.role, TokenRole::Admin | TokenRole::ProjectManager)
    }

    /// May list and end the sessions of `person`: whoever oversees access, and the person.
    pub fn may_manage_sessions_of(&self, person: Uuid) -> bool {
        self.may_oversee_access() || self.person == Some(person)
    }

    /// May register persons of administration `ars`, record that they left, give or withdraw
    /// their network consent and record its back-office systems: the Land's managers for
    /// every administration, staff for their own (never the association's staff for its members).
    pub fn may_register_person(&self, ars: &str) -> bool {
        self.may_manage_programme() || self.is_staff_of(ars)
    }

    /// May answer the offer of a service for administration `ars` (interested, declined,
    /// later, own solution) and record whether its applications reach the back-office system
    /// digitally: its staff, and the Land's managers on its behalf.
    pub fn may_answer_for(&self, ars: &str) -> bool {
        self.may_manage_programme() || self.is_staff_of(ars)
    }

    /// May record the applications administration `ars` received online: its staff, the
    /// Land's managers, and automation (figures imported from statistics).
    pub fn may_record_usage(&self, ars: &str) -> bool {
        self.may_answer_for(ars) || self.role == TokenRole::Automation
    }

    /// May offer services, set targets, change who is responsible and record support given:
    /// the programme's managers; the association's staff may record support it gave.
    pub fn may_steer_reuse(&self) -> bool {
        self.may_manage_programme()
    }

    /// May read the contact person named in an offer made to `to` (empty: every responsible
    /// administration): whoever reads every administration, and the staff of those it was
    /// offered to — the project manager named the person for them.
    pub fn may_read_offer_contact(&self, to: &[String]) -> bool {
        self.is_manager()
            || (self.role == TokenRole::AuthorityStaff
                && (to.is_empty() || to.iter().any(|a| self.is_staff_of(a))))
    }

    /// May record advice or support given to an administration: the programme's managers and
    /// the association's staff (its own advice to members).
    pub fn may_record_support(&self, ars: &str) -> bool {
        self.may_manage_programme()
            || (self.role == TokenRole::AssociationStaff && self.may_read_authority(ars))
    }

    /// Writes of this caller are not limited in rate (admins: repairs and imports).
    pub fn writes_unlimited(&self) -> bool {
        self.role == TokenRole::Admin
    }

    /// The administrations whose shared write rate this caller's writes count against (staff's).
    pub fn rated_authorities(&self) -> &[String] {
        if self.role == TokenRole::AuthorityStaff {
            &self.authorities
        } else {
            &[]
        }
    }
}

#[cfg(test)]
mod tests {
    use engine::TokenRole;

    use super::Caller;

    fn caller(role: TokenRole, authorities: &[&str], services: &[&str]) -> Caller {
        Caller {
            token_id: uuid::Uuid::nil(),
            name: "t".into(),
            role,
            authorities: authorities.iter().map(|a| (*a).to_owned()).collect(),
            services: services.iter().map(|s| (*s).to_owned()).collect(),
            person: None,
            association: (role == TokenRole::AssociationStaff).then(|| "129990000000".to_owned()),
            signed_in: None,
        }
    }

    /// The association's staff read its members' form-server rollouts, yet stand for the
    /// association itself: in the network (a member is not "me", its peers are not measured from
    /// it) and as staff.
    #[test]
    fn the_association_s_staff_stand_for_the_association_not_a_member() {
        let staff = caller(TokenRole::AssociationStaff, &["120510000000", "129990000000"], &["assistent"]);
        assert_eq!(staff.home(), Some("129990000000"));
        assert!(staff.is_staff_of("129990000000") && !staff.is_staff_of("120510000000"));
        assert!(staff.may_read_rollout("assistent", "120510000000"));
        let clerk = caller(TokenRole::AuthorityStaff, &["120540000000"], &[]);
        assert_eq!(clerk.home(), Some("120540000000"));
        assert_eq!(caller(TokenRole::ProjectManager, &[], &[]).home(), None);
    }

    /// A subscription shows an event exactly when the audit log would let the caller ask for it.
    #[test]
    fn an_event_is_seen_where_the_audit_log_may_be_read() {
        let cases = [
            caller(TokenRole::AuthorityStaff, &["120540000000"], &[]),
            caller(TokenRole::AssociationStaff, &["120510000000", "129990000000"], &["assistent"]),
            caller(TokenRole::Automation, &[], &["wohngeld"]),
            caller(TokenRole::Auditor, &[], &[]),
        ];
        let places = [
            (Some("wohngeld"), Some("120540000000")),
            (Some("assistent"), Some("120510000000")),
            (Some("wohngeld"), None),
            (None, None),
        ];
        let seen: Vec<Vec<bool>> =
            cases.iter().map(|c| places.iter().map(|(s, a)| c.may_see_event(*s, *a)).collect()).collect();
        assert_eq!(
            seen,
            [
                [true, false, false, false],
                [false, true, false, false],
                [true, false, true, false],
                [true, true, true, true],
            ]
        );
    }
}
