//! The HTTP server: `POST /graphql`, `/healthz`, `/readyz`. Requests carry
//! `Authorization: Bearer <token>`; each gets a request id, carried into the events'
//! correlation id and returned as `x-request-id`.

use std::sync::Arc;

use async_graphql::ServerError;
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use engine::TokenRegistry;

use crate::caller::Caller;
use crate::limits::{BODY_BYTES_MAX, BODY_DRAIN_MAX, READY_LAG_MAX};
use crate::metrics::{Metrics, StoreStats};
use crate::schema::ApiSchema;
use crate::RequestId;

#[derive(Clone)]
struct AppState {
    schema: ApiSchema,
    tokens: Arc<TokenRegistry>,
    metrics: Arc<Metrics>,
    store_stats: StoreStats,
    projector: Arc<projections::Projector>,
    open: Arc<crate::state::Open>,
    store: Arc<dyn store::EventStore>,
}

/// The router for `schema`, built from `api` (whose metrics and subscriptions `/metrics`
/// shows). `store_stats` reports the store's writer counters.
pub fn router(
    schema: ApiSchema,
    api: &crate::ApiState,
    tokens: Arc<TokenRegistry>,
    store: Arc<dyn store::EventStore>,
    store_stats: StoreStats,
) -> Router {
    let state = AppState {
        schema,
        tokens,
        metrics: api.metrics.clone(),
        store_stats,
        projector: api.projector.clone(),
        open: api.open.clone(),
        store,
    };
    Router::new()
        .route("/graphql", post(graphql).get(websocket))
        .route("/", get(dashboard))
        .route("/assets/{*path}", get(asset))
        .route("/graphiql", get(explorer))
        .route("/geo/{layer}", get(geo))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        // `/graphql` bounds its body itself (`read_body`); every other route takes none.
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(state)
}

/// The GraphQL explorer: one self-contained page compiled into the binary; it loads nothing
/// from anywhere else.
const EXPLORER: &str = include_str!("../assets/explorer.html");

async fn explorer() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
            ),
        ],
        EXPLORER,
    )
        .into_response()
}

/// The dashboard: one page, its style sheet and its script as ES modules (`assets/dashboard/`),
/// compiled into the binary. It loads nothing from anywhere else (the policy below lets the
/// browser enforce that) and uses only the public API.
const DASHBOARD: &str = include_str!("../assets/dashboard.html");
const DASHBOARD_POLICY: &str = "default-src 'self'; connect-src 'self' ws: wss:; script-src 'self'; \
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
    module!("api.js"),
    module!("audit.js"),
    module!("authority.js"),
    module!("burnup.js"),
    module!("data.js"),
    module!("definitions.js"),
    module!("dom.js"),
    module!("live.js"),
    module!("map.js"),
    module!("overview.js"),
    module!("rollout.js"),
    module!("routing.js"),
    module!("words.js"),
];

async fn dashboard() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (axum::http::header::CONTENT_SECURITY_POLICY, DASHBOARD_POLICY),
        ],
        DASHBOARD,
    )
        .into_response()
}

