//! `GET /native/execute/{payload}`: the page an app link opens when the app is not installed
//! (docs/protocol.md §3). It says what the holder was asked to do, offers the app stores, a retry with
//! the deep link, and the link as a QR code for another device. The payload is decoded by
//! psi-link as the app link on the configured links domain would be, and everything shown is
//! escaped by the template; a payload that does not decode is a 400 page naming the problem.
//! A `sourceURL` is never fetched here: the page only names its host.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use psi_link::{Decoder, LinkError, LinkKind, LinkRequest, LinkTarget};

use super::problem::{Problem, capitalise};
use super::qr::inline_svg;
use super::render::{LAYOUT, Layout, html};
use crate::db;
use crate::domain::Parameter;
use crate::http::AppState;
use crate::http::path::Path;
use psi_link::Did;

#[derive(Debug, Template)]
#[template(path = "landing.html")]
struct Landing<'a> {
    layout: &'static Layout,
    app_name: &'a str,
    service: Option<String>,
    interaction: Option<String>,
    description: Option<String>,
    source_host: Option<String>,
    values: Vec<Parameter>,
    callback: Option<String>,
    deep_link: String,
    app_store_url: Option<&'a str>,
    google_play_url: Option<&'a str>,
    qr_svg: Option<String>,
}

/// The landing page.
pub async fn page(State(state): State<AppState>, Path(payload): Path<String>) -> Response {
    match render(&state, &payload).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

async fn render(state: &AppState, payload: &str) -> Result<Response, Problem> {
    let target = state.config.links.default_target();
    let link = format!("https://{}/native/execute/{payload}", target.domain());
    let request = Decoder::new()
        .with_target(target.clone())
        .decode(&link)
        .map_err(unusable)?
        .request;
    let (deep_link, app_link) = links(&request, &target)?;
    let names = Names::of(state, &request).await?;
    let pages = &state.config.pages;
    let page = Landing {
        layout: &LAYOUT,
        app_name: &pages.app_name,
        service: names.service,
        interaction: names.interaction,
        description: names.description,
        source_host: request
            .source_url
            .as_deref()
            .and_then(|source| url::Url::parse(source).ok())
            .and_then(|url| url.host_str().map(str::to_owned)),
        values: request
            .prepared_credentials
            .iter()
            .flatten()
            .flat_map(|credential| &credential.attributes)
            .map(|attribute| Parameter {
                name: attribute.name.clone(),
                value: attribute.value.clone(),
            })
            .collect(),
        callback: request.callback.clone().filter(|c| !c.is_empty()),
        deep_link,
        app_store_url: pages.app_store_url.as_ref().map(url::Url::as_str),
        google_play_url: pages.google_play_url.as_ref().map(url::Url::as_str),
        qr_svg: inline_svg(&app_link),
    };
    Ok(html(&page))
}

/// The page for a link that cannot be used, naming psi-link's reason.
fn unusable(error: LinkError) -> Problem {
    Problem::bad_request("This link cannot be opened", capitalise(&error.to_string()))
        .with_hint("Ask whoever sent it for a new link.")
}

/// The deep link (the retry) and the app link (the QR code) of the decoded request.
fn links(request: &LinkRequest, target: &LinkTarget) -> Result<(String, String), Problem> {
    let encode = |kind| psi_link::encode(request, target, kind).map_err(unusable);
    Ok((encode(LinkKind::Deep)?, encode(LinkKind::App)?))
}

/// The names of the service and interaction when they are this server's.
#[derive(Default)]
struct Names {
    service: Option<String>,
    interaction: Option<String>,
    description: Option<String>,
}

impl Names {
    async fn of(state: &AppState, request: &LinkRequest) -> Result<Self, Problem> {
        let Some(did) = request
            .service_did
            .as_deref()
            .and_then(|did| did.parse::<Did>().ok())
        else {
            return Ok(Names::default());
        };
        let database =
            |error: sqlx::Error| Problem::from(crate::http::error::ApiError::from(error));
        let Some((scope, service)) = db::services::by_did(&state.db, &did)
            .await
            .map_err(database)?
        else {
            return Ok(Names::default());
        };
        let interaction = match request.action_id.as_deref() {
            Some(id) => db::interactions::get_cached(&state.db, &scope, &id.into())
                .await
                .map_err(database)?
                .filter(|interaction| interaction.active),
            None => None,
        };
        Ok(Names {
            service: Some(service.name),
            description: interaction
                .as_ref()
                .map(|i| i.description.clone())
                .filter(|d| !d.is_empty()),
            interaction: interaction.map(|i| i.name),
        })
    }
}
