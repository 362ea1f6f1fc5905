//! `updates_rules`: Balrog's rules table, read and written as [`Rule`].

use once_cell::sync::Lazy;
use relyard_store::{Db, Row, Tx};
use serde_json::Value;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use super::history::{record, Subject};
use super::{bump_counter, check_version, next_id, StoreError, StoreResult};
use crate::rules::Rule;

/// The columns in the order [`bind_rule`] binds them; camelCase ones are quoted so PostgreSQL
/// keeps their case.
const COLUMNS: [&str; 23] = [
    "rule_id",
    "alias",
    "priority",
    "mapping",
    "\"fallbackMapping\"",
    "\"backgroundRate\"",
    "update_type",
    "product",
    "version",
    "channel",
    "\"buildTarget\"",
    "\"buildID\"",
    "locale",
    "\"osVersion\"",
    "memory",
    "\"instructionSet\"",
    "jaws",
    "mig64",
    "distribution",
    "\"distVersion\"",
    "\"headerArchitecture\"",
    "comment",
    "data_version",
];

static SELECT: Lazy<String> =
    Lazy::new(|| format!("SELECT {} FROM updates_rules", COLUMNS.join(", ")));

static INSERT: Lazy<String> = Lazy::new(|| {
    let params: Vec<String> = (1..=COLUMNS.len()).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO updates_rules ({}) VALUES ({})",
        COLUMNS.join(", "),
        params.join(", ")
    )
});

/// Sets every column but rule_id; the row must still be at the data_version read.
static UPDATE: Lazy<String> = Lazy::new(|| {
    let sets: Vec<String> = COLUMNS
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    format!(
        "UPDATE updates_rules SET {} WHERE rule_id = $1 AND data_version = ${}",
        sets.join(", "),
        COLUMNS.len() + 1
    )
});

type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

fn bind_rule<'q>(q: AnyQuery<'q>, r: &Rule) -> AnyQuery<'q> {
    q.bind(r.rule_id)
        .bind(r.alias.clone())
        .bind(r.priority)
        .bind(r.mapping.clone())
        .bind(r.fallback_mapping.clone())
        .bind(r.background_rate)
        .bind(r.update_type.clone())
        .bind(r.product.clone())
        .bind(r.version.clone())
        .bind(r.channel.clone())
        .bind(r.build_target.clone())
        .bind(r.build_id.clone())
        .bind(r.locale.clone())
        .bind(r.os_version.clone())
        .bind(r.memory.clone())
        .bind(r.instruction_set.clone())
        .bind(r.jaws.map(i64::from))
        .bind(r.mig64.map(i64::from))
        .bind(r.distribution.clone())
        .bind(r.dist_version.clone())
        .bind(r.header_architecture.clone())
        .bind(r.comment.clone())
        .bind(r.data_version)
}

fn from_row(r: &AnyRow) -> StoreResult<Rule> {
    // Booleans are stored as 0/1 (portable DDL).
    let flag = |col: &str| -> StoreResult<Option<bool>> {
        Ok(r.try_get::<Option<i64>, _>(col)?.map(|v| v != 0))
    };
    Ok(Rule {
        rule_id: r.try_get("rule_id")?,
        alias: r.try_get("alias")?,
        priority: r.try_get("priority")?,
        mapping: r.try_get("mapping")?,
        fallback_mapping: r.try_get("fallbackMapping")?,
        background_rate: r.try_get("backgroundRate")?,
        update_type: r.try_get("update_type")?,
        product: r.try_get("product")?,
        version: r.try_get("version")?,
        channel: r.try_get("channel")?,
        build_target: r.try_get("buildTarget")?,
        build_id: r.try_get("buildID")?,
        locale: r.try_get("locale")?,
        os_version: r.try_get("osVersion")?,
        memory: r.try_get("memory")?,
        instruction_set: r.try_get("instructionSet")?,
        jaws: flag("jaws")?,
        mig64: flag("mig64")?,
        distribution: r.try_get("distribution")?,
        dist_version: r.try_get("distVersion")?,
        header_architecture: r.try_get("headerArchitecture")?,
        comment: r.try_get("comment")?,
        data_version: r.try_get("data_version")?,
    })
}

/// A rule as history stores it: Balrog's column names, as its API returns rules.
pub(super) fn as_json(rule: &Rule) -> StoreResult<Value> {
    serde_json::to_value(rule).map_err(|e| StoreError::corrupt(format!("rule to JSON: {e}")))
}

/// Every rule in rule_id order (the order priority ties are broken in).
pub async fn list_rules(db: &Db) -> StoreResult<Vec<Rule>> {
    list_rules_in(&mut *db.reader().acquire().await?).await
}

