//! The **Credential definitions** screen: the service's definitions (self-attested or issued by
//! the service, public or private); **Add credential definition** (schema, tag, attestation,
//! visibility, incoming issuers, source addresses, check webhook) and **Edit credential
//! definition** for what the API lets change after creation (the schema, tag and attestation
//! stay).

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use psi_link::SchemaId;

use super::{Fields, ListQuery, PAGE, split_list};
use crate::api::credential_definitions::{self as api, CredentialDefinitionView, DefinitionQuery};
use crate::api::keys::{self as keys_api, KeyQuery};
use crate::api::page::{MAX_LIMIT, PageQuery};
use crate::api::schemas as schemas_api;
use crate::api::services::DEFAULT_KEY_NAME;
use crate::dashboard::form::{answer, call, editing};
use crate::dashboard::session::{Posted, SignedIn};
use crate::dashboard::{DashboardError, LAYOUT, Layout, Nav};
use crate::db::keys::KeyKind;
use crate::domain::{Attestation, AuthScheme};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::pages::render::html;

/// One row of the list.
struct Row {
    credential_id: String,
    schema: String,
    schema_id: String,
    tag: String,
    attestation: &'static str,
    public: bool,
    one_off: bool,
    issuers: String,
    check_webhook: Option<String>,
}

/// What a pop-up's fields hold.
struct DefinitionForm {
    /// The schema chosen in the list (a wire id), or typed: another service's.
    schema: String,
    other_schema: String,
    tag: String,
    /// `service` or `self`.
    attestation: String,
    one_off: bool,
    public: bool,
    issuers: Vec<String>,
    source_ip_prefixes: String,
    webhook_url: String,
    webhook_key: String,
    /// `signature`, `bearer` or `standard_webhooks`.
    webhook_auth: String,
    webhook_timeout_ms: String,
}

impl Default for DefinitionForm {
    fn default() -> Self {
        DefinitionForm {
            schema: String::new(),
            other_schema: String::new(),
            tag: "default".to_owned(),
            attestation: Attestation::Service.as_str().to_owned(),
            one_off: false,
            public: true,
            issuers: Vec::new(),
            source_ip_prefixes: String::new(),
            webhook_url: String::new(),
            webhook_key: DEFAULT_KEY_NAME.to_owned(),
            webhook_auth: AuthScheme::Signature.as_str().to_owned(),
            webhook_timeout_ms: crate::domain::webhook::DEFAULT_TIMEOUT_MS.to_string(),
        }
    }
}

impl DefinitionForm {
    /// A definition's current settings, for **Edit credential definition**.
    fn of(view: &CredentialDefinitionView) -> Self {
        let mut form = DefinitionForm {
            schema: view.schema_id.clone(),
            tag: view.tag.clone(),
            attestation: view.attestation.as_str().to_owned(),
            one_off: view.one_off,
            public: view.public,
            issuers: view.issuers.clone(),
            source_ip_prefixes: view.source_ip_prefixes.join("\n"),
            ..DefinitionForm::default()
        };
        if let Some(webhook) = &view.check_webhook {
            form.webhook_url = webhook.url.clone();
            form.webhook_key = webhook.key.clone();
            form.webhook_auth = webhook.auth.as_str().to_owned();
            form.webhook_timeout_ms = webhook.timeout_ms.to_string();
        }
        form
    }

    /// What a pop-up posted.
    fn posted(fields: &Fields) -> Self {
        DefinitionForm {
            schema: fields.get("schema").to_owned(),
            other_schema: fields.get("other_schema").trim().to_owned(),
            tag: fields.get("tag").trim().to_owned(),
            attestation: fields.get("attestation").to_owned(),
            one_off: fields.checked("one_off"),
            public: fields.get("visibility") != "private",
            issuers: fields.all("issuer"),
            source_ip_prefixes: fields.get("source_ip_prefixes").to_owned(),
            webhook_url: fields.get("webhook_url").trim().to_owned(),
            webhook_key: fields.get("webhook_key").to_owned(),
            webhook_auth: fields.get("webhook_auth").to_owned(),
            webhook_timeout_ms: fields.get("webhook_timeout_ms").trim().to_owned(),
        }
    }

