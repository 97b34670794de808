//! `psi serve --demo`: a demo service, created once, so a new user sees something real at once.

pub mod receiver;
pub mod wallet;

use crate::api::services::create_service;
use crate::crypto::did::Did;
use crate::db::settings;
use crate::http::AppState;

const DEMO_SERVICE_SETTING: &str = "demo_service_did";
const DEMO_SERVICE_NAME: &str = "Demo service";

/// Creates the demo service unless this database has one; returns its DID.
pub async fn seed(state: &AppState) -> anyhow::Result<Did> {
    if let Some(did) = settings::get(&state.db, DEMO_SERVICE_SETTING).await? {
        return Ok(did.parse()?);
    }
    let service = create_service(state, DEMO_SERVICE_NAME.to_owned()).await?;
    if !settings::insert_if_absent(&state.db, DEMO_SERVICE_SETTING, &service.did).await? {
        // Another server seeded at the same moment; keep its service as the demo.
        let did = settings::get(&state.db, DEMO_SERVICE_SETTING).await?;
        return Ok(did.unwrap_or(service.did).parse()?);
    }
    Ok(service.did.parse()?)
}
