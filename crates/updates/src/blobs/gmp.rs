//! Schema 1000: Gecko Media Plugins (Balrog's `blobs/gmp.py`), and schema
//! 4000 superblobs that list the products whose GMP releases make up one
//! `<addons>` answer (`blobs/superblob.py`).

use serde_json::{Map, Value};

use super::value::{py_str, required_name};
use super::UpdateParts;
use crate::allowlist::DomainAllowlist;
use crate::error::{bad_data, Result, UpdatesError};
use crate::request::UpdateQuery;

#[derive(Debug, Clone)]
pub struct GmpBlob {
    name: String,
    data: Map<String, Value>,
}

pub(super) fn internal(msg: impl Into<String>) -> UpdatesError {
    UpdatesError::Internal(msg.into())
}

/// A GMP vendor's or system add-on's entry for the build target: its own
/// (through an alias), else `default`; None when it has neither.
pub(super) fn addon_platform<'a>(
    id: &str,
    entry: &'a Map<String, Value>,
    target: &str,
) -> Option<Result<&'a Map<String, Value>>> {
    let platforms = entry.get("platforms").and_then(Value::as_object)?;
    let resolved = match platforms.get(target) {
        Some(p) => p.get("alias").and_then(Value::as_str).unwrap_or(target),
        None if platforms.contains_key("default") => "default",
        None => return None,
    };
    Some(
        platforms
            .get(resolved)
            .and_then(Value::as_object)
            .ok_or_else(|| bad_data(format!("No platform '%s' in '%s' {resolved} {id}"))),
    )
}

/// The objects under `key` (vendors, addons) sorted by id, as Balrog emits them.
pub(super) fn sorted_entries<'a>(
    data: &'a Map<String, Value>,
    key: &str,
) -> Vec<(&'a String, &'a Map<String, Value>)> {
    let mut v: Vec<_> = data
        .get(key)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k, v.as_object()?)))
        .collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

/// One add-on (GMP vendor or system add-on) that can be served to the
/// query: it has the build target or a default, and its URL is allowed.
pub(super) struct Servable<'a> {
    pub id: &'a str,
    pub entry: &'a Map<String, Value>,
    pub platform: &'a Map<String, Value>,
    pub url: String,
}

/// The servable entries under `key`, sorted by id. `bad_alias` turns the
/// error for an alias to a missing platform into what Balrog answers (400
/// for GMP, a crash for system add-ons).
pub(super) fn servable<'a>(
    data: &'a Map<String, Value>,
    key: &str,
    q: &UpdateQuery,
    allowlist: &DomainAllowlist,
    bad_alias: fn(UpdatesError) -> UpdatesError,
) -> Result<Vec<Servable<'a>>> {
    let mut out = Vec::new();
    for (id, entry) in sorted_entries(data, key) {
        let Some(platform) = addon_platform(id, entry, &q.build_target) else {
            continue;
        };
        let platform = platform.map_err(bad_alias)?;
        let url = platform
            .get("fileUrl")
            .map(py_str)
            .ok_or_else(|| internal("add-on platform without fileUrl"))?;
        if !allowlist.is_forbidden(&url, &q.product) {
            out.push(Servable {
                id,
                entry,
                platform,
                url,
            });
        }
    }
    Ok(out)
}

/// `hashFunction`, which every add-on line carries.
pub(super) fn hash_function(data: &Map<String, Value>) -> Result<String> {
    data.get("hashFunction")
        .map(py_str)
        .ok_or_else(|| internal("blob without hashFunction"))
}

/// `        <addon id=… URL=… hashFunction=… hashValue=… size=… version=…`
/// (without the closing), from the entry's platform data.
pub(super) fn addon_open(
    id: &str,
    url: &str,
    hash_function: &str,
    pd: &Map<String, Value>,
    version: &str,
) -> Result<String> {
    let field = |k: &str| {
        pd.get(k)
            .map(py_str)
            .ok_or_else(|| internal(format!("add-on platform without {k}")))
    };
    Ok(format!(
        r#"        <addon id="{id}" URL="{url}" hashFunction="{hash_function}" hashValue="{}" size="{}" version="{version}""#,
        field("hashValue")?,
        field("filesize")?,
    ))
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

    /// One `<addon>` per vendor (sorted by id) that has the build target or
    /// a default; entries on forbidden domains are dropped, as are forbidden
    /// mirrors. Force hosts do not apply to GMP.
    pub fn addon_lines(&self, q: &UpdateQuery, allowlist: &DomainAllowlist) -> Result<Vec<String>> {
        let hash_function = hash_function(&self.data)?;
        let mut lines = Vec::new();
        for a in servable(&self.data, "vendors", q, allowlist, |e| e)? {
            let mirrors: Vec<String> = a
                .platform
                .get("mirrorUrls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(py_str)
                .filter(|m| !allowlist.is_forbidden(m, &q.product))
                .collect();
            let version = a
                .entry
                .get("version")
                .map(py_str)
                .ok_or_else(|| internal("GMP vendor without version"))?;
            let open = addon_open(a.id, &a.url, &hash_function, a.platform, &version)?;
            if mirrors.is_empty() {
                lines.push(format!("{open}/>"));
            } else {
                lines.push(format!("{open}>"));
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

/// A superblob: either `products`, whose rules are evaluated again and
/// whose answers' lines are joined under one `<addons>`, or `blobs`, named
/// (system add-on) releases whose lines are joined the same way.
#[derive(Debug, Clone)]
pub struct SuperBlob {
    name: String,
    products: Vec<String>,
    blobs: Vec<String>,
}

fn names(data: &Map<String, Value>, key: &str) -> Vec<String> {
    data.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
}

impl SuperBlob {
    pub fn new(data: Map<String, Value>) -> Result<SuperBlob> {
        let name = required_name(&data)?;
        if !data.contains_key("products") && !data.contains_key("blobs") {
            return Err(UpdatesError::InvalidBlob(
                "a superblob needs 'products' or 'blobs'".into(),
            ));
        }
        Ok(SuperBlob {
            name,
            products: names(&data, "products"),
            blobs: names(&data, "blobs"),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn products(&self) -> &[String] {
        &self.products
    }

    pub fn blobs(&self) -> &[String] {
        &self.blobs
    }
}