/// [`list_rules`] on a given connection (a reload's snapshot).
pub(crate) async fn list_rules_in(conn: &mut AnyConnection) -> StoreResult<Vec<Rule>> {
    let rows = sqlx::query(&format!("{} ORDER BY rule_id", *SELECT))
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get_rule(db: &Db, rule_id: i64) -> StoreResult<Option<Rule>> {
    get_rule_in(&mut *db.reader().acquire().await?, rule_id).await
}

/// [`get_rule`] on a given connection (a scheduled change's transaction).
pub(super) async fn get_rule_in(
    conn: &mut AnyConnection,
    rule_id: i64,
) -> StoreResult<Option<Rule>> {
    let row = sqlx::query(&format!("{} WHERE rule_id = $1", *SELECT))
        .bind(rule_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Inserts a rule at data_version 1. A `rule_id` of 0 or less gets the next free id; a positive
/// one (a rule imported from Balrog) is kept. Returns the stored rule.
pub async fn create_rule(db: &Db, changed_by: &str, rule: &Rule) -> StoreResult<Rule> {
    let mut tx = db.begin().await?;
    let new = create_rule_in(&mut tx, changed_by, rule).await?;
    tx.commit().await?;
    Ok(new)
}

/// [`create_rule`] inside the caller's transaction (an enacted scheduled change).
pub(super) async fn create_rule_in(
    tx: &mut Tx,
    changed_by: &str,
    rule: &Rule,
) -> StoreResult<Rule> {
    let mut new = rule.clone();
    new.data_version = 1;
    if new.rule_id <= 0 {
        new.rule_id = next_id(tx, "updates_rules").await?;
    } else {
        bump_counter(tx, "updates_rules", new.rule_id).await?;
    }
    bind_rule(sqlx::query(&INSERT), &new)
        .execute(&mut **tx)
        .await
        .map_err(|e| StoreError::from(e).exists_if_unique("rule", new.rule_id.to_string()))?;
    let new_json = as_json(&new)?;
    let subject = Subject::Rule(new.rule_id);
    record(tx, subject, changed_by, None, Some(&new_json), Some(1)).await?;
    Ok(new)
}

/// Replaces every column of rule `rule.rule_id`; `rule.data_version` is the version the writer
/// read. Returns the stored rule at its new data_version.
pub async fn update_rule(db: &Db, changed_by: &str, rule: &Rule) -> StoreResult<Rule> {
    let mut tx = db.begin().await?;
    let new = update_rule_in(db, &mut tx, changed_by, rule).await?;
    tx.commit().await?;
    Ok(new)
}

/// [`update_rule`] as the admin API makes it: pending scheduled changes of the rule are
/// carried along (Balrog's `mergeUpdate`): the columns this change sets are set in them too
/// and they are rebased on the new data_version, unless one of them changes the same column
/// (`ScheduledConflict`, nothing changes). (Plain `update_rule` leaves them, to fail as stale.)
pub async fn update_rule_merging(db: &Db, changed_by: &str, rule: &Rule) -> StoreResult<Rule> {
    let mut tx = db.begin().await?;
    let old = locked(db, &mut tx, rule.rule_id).await?;
    let new = update_rule_in(db, &mut tx, changed_by, rule).await?;
    super::sc_manage::merge_into_scheduled(db, &mut tx, &as_json(&old)?, &new).await?;
    tx.commit().await?;
    Ok(new)
}

/// [`update_rule`] inside the caller's transaction (an enacted scheduled change).
pub(super) async fn update_rule_in(
    db: &Db,
    tx: &mut Tx,
    changed_by: &str,
    rule: &Rule,
) -> StoreResult<Rule> {
    let old = locked(db, tx, rule.rule_id).await?;
    let key = rule.rule_id.to_string();
    check_version("rule", &key, rule.data_version, old.data_version)?;
    let mut new = rule.clone();
    new.data_version = old.data_version + 1;
    let done = bind_rule(sqlx::query(&UPDATE), &new)
        .bind(old.data_version)
        .execute(&mut **tx)
        .await
        .map_err(|e| StoreError::from(e).exists_if_unique("rule alias", key.clone()))?;
    // The row is locked, so this only fails if something bypassed the lock; refuse all the same.
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict {
            what: "rule",
            key,
            given: rule.data_version,
            current: old.data_version,
        });
    }
    let (old_json, new_json) = (as_json(&old)?, as_json(&new)?);
    let subject = Subject::Rule(new.rule_id);
    let version = Some(new.data_version);
    record(
        tx,
        subject,
        changed_by,
        Some(&old_json),
        Some(&new_json),
        version,
    )
    .await?;
    Ok(new)
}

/// Deletes a rule if it is still at `data_version`; its history stays.
pub async fn delete_rule(
    db: &Db,
    changed_by: &str,
    rule_id: i64,
    data_version: i64,
) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    delete_rule_in(db, &mut tx, changed_by, rule_id, data_version).await?;
    tx.commit().await?;
    Ok(())
}

/// [`delete_rule`] inside the caller's transaction (an enacted scheduled change).
pub(super) async fn delete_rule_in(
    db: &Db,
    tx: &mut Tx,
    changed_by: &str,
    rule_id: i64,
    data_version: i64,
) -> StoreResult<()> {
    let old = locked(db, tx, rule_id).await?;
    let key = rule_id.to_string();
    check_version("rule", &key, data_version, old.data_version)?;
    sqlx::query("DELETE FROM updates_rules WHERE rule_id = $1 AND data_version = $2")
        .bind(rule_id)
        .bind(data_version)
        .execute(&mut **tx)
        .await?;
    let old_json = as_json(&old)?;
    record(
        tx,
        Subject::Rule(rule_id),
        changed_by,
        Some(&old_json),
        None,
        None,
    )
    .await?;
    Ok(())
}

/// The current row, locked for the rest of the transaction.
pub(super) async fn locked(db: &Db, tx: &mut Tx, rule_id: i64) -> StoreResult<Rule> {
    let row = sqlx::query(&format!(
        "{} WHERE rule_id = $1{}",
        *SELECT,
        db.for_update()
    ))
    .bind(rule_id)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(r) => from_row(&r),
        None => Err(StoreError::NotFound {
            what: "rule",
            key: rule_id.to_string(),
        }),
    }
}

/// A rule by its id (a number) or its alias, as Balrog's `/rules/<id_or_alias>` looks it up.
pub async fn find_rule(db: &Db, id_or_alias: &str) -> StoreResult<Option<Rule>> {
    if let Ok(id) = id_or_alias.parse::<i64>() {
        return get_rule(db, id).await;
    }
    let row = sqlx::query(&format!("{} WHERE alias = $1", *SELECT))
        .bind(id_or_alias)
        .fetch_optional(db.reader())
        .await?;
    row.as_ref().map(from_row).transpose()
}
