//! GraphQL over WebSocket (`graphql-transport-ws`, and the older `graphql-ws`): subscriptions,
//! and queries and mutations for clients that send everything over one socket.
//!
//! A socket is bounded before it is trusted and watched after: every frame and message at most
//! [`WS_MESSAGE_BYTES_MAX`]; until `connection_init` has named a valid token, a message at most
//! [`WS_INIT_BYTES_MAX`] and the socket at most [`WS_INIT_TIMEOUT`] old (then close `4408`); a
//! message over a limit closes it with `1009` before any JSON is built from it. Once signed in,
//! every operation checks the token again (`state::caller`), and a revocation (or the erasure of
//! the token's person) closes every socket of the token at once with `4403`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use async_graphql::futures_util::{future, SinkExt, StreamExt};
use async_graphql::http::{WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket};

use crate::http::AppState;
use crate::limits::{WS_INIT_BYTES_MAX, WS_INIT_TIMEOUT, WS_MESSAGE_BYTES_MAX};
use crate::RequestId;

/// Close codes (graphql-ws's where it has one).
const CLOSE_TOO_LARGE: u16 = 1009;
const CLOSE_INIT_TIMEOUT: u16 = 4408;
const CLOSE_REVOKED: u16 = 4403;

/// The sub-protocol the client asked for (`Sec-WebSocket-Protocol`), the current one first.
pub(crate) fn protocol(requested: Option<&str>) -> WebSocketProtocols {
    let offered = requested.unwrap_or("").split(',').map(str::trim);
    let mut chosen = WebSocketProtocols::GraphQLWS;
    for name in offered {
        match name.parse::<WebSocketProtocols>() {
            Ok(WebSocketProtocols::GraphQLWS) => return WebSocketProtocols::GraphQLWS,
            Ok(other) => chosen = other,
            Err(_) => {}
        }
    }
    chosen
}

