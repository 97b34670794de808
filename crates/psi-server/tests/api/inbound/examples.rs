//! The receiver examples under `examples/` against a running psi: each is started as a child
//! process, an interaction's webhook points at it, and a holder runs the interaction through the
//! wallet API. Issued in the reply, and issued later through `credentials-issued`.
//!
//! A missing `node`, `python3` or Python `cryptography` module skips the test with a loud
//! message on stderr (CI installs them).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::partner_key;
use crate::backend_tests;
use crate::engine::support::{Holder, engine_app};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json};

backend_tests!(
    the_node_receiver_verifies_psis_signature_and_issues_in_its_reply,
    the_node_receiver_issues_later_through_credentials_issued,
    the_python_receiver_verifies_psis_signature_and_issues_in_its_reply,
    the_python_receiver_issues_later_through_credentials_issued,
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
        match Command::new(program).args(probe).output() {
            Ok(output) if output.status.success() => None,
            Ok(output) => Some(format!(
                "{program} {probe:?} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )),
            Err(e) => Some(format!("{program} is not installed: {e}")),
        }
    }
}

/// A running example receiver, stopped when dropped.
struct Receiver {
    child: Child,
    url: String,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// Starts `example` for `service`; `later` makes it issue through `credentials-issued`.
async fn start(example: Example, app: &TestApp, service: &Service, later: bool) -> Receiver {
    let mut command = example.command();
    command
        .env("PSI_URL", &app.address)
        .env("SERVICE_DID", &service.did)
        .env("CREDENTIAL_ID", &service.membership)
        .env("ISSUE", r#"{"Name": "nobody", "Level": "gold"}"#)
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if later {
        let key = app.db.data_dir.path().join("partner.pem");
        let vectors: Value =
            serde_json::from_str(include_str!("../../../../../vectors/signatures.json")).unwrap();
        std::fs::write(&key, vectors["rsa_private_key_pkcs1_pem"].as_str().unwrap()).unwrap();
        command
            .env("ISSUE_LATER_KEY", &key)
            .env("ISSUE_LATER_DELAY_MS", "100");
    }
    // Off the test's runtime: the example fetches the service key from the server it runs.
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("the example starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let Some(url) = first.strip_prefix("listening on ").map(str::to_owned) else {
            let _ = child.kill();
            panic!("the example did not start: {first:?}");
        };
        // Its later lines go to the test's output.
        std::thread::spawn(move || {
            lines
                .map_while(Result::ok)
                .for_each(|l| println!("example: {l}"))
        });
        Receiver { child, url }
    })
    .await
    .expect("the example starts")
}

/// Runs "Join" with the example as its webhook; returns the outcome, the holder and the
/// service.
async fn join(
    example: Example,
    backend: Backend,
    later: bool,
) -> Option<(TestApp, Value, Holder, Service)> {
    if let Some(why) = example.missing() {
        eprintln!("\n*** SKIPPED: the receiver example cannot run here: {why} ***\n");
        return None;
    }
    let app = engine_app(backend).await;
    let service = service(&app).await;
    let receiver = start(example, &app, &service, later).await;

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
            &app,
            &service.did,
            interaction["id"].as_str().unwrap(),
            json!([]),
            presented,
        )
        .await;
    if later {
        wait_until_settled(&app, &service, &outcome).await;
    }
    drop(receiver);
    Some((app, outcome, holder, service))
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
    let Some((_, outcome, _, service)) = join(example, backend, false).await else {
        return;
    };
    assert_eq!(outcome["state"], "completed", "{outcome}");
    assert_membership(&outcome["issued"][0], &service);
}

async fn issued_later(example: Example, backend: Backend) {
    let Some((app, _, holder, service)) = join(example, backend, true).await else {
        return;
    };
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
