//! `sourceURL` downloads over real HTTP (docs/protocol.md §2).

use axum::http::StatusCode;
use psi_link::{LinkError, LinkRequest};
use psi_outbound::{
    AddressClass, OutboundClient, OutboundError, OutboundPolicy, SourceError, resolve_source_url,
};
use psi_testkit::{Receiver, Reply};

use crate::common::{self, client, policy_admitting};

const DID: &str = "GbzPqgnU4XsMs7xg9mYJW8";

/// Serves `body` at `/request.json` with `status` to requests that accept JSON, and 406 to others.
async fn serving(status: StatusCode, body: String) -> Receiver {
    let server = Receiver::start().await;
    server.on_call("/request.json", move |call| match call.header("accept") {
        Some("application/json") => Reply::text(status.as_u16(), body.clone()),
        _ => Reply::text(StatusCode::NOT_ACCEPTABLE.as_u16(), ""),
    });
    server
}

async fn resolve(server: &Receiver) -> Result<LinkRequest, SourceError> {
    resolve_source_url(&client_for(server), &server.url("/request.json")).await
}

fn client_for(server: &Receiver) -> OutboundClient {
    client(policy_admitting(&[server]))
}

#[tokio::test]
async fn a_valid_request_object_is_returned_as_the_link_request() {
    let body = format!(
        r#"{{"id":"7","actionId":"100","serviceDid":"{DID}","future":[1],
            "preparedCredentials":[{{"credentialId":"{DID}:3:CL:200:tag",
            "attributes":[{{"name":"Name","value":"Alice"}}]}}],
            "callback":"https://shop.example/done"}}"#
    );
    let server = serving(StatusCode::OK, body).await;
    let request = resolve(&server).await.unwrap();
    let mut expected = LinkRequest {
        id: Some("7".into()),
        action_id: Some("100".into()),
        service_did: Some(DID.into()),
        callback: Some("https://shop.example/done".into()),
        ..LinkRequest::default()
    };
    expected.set_prefilled(&format!("{DID}:3:CL:200:tag"), "Name", "Alice");
    assert_eq!(request, expected);
    assert_eq!(server.calls().len(), 1);
}

#[tokio::test]
async fn the_downloaded_objects_own_source_url_is_ignored_and_never_fetched() {
    let second = serving(
        StatusCode::OK,
        format!(r#"{{"actionId":"2","serviceDid":"{DID}"}}"#),
    )
    .await;
    let first = serving(
        StatusCode::OK,
        format!(
            r#"{{"actionId":"1","serviceDid":"{DID}","sourceURL":"{}"}}"#,
            second.url("/request.json")
        ),
    )
    .await;
    // The client may reach both servers: only the rule stops the second download.
    let client = client(policy_admitting(&[&first, &second]));
    let request = resolve_source_url(&client, &first.url("/request.json"))
        .await
        .unwrap();
    assert_eq!(request.action_id.as_deref(), Some("1"));
    assert_eq!(request.source_url, None);
    assert_eq!((first.calls().len(), second.calls().len()), (1, 0));

    // Whatever it holds: a sourceURL that would fail validation is ignored too.
    let odd = serving(
        StatusCode::OK,
        format!(r#"{{"actionId":"3","serviceDid":"{DID}","sourceURL":"file:///etc/passwd"}}"#),
    )
    .await;
    assert_eq!(resolve(&odd).await.unwrap().action_id.as_deref(), Some("3"));
}

#[tokio::test]
async fn a_non_2xx_status_is_an_error_with_the_status() {
    let server = serving(StatusCode::NOT_FOUND, "{}".into()).await;
    let err = resolve(&server).await.unwrap_err();
    assert_eq!(
        err,
        SourceError::Status {
            status: 404,
            reason: None
        }
    );
    assert_eq!(err.code(), "source_status");
    assert_eq!(err.to_string(), "the sourceURL answered HTTP 404");

    // The reason an error body gives is kept, without control characters and cut short.
    let body = r#"{"error":{"code":"gone","message":"this one-time link has already been used\u001b[2J"}}"#;
    let server = serving(StatusCode::GONE, body.into()).await;
    let err = resolve(&server).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the sourceURL answered HTTP 410: this one-time link has already been used[2J"
    );
    let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(1000));
    let server = serving(StatusCode::BAD_REQUEST, long).await;
    match resolve(&server).await.unwrap_err() {
        SourceError::Status { reason, .. } => {
            assert_eq!(reason.unwrap().len(), psi_outbound::MAX_REASON_CHARS)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_error() {
    for body in ["<html>nope</html>", "", "{\"actionId\":"] {
        let server = serving(StatusCode::OK, body.into()).await;
        let err = resolve(&server).await.unwrap_err();
        assert!(
            matches!(err, SourceError::NotJson { .. }),
            "{body:?}: {err:?}"
        );
        assert_eq!(err.code(), "source_not_json");
    }
}

#[tokio::test]
async fn json_that_is_not_an_object_is_an_error() {
    for body in [
        r#"["1","GbzPqgnU4XsMs7xg9mYJW8"]"#,
        "\"text\"",
        "42",
        "null",
    ] {
        let server = serving(StatusCode::OK, body.into()).await;
        assert_eq!(
            resolve(&server).await.unwrap_err(),
            SourceError::NotAnObject,
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_invalid_request_object_is_an_error_with_the_codecs_reason() {
    let missing = serving(StatusCode::OK, format!(r#"{{"serviceDid":"{DID}"}}"#)).await;
    let err = resolve(&missing).await.unwrap_err();
    assert_eq!(
        err,
        SourceError::InvalidRequest(LinkError::MissingField { field: "actionId" })
    );
    assert_eq!(err.code(), "source_invalid_request");

    let bad_did = serving(
        StatusCode::OK,
        r#"{"actionId":"1","serviceDid":"x"}"#.into(),
    )
    .await;
    assert_eq!(
        resolve(&bad_did).await.unwrap_err(),
        SourceError::InvalidRequest(LinkError::MalformedServiceDid { did: "x".into() })
    );

    let wrong_type = serving(
        StatusCode::OK,
        format!(r#"{{"actionId":100,"serviceDid":"{DID}"}}"#),
    )
    .await;
    let err = resolve(&wrong_type).await.unwrap_err();
    assert!(
        matches!(&err, SourceError::InvalidRequest(LinkError::InvalidField { detail }) if detail.contains("actionId") || detail.contains("string")),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_download_asks_for_json_and_is_guarded_like_every_call() {
    let body = format!(r#"{{"actionId":"1","serviceDid":"{DID}"}}"#);
    let server = serving(StatusCode::OK, body).await;
    let url = server.url("/request.json");

    let plain = client_for(&server).get(&url).await.unwrap();
    assert_eq!(plain.status, StatusCode::NOT_ACCEPTABLE);
    resolve(&server).await.unwrap();

    let err = resolve_source_url(&client(OutboundPolicy::default()), &url)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            SourceError::Fetch(OutboundError::RefusedAddress {
                class: AddressClass::Loopback,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "refused_address");

    let err = resolve_source_url(&client_for(&server), "file:///etc/passwd")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SourceError::Fetch(OutboundError::RefusedScheme {
            scheme: "file".into()
        })
    );

    let small = common::client(OutboundPolicy {
        max_body_bytes: 8,
        ..policy_admitting(&[&server])
    });
    assert_eq!(
        resolve_source_url(&small, &url).await.unwrap_err().code(),
        "body_too_large"
    );
    assert_eq!(server.calls().len(), 3);
}
