//! The API's integration tests: its boundaries, read-your-writes, the committed SDL.
//! One test binary for the crate (each `tests/*.rs` would link the whole workspace again).

mod boundaries;
mod read_your_writes;
mod sdl;
