use std::sync::Arc;
use std::time::Duration;

use relyard_core::Timestamp;
use relyard_store::{Backend, Db, Row, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

use crate::amqp::AmqpPublisher;
use crate::{Event, PublishedEvent};

const BATCH: i64 = 500;
const PG_SIGNAL_CHANNEL: &str = "relyard_signal";
/// The publisher also looks at the outbox this often without being kicked, so events committed
/// by another server (or before a crash) still go out.
const OUTBOX_SWEEP: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Default)]
pub struct BusConfig {
    /// `amqp://user:pass@host:port/vhost`; when absent events are only delivered in-process.
    pub amqp_url: Option<String>,
}

/// A cross-server notification: `channel` names what happened, `payload` which thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    pub channel: String,
    pub payload: String,
}

#[derive(Serialize, Deserialize)]
struct WireSignal {
    server: String,
    #[serde(flatten)]
    signal: Signal,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("AMQP: {0}")]
    Amqp(#[from] lapin::Error),
}

pub struct Bus {
    db: Db,
    server_id: String,
    events: broadcast::Sender<Arc<PublishedEvent>>,
    signals: broadcast::Sender<Signal>,
    kick: Notify,
    amqp: Option<AmqpPublisher>,
    /// Cancelled when the publisher has ended, however it ended ([`Bus::stopped`]).
    publisher_done: CancellationToken,
}

impl Bus {
    /// Connects to AMQP when configured and starts the publisher (and, on PostgreSQL, the signal
    /// listener). Both stop when `shutdown` is cancelled, after a last drain of the outbox.
    pub async fn start(
        db: Db,
        config: BusConfig,
        shutdown: CancellationToken,
    ) -> Result<Arc<Bus>, BusError> {
        let amqp = match &config.amqp_url {
            Some(url) => Some(AmqpPublisher::connect(url).await?),
            None => None,
        };
        let bus = Arc::new(Bus {
            db,
            server_id: relyard_core::ids::slugid(),
            events: broadcast::channel(8192).0,
            signals: broadcast::channel(8192).0,
            kick: Notify::new(),
            amqp,
            publisher_done: CancellationToken::new(),
        });
        if bus.db.backend() == Backend::Postgres {
            let mut listener = sqlx::postgres::PgListener::connect(bus.db.url()).await?;
            listener.listen(PG_SIGNAL_CHANNEL).await?;
            tokio::spawn(Arc::clone(&bus).relay_pg_signals(listener, shutdown.clone()));
        }
        tokio::spawn(Arc::clone(&bus).run_publisher(shutdown));
        Ok(bus)
    }

    /// Waits for the publisher to end (after shutdown is cancelled, once its last drain of the
    /// outbox is done), so the database is not closed under that drain.
    pub async fn stopped(&self) {
        self.publisher_done.cancelled().await;
    }

    /// Wakes the publisher: call after committing a transaction that enqueued events.
    pub fn kick(&self) {
        self.kick.notify_one();
    }

