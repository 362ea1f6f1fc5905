//! App release blobs, schemas 1–6, 8 and 9 (Balrog's `blobs/apprelease.py`).
//!
//! The schemas differ in three places, each a method here:
//! - the `<update>` line: v1 (`version`/`extensionVersion`), v2–v8 (fixed
//!   attributes then the schema's optional ones in order), v9 (attributes
//!   from `updateLine`, sorted by name);
//! - which patches: v1/v2 one `complete` and one `partial` per locale, v3+
//!   the first usable entry of `completes` and of `partials`;
//! - patch URLs: v1–v3 `fileUrls.{channel}` templates, v4+
//!   `fileUrls.{channel|*}.{completes|partials}.{from}`.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::value::{attr_str, py_str, py_str_opt, required_name, truthy, with_locale};
use super::{Release, RenderContext, ServeUpdate, UpdateParts};
use crate::error::{bad_data, Result, UpdatesError};
use crate::matching::{
    fallback_channel, match_build_id, match_channel, match_version, VersionClass,
};
use crate::request::UpdateQuery;
use crate::versions::{MozVersion, PinVersion};

#[derive(Debug, Clone)]
pub struct AppRelease {
    schema: u32,
    name: String,
    data: Map<String, Value>,
}

/// Optional `<update>` attributes of v2–v8 in the order Balrog writes them:
/// v2–v5 start with billboardURL (dropped in v6), v5 added promptWaitTime,
/// v8 the binary-transparency attributes.
fn optional_attrs(schema: u32) -> Vec<&'static str> {
    let mut attrs = Vec::with_capacity(10);
    if schema <= 5 {
        attrs.push("billboardURL");
    }
    attrs.extend([
        "showPrompt",
        "showNeverForVersion",
        "actions",
        "openURL",
        "notificationURL",
        "alertURL",
    ]);
    if schema >= 5 {
        attrs.push("promptWaitTime");
    }
    if schema == 8 {
        attrs.extend([
            "binTransMerkleRoot",
            "binTransCertificate",
            "binTransSCTList",
        ]);
    }
    attrs
}

/// The optional attributes that get `%LOCALE%` substituted.
fn interpolable_attrs(schema: u32) -> &'static [&'static str] {
    if schema <= 5 {
        &["billboardURL", "openURL", "notificationURL", "alertURL"]
    } else {
        &["openURL", "notificationURL", "alertURL"]
    }
}

/// v9 `updateLine` fields that get `%LOCALE%` substituted.
const V9_INTERPOLABLE: &[&str] = &["openURL", "notificationURL", "alertURL", "detailsURL"];

