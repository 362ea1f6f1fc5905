//! Which hosts patch URLs may point at, per product (Balrog's
//! `ALLOWLISTED_DOMAINS`), and the force hosts that get `force=` appended.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;

use crate::error::UpdatesError;

/// The environment variable naming an allow-list file (the issue's
/// `--updates-domain-allowlist` option reads the same file).
pub const ALLOWLIST_ENV: &str = "RELYARD_UPDATES_DOMAIN_ALLOWLIST_FILE";

/// What one allow-listed domain permits.
#[derive(Debug, Clone)]
pub enum DomainRule {
    /// Any path, for these products.
    Products(Vec<String>),
    /// Paths fully matching a regex, each with its products (first match decides).
    Paths(Vec<(Regex, Vec<String>)>),
}

/// The domain allow-list. Its JSON form is Balrog's: `{domain: [products]}`
/// or `{domain: {pathRegex: [products]}}`.
#[derive(Debug, Clone, Default)]
pub struct DomainAllowlist {
    domains: BTreeMap<String, DomainRule>,
}

fn products(v: &Value, domain: &str) -> Result<Vec<String>, UpdatesError> {
    v.as_array()
        .and_then(|a| {
            a.iter()
                .map(|p| p.as_str().map(String::from))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| {
            UpdatesError::Config(format!(
                "allow-list entry for {domain} must list product names"
            ))
        })
}

impl DomainAllowlist {
    pub fn from_json(v: &Value) -> Result<DomainAllowlist, UpdatesError> {
        let obj = v.as_object().ok_or_else(|| {
            UpdatesError::Config("the domain allow-list must be an object".into())
        })?;
        let mut domains = BTreeMap::new();
        for (domain, entry) in obj {
            let rule = match entry {
                Value::Object(paths) => {
                    let mut list = Vec::new();
                    for (re, prods) in paths {
                        // Python's re.fullmatch: anchor both ends.
                        let regex = Regex::new(&format!("^(?:{re})$")).map_err(|e| {
                            UpdatesError::Config(format!("bad path regex for {domain}: {e}"))
                        })?;
                        list.push((regex, products(prods, domain)?));
                    }
                    DomainRule::Paths(list)
                }
                other => DomainRule::Products(products(other, domain)?),
            };
            domains.insert(domain.clone(), rule);
        }
        Ok(DomainAllowlist { domains })
    }

    /// Reads a JSON allow-list file.
    pub fn from_file(path: &std::path::Path) -> Result<DomainAllowlist, UpdatesError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UpdatesError::Config(format!("cannot read {}: {e}", path.display())))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| UpdatesError::Config(format!("{} is not JSON: {e}", path.display())))?;
        DomainAllowlist::from_json(&v)
    }

    /// The file given, else the one named by [`ALLOWLIST_ENV`], else Balrog's
    /// production list.
    pub fn configured(path: Option<&std::path::Path>) -> Result<DomainAllowlist, UpdatesError> {
        let from_env = std::env::var_os(ALLOWLIST_ENV).map(std::path::PathBuf::from);
        match path.map(std::path::Path::to_path_buf).or(from_env) {
            Some(p) => DomainAllowlist::from_file(&p),
            None => Ok(DomainAllowlist::balrog_production()),
        }
    }

    /// Balrog's production list (`uwsgi/public.wsgi`, outside staging).
    pub fn balrog_production() -> DomainAllowlist {
        let v = serde_json::json!({
            "download.mozilla.org": ["Firefox", "Fennec", "Devedition", "Thunderbird"],
            "archive.mozilla.org": ["Firefox", "Fennec", "Devedition", "Thunderbird", "FirefoxVPN", "SystemAddons"],
            "download.cdn.mozilla.net": ["Firefox", "Fennec"],
            "ciscobinary.openh264.org": ["OpenH264"],
            "cdmdownload.adobe.com": ["CDM"],
            "clients2.googleusercontent.com": ["Widevine"],
            "edgedl.me.gvt1.com": ["Widevine", "Widevine-L1"],
            "redirector.gvt1.com": ["Widevine", "Widevine-L1"],
            "www.google.com": {
                "/dl/release2/chrome_component/[\\w\\.]+/[\\w\\.]+\\.crx3": ["Widevine", "Widevine-L1"]
            },
            "ftp.mozilla.org": ["SystemAddons"],
            "fpn.firefox.com": ["FirefoxVPN", "Guardian"],
            "vpn.mozilla.org": ["FirefoxVPN", "Guardian"]
        });
        DomainAllowlist::from_json(&v).unwrap_or_default()
    }

    /// Whether `url` may not be served to `product`. The host is the URL's
    /// netloc as Python's urlparse gives it (port and userinfo included).
    pub fn is_forbidden(&self, url: &str, product: &str) -> bool {
        let (netloc, path) = split_netloc(url);
        match self.domains.get(netloc) {
            None => true,
            Some(DomainRule::Products(p)) => !p.iter().any(|x| x == product),
            Some(DomainRule::Paths(paths)) => {
                match paths.iter().find(|(re, _)| re.is_match(path)) {
                    Some((_, p)) => !p.iter().any(|x| x == product),
                    None => true,
                }
            }
        }
    }
}

