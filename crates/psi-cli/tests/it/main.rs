//! The `psi` command line's integration tests, one binary: the real `psi` binary on links, QR
//! codes, batches, the webhook tools, the wallet simulator against a real server, extension
//! manifest files, the demo, delivery durability under `kill -9`, the pages in a real browser,
//! signing in with the platform's `ssi-auth-lib`, `psi health`, and the container image and
//! systemd unit psi ships with.

mod common;
mod wallet_env;

mod batch;
mod browser;
mod container;
mod dashboard;
mod decode_batch;
mod demo;
mod durability;
mod extension;
mod health;
mod link;
mod oidc;
mod qr;
mod ssi_oauth;
mod wallet;
mod webhook;
