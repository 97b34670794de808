//! The dashboard's **Overview** screen over real HTTP: start pages opened and links fetched,
//! counted in memory and written every few seconds (and at a graceful shutdown), events started,
//! completed and failed, webhook and delivery health, read back from the page's table for
//! screen readers; two processes on one PostgreSQL add up; other services' people see nothing.

use std::time::Duration;

use psi_server::db::events::{self, CallKind, EventState, NewEvent, Settlement, WebhookCall};
use psi_server::db::operators::Role;
use psi_server::ids::{EventId, HolderDid, InstanceId, InteractionId};
use psi_testkit::{Receiver, Reply, now_ms};
use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::dashboard::{Session, answer, browser, person};
use crate::demo_fixture::{Demo, demo};
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_json, spawn_app, start};
use crate::notifications::spawn_delivering;

backend_tests!(
    the_overview_shows_each_step_and_the_health_of_webhooks_and_endpoints,
    counts_not_yet_written_are_written_at_a_graceful_shutdown,
);

const DAY_MS: i64 = 86_400_000;

fn overview(demo: &Demo) -> String {
    format!("/dashboard/services/{}/overview", demo.did)
}

fn start_page(demo: &Demo) -> String {
    format!("/s/{}/{}/start.html", demo.did, demo.interaction)
}

