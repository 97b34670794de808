//! `GET /native/execute/{payload}`: the page an app link opens when the app is not installed
//! (docs/protocol.md §3). It says what the holder was asked to do, offers the app stores, a retry with
//! the deep link, and the link as a QR code for another device. The payload is decoded by
//! psi-link as the app link on the configured links domain would be, and everything shown is
//! escaped by the template; a payload that does not decode is a 400 page naming the problem.
//! A `sourceURL` is never fetched here: the page only names its host.
//!
//! The page follows the `User-Agent` ([`Platform`], [`in_app_browser`]): on Android the retry is
//! an `intent:` link, which Chrome turns into the app or, when it is missing, the Google Play
//! page, where a plain custom scheme fails silently; in an in-app browser, which opens neither,
//! the page first asks the holder to open it in their browser; only desktops get the QR code.

use askama::Template;
use axum::extract::State;
use axum::http::header::{USER_AGENT, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use psi_link::{Decoder, LinkError, LinkKind, LinkRequest, LinkTarget};
use url::Url;

use super::callback::{InAppBrowser, Platform, in_app_browser};
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
    /// "Open in the app": the deep link, or on Android its `intent:` form.
    open_link: String,
    app_store_url: Option<&'a str>,
    google_play_url: Option<&'a str>,
    /// The in-app browser the holder is told to leave.
    in_app: Option<InAppBrowser>,
    /// The app link's QR code, for desktops only: a phone cannot scan its own screen.
    qr_svg: Option<String>,
}

/// The landing page.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(payload): Path<String>,
) -> Response {
    let user_agent = headers
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    match render(&state, &payload, user_agent).await {
        Ok(mut response) => {
            // The page differs by device, so no cache may hand one device's page to another.
            response
                .headers_mut()
                .append(VARY, HeaderValue::from_static("User-Agent"));
            response
        }
        Err(problem) => problem.into_response(),
    }
}

async fn render(state: &AppState, payload: &str, user_agent: &str) -> Result<Response, Problem> {
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
    let platform = Platform::of(user_agent);
    let open_link = match platform {
        Platform::Android => intent_link(
            &deep_link,
            target.scheme(),
            pages.android_package.as_deref(),
            pages.google_play_url.as_ref(),
        )
        .unwrap_or(deep_link),
        Platform::Ios | Platform::Desktop => deep_link,
    };
    let page = Landing {
        layout: &LAYOUT,
        app_name: &pages.app_name,
        service: names.service,
        interaction: names.interaction,
        description: names.description,
        source_host: request
            .source_url
            .as_deref()
            .and_then(|source| Url::parse(source).ok())
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
        open_link,
        app_store_url: pages.app_store_url.as_ref().map(Url::as_str),
        google_play_url: pages.google_play_url.as_ref().map(Url::as_str),
        in_app: in_app_browser(user_agent),
        qr_svg: (!platform.is_mobile())
            .then(|| inline_svg(&app_link))
            .flatten(),
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

/// The Android `intent:` form of `deep_link` (`<scheme>://<domain>/native/execute/<payload>`):
/// `intent://<domain>/native/execute/<payload>#Intent;scheme=<scheme>;package=<package>;
/// S.browser_fallback_url=<fallback>;end`, the package and the fallback only when known. Chrome
/// opens the app that handles the scheme (only `package`, when named), else goes to the
/// fallback, else to `package`'s Google Play page. `None` when the link is not of `scheme`.
///
/// The scheme, domain, payload (base64url) and package hold no `#` or `;`, which end the
/// intent's parts; the fallback is percent-encoded whole, as Android decodes `S.` values.
fn intent_link(
    deep_link: &str,
    scheme: &str,
    package: Option<&str>,
    fallback: Option<&Url>,
) -> Option<String> {
    let rest = deep_link.strip_prefix(scheme)?.strip_prefix("://")?;
    let mut parts = vec![format!("scheme={scheme}")];
    if let Some(package) = package {
        parts.push(format!("package={package}"));
    }
    if let Some(fallback) = fallback {
        // A URL never holds a space, so no `+` (form encoding's space) comes out of this.
        let encoded: String =
            url::form_urlencoded::byte_serialize(fallback.as_str().as_bytes()).collect();
        parts.push(format!("S.browser_fallback_url={encoded}"));
    }
    Some(format!("intent://{rest}#Intent;{};end", parts.join(";")))
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

#[cfg(test)]
mod tests {
    use super::*;

    const DEEP: &str = "zakaio://proofspace.id/native/execute/eyJhY3Rpb25JZCI6IjEifQ";

    #[test]
    fn the_intent_link_names_scheme_package_and_the_encoded_fallback() {
        let play =
            Url::parse("https://play.google.com/store/apps/details?id=org.example.wallet&hl=en")
                .unwrap();
        assert_eq!(
            intent_link(DEEP, "zakaio", Some("org.example.wallet"), Some(&play)).as_deref(),
            Some(
                "intent://proofspace.id/native/execute/eyJhY3Rpb25JZCI6IjEifQ#Intent;\
                 scheme=zakaio;package=org.example.wallet;S.browser_fallback_url=https%3A%2F%2F\
                 play.google.com%2Fstore%2Fapps%2Fdetails%3Fid%3Dorg.example.wallet%26hl%3Den;end"
            )
        );
        assert_eq!(
            intent_link(DEEP, "zakaio", None, None).as_deref(),
            Some(
                "intent://proofspace.id/native/execute/eyJhY3Rpb25JZCI6IjEifQ#Intent;\
                 scheme=zakaio;end"
            )
        );
        assert_eq!(intent_link(DEEP, "testzakaio", None, None), None);
    }
}
