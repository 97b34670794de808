//! Notification endpoints and durable delivery, against a real receiver on loopback.

pub mod delivery;
mod endpoints;
mod engine;
mod fairness;
mod inbound;
mod replay;

use std::time::Duration;

use figment::Figment;
use figment::providers::Serialized;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, TestDb, expect_json, spawn_app_on};

/// A server whose outbound calls may reach loopback receivers, with these `[delivery]` keys
/// (e.g. `("workers", json!(0))` to step workers by hand, or a compressed `schedule`).
pub async fn spawn_delivering(backend: Backend, delivery: &[(&str, Value)]) -> TestApp {
    let db = TestDb::new(backend).await;
    let figment = delivering(&db, delivery);
    spawn_app_on(db, figment).await
}

/// The configuration of such a server on `db`; also for a second server on the same database.
pub fn delivering(db: &TestDb, delivery: &[(&str, Value)]) -> Figment {
    let mut figment = db
        .figment()
        .merge(Serialized::default("outbound.allow_loopback", true));
    for (key, value) in delivery {
        figment = figment.merge(Serialized::default(&format!("delivery.{key}"), value));
    }
    figment
}

impl TestApp {
    /// Registers an endpoint as the admin: `body` plus the `default` key with `signature` auth
    /// unless it says otherwise. Returns the endpoint.
    pub async fn create_endpoint(&self, did: &str, url: &str, body: Value) -> Value {
        let mut request = json!({ "url": url, "key": "default", "auth": "signature" });
        for (name, value) in body.as_object().expect("an object") {
            request[name] = value.clone();
        }
        let path = format!("/api/v1/services/{did}/endpoints");
        expect_json(
            self.post(&path, ADMIN_TOKEN, &request).await,
            StatusCode::CREATED,
        )
        .await
    }

    /// Sends a `test` message to the endpoint; returns its id.
    pub async fn send_test(&self, did: &str, endpoint: &str) -> String {
        let path = format!("/api/v1/services/{did}/endpoints/{endpoint}/test");
        let body = expect_json(
            self.post(&path, ADMIN_TOKEN, &json!({})).await,
            StatusCode::ACCEPTED,
        )
        .await;
        body["message_id"].as_str().expect("message_id").to_owned()
    }

    /// `GET .../messages/{id}` as the admin.
    pub async fn message(&self, did: &str, id: &str) -> Value {
        let path = format!("/api/v1/services/{did}/messages/{id}");
        expect_json(self.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await
    }

    /// `GET .../endpoints/{id}` as the admin.
    pub async fn endpoint(&self, did: &str, id: &str) -> Value {
        let path = format!("/api/v1/services/{did}/endpoints/{id}");
        expect_json(self.get(&path, ADMIN_TOKEN).await, StatusCode::OK).await
    }

    /// Polls the message until its `status` is `status` (panics after `within`).
    pub async fn wait_for_status(
        &self,
        did: &str,
        id: &str,
        status: &str,
        within: Duration,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let message = self.message(did, id).await;
            if message["status"] == status {
                return message;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "message not {status} within {within:?}: {message:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server, letting its workers finish their step, before the database goes: a
    /// worker frozen mid-transaction would keep PostgreSQL from dropping the test schema.
    pub async fn stop(self) {
        let TestApp { app, db, .. } = self;
        app.stop().await.expect("the server stops cleanly");
        drop(db);
    }

    /// The tenant scope of the service `did`, for calling the library directly.
    pub async fn scope(&self, did: &str) -> psi_server::scope::ServiceScope {
        let did: psi_link::Did = did.parse().expect("a DID");
        psi_server::db::services::scope_for_did(&self.app.state().db, &did)
            .await
            .expect("the database answers")
            .expect("the service exists")
    }

    /// A worker of this server, to step by hand.
    pub fn worker(&self) -> psi_server::delivery::Worker {
        psi_server::delivery::Worker::new(self.app.state())
    }
}

/// The attempts of a message, oldest first.
pub fn attempts_oldest_first(message: &Value) -> Vec<Value> {
    let mut attempts = message["attempts"].as_array().expect("attempts").clone();
    attempts.reverse();
    attempts
}
