//! The signing server's configuration file (`signing.toml`; `examples/signing.toml` is the
//! commented reference).
//!
//! Loading checks everything that can be checked without secrets: the TOML shape, addresses,
//! CIDRs, formats, key ids, that every served format has limits and a key, and the filename
//! patterns. [`SigningConfig::check_files`] then reads the files it names (key files, token
//! secrets), and [`SigningConfig::unlock`] unlocks and proves the keys. The config never holds
//! a secret value itself: token secrets live in their own files and passphrases are typed or
//! read from a file descriptor ([`crate::passphrases`]).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::Regex;
use serde::Deserialize;

use crate::access::{AllowedNetworks, TokenKey, TokenKeys};
use crate::formats::{Format, UnlockedKey};
use crate::keystore::{validate_key_id, KeyFile};
use crate::passphrases::Passphrases;
use crate::Keyring;

/// How long `GET …/sign/<format>/<sha256>` waits for a pending job before answering 202.
pub const DEFAULT_LONG_POLL: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
    /// One line per key that failed to unlock or prove, so an operator sees them all at once.
    #[error("{}", .0.join("\n"))]
    Keys(Vec<String>),
}

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(message.into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: SocketAddr,
    auth_root_url: String,
    allowed_networks: Vec<String>,
    pool_size: usize,
    audit_log: PathBuf,
    long_poll: Option<String>,
    token_keys: Vec<RawTokenKey>,
    results: RawResults,
    keys: Vec<RawKey>,
    formats: BTreeMap<String, RawFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokenKey {
    id: String,
    secret_file: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResults {
    dir: PathBuf,
    max_age: String,
    max_bytes: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    id: String,
    file: PathBuf,
    formats: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFormat {
    max_size: u64,
    #[serde(default)]
    filename_globs: Vec<String>,
    filename_regex: Option<String>,
}

/// A token key of the ring: its id and the file holding its secret.
#[derive(Debug, Clone)]
pub struct TokenKeyFile {
    pub id: String,
    pub secret_file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ResultsConfig {
    pub dir: PathBuf,
    pub max_age: Duration,
    pub max_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct KeyConfig {
    pub id: String,
    pub file: PathBuf,
    pub formats: Vec<Format>,
}

/// Which file names a format accepts: a name passes if any glob or the regex matches it whole.
#[derive(Debug, Clone)]
pub struct FilenamePolicy {
    globs: GlobSet,
    regex: Option<Regex>,
}

impl FilenamePolicy {
    pub fn new(globs: &[String], regex: Option<&str>) -> Result<Self, String> {
        let mut set = GlobSetBuilder::new();
        for g in globs {
            // `*` must not cross a `/`: names are plain file names, but say so in the pattern too.
            let glob = globset::GlobBuilder::new(g)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("glob `{g}`: {e}"))?;
            set.add(glob);
        }
        let globs = set.build().map_err(|e| e.to_string())?;
        let regex = regex
            .map(|r| Regex::new(&format!("^(?:{r})$")).map_err(|e| format!("regex `{r}`: {e}")))
            .transpose()?;
        Ok(Self { globs, regex })
    }

    /// Anything, for tests and local use.
    pub fn any() -> Self {
        let mut set = GlobSetBuilder::new();
        if let Ok(g) = Glob::new("*") {
            set.add(g);
        }
        Self {
            globs: set.build().unwrap_or_else(|_| GlobSet::empty()),
            regex: None,
        }
    }

    /// Whether `name` (a plain file name, no directory part) is allowed.
    pub fn allows(&self, name: &str) -> bool {
        let plain = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains(['/', '\\', '\0'])
            && !name.chars().any(char::is_control);
        plain
            && (self.globs.is_match(name) || self.regex.as_ref().is_some_and(|r| r.is_match(name)))
    }
}

/// Limits of one format.
#[derive(Debug, Clone)]
pub struct FormatPolicy {
    pub max_size: u64,
    pub filenames: FilenamePolicy,
}

/// A loaded, checked configuration. Paths are absolute or relative to the config file's folder.
#[derive(Debug, Clone)]
pub struct SigningConfig {
    pub listen: SocketAddr,
    /// The relyard root URL whose auth service checks Hawk (`authenticate-hawk`).
    pub auth_root_url: String,
    pub networks: AllowedNetworks,
    pub pool_size: usize,
    pub audit_log: PathBuf,
    pub long_poll: Duration,
    /// Newest first: the first issues tokens, all verify.
    pub token_keys: Vec<TokenKeyFile>,
    pub results: ResultsConfig,
    pub keys: Vec<KeyConfig>,
    pub formats: HashMap<Format, FormatPolicy>,
}

fn duration(what: &str, text: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(text)
        .map_err(|e| invalid(format!("{what} `{text}`: {e} (write e.g. \"20s\", \"7d\")")))
}

fn parse_format(name: &str, context: &str) -> Result<Format, ConfigError> {
    name.parse::<Format>()
        .map_err(|e| invalid(format!("{context}: {e}")))
}

impl SigningConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|e| match e {
            ConfigError::Invalid(message) => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parses config text; relative paths are taken relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let at = |p: &Path| base.join(p);

        let networks = AllowedNetworks::parse(&raw.allowed_networks)
            .map_err(|e| invalid(format!("allowed_networks: {e}")))?;
        if raw.pool_size == 0 {
            return Err(invalid("pool_size must be at least 1"));
        }
        let auth_root_url = raw.auth_root_url.trim_end_matches('/').to_string();
        reqwest::Url::parse(&auth_root_url)
            .map_err(|e| invalid(format!("auth_root_url `{auth_root_url}`: {e}")))?;

        if raw.token_keys.is_empty() {
            return Err(invalid(
                "token_keys: at least one [[token_keys]] entry is needed",
            ));
        }
        let mut token_keys: Vec<TokenKeyFile> = Vec::new();
        for k in raw.token_keys {
            validate_key_id(&k.id).map_err(|e| invalid(format!("token_keys: {e}")))?;
            if token_keys.iter().any(|t| t.id == k.id) {
                return Err(invalid(format!("token_keys: id `{}` appears twice", k.id)));
            }
            token_keys.push(TokenKeyFile {
                id: k.id,
                secret_file: at(&k.secret_file),
            });
        }

        let results = ResultsConfig {
            dir: at(&raw.results.dir),
            max_age: duration("results.max_age", &raw.results.max_age)?,
            max_bytes: raw.results.max_bytes,
        };

        let mut formats = HashMap::new();
        for (name, f) in &raw.formats {
            let format = parse_format(name, "[formats]")?;
            if f.filename_globs.is_empty() && f.filename_regex.is_none() {
                return Err(invalid(format!(
                    "[formats.{name}]: give filename_globs or filename_regex (`[\"*\"]` allows any name)"
                )));
            }
            if f.max_size == 0 {
                return Err(invalid(format!(
                    "[formats.{name}]: max_size must be above 0"
                )));
            }
            let filenames = FilenamePolicy::new(&f.filename_globs, f.filename_regex.as_deref())
                .map_err(|e| invalid(format!("[formats.{name}]: {e}")))?;
            formats.insert(
                format,
                FormatPolicy {
                    max_size: f.max_size,
                    filenames,
                },
            );
        }

        let mut keys: Vec<KeyConfig> = Vec::new();
        for k in raw.keys {
            validate_key_id(&k.id).map_err(|e| invalid(format!("[[keys]]: {e}")))?;
            if keys.iter().any(|other| other.id == k.id) {
                return Err(invalid(format!("[[keys]]: id `{}` appears twice", k.id)));
            }
            if k.formats.is_empty() {
                return Err(invalid(format!("key `{}`: formats is empty", k.id)));
            }
            let mut key_formats = Vec::new();
            for name in &k.formats {
                let format = parse_format(name, &format!("key `{}`", k.id))?;
                if !formats.contains_key(&format) {
                    return Err(invalid(format!(
                        "key `{}` signs {format}, but there is no [formats.{format}] with its limits",
                        k.id
                    )));
                }
                if keys.iter().any(|other| other.formats.contains(&format)) {
                    return Err(invalid(format!(
                        "format {format} has two keys; give each format one key"
                    )));
                }
                key_formats.push(format);
            }
            keys.push(KeyConfig {
                id: k.id,
                file: at(&k.file),
                formats: key_formats,
            });
        }
        for format in formats.keys() {
            if !keys.iter().any(|k| k.formats.contains(format)) {
                return Err(invalid(format!(
                    "[formats.{format}] has no key: add it to the formats of a [[keys]] entry"
                )));
            }
        }

        let long_poll = match &raw.long_poll {
            Some(text) => duration("long_poll", text)?,
            None => DEFAULT_LONG_POLL,
        };
        Ok(SigningConfig {
            listen: raw.listen,
            auth_root_url,
            networks,
            pool_size: raw.pool_size,
            audit_log: at(&raw.audit_log),
            long_poll,
            token_keys,
            results,
            keys,
            formats,
        })
    }

    /// The ids of the keys whose passphrases are needed, in config order.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Reads what the config points at that needs no passphrase: every key file (it must be a
    /// key file of the id and a kind that signs its formats), the token secrets, and the folders
    /// of the audit log and result store.
    pub fn check_files(&self) -> Result<(TokenKeys, Vec<KeyFile>), ConfigError> {
        let token_keys = self.token_key_ring()?;
        let mut files = Vec::new();
        for key in &self.keys {
            let file = KeyFile::read(&key.file).map_err(|e| invalid(e.to_string()))?;
            if file.id() != key.id {
                return Err(invalid(format!(
                    "key `{}`: {} holds key `{}`",
                    key.id,
                    key.file.display(),
                    file.id()
                )));
            }
            for format in &key.formats {
                if format.key_kind() != file.kind() {
                    return Err(invalid(format!(
                        "key `{}` is a {} key and cannot sign {format}",
                        key.id,
                        file.kind().as_str()
                    )));
                }
            }
            files.push(file);
        }
        for (what, dir) in [
            ("audit_log", self.audit_log.parent()),
            ("results.dir", self.results.dir.parent()),
        ] {
            if let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) {
                if !dir.is_dir() {
                    return Err(invalid(format!(
                        "{what}: folder {} does not exist",
                        dir.display()
                    )));
                }
            }
        }
        Ok((token_keys, files))
    }

    fn token_key_ring(&self) -> Result<TokenKeys, ConfigError> {
        let mut ring = Vec::new();
        for k in &self.token_keys {
            let secret = std::fs::read(&k.secret_file).map_err(|source| ConfigError::Read {
                path: k.secret_file.clone(),
                source,
            })?;
            // A trailing newline from `echo` or an editor is not part of the secret.
            let end = secret
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(0, |i| i + 1);
            let key = TokenKey::new(&k.id, &secret[..end])
                .map_err(|e| invalid(format!("{} ({})", e, k.secret_file.display())))?;
            ring.push(key);
        }
        TokenKeys::new(ring).map_err(|e| invalid(e.to_string()))
    }

    /// Reads the files, unlocks every key with its passphrase, builds the keyring and proves
    /// every signer. Every failing key is reported, each line naming it.
    pub fn unlock(&self, passphrases: &Passphrases) -> Result<(TokenKeys, Keyring), ConfigError> {
        let (token_keys, files) = self.check_files()?;
        let mut keyring = Keyring::new();
        let mut failures = Vec::new();
        for (key, file) in self.keys.iter().zip(&files) {
            let Some(passphrase) = passphrases.get(&key.id) else {
                failures.push(format!("key `{}`: no passphrase was given", key.id));
                continue;
            };
            let unlocked: UnlockedKey = match file.unlock(passphrase.as_bytes()) {
                Ok(k) => k,
                Err(e) => {
                    failures.push(e.to_string());
                    continue;
                }
            };
            for format in &key.formats {
                match unlocked.signer(*format) {
                    Ok(signer) => keyring.add(signer),
                    Err(e) => failures.push(e.to_string()),
                }
            }
        }
        if let Err(proofs) = keyring.prove() {
            failures.extend(proofs.iter().map(|e| e.to_string()));
        }
        if failures.is_empty() {
            Ok((token_keys, keyring))
        } else {
            Err(ConfigError::Keys(failures))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
listen = "127.0.0.1:0"
auth_root_url = "http://127.0.0.1:8080/"
allowed_networks = ["127.0.0.0/8"]
pool_size = 2
audit_log = "audit.log"
[[token_keys]]
id = "t1"
secret_file = "t1.secret"
[results]
dir = "results"
max_age = "1d"
max_bytes = 1000000
[[keys]]
id = "release"
file = "release.key"
formats = ["gpg", "sha256sums"]
[formats.gpg]
max_size = 1000
filename_globs = ["*.tar.gz", "*.zip"]
[formats.sha256sums]
max_size = 1000
filename_regex = "SHA256SUMS"
"#;

    #[test]
    fn a_good_config_loads_with_paths_under_its_folder() {
        let c = SigningConfig::parse(GOOD, Path::new("/etc/relyard")).unwrap();
        assert_eq!(c.auth_root_url, "http://127.0.0.1:8080");
        assert_eq!(c.audit_log, Path::new("/etc/relyard/audit.log"));
        assert_eq!(c.results.max_age, Duration::from_secs(86400));
        assert_eq!(c.keys[0].formats, vec![Format::Gpg, Format::Sha256sums]);
        assert_eq!(c.long_poll, DEFAULT_LONG_POLL);
        let gpg = &c.formats[&Format::Gpg].filenames;
        assert!(gpg.allows("firefox.tar.gz"));
        assert!(!gpg.allows("firefox.exe"));
        assert!(!gpg.allows("dir/firefox.tar.gz"));
        let sums = &c.formats[&Format::Sha256sums].filenames;
        assert!(sums.allows("SHA256SUMS"));
        assert!(!sums.allows("xSHA256SUMS"));
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (
                "127.0.0.0/8\"]",
                "127.0.0.1/8\"]",
                "did you mean `127.0.0.0/8`",
            ),
            ("pool_size = 2", "pool_size = 0", "pool_size"),
            (
                "\"gpg\", \"sha256sums\"]",
                "\"gpg\", \"pdf\"]",
                "unknown format `pdf`",
            ),
            ("max_age = \"1d\"", "max_age = \"soon\"", "results.max_age"),
            (
                "filename_regex = \"SHA256SUMS\"",
                "filename_regex = \"(\"",
                "regex",
            ),
            (
                "formats = [\"gpg\", \"sha256sums\"]",
                "formats = [\"gpg\"]",
                "[formats.sha256sums] has no key",
            ),
            (
                "max_bytes = 1000000",
                "max_bytes = 1000000\nsecret = 1",
                "unknown field",
            ),
        ];
        for (from, to, needle) in cases {
            let text = GOOD.replace(from, to);
            assert_ne!(text, GOOD, "{from}");
            let err = SigningConfig::parse(&text, Path::new("."))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{to}: {err}");
        }
    }

    #[test]
    fn the_example_config_is_valid() {
        let text = include_str!("../../../examples/signing.toml");
        let c = SigningConfig::parse(text, Path::new("/srv/signing")).unwrap();
        assert_eq!(c.keys.len(), 4);
        assert!(c.formats.len() >= 5, "every format has its limits");
        assert!(c.formats[&Format::Authenticode]
            .filenames
            .allows("setup.exe"));
        assert!(c.formats[&Format::Mar]
            .filenames
            .allows("firefox-128.0.complete.mar"));
    }

    #[test]
    fn plain_names_only() {
        let any = FilenamePolicy::any();
        assert!(any.allows("a b.txt"));
        for bad in ["", "..", "a/b", "a\\b", "a\nb"] {
            assert!(!any.allows(bad), "{bad:?}");
        }
    }
}
