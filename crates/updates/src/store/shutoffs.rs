//! `updates_emergency_shutoffs`: (product, channel) pairs whose updates are switched off. Each
//! creation and deletion has its row in `updates_emergency_shutoffs_history`.

use relyard_store::{Db, Row};
use serde_json::{json, Value};
use sqlx::AnyConnection;

use super::history::{record, Subject};
use super::{check_version, StoreError, StoreResult};
use crate::rules::EmergencyShutoff;

/// A shutoff with its data_version (what a delete must name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredShutoff {
    pub shutoff: EmergencyShutoff,
    pub data_version: i64,
}

pub async fn list_shutoffs(db: &Db) -> StoreResult<Vec<StoredShutoff>> {
    list_shutoffs_in(&mut *db.reader().acquire().await?).await
}

/// [`list_shutoffs`] on a given connection (a reload's snapshot).
pub(crate) async fn list_shutoffs_in(conn: &mut AnyConnection) -> StoreResult<Vec<StoredShutoff>> {
    let rows = sqlx::query(
        "SELECT product, channel, data_version FROM updates_emergency_shutoffs \
         ORDER BY product, channel",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredShutoff {
                shutoff: EmergencyShutoff {
                    product: r.try_get("product")?,
                    channel: r.try_get("channel")?,
                },
                data_version: r.try_get("data_version")?,
            })
        })
        .collect()
}

/// A shutoff row as its history records it (the admin API adds Balrog's `comment`).
pub fn shutoff_json(s: &StoredShutoff) -> Value {
    json!({"product": s.shutoff.product, "channel": s.shutoff.channel,
           "data_version": s.data_version})
}

pub async fn create_shutoff(
    db: &Db,
    changed_by: &str,
    shutoff: &EmergencyShutoff,
) -> StoreResult<StoredShutoff> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO updates_emergency_shutoffs (product, channel, data_version) \
         VALUES ($1, $2, 1)",
    )
    .bind(shutoff.product.clone())
    .bind(shutoff.channel.clone())
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        let key = format!("{}/{}", shutoff.product, shutoff.channel);
        StoreError::from(e).exists_if_unique("emergency shutoff", key)
    })?;
    let stored = StoredShutoff {
        shutoff: shutoff.clone(),
        data_version: 1,
    };
    let new = shutoff_json(&stored);
    record(
        &mut tx,
        Subject::Shutoff(shutoff),
        changed_by,
        None,
        Some(&new),
        Some(1),
    )
    .await?;
    tx.commit().await?;
    Ok(stored)
}

/// Deletes a shutoff still at `data_version`.
pub async fn delete_shutoff(
    db: &Db,
    changed_by: &str,
    shutoff: &EmergencyShutoff,
    data_version: i64,
) -> StoreResult<()> {
    let key = format!("{}/{}", shutoff.product, shutoff.channel);
    let mut tx = db.begin().await?;
    let row = sqlx::query(&format!(
        "SELECT data_version FROM updates_emergency_shutoffs WHERE product = $1 AND channel = $2{}",
        db.for_update()
    ))
    .bind(shutoff.product.clone())
    .bind(shutoff.channel.clone())
    .fetch_optional(&mut *tx)
    .await?;
    let current: i64 = match row {
        Some(r) => r.try_get("data_version")?,
        None => {
            return Err(StoreError::NotFound {
                what: "emergency shutoff",
                key,
            })
        }
    };
    check_version("emergency shutoff", &key, data_version, current)?;
    sqlx::query("DELETE FROM updates_emergency_shutoffs WHERE product = $1 AND channel = $2")
        .bind(shutoff.product.clone())
        .bind(shutoff.channel.clone())
        .execute(&mut *tx)
        .await?;
    let old = shutoff_json(&StoredShutoff {
        shutoff: shutoff.clone(),
        data_version: current,
    });
    record(
        &mut tx,
        Subject::Shutoff(shutoff),
        changed_by,
        Some(&old),
        None,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
