//! `updates_rules_scheduled_changes`: rule changes waiting for their time and sign-offs, and
//! [`enact_due`], which applies those that are ready.

use relyard_store::{Db, Row, Tx};
use sqlx::any::AnyRow;

use super::leases::{release_lease, take_lease};
use super::rules::{create_rule_in, delete_rule_in, get_rule_in, update_rule_in};
use super::signoffs::{required_in, signoffs_in};
use super::{next_id, StoreError, StoreResult};
use crate::rules::Rule;
use crate::signoffs::is_satisfied;

/// What a scheduled change does to its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Insert,
    Update,
    Delete,
}

impl ChangeType {
    fn as_str(self) -> &'static str {
        match self {
            ChangeType::Insert => "insert",
            ChangeType::Update => "update",
            ChangeType::Delete => "delete",
        }
    }

    fn parse(s: &str) -> StoreResult<ChangeType> {
        match s {
            "insert" => Ok(ChangeType::Insert),
            "update" => Ok(ChangeType::Update),
            "delete" => Ok(ChangeType::Delete),
            other => Err(StoreError::corrupt(format!("change_type {other:?}"))),
        }
    }
}

/// A change to schedule. For an update, `rule` is the whole new row and `rule.data_version`
/// the version it was based on; for a delete, `rule` names the rule_id and data_version; for an
/// insert, `rule` is the new row (rule_id 0 for a fresh id).
#[derive(Debug, Clone, PartialEq)]
pub struct NewChange {
    pub change_type: ChangeType,
    pub rule: Rule,
    /// Milliseconds since the epoch.
    pub when: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledChange {
    pub sc_id: i64,
    pub change_type: ChangeType,
    /// The target rule; None for an insert that asks for a fresh id.
    pub rule_id: Option<i64>,
    /// The whole new row; None for a delete.
    pub new_row: Option<Rule>,
    /// The target's data_version when scheduled; None for an insert.
    pub base_data_version: Option<i64>,
    pub when: i64,
    pub scheduled_by: String,
    pub complete: bool,
    /// Why enacting was refused for good (the target moved on); None otherwise.
    pub failed: Option<String>,
    pub data_version: i64,
}

impl ScheduledChange {
    pub fn is_pending(&self) -> bool {
        !self.complete && self.failed.is_none()
    }
}

const SELECT: &str = "SELECT sc_id, change_type, rule_id, new_row, base_data_version, \"when\", \
                      scheduled_by, complete, failed, data_version \
                      FROM updates_rules_scheduled_changes";

fn from_row(r: &AnyRow) -> StoreResult<ScheduledChange> {
    let new_row: Option<String> = r.try_get("new_row")?;
    let new_row = new_row
        .map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| StoreError::corrupt(format!("scheduled new_row is not a rule: {e}")))?;
    Ok(ScheduledChange {
        sc_id: r.try_get("sc_id")?,
        change_type: ChangeType::parse(&r.try_get::<String, _>("change_type")?)?,
        rule_id: r.try_get("rule_id")?,
        new_row,
        base_data_version: r.try_get("base_data_version")?,
        when: r.try_get("when")?,
        scheduled_by: r.try_get("scheduled_by")?,
        complete: r.try_get::<i64, _>("complete")? != 0,
        failed: r.try_get("failed")?,
        data_version: r.try_get("data_version")?,
    })
}

