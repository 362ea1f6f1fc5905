//! `updates_leases`: a named lease so that one server at a time does a job (enacting due
//! scheduled changes). Taken by a conditional UPDATE: on PostgreSQL a second writer of the row
//! waits for the first to commit, then re-checks the condition and finds the lease taken; on
//! SQLite the single write connection serializes the transactions.

use relyard_store::Db;

use super::StoreResult;

/// Takes lease `name` for `holder` until `now_ms + ttl_ms` if it is free, expired, or already
/// `holder`'s. Returns whether `holder` now holds it.
pub async fn take_lease(
    db: &Db,
    name: &str,
    holder: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    // The row must exist for the conditional UPDATE to have something to lock; a free one
    // (until 0) is made the first time.
    sqlx::query(
        "INSERT INTO updates_leases (name, holder, until_ms) VALUES ($1, NULL, 0) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .execute(&mut *tx)
    .await?;
    let done = sqlx::query(
        "UPDATE updates_leases SET holder = $1, until_ms = $2 \
         WHERE name = $3 AND (holder = $4 OR holder IS NULL OR until_ms <= $5)",
    )
    .bind(holder)
    .bind(now_ms + ttl_ms)
    .bind(name)
    .bind(holder)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Gives lease `name` back if `holder` holds it, so another server need not wait for it to
/// expire.
pub async fn release_lease(db: &Db, name: &str, holder: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE updates_leases SET holder = NULL, until_ms = 0 WHERE name = $1 AND holder = $2",
    )
    .bind(name)
    .bind(holder)
    .execute(db.writer())
    .await?;
    Ok(())
}
