//! What every resolver shares: the [`ApiState`] (with what it keeps per token: open
//! subscriptions, the last position its changes reached), the caller, argument parsing, and the
//! mapping of errors to `extensions.code`. Internal causes are logged, never shown to clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::{Context, Error, ErrorExtensions};
use engine::{Engine, EngineError};
use projections::{Cut, Projector};
use store::Timestamp;
use uuid::Uuid;

use crate::limits::{PAGE_DEFAULT, PAGE_MAX, READ_YOUR_WRITES_WAIT_MAX, SUBSCRIPTIONS_PER_TOKEN_MAX};
use app::Caller;

/// The last log position each token's changes reached (one entry per token that has changed
/// something since the server started).
#[derive(Debug, Default)]
pub struct Written {
    last: Mutex<HashMap<Uuid, u64>>,
}

impl Written {
    /// Notes that `token`'s change reached `position`.
    pub fn record(&self, token: Uuid, position: u64) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let entry = last.entry(token).or_default();
        *entry = (*entry).max(position);
    }

    /// Waits (at most [`crate::limits::READ_YOUR_WRITES_READ_YOUR_WRITES_WAIT_MAX`]) until `projector` has folded `token`'s last change.
    pub async fn settle(&self, token: Uuid, projector: &Projector) {
        let position = self.last.lock().unwrap_or_else(|p| p.into_inner()).get(&token).copied();
        if let Some(position) = position.filter(|&p| p > projector.position()) {
            if tokio::time::timeout(READ_YOUR_WRITES_WAIT_MAX, projector.wait_for(position)).await.is_err() {
                tracing::warn!(position, "the read models did not fold a token's own change in time");
            }
        }
    }
}

/// Open subscriptions per token.
#[derive(Debug, Default)]
pub struct Open(Mutex<HashMap<Uuid, usize>>);

impl Open {
    /// Open subscriptions of all tokens.
    pub fn total(&self) -> u64 {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).values().sum::<usize>() as u64
    }
}

/// Counts one open subscription until dropped.
pub(crate) struct Slot {
    open: Arc<Open>,
    token: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.open.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.token) {
            *n = n.saturating_sub(1);
        }
    }
}

pub(crate) fn take_slot(open: &Arc<Open>, token: Uuid) -> async_graphql::Result<Slot> {
    let mut map = open.0.lock().unwrap_or_else(|p| p.into_inner());
    let n = map.entry(token).or_insert(0);
    if *n >= SUBSCRIPTIONS_PER_TOKEN_MAX {
        return Err(coded(
            "LIMIT_EXCEEDED",
            format!("a token holds at most {SUBSCRIPTIONS_PER_TOKEN_MAX} subscriptions"),
        ));
    }
    *n += 1;
    Ok(Slot { open: open.clone(), token })
}

/// What this server found when it recomputed the log's hash chain after its start (the log it
/// serves must be the log that was written: a changed segment is caught here, not only by
/// `rollout verify`).
#[derive(Debug, Default)]
pub struct Verification {
    /// The last position verified.
    pub verified: std::sync::atomic::AtomicU64,
    /// Where and how the chain is broken, if it is.
    pub broken: Mutex<Option<String>>,
}

