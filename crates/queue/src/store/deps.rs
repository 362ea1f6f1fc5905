//! `queue_dependencies`: edges from a required task to the tasks waiting for it.

use relyard_store::{Row, StoreResult, Tx};

use super::placeholders;

/// Inserts the edges of a new task; `satisfied[i]` says whether `required[i]` already resolved in
/// a way `requires` accepts.
pub async fn insert(
    tx: &mut Tx,
    dependent: &str,
    requires: &str,
    edges: &[(String, bool)],
) -> StoreResult<()> {
    for chunk in edges.chunks(200) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(i * 4 + 1, 4)))
            .collect();
        let sql = format!(
            "INSERT INTO queue_dependencies (required_task_id, dependent_task_id, requires, satisfied) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (required, satisfied) in chunk {
            q = q
                .bind(required)
                .bind(dependent)
                .bind(requires)
                .bind(*satisfied as i64);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Marks the edges out of `required` satisfied now that it resolved (`completed` or otherwise).
pub async fn satisfy(tx: &mut Tx, required: &str, completed: bool) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE queue_dependencies SET satisfied = 1 WHERE required_task_id = $1 AND satisfied = 0 \
         AND (requires = 'all-resolved' OR $2 = 1)",
    )
    .bind(required)
    .bind(completed as i64)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Locks (`lock` = `FOR UPDATE` on PostgreSQL) the unscheduled dependents of `required`, in
/// taskId order. Two dependencies of one task resolving at once each satisfy their own edge
/// before asking whether the dependent is ready; without this lock each would see the other's
/// edge still unsatisfied (neither committed) and the dependent would never be scheduled. With
/// it the second waits for the first to commit and then sees both edges.
pub async fn lock_waiting_dependents(tx: &mut Tx, required: &str, lock: &str) -> StoreResult<()> {
    if lock.is_empty() {
        return Ok(()); // SQLite: write transactions are serialized already
    }
    let sql = format!(
        "SELECT task_id FROM queue_tasks WHERE state = 'unscheduled' AND task_id IN \
         (SELECT dependent_task_id FROM queue_dependencies WHERE required_task_id = $1) \
         ORDER BY task_id{lock}"
    );
    sqlx::query(&sql)
        .bind(required)
        .fetch_all(&mut **tx)
        .await?;
    Ok(())
}

/// Dependents of `required` that are still unscheduled and have no unsatisfied edge left.
pub async fn ready_dependents(tx: &mut Tx, required: &str) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT t.task_id FROM queue_dependencies e JOIN queue_tasks t ON t.task_id = e.dependent_task_id \
         WHERE e.required_task_id = $1 AND t.state = 'unscheduled' AND NOT EXISTS \
         (SELECT 1 FROM queue_dependencies u WHERE u.dependent_task_id = t.task_id AND u.satisfied = 0) \
         ORDER BY t.task_id",
    )
    .bind(required)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("task_id")?)).collect()
}

/// A page of the tasks that depend on `required`, in taskId order after `after`.
pub async fn list_dependents(
    pool: &sqlx::AnyPool,
    required: &str,
    after: &str,
    limit: usize,
) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT dependent_task_id FROM queue_dependencies WHERE required_task_id = $1 AND dependent_task_id > $2 \
         ORDER BY dependent_task_id LIMIT $3",
    )
    .bind(required)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok(r.try_get("dependent_task_id")?))
        .collect()
}