async fn asset(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(name, ..)| *name == path) {
        Some((_, kind, body)) => (
            [(axum::http::header::CONTENT_TYPE, *kind), (axum::http::header::CACHE_CONTROL, "no-cache")],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

/// Boundaries for the dashboard's map (BKG VG250, dl-de/by-2-0; see data/SOURCES.md), compiled
/// into the binary like the dashboard itself.
const GEO_KREISE: &[u8] = include_bytes!("../../../data/geo/brandenburg_kreise.geojson");
const GEO_VERWALTUNGEN: &[u8] = include_bytes!("../../../data/geo/brandenburg_verwaltungstraeger.geojson");

async fn geo(axum::extract::Path(layer): axum::extract::Path<String>) -> Response {
    let body = match layer.as_str() {
        "kreise.geojson" => GEO_KREISE,
        "verwaltungstraeger.geojson" => GEO_VERWALTUNGEN,
        _ => return (StatusCode::NOT_FOUND, "no such map layer\n").into_response(),
    };
    (
        [
            (axum::http::header::CONTENT_TYPE, "application/geo+json"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

/// Ready while the store can write and the read models have caught up with the log as it was
/// at start (and keep up). Asking the store also lets it recover from a failed write.
async fn readyz(State(state): State<AppState>) -> Response {
    if let store::Health::Unwritable { cause, .. } = state.store.health().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("the store cannot write: {cause}\n"))
            .into_response();
    }
    let head = state.store.head().await.map(|h| h.position).unwrap_or(u64::MAX);
    let lag = head.saturating_sub(state.projector.position());
    if lag < READY_LAG_MAX {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("read models are {lag} events behind\n")).into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let head = state.store.head().await.map(|h| h.position).unwrap_or(0);
    let text = state.metrics.render(crate::metrics::Gauges {
        store: (state.store_stats)(),
        writable: state.store.health().await.is_writable(),
        read_model_position: state.projector.position(),
        log_position: head,
        subscriptions_open: state.open.total(),
    });
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// `GET /graphql`: a WebSocket for subscriptions (`graphql-transport-ws`). The token comes in
/// the `connection_init` payload (`{"Authorization": "Bearer <token>"}`) or in the upgrade
/// request's `Authorization` header; without a valid one the connection is closed.
async fn websocket(
    State(state): State<AppState>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let header_token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned());
    upgrade.protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| {
        let tokens = state.tokens.clone();
        let projector = state.projector.clone();
        GraphQLWebSocket::new(socket, state.schema.clone(), protocol)
            .on_connection_init(move |payload: serde_json::Value| async move {
                let from_payload = ["Authorization", "authorization"]
                    .iter()
                    .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(|v| v.trim().to_owned());
                let token = from_payload.or(header_token);
                match token
                    .as_deref()
                    .and_then(|t| Caller::authenticate(&tokens, t, || association_scope(&projector)))
                {
                    Some(principal) => {
                        let mut data = async_graphql::Data::default();
                        data.insert(principal);
                        data.insert(RequestId(uuid::Uuid::now_v7()));
                        Ok(data)
                    }
                    None => {
                        Err(async_graphql::Error::new("UNAUTHENTICATED: a valid bearer token is required"))
                    }
                }
            })
            .serve()
    })
}

fn error_response(code: &str, message: &str) -> async_graphql::Response {
    let mut error = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    error.extensions = Some(ext);
    async_graphql::Response::from_errors(vec![error])
}

fn respond(status: StatusCode, response: async_graphql::Response, id: uuid::Uuid) -> Response {
    let response: GraphQLResponse = response.into();
    let mut response = response.into_response();
    *response.status_mut() = status;
    with_request_id(response, id)
}

/// Why a request body was not taken.
enum BodyProblem {
    /// Larger than [`BODY_BYTES_MAX`]; `drained`: the rest was read and discarded (up to
    /// [`BODY_DRAIN_MAX`]), so the client, which may still be sending, sees the answer.
    TooLarge {
        drained: bool,
    },
    Broken(String),
}

/// Reads the body up to [`BODY_BYTES_MAX`]. A larger one is refused — at once when the client
/// announced it and waits for `100 Continue` (curl), otherwise after reading and discarding it
/// up to [`BODY_DRAIN_MAX`] (Python's urllib and many libraries send it all at once, and a
/// server that closes while they send makes them see a reset instead of the answer).
async fn read_body(headers: &HeaderMap, body: axum::body::Body) -> Result<Bytes, BodyProblem> {
    use async_graphql::futures_util::StreamExt;
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let expects_continue = headers
        .get(axum::http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if let Some(length) = announced.filter(|&n| n > BODY_BYTES_MAX as u64) {
        if expects_continue || length > BODY_DRAIN_MAX as u64 {
            return Err(BodyProblem::TooLarge { drained: expects_continue });
        }
    }
    let mut stream = body.into_data_stream();
    let mut taken = Vec::with_capacity(announced.map_or(4096, |n| n as usize).min(BODY_BYTES_MAX));
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| BodyProblem::Broken(format!("the request body could not be read: {e}")))?;
        total += chunk.len();
        if total <= BODY_BYTES_MAX {
            taken.extend_from_slice(&chunk);
        } else if total > BODY_DRAIN_MAX {
            return Err(BodyProblem::TooLarge { drained: false });
        }
    }
    if total > BODY_BYTES_MAX {
        return Err(BodyProblem::TooLarge { drained: true });
    }
    Ok(Bytes::from(taken))
}

async fn graphql(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Body) -> Response {
    let body = read_body(&headers, body).await;
    let started = std::time::Instant::now();
    let metrics = state.metrics.clone();
    let response = graphql_inner(state, headers, body).await;
    metrics.observe(started.elapsed().as_secs_f64(), !response.status().is_success());
    response
}

async fn graphql_inner(state: AppState, headers: HeaderMap, body: Result<Bytes, BodyProblem>) -> Response {
    let request_id = uuid::Uuid::now_v7();
    let body = match body {
        Ok(body) => body,
        Err(BodyProblem::TooLarge { drained }) => {
            let message = format!("the request body is larger than {BODY_BYTES_MAX} bytes");
            let mut response = respond(
                StatusCode::PAYLOAD_TOO_LARGE,
                error_response("LIMIT_EXCEEDED", &message),
                request_id,
            );
            if !drained {
                // What is left unread cannot be taken as the next request.
                response
                    .headers_mut()
                    .insert(axum::http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            return response;
        }
        Err(BodyProblem::Broken(message)) => {
            return respond(StatusCode::BAD_REQUEST, error_response("BAD_USER_INPUT", &message), request_id)
        }
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("the body is not a GraphQL request (JSON with `query`): {e}");
            return respond(StatusCode::BAD_REQUEST, error_response("BAD_USER_INPUT", &message), request_id);
        }
    };
    let mut request = request.data(RequestId(request_id));
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let bearer = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
        match bearer
            .and_then(|b| Caller::authenticate(&state.tokens, b, || association_scope(&state.projector)))
        {
            Some(principal) => request = request.data(principal),
            None => {
                let message = "the bearer token is not valid (unknown, revoked or malformed)";
                return respond(StatusCode::OK, error_response("UNAUTHENTICATED", message), request_id);
            }
        }
    }
    let response: GraphQLResponse = state.schema.execute(request).await.into();
    with_request_id(response.into_response(), request_id)
}

fn with_request_id(mut response: Response, id: uuid::Uuid) -> Response {
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// ZV DIKOM's scope as the catalogue says it now: its member administrations, and the form
/// server's services.
fn association_scope(projector: &projections::Projector) -> (Vec<String>, Vec<String>) {
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
        (members, services)
    })
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
