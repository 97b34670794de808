//! End-to-end tests of the server over real HTTP on loopback; each runs on SQLite and PostgreSQL.

mod helpers;

mod admin;
mod credential_definitions;
mod engine;
mod errors;
mod health;
mod instances;
mod interactions;
mod keys;
mod model;
mod notifications;
mod openapi;
mod pages;
mod public_keys;
mod schemas;
mod services;
mod startup;
mod storage;
mod tokens;
