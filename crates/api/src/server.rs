//! The HTTP server: `POST /graphql`, `/healthz`, `/readyz`. Requests carry
//! `Authorization: Bearer <token>`; each gets a request id, carried into the events'
//! correlation id and returned as `x-request-id`.

use std::sync::Arc;

use async_graphql::ServerError;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use engine::TokenRegistry;

use crate::limits::{
    BODY_BYTES_MAX, BODY_DRAIN_MAX, BODY_READ_TIMEOUT, COMPLEXITY_MAX, QUERY_TIME_MAX, READY_LAG_MAX,
    RESPONSE_BYTES_MAX, WS_MESSAGE_BYTES_MAX,
};
use crate::metrics::StoreStats;
use crate::schema::ApiSchema;
use crate::RequestId;

pub(crate) use crate::http::{AppState, Executed};

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
        engine: api.engine.clone(),
        store,
        documents: api.documents.clone(),
        api: api.clone(),
    };
    Router::new()
        .route("/graphql", post(graphql).get(graphql_get))
        .route("/", get(crate::assets::dashboard))
        .route("/assets/{*path}", get(crate::assets::asset))
        .route("/graphiql", get(crate::assets::explorer))
        .route("/graphiql/{file}", get(crate::assets::explorer_asset))
        .route("/geo/{layer}", get(geo))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/reports/programme.xlsx",
            get(|s, h, q| crate::downloads::programme(s, h, q, crate::downloads::Format::Xlsx)),
        )
        .route(
            "/reports/programme.csv",
            get(|s, h, q| crate::downloads::programme(s, h, q, crate::downloads::Format::Csv)),
        )
        .route(
            "/reports/programme.html",
            get(|s, h, q| crate::downloads::programme(s, h, q, crate::downloads::Format::Html)),
        )
        .route("/reports/steckbrief/{file}", get(crate::downloads::steckbrief))
        .route("/exports/{name}", get(crate::downloads::list))
        .route("/auth/providers", get(crate::auth::providers))
        .route("/auth/login", get(crate::auth::login))
        .route("/auth/callback", get(crate::auth::callback))
        .route("/auth/logout", post(crate::auth::logout))
        // `/graphql` bounds its body itself (`read_body`); every other route takes none.
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(state)
}

/// The dashboard's map layers (`/geo/<name>.geojson`): boundaries from the Land's profile
/// (the bundled one's: BKG VG250, dl-de/by-2-0; see data/SOURCES.md).
pub(crate) async fn geo(
    State(state): State<AppState>,
    axum::extract::Path(layer): axum::extract::Path<String>,
) -> Response {
    let name = layer.strip_suffix(".geojson").unwrap_or_default();
    let Some((_, body)) = state.api.map.iter().find(|(n, _)| n == name) else {
        return (StatusCode::NOT_FOUND, "no such map layer\n").into_response();
    };
    (
        [
            (axum::http::header::CONTENT_TYPE, "application/geo+json"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body.clone(),
    )
        .into_response()
}

/// Ready while the store can write and the read models have caught up with the log as it was
/// at start (and keep up). Asking the store also lets it recover from a failed write.
async fn readyz(State(state): State<AppState>) -> Response {
    if let Some(broken) = state.api.verification.broken() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the log does not verify: {broken}; stop this server and run `rollout verify`\n"),
        )
            .into_response();
    }
    if let store::Health::Unwritable { cause, .. } = state.store.health().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the store cannot write: {}\n", crate::state::hide_paths(&cause)),
        )
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

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(wanted) = &state.api.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(app::bearer)
            .unwrap_or("");
        // Compared as hashes: the time taken says nothing about the token.
        if blake3::hash(given.as_bytes()) != blake3::hash(wanted.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                "/metrics braucht das Token von --metrics-token (Authorization: Bearer …)\n",
            )
                .into_response();
        }
    }
    let head = state.store.head().await.map(|h| h.position).unwrap_or(0);
    let text = state.metrics.render(crate::metrics::Gauges {
        store: (state.store_stats)(),
        writable: state.store.health().await.is_writable(),
        read_model_position: state.projector.position(),
        log_position: head,
        subscriptions_open: state.open.total(),
        cache: state.engine.cache_stats(),
        documents: state.documents.stats(),
        verified_position: state.api.verification.verified.load(std::sync::atomic::Ordering::Relaxed),
        log_broken: state.api.verification.broken().is_some(),
    });
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// `GET /graphql`: a WebSocket for subscriptions (`graphql-transport-ws`, `crate::socket`). The
/// token comes in the `connection_init` payload (`{"Authorization": "Bearer <token>"}`) or in
/// the upgrade request's `Authorization` header; without a valid one the connection is closed.
async fn websocket(state: AppState, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    let header_token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(app::bearer)
        .map(str::to_owned);
    let protocol = crate::socket::protocol(
        headers.get(axum::http::header::SEC_WEBSOCKET_PROTOCOL).and_then(|v| v.to_str().ok()),
    );
    // Browsers send cookies on an upgrade from any site: a cookie signs a socket in only when
    // the upgrade comes from this server's own pages (cross-site WebSocket hijacking).
    let cookie_caller = match crate::auth::from_cookie(&state, &headers).await {
        crate::auth::CookieAuth::Caller(caller) => Some(*caller),
        _ => None,
    };
    upgrade
        .max_message_size(WS_MESSAGE_BYTES_MAX)
        .max_frame_size(WS_MESSAGE_BYTES_MAX)
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| crate::socket::serve(socket, state, protocol, header_token, cookie_caller))
}

