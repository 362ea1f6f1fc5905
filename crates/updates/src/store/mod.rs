//! The SQL of the updates service: Balrog's `rules`, `releases`, `emergency_shutoffs`,
//! `pinnable_releases`, `permissions`, their history tables, and sign-offs of scheduled rule
//! changes (tables `updates_*`, migrations 6xxx).
//!
//! Every change follows Balrog's optimistic concurrency: the writer names the `data_version` it
//! read; a stale one changes nothing and is [`StoreError::Conflict`]. A change and its history
//! row are written in one transaction, so history never misses a change nor records one that
//! did not happen. History is append-only: nothing here updates or deletes a history row.

mod enact;
mod error;
mod history;
mod leases;
mod merge;
mod permissions;
mod pins;
mod release_scheduled;
mod releases;
mod rules;
mod sc_manage;
mod scheduled;
mod shutoffs;
mod signoffs;

pub use enact::{enact_due, EnactReport, ENACT_LEASE};
pub use error::{StoreError, StoreResult};
pub use history::{
    all_rule_history, pin_history, release_history, required_signoff_history, rule_history,
    shutoff_history, HistoryRow,
};
pub use leases::{release_lease, take_lease};
pub use merge::{merge_blobs, MergeConflict};
pub use permissions::{grant_permission, revoke_permission, user_permissions, Permission};
pub use pins::{get_pin, pin_json, set_pin, PinChange, StoredPin};
pub use release_scheduled::{
    edit_release_change, enact_release_change_now, get_release_change, list_release_changes,
    release_required, schedule_release_change, signoffs_of, NewReleaseChange, ReleaseChange,
};
pub use releases::{
    create_release, delete_release, get_release, list_releases, rules_using, set_read_only,
    update_release, update_release_with, StoredRelease,
};
pub use rules::{
    create_rule, delete_rule, find_rule, get_rule, list_rules, update_rule, update_rule_merging,
};
pub use sc_manage::{
    all_sc_history, delete_scheduled, edit_rule_change, enact_rule_change_now, list_rule_changes,
    revoke_signoff_of, rule_change_json, sc_history, sign_off_holding, Enacted, ScHistoryRow,
    ScKind,
};
pub use scheduled::{
    get_scheduled_change, is_ready, schedule_rule_change, ChangeType, NewChange, ScheduledChange,
};
pub use shutoffs::{create_shutoff, delete_shutoff, list_shutoffs, shutoff_json, StoredShutoff};
pub use signoffs::{
    create_required_signoff, delete_required_signoff, grant_role, list_required_signoffs,
    required_signoff_json, required_signoffs_for, revoke_signoff, sign_off, signoffs, user_roles,
};
pub(crate) use {
    pins::list_pins_in, releases::list_releases_in, rules::list_rules_in,
    shutoffs::list_shutoffs_in,
};

use relyard_store::{Row, Tx};

/// The next value of one of `updates_counters`' ids. The `UPDATE` locks the counter row, so
/// concurrent writers on PostgreSQL get distinct ids without a dialect-specific identity column.
async fn next_id(tx: &mut Tx, counter: &str) -> StoreResult<i64> {
    let row = sqlx::query(
        "UPDATE updates_counters SET value = value + 1 WHERE name = $1 RETURNING value",
    )
    .bind(counter)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("value")?)
}

/// Moves a counter past an id chosen by the caller (a rule imported with Balrog's rule_id), so
/// later generated ids do not collide with it.
async fn bump_counter(tx: &mut Tx, counter: &str, at_least: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE updates_counters SET value = CASE WHEN value < $1 THEN $2 ELSE value END \
         WHERE name = $3",
    )
    .bind(at_least)
    .bind(at_least)
    .bind(counter)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The current data_version must be the one the writer read.
fn check_version(what: &'static str, key: &str, given: i64, current: i64) -> StoreResult<()> {
    if given != current {
        return Err(StoreError::Conflict {
            what,
            key: key.to_string(),
            given,
            current,
        });
    }
    Ok(())
}
