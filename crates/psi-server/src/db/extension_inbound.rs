//! What a third party's call on an extension's behalf (`X-Psi-Extension`, docs/extensions.md) is
//! checked against: the installation it names, its extension's inbound key and the interactions
//! it is attached to. Read only; `db::extensions` owns the tables.

use sqlx::FromRow;

use super::Db;
use crate::ids::InteractionId;
use crate::scope::ServiceScope;

/// One of the service's installations, as a call on its extension's behalf needs it.
#[derive(Debug, Clone)]
pub struct InboundInstallation {
    pub id: String,
    pub extension_name: String,
    pub enabled: bool,
    /// The extension's inbound key: the service that owns it (the author) and its name; `None`
    /// when the author set none.
    pub key: Option<(ServiceScope, String)>,
    /// The interactions of the service it is attached to.
    pub interactions: Vec<InteractionId>,
}

#[derive(FromRow)]
struct Row {
    id: String,
    extension_name: String,
    enabled: i64,
    key_owner_id: Option<String>,
    key_owner_did: Option<String>,
    key_name: Option<String>,
}

/// The scoped service's installation `id`; `None` if the service has none such (another
/// service's installation included).
pub async fn installation(
    db: &Db,
    scope: &ServiceScope,
    id: &str,
) -> sqlx::Result<Option<InboundInstallation>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT i.id, e.name AS extension_name, i.enabled, s.id AS key_owner_id, \
         s.did AS key_owner_did, k.name AS key_name \
         FROM extension_installations i JOIN extensions e ON e.id = i.extension_id \
         LEFT JOIN keys k ON k.id = e.inbound_key_id LEFT JOIN services s ON s.id = k.service_id \
         WHERE i.service_id = $1 AND i.id = $2",
    )
    .bind(scope.service_id())
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let key = match (row.key_owner_id, row.key_owner_did, row.key_name) {
        (Some(owner), Some(did), Some(name)) => {
            let did = did
                .parse()
                .map_err(|e: psi_link::IdError| sqlx::Error::Decode(e.to_string().into()))?;
            Some((ServiceScope::new(owner, did), name))
        }
        _ => None,
    };
    let interactions = sqlx::query_scalar(
        "SELECT interaction_id FROM extension_attachments \
         WHERE service_id = $1 AND installation_id = $2",
    )
    .bind(scope.service_id())
    .bind(&row.id)
    .fetch_all(db.pool())
    .await?;
    Ok(Some(InboundInstallation {
        id: row.id,
        extension_name: row.extension_name,
        enabled: row.enabled != 0,
        key,
        interactions,
    }))
}
