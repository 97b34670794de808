//! The **QR codes and deeplinks** screen: pick an interaction offered as a QR code, its instance,
//! the environment and values to pre-fill, and **Generate** its QR code (PNG and SVG downloads),
//! app link, deep link, start page URL and, on the **Embed** tab, the embed snippet with a live
//! preview. Every value comes from the link endpoint (`crate::api::links`), which also checks the
//! choices; the choices travel in the query string, so a generated page's URL can be shared.
//!
//! A short `sourceURL` link stores its request (the API's `POST .../link/source`), so making one
//! is a form that changes something: editors and owners only. Everything else only reads.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_DISPOSITION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use psi_link::{Environment, LinkRequest};

use super::form::editing;
use super::session::{Posted, SignedIn};
use super::{DashboardError, LAYOUT, Layout, Nav};
use crate::api::links::{self as api, CreateSourceLink, LinkChoices, LinkQuery, LinkView, Prefill};
use crate::db;
use crate::db::interactions::Interaction;
use crate::domain::{Attestation, AttributeType, Medium};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::InteractionId;
use crate::pages::render::html;
use crate::scope::ServiceScope;

/// The query-string key of a pre-filled value is this prefix, the credential id, `:` and the
/// attribute's name (the API's `prefill` text before its `=`).
const FILL: &str = "fill:";
/// A QR code's light border, in modules, and the API's pixels per module: the image's size.
const QUIET_ZONE: u32 = 4;
const MODULE_PX: u32 = 8;
/// How long a short link may live, as the form offers it (the API's default, a day, first).
const LIFETIMES: [(&str, &str); 4] = [
    ("86400", "1 day"),
    ("3600", "1 hour"),
    ("604800", "7 days"),
    ("2592000", "30 days"),
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/services/{serviceDid}/links", get(page))
        .route("/dashboard/services/{serviceDid}/links/qr.png", get(png))
        .route("/dashboard/services/{serviceDid}/links/qr.svg", get(svg))
        .route("/dashboard/services/{serviceDid}/links/short", post(short))
}

/// What the operator chose, from the query string (or the short-link form, which repeats it).
/// Other keys are ignored: the address may be shared and bookmarked.
#[derive(Debug, Default)]
struct Choices {
    interaction: Option<String>,
    instance: Option<String>,
    /// `None`: the configured default.
    env: Option<String>,
    /// `(CREDENTIAL_ID:NAME, value as typed)`.
    fills: Vec<(String, String)>,
    generate: bool,
    embed_tab: bool,
    /// The token of a short link just made.
    short: Option<String>,
    expires: Option<String>,
    one_time: bool,
}

impl Choices {
    fn read(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut choices = Choices::default();
        for (key, value) in pairs {
            let given = || Some(value.clone()).filter(|v| !v.is_empty());
            match key.as_str() {
                "interaction" => choices.interaction = given(),
                "instance" => choices.instance = given(),
                "env" => choices.env = given(),
                "generate" => choices.generate = true,
                "tab" => choices.embed_tab = value == "embed",
                "short" => choices.short = given(),
                "expires" => choices.expires = given(),
                "one_time" => choices.one_time = value == "true",
                _ => {
                    if let Some(field) = key.strip_prefix(FILL)
                        && !value.is_empty()
                    {
                        choices.fills.push((field.to_owned(), value));
                    }
                }
            }
        }
        choices
    }

    fn from_query(query: Option<&str>) -> Self {
        Choices::read(
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned(),
        )
    }

    /// The choices that make the links, as a query string (with `extra` pairs).
    fn query(&self, extra: &[(&str, &str)]) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in self.link_pairs() {
            query.append_pair(&key, &value);
        }
        for (key, value) in extra {
            query.append_pair(key, value);
        }
        query.finish()
    }

    /// The choices that make the links, as form fields.
    fn link_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let mut push = |key: &str, value: &Option<String>| {
            if let Some(value) = value {
                pairs.push((key.to_owned(), value.clone()));
            }
        };
        push("interaction", &self.interaction);
        push("instance", &self.instance);
        push("env", &self.env);
        for (field, value) in &self.fills {
            pairs.push((format!("{FILL}{field}"), value.clone()));
        }
        pairs
    }

    /// The value typed for attribute `name` of `credential_id`.
    fn fill(&self, credential_id: &str, name: &str) -> Option<&str> {
        self.fills.iter().find_map(|(field, value)| {
            let (credential, attribute) = field.split_at_checked(credential_id.len())?;
            (credential == credential_id && attribute.strip_prefix(':') == Some(name))
                .then_some(value.as_str())
        })
    }
}

