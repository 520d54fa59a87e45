//! The engine's tests, one binary: the catalogue and rollouts, and definitions as events.

mod catalog_and_rollouts;
mod definitions;
