//! Events reach RabbitMQ with Pulse's exchange names, routing keys and `route.<r>` CCs.
//! Runs when TEST_AMQP_URL is set (CI sets it; RabbitMQ listens on 127.0.0.1:5672 there).

use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use relyard_events::{enqueue, Bus, BusConfig, Event};
use relyard_testing::TestDb;
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn events_are_published_to_pulse_exchanges_with_cc_routes() {
    let Ok(amqp_url) = std::env::var("TEST_AMQP_URL") else {
        eprintln!("TEST_AMQP_URL is not set: skipping the RabbitMQ test");
        return;
    };
    let exchange = format!(
        "exchange/taskcluster-queue/v1/test-{}",
        relyard_core::ids::slugid()
    );

    // A consumer bound to one CC route only: it sees the message only through the CC header.
    let conn = Connection::connect(&amqp_url, ConnectionProperties::default())
        .await
        .expect("RabbitMQ reachable");
    let channel = conn.create_channel().await.unwrap();
    channel
        .exchange_declare(
            &exchange,
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let queue = channel
        .queue_declare(
            "",
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.name().as_str(),
            &exchange,
            "route.index.project.build",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut consumer = channel
        .basic_consume(
            queue.name().as_str(),
            "test",
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();

    let test_db = TestDb::new().await;
    test_db
        .db
        .migrate(&relyard_events::migrations())
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let bus = Bus::start(
        test_db.db.clone(),
        BusConfig {
            amqp_url: Some(amqp_url),
        },
        shutdown.clone(),
    )
    .await
    .expect("bus connects to RabbitMQ");

    let event = Event {
        exchange: exchange.clone(),
        routing_key: "primary.TASKID.0._._.prov.wt.-.GROUP._".into(),
        cc: vec!["route.index.project.build".into()],
        payload: json!({"version": 1, "status": {"taskId": "TASKID"}}),
    };
    let mut tx = test_db.db.begin().await.unwrap();
    enqueue(&mut tx, &event).await.unwrap();
    tx.commit().await.unwrap();
    bus.kick();

    let delivery = tokio::time::timeout(Duration::from_secs(20), consumer.next())
        .await
        .expect("message arrives")
        .expect("consumer open")
        .expect("delivery");
    assert_eq!(delivery.exchange.as_str(), exchange);
    assert_eq!(
        delivery.routing_key.as_str(),
        "primary.TASKID.0._._.prov.wt.-.GROUP._"
    );
    let body: serde_json::Value = serde_json::from_slice(&delivery.data).unwrap();
    assert_eq!(body, event.payload);
    assert!(
        delivery.properties.message_id().is_some(),
        "outbox id as message_id"
    );
    shutdown.cancel();
}
