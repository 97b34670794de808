//! An interaction's page, tab **Details**: what it is (name, description, status, media,
//! completion URL), its instances and their parameters (add, edit, make default, delete), its
//! **Web hook** (**Edit web hook**), the credentials it requires (**Edit required credential**,
//! **Add** from this service or another's public definitions, remove) and those it issues.
//!
//! Every change is the management API's own handler (`PATCH .../interactions/{id}` and the
//! instances' `POST`/`PATCH`/`DELETE`), so what the API refuses (a SHA secret with Request
//! Signature, pre-filling a service-attested credential, a name taken, deleting the default
//! instance) comes back as the form, open, with the API's message.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use psi_link::Did;
use serde::Deserialize;
use serde_json::{Value, json};

use super::form::{self, Refused, editing};
use super::session::{NoFields, Posted, SignedIn};
use super::{DashboardError, LAYOUT, Layout, Nav};
use crate::api::instances::{self, CreateInstance, UpdateInstance};
use crate::api::interactions::{RequiredCredentialJson, UpdateInteraction};
use crate::db::credential_definitions::CredentialDefinition;
use crate::db::interactions::{Interaction, RequiredCredential};
use crate::db::keys::{DEFAULT_KEY_NAME, KeyKind};
use crate::db::{self, extensions::AttachedTo};
use crate::domain::{Attestation, AttributeType, Attributes, AuthScheme, Medium, Parameter};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::InteractionId;
use crate::pages::render::html;

/// The pop-ups' element ids, which `?edit=` names to render one open.
const DETAILS: &str = "edit-details";
const WEBHOOK: &str = "edit-webhook";
const ADD: &str = "add-required";
const ADD_INSTANCE: &str = "add-instance";

pub(super) fn routes() -> Router<AppState> {
    let base = "/dashboard/services/{serviceDid}/interactions/{id}";
    Router::new()
        .route(base, get(details))
        .route(&format!("{base}/details"), post(save_details))
        .route(&format!("{base}/webhook"), post(save_webhook))
        .route(&format!("{base}/webhook/remove"), post(remove_webhook))
        .route(&format!("{base}/required"), post(add_required))
        .route(&format!("{base}/required/edit"), post(edit_required))
        .route(&format!("{base}/required/remove"), post(remove_required))
        .route(&format!("{base}/instances"), post(add_instance))
        .route(&format!("{base}/instances/edit"), post(edit_instance))
        .route(&format!("{base}/instances/delete"), post(delete_instance))
}

/// A credential definition as the page shows it.
struct Definition {
    credential_id: String,
    /// The schema's name and version ("Demo Member 1.0"), when psi could read it.
    schema: String,
    attributes: String,
    /// The service whose definition it is.
    issuer: String,
    /// Who vouches for the content.
    attestation: &'static str,
    self_attested: bool,
    /// It has a check webhook, so external verification may be asked for.
    check_webhook: bool,
}

/// A required credential, a row of the table and its **Edit required credential** pop-up.
struct Required {
    /// Its pop-up's element id.
    dialog: String,
    definition: Definition,
    prefill_from_qr: bool,
    external_verification: bool,
    only_last: bool,
    /// The extension that added it (its name), which alone may take it away.
    added_by: Option<String>,
    /// The pop-up's checkboxes: the stored flags, or what was sent when the API refused it.
    form: RequiredForm,
}

/// A credential required by schema (read only here: the API's `required_schemas`).
struct SchemaRequired {
    schema: String,
    schema_id: String,
    trusted_issuers: String,
    only_last: bool,
    added_by: Option<String>,
}

/// An instance, a row of the table and its **Edit instance** pop-up.
struct InstanceRow {
    /// Its pop-up's element id.
    dialog: String,
    id: String,
    is_default: bool,
    parameters: Vec<(String, String)>,
    /// The pop-up's fields: the stored ones, or what was sent when the API refused it.
    form: InstanceForm,
}

struct WebhookFacts {
    url: String,
    key: String,
    auth: &'static str,
    timeout_ms: i64,
}

/// A key the **Edit web hook** pop-up offers.
struct KeyChoice {
    name: String,
    kind: &'static str,
}

/// A definition the **Add** pop-up offers.
struct Choice {
    credential_id: String,
    label: String,
}

