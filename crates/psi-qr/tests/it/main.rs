//! The crate's integration tests, one binary: codes read back with an independent QR reader.

mod limits;
mod png_roundtrip;
mod svg_and_terminal;
