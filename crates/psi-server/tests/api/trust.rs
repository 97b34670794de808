//! Trust across services: an interaction requires another service's public credential
//! definition; the holder presents the credential that service issued, bound to the holder's
//! pairwise DID there, and psi verifies it with the issuer's key, its definition, revocation and
//! holder binding. Reads show which interactions issue what a holder lacks.

use ed25519_dalek::SigningKey;
use psi_server::credentials::vc;
use psi_server::engine::present::binding_message;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::engine::support::{Fixture, Holder, get_public};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_error, expect_json};

backend_tests!(
    another_services_credential_completes_an_interaction_that_requires_it,
    a_wrong_revoked_forged_or_unbound_credential_is_refused_with_a_reason,
    a_private_definition_cannot_be_required_by_others_and_stays_public_while_it_is,
    reads_show_which_interactions_issue_a_required_credential,
);

/// POSTs an interaction `name` of service `did` that requires and issues these credential ids.
async fn post_interaction(
    app: &TestApp,
    did: &str,
    name: &str,
    required: &[&str],
    issued: &[&str],
) -> reqwest::Response {
    let required: Vec<Value> = required
        .iter()
        .map(|id| json!({"credential_id": id}))
        .collect();
    let body =
        json!({"name": name, "required_credentials": required, "issued_credentials": issued});
    app.post(
        &format!("/api/v1/services/{did}/interactions"),
        ADMIN_TOKEN,
        &body,
    )
    .await
}

/// The id of an interaction `name` of `did` that requires `required`.
async fn requiring(app: &TestApp, did: &str, name: &str, required: &[&str]) -> String {
    let created = expect_json(
        post_interaction(app, did, name, required, &[]).await,
        StatusCode::CREATED,
    )
    .await;
    created["id"].as_str().unwrap().to_owned()
}

/// A second service, "Bank", whose interaction requires `required` (credential ids); returns
/// its DID and the interaction's id.
async fn bank(app: &TestApp, required: &[&str]) -> (String, String) {
    let did = app.create_service("Bank").await;
    let id = requiring(app, &did, "Open an account", required).await;
    (did, id)
}

/// `holder` runs `action_id` of `did` presenting `credential` (`{jti, jwt, ...}` as issued) of
/// definition `credential_id`, bound by `subject`'s key when given.
async fn present(
    app: &TestApp,
    holder: &Holder,
    did: &str,
    action_id: &str,
    credential_id: &str,
    jwt: &str,
    subject: Option<&Holder>,
) -> Value {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut presented = json!({"credentialId": credential_id, "jwt": jwt});
    if let Some(subject) = subject {
        let jti = jti_of(jwt);
        let message = binding_message(did, &nonce, &jti);
        presented["binding"] = json!({
            "verkey": subject.verkey,
            "signature": subject.signature(message.as_bytes()),
        });
    }
    let body = json!({"actionId": action_id, "presented": [presented], "nonce": nonce});
    let response = holder
        .post(app, &format!("/wallet/v1/services/{did}/events"), body)
        .await;
    expect_json(response, StatusCode::OK).await
}

fn jti_of(jwt: &str) -> String {
    vc::parse(jwt).unwrap().content.jti
}

