//! The start-interaction page, `GET /s/{serviceDid}/{interactionId}/start.html`, and the same
//! offer as JSON for the embed library, `GET /s/{serviceDid}/{interactionId}/link.json`.
//!
//! A desktop gets the interaction's name and description, a QR code of the link (no callback) and
//! the link to copy; a phone gets a button to the link with the callback its browser needs
//! ([`callback`](super::callback)). The query string may pick an instance (`instance`), pre-fill
//! attributes (repeated `prefill=CREDENTIAL_ID:NAME=VALUE`) and set a custom callback
//! (`callback`, phones only): all checked by the link endpoint's own [`prepare`]. Each offer
//! makes a new [`Session`], carried in the link, whose live status the page shows; on completion
//! the page may go to `redirect`, a URL on one of `pages.redirect_origins`, else to the
//! interaction's `completion_url`.

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use url::Url;

use super::callback::{self, Platform};
use super::problem::Problem;
use super::qr::inline_svg;
use super::render::{LAYOUT, Layout, html};
use super::session::{self, Session};
use crate::api::links::{LinkChoices, Prefill, prepare};
use crate::db;
use crate::domain::Parameter;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::InteractionId;
use crate::public::PublicService;
use crate::scope::ServiceScope;
use psi_link::Did;

/// The query string of the page and of `link.json`. Other parameters (say `utm_source`) are
/// ignored: pages are linked from anywhere.
#[derive(Debug, Default, Deserialize)]
pub struct StartQuery {
    /// An instance id; default: the interaction's default instance.
    pub instance: Option<String>,
    /// Repeatable `CREDENTIAL_ID:NAME=VALUE`.
    #[serde(default)]
    pub prefill: Vec<String>,
    /// A custom callback for phones, instead of the one chosen from the browser.
    pub callback: Option<String>,
    /// Where the page goes when the interaction completes.
    pub redirect: Option<String>,
    /// `link.json` only: the URL of the page the embed is on (an iPhone's callback).
    pub page_url: Option<String>,
}

/// What a page or an embed offers one visitor.
#[derive(Debug, Serialize)]
pub struct Offer {
    /// `android`, `ios` or `desktop`.
    pub platform: &'static str,
    /// The app link, with the session (and on a phone the callback).
    pub link: String,
    /// The link's callback; `null` on a desktop.
    pub callback: Option<String>,
    /// The QR code of the link as an `<svg>` element; desktops only.
    pub qr_svg: Option<String>,
    pub service: String,
    pub name: String,
    pub description: String,
    /// The chosen instance's parameters.
    pub parameters: Vec<Parameter>,
    /// The values the link pre-fills, by attribute name.
    pub prefilled: Vec<Parameter>,
    /// Server-sent events with the session's status (a path on this server in `Offer`s pages
    /// render; `link.json` makes it absolute).
    pub status_url: String,
    /// The checked completion redirect.
    #[serde(skip)]
    redirect: Option<String>,
}

/// Builds the offer of the scoped service (`service_name`) for the visitor's `User-Agent`;
/// `page_url` is the URL the holder returns to; `own_redirect`, a URL of psi's own that the page
/// goes to on completion, before the visitor's `redirect` and the interaction's.
async fn offer(
    state: &AppState,
    scope: &ServiceScope,
    service_name: String,
    interaction_id: &InteractionId,
    query: StartQuery,
    (user_agent, page_url): (&str, &str),
    own_redirect: Option<String>,
) -> Result<Offer, ApiError> {
    let redirect = match own_redirect {
        Some(own) => Some(own),
        None => query
            .redirect
            .as_deref()
            .map(|r| check_redirect(state, r))
            .transpose()?,
    };
    let prefill = query
        .prefill
        .iter()
        .map(|text| Prefill::parse(text))
        .collect::<Result<_, _>>()?;
    let platform = Platform::of(user_agent);
    let callback = query
        .callback
        .filter(|c| !c.is_empty())
        .or_else(|| callback::callback(user_agent, page_url));
    let mut prepared = prepare(
        state,
        scope,
        interaction_id,
        LinkChoices {
            instance: query.instance,
            env: None,
            callback: callback.filter(|c| !c.is_empty()),
            prefill,
            ec: None,
        },
    )
    .await?;
    let interaction = &prepared.interaction;
    if !platform.is_mobile() {
        // A custom callback was checked like any, but a desktop's link carries none (docs/protocol.md §3).
        prepared.request.callback = None;
    }
    let parameters = interaction
        .instances
        .iter()
        .find(|instance| prepared.request.id.as_deref() == Some(instance.id.as_str()))
        .map(|instance| instance.parameters.clone())
        .unwrap_or_default();
    let prefilled = prepared
        .request
        .prepared_credentials
        .iter()
        .flatten()
        .flat_map(|credential| &credential.attributes)
        .map(|attribute| Parameter {
            name: attribute.name.clone(),
            value: attribute.value.clone(),
        })
        .collect();
    let session = Session::new();
    let link = session::app_link(&prepared.request, &prepared.target, &session)
        .map_err(|e| ApiError::Validation(format!("{e}")))?;
    let qr_svg = match platform {
        Platform::Desktop => Some(inline_svg(&link).ok_or_else(|| {
            ApiError::Validation("the link is too long for a QR code: pre-fill fewer values".into())
        })?),
        _ => None,
    };
    Ok(Offer {
        platform: match platform {
            Platform::Android => "android",
            Platform::Ios => "ios",
            Platform::Desktop => "desktop",
        },
        link,
        callback: prepared.request.callback,
        qr_svg,
        service: service_name,
        name: interaction.name.clone(),
        description: interaction.description.clone(),
        parameters,
        prefilled,
        status_url: format!(
            "/s/{}/{}/status/{}",
            scope.did(),
            interaction.id,
            session.as_str()
        ),
        // The visitor's own choice (checked against pages.redirect_origins) over the service's.
        redirect: redirect.or_else(|| interaction.completion_url.clone()),
    })
}

