//! The **Extensions** screen (docs/extensions.md): the installed extensions; **Install extension**
//! with its **Public Extensions** and **My Extensions** tabs, and for each the service-level
//! settings and what data goes where before **Install**; the Extension Editor (author, version,
//! publish); and an interaction's **Extensions** tab (**Select** → **Extension Settings** →
//! **Add** → the interaction-level settings → **Submit**).
//!
//! Every change is the management API's own handler, given the form's values as its JSON body,
//! so the API checks the settings and the manifests; its refusals are shown in the form.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::events::when;
use super::form::{answer, body, call, editing, see_other};
use super::session::{Posted, SignedIn};
use super::{DashboardError, LAYOUT, Layout, Nav};
use crate::api::installations::{TriggerView, UninstallQuery};
use crate::api::page::{PageQuery, paging};
use crate::db;
use crate::db::delivery_endpoints::DisabledReason;
use crate::db::extensions::{Installation, Visibility};
use crate::domain::extension::{DataFlow, Manifest, SettingField, SettingType, TriggerName};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::InteractionId;
use crate::pages::render::html;

/// Installations a page can choose from, and mark as installed: more than a service has.
const ALL: i64 = 500;
/// Interactions named per installation in the list; the rest are counted.
const SHOWN_ATTACHED: usize = 10;
/// The prefix of a setting's form field, so that no setting name meets `_csrf` or another field.
const SETTING: &str = "setting.";

pub(super) fn routes() -> Router<AppState> {
    let base = "/dashboard/services/{serviceDid}";
    Router::new()
        .route(&format!("{base}/extensions"), get(installed))
        .route(
            &format!("{base}/extensions/installed/{{installation}}/enabled"),
            post(set_enabled),
        )
        .route(
            &format!("{base}/extensions/installed/{{installation}}/uninstall"),
            post(uninstall),
        )
        .route(&format!("{base}/extensions/install"), get(catalogue))
        .route(
            &format!("{base}/extensions/install/{{extension}}"),
            get(install_form).post(install),
        )
        .route(
            &format!("{base}/extensions/editor"),
            get(editor).post(create),
        )
        .route(&format!("{base}/extensions/editor/versions"), post(publish))
        .route(
            &format!("{base}/extensions/editor/visibility"),
            post(set_visibility),
        )
        .route(
            &format!("{base}/interactions/{{id}}/extensions"),
            get(interaction_tab).post(attach),
        )
        .route(
            &format!("{base}/interactions/{{id}}/extensions/{{installation}}/detach"),
            post(detach),
        )
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

/// What a page says after a change redirected to it; a fixed set, so no address writes text.
fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "installed" => "The extension is installed.",
        "uninstalled" => "The extension is uninstalled.",
        "enabled" => "The extension is enabled.",
        "disabled" => "The extension is disabled: its triggers do not run.",
        "attached" => "The extension is added to this interaction.",
        "detached" => "The extension is detached from this interaction.",
        "created" => "The extension is created. Add its first version below.",
        "published" => "The version is published.",
        "visibility" => "The extension's visibility is changed.",
        _ => return None,
    })
}

fn first_page(cursor: Option<String>) -> PageQuery {
    PageQuery {
        limit: None,
        cursor,
    }
}

/// The service's installations (up to [`ALL`]), with their manifests.
async fn all_installations(
    state: &AppState,
    nav: &Nav,
) -> Result<Vec<Installation>, DashboardError> {
    let paging = paging(Some(ALL), None)?;
    Ok(db::extensions::installations(&state.db, &nav.scope()?, &paging).await?)
}

/// One input of a settings form.
struct FieldInput {
    /// The form field's name and the element's id.
    key: String,
    id: String,
    label: String,
    /// `input`, `textarea`, `checkbox` or `select`.
    control: &'static str,
    /// The `type` of an `input`.
    input_type: &'static str,
    value: String,
    checked: bool,
    required: bool,
    /// The field's help, and what the value must be when the type says more than the input.
    hint: Option<String>,
    /// A select's options and whether each is chosen; an empty first one when none need be.
    options: Vec<(String, bool)>,
}