    /// Every event published from now on, in outbox order.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<PublishedEvent>> {
        self.events.subscribe()
    }

    /// Every signal raised from now on, by this server or (on PostgreSQL) any other.
    pub fn listen(&self) -> broadcast::Receiver<Signal> {
        self.signals.subscribe()
    }

    /// Raises a signal here at once and on every other server sharing the database.
    pub async fn signal(&self, channel: &str, payload: &str) {
        let signal = Signal {
            channel: channel.to_string(),
            payload: payload.to_string(),
        };
        let _ = self.signals.send(signal.clone());
        if self.db.backend() == Backend::Postgres {
            let wire = WireSignal {
                server: self.server_id.clone(),
                signal,
            };
            let text = serde_json::to_string(&wire).unwrap_or_default();
            if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(PG_SIGNAL_CHANNEL)
                .bind(text)
                .execute(self.db.writer())
                .await
            {
                tracing::warn!(error = %e, "could not forward a signal to other servers");
            }
        }
    }

    async fn relay_pg_signals(
        self: Arc<Self>,
        mut listener: sqlx::postgres::PgListener,
        shutdown: CancellationToken,
    ) {
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                n = listener.try_recv() => n,
            };
            match next {
                Ok(Some(n)) => {
                    if let Ok(wire) = serde_json::from_str::<WireSignal>(n.payload()) {
                        if wire.server != self.server_id {
                            let _ = self.signals.send(wire.signal);
                        }
                    }
                }
                // The connection dropped and was re-established: signals may have been missed,
                // so tell listeners to re-check everything.
                Ok(None) => {
                    let _ = self.signals.send(Signal {
                        channel: "*".into(),
                        payload: String::new(),
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "signal listener failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    async fn run_publisher(self: Arc<Self>, shutdown: CancellationToken) {
        // Dropped on return or on a panic alike, so `stopped` never waits for nothing.
        let _done = self.publisher_done.clone().drop_guard();
        loop {
            let stopping = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = self.kick.notified() => false,
                _ = tokio::time::sleep(OUTBOX_SWEEP) => false,
            };
            loop {
                match self.publish_batch().await {
                    Ok(n) if n < BATCH as usize => break,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "publishing events failed; will retry");
                        break;
                    }
                }
            }
            if stopping {
                return;
            }
        }
    }

    /// Delivers one batch of unpublished events and marks them published. Returns how many.
    pub async fn publish_batch(&self) -> Result<usize, BusError> {
        const SELECT: &str = "SELECT id, exchange, routing_key, cc, payload FROM events \
                              WHERE published IS NULL ORDER BY id LIMIT $1";
        match self.db.backend() {
            Backend::Postgres => {
                // Several servers may publish at once: each takes rows nobody else holds.
                let mut tx = self.db.begin().await?;
                let sql = format!("{SELECT}{}", self.db.for_update_skip_locked());
                let rows = sqlx::query(&sql).bind(BATCH).fetch_all(&mut *tx).await?;
                let batch = decode_rows(rows)?;
                self.deliver(&batch).await?;
                mark_published(&mut *tx, &batch).await?;
                tx.commit().await?;
                Ok(batch.len())
            }
            Backend::Sqlite => {
                // One server per SQLite file: read without holding the single write connection.
                let rows = sqlx::query(SELECT)
                    .bind(BATCH)
                    .fetch_all(self.db.reader())
                    .await?;
                let batch = decode_rows(rows)?;
                self.deliver(&batch).await?;
                mark_published(self.db.writer(), &batch).await?;
                Ok(batch.len())
            }
        }
    }

    async fn deliver(&self, batch: &[PublishedEvent]) -> Result<(), BusError> {
        if batch.is_empty() {
            return Ok(());
        }
        if let Some(amqp) = &self.amqp {
            amqp.publish(batch).await?;
        }
        for e in batch {
            let _ = self.events.send(Arc::new(e.clone()));
        }
        Ok(())
    }
}

fn decode_rows(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<PublishedEvent>, BusError> {
    rows.into_iter()
        .map(|r| {
            let cc: String = r.try_get("cc")?;
            let payload: String = r.try_get("payload")?;
            Ok(PublishedEvent {
                id: r.try_get("id")?,
                event: Event {
                    exchange: r.try_get("exchange")?,
                    routing_key: r.try_get("routing_key")?,
                    cc: serde_json::from_str(&cc)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                },
            })
        })
        .collect()
}

async fn mark_published<'e, E>(executor: E, batch: &[PublishedEvent]) -> Result<(), BusError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    if batch.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (0..batch.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "UPDATE events SET published = $1 WHERE id IN ({})",
        placeholders.join(",")
    );
    let mut q = sqlx::query(&sql).bind(Timestamp::now().millis());
    for e in batch {
        q = q.bind(e.id);
    }
    q.execute(executor).await?;
    Ok(())
}
