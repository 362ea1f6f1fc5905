//! The access audit: who asked for which secret, when, from where, and how it went.

use std::net::IpAddr;

use relyard_auth::Caller;
use relyard_core::paging::PageQuery;
use relyard_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::store::AuditRow;

/// The caller of an audited operation, as the audit records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    pub client_id: String,
    pub source_ip: Option<IpAddr>,
}

impl AuditContext {
    pub fn new(client_id: impl Into<String>, source_ip: Option<IpAddr>) -> Self {
        AuditContext {
            client_id: client_id.into(),
            source_ip,
        }
    }
}

impl From<&Caller> for AuditContext {
    fn from(caller: &Caller) -> Self {
        // `name()` records unauthenticated callers as `anonymous` rather than leaving a blank.
        AuditContext::new(caller.name(), caller.source_ip)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Get,
    Set,
    Remove,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Get => "get",
            Action::Set => "set",
            Action::Remove => "remove",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The secret did not exist or had expired.
    NotFound,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::NotFound => "not-found",
        }
    }
}

/// One entry of `GET /audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub time: Timestamp,
    pub client_id: String,
    pub action: String,
    pub name: String,
    pub source_ip: Option<String>,
    pub outcome: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            time: r.time,
            client_id: r.client_id,
            action: r.action,
            name: r.name,
            source_ip: r.source_ip,
            outcome: r.outcome,
        }
    }
}

/// The query of `GET /audit`: an optional secret name, plus paging.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    pub name: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// One page of the audit log, newest first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn context_from_caller_names_anonymous_callers() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let caller = Caller {
            client_id: None,
            scopes: Arc::new(vec![]),
            expires: None,
            source_ip: Some(ip),
        };
        assert_eq!(
            AuditContext::from(&caller),
            AuditContext::new("anonymous", Some(ip))
        );
        let caller = Caller {
            client_id: Some("me".into()),
            ..caller
        };
        assert_eq!(AuditContext::from(&caller).client_id, "me");
    }

    #[test]
    fn entries_serialize_in_camel_case() {
        let e = AuditEntry {
            time: Timestamp::from_millis(0),
            client_id: "c".into(),
            action: Action::Remove.as_str().into(),
            name: "n".into(),
            source_ip: None,
            outcome: Outcome::NotFound.as_str().into(),
        };
        let v = serde_json::to_value(e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"time": "1970-01-01T00:00:00.000Z", "clientId": "c", "action": "remove",
                               "name": "n", "sourceIp": null, "outcome": "not-found"})
        );
    }
}
