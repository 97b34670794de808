//! Concurrent writers of every kind at once, while the delivery workers record thousands of
//! attempts: on SQLite (one writer at a time) they queue, none fails.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use psi_testkit::Receiver;
use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::engine::support::Holder;
use crate::helpers::{ADMIN_TOKEN, Backend};
use crate::inbound::support::Scene;
use crate::notifications::delivery::enqueue_revoked;

backend_tests!(sixteen_writers_of_each_kind_all_succeed_while_notifications_are_delivered);

/// Writers of each kind.
const WRITERS: usize = 16;
/// Notifications queued before the writers start.
const NOTIFICATIONS: usize = 2000;

async fn sixteen_writers_of_each_kind_all_succeed_while_notifications_are_delivered(
    backend: Backend,
) {
    let scene = Scene::new(backend).await;
    let app = &scene.fx.app;
    let did = scene.fx.did.clone();
    let receiver = Receiver::start().await;
    app.create_endpoint(&did, &receiver.url("/hook"), json!({}))
        .await;
    let scope = app.scope(&did).await;
    let mut messages = Vec::new();
    for n in 0..NOTIFICATIONS {
        messages.push(enqueue_revoked(app, &scope, &format!("jti-{n}")).await);
    }
    // The writers start while the workers are busy with the backlog.
    receiver
        .wait_for_calls("/hook", 1, Duration::from_secs(10))
        .await;

    let post = |path: String, body: serde_json::Value| async move {
        app.post(&path, ADMIN_TOKEN, &body).await
    };
    let interactions = (0..WRITERS).map(|n| {
        post(
            format!("/api/v1/services/{did}/interactions"),
            json!({"name": format!("Concurrent {n}"), "issued_credentials": [scene.fx.badge]}),
        )
    });
    let instances = (0..WRITERS).map(|n| {
        post(
            format!(
                "/api/v1/services/{did}/interactions/{}/instances",
                scene.reward
            ),
            json!({"parameters": [{"name": "tier", "value": format!("tier {n}")}]}),
        )
    });
    let replays = messages.iter().take(WRITERS).map(|id| {
        post(
            format!("/api/v1/services/{did}/messages/{id}/replay"),
            json!({}),
        )
    });
    let holders: Vec<Holder> = (0..WRITERS).map(|_| Holder::new()).collect();
    let pushes = holders.iter().map(|holder| {
        let scene = &scene;
        async move {
            let body = scene.push_body(holder, json!([scene.badge("Concurrent")]), json!([]));
            scene
                .call("credentials-issued", &body, &scene.hs256())
                .await
        }
    });
    let started = Instant::now();
    let (interactions, instances, replays, pushes) = tokio::join!(
        join_all(interactions),
        join_all(instances),
        join_all(replays),
        join_all(pushes),
    );
    let elapsed = started.elapsed();
    for (kind, answers, expected) in [
        ("interaction", interactions, StatusCode::CREATED),
        ("instance", instances, StatusCode::CREATED),
        ("replay", replays, StatusCode::ACCEPTED),
        ("push", pushes, StatusCode::OK),
    ] {
        let statuses = statuses(answers).await;
        let failed: Vec<_> = statuses.iter().filter(|(s, _)| *s != expected).collect();
        assert!(
            failed.is_empty(),
            "{} of {WRITERS} {kind} writes failed: {failed:?}",
            failed.len()
        );
    }
    println!("{backend:?}: {} writes in {elapsed:?}", 4 * WRITERS);
    // Every notification arrives too, replays included.
    receiver
        .wait_for_calls("/hook", NOTIFICATIONS + WRITERS, Duration::from_secs(120))
        .await;
    // Workers stopped before the test schema is dropped: one left mid-transaction would keep
    // PostgreSQL from dropping it, and the test would never end.
    scene.fx.app.stop().await;
}

/// The status and body of each answer.
async fn statuses(answers: Vec<Response>) -> Vec<(StatusCode, String)> {
    let mut statuses = Vec::new();
    for answer in answers {
        let status = answer.status();
        statuses.push((status, answer.text().await.unwrap_or_default()));
    }
    statuses
}
