//! Schema 5000: system add-ons (Balrog's `blobs/systemaddons.py`).

use serde_json::{Map, Value};

use super::gmp::{addon_open, hash_function, internal, servable};
use super::value::{py_str, required_name, truthy};
use super::UpdateParts;
use crate::allowlist::DomainAllowlist;
use crate::error::Result;
use crate::request::UpdateQuery;

#[derive(Debug, Clone)]
pub struct SystemAddonsBlob {
    name: String,
    data: Map<String, Value>,
}

impl SystemAddonsBlob {
    pub fn new(data: Map<String, Value>) -> Result<SystemAddonsBlob> {
        let name = required_name(&data)?;
        Ok(SystemAddonsBlob { name, data })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// One line per servable add-on, sorted by id.
    fn addon_lines(&self, q: &UpdateQuery, allowlist: &DomainAllowlist) -> Result<Vec<String>> {
        let hash_function = hash_function(&self.data)?;
        let mut lines = Vec::new();
        // Balrog crashes (500) on an alias to a missing platform here.
        for a in servable(&self.data, "addons", q, allowlist, |e| {
            internal(e.to_string())
        })? {
            let version = a
                .entry
                .get("version")
                .map(py_str)
                .ok_or_else(|| internal("add-on without version"))?;
            lines.push(format!(
                "{}/>",
                addon_open(a.id, &a.url, &hash_function, a.platform, &version)?
            ));
        }
        Ok(lines)
    }

    /// `<addons>` only wraps the lines when there is one to serve or the
    /// blob asks for uninstalls; otherwise header and footer are empty lines.
    pub fn render(&self, q: &UpdateQuery, allowlist: &DomainAllowlist) -> Result<UpdateParts> {
        let body = self.addon_lines(q, allowlist)?;
        let wrapped = self.data.get("uninstall").is_some_and(truthy) || !body.is_empty();
        let (header, footer) = if wrapped {
            ("    <addons>", "    </addons>")
        } else {
            ("", "")
        };
        Ok(UpdateParts {
            header: header.into(),
            body,
            footer: footer.into(),
        })
    }
}
