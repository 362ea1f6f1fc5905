//! The in-memory state the public endpoints read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use relyard_events::Bus;
use relyard_store::{Backend, Db};
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::allowlist::{DomainAllowlist, ForceHosts};
use crate::answer::{answer, Answer, Catalog, PinnableRelease, UpdateRequest};
use crate::blobs::Release;
use crate::cache::{CacheKey, CachedResponse, ResponseCache, WatchedDice};
use crate::error::Result;
use crate::rules::{Dice, EmergencyShutoff, RandomDice, Rule};
use crate::store::{self, StoreError, StoreResult};
use crate::sync::{DataVersion, UPDATES_CHANGED};

/// Holds one immutable [`Catalog`] snapshot; loads swap in a new one, so a
/// request never sees half of an update and never waits on a writer for
/// longer than an `Arc` clone.
///
/// Built [`from_db`](UpdatesService::from_db), the rules, releases and shutoffs come from the
/// store. A writer calls [`changed`](UpdatesService::changed) after it commits: this server
/// reloads and, given a bus ([`with_bus`](UpdatesService::with_bus)), tells the others, which
/// [`follow`](UpdatesService::follow) the bus (see [`crate::sync`]).
#[derive(Clone)]
pub struct UpdatesService {
    /// The snapshot and its generation (bumped on every swap; response cache keys carry it).
    catalog: Arc<RwLock<(u64, Arc<Catalog>)>>,
    responses: ResponseCache,
    dice: Arc<dyn Dice>,
    db: Option<Db>,
    bus: Option<Arc<Bus>>,
    loads: Arc<Loads>,
}

/// Coalesces loads from the store: every caller takes a ticket; a load serves every ticket
/// taken before it began reading, so callers that queue behind a running load share the next.
struct Loads {
    requested: AtomicU64,
    completed: AtomicU64,
    /// A queued caller needs a full load even if the data version did not move.
    forced: AtomicBool,
    /// Held for a whole load; holds the data version of the catalog last loaded.
    running: tokio::sync::Mutex<Option<DataVersion>>,
    /// Counts catalogs swapped in from the store.
    swapped: watch::Sender<u64>,
}

impl Default for Loads {
    fn default() -> Self {
        Loads {
            requested: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            forced: AtomicBool::new(false),
            running: tokio::sync::Mutex::new(None),
            swapped: watch::channel(0).0,
        }
    }
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
            catalog: Arc::new(RwLock::new((0, Arc::new(Catalog::default())))),
            responses: crate::cache::new_cache(),
            dice,
            db: None,
            bus: None,
            loads: Arc::new(Loads::default()),
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

    /// Announces this service's changes on `bus` (see [`changed`](UpdatesService::changed)).
    pub fn with_bus(mut self, bus: Arc<Bus>) -> UpdatesService {
        self.bus = Some(bus);
        self
    }

    /// Re-reads rules, releases and shutoffs from the store and swaps them in at once; pins, the
    /// allow-list and force hosts are kept. On error the current catalog stays.
    pub async fn reload(&self) -> StoreResult<()> {
        self.load(true).await.map(|_| ())
    }

    /// Like [`reload`](UpdatesService::reload), but skipped when the store's data version is the
    /// one already loaded. Returns whether a new catalog was swapped in.
    pub async fn reload_if_changed(&self) -> StoreResult<bool> {
        self.load(false).await
    }

    /// Called by every writer (admin API, scheduler) after a change is committed: this server
    /// re-reads the store (so the writer's next request sees its change) and every other server
    /// following the bus hears of it.
    pub async fn changed(&self) -> StoreResult<()> {
        self.reload().await?;
        if let Some(bus) = &self.bus {
            bus.signal(UPDATES_CHANGED, "").await;
        }
        Ok(())
    }

    /// Reloads on every [`UPDATES_CHANGED`] signal of `bus` and every `poll_interval` (only when
    /// the data version moved), until `shutdown`. Spawn it once per server.
    pub async fn follow(self, bus: Arc<Bus>, poll_interval: Duration, shutdown: CancellationToken) {
        crate::sync::follow(self, bus, poll_interval, shutdown).await
    }

    /// Ticks each time a catalog loaded from the store is swapped in.
    pub fn loads(&self) -> watch::Receiver<u64> {
        self.loads.swapped.subscribe()
    }

    /// The database the service loads from, if any.
    pub fn db(&self) -> Option<&Db> {
        self.db.as_ref()
    }

