//! [`enact_due`]: applies the scheduled rule and release changes that are due and signed off, on one server
//! at a time.

use relyard_store::{Db, Row, Tx};

use super::leases::{release_lease, take_lease};
use super::release_scheduled::{enact_release_change, ReleaseOutcome};
use super::rules::{create_rule_in, delete_rule_in, get_rule_in, update_rule_in};
use super::sc_manage::{mark_failed, record_sc, rule_change_json, ScKind};
use super::scheduled::{pending_in, ready_in, ChangeType, ScheduledChange};
use super::{StoreError, StoreResult};
use crate::rules::Rule;

/// The lease [`enact_due`] takes, so one server at a time enacts.
pub const ENACT_LEASE: &str = "enact_scheduled_changes";

/// How long a server holds [`ENACT_LEASE`] if it dies before giving it back.
const ENACT_LEASE_MS: i64 = 60_000;

/// What one [`enact_due`] run did, by sc_id.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnactReport {
    /// False when another server held the lease: this run did nothing.
    pub leased: bool,
    pub enacted: Vec<i64>,
    /// Refused for good and marked failed (the target moved on since scheduling).
    pub failed: Vec<i64>,
    /// Due but still missing sign-offs.
    pub waiting: Vec<i64>,
    /// The same for scheduled release changes (their sc_ids are their own).
    pub releases_enacted: Vec<i64>,
    pub releases_failed: Vec<i64>,
    pub releases_waiting: Vec<i64>,
}

pub(super) enum Outcome {
    Enacted,
    Failed,
    Waiting,
    /// Enacted or failed meanwhile by someone else.
    Gone,
}

/// Enacts every pending change (rules first, then releases) whose `when` ≤ `now_ms` and that has its sign-offs, each in its
/// own transaction: the rule change (with its history row, changed_by = who scheduled it) and
/// the change's `complete` flag commit together. Runs only while `holder` holds
/// [`ENACT_LEASE`]. A change whose target's data_version moved on since it was scheduled is
/// marked failed, not left: the version only grows, so it could never apply, and leaving it
/// would retry it on every run while hiding it from whoever must reschedule it.
pub async fn enact_due(db: &Db, holder: &str, now_ms: i64) -> StoreResult<EnactReport> {
    if !take_lease(db, ENACT_LEASE, holder, now_ms, ENACT_LEASE_MS).await? {
        return Ok(EnactReport::default());
    }
    let result = enact_leased(db, now_ms).await;
    // Given back even after an error, so the next run need not wait for the lease to expire.
    release_lease(db, ENACT_LEASE, holder).await?;
    result
}

async fn enact_leased(db: &Db, now_ms: i64) -> StoreResult<EnactReport> {
    let due = sqlx::query(
        "SELECT sc_id FROM updates_rules_scheduled_changes \
         WHERE complete = 0 AND failed IS NULL AND \"when\" <= $1 ORDER BY \"when\", sc_id",
    )
    .bind(now_ms)
    .fetch_all(db.reader())
    .await?;
    let mut report = EnactReport {
        leased: true,
        ..EnactReport::default()
    };
    for row in due {
        let sc_id: i64 = row.try_get("sc_id")?;
        match enact_one(db, sc_id, now_ms).await? {
            Outcome::Enacted => report.enacted.push(sc_id),
            Outcome::Failed => report.failed.push(sc_id),
            Outcome::Waiting => report.waiting.push(sc_id),
            Outcome::Gone => {}
        }
    }
    let due = sqlx::query(
        "SELECT sc_id FROM updates_releases_scheduled_changes \
         WHERE complete = 0 AND failed IS NULL AND \"when\" <= $1 ORDER BY \"when\", sc_id",
    )
    .bind(now_ms)
    .fetch_all(db.reader())
    .await?;
    for row in due {
        let sc_id: i64 = row.try_get("sc_id")?;
        match enact_release_change(db, sc_id, now_ms).await? {
            ReleaseOutcome::Enacted => report.releases_enacted.push(sc_id),
            ReleaseOutcome::Failed => report.releases_failed.push(sc_id),
            ReleaseOutcome::Waiting => report.releases_waiting.push(sc_id),
            ReleaseOutcome::Gone => {}
        }
    }
    Ok(report)
}

