//! Signing in and out of the dashboard. Failed sign-ins count against the user name and the
//! client's address ([`crate::http::throttle`], the management API's failure budget): past it,
//! every attempt is refused for a while, right password or not. A password is checked on the
//! blocking pool (argon2id costs tens of milliseconds of CPU), and an unknown user name costs the
//! same as a known one.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::{self, NoFields, Posted};
use super::{DashboardError, LAYOUT, Layout};
use crate::db;
use crate::domain::password;
use crate::http::AppState;
use crate::http::auth::Peer;
use crate::http::throttle::Key;
use crate::pages::render::html;

#[derive(Template)]
#[template(path = "dashboard/sign_in.html")]
struct SignInPage<'a> {
    layout: &'static Layout,
    username: &'a str,
    error: Option<String>,
}

/// `GET /dashboard/sign-in`.
pub(super) async fn sign_in_page() -> Response {
    html(&SignInPage {
        layout: &LAYOUT,
        username: "",
        error: None,
    })
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    username: String,
    password: String,
}

/// `POST /dashboard/sign-in`: a session cookie and the dashboard, or the form again.
pub(super) async fn sign_in(
    State(state): State<AppState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, DashboardError> {
    session::check_origin(&state, &headers)?;
    let again = |status: StatusCode, error: String| {
        let page = SignInPage {
            layout: &LAYOUT,
            username: &form.username,
            error: Some(error),
        };
        (status, html(&page)).into_response()
    };
    let username = password::username(&form.username).unwrap_or_default();
    let mut keys = vec![Key::Operator(username.clone())];
    keys.extend(peer.map(Key::address));
    if let Err(wait) = state.auth_throttle.check(&keys) {
        return Ok(again(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-ins. Try again in {} seconds.",
                wait.as_secs().max(1)
            ),
        ));
    }
    let found = db::operators::by_username(&state.db, &username).await?;
    let hash = found
        .as_ref()
        .map_or_else(|| password::decoy().to_owned(), |(_, hash)| hash.clone());
    let given = form.password.clone();
    let matches = tokio::task::spawn_blocking(move || password::verify(&hash, &given))
        .await
        .map_err(anyhow::Error::new)?;
    let operator = match found {
        Some((operator, _)) if matches => operator,
        _ => {
            state.auth_throttle.failed(&keys);
            tracing::info!(username, "a dashboard sign-in failed");
            return Ok(again(
                StatusCode::UNAUTHORIZED,
                "Wrong user name or password.".into(),
            ));
        }
    };
    let cookie = session::start(&state, &operator).await?;
    tracing::info!(username, "signed in to the dashboard");
    Ok(session::with_cookie(
        Redirect::to("/dashboard/").into_response(),
        cookie,
    ))
}

/// `POST /dashboard/sign-out`: ends this browser's session.
pub(super) async fn sign_out(
    State(state): State<AppState>,
    Posted { signed_in, .. }: Posted<NoFields>,
) -> Result<Response, DashboardError> {
    signed_in.end(&state).await?;
    signed_out(&state)
}

/// `POST /dashboard/sign-out-everywhere`: ends every session of the operator, on every device.
pub(super) async fn sign_out_everywhere(
    State(state): State<AppState>,
    Posted { signed_in, .. }: Posted<NoFields>,
) -> Result<Response, DashboardError> {
    let ended = db::operators::end_sessions(&state.db, &signed_in.operator.id).await?;
    tracing::info!(username = %signed_in.operator.username, ended, "signed out everywhere");
    signed_out(&state)
}

/// To the sign-in page, without the cookie.
fn signed_out(state: &AppState) -> Result<Response, DashboardError> {
    Ok(session::with_cookie(
        Redirect::to("/dashboard/sign-in").into_response(),
        session::cleared(state)?,
    ))
}

/// Carries out a `psi admin` command; returns what to print.
pub async fn administer(
    db: &crate::db::Db,
    command: &crate::cli::AdminCommand,
    given_password: &str,
) -> anyhow::Result<String> {
    use crate::api::operators::{add_operator, change_operator};
    use crate::cli::AdminCommand;
    use crate::db::operators::Role;
    match command {
        AdminCommand::AddOperator(args) => {
            let service = match &args.service {
                Some(did) => {
                    let did = did
                        .parse()
                        .map_err(|e| anyhow::anyhow!("--service {did:?}: {e}"))?;
                    let (scope, _) = db::services::by_did(db, &did)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no service has the DID {did}"))?;
                    Some(scope)
                }
                None => None,
            };
            // The API's own way to add an operator, so both apply the same rules.
            let operator =
                add_operator(db, &args.username, given_password.to_owned(), args.admin).await?;
            let username = &operator.username;
            let mut done = format!(
                "added {}{username}",
                if args.admin { "the admin " } else { "" }
            );
            if let (Some(scope), Some(role)) = (service, args.role.as_deref()) {
                let role = Role::parse(role).ok_or_else(|| anyhow::anyhow!("no role {role:?}"))?;
                db::operators::set_role(db, &operator.id, scope.service_id(), role).await?;
                done.push_str(&format!(", {} of {}", role.as_str(), scope.did()));
            }
            Ok(done)
        }
        AdminCommand::SetPassword { username } => {
            let username = password::username(username)?;
            let (operator, _) = db::operators::by_username(db, &username)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no one has the user name {username:?}"))?;
            let ended =
                change_operator(db, &operator.id, Some(given_password.to_owned()), None).await?;
            Ok(format!(
                "set the password of {username} and ended {ended} session(s)"
            ))
        }
    }
}
