//! The GraphQL schema: names fixed by DESIGN.md ("Outside contract"); every type and field has
//! a description (a test checks), and a test keeps `schema/schema.graphql` equal to it. Errors
//! carry `extensions.code`.

use async_graphql::{MergedObject, Schema};

use crate::limits::COMPLEXITY_MAX;
use crate::mutation::{PersonMutation, RolloutMutation};
use crate::objects::access::{AccessMutation, AccessQuery};
use crate::objects::network::{
    BackOfficeMutation, BlockageMutation, BlockageQuery, NetworkMutation, NetworkQuery,
};
use crate::objects::reuse::{ReuseMutation, ReuseQuery};
use crate::objects::work::{WorkMutation, WorkQuery};
use crate::publishing::DefinitionMutation;
use crate::query::CoreQuery;
use crate::state::ApiState;
use crate::subscriptions::SubscriptionRoot;

/// What can be changed. Every change is an event with the token's principal as actor. The
/// answer holds the state after the change, and the same token's next query sees it in every
/// read model (waiting up to a second for it to be folded). While the store cannot write (a
/// full disk, a lost database) every change is refused with `UNAVAILABLE` naming the cause and
/// nothing of it is stored; `/readyz` says the same.
#[derive(MergedObject, Default, Debug)]
#[graphql(name = "Mutation")]
pub struct Mutation(
    RolloutMutation,
    DefinitionMutation,
    PersonMutation,
    WorkMutation,
    NetworkMutation,
    BlockageMutation,
    BackOfficeMutation,
    ReuseMutation,
    AccessMutation,
);

/// What can be read: the caller, rollouts and their history, the audit log, progress, the
/// catalogue, definitions, persons, the caller's tasks and questions, and the OZG network.
#[derive(MergedObject, Default, Debug)]
#[graphql(name = "Query")]
pub struct Query(CoreQuery, WorkQuery, NetworkQuery, BlockageQuery, ReuseQuery, AccessQuery);

pub type ApiSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// The schema with its limits, the operations extension (depth, metrics) and the
/// read-your-writes extension, serving `state`.
pub fn build(state: ApiState) -> ApiSchema {
    Schema::build(Query::default(), Mutation::default(), SubscriptionRoot)
        .data(state)
        // Depth is limited by `operations` (with room for the standard introspection query).
        .limit_complexity(COMPLEXITY_MAX)
        .extension(crate::operations::Operations)
        .extension(crate::consistency::ReadYourWrites)
        .finish()
}
