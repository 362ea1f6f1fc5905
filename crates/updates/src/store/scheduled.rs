//! `updates_rules_scheduled_changes`: rule changes waiting for their time and sign-offs
//! (enacted by [`super::enact_due`]).

use relyard_store::{Db, Row, Tx};
use sqlx::any::AnyRow;

use super::rules::get_rule_in;
use super::sc_manage::{record_sc, rule_change_json, ScKind};
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

pub(super) const SELECT: &str =
    "SELECT sc_id, change_type, rule_id, new_row, base_data_version, \"when\", \
                      scheduled_by, complete, failed, data_version \
                      FROM updates_rules_scheduled_changes";

pub(super) fn from_row(r: &AnyRow) -> StoreResult<ScheduledChange> {
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
            // Locked, so two schedulers of one rule are serialized and the second one sees
            // the first one's change below.
            let current = super::rules::locked(db, &mut tx, rule.rule_id).await?;
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
    if let Some(id) = rule_id {
        let pending = sqlx::query(&format!(
            "SELECT sc_id FROM updates_rules_scheduled_changes \
             WHERE rule_id = $1 AND complete = 0 AND failed IS NULL{}",
            db.for_update()
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = pending {
            return Err(StoreError::AlreadyScheduled {
                what: "rule",
                key: id.to_string(),
                sc_id: row.try_get("sc_id")?,
            });
        }
    }
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
    let sc = ScheduledChange {
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
    };
    let row = rule_change_json(&sc);
    record_sc(
        &mut tx,
        ScKind::Rules,
        sc_id,
        scheduled_by,
        Some(1),
        Some(&row),
    )
    .await?;
    tx.commit().await?;
    Ok(sc)
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

pub(super) async fn ready_in(tx: &mut Tx, sc: &ScheduledChange) -> StoreResult<bool> {
    let current = match sc.rule_id {
        Some(id) => get_rule_in(tx, id).await?,
        None => None,
    };
    let rules: Vec<&Rule> = current.iter().chain(sc.new_row.iter()).collect();
    let required = required_in(tx, &rules).await?;
    let signed = signoffs_in(tx, sc.sc_id).await?;
    Ok(is_satisfied(&required, &signed))
}
