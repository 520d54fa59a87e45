//! Sign-in over HTTP: `/auth/login`, `/auth/callback`, `/auth/logout`, `/auth/providers`, the
//! session cookie, and the cross-site checks of what a cookie authenticates.
//!
//! The flow and its checks are `signin`'s; persons and their access the engine's
//! (`Engine::sign_in`); sessions the application layer's (`app::sessions`). Here: cookies
//! (`__Host-` prefixed: HttpOnly, Secure, SameSite=Lax, Path=/), redirects, and German pages
//! for every refusal. A cookie authenticates GraphQL, the downloads and a WebSocket only from
//! this server's own pages: `Origin` must be the configured public URL (or, without `Origin`,
//! `Sec-Fetch-Site` same-origin or none).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::http::AppState;
use app::Caller;

/// The session cookie.
pub const SESSION_COOKIE: &str = "__Host-efa-session";

pub use crate::state::SignInState;

/// The value of cookie `name` among the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Whether a request comes from this server's own pages (not another site's).
pub(crate) fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.as_bytes() == public_url.as_bytes();
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        None => true,
    }
}

/// What a request's session cookie says.
pub(crate) enum CookieAuth {
    /// No cookie (or sign-in not configured).
    Absent,
    /// A live session's caller.
    Caller(Box<Caller>),
    /// A cookie, but no live session (expired, ended, unknown): the client signs in again.
    Stale,
    /// A cookie from another site's page: refused.
    CrossSite,
    /// The session store could not be read.
    Failed(String),
}

/// The caller of the request's session cookie, after the cross-site check.
pub(crate) async fn from_cookie(state: &AppState, headers: &HeaderMap) -> CookieAuth {
    let (Some(signin), Some(secret)) = (state.api.signin.as_deref(), cookie(headers, SESSION_COOKIE)) else {
        return CookieAuth::Absent;
    };
    if !same_origin(headers, &signin.rp.config.public_url) {
        return CookieAuth::CrossSite;
    }
    match app::authenticate_session(&state.engine, &signin.sessions, &state.projector, secret).await {
        Ok(Some(caller)) => CookieAuth::Caller(Box::new(caller)),
        Ok(None) => CookieAuth::Stale,
        Err(e) => CookieAuth::Failed(crate::state::hide_paths(&e.to_string())),
    }
}

/// The refusal of a cross-site request that a cookie would authenticate.
pub(crate) const CROSS_SITE: &str =
    "Anfragen anderer Websites werden mit der Anmeldung dieses Browsers nicht ausgeführt (Origin/Sec-Fetch-Site).";

fn set_cookie(name: &str, value: &str, max_age: i64) -> HeaderValue {
    let text = format!("{name}={value}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={max_age}");
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("x=; Max-Age=0"))
}