/// Appends ` key="value"` to an `<update>` line: booleans in lower case, and
/// `%LOCALE%` substituted in the attributes that allow it.
fn push_attr(line: &mut String, key: &str, value: &Value, interpolable: &[&str], locale: &str) {
    let mut value = attr_str(value);
    if interpolable.contains(&key) {
        value = with_locale(&value, locale);
    }
    line.push_str(&format!(r#" {key}="{value}""#));
}

fn internal(msg: impl Into<String>) -> UpdatesError {
    UpdatesError::Internal(msg.into())
}

impl AppRelease {
    pub fn new(schema: u32, data: Map<String, Value>) -> Result<AppRelease> {
        let name = required_name(&data)?;
        if data.get("platforms").is_some_and(|p| !p.is_object()) {
            return Err(UpdatesError::InvalidBlob(
                "'platforms' must be an object".into(),
            ));
        }
        Ok(AppRelease { schema, name, data })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn schema_version(&self) -> u32 {
        self.schema
    }

    fn platforms(&self) -> Option<&Map<String, Value>> {
        self.data.get("platforms").and_then(Value::as_object)
    }

    fn platform(&self, name: &str) -> Option<&Map<String, Value>> {
        self.platforms()?.get(name)?.as_object()
    }

    pub fn has_platform(&self, name: &str) -> bool {
        self.platforms().is_some_and(|p| p.contains_key(name))
    }

    /// The platform an alias points at (BadData when the platform is unknown;
    /// the message keeps Balrog's unformatted `%s`, which is what it sends).
    fn resolved_platform<'a>(&'a self, platform: &'a str) -> Result<&'a str> {
        let p = self
            .platform(platform)
            .ok_or_else(|| bad_data(format!("Can't find platform '%s' {platform}")))?;
        Ok(p.get("alias").and_then(Value::as_str).unwrap_or(platform))
    }

    fn platform_data(&self, platform: &str) -> Result<&Map<String, Value>> {
        let resolved = self.resolved_platform(platform)?;
        self.platform(resolved)
            .ok_or_else(|| bad_data(format!("Can't find platform '%s' {resolved}")))
    }

    fn locale_data(&self, platform: &str, locale: &str) -> Result<&Map<String, Value>> {
        let pd = self.platform_data(platform)?;
        pd.get("locales")
            .and_then(|l| l.get(locale))
            .and_then(Value::as_object)
            .ok_or_else(|| {
                bad_data(format!(
                    "Can't find locale '%s' in '%s' {locale} {platform}"
                ))
            })
    }

    /// A locale's value of `param`, else the blob's top-level one.
    fn locale_or_top(&self, platform: &str, locale: &str, param: &str) -> Option<&Value> {
        let from_locale = self
            .resolved_platform(platform)
            .ok()
            .and_then(|p| self.platform(p))
            .and_then(|p| p.get("locales"))
            .and_then(|l| l.get(locale))
            .and_then(|l| l.get(param));
        from_locale.or_else(|| self.data.get(param))
    }

    /// The locale's buildID, else the platform's.
    pub fn build_id(&self, platform: &str, locale: &str) -> Result<&Value> {
        let resolved = self.resolved_platform(platform)?;
        let pd = self.platform(resolved);
        let loc = pd
            .and_then(|p| p.get("locales"))
            .and_then(|l| l.get(locale));
        let Some(loc) = loc else {
            return Err(bad_data(format!(
                "No such locale '{locale}' in platform '{resolved}'"
            )));
        };
        if let Some(b) = loc.get("buildID") {
            return Ok(b);
        }
        pd.and_then(|p| p.get("buildID"))
            .ok_or_else(|| bad_data(format!("No buildID for platform '{resolved}'")))
    }

    /// The key of the version "never update backwards" compares with.
    fn version_key(&self) -> &'static str {
        if self.schema == 1 {
            "extv"
        } else {
            "appVersion"
        }
    }

    /// The version "never update backwards" compares with: `extv` for v1,
    /// `appVersion` after.
    fn application_version(&self, platform: &str, locale: &str) -> Option<&Value> {
        self.locale_or_top(platform, locale, self.version_key())
    }

    /// The blob's own (top-level) version, if it has one.
    pub fn top_level_version(&self) -> Option<String> {
        self.data
            .get(self.version_key())
            .filter(|v| truthy(v))
            .map(py_str)
    }

    pub fn should_serve_update(&self, q: &UpdateQuery) -> Result<ServeUpdate> {
        let Some(rv) = self
            .application_version(&q.build_target, &q.locale)
            .filter(|v| truthy(v))
        else {
            return Ok(ServeUpdate::No);
        };
        let release_version = MozVersion::parse(&py_str(rv))?;
        let query_version = MozVersion::parse(&q.version)?;
        match query_version.cmp_to(&release_version) {
            Ordering::Greater => return Ok(ServeUpdate::No),
            Ordering::Equal => {
                // Same version: only a strictly newer build (string order) is an update.
                if q.build_id.as_str()
                    >= py_str(self.build_id(&q.build_target, &q.locale)?).as_str()
                {
                    return Ok(ServeUpdate::No);
                }
            }
            Ordering::Less => {}
        }
        if !self.has_platform(&q.build_target) {
            return Ok(ServeUpdate::No);
        }
        if let Some(pin) = &q.pin {
            let pin = PinVersion::parse(pin)?;
            if let MozVersion::Strict(s) = &release_version {
                if pin.cmp_version(s) == Ordering::Greater {
                    return Ok(ServeUpdate::Maybe);
                }
            }
        }
        Ok(ServeUpdate::Yes)
    }

    /// Whether the client is exactly this release (used for the `from` of a
    /// partial): one of the build targets is in the blob and the client's
    /// buildID equals this release's buildID for its locale.
    fn matches_update_query(&self, q: &UpdateQuery, aliases: &[String]) -> bool {
        std::iter::once(&q.build_target)
            .chain(aliases.iter())
            .any(|bt| {
                self.has_platform(bt)
                    && self
                        .build_id(bt, &q.locale)
                        .is_ok_and(|b| b.as_str() == Some(q.build_id.as_str()))
            })
    }

    pub fn render(
        &self,
        q: &UpdateQuery,
        update_type: &str,
        ctx: &RenderContext<'_>,
    ) -> Result<UpdateParts> {
        let header = match self.schema {
            1 => self.update_line_v1(q, update_type)?,
            9 => self.update_line_v9(q, update_type)?,
            _ => self.update_line_new_style(q, update_type)?,
        };
        let locale_data = self.locale_data(&q.build_target, &q.locale)?;
        let mut body = Vec::new();
        if self.schema <= 2 {
            for key in ["complete", "partial"] {
                if let Some(patch) = locale_data.get(key).filter(|p| truthy(p)) {
                    if let Some(xml) = self.patch_xml(key, key, patch, q, ctx)? {
                        body.push(xml);
                    }
                }
            }
        } else {
            for (key, kind) in [("completes", "complete"), ("partials", "partial")] {
                for patch in locale_data
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(xml) = self.patch_xml(key, kind, patch, q, ctx)? {
                        body.push(xml);
                        break;
                    }
                }
            }
        }
        Ok(UpdateParts {
            header,
            body,
            footer: "    </update>".into(),
        })
    }

    /// ` detailsURL="…"` and ` licenseURL="…"` from the blob's top level.
    fn details_and_license(&self, locale: &str) -> String {
        let mut s = String::new();
        for (key, attr) in [("detailsUrl", "detailsURL"), ("licenseUrl", "licenseURL")] {
            if let Some(v) = self.data.get(key) {
                s.push_str(&format!(r#" {attr}="{}""#, with_locale(&py_str(v), locale)));
            }
        }
        s
    }

    fn update_line_v1(&self, q: &UpdateQuery, update_type: &str) -> Result<String> {
        let (bt, loc) = (&q.build_target, &q.locale);
        let appv = py_str_opt(self.locale_or_top(bt, loc, "appv"));
        let extv = py_str_opt(self.locale_or_top(bt, loc, "extv"));
        let build_id = py_str(self.build_id(bt, loc)?);
        let mut line = format!(
            r#"    <update type="{update_type}" version="{appv}" extensionVersion="{extv}" buildID="{build_id}""#
        );
        line.push_str(&self.details_and_license(loc));
        line.push('>');
        // Bugs 998721 and 1174605: old clients get their own version echoed
        // back or extensionVersion dropped, so add-ons are not disabled.
        if self.data.get("oldVersionSpecialCases").is_some_and(truthy) {
            let v = MozVersion::parse(&q.version)?;
            let at_least = |s: &str| MozVersion::parse(s).map(|b| v.cmp_to(&b) != Ordering::Less);
            if at_least("2.0")? && !at_least("3.5")? {
                line = line.replace(
                    &format!(r#"version="{appv}""#),
                    &format!(r#"version="{}""#, q.version),
                );
                line = line.replace(&format!(r#"extensionVersion="{extv}" "#), "");
            } else if at_least("3.5")? && !at_least("3.6")? {
                line = line.replace(&format!(r#"extensionVersion="{extv}" "#), "");
            } else if at_least("3.6")? && !at_least("4.0")? {
                line = line.replace(
                    &format!(r#"extensionVersion="{extv}""#),
                    &format!(r#"extensionVersion="{}""#, q.version),
                );
            }
        }
        Ok(line)
    }

    fn update_line_new_style(&self, q: &UpdateQuery, update_type: &str) -> Result<String> {
        let (bt, loc) = (&q.build_target, &q.locale);
        let display = py_str_opt(self.locale_or_top(bt, loc, "displayVersion"));
        let app = py_str_opt(self.locale_or_top(bt, loc, "appVersion"));
        // v6+ dropped platformVersion from the schema but still print it, as "None".
        let platform = py_str_opt(self.locale_or_top(bt, loc, "platformVersion"));
        let build_id = py_str(self.build_id(bt, loc)?);
        let locale_data = self.locale_data(bt, loc)?;
        let mut line = format!(
            r#"    <update type="{update_type}" displayVersion="{display}" appVersion="{app}" platformVersion="{platform}" buildID="{build_id}""#
        );
        line.push_str(&self.details_and_license(loc));
        if locale_data.get("isOSUpdate").is_some_and(truthy) {
            line.push_str(r#" isOSUpdate="true""#);
        }
        let interpolable = interpolable_attrs(self.schema);
        for attr in optional_attrs(self.schema) {
            if let Some(v) = self.data.get(attr) {
                push_attr(&mut line, attr, v, interpolable, loc);
            }
        }
        line.push('>');
        Ok(line)
    }

    fn update_line_v9(&self, q: &UpdateQuery, update_type: &str) -> Result<String> {
        let (bt, loc) = (&q.build_target, &q.locale);
        let mut attrs: std::collections::BTreeMap<String, Value> =
            std::collections::BTreeMap::new();
        attrs.insert(
            "appVersion".into(),
            self.locale_or_top(bt, loc, "appVersion")
                .cloned()
                .unwrap_or(Value::Null),
        );
        attrs.insert(
            "displayVersion".into(),
            self.locale_or_top(bt, loc, "displayVersion")
                .cloned()
                .unwrap_or(Value::Null),
        );
        attrs.insert("buildID".into(), self.build_id(bt, loc)?.clone());
        attrs.insert("type".into(), Value::String(update_type.into()));
        let fallback = fallback_channel(&q.channel);
        for group in self
            .data
            .get("updateLine")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let conditions = group.get("for").and_then(Value::as_object);
            let mut applies = true;
            for (cond, values) in conditions.into_iter().flatten() {
                let values: Vec<&str> = values
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let ok = match cond.as_str() {
                    "channels" => values
                        .iter()
                        .any(|c| match_channel(Some(c), &q.channel, fallback)),
                    "locales" => values.contains(&loc.as_str()),
                    "versions" => {
                        let mut any = false;
                        for v in &values {
                            if match_version(Some(v), &q.version, VersionClass::Mozilla)? {
                                any = true;
                                break;
                            }
                        }
                        any
                    }
                    "buildIDs" => {
                        let mut any = false;
                        for v in &values {
                            if match_build_id(Some(v), &q.build_id)? {
                                any = true;
                                break;
                            }
                        }
                        any
                    }
                    _ => false,
                };
                applies &= ok;
            }
            if applies {
                for (k, v) in group
                    .get("fields")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    attrs.insert(k.clone(), v.clone());
                }
            }
        }
        let mut line = String::from("    <update");
        for (key, value) in &attrs {
            push_attr(&mut line, key, value, V9_INTERPOLABLE, loc);
        }
        line.push('>');
        Ok(line)
    }

    /// One `<patch>` line, or None when the patch does not apply to this
    /// client (wrong `from` release, no URL for a partial, forbidden domain).
    fn patch_xml(
        &self,
        patch_key: &str,
        kind: &str,
        patch: &Value,
        q: &UpdateQuery,
        ctx: &RenderContext<'_>,
    ) -> Result<Option<String>> {
        let from = patch
            .get("from")
            .map(py_str)
            .ok_or_else(|| internal("patch without 'from'"))?;
        if from != "*" {
            // A partial only fits clients running exactly its `from` release
            // (on this build target or one aliased to the same platform).
            let Some(Release::App(from_release)) = ctx.releases.release(&from) else {
                return Ok(None);
            };
            let unaliased = self.resolved_platform(&q.build_target)?.to_string();
            let mut aliases = vec![unaliased.clone()];
            for (bt, pd) in self.platforms().into_iter().flatten() {
                if pd.get("alias").and_then(Value::as_str) == Some(unaliased.as_str()) {
                    aliases.push(bt.clone());
                }
            }
            if !from_release.matches_update_query(q, &aliases) {
                return Ok(None);
            }
        }
        let url = match self.patch_url(q, patch_key, &from, patch)? {
            Some(u) => u,
            None if kind == "partial" => return Ok(None),
            None => return Err(internal("Couldn't find fileUrl")),
        };
        let url = match q.force {
            Some(f) => ctx.force_hosts.apply(url, f),
            None => url,
        };
        if ctx.allowlist.is_forbidden(&url, &q.product) {
            tracing::warn!(
                url,
                product = q.product,
                "patch URL on a forbidden domain dropped"
            );
            return Ok(None);
        }
        let hash_function = self
            .data
            .get("hashFunction")
            .map(py_str)
            .ok_or_else(|| internal("blob without hashFunction"))?;
        let hash_value = patch
            .get("hashValue")
            .map(py_str)
            .ok_or_else(|| internal("patch without hashValue"))?;
        let size = patch
            .get("filesize")
            .map(py_str)
            .ok_or_else(|| internal("patch without filesize"))?;
        let mut xml = format!(
            r#"        <patch type="{kind}" URL="{url}" hashFunction="{hash_function}" hashValue="{hash_value}" size="{size}""#
        );
        if self.schema >= 8 {
            if let Some(proof) = patch.get("binTransInclusionProof") {
                xml.push_str(&format!(r#" binTransInclusionProof="{}""#, py_str(proof)));
            }
        }
        xml.push_str("/>");
        Ok(Some(xml))
    }

    /// The patch's URL: its own `fileUrl`, else the blob's templates. None
    /// means "no URL" (v4+ partials without one are skipped).
    fn patch_url(
        &self,
        q: &UpdateQuery,
        patch_key: &str,
        from: &str,
        patch: &Value,
    ) -> Result<Option<String>> {
        let pd = self.platform_data(&q.build_target)?;
        if let Some(u) = patch.get("fileUrl") {
            return Ok(Some(py_str(u)));
        }
        let os_field = |k: &str| {
            pd.get(k)
                .map(py_str)
                .ok_or_else(|| internal(format!("platform without {k}")))
        };
        let file_urls = self.data.get("fileUrls").and_then(Value::as_object);
        let fallback = fallback_channel(&q.channel);
        let template = if self.schema >= 4 {
            let mut found = None;
            for c in [q.channel.as_str(), fallback, "*"] {
                // The first channel with a non-empty block decides, even if
                // it has no URL for this patch.
                if let Some(block) = file_urls.and_then(|f| f.get(c)).filter(|b| truthy(b)) {
                    found = block
                        .get(patch_key)
                        .and_then(|k| k.get(from))
                        .map(py_str)
                        .filter(|s| !s.is_empty());
                    break;
                }
            }
            let Some(t) = found else { return Ok(None) };
            t
        } else {
            // v1–v3: one template per channel; Balrog fails (500) without one.
            let t = file_urls
                .and_then(|f| f.get(q.channel.as_str()).or_else(|| f.get(fallback)))
                .map(py_str)
                .ok_or_else(|| internal("Couldn't find fileUrl"))?;
            let lookup = |table: &str| -> String {
                let entry = self.data.get(table).and_then(|t| t.get(patch_key));
                let entry = if self.schema == 3 {
                    entry.and_then(|e| e.get(from))
                } else {
                    entry
                };
                entry.map(py_str).unwrap_or_default()
            };
            let (ftp, bouncer) = (lookup("ftpFilenames"), lookup("bouncerProducts"));
            t.replace("%FILENAME%", &ftp)
                .replace("%PRODUCT%", &bouncer)
                .replace("%filename%", &ftp)
                .replace("%product%", &bouncer)
        };
        // Balrog reads OS_FTP and OS_BOUNCER whether or not the template uses them.
        let (os_ftp, os_bouncer) = (os_field("OS_FTP")?, os_field("OS_BOUNCER")?);
        let url = with_locale(&template, &q.locale)
            .replace("%OS_FTP%", &os_ftp)
            .replace("%OS_BOUNCER%", &os_bouncer)
            .replace("%os_ftp%", &os_ftp)
            .replace("%os_bouncer%", &os_bouncer);
        Ok(Some(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn blob(v: Value) -> AppRelease {
        let mut map = v.as_object().cloned().unwrap_or_default();
        map.insert("name".into(), json!("x"));
        AppRelease::new(4, map).unwrap()
    }

    fn is_bad<T: std::fmt::Debug>(r: Result<T>) -> bool {
        matches!(r, Err(UpdatesError::BadData(_)))
    }

    // balrog tests/blobs/test_apprelease.py, TestReleaseBlobBase.
    #[test]
    fn platform_and_locale_lookups() {
        let b = blob(json!({"platforms": {"a": {}, "b": {"alias": "a"}}}));
        assert_eq!(b.resolved_platform("a").unwrap(), "a"); // testGetResolvedPlatform
        assert_eq!(b.resolved_platform("b").unwrap(), "a");
        assert!(is_bad(b.resolved_platform("d"))); // ...RaisesBadDataError
        let b = blob(json!({"platforms": {"a": {"foo": 1}}}));
        assert_eq!(
            Value::Object(b.platform_data("a").unwrap().clone()),
            json!({"foo": 1})
        ); // testGetPlatformData
        assert!(is_bad(b.platform_data("c")));
        assert!(is_bad(
            blob(json!({"platforms": {"b": {"alias": "c"}}})).platform_data("b")
        )); // ...BadAlias...
        let b = blob(json!({"platforms": {"b": {"locales": {"a": {"foo": 4}}}}}));
        assert_eq!(
            Value::Object(b.locale_data("b", "a").unwrap().clone()),
            json!({"foo": 4})
        ); // testGetLocaleData
        assert!(is_bad(b.locale_data("b", "c")));
        // testGetLocaleOrTopLevelParam{TopLevelOnly,LocaleOnly,Missing}
        assert_eq!(
            blob(json!({"foo": 5})).locale_or_top("a", "b", "foo"),
            Some(&json!(5))
        );
        let b = blob(json!({"platforms": {"f": {"locales": {"g": {"foo": 6}}}}}));
        assert_eq!(b.locale_or_top("f", "g", "foo"), Some(&json!(6)));
        assert_eq!(b.locale_or_top("a", "b", "c"), None);
    }

    // TestReleaseBlobBase.testGetBuildID*.
    #[test]
    fn build_ids() {
        let b = blob(json!({"platforms": {"a": {"buildID": 1, "locales": {"b": {}}}}}));
        assert_eq!(b.build_id("a", "b").unwrap(), &json!(1)); // PlatformOnly
        let b = blob(json!({"platforms": {"c": {"locales": {"d": {"buildID": 9}}}}}));
        assert_eq!(b.build_id("c", "d").unwrap(), &json!(9)); // LocaleOnly
        assert!(is_bad(b.build_id("c", "a"))); // MissingLocale
        assert!(is_bad(blob(json!({"platforms": {}})).build_id("c", "a"))); // MissingPlatform
        assert!(is_bad(
            blob(json!({"platforms": {"c": {}}})).build_id("c", "a")
        )); // MissingLocalesFieldInPlatform
        assert!(is_bad(
            blob(json!({"platforms": {"c": {"locales": {"d": {}}}}})).build_id("c", "a")
        ));
        let b = blob(json!({"platforms": {"c": {"buildID": 9, "locales": {"d": {}}}}}));
        assert!(is_bad(b.build_id("c", "a"))); // MissingLocaleBuildIDAtPlatform
        assert_eq!(
            b.build_id("c", "a").unwrap_err().to_string(),
            "No such locale 'a' in platform 'c'"
        );
    }
}