/// One `<option>`.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// One input of a pre-filled value.
struct Field {
    /// The element id.
    id: String,
    /// The form name: [`FILL`], the credential id, `:`, the attribute's name.
    name: String,
    label: String,
    /// `text`, `number`, `date`, `url`, or `select` (an enumeration: `options`).
    kind: &'static str,
    options: Vec<Choice>,
    value: String,
}

/// A required credential marked "pre-fill from QR", with its attributes' inputs.
struct Prefillable {
    credential_id: String,
    fields: Vec<Field>,
}

/// The interaction chosen, as its form shows it.
struct Chosen {
    id: String,
    name: String,
    instances: Vec<Choice>,
    envs: Vec<Choice>,
    credentials: Vec<Prefillable>,
}

/// One link to copy.
struct Copyable {
    id: &'static str,
    label: &'static str,
    value: String,
}

/// What Generate made.
struct Generated {
    /// App link, deep link, start page URL (and the short link when made).
    links: Vec<Copyable>,
    short: Option<Copyable>,
    /// The short link's `sourceURL`.
    source_url: Option<String>,
    embed: String,
    /// The embed as the preview renders it: its script from this page's own origin.
    preview: String,
    /// The QR image's side in pixels; `None`: the link does not fit in a QR code.
    qr_side: Option<u32>,
    qr_version: Option<u8>,
    dense: bool,
    png_url: String,
    svg_url: String,
    qr_tab: String,
    embed_tab: String,
    /// The short-link form's hidden fields.
    hidden: Vec<(String, String)>,
    /// When an environment was chosen: the one the start page and the embed link to instead
    /// (they always use the configured default).
    pages_target: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/links.html")]
struct LinksPage {
    layout: &'static Layout,
    nav: Nav,
    interactions: Vec<Choice>,
    chosen: Option<Chosen>,
    alert: Option<String>,
    generated: Option<Generated>,
    embed_tab: bool,
    lifetimes: Vec<Choice>,
    one_time: bool,
}

/// `GET /dashboard/services/{serviceDid}/links`.
async fn page(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "interactions").await?;
    let choices = Choices::from_query(query.as_deref());
    render(state, nav, choices, None).await
}

/// The page for `choices`, with `refused` (the API's refusal of a short link) in its alert.
async fn render(
    state: AppState,
    nav: Nav,
    choices: Choices,
    refused: Option<ApiError>,
) -> Result<Response, DashboardError> {
    let scope = nav.scope()?;
    let interactions = db::interactions::with_qr(&state.db, &scope)
        .await?
        .into_iter()
        .map(|(id, name, active)| Choice {
            selected: choices.interaction.as_deref() == Some(id.as_str()),
            label: if active {
                name
            } else {
                format!("{name} (paused)")
            },
            value: id,
        })
        .collect();
    let mut page = LinksPage {
        layout: &LAYOUT,
        interactions,
        chosen: None,
        alert: None,
        generated: None,
        embed_tab: choices.embed_tab,
        lifetimes: LIFETIMES
            .iter()
            .map(|(secs, label)| Choice {
                value: (*secs).to_owned(),
                label: (*label).to_owned(),
                selected: choices.expires.as_deref() == Some(*secs),
            })
            .collect(),
        one_time: choices.one_time,
        nav,
    };
    let mut status = StatusCode::OK;
    if let Some(id) = choices.interaction.as_deref() {
        let interaction = chosen(&state, &scope, id).await?;
        page.chosen = Some(form_of(&state, &interaction, &choices));
        if choices.generate {
            match generate(&state, &scope, &interaction, &choices).await {
                Ok(generated) => page.generated = Some(generated),
                Err(error) => {
                    let (code, message) = refusal(error)?;
                    (status, page.alert) = (code, Some(message));
                }
            }
        }
        if let Some(error) = refused {
            let (code, message) = refusal(error)?;
            (status, page.alert) = (code, Some(message));
        }
    }
    Ok((status, html(&page)).into_response())
}

/// The API's refusal of the choices, to show next to the form; anything else is an error page.
fn refusal(error: ApiError) -> Result<(StatusCode, String), DashboardError> {
    match error {
        ApiError::Validation(_) | ApiError::Conflict(_) | ApiError::BadRequest(_) => {
            Ok((error.status(), error.to_string()))
        }
        other => Err(other.into()),
    }
}