fn check_redirect(state: &AppState, redirect: &str) -> Result<String, ApiError> {
    let refused = || {
        ApiError::Validation(format!(
            "`redirect` {redirect:?} is not on an origin this server may send holders to \
             (pages.redirect_origins)"
        ))
    };
    let url = Url::parse(redirect).map_err(|_| refused())?;
    if state.config.pages.allows_redirect(&url) {
        Ok(url.into())
    } else {
        Err(refused())
    }
}

fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "start.html")]
struct StartPage<'a> {
    layout: &'static Layout,
    app_name: &'a str,
    service: String,
    name: String,
    description: String,
    parameters: Vec<Parameter>,
    prefilled: Vec<Parameter>,
    link: String,
    qr_svg: Option<String>,
    status_url: String,
    redirect: Option<String>,
}

/// The start page.
pub async fn page(
    State(state): State<AppState>,
    Path((did, interaction_id)): Path<(String, InteractionId)>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<StartQuery>, ApiError>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(error) => return Problem::from(error).into_response(),
    };
    // The page's own full URL: an iPhone's browser returns to this very tab.
    let page_url = format!("{}{uri}", state.public_url);
    render(
        &state,
        &did,
        &interaction_id,
        query,
        (&headers, &page_url),
        None,
    )
    .await
}

/// The start page of service `did`'s interaction at `page_url`, for the visitor of `headers`;
/// `own_redirect` is where it goes on completion, a URL psi made itself (SSI OAuth's
/// authorization page), which `pages.redirect_origins` need not list.
pub(crate) async fn render(
    state: &AppState,
    did: &str,
    interaction_id: &InteractionId,
    query: StartQuery,
    (headers, page_url): (&HeaderMap, &str),
    own_redirect: Option<String>,
) -> Response {
    let result = async {
        let (scope, service) = match did.parse::<Did>() {
            Ok(did) => db::services::by_did(&state.db, &did).await?,
            Err(_) => None,
        }
        .ok_or_else(|| ApiError::not_found("service"))?;
        offer(
            state,
            &scope,
            service.name,
            interaction_id,
            query,
            (user_agent(headers), page_url),
            own_redirect,
        )
        .await
    }
    .await;
    let offer = match result {
        Ok(offer) => offer,
        Err(ApiError::Conflict(_)) => return Problem::paused().into_response(),
        Err(ApiError::NotFound(message)) => {
            return Problem::not_found(format!("Nothing here: {message}. Check the address."))
                .into_response();
        }
        Err(error) => return Problem::from(error).into_response(),
    };
    state.interaction_counts.page_view(interaction_id.as_str());
    html(&StartPage {
        layout: &LAYOUT,
        app_name: &state.config.pages.app_name,
        service: offer.service,
        name: offer.name,
        description: offer.description,
        parameters: offer.parameters,
        prefilled: offer.prefilled,
        link: offer.link,
        qr_svg: offer.qr_svg,
        status_url: offer.status_url,
        redirect: offer.redirect,
    })
}

/// The embed's offer: the same as the page's, as JSON, for the caller's `User-Agent`.
pub async fn link_json(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
    Path((_did, interaction_id)): Path<(String, InteractionId)>,
    headers: HeaderMap,
    Query(mut query): Query<StartQuery>,
) -> Result<Response, ApiError> {
    let page_url = match query.page_url.take() {
        Some(url) => match Url::parse(&url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => url,
            _ => {
                return Err(ApiError::Validation(format!(
                    "`page_url` {url:?} is not an http(s) URL"
                )));
            }
        },
        None => format!(
            "{}/s/{}/{interaction_id}/start.html",
            state.public_url,
            scope.did()
        ),
    };
    // The extractor read the service through the configuration cache: this is a hit.
    let (_, service) = db::services::by_did(&state.db, scope.did())
        .await?
        .ok_or_else(|| ApiError::not_found("service"))?;
    let mut offer = offer(
        &state,
        &scope,
        service.name,
        &interaction_id,
        query,
        (user_agent(&headers), &page_url),
        None,
    )
    .await?;
    offer.status_url = format!("{}{}", state.public_url, offer.status_url);
    state.interaction_counts.link_fetch(interaction_id.as_str());
    let mut response = Json(offer).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        axum::http::header::VARY,
        HeaderValue::from_static("User-Agent, Origin"),
    );
    Ok(response)
}