async fn another_services_credential_completes_an_interaction_that_requires_it(backend: Backend) {
    let club = Fixture::new(backend).await;
    let member = Holder::new();
    let membership = club.member(&member, "3").await;
    let jwt = membership["jwt"].as_str().unwrap();
    let (did, open) = bank(&club.app, &[&club.membership]).await;

    // At the bank the holder has another pairwise DID, and proves it holds the club's.
    let at_bank = Holder::new();
    let outcome = present(
        &club.app,
        &at_bank,
        &did,
        &open,
        &club.membership,
        jwt,
        Some(&member),
    )
    .await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let event = expect_json(
        club.app
            .get(
                &format!(
                    "/api/v1/services/{did}/events/{}",
                    outcome["event_id"].as_str().unwrap()
                ),
                ADMIN_TOKEN,
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(event["holder_did"], at_bank.did.as_str());
    // A holder that uses one DID everywhere needs no binding.
    let outcome = present(&club.app, &member, &did, &open, &club.membership, jwt, None).await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
}

async fn a_wrong_revoked_forged_or_unbound_credential_is_refused_with_a_reason(backend: Backend) {
    let club = Fixture::new(backend).await;
    let member = Holder::new();
    let membership = club.member(&member, "3").await;
    let jwt = membership["jwt"].as_str().unwrap().to_owned();
    let (did, open) = bank(&club.app, &[&club.membership]).await;
    let at_bank = Holder::new();
    let refused = |outcome: Value, reason: &str| {
        assert_eq!(outcome["state"], "failed", "{outcome}");
        let message = outcome["message"].as_str().unwrap();
        assert!(message.contains(reason), "{reason}: {message}");
    };

    // Of another definition: the club's badge is required, the membership presented.
    let badge_only = requiring(&club.app, &did, "Badge holders", &[&club.badge]).await;
    let outcome = present(
        &club.app,
        &at_bank,
        &did,
        &badge_only,
        &club.badge,
        &jwt,
        Some(&member),
    )
    .await;
    refused(outcome, "the presented credential is of definition");

    // Not bound, or bound by a key that is not its subject's.
    let outcome = present(
        &club.app,
        &at_bank,
        &did,
        &open,
        &club.membership,
        &jwt,
        None,
    )
    .await;
    refused(outcome, "issued to another holder DID, and no `binding`");
    let stranger = Holder::new();
    let outcome = present(
        &club.app,
        &at_bank,
        &did,
        &open,
        &club.membership,
        &jwt,
        Some(&stranger),
    )
    .await;
    refused(outcome, "not the key of the DID it was issued to");

    // Signed by a key that is not the club's (a third service's, say), claiming the club.
    let content = vc::parse(&jwt).unwrap().content;
    let forged = vc::sign(&content, &SigningKey::from_bytes(&rand::random())).unwrap();
    let outcome = present(
        &club.app,
        &at_bank,
        &did,
        &open,
        &club.membership,
        &forged,
        Some(&member),
    )
    .await;
    refused(outcome, "signature does not verify with its issuer's key");

    // Revoked by the club.
    expect_json(
        club.app
            .post(
                &format!(
                    "/api/v1/services/{}/credentials/{}/revoke",
                    club.did, content.jti
                ),
                &club.token,
                &json!({}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let outcome = present(
        &club.app,
        &at_bank,
        &did,
        &open,
        &club.membership,
        &jwt,
        Some(&member),
    )
    .await;
    refused(outcome, "has been revoked");
}

async fn a_private_definition_cannot_be_required_by_others_and_stays_public_while_it_is(
    backend: Backend,
) {
    let club = Fixture::new(backend).await;
    let definition =
        |id: &str| format!("/api/v1/services/{}/credential-definitions/{id}", club.did);
    let made_private = |id: String| {
        let (app, token) = (&club.app, &club.token);
        async move {
            app.patch(&definition(&id), token, &json!({"public": false}))
                .await
        }
    };
    // The badge goes private: another service cannot require it.
    let private = expect_json(made_private(club.badge.clone()).await, StatusCode::OK).await;
    assert_eq!(private["public"], false);
    let other = club.app.create_service("Bank").await;
    let message = expect_error(
        post_interaction(&club.app, &other, "x", &[&club.badge], &[]).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(
        message.contains("is a private credential definition"),
        "{message}"
    );
    // Nor issue another service's definition, public or not.
    let message = expect_error(
        post_interaction(&club.app, &other, "y", &[], &[&club.membership]).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(message.contains("belongs to another service"), "{message}");

    // The membership, required by the bank, stays public.
    bank(&club.app, &[&club.membership]).await;
    let message = expect_error(
        made_private(club.membership.clone()).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(
        message.contains("1 interaction(s) of other services"),
        "{message}"
    );
}

async fn reads_show_which_interactions_issue_a_required_credential(backend: Backend) {
    let club = Fixture::new(backend).await;
    let (did, open) = bank(&club.app, &[&club.membership]).await;
    let issued_by = json!([{"serviceDid": club.did, "serviceName": "Club",
                            "actionId": club.join, "actionName": "Join"}]);
    let wallet_path = format!("/wallet/v1/services/{did}/interactions/{open}");
    let templates_path = format!("/service-dashboard-backend/service/{did}/info/action-templates");
    let read = |path: String| {
        let app = &club.app;
        async move { expect_json(get_public(app, &path).await, StatusCode::OK).await }
    };

    let wallet = read(wallet_path.clone()).await;
    let required = &wallet["required"][0];
    assert_eq!(required["credentialId"], club.membership.as_str());
    assert_eq!(required["attestation"], "service");
    assert_eq!(required["issuedBy"], issued_by);
    let templates = read(templates_path.clone()).await;
    assert_eq!(
        templates[0]["credentialsRequired"],
        json!([club.membership])
    );
    assert_eq!(templates[0]["predicates"][0]["issuedBy"], issued_by);

    // A paused issuing interaction is no longer offered.
    club.patch_interaction(&club.join, json!({"active": false}))
        .await;
    assert_eq!(
        read(wallet_path).await["required"][0]["issuedBy"],
        json!([])
    );
    let templates = read(templates_path).await;
    assert!(
        templates[0]["predicates"][0].get("issuedBy").is_none(),
        "{templates}"
    );
}