fn error_response(code: &str, message: &str) -> async_graphql::Response {
    let mut error = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    error.extensions = Some(ext);
    async_graphql::Response::from_errors(vec![error])
}

/// The media type of a GraphQL answer (GraphQL over HTTP): `application/json` unless the
/// client accepts `application/graphql-response+json` (or accepts neither: then the newer one).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Media {
    Json,
    GraphqlResponse,
}

impl Media {
    fn of(headers: &HeaderMap) -> Media {
        let Some(accept) = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Media::Json;
        };
        let accepted = |name: &str| {
            accept.split(',').any(|part| {
                let mut fields = part.split(';').map(str::trim);
                let ty = fields.next().unwrap_or("");
                let refused = fields.any(|f| f.replace(' ', "").eq_ignore_ascii_case("q=0"));
                ty.eq_ignore_ascii_case(name) && !refused
            })
        };
        if accepted("application/graphql-response+json") {
            Media::GraphqlResponse
        } else if accepted("application/json") || accepted("*/*") || accepted("application/*") {
            Media::Json
        } else {
            Media::GraphqlResponse
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Media::Json => "application/json",
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        }
    }
}

fn respond(status: StatusCode, response: async_graphql::Response, id: uuid::Uuid) -> Response {
    respond_as(Media::Json, status, &response, false, id)
}

/// The answer as `media`. `request_error`: the document did not parse or validate, or its
/// variables did not coerce — with `application/graphql-response+json` that is a `400` without
/// a `data` entry.
fn respond_as(
    media: Media,
    status: StatusCode,
    response: &async_graphql::Response,
    request_error: bool,
    id: uuid::Uuid,
) -> Response {
    let failed = || br#"{"errors":[{"message":"internal error"}]}"#.to_vec();
    let mut status = status;
    let body = if media == Media::GraphqlResponse && request_error {
        if status == StatusCode::OK {
            status = StatusCode::BAD_REQUEST;
        }
        // No `data` entry: the errors (and extensions, if any) only.
        let mut errors = serde_json::Map::new();
        errors.insert("errors".into(), serde_json::to_value(&response.errors).unwrap_or_default());
        if !response.extensions.is_empty() {
            errors
                .insert("extensions".into(), serde_json::to_value(&response.extensions).unwrap_or_default());
        }
        serde_json::to_vec(&errors).unwrap_or_else(|_| failed())
    } else {
        // Straight to bytes: the answer is serialised once.
        serde_json::to_vec(response).unwrap_or_else(|_| failed())
    };
    let body = if body.len() > RESPONSE_BYTES_MAX {
        let message = format!(
            "Die Antwort wäre {} Bytes groß, höchstens {RESPONSE_BYTES_MAX} sind erlaubt; fragen Sie weniger auf einmal (kleinere Seiten, weniger Felder).",
            body.len()
        );
        serde_json::to_vec(&error_response("LIMIT_EXCEEDED", &message)).unwrap_or_else(|_| failed())
    } else {
        body
    };
    let mut out = (status, [(axum::http::header::CONTENT_TYPE, media.content_type())], body).into_response();
    for (name, value) in &response.http_headers {
        out.headers_mut().insert(name.clone(), value.clone());
    }
    with_request_id(out, id)
}

