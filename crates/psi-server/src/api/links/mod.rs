//! `/api/v1/services/{did}/interactions/{id}/link`: the links that start an interaction (docs/protocol.md
//! §2), as JSON, as a QR code (SVG, PNG), or as a short sourceURL link whose request psi stores.
//!
//! Choices travel in the query string for the `GET`s (`instance`, `env`, `callback`, repeated
//! `prefill=CREDENTIAL_ID:NAME=VALUE`, `ec`, `size`) and as a JSON body for the sourceURL `POST`,
//! where pre-filled values are objects (so any attribute name works there).

pub mod build;
mod share;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use psi_link::LinkRequest;
use psi_qr::{ImageFormat, Qr, QrOptions};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use build::{LinkChoices, LinkView, Prefill, Prepared, prepare};
pub use share::LinkAnswer;
use share::Shared;

use crate::crypto::random_bytes;
use crate::db::{self, link_requests::NewLinkRequest};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json::Json;
use crate::http::path::Path;
use crate::http::query::Query;
use crate::ids::InteractionId;
use crate::public::source::TOKEN_BYTES;
use crate::scope::ServiceScope;

/// How long a sourceURL link lives unless told: a day.
const DEFAULT_EXPIRES_IN_SECS: u64 = 24 * 60 * 60;
/// The longest a sourceURL link may live: 30 days.
const MAX_EXPIRES_IN_SECS: u64 = 30 * 24 * 60 * 60;

/// Choices for a link, in the query string.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// An instance id of the interaction; default: its default instance.
    pub instance: Option<String>,
    /// `production`, `test`, `staging` or `preprod`; default: the `[links]` configuration.
    pub env: Option<String>,
    /// URL the app opens after success: http(s) or an app scheme (`javascript:` and the like are
    /// refused).
    pub callback: Option<String>,
    /// Repeatable: `CREDENTIAL_ID:NAME=VALUE`, a value for an attribute of a self-attested
    /// credential the interaction requires with "pre-fill from QR". The name ends at the first
    /// `=`.
    #[serde(default)]
    pub prefill: Vec<String>,
    /// QR error-correction level: `L`, `M` (default), `Q` or `H`.
    pub ec: Option<String>,
    /// QR images only: pixels per module, 1 to 32 (default 8).
    pub size: Option<u32>,
}

impl LinkQuery {
    fn into_choices(self) -> Result<(LinkChoices, Option<u32>), ApiError> {
        let prefill = self
            .prefill
            .iter()
            .map(|text| Prefill::parse(text))
            .collect::<Result<_, _>>()?;
        let choices = LinkChoices {
            instance: self.instance,
            env: self.env,
            callback: self.callback,
            prefill,
            ec: self.ec,
        };
        Ok((choices, self.size))
    }
}

/// A sourceURL link to make: the same choices as the query string, and its lifetime.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSourceLink {
    /// An instance id of the interaction; default: its default instance.
    pub instance: Option<String>,
    /// `production`, `test`, `staging` or `preprod`; default: the `[links]` configuration.
    pub env: Option<String>,
    /// URL the app opens after success.
    pub callback: Option<String>,
    /// Pre-filled values, stored with the request instead of travelling in the link.
    #[serde(default)]
    pub prefill: Vec<Prefill>,
    /// QR error-correction level of the short link's code: `L`, `M` (default), `Q` or `H`.
    pub ec: Option<String>,
    /// Seconds until the link answers 410: 1 to 2592000 (30 days); default 86400 (a day).
    pub expires_in_secs: Option<u64>,
    /// The first download consumes the link; later ones answer 410.
    #[serde(default)]
    pub one_time: bool,
}

/// A short link and what it points at.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceLinkView {
    /// The short link: its request is only `{"sourceURL": ...}`.
    #[serde(flatten)]
    pub link: LinkView,
    /// Where the app downloads the full request (`GET /r/{token}`, no authentication).
    pub source_url: String,
    /// Unix milliseconds.
    pub expires_at: i64,
    pub one_time: bool,
}

/// The app link and deep link of an interaction with the request they carry, and its start page
/// and embed snippet with the same choices.
#[utoipa::path(get, path = "/api/v1/services/{did}/interactions/{id}/link", operation_id = "get_link",
    tag = "links", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction id"),
        LinkQuery),
    responses(
        (status = 200, description = "The links, the start page and the embed snippet", body = LinkAnswer),
        (status = 400, description = "A refused callback", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or interaction", body = ErrorBody),
        (status = 409, description = "The interaction is paused", body = ErrorBody),
        (status = 422, description = "A bad parameter or pre-filled value (the message names it)", body = ErrorBody)))]
pub async fn get(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path(path): Path<(String, InteractionId)>,
    Query(query): Query<LinkQuery>,
) -> Result<Json<LinkAnswer>, ApiError> {
    let (_did, interaction_id) = path;
    let (choices, _size) = query.into_choices()?;
    let (instance, prefill, callback) = (
        choices.instance.clone(),
        choices.prefill.clone(),
        choices.callback.clone(),
    );
    let prepared = prepare(&state, &scope, &interaction_id, choices).await?;
    let shared = Shared {
        did: scope.did().as_str(),
        interaction_id: interaction_id.as_str(),
        instance: instance.as_deref(),
        prefill: &prefill,
        callback: callback.as_deref(),
    };
    let link = LinkView::new(prepared.request, &prepared.target, prepared.ec_level)?;
    Ok(Json(shared.answer(link, &state.public_url)?))
}

