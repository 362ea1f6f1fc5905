use relyard_core::Timestamp;
use relyard_store::{StoreResult, Tx};
use serde::Serialize;
use serde_json::Value;

/// An event as Pulse publishes it: exchange, primary routing key, CC routing keys and a JSON body.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub exchange: String,
    pub routing_key: String,
    pub cc: Vec<String>,
    pub payload: Value,
}

/// A committed event with its position in the outbox.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PublishedEvent {
    pub id: i64,
    #[serde(flatten)]
    pub event: Event,
}

/// Writes `event` to the outbox as part of `tx`.
pub async fn enqueue(tx: &mut Tx, event: &Event) -> StoreResult<()> {
    let cc = serde_json::to_string(&event.cc).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO events (exchange, routing_key, cc, payload, created) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&event.exchange)
    .bind(&event.routing_key)
    .bind(cc)
    .bind(event.payload.to_string())
    .bind(Timestamp::now().millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
