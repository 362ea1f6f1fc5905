//! `updates_permissions`: Balrog's permissions (`admin`, `rule`, `release`, …) per user, with
//! their options (e.g. `{"products": ["Firefox"], "actions": ["create"]}`). Who may do what is
//! checked by the admin API (a later slice); this is only the rows.

use relyard_store::{Db, Row};
use serde_json::Value;
use sqlx::any::AnyRow;

use super::{check_version, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct Permission {
    pub username: String,
    pub permission: String,
    pub options: Option<Value>,
    pub data_version: i64,
}

fn from_row(r: &AnyRow) -> StoreResult<Permission> {
    let text: Option<String> = r.try_get("options")?;
    let options = text
        .map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| StoreError::corrupt(format!("permission options are not JSON: {e}")))?;
    Ok(Permission {
        username: r.try_get("username")?,
        permission: r.try_get("permission")?,
        options,
        data_version: r.try_get("data_version")?,
    })
}

/// One user's permissions, by name.
pub async fn user_permissions(db: &Db, username: &str) -> StoreResult<Vec<Permission>> {
    let rows = sqlx::query(
        "SELECT username, permission, options, data_version FROM updates_permissions \
         WHERE username = $1 ORDER BY permission",
    )
    .bind(username)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Grants a permission at data_version 1.
pub async fn grant_permission(
    db: &Db,
    username: &str,
    permission: &str,
    options: Option<&Value>,
) -> StoreResult<Permission> {
    sqlx::query(
        "INSERT INTO updates_permissions (username, permission, options, data_version) \
         VALUES ($1, $2, $3, 1)",
    )
    .bind(username)
    .bind(permission)
    .bind(options.map(Value::to_string))
    .execute(db.writer())
    .await
    .map_err(|e| StoreError::from(e).exists_if_unique("permission", key(username, permission)))?;
    Ok(Permission {
        username: username.to_string(),
        permission: permission.to_string(),
        options: options.cloned(),
        data_version: 1,
    })
}

/// Revokes a permission still at `data_version`.
pub async fn revoke_permission(
    db: &Db,
    username: &str,
    permission: &str,
    data_version: i64,
) -> StoreResult<()> {
    let key = key(username, permission);
    let mut tx = db.begin().await?;
    let row = sqlx::query(&format!(
        "SELECT data_version FROM updates_permissions WHERE username = $1 AND permission = $2{}",
        db.for_update()
    ))
    .bind(username)
    .bind(permission)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound {
            what: "permission",
            key,
        });
    };
    check_version(
        "permission",
        &key,
        data_version,
        row.try_get("data_version")?,
    )?;
    sqlx::query("DELETE FROM updates_permissions WHERE username = $1 AND permission = $2")
        .bind(username)
        .bind(permission)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

fn key(username: &str, permission: &str) -> String {
    format!("{username}/{permission}")
}