    /// The settings both the API's create and update take; no URL: no check webhook.
    fn settings(&self) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
        let check_webhook = if self.webhook_url.is_empty() {
            serde_json::Value::Null
        } else {
            let mut webhook = serde_json::json!({
                "url": self.webhook_url,
                "key": self.webhook_key,
                "auth": self.webhook_auth,
            });
            if !self.webhook_timeout_ms.is_empty() {
                let timeout: i64 = self.webhook_timeout_ms.parse().map_err(|_| {
                    ApiError::Validation(
                        "`check_webhook.timeout_ms` must be a whole number of milliseconds".into(),
                    )
                })?;
                webhook["timeout_ms"] = timeout.into();
            }
            webhook
        };
        let serde_json::Value::Object(settings) = serde_json::json!({
            "one_off": self.one_off,
            "public": self.public,
            "issuers": self.issuers,
            "source_ip_prefixes": split_list(&self.source_ip_prefixes, &['\n', '\r', ',', ' ']),
            "check_webhook": check_webhook,
        }) else {
            unreachable!("a JSON object literal");
        };
        Ok(settings)
    }

    fn issues(&self, key: &str) -> bool {
        self.issuers.iter().any(|name| name == key)
    }
}

/// A pop-up: **Add credential definition** or **Edit credential definition**.
struct Dialog {
    id: &'static str,
    title: &'static str,
    action: String,
    /// Creating: the schema, tag and attestation are asked; editing shows them.
    creating: bool,
    /// Editing: the definition's id, schema and attestation.
    facts: Vec<(&'static str, String)>,
    form: DefinitionForm,
    open: bool,
    error: Option<String>,
}

struct Choice {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "dashboard/definitions.html")]
struct DefinitionsPage {
    layout: &'static Layout,
    nav: Nav,
    rows: Vec<Row>,
    next: Option<String>,
    /// Editors only.
    dialogs: Vec<Dialog>,
    schemas: Vec<Choice>,
    /// Every key, for the check webhook.
    keys: Vec<Choice>,
    /// Third parties' RSA public keys and SHA secrets: the keys that may issue from outside.
    issuer_keys: Vec<Choice>,
}

fn attestation_label(attestation: Attestation) -> &'static str {
    match attestation {
        Attestation::Service => "Issued by the service",
        Attestation::SelfAttested => "Self-attested",
    }
}

/// A schema's wire id as `Name 1.0`.
fn schema_label(schema_id: &str) -> String {
    schema_id.parse::<SchemaId>().map_or_else(
        |_| schema_id.to_owned(),
        |id| format!("{} {}", id.name(), id.version()),
    )
}

fn row(view: CredentialDefinitionView) -> Row {
    Row {
        schema: schema_label(&view.schema_id),
        attestation: attestation_label(view.attestation),
        issuers: view.issuers.join(", "),
        check_webhook: view.check_webhook.map(|webhook| webhook.url),
        credential_id: view.credential_id,
        schema_id: view.schema_id,
        tag: view.tag,
        public: view.public,
        one_off: view.one_off,
    }
}

fn add_dialog(did: &str) -> Dialog {
    Dialog {
        id: "add-definition",
        title: "Add credential definition",
        action: format!("/dashboard/services/{did}/definitions"),
        creating: true,
        facts: Vec::new(),
        form: DefinitionForm::default(),
        open: false,
        error: None,
    }
}

fn edit_dialog(did: &str, view: &CredentialDefinitionView) -> Dialog {
    Dialog {
        id: "edit-definition",
        title: "Edit credential definition",
        action: format!(
            "/dashboard/services/{did}/definitions/{}",
            view.credential_id
        ),
        creating: false,
        facts: vec![
            ("Credential definition ID", view.credential_id.clone()),
            ("Schema", schema_label(&view.schema_id)),
            ("Tag", view.tag.clone()),
            (
                "Attestation",
                attestation_label(view.attestation).to_owned(),
            ),
        ],
        form: DefinitionForm::of(view),
        open: true,
        error: None,
    }
}

