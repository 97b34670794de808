//! Calls third parties make to psi (docs/protocol.md §4.3), signed as a third party signs them, against
//! events driven through the wallet API.

mod auth;
mod examples;
mod issuing;
mod replay;
mod requests;
pub mod support;