/// The service's interaction `id`, which must be offered as a QR code (others are not offered
/// here, and another service's answers 404).
async fn chosen(
    state: &AppState,
    scope: &ServiceScope,
    id: &str,
) -> Result<Interaction, DashboardError> {
    db::interactions::get_cached(&state.db, scope, &InteractionId::from(id.to_owned()))
        .await?
        .filter(|interaction| interaction.media.contains(&Medium::Qr))
        .ok_or_else(|| DashboardError::NotFound("no such interaction with a QR code".into()))
}

/// The required credentials a link may pre-fill: marked "pre-fill from QR" and self-attested
/// (the link endpoint refuses the others).
fn prefillable(
    interaction: &Interaction,
) -> impl Iterator<Item = &db::interactions::RequiredCredential> {
    interaction
        .required
        .iter()
        .filter(|r| r.prefill_from_qr && r.attestation == Attestation::SelfAttested)
}

/// The form of the chosen interaction, filled with `choices`.
fn form_of(state: &AppState, interaction: &Interaction, choices: &Choices) -> Chosen {
    let instances = interaction
        .instances
        .iter()
        .map(|instance| {
            let parameters: Vec<String> = instance
                .parameters
                .iter()
                .map(|p| format!("{}={}", p.name, p.value))
                .collect();
            let mut label = instance.id.to_string();
            if !parameters.is_empty() {
                label = format!("{label}: {}", parameters.join(", "));
            }
            if instance.is_default {
                label.push_str(" (default)");
            }
            Choice {
                selected: choices.instance.as_deref() == Some(instance.id.as_str()),
                value: instance.id.to_string(),
                label,
            }
        })
        .collect();
    let default = state.config.links.default_target();
    let envs = std::iter::once(Choice {
        value: String::new(),
        label: format!("Default ({})", default.domain()),
        selected: choices.env.is_none(),
    })
    .chain(Environment::ALL.iter().map(|env| Choice {
        value: env.name().to_owned(),
        label: format!("{} ({})", env.name(), env.domain()),
        selected: choices.env.as_deref() == Some(env.name()),
    }))
    .collect();
    let credentials = prefillable(interaction)
        .enumerate()
        .map(|(c, required)| {
            let credential_id = required.credential_id.to_string();
            let fields = required
                .attributes
                .iter()
                .enumerate()
                .map(|(a, attribute)| {
                    let name = attribute.name.as_str();
                    let value = choices.fill(&credential_id, name).unwrap_or_default();
                    let (kind, options) = match &attribute.ty {
                        AttributeType::Text => ("text", Vec::new()),
                        AttributeType::Number => ("number", Vec::new()),
                        AttributeType::Date => ("date", Vec::new()),
                        AttributeType::Image => ("url", Vec::new()),
                        AttributeType::Enumeration(entries) => (
                            "select",
                            entries
                                .iter()
                                .map(|entry| Choice {
                                    selected: entry.value == value,
                                    value: entry.value.clone(),
                                    label: entry.name.to_string(),
                                })
                                .collect(),
                        ),
                    };
                    Field {
                        id: format!("fill-{c}-{a}"),
                        name: format!("{FILL}{credential_id}:{name}"),
                        label: name.to_owned(),
                        kind,
                        options,
                        value: value.to_owned(),
                    }
                })
                .collect();
            Prefillable {
                credential_id,
                fields,
            }
        })
        .collect();
    Chosen {
        id: interaction.id.to_string(),
        name: interaction.name.clone(),
        instances,
        envs,
        credentials,
    }
}

/// The values typed, as the protocol carries them (a date: seconds since the epoch at midnight
/// UTC), for the pre-fillable credentials' attributes only.
fn prefill(interaction: &Interaction, choices: &Choices) -> Vec<Prefill> {
    let mut values = Vec::new();
    for required in prefillable(interaction) {
        let credential_id = required.credential_id.to_string();
        for attribute in required.attributes.iter() {
            let name = attribute.name.as_str();
            let Some(typed) = choices.fill(&credential_id, name) else {
                continue;
            };
            let value = match attribute.ty {
                // Anything else than a date goes as typed, for the API to refuse it by name.
                AttributeType::Date => {
                    date_seconds(typed).map_or(typed.to_owned(), |s| s.to_string())
                }
                _ => typed.to_owned(),
            };
            values.push(Prefill {
                credential_id: credential_id.clone(),
                name: name.to_owned(),
                value,
            });
        }
    }
    values
}

