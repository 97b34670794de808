//! The receiver examples under `examples/` against a running psi: each is started as a child
//! process, an interaction's webhook points at it, and a holder runs the interaction through the
//! wallet API. Issued in the reply, and issued later through `credentials-issued`. And as
//! notification endpoints: one with `signature` auth, one with `bearer` auth and a SHA secret,
//! each verified by the example, a repeated `messageId` dropped, forged calls refused.
//!
//! A missing `node`, `python3` or Python `cryptography` module skips the test with a loud
//! message on stderr (CI installs them).

use std::process::Command;
use std::time::{Duration, Instant};

use psi_webhook::{Claims, SharedSecret, Signer, UnixTime};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::partner_key;
use crate::backend_tests;
use crate::engine::support::{Holder, engine_app};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json};
use crate::processes::{self, ChildReceiver};

backend_tests!(
    the_node_receiver_verifies_psis_signature_and_issues_in_its_reply,
    the_node_receiver_issues_later_through_credentials_issued,
    the_python_receiver_verifies_psis_signature_and_issues_in_its_reply,
    the_python_receiver_issues_later_through_credentials_issued,
    the_node_receiver_verifies_notifications_and_drops_repeats,
    the_python_receiver_verifies_notifications_and_drops_repeats,
);

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

/// How to start an example: the program and its script.
#[derive(Clone, Copy)]
enum Example {
    Node,
    Python,
}

impl Example {
    fn command(self) -> Command {
        let (program, script) = match self {
            Example::Node => ("node", "node-receiver/receiver.js"),
            Example::Python => ("python3", "python-receiver/receiver.py"),
        };
        let mut command = Command::new(program);
        command.arg(format!("{EXAMPLES}/{script}"));
        command
    }

    /// Why this example cannot run here, if it cannot.
    fn missing(self) -> Option<String> {
        let (program, probe): (&str, &[&str]) = match self {
            Example::Node => ("node", &["-e", "require('crypto').createHash('sha3-256')"]),
            Example::Python => ("python3", &["-c", "import cryptography"]),
        };
        processes::missing(program, probe, EXAMPLES)
    }
}

/// A service whose "Join" requires a self-attested `Applicant {Name}` and issues a
/// `Membership {Name, Level}` that the key `partner` may also issue from outside.
struct Service {
    did: String,
    applicant: String,
    membership: String,
}

async fn service(app: &TestApp) -> Service {
    let did = app.create_service("Examples").await;
    let post = |path: String, body: Value| async move {
        expect_json(
            app.post(&path, ADMIN_TOKEN, &body).await,
            StatusCode::CREATED,
        )
        .await
    };
    let base = format!("/api/v1/services/{did}");
    post(
        format!("{base}/keys"),
        json!({"name": "partner", "type": "rsa_public_key",
            "public_key_pem": partner_key().public_key().to_spki_pem().unwrap()}),
    )
    .await;
    let mut ids = Vec::new();
    for (name, attributes, attestation) in [
        (
            "Applicant",
            json!([{"name": "Name", "type": "text"}]),
            "self",
        ),
        (
            "Membership",
            json!([{"name": "Name", "type": "text"}, {"name": "Level", "type": "text"}]),
            "service",
        ),
    ] {
        let schema = post(
            format!("{base}/schemas"),
            json!({"name": name, "version": "1.0", "attributes": attributes}),
        )
        .await;
        let issuers = if attestation == "service" {
            json!(["partner"])
        } else {
            json!([])
        };
        let definition = post(
            format!("{base}/credential-definitions"),
            json!({"schema": schema["schema_id"], "attestation": attestation, "issuers": issuers}),
        )
        .await;
        ids.push(definition["credential_id"].as_str().unwrap().to_owned());
    }
    Service {
        did,
        applicant: ids[0].clone(),
        membership: ids[1].clone(),
    }
}