/// urlparse's netloc and path: after `scheme://`, up to the next `/`, `?` or `#`.
fn split_netloc(url: &str) -> (&str, &str) {
    let Some(idx) = url.find("//") else {
        return ("", url);
    };
    // urlparse only takes a netloc when "//" follows the scheme (or starts the URL).
    let scheme = &url[..idx];
    if !(scheme.is_empty() || scheme.ends_with(':')) {
        return ("", url);
    }
    let rest = &url[idx + 2..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let path_part = &rest[end..];
    let path_end = path_part.find(['?', '#']).unwrap_or(path_part.len());
    (&rest[..end], &path_part[..path_end])
}

/// URL prefixes after which `force=` is appended when the request forced.
#[derive(Debug, Clone)]
pub struct ForceHosts(pub Vec<String>);

impl Default for ForceHosts {
    /// Balrog production's `SPECIAL_FORCE_HOSTS`.
    fn default() -> Self {
        ForceHosts(vec!["http://download.mozilla.org".to_string()])
    }
}

impl ForceHosts {
    pub fn apply(&self, url: String, force: crate::request::Force) -> String {
        if !self.0.iter().any(|h| url.starts_with(h.as_str())) {
            return url;
        }
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}force={}", force.query_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Force;

    #[test]
    fn production_list() {
        let a = DomainAllowlist::balrog_production();
        assert!(!a.is_forbidden("http://download.mozilla.org/?product=firefox", "Firefox"));
        assert!(a.is_forbidden("http://download.mozilla.org/x", "CDM"));
        assert!(a.is_forbidden("http://evil.com/x", "Firefox"));
        assert!(
            a.is_forbidden("http://download.mozilla.org:8080/x", "Firefox"),
            "the port is part of the netloc"
        );
        assert!(!a.is_forbidden(
            "https://www.google.com/dl/release2/chrome_component/abc/x_1.crx3",
            "Widevine"
        ));
        assert!(a.is_forbidden("https://www.google.com/dl/other.crx3", "Widevine"));
    }

    #[test]
    fn from_file() {
        let path =
            std::env::temp_dir().join(format!("relyard-allowlist-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"a.com": ["b"], "c.com": {"/x/.*": ["d"]}}"#).unwrap();
        let a = DomainAllowlist::configured(Some(&path)).unwrap();
        assert!(!a.is_forbidden("http://a.com/z", "b"));
        assert!(!a.is_forbidden("http://c.com/x/y", "d"));
        assert!(
            a.is_forbidden("http://download.mozilla.org/x", "Firefox"),
            "the file replaces the default"
        );
        std::fs::write(&path, r#"{"a.com": "b"}"#).unwrap();
        assert!(matches!(
            DomainAllowlist::from_file(&path),
            Err(UpdatesError::Config(_))
        ));
        std::fs::remove_file(&path).unwrap();
        assert!(DomainAllowlist::from_file(&path).is_err());
    }

    // balrog tests/test_AUS.py, TestForbiddenUrl.test_urls.
    #[test]
    fn forbidden_urls() {
        let a = DomainAllowlist::from_json(&serde_json::json!({
            "ignore.net": ["c", "d"],
            "b.org": ["e", "f"],
            "a.com": {"/path/[\\w\\.]+/[\\w\\.]+\\.bin": ["a", "b"]}
        }))
        .unwrap();
        assert!(a.is_forbidden("https://b.com/path/foo/bar.bin", "c"));
        assert!(a.is_forbidden("https://b.org/anything/I/want.exe", "d"));
        assert!(!a.is_forbidden("https://b.org/anything/I/want.exe", "e"));
        assert!(a.is_forbidden("https://a.com/not/allowed.bin", "a"));
        assert!(a.is_forbidden("https://a.com/path/not/allowed+.bin", "b"));
        assert!(a.is_forbidden("https://a.com/path/foo/bar.bin", "c"));
        assert!(!a.is_forbidden("https://a.com/path/foo/bar.bin", "b"));
    }

    // balrog tests/blobs/test_apprelease.py, TestSpecialQueryParams.
    #[test]
    fn force_hosts() {
        let h = ForceHosts(vec!["http://a.com".into()]);
        assert_eq!(
            h.apply("http://a.com/?foo=a".into(), Force::Main),
            "http://a.com/?foo=a&force=1"
        );
        assert_eq!(
            h.apply("http://a.com/x".into(), Force::Fallback),
            "http://a.com/x?force=-1"
        );
        assert_eq!(
            h.apply("http://b.com/x".into(), Force::Main),
            "http://b.com/x"
        );
    }
}
