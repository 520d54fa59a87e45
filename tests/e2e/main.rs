//! End-to-end tests of the real binary: the command line, the API over HTTP and WebSocket, the
//! dashboard in Chromium, PostgreSQL. One test binary (each `tests/*.rs` would link the whole
//! workspace again); what the tests share is in `tests/support/`.

#[path = "../support/mod.rs"]
mod support;

mod api;
mod catalog_cli;
mod cli;
mod dashboard;
mod formserver;
mod operations;
mod persons;
mod postgres;
mod profile;
mod report;
mod security;
mod signin;
mod workflow_check;
