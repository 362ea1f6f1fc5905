//! The in-memory state the public endpoints read.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use relyard_store::{Backend, Db};
use serde_json::Value;

use crate::allowlist::{DomainAllowlist, ForceHosts};
use crate::answer::{answer, Answer, Catalog, PinnableRelease, UpdateRequest};
use crate::blobs::Release;
use crate::error::Result;
use crate::rules::{Dice, EmergencyShutoff, RandomDice, Rule};
use crate::store::{self, StoreError, StoreResult};

/// Holds one immutable [`Catalog`] snapshot; loads swap in a new one, so a
/// request never sees half of an update and never waits on a writer for
/// longer than an `Arc` clone.
///
/// Built [`from_db`](UpdatesService::from_db), the rules, releases and shutoffs come from the
/// store and [`reload`](UpdatesService::reload) re-reads them; it is this process's writer that
/// calls it after a change. Other servers on the same database do not hear of the change yet:
/// cache invalidation across servers (change events) is a later slice.
#[derive(Clone)]
pub struct UpdatesService {
    catalog: Arc<RwLock<Arc<Catalog>>>,
    dice: Arc<dyn Dice>,
    db: Option<Db>,
}

impl Default for UpdatesService {
    fn default() -> Self {
        UpdatesService::new(Arc::new(RandomDice))
    }
}

impl UpdatesService {
    /// A service with an empty catalog and the given dice (tests pass a fixed roll).
    pub fn new(dice: Arc<dyn Dice>) -> UpdatesService {
        UpdatesService {
            catalog: Arc::new(RwLock::new(Arc::new(Catalog::default()))),
            dice,
            db: None,
        }
    }

    /// A service whose rules, releases and shutoffs are those stored in `db` (migrated with
    /// [`crate::migrations`]).
    pub async fn from_db(db: Db, dice: Arc<dyn Dice>) -> StoreResult<UpdatesService> {
        let service = UpdatesService {
            db: Some(db),
            ..UpdatesService::new(dice)
        };
        service.reload().await?;
        Ok(service)
    }

    /// Re-reads rules, releases and shutoffs from the store and swaps them in at once; pins, the
    /// allow-list and force hosts are kept. On error the current catalog stays.
    pub async fn reload(&self) -> StoreResult<()> {
        let db = self.db.as_ref().ok_or(StoreError::NoDatabase)?;
        let (rules, stored, shutoffs) = read_all(db).await?;
        let mut releases = HashMap::new();
        let mut products = HashMap::new();
        for r in stored {
            // Writes validate blobs, so a failure here means the row was changed behind the store.
            let blob = Release::from_json(r.data).map_err(|e| {
                StoreError::Db(relyard_store::StoreError::Corrupt(format!(
                    "release {}: {e}",
                    r.name
                )))
            })?;
            releases.insert(r.name.clone(), blob);
            products.insert(r.name, r.product);
        }
        self.modify(|c| {
            c.rules = rules;
            c.releases = releases;
            c.release_products = products;
            c.shutoffs = shutoffs.into_iter().map(|s| s.shutoff).collect();
        });
        Ok(())
    }

    /// Called by every writer (admin API, scheduler) after a change is committed: this process
    /// re-reads the store. Telling the other servers of the deployment is the cache slice's part.
    pub async fn changed(&self) -> StoreResult<()> {
        self.reload().await
    }

    /// The current snapshot.
    pub fn catalog(&self) -> Arc<Catalog> {
        match self.catalog.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn modify(&self, f: impl FnOnce(&mut Catalog)) {
        let mut guard = match self.catalog.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut next = (**guard).clone();
        f(&mut next);
        *guard = Arc::new(next);
    }

    /// Replaces all rules; they are kept in rule_id order (priority ties go
    /// to the lower id, as in Balrog).
    pub fn load_rules(&self, mut rules: Vec<Rule>) {
        rules.sort_by_key(|r| r.rule_id);
        self.modify(|c| c.rules = rules);
    }

    /// Replaces all releases with these blobs, named by their `name` field.
    /// Nothing changes if any blob is invalid.
    pub fn load_releases(&self, blobs: Vec<Value>) -> Result<()> {
        let mut releases = HashMap::new();
        for blob in blobs {
            let r = Release::from_json(blob)?;
            releases.insert(r.name().to_string(), r);
        }
        self.modify(|c| c.releases = releases);
        Ok(())
    }

    /// Adds or replaces one release.
    pub fn put_release(&self, blob: Value) -> Result<()> {
        let r = Release::from_json(blob)?;
        self.modify(|c| {
            c.releases.insert(r.name().to_string(), r);
        });
        Ok(())
    }

    /// Adds or replaces one release under the name rules map to, which
    /// Balrog keeps apart from the blob's own `name` (superblobs are often
    /// all named "superblob"), with its product (what a superblob naming it
    /// renders it for).
    pub fn put_named_release(&self, name: &str, product: Option<&str>, blob: Value) -> Result<()> {
        let r = Release::from_json(blob)?;
        self.modify(|c| {
            c.releases.insert(name.to_string(), r);
            match product {
                Some(p) => c.release_products.insert(name.to_string(), p.to_string()),
                None => c.release_products.remove(name),
            };
        });
        Ok(())
    }

    pub fn load_shutoffs(&self, shutoffs: Vec<EmergencyShutoff>) {
        self.modify(|c| c.shutoffs = shutoffs);
    }

    pub fn load_pins(&self, pins: Vec<PinnableRelease>) {
        self.modify(|c| c.pins = pins);
    }

    pub fn set_allowlist(&self, allowlist: DomainAllowlist) {
        self.modify(|c| c.allowlist = allowlist);
    }

    pub fn set_force_hosts(&self, hosts: ForceHosts) {
        self.modify(|c| c.force_hosts = hosts);
    }

    /// Answers one `/update/...` request from the current snapshot.
    pub fn answer(&self, req: &UpdateRequest<'_>) -> Answer {
        answer(req, &self.catalog(), self.dice.as_ref())
    }

    /// Answers one `/json/...` request from the current snapshot.
    pub fn answer_json(&self, path: &str, query: Option<&str>) -> Answer {
        crate::json::answer_json(path, query, &self.catalog(), self.dice.as_ref())
    }
}

/// Reads the three tables from one snapshot, so a reload never pairs a rule with a release
/// from before or after a concurrent change. SQLite's read transaction is one snapshot already;
/// PostgreSQL's default (read committed) takes one per statement, hence repeatable read.
async fn read_all(
    db: &Db,
) -> StoreResult<(
    Vec<Rule>,
    Vec<store::StoredRelease>,
    Vec<store::StoredShutoff>,
)> {
    let mut tx = db.reader().begin().await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
    }
    let rules = store::list_rules_in(&mut tx).await?;
    let releases = store::list_releases_in(&mut tx).await?;
    let shutoffs = store::list_shutoffs_in(&mut tx).await?;
    tx.commit().await?;
    Ok((rules, releases, shutoffs))
}
