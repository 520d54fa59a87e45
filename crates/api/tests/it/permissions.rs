//! Every GraphQL root field and every HTTP route that reads or writes goes through a named
//! permission of `app::Caller`, and the api crate compares no role itself. The test reads the
//! source, like `boundaries.rs`: a resolver is gated when it calls a permission of
//! `crates/app/src/caller.rs` — directly or through a function of the api crate that does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::rust_files;

/// The source of the api crate without its unit tests and comments.
fn api_sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read");
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            let code: Vec<&str> = text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect();
            (p, code.join("\n"))
        })
        .collect()
}

/// The permissions: every method of `Caller` but those that say who it is.
fn permissions() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src/caller.rs");
    let source = std::fs::read_to_string(path).expect("read app's caller.rs");
    let not_permissions = ["of_token", "actor", "domain", "message"];
    source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub fn "))
        .map(|rest| rest.split('(').next().unwrap_or_default().to_owned())
        .filter(|name| !not_permissions.contains(&name.as_str()))
        .collect()
}

/// The questions of `app` that answer within a caller's scope: its public functions that take
/// a `&Caller` (they ask the permissions themselves).
fn scoped_questions() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src"), &mut files);
    let mut out = BTreeSet::new();
    for path in files {
        let source = std::fs::read_to_string(&path).expect("read");
        for (at, _) in source.match_indices("pub fn ").chain(source.match_indices("pub async fn ")) {
            let rest = &source[at..];
            let signature = rest.split('{').next().unwrap_or_default();
            let name = signature.split("fn ").nth(1).unwrap_or_default();
            let name: String = name.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if signature.contains("&Caller") {
                out.insert(name);
            }
        }
    }
    out
}

