//! `updates_releases_scheduled_changes` (migration 6003): release changes waiting for their
//! time and sign-offs. A release needs the sign-offs that protect the rules mapping (or
//! falling back) to it, as Balrog derives a release's required sign-offs from its rules.

use relyard_store::{Db, Row, Tx};
use serde_json::{json, Value};
use sqlx::any::AnyRow;

use super::releases::{
    create_release_in, delete_release_in, get_release, set_read_only_in, update_release_with_in,
};
use super::sc_manage::{clear_signoffs, mark_failed, pending_version_in, record_sc, ScKind};
use super::scheduled::ChangeType;
use super::signoffs::signoffs_of_kind_in;
use super::{check_version, next_id, StoreError, StoreResult};
use crate::blobs::Release;
use crate::rules::Rule;
use crate::signoffs::{is_satisfied, required_for, Required, Signoff};

/// A release change to schedule: an insert names `product` and `data`; an update names
/// `data` and/or `read_only` and the `base_data_version` read; a delete the
/// `base_data_version`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReleaseChange {
    pub change_type: ChangeType,
    pub name: String,
    pub product: Option<String>,
    pub data: Option<Value>,
    pub read_only: Option<bool>,
    pub base_data_version: Option<i64>,
    pub when: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseChange {
    pub sc_id: i64,
    pub change: NewReleaseChange,
    pub scheduled_by: String,
    pub complete: bool,
    pub failed: Option<String>,
    pub data_version: i64,
}

impl ReleaseChange {
    pub fn is_pending(&self) -> bool {
        !self.complete && self.failed.is_none()
    }

    /// The change as the admin API and history show it.
    pub fn to_json(&self) -> Value {
        let c = &self.change;
        json!({
            "sc_id": self.sc_id,
            "change_type": change_type_str(c.change_type),
            "name": c.name,
            "product": c.product,
            "data": c.data,
            "read_only": c.read_only,
            "data_version": c.base_data_version,
            "when": c.when,
            "scheduled_by": self.scheduled_by,
            "complete": self.complete,
            "failed": self.failed,
            "sc_data_version": self.data_version,
        })
    }
}

fn change_type_str(t: ChangeType) -> &'static str {
    match t {
        ChangeType::Insert => "insert",
        ChangeType::Update => "update",
        ChangeType::Delete => "delete",
    }
}

const SELECT: &str = "SELECT sc_id, change_type, name, product, data, read_only, \
                      base_data_version, \"when\", scheduled_by, complete, failed, data_version \
                      FROM updates_releases_scheduled_changes";

fn from_row(r: &AnyRow) -> StoreResult<ReleaseChange> {
    let data: Option<String> = r.try_get("data")?;
    let data = data
        .map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| StoreError::corrupt(format!("scheduled release data is not JSON: {e}")))?;
    let change_type = match r.try_get::<String, _>("change_type")?.as_str() {
        "insert" => ChangeType::Insert,
        "update" => ChangeType::Update,
        "delete" => ChangeType::Delete,
        other => return Err(StoreError::corrupt(format!("change_type {other:?}"))),
    };
    Ok(ReleaseChange {
        sc_id: r.try_get("sc_id")?,
        change: NewReleaseChange {
            change_type,
            name: r.try_get("name")?,
            product: r.try_get("product")?,
            data,
            read_only: r.try_get::<Option<i64>, _>("read_only")?.map(|v| v != 0),
            base_data_version: r.try_get("base_data_version")?,
            when: r.try_get("when")?,
        },
        scheduled_by: r.try_get("scheduled_by")?,
        complete: r.try_get::<i64, _>("complete")? != 0,
        failed: r.try_get("failed")?,
        data_version: r.try_get("data_version")?,
    })
}

fn invalid(msg: &str) -> StoreError {
    StoreError::InvalidChange(msg.to_string())
}

