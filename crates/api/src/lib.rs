//! The GraphQL API and the HTTP server of efa-rollout. The only crate that knows GraphQL and
//! HTTP: requests are authenticated here, turned into engine commands, and answered from the
//! engine's outcome and the read models.

pub mod consistency;
pub mod tokens;

pub use tokens::{Principal, Role, Tokens};
pub mod schema;
pub mod subscriptions;

/// The id of an HTTP request, carried into the events' correlation id.
#[derive(Clone, Copy, Debug)]
pub struct RequestId(pub uuid::Uuid);
pub mod metrics;
pub mod reads;
pub mod server;
