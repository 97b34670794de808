//! End-to-end tests of the server over real HTTP on loopback; each runs on SQLite and PostgreSQL.

mod helpers;

mod admin;
mod errors;
mod health;
mod keys;
mod openapi;
mod public_keys;
mod services;
mod startup;
mod storage;
mod tokens;
