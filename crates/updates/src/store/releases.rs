//! `updates_releases`: release blobs by the name rules map to, with Balrog's read_only flag.

use relyard_store::{Db, Row, Tx};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::history::{record, Subject};
use super::{check_version, StoreError, StoreResult};
use crate::blobs::Release;

/// One row of the releases table; `data` is the blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRelease {
    pub name: String,
    pub product: String,
    pub data: Value,
    pub read_only: bool,
    pub data_version: i64,
}

const SELECT: &str = "SELECT name, product, data, read_only, data_version FROM updates_releases";

fn from_row(r: &AnyRow) -> StoreResult<StoredRelease> {
    let name: String = r.try_get("name")?;
    let text: String = r.try_get("data")?;
    let data = serde_json::from_str(&text)
        .map_err(|e| StoreError::corrupt(format!("release {name}: data is not JSON: {e}")))?;
    Ok(StoredRelease {
        product: r.try_get("product")?,
        data,
        read_only: r.try_get::<i64, _>("read_only")? != 0,
        data_version: r.try_get("data_version")?,
        name,
    })
}

fn as_json(r: &StoredRelease) -> StoreResult<Value> {
    serde_json::to_value(r).map_err(|e| StoreError::corrupt(format!("release to JSON: {e}")))
}

/// Only blobs the public endpoints can parse are stored, so loading the catalog cannot fail on
/// what a writer put there.
fn validate(data: &Value) -> StoreResult<()> {
    Release::from_json(data.clone())
        .map(|_| ())
        .map_err(|e| StoreError::InvalidBlob(e.to_string()))
}

/// Every release in name order.
pub async fn list_releases(db: &Db) -> StoreResult<Vec<StoredRelease>> {
    list_releases_in(&mut *db.reader().acquire().await?).await
}

/// [`list_releases`] on a given connection (a reload's snapshot).
pub(crate) async fn list_releases_in(conn: &mut AnyConnection) -> StoreResult<Vec<StoredRelease>> {
    let rows = sqlx::query(&format!("{SELECT} ORDER BY name"))
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get_release(db: &Db, name: &str) -> StoreResult<Option<StoredRelease>> {
    let row = sqlx::query(&format!("{SELECT} WHERE name = $1"))
        .bind(name)
        .fetch_optional(db.reader())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Inserts a writable release at data_version 1.
pub async fn create_release(
    db: &Db,
    changed_by: &str,
    name: &str,
    product: &str,
    data: &Value,
) -> StoreResult<StoredRelease> {
    let mut tx = db.begin().await?;
    let new = create_release_in(&mut tx, changed_by, name, product, data).await?;
    tx.commit().await?;
    Ok(new)
}

/// [`create_release`] inside the caller's transaction (an enacted scheduled change).
pub(super) async fn create_release_in(
    tx: &mut Tx,
    changed_by: &str,
    name: &str,
    product: &str,
    data: &Value,
) -> StoreResult<StoredRelease> {
    validate(data)?;
    let new = StoredRelease {
        name: name.to_string(),
        product: product.to_string(),
        data: data.clone(),
        read_only: false,
        data_version: 1,
    };
    sqlx::query(
        "INSERT INTO updates_releases (name, product, data, read_only, data_version) \
         VALUES ($1, $2, $3, 0, 1)",
    )
    .bind(name)
    .bind(product)
    .bind(data.to_string())
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::from(e).exists_if_unique("release", name))?;
    let new_json = as_json(&new)?;
    let subject = Subject::Release(name);
    record(tx, subject, changed_by, None, Some(&new_json), Some(1)).await?;
    Ok(new)
}

/// Replaces the product and blob of a writable release still at `data_version`.
pub async fn update_release(
    db: &Db,
    changed_by: &str,
    name: &str,
    product: &str,
    data: &Value,
    data_version: i64,
) -> StoreResult<StoredRelease> {
    validate(data)?;
    let mut tx = db.begin().await?;
    let old = locked(db, &mut tx, name).await?;
    check_version("release", name, data_version, old.data_version)?;
    if old.read_only {
        return Err(StoreError::ReadOnly(name.to_string()));
    }
    let new = StoredRelease {
        product: product.to_string(),
        data: data.clone(),
        data_version: old.data_version + 1,
        ..old.clone()
    };
    write(&mut tx, &new, old.data_version).await?;
    finish(&mut tx, changed_by, &old, Some(&new)).await?;
    tx.commit().await?;
    Ok(new)
}

/// Sets or clears read_only (Balrog's `PUT /releases/{name}/read_only`); a change of its own,
/// with a new data_version and a history row.
pub async fn set_read_only(
    db: &Db,
    changed_by: &str,
    name: &str,
    read_only: bool,
    data_version: i64,
) -> StoreResult<StoredRelease> {
    let mut tx = db.begin().await?;
    let new = set_read_only_in(db, &mut tx, changed_by, name, read_only, data_version).await?;
    tx.commit().await?;
    Ok(new)
}

/// [`set_read_only`] inside the caller's transaction.
pub(super) async fn set_read_only_in(
    db: &Db,
    tx: &mut Tx,
    changed_by: &str,
    name: &str,
    read_only: bool,
    data_version: i64,
) -> StoreResult<StoredRelease> {
    let old = locked(db, tx, name).await?;
    check_version("release", name, data_version, old.data_version)?;
    let new = StoredRelease {
        read_only,
        data_version: old.data_version + 1,
        ..old.clone()
    };
    write(tx, &new, old.data_version).await?;
    finish(tx, changed_by, &old, Some(&new)).await?;
    Ok(new)
}

/// Deletes a writable release still at `data_version` that no rule maps to; its history stays.
pub async fn delete_release(
    db: &Db,
    changed_by: &str,
    name: &str,
    data_version: i64,
) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    delete_release_in(db, &mut tx, changed_by, name, data_version).await?;
    tx.commit().await?;
    Ok(())
}