/// The inputs for `fields`, filled with what was posted (never a secret) or the defaults.
fn inputs(
    fields: &[SettingField],
    posted: Option<&HashMap<String, String>>,
    prefix: &str,
) -> Vec<FieldInput> {
    fields
        .iter()
        .map(|field| {
            let key = format!("{SETTING}{}", field.name);
            let default = match &field.default {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            let value = match (posted, field.kind) {
                (_, SettingType::Secret) => String::new(),
                (Some(posted), _) => posted.get(&key).cloned().unwrap_or_default(),
                (None, _) => default,
            };
            let checked = match posted {
                Some(posted) => posted.contains_key(&key),
                None => field.default == Some(Value::Bool(true)),
            };
            let multiline = field
                .help
                .as_deref()
                .is_some_and(|help| help.contains("per line"))
                || value.contains('\n');
            let (control, input_type) = match field.kind {
                SettingType::Boolean => ("checkbox", "checkbox"),
                SettingType::Select => ("select", ""),
                SettingType::Text if multiline => ("textarea", ""),
                SettingType::Number => ("input", "number"),
                SettingType::Url => ("input", "url"),
                SettingType::Secret => ("input", "password"),
                _ => ("input", "text"),
            };
            let required = field.required && field.default.is_none();
            let mut options: Vec<(String, bool)> = field
                .options
                .iter()
                .map(|option| (option.clone(), *option == value))
                .collect();
            if !required || value.is_empty() {
                options.insert(0, (String::new(), value.is_empty()));
            }
            FieldInput {
                id: format!("{prefix}-{}", field.name),
                label: field.label.clone().unwrap_or_else(|| field.name.clone()),
                control,
                input_type,
                value,
                checked,
                required,
                hint: hint(field),
                options,
                key,
            }
        })
        .collect()
}

/// A field's help, then what its type expects, as sentences.
fn hint(field: &SettingField) -> Option<String> {
    let expects = match field.kind {
        SettingType::Did => Some("A service's DID."),
        SettingType::CredentialDefinition => {
            Some("A credential definition id, <DID>:3:CL:<n>:<tag>.")
        }
        SettingType::Secret => Some("Stored sealed and never shown again."),
        SettingType::Url => Some("An absolute http(s) URL."),
        _ => None,
    };
    let help = field
        .help
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty());
    match (help, expects) {
        (None, None) => None,
        (Some(help), None) => Some(help.to_owned()),
        (None, Some(expects)) => Some(expects.to_owned()),
        (Some(help), Some(expects)) if help.ends_with('.') => Some(format!("{help} {expects}")),
        (Some(help), Some(expects)) => Some(format!("{help}. {expects}")),
    }
}

/// The settings a form gives for `fields`, as the API's JSON values: a checkbox is true or false,
/// a number a number (or the text, for the API to refuse), an empty field is not given.
fn settings_from(fields: &[SettingField], posted: &HashMap<String, String>) -> Map<String, Value> {
    let mut settings = Map::new();
    for field in fields {
        let key = format!("{SETTING}{}", field.name);
        if field.kind == SettingType::Boolean {
            settings.insert(field.name.clone(), Value::Bool(posted.contains_key(&key)));
            continue;
        }
        let Some(raw) = posted.get(&key) else {
            continue;
        };
        // Browsers send a textarea's lines with CRLF.
        let text = raw.replace("\r\n", "\n");
        if text.trim().is_empty() {
            continue;
        }
        let value = match field.kind {
            SettingType::Number => {
                let trimmed = text.trim();
                trimmed
                    .parse::<i64>()
                    .map(Value::from)
                    .ok()
                    .or_else(|| {
                        trimmed
                            .parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                            .map(Value::Number)
                    })
                    .unwrap_or(Value::String(text))
            }
            SettingType::Text | SettingType::Secret => Value::String(text),
            _ => Value::String(text.trim().to_owned()),
        };
        settings.insert(field.name.clone(), value);
    }
    settings
}

