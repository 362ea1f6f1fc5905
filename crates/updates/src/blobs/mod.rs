//! Release blobs: parsing by `schema_version` and the pieces of update.xml
//! each kind contributes.

mod app;
mod desupport;
mod gmp;
mod guardian;
mod systemaddons;
mod value;

use std::collections::HashMap;

use serde_json::Value;

pub use app::AppRelease;
pub use desupport::DesupportBlob;
pub use gmp::{addons, GmpBlob, SuperBlob};
pub use guardian::GuardianBlob;
pub use systemaddons::SystemAddonsBlob;

use crate::allowlist::{DomainAllowlist, ForceHosts};
use crate::error::{Result, UpdatesError};
use crate::request::UpdateQuery;

/// Balrog's `ServeUpdate`: Maybe means "past the client's pin: look for a
/// pinned release first".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeUpdate {
    No,
    Maybe,
    Yes,
}

/// A parsed release blob.
#[derive(Debug, Clone)]
pub enum Release {
    App(AppRelease),
    Desupport(DesupportBlob),
    Gmp(GmpBlob),
    SystemAddons(SystemAddonsBlob),
    /// JSON-only (`/json/...`); on XML routes it is "Wrong blob type".
    Guardian(GuardianBlob),
    /// Answered by evaluating the rules again for each of its products.
    Super(SuperBlob),
}

/// Releases by name, which partial patches look their `from` release up in.
pub trait ReleaseLookup {
    fn release(&self, name: &str) -> Option<&Release>;
}

impl ReleaseLookup for HashMap<String, Release> {
    fn release(&self, name: &str) -> Option<&Release> {
        self.get(name)
    }
}

/// What rendering needs besides the blob and the query.
pub struct RenderContext<'a> {
    pub allowlist: &'a DomainAllowlist,
    pub force_hosts: &'a ForceHosts,
    pub releases: &'a dyn ReleaseLookup,
}

/// The three parts of the `<update>` element a blob renders, as lines.
pub struct UpdateParts {
    pub header: String,
    pub body: Vec<String>,
    pub footer: String,
}

impl Release {
    /// Parses a blob as Balrog's `createBlob` does (schema 7 was removed).
    pub fn from_json(data: Value) -> Result<Release> {
        let schema = match data.get("schema_version") {
            None | Some(Value::Null) => {
                return Err(UpdatesError::InvalidBlob(
                    "schema_version is not set".into(),
                ))
            }
            Some(v) => v
                .as_u64()
                .ok_or_else(|| UpdatesError::InvalidBlob("schema_version is unknown".into()))?,
        };
        let Value::Object(map) = data else {
            return Err(UpdatesError::InvalidBlob(
                "a blob must be a JSON object".into(),
            ));
        };
        match schema {
            1..=6 | 8 | 9 => Ok(Release::App(AppRelease::new(schema as u32, map)?)),
            50 => Ok(Release::Desupport(DesupportBlob::new(map)?)),
            1000 => Ok(Release::Gmp(GmpBlob::new(map)?)),
            4000 => Ok(Release::Super(SuperBlob::new(map)?)),
            5000 => Ok(Release::SystemAddons(SystemAddonsBlob::new(map)?)),
            10000 => Ok(Release::Guardian(GuardianBlob::new(map)?)),
            _ => Err(UpdatesError::InvalidBlob(
                "schema_version is unknown".into(),
            )),
        }
    }

    /// The release's own version (Balrog's `getApplicationVersion(None, None)`): an app
    /// blob's top-level `appVersion` (`extv` in schema 1); other blobs have none.
    pub fn application_version(&self) -> Option<String> {
        match self {
            Release::App(a) => a.top_level_version(),
            _ => None,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Release::App(a) => a.name(),
            Release::Desupport(d) => d.name(),
            Release::Gmp(g) => g.name(),
            Release::SystemAddons(a) => a.name(),
            Release::Guardian(g) => g.name(),
            Release::Super(s) => s.name(),
        }
    }

    pub fn should_serve_update(&self, q: &UpdateQuery) -> Result<ServeUpdate> {
        match self {
            Release::App(a) => a.should_serve_update(q),
            Release::Guardian(g) => g.should_serve_update(q),
            // Desupport notices, GMP, system add-ons and superblobs are always served.
            _ => Ok(ServeUpdate::Yes),
        }
    }

    pub fn render(
        &self,
        q: &UpdateQuery,
        update_type: &str,
        ctx: &RenderContext<'_>,
    ) -> Result<UpdateParts> {
        match self {
            Release::App(a) => a.render(q, update_type, ctx),
            Release::Desupport(d) => Ok(d.render(q, update_type)),
            Release::Gmp(g) => g.render(q, ctx.allowlist),
            Release::SystemAddons(a) => a.render(q, ctx.allowlist),
            Release::Guardian(_) => Err(crate::error::bad_data("Wrong blob type")),
            // The products' lines are filled in by the caller (`answer`).
            Release::Super(_) => Ok(addons(Vec::new())),
        }
    }
}

#[cfg(test)]
mod tests;
