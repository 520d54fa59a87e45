//! The GraphQL API and the HTTP server of efa-rollout. The only crate that knows GraphQL and
//! HTTP: requests are authenticated here, turned into engine commands, and answered from the
//! engine's outcome and the read models.

pub mod tokens;

pub use tokens::{Principal, Role, Tokens};
