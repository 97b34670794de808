//! End-to-end tests of the server over real HTTP on loopback; each runs on SQLite and PostgreSQL.

mod helpers;

mod admin;
mod concurrency;
mod connections;
mod credential_definitions;
mod demo;
mod demo_fixture;
mod engine;
mod errors;
mod event_lists;
mod headers;
mod health;
mod inbound;
mod instances;
mod interactions;
mod keys;
mod layers;
mod links;
mod model;
mod notifications;
mod openapi;
mod pages;
mod paging;
mod processes;
mod public_keys;
mod public_reads;
mod schemas;
mod services;
mod source_links;
mod standard_webhooks;
mod startup;
mod storage;
mod throttle;
mod tokens;
mod trust;
