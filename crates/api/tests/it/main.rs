//! The API's integration tests: its boundaries, its limits, read-your-writes, tokens, the
//! committed SDL.
//! One test binary for the crate (each `tests/*.rs` would link the whole workspace again).

mod boundaries;
mod limits;
mod read_your_writes;
mod sdl;
mod support;
mod tokens;
