//! The dashboard's **Events** screen over real HTTP: the list (newest first, 50 a page, the
//! API's filters), its live stream, and an event's page with its log, credentials and calls.

use std::time::Duration;

use psi_server::db::Backend as DbBackend;
use psi_server::db::events::{
    self, CallKind, EventState, LogEntry, LogKind, NewEvent, Settlement, WebhookCall,
};
use psi_server::db::operators::Role;
use psi_server::ids::{EventId, HolderDid, InstanceId, InteractionId};
use reqwest::StatusCode;

use crate::backend_tests;
use crate::dashboard::{Session, answer, browser, contains_all, person};
use crate::demo_fixture::{Demo, demo};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json, spawn_app};

backend_tests!(
    the_list_shows_events_newest_first_with_the_apis_filters_and_pages,
    an_events_page_shows_its_log_credentials_and_calls,
    the_live_stream_says_when_a_newer_event_arrives,
    pages_stay_fast_with_100_000_events,
);

fn events(demo: &Demo) -> String {
    format!("/dashboard/services/{}/events", demo.did)
}

/// The holder DID of holder `n`.
fn holder(n: u8) -> HolderDid {
    HolderDid::of_key(&[n; 32])
}

/// Stores an event of the demo interaction created at `at` (unix ms), settled in `state` with
/// `log` and `calls`; returns its id.
async fn event(
    app: &TestApp,
    demo: &Demo,
    at: i64,
    n: u8,
    state: EventState,
    log: &[LogEntry],
    calls: &[WebhookCall],
) -> String {
    let scope = app.scope(&demo.did).await;
    let db = &app.app.state().db;
    let id = EventId::generate();
    let holder = holder(n);
    let (interaction, instance) = (
        InteractionId::from(demo.interaction.as_str()),
        InstanceId::from(demo.instance.as_str()),
    );
    let mut tx = db.begin().await.unwrap();
    let new = NewEvent {
        id: &id,
        interaction_id: &interaction,
        instance_id: &instance,
        holder_did: &holder,
        callback: None,
        session: None,
        now: at,
    };
    let first = [LogEntry {
        at,
        kind: LogKind::Started,
        detail: "started".into(),
    }];
    events::start(&mut tx, &scope, &new, &first).await.unwrap();
    let settlement = Settlement {
        state,
        message: (state == EventState::Failed).then_some("The service said no."),
        first_seq: 1,
        log,
        calls,
        now: at + 1,
    };
    events::settle(&mut tx, &scope, &id, &settlement)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id.to_string()
}

