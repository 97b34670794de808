//! The crate's integration tests, one binary: the address guard, limits and `sourceURL`
//! downloads over real HTTP, against the kit's receiver on loopback.

mod common;

mod guard;
mod limits;
mod source_url;
