//! The sign-in configuration (`rollout serve --auth-config FILE`): where the server is reached,
//! how long sessions live, and per trusted issuer its client, its CA and the mapping of its
//! claims to a role and administrations. Read at start; every problem names its line.
//!
//! ```toml
//! public_url = "https://efa.example.de"   # the callback is <public_url>/auth/callback
//!
//! [sessions]
//! absolute_hours = 8                      # from sign-in
//! idle_minutes = 60                       # without a request (or idle_seconds)
//!
//! [keys]
//! refetch_seconds = 60                    # an unknown key id fetches keys again at most this often
//!
//! [[issuers]]
//! id = "land"                             # /auth/login?issuer=land
//! label = "Landesverwaltung"              # the button: "Anmelden mit Landesverwaltung"
//! issuer = "https://idp.example/realms/efa"
//! client_id = "efa-rollout"
//! client_secret_file = "secrets/land"     # relative to this file
//! extra_root_ca = "certs/lvn-ca.pem"      # optional: the Land network's CA (PEM)
//! scopes = ["groups"]                     # optional, beside openid profile email
//! roles_claim = "groups"                  # or "realm_access.roles", "roles"
//! administrations_claim = "ars"           # optional: 12-digit ARS
//! administration_group_prefix = "/kommunen/"  # optional: groups like /kommunen/120640000000
//!
//! [issuers.roles]
//! "/efa/projektleitung" = "project-manager"
//! "/efa/kommune" = "authority-staff"
//! ```

use std::path::{Path, PathBuf};

use engine::TokenRole;

/// The roles a login may be given (automation signs in with tokens only).
pub const LOGIN_ROLES: &[&str] =
    &["admin", "project-manager", "authority-staff", "auditor", "association-staff"];

/// The sign-in configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// Scheme, host and port the browser reaches the server at, without a trailing slash.
    pub public_url: String,
    pub absolute_secs: i64,
    pub idle_secs: i64,
    /// An unknown key id fetches an issuer's keys again at most this often.
    pub keys_refetch_secs: u64,
    pub issuers: Vec<IssuerConfig>,
}

/// One trusted issuer.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    /// Its short name in `/auth/login?issuer=`.
    pub id: String,
    /// Its name on the button, in German.
    pub label: String,
    /// The issuer identifier, exactly as the provider spells it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// An extra root CA (PEM) its TLS certificate is checked against.
    pub extra_root_ca: Option<Vec<u8>>,
    pub scopes: Vec<String>,
    /// The claim (a dotted path) whose values map to roles.
    pub roles_claim: String,
    /// Claim value → role, in the file's order.
    pub roles: Vec<(String, TokenRole)>,
    /// The claim (a dotted path) with the administrations' ARS.
    pub administrations_claim: Option<String>,
    /// A prefix of the roles claim's values that names an administration after it.
    pub administration_group_prefix: Option<String>,
}

impl std::fmt::Debug for IssuerConfig {
    /// Without the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerConfig")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Reads the configuration file at `path`.
pub fn read(path: &Path) -> Result<AuthConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, &base).map_err(|e| format!("{}:{e}", path.display()))
}

/// The line (1-based) of byte `offset` of `text`.
fn line_at(text: &str, offset: Option<std::ops::Range<usize>>) -> usize {
    offset.map_or(1, |r| text[..r.start.min(text.len())].matches('\n').count() + 1)
}

