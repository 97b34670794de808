//! The **Schemas** screen: the service's schemas with their typed attributes; **Add schema**
//! (name, version, a row per attribute: name, type and, for an enumeration, its choices), **Edit
//! schema** (the same pop-up, filled in) and **Delete** (the API refuses both while a credential
//! definition uses the schema: its credentials' shape cannot change under them).

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::{Fields, ListQuery, PAGE, split_list};
use crate::api::page::PageQuery;
use crate::api::schemas::{self as api, SchemaView};
use crate::dashboard::form::{answer, call, editing};
use crate::dashboard::session::{NoFields, Posted, SignedIn};
use crate::dashboard::{DashboardError, LAYOUT, Layout, Nav};
use crate::domain::AttributeKind;
use crate::http::AppState;
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::pages::render::html;

/// Attribute rows the **Add schema** pop-up offers at first, and at most (the API's limit).
const ROWS: usize = 6;
const MAX_ROWS: usize = crate::domain::attribute::MAX_ATTRIBUTES;

/// The attribute types the API knows, with what the pop-up calls them.
const TYPES: [(&str, &str); 5] = [
    ("text", "Text"),
    ("number", "Number"),
    ("date", "Date"),
    ("enumeration", "Enumeration"),
    ("image", "Image"),
];

/// One row of the list.
struct Row {
    id: String,
    schema_id: String,
    name: String,
    version: String,
    /// Each attribute's name and type (an enumeration's with its choices).
    attributes: Vec<(String, String)>,
}

/// One attribute row of the pop-up.
#[derive(Default)]
struct AttributeRow {
    name: String,
    kind: String,
    /// Enumerations only: the choices' names, separated by commas.
    choices: String,
}

impl AttributeRow {
    /// Whether the row's type is `kind`.
    fn is(&self, kind: &str) -> bool {
        self.kind == kind
    }
}

struct SchemaForm {
    name: String,
    version: String,
    attributes: Vec<AttributeRow>,
}

