//! The GraphQL API and the HTTP server of efa-rollout. The only crate that knows GraphQL and
//! HTTP. Resolvers only translate: parse the input, check the caller's scope, call the engine
//! (every write) or read a read model or a `projections` function (every read), map the answer.
//! No file here calls the store's append or read functions (a test checks).
//!
//! Files, each using only those above it: `limits`, `caller`, `state` (the shared state and
//! error mapping), `connection`, `objects/` (event, rollout, catalog, definition, person, work:
//! tasks and questions, network: peers, consent, blockages, back-office systems), `query`,
//! `mutation`, `publishing` (the definition mutations), `subscriptions`, `operations` (depth limit, metrics labels), `consistency`, `schema`, `metrics`,
//! `documents` (the parsed documents kept by their text), `report` (the programme report's
//! figures and the tables every list downloads as: XLSX, CSV, a printable page), `downloads`
//! (their HTTP endpoints), `solutions` (the network's full-text search over recorded
//! solutions), `assets` (what is compiled in and served: the dashboard, the explorer, the map
//! layers), `listener` (the connection loop), `socket` (WebSockets), `rates` (write rates),
//! `background` (the folds' thread), `server`.

mod assets;
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
mod sheets;
pub mod schema;
pub mod server;
mod socket;
pub mod state;
pub mod subscriptions;

pub use app::Caller;
pub use state::ApiState;

/// The id of an HTTP request, carried into the events' correlation id.
#[derive(Clone, Copy, Debug)]
pub struct RequestId(pub uuid::Uuid);
