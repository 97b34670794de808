//! `psi serve --demo`: a demo service, created once, so a new user sees something real at once.
//!
//! The service has two schemas and their credential definitions (a self-attested "Demo Member"
//! card a QR link may pre-fill, and a "Demo Membership" the service issues), and one interaction
//! that asks for the first and issues the second. Everything goes through the management API's
//! own handlers, so the demo data passes the same checks as anyone's; each part is looked up
//! before it is created, so seeding again (or after an interrupted start) completes what is
//! missing and changes nothing else.

pub mod receiver;
pub mod wallet;

use std::fmt::Write as _;

use axum::extract::State;

use crate::api::credential_definitions::{self as definitions, CreateCredentialDefinition};
use crate::api::interactions::{self, CreateInteraction, RequiredCredentialJson};
use crate::api::schemas::{self, CreateSchema};
use crate::api::services::create_service;
use crate::db::{self, settings};
use crate::domain::{Attestation, AttributeJson, AttributeKind, EnumValueJson, Medium, Parameter};
use crate::http::AppState;
use crate::http::json::Json;
use crate::scope::ServiceScope;
use psi_link::Did;

const DEMO_SERVICE_SETTING: &str = "demo_service_did";
const DEMO_SERVICE_NAME: &str = "Demo service";
const MEMBER_SCHEMA: &str = "Demo Member";
const MEMBERSHIP_SCHEMA: &str = "Demo Membership";
const SCHEMA_VERSION: &str = "1.0";
const MEMBER_TAG: &str = "member";
const MEMBERSHIP_TAG: &str = "membership";
const INTERACTION_NAME: &str = "Join the demo club";

/// Creates the demo service and its interaction unless this database has them; returns the
/// service's DID.
pub async fn seed(state: &AppState) -> anyhow::Result<Did> {
    let did = seed_service(state).await?;
    let scope = db::services::scope_for_did(&state.db, &did)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo service {did} is missing"))?;
    seed_model(state, &scope).await?;
    Ok(did)
}

async fn seed_service(state: &AppState) -> anyhow::Result<Did> {
    if let Some(did) = settings::get(&state.db, DEMO_SERVICE_SETTING).await? {
        return Ok(did.parse()?);
    }
    let service = create_service(state, DEMO_SERVICE_NAME.to_owned()).await?;
    if !settings::insert_if_absent(&state.db, DEMO_SERVICE_SETTING, &service.did).await? {
        // Another server seeded at the same moment; keep its service as the demo.
        let did = settings::get(&state.db, DEMO_SERVICE_SETTING).await?;
        return Ok(did.unwrap_or(service.did).parse()?);
    }
    Ok(service.did.parse()?)
}

fn attribute(name: &str, kind: AttributeKind) -> AttributeJson {
    AttributeJson {
        name: name.to_owned(),
        kind,
        enum_values: None,
    }
}

async fn seed_model(state: &AppState, scope: &ServiceScope) -> anyhow::Result<()> {
    let member_attributes = vec![
        attribute("Name", AttributeKind::Text),
        attribute("Member number", AttributeKind::Number),
        attribute("Date of birth", AttributeKind::Date),
    ];
    let level = AttributeJson {
        enum_values: Some(
            ["Bronze", "Silver", "Gold"]
                .into_iter()
                .map(|name| EnumValueJson {
                    name: name.to_owned(),
                    value: None,
                })
                .collect(),
        ),
        ..attribute("Level", AttributeKind::Enumeration)
    };
    let membership_attributes = vec![
        attribute("Member number", AttributeKind::Number),
        level,
        attribute("Valid until", AttributeKind::Date),
    ];
    let member = definition(
        state,
        scope,
        (MEMBER_SCHEMA, member_attributes),
        MEMBER_TAG,
        Attestation::SelfAttested,
    )
    .await?;
    let membership = definition(
        state,
        scope,
        (MEMBERSHIP_SCHEMA, membership_attributes),
        MEMBERSHIP_TAG,
        Attestation::Service,
    )
    .await?;
    let existing = db::interactions::list(&state.db, scope).await?;
    if existing.iter().any(|i| i.name == INTERACTION_NAME) {
        return Ok(());
    }
    let body = CreateInteraction {
        name: INTERACTION_NAME.to_owned(),
        description: "Show your member card (a QR link may fill it in for you) and receive a \
            membership."
            .to_owned(),
        active: true,
        media: vec![Medium::Qr],
        required_credentials: vec![RequiredCredentialJson {
            credential_id: member,
            prefill_from_qr: true,
            external_verification: false,
            only_last: false,
            added_by: None,
        }],
        required_schemas: Vec::new(),
        issued_credentials: vec![membership],
        webhook: None,
        parameters: vec![Parameter {
            name: "location".to_owned(),
            value: "Online".to_owned(),
        }],
        completion_url: None,
        waiting_deadline_secs: None,
    };
    interactions::create(scope.clone(), State(state.clone()), Json(body)).await?;
    Ok(())
}

