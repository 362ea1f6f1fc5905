//! `updates_product_req_signoffs`, `updates_user_roles` and
//! `updates_rules_scheduled_changes_signoffs`: who must sign, who may, and who did. Changes of
//! what a product requires have their rows in `updates_product_req_signoffs_history`.

use relyard_store::{Db, Row, Tx};
use serde_json::{json, Value};
use sqlx::any::AnyRow;

use super::history::{record, Subject};
use super::sc_manage::ScKind;
use super::scheduled::pending_in;
use super::{StoreError, StoreResult};
use crate::rules::Rule;
use crate::signoffs::{required_for, Required, RequiredSignoff, Signoff};

fn required_from_row(r: &AnyRow) -> StoreResult<RequiredSignoff> {
    Ok(RequiredSignoff {
        product: r.try_get("product")?,
        channel: r.try_get("channel")?,
        role: r.try_get("role")?,
        signoffs_required: r.try_get("signoffs_required")?,
        data_version: r.try_get("data_version")?,
    })
}

/// Protects a product/channel: changes to it need `signoffs_required` sign-offs of `role`.
pub async fn create_required_signoff(
    db: &Db,
    changed_by: &str,
    product: &str,
    channel: &str,
    role: &str,
    signoffs_required: i64,
) -> StoreResult<RequiredSignoff> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO updates_product_req_signoffs \
         (product, channel, role, signoffs_required, data_version) VALUES ($1, $2, $3, $4, 1)",
    )
    .bind(product)
    .bind(channel)
    .bind(role)
    .bind(signoffs_required)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        StoreError::from(e)
            .exists_if_unique("required signoff", format!("{product}/{channel}/{role}"))
    })?;
    let made = RequiredSignoff {
        product: product.into(),
        channel: channel.into(),
        role: role.into(),
        signoffs_required,
        data_version: 1,
    };
    let subject = Subject::RequiredSignoff {
        product,
        channel,
        role,
    };
    let new = required_signoff_json(&made);
    record(&mut tx, subject, changed_by, None, Some(&new), Some(1)).await?;
    tx.commit().await?;
    Ok(made)
}

/// A required sign-off row as the admin API lists it and its history records it.
pub fn required_signoff_json(r: &RequiredSignoff) -> Value {
    json!({"product": r.product, "channel": r.channel, "role": r.role,
           "signoffs_required": r.signoffs_required, "data_version": r.data_version})
}

pub async fn list_required_signoffs(db: &Db) -> StoreResult<Vec<RequiredSignoff>> {
    let mut conn = db.reader().acquire().await?;
    list_required_in(&mut conn).await
}

pub(super) async fn list_required_in(
    conn: &mut sqlx::AnyConnection,
) -> StoreResult<Vec<RequiredSignoff>> {
    let rows = sqlx::query(
        "SELECT product, channel, role, signoffs_required, data_version \
         FROM updates_product_req_signoffs ORDER BY product, channel, role",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(required_from_row).collect()
}

/// The sign-offs a change touching `rule` needs (role → count), from the product/channel table.
pub async fn required_signoffs_for(db: &Db, rule: &Rule) -> StoreResult<Required> {
    Ok(required_for(&list_required_signoffs(db).await?, [rule]))
}

/// [`required_signoffs_for`] the rows before and after a change, inside its transaction.
pub(super) async fn required_in(tx: &mut Tx, rules: &[&Rule]) -> StoreResult<Required> {
    let table = list_required_in(tx).await?;
    Ok(required_for(&table, rules.iter().copied()))
}

/// Lets `username` sign off with `role`.
pub async fn grant_role(db: &Db, username: &str, role: &str) -> StoreResult<()> {
    sqlx::query("INSERT INTO updates_user_roles (username, role, data_version) VALUES ($1, $2, 1)")
        .bind(username)
        .bind(role)
        .execute(db.writer())
        .await
        .map_err(|e| {
            StoreError::from(e).exists_if_unique("user role", format!("{username}/{role}"))
        })?;
    Ok(())
}

/// The roles `username` holds, by name.
pub async fn user_roles(db: &Db, username: &str) -> StoreResult<Vec<String>> {
    let rows = sqlx::query("SELECT role FROM updates_user_roles WHERE username = $1 ORDER BY role")
        .bind(username)
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>("role")?))
        .collect()
}

