//! `updates_pinnable_releases`: which release a client pinned to a version prefix on a product
//! and channel is served (Balrog's pinnable_releases). Pins need no sign-offs in Balrog, so a
//! change takes effect at once; each one has its history row.

use relyard_store::{Db, Row};
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::history::{record, Subject};
use super::releases::{locked, StoredRelease};
use super::{StoreError, StoreResult};
use crate::answer::PinnableRelease;
use crate::blobs::Release;
use crate::versions::MozVersion;

/// A pin with its data_version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPin {
    pub pin: PinnableRelease,
    pub data_version: i64,
}

/// What [`set_pin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinChange {
    Set(StoredPin),
    /// The pin names a release whose version is newer than the one offered: a build of
    /// `102.0.3` after `102.1.0` must not move the `102.` pin back. Nothing changed.
    ExistingIsNewer,
}

const SELECT: &str =
    "SELECT product, channel, version, mapping, data_version FROM updates_pinnable_releases";

fn from_row(r: &AnyRow) -> StoreResult<StoredPin> {
    Ok(StoredPin {
        pin: PinnableRelease {
            product: r.try_get("product")?,
            channel: r.try_get("channel")?,
            version: r.try_get("version")?,
            mapping: r.try_get("mapping")?,
        },
        data_version: r.try_get("data_version")?,
    })
}

/// Every pin (a reload's snapshot reads them on its own connection).
pub(crate) async fn list_pins_in(conn: &mut AnyConnection) -> StoreResult<Vec<StoredPin>> {
    let rows = sqlx::query(&format!("{SELECT} ORDER BY product, channel, version"))
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get_pin(
    db: &Db,
    product: &str,
    channel: &str,
    version: &str,
) -> StoreResult<Option<StoredPin>> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE product = $1 AND channel = $2 AND version = $3"
    ))
    .bind(product)
    .bind(channel)
    .bind(version)
    .fetch_optional(db.reader())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Points `pin` (its product, channel and version) at `pin.mapping`, which must be an existing
/// release (else `NotFound`), unless the release it names now is newer; one transaction with
/// its history row.
pub async fn set_pin(db: &Db, changed_by: &str, pin: &PinnableRelease) -> StoreResult<PinChange> {
    let key = format!("{}/{}/{}", pin.product, pin.channel, pin.version);
    let mut tx = db.begin().await?;
    let current = sqlx::query(&format!(
        "{SELECT} WHERE product = $1 AND channel = $2 AND version = $3{}",
        db.for_update()
    ))
    .bind(pin.product.clone())
    .bind(pin.channel.clone())
    .bind(pin.version.clone())
    .fetch_optional(&mut *tx)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()?;
    // Locked like a delete locks it, so the release cannot go while the pin is set.
    let offered = locked(db, &mut tx, &pin.mapping).await?;
    if let Some(current) = &current {
        let pinned = match locked(db, &mut tx, &current.pin.mapping).await {
            Ok(r) => own_version(&r),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if let (Some(pinned), Some(offered)) = (pinned, own_version(&offered)) {
            if pinned.cmp_to(&offered).is_gt() {
                return Ok(PinChange::ExistingIsNewer);
            }
        }
    }
    let data_version = match &current {
        None => {
            sqlx::query(
                "INSERT INTO updates_pinnable_releases \
                 (product, channel, version, mapping, data_version) VALUES ($1, $2, $3, $4, 1)",
            )
            .bind(pin.product.clone())
            .bind(pin.channel.clone())
            .bind(pin.version.clone())
            .bind(pin.mapping.clone())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from(e).exists_if_unique("pin", key.clone()))?;
            1
        }
        Some(current) => {
            let next = current.data_version + 1;
            sqlx::query(
                "UPDATE updates_pinnable_releases SET mapping = $1, data_version = $2 \
                 WHERE product = $3 AND channel = $4 AND version = $5",
            )
            .bind(pin.mapping.clone())
            .bind(next)
            .bind(pin.product.clone())
            .bind(pin.channel.clone())
            .bind(pin.version.clone())
            .execute(&mut *tx)
            .await?;
            next
        }
    };
    let stored = StoredPin {
        pin: pin.clone(),
        data_version,
    };
    let old = current.as_ref().map(pin_json);
    record(
        &mut tx,
        Subject::Pin(pin),
        changed_by,
        old.as_ref(),
        Some(&pin_json(&stored)),
        Some(data_version),
    )
    .await?;
    tx.commit().await?;
    Ok(PinChange::Set(stored))
}

/// A pin as the admin API shows it (Balrog's `GET /v2/pins/…`) and as its history records it.
pub fn pin_json(p: &StoredPin) -> Value {
    json!({
        "product": p.pin.product,
        "channel": p.pin.channel,
        "version": p.pin.version,
        "mapping": p.pin.mapping,
        "data_version": p.data_version,
    })
}

/// A release's own version, if it has one that parses (Balrog compares only those).
fn own_version(r: &StoredRelease) -> Option<MozVersion> {
    Release::from_json(r.data.clone())
        .ok()
        .and_then(|r| r.application_version())
        .and_then(|v| MozVersion::parse(&v).ok())
}