/// `YYYY-MM-DD` (an `<input type=date>`'s value) as seconds since the epoch at midnight UTC.
fn date_seconds(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), counting years from March.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146_097 + day_of_era - 719_468) * 86_400)
}

/// The link endpoint's query for `choices`.
fn link_query(interaction: &Interaction, choices: &Choices) -> LinkQuery {
    LinkQuery {
        instance: choices.instance.clone(),
        env: choices.env.clone(),
        callback: None,
        prefill: prefill(interaction, choices)
            .iter()
            .map(Prefill::to_text)
            .collect(),
        ec: None,
        size: None,
    }
}

/// Generate: the link endpoint's answer for `choices`, and the short link when one was made.
async fn generate(
    state: &AppState,
    scope: &ServiceScope,
    interaction: &Interaction,
    choices: &Choices,
) -> Result<Generated, ApiError> {
    let did = scope.did().to_string();
    let Json(answer) = api::get(
        scope.clone(),
        State(state.clone()),
        Path((did.clone(), interaction.id.clone())),
        Query(link_query(interaction, choices)),
    )
    .await?;
    let base = format!("/dashboard/services/{did}/links");
    let query = choices.query(&[]);
    let mut shown = vec![("generate", "1")];
    if let Some(token) = &choices.short {
        shown.push(("short", token));
    }
    let (short, source_url) = match &choices.short {
        Some(token) => {
            let (link, source_url) = short_link(state, scope, interaction, choices, token).await?;
            (
                Some(Copyable {
                    id: "short-link",
                    label: "Short sourceURL link",
                    value: link,
                }),
                Some(source_url),
            )
        }
        None => (None, None),
    };
    // The snippet names psi's public URL; the preview loads the same script from wherever this
    // page was opened, which the page's policy allows (`script-src 'self'`).
    let preview = answer.embed.replacen(
        &format!("src=\"{}/embed/psi.js\"", state.public_url),
        "src=\"/embed/psi.js\"",
        1,
    );
    Ok(Generated {
        links: vec![
            Copyable {
                id: "app-link",
                label: "App link",
                value: answer.link.app_link,
            },
            Copyable {
                id: "deep-link",
                label: "Deep link",
                value: answer.link.deep_link,
            },
            Copyable {
                id: "start-page",
                label: "Start page URL",
                value: answer.start_page,
            },
        ],
        short,
        source_url,
        embed: answer.embed,
        preview,
        qr_side: answer
            .link
            .qr_modules
            .map(|modules| (modules + 2 * QUIET_ZONE) * MODULE_PX),
        qr_version: answer.link.qr_version,
        dense: answer.link.dense,
        png_url: format!("{base}/qr.png?{query}"),
        svg_url: format!("{base}/qr.svg?{query}"),
        qr_tab: format!("{base}?{}", choices.query(&shown)),
        embed_tab: format!("{base}?{}", {
            let mut embed = shown.clone();
            embed.push(("tab", "embed"));
            choices.query(&embed)
        }),
        hidden: choices.link_pairs(),
        pages_target: choices
            .env
            .as_ref()
            .map(|_| state.config.links.default_target().domain().to_owned()),
    })
}

/// The short link of the stored request `token` (made by the API's `POST .../link/source`), for
/// the same target as the other links, and its `sourceURL`.
async fn short_link(
    state: &AppState,
    scope: &ServiceScope,
    interaction: &Interaction,
    choices: &Choices,
    token: &str,
) -> Result<(String, String), ApiError> {
    if token.is_empty()
        || token.len() > 64
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::Validation(format!(
            "`short`: no short link {token:?}"
        )));
    }
    let prepared = api::prepare(
        state,
        scope,
        &interaction.id,
        LinkChoices {
            env: choices.env.clone(),
            ..LinkChoices::default()
        },
    )
    .await?;
    let source_url = format!("{}/r/{token}", state.public_url);
    let request = LinkRequest {
        source_url: Some(source_url.clone()),
        ..LinkRequest::default()
    };
    let view = LinkView::new(request, &prepared.target, prepared.ec_level)?;
    Ok((view.app_link, source_url))
}

