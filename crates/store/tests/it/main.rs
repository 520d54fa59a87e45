//! The store's integration tests: the stored layout and the in-memory backend.
//! One test binary for the crate (each `tests/*.rs` would link the whole workspace again).

mod codec;
mod memory;
