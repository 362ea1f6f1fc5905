//! `queue_tasks`: definitions and runs.

use relyard_core::Timestamp;
use relyard_store::{Row, StoreResult, Tx};
use sqlx::any::AnyRow;
use sqlx::Any;

use super::{json, placeholders, CHUNK};
use crate::model::{TaskDef, TaskRow};

const COLS: &str =
    "task_id, task_group_id, scheduler_id, project_id, task_queue_id, priority, requires, \
                    retries, retries_left, deadline, expires, runs, routes, tags, scopes";

fn decode(r: &AnyRow) -> StoreResult<TaskRow> {
    let runs: String = r.try_get("runs")?;
    let routes: String = r.try_get("routes")?;
    let tags: String = r.try_get("tags")?;
    let scopes: String = r.try_get("scopes")?;
    Ok(TaskRow {
        task_id: r.try_get("task_id")?,
        task_group_id: r.try_get("task_group_id")?,
        scheduler_id: r.try_get("scheduler_id")?,
        project_id: r.try_get("project_id")?,
        task_queue_id: r.try_get("task_queue_id")?,
        priority: r.try_get("priority")?,
        requires: r.try_get("requires")?,
        retries: r.try_get("retries")?,
        retries_left: r.try_get("retries_left")?,
        deadline: Timestamp::from_millis(r.try_get("deadline")?),
        expires: Timestamp::from_millis(r.try_get("expires")?),
        runs: json(&runs)?,
        routes: json(&routes)?,
        tags: json(&tags)?,
        scopes: json(&scopes)?,
    })
}

fn decode_full(r: &AnyRow) -> StoreResult<(TaskRow, TaskDef)> {
    let def: String = r.try_get("definition")?;
    Ok((decode(r)?, json(&def)?))
}

/// One task; `lock` is `Db::for_update()` inside a write transaction, `""` otherwise.
pub async fn get<'e, E>(e: E, task_id: &str, lock: &str) -> StoreResult<Option<TaskRow>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let sql = format!("SELECT {COLS} FROM queue_tasks WHERE task_id = $1{lock}");
    let row = sqlx::query(&sql).bind(task_id).fetch_optional(e).await?;
    row.as_ref().map(decode).transpose()
}

/// One task with its definition.
pub async fn get_full<'e, E>(e: E, task_id: &str) -> StoreResult<Option<(TaskRow, TaskDef)>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let sql = format!("SELECT {COLS}, definition FROM queue_tasks WHERE task_id = $1");
    let row = sqlx::query(&sql).bind(task_id).fetch_optional(e).await?;
    row.as_ref().map(decode_full).transpose()
}

/// The definition alone (idempotency checks of createTask).
pub async fn get_definition(tx: &mut Tx, task_id: &str) -> StoreResult<Option<TaskDef>> {
    let row = sqlx::query("SELECT definition FROM queue_tasks WHERE task_id = $1")
        .bind(task_id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) => {
            let text: String = r.try_get("definition")?;
            Ok(Some(json(&text)?))
        }
        None => Ok(None),
    }
}

/// Several tasks with definitions, in no particular order; missing ids are left out.
pub async fn get_many_full(
    pool: &sqlx::AnyPool,
    ids: &[String],
) -> StoreResult<Vec<(TaskRow, TaskDef)>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT {COLS}, definition FROM queue_tasks WHERE task_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        for r in q.fetch_all(pool).await? {
            out.push(decode_full(&r)?);
        }
    }
    Ok(out)
}

/// Locks and loads several tasks (claims): rows another transaction holds are skipped.
pub async fn lock_many(
    tx: &mut Tx,
    ids: &[String],
    lock: &str,
) -> StoreResult<Vec<(TaskRow, TaskDef)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLS}, definition FROM queue_tasks WHERE task_id IN ({}){lock}",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    q.fetch_all(&mut **tx)
        .await?
        .iter()
        .map(decode_full)
        .collect()
}

/// The task state of each existing id (dependency checks of createTask).
pub async fn states(tx: &mut Tx, ids: &[String]) -> StoreResult<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT task_id, state FROM queue_tasks WHERE task_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        for r in q.fetch_all(&mut **tx).await? {
            out.push((r.try_get("task_id")?, r.try_get("state")?));
        }
    }
    Ok(out)
}

