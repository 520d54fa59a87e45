//! The GraphQL object types the query, mutation and subscription roots return.

pub mod access;
pub mod catalog;
pub mod definition;
pub mod event;
pub mod network;
pub mod person;
pub mod reuse;
pub mod rollout;
pub mod work;
