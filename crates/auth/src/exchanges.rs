//! The auth service's Pulse exchanges (`services/auth/src/exchanges.js`,
//! `schemas/v1/{client,role}-message.yml`): one message per client or role change, written to
//! the outbox in the transaction of the change.

use relyard_events::Event;
use serde_json::json;

const PREFIX: &str = "exchange/taskcluster-auth/v1/";

/// Taskcluster declares one routing-key word for these exchanges, `reserved`, which it never
/// sets, so every message goes out with `_` (consumers bind `#`).
pub const ROUTING_KEY: &str = "_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Deleted,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Deleted => "deleted",
        }
    }
}

/// `client-{created,updated,deleted}` with `{version: 1, clientId}`.
pub fn client_event(change: Change, client_id: &str) -> Event {
    Event {
        exchange: format!("{PREFIX}client-{}", change.as_str()),
        routing_key: ROUTING_KEY.to_string(),
        cc: Vec::new(),
        payload: json!({ "version": 1, "clientId": client_id }),
    }
}

/// `role-{created,updated,deleted}` with `{version: 1, roleId}`.
pub fn role_event(change: Change, role_id: &str) -> Event {
    Event {
        exchange: format!("{PREFIX}role-{}", change.as_str()),
        routing_key: ROUTING_KEY.to_string(),
        cc: Vec::new(),
        payload: json!({ "version": 1, "roleId": role_id }),
    }
}
