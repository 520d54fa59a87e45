//! Downloads over HTTP with the bearer token: the programme report (`/reports/programme.xlsx`,
//! `.csv`, `.html`) and every list as XLSX (`/exports/rollouts.xlsx`, `/exports/events.xlsx`,
//! `/exports/tasks.xlsx`).
//!
//! A list download is the GraphQL list itself, paged: the query parameters are the filter's
//! fields, the same query runs page after page for the caller (so its scope rules and filters
//! apply exactly), and each page's rows go into a constant-memory worksheet before the next is
//! read; at most [`DOWNLOAD_ROWS_MAX`] rows (or `limit`), and a download that is cut says so on
//! its sheet and in the header `x-rows-cut`.

use std::collections::HashMap;

use async_graphql::Variables;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::http::AppState;
use crate::limits::{DOWNLOAD_PAGE, DOWNLOAD_ROWS_MAX};
use crate::sheets::XlsxWriter;
use app::report::{Cell, ReportInput};
use app::Caller;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn plain(status: StatusCode, message: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message.into()).into_response()
}

/// A request refused: its status and why.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        plain(self.0, self.1)
    }
}

/// The caller of the request's bearer token or, without one, of its session cookie (from
/// this server's own pages only), or why not.
async fn authenticated(state: &AppState, headers: &HeaderMap) -> Result<Caller, Refusal> {
    let refused = |why: &str| Refusal(StatusCode::UNAUTHORIZED, why.to_owned());
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(app::bearer);
    let Some(bearer) = bearer else {
        use crate::auth::CookieAuth::*;
        return match crate::auth::from_cookie(state, headers).await {
            Caller(caller) => Ok(*caller),
            CrossSite => Err(Refusal(StatusCode::FORBIDDEN, crate::auth::CROSS_SITE.into())),
            Failed(why) => Err(Refusal(StatusCode::SERVICE_UNAVAILABLE, why)),
            Stale => Err(refused("Die Sitzung ist abgelaufen oder beendet; melden Sie sich neu an.")),
            Absent => Err(refused("a bearer token is required (Authorization: Bearer <token>)")),
        };
    };
    app::authenticate(&state.tokens, &state.projector, app::Credential::Bearer(bearer))
        .ok_or_else(|| refused("the bearer token is not valid (unknown, revoked or malformed)"))
}

