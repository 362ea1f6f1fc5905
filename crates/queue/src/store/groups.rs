//! `queue_task_groups`: schedulerId, expiry, seal and the count of unresolved tasks.

use relyard_core::Timestamp;
use relyard_store::{Row, StoreResult, Tx};

#[derive(Debug, Clone)]
pub struct GroupRow {
    pub task_group_id: String,
    pub scheduler_id: String,
    pub expires: Timestamp,
    pub sealed: Option<Timestamp>,
    pub active: i64,
}

fn decode(r: &sqlx::any::AnyRow) -> StoreResult<GroupRow> {
    let sealed: Option<i64> = r.try_get("sealed")?;
    Ok(GroupRow {
        task_group_id: r.try_get("task_group_id")?,
        scheduler_id: r.try_get("scheduler_id")?,
        expires: Timestamp::from_millis(r.try_get("expires")?),
        sealed: sealed.map(Timestamp::from_millis),
        active: r.try_get("active")?,
    })
}

const COLS: &str = "task_group_id, scheduler_id, expires, sealed, active";

pub async fn get<'e, E>(e: E, group: &str) -> StoreResult<Option<GroupRow>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLS} FROM queue_task_groups WHERE task_group_id = $1");
    let row = sqlx::query(&sql).bind(group).fetch_optional(e).await?;
    row.as_ref().map(decode).transpose()
}

/// Adds one task to the group, creating it when new and keeping `expires` the latest task's.
/// Returns the group as it now is; the caller checks schedulerId and seal (and rolls back).
pub async fn add_task(
    tx: &mut Tx,
    group: &str,
    scheduler_id: &str,
    expires: Timestamp,
) -> StoreResult<GroupRow> {
    let sql = format!(
        "INSERT INTO queue_task_groups (task_group_id, scheduler_id, expires, sealed, active) VALUES ($1, $2, $3, NULL, 1) \
         ON CONFLICT (task_group_id) DO UPDATE SET active = queue_task_groups.active + 1, \
         expires = CASE WHEN excluded.expires > queue_task_groups.expires THEN excluded.expires \
         ELSE queue_task_groups.expires END RETURNING {COLS}"
    );
    let row = sqlx::query(&sql)
        .bind(group)
        .bind(scheduler_id)
        .bind(expires.millis())
        .fetch_one(&mut **tx)
        .await?;
    decode(&row)
}

/// Adds `delta` to the count of unresolved tasks and returns the group after the change.
pub async fn adjust_active(tx: &mut Tx, group: &str, delta: i64) -> StoreResult<Option<GroupRow>> {
    let sql = format!("UPDATE queue_task_groups SET active = active + $1 WHERE task_group_id = $2 RETURNING {COLS}");
    let row = sqlx::query(&sql)
        .bind(delta)
        .bind(group)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// Seals the group (once); returns it, or `None` when it does not exist.
pub async fn seal(
    tx: &mut Tx,
    group: &str,
    now: Timestamp,
) -> StoreResult<Option<(GroupRow, bool)>> {
    let sql = format!(
        "UPDATE queue_task_groups SET sealed = $1 WHERE task_group_id = $2 AND sealed IS NULL RETURNING {COLS}"
    );
    if let Some(row) = sqlx::query(&sql)
        .bind(now.millis())
        .bind(group)
        .fetch_optional(&mut **tx)
        .await?
    {
        return Ok(Some((decode(&row)?, true)));
    }
    Ok(get(&mut **tx, group).await?.map(|g| (g, false)))
}

/// Deletes expired groups that no longer hold tasks.
pub async fn delete_expired(tx: &mut Tx, now: Timestamp) -> StoreResult<u64> {
    let done = sqlx::query(
        "DELETE FROM queue_task_groups WHERE expires < $1 AND NOT EXISTS \
         (SELECT 1 FROM queue_tasks t WHERE t.task_group_id = queue_task_groups.task_group_id)",
    )
    .bind(now.millis())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}
