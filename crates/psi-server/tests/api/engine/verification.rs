//! Verification of presented credentials: signature and issuer, holder, revocation (by API and by
//! a webhook's `revokedCredentials`), only-last, pre-filled values, and external verification
//! through the credential-check webhook (docs/protocol.md §4.2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use psi_testkit::{Reply, now_ms};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{Fixture, Holder, get_public};
use crate::backend_tests;
use crate::helpers::{Backend, expect_json};

backend_tests!(
    external_verification_passes_only_when_the_check_webhook_answers_ok_true,
    a_credential_revoked_through_the_api_can_no_longer_be_presented,
    credentials_named_in_revoked_credentials_are_revoked,
    only_the_holders_latest_credential_counts_where_the_interaction_says_only_last,
    a_prefilled_value_changed_by_the_wallet_is_refused,
    credentials_of_another_holder_forged_or_from_an_unknown_issuer_are_refused,
    a_missing_or_unrequired_credential_fails_the_event,
);

/// "Enter": requires a membership, issues nothing; its webhook `/enter` accepts everyone.
async fn enter(fx: &Fixture, only_last: bool, external_verification: bool) -> String {
    fx.receiver.on_json("/enter", |_| {
        Reply::json(json!({"issuedCredentials": [], "revokedCredentials": [], "ok": true}))
    });
    fx.interaction(json!({
        "name": format!("Enter {only_last} {external_verification}"),
        "required_credentials": [{"credential_id": fx.membership, "only_last": only_last,
            "external_verification": external_verification}],
        "webhook": fx.webhook("/enter", "default", "signature"),
    }))
    .await
}

fn presented_jwt(fx: &Fixture, credential: &Value) -> Value {
    json!([{"credentialId": fx.membership, "jwt": credential["jwt"]}])
}

async fn present(fx: &Fixture, holder: &Holder, action: &str, credential: &Value) -> Value {
    holder
        .run(
            &fx.app,
            &fx.did,
            action,
            json!([]),
            presented_jwt(fx, credential),
        )
        .await
}

async fn external_verification_passes_only_when_the_check_webhook_answers_ok_true(
    backend: Backend,
) {
    let fx = Fixture::new(backend).await;
    let action = enter(&fx, false, true).await;
    fx.receiver.on_json("/check", |request| {
        let level = request["fields"][1]["value"].as_str().unwrap_or_default();
        Reply::json(match level {
            "3" => json!({"ok": true, "extra": {"info": [{"name": "tier", "value": "gold"}]}}),
            "1" => json!({"ok": false, "errorMessage": "Your level is too low"}),
            _ => json!({"errorMessage": ""}),
        })
    });
    let (gold, bronze, silent) = (Holder::new(), Holder::new(), Holder::new());
    let outcomes = [
        present(&fx, &gold, &action, &fx.member(&gold, "3").await).await,
        present(&fx, &bronze, &action, &fx.member(&bronze, "1").await).await,
        present(&fx, &silent, &action, &fx.member(&silent, "2").await).await,
    ];
    assert_eq!(outcomes[0]["state"], "completed", "{}", outcomes[0]);
    assert_eq!(outcomes[1]["state"], "failed");
    assert_eq!(outcomes[1]["message"], "Your level is too low");
    assert_eq!(outcomes[2]["state"], "failed");
    assert_eq!(
        outcomes[2]["message"],
        format!(
            "credential \"Membership\" ({}) did not pass the service's external verification",
            fx.membership
        )
    );
    let checks = fx.receiver.calls_to("/check");
    assert_eq!(checks.len(), 3);
    assert_eq!(
        checks[0].json(),
        json!({
            "serviceDid": fx.did,
            "subscriberDid": gold.did,
            "credentialId": fx.membership,
            "schemaId": fx.membership_schema,
            "fields": [{"name": "Name", "value": "Ada"}, {"name": "Level", "value": "3"}],
            "protocolVersion": 1,
        })
    );
    assert_eq!(checks[0].headers["content-type"], "application/json");
    fx.receiver.assert_none_refused();
    // The interaction webhook was called for the one that passed only.
    assert_eq!(fx.receiver.calls_to("/enter").len(), 1);
    let event = fx.event(outcomes[1]["event_id"].as_str().unwrap()).await;
    assert_eq!(event["calls"][0]["kind"], "credential_check");
}