pub(super) async fn enact_one(db: &Db, sc_id: i64, now_ms: i64) -> StoreResult<Outcome> {
    let mut tx = db.begin().await?;
    // Locked and re-checked here, so even without the lease a change is enacted once.
    let sc = match pending_in(db, &mut tx, sc_id).await {
        Err(StoreError::NotPending(_)) => return Ok(Outcome::Gone),
        other => other?,
    };
    if sc.when > now_ms {
        return Ok(Outcome::Waiting);
    }
    if let Some(reason) = stale(&mut tx, &sc).await? {
        drop(tx);
        return fail(db, sc_id, &reason).await;
    }
    if !ready_in(&mut tx, &sc).await? {
        return Ok(Outcome::Waiting);
    }
    match apply(db, &mut tx, &sc).await {
        Ok(()) => {}
        // A refusal of the change itself (e.g. an insert whose rule_id or alias is taken) is
        // final; the transaction may be aborted (PostgreSQL), so the mark goes in a new one.
        Err(
            e @ (StoreError::Conflict { .. }
            | StoreError::NotFound { .. }
            | StoreError::Exists { .. }),
        ) => {
            drop(tx);
            return fail(db, sc_id, &e.to_string()).await;
        }
        Err(e) => return Err(e),
    }
    sqlx::query(
        "UPDATE updates_rules_scheduled_changes SET complete = 1, data_version = data_version + 1 \
         WHERE sc_id = $1 AND complete = 0",
    )
    .bind(sc_id)
    .execute(&mut *tx)
    .await?;
    let done = ScheduledChange {
        complete: true,
        data_version: sc.data_version + 1,
        ..sc.clone()
    };
    let row = rule_change_json(&done);
    let (by, version) = (sc.scheduled_by.as_str(), Some(done.data_version));
    record_sc(&mut tx, ScKind::Rules, sc_id, by, version, Some(&row)).await?;
    tx.commit().await?;
    Ok(Outcome::Enacted)
}

/// Why an update or delete no longer fits its target, if it does not.
async fn stale(tx: &mut Tx, sc: &ScheduledChange) -> StoreResult<Option<String>> {
    let (Some(rule_id), Some(base)) = (sc.rule_id, sc.base_data_version) else {
        return Ok(None);
    };
    Ok(match get_rule_in(tx, rule_id).await? {
        None => Some(format!("rule {rule_id} no longer exists")),
        Some(r) if r.data_version != base => Some(format!(
            "rule {rule_id} is at data_version {}, the change was based on {base}",
            r.data_version
        )),
        Some(_) => None,
    })
}

async fn apply(db: &Db, tx: &mut Tx, sc: &ScheduledChange) -> StoreResult<()> {
    let by = sc.scheduled_by.as_str();
    let new_row = || {
        sc.new_row
            .as_ref()
            .ok_or_else(|| StoreError::corrupt(format!("scheduled change {} has no row", sc.sc_id)))
    };
    let target = || {
        sc.rule_id.zip(sc.base_data_version).ok_or_else(|| {
            StoreError::corrupt(format!("scheduled change {} has no target", sc.sc_id))
        })
    };
    match sc.change_type {
        ChangeType::Insert => create_rule_in(tx, by, new_row()?).await.map(|_| ()),
        ChangeType::Update => {
            let (_, base) = target()?;
            let rule = Rule {
                data_version: base,
                ..new_row()?.clone()
            };
            update_rule_in(db, tx, by, &rule).await.map(|_| ())
        }
        ChangeType::Delete => {
            let (rule_id, base) = target()?;
            delete_rule_in(db, tx, by, rule_id, base).await
        }
    }
}

/// Marks a pending change failed with its reason, in its own transaction.
async fn fail(db: &Db, sc_id: i64, reason: &str) -> StoreResult<Outcome> {
    Ok(if mark_failed(db, ScKind::Rules, sc_id, reason).await? {
        Outcome::Failed
    } else {
        Outcome::Gone
    })
}