impl SchemaForm {
    fn blank(rows: usize) -> Self {
        SchemaForm {
            name: String::new(),
            version: "1.0".to_owned(),
            attributes: (0..rows).map(|_| AttributeRow::default()).collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/schemas.html")]
struct SchemasPage {
    layout: &'static Layout,
    nav: Nav,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
    types: [(&'static str, &'static str); 5],
    form: SchemaForm,
    open: bool,
    /// The internal id of the schema the pop-up edits; `None`: it adds one.
    editing: Option<String>,
    form_error: Option<String>,
    /// The link that offers more attribute rows.
    more_rows: Option<String>,
}

fn kind_label(kind: AttributeKind) -> &'static str {
    match kind {
        AttributeKind::Text => "text",
        AttributeKind::Date => "date",
        AttributeKind::Number => "number",
        AttributeKind::Enumeration => "enumeration",
        AttributeKind::Image => "image",
    }
}

fn row(schema: SchemaView) -> Row {
    let attributes = schema
        .attributes
        .into_iter()
        .map(|attribute| {
            let kind = kind_label(attribute.kind);
            let kind = match attribute.enum_values {
                Some(choices) if !choices.is_empty() => format!(
                    "{kind}: {}",
                    choices
                        .iter()
                        .map(|choice| choice.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => kind.to_owned(),
            };
            (attribute.name, kind)
        })
        .collect();
    Row {
        id: schema.id,
        schema_id: schema.schema_id,
        name: schema.name,
        version: schema.version,
        attributes,
    }
}

fn blank(nav: Nav) -> SchemasPage {
    SchemasPage {
        layout: &LAYOUT,
        nav,
        rows: Vec::new(),
        next: None,
        error: None,
        types: TYPES,
        form: SchemaForm::blank(ROWS),
        open: false,
        editing: None,
        form_error: None,
        more_rows: None,
    }
}

/// Fills `page_of` with the list's page at `cursor`, through the API's own list; the pop-up
/// opens for editors only.
async fn show(
    state: &AppState,
    mut page_of: SchemasPage,
    cursor: Option<String>,
) -> Result<SchemasPage, DashboardError> {
    let did = page_of.nav.service.did.clone();
    let query = PageQuery {
        limit: Some(PAGE),
        cursor,
    };
    let scope = page_of.nav.scope()?;
    let Json(page) = api::list(scope, State(state.clone()), Query(query)).await?;
    page_of.next = page
        .next_cursor
        .map(|cursor| format!("/dashboard/services/{did}/schemas?cursor={cursor}"));
    // More rows start the pop-up afresh: not offered over what the API just refused, nor
    // when editing (the rows hold the schema's attributes).
    let rows = page_of.form.attributes.len();
    if rows < MAX_ROWS && page_of.form_error.is_none() && page_of.editing.is_none() {
        page_of.more_rows = Some(format!(
            "/dashboard/services/{did}/schemas?edit=new&rows={}",
            (rows + ROWS).min(MAX_ROWS)
        ));
    }
    page_of.rows = page.data.into_iter().map(row).collect();
    page_of.open &= page_of.nav.service.role.can_edit();
    Ok(page_of)
}

/// `GET /dashboard/services/{serviceDid}/schemas` (`?edit=new` opens **Add schema**, `rows`
/// gives it more attribute rows; `?edit=<id>` opens **Edit schema** on that schema).
pub(super) async fn list(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, DashboardError> {
    let mut page_of = blank(Nav::of(&state, &signed_in, &did, "schemas").await?);
    match query.edit.as_deref() {
        Some("new") => page_of.open = true,
        Some(id) => {
            let path = Path((did.clone(), id.to_owned()));
            let Json(schema) = api::get(page_of.nav.scope()?, State(state.clone()), path).await?;
            page_of.form = filled(schema);
            page_of.editing = Some(id.to_owned());
            page_of.open = true;
        }
        None => {}
    }
    if let Some(rows) = query.rows {
        page_of.form = SchemaForm::blank(rows.clamp(ROWS, MAX_ROWS));
    }
    Ok(html(&show(&state, page_of, query.cursor).await?))
}

/// The pop-up filled with `schema`, and two spare rows for attributes to add.
fn filled(schema: SchemaView) -> SchemaForm {
    let mut attributes: Vec<AttributeRow> = schema
        .attributes
        .into_iter()
        .map(|attribute| AttributeRow {
            name: attribute.name,
            kind: kind_label(attribute.kind).to_owned(),
            choices: attribute
                .enum_values
                .unwrap_or_default()
                .iter()
                .map(|choice| choice.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    attributes.resize_with((attributes.len() + 2).min(MAX_ROWS), Default::default);
    SchemaForm {
        name: schema.name,
        version: schema.version,
        attributes,
    }
}

/// `POST .../schemas`: **Add schema**, through the API's create.
pub(super) async fn create(
    State(state): State<AppState>,
    Path(did): Path<String>,
    Posted { signed_in, form }: Posted<Fields>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "schemas").await?;
    let (schema_form, json) = read_form(&form);
    let scope = nav.scope()?;
    let created = call(json, async |request| {
        api::create(scope, State(state.clone()), Json(request))
            .await
            .map(drop)
    })
    .await;
    again(&state, nav, created, schema_form, None).await
}

/// `POST .../schemas/{id}`: **Edit schema**, through the API's update.
pub(super) async fn update(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, String)>,
    Posted { signed_in, form }: Posted<Fields>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "schemas").await?;
    let (schema_form, mut json) = read_form(&form);
    // Attributes sent back as they were shown are left out, so that an edit of the name or
    // version keeps the enumerations' own values (the form shows choices by name only).
    let path = Path((did.clone(), id.clone()));
    let Json(current) = api::get(nav.scope()?, State(state.clone()), path).await?;
    if json["attributes"] == serde_json::json!(attributes(&filled(current).attributes)) {
        json.as_object_mut().map(|body| body.remove("attributes"));
    }
    let path = Path((did.clone(), id.clone()));
    let scope = nav.scope()?;
    let updated = call(json, async |request| {
        api::update(scope, State(state.clone()), path, Json(request))
            .await
            .map(drop)
    })
    .await;
    again(&state, nav, updated, schema_form, Some(id)).await
}

/// The list when the API took the pop-up's form, else the pop-up again with its message.
async fn again(
    state: &AppState,
    nav: Nav,
    result: Result<(), crate::http::error::ApiError>,
    schema_form: SchemaForm,
    editing: Option<String>,
) -> Result<Response, DashboardError> {
    let to = format!("/dashboard/services/{}/schemas", nav.service.did);
    answer(result, &to, async |message| {
        let mut page_of = blank(nav);
        page_of.form = schema_form;
        if page_of.form.attributes.len() < ROWS {
            page_of.form.attributes.resize_with(ROWS, Default::default);
        }
        page_of.open = true;
        page_of.editing = editing;
        page_of.form_error = Some(message);
        show(state, page_of, None).await
    })
    .await
}

/// The API's attributes the rows make: choices get their positions as values.
fn attributes(rows: &[AttributeRow]) -> Vec<serde_json::Value> {
    rows.iter()
        .filter(|row| !row.name.trim().is_empty() || !row.choices.trim().is_empty())
        .map(|row| {
            let mut attribute = serde_json::json!({"name": row.name.trim(), "type": row.kind});
            let choices = split_list(&row.choices, &[',']);
            if !choices.is_empty() {
                attribute["enum_values"] = choices
                    .iter()
                    .map(|name| serde_json::json!({"name": name}))
                    .collect();
            }
            attribute
        })
        .collect()
}

/// The pop-up's fields as sent, and the API body they make. Rows without a name or choices are
/// the pop-up's spare rows, not attributes.
fn read_form(form: &Fields) -> (SchemaForm, serde_json::Value) {
    let names = form.all("attribute_name");
    let kinds = form.all("attribute_type");
    let choices = form.all("attribute_choices");
    let rows: Vec<AttributeRow> = (0..names.len().max(kinds.len()).min(MAX_ROWS))
        .map(|i| AttributeRow {
            name: names.get(i).cloned().unwrap_or_default(),
            kind: kinds.get(i).cloned().unwrap_or_default(),
            choices: choices.get(i).cloned().unwrap_or_default(),
        })
        .collect();
    let attributes = attributes(&rows);
    let schema_form = SchemaForm {
        name: form.get("name").to_owned(),
        version: form.get("version").to_owned(),
        attributes: rows,
    };
    let json = serde_json::json!({
        "name": schema_form.name,
        "version": schema_form.version,
        "attributes": attributes,
    });
    (schema_form, json)
}

/// `POST .../schemas/{id}/delete`: **Delete**, through the API's delete (refused while a
/// credential definition uses the schema: its message is shown above the list).
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((did, id)): Path<(String, String)>,
    Posted { signed_in, .. }: Posted<NoFields>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "schemas").await?;
    let deleted = api::delete(nav.scope()?, State(state.clone()), Path((did.clone(), id)))
        .await
        .map(drop);
    let to = format!("/dashboard/services/{did}/schemas");
    answer(deleted, &to, async |message| {
        let mut page_of = blank(nav);
        page_of.error = Some(message);
        show(&state, page_of, None).await
    })
    .await
}
