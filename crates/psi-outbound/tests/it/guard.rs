//! The address guard over real HTTP: literal addresses, names resolving to loopback, exceptions,
//! and redirects.

use axum::http::{HeaderMap, StatusCode};
use psi_outbound::header::{AUTHORIZATION, HeaderValue};
use psi_outbound::{AddressClass, AllowedHost, OutboundError, OutboundPolicy};
use psi_testkit::{Receiver, Reply};

use crate::common::{self, client, policy_admitting};

fn hello() -> Reply {
    Reply::text(200, "hello")
}

/// A receiver answering "hello" at `/`.
async fn saying_hello() -> Receiver {
    let server = Receiver::start().await;
    server.on("/", hello());
    server
}

/// The refusal of a URL naming 127.0.0.1.
fn refused_127_0_0_1() -> OutboundError {
    OutboundError::RefusedAddress {
        host: "127.0.0.1".into(),
        ip: "127.0.0.1".parse().unwrap(),
        class: AddressClass::Loopback,
    }
}

fn assert_refused(err: &OutboundError, expected: AddressClass) {
    match err {
        OutboundError::RefusedAddress { class, .. } => assert_eq!(*class, expected, "{err}"),
        other => panic!("expected a refused {expected} address, got {other:?}"),
    }
}

#[tokio::test]
async fn loopback_is_refused_by_default_and_the_server_sees_nothing() {
    let server = saying_hello().await;
    let client = client(OutboundPolicy::default());
    let err = client.get(&server.url("/")).await.unwrap_err();
    assert_eq!(err, refused_127_0_0_1());
    assert_eq!(err.code(), "refused_address");
    assert!(err.is_refusal());
    assert_eq!(server.calls().len(), 0);
}

