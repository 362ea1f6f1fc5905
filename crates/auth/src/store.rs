//! SQL of the auth service: clients and roles.

use relyard_core::Timestamp;
use relyard_store::{Db, Row, StoreError, StoreResult, Tx};
use sqlx::any::AnyRow;

use crate::roles::Role;

/// A client row; `access_token` is still sealed.
#[derive(Debug, Clone)]
pub struct ClientRow {
    pub client_id: String,
    pub description: String,
    pub sealed_access_token: String,
    pub scopes: Vec<String>,
    pub expires: Timestamp,
    pub delete_on_expiration: bool,
    pub disabled: bool,
    pub created: Timestamp,
    pub last_modified: Timestamp,
    pub last_date_used: Timestamp,
    pub last_rotated: Timestamp,
    pub static_client: bool,
}

#[derive(Debug, Clone)]
pub struct RoleRow {
    pub role_id: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub created: Timestamp,
    pub last_modified: Timestamp,
}

impl RoleRow {
    pub fn role(&self) -> Role {
        Role {
            role_id: self.role_id.clone(),
            scopes: self.scopes.clone(),
        }
    }
}

const CLIENT_COLUMNS: &str =
    "client_id, description, access_token, scopes, expires, delete_on_expiration, \
     disabled, created, last_modified, last_date_used, last_rotated, static_client";

fn json_list(text: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("scope list: {e}")))
}

fn client_from_row(r: &AnyRow) -> StoreResult<ClientRow> {
    Ok(ClientRow {
        client_id: r.try_get("client_id")?,
        description: r.try_get("description")?,
        sealed_access_token: r.try_get("access_token")?,
        scopes: json_list(&r.try_get::<String, _>("scopes")?)?,
        expires: Timestamp::from_millis(r.try_get("expires")?),
        delete_on_expiration: r.try_get::<i64, _>("delete_on_expiration")? != 0,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created: Timestamp::from_millis(r.try_get("created")?),
        last_modified: Timestamp::from_millis(r.try_get("last_modified")?),
        last_date_used: Timestamp::from_millis(r.try_get("last_date_used")?),
        last_rotated: Timestamp::from_millis(r.try_get("last_rotated")?),
        static_client: r.try_get::<i64, _>("static_client")? != 0,
    })
}

fn role_from_row(r: &AnyRow) -> StoreResult<RoleRow> {
    Ok(RoleRow {
        role_id: r.try_get("role_id")?,
        description: r.try_get("description")?,
        scopes: json_list(&r.try_get::<String, _>("scopes")?)?,
        created: Timestamp::from_millis(r.try_get("created")?),
        last_modified: Timestamp::from_millis(r.try_get("last_modified")?),
    })
}

pub async fn get_client(db: &Db, client_id: &str) -> StoreResult<Option<ClientRow>> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM auth_clients WHERE client_id = $1");
    let row = sqlx::query(&sql)
        .bind(client_id)
        .fetch_optional(db.reader())
        .await?;
    row.as_ref().map(client_from_row).transpose()
}

pub async fn get_client_tx(tx: &mut Tx, client_id: &str) -> StoreResult<Option<ClientRow>> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM auth_clients WHERE client_id = $1");
    let row = sqlx::query(&sql)
        .bind(client_id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(client_from_row).transpose()
}