// Long: one check per key of the format, each naming its line.
/// Parses a configuration; relative file names are read from `base`. Errors start with the
/// line: `12: …`.
pub fn parse(text: &str, base: &Path) -> Result<AuthConfig, String> {
    let doc = toml_edit::ImDocument::parse(text.to_owned())
        .map_err(|e| format!("{}: keine gültige TOML-Datei: {}", line_at(text, e.span()), e.message()))?;
    let root = doc.as_table();
    let at = |item: &toml_edit::Item| line_at(text, item.span());
    let string = |table: &toml_edit::Table, key: &str, line: usize| -> Result<Option<String>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(item) => item.as_str().map(|s| Some(s.trim().to_owned())).ok_or_else(|| {
                format!("{}: `{key}` muss ein Text sein", line_at(text, item.span()).max(line))
            }),
        }
    };
    let public_url =
        string(root, "public_url", 1)?.ok_or("1: `public_url` fehlt (z. B. \"https://efa.example.de\")")?;
    let public_url = public_url.trim_end_matches('/').to_owned();
    if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
        let line = root.get("public_url").map_or(1, at);
        return Err(format!("{line}: `public_url` ist keine http(s)-Adresse: {public_url:?}"));
    }
    let (mut absolute_secs, mut idle_secs) = (8 * 3600, 3600);
    if let Some(item) = root.get("sessions") {
        let table =
            item.as_table().ok_or_else(|| format!("{}: `sessions` muss eine Tabelle sein", at(item)))?;
        let number = |key: &str, unit: i64, max: i64| -> Result<Option<i64>, String> {
            let Some(item) = table.get(key) else { return Ok(None) };
            match item.as_integer() {
                Some(n) if (1..=max).contains(&n) => Ok(Some(n * unit)),
                _ => Err(format!("{}: `sessions.{key}` muss eine ganze Zahl von 1 bis {max} sein", at(item))),
            }
        };
        absolute_secs = number("absolute_hours", 3600, 24)?.unwrap_or(absolute_secs);
        idle_secs = number("idle_minutes", 60, 24 * 60)?.unwrap_or(idle_secs);
        idle_secs = number("idle_seconds", 1, 24 * 3600)?.unwrap_or(idle_secs);
    }
    let mut keys_refetch_secs = 60;
    if let Some(item) = root.get("keys") {
        let refetch = item.as_table().and_then(|t| t.get("refetch_seconds"));
        match refetch.map(|i| (i.as_integer(), i)) {
            None => {}
            Some((Some(n), _)) if (1..=3600).contains(&n) => keys_refetch_secs = n as u64,
            Some((_, i)) => {
                return Err(format!(
                    "{}: `keys.refetch_seconds` muss eine ganze Zahl von 1 bis 3600 sein",
                    at(i)
                ))
            }
        }
    }
    let mut issuers = Vec::new();
    match root.get("issuers") {
        None => return Err("1: kein Anmeldedienst: mindestens ein `[[issuers]]` fehlt".into()),
        Some(item) => {
            let tables = item.as_array_of_tables().ok_or_else(|| {
                format!("{}: `issuers` muss eine Liste von Tabellen sein ([[issuers]])", at(item))
            })?;
            for table in tables.iter() {
                let issuer = issuer(text, table, base, &string)?;
                if issuers.iter().any(|i: &IssuerConfig| i.id == issuer.id || i.issuer == issuer.issuer) {
                    let line = line_at(text, table.span());
                    return Err(format!(
                        "{line}: der Anmeldedienst `{}` steht zweimal in der Datei",
                        issuer.id
                    ));
                }
                issuers.push(issuer);
            }
        }
    }
    Ok(AuthConfig { public_url, absolute_secs, idle_secs, keys_refetch_secs, issuers })
}

type StringAt<'a> = dyn Fn(&toml_edit::Table, &str, usize) -> Result<Option<String>, String> + 'a;

