//! Standard Webhooks against the official libraries, unchanged: the npm and the PyPI package
//! `standardwebhooks` (installed in `tests/standard-webhooks/`, run as child processes) verify
//! psi's interaction webhook, credential-check webhook and notifications, through a key rotation;
//! calls they sign are accepted by psi once and in time. And the settings: `standard_webhooks`
//! auth signs with a SHA secret and nothing else.
//!
//! A missing `node`, `python3` or library skips a test with a loud message on stderr (CI installs
//! them: `.ci/run`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use psi_webhook::{SharedSecret, Signer, UnixTime};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::engine::support::{Fixture, Holder, engine_app};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json};
use crate::inbound::support::{Auth, DASHBOARD, Scene, expect_refusal, partner_key};
use crate::processes::{self, ChildReceiver};

backend_tests!(
    the_npm_library_verifies_psis_interaction_and_check_webhooks,
    the_python_library_verifies_psis_interaction_and_check_webhooks,
    the_npm_library_verifies_notifications_through_a_key_rotation,
    the_python_library_verifies_notifications_through_a_key_rotation,
    calls_signed_by_the_npm_library_are_accepted_once_and_in_time,
    calls_signed_by_the_python_library_are_accepted_once_and_in_time,
    standard_webhooks_auth_signs_with_a_sha_secret_and_nothing_else,
);

const SUPPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/standard-webhooks");

/// An official library, driven by its script in `tests/standard-webhooks/`.
#[derive(Clone, Copy)]
enum Library {
    Npm,
    PyPi,
}

impl Library {
    fn command(self) -> Command {
        let (program, script) = match self {
            Library::Npm => ("node", "swh.mjs"),
            Library::PyPi => ("python3", "swh.py"),
        };
        let mut command = Command::new(program);
        command.arg(format!("{SUPPORT}/{script}"));
        command
    }

    /// Whether the library cannot run here; says so loudly if so.
    fn require(self) {
        let why = match self {
            Library::Npm => {
                processes::missing("node", &["-e", "require('standardwebhooks')"], SUPPORT)
            }
            Library::PyPi => {
                processes::missing("python3", &["-c", "import standardwebhooks"], SUPPORT)
            }
        };
        processes::require("the official Standard Webhooks library", why)
    }

    /// A receiver that verifies every call with `secret`.
    async fn receiver(self, secret: &str) -> ChildReceiver {
        let mut command = self.command();
        command.arg("receive").env("WEBHOOK_SECRET", secret);
        ChildReceiver::start(command).await
    }

    /// The `webhook-signature` the library makes for `body` sent as message `id` at `at`.
    async fn sign(self, secret: &str, id: &str, at: u64, body: &[u8]) -> String {
        let mut command = self.command();
        command
            .args(["sign", secret, id, &at.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let body = body.to_vec();
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("the library runs");
            child.stdin.take().unwrap().write_all(&body).unwrap();
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "the library failed to sign");
            String::from_utf8(output.stdout).unwrap().trim().to_owned()
        })
        .await
        .unwrap()
    }
}

/// How a Standard Webhooks library is given psi's secret: with the `whsec_` prefix.
fn whsec(secret: &SharedSecret) -> String {
    format!("whsec_{}", secret.to_base64().as_str())
}

/// A webhook setting pointing at `path` of the library's receiver.
fn webhook(receiver: &ChildReceiver, path: &str, key: &str) -> Value {
    json!({"url": format!("{}{path}", receiver.url), "key": key, "auth": "standard_webhooks",
        "timeout_ms": 5000})
}

async fn the_npm_library_verifies_psis_interaction_and_check_webhooks(backend: Backend) {
    verifies_webhooks(Library::Npm, backend).await;
}

async fn the_python_library_verifies_psis_interaction_and_check_webhooks(backend: Backend) {
    verifies_webhooks(Library::PyPi, backend).await;
}

