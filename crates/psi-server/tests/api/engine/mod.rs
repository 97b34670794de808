//! The event engine end to end: a holder (signing wallet calls) runs interactions whose webhooks
//! are a scripted receiver on loopback that verifies psi's signatures.

mod auth;
mod demo_receiver;
mod management;
mod replies;
pub mod support;
mod verification;
mod wallet;