/// Another service's public definitions the **Add** pop-up offers.
struct OtherService {
    name: String,
    choices: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "dashboard/interaction.html")]
struct DetailsPage {
    layout: &'static Layout,
    nav: Nav,
    can_edit: bool,
    /// This page's path.
    base: String,
    id: String,
    name: String,
    description: String,
    active: bool,
    media: String,
    completion_url: Option<String>,
    instances: Vec<InstanceRow>,
    webhook: Option<WebhookFacts>,
    keys: Vec<KeyChoice>,
    required: Vec<Required>,
    schemas: Vec<SchemaRequired>,
    issued: Vec<Definition>,
    choices: Vec<Choice>,
    others: Vec<OtherService>,
    /// The **Add instance** pop-up's fields.
    new_instance: InstanceForm,
    /// The pop-up rendered open (its element id), or empty.
    open: String,
    /// What the API said to the open pop-up's form.
    error: Option<String>,
    /// What the last change did.
    notice: Option<&'static str>,
    details: DetailsForm,
    hook: WebhookForm,
    add: AddForm,
}

/// The **Edit details** form.
#[derive(Deserialize, Default)]
pub(super) struct DetailsForm {
    name: String,
    #[serde(default)]
    description: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    media_qr: Option<String>,
    #[serde(default)]
    media_push: Option<String>,
    #[serde(default)]
    completion_url: String,
}

/// The **Edit web hook** form.
#[derive(Deserialize, Default)]
pub(super) struct WebhookForm {
    url: String,
    key: String,
    /// The API's `auth`: `signature` (Request Signature) or `bearer` (Bearer Token).
    #[serde(default)]
    auth: String,
}

