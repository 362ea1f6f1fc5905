//! Managing scheduled rule changes as Balrog's admin API does: listing, editing (which drops
//! the sign-offs given so far, since they were for another change), deleting, enacting one at
//! once, sign-offs whose role the caller's scopes prove, and the history of each change
//! (`updates_scheduled_changes_history`, migration 6003).

use relyard_core::Timestamp;
use relyard_store::{Db, Row, Tx};
use serde_json::{json, Value};

use super::enact::{enact_one, Outcome};
use super::scheduled::{from_row, pending_in, ScheduledChange, SELECT};
use super::{check_version, next_id, StoreError, StoreResult};
use crate::rules::Rule;

/// Which scheduled-change tables a call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScKind {
    Rules,
    Releases,
}

impl ScKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScKind::Rules => "rules",
            ScKind::Releases => "releases",
        }
    }

    pub(super) fn table(self) -> &'static str {
        match self {
            ScKind::Rules => "updates_rules_scheduled_changes",
            ScKind::Releases => "updates_releases_scheduled_changes",
        }
    }

    pub(super) fn signoffs_table(self) -> &'static str {
        match self {
            ScKind::Rules => "updates_rules_scheduled_changes_signoffs",
            ScKind::Releases => "updates_releases_scheduled_changes_signoffs",
        }
    }
}

/// One recorded change of a scheduled change.
#[derive(Debug, Clone, PartialEq)]
pub struct ScHistoryRow {
    pub change_id: i64,
    pub changed_by: String,
    pub timestamp: Timestamp,
    pub data_version: Option<i64>,
    pub row: Option<Value>,
}

