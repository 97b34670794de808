//! The authorization code flow (RFC 6749 §4.1) with PKCE (RFC 7636): a site sends the browser to
//! `GET .../authorization`; psi stores the request as a grant and sends the browser on to the
//! grant's page, `GET /oauth2/authorization/{handle}`, which is the interaction's start page with
//! the grant's user code pre-filled; when the holder completes the interaction, the page comes
//! back to itself and sends the browser to the site's `redirect_uri` with a code, which the site
//! exchanges at the token endpoint.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use super::{CURRENT_BASE, Client, OAuthError, client, device, field, form, optional, tokens};
use crate::db::oauth::{AuthorizationRequest, Grant, GrantState};
use crate::db::{self, now_ms};
use crate::domain::oauth;
use crate::http::AppState;
use crate::http::auth::Peer;
use crate::http::path::Path;
use crate::ids::InteractionId;
use crate::pages::problem::Problem;
use crate::pages::start::{self, StartQuery};

/// How long an authorization code may be exchanged (RFC 6749 §4.1.2: short; at most 10 minutes).
const CODE_LIFETIME_SECS: i64 = 60;
/// The most pre-filled values an authorization request may carry (a QR code holds few).
const MAX_PREFILLED: usize = 20;

/// Where the browser goes back to: the client's redirect URI with its `state` and the issuer
/// (RFC 9207: every service is an issuer, and all share these endpoints).
struct Back<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    iss: String,
}

impl Back<'_> {
    /// To the redirect URI with `pairs`, `state` and `iss`.
    fn with(&self, pairs: &[(&str, &str)]) -> Response {
        let Ok(mut url) = Url::parse(self.redirect_uri) else {
            // Registered URIs parse; this is only for the type's sake.
            return shown("The site's redirect URI is not a URL.");
        };
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in pairs {
                query.append_pair(name, value);
            }
            if let Some(state) = self.state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", &self.iss);
        }
        Redirect::to(url.as_str()).into_response()
    }

    /// An error the site hears of (RFC 6749 §4.1.2.1).
    fn error(&self, error: &str, description: &str) -> Response {
        self.with(&[("error", error), ("error_description", description)])
    }
}

/// An error shown to the person, when the site cannot be trusted with it (no client, a redirect
/// URI not registered) or the page is not a sign-in's any more.
fn shown(message: impl Into<String>) -> Response {
    Problem::bad_request("Sign-in failed", message)
        .with_hint("Go back to the site and start signing in again.")
        .into_response()
}

/// A credential the site pre-fills (`prefilled_credentials`: base64 of a JSON array of these,
/// the link's `preparedCredentials` entries).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Prefilled {
    credential_id: String,
    attributes: Vec<PrefilledAttribute>,
}

#[derive(Deserialize)]
struct PrefilledAttribute {
    name: String,
    value: String,
}

/// `prefilled_credentials` as the start page's `prefill` values (`CREDENTIAL_ID:NAME=VALUE`),
/// which the page checks like any.
fn prefills(text: &str) -> Result<Vec<String>, String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
        .map_err(|_| "`prefilled_credentials` is not base64".to_owned())?;
    let credentials: Vec<Prefilled> = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "`prefilled_credentials` is not a JSON array of {{credentialId, attributes: \
             [{{name, value}}]}}: {e}"
        )
    })?;
    let prefills: Vec<String> = credentials
        .iter()
        .flat_map(|c| {
            c.attributes
                .iter()
                .map(move |a| format!("{}:{}={}", c.credential_id, a.name, a.value))
        })
        .collect();
    if prefills.len() > MAX_PREFILLED {
        return Err(format!(
            "`prefilled_credentials` has more than {MAX_PREFILLED} values"
        ));
    }
    Ok(prefills)
}