/// [`delete_release`] inside the caller's transaction.
pub(super) async fn delete_release_in(
    db: &Db,
    tx: &mut Tx,
    changed_by: &str,
    name: &str,
    data_version: i64,
) -> StoreResult<()> {
    let old = locked(db, tx, name).await?;
    check_version("release", name, data_version, old.data_version)?;
    if old.read_only {
        return Err(StoreError::ReadOnly(name.to_string()));
    }
    let user = sqlx::query(
        "SELECT rule_id FROM updates_rules WHERE mapping = $1 OR \"fallbackMapping\" = $2 \
         ORDER BY rule_id LIMIT 1",
    )
    .bind(name)
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = user {
        return Err(StoreError::InUse {
            release: name.to_string(),
            rule_id: row.try_get("rule_id")?,
        });
    }
    let pin = sqlx::query(
        "SELECT product, channel, version FROM updates_pinnable_releases WHERE mapping = $1 \
         ORDER BY product, channel, version LIMIT 1",
    )
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = pin {
        let (product, channel, version): (String, String, String) = (
            row.try_get("product")?,
            row.try_get("channel")?,
            row.try_get("version")?,
        );
        return Err(StoreError::Pinned {
            release: name.to_string(),
            pin: format!("{product}/{channel}/{version}"),
        });
    }
    sqlx::query("DELETE FROM updates_releases WHERE name = $1 AND data_version = $2")
        .bind(name)
        .bind(data_version)
        .execute(&mut **tx)
        .await?;
    finish(tx, changed_by, &old, None).await
}

async fn write(tx: &mut Tx, new: &StoredRelease, old_version: i64) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE updates_releases SET product = $1, data = $2, read_only = $3, data_version = $4 \
         WHERE name = $5 AND data_version = $6",
    )
    .bind(new.product.clone())
    .bind(new.data.to_string())
    .bind(i64::from(new.read_only))
    .bind(new.data_version)
    .bind(new.name.clone())
    .bind(old_version)
    .execute(&mut **tx)
    .await?;
    // The row is locked, so this only fails if something bypassed the lock; refuse all the same.
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict {
            what: "release",
            key: new.name.clone(),
            given: old_version,
            current: old_version,
        });
    }
    Ok(())
}

