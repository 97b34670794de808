use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use psi_webhook::PrivateKey;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;

use crate::backend_tests;
use crate::helpers::{ADMIN_TOKEN, Backend, TestDb, expect_json, spawn_app, spawn_app_on, start};
use crate::model;

backend_tests!(
    the_database_holds_no_private_key_or_secret_in_clear,
    services_keys_and_tokens_survive_a_restart,
    two_servers_on_one_database_serve_the_same_data,
);

async fn the_database_holds_no_private_key_or_secret_in_clear(backend: Backend) {
    let app = spawn_app(backend).await;
    let did = app.create_service("Acme").await;
    let path = format!("/api/v1/services/{did}/keys");
    let private = PrivateKey::generate().unwrap();
    let private_pem = private.to_pkcs8_pem().unwrap();
    let body = json!({"name": "imported", "type": "rsa_key_pair", "private_key_pem": private_pem.as_str()});
    expect_json(
        app.post(&path, ADMIN_TOKEN, &body).await,
        StatusCode::CREATED,
    )
    .await;
    let generated = expect_json(
        app.post(
            &path,
            ADMIN_TOKEN,
            &json!({"name": "shared", "type": "sha_secret"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let secret_b64 = generated["secret"].as_str().unwrap().to_owned();
    let secret = STANDARD.decode(&secret_b64).unwrap();
    let pem_body: String = private_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let (_, token) = app.create_token(&did).await;

    // Every column of every row, as bytes.
    let pool = app.db.raw_pool().await;
    let mut dump = Vec::new();
    for table in ["settings", "services", "service_tokens", "keys"] {
        let columns: &[&str] = match table {
            "settings" => &["name", "value"],
            "services" => &["id", "did", "name", "verkey", "did_seed_sealed"],
            "service_tokens" => &["id", "name", "secret_sha256"],
            _ => &["id", "name", "kind", "public_pem", "secret_sealed"],
        };
        for row in sqlx::query(&format!("SELECT {} FROM {table}", columns.join(", ")))
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            for i in 0..columns.len() {
                if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
                    dump.extend_from_slice(text.as_bytes());
                } else if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                    dump.extend_from_slice(&bytes);
                }
                dump.push(b'\n');
            }
        }
    }
    let contains = |needle: &[u8]| dump.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(b"BEGIN PUBLIC KEY"),
        "the dump does read the keys table"
    );
    assert!(
        !contains(b"PRIVATE KEY"),
        "a private PEM is stored in clear"
    );
    assert!(
        !contains(&pem_body.as_bytes()[..64]),
        "the private key's base64 is stored in clear"
    );
    assert!(
        !contains(secret_b64.as_bytes()) && !contains(&secret),
        "the SHA secret is stored in clear"
    );
    assert!(
        !contains(token.as_bytes()) && !contains(token_secret(&token).as_bytes()),
        "a token is stored in clear"
    );
    assert!(
        !contains(crate::helpers::ADMIN_TOKEN.as_bytes()),
        "the admin token is stored in clear"
    );

    // What is sealed opens again with the master key.
    let scope = psi_server::db::services::scope_for_did(&app.app.state().db, &did.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    // The service's DID seed (Ed25519), sealed too (bound to the service's row id): its 32
    // bytes appear nowhere in clear.
    let service_id: String = sqlx::query_scalar("SELECT id FROM services WHERE did = $1")
        .bind(&did)
        .fetch_one(&pool)
        .await
        .unwrap();
    let seed_sealed = psi_server::db::services::did_seed_sealed(&app.app.state().db, &scope)
        .await
        .unwrap();
    let seed = app
        .app
        .state()
        .master_key
        .open(service_id.as_bytes(), &seed_sealed)
        .unwrap();
    assert_eq!(seed.len(), 32);
    let seed_hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        !contains(&seed)
            && !contains(seed_hex.as_bytes())
            && !contains(STANDARD.encode(&seed).as_bytes()),
        "the DID seed is stored in clear"
    );
    let sealed = psi_server::db::keys::sealed_secret(&app.app.state().db, &scope, "imported")
        .await
        .unwrap()
        .unwrap();
    let opened = app
        .app
        .state()
        .master_key
        .open(sealed.id.as_bytes(), &sealed.secret_sealed)
        .unwrap();
    assert_eq!(&opened[..], private_pem.as_bytes());
}