    /// One coalesced load; see [`Loads`].
    async fn load(&self, force: bool) -> StoreResult<bool> {
        let db = self.db.as_ref().ok_or(StoreError::NoDatabase)?;
        if force {
            self.loads.forced.store(true, Ordering::SeqCst);
        }
        let ticket = self.loads.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut loaded = self.loads.running.lock().await;
        if self.loads.completed.load(Ordering::SeqCst) >= ticket {
            return Ok(false);
        }
        // Every ticket up to here is served by this load: it reads after they were taken.
        let serves = self.loads.requested.load(Ordering::SeqCst);
        let forced = self.loads.forced.swap(false, Ordering::SeqCst);
        let unless = if forced { None } else { loaded.as_ref() };
        let fresh = match read_all(db, unless).await {
            Ok(f) => f,
            Err(e) => {
                if forced {
                    self.loads.forced.store(true, Ordering::SeqCst);
                }
                return Err(e);
            }
        };
        let swapped = match fresh {
            None => false,
            Some(fresh) => {
                let version = fresh.version.clone();
                self.swap_in(fresh)?;
                *loaded = Some(version);
                self.loads.swapped.send_modify(|n| *n += 1);
                true
            }
        };
        self.loads.completed.fetch_max(serves, Ordering::SeqCst);
        Ok(swapped)
    }

    fn swap_in(&self, fresh: Stored) -> StoreResult<()> {
        let mut releases = HashMap::new();
        let mut products = HashMap::new();
        for r in fresh.releases {
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
            c.rules = fresh.rules;
            c.releases = releases;
            c.release_products = products;
            c.shutoffs = fresh.shutoffs.into_iter().map(|s| s.shutoff).collect();
            c.pins = fresh.pins.into_iter().map(|p| p.pin).collect();
        });
        Ok(())
    }

    /// The current snapshot.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.snapshot().1
    }

    fn snapshot(&self) -> (u64, Arc<Catalog>) {
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
        let mut next = (*guard.1).clone();
        f(&mut next);
        *guard = (guard.0 + 1, Arc::new(next));
        // Entries of older generations can never be hit again.
        self.responses.invalidate_all();
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

    /// [`answer`](UpdatesService::answer) through the response cache: an answer the dice took
    /// no part in is kept for this catalog generation and URL (see [`crate::cache`]).
    pub fn answer_cached(&self, req: &UpdateRequest<'_>) -> CachedResponse {
        let (generation, catalog) = self.snapshot();
        let key = CacheKey::new(generation, req.path, req.query, req.user_agent);
        if let Some(hit) = self.responses.get(&key) {
            return hit;
        }
        let dice = WatchedDice::new(self.dice.as_ref());
        let fresh = CachedResponse::from(answer(req, &catalog, &dice));
        if !dice.rolled() && fresh.status.is_success() {
            self.responses.insert(key, fresh.clone());
        }
        fresh
    }

    /// Answers one `/json/...` request from the current snapshot.
    pub fn answer_json(&self, path: &str, query: Option<&str>) -> Answer {
        crate::json::answer_json(path, query, &self.catalog(), self.dice.as_ref())
    }
}

/// The served tables as read in one snapshot.
struct Stored {
    version: DataVersion,
    rules: Vec<Rule>,
    releases: Vec<store::StoredRelease>,
    shutoffs: Vec<store::StoredShutoff>,
    pins: Vec<store::StoredPin>,
}

/// Reads the served tables from one snapshot, so a reload never pairs a rule with a release
/// from before or after a concurrent change; `None` when the data version is `unless`. SQLite's
/// read transaction is one snapshot already; PostgreSQL's default (read committed) takes one per
/// statement, hence repeatable read.
async fn read_all(db: &Db, unless: Option<&DataVersion>) -> StoreResult<Option<Stored>> {
    let mut tx = db.reader().begin().await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
    }
    let version = DataVersion::read(&mut tx).await?;
    if unless == Some(&version) {
        tx.commit().await?;
        return Ok(None);
    }
    let rules = store::list_rules_in(&mut tx).await?;
    let releases = store::list_releases_in(&mut tx).await?;
    let shutoffs = store::list_shutoffs_in(&mut tx).await?;
    let pins = store::list_pins_in(&mut tx).await?;
    tx.commit().await?;
    Ok(Some(Stored {
        version,
        rules,
        releases,
        shutoffs,
        pins,
    }))
}
