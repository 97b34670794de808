//! Interaction instances (`instances` table): the same interaction with different parameters.
//! Each interaction has exactly one default instance, created with it.

use sqlx::{Any, FromRow, Transaction};

use super::{Db, Order, Paging, now_ms};
use crate::domain::{Parameter, Parameters};
use crate::ids::{InstanceId, InteractionId};
use crate::scope::ServiceScope;

/// A stored instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Also the wire instance id (`id` of a link, `actionInstanceId` of a webhook).
    pub id: InstanceId,
    pub interaction_id: InteractionId,
    /// Sent as `actionParams`.
    pub parameters: Vec<Parameter>,
    /// Used by links that name no instance.
    pub is_default: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A row, or an element of the JSON array [`super::interactions`] reads instances as.
#[derive(FromRow, serde::Deserialize)]
pub(super) struct InstanceRow {
    id: InstanceId,
    interaction_id: InteractionId,
    parameters: String,
    is_default: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<InstanceRow> for Instance {
    type Error = sqlx::Error;

    fn try_from(row: InstanceRow) -> sqlx::Result<Self> {
        Ok(Instance {
            parameters: serde_json::from_str(&row.parameters)
                .map_err(|e| sqlx::Error::Decode(e.into()))?,
            id: row.id,
            interaction_id: row.interaction_id,
            is_default: row.is_default != 0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// `SELECT` of the scoped service's instances (`$1`); conditions follow.
const SELECT: &str = "SELECT id, interaction_id, parameters, is_default, created_at, updated_at \
    FROM instances WHERE service_id = $1";

super::positioned!(Instance, created_at, id);

/// A page of the instances of the scoped service's interaction, oldest first (a page cannot
/// put the default first: it may have been made after others).
pub async fn list(
    db: &Db,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
    paging: &Paging,
) -> sqlx::Result<Vec<Instance>> {
    let page = Paging::filtered_sql("interaction_id", "created_at", "id", Order::Oldest);
    let sql = format!("{SELECT}{page}");
    let rows: Vec<InstanceRow> = paging.read(db, &sql, scope, interaction_id).await?;
    rows.into_iter().map(Instance::try_from).collect()
}

/// One instance of the scoped service's interaction.
pub async fn get(
    db: &Db,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
    id: &InstanceId,
) -> sqlx::Result<Option<Instance>> {
    let row: Option<InstanceRow> =
        sqlx::query_as(&format!("{SELECT} AND interaction_id = $2 AND id = $3"))
            .bind(scope.service_id())
            .bind(interaction_id)
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    row.map(Instance::try_from).transpose()
}

fn parameters_json(parameters: &Parameters) -> String {
    serde_json::to_string(parameters.as_slice()).expect("parameters serialise")
}

/// Inserts an instance in a transaction that has checked its interaction; a default instance
/// takes over from the previous one.
pub(super) async fn insert_row(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
    parameters: &Parameters,
    is_default: bool,
    now: i64,
) -> sqlx::Result<Instance> {
    if is_default {
        clear_default(tx, scope, interaction_id, now).await?;
    }
    let id = InstanceId::generate();
    sqlx::query(
        "INSERT INTO instances (id, interaction_id, service_id, parameters, is_default, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&id)
    .bind(interaction_id)
    .bind(scope.service_id())
    .bind(parameters_json(parameters))
    .bind(i64::from(is_default))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(Instance {
        id,
        interaction_id: interaction_id.clone(),
        parameters: parameters.as_slice().to_vec(),
        is_default,
        created_at: now,
        updated_at: now,
    })
}

async fn clear_default(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE instances SET is_default = 0, updated_at = $3 \
         WHERE service_id = $1 AND interaction_id = $2 AND is_default = 1",
    )
    .bind(scope.service_id())
    .bind(interaction_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds an instance to the scoped service's interaction; `None` if there is no such interaction.
pub async fn insert(
    db: &Db,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
    parameters: &Parameters,
    is_default: bool,
) -> sqlx::Result<Option<Instance>> {
    let mut tx = db.begin().await?;
    if !interaction_exists(&mut tx, scope, interaction_id).await? {
        return Ok(None);
    }
    let instance = insert_row(
        &mut tx,
        scope,
        interaction_id,
        parameters,
        is_default,
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    db.config_changed();
    Ok(Some(instance))
}

async fn interaction_exists(
    tx: &mut Transaction<'_, Any>,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
) -> sqlx::Result<bool> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM interactions WHERE service_id = $1 AND id = $2")
            .bind(scope.service_id())
            .bind(interaction_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(found.is_some())
}

/// Replaces an instance's parameters and, when `make_default`, makes it the default; false if
/// there is no such instance.
pub async fn update(
    db: &Db,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
    id: &InstanceId,
    parameters: Option<&Parameters>,
    make_default: bool,
) -> sqlx::Result<bool> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    if make_default {
        clear_default(&mut tx, scope, interaction_id, now).await?;
    }
    let result = sqlx::query(
        "UPDATE instances SET parameters = COALESCE($4, parameters), \
         is_default = CASE WHEN $5 = 1 THEN 1 ELSE is_default END, updated_at = $6 \
         WHERE service_id = $1 AND interaction_id = $2 AND id = $3",
    )
    .bind(scope.service_id())
    .bind(interaction_id)
    .bind(id)
    .bind(parameters.map(parameters_json))
    .bind(i64::from(make_default))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if result.rows_affected() == 0 {
        // Dropping the transaction rolls back the cleared default.
        return Ok(false);
    }
    tx.commit().await?;
    db.config_changed();
    Ok(true)
}

/// Deletes an instance that is not the default; false if nothing was deleted (no such instance,
/// or the default).
pub async fn delete_non_default(
    db: &Db,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
    id: &InstanceId,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "DELETE FROM instances \
         WHERE service_id = $1 AND interaction_id = $2 AND id = $3 AND is_default = 0",
    )
    .bind(scope.service_id())
    .bind(interaction_id)
    .bind(id)
    .execute(db.pool())
    .await?;
    db.config_changed();
    Ok(result.rows_affected() > 0)
}
