//! The GraphQL API and the HTTP server of efa-rollout. The only crate that knows GraphQL and
//! HTTP. Resolvers only translate: parse the input, check the caller's scope, call the engine
//! (every write) or ask `app` or a read model (every read), map the answer.
//! No file here calls the store's append or read functions (a test checks).
//!
//! Files, each using only those before it (a test holds this order to the `crate::` paths):
//! `assets` (what is compiled in and served: the dashboard, the explorer), `background` (the
//! folds' thread), `connection` (Relay connections), `documents` (the parsed documents kept by
//! their text), `limits`, `rates` (write rates), `sheets` (the tables as XLSX, CSV, a printable
//! page), `listener` (the connection loop), `metrics`, `state` (the shared state, the caller,
//! argument parsing, error mapping), `consistency` (read your own writes), `objects/` (event,
//! rollout, catalog, definition, person, work: tasks and questions, network: peers, consent,
//! blockages, back-office systems), `operations` (depth limit, metrics labels, the marker that
//! execution began), `mutation`, `subscriptions`, `publishing` (the definition mutations),
//! `query`, `schema`, `http` (what the HTTP handlers share), `auth` (sign-in: the routes, the
//! session cookie, the cross-site checks), `downloads` (the report and the
//! lists over HTTP), `socket` (WebSockets), `server` (the router, GraphQL over HTTP, the map
//! layers). Who may do what and the questions people ask are `app`'s.

mod assets;
pub mod auth;
mod background;
mod connection;
pub mod consistency;
pub mod documents;
mod downloads;
mod http;
pub mod limits;
pub mod listener;
pub mod metrics;
mod mutation;
mod objects;
mod operations;
mod publishing;
mod query;
pub mod rates;
pub mod schema;
pub mod server;
mod sheets;
mod socket;
pub mod state;
pub mod subscriptions;

pub use app::Caller;
pub use state::ApiState;

/// The id of an HTTP request, carried into the events' correlation id.
#[derive(Clone, Copy, Debug)]
pub struct RequestId(pub uuid::Uuid);
