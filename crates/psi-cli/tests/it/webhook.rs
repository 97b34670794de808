//! `psi webhook verify` and `psi webhook listen`, the real binary: against the signature vectors,
//! against calls signed here, and as the receiver of a real psi server's webhooks.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use psi_webhook::{Claims, PrivateKey, Signer, UnixTime};
use serde_json::{Value, json};

use crate::common::{assert_fails, psi, stdout};
use crate::wallet_env::Env;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../../../vectors/signatures.json")).unwrap()
}

/// Writes the vector `field` (a key or secret) to a file of that name in `dir`; returns its path.
fn vector_file(dir: &Path, field: &str) -> String {
    write(dir, field, vectors()[field].as_str().unwrap())
}

/// Writes `text` to `name` in `dir`; returns the path as a string.
fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn verify_accepts_each_signature_vector_and_refuses_the_tampered_body() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let key = vector_file(dir.path(), "rsa_public_key_spki_pem");
    let verify = |case: &Value, body: &str| {
        let signature = case["x_body_signature"].as_str().unwrap();
        psi(
            &["webhook", "verify", "--key", &key, "--signature", signature],
            body,
        )
    };
    for case in v["signatures"].as_array().unwrap() {
        let out = verify(case, case["body"].as_str().unwrap());
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let text = stdout(&out);
        assert!(text.starts_with("valid: X-Body-Signature"), "{text}");
    }
    let tampered = &v["tampered"];
    let out = verify(tampered, tampered["body"].as_str().unwrap());
    assert_fails(&out, 1, "invalid: X-Body-Signature does not match");
    // One byte more (a trailing newline) is another body.
    let case = &v["signatures"][1];
    let out = verify(case, &format!("{}\n", case["body"].as_str().unwrap()));
    assert_fails(&out, 1, "signature_mismatch");
}

#[test]
fn verify_checks_tokens_with_a_key_or_a_secret_at_a_given_time() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    // A private key PEM works too: its public half checks.
    let key = vector_file(dir.path(), "rsa_private_key_pkcs8_pem");
    let secret = vector_file(dir.path(), "sha_secret_base64");
    for token in v["tokens"].as_array().unwrap() {
        let verifier = if token["alg"] == "HS256" {
            ["--secret-file", secret.as_str()]
        } else {
            ["--key", key.as_str()]
        };
        let jwt = token["token"].as_str().unwrap();
        let mut args = vec!["webhook", "verify", "--token", jwt, "--time", "1700000100"];
        args.extend(verifier);
        let out = psi(&args, "");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let text = stdout(&out);
        let claims: Value = serde_json::from_str(text.split_once('\n').unwrap().1).unwrap();
        assert_eq!(claims["exp"], token["claims"]["exp"]);
        // Now, long after `exp`.
        let out = psi(
            &args[..4]
                .iter()
                .chain(&verifier)
                .copied()
                .collect::<Vec<_>>(),
            "",
        );
        assert_fails(&out, 1, "token_expired");
    }
    let inbound = v["tokens"][2]["token"].as_str().unwrap();
    let out = psi(
        &[
            "webhook",
            "verify",
            "--key",
            &key,
            "--token",
            &format!("Bearer {inbound}"),
            "--time",
            "1700000100",
            "--audience",
            "GbzPqgnU4XsMs7xg9mYJW8",
        ],
        "",
    );
    assert_fails(&out, 1, "audience");
    // An RS256 token checked with the secret: the algorithm is refused.
    let out = psi(
        &[
            "webhook",
            "verify",
            "--secret-file",
            &secret,
            "--token",
            inbound,
            "--time",
            "1700000100",
        ],
        "",
    );
    assert_fails(&out, 1, "wrong_algorithm");
}

#[test]
fn verify_needs_one_proof_and_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = vector_file(dir.path(), "rsa_public_key_spki_pem");
    let no_proof = psi(&["webhook", "verify", "--key", &key], "{}");
    assert_eq!(no_proof.status.code(), Some(2));
    let both = psi(
        &[
            "webhook",
            "verify",
            "--key",
            &key,
            "--signature",
            "x",
            "--token",
            "y",
        ],
        "{}",
    );
    assert_eq!(both.status.code(), Some(2));
    let no_key = psi(&["webhook", "verify", "--signature", "x"], "{}");
    assert_eq!(no_key.status.code(), Some(2));
    let not_a_key = write(dir.path(), "bad.pem", "hello");
    let out = psi(
        &["webhook", "verify", "--key", &not_a_key, "--signature", "x"],
        "{}",
    );
    assert_fails(&out, 1, "is not an RSA public or private key PEM");
}

#[test]
fn help_texts_explain_the_webhook_commands_with_examples() {
    for (args, mentions) in [
        (&["webhook", "--help"][..], "public-info/public-key/default"),
        (
            &["webhook", "verify", "--help"],
            "`X-Body-Signature` header's value",
        ),
        (&["webhook", "listen", "--help"], "used in turn"),
    ] {
        let out = psi(args, "");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = stdout(&out);
        assert!(help.contains("Examples:\n  "), "{args:?}: {help}");
        assert!(help.contains("psi webhook "), "{args:?}: {help}");
        assert!(help.contains(mentions), "{args:?}: {help}");
    }
}

/// `psi webhook listen` running, its output collected.
struct Listener {
    child: Child,
    url: String,
    output: Arc<Mutex<String>>,
}

