//! Read-only queries behind the public endpoints (docs/protocol.md §2.1, §4.3), over the interaction
//! model's tables (`interactions`, `interaction_credentials`, `instances`,
//! `credential_definitions`, `schemas`).
//!
//! These are hot paths: each is one statement, and JSON columns are handed out as stored (they
//! are written in their wire shape) for the caller to embed without re-encoding.

use psi_link::CredentialDefinitionId;
use sqlx::FromRow;

use super::{Db, placeholders};
use crate::ids::{InstanceId, InteractionId};
use crate::scope::ServiceScope;

/// A credential definition with its schema, for `credential/id-extended`.
#[derive(Debug, FromRow)]
pub struct CredentialWithSchema {
    /// `service` or `self`.
    pub attestation: String,
    /// 0/1.
    pub one_off: i64,
    pub schema_name: String,
    pub schema_version: String,
    /// JSON `[{name, type, enumValues?}]`, as stored.
    pub attributes: String,
}

/// The scoped service's credential definition with this wire id and its schema (`None` when
/// another DID issued it).
pub async fn credential_with_schema(
    db: &Db,
    scope: &ServiceScope,
    credential_id: &CredentialDefinitionId,
) -> sqlx::Result<Option<CredentialWithSchema>> {
    let Ok(seq) = i64::try_from(credential_id.schema_seq_no()) else {
        return Ok(None);
    };
    if credential_id.issuer() != scope.did().as_str() {
        return Ok(None);
    }
    sqlx::query_as(
        "SELECT c.attestation, c.one_off, s.name AS schema_name, s.version AS schema_version, \
         s.attributes FROM credential_definitions c JOIN schemas s ON s.id = c.schema_id \
         WHERE c.service_id = $1 AND c.seq = $2 AND c.tag = $3",
    )
    .bind(scope.service_id())
    .bind(seq)
    .bind(credential_id.tag())
    .fetch_optional(db.pool())
    .await
}

/// An active interaction with its credentials and instances, for `info/action-templates`.
#[derive(Debug)]
pub struct ActiveInteraction {
    pub id: InteractionId,
    pub name: String,
    pub description: String,
    /// JSON list of `QR`, `PUSH`, as stored.
    pub media: String,
    /// In the service's order.
    pub credentials: Vec<InteractionCredential>,
    /// The default instance first.
    pub instances: Vec<Instance>,
}

/// A credential an interaction requires or issues.
#[derive(Debug)]
pub struct InteractionCredential {
    /// Required from the holder (else issued to them).
    pub required: bool,
    /// Internal id of the definition.
    pub definition_id: String,
    /// The `<DID>`, `<n>` and `<tag>` of `<DID>:3:CL:<n>:<tag>`: the DID is another service's
    /// for a credential required from there.
    pub issuer_did: String,
    pub seq: i64,
    pub tag: String,
    pub prefill_from_qr: bool,
    pub only_last: bool,
    /// The schema's attributes, JSON as stored.
    pub attributes: String,
}

/// An interaction instance.
#[derive(Debug)]
pub struct Instance {
    pub id: InstanceId,
    /// JSON `[{name, value}]`, as stored.
    pub parameters: String,
}

/// One row of the union below: `part` 0 is the interaction, 1 a credential, 2 an instance; the
/// other columns mean what that part needs (see the SELECTs).
#[derive(FromRow)]
struct Row {
    interaction_id: InteractionId,
    part: i64,
    text1: String,
    text2: String,
    text3: String,
    text4: String,
    text5: String,
    num1: i64,
    num2: i64,
    num3: i64,
}

/// Interactions first, then each one's credentials by position, then its instances (default
/// first, then oldest), ordered by interaction age; one round trip.
const ACTIVE_INTERACTIONS: &str = "\
    SELECT i.created_at AS age, i.id AS interaction_id, CAST(0 AS BIGINT) AS part, \
        CAST(0 AS BIGINT) AS pos, i.name AS text1, i.description AS text2, i.media AS text3, \
        '' AS text4, '' AS text5, CAST(0 AS BIGINT) AS num1, CAST(0 AS BIGINT) AS num2, CAST(0 AS BIGINT) AS num3 \
    FROM interactions i WHERE i.service_id = $1 AND i.active = 1 \
    UNION ALL \
    SELECT i.created_at, i.id, CAST(1 AS BIGINT), ic.position, ic.role, c.tag, s.attributes, \
        sv.did, c.id, c.seq, ic.prefill_from_qr, ic.only_last \
    FROM interaction_credentials ic \
    JOIN interactions i ON i.id = ic.interaction_id \
    JOIN credential_definitions c ON c.id = ic.credential_definition_id \
    JOIN services sv ON sv.id = c.service_id \
    JOIN schemas s ON s.id = c.schema_id \
    WHERE ic.service_id = $1 AND i.active = 1 \
    UNION ALL \
    SELECT i.created_at, i.id, CAST(2 AS BIGINT), 1 - n.is_default, n.id, n.parameters, '', \
        '', '', n.created_at, CAST(0 AS BIGINT), CAST(0 AS BIGINT) \
    FROM instances n JOIN interactions i ON i.id = n.interaction_id \
    WHERE n.service_id = $1 AND i.active = 1 \
    ORDER BY 1, 2, 3, 4, 10, 5";