pub async fn insert(tx: &mut Tx, row: &TaskRow, def: &TaskDef) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO queue_tasks (task_id, task_group_id, scheduler_id, project_id, task_queue_id, priority, \
         requires, retries, retries_left, created, deadline, expires, state, runs, routes, tags, scopes, definition) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(&row.task_id)
    .bind(&row.task_group_id)
    .bind(&row.scheduler_id)
    .bind(&row.project_id)
    .bind(&row.task_queue_id)
    .bind(&row.priority)
    .bind(&row.requires)
    .bind(row.retries)
    .bind(row.retries_left)
    .bind(def.created.millis())
    .bind(row.deadline.millis())
    .bind(row.expires.millis())
    .bind(row.state())
    .bind(text(&row.runs))
    .bind(text(&row.routes))
    .bind(text(&row.tags))
    .bind(text(&row.scopes))
    .bind(text(def))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes back what state changes touch: runs, the derived state and retriesLeft.
pub async fn save(tx: &mut Tx, row: &TaskRow) -> StoreResult<()> {
    sqlx::query(
        "UPDATE queue_tasks SET runs = $1, state = $2, retries_left = $3 WHERE task_id = $4",
    )
    .bind(text(&row.runs))
    .bind(row.state())
    .bind(row.retries_left)
    .bind(&row.task_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A page of a group's tasks in taskId order, after `after`.
pub async fn list_group(
    pool: &sqlx::AnyPool,
    group: &str,
    after: &str,
    limit: usize,
) -> StoreResult<Vec<(TaskRow, TaskDef)>> {
    let sql = format!(
        "SELECT {COLS}, definition FROM queue_tasks WHERE task_group_id = $1 AND task_id > $2 \
         ORDER BY task_id LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(group)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(pool)
        .await?;
    rows.iter().map(decode_full).collect()
}

/// Ids of a group's unresolved tasks after `after` (cancelTaskGroup works through them in chunks).
pub async fn active_in_group(
    pool: &sqlx::AnyPool,
    group: &str,
    after: &str,
    limit: usize,
) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT task_id FROM queue_tasks WHERE task_group_id = $1 AND task_id > $2 \
         AND state IN ('unscheduled', 'pending', 'running') ORDER BY task_id LIMIT $3",
    )
    .bind(group)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("task_id")?)).collect()
}

pub async fn count_group(pool: &sqlx::AnyPool, group: &str) -> StoreResult<i64> {
    let r = sqlx::query("SELECT COUNT(*) AS n FROM queue_tasks WHERE task_group_id = $1")
        .bind(group)
        .fetch_one(pool)
        .await?;
    Ok(r.try_get("n")?)
}

/// Unresolved tasks whose deadline has passed.
pub async fn past_deadline(
    pool: &sqlx::AnyPool,
    now: Timestamp,
    limit: usize,
) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT task_id FROM queue_tasks WHERE deadline <= $1 AND state IN ('unscheduled', 'pending', 'running') \
         ORDER BY deadline LIMIT $2",
    )
    .bind(now.millis())
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("task_id")?)).collect()
}

/// Tasks whose `expires` has passed.
pub async fn expired(
    pool: &sqlx::AnyPool,
    now: Timestamp,
    limit: usize,
) -> StoreResult<Vec<String>> {
    let rows =
        sqlx::query("SELECT task_id FROM queue_tasks WHERE expires < $1 ORDER BY expires LIMIT $2")
            .bind(now.millis())
            .bind(limit as i64)
            .fetch_all(pool)
            .await?;
    rows.iter().map(|r| Ok(r.try_get("task_id")?)).collect()
}

/// Deletes tasks with their pending and claimed rows and their dependency edges.
pub async fn delete(tx: &mut Tx, ids: &[String]) -> StoreResult<u64> {
    let mut n = 0;
    for chunk in ids.chunks(CHUNK) {
        let list = placeholders(1, chunk.len());
        for sql in [
            format!("DELETE FROM queue_pending WHERE task_id IN ({list})"),
            format!("DELETE FROM queue_claimed WHERE task_id IN ({list})"),
            format!("DELETE FROM queue_dependencies WHERE dependent_task_id IN ({list})"),
            format!("DELETE FROM queue_dependencies WHERE required_task_id IN ({list})"),
            format!("DELETE FROM queue_tasks WHERE task_id IN ({list})"),
        ] {
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            let done = q.execute(&mut **tx).await?.rows_affected();
            if sql.starts_with("DELETE FROM queue_tasks") {
                n += done;
            }
        }
    }
    Ok(n)
}

/// JSON text of one of our own values (their serialization cannot fail).
fn text<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