fn file(content_type: &str, name: &str, body: Vec<u8>, cut: Option<u64>) -> Response {
    let mut response = (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(content_type)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(n) = cut {
        response.headers_mut().insert("x-rows-cut", HeaderValue::from(n));
    }
    response
}

/// The report's format.
#[derive(Clone, Copy)]
pub(crate) enum Format {
    Xlsx,
    Csv,
    Html,
}

/// `GET /reports/programme.{xlsx,csv,html}?asOf=…&since=…`: admins, project managers and
/// auditors; others 403.
pub(crate) async fn programme(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
    format: Format,
) -> Response {
    let c = match authenticated(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    if !c.is_manager() {
        return plain(
            StatusCode::FORBIDDEN,
            "the programme report needs a project manager, admin or auditor token",
        );
    }
    let (as_of, since) = match report_cuts(&params) {
        Ok(cuts) => cuts,
        Err(refused) => return refused.into_response(),
    };
    let s = &state.api;
    let now = s.now();
    // Folds of the log take their turn, as in GraphQL (`ApiState::fold_turn`).
    // Each of `asOf` and `since` is a fold of the whole log: from the token's allowance, one at
    // a time with every other fold.
    let folds = usize::from(!matches!(as_of, projections::Cut::Everything))
        + usize::from(!matches!(since, projections::Cut::Everything));
    let _turn = match fold_turns(s, &c, folds).await {
        Ok(turn) => turn,
        Err(refused) => return refused,
    };
    let past_now = match fold_at(s, as_of).await {
        Ok(m) => m,
        Err(refused) => return refused,
    };
    let past_since = match fold_at(s, since).await {
        Ok(m) => m,
        Err(refused) => return refused,
    };
    let phases = phase_titles(s);
    let build = |m: &projections::ReadModel| {
        let at = app::report::counted_at(as_of, m, now);
        let since = past_since.as_ref().map(|ms| (ms, app::report::counted_at(since, ms, now)));
        let source = format!(
            "efa-rollout, Ereignisprotokoll bis Position {} (Hash {}), erstellt am {}",
            m.position, m.last_hash, now
        );
        app::report::programme_report(&ReportInput {
            now: m,
            now_at: at,
            since,
            source,
            phases: phases.clone(),
            profile: &s.profile,
        })
    };
    let report = match &past_now {
        Some(m) => build(m),
        None => s.projector.read(build),
    };
    report_answer(format, &s.profile.report_title, "programmbericht", report).await
}

/// `GET /reports/steckbrief/<ARS>.{xlsx,csv,html}`: the one-page summary of an administration
/// (its staff, managers, auditors; others 403).
pub(crate) async fn steckbrief(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    let c = match authenticated(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let Some((ars, format)) = file.rsplit_once('.').and_then(|(ars, ext)| {
        let format = match ext {
            "xlsx" => Format::Xlsx,
            "csv" => Format::Csv,
            "html" => Format::Html,
            _ => return None,
        };
        Some((ars.to_owned(), format))
    }) else {
        return plain(StatusCode::NOT_FOUND, "Steckbrief: <ARS>.xlsx, <ARS>.csv oder <ARS>.html".to_owned());
    };
    if !c.may_read_authority(&ars) {
        return plain(
            StatusCode::FORBIDDEN,
            "Dieser Zugang darf den Steckbrief dieser Verwaltung nicht lesen.".to_owned(),
        );
    }
    let s = &state.api;
    let now = s.now();
    let table = s.projector.read(|m| {
        let source = format!(
            "efa-rollout, Ereignisprotokoll bis Position {} (Hash {}), erstellt am {now}",
            m.position, m.last_hash
        );
        app::steckbrief::steckbrief(m, &ars, now, source)
    });
    let Some(table) = table else {
        return plain(StatusCode::NOT_FOUND, format!("Es gibt keine Verwaltung mit dem ARS „{ars}“."));
    };
    let title = format!("Steckbrief {}", table.preamble.first().map_or("", |(_, v)| v.as_str()));
    report_answer(format, &title, &format!("steckbrief-{ars}"), app::report::Report { tables: vec![table] })
        .await
}

/// `folds` folds of the whole log from `c`'s allowance and a turn for them (as in GraphQL,
/// `ApiState::fold_turn`), or the answer that refuses them.
async fn fold_turns<'s>(
    s: &'s crate::ApiState,
    c: &app::Caller,
    folds: usize,
) -> Result<Option<tokio::sync::SemaphorePermit<'s>>, Response> {
    if folds == 0 {
        return Ok(None);
    }
    if let Err(refused) = s.writes.take_folds(c, folds, std::time::Instant::now()) {
        s.metrics.write_refused(refused.limit.name());
        let mut response = plain(StatusCode::TOO_MANY_REQUESTS, refused.message);
        if let Ok(v) = axum::http::HeaderValue::from_str(&refused.retry_after_seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(response);
    }
    match s.fold_turn(crate::limits::FOLD_PERMITS).await {
        Ok(turn) => Ok(Some(turn)),
        Err(_) => Err(plain(StatusCode::SERVICE_UNAVAILABLE, "Der Server wird beendet.".to_owned())),
    }
}

/// The report as the file `format` asks for.
async fn report_answer(format: Format, title: &str, name: &str, report: app::report::Report) -> Response {
    match format {
        Format::Csv => file(
            "text/csv; charset=utf-8",
            &format!("{name}.csv"),
            crate::sheets::csv(&report.tables).into_bytes(),
            None,
        ),
        Format::Html => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                // The page is self-contained (one inline style sheet): nothing else may load or run.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; form-action 'none'",
                ),
            ],
            crate::sheets::html(title, &report.tables),
        )
            .into_response(),
        Format::Xlsx => {
            match tokio::task::spawn_blocking(move || crate::sheets::xlsx(&report.tables)).await {
                Ok(Ok(bytes)) => file(XLSX, &format!("{name}.xlsx"), bytes, None),
                Ok(Err(e)) => internal(e),
                Err(e) => internal(e),
            }
        }
    }
}

