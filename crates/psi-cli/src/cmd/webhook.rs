//! `psi webhook`: tools for integrators who receive psi's webhooks. `verify` checks one call's
//! signature or token; `listen` is a local receiver that checks and prints every call and
//! answers as scripted. Both use `psi-webhook`, the library a Rust receiver would use.

mod listen;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use psi_webhook::{PrivateKey, PublicKey, SharedSecret, UnixTime, Validation, Verifier};

/// Check psi's webhook signatures and tokens; receive webhooks locally.
#[derive(Args, Debug)]
#[command(
    long_about = "Tools for receiving psi's webhooks (docs/protocol.md §4).

psi signs each webhook call with the service's RSA key: `X-Body-Signature` (RSA PKCS#1 v1.5 with \
SHA3-256 over the exact body bytes, base64), or `Authorization: Bearer <JWT>` (RS256 with the \
RSA key, HS256 with a shared SHA secret; `iss` is the service's DID). The service's public key \
is served at `<server>/service-dashboard-backend/service/<DID>/public-info/public-key/default`.

Examples:
  curl -s $PSI/service-dashboard-backend/service/$DID/public-info/public-key/default > psi.pem
  psi webhook verify --key psi.pem --signature \"$SIG\" < body.json
  psi webhook verify --secret-file secret.txt --token \"$JWT\" --issuer $DID < body.json
  psi webhook listen --port 4604 --key psi.pem --reply replies.json"
)]
pub struct WebhookArgs {
    #[command(subcommand)]
    command: WebhookCommand,
}

#[derive(Subcommand, Debug)]
enum WebhookCommand {
    Verify(verify::VerifyArgs),
    Listen(listen::ListenArgs),
}

pub fn run(args: WebhookArgs) -> Result<ExitCode> {
    match args.command {
        WebhookCommand::Verify(args) => verify::run(args),
        WebhookCommand::Listen(args) => listen::run(args),
    }
}

/// The key calls are checked with, and what a token must say.
#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The sender's RSA public key (SPKI or PKCS#1 PEM; a private key PEM works too): checks
    /// `X-Body-Signature` and RS256 tokens.
    #[arg(long, value_name = "PEM_FILE", conflicts_with = "secret_file")]
    key: Option<PathBuf>,
    /// A file holding the shared SHA secret (standard base64): checks HS256 tokens.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Tokens must name this audience (`aud`), e.g. the service DID on calls to psi.
    #[arg(long, value_name = "DID")]
    audience: Option<String>,
    /// Tokens must name this issuer (`iss`), e.g. the service DID on calls from psi.
    #[arg(long, value_name = "DID")]
    issuer: Option<String>,
}

impl CheckArgs {
    /// The verifier of `--key` or `--secret-file`, and how to name it; `None` without either.
    fn verifier(&self) -> Result<Option<(Verifier, String)>> {
        if let Some(path) = &self.key {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let key = PublicKey::from_pem(&pem)
                .or_else(|_| PrivateKey::from_pem(&pem).map(|key| key.public_key()))
                .with_context(|| {
                    format!("{} is not an RSA public or private key PEM", path.display())
                })?;
            return Ok(Some((
                Verifier::rsa(key),
                format!("key {}", path.display()),
            )));
        }
        if let Some(path) = &self.secret_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let secret = SharedSecret::from_base64(text.trim())
                .with_context(|| format!("{} does not hold a SHA secret", path.display()))?;
            return Ok(Some((
                Verifier::shared_secret(secret),
                format!("secret {}", path.display()),
            )));
        }
        Ok(None)
    }

    /// What tokens must satisfy (60 s leeway on `exp` and `nbf`).
    fn validation(&self) -> Validation {
        let mut validation = Validation::new();
        if let Some(audience) = &self.audience {
            validation = validation.expect_audience(audience);
        }
        if let Some(issuer) = &self.issuer {
            validation = validation.expect_issuer(issuer);
        }
        validation
    }
}

/// What a verified call proved.
#[derive(Debug)]
enum Verified {
    Signature,
    Token(psi_webhook::Claims),
}

/// Checks a signature or a token over `body` at `now`.
fn check(
    verifier: &Verifier,
    validation: &Validation,
    body: &[u8],
    signature: Option<&str>,
    token: Option<&str>,
    now: UnixTime,
) -> psi_webhook::Result<Verified> {
    match token {
        Some(token) => {
            let token = token
                .trim()
                .strip_prefix("Bearer ")
                .or_else(|| token.trim().strip_prefix("bearer "))
                .unwrap_or(token.trim());
            verifier
                .verify_bearer(token, body, validation, now)
                .map(Verified::Token)
        }
        None => verifier
            .verify_signature(body, signature)
            .map(|()| Verified::Signature),
    }
}
