//! The engine's tests, one binary: the catalogue and rollouts, definitions as events, persons.

mod catalog_and_rollouts;
mod definitions;
mod logins;
mod one_way_to_write;
mod persons;
mod reuse;
mod support;
