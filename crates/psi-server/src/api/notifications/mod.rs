//! The management API of notifications (the durable outbox of `delivery`): endpoints (with enabling, key rotation, tests and
//! replays), messages with their deliveries, and attempts.

pub mod endpoints;
pub mod messages;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;

/// The routes, one `routes!` per path.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(endpoints::create, endpoints::list))
        .routes(routes!(
            endpoints::get,
            endpoints::update,
            endpoints::delete
        ))
        .routes(routes!(endpoints::enable))
        .routes(routes!(endpoints::disable))
        .routes(routes!(endpoints::rotate))
        .routes(routes!(endpoints::test))
        .routes(routes!(endpoints::replay))
        .routes(routes!(messages::list))
        .routes(routes!(messages::get))
        .routes(routes!(messages::replay))
        .routes(routes!(messages::attempts))
}