/// Why a request body was not taken.
enum BodyProblem {
    /// Larger than [`BODY_BYTES_MAX`]; `drained`: the rest was read and discarded (up to
    /// [`BODY_DRAIN_MAX`]), so the client, which may still be sending, sees the answer.
    TooLarge {
        drained: bool,
    },
    Broken(String),
    /// Not arrived whole within [`BODY_READ_TIMEOUT`].
    Slow,
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
    let deadline = tokio::time::Instant::now() + BODY_READ_TIMEOUT;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => return Err(BodyProblem::Slow),
        };
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
    let started = std::time::Instant::now();
    let metrics = state.metrics.clone();
    let response = graphql_post(state, headers, body).await;
    metrics.observe(started.elapsed().as_secs_f64(), !response.status().is_success());
    response
}

/// `POST /graphql`: a JSON body (`Content-Type: application/json`).
async fn graphql_post(state: AppState, headers: HeaderMap, body: axum::body::Body) -> Response {
    let request_id = uuid::Uuid::now_v7();
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        let message = "the body must be a GraphQL request as JSON: send `Content-Type: application/json`";
        return respond(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            error_response("BAD_USER_INPUT", message),
            request_id,
        );
    }
    let body = read_body(&headers, body).await;
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
        Err(BodyProblem::Slow) => {
            let message = format!(
                "Der Anfragekörper kam nicht binnen {} s vollständig an.",
                BODY_READ_TIMEOUT.as_secs()
            );
            let mut response =
                respond(StatusCode::REQUEST_TIMEOUT, error_response("LIMIT_EXCEEDED", &message), request_id);
            response.headers_mut().insert(axum::http::header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        Err(BodyProblem::Broken(message)) => {
            return respond(StatusCode::BAD_REQUEST, error_response("BAD_USER_INPUT", &message), request_id)
        }
    };
    let mut request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("the body is not a GraphQL request (JSON with `query`): {e}");
            return respond(StatusCode::BAD_REQUEST, error_response("BAD_USER_INPUT", &message), request_id);
        }
    };
    if let Some(document) = state.documents.parse(&request.query) {
        request.set_parsed_query(document);
    }
    execute(&state, &headers, request, request_id).await
}

/// `GET /graphql`: a WebSocket upgrade for subscriptions, or a query in the URL (`query`,
/// `variables` and `extensions` as JSON, `operationName`, URL-encoded). Mutations are not taken
/// over GET (`405`, `Allow: POST`): a link or a prefetching proxy must never change anything.
async fn graphql_get(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    use axum::extract::FromRequestParts;
    let (mut parts, _) = request.into_parts();
    let upgrade = parts
        .headers
        .get(axum::http::header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if upgrade {
        let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(ws) => ws,
            Err(e) => return e.into_response(),
        };
        return websocket(state, parts.headers, ws).await;
    }
    let started = std::time::Instant::now();
    let request_id = uuid::Uuid::now_v7();
    let response = match query_from_url(parts.uri.query().unwrap_or("")) {
        Err(message) => {
            respond(StatusCode::BAD_REQUEST, error_response("BAD_USER_INPUT", &message), request_id)
        }
        // Its operation's type must be known before it runs (no mutation over GET): a long
        // document is parsed only on the POST path.
        Ok(request) if request.query.len() > crate::documents::TEXT_BYTES_MAX => {
            let message = format!(
                "Über GET höchstens {} Bytes Anfragetext; senden Sie längere Anfragen per POST.",
                crate::documents::TEXT_BYTES_MAX
            );
            respond(StatusCode::URI_TOO_LONG, error_response("LIMIT_EXCEEDED", &message), request_id)
        }
        Ok(request) => match operation_type(&state.documents, request) {
            (Some(async_graphql::parser::types::OperationType::Query) | None, request) => {
                execute(&state, &parts.headers, request, request_id).await
            }
            (Some(_), _) => {
                let message =
                    "only queries are taken over GET; send mutations and subscriptions by POST or WebSocket";
                let mut r = respond(
                    StatusCode::METHOD_NOT_ALLOWED,
                    error_response("BAD_USER_INPUT", message),
                    request_id,
                );
                r.headers_mut().insert(axum::http::header::ALLOW, HeaderValue::from_static("POST"));
                r
            }
        },
    };
    state.metrics.observe(started.elapsed().as_secs_f64(), !response.status().is_success());
    response
}