/// A trigger as a person reads it.
fn trigger_name(trigger: TriggerName) -> &'static str {
    match trigger {
        TriggerName::OnReceive => "When a holder shares credentials (on_receive)",
        TriggerName::OnIssue => "When credentials are issued (on_issue)",
        TriggerName::OnFinish => "When an event completes or fails (on_finish)",
    }
}

/// One data flow of the consent statement.
struct Flow {
    when: &'static str,
    url: String,
    sends: Vec<String>,
}

fn flows(data_flows: Vec<DataFlow>) -> Vec<Flow> {
    data_flows
        .into_iter()
        .map(|flow| Flow {
            when: trigger_name(flow.trigger),
            url: flow.url,
            sends: flow.sends,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The installed extensions

struct InstalledRow {
    id: String,
    name: String,
    version: String,
    enabled: bool,
    built_in: bool,
    /// Interactions it is attached to (id, name), the first [`SHOWN_ATTACHED`].
    attached: Vec<(String, String)>,
    /// How many more.
    more: usize,
    /// Its durable triggers psi stopped delivering to after they kept failing, as read.
    stopped: Vec<String>,
}

/// A trigger psi disabled after it kept failing, as a person reads it; `None` for the others
/// (a disabled installation's triggers are disabled with it).
fn stopped(trigger: &TriggerView) -> Option<String> {
    let state = &trigger.state;
    if state.enabled || state.disabled_reason != Some(DisabledReason::Failing) {
        return None;
    }
    let since = state
        .failing_since
        .map(|since| format!(" since {}", when(since)))
        .unwrap_or_default();
    Some(format!(
        "{} stopped: calls to {} failed{since}; its messages wait until you resume it",
        trigger.trigger.as_str(),
        trigger.url
    ))
}

/// An uninstall the API refused while the extension is attached.
struct Refused {
    id: String,
    name: String,
    message: String,
}

#[derive(Template)]
#[template(path = "dashboard/extensions.html")]
struct InstalledPage {
    layout: &'static Layout,
    nav: Nav,
    rows: Vec<InstalledRow>,
    next: Option<String>,
    notice: Option<&'static str>,
    refused: Option<Refused>,
}

#[derive(Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    done: Option<String>,
}

/// `GET /dashboard/services/{serviceDid}/extensions`.
async fn installed(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "extensions").await?;
    let page = InstalledPage {
        notice: notice(query.done.as_deref()),
        ..installed_page(&state, nav, query.cursor).await?
    };
    Ok(html(&page))
}

async fn installed_page(
    state: &AppState,
    nav: Nav,
    cursor: Option<String>,
) -> Result<InstalledPage, DashboardError> {
    let scope = nav.scope()?;
    let Json(page) = crate::api::installations::list(
        nav.scope()?,
        State(state.clone()),
        Query(first_page(cursor)),
    )
    .await?;
    let mut attached: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for (installation, interaction, name) in
        db::extensions::attached_interactions(&state.db, &scope).await?
    {
        attached
            .entry(installation)
            .or_default()
            .push((interaction, name));
    }
    let rows = page
        .data
        .into_iter()
        .map(|installation| {
            let mut to = attached.remove(&installation.id).unwrap_or_default();
            let more = to.len().saturating_sub(SHOWN_ATTACHED);
            to.truncate(SHOWN_ATTACHED);
            InstalledRow {
                stopped: installation.triggers.iter().filter_map(stopped).collect(),
                id: installation.id,
                name: installation.extension_name,
                version: installation.version,
                enabled: installation.enabled,
                built_in: installation.built_in,
                attached: to,
                more,
            }
        })
        .collect();
    let next = page.next_cursor.map(|cursor| {
        format!(
            "/dashboard/services/{}/extensions?cursor={cursor}",
            nav.service.did
        )
    });
    Ok(InstalledPage {
        layout: &LAYOUT,
        nav,
        rows,
        next,
        notice: None,
        refused: None,
    })
}

#[derive(Deserialize)]
struct EnabledForm {
    enabled: bool,
}

/// `POST .../extensions/installed/{{installation}}/enabled`: the API's installation update.
async fn set_enabled(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, String)>,
    Posted { signed_in, form }: Posted<EnabledForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "extensions").await?;
    let change = body(json!({"enabled": form.enabled}))?;
    crate::api::installations::update(
        nav.scope()?,
        State(state),
        Path((did.clone(), id)),
        Json(change),
    )
    .await?;
    let done = if form.enabled { "enabled" } else { "disabled" };
    Ok(see_other(&format!(
        "/dashboard/services/{did}/extensions?done={done}"
    )))
}