/// Appends a history row for scheduled change `sc_id`, inside the change's transaction.
pub(super) async fn record_sc(
    tx: &mut Tx,
    kind: ScKind,
    sc_id: i64,
    changed_by: &str,
    data_version: Option<i64>,
    row: Option<&Value>,
) -> StoreResult<()> {
    let change_id = next_id(tx, "updates_scheduled_changes_history").await?;
    sqlx::query(
        "INSERT INTO updates_scheduled_changes_history \
         (change_id, kind, sc_id, changed_by, timestamp, data_version, row_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(change_id)
    .bind(kind.as_str())
    .bind(sc_id)
    .bind(changed_by)
    .bind(Timestamp::now().millis())
    .bind(data_version)
    .bind(row.map(Value::to_string))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every recorded change of one scheduled change, oldest first.
pub async fn sc_history(db: &Db, kind: ScKind, sc_id: i64) -> StoreResult<Vec<ScHistoryRow>> {
    sc_history_where(db, kind, Some(sc_id)).await
}

/// Every recorded change of every scheduled change of `kind`, oldest first.
pub async fn all_sc_history(db: &Db, kind: ScKind) -> StoreResult<Vec<ScHistoryRow>> {
    sc_history_where(db, kind, None).await
}

async fn sc_history_where(
    db: &Db,
    kind: ScKind,
    sc_id: Option<i64>,
) -> StoreResult<Vec<ScHistoryRow>> {
    let one = if sc_id.is_some() {
        " AND sc_id = $2"
    } else {
        ""
    };
    let sql = format!(
        "SELECT change_id, changed_by, timestamp, data_version, row_json \
         FROM updates_scheduled_changes_history WHERE kind = $1{one} ORDER BY change_id"
    );
    let mut query = sqlx::query(&sql).bind(kind.as_str());
    if let Some(id) = sc_id {
        query = query.bind(id);
    }
    let rows = query.fetch_all(db.reader()).await?;
    rows.iter()
        .map(|r| {
            let text: Option<String> = r.try_get("row_json")?;
            let row = text
                .map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(|e| StoreError::corrupt(format!("scheduled change history: {e}")))?;
            Ok(ScHistoryRow {
                change_id: r.try_get("change_id")?,
                changed_by: r.try_get("changed_by")?,
                timestamp: Timestamp::from_millis(r.try_get("timestamp")?),
                data_version: r.try_get("data_version")?,
                row,
            })
        })
        .collect()
}

/// A scheduled rule change as history keeps it.
pub fn rule_change_json(sc: &ScheduledChange) -> Value {
    json!({
        "sc_id": sc.sc_id,
        "change_type": format!("{:?}", sc.change_type).to_lowercase(),
        "rule_id": sc.rule_id,
        "new_row": sc.new_row,
        "base_data_version": sc.base_data_version,
        "when": sc.when,
        "scheduled_by": sc.scheduled_by,
        "complete": sc.complete,
        "failed": sc.failed,
    })
}

/// Pending scheduled rule changes (all of them with `include_done`), by sc_id.
pub async fn list_rule_changes(db: &Db, include_done: bool) -> StoreResult<Vec<ScheduledChange>> {
    let filter = if include_done {
        ""
    } else {
        " WHERE complete = 0"
    };
    let rows = sqlx::query(&format!("{SELECT}{filter} ORDER BY sc_id"))
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(from_row).collect()
}

/// Replaces the new row (for inserts and updates), the base data_version (updates) and the
/// time of a pending change still at `sc_data_version`. Sign-offs given so far are dropped.
pub async fn edit_rule_change(
    db: &Db,
    changed_by: &str,
    sc_id: i64,
    sc_data_version: i64,
    new_row: Option<&Rule>,
    base_data_version: Option<i64>,
    when: i64,
) -> StoreResult<ScheduledChange> {
    let mut tx = db.begin().await?;
    let old = pending_in(db, &mut tx, sc_id).await?;
    check_version(
        "scheduled change",
        &sc_id.to_string(),
        sc_data_version,
        old.data_version,
    )?;
    let new = ScheduledChange {
        new_row: new_row.cloned().or(old.new_row.clone()),
        base_data_version: base_data_version.or(old.base_data_version),
        when,
        data_version: old.data_version + 1,
        ..old.clone()
    };
    write_rule_change(&mut tx, &new).await?;
    clear_signoffs(&mut tx, ScKind::Rules, sc_id).await?;
    let row = rule_change_json(&new);
    record_sc(
        &mut tx,
        ScKind::Rules,
        sc_id,
        changed_by,
        Some(new.data_version),
        Some(&row),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

/// Writes a scheduled rule change's new row, base data_version, time and data_version.
async fn write_rule_change(tx: &mut Tx, sc: &ScheduledChange) -> StoreResult<()> {
    let row_text = sc
        .new_row
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::InvalidChange(format!("rule to JSON: {e}")))?;
    sqlx::query(
        "UPDATE updates_rules_scheduled_changes SET new_row = $1, base_data_version = $2, \
         \"when\" = $3, data_version = $4 WHERE sc_id = $5",
    )
    .bind(row_text)
    .bind(sc.base_data_version)
    .bind(sc.when)
    .bind(sc.data_version)
    .bind(sc.sc_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn clear_signoffs(tx: &mut Tx, kind: ScKind, sc_id: i64) -> StoreResult<()> {
    sqlx::query(&format!(
        "DELETE FROM {} WHERE sc_id = $1",
        kind.signoffs_table()
    ))
    .bind(sc_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes a pending scheduled change still at `data_version`, with its sign-offs.
pub async fn delete_scheduled(
    db: &Db,
    kind: ScKind,
    changed_by: &str,
    sc_id: i64,
    data_version: i64,
) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let current = pending_version_in(db, &mut tx, kind, sc_id).await?;
    check_version(
        "scheduled change",
        &sc_id.to_string(),
        data_version,
        current,
    )?;
    clear_signoffs(&mut tx, kind, sc_id).await?;
    sqlx::query(&format!("DELETE FROM {} WHERE sc_id = $1", kind.table()))
        .bind(sc_id)
        .execute(&mut *tx)
        .await?;
    record_sc(&mut tx, kind, sc_id, changed_by, None, None).await?;
    tx.commit().await?;
    Ok(())
}

/// The data_version of a pending scheduled change, its row locked.
pub(super) async fn pending_version_in(
    db: &Db,
    tx: &mut Tx,
    kind: ScKind,
    sc_id: i64,
) -> StoreResult<i64> {
    let row = sqlx::query(&format!(
        "SELECT complete, failed, data_version FROM {} WHERE sc_id = $1{}",
        kind.table(),
        db.for_update()
    ))
    .bind(sc_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound {
            what: "scheduled change",
            key: sc_id.to_string(),
        });
    };
    let failed: Option<String> = row.try_get("failed")?;
    if row.try_get::<i64, _>("complete")? != 0 || failed.is_some() {
        return Err(StoreError::NotPending(sc_id));
    }
    Ok(row.try_get("data_version")?)
}

/// Signs change `sc_id` off as `username` with `role`; the caller has checked that the user
/// holds the role (the admin API by scopes). Signing again with the same role changes nothing
/// (false); with another role it is refused, one sign-off per user per change as in Balrog.
pub async fn sign_off_holding(
    db: &Db,
    kind: ScKind,
    sc_id: i64,
    username: &str,
    role: &str,
) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    pending_version_in(db, &mut tx, kind, sc_id).await?;
    let added = super::signoffs::insert_signoff(&mut tx, kind, sc_id, username, role).await?;
    tx.commit().await?;
    Ok(added)
}

/// Takes back `username`'s sign-off of a pending change; false when there was none.
pub async fn revoke_signoff_of(
    db: &Db,
    kind: ScKind,
    sc_id: i64,
    username: &str,
) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    pending_version_in(db, &mut tx, kind, sc_id).await?;
    let done = sqlx::query(&format!(
        "DELETE FROM {} WHERE sc_id = $1 AND username = $2",
        kind.signoffs_table()
    ))
    .bind(sc_id)
    .bind(username)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// What enacting one change at once did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enacted {
    Done,
    /// Refused for good (the target moved on) and marked failed.
    Failed,
    /// Still missing sign-offs: nothing changed.
    NotReady,
}

/// Enacts pending rule change `sc_id` now, whatever its time, if it has its sign-offs
/// (Balrog's `POST /scheduled_changes/rules/<sc_id>/enact`).
pub async fn enact_rule_change_now(db: &Db, sc_id: i64) -> StoreResult<Enacted> {
    match enact_one(db, sc_id, i64::MAX).await? {
        Outcome::Enacted => Ok(Enacted::Done),
        Outcome::Failed => Ok(Enacted::Failed),
        Outcome::Waiting => Ok(Enacted::NotReady),
        Outcome::Gone => Err(StoreError::NotPending(sc_id)),
    }
}

/// Marks a pending change failed with `reason`, in its own transaction (the change's own may
/// be aborted); false when it was no longer pending.
pub(super) async fn mark_failed(
    db: &Db,
    kind: ScKind,
    sc_id: i64,
    reason: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(&format!(
        "UPDATE {} SET failed = $1, data_version = data_version + 1 \
         WHERE sc_id = $2 AND complete = 0 AND failed IS NULL",
        kind.table()
    ))
    .bind(reason)
    .bind(sc_id)
    .execute(db.writer())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Balrog's `mergeUpdate` for a direct change of a rule from `old` (its row as JSON) to
/// `new`, inside the change's transaction: every pending scheduled change of the rule takes
/// the columns the direct change set and the new data_version as its base; one that changes
/// one of those columns itself is a `ScheduledConflict`.
pub(super) async fn merge_into_scheduled(
    db: &Db,
    tx: &mut Tx,
    old: &Value,
    new: &Rule,
) -> StoreResult<()> {
    let new_json = super::rules::as_json(new)?;
    let changed: Vec<&String> = new_json
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| k.as_str() != "data_version" && old.get(k.as_str()) != Some(v))
        .map(|(k, _)| k)
        .collect();
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE rule_id = $1 AND complete = 0 AND failed IS NULL{}",
        db.for_update()
    ))
    .bind(new.rule_id)
    .fetch_all(&mut **tx)
    .await?;
    for row in rows {
        let sc = from_row(&row)?;
        let mut merged = sc.new_row.clone();
        if let Some(planned) = &mut merged {
            let mut planned_json = super::rules::as_json(planned)?;
            for col in &changed {
                if planned_json.get(col.as_str()) != old.get(col.as_str()) {
                    return Err(StoreError::ScheduledConflict {
                        sc_id: sc.sc_id,
                        column: col.to_string(),
                    });
                }
                planned_json[col.as_str()] = new_json[col.as_str()].clone();
            }
            *planned = serde_json::from_value(planned_json)
                .map_err(|e| StoreError::corrupt(format!("merged scheduled rule: {e}")))?;
            planned.data_version = new.data_version;
        }
        let rebased = ScheduledChange {
            new_row: merged,
            base_data_version: Some(new.data_version),
            data_version: sc.data_version + 1,
            ..sc.clone()
        };
        write_rule_change(tx, &rebased).await?;
        let json = rule_change_json(&rebased);
        let by = sc.scheduled_by.as_str();
        record_sc(
            tx,
            ScKind::Rules,
            sc.sc_id,
            by,
            Some(rebased.data_version),
            Some(&json),
        )
        .await?;
    }
    Ok(())
}
