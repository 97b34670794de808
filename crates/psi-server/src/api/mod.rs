//! The management API, `/api/v1`: one module per resource, each a set of annotated handlers.
//!
//! Handlers are short: extract (auth, scope, JSON), validate into domain values, call `db`, map
//! the result. Routes and the OpenAPI document come from the same `routes!` calls below.

pub mod credential_definitions;
pub mod credentials;
pub mod events;
pub mod extension_files;
pub mod extensions;
pub mod installations;
pub mod instances;
pub mod interactions;
pub mod keys;
pub mod links;
pub mod notifications;
pub mod operators;
pub mod page;
pub mod schemas;
pub mod services;
pub mod tokens;
pub mod webhook_config;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;
use crate::http::error::ApiError;

/// The document's header; [`crate::router::routes`] adds the paths.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "psi",
        description = "Management API and public endpoints of the psi integration server. \
            Errors answer `{\"error\":{\"code\",\"message\"}}`. Times are unix milliseconds."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "services", description = "Tenants, each with a public DID (admin token)"),
        (name = "tokens", description = "Service API tokens (admin token)"),
        (name = "operators", description = "The dashboard's people (admin token) and each \
            service's people with their roles (admin token or the service's)"),
        (name = "keys", description = "RSA keys and SHA secrets of a service"),
        (name = "schemas", description = "Credential schemas with typed attributes"),
        (name = "credential definitions", description = "What a service issues or lets holders \
            attest, `<DID>:3:CL:<n>:<tag>`"),
        (name = "interactions", description = "Interactions and their instances; paused, never \
            deleted"),
        (name = "extensions", description = "Extensions: named, versioned sets of webhooks a \
            service authors, the public catalogue, installations and their attachments to \
            interactions (docs/extensions.md)"),
        (name = "events", description = "Runs of interactions by holders, with their log and \
            webhook calls"),
        (name = "credentials", description = "Credentials the service issued (VC-JWTs) and their \
            revocation"),
        (name = "wallet", description = "What a holder's wallet calls (`/wallet/v1`); calls acting \
            for a holder are signed with its pairwise Ed25519 key"),
        (name = "notifications", description = "Endpoints that receive event and credential \
            notifications, the messages sent with each delivery's attempts, replays"),
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "links", description = "App links, deep links, QR codes and sourceURL links \
            that start an interaction"),
        (name = "public", description = "Reads web pages and third parties make without \
            authentication (CORS, `ETag`); also under `/service-backend/v1/service/{serviceDid}`"),
        (name = "third parties", description = "Calls third parties make to a service: credentials \
            issued later, issuing failed (signature or Bearer token by a key the credential \
            definitions authorise)"),
    )
)]
pub struct ApiDoc;

/// Registers the `bearer` security scheme every `/api/v1` path refers to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The `/api/v1` routes. Handlers sharing a path go in one `routes!`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(services::create, services::list))
        .routes(routes!(services::get))
        .routes(routes!(tokens::create, tokens::list))
        .routes(routes!(tokens::revoke))
        .routes(routes!(operators::create, operators::list))
        .routes(routes!(
            operators::get,
            operators::update,
            operators::delete
        ))
        .routes(routes!(operators::people, operators::give_role))
        .routes(routes!(operators::set_role, operators::remove_role))
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::get, keys::delete))
        .routes(routes!(schemas::create, schemas::list))
        .routes(routes!(schemas::get, schemas::update, schemas::delete))
        .routes(routes!(
            credential_definitions::create,
            credential_definitions::list
        ))
        .routes(routes!(
            credential_definitions::get,
            credential_definitions::update
        ))
        .routes(routes!(interactions::create, interactions::list))
        .routes(routes!(
            interactions::get,
            interactions::update,
            interactions::delete
        ))
        .routes(routes!(instances::create, instances::list))
        .routes(routes!(
            instances::get,
            instances::update,
            instances::delete
        ))
        .routes(routes!(events::list))
        .routes(routes!(events::get))
        .routes(routes!(credentials::list))
        .routes(routes!(credentials::revoke))
        .routes(routes!(links::get))
        .routes(routes!(links::qr_svg))
        .routes(routes!(links::qr_png))
        .routes(routes!(links::create_source))
        .routes(routes!(extensions::create, extensions::list))
        .routes(routes!(
            extensions::get,
            extensions::update,
            extensions::delete
        ))
        .routes(routes!(extensions::publish))
        .routes(routes!(extensions::get_version))
        .routes(routes!(extension_files::export))
        .routes(routes!(extension_files::import))
        .routes(routes!(extensions::catalogue))
        .routes(routes!(extensions::catalogue_entry))
        .routes(routes!(installations::install, installations::list))
        .routes(routes!(
            installations::get,
            installations::update,
            installations::uninstall
        ))
        .routes(routes!(installations::upgrade))
        .routes(routes!(installations::attach, installations::attached))
        .routes(routes!(
            installations::update_attached,
            installations::detach
        ))
}

/// Checks a user-chosen name: 1 to 200 characters after trimming, no control characters.
pub(crate) fn validate_name(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 200 {
        return Err(ApiError::Validation(format!(
            "`{field}` must be 1 to 200 characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::Validation(format!(
            "`{field}` must not contain control characters"
        )));
    }
    Ok(value.to_owned())
}
