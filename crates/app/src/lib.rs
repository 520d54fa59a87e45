//! The application layer, between the engine and read models below and the adapters above
//! (GraphQL and HTTP in `api`, the command line in `rollout`): who calls ([`authenticate`]),
//! what they may do (every permission a named method of [`Caller`]) and the questions people
//! ask, as plain functions returning plain types. It knows no GraphQL and no HTTP
//! (`cargo tree -p app -e normal` names neither async-graphql, axum nor hyper).

pub mod audit;
pub mod authenticate;
pub mod caller;
pub mod coverage;
pub mod network;
pub mod report;
pub mod rollouts;
pub mod sessions;
pub mod solutions;
pub mod steckbrief;
pub mod tasks;

pub use authenticate::{
    association_scope, authenticate, authenticate_header, authenticate_session, bearer, still_valid,
    Credential,
};
pub use caller::{AuditRefusal, Caller, SignIn, AUTOMATION_MUTATIONS};