async fn the_list_shows_events_newest_first_with_the_apis_filters_and_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let viewer = Session::sign_in(&app, "vic").await;
    let html = viewer.page(&events(&demo)).await;
    assert!(html.contains("No events yet"), "{html}");

    let base = 1_700_000_000_000;
    let mut ids = Vec::new();
    for n in 0..55u8 {
        let state = if n % 5 == 0 {
            EventState::Failed
        } else {
            EventState::Completed
        };
        ids.push(event(&app, &demo, base + i64::from(n) * 1000, n, state, &[], &[]).await);
    }
    let html = viewer.page(&events(&demo)).await;
    for label in [">Events<", "Newer events", "Holder DID", "Next page"] {
        assert!(html.contains(label), "{label}: {html}");
    }
    assert!(html.contains("Join the demo club"));
    // Newest first, 50 a page: the newest is there, the five oldest are not.
    let newest = html.find(&ids[54]).expect("the newest event");
    assert!(newest < html.find(&ids[53]).expect("the one before"));
    assert!(!html.contains(&ids[4]), "the oldest is on the next page");
    assert!(html.contains(holder(54).as_str()));
    assert!(html.contains("data-live="));
    let next = html
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|href| href.contains("cursor="))
        .expect("a next page")
        .replace("&amp;", "&");
    let second = viewer.page(&next).await;
    assert!(second.contains(&ids[0]) && second.contains(&ids[4]));
    assert!(!second.contains(&ids[5]) && !second.contains("data-live="));

    // The API's filters: state, and interaction (as the interaction page links).
    let failed = viewer
        .page(&format!("{}?state=failed", events(&demo)))
        .await;
    assert!(failed.contains(&ids[50]) && !failed.contains(&ids[51]));
    let of = viewer
        .page(&format!(
            "{}?interaction={}",
            events(&demo),
            demo.interaction
        ))
        .await;
    assert!(of.contains("Events of Join the demo club") && of.contains(&ids[54]));
    let none = viewer
        .page(&format!("{}?interaction=nothing-here", events(&demo)))
        .await;
    assert!(none.contains("No events match these filters"), "{none}");
    let bad = viewer.get(&format!("{}?state=done", events(&demo))).await;
    assert!(
        answer(bad, StatusCode::BAD_REQUEST)
            .await
            .contains("`state` must be")
    );

    // The API lists the same events.
    let api = expect_json(
        app.get(
            &format!("/api/v1/services/{}/events?state=failed", demo.did),
            ADMIN_TOKEN,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(api["data"].as_array().unwrap().len(), 11);
    app.app.stop().await.unwrap();
}

async fn an_events_page_shows_its_log_credentials_and_calls(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let at = 1_700_000_000_000;
    let entry = |kind, detail: &str| LogEntry {
        at: at + 1,
        kind,
        detail: detail.to_owned(),
    };
    let log = [
        entry(LogKind::CredentialsReceived, "presented: Demo Member"),
        entry(LogKind::Verified, "Demo Member verified"),
        entry(LogKind::WebhookCalled, "interaction webhook: 500"),
        entry(LogKind::Issued, "Demo Membership issued"),
        entry(LogKind::Failed, "the webhook failed"),
    ];
    let calls = [WebhookCall {
        id: "call-1".into(),
        kind: CallKind::Interaction,
        url: "https://hooks.example.com/interaction".into(),
        status: Some(500),
        duration_ms: 42,
        response_excerpt: "<b>boom</b>".into(),
        error: Some("the webhook answered 500".into()),
        at: at + 1,
    }];
    let id = event(&app, &demo, at, 7, EventState::Failed, &log, &calls).await;

    let viewer = Session::sign_in(&app, "vic").await;
    let html = viewer.page(&format!("{}/{id}", events(&demo))).await;
    contains_all(
        &html,
        &[
            "Event of Join the demo club",
            "The service said no.",
            holder(7).as_str(),
            "credentials_received",
            "presented: Demo Member",
            "Demo Membership issued",
            "the webhook failed",
            "https://hooks.example.com/interaction",
            ">500<",
            "42 ms",
            "&#60;b&#62;boom&#60;/b&#62;",
            "the webhook answered 500",
            "Webhook and extension calls",
            "Shared",
            "Issued",
            "2023-11-14 22:13:20 UTC",
        ],
    );
    assert!(!html.contains("<b>boom"), "escaped");
    // The list links to it.
    assert!(
        viewer
            .page(&events(&demo))
            .await
            .contains(&format!("/events/{id}\""))
    );
    let missing = viewer.get(&format!("{}/nothing", events(&demo))).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // Another service's person sees none of it.
    let other = app.create_service("Other").await;
    person(&app, "olga", Some((&other, Role::Owner))).await;
    let olga = Session::sign_in(&app, "olga").await;
    for path in [events(&demo), format!("{}/{id}", events(&demo))] {
        assert_eq!(olga.get(&path).await.status(), StatusCode::NOT_FOUND);
    }
    let live = format!("{}/live", events(&demo));
    assert_eq!(olga.get(&live).await.status(), StatusCode::NOT_FOUND);
    // Signed out: to the sign-in page.
    let anonymous = browser().get(app.url(&events(&demo))).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    app.app.stop().await.unwrap();
}

async fn the_live_stream_says_when_a_newer_event_arrives(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let first = event(&app, &demo, 1_000, 1, EventState::Completed, &[], &[]).await;
    let viewer = Session::sign_in(&app, "vic").await;
    let html = viewer.page(&events(&demo)).await;
    let live = format!("{}/live?last={first}", events(&demo));
    assert!(html.contains(&live), "{html}");

    let mut stream = viewer.get(&live).await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    // Nothing new yet: no `changed` within a poll.
    let quiet = tokio::time::timeout(Duration::from_millis(2500), stream.chunk()).await;
    if let Ok(chunk) = quiet {
        let chunk = chunk.unwrap().unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&chunk).contains("changed"),
            "{chunk:?}"
        );
    }
    let newer = event(&app, &demo, 2_000, 2, EventState::Waiting, &[], &[]).await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("event: changed") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("a change within 10 s")
            .unwrap()
            .expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains(&newer), "{seen}");
    app.app.stop().await.unwrap();
}

/// The list's first and a deep page, and a filtered one, with 100,000 events: each a page read
/// in index order. The time is the whole round trip over loopback (the server's share is less).
async fn pages_stay_fast_with_100_000_events(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let state = app.app.state();
    let id = match state.db.backend() {
        DbBackend::Postgres => "lpad(to_hex(n), 32, '0')",
        DbBackend::Sqlite => "printf('%032x', n)",
    };
    let sql = format!(
        "WITH RECURSIVE g (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 100000) \
         INSERT INTO events (id, service_id, interaction_id, instance_id, holder_did, state, \
         created_at, updated_at) \
         SELECT {id}, (SELECT id FROM services WHERE did = $1), $2, 'instance', 'holder' || (n % 1000), \
         CASE n % 4 WHEN 0 THEN 'started' WHEN 1 THEN 'waiting' WHEN 2 THEN 'completed' \
         ELSE 'failed' END, n, n FROM g"
    );
    sqlx::query(&sql)
        .bind(&demo.did)
        .bind(&demo.interaction)
        .execute(state.db.pool())
        .await
        .unwrap();
    sqlx::query("ANALYZE")
        .execute(state.db.pool())
        .await
        .unwrap();
    let viewer = Session::sign_in(&app, "vic").await;
    let html = viewer.page(&events(&demo)).await;
    let cursor = html
        .split("cursor=")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let paths = [
        events(&demo),
        format!("{}?cursor={cursor}", events(&demo)),
        format!(
            "{}?state=failed&interaction={}",
            events(&demo),
            demo.interaction
        ),
        format!("{}/{:032x}", events(&demo), 50_000),
    ];
    for path in paths {
        let mut times = Vec::new();
        for _ in 0..50 {
            let started = std::time::Instant::now();
            viewer.page(&path).await;
            times.push(started.elapsed());
        }
        times.sort();
        let (median, max) = (times[times.len() / 2], times[times.len() - 1]);
        println!("{path}: median {median:?}, max {max:?}");
        assert!(median < Duration::from_millis(50), "{path}: {median:?}");
    }
    app.app.stop().await.unwrap();
}
