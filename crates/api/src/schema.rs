//! The GraphQL schema: names fixed by DESIGN.md ("Outside contract"); every type and field has
//! a description (a test checks), and a test keeps `schema/schema.graphql` equal to it. Errors
//! carry `extensions.code`.

use async_graphql::Schema;

use crate::limits::{COMPLEXITY_MAX, DEPTH_MAX};
pub use crate::mutation::Mutation;
pub use crate::query::Query;
use crate::state::ApiState;
use crate::subscriptions::SubscriptionRoot;

pub type ApiSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// The schema with its limits and the read-your-writes extension, serving `state`.
pub fn build(state: ApiState) -> ApiSchema {
    Schema::build(Query, Mutation, SubscriptionRoot)
        .data(state)
        .limit_depth(DEPTH_MAX)
        .limit_complexity(COMPLEXITY_MAX)
        .extension(crate::consistency::ReadYourWrites)
        .finish()
}
