//! What the server serves from the binary itself: the dashboard (its page and ES modules), the
//! GraphQL explorer (GraphiQL, vendored), the map layers, each with its content type and, for
//! the pages, a strict content security policy. Nothing here reads a file at run time.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The GraphQL explorer: GraphiQL, vendored from npm (`assets/graphiql/README.md`), compiled
/// into the binary with its page; it loads nothing from anywhere else (the policy lets the
/// browser enforce that; GraphiQL's fonts are data URIs, its editors set inline styles).
const EXPLORER: &str = include_str!("../assets/explorer.html");
const EXPLORER_POLICY: &str = "default-src 'self'; connect-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; frame-ancestors 'none'; \
     form-action 'none'";

pub(crate) async fn explorer() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (axum::http::header::CONTENT_SECURITY_POLICY, EXPLORER_POLICY),
        ],
        EXPLORER,
    )
        .into_response()
}

/// `/graphiql/<file>`: (file, content type, body).
const EXPLORER_ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/graphiql.min.js"),
    ),
    ("graphiql.min.css", "text/css; charset=utf-8", include_bytes!("../assets/graphiql/graphiql.min.css")),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    ),
    ("explorer.js", "text/javascript; charset=utf-8", include_bytes!("../assets/graphiql/explorer.js")),
    ("explorer.css", "text/css; charset=utf-8", include_bytes!("../assets/graphiql/explorer.css")),
    ("LICENSE.graphiql", "text/plain; charset=utf-8", include_bytes!("../assets/graphiql/LICENSE.graphiql")),
    ("LICENSE.graphql", "text/plain; charset=utf-8", include_bytes!("../assets/graphiql/LICENSE.graphql")),
    (
        "LICENSE.graphql-ws",
        "text/plain; charset=utf-8",
        include_bytes!("../assets/graphiql/LICENSE.graphql-ws"),
    ),
    ("LICENSE.react", "text/plain; charset=utf-8", include_bytes!("../assets/graphiql/LICENSE.react")),
    (
        "LICENSE.react-dom",
        "text/plain; charset=utf-8",
        include_bytes!("../assets/graphiql/LICENSE.react-dom"),
    ),
];

pub(crate) async fn explorer_asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match EXPLORER_ASSETS.iter().find(|(name, ..)| *name == file) {
        Some((_, kind, body)) => (
            [
                (axum::http::header::CONTENT_TYPE, *kind),
                (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file of the explorer\n").into_response(),
    }
}

/// The dashboard: one page, its style sheet and its script as ES modules (`assets/dashboard/`),
/// compiled into the binary. It loads nothing from anywhere else (the policy below lets the
/// browser enforce that) and uses only the public API.
const DASHBOARD: &str = include_str!("../assets/dashboard.html");
const DASHBOARD_POLICY: &str = "default-src 'self'; connect-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'; form-action 'none'";

/// `/assets/<path>`: (path, content type, body).
macro_rules! module {
    ($name:literal) => {
        (
            concat!("dashboard/", $name),
            "text/javascript; charset=utf-8",
            include_str!(concat!("../assets/dashboard/", $name)),
        )
    };
}
const ASSETS: &[(&str, &str, &str)] = &[
    ("dashboard.css", "text/css; charset=utf-8", include_str!("../assets/dashboard.css")),
    module!("main.js"),
    module!("access.js"),
    module!("api.js"),
    module!("audit.js"),
    module!("authority.js"),
    module!("burnup.js"),
    module!("data.js"),
    module!("definitions.js"),
    module!("dom.js"),
    module!("download.js"),
    module!("live.js"),
    module!("map.js"),
    module!("network.js"),
    module!("offers.js"),
    module!("overview.js"),
    module!("questions.js"),
    module!("report.js"),
    module!("rollout.js"),
    module!("routing.js"),
    module!("tasks.js"),
    module!("words.js"),
];

pub(crate) async fn dashboard() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (axum::http::header::CONTENT_SECURITY_POLICY, DASHBOARD_POLICY),
        ],
        DASHBOARD,
    )
        .into_response()
}

pub(crate) async fn asset(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(name, ..)| *name == path) {
        Some((_, kind, body)) => (
            [(axum::http::header::CONTENT_TYPE, *kind), (axum::http::header::CACHE_CONTROL, "no-cache")],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    /// Every module of the dashboard is served (a new file must be added to `ASSETS`).
    #[test]
    fn every_dashboard_module_is_an_asset() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/dashboard");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("assets/dashboard")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".js"))
            .collect();
        files.sort();
        assert!(files.len() > 5, "{files:?}");
        for f in files {
            let path = format!("dashboard/{f}");
            assert!(super::ASSETS.iter().any(|(p, ..)| *p == path), "{path} is not served");
        }
    }
}