/// `GET .../authorization?client_id&redirect_uri&response_type=code[&state][&scope][&nonce]
/// [&code_challenge&code_challenge_method=S256][&prefilled_credentials]`, or the same as a
/// form `POST` (OpenID Connect Core §3.1.2.1).
pub(super) async fn authorization(
    State(state): State<AppState>,
    Peer(peer): Peer,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let fields = if method == Method::POST {
        body.to_vec()
    } else {
        uri.query().unwrap_or_default().as_bytes().to_vec()
    };
    let query = match form(&fields) {
        Ok(query) => query,
        Err(error) => return shown(error.description),
    };
    let Some(client_id) = optional(&query, "client_id") else {
        return shown("The site's sign-in link has no client_id.");
    };
    let client = match client(&state, client_id).await {
        Ok(client) => client,
        Err(error) => {
            return shown(format!(
                "The site is not known here: {}.",
                error.description
            ));
        }
    };
    let Some(redirect_uri) = client
        .settings
        .redirect_uri(optional(&query, "redirect_uri"))
        .map(str::to_owned)
    else {
        return shown(
            "The site's sign-in link names a redirect_uri that is not registered for it \
             (the SSI OAuth extension's Redirect URLs).",
        );
    };
    let back = Back {
        redirect_uri: &redirect_uri,
        state: optional(&query, "state"),
        iss: tokens::issuer(&state, &client.found.service_did),
    };
    let (request, prefills) = match request(&client, &query, &redirect_uri) {
        Ok(checked) => checked,
        Err(error) => return back.error(error.error, &error.description),
    };
    if let Err(error) = device::throttle(&state, &client.id, peer) {
        return back.error("temporarily_unavailable", &error.description);
    }
    let (handle, hash) = oauth::secret();
    if let Err(error) = device::start(&state, &client, &hash, Some(&request)).await {
        return back.error("server_error", &error.description);
    }
    let mut page = Url::parse(&format!(
        "{}{CURRENT_BASE}/authorization/{handle}",
        state.public_url
    ))
    .expect("psi's public URL is a URL");
    if !prefills.is_empty() {
        let mut pairs = page.query_pairs_mut();
        for prefill in &prefills {
            pairs.append_pair("prefill", prefill);
        }
    }
    Redirect::to(page.as_str()).into_response()
}