async fn services_keys_and_tokens_survive_a_restart(backend: Backend) {
    let app = spawn_app(backend).await;
    let (did, token, path, before) = model::service_with_signing_key(&app).await;

    let app = app.restart().await;
    let service = expect_json(
        app.get(&format!("/api/v1/services/{did}"), &token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(service["name"], "Acme");
    let after = expect_json(
        app.get(&format!("{path}/signing"), &token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(after["public_pem"], before["public_pem"]);
    let scope = psi_server::db::services::scope_for_did(&app.app.state().db, &did.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let sealed = psi_server::db::keys::sealed_secret(&app.app.state().db, &scope, "signing")
        .await
        .unwrap()
        .unwrap();
    let opened = app
        .app
        .state()
        .master_key
        .open(sealed.id.as_bytes(), &sealed.secret_sealed)
        .unwrap();
    let key = PrivateKey::from_pem(std::str::from_utf8(&opened).unwrap()).unwrap();
    assert_eq!(
        key.public_key().to_spki_pem().unwrap(),
        before["public_pem"].as_str().unwrap()
    );
}

async fn two_servers_on_one_database_serve_the_same_data(backend: Backend) {
    let db = TestDb::new(backend).await;
    let figment = db.figment();
    // On PostgreSQL both start at once: migrations and first-run setup must not race. A SQLite
    // file is meant for one server, so there the second starts after the first.
    let (first, second) = if backend == Backend::Postgres {
        tokio::join!(spawn_app_on(db, figment.clone()), start(figment))
    } else {
        let first = spawn_app_on(db, figment.clone()).await;
        (first, start(figment).await)
    };
    let second_url = format!("http://{}", second.addr);
    let did = first.create_service("Shared").await;
    let (_, token) = first.create_token(&did).await;
    let response = first
        .client
        .post(format!("{second_url}/api/v1/services/{did}/keys"))
        .bearer_auth(&token)
        .json(&json!({"name": "from-second", "type": "sha_secret"}))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CREATED).await;
    let keys = expect_json(
        first
            .get(&format!("/api/v1/services/{did}/keys"), &token)
            .await,
        StatusCode::OK,
    )
    .await;
    let names: Vec<&str> = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "from-second"]);
    let services = first
        .client
        .get(format!("{second_url}/api/v1/services"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let services = expect_json(services, StatusCode::OK).await;
    assert_eq!(services["data"][0]["did"], did.as_str());
    second.stop().await.unwrap();
    assert_eq!(
        first.get("/readyz", "").await.status(),
        StatusCode::OK,
        "the first serves on"
    );
}

/// The secret part of `psi_<id>_<secret>`: the secret's base64url may hold `_` itself, so the
/// split is after the id, not at the last `_` (a short tail could occur anywhere by chance).
fn token_secret(token: &str) -> &str {
    let secret = token.splitn(3, '_').nth(2).expect("psi_<id>_<secret>");
    assert_eq!(secret.len(), 43, "32 bytes of base64url: {token}");
    secret
}

/// Tables and their columns as the migrations leave them on `backend`, sorted.
async fn schema_of(backend: Backend) -> Vec<(String, Vec<String>)> {
    let db = TestDb::new(backend).await;
    let app = start(db.figment()).await;
    let pool = db.raw_pool().await;
    let tables: Vec<String> = match backend {
        Backend::Sqlite => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
        ),
        Backend::Postgres => sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations' \
             ORDER BY table_name",
        ),
    }
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut schema = Vec::new();
    for table in tables {
        let sql = match backend {
            Backend::Sqlite => format!("SELECT name FROM pragma_table_info('{table}')"),
            Backend::Postgres => format!(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{table}'"
            ),
        };
        let mut columns: Vec<String> = sqlx::query_scalar(&sql).fetch_all(&pool).await.unwrap();
        columns.sort();
        schema.push((table, columns));
    }
    pool.close().await;
    app.stop().await.unwrap();
    schema
}

#[tokio::test]
async fn the_sqlite_and_postgresql_migrations_define_the_same_tables_and_columns() {
    let sqlite = schema_of(Backend::Sqlite).await;
    let postgres = schema_of(Backend::Postgres).await;
    assert!(sqlite.len() > 10, "{sqlite:?}");
    let names = |schema: &[(String, Vec<String>)]| -> Vec<String> {
        schema.iter().map(|(table, _)| table.clone()).collect()
    };
    assert_eq!(names(&sqlite), names(&postgres), "the same tables");
    for ((table, on_sqlite), (_, on_postgres)) in sqlite.iter().zip(&postgres) {
        assert_eq!(on_sqlite, on_postgres, "the columns of {table}");
    }
}
