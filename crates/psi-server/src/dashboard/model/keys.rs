//! The **Keys** screen: the service's keys, the default one marked; **Add key** (an RSA key pair
//! generated or imported, a third party's RSA public key, or a SHA secret psi generates and shows
//! once) and **Delete**.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Fields, ListQuery, PAGE, when};
use crate::api::keys::{self as api, KeyQuery, KeyView};
use crate::api::services::DEFAULT_KEY_NAME;
use crate::dashboard::form::{again, answer, call, editing};
use crate::dashboard::session::{NoFields, Posted, SignedIn};
use crate::dashboard::{DashboardError, LAYOUT, Layout, Nav};
use crate::db::keys::KeyKind;
use crate::http::AppState;
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::pages::render::html;

/// One row of the list.
struct Row {
    name: String,
    kind: &'static str,
    default: bool,
    /// SPKI PEM of RSA keys.
    public_pem: Option<String>,
    created: String,
}

/// What the **Add key** pop-up holds.
struct KeyForm {
    name: String,
    /// The API's `type`.
    kind: String,
    /// RSA key pairs: `generate` or `import`.
    source: String,
    public_key_pem: String,
}

impl Default for KeyForm {
    fn default() -> Self {
        KeyForm {
            name: String::new(),
            kind: KeyKind::RsaKeyPair.as_str().to_owned(),
            source: "generate".to_owned(),
            public_key_pem: String::new(),
        }
    }
}

/// A generated SHA secret, on the page that answers its creation only.
struct Secret {
    name: String,
    value: String,
}

#[derive(Template)]
#[template(path = "dashboard/keys.html")]
struct KeysPage {
    layout: &'static Layout,
    nav: Nav,
    rows: Vec<Row>,
    next: Option<String>,
    /// What the API refused outside the pop-up (a delete).
    error: Option<String>,
    secret: Option<Secret>,
    form: KeyForm,
    /// The pop-up is open, with the API's message when it refused the form.
    open: bool,
    form_error: Option<String>,
}

/// A key type as the Keys list and the definitions' key choices name it.
pub(super) fn kind_label(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::RsaKeyPair => "RSA key pair",
        KeyKind::RsaPublicKey => "RSA public key",
        KeyKind::ShaSecret => "SHA secret",
    }
}

/// The list's page at `cursor`, through the API's own list.
async fn page(
    state: &AppState,
    nav: &Nav,
    cursor: Option<String>,
) -> Result<(Vec<Row>, Option<String>), DashboardError> {
    let query = KeyQuery {
        kind: None,
        limit: Some(PAGE),
        cursor,
    };
    let Json(page) = api::list(nav.scope()?, State(state.clone()), Query(query)).await?;
    let rows = page
        .data
        .into_iter()
        .map(|key: KeyView| Row {
            default: key.name == DEFAULT_KEY_NAME,
            kind: kind_label(key.kind),
            created: when(key.created_at),
            public_pem: key.public_pem,
            name: key.name,
        })
        .collect();
    let next = page.next_cursor.map(|cursor| {
        format!(
            "/dashboard/services/{}/keys?cursor={cursor}",
            nav.service.did
        )
    });
    Ok((rows, next))
}

/// Fills `page_of` with the list's page at `cursor`; the pop-up opens for editors only.
async fn show(
    state: &AppState,
    mut page_of: KeysPage,
    cursor: Option<String>,
) -> Result<KeysPage, DashboardError> {
    let (rows, next) = page(state, &page_of.nav, cursor).await?;
    page_of.open &= page_of.nav.service.role.can_edit();
    page_of.rows = rows;
    page_of.next = next;
    Ok(page_of)
}

fn blank(nav: Nav) -> KeysPage {
    KeysPage {
        layout: &LAYOUT,
        nav,
        rows: Vec::new(),
        next: None,
        error: None,
        secret: None,
        form: KeyForm::default(),
        open: false,
        form_error: None,
    }
}

/// `GET /dashboard/services/{serviceDid}/keys` (`?edit=new` opens **Add key**).
pub(super) async fn list(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, DashboardError> {
    let mut page_of = blank(Nav::of(&state, &signed_in, &did, "keys").await?);
    page_of.open = query.edit.as_deref() == Some("new");
    Ok(html(&show(&state, page_of, query.cursor).await?))
}

/// `POST .../keys`: **Add key**, through the API's create. A generated SHA secret is shown on
/// the answer itself (201, never cached), since the API shows it once and psi keeps no copy.
pub(super) async fn create(
    State(state): State<AppState>,
    Path(did): Path<String>,
    Posted { signed_in, form }: Posted<Fields>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "keys").await?;
    let key_form = KeyForm {
        name: form.get("name").trim().to_owned(),
        kind: form.get("type").to_owned(),
        source: form.get("source").to_owned(),
        public_key_pem: form.get("public_key_pem").to_owned(),
    };
    // Only the fields of the chosen type: the others are hidden in the pop-up.
    let mut json = serde_json::json!({"name": key_form.name, "type": key_form.kind});
    match key_form.kind.as_str() {
        "rsa_key_pair" if key_form.source == "import" => {
            json["private_key_pem"] = form.get("private_key_pem").into();
        }
        "rsa_public_key" => json["public_key_pem"] = key_form.public_key_pem.as_str().into(),
        _ => {}
    }
    let scope = nav.scope()?;
    let created = call(json, async |request| {
        api::create(scope, State(state.clone()), Json(request))
            .await
            .map(|(_, Json(view))| view)
    })
    .await;
    let created = match created {
        Ok(KeyView {
            name,
            secret: Some(value),
            ..
        }) => {
            let mut page_of = blank(nav);
            page_of.secret = Some(Secret { name, value });
            let page_of = show(&state, page_of, None).await?;
            return Ok(again(StatusCode::CREATED, &page_of));
        }
        other => other.map(drop),
    };
    let to = format!("/dashboard/services/{did}/keys");
    answer(created, &to, async |message| {
        let mut page_of = blank(nav);
        page_of.form = key_form;
        page_of.open = true;
        page_of.form_error = Some(message);
        show(&state, page_of, None).await
    })
    .await
}

/// `POST .../keys/{name}/delete`: **Delete**, through the API's delete, which refuses the
/// default key and keys in use (its message is shown above the list).
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((did, name)): Path<(String, String)>,
    Posted { signed_in, .. }: Posted<NoFields>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "keys").await?;
    let deleted = api::delete(
        nav.scope()?,
        State(state.clone()),
        Path((did.clone(), name)),
    )
    .await
    .map(drop);
    let to = format!("/dashboard/services/{did}/keys");
    answer(deleted, &to, async |message| {
        let mut page_of = blank(nav);
        page_of.error = Some(message);
        show(&state, page_of, None).await
    })
    .await
}
