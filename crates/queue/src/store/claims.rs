//! `queue_pending` (runs waiting for a worker) and `queue_claimed` (runs a worker holds).

use relyard_core::Timestamp;
use relyard_store::{Row, StoreResult, Tx};

use super::placeholders;

pub async fn add_pending(
    tx: &mut Tx,
    task_id: &str,
    run_id: u32,
    task_queue_id: &str,
    rank: i64,
    now: Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO queue_pending (task_id, run_id, task_queue_id, priority_rank, inserted) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (task_id) DO UPDATE SET run_id = excluded.run_id, task_queue_id = excluded.task_queue_id, \
         priority_rank = excluded.priority_rank, inserted = excluded.inserted",
    )
    .bind(task_id)
    .bind(run_id as i64)
    .bind(task_queue_id)
    .bind(rank)
    .bind(now.millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The head of a queue: up to `n` pending task ids, most urgent and oldest first. On PostgreSQL
/// `lock` is `FOR UPDATE SKIP LOCKED`, so concurrent claimers (on any server) get disjoint rows.
pub async fn head(
    tx: &mut Tx,
    task_queue_id: &str,
    n: usize,
    lock: &str,
) -> StoreResult<Vec<(String, u32)>> {
    let sql = format!(
        "SELECT task_id, run_id FROM queue_pending WHERE task_queue_id = $1 \
         ORDER BY priority_rank, inserted, task_id LIMIT $2{lock}"
    );
    let rows = sqlx::query(&sql)
        .bind(task_queue_id)
        .bind(n as i64)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            let run: i64 = r.try_get("run_id")?;
            Ok((r.try_get("task_id")?, run as u32))
        })
        .collect()
}