/// The page: the list's page at `cursor` and, for editors, the pop-ups with the service's
/// schemas and keys to choose from (the first [`MAX_LIMIT`] of each).
async fn page(
    state: &AppState,
    nav: Nav,
    cursor: Option<String>,
    dialogs: Vec<Dialog>,
) -> Result<DefinitionsPage, DashboardError> {
    let scope = nav.scope()?;
    let did = nav.service.did.clone();
    let query = DefinitionQuery {
        schema: None,
        limit: Some(PAGE),
        cursor,
    };
    let Json(list) = api::list(scope.clone(), State(state.clone()), Query(query)).await?;
    let next = list
        .next_cursor
        .map(|cursor| format!("/dashboard/services/{did}/definitions?cursor={cursor}"));
    let mut page_of = DefinitionsPage {
        layout: &LAYOUT,
        rows: list.data.into_iter().map(row).collect(),
        next,
        dialogs: Vec::new(),
        schemas: Vec::new(),
        keys: Vec::new(),
        issuer_keys: Vec::new(),
        nav,
    };
    if !page_of.nav.service.role.can_edit() {
        return Ok(page_of);
    }
    page_of.dialogs = dialogs;
    let all = PageQuery {
        limit: Some(MAX_LIMIT),
        cursor: None,
    };
    let Json(schemas) = schemas_api::list(scope.clone(), State(state.clone()), Query(all)).await?;
    page_of.schemas = schemas
        .data
        .into_iter()
        .map(|schema| Choice {
            label: format!("{} {}", schema.name, schema.version),
            value: schema.schema_id,
        })
        .collect();
    let all = KeyQuery {
        kind: None,
        limit: Some(MAX_LIMIT),
        cursor: None,
    };
    let Json(keys) = keys_api::list(scope, State(state.clone()), Query(all)).await?;
    for key in keys.data {
        let kind = super::keys::kind_label(key.kind);
        let choice = Choice {
            label: format!("{} ({kind})", key.name),
            value: key.name,
        };
        if key.kind != KeyKind::RsaKeyPair {
            page_of.issuer_keys.push(Choice {
                value: choice.value.clone(),
                label: choice.label.clone(),
            });
        }
        page_of.keys.push(choice);
    }
    Ok(page_of)
}

/// `GET /dashboard/services/{serviceDid}/definitions` (`?edit=new` opens **Add credential
/// definition**, `?edit=<credential id>` **Edit credential definition**).
pub(super) async fn list(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "definitions").await?;
    let mut add = add_dialog(&did);
    let mut dialogs = Vec::new();
    match query.edit.as_deref() {
        Some("new") => add.open = true,
        Some(credential_id) if nav.service.role.can_edit() => {
            let Json(view) = api::get(
                nav.scope()?,
                State(state.clone()),
                Path((did.clone(), credential_id.to_owned())),
            )
            .await?;
            dialogs.push(edit_dialog(&did, &view));
        }
        _ => {}
    }
    dialogs.insert(0, add);
    Ok(html(&page(&state, nav, query.cursor, dialogs).await?))
}

/// `POST .../definitions`: **Add credential definition**, through the API's create.
pub(super) async fn create(
    State(state): State<AppState>,
    Path(did): Path<String>,
    Posted { signed_in, form }: Posted<Fields>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "definitions").await?;
    let form = DefinitionForm::posted(&form);
    let schema = if form.other_schema.is_empty() {
        &form.schema
    } else {
        &form.other_schema
    };
    let created = match form.settings() {
        Ok(mut settings) => {
            settings.insert("schema".into(), schema.as_str().into());
            settings.insert("tag".into(), form.tag.as_str().into());
            settings.insert("attestation".into(), form.attestation.as_str().into());
            let scope = nav.scope()?;
            call(settings.into(), async |request| {
                api::create(scope, State(state.clone()), Json(request))
                    .await
                    .map(drop)
            })
            .await
        }
        Err(error) => Err(error),
    };
    let to = format!("/dashboard/services/{did}/definitions");
    answer(created, &to, async |message| {
        let mut add = add_dialog(&did);
        add.form = form;
        add.open = true;
        add.error = Some(message);
        page(&state, nav, None, vec![add]).await
    })
    .await
}

/// `POST .../definitions/{credentialId}`: **Edit credential definition**, through the API's
/// update (which refuses, for one, making private what other services require).
pub(super) async fn update(
    State(state): State<AppState>,
    Path((did, credential_id)): Path<(String, String)>,
    Posted { signed_in, form }: Posted<Fields>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "definitions").await?;
    let scope = nav.scope()?;
    // Read first, so that another service's or a missing definition is a 404 page.
    let Json(current) = api::get(
        scope.clone(),
        State(state.clone()),
        Path((did.clone(), credential_id.clone())),
    )
    .await?;
    let form = DefinitionForm::posted(&form);
    let updated = match form.settings() {
        Ok(settings) => {
            call(settings.into(), async |request| {
                api::update(
                    scope,
                    State(state.clone()),
                    Path((did.clone(), credential_id)),
                    Json(request),
                )
                .await
                .map(drop)
            })
            .await
        }
        Err(error) => Err(error),
    };
    let to = format!("/dashboard/services/{did}/definitions");
    answer(updated, &to, async |message| {
        let mut edit = edit_dialog(&did, &current);
        edit.form = form;
        edit.error = Some(message);
        page(&state, nav, None, vec![add_dialog(&did), edit]).await
    })
    .await
}