/// Schedules a rule change. Updates and deletes must name an existing rule at the
/// data_version given, so a change is never based on a row that already moved on.
pub async fn schedule_rule_change(
    db: &Db,
    scheduled_by: &str,
    change: &NewChange,
) -> StoreResult<ScheduledChange> {
    let rule = &change.rule;
    let mut tx = db.begin().await?;
    let (rule_id, new_row, base) = match change.change_type {
        ChangeType::Insert => ((rule.rule_id > 0).then_some(rule.rule_id), Some(rule), None),
        ChangeType::Update | ChangeType::Delete => {
            let Some(current) = get_rule_in(&mut tx, rule.rule_id).await? else {
                return Err(StoreError::NotFound {
                    what: "rule",
                    key: rule.rule_id.to_string(),
                });
            };
            let key = rule.rule_id.to_string();
            super::check_version("rule", &key, rule.data_version, current.data_version)?;
            let new_row = (change.change_type == ChangeType::Update).then_some(rule);
            (Some(rule.rule_id), new_row, Some(rule.data_version))
        }
    };
    let new_json = new_row
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::InvalidChange(format!("rule to JSON: {e}")))?;
    let sc_id = next_id(&mut tx, "updates_rules_scheduled_changes").await?;
    sqlx::query(
        "INSERT INTO updates_rules_scheduled_changes (sc_id, change_type, rule_id, new_row, \
         base_data_version, \"when\", scheduled_by, complete, failed, data_version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, 1)",
    )
    .bind(sc_id)
    .bind(change.change_type.as_str())
    .bind(rule_id)
    .bind(new_json)
    .bind(base)
    .bind(change.when)
    .bind(scheduled_by)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ScheduledChange {
        sc_id,
        change_type: change.change_type,
        rule_id,
        new_row: new_row.cloned(),
        base_data_version: base,
        when: change.when,
        scheduled_by: scheduled_by.into(),
        complete: false,
        failed: None,
        data_version: 1,
    })
}

pub async fn get_scheduled_change(db: &Db, sc_id: i64) -> StoreResult<Option<ScheduledChange>> {
    let row = sqlx::query(&format!("{SELECT} WHERE sc_id = $1"))
        .bind(sc_id)
        .fetch_optional(db.reader())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The change, locked, if it is still pending; sign-offs and enactment go through here so a
/// change cannot be signed while it is being enacted.
pub(super) async fn pending_in(db: &Db, tx: &mut Tx, sc_id: i64) -> StoreResult<ScheduledChange> {
    let row = sqlx::query(&format!("{SELECT} WHERE sc_id = $1{}", db.for_update()))
        .bind(sc_id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound {
            what: "scheduled change",
            key: sc_id.to_string(),
        });
    };
    let sc = from_row(&row)?;
    if !sc.is_pending() {
        return Err(StoreError::NotPending(sc_id));
    }
    Ok(sc)
}

/// Whether a change has every sign-off its rule (before and after) needs.
pub async fn is_ready(db: &Db, sc_id: i64) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    let sc = pending_in(db, &mut tx, sc_id).await?;
    let ready = ready_in(&mut tx, &sc).await?;
    tx.rollback().await?;
    Ok(ready)
}

async fn ready_in(tx: &mut Tx, sc: &ScheduledChange) -> StoreResult<bool> {
    let current = match sc.rule_id {
        Some(id) => get_rule_in(tx, id).await?,
        None => None,
    };
    let rules: Vec<&Rule> = current.iter().chain(sc.new_row.iter()).collect();
    let required = required_in(tx, &rules).await?;
    let signed = signoffs_in(tx, sc.sc_id).await?;
    Ok(is_satisfied(&required, &signed))
}

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
}

enum Outcome {
    Enacted,
    Failed,
    Waiting,
    /// Enacted or failed meanwhile by someone else.
    Gone,
}

/// Enacts every pending change whose `when` ≤ `now_ms` and that has its sign-offs, each in its
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
    Ok(report)
}

async fn enact_one(db: &Db, sc_id: i64, now_ms: i64) -> StoreResult<Outcome> {
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
    let done = sqlx::query(
        "UPDATE updates_rules_scheduled_changes SET failed = $1, data_version = data_version + 1 \
         WHERE sc_id = $2 AND complete = 0 AND failed IS NULL",
    )
    .bind(reason)
    .bind(sc_id)
    .execute(db.writer())
    .await?;
    Ok(if done.rows_affected() == 1 {
        Outcome::Failed
    } else {
        Outcome::Gone
    })
}
