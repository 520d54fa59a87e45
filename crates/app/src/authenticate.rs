//! One way in: a request's credential becomes a [`Caller`], the same for GraphQL over HTTP, a
//! WebSocket's `connection_init`, the downloads and `/metrics`.

use engine::{TokenRegistry, TokenRole};
use projections::Projector;

use crate::caller::Caller;

/// What a request presents to say who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A bearer token (`Authorization: Bearer <token>`, or a WebSocket's `connection_init`).
    Bearer(&'a str),
}

/// The token of an `Authorization` value, `Bearer <token>`: the scheme in any case (RFC 9110),
/// blanks around the token trimmed. The one reading of a credential for HTTP, WebSocket
/// `connection_init`, downloads and `/metrics`.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(char::is_whitespace)?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The caller of `credential`, if it is valid and not revoked.
///
/// An association-staff token's scope is the association's as the catalogue says it now: its
/// members and its own model rollouts, for the form server's services only.
pub fn authenticate(
    tokens: &TokenRegistry,
    projector: &Projector,
    credential: Credential<'_>,
) -> Option<Caller> {
    let Credential::Bearer(token) = credential;
    Some(scoped(tokens.authenticate(token).map(Caller::of_token)?, projector))
}

/// An association-staff caller gets the association's scope as the catalogue says it now.
fn scoped(mut caller: Caller, projector: &Projector) -> Caller {
    if caller.role == TokenRole::AssociationStaff {
        let scope = association_scope(projector);
        let mut authorities = scope.members;
        authorities.push(scope.association.clone());
        caller.authorities = authorities;
        caller.services = scope.services;
        caller.association = Some(scope.association);
    }
    caller
}

/// The caller of a sign-in session's secret (the session cookie's value), if the session is
/// live, not ended through another server, and its person is neither erased nor gone from the
/// registry. A store that cannot be read is an error (the request fails, it is not let in).
pub async fn authenticate_session(
    engine: &engine::Engine,
    sessions: &crate::sessions::Sessions,
    projector: &Projector,
    secret: &str,
) -> Result<Option<Caller>, store::StoreError> {
    let Some(session) = sessions.find(secret).await? else { return Ok(None) };
    if !engine.persons().is_living(session.person) || engine.logins().is_ended(session.id) {
        return Ok(None);
    }
    Ok(Some(scoped(Caller::of_session(&session), projector)))
}

/// Whether a caller's credential still holds now: a token not revoked; a session not ended
/// (through any server), not past its end, its person not erased. Asked for every operation,
/// so a revoked credential stops at once, a WebSocket's included.
pub fn still_valid(engine: &engine::Engine, caller: &Caller) -> bool {
    match &caller.signed_in {
        None => !engine.tokens().is_revoked(caller.token_id),
        Some(sign_in) => {
            engine.now() < sign_in.expires
                && !engine.logins().is_ended(caller.token_id)
                && caller.person.is_some_and(|p| engine.persons().is_living(p))
        }
    }
}

/// The caller of an `Authorization` header's value (see [`bearer`]).
pub fn authenticate_header(
    tokens: &TokenRegistry,
    projector: &Projector,
    authorization: &str,
) -> Option<Caller> {
    authenticate(tokens, projector, Credential::Bearer(bearer(authorization)?))
}

/// The association's scope as the catalogue says it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssociationScope {
    /// The association's own key (ARS).
    pub association: String,
    /// Its member administrations (not dissolved).
    pub members: Vec<String>,
    /// The form server's services.
    pub services: Vec<String>,
}

/// The association's scope: its members and the form server's services.
pub fn association_scope(projector: &Projector) -> AssociationScope {
    projector.read(|m| {
        let members = m
            .catalog
            .authorities
            .values()
            .filter(|a| a.authority.association_member && a.dissolved.is_none())
            .map(|a| a.authority.ars.clone())
            .collect();
        let services = m
            .catalog
            .services
            .values()
            .filter(|s| s.service.program == catalog::Program::Formularserver)
            .map(|s| s.service.key.clone())
            .collect();
        AssociationScope { association: m.catalog.association_ars().unwrap_or_default(), members, services }
    })
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