/// Schedules a release change: an insert must name a release that does not exist yet, an
/// update or delete one at `base_data_version`; blobs are checked now, not at enactment.
pub async fn schedule_release_change(
    db: &Db,
    scheduled_by: &str,
    change: &NewReleaseChange,
) -> StoreResult<ReleaseChange> {
    if let Some(data) = &change.data {
        Release::from_json(data.clone()).map_err(|e| StoreError::InvalidBlob(e.to_string()))?;
    }
    let current = get_release(db, &change.name).await?;
    match (change.change_type, &current) {
        (ChangeType::Insert, Some(_)) => {
            return Err(StoreError::Exists {
                what: "release",
                key: change.name.clone(),
            })
        }
        (ChangeType::Insert, None) if change.product.is_none() || change.data.is_none() => {
            return Err(invalid("an insert needs product and data"))
        }
        (ChangeType::Update | ChangeType::Delete, None) => {
            return Err(StoreError::NotFound {
                what: "release",
                key: change.name.clone(),
            })
        }
        (ChangeType::Update | ChangeType::Delete, Some(r)) => {
            let base = change
                .base_data_version
                .ok_or_else(|| invalid("data_version is missing"))?;
            check_version("release", &change.name, base, r.data_version)?;
            if change.change_type == ChangeType::Update
                && change.data.is_none()
                && change.read_only.is_none()
            {
                return Err(invalid("an update needs data or read_only"));
            }
        }
        _ => {}
    }
    let mut tx = db.begin().await?;
    let pending = sqlx::query(&format!(
        "SELECT sc_id FROM updates_releases_scheduled_changes \
         WHERE name = $1 AND complete = 0 AND failed IS NULL{}",
        db.for_update()
    ))
    .bind(change.name.clone())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = pending {
        return Err(StoreError::AlreadyScheduled {
            what: "release",
            key: change.name.clone(),
            sc_id: row.try_get("sc_id")?,
        });
    }
    let sc_id = next_id(&mut tx, "updates_releases_scheduled_changes").await?;
    sqlx::query(
        "INSERT INTO updates_releases_scheduled_changes (sc_id, change_type, name, product, \
         data, read_only, base_data_version, \"when\", scheduled_by, complete, failed, \
         data_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, NULL, 1)",
    )
    .bind(sc_id)
    .bind(change_type_str(change.change_type))
    .bind(change.name.clone())
    .bind(change.product.clone())
    .bind(change.data.as_ref().map(Value::to_string))
    .bind(change.read_only.map(i64::from))
    .bind(change.base_data_version)
    .bind(change.when)
    .bind(scheduled_by)
    .execute(&mut *tx)
    .await?;
    let sc = ReleaseChange {
        sc_id,
        change: change.clone(),
        scheduled_by: scheduled_by.to_string(),
        complete: false,
        failed: None,
        data_version: 1,
    };
    let row = sc.to_json();
    record_sc(
        &mut tx,
        ScKind::Releases,
        sc_id,
        scheduled_by,
        Some(1),
        Some(&row),
    )
    .await?;
    tx.commit().await?;
    Ok(sc)
}

