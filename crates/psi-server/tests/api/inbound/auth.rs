//! Who may call: a signature or Bearer token by a key the definitions involved authorise, from
//! their source-IP prefixes, each token once and before it expires. Every refusal is a 403 that
//! changes nothing but the named event's log, which says why.

use std::time::Duration;

use figment::providers::Serialized;
use psi_webhook::{Claims, PrivateKey, Signer, UnixTime};
use reqwest::StatusCode;
use serde_json::json;

use super::support::{Auth, Scene, expect_refusal, partner_key};
use crate::backend_tests;
use crate::engine::support::Holder;
use crate::helpers::{Backend, TestDb, expect_json, spawn_app_on};

backend_tests!(
    missing_or_bad_authentication_is_refused_and_nothing_is_stored,
    a_key_not_among_the_definitions_issuers_is_refused,
    issuing_failed_needs_a_key_authorised_on_the_events_interaction,
    calls_from_outside_the_source_ip_prefixes_are_refused,
    a_forwarded_address_counts_only_when_configured,
    a_token_carries_one_call_and_of_two_racing_calls_one_wins,
    expired_tokens_tokens_without_exp_and_tokens_for_another_audience_are_refused,
);

async fn missing_or_bad_authentication_is_refused_and_nothing_is_stored(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let event_id = scene.waiting_event(&holder).await;
    let body = scene.issued_body(&event_id, &holder, json!([scene.membership("1")]));
    let raw = serde_json::to_vec(&body).unwrap();
    let stranger = PrivateKey::generate().unwrap();
    let tampered = {
        let mut other = body.clone();
        other["issuedCredentials"][0]["fields"][1]["value"] = json!("9");
        serde_json::to_vec(&other).unwrap()
    };
    let (_, signature_of_other_body) = Signer::rsa(scene.partner.clone())
        .signature_header(&tampered)
        .unwrap();
    // (authentication, extra headers, what the refusal says)
    type Case<'a> = (Auth, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (Auth::None, vec![], "X-Body-Signature"),
        (Auth::Signature(stranger.clone()), vec![], "does not match"),
        (
            Auth::None,
            vec![("x-body-signature", &signature_of_other_body)],
            "does not match",
        ),
        (
            Auth::None,
            vec![("x-body-signature", "not base64!")],
            "base64",
        ),
        (
            Auth::Bearer(Signer::rsa(stranger), scene.claims()),
            vec![],
            "signature is not valid",
        ),
        (
            Auth::None,
            vec![("authorization", "Bearer not.a.token")],
            "malformed",
        ),
    ];
    for (auth, headers, reason) in cases {
        let response = scene
            .call_raw(
                super::support::DASHBOARD,
                "credentials-issued",
                raw.clone(),
                &auth,
                &headers,
            )
            .await;
        let message = expect_refusal(response, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(message.contains(reason), "{reason}: {message}");
        let event = scene.fx.event(&event_id).await;
        let logged = event["log"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(logged["kind"], "issue_refused", "{event}");
        assert_eq!(
            logged["detail"],
            format!("psi refused a call to credentials-issued (403 Forbidden): {message}")
        );
    }
    assert_eq!(scene.fx.event(&event_id).await["state"], "waiting");
    assert!(scene.credentials_of(&holder).await.is_empty());
    let inbox = holder.inbox(&scene.fx.app, &scene.fx.did).await;
    assert_eq!(inbox["credentials"], json!([]));
    for table in ["credentials", "inbound_requests", "inbound_jtis"] {
        assert_eq!(scene.rows(table).await, 0, "{table}");
    }
}

async fn a_key_not_among_the_definitions_issuers_is_refused(backend: Backend) {
    let scene = Scene::new(backend).await;
    scene
        .set_definition(&scene.fx.badge, json!({"issuers": ["shared"]}))
        .await;
    let holder = Holder::new();
    let event_id = scene.waiting_event(&holder).await;
    // The partner may issue the membership, not the badge: a call with both issues nothing.
    let body = scene.issued_body(
        &event_id,
        &holder,
        json!([scene.membership("1"), scene.badge("B")]),
    );
    let message = scene
        .issue_refused(&body, StatusCode::FORBIDDEN, "forbidden")
        .await;
    assert!(
        message.contains("\"partner\"") && message.contains("Badge"),
        "{message}"
    );
    assert!(scene.credentials_of(&holder).await.is_empty());
    // The shared secret may issue both.
    scene
        .accepted("credentials-issued", &body, &scene.hs256())
        .await;
    assert_eq!(scene.credentials_of(&holder).await.len(), 2);
}

async fn issuing_failed_needs_a_key_authorised_on_the_events_interaction(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let event_id = scene.waiting_event(&holder).await;
    for definition in [&scene.fx.membership, &scene.fx.badge] {
        scene
            .set_definition(definition, json!({"issuers": ["shared"]}))
            .await;
    }
    // "partner" still authenticates (the applicant definition authorises it) but issues nothing
    // "Join" issues.
    scene
        .set_definition(&scene.fx.applicant, json!({"issuers": ["partner"]}))
        .await;
    let body =
        json!({"serviceDid": scene.fx.did, "subscriberEventId": event_id, "errorMessage": "no"});
    let message = scene
        .refused(
            "credentials-issuing-failed",
            &body,
            &scene.signed(),
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    assert!(message.contains("\"partner\""), "{message}");
    assert_eq!(scene.fx.event(&event_id).await["state"], "waiting");
    // One definition of the interaction authorising the key is enough.
    scene
        .set_definition(&scene.fx.badge, json!({"issuers": ["partner"]}))
        .await;
    scene
        .accepted("credentials-issuing-failed", &body, &scene.signed())
        .await;
    assert_eq!(scene.fx.event(&event_id).await["state"], "failed");
}

async fn calls_from_outside_the_source_ip_prefixes_are_refused(backend: Backend) {
    let scene = Scene::new(backend).await;
    scene
        .set_definition(
            &scene.fx.badge,
            json!({"source_ip_prefixes": ["10.0.0.0/8"]}),
        )
        .await;
    let holder = Holder::new();
    let body = scene.push_body(&holder, json!([scene.badge("B")]), json!([]));
    let message = scene
        .issue_refused(&body, StatusCode::FORBIDDEN, "forbidden")
        .await;
    assert!(
        message.contains("10.0.0.0/8") && message.contains("127.0.0.1"),
        "{message}"
    );
    // The header is not trusted by default.
    let raw = serde_json::to_vec(&body).unwrap();
    let forwarded = scene
        .call_raw(
            super::support::DASHBOARD,
            "credentials-issued",
            raw,
            &scene.signed(),
            &[("x-forwarded-for", "10.1.2.3")],
        )
        .await;
    expect_refusal(forwarded, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(scene.rows("events").await, 0);
    scene
        .set_definition(
            &scene.fx.badge,
            json!({"source_ip_prefixes": ["10.0.0.0/8", "127.0.0.0/8"]}),
        )
        .await;
    scene.issue(&body).await;
}

async fn a_forwarded_address_counts_only_when_configured(backend: Backend) {
    let db = TestDb::new(backend).await;
    let figment = db
        .figment()
        .merge(Serialized::default("inbound.trust_forwarded_for", true));
    let app = spawn_app_on(db, figment).await;
    let did = app.create_service("Proxied").await;
    let path = |p: &str| format!("/api/v1/services/{did}/{p}");
    let partner = partner_key();
    let created = |response| expect_json(response, StatusCode::CREATED);
    created(
        app.post(
            &path("keys"),
            crate::helpers::ADMIN_TOKEN,
            &json!({"name": "partner", "type": "rsa_public_key",
                "public_key_pem": partner.public_key().to_spki_pem().unwrap()}),
        )
        .await,
    )
    .await;
    let schema = created(
        app.post(
            &path("schemas"),
            crate::helpers::ADMIN_TOKEN,
            &json!({"name": "Pass", "version": "1.0", "attributes": [{"name": "Zone", "type": "text"}]}),
        )
        .await,
    )
    .await;
    let definition = created(
        app.post(
            &path("credential-definitions"),
            crate::helpers::ADMIN_TOKEN,
            &json!({"schema": schema["schema_id"], "attestation": "service",
                "issuers": ["partner"], "source_ip_prefixes": ["10.0.0.0/8"]}),
        )
        .await,
    )
    .await;
    let interaction = created(
        app.post(
            &path("interactions"),
            crate::helpers::ADMIN_TOKEN,
            &json!({"name": "Gate", "media": ["PUSH"],
                "issued_credentials": [definition["credential_id"]]}),
        )
        .await,
    )
    .await;
    let body = serde_json::to_vec(&json!({
        "serviceDid": did, "subscriberConnectDid": Holder::new().did,
        "actionTemplate": interaction["id"],
        "credentials": [{"credentialId": definition["credential_id"],
            "fields": [{"name": "Zone", "value": "B"}]}],
    }))
    .unwrap();
    let (name, signature) = Signer::rsa(partner).signature_header(&body).unwrap();
    let send = |forwarded: &'static str| {
        app.client
            .post(app.url(&format!(
                "/service-backend/v1/service/{did}/webhook-accept/credentials-issued"
            )))
            .header("content-type", "application/json")
            .header(name, &signature)
            .header("x-forwarded-for", forwarded)
            .body(body.clone())
            .send()
    };
    // The last entry is the one the proxy appended; earlier ones are the client's word.
    let spoofed = send("10.9.9.9, 192.0.2.1").await.unwrap();
    expect_refusal(spoofed, StatusCode::FORBIDDEN, "forbidden").await;
    let proxied = send("192.0.2.1, 10.1.2.3").await.unwrap();
    assert_eq!(expect_json(proxied, StatusCode::OK).await["ok"], true);
}

async fn a_token_carries_one_call_and_of_two_racing_calls_one_wins(backend: Backend) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let token = scene.rs256();
    let first = scene.push_body(&holder, json!([scene.badge("One")]), json!([]));
    let answer = scene.accepted("credentials-issued", &first, &token).await;
    // The very same call again (an answer lost on the way): the same answer, nothing issued.
    let retried = scene.call("credentials-issued", &first, &token).await;
    assert_eq!(retried.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(retried, StatusCode::OK).await, answer);
    assert_eq!(scene.credentials_of(&holder).await.len(), 1);
    // Another call with that token is refused.
    let second = scene.push_body(&holder, json!([scene.badge("Two")]), json!([]));
    let message = scene
        .refused(
            "credentials-issued",
            &second,
            &token,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    assert!(message.contains("used before"), "{message}");
    assert_eq!(scene.credentials_of(&holder).await.len(), 1);

    // Two different calls racing with one token: exactly one is accepted.
    let racing = scene.hs256();
    let bodies = ["Three", "Four"]
        .map(|title| scene.push_body(&holder, json!([scene.badge(title)]), json!([])));
    let (a, b) = tokio::join!(
        scene.call("credentials-issued", &bodies[0], &racing),
        scene.call("credentials-issued", &bodies[1], &racing),
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::FORBIDDEN]);
    assert_eq!(scene.credentials_of(&holder).await.len(), 2);
}

async fn expired_tokens_tokens_without_exp_and_tokens_for_another_audience_are_refused(
    backend: Backend,
) {
    let scene = Scene::new(backend).await;
    let holder = Holder::new();
    let body = scene.push_body(&holder, json!([scene.badge("B")]), json!([]));
    let signer = Signer::rsa(scene.partner.clone());
    let ten_minutes_ago = UnixTime::from_secs(UnixTime::now().as_secs() - 600);
    let expired = Claims::new(ten_minutes_ago)
        .with_audience(&scene.fx.did)
        .with_jwt_id("old");
    let other_audience = scene.claims();
    let other_audience = Claims::new(UnixTime::now())
        .with_audience("9s57yZDBqwfZHdodKXTjKH")
        .with_jwt_id(other_audience.jti.unwrap());
    let cases = [
        (Auth::Bearer(signer.clone(), expired), "expired"),
        (Auth::Bearer(signer.clone(), other_audience), "audience"),
    ];
    for (auth, reason) in cases {
        let message = scene
            .refused(
                "credentials-issued",
                &body,
                &auth,
                StatusCode::FORBIDDEN,
                "forbidden",
            )
            .await;
        assert!(message.contains(reason), "{reason}: {message}");
    }
    // Within the 60 s leeway a token that just expired still counts.
    let just_expired = Claims::new(UnixTime::from_secs(UnixTime::now().as_secs() - 330))
        .with_audience(&scene.fx.did)
        .with_lifetime(Duration::from_secs(300))
        .with_body(&serde_json::to_vec(&body).unwrap());
    scene
        .accepted(
            "credentials-issued",
            &body,
            &Auth::Bearer(signer, just_expired),
        )
        .await;
    // A token without `exp`, built by hand.
    let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = base64url(format!(r#"{{"aud":"{}","jti":"no-exp"}}"#, scene.fx.did).as_bytes());
    let secret = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(scene.shared.to_base64().as_bytes())
            .unwrap()
    };
    let mac = hmac_sha256(&secret, format!("{header}.{payload}").as_bytes());
    let token = format!("Bearer {header}.{payload}.{}", base64url(&mac));
    let raw = serde_json::to_vec(&body).unwrap();
    let message = expect_refusal(
        scene
            .call_raw(
                super::support::DASHBOARD,
                "credentials-issued",
                raw,
                &Auth::None,
                &[("authorization", &token)],
            )
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert!(message.contains("exp"), "{message}");
    assert_eq!(scene.credentials_of(&holder).await.len(), 1);
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}
