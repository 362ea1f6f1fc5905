//! Schema 1000: Gecko Media Plugins (Balrog's `blobs/gmp.py`), and schema
//! 4000 superblobs that list the products whose GMP releases make up one
//! `<addons>` answer (`blobs/superblob.py`).

use serde_json::{Map, Value};

use super::value::py_str;
use super::UpdateParts;
use crate::allowlist::DomainAllowlist;
use crate::error::{bad_data, Result, UpdatesError};
use crate::request::UpdateQuery;

#[derive(Debug, Clone)]
pub struct GmpBlob {
    name: String,
    data: Map<String, Value>,
}

fn required_name(data: &Map<String, Value>) -> Result<String> {
    data.get("name")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| UpdatesError::InvalidBlob("'name' is a required property".into()))
}

fn internal(msg: impl Into<String>) -> UpdatesError {
    UpdatesError::Internal(msg.into())
}

impl GmpBlob {
    pub fn new(data: Map<String, Value>) -> Result<GmpBlob> {
        if !data.get("vendors").is_some_and(Value::is_object) {
            return Err(UpdatesError::InvalidBlob(
                "'vendors' is a required property".into(),
            ));
        }
        Ok(GmpBlob {
            name: required_name(&data)?,
            data,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn vendors(&self) -> impl Iterator<Item = (&String, &Map<String, Value>)> {
        self.data
            .get("vendors")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k, v.as_object()?)))
    }

    fn platforms(vendor: &Map<String, Value>) -> Option<&Map<String, Value>> {
        vendor.get("platforms").and_then(Value::as_object)
    }

    /// The vendor's entry for the build target: its own (through an alias),
    /// else `default`; None when the vendor has neither.
    fn platform_data<'a>(
        vendor_id: &str,
        vendor: &'a Map<String, Value>,
        target: &str,
    ) -> Option<Result<&'a Map<String, Value>>> {
        let platforms = Self::platforms(vendor)?;
        let resolved = match platforms.get(target) {
            Some(p) => p.get("alias").and_then(Value::as_str).unwrap_or(target),
            None if platforms.contains_key("default") => "default",
            None => return None,
        };
        Some(
            platforms
                .get(resolved)
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    bad_data(format!(
                        "No platform '%s' in vendor '%s' {resolved} {vendor_id}"
                    ))
                }),
        )
    }

    /// One `<addon>` per vendor (sorted by id) that has the build target or
    /// a default; entries on forbidden domains are dropped, as are forbidden
    /// mirrors. Force hosts do not apply to GMP.
    pub fn addon_lines(&self, q: &UpdateQuery, allowlist: &DomainAllowlist) -> Result<Vec<String>> {
        let hash_function = self
            .data
            .get("hashFunction")
            .map(py_str)
            .ok_or_else(|| internal("blob without hashFunction"))?;
        let mut vendors: Vec<_> = self.vendors().collect();
        vendors.sort_by(|a, b| a.0.cmp(b.0));
        let mut lines = Vec::new();
        for (id, vendor) in vendors {
            let Some(pd) = Self::platform_data(id, vendor, &q.build_target) else {
                continue;
            };
            let pd = pd?;
            let field = |k: &str| {
                pd.get(k)
                    .map(py_str)
                    .ok_or_else(|| internal(format!("GMP platform without {k}")))
            };
            let url = field("fileUrl")?;
            if allowlist.is_forbidden(&url, &q.product) {
                continue;
            }
            let mirrors: Vec<String> = pd
                .get("mirrorUrls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(py_str)
                .filter(|m| !allowlist.is_forbidden(m, &q.product))
                .collect();
            let version = vendor
                .get("version")
                .map(py_str)
                .ok_or_else(|| internal("GMP vendor without version"))?;
            let close = if mirrors.is_empty() { "/" } else { "" };
            lines.push(format!(
                r#"        <addon id="{id}" URL="{url}" hashFunction="{hash_function}" hashValue="{}" size="{}" version="{version}"{close}>"#,
                field("hashValue")?,
                field("filesize")?,
            ));
            if !mirrors.is_empty() {
                lines.extend(
                    mirrors
                        .iter()
                        .map(|m| format!(r#"            <mirror URL="{m}"/>"#)),
                );
                lines.push("        </addon>".into());
            }
        }
        Ok(lines)
    }

    pub fn render(&self, q: &UpdateQuery, allowlist: &DomainAllowlist) -> Result<UpdateParts> {
        Ok(addons(self.addon_lines(q, allowlist)?))
    }
}

/// The `<addons>` wrapper GMP blobs and superblobs put around their lines.
pub fn addons(body: Vec<String>) -> UpdateParts {
    UpdateParts {
        header: "    <addons>".into(),
        body,
        footer: "    </addons>".into(),
    }
}

/// A superblob naming the products whose rules are evaluated again, each
/// answer's addon lines joined under one `<addons>`.
#[derive(Debug, Clone)]
pub struct SuperBlob {
    name: String,
    products: Vec<String>,
}

impl SuperBlob {
    pub fn new(data: Map<String, Value>) -> Result<SuperBlob> {
        let name = required_name(&data)?;
        if data.contains_key("blobs") {
            // System add-on superblobs (named blobs of schema 5000) are a later slice.
            return Err(UpdatesError::InvalidBlob(
                "superblobs with 'blobs' are not supported by relyard yet".into(),
            ));
        }
        let products = data
            .get("products")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .ok_or_else(|| UpdatesError::InvalidBlob("a superblob needs 'products'".into()))?;
        Ok(SuperBlob { name, products })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn products(&self) -> &[String] {
        &self.products
    }
}