/// Clients whose id starts with `prefix`, ordered by id, after `after`.
pub async fn list_clients(
    db: &Db,
    prefix: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<ClientRow>> {
    let sql = format!(
        "SELECT {CLIENT_COLUMNS} FROM auth_clients WHERE client_id > $1 AND substr(client_id, 1, CAST($2 AS INTEGER)) = $3 \
         ORDER BY client_id LIMIT $4"
    );
    let prefix = prefix.unwrap_or("");
    let rows = sqlx::query(&sql)
        .bind(after.unwrap_or(""))
        .bind(prefix.chars().count() as i64)
        .bind(prefix)
        .bind(limit)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(client_from_row).collect()
}

/// Inserts a client; false if the id is taken.
pub async fn insert_client(tx: &mut Tx, c: &ClientRow) -> StoreResult<bool> {
    let sql = format!(
        "INSERT INTO auth_clients ({CLIENT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) \
         ON CONFLICT (client_id) DO NOTHING"
    );
    let done = bind_client(sqlx::query(&sql), c).execute(&mut **tx).await?;
    Ok(done.rows_affected() == 1)
}

/// Writes every column of an existing client.
pub async fn update_client(tx: &mut Tx, c: &ClientRow) -> StoreResult<()> {
    sqlx::query(
        "UPDATE auth_clients SET description = $2, access_token = $3, scopes = $4, expires = $5, \
         delete_on_expiration = $6, disabled = $7, created = $8, last_modified = $9, last_date_used = $10, \
         last_rotated = $11, static_client = $12 WHERE client_id = $1",
    )
    .bind(&c.client_id)
    .bind(&c.description)
    .bind(&c.sealed_access_token)
    .bind(serde_json::to_string(&c.scopes).unwrap_or_default())
    .bind(c.expires.millis())
    .bind(c.delete_on_expiration as i64)
    .bind(c.disabled as i64)
    .bind(c.created.millis())
    .bind(c.last_modified.millis())
    .bind(c.last_date_used.millis())
    .bind(c.last_rotated.millis())
    .bind(c.static_client as i64)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn bind_client<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    c: &'q ClientRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(&c.client_id)
        .bind(&c.description)
        .bind(&c.sealed_access_token)
        .bind(serde_json::to_string(&c.scopes).unwrap_or_default())
        .bind(c.expires.millis())
        .bind(c.delete_on_expiration as i64)
        .bind(c.disabled as i64)
        .bind(c.created.millis())
        .bind(c.last_modified.millis())
        .bind(c.last_date_used.millis())
        .bind(c.last_rotated.millis())
        .bind(c.static_client as i64)
}

pub async fn delete_client(tx: &mut Tx, client_id: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM auth_clients WHERE client_id = $1")
        .bind(client_id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Records use, at most every few hours per client (Taskcluster's granularity), so that
/// authentication does not write on every request.
pub async fn touch_client(
    db: &Db,
    client_id: &str,
    now: Timestamp,
    older_than: Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE auth_clients SET last_date_used = $1 WHERE client_id = $2 AND last_date_used < $3",
    )
    .bind(now.millis())
    .bind(client_id)
    .bind(older_than.millis())
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Deletes clients that expired and asked to be deleted on expiration.
pub async fn purge_expired_clients(db: &Db, now: Timestamp) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM auth_clients WHERE delete_on_expiration = 1 AND expires < $1 AND static_client = 0")
        .bind(now.millis())
        .execute(db.writer())
        .await?;
    Ok(done.rows_affected())
}

pub async fn all_roles(db: &Db) -> StoreResult<Vec<RoleRow>> {
    let rows = sqlx::query("SELECT role_id, description, scopes, created, last_modified FROM auth_roles ORDER BY role_id")
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(role_from_row).collect()
}

/// Starts a role change: serializes role writers and returns every role as of now.
pub async fn lock_roles(tx: &mut Tx) -> StoreResult<Vec<RoleRow>> {
    sqlx::query("UPDATE auth_roles_version SET version = version + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    let rows = sqlx::query("SELECT role_id, description, scopes, created, last_modified FROM auth_roles ORDER BY role_id")
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(role_from_row).collect()
}

pub async fn upsert_role(tx: &mut Tx, r: &RoleRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO auth_roles (role_id, description, scopes, created, last_modified) VALUES ($1,$2,$3,$4,$5) \
         ON CONFLICT (role_id) DO UPDATE SET description = $2, scopes = $3, last_modified = $5",
    )
    .bind(&r.role_id)
    .bind(&r.description)
    .bind(serde_json::to_string(&r.scopes).unwrap_or_default())
    .bind(r.created.millis())
    .bind(r.last_modified.millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete_role(tx: &mut Tx, role_id: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM auth_roles WHERE role_id = $1")
        .bind(role_id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}