impl Verification {
    pub fn broken(&self) -> Option<String> {
        self.broken.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The state the resolvers share (one per server).
#[derive(Debug, Clone)]
pub struct ApiState {
    pub engine: Arc<Engine>,
    pub projector: Arc<Projector>,
    /// Open subscriptions per token.
    pub open: Arc<Open>,
    /// The last position each token's changes reached (read your own writes).
    pub written: Arc<Written>,
    /// What `/metrics` counts.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The parsed documents kept by their text.
    pub documents: Arc<crate::documents::Documents>,
    /// Where each administration is (the network's distances), from the Land's profile.
    pub centres: Arc<catalog::centres::Centres>,
    /// The Land's profile as the log holds it (the report's title, the association's name).
    pub profile: Arc<catalog::profile::StoredProfile>,
    /// The dashboard's map layers (`/geo/<name>.geojson`), from the Land's profile.
    pub map: Arc<Vec<(String, axum::body::Bytes)>>,
    /// The network's search over recorded solutions.
    pub solutions: Arc<app::solutions::Solutions>,
    /// Turns for folds of the log ([`crate::limits::FOLD_PERMITS`]).
    pub folds: Arc<tokio::sync::Semaphore>,
    /// How fast and how much each token may write.
    pub writes: Arc<crate::rates::WriteRates>,
    /// Turns for long documents ([`crate::limits::LONG_DOCUMENTS_AT_ONCE`]).
    pub long_documents: Arc<tokio::sync::Semaphore>,
    /// The bearer token `/metrics` asks for (`rollout serve --metrics-token`); none: open.
    pub metrics_token: Option<Arc<str>>,
    /// The check of the log's hash chain after the start.
    pub verification: Arc<Verification>,
    /// Sign-in with an identity provider (`rollout serve --auth-config`); none: tokens only.
    pub signin: Option<Arc<SignInState>>,
}

/// What sign-in needs at run time (present when the server has `--auth-config`): the relying
/// party and the sessions (`crate::auth` serves them over HTTP).
#[derive(Debug)]
pub struct SignInState {
    pub rp: signin::RelyingParty,
    pub sessions: app::sessions::Sessions,
}

impl ApiState {
    pub fn new(engine: Arc<Engine>, projector: Arc<Projector>) -> ApiState {
        let profile = engine.profile();
        ApiState {
            engine,
            projector,
            open: Arc::default(),
            written: Arc::default(),
            metrics: Arc::default(),
            documents: Arc::default(),
            solutions: Arc::default(),
            centres: Arc::new(profile.centres()),
            map: Arc::new(map_layers(
                catalog::Profile::bundled(&profile.key).map(|p| p.map).unwrap_or_default(),
            )),
            profile: Arc::new(profile),
            folds: Arc::new(tokio::sync::Semaphore::new(crate::limits::FOLD_PERMITS as usize)),
            writes: Arc::default(),
            long_documents: Arc::new(tokio::sync::Semaphore::new(crate::limits::LONG_DOCUMENTS_AT_ONCE)),
            metrics_token: None,
            verification: Arc::default(),
            signin: None,
        }
    }

    /// Takes `folds` folds of the whole log from `caller`'s allowance
    /// ([`crate::rates::FOLD_EVERY_SECONDS`]), or refuses with `LIMIT_EXCEEDED` and when to retry.
    pub(crate) fn fold_allowance(&self, caller: &Caller, folds: usize) -> async_graphql::Result<()> {
        self.writes.take_folds(caller, folds, std::time::Instant::now()).map_err(|refused| {
            self.metrics.write_refused(refused.limit.name());
            let retry = refused.retry_after_seconds;
            Error::new(refused.message).extend_with(move |_, e| {
                e.set("code", "LIMIT_EXCEEDED");
                e.set("limit", "LOG_FOLDS_PER_TOKEN");
                e.set("retryAfterSeconds", retry);
            })
        })
    }

    /// Waits for a turn to fold the log: `permits` of [`crate::limits::FOLD_PERMITS`] (all of
    /// them for the whole log, one for a rollout's stream).
    pub(crate) async fn fold_turn(
        &self,
        permits: u32,
    ) -> async_graphql::Result<tokio::sync::SemaphorePermit<'_>> {
        self.folds.acquire_many(permits).await.map_err(|_| coded("UNAVAILABLE", "Der Server wird beendet."))
    }

    /// The store's clock's now (tests control it through the store).
    pub(crate) fn now(&self) -> Timestamp {
        self.engine.now()
    }
}

/// Map layers as the server keeps them (each response shares the bytes).
pub fn map_layers(layers: Vec<(String, Vec<u8>)>) -> Vec<(String, axum::body::Bytes)> {
    layers.into_iter().map(|(name, bytes)| (name, axum::body::Bytes::from(bytes))).collect()
}

/// Runs `work` (CPU for milliseconds or more: a large document's parsing and validation, a fold
/// of the log) off the runtime's worker threads, so the other requests on that worker are not
/// held up behind it: the worker becomes a blocking thread for it and the runtime starts another
/// (`tokio::task::block_in_place`). On a single-threaded runtime (tests) it simply runs.
pub(crate) async fn off_the_workers<F: std::future::Future>(work: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(work))
        }
        _ => work.await,
    }
}

/// An error with `extensions.code`.
pub(crate) fn coded(code: &'static str, message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, e| e.set("code", code))
}

/// An internal failure: logged with its cause, answered as `INTERNAL` without it.
pub(crate) fn internal(what: &str, cause: impl std::fmt::Display) -> Error {
    tracing::error!(error = %cause, "{what}");
    coded("INTERNAL", "internal error")
}

pub(crate) fn state<'a>(ctx: &'a Context<'_>) -> &'a ApiState {
    ctx.data_unchecked::<ApiState>()
}

