//! Service keys (`keys` table). Private material is stored sealed with the master key; this
//! module never sees it in clear.

use serde::{Deserialize, Serialize};
use sqlx::{Any, Executor, FromRow};
use utoipa::ToSchema;

use super::{Db, Order, Paging, now_ms};
use crate::scope::ServiceScope;

/// The name of the RSA key pair every service is created with.
pub const DEFAULT_KEY_NAME: &str = "default";

/// The three kinds of key (docs/protocol.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// Ours: signs what the service sends; its public half is published.
    RsaKeyPair,
    /// A third party's: verifies what it sends the service.
    RsaPublicKey,
    /// Shared with a third party: HS256 Bearer tokens only.
    ShaSecret,
}

impl KeyKind {
    /// The name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::RsaKeyPair => "rsa_key_pair",
            KeyKind::RsaPublicKey => "rsa_public_key",
            KeyKind::ShaSecret => "sha_secret",
        }
    }

    fn from_db(text: &str) -> sqlx::Result<Self> {
        match text {
            "rsa_key_pair" => Ok(KeyKind::RsaKeyPair),
            "rsa_public_key" => Ok(KeyKind::RsaPublicKey),
            "sha_secret" => Ok(KeyKind::ShaSecret),
            other => Err(sqlx::Error::Decode(
                format!("unknown key kind {other:?}").into(),
            )),
        }
    }
}

/// A key as the API shows it: no private material.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// Internal id (never shown).
    pub id: String,
    pub name: String,
    pub kind: KeyKind,
    pub public_pem: Option<String>,
    pub created_at: i64,
}

#[derive(FromRow)]
struct KeyInfoRow {
    id: String,
    name: String,
    kind: String,
    public_pem: Option<String>,
    created_at: i64,
}

impl TryFrom<KeyInfoRow> for KeyInfo {
    type Error = sqlx::Error;

    fn try_from(row: KeyInfoRow) -> sqlx::Result<Self> {
        Ok(KeyInfo {
            id: row.id,
            name: row.name,
            kind: KeyKind::from_db(&row.kind)?,
            public_pem: row.public_pem,
            created_at: row.created_at,
        })
    }
}

/// A key to insert; `secret_sealed` must have been sealed with `id` as associated data.
pub struct NewKey {
    pub id: String,
    pub name: String,
    pub kind: KeyKind,
    pub public_pem: Option<String>,
    pub secret_sealed: Option<Vec<u8>>,
}

/// A key's sealed private material and the id it is bound to.
#[derive(Debug, FromRow)]
pub struct SealedSecret {
    pub id: String,
    pub secret_sealed: Vec<u8>,
}

const INFO_COLUMNS: &str = "id, name, kind, public_pem, created_at";

/// Stores a key for the scoped service. A name already taken is a unique violation.
pub async fn insert(db: &Db, scope: &ServiceScope, key: &NewKey) -> sqlx::Result<KeyInfo> {
    let key = insert_row(db.pool(), scope.service_id(), key).await?;
    db.config_changed();
    Ok(key)
}

