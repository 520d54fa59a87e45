//! Telling people and systems what happened. So far: how a webhook delivery is signed
//! (Standard Webhooks 1.0, [`webhook`]) and which addresses an outgoing request may reach
//! ([`address`]). The notifier that follows the log, e-mail and the delivery worker are to come
//! (issue 35).

pub mod address;
pub mod webhook;