/// The read models as they stood at `cut` (a fold of the log at low priority); `None` for now.
async fn fold_at(
    s: &crate::ApiState,
    cut: projections::Cut,
) -> Result<Option<projections::ReadModel>, Response> {
    if matches!(cut, projections::Cut::Everything) {
        return Ok(None);
    }
    let (store, registry) = (s.engine.store().clone(), s.engine.registry().clone());
    crate::background::at_low_priority(
        async move { projections::fold(&store, &*registry, cut, |_| {}).await },
    )
    .await
    .map(Some)
    .map_err(internal)
}

/// The report's `asOf` and `since`, or why they are refused.
fn report_cuts(params: &HashMap<String, String>) -> Result<(projections::Cut, projections::Cut), Refusal> {
    if let Some(unknown) = params.keys().find(|k| !["asOf", "since"].contains(&k.as_str())) {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!("unknown parameter `{unknown}` (the report takes asOf and since)"),
        ));
    }
    let cut_of = |name: &str| match crate::state::cut(params.get(name).map(String::as_str)) {
        Ok(cut) => Ok(cut),
        Err(e) => {
            Err(Refusal(StatusCode::BAD_REQUEST, format!("`{name}`: {}", e.message.replace("`asOf` ", ""))))
        }
    };
    Ok((cut_of("asOf")?, cut_of("since")?))
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a download failed");
    plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

/// Phase id → German title, in the order of the known definitions (newest versions first).
fn phase_titles(s: &crate::ApiState) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut entries = s.engine.registry().entries();
    entries.sort_by_key(|e| std::cmp::Reverse(e.definition.version));
    for e in entries {
        for p in &e.definition.phases {
            if !out.iter().any(|(id, _)| id == &p.id) {
                out.push((p.id.clone(), p.title.clone()));
            }
        }
    }
    out
}

/// One list that downloads: its GraphQL query (a connection with `$filter`, `$first`,
/// `$after`), the filter's fields as query parameters, and how a node becomes a row.
struct List {
    name: &'static str,
    file: &'static str,
    query: &'static str,
    /// The connection's field in `data`.
    field: &'static str,
    /// Query parameter → its type: `s` text, `l` a comma-separated list, `b` a boolean.
    params: &'static [(&'static str, char)],
    header: &'static [&'static str],
    row: fn(&Value) -> Vec<Cell>,
    /// The parameters are the query's own variables (not fields of `$filter`).
    top_level: bool,
}

fn text(v: &Value) -> Cell {
    match v {
        Value::String(s) => Cell::Text(s.clone()),
        Value::Number(n) => Cell::Number(n.as_f64().unwrap_or(0.0)),
        Value::Bool(b) => Cell::Text(if *b { "ja" } else { "nein" }.into()),
        Value::Null => Cell::Empty,
        other => Cell::Text(other.to_string()),
    }
}

const ROLLOUTS: List = List {
    name: "Rollouts",
    file: "rollouts.xlsx",
    query: "query($filter: RolloutFilter, $first: Int, $after: String) { page: rollouts(filter: $filter, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id serviceKey ars status phase stepsDone stepsApplicable overdue blockedReason definition } } } }",
    field: "page",
    params: &[("program", 'e'), ("serviceKey", 's'), ("ars", 's'), ("landkreisArs", 's'), ("phase", 's'), ("status", 's')],
    header: &["Rollout", "Dienst", "ARS", "Status", "Phase", "Erledigte Schritte", "Schritte", "Überfällig", "Blockiert wegen", "Definition"],
    row: |n| {
        ["id", "serviceKey", "ars", "status", "phase", "stepsDone", "stepsApplicable", "overdue", "blockedReason", "definition"]
            .iter()
            .map(|k| text(&n[*k]))
            .collect()
    },
    top_level: false,
};

const EVENTS: List = List {
    name: "Protokoll",
    file: "protokoll.xlsx",
    query: "query($filter: EventFilter, $first: Int, $after: String) { page: events(filter: $filter, first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { node { position recordedAt type streamId actor { id name kind } data } } } }",
    field: "page",
    params: &[("rolloutId", 's'), ("actor", 's'), ("types", 'l'), ("serviceKey", 's'), ("ars", 's'), ("from", 's'), ("until", 's')],
    header: &["Position", "Zeit", "Ereignis", "Stream", "Akteur", "Name", "Art", "Daten"],
    row: |n| {
        vec![
            text(&n["position"]),
            text(&n["recordedAt"]),
            text(&n["type"]),
            text(&n["streamId"]),
            text(&n["actor"]["id"]),
            text(&n["actor"]["name"]),
            text(&n["actor"]["kind"]),
            Cell::Text(n["data"].to_string()),
        ]
    },
    top_level: false,
};