/// Every function of the api crate (by name; several of one name are merged) and its body;
/// `roots` only the functions in the root types' impls (`impl …Query`, `…Mutation`,
/// `SubscriptionRoot`).
fn functions_in(sources: &[(PathBuf, String)], roots: bool) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (_, code) in sources {
        let mut current: Option<String> = None;
        let mut in_root = false;
        for line in code.lines() {
            if let Some(rest) = line.strip_prefix("impl ") {
                let ty = rest
                    .split_whitespace()
                    .last()
                    .filter(|t| *t != "{")
                    .unwrap_or(rest.trim_end_matches(" {"));
                let ty = ty.trim_end_matches('{').trim();
                in_root = ty.ends_with("Query") || ty.ends_with("Mutation") || ty == "SubscriptionRoot";
            } else if line.starts_with('}') {
                in_root = false;
            }
            if roots && !in_root {
                current = None;
                continue;
            }
            let trimmed = line.trim_start();
            let decl =
                ["pub(crate) async fn ", "pub async fn ", "async fn ", "pub(crate) fn ", "pub fn ", "fn "]
                    .iter()
                    .find_map(|p| trimmed.strip_prefix(p));
            if let Some(rest) = decl {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                current = Some(name);
            }
            if let Some(name) = &current {
                let body = out.entry(name.clone()).or_default();
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    out
}

fn functions(sources: &[(PathBuf, String)]) -> BTreeMap<String, String> {
    functions_in(sources, false)
}

/// Whether `body` asks the permission `name`: calls the method (`.name(`) or hands it on
/// (`Caller::name`, as the gates of `state.rs` take it).
fn asks(body: &str, name: &str) -> bool {
    body.contains(&format!(".{name}("))
        || body.contains(&format!("Caller::{name},"))
        || body.contains(&format!("Caller::{name})"))
}

/// Whether `body` calls the free function `name` (`name(` or `path::name(`, not a method of
/// another type and not an attribute).
fn calls(body: &str, name: &str) -> bool {
    body.lines().filter(|l| !l.trim_start().starts_with("#[")).any(|line| {
        line.match_indices(name).any(|(at, _)| {
            let before = line[..at].chars().next_back();
            let after = line[at + name.len()..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') && after == Some('(')
        })
    })
}

/// The functions that reach a permission, directly or through others of the crate.
fn gated(functions: &BTreeMap<String, String>, permissions: &BTreeSet<String>) -> BTreeSet<String> {
    let questions = scoped_questions();
    let mut gated: BTreeSet<String> = functions
        .iter()
        .filter(|(_, body)| {
            permissions.iter().any(|p| asks(body, p)) || questions.iter().any(|q| calls(body, q))
        })
        .map(|(name, _)| name.clone())
        .collect();
    loop {
        let more: Vec<String> = functions
            .iter()
            .filter(|(name, body)| {
                !gated.contains(*name) && gated.iter().any(|g| g != *name && calls(body, g))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if more.is_empty() {
            return gated;
        }
        gated.extend(more);
    }
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_uppercase() {
            out.push('_');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The root fields of the schema as `schema/schema.graphql` has them.
fn root_fields() -> Vec<(String, String)> {
    let sdl =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/schema.graphql"))
            .expect("read the schema");
    let mut out = Vec::new();
    let mut root: Option<&str> = None;
    let mut in_description = false;
    for line in sdl.lines() {
        if line.trim() == "\"\"\"" {
            in_description = !in_description;
            continue;
        }
        if in_description {
            continue;
        }
        if let Some(rest) = line.strip_prefix("type ") {
            let name = rest.split_whitespace().next().unwrap_or_default();
            root = ["Query", "Mutation", "SubscriptionRoot"].into_iter().find(|r| *r == name);
            continue;
        }
        if line.starts_with('}') {
            root = None;
        }
        let Some(root) = root else { continue };
        // A field sits one level in ("\tname(" or "\tname:"); its arguments deeper.
        if let Some(field) = line.strip_prefix('\t').filter(|f| !f.starts_with(['\t', '"', ' '])) {
            let name: String = field.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.push((root.to_owned(), name));
            }
        }
    }
    out
}

#[test]
fn the_api_compares_no_role_itself() {
    let roles = ["Admin", "ProjectManager", "AuthorityStaff", "AssociationStaff", "Auditor", "Automation"];
    let mut offences = Vec::new();
    for (path, code) in api_sources() {
        for (i, line) in code.lines().enumerate() {
            let compares = roles.iter().any(|r| line.contains(&format!("TokenRole::{r}")))
                || line.contains(".role ==")
                || line.contains(".role !=")
                || (line.contains(".role") && (line.contains("match ") || line.contains("matches!")));
            if compares {
                offences.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "role comparisons in the api crate (ask a permission of app::Caller):\n{}",
        offences.join("\n")
    );
}

#[test]
fn every_root_field_goes_through_a_permission_of_app() {
    let sources = api_sources();
    let functions = functions(&sources);
    let permissions = permissions();
    assert!(permissions.len() > 15, "the permissions were found: {permissions:?}");
    let gated = gated(&functions, &permissions);
    let fields = root_fields();
    assert!(fields.len() > 50, "the schema's root fields were found: {}", fields.len());
    let resolvers = functions_in(&sources, true);
    let questions = scoped_questions();
    assert!(questions.contains("task_list"), "app's scoped questions were found: {questions:?}");
    // `me` answers only who the caller itself is.
    let about_the_caller = ["me"];
    let mut ungated = Vec::new();
    for (root, field) in &fields {
        let name = snake(field);
        match resolvers.get(&name) {
            _ if about_the_caller.contains(&name.as_str()) => {}
            None => ungated.push(format!("{root}.{field}: no resolver `{name}` found")),
            Some(body) => {
                let asks = permissions.iter().any(|p| asks(body, p))
                    || questions.iter().any(|q| calls(body, q))
                    || gated.iter().any(|g| *g != name && calls(body, g));
                if !asks {
                    ungated.push(format!("{root}.{field} (`{name}`)"));
                }
            }
        }
    }
    assert!(ungated.is_empty(), "root fields that ask no permission of app::Caller:\n{}", ungated.join("\n"));
}

#[test]
fn every_http_route_that_reads_or_writes_goes_through_a_permission_of_app() {
    let sources = api_sources();
    let functions = functions(&sources);
    let gated = gated(&functions, &permissions());
    // Routes that carry no data of anyone: the compiled-in pages and map layers, liveness and
    // readiness (`/metrics` has its own token, `--metrics-token`).
    // The sign-in routes are where a caller comes from none (logout ends the cookie's own
    // session, checked same-origin).
    let public = [
        "dashboard",
        "asset",
        "explorer",
        "explorer_asset",
        "geo",
        "readyz",
        "metrics",
        "providers",
        "login",
        "callback",
        "logout",
    ];
    // `/graphql` serves the root fields, each checked by the test above; `/exports/…` runs a
    // root field's query for the caller.
    let per_field = ["graphql", "graphql_get", "list"];
    let server = &sources.iter().find(|(p, _)| p.ends_with("server.rs")).expect("server.rs").1;
    let router = server
        .split("Router::new()")
        .nth(1)
        .expect("the router")
        .split(".with_state(")
        .next()
        .unwrap_or_default();
    let mut handlers = Vec::new();
    for line in router.lines().filter(|l| l.contains("get(") || l.contains("post(")) {
        for (at, _) in line.match_indices("get(").chain(line.match_indices("post(")) {
            let rest = &line[at..];
            let inner = rest.split_once('(').map(|(_, r)| r).unwrap_or_default();
            let name: String = inner
                .trim_start_matches(|c: char| {
                    c == '|' || c == ' ' || c == 's' || c == ',' || c == 'h' || c == 'q'
                })
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let name = name.rsplit("::").next().unwrap_or_default().to_owned();
            if !name.is_empty() && name != "async" {
                handlers.push(name);
            }
        }
    }
    assert!(handlers.len() >= 10, "the routes' handlers were found: {handlers:?}");
    let ungated: Vec<&String> = handlers
        .iter()
        .filter(|h| !public.contains(&h.as_str()) && !per_field.contains(&h.as_str()) && !gated.contains(*h))
        .collect();
    assert!(
        ungated.is_empty(),
        "HTTP handlers that ask no permission of app::Caller: {ungated:?} (of {handlers:?})"
    );
}