/// The **Add instance** and **Edit instance** forms. Parameters are written one per line,
/// `name = value`, as they read on the page.
#[derive(Deserialize, Default)]
pub(super) struct InstanceForm {
    /// Empty when adding.
    #[serde(default)]
    instance_id: String,
    #[serde(default)]
    parameters: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    is_default: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct DeleteInstanceForm {
    instance_id: String,
}

/// The **Add** form: one of this service's definitions, or another service's public one.
#[derive(Deserialize, Default)]
pub(super) struct AddForm {
    #[serde(default)]
    credential_id: String,
    #[serde(default)]
    other: String,
}

/// The **Edit required credential** form.
#[derive(Deserialize, Default, Clone)]
pub(super) struct RequiredForm {
    credential_id: String,
    #[serde(default)]
    prefill_from_qr: Option<String>,
    #[serde(default)]
    external_verification: Option<String>,
    #[serde(default)]
    only_last: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RemoveForm {
    credential_id: String,
}

#[derive(Deserialize)]
pub(super) struct DetailsQuery {
    /// The pop-up to render open.
    edit: Option<String>,
    /// The change just made.
    saved: Option<String>,
}

/// What a page shows beyond the stored interaction: a pop-up open, the API's refusal, and the
/// form as it was sent.
#[derive(Default)]
struct View {
    open: String,
    error: Option<String>,
    notice: Option<&'static str>,
    details: Option<DetailsForm>,
    hook: Option<WebhookForm>,
    add: Option<AddForm>,
    required: Option<RequiredForm>,
    instance: Option<InstanceForm>,
}

/// `GET /dashboard/services/{serviceDid}/interactions/{id}`.
async fn details(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Query(query): Query<DetailsQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "interactions").await?;
    let notice = query.saved.as_deref().and_then(|saved| match saved {
        "details" => Some("The details are saved."),
        "webhook" => Some("The web hook is saved."),
        "webhook-removed" => Some("The web hook is removed."),
        "required" => Some("The required credential is saved."),
        "added" => Some("The credential is added to the required credentials."),
        "removed" => Some("The credential is removed from the required credentials."),
        "instance-added" => Some("The instance is added."),
        "instance" => Some("The instance is saved."),
        "instance-deleted" => Some("The instance is deleted."),
        _ => None,
    });
    let view = View {
        open: query.edit.unwrap_or_default(),
        notice,
        ..View::default()
    };
    page(&state, nav, &id, view, StatusCode::OK).await
}

/// Renders the page of interaction `id` with `view`, answering `status`.
async fn page(
    state: &AppState,
    nav: Nav,
    id: &InteractionId,
    mut view: View,
    status: StatusCode,
) -> Result<Response, DashboardError> {
    let scope = nav.scope()?;
    let interaction = find(state, &nav, id).await?;
    let own: HashMap<String, CredentialDefinition> =
        db::credential_definitions::list(&state.db, &scope)
            .await?
            .into_iter()
            .map(|d| (d.id.clone(), d))
            .collect();
    let service_name = nav.service.name.clone();
    // Names of the extensions that added requirements, read once (only when there are any).
    let added = interaction
        .required
        .iter()
        .map(|r| &r.added_by)
        .chain(interaction.required_schemas.iter().map(|r| &r.added_by))
        .any(Option::is_some);
    let extensions: HashMap<String, String> = if added {
        db::extensions::attachments_of(&state.db, &scope, AttachedTo::Interaction(id.as_str()))
            .await?
            .into_iter()
            .map(|a| (a.installation.id, a.installation.extension_name))
            .collect()
    } else {
        HashMap::new()
    };
    let extension_name = |installation: &Option<String>| {
        installation.as_ref().map(|installation| {
            extensions
                .get(installation)
                .cloned()
                .unwrap_or_else(|| "an extension".to_owned())
        })
    };
    // Other services' names, by DID (read through the services cache).
    let mut services: HashMap<String, String> = HashMap::new();
    services.insert(nav.service.did.clone(), service_name.clone());

    let mut required = Vec::with_capacity(interaction.required.len());
    for (index, item) in interaction.required.iter().enumerate() {
        let definition = match own.get(&item.definition_id) {
            Some(found) => definition(found, &service_name),
            None => foreign(state, &mut services, item).await?,
        };
        let credential_id = item.credential_id.to_string();
        let dialog = format!("required-{index}");
        let form = match view.required.take() {
            Some(sent) if sent.credential_id == credential_id => {
                view.open.clone_from(&dialog);
                sent
            }
            other => {
                view.required = other;
                RequiredForm {
                    credential_id: credential_id.clone(),
                    prefill_from_qr: item.prefill_from_qr.then(String::new),
                    external_verification: item.external_verification.then(String::new),
                    only_last: item.only_last.then(String::new),
                }
            }
        };
        required.push(Required {
            dialog,
            definition,
            prefill_from_qr: item.prefill_from_qr,
            external_verification: item.external_verification,
            only_last: item.only_last,
            added_by: extension_name(&item.added_by),
            form,
        });
    }
    let mut schemas = Vec::with_capacity(interaction.required_schemas.len());
    for item in &interaction.required_schemas {
        let mut issuers = Vec::with_capacity(item.trusted_issuers.len());
        for did in &item.trusted_issuers {
            issuers.push(service(state, &mut services, did).await?);
        }
        schemas.push(SchemaRequired {
            schema: format!("{} {}", item.schema_id.name(), item.schema_id.version()),
            schema_id: item.schema_id.to_string(),
            trusted_issuers: issuers.join(", "),
            only_last: item.only_last,
            added_by: extension_name(&item.added_by),
        });
    }
    let issued = interaction
        .issued
        .iter()
        .map(|item| match own.get(&item.definition_id) {
            Some(found) => definition(found, &service_name),
            None => Definition {
                credential_id: item.credential_id.to_string(),
                schema: item.credential_id.to_string(),
                attributes: String::new(),
                issuer: service_name.clone(),
                attestation: "",
                self_attested: false,
                check_webhook: false,
            },
        })
        .collect();
    // The Add pop-up offers this service's definitions not required yet.
    let mut choices: Vec<Choice> = own
        .values()
        .filter(|d| !interaction.required.iter().any(|r| r.definition_id == d.id))
        .map(|d| Choice {
            credential_id: d.credential_id.to_string(),
            label: format!(
                "{} {} · {} ({})",
                d.schema.name,
                d.schema.version,
                d.credential_id.tag(),
                attestation(d.attestation)
            ),
        })
        .collect();
    choices.sort_by(|a, b| a.label.cmp(&b.label));
    let others = others(state, &scope, &interaction).await?;
    // Keys that can authenticate calls: the service's RSA key pairs and SHA secrets.
    let keys = db::keys::list(&state.db, &scope)
        .await?
        .into_iter()
        .filter_map(|key| {
            let kind = match key.kind {
                KeyKind::RsaKeyPair => "RSA key pair",
                KeyKind::ShaSecret => "SHA secret: Bearer Token only",
                KeyKind::RsaPublicKey => return None,
            };
            Some(KeyChoice {
                name: key.name,
                kind,
            })
        })
        .collect();
    let hook = view
        .hook
        .take()
        .unwrap_or_else(|| match &interaction.webhook {
            Some(webhook) => WebhookForm {
                url: webhook.url.clone(),
                key: webhook.key_name.clone(),
                auth: webhook.auth.as_str().to_owned(),
            },
            None => WebhookForm {
                url: String::new(),
                key: DEFAULT_KEY_NAME.to_owned(),
                auth: AuthScheme::Signature.as_str().to_owned(),
            },
        });
    let details = view.details.take().unwrap_or_else(|| DetailsForm {
        name: interaction.name.clone(),
        description: interaction.description.clone(),
        media_qr: interaction.media.contains(&Medium::Qr).then(String::new),
        media_push: interaction.media.contains(&Medium::Push).then(String::new),
        completion_url: interaction.completion_url.clone().unwrap_or_default(),
    });
    let media = super::interactions::media_names(&interaction.media);
    let mut new_instance = InstanceForm::default();
    let mut instances = Vec::with_capacity(interaction.instances.len());
    for (index, instance) in interaction.instances.iter().enumerate() {
        let id = instance.id.to_string();
        let dialog = format!("instance-{index}");
        let form = match view.instance.take() {
            Some(sent) if sent.instance_id == id => {
                view.open.clone_from(&dialog);
                sent
            }
            other => {
                view.instance = other;
                InstanceForm {
                    instance_id: id.clone(),
                    parameters: parameter_lines(&instance.parameters),
                    is_default: instance.is_default.then(String::new),
                }
            }
        };
        instances.push(InstanceRow {
            dialog,
            id,
            is_default: instance.is_default,
            parameters: instance
                .parameters
                .iter()
                .map(|p| (p.name.clone(), p.value.clone()))
                .collect(),
            form,
        });
    }
    if let Some(sent) = view
        .instance
        .take()
        .filter(|sent| sent.instance_id.is_empty())
    {
        new_instance = sent;
    }
    let webhook = interaction.webhook.as_ref().map(|webhook| WebhookFacts {
        url: webhook.url.clone(),
        key: webhook.key_name.clone(),
        auth: auth_label(webhook.auth),
        timeout_ms: webhook.timeout_ms,
    });
    let base = base(&nav.service.did, id);
    let page = DetailsPage {
        layout: &LAYOUT,
        can_edit: nav.service.role.can_edit(),
        nav,
        base,
        id: id.to_string(),
        name: interaction.name,
        description: interaction.description,
        active: interaction.active,
        media,
        completion_url: interaction.completion_url,
        instances,
        webhook,
        keys,
        required,
        schemas,
        issued,
        choices,
        others,
        new_instance,
        open: view.open,
        error: view.error,
        notice: view.notice,
        details,
        hook,
        add: view.add.unwrap_or_default(),
    };
    Ok((status, html(&page)).into_response())
}

/// Other services' public definitions the interaction does not require yet, by service.
async fn others(
    state: &AppState,
    scope: &crate::scope::ServiceScope,
    interaction: &Interaction,
) -> Result<Vec<OtherService>, DashboardError> {
    let mut others: Vec<OtherService> = Vec::new();
    for found in db::credential_definitions::public_elsewhere(&state.db, scope).await? {
        let credential_id = found.credential_id()?;
        if interaction
            .required
            .iter()
            .any(|r| r.credential_id == credential_id)
        {
            continue;
        }
        let credential_id = credential_id.to_string();
        let attestation = Attestation::from_db(&found.attestation).map(attestation)?;
        let choice = Choice {
            label: format!(
                "{} {} · {} ({attestation})",
                found.schema_name, found.schema_version, found.tag
            ),
            credential_id,
        };
        match others.last_mut() {
            Some(last) if last.name == found.service_name => last.choices.push(choice),
            _ => others.push(OtherService {
                name: found.service_name,
                choices: vec![choice],
            }),
        }
    }
    Ok(others)
}

/// Parameters as the **Edit instance** pop-up shows them, one `name = value` per line.
fn parameter_lines(parameters: &[Parameter]) -> String {
    parameters
        .iter()
        .map(|p| format!("{} = {}", p.name, p.value))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The parameters a form's lines give; blank lines are skipped, and a line without `=` is
/// refused as the API refuses a bad parameter.
fn parse_parameters(lines: &str) -> Result<Vec<Parameter>, ApiError> {
    lines
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            // `name = value` as the page writes it; a bare `=` as typed.
            let (name, value) = line
                .split_once(" = ")
                .or_else(|| line.split_once('='))
                .ok_or_else(|| {
                    ApiError::Validation(format!(
                        "parameters, line {}: write each parameter as name = value",
                        index + 1
                    ))
                })?;
            Ok(Parameter {
                name: name.trim().to_owned(),
                value: value.trim().to_owned(),
            })
        })
        .collect()
}

