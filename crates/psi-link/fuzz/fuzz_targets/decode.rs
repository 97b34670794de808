//! Fuzzes link decoding: no input may panic, and whatever decodes must re-encode to a link that
//! decodes to the same request.
//!
//! Run from `crates/psi-link`: `cargo +nightly fuzz run decode -- -max_total_time=300`.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use psi_link::{LinkTarget, decode, encode};

fuzz_target!(|data: &[u8]| {
    // The first byte chooses how to read the rest: as a whole link, or as the JSON inside a link
    // (so the fuzzer reaches JSON parsing and validation without having to discover base64).
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let link = if mode % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        format!(
            "https://proofspace.id/native/execute/{}",
            URL_SAFE_NO_PAD.encode(rest)
        )
    };
    let Ok(decoded) = decode(&link) else { return };
    let env = decoded
        .origin
        .environment()
        .expect("the default decoder only knows platform origins");
    // Re-encoded JSON is never longer than what was decoded (escapes, spaces and unknown fields
    // only shrink), so this cannot hit the length limit.
    let again = encode(&decoded.request, &LinkTarget::env(env), decoded.kind)
        .expect("a decoded request re-encodes");
    assert_eq!(
        decode(&again).expect("a re-encoded link decodes").request,
        decoded.request
    );
});