const TASKS: List = List {
    name: "Aufgaben",
    file: "aufgaben.xlsx",
    query: "query($filter: TaskFilter, $first: Int, $after: String) { page: tasks(filter: $filter, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { kind rollout { id serviceKey ars } step { id title } dueAt overdue readyBecause actions unreadQuestions question { to messages { text } } } } } }",
    field: "page",
    params: &[("program", 'e'), ("serviceKey", 's'), ("ars", 's'), ("landkreisArs", 's'), ("overdue", 'b'), ("kind", 'e')],
    header: &["Art", "Rollout", "Dienst", "ARS", "Schritt", "Titel", "Fällig am", "Überfällig", "Bereit, weil erledigt", "Möglich", "Ungelesene Rückfragen", "Rückfrage an", "Rückfrage"],
    row: |n| {
        let list = |v: &Value| Cell::Text(v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default());
        vec![
            Cell::Text(if n["kind"] == "QUESTION" { "Rückfrage" } else { "Schritt" }.into()),
            text(&n["rollout"]["id"]),
            text(&n["rollout"]["serviceKey"]),
            text(&n["rollout"]["ars"]),
            text(&n["step"]["id"]),
            text(&n["step"]["title"]),
            text(&n["dueAt"]),
            text(&n["overdue"]),
            list(&n["readyBecause"]),
            list(&n["actions"]),
            text(&n["unreadQuestions"]),
            text(&n["question"]["to"]),
            text(&n["question"]["messages"][0]["text"]),
        ]
    },
    top_level: false,
};

const PEERS: List = List {
    name: "Netzwerk",
    file: "netzwerk.xlsx",
    query: "query($serviceKey: String!, $stepId: String, $product: String) { page: peers(serviceKey: $serviceKey, stepId: $stepId, product: $product) { authority { ars name } phase status inOperation completedAt distanceKm backOffice { product vendor } contacts { name function email phone } } }",
    field: "page",
    params: &[("serviceKey", 's'), ("stepId", 's'), ("product", 's')],
    header: &["ARS", "Verwaltung", "Phase", "Status", "In Betrieb", "Schritt erledigt am", "Entfernung (km)", "Fachverfahren", "Hersteller", "Ansprechpersonen"],
    row: |n| {
        let contacts = n["contacts"].as_array().map(|cs| {
            cs.iter()
                .map(|c| {
                    ["name", "function", "email", "phone"].iter().filter_map(|k| c[*k].as_str()).collect::<Vec<_>>().join(", ")
                })
                .collect::<Vec<_>>()
                .join("; ")
        });
        vec![
            text(&n["authority"]["ars"]),
            text(&n["authority"]["name"]),
            text(&n["phase"]),
            text(&n["status"]),
            text(&n["inOperation"]),
            text(&n["completedAt"]),
            text(&n["distanceKm"]),
            text(&n["backOffice"]["product"]),
            text(&n["backOffice"]["vendor"]),
            Cell::Text(contacts.unwrap_or_default()),
        ]
    },
    top_level: true,
};

const SOLUTIONS: List = List {
    name: "Lösungen",
    file: "loesungen.xlsx",
    query: "query($serviceKey: String, $stepId: String, $query: String, $first: Int, $after: String) { page: solutions(serviceKey: $serviceKey, stepId: $stepId, query: $query, first: $first, after: $after) { hasNextPage endCursor nodes { solvedAt serviceKey stepId category vendor problem solution authority { name } } } }",
    field: "page",
    params: &[("serviceKey", 's'), ("stepId", 's'), ("query", 's')],
    header: &["Gelöst am", "Dienst", "Schritt", "Art", "Hersteller", "Problem", "Lösung", "Verwaltung"],
    row: |n| {
        ["solvedAt", "serviceKey", "stepId", "category", "vendor", "problem", "solution"]
            .iter()
            .map(|k| text(&n[*k]))
            .chain([text(&n["authority"]["name"])])
            .collect()
    },
    top_level: true,
};