/// Stores an event of the demo interaction created at `at`, settled in `state` with `calls`
/// (start only when `state` is `Started`).
async fn event(app: &TestApp, demo: &Demo, at: i64, state: EventState, calls: &[WebhookCall]) {
    let scope = app.scope(&demo.did).await;
    let db = &app.app.state().db;
    let id = EventId::generate();
    let holder = HolderDid::of_key(&rand::random::<[u8; 32]>());
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
    events::start(&mut tx, &scope, &new, &[]).await.unwrap();
    if state != EventState::Started {
        let settlement = Settlement {
            state,
            message: None,
            first_seq: 0,
            log: &[],
            calls,
            now: at + 1,
        };
        events::settle(&mut tx, &scope, &id, &settlement)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// A webhook call at `at` that answered `status` after `duration_ms`.
fn call(at: i64, status: u16, duration_ms: i64) -> WebhookCall {
    WebhookCall {
        id: EventId::generate().to_string(),
        kind: CallKind::Interaction,
        url: "https://hooks.example.com/interaction".into(),
        status: Some(status),
        duration_ms,
        response_excerpt: String::new(),
        error: (status >= 300).then(|| format!("the webhook answered {status}")),
        at,
    }
}

/// GETs a public `path` `times` times, each answering 200.
async fn open(app: &TestApp, path: &str, times: usize) {
    for _ in 0..times {
        let response = browser().get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

/// Waits (up to 20 s) until the table holds `page_views` and `link_fetches` in all.
async fn written(app: &TestApp, page_views: i64, link_fetches: i64) {
    let pool = app.db.raw_pool().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let sums: (i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(page_views), 0) AS BIGINT), \
             CAST(COALESCE(SUM(link_fetches), 0) AS BIGINT) FROM interaction_counts",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if sums == (page_views, link_fetches) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "written: {sums:?}, not ({page_views}, {link_fetches})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pool.close().await;
}

/// What the Overview's table for screen readers says in the part of `html` after `from` (up to
/// the end of that table): the value and the share on the row `label`.
fn figure(html: &str, from: &str, label: &str) -> (String, String) {
    let at = html
        .find(from)
        .unwrap_or_else(|| panic!("{from} in {html}"));
    let part = &html[at..];
    let part = &part[..part.find("</table>").expect("a table")];
    let row = format!("<th scope=\"row\">{label}</th>");
    let cells = &part[part
        .find(&row)
        .unwrap_or_else(|| panic!("{label} in {part}"))
        + row.len()..];
    let cell = |text: &str| -> (String, usize) {
        let start = text.find("<td>").expect("a cell") + 4;
        let end = start + text[start..].find("</td>").expect("a cell's end");
        (text[start..end].trim().to_owned(), end)
    };
    let (value, end) = cell(cells);
    let (share, _) = cell(&cells[end..]);
    (value, share)
}

/// The figures of the demo interaction on `html`: each step's count and share, in order.
fn funnel(html: &str, demo: &Demo) -> Vec<(String, String)> {
    let section = format!("id=\"overview-{}\"", demo.interaction);
    [
        "Start page opened",
        "Link fetched",
        "Started",
        "Completed",
        "Failed",
    ]
    .iter()
    .map(|label| figure(html, &section, label))
    .collect()
}

fn pairs(figures: &[(&str, &str)]) -> Vec<(String, String)> {
    figures
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

async fn the_overview_shows_each_step_and_the_health_of_webhooks_and_endpoints(backend: Backend) {
    let app = spawn_delivering(backend, &[("schedule", json!([]))]).await;
    let demo = demo(&app).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let viewer = Session::sign_in(&app, "vic").await;

    // Three start pages, two embeds' link.json and one sourceURL request the wallet downloads.
    open(&app, &start_page(&demo), 3).await;
    let link_json = format!("/s/{}/{}/link.json", demo.did, demo.interaction);
    open(&app, &link_json, 2).await;
    let source = expect_json(
        app.post(
            &format!("{}/source", demo.link_path()),
            ADMIN_TOKEN,
            &json!({}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let source_url = source["source_url"].as_str().unwrap();
    let source_path = &source_url[source_url.find("/r/").unwrap()..];
    open(&app, source_path, 1).await;
    // Neither the API's link nor a failed page counts.
    expect_json(
        app.get(&demo.link_path(), ADMIN_TOKEN).await,
        StatusCode::OK,
    )
    .await;
    let missing = format!("/s/{}/nothing/start.html", demo.did);
    let response = browser().get(app.url(&missing)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Four events today (two completed, one failed, one running) and a completed one three
    // days ago, whose webhook calls took 30, 40 and 300 ms (the failed one answered 500).
    let now = now_ms();
    event(
        &app,
        &demo,
        now - 1000,
        EventState::Completed,
        &[call(now - 999, 200, 30)],
    )
    .await;
    event(
        &app,
        &demo,
        now - 900,
        EventState::Completed,
        &[call(now - 899, 200, 40)],
    )
    .await;
    event(
        &app,
        &demo,
        now - 800,
        EventState::Failed,
        &[call(now - 799, 500, 300)],
    )
    .await;
    event(&app, &demo, now - 700, EventState::Started, &[]).await;
    let old = now - 3 * DAY_MS;
    event(
        &app,
        &demo,
        old,
        EventState::Completed,
        &[call(old + 1, 200, 8_000)],
    )
    .await;

    // Two notification endpoints, one delivering and one failing, each sent a test.
    let receiver = Receiver::start().await;
    receiver.on("/ok", Reply::status(204));
    receiver.on("/down", Reply::status(503));
    for path in ["/ok", "/down"] {
        let endpoint = app
            .create_endpoint(&demo.did, &receiver.url(path), json!({}))
            .await;
        let id = endpoint["id"].as_str().unwrap();
        let message = app.send_test(&demo.did, id).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while app.message(&demo.did, &message).await["attempts"]
            .as_array()
            .is_none_or(Vec::is_empty)
        {
            assert!(tokio::time::Instant::now() < deadline, "no attempt");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    written(&app, 3, 3).await;
    let html = viewer.page(&overview(&demo)).await;
    assert_eq!(
        funnel(&html, &demo),
        pairs(&[
            ("3", "100 %"),
            ("3", "100 %"),
            ("5", "166 %"),
            ("3", "100 %"),
            ("1", "33 %"),
        ]),
        "the last 7 days"
    );
    let section = format!("id=\"overview-{}\"", demo.interaction);
    let calls = |label| figure(&html, &section, label);
    assert_eq!(calls("Webhook calls").0, "4");
    assert_eq!(
        calls("Webhook calls succeeded"),
        ("3".into(), "75 %".into())
    );
    assert_eq!(calls("Webhook calls latency p50").0, "≤ 50 ms");
    assert_eq!(calls("Webhook calls latency p95").0, "≤ 10000 ms");
    for (path, success) in [("/ok", "100 %"), ("/down", "0 %")] {
        let caption = format!("<caption>Deliveries to {}", receiver.url(path));
        assert_eq!(
            figure(&html, &caption, "Deliveries succeeded"),
            (
                if success == "0 %" { "0" } else { "1" }.to_owned(),
                success.to_owned()
            )
        );
        assert_eq!(figure(&html, &caption, "Deliveries").0, "1");
    }
    // Drawn as accessible SVG, coloured from the stylesheet, Overview first in the menu.
    for text in [
        "role=\"img\"",
        &format!("aria-labelledby=\"funnel-{}\"", demo.interaction),
        &format!("<title id=\"funnel-{}\">", demo.interaction),
        "viewBox=\"0 0 300 160\"",
        "<option value=\"7d\" selected>Last 7 days</option>",
    ] {
        assert!(html.contains(text), "{text} in {html}");
    }
    assert!(!html.contains("style="), "no inline style (CSP)");
    let menu = &html[html.find("Main menu").unwrap()..];
    assert!(
        menu.find(">Overview<").unwrap() < menu.find(">Interactions<").unwrap(),
        "Overview comes first"
    );
    assert!(menu.contains("aria-current=\"page\">Overview<"));

    // The last 24 hours leave out the event of three days ago, and its slow call.
    let day = viewer
        .page(&format!("{}?window=24h", overview(&demo)))
        .await;
    assert_eq!(funnel(&day, &demo)[2], ("4".into(), "133 %".into()));
    assert_eq!(
        figure(&day, &section, "Webhook calls latency p95").0,
        "≤ 500 ms"
    );
    let bad = viewer.get(&format!("{}?window=1y", overview(&demo))).await;
    answer(bad, StatusCode::BAD_REQUEST).await;
    // A page past the last, however far: 400, not a panic.
    for page in ["2", "18446744073709551615"] {
        let past = viewer
            .get(&format!("{}?page={page}", overview(&demo)))
            .await;
        answer(past, StatusCode::BAD_REQUEST).await;
    }

    // Another service's person gets 404; signed out, the sign-in page.
    let other = app.create_service("Other").await;
    person(&app, "olga", Some((&other, Role::Owner))).await;
    let olga = Session::sign_in(&app, "olga").await;
    assert_eq!(
        olga.get(&overview(&demo)).await.status(),
        StatusCode::NOT_FOUND
    );
    let anonymous = browser()
        .get(app.url(&overview(&demo)))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

/// Counts a stopping server has not written yet are written as it stops; then the list of 60
/// interactions: the most active first, then by name, 50 a page.
async fn counts_not_yet_written_are_written_at_a_graceful_shutdown(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = demo(&app).await;
    open(&app, &start_page(&demo), 2).await;
    // Stopped before the writer's first turn: the last flush keeps them.
    let app = app.restart().await;
    let pool = app.db.raw_pool().await;
    let written: (i64, i64) = sqlx::query_as(
        "SELECT CAST(SUM(page_views) AS BIGINT), CAST(SUM(link_fetches) AS BIGINT) \
         FROM interaction_counts",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(written, (2, 0));

    // 59 interactions more, quiet: the demo one, active, leads the first of two pages.
    for n in 0..59 {
        let body =
            json!({ "name": format!("Quiet {n:02}"), "issued_credentials": [demo.membership] });
        crate::demo_fixture::create_interaction(&app, &demo.did, &body).await;
    }
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let viewer = Session::sign_in(&app, "vic").await;
    let html = viewer.page(&overview(&demo)).await;
    assert_eq!(funnel(&html, &demo)[0], ("2".into(), "100 %".into()));
    let first = html.find("class=\"panel overview-item\"").unwrap();
    assert!(html[first..].contains(&format!("id=\"overview-{}\"", demo.interaction)));
    assert_eq!(html.matches("class=\"panel overview-item\"").count(), 50);
    assert!(
        html.contains("Quiet 00") && !html.contains("Quiet 49"),
        "by name"
    );
    let next = html
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|href| href.contains("page=2"))
        .expect("a next page")
        .replace("&#38;", "&");
    let second = viewer.page(&next).await;
    assert_eq!(
        second.matches("class=\"panel overview-item\"").count(),
        10,
        "{next}"
    );
    assert!(second.contains("Quiet 58") && !second.contains("Next page"));
    app.stop().await;
}

/// Two processes on one PostgreSQL count start pages on their own, write at about the same time
/// and add up.
#[tokio::test]
async fn two_processes_on_one_postgresql_add_their_counts_up() {
    let app = spawn_app(Backend::Postgres).await;
    let demo = demo(&app).await;
    let second = start(app.db.figment()).await;
    let on_second = format!("http://{}{}", second.addr, start_page(&demo));
    let opened_on_second = async {
        for _ in 0..3 {
            let response = browser().get(&on_second).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    let on_first = start_page(&demo);
    tokio::join!(open(&app, &on_first, 4), opened_on_second);
    written(&app, 7, 0).await;
    person(&app, "vic", Some((&demo.did, Role::Viewer))).await;
    let viewer = Session::sign_in(&app, "vic").await;
    let html = viewer.page(&overview(&demo)).await;
    assert_eq!(funnel(&html, &demo)[0], ("7".into(), "100 %".into()));
    second.stop().await.unwrap();
    app.app.stop().await.unwrap();
}
