//! SQL of the secrets service: the `secrets` table (sealed values) and the append-only
//! `secrets_audit` table.

use relyard_core::Timestamp;
use relyard_store::{Db, Row, StoreResult, Tx};
use sqlx::any::AnyRow;

/// A stored secret; `sealed` is still encrypted.
#[derive(Debug, Clone)]
pub struct SecretRow {
    pub sealed: String,
    pub expires: Timestamp,
}

/// One audit row as stored.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: i64,
    pub time: Timestamp,
    pub client_id: String,
    pub action: String,
    pub name: String,
    pub source_ip: Option<String>,
    pub outcome: String,
}

/// An audit row to append.
pub struct NewAudit<'a> {
    pub time: Timestamp,
    pub client_id: &'a str,
    pub action: &'a str,
    pub name: &'a str,
    pub source_ip: Option<String>,
    pub outcome: &'a str,
}

pub async fn get_secret(tx: &mut Tx, name: &str) -> StoreResult<Option<SecretRow>> {
    let row = sqlx::query("SELECT value, expires FROM secrets WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| {
        Ok(SecretRow {
            sealed: r.try_get("value")?,
            expires: Timestamp::from_millis(r.try_get("expires")?),
        })
    })
    .transpose()
}

pub async fn upsert_secret(
    tx: &mut Tx,
    name: &str,
    sealed: &str,
    expires: Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO secrets (name, value, expires) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, expires = excluded.expires",
    )
    .bind(name)
    .bind(sealed)
    .bind(expires.millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes a secret; returns its expiry if there was one.
pub async fn delete_secret(tx: &mut Tx, name: &str) -> StoreResult<Option<Timestamp>> {
    let row = sqlx::query("DELETE FROM secrets WHERE name = $1 RETURNING expires")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok(Timestamp::from_millis(r.try_get("expires")?)))
        .transpose()
}

/// Deletes one secret only if it expired before `now`: a concurrent `set` that renewed it wins.
pub async fn delete_if_expired(tx: &mut Tx, name: &str, now: Timestamp) -> StoreResult<()> {
    sqlx::query("DELETE FROM secrets WHERE name = $1 AND expires < $2")
        .bind(name)
        .bind(now.millis())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes every secret that expired before `now`; returns how many.
pub async fn delete_expired(db: &Db, now: Timestamp) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM secrets WHERE expires < $1")
        .bind(now.millis())
        .execute(db.writer())
        .await?;
    Ok(done.rows_affected())
}

/// Names of unexpired secrets after `after`, in name order, at most `limit`.
pub async fn list_names(
    db: &Db,
    now: Timestamp,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT name FROM secrets WHERE expires >= $1 AND name > $2 ORDER BY name LIMIT $3",
    )
    .bind(now.millis())
    // Every name sorts after the empty string, so the first page needs no second query shape.
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(|r| Ok(r.try_get("name")?)).collect()
}

pub async fn insert_audit(tx: &mut Tx, a: &NewAudit<'_>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO secrets_audit (time, client_id, action, name, source_ip, outcome) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(a.time.millis())
    .bind(a.client_id)
    .bind(a.action)
    .bind(a.name)
    .bind(a.source_ip.as_deref())
    .bind(a.outcome)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn audit_from_row(r: &AnyRow) -> StoreResult<AuditRow> {
    Ok(AuditRow {
        id: r.try_get("id")?,
        time: Timestamp::from_millis(r.try_get("time")?),
        client_id: r.try_get("client_id")?,
        action: r.try_get("action")?,
        name: r.try_get("name")?,
        source_ip: r.try_get("source_ip")?,
        outcome: r.try_get("outcome")?,
    })
}

/// Audit rows newest first, older than id `before` when given, for one secret when `name` is given.
pub async fn list_audit(
    db: &Db,
    name: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<AuditRow>> {
    // Ids are positive, so `i64::MAX` means "from the newest" without a second query shape.
    let before = before.unwrap_or(i64::MAX);
    let sql = match name {
        Some(_) => {
            "SELECT id, time, client_id, action, name, source_ip, outcome FROM secrets_audit \
             WHERE name = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        }
        None => {
            "SELECT id, time, client_id, action, name, source_ip, outcome FROM secrets_audit \
             WHERE id < $1 ORDER BY id DESC LIMIT $2"
        }
    };
    let mut query = sqlx::query(sql);
    if let Some(name) = name {
        query = query.bind(name);
    }
    let rows = query
        .bind(before)
        .bind(limit)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(audit_from_row).collect()
}