fn list_of(name: &str) -> Option<&'static List> {
    match name {
        "rollouts.xlsx" => Some(&ROLLOUTS),
        "events.xlsx" => Some(&EVENTS),
        "tasks.xlsx" => Some(&TASKS),
        "peers.xlsx" => Some(&PEERS),
        "solutions.xlsx" => Some(&SOLUTIONS),
        _ => None,
    }
}

/// `GET /exports/{rollouts,events,tasks}.xlsx?<filter fields>&limit=N`.
pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(name): axum::extract::Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(list) = list_of(&name) else {
        return plain(
            StatusCode::NOT_FOUND,
            format!("no list `{name}` (rollouts.xlsx, events.xlsx, tasks.xlsx, peers.xlsx, solutions.xlsx)"),
        );
    };
    let c = match authenticated(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let (filter, limit) = match list_filter(list, &params) {
        Ok(read) => read,
        Err(refused) => return refused.into_response(),
    };
    let preamble = list_preamble(&state, list, &filter, limit);
    let (pages, writer) = sheet_writer(list, preamble);
    let mut shown = 0usize;
    let mut after: Option<String> = None;
    let mut total: Option<u64> = None;
    let mut more;
    loop {
        let first = DOWNLOAD_PAGE.min(limit - shown);
        let variables = page_variables(list, &filter, first, after.as_deref());
        let data = match list_page(&state, &c, list, variables).await {
            Ok(data) => data,
            Err(refused) => return refused,
        };
        let page = &data[list.field];
        total = page["totalCount"].as_u64().or(total);
        let items = items_of(page);
        // A plain list comes whole: what the limit leaves out is cut.
        let plain_cut = page.is_array() && items.len() > limit - shown;
        let items: Vec<&Value> = items.into_iter().take(limit - shown).collect();
        let rows: Vec<Vec<Cell>> = items.into_iter().map(list.row).collect();
        shown += rows.len();
        more = page["pageInfo"]["hasNextPage"] == true || page["hasNextPage"] == true || plain_cut;
        let sent = {
            let pages = pages.clone();
            tokio::task::spawn_blocking(move || pages.send(Written::Rows(rows))).await
        };
        if !matches!(sent, Ok(Ok(()))) {
            break;
        }
        if !more || shown >= limit {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().or(page["endCursor"].as_str()).map(str::to_owned);
    }
    let cut = (more && shown >= limit).then(|| match total {
        Some(t) => {
            format!("Gekürzt: die ersten {shown} von {t} Zeilen (Filter enger fassen oder limit setzen)")
        }
        None => format!("Gekürzt: die ersten {shown} Zeilen; es gibt weitere (Filter enger fassen)"),
    });
    if let Some(note) = &cut {
        let _ = pages.send(Written::Note(note.clone()));
    }
    drop(pages);
    match writer.await {
        Ok(Ok(bytes)) => file(XLSX, list.file, bytes, cut.map(|_| shown as u64)),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// The list's filter (its GraphQL variables) and row limit from the query parameters, or the
/// answer that refuses them.
fn list_filter(
    list: &List,
    params: &HashMap<String, String>,
) -> Result<(serde_json::Map<String, Value>, usize), Refusal> {
    let mut filter = serde_json::Map::new();
    let mut limit = DOWNLOAD_ROWS_MAX;
    for (key, value) in params {
        if key == "limit" {
            match value.parse::<usize>() {
                Ok(n) if (1..=DOWNLOAD_ROWS_MAX).contains(&n) => limit = n,
                _ => {
                    return Err(Refusal(
                        StatusCode::BAD_REQUEST,
                        format!("`limit` must be 1 to {DOWNLOAD_ROWS_MAX}, not {value:?}"),
                    ))
                }
            }
            continue;
        }
        let Some((_, kind)) = list.params.iter().find(|(p, _)| p == key) else {
            let known: Vec<&str> = list.params.iter().map(|(p, _)| *p).collect();
            return Err(Refusal(
                StatusCode::BAD_REQUEST,
                format!("unknown parameter `{key}` (this list takes {} and limit)", known.join(", ")),
            ));
        };
        let v = match kind {
            'l' => Value::Array(value.split(',').map(|s| Value::String(s.trim().to_owned())).collect()),
            'b' => match value.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    return Err(Refusal(
                        StatusCode::BAD_REQUEST,
                        format!("`{key}` must be true or false, not {value:?}"),
                    ))
                }
            },
            'e' => Value::String(value.to_uppercase()),
            _ => Value::String(value.clone()),
        };
        filter.insert(key.clone(), v);
    }
    Ok((filter, limit))
}

/// The title lines above a list's rows: the list, when, the source, the limit, the filter.
fn list_preamble(
    state: &AppState,
    list: &List,
    filter: &serde_json::Map<String, Value>,
    limit: usize,
) -> Vec<(String, String)> {
    let mut preamble = vec![
        ("Liste".to_owned(), list.name.to_owned()),
        ("Stand".to_owned(), state.api.now().to_string()),
        (
            "Datenquelle".to_owned(),
            format!("efa-rollout, Lesemodell bis Position {}", state.projector.position()),
        ),
        ("Zeilen höchstens".to_owned(), limit.to_string()),
    ];
    if !filter.is_empty() {
        let mut f: Vec<String> = filter
            .iter()
            .map(|(k, v)| format!("{k} = {}", v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect();
        f.sort();
        preamble.push(("Filter".to_owned(), f.join("; ")));
    }
    preamble
}

/// One page of the list's query for the caller, or the answer its first error maps to.
async fn list_page(
    state: &AppState,
    c: &app::Caller,
    list: &List,
    variables: Value,
) -> Result<Value, Response> {
    let request =
        async_graphql::Request::new(list.query).variables(Variables::from_json(variables)).data(c.clone());
    let response = state.schema.execute(request).await;
    if let Some(e) = response.errors.first() {
        let code = e
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .map(|v| v.to_string().trim_matches('"').to_owned());
        let status = match code.as_deref() {
            Some("FORBIDDEN") => StatusCode::FORBIDDEN,
            Some("INTERNAL") => StatusCode::INTERNAL_SERVER_ERROR,
            Some("UNAVAILABLE") => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        return Err(plain(status, e.message.clone()));
    }
    Ok(response.data.into_json().unwrap_or_default())
}

/// The sheet, written on a blocking thread as the pages come (at most two pages wait): the
/// sender of its pages and the thread that answers the workbook's bytes.
fn sheet_writer(
    list: &List,
    preamble: Vec<(String, String)>,
) -> (
    std::sync::mpsc::SyncSender<Written>,
    tokio::task::JoinHandle<Result<Vec<u8>, rust_xlsxwriter::XlsxError>>,
) {
    let (pages, receive) = std::sync::mpsc::sync_channel::<Written>(2);
    let header: Vec<String> = list.header.iter().map(|h| (*h).to_owned()).collect();
    let name = list.name;
    let writer = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        let mut book = XlsxWriter::new();
        book.sheet(name, &preamble, &header)?;
        for page in receive {
            match page {
                Written::Rows(rows) => book.rows(&rows)?,
                Written::Note(text) => book.note(&text)?,
            }
        }
        book.finish()
    });
    (pages, writer)
}

/// The variables of one page: the filter (as the query's own variables, or as `filter`),
/// `first` and `after`.
fn page_variables(
    list: &List,
    filter: &serde_json::Map<String, Value>,
    first: usize,
    after: Option<&str>,
) -> Value {
    if list.top_level {
        let mut v = filter.clone();
        v.insert("first".into(), json!(first));
        v.insert("after".into(), json!(after));
        Value::Object(v)
    } else {
        let filter = if filter.is_empty() { Value::Null } else { Value::Object(filter.clone()) };
        json!({ "filter": filter, "first": first, "after": after })
    }
}

/// The rows of a page: a connection (edges), a page of nodes, or a plain list.
fn items_of(page: &Value) -> Vec<&Value> {
    match (page["edges"].as_array(), page["nodes"].as_array(), page.as_array()) {
        (Some(edges), _, _) => edges.iter().map(|e| &e["node"]).collect(),
        (_, Some(nodes), _) => nodes.iter().collect(),
        (_, _, Some(list)) => list.iter().collect(),
        _ => Vec::new(),
    }
}

/// What the list's writer thread gets.
enum Written {
    Rows(Vec<Vec<Cell>>),
    Note(String),
}
