//! What the HTTP handlers share (the router's state, the marker that a request's execution
//! began), below the server and the handlers of its routes (downloads, WebSockets).

use std::sync::Arc;

use engine::TokenRegistry;

use crate::metrics::{Metrics, StoreStats};
use crate::schema::ApiSchema;

pub(crate) use crate::operations::Executed;

/// The router's state.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) schema: ApiSchema,
    pub(crate) tokens: Arc<TokenRegistry>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) store_stats: StoreStats,
    pub(crate) projector: Arc<projections::Projector>,
    pub(crate) open: Arc<crate::state::Open>,
    pub(crate) engine: Arc<engine::Engine>,
    pub(crate) store: Arc<dyn store::EventStore>,
    pub(crate) documents: Arc<crate::documents::Documents>,
    pub(crate) api: crate::ApiState,
}