/// Stores a key for a service being created in the same transaction.
pub(super) async fn insert_row<'e>(
    executor: impl Executor<'e, Database = Any>,
    service_id: &str,
    key: &NewKey,
) -> sqlx::Result<KeyInfo> {
    let created_at = now_ms();
    sqlx::query(
        "INSERT INTO keys (id, service_id, name, kind, public_pem, secret_sealed, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.id)
    .bind(service_id)
    .bind(&key.name)
    .bind(key.kind.as_str())
    .bind(&key.public_pem)
    .bind(&key.secret_sealed)
    .bind(created_at)
    .execute(executor)
    .await?;
    Ok(KeyInfo {
        id: key.id.clone(),
        name: key.name.clone(),
        kind: key.kind,
        public_pem: key.public_pem.clone(),
        created_at,
    })
}

/// The scoped service's keys, oldest first.
pub async fn list(db: &Db, scope: &ServiceScope) -> sqlx::Result<Vec<KeyInfo>> {
    let rows: Vec<KeyInfoRow> = sqlx::query_as(&format!(
        "SELECT {INFO_COLUMNS} FROM keys WHERE service_id = $1 ORDER BY created_at, name"
    ))
    .bind(scope.service_id())
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(KeyInfo::try_from).collect()
}

super::positioned!(KeyInfo, created_at, id);

/// A page of the scoped service's keys (of `kind` only, when given), oldest first.
pub async fn page(
    db: &Db,
    scope: &ServiceScope,
    kind: Option<KeyKind>,
    paging: &Paging,
) -> sqlx::Result<Vec<KeyInfo>> {
    let page = Paging::filtered_sql("kind", "created_at", "id", Order::Oldest);
    let sql = format!("SELECT {INFO_COLUMNS} FROM keys WHERE service_id = $1{page}");
    let rows: Vec<KeyInfoRow> = paging
        .read(db, &sql, scope, kind.map(KeyKind::as_str))
        .await?;
    rows.into_iter().map(KeyInfo::try_from).collect()
}

/// The scoped service's key of this name.
pub async fn get(db: &Db, scope: &ServiceScope, name: &str) -> sqlx::Result<Option<KeyInfo>> {
    let row: Option<KeyInfoRow> = sqlx::query_as(&format!(
        "SELECT {INFO_COLUMNS} FROM keys WHERE service_id = $1 AND name = $2"
    ))
    .bind(scope.service_id())
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    row.map(KeyInfo::try_from).transpose()
}

/// The sealed private material of the scoped service's key of this name (open it with
/// [`crate::crypto::MasterKey::open`] and the returned id).
pub async fn sealed_secret(
    db: &Db,
    scope: &ServiceScope,
    name: &str,
) -> sqlx::Result<Option<SealedSecret>> {
    sqlx::query_as(
        "SELECT id, secret_sealed FROM keys \
         WHERE service_id = $1 AND name = $2 AND secret_sealed IS NOT NULL",
    )
    .bind(scope.service_id())
    .bind(name)
    .fetch_optional(db.pool())
    .await
}

/// Deletes the scoped service's key of this name; returns false if there was none.
pub async fn delete(db: &Db, scope: &ServiceScope, name: &str) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM keys WHERE service_id = $1 AND name = $2")
        .bind(scope.service_id())
        .bind(name)
        .execute(db.pool())
        .await?;
    db.config_changed();
    Ok(result.rows_affected() > 0)
}

/// What signs with a key: its id, kind and sealed material (`None` for a third party's public
/// key).
#[derive(Debug, Clone)]
pub struct SigningMaterial {
    pub id: String,
    pub kind: KeyKind,
    pub sealed: Option<Vec<u8>>,
}

/// The signing material of the scoped service's key `name`, through the configuration cache.
pub async fn signing_material(
    db: &Db,
    scope: &ServiceScope,
    name: &str,
) -> sqlx::Result<Option<SigningMaterial>> {
    let load = async {
        let row: Option<(String, String, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT id, kind, secret_sealed FROM keys WHERE service_id = $1 AND name = $2",
        )
        .bind(scope.service_id())
        .bind(name)
        .fetch_optional(db.pool())
        .await?;
        row.map(material).transpose()
    };
    let key = (scope.service_id().to_owned(), name.to_owned());
    db.cache().keys.through(key, load).await
}

/// The signing material of key row `id`, of whichever service: for the delivery workers, whose
/// claims name the endpoint's key by id.
pub async fn signing_material_by_id(db: &Db, id: &str) -> sqlx::Result<Option<SigningMaterial>> {
    let row: Option<(String, String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT id, kind, secret_sealed FROM keys WHERE id = $1")
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    row.map(material).transpose()
}

fn material(
    (id, kind, sealed): (String, String, Option<Vec<u8>>),
) -> sqlx::Result<SigningMaterial> {
    Ok(SigningMaterial {
        id,
        kind: KeyKind::from_db(&kind)?,
        sealed,
    })
}
