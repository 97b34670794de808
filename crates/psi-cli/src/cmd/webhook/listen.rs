//! `psi webhook listen`: a local webhook receiver for trying an integration. Each call is
//! verified (with a key), printed, and answered from a scripted reply file.

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use clap::Args;
use psi_webhook::{UnixTime, Validation, Verifier};
use serde_json::{Value, json};

use super::{CheckArgs, Verified, check};
use crate::cmd::runtime;

/// Headers worth seeing on a webhook call, in the order printed.
const SHOWN_HEADERS: [&str; 6] = [
    "content-type",
    "content-length",
    "user-agent",
    "x-request-id",
    "idempotency-key",
    "x-body-signature",
];

/// Receive webhooks on 127.0.0.1: verify, print and answer each call.
#[derive(Args, Debug)]
#[command(
    long_about = "Receive webhooks on 127.0.0.1:PORT (0: any free port), for trying an \
integration before the real receiver exists. The first line printed is `listening on \
http://127.0.0.1:<port>`; then, for each call: method and path, the headers that matter, the \
verification result, the body (pretty-printed JSON) and the answer.

With --key (or --secret-file) each call's `X-Body-Signature` or Bearer token is checked, and a \
token's `jti` is accepted once; a call that does not verify is answered 401 \
`{\"ok\":false,\"message\":...}`. Without a key nothing is checked.

Answers are --status (default 200) with the JSON of --reply: a file holding one JSON value (the \
answer to every call), or a JSON array of answers used in turn (the last one repeats). Without \
--reply: `{\"ok\":true}`. Stops with Ctrl-C.

Examples:
  psi webhook listen --port 4604
  psi webhook listen --port 4604 --key psi.pem --issuer GbzPqgnU4XsMs7xg9mYJW8 --reply issue.json
  psi webhook listen --port 0 --reply '[{\"ok\":true},{\"ok\":false,\"message\":\"no\"}]'"
)]
pub struct ListenArgs {
    /// The port on 127.0.0.1; 0 picks a free one.
    #[arg(long, value_name = "N")]
    port: u16,
    #[command(flatten)]
    check: CheckArgs,
    /// The answers: a file of JSON (one value, or an array used in turn), or the JSON itself.
    #[arg(long, value_name = "FILE")]
    reply: Option<String>,
    /// The HTTP status of answers to calls that verify.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u16).range(100..=599))]
    status: u16,
}

pub fn run(args: ListenArgs) -> Result<ExitCode> {
    let receiver = Receiver {
        verifier: args.check.verifier()?,
        validation: args.check.validation(),
        replies: replies(args.reply.as_deref())?,
        next: AtomicUsize::new(0),
        status: StatusCode::from_u16(args.status).context("--status")?,
        seen_jtis: Mutex::new(HashSet::new()),
    };
    runtime()?.block_on(serve(args.port, Arc::new(receiver)))?;
    Ok(ExitCode::SUCCESS)
}

/// The scripted answers: `--reply` as a file, or as JSON given inline.
fn replies(reply: Option<&str>) -> Result<Vec<String>> {
    let Some(reply) = reply else {
        return Ok(vec![json!({"ok": true}).to_string()]);
    };
    let text = match std::fs::read_to_string(reply) {
        Ok(text) => text,
        Err(_) if reply.trim_start().starts_with(['{', '[']) => reply.to_owned(),
        Err(e) => return Err(e).with_context(|| format!("cannot read --reply {reply}")),
    };
    let value: Value = serde_json::from_str(&text).context("--reply is not JSON")?;
    let list = match value {
        Value::Array(items) if items.is_empty() => bail!("--reply lists no answers"),
        Value::Array(items) => items,
        one => vec![one],
    };
    Ok(list.iter().map(Value::to_string).collect())
}

struct Receiver {
    verifier: Option<(Verifier, String)>,
    validation: Validation,
    replies: Vec<String>,
    next: AtomicUsize,
    status: StatusCode,
    seen_jtis: Mutex<HashSet<String>>,
}

