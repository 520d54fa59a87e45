//! The domain's integration tests: definitions and their diagnostics, decide and evolve, properties, the JSON Schema, variants (`extends`).
//! One test binary for the crate (each `tests/*.rs` would link the whole workspace again).

mod definitions;
mod diagnostics;
mod engine;
mod properties;
mod schema;
mod variants;
