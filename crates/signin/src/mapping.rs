//! An ID token's claims → a role and administrations, by the issuer's table; deny by default.
//!
//! The roles claim is a dotted path (`groups`, `realm_access.roles`, `roles`) whose value is a
//! text or a list of texts. Of several mapped roles the strongest counts (admin, project
//! manager, auditor, association staff, authority staff). Administrations come from the
//! administrations claim (12-digit ARS) and from values of the roles claim that start with the
//! group prefix (`/kommunen/120640000000`). Staff need at least one administration.

use engine::logins::Access;
use engine::TokenRole;
use serde_json::Value;

use crate::config::IssuerConfig;

/// Why a login's claims give no access: shown on the refusal page, with what arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmapped {
    /// What is missing, in German.
    pub missing: String,
    /// The claims that arrived: name and value as text (the roles and administrations claims
    /// in full, the others by name only).
    pub arrived: Vec<(String, String)>,
}

/// The strength of a role: the strongest mapped one counts.
fn strength(role: TokenRole) -> u8 {
    match role {
        TokenRole::Admin => 5,
        TokenRole::ProjectManager => 4,
        TokenRole::Auditor => 3,
        TokenRole::AssociationStaff => 2,
        TokenRole::AuthorityStaff => 1,
        TokenRole::Automation => 0,
    }
}

/// The value at a dotted path of the claims.
fn at<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(claims, |v, key| v.get(key))
}

/// The texts of a claim's value (a text, or a list of texts and numbers).
fn texts(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => vec![],
    }
}

/// What arrived, for the refusal page.
fn arrived(issuer: &IssuerConfig, claims: &Value) -> Vec<(String, String)> {
    let mut shown: Vec<&str> = vec![issuer.roles_claim.as_str()];
    shown.extend(issuer.administrations_claim.as_deref());
    let mut out: Vec<(String, String)> = shown
        .iter()
        .map(|path| {
            let value = at(claims, path).map_or_else(|| "(fehlt)".to_owned(), |v| v.to_string());
            ((*path).to_owned(), value)
        })
        .collect();
    if let Some(all) = claims.as_object() {
        let names: Vec<&str> = all.keys().map(String::as_str).collect();
        out.push(("Claims im ID-Token".into(), names.join(", ")));
    }
    out
}

/// The access `claims` give under `issuer`'s mapping.
pub fn access(issuer: &IssuerConfig, claims: &Value) -> Result<Access, Unmapped> {
    let values = texts(at(claims, &issuer.roles_claim));
    let role = issuer
        .roles
        .iter()
        .filter(|(value, _)| values.contains(value))
        .map(|(_, role)| *role)
        .max_by_key(|r| strength(*r));
    let Some(role) = role else {
        let known: Vec<&str> = issuer.roles.iter().map(|(v, _)| v.as_str()).collect();
        return Err(Unmapped {
            missing: format!(
                "Keiner der Werte des Claims `{}` ist einer Rolle zugeordnet (zugeordnet sind: {}).",
                issuer.roles_claim,
                known.join(", ")
            ),
            arrived: arrived(issuer, claims),
        });
    };
    let mut authorities: Vec<String> =
        issuer.administrations_claim.as_deref().map(|path| texts(at(claims, path))).unwrap_or_default();
    if let Some(prefix) = issuer.administration_group_prefix.as_deref() {
        authorities.extend(
            values
                .iter()
                .filter_map(|v| v.strip_prefix(prefix))
                .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned()),
        );
    }
    authorities.sort();
    authorities.dedup();
    if let Some(bad) = authorities.iter().find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit())) {
        return Err(Unmapped {
            missing: format!(
                "{bad:?} ist kein zwölfstelliger Amtlicher Regionalschlüssel (ARS) einer Verwaltung."
            ),
            arrived: arrived(issuer, claims),
        });
    }
    if role == TokenRole::AuthorityStaff && authorities.is_empty() {
        let source = match (&issuer.administrations_claim, &issuer.administration_group_prefix) {
            (Some(claim), _) => format!("der Claim `{claim}`"),
            (None, Some(prefix)) => format!("eine Gruppe `{prefix}<ARS>` im Claim `{}`", issuer.roles_claim),
            (None, None) => "eine Zuordnung (administrations_claim oder administration_group_prefix)".into(),
        };
        return Err(Unmapped {
            missing: format!(
                "Die Rolle authority-staff braucht mindestens eine Verwaltung; es fehlt {source}."
            ),
            arrived: arrived(issuer, claims),
        });
    }
    Ok(Access { role, authorities })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issuer(roles_claim: &str, admin_claim: Option<&str>, prefix: Option<&str>) -> IssuerConfig {
        IssuerConfig {
            id: "t".into(),
            label: "T".into(),
            issuer: "http://t".into(),
            client_id: "c".into(),
            client_secret: "s".into(),
            extra_root_ca: None,
            scopes: vec![],
            roles_claim: roles_claim.into(),
            roles: vec![
                ("/efa/kommune".into(), TokenRole::AuthorityStaff),
                ("/efa/projektleitung".into(), TokenRole::ProjectManager),
                ("efa-auditor".into(), TokenRole::Auditor),
            ],
            administrations_claim: admin_claim.map(str::to_owned),
            administration_group_prefix: prefix.map(str::to_owned),
        }
    }

    #[test]
    fn keycloak_groups_with_a_prefix_entra_roles_and_an_ars_claim() {
        let keycloak = issuer("groups", None, Some("/kommunen/"));
        let claims = json!({ "groups": ["/efa/kommune", "/kommunen/120640000000", "/andere"] });
        assert_eq!(
            access(&keycloak, &claims),
            Ok(Access { role: TokenRole::AuthorityStaff, authorities: vec!["120640000000".into()] })
        );
        let nested = issuer("realm_access.roles", None, None);
        let claims = json!({ "realm_access": { "roles": ["/efa/projektleitung", "/efa/kommune"] } });
        assert_eq!(access(&nested, &claims).map(|a| a.role), Ok(TokenRole::ProjectManager), "the strongest");
        let entra = issuer("roles", Some("ars"), None);
        let claims = json!({ "roles": "/efa/kommune", "ars": ["120540000000", "120540000000"] });
        assert_eq!(access(&entra, &claims).map(|a| a.authorities), Ok(vec!["120540000000".to_owned()]));
    }

    #[test]
    fn nothing_mapped_is_refused_saying_what_arrived_and_what_is_missing() {
        let keycloak = issuer("groups", Some("ars"), None);
        let refused = access(&keycloak, &json!({ "groups": ["/other"], "sub": "x" })).expect_err("refused");
        assert!(refused.missing.contains("Claims `groups`"), "{}", refused.missing);
        assert!(refused.arrived.contains(&("groups".into(), "[\"/other\"]".into())));
        assert!(refused.arrived.contains(&("ars".into(), "(fehlt)".into())));
        let staff = access(&keycloak, &json!({ "groups": ["/efa/kommune"] })).expect_err("no administration");
        assert!(staff.missing.contains("der Claim `ars`"), "{}", staff.missing);
        let bad =
            access(&keycloak, &json!({ "groups": ["/efa/kommune"], "ars": ["120640000"] })).expect_err("ARS");
        assert!(bad.missing.starts_with("\"120640000\" ist kein"), "{}", bad.missing);
        assert_eq!(
            access(&keycloak, &json!({ "groups": ["efa-auditor"] })).map(|a| a.role),
            Ok(TokenRole::Auditor)
        );
    }
}