/// The app link's QR code as SVG.
#[utoipa::path(get, path = "/api/v1/services/{did}/interactions/{id}/link/qr.svg",
    operation_id = "get_link_qr_svg", tag = "links", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction id"),
        LinkQuery),
    responses(
        (status = 200, description = "The QR code", content_type = "image/svg+xml", body = String),
        (status = 400, description = "A refused callback", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or interaction", body = ErrorBody),
        (status = 409, description = "The interaction is paused", body = ErrorBody),
        (status = 422, description = "A bad parameter, or a link too long for a QR code", body = ErrorBody)))]
pub async fn qr_svg(
    scope: ServiceScope,
    state: State<AppState>,
    path: Path<(String, InteractionId)>,
    query: Query<LinkQuery>,
) -> Result<Response, ApiError> {
    qr_image(scope, state, path, query, ImageFormat::Svg).await
}

/// The app link's QR code as PNG.
#[utoipa::path(get, path = "/api/v1/services/{did}/interactions/{id}/link/qr.png",
    operation_id = "get_link_qr_png", tag = "links", security(("bearer" = [])),
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction id"),
        LinkQuery),
    responses(
        (status = 200, description = "The QR code", content_type = "image/png", body = Vec<u8>),
        (status = 400, description = "A refused callback", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or interaction", body = ErrorBody),
        (status = 409, description = "The interaction is paused", body = ErrorBody),
        (status = 422, description = "A bad parameter, or a link too long for a QR code", body = ErrorBody)))]
pub async fn qr_png(
    scope: ServiceScope,
    state: State<AppState>,
    path: Path<(String, InteractionId)>,
    query: Query<LinkQuery>,
) -> Result<Response, ApiError> {
    qr_image(scope, state, path, query, ImageFormat::Png).await
}

async fn qr_image(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path((_did, interaction_id)): Path<(String, InteractionId)>,
    Query(query): Query<LinkQuery>,
    format: ImageFormat,
) -> Result<Response, ApiError> {
    let (choices, size) = query.into_choices()?;
    let prepared = prepare(&state, &scope, &interaction_id, choices).await?;
    let view = LinkView::new(prepared.request, &prepared.target, prepared.ec_level)?;
    let options = QrOptions {
        ec_level: prepared.ec_level,
        module_size: size.unwrap_or(QrOptions::default().module_size),
    };
    let qr_error = |e: psi_qr::QrError| {
        ApiError::Validation(format!(
            "{e}; a short link from POST .../link/source always fits"
        ))
    };
    let qr = Qr::new(&view.app_link, options).map_err(qr_error)?;
    let image = qr.to_image(format).map_err(qr_error)?;
    let content_type = match format {
        ImageFormat::Svg => "image/svg+xml",
        ImageFormat::Png => "image/png",
    };
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        image,
    )
        .into_response())
}

/// Store the request and make a short link whose `sourceURL` points at it.
#[utoipa::path(post, path = "/api/v1/services/{did}/interactions/{id}/link/source",
    operation_id = "create_source_link", tag = "links", security(("bearer" = [])),
    request_body = CreateSourceLink,
    params(
        ("did" = String, Path, description = "The service's public DID"),
        ("id" = String, Path, description = "The interaction id")),
    responses(
        (status = 201, description = "The short link", body = SourceLinkView),
        (status = 400, description = "A refused callback", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such service or interaction", body = ErrorBody),
        (status = 409, description = "The interaction is paused", body = ErrorBody),
        (status = 422, description = "A bad field or pre-filled value (the message names it)", body = ErrorBody)))]
pub async fn create_source(
    scope: ServiceScope,
    State(state): State<AppState>,
    Path(path): Path<(String, InteractionId)>,
    Json(body): Json<CreateSourceLink>,
) -> Result<(StatusCode, Json<SourceLinkView>), ApiError> {
    let (_did, interaction_id) = path;
    let expires_in_secs = body.expires_in_secs.unwrap_or(DEFAULT_EXPIRES_IN_SECS);
    if !(1..=MAX_EXPIRES_IN_SECS).contains(&expires_in_secs) {
        return Err(ApiError::Validation(format!(
            "`expires_in_secs` must be 1 to {MAX_EXPIRES_IN_SECS} (30 days)"
        )));
    }
    let choices = LinkChoices {
        instance: body.instance,
        env: body.env,
        callback: body.callback,
        prefill: body.prefill,
        ec: body.ec,
    };
    let prepared = prepare(&state, &scope, &interaction_id, choices).await?;
    let token = URL_SAFE_NO_PAD.encode(random_bytes(TOKEN_BYTES));
    let source_url = format!("{}/r/{token}", state.public_url);
    let short = LinkRequest {
        source_url: Some(source_url.clone()),
        ..LinkRequest::default()
    };
    let link = LinkView::new(short, &prepared.target, prepared.ec_level)?;
    let expires_at = db::now_ms() + (expires_in_secs * 1000) as i64;
    let stored = NewLinkRequest {
        token: &token,
        request: &prepared.request.to_json(),
        expires_at,
        one_time: body.one_time,
    };
    db::link_requests::insert(&state.db, &scope, &stored).await?;
    tracing::info!(did = %scope.did(), interaction = %interaction_id, one_time = body.one_time,
        "sourceURL link stored");
    Ok((
        StatusCode::CREATED,
        Json(SourceLinkView {
            link,
            source_url,
            expires_at,
            one_time: body.one_time,
        }),
    ))
}