/// The authorization request's parameters, checked, and its pre-filled values.
fn request(
    client: &Client,
    query: &Map<String, Value>,
    redirect_uri: &str,
) -> Result<(AuthorizationRequest, Vec<String>), OAuthError> {
    let invalid = |description: String| OAuthError::bad("invalid_request", description);
    let response_type = field(query, "response_type")?;
    if response_type != "code" {
        return Err(OAuthError::bad(
            "unsupported_response_type",
            "only response_type=code",
        ));
    }
    // OpenID Connect Core §3.1.2.6, §6: what psi does not do is refused, not ignored.
    if optional(query, "request").is_some() {
        return Err(OAuthError::bad(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if optional(query, "request_uri").is_some() {
        return Err(OAuthError::bad(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    if optional(query, "response_mode").is_some_and(|mode| mode != "query") {
        return Err(invalid("only response_mode=query".into()));
    }
    if optional(query, "prompt").is_some_and(|prompt| prompt.split(' ').any(|p| p == "none")) {
        return Err(OAuthError::bad(
            "login_required",
            "signing in always takes the holder's wallet",
        ));
    }
    let method = optional(query, "code_challenge_method").unwrap_or("plain");
    let code_challenge = match optional(query, "code_challenge") {
        Some(_) if method != "S256" => {
            return Err(invalid("code_challenge_method must be S256".into()));
        }
        Some(challenge) if !oauth::valid_challenge(challenge) => {
            return Err(invalid(
                "code_challenge must be 43 base64url characters (S256)".into(),
            ));
        }
        Some(challenge) => Some(challenge.to_owned()),
        None if client.settings.client_secret.is_none() => {
            return Err(invalid(
                "this client has no secret, so it must use PKCE: code_challenge with \
                 code_challenge_method=S256"
                    .into(),
            ));
        }
        None => None,
    };
    let prefills = match optional(query, "prefilled_credentials") {
        Some(text) => prefills(text).map_err(invalid)?,
        None => Vec::new(),
    };
    let limited = |name: &str| -> Result<Option<String>, OAuthError> {
        match optional(query, name) {
            Some(value) if value.len() > 512 => {
                Err(invalid(format!("`{name}` is longer than 512 characters")))
            }
            value => Ok(value.map(str::to_owned)),
        }
    };
    Ok((
        AuthorizationRequest {
            redirect_uri: redirect_uri.to_owned(),
            state: limited("state")?,
            code_challenge,
            nonce: limited("nonce")?,
            scope: limited("scope")?,
        },
        prefills,
    ))
}

/// `GET /oauth2/authorization/{handle}`: while the grant waits, the interaction's start page with
/// the user code pre-filled, which comes back here on completion; once approved, the browser goes
/// to the site with the code (once).
pub(super) async fn page(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    // The site's pre-filled values, which the start page checks like any.
    let query = uri.query().unwrap_or_default().as_bytes();
    let prefill = url::form_urlencoded::parse(query)
        .filter(|(name, _)| name == "prefill")
        .map(|(_, value)| value.into_owned())
        .collect();
    match grant_page(&state, &handle, prefill, (&uri, &headers)).await {
        Ok(response) => response,
        Err(error) => shown(error.description),
    }
}

async fn grant_page(
    state: &AppState,
    handle: &str,
    mut prefill: Vec<String>,
    (uri, headers): (&Uri, &HeaderMap),
) -> Result<Response, OAuthError> {
    let grant = db::oauth::by_handle(&state.db, &oauth::secret_hash(handle))
        .await?
        .filter(|g| g.authorization.is_some());
    let Some(grant) = grant else {
        return Ok(shown("This sign-in page is not valid."));
    };
    let request = grant.authorization.as_ref().expect("filtered above");
    // The client as it is now: an uninstalled or disabled extension signs no one in.
    let client = client(state, &grant.client_id).await?;
    if (&client.found.installation_id, &client.found.interaction_id)
        != (&grant.installation_id, &grant.interaction_id)
    {
        return Ok(shown("This sign-in page is not valid any more."));
    }
    let back = Back {
        redirect_uri: &request.redirect_uri,
        state: request.state.as_deref(),
        iss: tokens::issuer(state, &client.found.service_did),
    };
    let expired = now_ms() >= grant.expires_at;
    let too_late = "the sign-in expired before the holder completed it, or before the browser \
                    came back";
    match grant.state {
        GrantState::Approved if !grant.code_issued && !expired => {
            let (code, hash) = oauth::secret();
            let code_expires_at = now_ms() + CODE_LIFETIME_SECS * 1000;
            if !db::oauth::code_issued(&state.db, &grant.id, &hash, code_expires_at).await? {
                return Ok(finished());
            }
            Ok(back.with(&[("code", &code)]))
        }
        GrantState::Approved if !grant.code_issued => Ok(back.error("access_denied", too_late)),
        GrantState::Approved | GrantState::Used => Ok(finished()),
        GrantState::Denied => Ok(back.error("access_denied", "the holder did not sign in")),
        GrantState::Pending if expired => Ok(back.error("access_denied", too_late)),
        GrantState::Pending => show(state, &client, &grant, &mut prefill, (uri, headers)).await,
    }
}

/// The page of a grant that sent the browser back already.
fn finished() -> Response {
    Problem::bad_request(
        "Sign-in finished",
        "This sign-in was completed and the site received it.",
    )
    .with_hint("If the site does not show you signed in, start signing in again there.")
    .into_response()
}

/// The interaction's start page for a pending grant: the site's pre-filled values and the user
/// code, and this page's URL to come back to.
async fn show(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    prefill: &mut Vec<String>,
    (uri, headers): (&Uri, &HeaderMap),
) -> Result<Response, OAuthError> {
    let definition = db::oauth::ssi_authentication_cached(&state.db, &client.scope)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the service has no SSI Authentication definition"))?;
    prefill.push(format!(
        "{}:{}={}",
        definition.credential_id,
        oauth::USER_CODE_ATTRIBUTE,
        grant.user_code
    ));
    let page_url = format!("{}{uri}", state.public_url);
    let query = StartQuery {
        prefill: std::mem::take(prefill),
        ..StartQuery::default()
    };
    let interaction = InteractionId::from(grant.interaction_id.clone());
    Ok(start::render(
        state,
        &client.found.service_did,
        &interaction,
        query,
        (headers, &page_url),
        Some(page_url.clone()),
    )
    .await)
}

/// The grant of a token request's `code`, checked: the client's, unexpired, unused, the same
/// `redirect_uri`, and the PKCE verifier of the challenge.
pub(super) async fn exchange(
    state: &AppState,
    client: &Client,
    form: &Map<String, Value>,
) -> Result<Grant, OAuthError> {
    let code = field(form, "code")?;
    let invalid = || OAuthError::invalid_grant("the authorization code is not valid");
    let grant = db::oauth::by_code(&state.db, &oauth::secret_hash(code))
        .await?
        .filter(|g| {
            g.client_id == client.id
                && g.installation_id == client.found.installation_id
                && g.interaction_id == client.found.interaction_id
        })
        .ok_or_else(invalid)?;
    let request = grant.authorization.as_ref().ok_or_else(invalid)?;
    if grant.state != GrantState::Approved {
        return Err(OAuthError::invalid_grant(
            "the authorization code was used already",
        ));
    }
    if grant.code_expires_at.is_none_or(|at| now_ms() >= at) {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired; sign in again",
        ));
    }
    // RFC 6749 §4.1.3 asks for it when the request had one; psi always asks.
    if field(form, "redirect_uri")? != request.redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri is not the one of the authorization request",
        ));
    }
    match (&request.code_challenge, optional(form, "code_verifier")) {
        (Some(challenge), Some(verifier)) if oauth::verifier_matches(challenge, verifier) => {}
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "the code_verifier does not match the code_challenge",
            ));
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant("`code_verifier` is required"));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    Ok(grant)
}
