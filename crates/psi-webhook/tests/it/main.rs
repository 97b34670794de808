//! The crate's integration tests, one binary: the shared vectors both ways, keys, hand-built
//! tokens, and property tests of signing and verifying.

mod common;

mod keys;
mod roundtrip;
mod tokens;
mod vectors;