/// Signs scheduled change `sc_id` off as `username` with `role`, which the user must hold.
/// Returns false when the user had already signed with that role (nothing changes: one
/// sign-off per user per change); signing again with another role is refused, as in Balrog.
pub async fn sign_off(db: &Db, sc_id: i64, username: &str, role: &str) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    pending_in(db, &mut tx, sc_id).await?;
    let holds =
        sqlx::query("SELECT role FROM updates_user_roles WHERE username = $1 AND role = $2")
            .bind(username)
            .bind(role)
            .fetch_optional(&mut *tx)
            .await?;
    if holds.is_none() {
        return Err(StoreError::NoRole {
            username: username.into(),
            role: role.into(),
        });
    }
    let added = insert_signoff(&mut tx, ScKind::Rules, sc_id, username, role).await?;
    tx.commit().await?;
    Ok(added)
}

/// Records `username`'s sign-off of `sc_id` with `role` in the change's transaction: false
/// when it was there already; another role of the same user is refused.
pub(super) async fn insert_signoff(
    tx: &mut Tx,
    kind: ScKind,
    sc_id: i64,
    username: &str,
    role: &str,
) -> StoreResult<bool> {
    let table = kind.signoffs_table();
    let existing = sqlx::query(&format!(
        "SELECT role FROM {table} WHERE sc_id = $1 AND username = $2"
    ))
    .bind(sc_id)
    .bind(username)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = existing {
        let signed: String = row.try_get("role")?;
        if signed == role {
            return Ok(false);
        }
        return Err(StoreError::SignedAsOtherRole {
            sc_id,
            username: username.into(),
            role: signed,
        });
    }
    sqlx::query(&format!(
        "INSERT INTO {table} (sc_id, username, role) VALUES ($1, $2, $3)"
    ))
    .bind(sc_id)
    .bind(username)
    .bind(role)
    .execute(&mut **tx)
    .await
    // Two concurrent first sign-offs of one user: the key keeps one, the other is told.
    .map_err(|e| StoreError::from(e).exists_if_unique("signoff", format!("{sc_id}/{username}")))?;
    Ok(true)
}

/// Takes back `username`'s sign-off of a pending change; false when there was none.
pub async fn revoke_signoff(db: &Db, sc_id: i64, username: &str) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    pending_in(db, &mut tx, sc_id).await?;
    let done = sqlx::query(
        "DELETE FROM updates_rules_scheduled_changes_signoffs WHERE sc_id = $1 AND username = $2",
    )
    .bind(sc_id)
    .bind(username)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// The sign-offs of one scheduled change, by user name.
pub async fn signoffs(db: &Db, sc_id: i64) -> StoreResult<Vec<Signoff>> {
    let mut conn = db.reader().acquire().await?;
    signoffs_in(&mut conn, sc_id).await
}

pub(super) async fn signoffs_in(
    conn: &mut sqlx::AnyConnection,
    sc_id: i64,
) -> StoreResult<Vec<Signoff>> {
    signoffs_of_kind_in(conn, ScKind::Rules, sc_id).await
}

/// The sign-offs of one scheduled change of `kind`, by user name, on a given connection.
pub(super) async fn signoffs_of_kind_in(
    conn: &mut sqlx::AnyConnection,
    kind: ScKind,
    sc_id: i64,
) -> StoreResult<Vec<Signoff>> {
    let rows = sqlx::query(&format!(
        "SELECT username, role FROM {} WHERE sc_id = $1 ORDER BY username",
        kind.signoffs_table()
    ))
    .bind(sc_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Signoff {
                username: r.try_get("username")?,
                role: r.try_get("role")?,
            })
        })
        .collect()
}

/// Removes a product/channel/role requirement still at `data_version`.
pub async fn delete_required_signoff(
    db: &Db,
    changed_by: &str,
    product: &str,
    channel: &str,
    role: &str,
    data_version: i64,
) -> StoreResult<()> {
    let key = format!("{product}/{channel}/{role}");
    let mut tx = db.begin().await?;
    let row = sqlx::query(&format!(
        "SELECT product, channel, role, signoffs_required, data_version \
         FROM updates_product_req_signoffs \
         WHERE product = $1 AND channel = $2 AND role = $3{}",
        db.for_update()
    ))
    .bind(product)
    .bind(channel)
    .bind(role)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound {
            what: "required signoff",
            key,
        });
    };
    let old = required_from_row(&row)?;
    super::check_version("required signoff", &key, data_version, old.data_version)?;
    sqlx::query(
        "DELETE FROM updates_product_req_signoffs WHERE product = $1 AND channel = $2 AND role = $3",
    )
    .bind(product)
    .bind(channel)
    .bind(role)
    .execute(&mut *tx)
    .await?;
    let subject = Subject::RequiredSignoff {
        product,
        channel,
        role,
    };
    let old = required_signoff_json(&old);
    record(&mut tx, subject, changed_by, Some(&old), None, None).await?;
    tx.commit().await?;
    Ok(())
}
