//! The history tables of rules, releases, pins, emergency shutoffs and required sign-offs
//! (`updates_*_history`): one row per change, insert-only.

use relyard_core::Timestamp;
use relyard_store::{Db, Row, Tx};
use serde_json::Value;
use sqlx::any::AnyRow;

use super::{next_id, StoreError, StoreResult};
use crate::answer::PinnableRelease;
use crate::rules::EmergencyShutoff;

/// One recorded change. `old` is None for a creation, `new` None for a deletion; both are the
/// whole row as JSON (a rule in Balrog's column names, a release as [`super::StoredRelease`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub change_id: i64,
    pub changed_by: String,
    pub timestamp: Timestamp,
    /// The row's data_version after the change; None for a deletion.
    pub data_version: Option<i64>,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// What a change is about: the history table and key column follow from it.
pub(super) enum Subject<'a> {
    Rule(i64),
    Release(&'a str),
    /// Keyed by its product, channel and version.
    Pin(&'a PinnableRelease),
    Shutoff(&'a EmergencyShutoff),
    RequiredSignoff {
        product: &'a str,
        channel: &'a str,
        role: &'a str,
    },
}

/// Appends the history row of a change, inside the change's transaction.
pub(super) async fn record(
    tx: &mut Tx,
    subject: Subject<'_>,
    changed_by: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    data_version: Option<i64>,
) -> StoreResult<()> {
    let (table, keys): (&str, &[&str]) = match subject {
        Subject::Rule(_) => ("updates_rules_history", &["rule_id"]),
        Subject::Release(_) => ("updates_releases_history", &["name"]),
        Subject::Pin(_) => (
            "updates_pinnable_releases_history",
            &["product", "channel", "version"],
        ),
        Subject::Shutoff(_) => (
            "updates_emergency_shutoffs_history",
            &["product", "channel"],
        ),
        Subject::RequiredSignoff { .. } => (
            "updates_product_req_signoffs_history",
            &["product", "channel", "role"],
        ),
    };
    // change_id, the keys, then the five columns every history table has.
    let placeholders: Vec<String> = (1..=keys.len() + 6).map(|n| format!("${n}")).collect();
    let change_id = next_id(tx, table).await?;
    let sql = format!(
        "INSERT INTO {table} (change_id, {}, changed_by, timestamp, data_version, old_row, \
         new_row) VALUES ({})",
        keys.join(", "),
        placeholders.join(", ")
    );
    let query = sqlx::query(&sql).bind(change_id);
    let query = match subject {
        Subject::Rule(id) => query.bind(id),
        Subject::Release(name) => query.bind(name.to_string()),
        Subject::Pin(pin) => query
            .bind(pin.product.clone())
            .bind(pin.channel.clone())
            .bind(pin.version.clone()),
        Subject::Shutoff(off) => query.bind(off.product.clone()).bind(off.channel.clone()),
        Subject::RequiredSignoff {
            product,
            channel,
            role,
        } => query
            .bind(product.to_string())
            .bind(channel.to_string())
            .bind(role.to_string()),
    };
    query
        .bind(changed_by)
        .bind(Timestamp::now().millis())
        .bind(data_version)
        .bind(old.map(Value::to_string))
        .bind(new.map(Value::to_string))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Every change of one rule, oldest first (deleted rules keep theirs).
pub async fn rule_history(db: &Db, rule_id: i64) -> StoreResult<Vec<HistoryRow>> {
    let rows = sqlx::query(
        "SELECT change_id, changed_by, timestamp, data_version, old_row, new_row \
         FROM updates_rules_history WHERE rule_id = $1 ORDER BY change_id",
    )
    .bind(rule_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Every change of one release, oldest first (deleted releases keep theirs).
pub async fn release_history(db: &Db, name: &str) -> StoreResult<Vec<HistoryRow>> {
    history_where(db, "updates_releases_history", &[("name", name)]).await
}

/// Every change of one pin, oldest first.
pub async fn pin_history(
    db: &Db,
    product: &str,
    channel: &str,
    version: &str,
) -> StoreResult<Vec<HistoryRow>> {
    let keys = [
        ("product", product),
        ("channel", channel),
        ("version", version),
    ];
    history_where(db, "updates_pinnable_releases_history", &keys).await
}

/// Every change of the emergency shutoff of one product and channel, oldest first.
pub async fn shutoff_history(
    db: &Db,
    product: &str,
    channel: &str,
) -> StoreResult<Vec<HistoryRow>> {
    let keys = [("product", product), ("channel", channel)];
    history_where(db, "updates_emergency_shutoffs_history", &keys).await
}

/// Every change of one required sign-off (product, channel, role), oldest first.
pub async fn required_signoff_history(
    db: &Db,
    product: &str,
    channel: &str,
    role: &str,
) -> StoreResult<Vec<HistoryRow>> {
    let keys = [("product", product), ("channel", channel), ("role", role)];
    history_where(db, "updates_product_req_signoffs_history", &keys).await
}

/// The rows of `table` whose text key columns have the given values, oldest first.
async fn history_where(
    db: &Db,
    table: &str,
    keys: &[(&str, &str)],
) -> StoreResult<Vec<HistoryRow>> {
    let conditions: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, (col, _))| format!("{col} = ${}", i + 1))
        .collect();
    let sql = format!(
        "SELECT change_id, changed_by, timestamp, data_version, old_row, new_row FROM {table} \
         WHERE {} ORDER BY change_id",
        conditions.join(" AND ")
    );
    let mut query = sqlx::query(&sql);
    for (_, value) in keys {
        query = query.bind(value.to_string());
    }
    let rows = query.fetch_all(db.reader()).await?;
    rows.iter().map(from_row).collect()
}

/// Every change of every rule, oldest first (Balrog's `/rules/history`).
pub async fn all_rule_history(db: &Db) -> StoreResult<Vec<HistoryRow>> {
    let rows = sqlx::query(
        "SELECT change_id, changed_by, timestamp, data_version, old_row, new_row \
         FROM updates_rules_history ORDER BY change_id",
    )
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(from_row).collect()
}

fn from_row(r: &AnyRow) -> StoreResult<HistoryRow> {
    let json = |col: &str| -> StoreResult<Option<Value>> {
        let text: Option<String> = r.try_get(col)?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::corrupt(format!("history {col} is not JSON: {e}")))
        })
        .transpose()
    };
    Ok(HistoryRow {
        change_id: r.try_get("change_id")?,
        changed_by: r.try_get("changed_by")?,
        timestamp: Timestamp::from_millis(r.try_get("timestamp")?),
        data_version: r.try_get("data_version")?,
        old: json("old_row")?,
        new: json("new_row")?,
    })
}