#[derive(Deserialize)]
struct UninstallForm {
    #[serde(default)]
    detach: bool,
}

/// `POST .../extensions/installed/{{installation}}/uninstall`: the API's uninstall; while the
/// extension is attached the API refuses, and the list shows why and offers to detach first.
async fn uninstall(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, String)>,
    Posted { signed_in, form }: Posted<UninstallForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "extensions").await?;
    let result = crate::api::installations::uninstall(
        nav.scope()?,
        State(state.clone()),
        Path((did.clone(), id.clone())),
        Query(UninstallQuery {
            detach: form.detach,
        }),
    )
    .await
    .map(drop);
    let to = format!("/dashboard/services/{did}/extensions?done=uninstalled");
    answer(result, &to, async move |message| {
        let name = db::extensions::installation(&state.db, &nav.scope()?, &id)
            .await?
            .map(|i| i.extension_name)
            .unwrap_or_default();
        Ok(InstalledPage {
            refused: Some(Refused { id, name, message }),
            ..installed_page(&state, nav, None).await?
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Install extension: Public Extensions, My Extensions

struct Entry {
    id: String,
    name: String,
    description: String,
    version: Option<String>,
    built_in: bool,
    /// Whose it is: "psi" for a built-in one, else the author's DID.
    author: String,
    /// My Extensions: private or public.
    visibility: Option<&'static str>,
    installed: bool,
}

#[derive(Template)]
#[template(path = "dashboard/extensions_install.html")]
struct CataloguePage {
    layout: &'static Layout,
    nav: Nav,
    /// The **My Extensions** tab, else **Public Extensions**.
    mine: bool,
    entries: Vec<Entry>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct CatalogueQuery {
    tab: Option<String>,
    cursor: Option<String>,
}

fn visibility_name(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Private => "private",
        Visibility::Public => "public",
    }
}

/// `GET .../extensions/install?tab=public|mine`.
async fn catalogue(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<CatalogueQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "extensions").await?;
    let mine = query.tab.as_deref() == Some("mine");
    let installed: HashSet<String> = all_installations(&state, &nav)
        .await?
        .into_iter()
        .map(|i| i.extension_id)
        .collect();
    let (entries, next_cursor) = if mine {
        let Json(page) = crate::api::extensions::list(
            nav.scope()?,
            State(state.clone()),
            Query(first_page(query.cursor)),
        )
        .await?;
        let entries = page
            .data
            .into_iter()
            .map(|e| Entry {
                installed: installed.contains(&e.id),
                author: e.author_did.unwrap_or_else(|| "psi".into()),
                visibility: Some(visibility_name(e.visibility)),
                id: e.id,
                name: e.name,
                description: e.description,
                version: e.latest_version,
                built_in: e.built_in,
            })
            .collect::<Vec<_>>();
        (entries, page.next_cursor)
    } else {
        let Json(page) = crate::api::extensions::catalogue(
            State(state.clone()),
            Query(first_page(query.cursor)),
        )
        .await?;
        let entries = page
            .data
            .into_iter()
            .map(|e| Entry {
                installed: installed.contains(&e.id),
                author: e.author_did.unwrap_or_else(|| "psi".into()),
                visibility: None,
                id: e.id,
                name: e.name,
                description: e.description,
                version: Some(e.latest_version),
                built_in: e.built_in,
            })
            .collect::<Vec<_>>();
        (entries, page.next_cursor)
    };
    let next = next_cursor.map(|cursor| {
        format!(
            "/dashboard/services/{did}/extensions/install?tab={}&cursor={cursor}",
            if mine { "mine" } else { "public" }
        )
    });
    Ok(html(&CataloguePage {
        layout: &LAYOUT,
        nav,
        mine,
        entries,
        next,
    }))
}

#[derive(Template)]
#[template(path = "dashboard/extensions_install_form.html")]
struct InstallPage {
    layout: &'static Layout,
    nav: Nav,
    id: String,
    name: String,
    description: String,
    author: String,
    /// The latest version; none: nothing to install yet.
    version: Option<String>,
    fields: Vec<FieldInput>,
    flows: Vec<Flow>,
    error: Option<String>,
}

/// The extension the service may install (its own or a public one), as the API finds it.
async fn installable(
    state: &AppState,
    nav: &Nav,
    id: &str,
) -> Result<db::extensions::Extension, DashboardError> {
    db::extensions::get_installable(&state.db, &nav.scope()?, id)
        .await?
        .ok_or_else(|| DashboardError::NotFound("no such extension".into()))
}

fn install_page(
    nav: Nav,
    extension: db::extensions::Extension,
    posted: Option<&HashMap<String, String>>,
    error: Option<String>,
) -> InstallPage {
    let (version, manifest) = match extension.latest {
        Some((version, manifest)) => (Some(version), manifest),
        None => (None, Manifest::default()),
    };
    InstallPage {
        layout: &LAYOUT,
        nav,
        fields: inputs(&manifest.service_settings, posted, "setting"),
        flows: flows(manifest.data_flows()),
        id: extension.id,
        name: extension.name,
        description: extension.description,
        author: extension.author_did.unwrap_or_else(|| "psi".into()),
        version,
        error,
    }
}

/// `GET .../extensions/install/{extension}`: its service-level settings and where data goes.
async fn install_form(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path((did, id)): Path<(String, String)>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "extensions").await?;
    let extension = installable(&state, &nav, &id).await?;
    Ok(html(&install_page(nav, extension, None, None)))
}

/// `POST .../extensions/install/{extension}`: the API's install with the settings given.
async fn install(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, String)>,
    Posted { signed_in, form }: Posted<HashMap<String, String>>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "extensions").await?;
    let extension = installable(&state, &nav, &id).await?;
    let fields = extension
        .latest
        .as_ref()
        .map(|(_, manifest)| manifest.service_settings.as_slice())
        .unwrap_or_default();
    let settings = settings_from(fields, &form);
    let scope = nav.scope()?;
    let json = json!({"extension_id": extension.id, "settings": settings});
    let result = call(json, async |request| {
        crate::api::installations::install(scope, State(state.clone()), Json(request))
            .await
            .map(drop)
    })
    .await;
    let to = format!("/dashboard/services/{did}/extensions?done=installed");
    answer(result, &to, async |message| {
        Ok(install_page(nav, extension, Some(&form), Some(message)))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The Extension Editor

struct Authored {
    id: String,
    name: String,
    description: String,
    visibility: &'static str,
    latest: String,
}

#[derive(Template)]
#[template(path = "dashboard/extensions_editor.html")]
struct EditorPage {
    layout: &'static Layout,
    nav: Nav,
    rows: Vec<Authored>,
    next: Option<String>,
    notice: Option<&'static str>,
    /// The create form's values and the API's refusal.
    name: String,
    description: String,
    public: bool,
    create_error: Option<String>,
    /// The version form's extension, manifest and the API's refusal.
    version_for: String,
    manifest: String,
    version_error: Option<String>,
    /// A visibility change the API refused.
    error: Option<String>,
}

/// A manifest to start from, which the editor shows.
const EXAMPLE: &str = r#"{
  "version": "1.0.0",
  "triggers": {"on_finish": {"url": "https://crm.example/psi/finished"}},
  "service_settings": [
    {"name": "api_key", "label": "API key", "type": "secret", "required": true}
  ],
  "interaction_settings": [
    {"name": "list", "type": "select", "options": ["members", "guests"], "default": "members"}
  ],
  "required_credentials": []
}"#;

impl EditorPage {
    fn example(&self) -> &'static str {
        EXAMPLE
    }
}

#[derive(Deserialize)]
struct EditorQuery {
    cursor: Option<String>,
    done: Option<String>,
}

async fn editor_page(
    state: &AppState,
    nav: Nav,
    cursor: Option<String>,
) -> Result<EditorPage, DashboardError> {
    let Json(page) = crate::api::extensions::list(
        nav.scope()?,
        State(state.clone()),
        Query(first_page(cursor)),
    )
    .await?;
    let rows = page
        .data
        .into_iter()
        .map(|e| Authored {
            visibility: visibility_name(e.visibility),
            latest: e.latest_version.unwrap_or_else(|| "none yet".into()),
            id: e.id,
            name: e.name,
            description: e.description,
        })
        .collect();
    let next = page.next_cursor.map(|cursor| {
        format!(
            "/dashboard/services/{}/extensions/editor?cursor={cursor}",
            nav.service.did
        )
    });
    Ok(EditorPage {
        layout: &LAYOUT,
        nav,
        rows,
        next,
        notice: None,
        name: String::new(),
        description: String::new(),
        public: false,
        create_error: None,
        version_for: String::new(),
        manifest: String::new(),
        version_error: None,
        error: None,
    })
}

/// `GET .../extensions/editor`: the service's own extensions, a new one, a new version.
async fn editor(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<EditorQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "extensions").await?;
    let page = EditorPage {
        notice: notice(query.done.as_deref()),
        ..editor_page(&state, nav, query.cursor).await?
    };
    Ok(html(&page))
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
    #[serde(default)]
    description: String,
    visibility: String,
}

