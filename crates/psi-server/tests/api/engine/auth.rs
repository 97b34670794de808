//! How webhook calls are authenticated (docs/protocol.md §4): `X-Body-Signature`, or Bearer tokens signed
//! RS256 with a key pair or HS256 with a SHA secret, verified by the receiver with psi-webhook.

use psi_webhook::{PublicKey, Verifier};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{Auth, Fixture, Holder, authenticate_with};
use crate::backend_tests;
use crate::helpers::{Backend, expect_json};

backend_tests!(
    a_bearer_rs256_token_names_the_service_the_call_and_the_body,
    a_bearer_hs256_token_is_signed_with_the_sha_secret,
    a_receiver_with_another_key_refuses_the_call_and_the_event_fails,
);

/// Runs "Join" with its webhook authenticated by Bearer tokens signed with `key`, the receiver
/// verifying them with `verifier`; returns the outcome and the `jti` of the token the receiver
/// saw.
async fn join_with_bearer(fx: &Fixture, key: &str, verifier: Verifier) -> (Value, Option<String>) {
    let auth = Auth::Bearer {
        verifier,
        issuer: fx.did.clone(),
    };
    authenticate_with(&fx.receiver, auth.clone());
    fx.patch_interaction(
        &fx.join,
        json!({"webhook": fx.webhook("/hook", key, "bearer")}),
    )
    .await;
    fx.issue_membership("1");
    let outcome = fx.join(&Holder::new(), "Ada").await;
    assert_eq!(outcome["state"], "completed", "{outcome}");
    fx.receiver.assert_none_refused();
    let seen = fx.receiver.calls_to("/hook").remove(0);
    assert!(!seen.headers.contains_key("x-body-signature"));
    assert!(
        seen.headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    let claims = auth
        .verify(&seen)
        .unwrap()
        .expect("a Bearer token's claims");
    (outcome, claims.jti)
}

async fn a_bearer_rs256_token_names_the_service_the_call_and_the_body(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let keys = expect_json(
        fx.app
            .get(
                &format!("/api/v1/services/{}/keys/default", fx.did),
                &fx.token,
            )
            .await,
        StatusCode::OK,
    )
    .await;
    let public = PublicKey::from_pem(keys["public_pem"].as_str().unwrap()).unwrap();
    let (outcome, jti) = join_with_bearer(&fx, "default", Verifier::rsa(public)).await;
    // The token's jti is the call's id, as the management API records it.
    let event = fx.event(outcome["event_id"].as_str().unwrap()).await;
    assert_eq!(jti.as_deref(), event["calls"][0]["id"].as_str());
}

async fn a_bearer_hs256_token_is_signed_with_the_sha_secret(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let secret = fx.sha_secret("shared").await;
    let (_, jti) = join_with_bearer(&fx, "shared", Verifier::shared_secret(secret)).await;
    assert!(jti.is_some());
}

async fn a_receiver_with_another_key_refuses_the_call_and_the_event_fails(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let stranger = psi_webhook::PrivateKey::generate().unwrap().public_key();
    authenticate_with(&fx.receiver, Auth::Signature(stranger));
    fx.issue_membership("1");
    let outcome = fx.join(&Holder::new(), "Ada").await;
    assert_eq!(outcome["state"], "failed");
    assert_eq!(
        outcome["message"],
        "the service's webhook answered HTTP 401"
    );
    assert!(fx.receiver.calls_to("/hook").is_empty());
}
