//! Every list of the management API pages alike: `limit` and an opaque `cursor`, one envelope
//! `{"data", "next_cursor"}`, one page in its documented order, each row once, `next_cursor` null
//! on the last page; bad paging answers 422; a cursor reaches nothing of another service.

use psi_testkit::Receiver;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, expect_error, expect_json};
use crate::model;
use crate::notifications::delivery::enqueue_revoked;
use crate::notifications::spawn_delivering;

backend_tests!(
    every_list_walks_its_rows_once_in_its_order,
    bad_paging_answers_422_and_a_cursor_stays_in_its_service,
);

/// Rows of each kind a seeded service has (more than two pages of [`LIMIT`]).
const ROWS: usize = 5;
const LIMIT: usize = 2;

/// A list: its path (`{did}` and `{interaction}` filled in per service), the member naming an
/// item, the member it is sorted by (`number`: a definition's, from its wire id), whether the
/// newest comes first, and how many items the seeded service has in it.
struct List {
    path: &'static str,
    id: &'static str,
    key: &'static str,
    newest_first: bool,
    count: usize,
}

const fn list(path: &'static str, id: &'static str, key: &'static str, count: usize) -> List {
    List {
        path,
        id,
        key,
        newest_first: false,
        count,
    }
}

const fn newest(path: &'static str, id: &'static str, key: &'static str, count: usize) -> List {
    List {
        newest_first: true,
        ..list(path, id, key, count)
    }
}

/// Every list of one service, filtered ones too; what [`seed`] makes.
const LISTS: [List; 17] = [
    list("tokens", "id", "created_at", ROWS),
    list("keys", "name", "created_at", ROWS + 1),
    list("keys?type=sha_secret", "name", "created_at", ROWS),
    list("schemas", "id", "created_at", ROWS),
    list(
        "credential-definitions",
        "credential_id",
        "number",
        ROWS + 1,
    ),
    list(
        "credential-definitions?schema={schema}",
        "credential_id",
        "number",
        ROWS,
    ),
    list("interactions", "id", "created_at", ROWS),
    list("interactions?active=true", "id", "created_at", ROWS - 2),
    list("interactions?active=false", "id", "created_at", 2),
    list(
        "interactions/{interaction}/instances",
        "id",
        "created_at",
        ROWS,
    ),
    list("endpoints", "id", "created_at", ROWS),
    list("endpoints?enabled=false", "id", "created_at", 2),
    newest("events", "id", "created_at", ROWS),
    newest("credentials", "jti", "issued_at", ROWS),
    newest("messages", "id", "created_at", ROWS),
    newest("attempts", "id", "at", ROWS * ROWS),
    newest("attempts?status=succeeded", "id", "at", ROWS * ROWS),
];

/// A seeded service: its DID, its first interaction and its first schema's wire id.
struct Seeded {
    did: String,
    interaction: String,
    schema: String,
}

impl Seeded {
    fn path(&self, list: &List) -> String {
        let path = list
            .path
            .replace("{interaction}", &self.interaction)
            .replace("{schema}", &self.schema.replace(' ', "%20"));
        format!("/api/v1/services/{}/{path}", self.did)
    }
}

/// A service with [`ROWS`] rows of every kind (and its default key, a definition of another
/// schema, the default instance, paused interactions and disabled endpoints, as [`LISTS`] counts
/// them); events and credentials two to a time.
async fn seed(app: &TestApp, name: &str, receiver: &Receiver) -> Seeded {
    let did = app.create_service(name).await;
    let base = format!("/api/v1/services/{did}");
    let post = |path: String, body: Value| async move {
        expect_json(
            app.post(&path, ADMIN_TOKEN, &body).await,
            StatusCode::CREATED,
        )
        .await
    };
    let mut schemas = Vec::new();
    let mut interactions = Vec::new();
    let mut endpoints = Vec::new();
    for n in 0..ROWS {
        app.create_token(&did).await;
        post(
            format!("{base}/keys"),
            json!({"name": format!("secret-{n}"), "type": "sha_secret"}),
        )
        .await;
        schemas.push(model::schema(app, &did, &format!("Schema {n}")).await);
        let tag = json!({"tag": format!("t{n}")});
        model::definition(app, &did, &schemas[0]["schema_id"], "self", tag).await;
        let body = json!({"name": format!("Interaction {n}"), "active": n >= 2});
        interactions.push(model::interaction(app, &did, body).await);
        let url = receiver.url(&format!("/{name}/{n}"));
        endpoints.push(app.create_endpoint(&did, &url, json!({})).await);
    }
    model::definition(app, &did, &schemas[1]["schema_id"], "self", json!({})).await;
    let interaction = interactions[0]["id"].as_str().unwrap().to_owned();
    for n in 1..ROWS {
        let parameters = json!({"parameters": [{"name": "n", "value": n.to_string()}]});
        post(
            format!("{base}/interactions/{interaction}/instances"),
            parameters,
        )
        .await;
    }
    let scope = app.scope(&did).await;
    for n in 0..ROWS {
        enqueue_revoked(app, &scope, &format!("{name}-{n}")).await;
    }
    app.worker().drain().await.unwrap();
    for endpoint in &endpoints[..2] {
        let path = format!(
            "{base}/endpoints/{}/disable",
            endpoint["id"].as_str().unwrap()
        );
        expect_json(
            app.post(&path, ADMIN_TOKEN, &json!({})).await,
            StatusCode::OK,
        )
        .await;
    }
    // Events and credentials come from holders' runs; stored directly, two share each time.
    let pool = app.app.state().db.pool();
    for n in 0..ROWS {
        let (id, at) = (format!("{name}{n:031x}"), i64::try_from(n / 2).unwrap() + 1);
        sqlx::query(
            "INSERT INTO events (id, service_id, interaction_id, instance_id, holder_did, state, \
             created_at, updated_at) \
             SELECT $1, s.id, $2, 'instance', 'holder', 'completed', $3, $3 \
             FROM services s WHERE s.did = $4",
        )
        .bind(&id)
        .bind(&interaction)
        .bind(at)
        .bind(&did)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO credentials (jti, service_id, definition_id, holder_did, attributes, jwt, \
             issued_at) \
             SELECT $1, s.id, c.id, 'holder', '[]', 'jwt', $2 FROM services s \
             JOIN credential_definitions c ON c.service_id = s.id AND c.seq = 1 WHERE s.did = $3",
        )
        .bind(&id)
        .bind(at)
        .bind(&did)
        .execute(pool)
        .await
        .unwrap();
    }
    Seeded {
        did,
        interaction,
        schema: schemas[0]["schema_id"].as_str().unwrap().to_owned(),
    }
}

