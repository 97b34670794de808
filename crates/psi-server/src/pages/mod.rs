//! The web pages around links (PROTOCOL §2–3): the start-interaction page, the app-link landing
//! page, the app-site association files, the embed library and its assets.

pub mod callback;