/// `GET .../links/qr.png`: the QR code of the app link, as the API makes it, to download.
async fn png(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, DashboardError> {
    qr(signed_in, state, did, query, "png").await
}

/// `GET .../links/qr.svg`.
async fn svg(
    signed_in: SignedIn,
    State(state): State<AppState>,
    Path(did): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, DashboardError> {
    qr(signed_in, state, did, query, "svg").await
}

async fn qr(
    signed_in: SignedIn,
    state: AppState,
    did: String,
    query: Option<String>,
    extension: &str,
) -> Result<Response, DashboardError> {
    let nav = Nav::of(&state, &signed_in, &did, "interactions").await?;
    let scope = nav.scope()?;
    let choices = Choices::from_query(query.as_deref());
    let id = choices
        .interaction
        .as_deref()
        .ok_or_else(|| DashboardError::Invalid("Choose an interaction first.".into()))?;
    let interaction = chosen(&state, &scope, id).await?;
    let path = Path((did, interaction.id.clone()));
    let link_query = Query(link_query(&interaction, &choices));
    let mut response = if extension == "png" {
        api::qr_png(scope, State(state), path, link_query).await?
    } else {
        api::qr_svg(scope, State(state), path, link_query).await?
    };
    let disposition = format!("attachment; filename=\"qr-{}.{extension}\"", interaction.id);
    response.headers_mut().insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(anyhow::Error::new)?,
    );
    Ok(response)
}

/// `POST .../links/short`: a short `sourceURL` link, through the API's own
/// `POST .../link/source`; then the generated page shows it.
async fn short(
    State(state): State<AppState>,
    Path(did): Path<String>,
    Posted { signed_in, form }: Posted<Vec<(String, String)>>,
) -> Result<Response, DashboardError> {
    let nav = editing(&state, &signed_in, &did, "interactions").await?;
    let scope = nav.scope()?;
    let mut choices = Choices::read(form);
    let id = choices
        .interaction
        .clone()
        .ok_or_else(|| DashboardError::Invalid("Choose an interaction first.".into()))?;
    let interaction = chosen(&state, &scope, &id).await?;
    let expires_in_secs = match choices.expires.as_deref() {
        Some(secs) => Some(secs.parse::<u64>().map_err(|_| {
            DashboardError::Invalid(format!("{secs:?} is not a number of seconds"))
        })?),
        None => None,
    };
    let body = CreateSourceLink {
        instance: choices.instance.clone(),
        env: choices.env.clone(),
        callback: None,
        prefill: prefill(&interaction, &choices),
        ec: None,
        expires_in_secs,
        one_time: choices.one_time,
    };
    let made = api::create_source(
        scope,
        State(state.clone()),
        Path((did.clone(), interaction.id.clone())),
        Json(body),
    )
    .await;
    choices.generate = true;
    match made {
        Ok((_, Json(view))) => {
            let token = view.source_url.rsplit('/').next().unwrap_or_default();
            let query = choices.query(&[("generate", "1"), ("short", token)]);
            Ok(Redirect::to(&format!("/dashboard/services/{did}/links?{query}")).into_response())
        }
        Err(error) => render(state, nav, choices, Some(error)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_seconds_at_midnight_utc() {
        assert_eq!(date_seconds("1970-01-01"), Some(0));
        assert_eq!(date_seconds("1990-01-01"), Some(631_152_000));
        assert_eq!(date_seconds("2000-02-29"), Some(951_782_400));
        assert_eq!(date_seconds("1969-12-31"), Some(-86_400));
        for bad in ["2001-02-29", "2000-13-01", "2000-00-10", "631152000", ""] {
            assert_eq!(date_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_value_is_found_by_credential_and_attribute_name() {
        let credential = "GbzPqgnU4XsMs7xg9mYJW8:3:CL:12:member";
        let choices = Choices::from_query(Some(
            "interaction=x&fill%3AGbzPqgnU4XsMs7xg9mYJW8%3A3%3ACL%3A12%3Amember%3AName=Ada&other=1",
        ));
        assert_eq!(choices.fill(credential, "Name"), Some("Ada"));
        assert_eq!(choices.fill(credential, "Nam"), None);
        assert_eq!(
            choices.fill("GbzPqgnU4XsMs7xg9mYJW8:3:CL:12:memb", "er:Name"),
            None
        );
        assert!(choices.query(&[]).contains("fill%3AGbzPqgnU4XsMs7xg9mYJW8"));
    }
}