async fn a_credential_revoked_through_the_api_can_no_longer_be_presented(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let action = enter(&fx, false, false).await;
    let holder = Holder::new();
    let credential = fx.member(&holder, "1").await;
    let jti = credential["jti"].as_str().unwrap();
    let status_path = format!("/wallet/v1/credentials/{jti}/status");
    let status = expect_json(get_public(&fx.app, &status_path).await, StatusCode::OK).await;
    assert_eq!(
        status,
        json!({"jti": jti, "revoked": false, "revoked_at": null})
    );
    assert_eq!(
        present(&fx, &holder, &action, &credential).await["state"],
        "completed"
    );

    let revoke = format!("/api/v1/services/{}/credentials/{jti}/revoke", fx.did);
    let revoked = expect_json(
        fx.app.post(&revoke, &fx.token, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    let revoked_at = revoked["revoked_at"].as_i64().expect("revoked_at is set");
    let again = expect_json(
        fx.app.post(&revoke, &fx.token, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        again["revoked_at"], revoked_at,
        "revoking again changes nothing"
    );
    let status = expect_json(get_public(&fx.app, &status_path).await, StatusCode::OK).await;
    assert_eq!(status["revoked"], true);
    assert_eq!(status["revoked_at"], revoked_at);

    let outcome = present(&fx, &holder, &action, &credential).await;
    assert_eq!(outcome["state"], "failed");
    assert_eq!(
        outcome["message"],
        format!(
            "credential \"Membership\" ({}): the credential {jti} has been revoked",
            fx.membership
        )
    );
    let inbox = holder.inbox(&fx.app, &fx.did).await;
    assert_eq!(inbox["revoked"], json!([jti]));
}

async fn credentials_named_in_revoked_credentials_are_revoked(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let holder = Holder::new();
    let first = fx.member(&holder, "1").await;
    let second = fx.member(&holder, "2").await;
    // A reply revoking by definition and values, and one revoking by id.
    let (membership, schema) = (fx.membership.clone(), fx.membership_schema.clone());
    let second_jti = second["jti"].clone();
    fx.receiver.on_json("/hook", move |_| {
        Reply::json(json!({
            "issuedCredentials": [{"credentialId": membership, "schemaId": schema,
                "fields": [{"name": "Name", "value": "Ada"}, {"name": "Level", "value": "3"}]}],
            "revokedCredentials": [
                {"credentialId": membership, "schemaId": schema,
                    "fields": [{"name": "Level", "value": "1"}], "utcIssuedAt": now_ms()},
                second_jti,
            ],
            "ok": true,
        }))
    });
    let outcome = fx.join(&holder, "Ada").await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    let third = outcome["issued"][0]["jti"].as_str().unwrap();
    let mut revoked: Vec<String> =
        serde_json::from_value(holder.inbox(&fx.app, &fx.did).await["revoked"].clone()).unwrap();
    revoked.sort();
    let mut expected = vec![
        first["jti"].as_str().unwrap().to_owned(),
        second["jti"].as_str().unwrap().to_owned(),
    ];
    expected.sort();
    assert_eq!(revoked, expected, "the new one ({third}) stays valid");
    let event = fx.event(outcome["event_id"].as_str().unwrap()).await;
    let revocations = event["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "revoked")
        .count();
    assert_eq!(revocations, 2);
    let action = enter(&fx, false, false).await;
    assert_eq!(
        present(&fx, &holder, &action, &first).await["state"],
        "failed"
    );
}

async fn only_the_holders_latest_credential_counts_where_the_interaction_says_only_last(
    backend: Backend,
) {
    let fx = Fixture::new(backend).await;
    let (strict, lenient) = (
        enter(&fx, true, false).await,
        enter(&fx, false, false).await,
    );
    let holder = Holder::new();
    let older = fx.member(&holder, "1").await;
    let newer = fx.member(&holder, "2").await;
    let outcome = present(&fx, &holder, &strict, &older).await;
    assert_eq!(outcome["state"], "failed");
    assert!(
        outcome["message"]
            .as_str()
            .unwrap()
            .contains("only the most recent credential"),
        "{outcome}"
    );
    assert_eq!(
        present(&fx, &holder, &strict, &newer).await["state"],
        "completed"
    );
    assert_eq!(
        present(&fx, &holder, &lenient, &older).await["state"],
        "completed"
    );
}

async fn a_prefilled_value_changed_by_the_wallet_is_refused(backend: Backend) {
    let fx = Fixture::new(backend).await;
    fx.issue_membership("1");
    let prefill = |name: &str, born: &str| {
        json!([{"credentialId": fx.applicant, "attributes": [
            {"name": "Name", "value": name}, {"name": "Born", "value": born},
            {"name": "Not in the schema", "value": "ignored"}]}])
    };
    let holder = Holder::new();
    let tampered = holder
        .run(
            &fx.app,
            &fx.did,
            &fx.join,
            prefill("Ada", "631152000"),
            fx.applicant_presented("Mallory"),
        )
        .await;
    assert_eq!(tampered["state"], "failed");
    assert_eq!(
        tampered["message"],
        format!(
            "credential \"Applicant\" ({}): attribute \"Name\" was pre-filled by the link and \
             cannot be changed",
            fx.applicant
        )
    );
    let invalid = holder
        .run(
            &fx.app,
            &fx.did,
            &fx.join,
            prefill("Ada", "yesterday"),
            fx.applicant_presented("Ada"),
        )
        .await;
    assert_eq!(invalid["state"], "failed");
    assert!(
        invalid["message"]
            .as_str()
            .unwrap()
            .contains("the link's pre-filled value is not valid: attribute \"Born\""),
        "{invalid}"
    );
    assert!(
        fx.receiver.calls_to("/hook").is_empty(),
        "the webhook is not called"
    );
    let honest = holder
        .run(
            &fx.app,
            &fx.did,
            &fx.join,
            prefill("Ada", "631152000"),
            fx.applicant_presented("Ada"),
        )
        .await;
    assert_eq!(honest["state"], "completed", "{honest}");
}

async fn credentials_of_another_holder_forged_or_from_an_unknown_issuer_are_refused(
    backend: Backend,
) {
    let fx = Fixture::new(backend).await;
    let action = enter(&fx, false, false).await;
    let (owner, thief) = (Holder::new(), Holder::new());
    let credential = fx.member(&owner, "1").await;
    let message = |outcome: Value| {
        assert_eq!(outcome["state"], "failed", "{outcome}");
        outcome["message"].as_str().unwrap().to_owned()
    };
    let stolen = message(present(&fx, &thief, &action, &credential).await);
    assert!(
        stolen.ends_with(
            "it was issued to another holder DID, and no `binding` proves it is this holder's"
        ),
        "{stolen}"
    );

    let jwt = credential["jwt"].as_str().unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["vc"]["credentialSubject"]["Level"] = json!("9");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let forged = message(present(&fx, &owner, &action, &json!({"jwt": forged})).await);
    assert!(
        forged.ends_with("the credential's signature does not verify with its issuer's key"),
        "{forged}"
    );

    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let stranger_did = bs58::encode(&stranger.verifying_key().to_bytes()[..16]).into_string();
    let mut content = psi_server::credentials::vc::parse(jwt).unwrap().content;
    content.issuer = stranger_did.clone();
    let foreign = psi_server::credentials::vc::sign(&content, &stranger).unwrap();
    let foreign = message(present(&fx, &owner, &action, &json!({"jwt": foreign})).await);
    assert!(
        foreign.ends_with(&format!(
            "the credential's issuer {stranger_did} is not a service on this server: it cannot be verified"
        )),
        "{foreign}"
    );
    let garbage = message(present(&fx, &owner, &action, &json!({"jwt": "not.a.jwt"})).await);
    assert!(garbage.contains("not a compact JWT"), "{garbage}");
}

async fn a_missing_or_unrequired_credential_fails_the_event(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let holder = Holder::new();
    let none = holder
        .run(&fx.app, &fx.did, &fx.join, json!([]), json!([]))
        .await;
    assert_eq!(none["state"], "failed");
    assert_eq!(
        none["message"],
        format!(
            "credential \"Applicant\" ({}) is required but was not presented",
            fx.applicant
        )
    );
    let mut extra = fx.applicant_presented("Ada");
    extra
        .as_array_mut()
        .unwrap()
        .push(json!({"credentialId": fx.badge, "jwt": "x.y.z"}));
    let extra = holder
        .run(&fx.app, &fx.did, &fx.join, json!([]), extra)
        .await;
    assert_eq!(
        extra["message"],
        format!(
            "credential {} is not required by this interaction",
            fx.badge
        )
    );
    let as_jwt = json!([{"credentialId": fx.applicant, "jwt": "x.y.z"}]);
    let as_jwt = holder
        .run(&fx.app, &fx.did, &fx.join, json!([]), as_jwt)
        .await;
    assert!(
        as_jwt["message"]
            .as_str()
            .unwrap()
            .ends_with("is self-attested: present its `attributes`, not a `jwt`")
    );
    let mistyped = json!([{"credentialId": fx.applicant, "attributes": [
        {"name": "Name", "value": "Ada"}, {"name": "Born", "value": "1 May"}]}]);
    let mistyped = holder
        .run(&fx.app, &fx.did, &fx.join, json!([]), mistyped)
        .await;
    assert!(
        mistyped["message"]
            .as_str()
            .unwrap()
            .contains("attribute \"Born\": a date is seconds"),
        "{mistyped}"
    );
    assert!(fx.receiver.calls_to("/hook").is_empty());
}
