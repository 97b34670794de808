//! Trust across services: an interaction requires another service's public credential
//! definition; the holder presents the credential that service issued, bound to the holder's
//! pairwise DID there, and psi verifies it with the issuer's key, its definition, revocation and
//! holder binding. Reads show which interactions issue what a holder lacks.

use ed25519_dalek::SigningKey;
use psi_server::credentials::vc;
use psi_server::engine::present::binding_message;
use psi_testkit::{Receiver, Reply};
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
    a_credential_of_a_required_schema_counts_when_a_trusted_service_issued_it,
    only_the_latest_credential_counts_across_services_too,
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

/// Creates the interaction `body` of service `did`; returns its id.
async fn created(app: &TestApp, did: &str, body: Value) -> String {
    let response = app
        .post(
            &format!("/api/v1/services/{did}/interactions"),
            ADMIN_TOKEN,
            &body,
        )
        .await;
    expect_json(response, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The id of an interaction `name` of `did` that requires `required`.
async fn requiring(app: &TestApp, did: &str, name: &str, required: &[&str]) -> String {
    let required: Vec<Value> = required
        .iter()
        .map(|id| json!({"credential_id": id}))
        .collect();
    created(
        app,
        did,
        json!({"name": name, "required_credentials": required}),
    )
    .await
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
        let message = binding_message(did, &holder.did, &nonce, &jti);
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

    // A binding made for one holder does not serve another who captured it, nonce and all.
    let thief = Holder::new();
    let nonce = "captured-nonce-0001";
    let message = binding_message(&did, &at_bank.did, nonce, &jti_of(&jwt));
    let body = json!({"actionId": open, "nonce": nonce, "presented": [{
        "credentialId": club.membership, "jwt": jwt,
        "binding": {"verkey": member.verkey, "signature": member.signature(message.as_bytes())}}]});
    let response = thief
        .post(
            &club.app,
            &format!("/wallet/v1/services/{did}/events"),
            body,
        )
        .await;
    refused(
        expect_json(response, StatusCode::OK).await,
        "`binding.signature` does not verify",
    );

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
    let join = expect_json(
        club.app
            .get(
                &format!("/api/v1/services/{}/interactions/{}", club.did, club.join),
                ADMIN_TOKEN,
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let issued_by = json!([{"serviceDid": club.did, "serviceName": "Club",
                            "actionId": club.join, "actionName": "Join",
                            "actionInstanceId": join["instances"][0]["id"]}]);
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

    // One the service pushes is not where a holder gets it.
    let pushed =
        json!({"name": "Pushed", "media": ["PUSH"], "issued_credentials": [club.membership]});
    expect_json(
        club.app
            .post(
                &format!("/api/v1/services/{}/interactions", club.did),
                ADMIN_TOKEN,
                &pushed,
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        read(wallet_path.clone()).await["required"][0]["issuedBy"],
        issued_by
    );

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

async fn a_credential_of_a_required_schema_counts_when_a_trusted_service_issued_it(
    backend: Backend,
) {
    let club = Fixture::new(backend).await;
    let app = &club.app;
    // A guild vouches for the club's kind of membership: a definition of the club's schema.
    let guild = app.create_service("Guild").await;
    let definition = expect_json(
        app.post(
            &format!("/api/v1/services/{guild}/credential-definitions"),
            ADMIN_TOKEN,
            &json!({"schema": club.membership_schema, "attestation": "service", "tag": "guild"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let guild_membership = definition["credential_id"].as_str().unwrap().to_owned();
    let receiver = Receiver::start().await;
    let issued = guild_membership.clone();
    receiver.on_json("/hook", move |request| {
        Reply::json(json!({"issuedCredentials": [{"credentialId": issued,
            "fields": [{"name": "Name", "value": "Ada"}, {"name": "Level", "value": "2"}]}],
            "subscriberConnectDid": request["subscriberConnectDid"]}))
    });
    let enrol = created(
        app,
        &guild,
        json!({"name": "Enrol", "issued_credentials": [guild_membership],
               "webhook": {"url": receiver.url("/hook")}}),
    )
    .await;
    let member = Holder::new();
    let outcome = member.run(app, &guild, &enrol, json!([]), json!([])).await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let jwt = outcome["issued"][0]["jwt"].as_str().unwrap().to_owned();

    // The bank takes the schema from the club or the guild.
    let bank = app.create_service("Bank").await;
    let requiring = |name: &str, trusted: Vec<&str>| {
        let body = json!({"name": name, "required_schemas": [
            {"schema_id": club.membership_schema, "trusted_issuers": trusted}]});
        created(app, &bank, body)
    };
    let open = requiring("Open an account", vec![club.did.as_str(), guild.as_str()]).await;
    let at_bank = Holder::new();
    let outcome = present(
        app,
        &at_bank,
        &bank,
        &open,
        &guild_membership,
        &jwt,
        Some(&member),
    )
    .await;
    assert_eq!(outcome["state"], "completed", "{outcome}");

    // Trusting the club alone, the guild's credential does not count.
    let strict = requiring("Club members only", vec![club.did.as_str()]).await;
    let outcome = present(
        app,
        &at_bank,
        &bank,
        &strict,
        &guild_membership,
        &jwt,
        Some(&member),
    )
    .await;
    assert_eq!(outcome["state"], "failed", "{outcome}");
    let message = outcome["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "a credential of schema {} issued by {} is required",
            club.membership_schema, club.did
        )),
        "{message}"
    );

    // The wallet learns where such a credential comes from: the club's Join, the guild's Enrol.
    let read = expect_json(
        get_public(
            app,
            &format!("/wallet/v1/services/{bank}/interactions/{open}"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let wanted = &read["required_schemas"][0];
    assert_eq!(wanted["schemaId"], club.membership_schema.as_str());
    let issuers: Vec<&str> = wanted["issuedBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["actionName"].as_str().unwrap())
        .collect();
    assert_eq!(issuers, ["Join", "Enrol"]);
    let templates = expect_json(
        get_public(
            app,
            &format!("/service-dashboard-backend/service/{bank}/info/action-templates"),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let open_template = templates
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["actionId"] == open.as_str())
        .unwrap();
    let predicate = &open_template["schemasRequired"][0];
    assert_eq!(predicate["schemaId"], club.membership_schema.as_str());
    assert_eq!(predicate["trustedIssuers"], json!([club.did, guild]));
    assert_eq!(predicate["fields"], json!(["Name", "Level"]));
    assert_eq!(predicate["issuedBy"], wanted["issuedBy"]);

    // An unknown issuer or schema is refused when the interaction is saved.
    for (schema, trusted, expected) in [
        (
            club.membership_schema.clone(),
            "Gbz5PqgnU4XsMs7xg9mYJW",
            "is not a service on this server",
        ),
        (
            format!("{}:2:Nothing:1.0", club.did),
            club.did.as_str(),
            "no service on this server has a schema",
        ),
    ] {
        let body = json!({"name": "x", "required_schemas": [
            {"schema_id": schema, "trusted_issuers": [trusted]}]});
        let message = expect_error(
            app.post(
                &format!("/api/v1/services/{bank}/interactions"),
                ADMIN_TOKEN,
                &body,
            )
            .await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(message.contains(expected), "{message}");
    }
}

async fn only_the_latest_credential_counts_across_services_too(backend: Backend) {
    let club = Fixture::new(backend).await;
    let member = Holder::new();
    let older = club.member(&member, "1").await;
    let newer = club.member(&member, "2").await;
    let did = club.app.create_service("Bank").await;
    let body = json!({"name": "Latest members", "required_credentials": [
        {"credential_id": club.membership, "only_last": true}]});
    let latest_only = created(&club.app, &did, body).await;
    let at_bank = Holder::new();
    let run = |credential: &Value| {
        let jwt = credential["jwt"].as_str().unwrap().to_owned();
        let (app, membership, action, did) = (&club.app, &club.membership, &latest_only, &did);
        let (member, at_bank) = (&member, &at_bank);
        async move { present(app, at_bank, did, action, membership, &jwt, Some(member)).await }
    };
    let outcome = run(&older).await;
    assert_eq!(outcome["state"], "failed", "{outcome}");
    assert!(
        outcome["message"]
            .as_str()
            .unwrap()
            .contains("only the most recent"),
        "{outcome}"
    );
    assert_eq!(run(&newer).await["state"], "completed");
}