pub async fn get_release_change(db: &Db, sc_id: i64) -> StoreResult<Option<ReleaseChange>> {
    let row = sqlx::query(&format!("{SELECT} WHERE sc_id = $1"))
        .bind(sc_id)
        .fetch_optional(db.reader())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Pending release changes (all with `include_done`), by sc_id.
pub async fn list_release_changes(db: &Db, include_done: bool) -> StoreResult<Vec<ReleaseChange>> {
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

/// New data, read_only, base data_version and time for a pending change still at
/// `sc_data_version`; sign-offs given so far are dropped.
pub async fn edit_release_change(
    db: &Db,
    changed_by: &str,
    sc_id: i64,
    sc_data_version: i64,
    edit: &NewReleaseChange,
) -> StoreResult<ReleaseChange> {
    if let Some(data) = &edit.data {
        Release::from_json(data.clone()).map_err(|e| StoreError::InvalidBlob(e.to_string()))?;
    }
    let mut tx = db.begin().await?;
    let current = pending_version_in(db, &mut tx, ScKind::Releases, sc_id).await?;
    check_version(
        "scheduled change",
        &sc_id.to_string(),
        sc_data_version,
        current,
    )?;
    sqlx::query(
        "UPDATE updates_releases_scheduled_changes SET data = $1, read_only = $2, \
         base_data_version = $3, \"when\" = $4, data_version = $5 WHERE sc_id = $6",
    )
    .bind(edit.data.as_ref().map(Value::to_string))
    .bind(edit.read_only.map(i64::from))
    .bind(edit.base_data_version)
    .bind(edit.when)
    .bind(current + 1)
    .bind(sc_id)
    .execute(&mut *tx)
    .await?;
    clear_signoffs(&mut tx, ScKind::Releases, sc_id).await?;
    let row = sqlx::query(&format!("{SELECT} WHERE sc_id = $1"))
        .bind(sc_id)
        .fetch_one(&mut *tx)
        .await?;
    let sc = from_row(&row)?;
    let json = sc.to_json();
    record_sc(
        &mut tx,
        ScKind::Releases,
        sc_id,
        changed_by,
        Some(sc.data_version),
        Some(&json),
    )
    .await?;
    tx.commit().await?;
    Ok(sc)
}

/// The sign-offs of one scheduled change of either kind, by user name.
pub async fn signoffs_of(db: &Db, kind: ScKind, sc_id: i64) -> StoreResult<Vec<Signoff>> {
    let mut conn = db.reader().acquire().await?;
    signoffs_of_kind_in(&mut conn, kind, sc_id).await
}

/// The sign-offs a change to release `name` needs: those protecting the rules that map or
/// fall back to it.
pub(super) async fn release_required_in(tx: &mut Tx, name: &str) -> StoreResult<Required> {
    let rules = super::list_rules_in(tx).await?;
    let using: Vec<&Rule> = rules
        .iter()
        .filter(|r| {
            r.mapping.as_deref() == Some(name) || r.fallback_mapping.as_deref() == Some(name)
        })
        .collect();
    let table = super::signoffs::list_required_in(tx).await?;
    Ok(required_for(&table, using))
}

/// [`release_required_in`] outside a transaction (what the admin API shows).
pub async fn release_required(db: &Db, name: &str) -> StoreResult<Required> {
    let mut tx = db.reader().begin().await?;
    let required = release_required_in(&mut tx, name).await?;
    tx.commit().await?;
    Ok(required)
}

/// How enacting one release change went.
pub(super) enum ReleaseOutcome {
    Enacted,
    Failed,
    Waiting,
    Gone,
}

/// Enacts release change `sc_id` if it is pending, due at `now_ms` and signed off, in one
/// transaction with its `complete` mark; a refusal of the change itself marks it failed.
pub(super) async fn enact_release_change(
    db: &Db,
    sc_id: i64,
    now_ms: i64,
) -> StoreResult<ReleaseOutcome> {
    let mut tx = db.begin().await?;
    let dv = match pending_version_in(db, &mut tx, ScKind::Releases, sc_id).await {
        Err(StoreError::NotPending(_)) => return Ok(ReleaseOutcome::Gone),
        other => other?,
    };
    let row = sqlx::query(&format!("{SELECT} WHERE sc_id = $1"))
        .bind(sc_id)
        .fetch_one(&mut *tx)
        .await?;
    let sc = from_row(&row)?;
    if sc.change.when > now_ms {
        return Ok(ReleaseOutcome::Waiting);
    }
    let required = release_required_in(&mut tx, &sc.change.name).await?;
    let signed = signoffs_of_kind_in(&mut tx, ScKind::Releases, sc_id).await?;
    if !is_satisfied(&required, &signed) {
        return Ok(ReleaseOutcome::Waiting);
    }
    match apply(db, &mut tx, &sc).await {
        Ok(()) => {}
        Err(
            e @ (StoreError::Conflict { .. }
            | StoreError::NotFound { .. }
            | StoreError::Exists { .. }
            | StoreError::ReadOnly(_)
            | StoreError::InUse { .. }
            | StoreError::Pinned { .. }
            | StoreError::InvalidBlob(_)),
        ) => {
            drop(tx);
            return fail(db, sc_id, &e.to_string()).await;
        }
        Err(e) => return Err(e),
    }
    sqlx::query(
        "UPDATE updates_releases_scheduled_changes SET complete = 1, data_version = $1 \
         WHERE sc_id = $2",
    )
    .bind(dv + 1)
    .bind(sc_id)
    .execute(&mut *tx)
    .await?;
    let done = ReleaseChange {
        complete: true,
        data_version: dv + 1,
        ..sc.clone()
    };
    let json = done.to_json();
    record_sc(
        &mut tx,
        ScKind::Releases,
        sc_id,
        &sc.scheduled_by,
        Some(dv + 1),
        Some(&json),
    )
    .await?;
    tx.commit().await?;
    Ok(ReleaseOutcome::Enacted)
}

async fn apply(db: &Db, tx: &mut Tx, sc: &ReleaseChange) -> StoreResult<()> {
    let c = &sc.change;
    let by = sc.scheduled_by.as_str();
    let base = || {
        c.base_data_version
            .ok_or_else(|| invalid("no data_version"))
    };
    match c.change_type {
        ChangeType::Insert => {
            let product = c.product.as_deref().ok_or_else(|| invalid("no product"))?;
            let data = c.data.as_ref().ok_or_else(|| invalid("no data"))?;
            create_release_in(tx, by, &c.name, product, data).await?;
        }
        ChangeType::Update => {
            let mut version = base()?;
            // A read-only release is made writable before its blob changes, and made read-only
            // after.
            if c.read_only == Some(false) {
                version = set_read_only_in(db, tx, by, &c.name, false, version)
                    .await?
                    .data_version;
            }
            if let Some(data) = &c.data {
                let product = c.product.as_deref();
                let data = data.clone();
                let new =
                    update_release_with_in(db, tx, by, &c.name, product, version, |_| Ok(data))
                        .await?;
                version = new.data_version;
            }
            if c.read_only == Some(true) {
                set_read_only_in(db, tx, by, &c.name, true, version).await?;
            }
        }
        ChangeType::Delete => delete_release_in(db, tx, by, &c.name, base()?).await?,
    }
    Ok(())
}

async fn fail(db: &Db, sc_id: i64, reason: &str) -> StoreResult<ReleaseOutcome> {
    Ok(if mark_failed(db, ScKind::Releases, sc_id, reason).await? {
        ReleaseOutcome::Failed
    } else {
        ReleaseOutcome::Gone
    })
}

/// Enacts pending release change `sc_id` now, whatever its time, if it has its sign-offs.
pub async fn enact_release_change_now(db: &Db, sc_id: i64) -> StoreResult<super::Enacted> {
    match enact_release_change(db, sc_id, i64::MAX).await? {
        ReleaseOutcome::Enacted => Ok(super::Enacted::Done),
        ReleaseOutcome::Failed => Ok(super::Enacted::Failed),
        ReleaseOutcome::Waiting => Ok(super::Enacted::NotReady),
        ReleaseOutcome::Gone => Err(StoreError::NotPending(sc_id)),
    }
}
