//! Delivery to RabbitMQ: one topic exchange per Pulse exchange name, publisher confirms, the outbox
//! id as `message_id`, and the `CC` header for `route.<r>` routing keys (RabbitMQ's
//! sender-selected distribution, as Pulse uses).

use std::collections::HashSet;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Mutex;

use crate::PublishedEvent;

pub struct AmqpPublisher {
    url: String,
    state: Mutex<Option<Open>>,
}

struct Open {
    _conn: Connection,
    channel: Channel,
    declared: HashSet<String>,
}

impl AmqpPublisher {
    pub async fn connect(url: &str) -> Result<Self, lapin::Error> {
        let publisher = AmqpPublisher {
            url: url.to_string(),
            state: Mutex::new(None),
        };
        {
            let mut state = publisher.state.lock().await;
            *state = Some(publisher.open().await?);
        }
        Ok(publisher)
    }

    async fn open(&self) -> Result<Open, lapin::Error> {
        let conn = Connection::connect(&self.url, ConnectionProperties::default()).await?;
        let channel = conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Open {
            _conn: conn,
            channel,
            declared: HashSet::new(),
        })
    }

    /// Publishes a batch and waits for the broker's confirms. On any error the connection is
    /// dropped (and reopened on the next batch) and the batch is reported failed, so the outbox
    /// keeps it for another try.
    pub async fn publish(&self, events: &[PublishedEvent]) -> Result<(), lapin::Error> {
        let mut state = self.state.lock().await;
        if state.is_none() {
            *state = Some(self.open().await?);
        }
        let result = match state.as_mut() {
            Some(open) => publish_on(open, events).await,
            None => Ok(()),
        };
        if result.is_err() {
            *state = None;
        }
        result
    }
}

async fn publish_on(open: &mut Open, events: &[PublishedEvent]) -> Result<(), lapin::Error> {
    let mut confirms = Vec::with_capacity(events.len());
    for e in events {
        if !open.declared.contains(&e.event.exchange) {
            open.channel
                .exchange_declare(
                    &e.event.exchange,
                    ExchangeKind::Topic,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            open.declared.insert(e.event.exchange.clone());
        }
        let mut headers = FieldTable::default();
        if !e.event.cc.is_empty() {
            let cc: Vec<AMQPValue> = e
                .event
                .cc
                .iter()
                .map(|r| AMQPValue::LongString(LongString::from(r.as_str())))
                .collect();
            headers.insert("CC".into(), AMQPValue::FieldArray(FieldArray::from(cc)));
        }
        let props = BasicProperties::default()
            .with_message_id(e.id.to_string().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_headers(headers);
        let body = e.event.payload.to_string();
        let confirm = open
            .channel
            .basic_publish(
                &e.event.exchange,
                &e.event.routing_key,
                BasicPublishOptions::default(),
                body.as_bytes(),
                props,
            )
            .await?;
        confirms.push(confirm);
    }
    for c in confirms {
        c.await?;
    }
    Ok(())
}
