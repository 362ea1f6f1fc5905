//! The event bus.
//!
//! - **Outbox**: services write [`Event`]s with [`enqueue`] inside the transaction of the change they
//!   announce, so a committed change always has its event and a rolled-back one never does.
//! - **Publisher**: a background task delivers committed events in order to in-process subscribers
//!   ([`Bus::subscribe`]) and, when an AMQP URL is configured, to RabbitMQ topic exchanges named as
//!   Taskcluster's Pulse exchanges, with `route.<r>` CCs. Delivery is at least once; every message
//!   carries the outbox id as its AMQP `message_id` so consumers can drop repeats after a crash.
//! - **Signals**: small cross-server notifications (a task became pending on queue X, roles
//!   changed) that are not events: delivered to local listeners at once and, on PostgreSQL, to every
//!   other server through `LISTEN/NOTIFY`.

mod amqp;
mod bus;
mod outbox;

pub use bus::{Bus, BusConfig, BusError, Signal};
pub use outbox::{enqueue, Event, PublishedEvent};

pub fn migrations() -> relyard_store::Migrations {
    relyard_store::migrations!("events")
}
