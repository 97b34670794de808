//! Redirect, size and time limits, and transport failures, over real HTTP.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use psi_outbound::{OutboundError, OutboundPolicy};
use psi_testkit::{Receiver, Reply};

use crate::common::{self, client, policy_admitting};

/// A receiver where `/hop/{n}` redirects to `/hop/{n-1}`, for n up to 4, and `/hop/0` answers
/// "arrived".
async fn hops() -> Receiver {
    let server = Receiver::start().await;
    server.on("/hop/0", Reply::text(200, "arrived"));
    for n in 1..=4 {
        server.on(
            &format!("/hop/{n}"),
            Reply::redirect(303, &format!("/hop/{}", n - 1)),
        );
    }
    server
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit_and_one_more_is_an_error() {
    let server = hops().await;
    let client = client(policy_admitting(&[&server]));
    assert_eq!(
        client.get(&server.url("/hop/3")).await.unwrap().body,
        "arrived"
    );
    let err = client.get(&server.url("/hop/4")).await.unwrap_err();
    assert_eq!(
        err,
        OutboundError::TooManyRedirects {
            origin: format!("http://{}", server.addr()),
            max: 3,
        }
    );
    assert_eq!(err.code(), "too_many_redirects");
    // 4 + the 4 hops of the second call, which stopped before requesting /hop/0.
    assert_eq!(server.calls().len(), 4 + 4);

    let no_redirects = common::client(OutboundPolicy {
        max_redirects: 0,
        ..policy_admitting(&[&server])
    });
    assert_eq!(
        no_redirects
            .get(&server.url("/hop/1"))
            .await
            .unwrap_err()
            .code(),
        "too_many_redirects"
    );
}

const LIMIT: usize = 64 * 1024;

fn small_limit(server: &Receiver) -> OutboundPolicy {
    OutboundPolicy {
        max_body_bytes: LIMIT,
        ..policy_admitting(&[server])
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_an_error_and_one_at_the_limit_is_read() {
    let server = Receiver::start().await;
    for n in [LIMIT, LIMIT + 1] {
        server.on(&format!("/size/{n}"), Reply::text(200, "x".repeat(n)));
    }
    let client = client(small_limit(&server));
    let at_limit = client
        .get(&server.url(&format!("/size/{LIMIT}")))
        .await
        .unwrap();
    assert_eq!(at_limit.body.len(), LIMIT);
    let err = client
        .get(&server.url(&format!("/size/{}", LIMIT + 1)))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        OutboundError::BodyTooLarge {
            origin: format!("http://{}", server.addr()),
            status: 200,
            limit: LIMIT,
        }
    );
    assert_eq!(err.code(), "body_too_large");
}

#[tokio::test]
async fn an_endless_body_without_a_length_stops_at_the_limit() {
    // Were the body buffered before the check, this call would never end.
    let server = Receiver::start().await;
    server.on(
        "/",
        Reply::streamed(200, || {
            let chunk = Bytes::from(vec![b'x'; 8192]);
            Body::from_stream(futures_util::stream::repeat_with(move || {
                Ok::<_, Infallible>(chunk.clone())
            }))
        }),
    );
    let err = tokio::time::timeout(
        Duration::from_secs(5),
        client(small_limit(&server)).get(&server.url("/")),
    )
    .await
    .expect("the read stops at the limit")
    .unwrap_err();
    assert!(
        matches!(
            err,
            OutboundError::BodyTooLarge {
                limit: LIMIT,
                status: 200,
                ..
            }
        ),
        "{err:?}"
    );
}

/// A receiver where `/slow-headers` answers after 5 s, and `/slow-body` sends its headers at
/// once, then one byte a second.
async fn slow() -> Receiver {
    let server = Receiver::start().await;
    server.on(
        "/slow-headers",
        Reply::text(200, "late").after(Duration::from_secs(5)),
    );
    server.on(
        "/slow-body",
        Reply::streamed(200, || {
            let trickle = futures_util::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Some((Ok::<_, Infallible>(Bytes::from_static(b"x")), ()))
            });
            Body::from_stream(trickle)
        }),
    );
    server
}

#[tokio::test]
async fn a_slow_server_times_out_whether_headers_or_body_are_late() {
    let server = slow().await;
    let timeout = Duration::from_millis(300);
    let client = client(OutboundPolicy {
        timeout,
        ..policy_admitting(&[&server])
    });
    for path in ["/slow-headers", "/slow-body"] {
        let started = Instant::now();
        let err = client.get(&server.url(path)).await.unwrap_err();
        assert_eq!(
            err,
            OutboundError::Timeout {
                origin: format!("http://{}", server.addr()),
                after: timeout,
            },
            "{path}"
        );
        assert!(started.elapsed() < Duration::from_secs(3), "{path}");
    }
}

#[tokio::test]
async fn a_per_call_timeout_replaces_the_policy_one() {
    let server = slow().await;
    let client = client(policy_admitting(&[&server]));
    let err = client
        .post_json(
            &server.url("/slow-headers"),
            "{}",
            HeaderMap::new(),
            Some(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, OutboundError::Timeout { after, .. } if after == Duration::from_millis(200)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_and_an_unknown_name_a_dns_error() {
    // Not a server: a port bound and released, so nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let client = client(OutboundPolicy {
        allowed_hosts: vec![closed.to_string().parse().unwrap()],
        ..OutboundPolicy::default()
    });
    let err = client.get(&format!("http://{closed}/")).await.unwrap_err();
    match &err {
        OutboundError::Connect { origin, detail } => {
            assert_eq!(origin, &format!("http://{closed}"));
            assert!(detail.to_lowercase().contains("refused"), "{detail}");
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
    assert!(!err.is_refusal());

    // `.invalid` never resolves (RFC 2606).
    let err = client
        .get("http://no-such-host.invalid/x")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OutboundError::Dns { host, .. } if host == "no-such-host.invalid"),
        "{err:?}"
    );
    assert_eq!(err.code(), "dns_failure");
}

#[tokio::test]
async fn error_messages_name_the_origin_but_never_the_path_or_query() {
    let server = slow().await;
    let client = client(OutboundPolicy {
        timeout: Duration::from_millis(100),
        ..policy_admitting(&[&server])
    });
    let err = client
        .get(&server.url("/slow-headers?token=s3cret"))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&server.addr().to_string()), "{message}");
    assert!(
        !message.contains("s3cret") && !message.contains("slow"),
        "{message}"
    );
}
