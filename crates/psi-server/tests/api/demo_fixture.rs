//! The demo service as a fixture: a self-attested "Demo Member" credential an interaction requires
//! with "pre-fill from QR", and a service-attested "Demo Membership" it issues.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp, expect_json};

/// The demo service's ids, read back through the management API.
pub struct Demo {
    pub did: String,
    /// The interaction (`actionId`).
    pub interaction: String,
    /// Its default instance.
    pub instance: String,
    /// Self-attested, pre-fillable: Name (text), Member number (number), Date of birth (date).
    pub member: String,
    /// Service-attested: Member number, Level (Bronze/Silver/Gold), Valid until.
    pub membership: String,
}

impl Demo {
    pub fn interaction_path(&self) -> String {
        format!(
            "/api/v1/services/{}/interactions/{}",
            self.did, self.interaction
        )
    }

    pub fn link_path(&self) -> String {
        format!("{}/link", self.interaction_path())
    }
}

/// Seeds the demo service on `app` and reads its ids.
pub async fn demo(app: &TestApp) -> Demo {
    let did = psi_server::demo::seed(app.app.state())
        .await
        .expect("demo seed")
        .to_string();
    let interactions = expect_json(
        app.get(&format!("/api/v1/services/{did}/interactions"), ADMIN_TOKEN)
            .await,
        StatusCode::OK,
    )
    .await;
    let interaction = &interactions["data"][0];
    Demo {
        interaction: text(&interaction["id"]),
        instance: text(&interaction["instances"][0]["id"]),
        member: text(&interaction["required_credentials"][0]["credential_id"]),
        membership: text(&interaction["issued_credentials"][0]),
        did,
    }
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a string: {value}"))
        .to_owned()
}

/// Creates an interaction on the service; returns its JSON.
pub async fn create_interaction(app: &TestApp, did: &str, body: &Value) -> Value {
    expect_json(
        app.post(
            &format!("/api/v1/services/{did}/interactions"),
            ADMIN_TOKEN,
            body,
        )
        .await,
        StatusCode::CREATED,
    )
    .await
}

/// Pauses (`false`) or activates (`true`) an interaction.
pub async fn set_active(app: &TestApp, demo: &Demo, active: bool) {
    expect_json(
        app.patch(
            &demo.interaction_path(),
            ADMIN_TOKEN,
            &json!({ "active": active }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
}