/// The authenticated caller, or `UNAUTHENTICATED` — also when its token was revoked (or its
/// person erased) after the request or the WebSocket authenticated it: every operation checks.
pub(crate) fn caller<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Caller> {
    let c = ctx.data_opt::<Caller>().ok_or_else(|| coded("UNAUTHENTICATED", "a bearer token is required"))?;
    if !app::still_valid(&state(ctx).engine, c) {
        let message = if c.signed_in.is_some() {
            "Die Sitzung ist abgelaufen oder beendet; melden Sie sich neu an."
        } else {
            "Das Token wurde widerrufen; melden Sie sich neu an."
        };
        return Err(coded("UNAUTHENTICATED", message));
    }
    Ok(c)
}

/// The caller, when `permitted` says it may; `FORBIDDEN` with `refusal` otherwise.
pub(crate) fn gate<'a>(
    ctx: &'a Context<'_>,
    permitted: impl FnOnce(&Caller) -> bool,
    refusal: impl FnOnce() -> String,
) -> async_graphql::Result<&'a Caller> {
    let c = caller(ctx)?;
    if permitted(c) {
        Ok(c)
    } else {
        Err(coded("FORBIDDEN", refusal()))
    }
}

/// The caller, when it may read the reference data every token shares (the catalogue, the
/// definitions, the log's head).
pub(crate) fn reference_reader<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Caller> {
    gate(ctx, Caller::may_read_reference_data, || "this token may not read the reference data".into())
}

/// The caller, when it may read what the OZG network shares (solutions, network changes).
pub(crate) fn network_reader<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Caller> {
    gate(ctx, Caller::may_read_network, || "this token may not read the network".into())
}

/// The caller, when it may change something.
pub(crate) fn writer<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Caller> {
    gate(ctx, Caller::may_write, || "this token may only read".into())
}

/// The caller, when it may read across every administration (managers, admins, auditors).
pub(crate) fn manager<'a>(ctx: &'a Context<'_>, what: &str) -> async_graphql::Result<&'a Caller> {
    gate(ctx, Caller::is_manager, || format!("{what} needs a project manager, admin or auditor token"))
}

/// After a change whose events are not in its answer: the caller's next operation waits for the
/// log's head as it is now, which includes them.
pub(crate) async fn remember_head(ctx: &Context<'_>) {
    let s = state(ctx);
    if let (Ok(c), Ok(head)) = (caller(ctx), s.engine.store().head().await) {
        s.written.record(c.token_id, head.position);
    }
}

/// The engine invocation of a request: the caller's principal, the request id as correlation.
pub(crate) fn invocation(ctx: &Context<'_>, c: &Caller) -> engine::Invocation {
    let mut r = engine::Invocation::new(c.domain());
    if let Some(id) = ctx.data_opt::<crate::RequestId>() {
        r.correlation_id = id.0;
    }
    r
}

/// A person id argument.
pub(crate) fn person_id(id: &async_graphql::ID) -> async_graphql::Result<uuid::Uuid> {
    uuid::Uuid::try_parse(id)
        .map_err(|_| coded("BAD_USER_INPUT", format!("`{}` is not a person id", id.as_str())))
}

/// Splits `"<serviceKey>:<ars>"`.
pub(crate) fn split_id(id: &str) -> async_graphql::Result<(&str, &str)> {
    id.split_once(':')
        .ok_or_else(|| coded("BAD_USER_INPUT", format!("`{id}` is not a rollout id (`<serviceKey>:<ars>`)")))
}

/// A rollout visible to the caller, or FORBIDDEN — also when it does not exist, so a token
/// learns nothing about administrations outside its scope.
pub(crate) fn check_scope(c: &Caller, service: &str, ars: &str) -> async_graphql::Result<()> {
    if c.may_read_rollout(service, ars) {
        Ok(())
    } else {
        Err(coded("FORBIDDEN", "this token may not access that rollout"))
    }
}

/// `first` of a connection: [`PAGE_DEFAULT`] when absent, at most [`PAGE_MAX`].
pub(crate) fn page_size(first: Option<i32>) -> async_graphql::Result<usize> {
    match first {
        None => Ok(PAGE_DEFAULT),
        Some(n) if n < 0 => Err(coded("BAD_USER_INPUT", "`first` must not be negative")),
        Some(n) if n as usize > PAGE_MAX => {
            Err(coded("LIMIT_EXCEEDED", format!("`first` is at most {PAGE_MAX}, asked for {n}")))
        }
        Some(n) => Ok(n as usize),
    }
}