/// Starts `example` for `service`; `later` makes it issue through `credentials-issued`,
/// `shared_secret` is the key of `bearer` notification endpoints.
async fn start(
    example: Example,
    app: &TestApp,
    service: &Service,
    later: bool,
    shared_secret: Option<&str>,
) -> ChildReceiver {
    let mut command = example.command();
    command
        .env("PSI_URL", &app.address)
        .env("SERVICE_DID", &service.did)
        .env("CREDENTIAL_ID", &service.membership)
        .env("ISSUE", r#"{"Name": "nobody", "Level": "gold"}"#)
        .env("PORT", "0");
    if later {
        let key = app.db.data_dir.path().join("partner.pem");
        let vectors: Value =
            serde_json::from_str(include_str!("../../../../../vectors/signatures.json")).unwrap();
        std::fs::write(&key, vectors["rsa_private_key_pkcs1_pem"].as_str().unwrap()).unwrap();
        command
            .env("ISSUE_LATER_KEY", &key)
            .env("ISSUE_LATER_DELAY_MS", "100");
    }
    if let Some(secret) = shared_secret {
        command.env("PSI_SHARED_SECRET", secret);
    }
    ChildReceiver::start(command).await
}

/// Fails the test when `example` cannot run here.
fn require(example: Example) {
    processes::require("the receiver example", example.missing())
}

/// Runs "Join" with the example as its webhook; returns the outcome, the holder and the
/// service.
async fn join(
    example: Example,
    backend: Backend,
    later: bool,
) -> (TestApp, Value, Holder, Service) {
    require(example);
    let app = engine_app(backend).await;
    let service = service(&app).await;
    let receiver = start(example, &app, &service, later, None).await;
    let (outcome, holder) = run_join(&app, &service, &receiver, later).await;
    drop(receiver);
    (app, outcome, holder, service)
}

/// Runs "Join" with `receiver` as its webhook, settled; returns the outcome and the holder.
async fn run_join(
    app: &TestApp,
    service: &Service,
    receiver: &ChildReceiver,
    later: bool,
) -> (Value, Holder) {
    // A call that is not psi's is refused: the example really verifies.
    let forged = app
        .client
        .post(format!("{}/hook", receiver.url))
        .header("content-type", "application/json")
        .header("x-body-signature", "bm90IGEgc2lnbmF0dXJl")
        .body(r#"{"actionEventId":"forged"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);

    let interaction = expect_json(
        app.post(
            &format!("/api/v1/services/{}/interactions", service.did),
            ADMIN_TOKEN,
            &json!({"name": "Join",
                "required_credentials": [{"credential_id": service.applicant}],
                "issued_credentials": [service.membership],
                "webhook": {"url": format!("{}/hook", receiver.url), "key": "default",
                    "auth": "signature", "timeout_ms": 5000}}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let holder = Holder::new();
    let presented = json!([{"credentialId": service.applicant,
        "attributes": [{"name": "Name", "value": "Ada Lovelace"}]}]);
    let outcome = holder
        .run(
            app,
            &service.did,
            interaction["id"].as_str().unwrap(),
            json!([]),
            presented,
        )
        .await;
    if later {
        wait_until_settled(app, service, &outcome).await;
    }
    (outcome, holder)
}

/// Waits (up to 10 s) for the event to leave `waiting`.
async fn wait_until_settled(app: &TestApp, service: &Service, outcome: &Value) {
    assert_eq!(outcome["state"], "waiting", "{outcome}");
    let path = format!(
        "/api/v1/services/{}/events/{}",
        service.did,
        outcome["event_id"].as_str().unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let event = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
        if event["state"] != "waiting" {
            assert_eq!(event["state"], "completed", "{event}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the example did not issue: {event}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The membership issued: the holder's name copied from what it presented, the level set.
fn assert_membership(credential: &Value, service: &Service) {
    assert_eq!(credential["credentialId"], service.membership.as_str());
    assert_eq!(
        credential["attributes"],
        json!([{"name": "Name", "value": "Ada Lovelace"}, {"name": "Level", "value": "gold"}])
    );
}

async fn issued_in_the_reply(example: Example, backend: Backend) {
    let (_, outcome, _, service) = join(example, backend, false).await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    assert_membership(&outcome["issued"][0], &service);
}

async fn issued_later(example: Example, backend: Backend) {
    let (app, _, holder, service) = join(example, backend, true).await;
    let inbox = holder.inbox(&app, &service.did).await;
    assert_membership(&inbox["credentials"][0], &service);
}

async fn the_node_receiver_verifies_psis_signature_and_issues_in_its_reply(backend: Backend) {
    issued_in_the_reply(Example::Node, backend).await;
}

async fn the_node_receiver_issues_later_through_credentials_issued(backend: Backend) {
    issued_later(Example::Node, backend).await;
}

async fn the_python_receiver_verifies_psis_signature_and_issues_in_its_reply(backend: Backend) {
    issued_in_the_reply(Example::Python, backend).await;
}

async fn the_python_receiver_issues_later_through_credentials_issued(backend: Backend) {
    issued_later(Example::Python, backend).await;
}

async fn the_node_receiver_verifies_notifications_and_drops_repeats(backend: Backend) {
    notifications(Example::Node, backend).await;
}

async fn the_python_receiver_verifies_notifications_and_drops_repeats(backend: Backend) {
    notifications(Example::Python, backend).await;
}

/// Psi notifies the example through two endpoints, `event.completed` with `signature` auth and
/// `credential.issued` with `bearer` auth (a SHA secret): the example verifies both, psi sees
/// them succeed, and a replayed message is dropped as a repeat. Calls psi did not make are
/// refused.
async fn notifications(example: Example, backend: Backend) {
    require(example);
    let app = engine_app(backend).await;
    let service = service(&app).await;
    let base = format!("/api/v1/services/{}", service.did);
    let shared = expect_json(
        app.post(
            &format!("{base}/keys"),
            ADMIN_TOKEN,
            &json!({"name": "shared", "type": "sha_secret"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let secret = shared["secret"].as_str().expect("the secret, shown once");
    let receiver = start(example, &app, &service, false, Some(secret)).await;
    let url = format!("{}/notifications", receiver.url);
    // Each type to one endpoint, so every message goes through exactly one auth.
    for (key, auth, event_type) in [
        ("default", "signature", "event.completed"),
        ("shared", "bearer", "credential.issued"),
    ] {
        app.create_endpoint(
            &service.did,
            &url,
            json!({"key": key, "auth": auth, "event_types": [event_type]}),
        )
        .await;
    }

    calls_psi_did_not_make_are_refused(&app, &service, &receiver, secret).await;

    let (outcome, holder) = run_join(&app, &service, &receiver, false).await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let event_id = outcome["event_id"].as_str().unwrap();

    let completed = delivered(&app, &service, "event.completed").await;
    let line = receiver
        .wait_for_line(&format!(
            "event.completed {completed} verified by signature"
        ))
        .await;
    assert!(line.contains(&format!("event {event_id} ")), "{line}");
    assert!(line.contains(&format!("for {}: ok", holder.did)), "{line}");

    let issued = delivered(&app, &service, "credential.issued").await;
    let line = receiver
        .wait_for_line(&format!("credential.issued {issued} verified by bearer"))
        .await;
    assert!(line.contains(&service.membership), "{line}");

    // At least once: psi sends the same message again; the example answers 200 and drops it.
    let replay = format!("{base}/messages/{completed}/replay");
    expect_json(
        app.post(&replay, ADMIN_TOKEN, &json!({})).await,
        StatusCode::ACCEPTED,
    )
    .await;
    receiver
        .wait_for_line(&format!("repeat of {completed}, dropped"))
        .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let message = app.message(&service.did, &completed).await;
        if message["status"] == "succeeded" && message["attempts"].as_array().unwrap().len() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replay never succeeded: {message:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(receiver);
    app.stop().await;
}

/// The id of the one `event_type` message, once psi has delivered it (2xx from the example).
async fn delivered(app: &TestApp, service: &Service, event_type: &str) -> String {
    let path = format!(
        "/api/v1/services/{}/messages?event_type={event_type}",
        service.did
    );
    let page = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    let messages = page["data"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "one {event_type}: {page:#}");
    let id = messages[0]["id"].as_str().unwrap();
    let message = app
        .wait_for_status(&service.did, id, "succeeded", Duration::from_secs(15))
        .await;
    assert_eq!(message["payload"]["type"], event_type);
    id.to_owned()
}

/// Calls to `/notifications` that psi did not make (or made for another body, or too long ago)
/// get 401; a token just past `exp` but within the minute of leeway is accepted, and its
/// `messageId` sent again is a repeat.
async fn calls_psi_did_not_make_are_refused(
    app: &TestApp,
    service: &Service,
    receiver: &ChildReceiver,
    secret: &str,
) {
    let url = format!("{}/notifications", receiver.url);
    let send = |header: Option<(&'static str, String)>, body: Vec<u8>| {
        let mut request = app
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        async move { request.send().await.unwrap().status() }
    };
    let body = json!({"type": "test", "messageId": "by-hand", "publicServiceDid": service.did,
        "utcCreatedAt": 0, "endpointId": "none", "message": "sent by the test"})
    .to_string()
    .into_bytes();
    let shared = Signer::shared_secret(SharedSecret::from_base64(secret).unwrap());
    let other = Signer::shared_secret(SharedSecret::generate().unwrap());
    let ago = |secs: u64| UnixTime::from_secs(UnixTime::now().as_secs() - secs);
    let token =
        |signer: &Signer, claims: Claims| Some(signer.authorization_header(&claims).unwrap());
    let claims = |at: UnixTime| Claims::new(at).with_issuer(&service.did).with_body(&body);

    let forged: [(&str, Option<(&'static str, String)>); 6] = [
        ("no authentication", None),
        (
            "a bad signature",
            Some(("x-body-signature", "bm90IGEgc2lnbmF0dXJl".to_owned())),
        ),
        ("another secret", token(&other, claims(UnixTime::now()))),
        (
            "another issuer",
            token(
                &shared,
                Claims::new(UnixTime::now())
                    .with_issuer("someone-else")
                    .with_body(&body),
            ),
        ),
        (
            "another body",
            token(
                &shared,
                Claims::new(UnixTime::now())
                    .with_issuer(&service.did)
                    .with_body(b"{}"),
            ),
        ),
        // Made 400 s ago: expired 100 s ago, past the minute of leeway.
        ("an expired token", token(&shared, claims(ago(400)))),
    ];
    for (what, header) in forged {
        let status = send(header, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
    }
    receiver
        .wait_for_line("/notifications: refused, bearer auth does not verify")
        .await;

    // Made 330 s ago: expired 30 s ago, within the leeway.
    for _ in 0..2 {
        let status = send(token(&shared, claims(ago(330))), body.clone()).await;
        assert_eq!(status, StatusCode::OK);
    }
    receiver
        .wait_for_line("test by-hand verified by bearer: sent by the test")
        .await;
    receiver.wait_for_line("repeat of by-hand, dropped").await;
}