fn base(did: &str, id: &InteractionId) -> String {
    format!("/dashboard/services/{did}/interactions/{id}")
}

async fn find(
    state: &AppState,
    nav: &Nav,
    id: &InteractionId,
) -> Result<Interaction, DashboardError> {
    db::interactions::get(&state.db, &nav.scope()?, id)
        .await?
        .ok_or_else(|| DashboardError::NotFound("no such interaction".into()))
}

fn attestation(attestation: Attestation) -> &'static str {
    match attestation {
        Attestation::SelfAttested => "self-attested",
        Attestation::Service => "service-attested",
    }
}

fn auth_label(auth: AuthScheme) -> &'static str {
    match auth {
        AuthScheme::Signature => "Request Signature",
        AuthScheme::Bearer => "Bearer Token",
        AuthScheme::StandardWebhooks => "Standard Webhooks",
    }
}

fn attributes(attributes: &Attributes) -> String {
    attributes
        .iter()
        .map(|a| {
            let kind = match &a.ty {
                AttributeType::Text => "text".to_owned(),
                AttributeType::Date => "date".to_owned(),
                AttributeType::Number => "number".to_owned(),
                AttributeType::Image => "image".to_owned(),
                AttributeType::Enumeration(values) => {
                    let names: Vec<&str> = values.iter().map(|v| v.name.as_str()).collect();
                    format!("one of {}", names.join(", "))
                }
            };
            format!("{} ({kind})", a.name)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn definition(found: &CredentialDefinition, issuer: &str) -> Definition {
    Definition {
        credential_id: found.credential_id.to_string(),
        schema: format!("{} {}", found.schema.name, found.schema.version),
        attributes: attributes(&found.schema.attributes),
        issuer: issuer.to_owned(),
        attestation: attestation(found.attestation),
        self_attested: found.attestation == Attestation::SelfAttested,
        check_webhook: found.check_webhook.is_some(),
    }
}

/// Another service's definition a requirement names, read from its service.
async fn foreign(
    state: &AppState,
    services: &mut HashMap<String, String>,
    item: &RequiredCredential,
) -> Result<Definition, DashboardError> {
    let issuer = item.credential_id.issuer().to_owned();
    let name = service(state, services, &issuer).await?;
    let found = match issuer.parse::<Did>() {
        Ok(did) => match db::services::by_did(&state.db, &did).await? {
            Some((owner, _)) => {
                db::credential_definitions::get_by_wire_id(&state.db, &owner, &item.credential_id)
                    .await?
            }
            None => None,
        },
        Err(_) => None,
    };
    Ok(match found {
        Some(found) => definition(&found, &name),
        None => Definition {
            credential_id: item.credential_id.to_string(),
            schema: item.credential_id.to_string(),
            attributes: attributes(&item.attributes),
            issuer: name,
            attestation: attestation(item.attestation),
            self_attested: item.attestation == Attestation::SelfAttested,
            check_webhook: false,
        },
    })
}

/// The name of the service `did` on this server (the DID itself when there is none).
async fn service(
    state: &AppState,
    services: &mut HashMap<String, String>,
    did: &str,
) -> Result<String, DashboardError> {
    if let Some(name) = services.get(did) {
        return Ok(name.clone());
    }
    let name = match did.parse::<Did>() {
        Ok(parsed) => db::services::by_did(&state.db, &parsed)
            .await?
            .map_or_else(|| did.to_owned(), |(_, service)| service.name),
        Err(_) => did.to_owned(),
    };
    services.insert(did.to_owned(), name.clone());
    Ok(name)
}

/// The API's update of interaction `id` with `body`; a refusal (invalid, conflicting) is
/// returned to show, anything else is the page's error.
async fn patch(
    state: &AppState,
    nav: &Nav,
    id: &InteractionId,
    body: Value,
) -> Result<Option<Refused>, DashboardError> {
    let scope = nav.scope()?;
    let path = Path((nav.service.did.clone(), id.clone()));
    let result = form::call(body, async |body: UpdateInteraction| {
        crate::api::interactions::update(scope, State(state.clone()), path, Json(body))
            .await
            .map(drop)
    })
    .await;
    refusal(result)
}

/// What the API refused, to show in the form (`None` when it took the change).
fn refusal(result: Result<(), ApiError>) -> Result<Option<Refused>, DashboardError> {
    result.err().map(form::refused).transpose()
}

/// After a change: the page again (post/redirect/get), or the form open with the API's message.
async fn answer(
    state: &AppState,
    nav: Nav,
    id: &InteractionId,
    refused: Option<Refused>,
    saved: &str,
    view: View,
) -> Result<Response, DashboardError> {
    match refused {
        None => Ok(
            Redirect::to(&format!("{}?saved={saved}", base(&nav.service.did, id))).into_response(),
        ),
        Some(refusal) => {
            let view = View {
                error: Some(refusal.message),
                ..view
            };
            page(state, nav, id, view, refusal.status).await
        }
    }
}

/// The requirements that are the interaction's own (not an extension's), as the API takes them.
fn own_required(interaction: &Interaction) -> Vec<RequiredCredentialJson> {
    interaction
        .required
        .iter()
        .filter(|r| r.added_by.is_none())
        .cloned()
        .map(Into::into)
        .collect()
}

/// `POST .../interactions/{id}/details`: name, description, media, completion URL.
async fn save_details(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Posted { signed_in, form }: Posted<DetailsForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    let mut media = Vec::new();
    if form.media_qr.is_some() {
        media.push(Medium::Qr);
    }
    if form.media_push.is_some() {
        media.push(Medium::Push);
    }
    let completion_url = Some(form.completion_url.trim()).filter(|url| !url.is_empty());
    let body = json!({
        "name": form.name,
        "description": form.description,
        "media": media,
        "completion_url": completion_url,
    });
    let refused = patch(&state, &nav, &id, body).await?;
    let view = View {
        open: DETAILS.to_owned(),
        details: Some(form),
        ..View::default()
    };
    answer(&state, nav, &id, refused, "details", view).await
}

/// `POST .../interactions/{id}/webhook`: URL, key and authentication type; the timeout stays.
async fn save_webhook(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Posted { signed_in, form }: Posted<WebhookForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    let current = find(&state, &nav, &id).await?;
    let mut webhook = json!({"url": form.url.trim(), "key": form.key, "auth": form.auth});
    if let Some(current) = &current.webhook {
        webhook["timeout_ms"] = json!(current.timeout_ms);
    }
    let refused = patch(&state, &nav, &id, json!({ "webhook": webhook })).await?;
    let view = View {
        open: WEBHOOK.to_owned(),
        hook: Some(form),
        ..View::default()
    };
    answer(&state, nav, &id, refused, "webhook", view).await
}

/// `POST .../interactions/{id}/webhook/remove`.
async fn remove_webhook(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Posted { signed_in, .. }: Posted<NoFields>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    let refused = patch(&state, &nav, &id, json!({ "webhook": null })).await?;
    let view = View {
        open: WEBHOOK.to_owned(),
        ..View::default()
    };
    answer(&state, nav, &id, refused, "webhook-removed", view).await
}

/// `POST .../interactions/{id}/required`: **Add** a required credential.
async fn add_required(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Posted { signed_in, form }: Posted<AddForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    let current = find(&state, &nav, &id).await?;
    let credential_id = match form.other.trim() {
        "" => form.credential_id.trim().to_owned(),
        other => other.to_owned(),
    };
    let mut required = own_required(&current);
    required.push(RequiredCredentialJson {
        credential_id,
        prefill_from_qr: false,
        external_verification: false,
        only_last: false,
        added_by: None,
    });
    let body = json!({ "required_credentials": required });
    let refused = patch(&state, &nav, &id, body).await?;
    let view = View {
        open: ADD.to_owned(),
        add: Some(form),
        ..View::default()
    };
    answer(&state, nav, &id, refused, "added", view).await
}

/// `POST .../interactions/{id}/required/edit`: **Edit required credential**'s flags.
async fn edit_required(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Posted { signed_in, form }: Posted<RequiredForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    let current = find(&state, &nav, &id).await?;
    let mut required = own_required(&current);
    let entry = required
        .iter_mut()
        .find(|r| r.credential_id == form.credential_id)
        .ok_or_else(|| {
            DashboardError::NotFound("no such required credential of this interaction".into())
        })?;
    entry.prefill_from_qr = form.prefill_from_qr.is_some();
    entry.external_verification = form.external_verification.is_some();
    entry.only_last = form.only_last.is_some();
    let body = json!({ "required_credentials": required });
    let refused = patch(&state, &nav, &id, body).await?;
    let view = View {
        required: Some(form),
        ..View::default()
    };
    answer(&state, nav, &id, refused, "required", view).await
}

/// `POST .../interactions/{id}/required/remove`: one of the interaction's own requirements.
async fn remove_required(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Posted { signed_in, form }: Posted<RemoveForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    let current = find(&state, &nav, &id).await?;
    let mut required = own_required(&current);
    let before = required.len();
    required.retain(|r| r.credential_id != form.credential_id);
    if required.len() == before {
        return Err(DashboardError::NotFound(
            "no such required credential of this interaction".into(),
        ));
    }
    let body = json!({ "required_credentials": required });
    let refused = patch(&state, &nav, &id, body).await?;
    answer(&state, nav, &id, refused, "removed", View::default()).await
}

/// `POST .../interactions/{id}/instances`: **Add instance**.
async fn add_instance(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Posted { signed_in, form }: Posted<InstanceForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    let result = match parse_parameters(&form.parameters) {
        Ok(parameters) => {
            let body = CreateInstance {
                parameters,
                is_default: form.is_default.is_some(),
            };
            let path = Path((did.clone(), id.clone()));
            instances::create(nav.scope()?, State(state.clone()), path, Json(body))
                .await
                .map(drop)
        }
        Err(error) => Err(error),
    };
    let view = View {
        open: ADD_INSTANCE.to_owned(),
        instance: Some(InstanceForm {
            instance_id: String::new(),
            ..form
        }),
        ..View::default()
    };
    answer(&state, nav, &id, refusal(result)?, "instance-added", view).await
}

/// `POST .../interactions/{id}/instances/edit`: **Edit instance** (parameters, default).
async fn edit_instance(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Posted { signed_in, form }: Posted<InstanceForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    let current = find(&state, &nav, &id).await?;
    let shown = current
        .instances
        .iter()
        .find(|instance| instance.id == form.instance_id.as_str())
        .map(|instance| parameter_lines(&instance.parameters));
    // Parameters sent back as shown are left out, so that ticking Default instance changes
    // nothing else (the lines trim what they read).
    let unchanged =
        shown.is_some_and(|shown| form.parameters.replace("\r\n", "\n").trim_end() == shown);
    let result = match parse_parameters(&form.parameters) {
        Ok(parameters) => {
            // Unticking the default's box asks the API for what it refuses: the default moves
            // only by making another instance the default.
            let body = UpdateInstance {
                parameters: (!unchanged).then_some(parameters),
                is_default: Some(form.is_default.is_some()),
            };
            let path = Path((did.clone(), id.clone(), form.instance_id.as_str().into()));
            instances::update(nav.scope()?, State(state.clone()), path, Json(body))
                .await
                .map(drop)
        }
        Err(error) => Err(error),
    };
    let view = View {
        instance: Some(form),
        ..View::default()
    };
    answer(&state, nav, &id, refusal(result)?, "instance", view).await
}

/// `POST .../interactions/{id}/instances/delete`: an instance other than the default.
async fn delete_instance(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Posted { signed_in, form }: Posted<DeleteInstanceForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    let path = Path((did.clone(), id.clone(), form.instance_id.as_str().into()));
    let result = instances::delete(nav.scope()?, State(state.clone()), path)
        .await
        .map(drop);
    answer(
        &state,
        nav,
        &id,
        refusal(result)?,
        "instance-deleted",
        View::default(),
    )
    .await
}