// Long: one select over the socket's messages, its sign-in deadline and its credential's end.
/// Serves one upgraded socket until the client leaves, a limit is crossed or its credential
/// no longer holds (a token revoked; a session ended, expired or its person erased).
/// `header_token`: a bearer token from the upgrade request, used when `connection_init` names
/// none; `cookie_caller`: the caller of the upgrade's session cookie (checked same-origin),
/// used when neither names a token.
pub(crate) async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: WebSocketProtocols,
    header_token: Option<String>,
    cookie_caller: Option<app::Caller>,
) {
    let (mut sink, source) = socket.split();
    // The caller once `connection_init` was accepted.
    let signed_in: Arc<OnceLock<app::Caller>> = Arc::default();
    // Why the input ended early (a message over a limit), if it did.
    let too_large = Arc::new(AtomicBool::new(false));
    let input = limited_input(source, signed_in.clone(), too_large.clone());
    let on_init = {
        let state = state.clone();
        let signed_in = signed_in.clone();
        move |payload: serde_json::Value| async move {
            let (data, caller) = connection_data(&state, &payload, header_token.as_deref(), cookie_caller)?;
            let _ = signed_in.set(caller);
            Ok(data)
        }
    };
    let mut messages = async_graphql::http::WebSocket::new(state.schema.clone(), input, protocol)
        .on_connection_init(on_init);
    let mut revocations = state.tokens.revocations();
    let mut endings = state.engine.logins().endings();
    // A session's end comes by event; its expiry by the clock.
    let mut expiry_checks = tokio::time::interval(std::time::Duration::from_secs(30));
    let init_deadline = tokio::time::sleep(WS_INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    let close: Option<(u16, String)> = loop {
        tokio::select! {
            out = messages.next() => match out {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Some(WsMessage::Close(code, reason)) => break Some((code, reason)),
                None if too_large.load(Ordering::Relaxed) => break Some((
                    CLOSE_TOO_LARGE,
                    if signed_in.get().is_some() {
                        format!("Nachricht zu groß: höchstens {WS_MESSAGE_BYTES_MAX} Bytes")
                    } else {
                        format!("Nachricht vor der Anmeldung zu groß: höchstens {WS_INIT_BYTES_MAX} Bytes")
                    },
                )),
                None => break None,
            },
            () = &mut init_deadline, if signed_in.get().is_none() => break Some((
                CLOSE_INIT_TIMEOUT,
                format!("keine Anmeldung (connection_init) binnen {} s", WS_INIT_TIMEOUT.as_secs()),
            )),
            changed = revocations.changed() => match changed {
                Err(_) => break None,
                Ok(()) if lapsed(&state, &signed_in) => break Some((CLOSE_REVOKED, "Das Token wurde widerrufen".to_owned())),
                Ok(()) => {}
            },
            changed = endings.changed() => match changed {
                Err(_) => break None,
                Ok(()) if lapsed(&state, &signed_in) => break Some((CLOSE_REVOKED, "Die Sitzung wurde beendet".to_owned())),
                Ok(()) => {}
            },
            _ = expiry_checks.tick() => if lapsed(&state, &signed_in) {
                break Some((CLOSE_REVOKED, "Die Sitzung ist abgelaufen".to_owned()));
            },
        }
    };
    if let Some((code, reason)) = close {
        let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
    }
    let _ = sink.close().await;
}

/// Whether the socket's caller no longer holds (a token revoked; a session ended, expired or
/// its person erased).
fn lapsed(state: &AppState, signed_in: &OnceLock<app::Caller>) -> bool {
    signed_in.get().is_some_and(|c| !app::still_valid(&state.engine, c))
}

/// The socket's messages as the schema reads them, ended (and `too_large` set) by a frame or
/// message over the limit: [`WS_INIT_BYTES_MAX`] until `signed_in`, the socket's own after.
fn limited_input(
    source: async_graphql::futures_util::stream::SplitStream<WebSocket>,
    signed_in: Arc<OnceLock<app::Caller>>,
    too_large: Arc<AtomicBool>,
) -> impl async_graphql::futures_util::Stream<Item = axum::body::Bytes> {
    source
        .map(move |m| match m {
            Ok(Message::Text(t)) => Some(Ok(axum::body::Bytes::from(t))),
            Ok(Message::Binary(b)) => Some(Ok(b)),
            Ok(_) => None,
            // tungstenite refuses a frame or message over its limit before reading it whole.
            Err(e) => Some(Err(e)),
        })
        .take_while(move |m| {
            let go_on = match m {
                Some(Ok(data)) => signed_in.get().is_some() || data.len() <= WS_INIT_BYTES_MAX,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "a WebSocket ended");
                    false
                }
                None => true,
            };
            let over = match m {
                Some(Ok(_)) => !go_on,
                Some(Err(e)) => is_capacity(e),
                None => false,
            };
            if over {
                too_large.store(true, Ordering::Relaxed);
            }
            future::ready(go_on)
        })
        .filter_map(|m| future::ready(m.and_then(Result::ok)))
}

/// What a socket's operations know after `connection_init`: the caller of the payload's token
/// (or the upgrade request's, or its session cookie's), returned too; refused without one.
fn connection_data(
    state: &AppState,
    payload: &serde_json::Value,
    header_token: Option<&str>,
    cookie_caller: Option<app::Caller>,
) -> async_graphql::Result<(async_graphql::Data, app::Caller)> {
    let from_payload = ["Authorization", "authorization"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
        .and_then(app::bearer);
    let token = from_payload.or(header_token);
    let caller = match token {
        Some(t) => app::authenticate(&state.tokens, &state.projector, app::Credential::Bearer(t)),
        None => cookie_caller.filter(|c| app::still_valid(&state.engine, c)),
    };
    let Some(caller) = caller else {
        return Err(async_graphql::Error::new("UNAUTHENTICATED: a valid bearer token is required"));
    };
    let mut data = async_graphql::Data::default();
    data.insert(caller.clone());
    data.insert(RequestId(uuid::Uuid::now_v7()));
    Ok((data, caller))
}

/// Whether the socket ended because a frame or message was over the limit.
fn is_capacity(e: &axum::Error) -> bool {
    let text = e.to_string();
    text.contains("Space limit exceeded") || text.contains("too long") || text.contains("too big")
}