pub async fn remove_pending(tx: &mut Tx, task_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM queue_pending WHERE task_id = $1")
        .bind(task_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn remove_pending_many(tx: &mut Tx, ids: &[String]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "DELETE FROM queue_pending WHERE task_id IN ({})",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

pub struct Claim<'a> {
    pub task_id: &'a str,
    pub run_id: u32,
    pub task_queue_id: &'a str,
    pub worker_group: &'a str,
    pub worker_id: &'a str,
    pub claimed: Timestamp,
    pub taken_until: Timestamp,
}

/// Records claims, several per statement.
pub async fn add_claimed(tx: &mut Tx, claims: &[Claim<'_>]) -> StoreResult<()> {
    if claims.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..claims.len())
        .map(|i| format!("({})", placeholders(i * 7 + 1, 7)))
        .collect();
    let sql = format!(
        "INSERT INTO queue_claimed (task_id, run_id, task_queue_id, worker_group, worker_id, claimed, taken_until) \
         VALUES {} ON CONFLICT (task_id) DO UPDATE SET run_id = excluded.run_id, worker_group = excluded.worker_group, \
         worker_id = excluded.worker_id, claimed = excluded.claimed, taken_until = excluded.taken_until",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for c in claims {
        q = q
            .bind(c.task_id)
            .bind(c.run_id as i64)
            .bind(c.task_queue_id)
            .bind(c.worker_group)
            .bind(c.worker_id)
            .bind(c.claimed.millis())
            .bind(c.taken_until.millis());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

pub async fn set_taken_until(
    tx: &mut Tx,
    task_id: &str,
    taken_until: Timestamp,
) -> StoreResult<()> {
    sqlx::query("UPDATE queue_claimed SET taken_until = $1 WHERE task_id = $2")
        .bind(taken_until.millis())
        .bind(task_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn remove_claimed(tx: &mut Tx, task_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM queue_claimed WHERE task_id = $1")
        .bind(task_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Claims whose `takenUntil` has passed.
pub async fn expired_claims(
    pool: &sqlx::AnyPool,
    now: Timestamp,
    limit: usize,
) -> StoreResult<Vec<(String, u32)>> {
    let rows = sqlx::query("SELECT task_id, run_id FROM queue_claimed WHERE taken_until < $1 ORDER BY taken_until LIMIT $2")
        .bind(now.millis())
        .bind(limit as i64)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            let run: i64 = r.try_get("run_id")?;
            Ok((r.try_get("task_id")?, run as u32))
        })
        .collect()
}

pub async fn count_pending(pool: &sqlx::AnyPool, task_queue_id: &str) -> StoreResult<i64> {
    let r = sqlx::query("SELECT COUNT(*) AS n FROM queue_pending WHERE task_queue_id = $1")
        .bind(task_queue_id)
        .fetch_one(pool)
        .await?;
    Ok(r.try_get("n")?)
}

pub async fn count_claimed(pool: &sqlx::AnyPool, task_queue_id: &str) -> StoreResult<i64> {
    let r = sqlx::query("SELECT COUNT(*) AS n FROM queue_claimed WHERE task_queue_id = $1")
        .bind(task_queue_id)
        .fetch_one(pool)
        .await?;
    Ok(r.try_get("n")?)
}

/// Position in the pending order, used as the continuation token of listPendingTasks.
pub type PendingKey = (i64, i64, String);

pub struct PendingEntry {
    pub task_id: String,
    pub run_id: u32,
    pub inserted: Timestamp,
    pub key: PendingKey,
}

pub async fn list_pending(
    pool: &sqlx::AnyPool,
    task_queue_id: &str,
    after: Option<&PendingKey>,
    limit: usize,
) -> StoreResult<Vec<PendingEntry>> {
    let (rank, inserted, id) = after.cloned().unwrap_or((-1, i64::MIN, String::new()));
    // Row-value comparison spelled out: both backends understand it and it uses the index.
    let rows = sqlx::query(
        "SELECT task_id, run_id, priority_rank, inserted FROM queue_pending WHERE task_queue_id = $1 \
         AND (priority_rank > $2 OR (priority_rank = $2 AND (inserted > $3 OR (inserted = $3 AND task_id > $4)))) \
         ORDER BY priority_rank, inserted, task_id LIMIT $5",
    )
    .bind(task_queue_id)
    .bind(rank)
    .bind(inserted)
    .bind(id)
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let run: i64 = r.try_get("run_id")?;
            let task_id: String = r.try_get("task_id")?;
            let rank: i64 = r.try_get("priority_rank")?;
            let inserted: i64 = r.try_get("inserted")?;
            Ok(PendingEntry {
                key: (rank, inserted, task_id.clone()),
                task_id,
                run_id: run as u32,
                inserted: Timestamp::from_millis(inserted),
            })
        })
        .collect()
}

pub type ClaimedKey = (i64, String);

pub struct ClaimedEntry {
    pub task_id: String,
    pub run_id: u32,
    pub worker_group: String,
    pub worker_id: String,
    pub claimed: Timestamp,
    pub key: ClaimedKey,
}

pub async fn list_claimed(
    pool: &sqlx::AnyPool,
    task_queue_id: &str,
    after: Option<&ClaimedKey>,
    limit: usize,
) -> StoreResult<Vec<ClaimedEntry>> {
    let (claimed, id) = after.cloned().unwrap_or((i64::MIN, String::new()));
    let rows = sqlx::query(
        "SELECT task_id, run_id, worker_group, worker_id, claimed FROM queue_claimed WHERE task_queue_id = $1 \
         AND (claimed > $2 OR (claimed = $2 AND task_id > $3)) ORDER BY claimed, task_id LIMIT $4",
    )
    .bind(task_queue_id)
    .bind(claimed)
    .bind(id)
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let run: i64 = r.try_get("run_id")?;
            let task_id: String = r.try_get("task_id")?;
            let claimed: i64 = r.try_get("claimed")?;
            Ok(ClaimedEntry {
                key: (claimed, task_id.clone()),
                task_id,
                run_id: run as u32,
                worker_group: r.try_get("worker_group")?,
                worker_id: r.try_get("worker_id")?,
                claimed: Timestamp::from_millis(claimed),
            })
        })
        .collect()
}