/// Records the change in its transaction.
async fn finish(
    tx: &mut Tx,
    changed_by: &str,
    old: &StoredRelease,
    new: Option<&StoredRelease>,
) -> StoreResult<()> {
    let old_json = as_json(old)?;
    let new_json = new.map(as_json).transpose()?;
    let version = new.map(|n| n.data_version);
    let subject = Subject::Release(&old.name);
    record(
        tx,
        subject,
        changed_by,
        Some(&old_json),
        new_json.as_ref(),
        version,
    )
    .await?;
    Ok(())
}

/// Release `name`, its row locked for the rest of `tx`; `NotFound` when there is none.
pub(super) async fn locked(db: &Db, tx: &mut Tx, name: &str) -> StoreResult<StoredRelease> {
    let row = sqlx::query(&format!("{SELECT} WHERE name = $1{}", db.for_update()))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) => from_row(&r),
        None => Err(StoreError::NotFound {
            what: "release",
            key: name.to_string(),
        }),
    }
}

/// Writes release `name` with the blob `build` makes from the current row, as Balrog's
/// release updates do: at `data_version` when it is current; when it is older (another writer
/// came first), the blob is merged with the current one against the blob at `data_version`
/// from history ([`super::merge::merge_blobs`]) and written at the next version. A conflict
/// (both changed the same key) or a version history does not know is `Conflict`, and nothing
/// changes. `product` replaces the release's product when given.
pub async fn update_release_with(
    db: &Db,
    changed_by: &str,
    name: &str,
    product: Option<&str>,
    data_version: i64,
    build: impl FnOnce(&StoredRelease) -> StoreResult<Value>,
) -> StoreResult<StoredRelease> {
    let mut tx = db.begin().await?;
    let new =
        update_release_with_in(db, &mut tx, changed_by, name, product, data_version, build).await?;
    tx.commit().await?;
    Ok(new)
}

/// [`update_release_with`] inside the caller's transaction.
pub(super) async fn update_release_with_in(
    db: &Db,
    tx: &mut Tx,
    changed_by: &str,
    name: &str,
    product: Option<&str>,
    data_version: i64,
    build: impl FnOnce(&StoredRelease) -> StoreResult<Value>,
) -> StoreResult<StoredRelease> {
    let old = locked(db, tx, name).await?;
    if old.read_only {
        return Err(StoreError::ReadOnly(name.to_string()));
    }
    let conflict = || StoreError::Conflict {
        what: "release",
        key: name.to_string(),
        given: data_version,
        current: old.data_version,
    };
    let mut data = build(&old)?;
    if data_version != old.data_version {
        let Some(base) = blob_at_version(tx, name, data_version).await? else {
            return Err(conflict());
        };
        data = super::merge::merge_blobs(&base, &old.data, &data).map_err(|_| conflict())?;
    }
    validate(&data)?;
    let new = StoredRelease {
        product: product.unwrap_or(&old.product).to_string(),
        data,
        data_version: old.data_version + 1,
        ..old.clone()
    };
    write(tx, &new, old.data_version).await?;
    finish(tx, changed_by, &old, Some(&new)).await?;
    Ok(new)
}

/// The blob release `name` had at `data_version`, from its history.
async fn blob_at_version(tx: &mut Tx, name: &str, data_version: i64) -> StoreResult<Option<Value>> {
    let row = sqlx::query(
        "SELECT new_row FROM updates_releases_history WHERE name = $1 AND data_version = $2 \
         ORDER BY change_id DESC LIMIT 1",
    )
    .bind(name)
    .bind(data_version)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let text: Option<String> = row.try_get("new_row")?;
    let Some(text) = text else { return Ok(None) };
    let stored: StoredRelease = serde_json::from_str(&text)
        .map_err(|e| StoreError::corrupt(format!("release history of {name}: {e}")))?;
    Ok(Some(stored.data))
}

/// The rules that map (or fall back) to release `name`, by rule_id.
pub async fn rules_using(db: &Db, name: &str) -> StoreResult<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT rule_id FROM updates_rules WHERE mapping = $1 OR \"fallbackMapping\" = $2 \
         ORDER BY rule_id",
    )
    .bind(name)
    .bind(name)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<i64, _>("rule_id")?))
        .collect()
}
