//! Schema 10000: Guardian / Mozilla VPN releases, served as JSON by the
//! `/json/...` routes (Balrog's `blobs/guardian.py`).

use serde_json::{Map, Value};

use super::value::required_name;
use super::ServeUpdate;
use crate::allowlist::DomainAllowlist;
use crate::error::{Result, UpdatesError};
use crate::request::UpdateQuery;
use crate::versions::LooseVersion;

#[derive(Debug, Clone)]
pub struct GuardianBlob {
    name: String,
    data: Map<String, Value>,
}

impl GuardianBlob {
    pub fn new(data: Map<String, Value>) -> Result<GuardianBlob> {
        let name = required_name(&data)?;
        if !data.get("version").is_some_and(Value::is_string) {
            return Err(UpdatesError::InvalidBlob(
                "'version' is a required property".into(),
            ));
        }
        Ok(GuardianBlob { name, data })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn platform(&self, target: &str) -> Option<&Map<String, Value>> {
        self.data.get("platforms")?.get(target)?.as_object()
    }

    fn version(&self) -> &str {
        self.data
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Served when the client's platform is in the blob and its version is
    /// older (LooseVersion order).
    pub fn should_serve_update(&self, q: &UpdateQuery) -> Result<ServeUpdate> {
        if self.platform(&q.build_target).is_none() {
            return Ok(ServeUpdate::No);
        }
        if LooseVersion::parse(&q.version)
            .cmp_to(&LooseVersion::parse(self.version()))?
            .is_ge()
        {
            return Ok(ServeUpdate::No);
        }
        Ok(ServeUpdate::Yes)
    }

    /// The JSON object Balrog returns, fields in its order; `{}` when the
    /// platform has no URL or the URL's domain is not allowed.
    pub fn response(
        &self,
        q: &UpdateQuery,
        allowlist: &DomainAllowlist,
    ) -> Vec<(&'static str, Value)> {
        let pd = self.platform(&q.build_target);
        let Some(url) = pd
            .and_then(|p| p.get("fileUrl"))
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
        else {
            return Vec::new();
        };
        if allowlist.is_forbidden(url, &q.product) {
            return Vec::new();
        }
        let field = |k: &str| self.data.get(k).cloned().unwrap_or(Value::Null);
        vec![
            ("version", field("version")),
            ("url", Value::String(url.to_string())),
            ("required", field("required")),
            ("hashFunction", field("hashFunction")),
            (
                "hashValue",
                pd.and_then(|p| p.get("hashValue"))
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
        ]
    }
}
