//! The `psi` command line's integration tests, one binary: the real `psi` binary on links, QR
//! codes, batches, the webhook tools, the wallet simulator against a real server, the demo,
//! delivery durability under `kill -9`, and the pages in a real browser.

mod common;
mod wallet_env;

mod batch;
mod browser;
mod decode_batch;
mod demo;
mod durability;
mod link;
mod qr;
mod wallet;
mod webhook;