/// The wire id of the scoped service's definition of schema `name` 1.0 tagged `tag`, creating the
/// schema and the definition if missing.
async fn definition(
    state: &AppState,
    scope: &ServiceScope,
    (name, attributes): (&str, Vec<AttributeJson>),
    tag: &str,
    attestation: Attestation,
) -> anyhow::Result<String> {
    let schema_id = db::schemas::wire_id(scope, name, SCHEMA_VERSION)?;
    if db::schemas::get_by_wire_id(&state.db, scope, &schema_id)
        .await?
        .is_none()
    {
        let body = CreateSchema {
            name: name.to_owned(),
            version: SCHEMA_VERSION.to_owned(),
            attributes: attributes.into_iter().map(Into::into).collect(),
        };
        schemas::create(scope.clone(), State(state.clone()), Json(body)).await?;
    }
    let existing = db::credential_definitions::list(&state.db, scope).await?;
    if let Some(found) = existing
        .iter()
        .find(|d| d.schema.schema_id == schema_id && d.credential_id.tag() == tag)
    {
        return Ok(found.credential_id.to_string());
    }
    let body = CreateCredentialDefinition {
        schema: schema_id.to_string(),
        tag: tag.to_owned(),
        attestation,
        one_off: false,
        public: true,
        check_webhook: None,
        issuers: Vec::new(),
        source_ip_prefixes: Vec::new(),
    };
    let (_, Json(created)) =
        definitions::create(scope.clone(), State(state.clone()), Json(body)).await?;
    Ok(created.credential_id)
}

/// What to open and run to see the demo: its public action templates, a link with a pre-filled
/// value, and the link's QR code. `admin_token` goes into the commands when this start generated
/// it; otherwise they read `$PSI_ADMIN_TOKEN`.
pub async fn instructions(
    state: &AppState,
    did: &Did,
    admin_token: Option<&str>,
) -> anyhow::Result<String> {
    let scope = db::services::scope_for_did(&state.db, did)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo service {did} is missing"))?;
    let interaction = db::interactions::list(&state.db, &scope)
        .await?
        .into_iter()
        .find(|i| i.name == INTERACTION_NAME)
        .ok_or_else(|| anyhow::anyhow!("the demo interaction is missing"))?;
    let member = interaction
        .required
        .first()
        .map(|r| r.credential_id.to_string())
        .unwrap_or_default();
    let base = &state.public_url;
    let link = format!(
        "{base}/api/v1/services/{did}/interactions/{}/link",
        interaction.id
    );
    let prefill = format!("prefill={member}:Name=Alice&prefill={member}:Member%20number=42");
    let auth = match admin_token {
        Some(token) => format!("Authorization: Bearer {token}"),
        None => "Authorization: Bearer $PSI_ADMIN_TOKEN".to_owned(),
    };
    let mut text = String::new();
    writeln!(
        text,
        "demo service {did}, interaction {:?}",
        interaction.name
    )?;
    writeln!(
        text,
        "  start page (QR code, live status): {base}/s/{did}/{}/start.html",
        interaction.id
    )?;
    writeln!(
        text,
        "  public action templates: {base}/service-dashboard-backend/service/{did}/info/action-templates"
    )?;
    writeln!(text, "  link JSON: curl -H \"{auth}\" '{link}?{prefill}'")?;
    writeln!(
        text,
        "  QR code:   curl -H \"{auth}\" '{link}/qr.png?{prefill}' -o demo-qr.png"
    )?;
    writeln!(text, "  API description: {base}/api/openapi.json")?;
    Ok(text)
}
