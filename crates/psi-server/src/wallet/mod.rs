//! The wallet API, `/wallet/v1`: what a holder's wallet (the `psi wallet` simulator) calls to run
//! interactions and keep its credentials current.
//!
//! Reads are unsigned ([`reads`]); calls acting for a holder are signed with the holder's
//! pairwise Ed25519 key ([`signed`]) and carry a timestamp and a nonce ([`events`]).

/// Implements [`signed::HolderCall`] for bodies with `holder_did`, `timestamp` and `nonce` fields.
macro_rules! holder_call {
    ($($body:ty),+) => {$(
        impl $crate::wallet::signed::HolderCall for $body {
            fn holder_did(&self) -> &str {
                &self.holder_did
            }
            fn timestamp(&self) -> i64 {
                self.timestamp
            }
            fn nonce(&self) -> &str {
                &self.nonce
            }
        }
    )+};
}

pub mod events;
pub mod reads;
pub mod signed;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;

/// The `/wallet/v1` routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reads::verkey))
        .routes(routes!(reads::status))
        .routes(routes!(reads::interaction))
        .routes(routes!(events::start))
        .routes(routes!(events::inbox))
}
