//! Read your own writes across requests.
//!
//! A mutation's answer already holds the rollout after its events (from the engine). A client
//! that asks again right after — the dashboard reloads what it changed, automation checks its
//! work — reads the read models, which apply the events as the log's subscription delivers
//! them: typically within a millisecond with the embedded store, a few with PostgreSQL's
//! notifications. So the last position each token's changes reached is kept, and the token's
//! next query first waits until the read models have folded it: at most [`crate::limits::READ_YOUR_WRITES_WAIT_MAX`], after
//! which it is answered as the models stand (a read model that stopped following shows on
//! `/readyz` and in `/metrics`). Mutations do not wait (the engine decides from the rollout's
//! own stream, not from the read models), and other tokens never wait for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{ServerResult, Variables};

use crate::state::ApiState;
use app::Caller;

/// The schema extension that makes each query wait for its token's own changes.
pub(crate) struct ReadYourWrites;

impl ExtensionFactory for ReadYourWrites {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest { queries_only: AtomicBool::new(false) })
    }
}

/// The extension for one request.
struct PerRequest {
    /// Whether the request's document holds queries only (no mutation, no subscription).
    queries_only: AtomicBool,
}

#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let queries_only = document.operations.iter().all(|(_, op)| op.node.ty == OperationType::Query);
        self.queries_only.store(queries_only, Ordering::Relaxed);
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        if self.queries_only.load(Ordering::Relaxed) {
            if let (Some(p), Some(s)) = (ctx.data_opt::<Caller>(), ctx.data_opt::<ApiState>()) {
                s.written.settle(p.token_id, &s.projector).await;
            }
        }
        next.run(ctx, operation_name).await
    }
}