impl Listener {
    fn start(args: &[&str]) -> Listener {
        let mut child = Command::new(env!("CARGO_BIN_EXE_psi"))
            .args(["webhook", "listen", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("psi webhook listen starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("a first line").unwrap();
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        let output = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Listener { child, url, output }
    }

    /// The output once it contains `needle` (waits up to 10 s).
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.output.lock().unwrap().clone();
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "no {needle:?} in:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs `body` with `headers`; returns the status and the answer's JSON.
fn post(url: &str, body: &[u8], headers: &[(&str, String)]) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    })
}

#[test]
fn listen_verifies_prints_and_answers_in_turn() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let key = vector_file(dir.path(), "rsa_public_key_spki_pem");
    let replies = write(
        dir.path(),
        "replies.json",
        r#"[{"ok": true, "n": 1}, {"ok": true, "n": 2}]"#,
    );
    let listener = Listener::start(&["--key", &key, "--reply", &replies, "--status", "202"]);
    let signer = Signer::rsa(
        PrivateKey::from_pem(v["rsa_private_key_pkcs1_pem"].as_str().unwrap()).unwrap(),
    );
    let hook = format!("{}/hook", listener.url);
    let body = br#"{"actionEventId":"e1","receivedCredentials":[]}"#;
    let (_, signature) = signer.signature_header(body).unwrap();
    let signed = [("x-body-signature", signature)];
    assert_eq!(
        post(&hook, body, &signed),
        (202, json!({"ok": true, "n": 1}))
    );
    assert_eq!(
        post(&hook, body, &signed),
        (202, json!({"ok": true, "n": 2}))
    );
    // The last answer repeats.
    assert_eq!(
        post(&hook, body, &signed),
        (202, json!({"ok": true, "n": 2}))
    );
    let text = listener.wait_for("n\":2");
    assert!(text.contains("POST /hook"), "{text}");
    assert!(text.contains("  x-body-signature: "), "{text}");
    assert!(
        text.contains("verification: X-Body-Signature valid"),
        "{text}"
    );
    assert!(
        text.contains("  {\n    \"actionEventId\": \"e1\","),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|line| line.starts_with("  -> 202 ") && line.contains("\"n\":1")),
        "{text}"
    );

    // Unsigned, or signed over another body: 401, and the turn does not advance.
    let (status, answer) = post(&hook, b"{}", &[]);
    assert_eq!(status, 401);
    assert_eq!(answer["ok"], false);
    let (status, _) = post(&hook, b"{ }", &signed);
    assert_eq!(status, 401);
    let text = listener.wait_for("INVALID: X-Body-Signature does not match");
    assert!(text.contains("INVALID: missing X-Body-Signature"), "{text}");

    // A token is accepted once.
    let claims = Claims::new(UnixTime::now())
        .with_issuer("9s57yZDBqwfZHdodKXTjKH")
        .with_jwt_id("delivery-1")
        .with_body(body);
    let (_, authorization) = signer.authorization_header(&claims).unwrap();
    let bearer = [("authorization", authorization)];
    assert_eq!(post(&hook, body, &bearer).0, 202);
    assert_eq!(post(&hook, body, &bearer).0, 401);
    let text = listener.wait_for("was seen before");
    assert!(text.contains("Bearer token valid"), "{text}");
    assert!(
        !text.contains(&bearer[0].1[7..]),
        "the token itself is not printed"
    );
}

#[test]
fn a_psi_server_webhook_reaches_listen_which_issues_with_its_reply() {
    let env = Env::start();
    let seed = env.seed();
    let dir = tempfile::tempdir().unwrap();
    let pem = env.get(&format!(
        "/service-dashboard-backend/service/{}/public-info/public-key/default",
        seed.did
    ));
    let key = write(dir.path(), "psi.pem", pem.as_str().expect("a PEM"));
    let reply = json!({
        "serviceDid": seed.did,
        "issuedCredentials": [{"credentialId": seed.member, "fields": [{"name": "Level", "value": "gold"}],
            "utcIssuedAt": 1700000000000u64, "revoked": false}],
        "revokedCredentials": [],
        "ok": true,
    });
    let reply = write(dir.path(), "reply.json", &reply.to_string());
    let listener = Listener::start(&["--key", &key, "--issuer", &seed.did, "--reply", &reply]);
    env.api(
        reqwest::Method::PATCH,
        &format!("/api/v1/services/{}/interactions/{}", seed.did, seed.join),
        Some(
            json!({"webhook": {"url": format!("{}/hook", listener.url), "key": "default",
            "auth": "signature", "timeout_ms": 5000}}),
        ),
    );
    let prefilled = [
        (seed.contact.as_str(), "Name", "Alice"),
        (seed.contact.as_str(), "Email", "alice@example.org"),
    ];
    let link = env.link(&seed, &seed.join, &prefilled, None);
    let out = env.wallet_json(&["run", &link], 0);
    assert_eq!(out["state"], "completed", "{out}");
    assert_eq!(out["issued"][0]["credential_id"], seed.member.as_str());
    assert_eq!(out["issued"][0]["status"], "valid");
    let text = listener.wait_for("-> 200");
    assert!(
        text.contains("verification: X-Body-Signature valid"),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"publicServiceDid\": \"{}\"", seed.did)),
        "{text}"
    );
}