/// A holder presents a membership whose check webhook, and the interaction's webhook, are the
/// library's receiver: both calls verify, so the event completes.
async fn verifies_webhooks(library: Library, backend: Backend) {
    library.require();
    let fx = Fixture::new(backend).await;
    let secret = fx.sha_secret("swh").await;
    let receiver = library.receiver(&whsec(&secret)).await;
    let holder = Holder::new();
    let membership = fx.member(&holder, "3").await;
    let path = format!(
        "/api/v1/services/{}/credential-definitions/{}",
        fx.did, fx.membership
    );
    let check = json!({"check_webhook": webhook(&receiver, "/check", "swh")});
    expect_json(fx.app.patch(&path, &fx.token, &check).await, StatusCode::OK).await;
    let action = fx
        .interaction(json!({
            "name": "Enter",
            "required_credentials": [{"credential_id": fx.membership, "external_verification": true}],
            "webhook": webhook(&receiver, "/hook", "swh"),
        }))
        .await;
    let presented = json!([{"credentialId": fx.membership, "jwt": membership["jwt"]}]);
    let outcome = holder
        .run(&fx.app, &fx.did, &action, json!([]), presented)
        .await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let event = fx.event(outcome["event_id"].as_str().unwrap()).await;
    let calls = event["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "{event:#}");
    for (call, (kind, path)) in calls
        .iter()
        .zip([("credential_check", "/check"), ("interaction", "/hook")])
    {
        assert_eq!(
            (&call["kind"], &call["status"]),
            (&json!(kind), &json!(200)),
            "{call}"
        );
        // The webhook-id of an engine call is the call's id.
        let id = call["id"].as_str().unwrap();
        receiver
            .wait_for_line(&format!("verified {path} {id}"))
            .await;
    }

    // The library does verify: a call signed with another secret is refused.
    let body = br#"{"actionEventId":"forged"}"#;
    let now = UnixTime::now();
    let forged = Signer::shared_secret(SharedSecret::generate().unwrap())
        .standard_webhooks_signature("msg_forged", now, body)
        .unwrap();
    let response = fx
        .app
        .client
        .post(format!("{}/hook", receiver.url))
        .header("webhook-id", "msg_forged")
        .header("webhook-timestamp", now.as_secs().to_string())
        .header("webhook-signature", forged)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    receiver.wait_for_line("refused /hook").await;
}

async fn the_npm_library_verifies_notifications_through_a_key_rotation(backend: Backend) {
    verifies_notifications(Library::Npm, backend).await;
}

async fn the_python_library_verifies_notifications_through_a_key_rotation(backend: Backend) {
    verifies_notifications(Library::PyPi, backend).await;
}

/// Creates a SHA secret `name` for the service as the admin; returns it.
async fn sha_secret(app: &TestApp, did: &str, name: &str) -> SharedSecret {
    let created = expect_json(
        app.post(
            &format!("/api/v1/services/{did}/keys"),
            ADMIN_TOKEN,
            &json!({"name": name, "type": "sha_secret"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    SharedSecret::from_base64(created["secret"].as_str().unwrap()).unwrap()
}

/// An endpoint signing with `old`, whose receiver knows `old` only: it verifies test messages
/// (`webhook-id` = the message id); after a rotation to `new` with an overlap, through the second
/// signature; after one without, not at all.
async fn verifies_notifications(library: Library, backend: Backend) {
    library.require();
    let app = engine_app(backend).await;
    let did = app.create_service("Notified").await;
    let old = sha_secret(&app, &did, "old").await;
    for name in ["new", "newer"] {
        sha_secret(&app, &did, name).await;
    }
    let receiver = library.receiver(&whsec(&old)).await;
    let url = format!("{}/notifications", receiver.url);
    let endpoint = app
        .create_endpoint(
            &did,
            &url,
            json!({"key": "old", "auth": "standard_webhooks"}),
        )
        .await;
    assert_eq!(endpoint["auth"], "standard_webhooks");
    let id = endpoint["id"].as_str().unwrap();
    let rotate = |key: &'static str, overlap_secs: i64| {
        let path = format!("/api/v1/services/{did}/endpoints/{id}/rotate");
        let app = &app;
        async move {
            let body = json!({"key": key, "overlap_secs": overlap_secs});
            expect_json(app.post(&path, ADMIN_TOKEN, &body).await, StatusCode::OK).await
        }
    };
    let within = Duration::from_secs(15);
    for rotation in [None, Some("new")] {
        if let Some(key) = rotation {
            rotate(key, 3600).await;
        }
        let message = app.send_test(&did, id).await;
        app.wait_for_status(&did, &message, "succeeded", within)
            .await;
        receiver
            .wait_for_line(&format!("verified /notifications {message}"))
            .await;
    }
    rotate("newer", 0).await;
    let message = app.send_test(&did, id).await;
    receiver.wait_for_line("refused /notifications").await;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let seen = app.message(&did, &message).await;
        if seen["attempts"][0]["status"] == 401 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{seen:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;
}

async fn calls_signed_by_the_npm_library_are_accepted_once_and_in_time(backend: Backend) {
    signed_calls(Library::Npm, backend).await;
}

async fn calls_signed_by_the_python_library_are_accepted_once_and_in_time(backend: Backend) {
    signed_calls(Library::PyPi, backend).await;
}

/// A push to "Reward" signed by the library with the SHA secret `shared` acts once: the same
/// message again is answered, its `webhook-id` on another body is refused, and so are messages
/// more than 5 minutes old or ahead and messages signed with another secret.
async fn signed_calls(library: Library, backend: Backend) {
    library.require();
    let scene = Scene::new(backend).await;
    let secret = whsec(&scene.shared);
    let holder = Holder::new();
    let send = |raw: &[u8], id: &str, at: u64, signature: &str| {
        let headers = [
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", at.to_string()),
            ("webhook-signature", signature.to_owned()),
        ];
        let raw = raw.to_vec();
        let scene = &scene;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            scene
                .call_raw(DASHBOARD, "credentials-issued", raw, &Auth::None, &headers)
                .await
        }
    };
    let push = |title: &str| {
        serde_json::to_vec(&scene.push_body(&holder, json!([scene.badge(title)]), json!([])))
            .unwrap()
    };
    let now = UnixTime::now().as_secs();
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let raw = push("Standard");
    let signature = library.sign(&secret, &id, now, &raw).await;
    let first = expect_json(send(&raw, &id, now, &signature).await, StatusCode::OK).await;
    assert_eq!(first["issued"].as_array().unwrap().len(), 1, "{first}");

    let again = send(&raw, &id, now, &signature).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(again, StatusCode::OK).await, first);

    let other = push("Other");
    let signature = library.sign(&secret, &id, now, &other).await;
    let message = refused(send(&other, &id, now, &signature).await).await;
    assert!(message.contains("was used before"), "{message}");

    // Ten minutes either way: beyond the 5 minutes, whatever time the test takes.
    for at in [now - 600, now + 600] {
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let signature = library.sign(&secret, &id, at, &other).await;
        let message = refused(send(&other, &id, at, &signature).await).await;
        assert!(message.contains("away from now"), "{message}");
    }
    let stranger = whsec(&SharedSecret::generate().unwrap());
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let signature = library.sign(&stranger, &id, now, &other).await;
    let message = refused(send(&other, &id, now, &signature).await).await;
    assert!(message.contains("no key authorised"), "{message}");

    assert_eq!(scene.credentials_of(&holder).await.len(), 1);
    assert_eq!(scene.rows("inbound_webhook_ids").await, 1);
}

async fn refused(response: Response) -> String {
    expect_refusal(response, StatusCode::FORBIDDEN, "forbidden").await
}

/// `standard_webhooks` with an RSA key pair or a third party's public key is a 422 wherever a
/// webhook is set: an interaction's, a definition's check webhook, an endpoint, its rotation.
/// A SHA secret, also imported in the `whsec_` form, is accepted.
async fn standard_webhooks_auth_signs_with_a_sha_secret_and_nothing_else(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let base = format!("/api/v1/services/{}", fx.did);
    let imported = format!(
        "whsec_{}",
        SharedSecret::generate().unwrap().to_base64().as_str()
    );
    let key = |body: Value| {
        let path = format!("{base}/keys");
        let fx = &fx;
        async move { fx.app.post(&path, &fx.token, &body).await }
    };
    expect_json(
        key(json!({"name": "swh", "type": "sha_secret", "secret": imported})).await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(
        key(json!({"name": "partner", "type": "rsa_public_key",
            "public_key_pem": partner_key().public_key().to_spki_pem().unwrap()}))
        .await,
        StatusCode::CREATED,
    )
    .await;
    let hook = |key: &str| json!({"url": "https://hooks.example.com/psi", "key": key, "auth": "standard_webhooks"});
    let refusals = [("default", "RSA key pair"), ("partner", "public key")];
    for (name, says) in refusals {
        let cases = [
            (
                format!("{base}/interactions"),
                json!({"name": format!("Hook {name}"), "webhook": hook(name)}),
            ),
            (
                format!("{base}/credential-definitions/{}", fx.badge),
                json!({"check_webhook": hook(name)}),
            ),
            (
                format!("{base}/endpoints"),
                json!({"url": "https://hooks.example.com/n", "key": name,
                    "auth": "standard_webhooks"}),
            ),
        ];
        for (i, (path, body)) in cases.into_iter().enumerate() {
            let response = if i == 1 {
                fx.app.patch(&path, &fx.token, &body).await
            } else {
                fx.app.post(&path, &fx.token, &body).await
            };
            let error = expect_json(response, StatusCode::UNPROCESSABLE_ENTITY).await;
            let message = error["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{path}: {message}");
        }
    }
    // A SHA secret with `signature` auth stays refused.
    let response = fx
        .app
        .post(
            &format!("{base}/endpoints"),
            &fx.token,
            &json!({"url": "https://hooks.example.com/n", "key": "swh", "auth": "signature"}),
        )
        .await;
    expect_json(response, StatusCode::UNPROCESSABLE_ENTITY).await;

    let interaction = expect_json(
        fx.app
            .post(
                &format!("{base}/interactions"),
                &fx.token,
                &json!({"name": "Hooked", "webhook": hook("swh")}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(interaction["webhook"]["auth"], "standard_webhooks");
    let definition = expect_json(
        fx.app
            .patch(
                &format!("{base}/credential-definitions/{}", fx.badge),
                &fx.token,
                &json!({"check_webhook": hook("swh")}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(definition["check_webhook"]["auth"], "standard_webhooks");
    let endpoint = expect_json(
        fx.app
            .post(
                &format!("{base}/endpoints"),
                &fx.token,
                &json!({"url": "https://hooks.example.com/n", "key": "swh",
                    "auth": "standard_webhooks"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    // Rotating to an RSA key pair while keeping `standard_webhooks`: 422.
    let rotate = format!(
        "{base}/endpoints/{}/rotate",
        endpoint["id"].as_str().unwrap()
    );
    let error = expect_json(
        fx.app
            .post(&rotate, &fx.token, &json!({"key": "default"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("RSA key pair"),
        "{error}"
    );
}
