//! A queue on a fresh database (SQLite, or PostgreSQL with TEST_DATABASE_URL), and helpers.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use relyard_auth::{AuthConfig, AuthService, Cipher};
use relyard_core::Timestamp;
use relyard_events::{Bus, BusConfig, PublishedEvent};
use relyard_queue::blobs::BlobStore;
use relyard_queue::{Queue, QueueConfig, TaskStatus};
use relyard_testing::TestDb;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub struct Harness {
    pub queue: Arc<Queue>,
    pub bus: Arc<Bus>,
    pub auth: Arc<AuthService>,
    /// The queue's artifact bytes, in a temporary directory; URLs point at `config.root_url`.
    pub blobs: Arc<BlobStore>,
    pub shutdown: CancellationToken,
    pub db: TestDb,
    pub blob_dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn harness() -> Harness {
    harness_with(QueueConfig {
        claim_wait: Duration::from_millis(300),
        ..QueueConfig::default()
    })
    .await
}

pub async fn harness_with(config: QueueConfig) -> Harness {
    let db = TestDb::new().await;
    db.db
        .migrate(&relyard_events::migrations())
        .await
        .expect("events migrations");
    db.db
        .migrate(&relyard_auth::migrations())
        .await
        .expect("auth migrations");
    db.db
        .migrate(&relyard_queue::migrations())
        .await
        .expect("queue migrations");
    let shutdown = CancellationToken::new();
    let bus = Bus::start(db.db.clone(), BusConfig::default(), shutdown.clone())
        .await
        .expect("bus");
    let cipher = Cipher::new(&[(
        "k1".to_string(),
        "a test key that is long enough for tests".to_string(),
    )])
    .expect("cipher");
    let auth = AuthService::start(
        db.db.clone(),
        Arc::clone(&bus),
        AuthConfig {
            root_access_token: "root-token-for-tests-0123456789abcdefghijk".into(),
            cipher,
        },
        shutdown.clone(),
    )
    .await
    .expect("auth");
    let blob_dir = tempfile::tempdir().expect("blob directory");
    let blobs = Arc::new(
        BlobStore::local(
            blob_dir.path().join("blobs"),
            config.root_url.clone(),
            b"a blob signing key for the tests".to_vec(),
            db.db.clone(),
        )
        .expect("blob store"),
    );
    let queue = Queue::new(
        db.db.clone(),
        Arc::clone(&bus),
        Arc::clone(&auth),
        Arc::clone(&blobs),
        config,
        shutdown.clone(),
    );
    Harness {
        queue,
        bus,
        auth,
        blobs,
        shutdown,
        db,
        blob_dir,
    }
}

pub fn slug() -> String {
    relyard_core::ids::slugid()
}

/// A minimal valid createTask body on queue `prov/wt`.
pub fn body() -> Value {
    let now = Timestamp::now();
    json!({
        "taskQueueId": "prov/wt",
        "created": now.to_string(),
        "deadline": now.plus_secs(3600).to_string(),
        "payload": {},
        "metadata": {"name": "t", "description": "d", "owner": "me@example.com", "source": "https://example.com/t"},
    })
}

pub fn with(mut v: Value, patch: Value) -> Value {
    if let (Some(o), Some(p)) = (v.as_object_mut(), patch.as_object()) {
        for (k, x) in p {
            o.insert(k.clone(), x.clone());
        }
    }
    v
}

impl Harness {
    pub async fn create(
        &self,
        task_id: &str,
        body: Value,
    ) -> Result<TaskStatus, relyard_core::ApiError> {
        let def = self
            .queue
            .task_definition(task_id, body.to_string().as_bytes())?;
        self.queue.create_task(task_id, &def).await
    }

    pub async fn create_ok(&self, task_id: &str, body: Value) -> TaskStatus {
        self.create(task_id, body).await.expect("createTask")
    }

    /// Claims exactly the one task expected next on `prov/wt`; returns its (taskId, runId).
    pub async fn claim_one(&self) -> (String, u32) {
        let items = self
            .queue
            .claim_work("prov/wt", "wg", "w1", 1)
            .await
            .expect("claimWork");
        assert_eq!(items.len(), 1, "expected one claimable task");
        (items[0].status.task_id.clone(), items[0].run_id)
    }

    pub async fn state(&self, task_id: &str) -> String {
        self.queue.status(task_id).await.expect("status").state
    }

    /// Counts every table row, to prove that a failed request wrote nothing.
    pub async fn row_counts(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for t in [
            "queue_tasks",
            "queue_pending",
            "queue_claimed",
            "queue_dependencies",
            "queue_task_groups",
            "queue_artifacts",
            "events",
        ] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}"))
                .fetch_one(self.db.db.reader())
                .await
                .expect("count");
            out.push(n);
        }
        out
    }
}

/// Waits for the next published event on `exchange` whose payload satisfies `pred`.
pub async fn next_event(
    rx: &mut broadcast::Receiver<Arc<PublishedEvent>>,
    exchange: &str,
    pred: impl Fn(&Value) -> bool,
) -> Arc<PublishedEvent> {
    let full = format!("exchange/taskcluster-queue/v1/{exchange}");
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match rx.recv().await {
                Ok(e) if e.event.exchange == full && pred(&e.event.payload) => return e,
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("event stream ended: {e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {exchange} event arrived"))
}