fn redirect(to: &str, cookies: &[HeaderValue]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response.headers_mut().extend(cookies.iter().map(|c| (header::SET_COOKIE, c.clone())));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A German page saying why a sign-in failed (with what arrived, for a missing mapping).
pub(crate) fn refusal_page(status: StatusCode, message: &str, arrived: &[(String, String)]) -> Response {
    let rows: String = arrived
        .iter()
        .map(|(k, v)| format!("<tr><th>{}</th><td><code>{}</code></td></tr>", escape(k), escape(v)))
        .collect();
    let table = if rows.is_empty() {
        String::new()
    } else {
        format!("<h2>Was der Anmeldedienst übermittelt hat</h2><table>{rows}</table><p>Bitten Sie die Verwaltung Ihres Anmeldedienstes, Ihnen eine der zugeordneten Gruppen oder Rollen zu geben, oder die Betreiber von efa-rollout, die Zuordnung zu ergänzen.</p>")
    };
    let body = format!(
        "<!doctype html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>Anmeldung nicht möglich</title>\
         <style>body{{font-family:sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}}th{{text-align:left;padding-right:1rem}}</style></head>\
         <body><h1>Anmeldung nicht möglich</h1><p id=\"grund\">{}</p>{table}<p><a href=\"/\">Zurück zur Startseite</a></p></body></html>",
        escape(message)
    );
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The page for a store that could not write (`what` failed; the page names `subject`), logged.
fn unavailable(what: &str, error: &dyn std::fmt::Display, subject: &str) -> Response {
    tracing::error!(error = %error, "{what} failed");
    let message = format!("{subject} konnte nicht gespeichert werden; bitte später erneut versuchen.");
    refusal_page(StatusCode::SERVICE_UNAVAILABLE, &message, &[])
}

fn not_configured() -> Response {
    refusal_page(StatusCode::NOT_FOUND, "Die Anmeldung über einen Anmeldedienst ist auf diesem Server nicht eingerichtet (rollout serve --auth-config).", &[])
}

/// `GET /auth/providers`: the trusted issuers for the sign-in buttons (public).
pub(crate) async fn providers(State(state): State<AppState>) -> Response {
    let list: Vec<serde_json::Value> = state
        .api
        .signin
        .as_deref()
        .map(|s| {
            s.rp.providers()
                .iter()
                .map(|p| serde_json::json!({ "id": p.config.id, "label": p.config.label }))
                .collect()
        })
        .unwrap_or_default();
    axum::Json(serde_json::json!({ "providers": list })).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    issuer: Option<String>,
    #[serde(rename = "return")]
    return_to: Option<String>,
}

/// `GET /auth/login?issuer=<id>`: to the issuer's sign-in, with the flow cookie.
pub(crate) async fn login(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    let Some(signin) = state.api.signin.as_deref() else { return not_configured() };
    let issuer = match q.issuer.as_deref() {
        Some(i) => i,
        None if signin.rp.providers().len() == 1 => &signin.rp.providers()[0].config.id,
        None => {
            return refusal_page(
                StatusCode::BAD_REQUEST,
                "Welcher Anmeldedienst? /auth/login?issuer=<id>",
                &[],
            )
        }
    };
    match signin.rp.begin(issuer, q.return_to.as_deref().unwrap_or("/")).await {
        Ok(begun) => {
            let flow = set_cookie(signin::FLOW_COOKIE, &begun.cookie, signin::FLOW_TTL.as_secs() as i64);
            redirect(&begun.redirect, &[flow])
        }
        Err(e) => sign_in_refused(&e),
    }
}

fn sign_in_refused(e: &signin::SignInError) -> Response {
    use signin::SignInError as E;
    let status = match e {
        E::UnknownIssuer(_) => StatusCode::NOT_FOUND,
        E::Provider(_) => StatusCode::BAD_GATEWAY,
        E::Flow(_) | E::Token(_) => StatusCode::BAD_REQUEST,
        E::Denied(_) | E::Unmapped(_) => StatusCode::FORBIDDEN,
    };
    tracing::warn!(refusal = %e, "a sign-in was refused");
    let arrived = match e {
        E::Unmapped(u) => u.arrived.clone(),
        _ => vec![],
    };
    refusal_page(status, &e.to_string(), &arrived)
}

/// `GET /auth/callback`: the issuer's answer; a session on success.
pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<signin::Callback>,
) -> Response {
    let Some(signin) = state.api.signin.as_deref() else { return not_configured() };
    let clear_flow = set_cookie(signin::FLOW_COOKIE, "", 0);
    let finished = match signin.rp.finish(cookie(&headers, signin::FLOW_COOKIE), &q).await {
        Ok(f) => f,
        Err(e) => {
            let mut response = sign_in_refused(&e);
            response.headers_mut().extend([(header::SET_COOKIE, clear_flow)]);
            return response;
        }
    };
    let signed_in = match state.engine.sign_in(&finished.login).await {
        Ok(s) => s,
        Err(engine::EngineError::UnknownAuthority(ars)) => {
            let message = format!("Keine Berechtigung: Die Verwaltung {ars} aus den Angaben des Anmeldedienstes ist im Verzeichnis der Verwaltungen nicht bekannt.");
            return refusal_page(StatusCode::FORBIDDEN, &message, &[]);
        }
        Err(e) => return unavailable("recording a sign-in", &e, "Die Anmeldung"),
    };
    let issuer = &finished.login.issuer;
    match signin.sessions.begin(signed_in.person, issuer, finished.login.access.clone()).await {
        Ok((secret, _)) => {
            let max_age = signin.sessions.policy().absolute_secs;
            redirect(&finished.return_to, &[clear_flow, set_cookie(SESSION_COOKIE, &secret, max_age)])
        }
        Err(e) => unavailable("storing a session", &e, "Die Sitzung"),
    }
}

/// `POST /auth/logout`: ends the session (an event every server follows), clears the cookie,
/// and signs out at the issuer too where it offers that: a redirect there (`303`), or, asked
/// with `Accept: application/json` (the dashboard, whose policy allows no form), `{"redirect":
/// <url>}` for the page to go to.
pub(crate) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let response = end_session(&state, &headers).await;
    match response.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()).filter(|_| json) {
        Some(to) => {
            let mut answer = axum::Json(serde_json::json!({ "redirect": to })).into_response();
            let cookies = response.headers().get_all(header::SET_COOKIE).iter().cloned();
            answer.headers_mut().extend(cookies.map(|c| (header::SET_COOKIE, c)));
            answer
        }
        None => response,
    }
}

async fn end_session(state: &AppState, headers: &HeaderMap) -> Response {
    let Some(signin) = state.api.signin.as_deref() else { return not_configured() };
    if !same_origin(headers, &signin.rp.config.public_url) {
        return refusal_page(StatusCode::FORBIDDEN, CROSS_SITE, &[]);
    }
    let clear = set_cookie(SESSION_COOKIE, "", 0);
    let Some(secret) = cookie(headers, SESSION_COOKIE) else { return redirect("/", &[clear]) };
    let session = match signin.sessions.of_secret(secret).await {
        Ok(s) => s,
        Err(e) => return unavailable("reading a session", &e, "Die Abmeldung"),
    };
    let Some(session) = session.filter(|s| s.ended.is_none()) else { return redirect("/", &[clear]) };
    let req = engine::Invocation::new(Caller::of_session(&session).domain());
    let ended = app::sessions::end_session(
        &state.engine,
        &signin.sessions,
        session.person,
        session.id,
        "abgemeldet",
        &req,
    );
    if let Err(e) = ended.await {
        return unavailable("ending a session", &e, "Die Abmeldung");
    }
    let issuer_id = signin.rp.provider(&session.issuer).map(|p| p.config.id.clone()).ok();
    let target = match issuer_id {
        Some(id) => signin.rp.end_session_url(&id).await.unwrap_or_else(|| "/".into()),
        None => "/".into(),
    };
    redirect(&target, &[clear])
}