// Long: one check per key of an issuer, each naming its line.
fn issuer(
    text: &str,
    table: &toml_edit::Table,
    base: &Path,
    string: &StringAt<'_>,
) -> Result<IssuerConfig, String> {
    let line = line_at(text, table.span());
    let required = |key: &str| -> Result<String, String> {
        string(table, key, line)?
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{line}: beim Anmeldedienst fehlt `{key}`"))
    };
    let id = required("id")?;
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!("{line}: `id` {id:?} darf nur Buchstaben, Ziffern, - und _ enthalten"));
    }
    let issuer_url = required("issuer")?;
    if !(issuer_url.starts_with("https://") || issuer_url.starts_with("http://")) {
        return Err(format!("{line}: `issuer` ist keine http(s)-Adresse: {issuer_url:?}"));
    }
    let file = |key: &str| -> Result<Option<(PathBuf, Vec<u8>)>, String> {
        let Some(name) = string(table, key, line)? else { return Ok(None) };
        let path = base.join(&name);
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("{line}: `{key}` = {name:?}: {}: {e}", path.display()))?;
        Ok(Some((path, bytes)))
    };
    let (secret_path, secret) = file("client_secret_file")?
        .ok_or_else(|| format!("{line}: beim Anmeldedienst `{id}` fehlt `client_secret_file`"))?;
    let client_secret = String::from_utf8(secret)
        .map_err(|_| format!("{line}: {} ist kein UTF-8-Text", secret_path.display()))?
        .trim()
        .to_owned();
    if client_secret.is_empty() {
        return Err(format!("{line}: {} ist leer", secret_path.display()));
    }
    let extra_root_ca = match file("extra_root_ca")? {
        Some((path, pem)) if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") => {
            return Err(format!("{line}: {} enthält kein PEM-Zertifikat", path.display()))
        }
        other => other.map(|(_, pem)| pem),
    };
    let scopes = match table.get("scopes") {
        None => vec![],
        Some(item) => item
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
            .ok_or_else(|| {
                format!("{}: `scopes` muss eine Liste von Texten sein", line_at(text, item.span()))
            })?,
    };
    let roles_item = table
        .get("roles")
        .ok_or_else(|| format!("{line}: beim Anmeldedienst `{id}` fehlt `[issuers.roles]`"))?;
    let roles_table = roles_item.as_table_like().ok_or_else(|| {
        format!("{}: `roles` muss eine Tabelle sein (Wert = Rolle)", line_at(text, roles_item.span()))
    })?;
    let mut roles = Vec::new();
    for (value, item) in roles_table.iter() {
        let role_line = line_at(text, item.span()).max(line);
        let name = item.as_str().unwrap_or_default();
        let role = TokenRole::from_name(name).filter(|_| LOGIN_ROLES.contains(&name)).ok_or_else(|| {
            format!(
                "{role_line}: `{value}` = {name:?}: keine Rolle für eine Anmeldung (erlaubt: {})",
                LOGIN_ROLES.join(", ")
            )
        })?;
        roles.push((value.to_owned(), role));
    }
    if roles.is_empty() {
        return Err(format!("{line}: `[issuers.roles]` von `{id}` ordnet keinem Wert eine Rolle zu"));
    }
    Ok(IssuerConfig {
        label: string(table, "label", line)?.unwrap_or_else(|| id.clone()),
        id,
        issuer: issuer_url,
        client_id: required("client_id")?,
        client_secret,
        extra_root_ca,
        scopes,
        roles_claim: required("roles_claim")?,
        roles,
        administrations_claim: string(table, "administrations_claim", line)?,
        administration_group_prefix: string(table, "administration_group_prefix", line)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with_secret() -> tempdir::Dir {
        tempdir::Dir::new()
    }

    mod tempdir {
        /// A directory of its own under the system's temporary directory, removed at the end.
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let path = std::env::temp_dir().join(format!("signin-{}", uuid::Uuid::now_v7()));
                std::fs::create_dir_all(&path).expect("dir");
                std::fs::write(path.join("secret"), "geheim\n").expect("secret");
                Dir(path)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    const GOOD: &str = r#"public_url = "http://127.0.0.1:8080/"

[sessions]
absolute_hours = 4

[[issuers]]
id = "land"
label = "Landesverwaltung"
issuer = "http://127.0.0.1:9000"
client_id = "efa"
client_secret_file = "secret"
roles_claim = "groups"
administration_group_prefix = "/kommunen/"

[issuers.roles]
"/efa/projektleitung" = "project-manager"
"/efa/kommune" = "authority-staff"
"#;

    #[test]
    fn a_good_file_is_read_with_its_defaults() {
        let dir = dir_with_secret();
        let c = parse(GOOD, &dir.0).expect("good");
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert_eq!((c.absolute_secs, c.idle_secs), (4 * 3600, 3600));
        let i = &c.issuers[0];
        assert_eq!((i.id.as_str(), i.client_secret.as_str()), ("land", "geheim"));
        assert_eq!(i.roles[1], ("/efa/kommune".to_owned(), TokenRole::AuthorityStaff));
    }

    #[test]
    fn every_problem_names_its_line() {
        let dir = dir_with_secret();
        let cases = [
            (GOOD.replace("\"authority-staff\"", "\"automation\""), "17: `/efa/kommune` = \"automation\""),
            (GOOD.replace("client_id = \"efa\"\n", ""), "6: beim Anmeldedienst fehlt `client_id`"),
            (GOOD.replace("\"secret\"", "\"fehlt\""), "6: `client_secret_file` = \"fehlt\""),
            (GOOD.replace("absolute_hours = 4", "absolute_hours = 99"), "4: `sessions.absolute_hours`"),
            (
                GOOD.replace("public_url = \"http://127.0.0.1:8080/\"", "public_url = \"ftp://x\""),
                "1: `public_url`",
            ),
            (GOOD.replace("[issuers.roles]", "[issuers.roles"), "15: keine gültige TOML-Datei"),
            (
                format!("{GOOD}\n{}", &GOOD[GOOD.find("[[issuers]]").expect("issuers")..]),
                "19: der Anmeldedienst `land` steht zweimal",
            ),
        ];
        for (text, says) in cases {
            let err = parse(&text, &dir.0).expect_err(says);
            assert!(err.starts_with(says), "{err:?} should start with {says:?}");
        }
    }
}
