//! The crate's integration tests, one binary: the protocol vectors and property tests.

mod properties;
mod vectors;
