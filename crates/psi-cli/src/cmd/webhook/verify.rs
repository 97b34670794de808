//! `psi webhook verify`: checks one call's `X-Body-Signature` or Bearer token against its body.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use psi_webhook::UnixTime;
use serde_json::json;

use super::{CheckArgs, Verified, check};

/// Check a webhook call's signature or token against its body (standard input).
#[derive(Args, Debug)]
#[command(
    long_about = "Check a webhook call's signature or token against the exact body bytes, read \
from standard input (or BODY_FILE).

--signature takes the `X-Body-Signature` header's value, checked with --key (an RSA public key). \
--token takes the `Authorization` header's value (`Bearer ` optional): RS256 with --key, HS256 \
with --secret-file. Tokens must not be expired (60 s leeway; --time checks at another instant), \
must match the body's hash when they carry `body_sha3_256`, and --audience / --issuer add checks.

Prints `valid` (and a token's claims as JSON) and exits 0; prints `error: invalid: <reason>` on \
stderr and exits 1 when the call does not verify.

Examples:
  psi webhook verify --key psi.pem --signature \"$SIG\" < body.json
  psi webhook verify --key partner.pem --token \"$JWT\" --audience GbzPqgnU4XsMs7xg9mYJW8 < body.json"
)]
#[command(group(clap::ArgGroup::new("proof").required(true).args(["signature", "token"])))]
#[command(group(clap::ArgGroup::new("verifier").required(true).args(["key", "secret_file"])))]
pub struct VerifyArgs {
    #[command(flatten)]
    check: CheckArgs,
    /// The `X-Body-Signature` header's value.
    #[arg(long, value_name = "SIG")]
    signature: Option<String>,
    /// The Bearer token (the `Authorization` header's value, `Bearer ` optional).
    #[arg(long, value_name = "JWT")]
    token: Option<String>,
    /// Check tokens at this instant, in seconds since the epoch, instead of now.
    #[arg(long, value_name = "UNIX_SECONDS")]
    time: Option<u64>,
    /// The body; `-` or absent: standard input. Read as bytes, unchanged.
    #[arg(value_name = "BODY_FILE", default_value = "-")]
    body: String,
}

pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    let (verifier, name) = args
        .check
        .verifier()?
        .ok_or_else(|| anyhow!("give --key or --secret-file"))?;
    let body = read_body(&args.body)?;
    let now = args.time.map_or_else(UnixTime::now, UnixTime::from_secs);
    let verified = check(
        &verifier,
        &args.check.validation(),
        &body,
        args.signature.as_deref(),
        args.token.as_deref(),
        now,
    )
    .map_err(|e| anyhow!("invalid: {e} ({})", e.code()))?;
    match verified {
        Verified::Signature => {
            println!("valid: X-Body-Signature over {} bytes, {name}", body.len())
        }
        Verified::Token(claims) => {
            println!("valid: Bearer token over {} bytes, {name}", body.len());
            let claims = json!({
                "iss": claims.iss, "aud": claims.aud, "iat": claims.iat, "nbf": claims.nbf,
                "exp": claims.exp, "jti": claims.jti, "body_sha3_256": claims.body_sha3_256,
            });
            println!("{}", serde_json::to_string_pretty(&claims)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The exact bytes of a file, or of standard input for `-`.
fn read_body(path: &str) -> Result<Vec<u8>> {
    if path == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .context("cannot read standard input")?;
        Ok(body)
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {path}"))
    }
}
