//! Every limit of the API, in one place (the store's are in `store::limits`, the definitions'
//! in `workflow::limits`). A request over one gets `LIMIT_EXCEEDED` naming it.

use std::time::Duration;

/// Query depth at most.
pub const DEPTH_MAX: usize = 12;
/// Depth at most of a document that only introspects (`__schema`, `__type`): the standard
/// introspection query of graphql-js nests 15 levels.
pub const INTROSPECTION_DEPTH_MAX: usize = 20;
/// Query complexity at most (a connection counts its page size times its fields).
pub const COMPLEXITY_MAX: usize = 10_000;
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
