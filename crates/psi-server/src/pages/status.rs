//! `GET /s/{serviceDid}/{interactionId}/status/{session}`: the live status of a page's session as
//! server-sent events. Each `status` event is `{"state", "message"?}` with `state` one of
//! `waiting_for_holder` (no event yet), `started` (the wallet is running it), `waiting` (done; the
//! service issues later), `completed`, `failed` (with the holder's `message`).
//!
//! The stream reads the latest event of the session once a second and sends a change; it ends
//! after a final state, or after [`STREAM_SECS`] so that no connection outlives a graceful
//! shutdown by long (the browser's `EventSource` reconnects by itself).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::Serialize;
use tokio::time::Instant;

use super::session::Session;
use crate::db::{self, Db};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::path::Path;
use crate::public::PublicService;
use crate::scope::ServiceScope;

/// How often a stream looks for a change.
const POLL: Duration = Duration::from_secs(1);
/// How long one stream lasts before the browser reconnects.
const STREAM_SECS: u64 = 25;

/// What a page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Status {
    fn is_final(&self) -> bool {
        matches!(self.state.as_str(), "completed" | "failed")
    }
}

/// The latest event of the session, as a page shows it.
pub async fn latest(db: &Db, scope: &ServiceScope, session: &Session) -> sqlx::Result<Status> {
    Ok(
        match db::events::latest_of_session(db, scope, session.as_str()).await? {
            Some((state, message)) => Status { state, message },
            None => Status {
                state: "waiting_for_holder".into(),
                message: None,
            },
        },
    )
}

/// The stream.
pub async fn stream(
    PublicService(scope): PublicService,
    State(state): State<AppState>,
    Path((_did, _interaction, session)): Path<(String, String, String)>,
) -> Response {
    let Some(session) = Session::parse(&session) else {
        return ApiError::not_found("session").into_response();
    };
    let mut response = Sse::new(changes(state.db, scope, session))
        .keep_alive(KeepAlive::default())
        .into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

struct Watch {
    db: Db,
    scope: ServiceScope,
    session: Session,
    last: Option<Status>,
    until: Instant,
    done: bool,
}

fn changes(
    db: Db,
    scope: ServiceScope,
    session: Session,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let watch = Watch {
        db,
        scope,
        session,
        last: None,
        until: Instant::now() + Duration::from_secs(STREAM_SECS),
        done: false,
    };
    stream::unfold(watch, |mut watch| async move {
        loop {
            if watch.done || Instant::now() >= watch.until {
                return None;
            }
            if watch.last.is_some() {
                tokio::time::sleep(POLL).await;
            }
            let status = match latest(&watch.db, &watch.scope, &watch.session).await {
                Ok(status) => status,
                Err(error) => {
                    tracing::error!(%error, "reading a page session's status");
                    return None;
                }
            };
            if watch.last.as_ref() == Some(&status) {
                continue;
            }
            watch.done = status.is_final();
            let event = Event::default()
                .event("status")
                .retry(Duration::from_secs(2))
                .json_data(&status)
                .expect("a status serialises");
            watch.last = Some(status);
            return Some((Ok(event), watch));
        }
    })
}