/// `POST .../extensions/editor`: the API's create.
async fn create(
    State(state): State<AppState>,
    Path(did): Path<String>,
    Posted { signed_in, form }: Posted<CreateForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "extensions").await?;
    let scope = nav.scope()?;
    let json = json!({
        "name": form.name, "description": form.description, "visibility": form.visibility,
    });
    let result = call(json, async |request| {
        crate::api::extensions::create(scope, State(state.clone()), Json(request))
            .await
            .map(drop)
    })
    .await;
    let to = format!("/dashboard/services/{did}/extensions/editor?done=created");
    answer(result, &to, async |message| {
        Ok(EditorPage {
            public: form.visibility == "public",
            name: form.name,
            description: form.description,
            create_error: Some(message),
            ..editor_page(&state, nav, None).await?
        })
    })
    .await
}

#[derive(Deserialize)]
struct VersionForm {
    extension_id: String,
    manifest: String,
}

/// `POST .../extensions/editor/versions`: the pasted manifest, through the API's publish.
async fn publish(
    State(state): State<AppState>,
    Path(did): Path<String>,
    Posted { signed_in, form }: Posted<VersionForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "extensions").await?;
    let manifest = serde_json::from_str::<Value>(&form.manifest)
        .map_err(|e| ApiError::Validation(format!("the manifest is not valid JSON: {e}")))
        .and_then(|value| {
            serde_json::from_value::<Manifest>(value)
                .map_err(|e| ApiError::Validation(format!("the manifest does not fit: {e}")))
        });
    let result = match manifest {
        Ok(manifest) => crate::api::extensions::publish(
            nav.scope()?,
            State(state.clone()),
            Path((did.clone(), form.extension_id.clone())),
            Json(manifest),
        )
        .await
        .map(drop),
        Err(error) => Err(error),
    };
    let to = format!("/dashboard/services/{did}/extensions/editor?done=published");
    answer(result, &to, async |message| {
        Ok(EditorPage {
            version_for: form.extension_id,
            manifest: form.manifest,
            version_error: Some(message),
            ..editor_page(&state, nav, None).await?
        })
    })
    .await
}