/// A log position given as a cursor (`after`).
pub(crate) fn position_arg(after: Option<&str>) -> async_graphql::Result<Option<u64>> {
    after
        .map(|a| {
            a.parse::<u64>()
                .map_err(|_| coded("BAD_USER_INPUT", format!("`after` must be a position, not `{a}`")))
        })
        .transpose()
}

/// An RFC 3339 time argument named `name`.
pub(crate) fn time_arg(value: Option<&str>, name: &str) -> async_graphql::Result<Option<Timestamp>> {
    value
        .map(|v| v.parse::<Timestamp>().map_err(|e| coded("BAD_USER_INPUT", format!("`{name}`: {e}"))))
        .transpose()
}

/// `asOf`: an RFC 3339 time, or a log position.
pub(crate) fn cut(as_of: Option<&str>) -> async_graphql::Result<Cut> {
    match as_of {
        None => Ok(Cut::Everything),
        Some(v) => match v.parse::<u64>() {
            Ok(p) => Ok(Cut::Position(p)),
            Err(_) => v.parse::<Timestamp>().map(Cut::Time).map_err(|e| {
                coded("BAD_USER_INPUT", format!("`asOf` is neither a position nor a time: {e}"))
            }),
        },
    }
}

/// `text` with every absolute file path replaced by `[Datei]`: where the server keeps its data
/// is the operator's to know (the log has it), not every client's.
pub(crate) fn hide_paths(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let path = word.trim_start_matches(['(', '"', '`', '\'']);
            if path.starts_with('/') && path.len() > 1 {
                let end = path.find([':', ')', '"', '`', ',', ';']).unwrap_or(path.len());
                format!("{}[Datei]{}", &word[..word.len() - path.len()], &path[end..])
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An engine error as the API reports it.
pub(crate) fn engine_error(e: EngineError) -> Error {
    match e {
        EngineError::Rejected(workflow::Rejection::EvidenceInvalid { step, problems }) => {
            let message =
                workflow::Rejection::EvidenceInvalid { step, problems: problems.clone() }.to_string();
            // Which fields are wrong, so a form can mark them.
            let fields: Vec<serde_json::Value> = problems
                .into_iter()
                .map(|(field, problem)| serde_json::json!({ "field": field, "problem": problem }))
                .collect();
            Error::new(message).extend_with(move |_, ext| {
                ext.set("code", "REJECTED");
                if let Ok(v) = async_graphql::Value::from_json(serde_json::Value::Array(fields.clone())) {
                    ext.set("fields", v);
                }
            })
        }
        EngineError::Rejected(r) => coded("REJECTED", r.to_string()),
        EngineError::Conflict { expected, actual } => {
            Error::new(format!("the rollout is at version {actual}, not {expected}")).extend_with(|_, ext| {
                ext.set("code", "CONFLICT");
                ext.set("currentVersion", actual);
            })
        }
        EngineError::UnknownService(_)
        | EngineError::UnknownAuthority(_)
        | EngineError::UnknownDefinition(_)
        | EngineError::UnknownToken(_)
        | EngineError::UnknownPerson(_)
        | EngineError::UnknownQuestion(_)
        | EngineError::TokenAlreadyRevoked(_) => coded("NOT_FOUND", e.to_string()),
        EngineError::PersonErased(_) | EngineError::QuestionState(_) => coded("REJECTED", e.to_string()),
        EngineError::InvalidToken(_) | EngineError::InvalidPerson(_) | EngineError::Refused(_) => {
            coded("BAD_USER_INPUT", e.to_string())
        }
        EngineError::Dissolved(_) | EngineError::NotApplicable { .. } => coded("REJECTED", e.to_string()),
        EngineError::Store(store::StoreError::Limit { .. }) => coded("LIMIT_EXCEEDED", e.to_string()),
        EngineError::Store(store::StoreError::Unavailable(cause)) => {
            tracing::warn!(cause = %cause, "a write was refused: the store cannot write now");
            let cause = hide_paths(&cause);
            coded(
                "UNAVAILABLE",
                format!("the store cannot write now: {cause}. Nothing of this change was stored; reads still work; try again later (with the same idempotencyKey a repeat is applied once)"),
            )
        }
        EngineError::Store(store::StoreError::Io(cause)) => {
            tracing::error!(error = %cause, "the event store is unavailable");
            coded(
                "INTERNAL",
                "the event store is unavailable right now; try again (with the same idempotencyKey, a repeat is applied once)",
            )
        }
        other => internal("internal error", other),
    }
}