/// `path` with `query` added.
fn with(path: &str, query: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}{query}")
}

/// One page: its items and its `next_cursor`, checking the envelope.
async fn page(app: &TestApp, path: &str) -> (Vec<Value>, Option<String>) {
    let page = expect_json(app.get(path, ADMIN_TOKEN).await, StatusCode::OK).await;
    let members: Vec<&String> = page.as_object().expect("an object").keys().collect();
    assert_eq!(members, ["data", "next_cursor"], "{path}: {page}");
    let next = match &page["next_cursor"] {
        Value::Null => None,
        Value::String(next) => Some(next.clone()),
        other => panic!("{path}: next_cursor {other}"),
    };
    (page["data"].as_array().expect("data").clone(), next)
}

/// Every page of `path` at [`LIMIT`], following `next_cursor` until it is null.
async fn walk(app: &TestApp, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut next = Some(with(path, &format!("limit={LIMIT}")));
    while let Some(path_of_page) = next {
        let (data, cursor) = page(app, &path_of_page).await;
        assert!(data.len() <= LIMIT, "{path_of_page}");
        assert!(
            cursor.is_none() || data.len() == LIMIT,
            "{path_of_page}: only the last page is short"
        );
        items.extend(data);
        next = cursor.map(|cursor| with(path, &format!("limit={LIMIT}&cursor={cursor}")));
    }
    items
}

/// The item's sort key in `list`.
fn key(list: &List, item: &Value) -> i64 {
    if list.key == "number" {
        let id = item["credential_id"].as_str().unwrap();
        return id.split(':').nth(3).unwrap().parse().unwrap();
    }
    item[list.key].as_i64().unwrap()
}

fn ids<'a>(list: &List, items: &'a [Value]) -> Vec<&'a str> {
    items.iter().map(|i| i[list.id].as_str().unwrap()).collect()
}

async fn every_list_walks_its_rows_once_in_its_order(backend: Backend) {
    let app = spawn_delivering(backend, &[("workers", json!(0))]).await;
    let receiver = Receiver::start().await;
    let seeded = seed(&app, "a", &receiver).await;
    for name in ["b", "c", "d", "e"] {
        app.create_service(name).await;
    }
    let services = list("", "did", "created_at", ROWS);
    let mut lists: Vec<(String, &List)> = vec![("/api/v1/services".into(), &services)];
    lists.extend(LISTS.iter().map(|list| (seeded.path(list), list)));
    for (path, list) in lists {
        let walked = walk(&app, &path).await;
        let (whole, next) = page(&app, &with(&path, "limit=500")).await;
        assert_eq!(next, None, "{path}: one page holds them all");
        assert_eq!(whole.len(), list.count, "{path}");
        assert_eq!(ids(list, &walked), ids(list, &whole), "{path}: each once");
        let keys: Vec<i64> = whole.iter().map(|item| key(list, item)).collect();
        let in_order = keys.windows(2).all(|pair| {
            if list.newest_first {
                pair[0] >= pair[1]
            } else {
                pair[0] <= pair[1]
            }
        });
        assert!(in_order, "{path}: by {}: {keys:?}", list.key);
    }
}

async fn bad_paging_answers_422_and_a_cursor_stays_in_its_service(backend: Backend) {
    let app = spawn_delivering(backend, &[("workers", json!(0))]).await;
    let receiver = Receiver::start().await;
    let (a, b) = (
        seed(&app, "a", &receiver).await,
        seed(&app, "b", &receiver).await,
    );
    for list in &LISTS {
        let path = a.path(list);
        for (query, named) in [
            ("cursor=not-a-cursor", "cursor"),
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=many", "limit"),
        ] {
            let response = app.get(&with(&path, query), ADMIN_TOKEN).await;
            let message = expect_error(
                response,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await;
            assert!(message.contains(named), "{path} {query}: {message}");
        }

        // A's position used on B's list pages B's rows only.
        let (_, cursor) = page(&app, &with(&path, "limit=1")).await;
        let cursor = cursor.expect("more than one page");
        let (of_a, of_b) = (walk(&app, &path).await, walk(&app, &b.path(list)).await);
        let (after, _) = page(&app, &with(&b.path(list), &format!("cursor={cursor}"))).await;
        for item in &after {
            assert!(
                of_b.contains(item) && !of_a.contains(item),
                "{path}: {item}"
            );
        }
    }
}
