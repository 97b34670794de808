//! Services (`services` table): one row per tenant.

use sqlx::FromRow;

use super::keys::{self, NewKey};
use super::{Db, Order, Paging, now_ms};
use crate::scope::ServiceScope;
use psi_link::Did;

/// A service as the management API shows it.
#[derive(Debug, Clone, FromRow)]
pub struct Service {
    /// Internal id (the scope's; never shown).
    pub id: String,
    pub did: String,
    pub name: String,
    pub verkey: String,
    pub created_at: i64,
}

/// A service to insert; its sealed seed must have been sealed with `id` as associated data.
pub struct NewService {
    pub id: String,
    pub did: Did,
    pub name: String,
    pub verkey: String,
    pub did_seed_sealed: Vec<u8>,
}

/// Inserts a service and its default key in one transaction.
pub async fn create(db: &Db, service: &NewService, default_key: &NewKey) -> sqlx::Result<Service> {
    let created_at = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO services (id, did, name, verkey, did_seed_sealed, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&service.id)
    .bind(service.did.as_str())
    .bind(&service.name)
    .bind(&service.verkey)
    .bind(&service.did_seed_sealed)
    .bind(created_at)
    .execute(&mut *tx)
    .await?;
    keys::insert_row(&mut *tx, &service.id, default_key).await?;
    tx.commit().await?;
    db.config_changed();
    Ok(Service {
        id: service.id.clone(),
        did: service.did.to_string(),
        name: service.name.clone(),
        verkey: service.verkey.clone(),
        created_at,
    })
}

super::positioned!(Service, created_at, id);

/// A page of every service, oldest first. Only the admin may list across tenants.
pub async fn list_all(db: &Db, paging: &Paging) -> sqlx::Result<Vec<Service>> {
    let sql = format!(
        "SELECT id, did, name, verkey, created_at FROM services WHERE 1 = 1{}",
        Paging::sql("created_at", "id", 1, Order::Oldest)
    );
    paging.bind(sqlx::query_as(&sql)).fetch_all(db.pool()).await
}

/// The scoped service.
pub async fn get(db: &Db, scope: &ServiceScope) -> sqlx::Result<Service> {
    sqlx::query_as("SELECT id, did, name, verkey, created_at FROM services WHERE id = $1")
        .bind(scope.service_id())
        .fetch_one(db.pool())
        .await
}

/// The scope of the service with this DID, if it exists. The DID alone is no authority: callers
/// are the auth extractor (after checking the token) and code serving public, unauthenticated
/// data.
pub async fn scope_for_did(db: &Db, did: &Did) -> sqlx::Result<Option<ServiceScope>> {
    Ok(by_did(db, did).await?.map(|(scope, _)| scope))
}

/// The service with this DID and its scope, in one query, through the configuration cache (the
/// same caveat as [`scope_for_did`]: the DID alone is no authority).
pub async fn by_did(db: &Db, did: &Did) -> sqlx::Result<Option<(ServiceScope, Service)>> {
    let load = async {
        let row: Option<(String, String, String, i64)> =
            sqlx::query_as("SELECT id, name, verkey, created_at FROM services WHERE did = $1")
                .bind(did.as_str())
                .fetch_optional(db.pool())
                .await?;
        Ok(row.map(|(id, name, verkey, created_at)| {
            let service = Service {
                id: id.clone(),
                did: did.to_string(),
                name,
                verkey,
                created_at,
            };
            (ServiceScope::new(id, did.clone()), service)
        }))
    };
    let key = did.as_str().to_owned();
    db.cache().services.through(key, load).await
}

/// The scoped service's DID seed, sealed with the master key (associated data: the service's
/// internal id, [`ServiceScope::service_id`]).
pub async fn did_seed_sealed(db: &Db, scope: &ServiceScope) -> sqlx::Result<Vec<u8>> {
    sqlx::query_scalar("SELECT did_seed_sealed FROM services WHERE id = $1")
        .bind(scope.service_id())
        .fetch_one(db.pool())
        .await
}

/// The verkey of the service with this DID, if it is on this server: credentials it issued are
/// verified with it.
pub async fn verkey_by_did(db: &Db, did: &str) -> sqlx::Result<Option<String>> {
    let Ok(did) = did.parse::<Did>() else {
        return Ok(None);
    };
    Ok(by_did(db, &did).await?.map(|(_, service)| service.verkey))
}