#[tokio::test]
async fn a_host_name_that_resolves_to_loopback_is_refused_at_resolution() {
    let server = saying_hello().await;
    let url = format!("http://localhost:{}/", server.addr().port());
    let err = client(OutboundPolicy::default())
        .get(&url)
        .await
        .unwrap_err();
    match &err {
        OutboundError::RefusedAddress { host, ip, class } => {
            assert_eq!(host, "localhost");
            assert!(ip.is_loopback(), "{ip}");
            assert_eq!(*class, AddressClass::Loopback);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(server.calls().len(), 0);
}

#[tokio::test]
async fn allow_loopback_admits_loopback_addresses_and_names() {
    let server = saying_hello().await;
    let client = client(OutboundPolicy {
        allow_loopback: true,
        ..OutboundPolicy::default()
    });
    for url in [
        server.url("/"),
        format!("http://localhost:{}/", server.addr().port()),
    ] {
        let response = client.get(&url).await.unwrap();
        assert_eq!(response.status, StatusCode::OK, "{url}");
        assert_eq!(&response.body[..], b"hello");
    }
    assert_eq!(server.calls().len(), 2);
}

#[tokio::test]
async fn a_socket_exception_admits_that_port_and_no_other() {
    let allowed = saying_hello().await;
    let other = saying_hello().await;
    let client = client(policy_admitting(&[&allowed]));
    assert_eq!(client.get(&allowed.url("/")).await.unwrap().body, "hello");
    let err = client.get(&other.url("/")).await.unwrap_err();
    assert_refused(&err, AddressClass::Loopback);
    // A name resolving to the allowed address is not the address: the port is unknown there.
    let by_name = format!("http://localhost:{}/", allowed.addr().port());
    assert_refused(
        &client.get(&by_name).await.unwrap_err(),
        AddressClass::Loopback,
    );
    assert_eq!((allowed.calls().len(), other.calls().len()), (1, 0));
}

#[tokio::test]
async fn a_url_prefix_exception_admits_urls_under_it_and_no_other_path_on_any_hop() {
    let server = Receiver::start().await;
    server.on("/hooks/ok", hello());
    server.on("/api/secret", Reply::text(200, "secret"));
    server.on("/hooks/out", Reply::redirect(307, "/api/secret"));
    let prefix: AllowedHost = server.url("/hooks/").parse().unwrap();
    assert!(matches!(prefix, AllowedHost::UrlPrefix(_)), "{prefix:?}");
    let client = client(OutboundPolicy {
        allowed_hosts: vec![prefix],
        ..OutboundPolicy::default()
    });
    assert_eq!(
        client.get(&server.url("/hooks/ok")).await.unwrap().body,
        "hello"
    );
    for outside in [
        "/api/secret",
        "/hooks/../api/secret",
        "/hooks/%2e%2e/api/secret",
        "/hooksx",
    ] {
        let err = client.get(&server.url(outside)).await.unwrap_err();
        assert_eq!(err, refused_127_0_0_1(), "{outside}");
    }
    // The redirect hop is checked too: the server sees the first call, never the second.
    let err = client.get(&server.url("/hooks/out")).await.unwrap_err();
    assert_eq!(err, refused_127_0_0_1());
    assert_eq!(server.calls().len(), 2);
}

#[tokio::test]
async fn post_json_sends_the_exact_body_with_json_content_type_and_the_given_headers() {
    let server = Receiver::start().await;
    server.on_call("/hook", |call| {
        let header = |name: &str| call.header(name).unwrap_or_default().to_owned();
        let body = std::str::from_utf8(&call.body).expect("a UTF-8 body");
        Reply::text(
            202,
            format!("{}|{}|{body}", header("content-type"), header("user-agent")),
        )
        .with_header("x-seen-signature", &header("x-body-signature"))
    });
    let client = client(policy_admitting(&[&server]));
    let mut headers = HeaderMap::new();
    headers.insert("x-body-signature", HeaderValue::from_static("c2ln"));
    let body = r#"{ "b":1,"a" : "ü" }"#;
    let response = client
        .post_json(&server.url("/hook"), body, headers, None)
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::ACCEPTED);
    assert!(response.is_success());
    assert_eq!(response.headers["x-seen-signature"], "c2ln");
    let expected = format!("application/json|psi/{}|{body}", env!("CARGO_PKG_VERSION"));
    assert_eq!(response.body, expected);
    assert!(response.duration > std::time::Duration::ZERO);
}

#[tokio::test]
async fn a_redirect_from_an_admitted_server_to_a_refused_address_is_not_followed() {
    let target = saying_hello().await;
    let to_literal = target.url("/");
    let to_name = format!("http://localhost:{}/", target.addr().port());
    let redirector = Receiver::start().await;
    redirector.on("/literal", Reply::redirect(307, &to_literal));
    redirector.on("/name", Reply::redirect(303, &to_name));
    let client = client(policy_admitting(&[&redirector]));

    let err = client.get(&redirector.url("/literal")).await.unwrap_err();
    assert_eq!(err, refused_127_0_0_1());
    let err = client.get(&redirector.url("/name")).await.unwrap_err();
    assert!(
        matches!(&err, OutboundError::RefusedAddress { host, class: AddressClass::Loopback, .. } if host == "localhost"),
        "{err:?}"
    );
    assert_eq!(redirector.calls().len(), 2);
    assert_eq!(target.calls().len(), 0);
}

#[tokio::test]
async fn a_redirect_to_a_scheme_outside_the_policy_is_refused() {
    let redirector = Receiver::start().await;
    redirector.on("/", Reply::redirect(303, "ftp://files.example/x"));
    let err = client(policy_admitting(&[&redirector]))
        .get(&redirector.url("/"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        OutboundError::RefusedScheme {
            scheme: "ftp".into()
        }
    );
}

#[tokio::test]
async fn credentials_and_the_referring_url_do_not_follow_a_redirect_to_another_host() {
    let target = Receiver::start().await;
    target.on_call("/", |call| {
        let header = |name: &str| call.headers.get(name);
        Reply::text(
            200,
            format!(
                "authorization={:?} referer={:?}",
                header("authorization"),
                header("referer")
            ),
        )
    });
    let next = format!("http://localhost:{}/", target.addr().port());
    let redirector = Receiver::start().await;
    redirector.on("/secret-path", Reply::redirect(307, &next));
    let client = client(OutboundPolicy {
        allow_loopback: true,
        ..OutboundPolicy::default()
    });
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
    let response = client
        .post_json(&redirector.url("/secret-path"), "{}", headers, None)
        .await
        .unwrap();
    assert_eq!(response.body, "authorization=None referer=None");
}

#[tokio::test]
async fn internal_literal_addresses_are_refused_before_connecting() {
    // A live server on 127.0.0.1 shows that the IPv4-mapped and "this host" forms of its
    // address never reach it; the others would hang or fail to connect if they were tried,
    // which would give a different error than a refusal.
    let server = saying_hello().await;
    let port = server.addr().port();
    let cases = [
        (format!("http://10.0.0.1:{port}/"), AddressClass::Private),
        ("http://172.16.5.4/".to_owned(), AddressClass::Private),
        ("http://192.168.1.1/".to_owned(), AddressClass::Private),
        ("http://100.64.0.1/".to_owned(), AddressClass::SharedCgnat),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            AddressClass::LinkLocal,
        ),
        (format!("http://[::1]:{port}/"), AddressClass::Loopback),
        ("http://[fc00::1]/".to_owned(), AddressClass::UniqueLocal),
        ("http://[fe80::1]/".to_owned(), AddressClass::LinkLocal),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            AddressClass::Loopback,
        ),
        (format!("http://0.0.0.0:{port}/"), AddressClass::Unspecified),
        (format!("http://2130706433:{port}/"), AddressClass::Loopback),
        ("http://224.0.0.1/".to_owned(), AddressClass::Multicast),
        ("http://192.0.2.10/".to_owned(), AddressClass::Documentation),
    ];
    let client = client(OutboundPolicy {
        allow_private: true,
        ..OutboundPolicy::default()
    });
    let strict = common::client(OutboundPolicy::default());
    for (url, class) in cases {
        let err = strict.get(&url).await.unwrap_err();
        assert_refused(&err, class);
        // Private networks admitted: link-local, loopback and the rest stay refused.
        if !matches!(
            class,
            AddressClass::Private | AddressClass::SharedCgnat | AddressClass::UniqueLocal
        ) {
            assert_refused(&client.get(&url).await.unwrap_err(), class);
        }
    }
    assert_eq!(server.calls().len(), 0);
}

#[tokio::test]
async fn an_ipv6_loopback_server_is_reached_only_when_admitted() {
    let server = Receiver::start_on("[::1]:0")
        .await
        .expect("an IPv6 loopback address (::1) to listen on");
    server.on("/", hello());
    let url = server.url("/");
    assert_refused(
        &client(OutboundPolicy::default())
            .get(&url)
            .await
            .unwrap_err(),
        AddressClass::Loopback,
    );
    assert_eq!(server.calls().len(), 0);
    let response = client(policy_admitting(&[&server]))
        .get(&url)
        .await
        .unwrap();
    assert_eq!(response.body, "hello");
    assert_eq!(server.calls().len(), 1);
}