#[derive(Deserialize)]
struct VisibilityForm {
    extension_id: String,
    visibility: String,
}

/// `POST .../extensions/editor/visibility`: publish to the catalogue, or withdraw, through the
/// API's update.
async fn set_visibility(
    State(state): State<AppState>,
    Path(did): Path<String>,
    Posted { signed_in, form }: Posted<VisibilityForm>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "extensions").await?;
    let scope = nav.scope()?;
    let path = Path((did.clone(), form.extension_id));
    let result = call(json!({"visibility": form.visibility}), async |change| {
        crate::api::extensions::update(scope, State(state.clone()), path, Json(change))
            .await
            .map(drop)
    })
    .await;
    let to = format!("/dashboard/services/{did}/extensions/editor?done=visibility");
    answer(result, &to, async |message| {
        Ok(EditorPage {
            error: Some(message),
            ..editor_page(&state, nav, None).await?
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// An interaction's Extensions tab

struct AttachedRow {
    installation_id: String,
    name: String,
    version: String,
    enabled: bool,
    /// Each interaction-level setting: its label and value as shown.
    settings: Vec<(String, String)>,
    /// The credentials it added.
    added: Vec<String>,
}

struct RequiredRow {
    /// A definition's or a schema's wire id.
    id: String,
    by_schema: bool,
    /// The extension that added it.
    added_by: Option<String>,
}

/// An installed extension in **Extension Settings**.
struct Choice {
    installation_id: String,
    name: String,
    version: String,
    enabled: bool,
    attached: bool,
}

/// The chosen extension's interaction-level settings form.
struct Adding {
    installation_id: String,
    name: String,
    version: String,
    fields: Vec<FieldInput>,
}

#[derive(Template)]
#[template(path = "dashboard/extensions_interaction.html")]
struct TabPage {
    layout: &'static Layout,
    nav: Nav,
    interaction_id: String,
    interaction_name: String,
    attached: Vec<AttachedRow>,
    required: Vec<RequiredRow>,
    choices: Vec<Choice>,
    /// **Extension Settings** is open.
    open: bool,
    adding: Option<Adding>,
    error: Option<String>,
    notice: Option<&'static str>,
}

impl TabPage {
    fn tab(&self) -> String {
        format!(
            "/dashboard/services/{}/interactions/{}/extensions",
            self.nav.service.did, self.interaction_id
        )
    }
}

#[derive(Deserialize)]
struct TabQuery {
    select: Option<String>,
    add: Option<String>,
    done: Option<String>,
}

/// How a setting's value reads.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => other.to_string(),
    }
}

async fn tab_page(
    state: &AppState,
    nav: Nav,
    id: InteractionId,
    add: Option<(&str, Option<&HashMap<String, String>>)>,
) -> Result<TabPage, DashboardError> {
    let did = nav.service.did.clone();
    let Json(interaction) = crate::api::interactions::get(
        nav.scope()?,
        State(state.clone()),
        Path((did.clone(), id.clone())),
    )
    .await?;
    let Json(attachments) =
        crate::api::installations::attached(nav.scope()?, State(state.clone()), Path((did, id)))
            .await?;
    let installations = all_installations(state, &nav).await?;
    let by_id: HashMap<&str, &Installation> =
        installations.iter().map(|i| (i.id.as_str(), i)).collect();
    let attached: Vec<AttachedRow> = attachments
        .data
        .into_iter()
        .map(|a| {
            let installation = by_id.get(a.installation_id.as_str());
            let fields = installation
                .map(|i| i.manifest.interaction_settings.as_slice())
                .unwrap_or_default();
            let settings = fields
                .iter()
                .map(|field| {
                    let label = field.label.clone().unwrap_or_else(|| field.name.clone());
                    let value = if a.secrets_set.contains(&field.name) {
                        "set (never shown)".to_owned()
                    } else if let Some(value) = a.settings.get(&field.name) {
                        shown(value)
                    } else if let Some(default) = &field.default {
                        format!("{} (default)", shown(default))
                    } else {
                        "not set".to_owned()
                    };
                    (label, value)
                })
                .collect();
            AttachedRow {
                enabled: installation.is_some_and(|i| i.enabled),
                installation_id: a.installation_id,
                name: a.extension_name,
                version: a.version,
                settings,
                added: a.added_requirements,
            }
        })
        .collect();
    let name_of = |installation: &Option<String>| {
        installation.as_deref().map(|id| {
            by_id
                .get(id)
                .map_or_else(|| id.to_owned(), |i| i.extension_name.clone())
        })
    };
    let required = interaction
        .required_credentials
        .iter()
        .map(|r| RequiredRow {
            id: r.credential_id.clone(),
            by_schema: false,
            added_by: name_of(&r.added_by),
        })
        .chain(interaction.required_schemas.iter().map(|r| RequiredRow {
            id: r.schema_id.clone(),
            by_schema: true,
            added_by: name_of(&r.added_by),
        }))
        .collect();
    let adding = match add {
        Some((installation_id, posted)) => {
            let installation = by_id
                .get(installation_id)
                .ok_or_else(|| DashboardError::NotFound("no such installed extension".into()))?;
            Some(Adding {
                installation_id: installation.id.clone(),
                name: installation.extension_name.clone(),
                version: installation.version.clone(),
                fields: inputs(
                    &installation.manifest.interaction_settings,
                    posted,
                    "interaction-setting",
                ),
            })
        }
        None => None,
    };
    let choices = installations
        .iter()
        .map(|i| Choice {
            installation_id: i.id.clone(),
            name: i.extension_name.clone(),
            version: i.version.clone(),
            enabled: i.enabled,
            attached: attached.iter().any(|a| a.installation_id == i.id),
        })
        .collect();
    Ok(TabPage {
        layout: &LAYOUT,
        interaction_id: interaction.id,
        interaction_name: interaction.name,
        nav,
        attached,
        required,
        choices,
        open: adding.is_some(),
        adding,
        error: None,
        notice: None,
    })
}

/// `GET .../interactions/{id}/extensions` (`?select=1`: **Extension Settings** open;
/// `?add=<installation>`: that extension's settings form in it).
async fn interaction_tab(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Query(query): Query<TabQuery>,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "interactions").await?;
    let add = query
        .add
        .as_deref()
        .map(|installation| (installation, None));
    let page = tab_page(&state, nav, id, add).await?;
    let page = TabPage {
        open: page.open || query.select.is_some(),
        notice: notice(query.done.as_deref()),
        ..page
    };
    Ok(html(&page))
}

/// `POST .../interactions/{id}/extensions`: **Submit**, the API's attach with the settings given.
async fn attach(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, InteractionId)>,
    Posted { signed_in, form }: Posted<HashMap<String, String>>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    let installation_id = form.get("installation_id").cloned().unwrap_or_default();
    let installation = db::extensions::installation(&state.db, &nav.scope()?, &installation_id)
        .await?
        .ok_or_else(|| DashboardError::NotFound("no such installed extension".into()))?;
    let settings = settings_from(&installation.manifest.interaction_settings, &form);
    let scope = nav.scope()?;
    let path = Path((did.clone(), id.clone()));
    let json = json!({"installation_id": installation.id, "settings": settings});
    let result = call(json, async |request| {
        crate::api::installations::attach(scope, State(state.clone()), path, Json(request))
            .await
            .map(drop)
    })
    .await;
    let to = format!("/dashboard/services/{did}/interactions/{id}/extensions?done=attached");
    answer(result, &to, async |message| {
        let page = tab_page(&state, nav, id, Some((&installation.id, Some(&form)))).await?;
        Ok(TabPage {
            error: Some(message),
            ..page
        })
    })
    .await
}

/// `POST .../interactions/{id}/extensions/{installation}/detach`: the API's detach.
async fn detach(
    State(state): State<AppState>,
    Path((did, id, installation)): Path<(String, InteractionId, String)>,
    Posted { signed_in, .. }: Posted<super::session::NoFields>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    crate::api::installations::detach(
        nav.scope()?,
        State(state),
        Path((did.clone(), id.clone(), installation)),
    )
    .await?;
    Ok(see_other(&format!(
        "/dashboard/services/{did}/interactions/{id}/extensions?done=detached"
    )))
}