async fn serve(port: u16, receiver: Arc<Receiver>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let address = listener.local_addr()?;
    let router = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let receiver = Arc::clone(&receiver);
            async move { receiver.receive(&method, &uri, &headers, &body) }
        },
    );
    println!("listening on http://{address}");
    std::io::stdout().flush()?;
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the receiver stopped")
}

impl Receiver {
    /// Verifies, prints and answers one call.
    fn receive(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
        let verdict = self.verify(headers, body);
        let (status, answer) = match &verdict {
            Ok(_) => {
                let turn = self.next.fetch_add(1, Ordering::SeqCst);
                let answer = &self.replies[turn.min(self.replies.len() - 1)];
                (self.status, answer.clone())
            }
            Err(reason) => (
                StatusCode::UNAUTHORIZED,
                json!({"ok": false, "message": reason}).to_string(),
            ),
        };
        let mut report = format!("{method} {uri}\n");
        for name in SHOWN_HEADERS {
            if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
                report.push_str(&format!("  {name}: {value}\n"));
            }
        }
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            // The token is a credential: show only that it is there.
            report.push_str(&format!("  authorization: <{} bytes>\n", value.len()));
        }
        report.push_str(&format!(
            "  verification: {}\n",
            match &verdict {
                Ok(text) => text.clone(),
                Err(reason) => format!("INVALID: {reason}"),
            }
        ));
        report.push_str(&indent(&pretty(body)));
        report.push_str(&format!("  -> {} {answer}\n", status.as_u16()));
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the receiver from answering.
        let _ = out.write_all(report.as_bytes()).and_then(|()| out.flush());
        (status, [(header::CONTENT_TYPE, "application/json")], answer).into_response()
    }

    /// What the call proved, or why it does not verify.
    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<String, String> {
        let Some((verifier, name)) = &self.verifier else {
            return Ok("not checked (no --key or --secret-file)".into());
        };
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let token = header("authorization").filter(|v| {
            v.trim()
                .get(..7)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        });
        let signature = header("x-body-signature");
        match check(
            verifier,
            &self.validation,
            body,
            signature,
            token,
            UnixTime::now(),
        ) {
            Ok(Verified::Signature) => Ok(format!("X-Body-Signature valid ({name})")),
            Ok(Verified::Token(claims)) => {
                if let Some(jti) = &claims.jti
                    && !self.seen_jtis.lock().expect("jti set").insert(jti.clone())
                {
                    return Err(format!("token jti {jti:?} was seen before (a replay)"));
                }
                Ok(format!(
                    "Bearer token valid ({name}; iss {}, jti {})",
                    claims.iss.as_deref().unwrap_or("-"),
                    claims.jti.as_deref().unwrap_or("-")
                ))
            }
            Err(e) => Err(format!("{e} ({})", e.code())),
        }
    }
}

/// The body as pretty JSON, or as text when it is not JSON.
fn pretty(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_default(),
        Err(_) if body.is_empty() => "(empty body)".into(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_one_answer_or_a_list_used_in_turn() {
        assert_eq!(replies(None).unwrap(), [r#"{"ok":true}"#]);
        assert_eq!(
            replies(Some(r#"[{"ok":true},{"ok":false}]"#)).unwrap(),
            [r#"{"ok":true}"#, r#"{"ok":false}"#]
        );
        assert_eq!(replies(Some(r#"{"a":1}"#)).unwrap(), [r#"{"a":1}"#]);
        assert!(replies(Some("[]")).is_err());
        assert!(replies(Some("/no/such/file")).is_err());
    }

    #[test]
    fn bodies_print_as_pretty_json_or_text() {
        assert_eq!(pretty(br#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(pretty(b"plain"), "plain");
        assert_eq!(pretty(b""), "(empty body)");
    }
}