/// The scoped service's active interactions, oldest first, with their credentials and instances.
pub async fn active_interactions(
    db: &Db,
    scope: &ServiceScope,
) -> sqlx::Result<Vec<ActiveInteraction>> {
    let rows: Vec<Row> = sqlx::query_as(ACTIVE_INTERACTIONS)
        .bind(scope.service_id())
        .fetch_all(db.pool())
        .await?;
    let mut interactions: Vec<ActiveInteraction> = Vec::new();
    for row in rows {
        if row.part == 0 {
            interactions.push(ActiveInteraction {
                id: row.interaction_id,
                name: row.text1,
                description: row.text2,
                media: row.text3,
                credentials: Vec::new(),
                instances: Vec::new(),
            });
            continue;
        }
        // The ORDER BY puts every credential and instance right after its interaction.
        let Some(current) = interactions
            .last_mut()
            .filter(|i| i.id == row.interaction_id)
        else {
            return Err(sqlx::Error::Protocol(
                "action templates: a row before its interaction".into(),
            ));
        };
        if row.part == 1 {
            current.credentials.push(InteractionCredential {
                required: row.text1 == "required",
                tag: row.text2,
                attributes: row.text3,
                issuer_did: row.text4,
                definition_id: row.text5,
                seq: row.num1,
                prefill_from_qr: row.num2 != 0,
                only_last: row.num3 != 0,
            });
        } else {
            current.instances.push(Instance {
                id: row.text1.into(),
                parameters: row.text2,
            });
        }
    }
    Ok(interactions)
}

/// The instances of the scoped service's interaction `interaction_id`, default first; empty when
/// the interaction does not exist or is paused (every interaction has a default instance).
pub async fn active_instances(
    db: &Db,
    scope: &ServiceScope,
    interaction_id: &InteractionId,
) -> sqlx::Result<Vec<Instance>> {
    let rows: Vec<(InstanceId, String)> = sqlx::query_as(
        "SELECT n.id, n.parameters FROM instances n \
         JOIN interactions i ON i.id = n.interaction_id \
         WHERE n.service_id = $1 AND n.interaction_id = $2 AND i.active = 1 \
         ORDER BY n.is_default DESC, n.created_at, n.id",
    )
    .bind(scope.service_id())
    .bind(interaction_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, parameters)| Instance { id, parameters })
        .collect())
}

/// An active interaction that issues a credential definition: where a holder who lacks a
/// credential gets one.
#[derive(Debug, Clone, FromRow)]
pub struct Issuing {
    /// Internal id of the definition it issues.
    pub definition_id: String,
    pub service_did: String,
    pub service_name: String,
    pub interaction_id: InteractionId,
    pub interaction_name: String,
    /// Its default instance, which a link to it names.
    pub instance_id: InstanceId,
}

/// The active interactions, of any service, that issue any of `definition_ids` and that a holder
/// can start (by link or QR code: push-only ones start at the service's call), oldest first. An
/// interaction issues only its own service's definitions, so each is the issuer's.
pub async fn issuing(db: &Db, definition_ids: &[&str]) -> sqlx::Result<Vec<Issuing>> {
    if definition_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT ic.credential_definition_id AS definition_id, s.did AS service_did, \
         s.name AS service_name, i.id AS interaction_id, i.name AS interaction_name, \
         n.id AS instance_id \
         FROM interaction_credentials ic \
         JOIN interactions i ON i.id = ic.interaction_id \
         JOIN services s ON s.id = i.service_id \
         JOIN instances n ON n.interaction_id = i.id AND n.is_default = 1 \
         WHERE ic.role = 'issued' AND i.active = 1 AND i.media LIKE '%\"QR\"%' \
         AND ic.credential_definition_id IN ({}) \
         ORDER BY i.created_at, i.id",
        placeholders(1, definition_ids.len())
    );
    let mut query = sqlx::query_as::<_, Issuing>(&sql);
    for id in definition_ids {
        query = query.bind(*id);
    }
    query.fetch_all(db.pool()).await
}

/// The public service-attested definitions of the schema (internal id `schema`) that the
/// services `issuer_dids` made: what a requirement by schema accepts.
pub async fn definitions_of_schema(
    db: &Db,
    schema: &str,
    issuer_dids: &[String],
) -> sqlx::Result<Vec<String>> {
    if issuer_dids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT c.id FROM credential_definitions c JOIN services s ON s.id = c.service_id \
         WHERE c.schema_id = $1 AND c.public = 1 AND c.attestation = 'service' \
         AND s.did IN ({}) ORDER BY c.created_at, c.id",
        placeholders(2, issuer_dids.len())
    );
    let mut query = sqlx::query_scalar(&sql).bind(schema);
    for did in issuer_dids {
        query = query.bind(did);
    }
    query.fetch_all(db.pool()).await
}

/// A credential an active interaction of the scoped service requires by schema.
#[derive(Debug, FromRow)]
pub struct SchemaRequired {
    pub interaction_id: InteractionId,
    /// Internal id of the schema.
    pub schema: String,
    /// The `<DID>`, `<name>` and `<version>` of its wire id.
    pub schema_did: String,
    pub name: String,
    pub version: String,
    /// JSON, as stored.
    pub attributes: String,
    /// JSON array of DIDs, as stored.
    pub trusted_issuers: String,
    pub only_last: i64,
}

/// The requirements by schema of the scoped service's active interactions, each interaction's
/// in order.
pub async fn schemas_required(db: &Db, scope: &ServiceScope) -> sqlx::Result<Vec<SchemaRequired>> {
    sqlx::query_as(
        "SELECT r.interaction_id, r.schema_id AS schema, sd.did AS schema_did, s.name, \
         s.version, s.attributes, r.trusted_issuers, r.only_last \
         FROM interaction_schemas r JOIN interactions i ON i.id = r.interaction_id \
         JOIN schemas s ON s.id = r.schema_id JOIN services sd ON sd.id = s.service_id \
         WHERE r.service_id = $1 AND i.active = 1 ORDER BY r.interaction_id, r.position",
    )
    .bind(scope.service_id())
    .fetch_all(db.pool())
    .await
}
