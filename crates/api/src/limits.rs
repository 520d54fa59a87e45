//! Every limit of the API, in one place (the store's are in `store::limits`, the definitions'
//! in `workflow::limits`). A request over one gets `LIMIT_EXCEEDED` naming it.

use std::time::Duration;

/// Query depth at most.
pub const DEPTH_MAX: usize = 12;
/// Depth at most of a document that only introspects (`__schema`, `__type`): the standard
/// introspection query of graphql-js nests 15 levels.
pub const INTROSPECTION_DEPTH_MAX: usize = 20;
/// Query cost at most: roughly the values an answer may hold. Every field costs 1; a list
/// costs its page size (`first`) or, unpaged, the size it can reach ([`SERVICES_ITEMS`] …)
/// times the cost of one item; every alias counts again; a fold of the log costs
/// [`LOG_FOLD_COST`], one rollout as of a past time [`STREAM_FOLD_COST`]. The lists inside one
/// definition (phases, steps, evidence fields) count once: a definition is bounded by
/// `workflow::limits` and published by managers only.
pub const COMPLEXITY_MAX: usize = 200_000;
/// Sizes unpaged lists are counted at: services of a Land (a definition's `usedBy`,
/// progress by service), administrations (`peers`, progress by administration), Landkreise
/// and kreisfreie Städte, definitions (every version), a rollout's steps, its questions, a
/// question's messages, an administration's persons, blockage groups.
pub const SERVICES_ITEMS: usize = 64;
pub const AUTHORITIES_ITEMS: usize = 256;
pub const LANDKREISE_ITEMS: usize = 24;
pub const DEFINITIONS_ITEMS: usize = 32;
pub const ROLLOUT_STEPS_ITEMS: usize = 40;
pub const QUESTIONS_ITEMS: usize = 20;
pub const MESSAGES_ITEMS: usize = 20;
pub const PERSONS_ITEMS: usize = 50;
pub const BLOCKAGE_GROUPS_ITEMS: usize = 32;
/// Fields of large text count more: a definition's source (16 KB bundled, up to 1 MiB) and an
/// event's data (evidence up to 10,000 characters).
pub const DEFINITION_SOURCE_COST: usize = 100;
pub const EVENT_DATA_COST: usize = 10;
/// The cost of folding the whole log (`progress(asOf:)`, `progressOverTime`): at most two in
/// one request.
pub const LOG_FOLD_COST: usize = 80_000;
/// The cost of one rollout as it stood at a past time (`rollout(asOf:)`): its stream folded.
pub const STREAM_FOLD_COST: usize = 5_000;
/// Points `progressOverTime` is counted at (a year of weekly points).
pub const PROGRESS_POINTS_ESTIMATE: usize = 53;
/// Folds of the log (and of rollouts as of a past time) running at once; more wait their turn
/// (within [`QUERY_TIME_MAX`]), so they cannot take every core from commands. A fold of the whole
/// log takes every permit, a rollout's one.
pub const FOLD_PERMITS: u32 = 4;
/// Aliases (`name: field`) in one document at most: counted in its text before it is parsed, so
/// a flood of aliased copies costs the server a scan, not a parse and a validation.
pub const ALIASES_MAX: usize = 200;
/// Documents longer than `documents::TEXT_BYTES_MAX` (hundreds of aliases: milliseconds to
/// parse and validate before their cost is known) handled at once; more wait their turn, so
/// they cannot take every core from short requests.
pub const LONG_DOCUMENTS_AT_ONCE: usize = 1;
/// How long a query may run (waiting for a fold included) before it is refused.
pub const QUERY_TIME_MAX: Duration = Duration::from_secs(30);
/// Bytes of one answer at most; a larger one is replaced by a `LIMIT_EXCEEDED` error.
pub const RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The cost of an unpaged list of up to `items` entries.
pub fn list_complexity(items: usize, child_complexity: usize) -> usize {
    1 + items * child_complexity
}

/// The cost of `rollout(id, asOf)`.
pub fn rollout_complexity(as_of: bool, child_complexity: usize) -> usize {
    1 + child_complexity + if as_of { STREAM_FOLD_COST } else { 0 }
}

/// Items of one page (`first`) at most.
pub const PAGE_MAX: usize = 500;
/// Items of one page when `first` is not given.
pub const PAGE_DEFAULT: usize = 50;
/// Points of `progressOverTime` at most.
pub const PROGRESS_POINTS_MAX: usize = 520;
/// Subscriptions one token may hold open at once.
pub const SUBSCRIPTIONS_PER_TOKEN_MAX: usize = 16;
/// Bytes of a request body at most.
pub const BODY_BYTES_MAX: usize = 256 * 1024;
/// Bytes of an over-long body read and discarded before the `413` is sent, so that a client
/// sending it all at once sees the answer; beyond it the connection is closed.
pub const BODY_DRAIN_MAX: usize = 32 * 1024 * 1024;
/// Bytes of one WebSocket frame or message at most (as of an HTTP body).
pub const WS_MESSAGE_BYTES_MAX: usize = BODY_BYTES_MAX;
/// Bytes of a WebSocket message before `connection_init` named a valid token (a token and a
/// few headers fit many times).
pub const WS_INIT_BYTES_MAX: usize = 16 * 1024;
/// How long a WebSocket may stay open without a valid `connection_init`.
pub const WS_INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may take to send a request's head (and stay idle between requests).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request body may take to arrive whole.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections open at once, by default (`rollout serve --connections-max`).
pub const CONNECTIONS_MAX: usize = 4096;
/// Connections open at once from one address, by default (`--connections-per-peer-max`).
pub const CONNECTIONS_PER_PEER_MAX: usize = 256;
/// How long a stopping server waits for its open connections to finish.
pub const CONNECTION_DRAIN_MAX: Duration = Duration::from_secs(10);
/// Events the read models may lag behind the log while `/readyz` still answers ready.
pub const READY_LAG_MAX: u64 = 10_000;
/// How long a query waits at most for the read models to fold its token's own changes.
pub const READ_YOUR_WRITES_WAIT_MAX: Duration = Duration::from_secs(1);

/// The complexity of a connection field: its own 5 plus `first` (as the page will be cut to
/// [`PAGE_MAX`]) times the complexity of one item. Used in every `#[graphql(complexity)]`.
pub fn page_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let first = first.map_or(PAGE_DEFAULT, |n| (n.max(0) as usize).min(PAGE_MAX));
    5 + first * child_complexity
}

/// Rows a list download holds at most (`limit` may ask for fewer); a download that is cut says
/// so on its sheet and in `x-rows-cut`.
pub const DOWNLOAD_ROWS_MAX: usize = 100_000;
/// Rows a list download reads per page of its GraphQL list.
pub const DOWNLOAD_PAGE: usize = crate::limits::PAGE_MAX;
