//! Event lists stay flat however many events a service has: pages follow a cursor, and every
//! filter reads an index in order (the query plan is checked with 100,000 events).

use psi_server::db::events::{self, EventState, Filter};
use psi_server::db::{Backend as DbBackend, Cursor};
use psi_server::ids::InteractionId;
use reqwest::StatusCode;
use serde_json::Value;

use crate::backend_tests;
use crate::demo_fixture::demo;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json, spawn_app};

backend_tests!(
    pages_follow_the_cursor_without_gaps_or_repeats,
    every_filter_reads_an_index_in_order_with_100_000_events,
);

/// Stores `count` events of the demo interaction in one statement: ids are hex, times `1..=count`
/// ms, states and holders in turn.
async fn seed_events(app: &TestApp, did: &str, interaction: &str, count: u32) {
    let state = app.app.state();
    let id = match state.db.backend() {
        DbBackend::Postgres => "lpad(to_hex(n), 32, '0')",
        DbBackend::Sqlite => "printf('%032x', n)",
    };
    let sql = format!(
        "WITH RECURSIVE g (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $3) \
         INSERT INTO events (id, service_id, interaction_id, instance_id, holder_did, state, \
         created_at, updated_at) \
         SELECT {id}, (SELECT id FROM services WHERE did = $1), $2, 'instance', 'holder' || (n % 1000), \
         CASE n % 4 WHEN 0 THEN 'started' WHEN 1 THEN 'waiting' WHEN 2 THEN 'completed' \
         ELSE 'failed' END, n, n FROM g"
    );
    sqlx::query(&sql)
        .bind(did)
        .bind(interaction)
        .bind(i64::from(count))
        .execute(state.db.pool())
        .await
        .unwrap();
    sqlx::query("ANALYZE")
        .execute(state.db.pool())
        .await
        .unwrap();
}

/// One page of events: its events and its `next_cursor`.
async fn page(app: &TestApp, did: &str, query: &str) -> (Vec<Value>, Option<String>) {
    let path = format!("/api/v1/services/{did}/events?{query}");
    let page = expect_json(app.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await;
    let next = page["next_cursor"].as_str().map(str::to_owned);
    (page["data"].as_array().unwrap().clone(), next)
}

async fn pages_follow_the_cursor_without_gaps_or_repeats(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    seed_events(&app, &demo.did, &demo.interaction, 250).await;
    for (filter, expected) in [("", 250), ("state=failed&", 62), ("holder=holder7&", 1)] {
        let mut seen: Vec<Value> = Vec::new();
        let mut query = format!("{filter}limit=40");
        loop {
            let (events, next) = page(&app, &demo.did, &query).await;
            seen.extend(events);
            let Some(next) = next else { break };
            query = format!("{filter}limit=40&cursor={next}");
        }
        assert_eq!(seen.len(), expected, "{filter}");
        let times: Vec<i64> = seen
            .iter()
            .map(|e| e["created_at"].as_i64().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] > w[1]),
            "{filter}: newest first, each once"
        );
    }
    let path = format!("/api/v1/services/{}/events?cursor=yesterday", demo.did);
    let error = expect_json(
        app.get(&path, ADMIN_TOKEN).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cursor")
    );
}

async fn every_filter_reads_an_index_in_order_with_100_000_events(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    seed_events(&app, &demo.did, &demo.interaction, 100_000).await;
    let state = app.app.state();
    let scope = psi_server::db::services::scope_for_did(&state.db, &demo.did.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let interaction = InteractionId::from(demo.interaction.as_str());
    let cursor = Cursor {
        at: 50_000,
        id: format!("{:032x}", 50_000),
    };
    let all = Filter {
        interaction_id: None,
        state: None,
        holder_did: None,
        cursor: None,
        limit: 51,
    };
    let filters = [
        ("none", Filter { ..all }),
        (
            "interaction",
            Filter {
                interaction_id: Some(&interaction),
                ..all
            },
        ),
        (
            "state",
            Filter {
                state: Some(EventState::Failed),
                ..all
            },
        ),
        (
            "holder",
            Filter {
                holder_did: Some("holder7"),
                ..all
            },
        ),
        (
            "cursor",
            Filter {
                cursor: Some(&cursor),
                ..all
            },
        ),
    ];
    for (name, filter) in filters {
        let plan = events::list_plan(&state.db, &scope, &filter).await.unwrap();
        let text = plan.join("\n");
        assert!(
            text.contains("events_by_"),
            "{name}: an events index\n{text}"
        );
        let sorts = match state.db.backend() {
            DbBackend::Postgres => text.lines().any(|l| l.trim_start().starts_with("Sort")),
            DbBackend::Sqlite => text.contains("TEMP B-TREE"),
        };
        assert!(!sorts, "{name}: read in order, no sort\n{text}");
        let found = events::list(&state.db, &scope, &filter).await.unwrap();
        assert_eq!(found.len(), 51, "{name}");
    }
}