/// A GraphQL request from a URL's query string.
fn query_from_url(query: &str) -> Result<async_graphql::Request, String> {
    let mut fields: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| percent_decode(&s.replace('+', " "));
        fields.insert(decode(k)?, decode(v)?);
    }
    let text = fields.remove("query").ok_or("a GET request needs the parameter `query`")?;
    let mut request = async_graphql::Request::new(text);
    if let Some(name) = fields.remove("operationName").filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(v) = fields.remove("variables").filter(|v| !v.is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(&v).map_err(|e| format!("the parameter `variables` is not JSON: {e}"))?;
        request = request.variables(async_graphql::Variables::from_json(value));
    }
    Ok(request)
}

/// `%XX` sequences decoded, as UTF-8.
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(b) = hex else { return Err(format!("`{s}` holds a bad %-escape")) };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` is not UTF-8 once decoded"))
}

/// The type of the operation a request would run (`None`: the document does not parse, or
/// names no such operation: execution says why).
/// The type of the operation `request` runs (`None`: the document does not parse or has no such
/// operation; the schema reports it), and the request with its document parsed once.
fn operation_type(
    documents: &crate::documents::Documents,
    mut request: async_graphql::Request,
) -> (Option<async_graphql::parser::types::OperationType>, async_graphql::Request) {
    let Some(document) = documents.parse(&request.query) else { return (None, request) };
    let ty = match &request.operation_name {
        Some(name) => document
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, o)| o.node.ty),
        None => document.operations.iter().next().map(|(_, o)| o.node.ty),
    };
    request.set_parsed_query(document);
    (ty, request)
}

/// The caller of a request: its bearer token's, else its session cookie's (from this server's
/// own pages only); none without either; the refusal of a bad token, a cross-site cookie or
/// a session store that cannot be read.
async fn caller_of(
    state: &AppState,
    headers: &HeaderMap,
    request_id: uuid::Uuid,
) -> Result<Option<app::Caller>, Response> {
    use crate::auth::CookieAuth;
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        return match value
            .to_str()
            .ok()
            .and_then(|v| app::authenticate_header(&state.tokens, &state.projector, v))
        {
            Some(principal) => Ok(Some(principal)),
            None => {
                let message = "the bearer token is not valid (unknown, revoked or malformed)";
                Err(respond(StatusCode::OK, error_response("UNAUTHENTICATED", message), request_id))
            }
        };
    }
    match crate::auth::from_cookie(state, headers).await {
        CookieAuth::Caller(caller) => Ok(Some(*caller)),
        CookieAuth::Absent | CookieAuth::Stale => Ok(None),
        CookieAuth::CrossSite => Err(respond(
            StatusCode::FORBIDDEN,
            error_response("FORBIDDEN", crate::auth::CROSS_SITE),
            request_id,
        )),
        CookieAuth::Failed(why) => {
            let message = format!("Die Sitzung konnte nicht gelesen werden: {why}");
            Err(respond(StatusCode::SERVICE_UNAVAILABLE, error_response("UNAVAILABLE", &message), request_id))
        }
    }
}

/// Authenticates and runs `request`, answering as the client accepts.
async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    request: async_graphql::Request,
    request_id: uuid::Uuid,
) -> Response {
    let media = Media::of(headers);
    let executed = Executed::default();
    let mut request = request.data(RequestId(request_id)).data(executed.clone());
    match caller_of(state, headers, request_id).await {
        Ok(Some(caller)) => request = request.data(caller),
        Ok(None) => {}
        Err(refused) => return refused,
    }
    // A long document (hundreds of aliases) costs milliseconds to parse and validate before
    // its cost is known; it runs off the workers, so short requests pass it.
    if let Some(refused) = crate::operations::too_many_aliases(&request.query) {
        let response = async_graphql::Response::from_errors(vec![refused]);
        return respond_as(media, StatusCode::OK, &response, true, request_id);
    }
    let mut response = if request.query.len() > crate::documents::TEXT_BYTES_MAX {
        let turn = tokio::time::timeout(QUERY_TIME_MAX, state.api.long_documents.acquire()).await;
        let Ok(Ok(_turn)) = turn else {
            let message = format!(
                "Der Server ist mit langen Anfragen ausgelastet (mehr als {} Bytes Text, eine nach der anderen); kürzen Sie die Anfrage oder versuchen Sie es später.",
                crate::documents::TEXT_BYTES_MAX
            );
            return respond(StatusCode::OK, error_response("LIMIT_EXCEEDED", &message), request_id);
        };
        crate::state::off_the_workers(state.schema.execute(request)).await
    } else {
        state.schema.execute(request).await
    };
    let request_error = !response.errors.is_empty() && !executed.0.load(std::sync::atomic::Ordering::Relaxed);
    // The parser's, the validator's and the input coercion's errors (a variable of the
    // wrong type) get the code every error carries; the resolvers' own errors have theirs.
    for error in &mut response.errors {
        if error.message == "Query is too complex." {
            error.message = format!(
                "Die Anfrage ist zu aufwendig: mehr als {COMPLEXITY_MAX} Kostenpunkte (jedes Feld 1, eine Liste ihre Seitengröße mal ihre Felder, jeder Alias erneut, asOf und progressOverTime eine Faltung des Logs). Fragen Sie weniger auf einmal."
            );
            let ext = error.extensions.get_or_insert_with(Default::default);
            ext.set("code", "LIMIT_EXCEEDED");
            ext.set("limit", "COMPLEXITY_MAX");
        }
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", "BAD_USER_INPUT");
        }
    }
    respond_as(media, StatusCode::OK, &response, request_error, request_id)
}

fn with_request_id(mut response: Response, id: uuid::Uuid) -> Response {
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

#[cfg(test)]
mod tests {
    /// An answer over the limit is replaced by an error naming it; one at the limit is sent.
    #[test]
    fn paths_are_hidden_from_clients() {
        let hidden = crate::state::hide_paths(
            "writing the log failed (/var/lib/rollout/segments/1.seg: No space left on device (os error 28))",
        );
        assert_eq!(hidden, "writing the log failed ([Datei]: No space left on device (os error 28))");
        assert_eq!(crate::state::hide_paths("a / b"), "a / b");
    }

    #[test]
    fn an_answer_over_the_size_limit_becomes_an_error() {
        use crate::limits::RESPONSE_BYTES_MAX;
        let answer = |bytes: usize| {
            let text = "x".repeat(bytes);
            async_graphql::Response::new(async_graphql::Value::String(text))
        };
        let id = uuid::Uuid::nil();
        let body = |r: super::Response| {
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            let bytes = rt.block_on(axum::body::to_bytes(r.into_body(), usize::MAX)).expect("body");
            String::from_utf8(bytes.to_vec()).expect("UTF-8")
        };
        let ok = body(super::respond_as(super::Media::Json, super::StatusCode::OK, &answer(1000), false, id));
        assert_eq!(ok.len(), 1011, "{}", &ok[..40]);
        let big = answer(RESPONSE_BYTES_MAX);
        let cut = body(super::respond_as(super::Media::Json, super::StatusCode::OK, &big, false, id));
        assert!(cut.contains("LIMIT_EXCEEDED") && cut.contains("höchstens 16777216"), "{cut}");
    }
}
