//! The API's integration tests: its boundaries, definitions, its limits, read-your-writes, tokens, the
//! committed SDL.
//! One test binary for the crate (each `tests/*.rs` would link the whole workspace again).

mod boundaries;
mod definitions;
mod limits;
mod network;
mod permissions;
mod persons;
mod read_your_writes;
mod reuse;
mod sdl;
mod support;
mod tokens;
mod work;
