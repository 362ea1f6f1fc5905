//! [`Secrets`]: the logic behind the Secrets API. Callers have already passed the scope check;
//! every get, set and remove writes its audit row in the same transaction as its change.

use relyard_auth::Cipher;
use relyard_core::paging::{self, PageQuery};
use relyard_core::Timestamp;
use relyard_store::{Db, Tx};
use serde::Serialize;
use serde_json::Value;

use crate::audit::{Action, AuditContext, AuditEntry, AuditPage, AuditQuery, Outcome};
use crate::error::{SecretsError, SecretsResult};
use crate::sealed;
use crate::store::{self, NewAudit};

/// Page sizes of `list` and the audit log, as Taskcluster's listings (up to 1000).
const PAGE_DEFAULT: usize = 1000;
const PAGE_MAX: usize = 1000;

/// The answer of `get`: `{secret, expires}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Secret {
    pub secret: Value,
    pub expires: Timestamp,
}

/// The answer of `list`: `{secrets: [names], continuationToken?}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretList {
    pub secrets: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

pub struct Secrets {
    db: Db,
    cipher: Cipher,
}

/// A secret is readable up to and including the millisecond it expires, as Taskcluster's
/// `expires >= now()` filter has it.
fn is_live(expires: Timestamp, now: Timestamp) -> bool {
    expires >= now
}

fn check_name(name: &str) -> SecretsResult<()> {
    if name.is_empty() {
        return Err(SecretsError::Invalid(
            "secret name must not be empty".into(),
        ));
    }
    Ok(())
}

impl Secrets {
    pub fn new(db: Db, cipher: Cipher) -> Secrets {
        Secrets { db, cipher }
    }

    /// Creates or replaces a secret; `value` must be a JSON object.
    pub async fn set(
        &self,
        name: &str,
        value: Value,
        expires: Timestamp,
        audit: &AuditContext,
    ) -> SecretsResult<()> {
        check_name(name)?;
        let Value::Object(secret) = value else {
            return Err(SecretsError::Invalid(
                "\"secret\" must be a JSON object".into(),
            ));
        };
        // Sealed before the transaction starts, so the write lock is held only for the SQL.
        let sealed = sealed::seal(&self.cipher, name, secret);
        let mut tx = self.db.begin().await?;
        store::upsert_secret(&mut tx, name, &sealed, expires).await?;
        record(&mut tx, audit, Action::Set, name, Outcome::Ok).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads a secret. An expired one answers [`SecretsError::NotFound`] and is deleted on the spot.
    pub async fn get(&self, name: &str, audit: &AuditContext) -> SecretsResult<Secret> {
        check_name(name)?;
        let now = Timestamp::now();
        let mut tx = self.db.begin().await?;
        let found = match store::get_secret(&mut tx, name).await? {
            Some(row) if is_live(row.expires, now) => {
                // Opened inside the transaction: an unreadable value rolls back with no audit row
                // claiming a successful read.
                let secret = sealed::open(&self.cipher, name, &row.sealed)?;
                Some(Secret {
                    secret: Value::Object(secret),
                    expires: row.expires,
                })
            }
            Some(_) => {
                store::delete_if_expired(&mut tx, name, now).await?;
                None
            }
            None => None,
        };
        let outcome = if found.is_some() {
            Outcome::Ok
        } else {
            Outcome::NotFound
        };
        record(&mut tx, audit, Action::Get, name, outcome).await?;
        tx.commit().await?;
        found.ok_or(SecretsError::NotFound)
    }

    /// Deletes a secret. Returns [`Outcome::NotFound`] (and still audits) when there was no live
    /// secret of that name; an expired one is deleted all the same.
    pub async fn remove(&self, name: &str, audit: &AuditContext) -> SecretsResult<Outcome> {
        check_name(name)?;
        let now = Timestamp::now();
        let mut tx = self.db.begin().await?;
        let outcome = match store::delete_secret(&mut tx, name).await? {
            Some(expires) if is_live(expires, now) => Outcome::Ok,
            _ => Outcome::NotFound,
        };
        record(&mut tx, audit, Action::Remove, name, outcome).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Names of live secrets in name order, one page at a time.
    pub async fn list(&self, page: &PageQuery) -> SecretsResult<SecretList> {
        let limit = page.limit(PAGE_DEFAULT, PAGE_MAX)?;
        let after: Option<String> = page.token()?;
        let mut names = store::list_names(
            &self.db,
            Timestamp::now(),
            after.as_deref(),
            limit as i64 + 1,
        )
        .await?;
        let more = names.len() > limit;
        names.truncate(limit);
        let continuation_token = if more {
            names.last().map(paging::encode)
        } else {
            None
        };
        Ok(SecretList {
            secrets: names,
            continuation_token,
        })
    }

    /// The audit log, newest first, optionally for one secret name.
    pub async fn audit_log(&self, query: &AuditQuery) -> SecretsResult<AuditPage> {
        let limit = query.page.limit(PAGE_DEFAULT, PAGE_MAX)?;
        let before: Option<i64> = query.page.token()?;
        let mut rows =
            store::list_audit(&self.db, query.name.as_deref(), before, limit as i64 + 1).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let continuation_token = if more {
            rows.last().map(|r| paging::encode(&r.id))
        } else {
            None
        };
        Ok(AuditPage {
            entries: rows.into_iter().map(AuditEntry::from).collect(),
            continuation_token,
        })
    }

    /// Deletes every secret that expired before `now`; returns how many. For a periodic sweep:
    /// reads purge what they find expired, this catches the secrets nobody reads.
    pub async fn purge_expired(&self, now: Timestamp) -> SecretsResult<u64> {
        Ok(store::delete_expired(&self.db, now).await?)
    }
}

async fn record(
    tx: &mut Tx,
    ctx: &AuditContext,
    action: Action,
    name: &str,
    outcome: Outcome,
) -> SecretsResult<()> {
    let row = NewAudit {
        time: Timestamp::now(),
        client_id: &ctx.client_id,
        action: action.as_str(),
        name,
        source_ip: ctx.source_ip.map(|ip| ip.to_string()),
        outcome: outcome.as_str(),
    };
    Ok(store::insert_audit(tx, &row).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_until_the_expiry_millisecond() {
        let t = Timestamp::from_millis(1_000);
        assert!(is_live(t, t));
        assert!(is_live(t, t.plus_ms(-1)));
        assert!(!is_live(t, t.plus_ms(1)));
    }

    #[test]
    fn empty_names_are_refused() {
        assert!(matches!(check_name(""), Err(SecretsError::Invalid(_))));
        assert!(check_name("a/b/c").is_ok());
    }

    #[test]
    fn list_pages_serialize_without_a_token_when_done() {
        let page = SecretList {
            secrets: vec!["a".into()],
            continuation_token: None,
        };
        assert_eq!(
            serde_json::to_value(page).unwrap(),
            serde_json::json!({"secrets": ["a"]})
        );
    }
}
