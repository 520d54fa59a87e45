//! The sled store's integration tests: the conformance suite, durability and crashes.
//! One test binary for the crate (each `tests/*.rs` would link the whole workspace again).

mod conformance;
mod durability;
mod faults;
