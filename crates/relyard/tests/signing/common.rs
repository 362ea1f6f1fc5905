//! A relyard server for auth, throwaway keys (made once per test binary), and signing servers
//! configured through a real `signing.toml`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use relyard_signing::access::{TokenKey, TokenKeys};
use relyard_signing::config::SigningConfig;
use relyard_signing::passphrases::Passphrases;
use relyard_signing::server::SigningServer;
use relyard_signing::{generate, KdfParams, KeyKind};
use relyard_testing::TestServer;
use serde_json::{json, Value};

pub const PASSPHRASE: &str = "test passphrase";
pub const TOKEN_SECRET: &str = "a token secret of at least thirty-two bytes";

/// Cheap Argon2id costs: the tests exercise the server, not the work factor.
const FAST: KdfParams = KdfParams {
    m_cost_kib: 256,
    t_cost: 1,
    p_cost: 1,
};

pub struct TestKey {
    pub id: &'static str,
    pub file_json: String,
    pub public: String,
}

/// One gpg, one minisign, one 4096-bit RSA (mar) and one authenticode key for the whole binary
/// (RSA keys are slow to make).
pub fn keys() -> &'static [TestKey; 4] {
    static KEYS: OnceLock<[TestKey; 4]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let make = |id: &'static str, kind| {
            let (file, key) = generate(id, kind, PASSPHRASE.as_bytes(), FAST).expect("generate");
            TestKey {
                id,
                file_json: file.to_json(),
                public: key.public_key().expect("public key"),
            }
        };
        [
            make("release-gpg", KeyKind::Gpg),
            make("release-minisign", KeyKind::Minisign),
            make("release-rsa", KeyKind::Rsa),
            make("release-win", KeyKind::Authenticode),
        ]
    })
}

pub struct Env {
    pub auth: TestServer,
    pub dir: tempfile::TempDir,
}

/// A signing server of a test, with the paths of what it writes.
pub struct Signing {
    pub server: SigningServer,
    pub url: String,
    pub audit_log: PathBuf,
}

impl Signing {
    pub fn audit_lines(&self) -> usize {
        std::fs::read_to_string(&self.audit_log)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }
}

impl Env {
    pub async fn new() -> Env {
        let env = Env {
            auth: TestServer::start().await,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let keys_dir = env.path("keys");
        std::fs::create_dir_all(&keys_dir).expect("mkdir keys");
        for key in keys() {
            std::fs::write(keys_dir.join(format!("{}.key", key.id)), &key.file_json)
                .expect("write key file");
        }
        std::fs::write(keys_dir.join("token.secret"), format!("{TOKEN_SECRET}\n"))
            .expect("write token secret");
        env
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A complete signing.toml for a server named `name` (its own audit log and result store).
    pub fn config_text(&self, name: &str, networks: &[&str]) -> String {
        let networks = serde_json::to_string(networks).expect("json");
        format!(
            r#"
listen = "127.0.0.1:0"
auth_root_url = "{auth}"
allowed_networks = {networks}
pool_size = 2
audit_log = "{name}/audit.log"
long_poll = "5s"
[[token_keys]]
id = "test"
secret_file = "keys/token.secret"
[results]
dir = "{name}/results"
max_age = "1h"
max_bytes = 10000000
[[keys]]
id = "release-gpg"
file = "keys/release-gpg.key"
formats = ["gpg", "sha256sums"]
[[keys]]
id = "release-minisign"
file = "keys/release-minisign.key"
formats = ["minisign"]
[[keys]]
id = "release-rsa"
file = "keys/release-rsa.key"
formats = ["mar"]
[[keys]]
id = "release-win"
file = "keys/release-win.key"
formats = ["authenticode"]
[formats.gpg]
max_size = 100000
filename_globs = ["*.txt", "*.bin", "*.tar.gz"]
[formats.minisign]
max_size = 100000
filename_globs = ["*"]
[formats.sha256sums]
max_size = 100000
filename_regex = "SHA256SUMS"
[formats.mar]
max_size = 1000000
filename_globs = ["*.mar"]
[formats.authenticode]
max_size = 1000000
filename_globs = ["*.exe"]
"#,
            auth = self.auth.root_url,
        )
    }

    /// Writes the config of server `name` and returns its path.
    pub fn write_config(&self, name: &str, networks: &[&str]) -> PathBuf {
        std::fs::create_dir_all(self.path(name)).expect("mkdir");
        let path = self.path(&format!("{name}.toml"));
        std::fs::write(&path, self.config_text(name, networks)).expect("write config");
        path
    }

    pub fn passphrases() -> Passphrases {
        let mut p = Passphrases::default();
        for key in keys() {
            p.insert(key.id, PASSPHRASE);
        }
        p
    }

    /// Starts a signing server in this process, as `relyard signing-server` does.
    pub async fn signing(&self, name: &str, networks: &[&str]) -> Signing {
        let config = SigningConfig::load(&self.write_config(name, networks)).expect("config");
        let (token_keys, keyring) = config.unlock(&Self::passphrases()).expect("unlock");
        let server = SigningServer::start(&config, token_keys, keyring)
            .await
            .expect("signing server starts");
        Signing {
            url: server.url(),
            audit_log: config.audit_log.clone(),
            server,
        }
    }

    /// A relyard client holding `scopes`, as credentials for the signing client.
    pub async fn client(&self, id: &str, scopes: &[&str]) -> taskcluster::Credentials {
        let auth = taskcluster::Auth::new(self.auth.root_client()).expect("auth client");
        let expires = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let created = auth
            .createClient(
                id,
                &json!({"expires": expires, "description": "signing test", "scopes": scopes}),
            )
            .await
            .expect("createClient");
        let token = created["accessToken"].as_str().expect("accessToken");
        taskcluster::Credentials::new(id, token)
    }
}

/// The token ring the test servers share, for minting tokens the server would not issue.
pub fn token_keys() -> TokenKeys {
    TokenKeys::new(vec![
        TokenKey::new("test", TOKEN_SECRET.as_bytes()).expect("key")
    ])
    .expect("ring")
}

/// `POST /api/signing/v1/token`, signed with Hawk as `relyard sign` signs it; (status, body).
pub async fn ask_token(
    url: &str,
    credentials: Option<&taskcluster::Credentials>,
    body: Value,
) -> (u16, Value) {
    let url = format!("{url}/api/signing/v1/token");
    let mut req = reqwest::Client::new().post(&url).json(&body);
    if let Some(c) = credentials {
        let header = relyard_signing::client::hawk_header(c, "POST", &url).expect("hawk header");
        req = req.header("Authorization", header);
    }
    let resp = req.send().await.expect("token request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    relyard_signing::sha256_hex(bytes)
}

/// Uploads `body` as `name`; (status, JSON body).
pub async fn upload(url: &str, format: &str, token: &str, name: &str, body: &[u8]) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/api/signing/v1/sign/{format}"))
        .bearer_auth(token)
        .header("X-Content-SHA256", sha256_hex(body))
        .header("X-Filename", name)
        .body(body.to_vec())
        .send()
        .await
        .expect("upload request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Fetches the output of `sha256` (long poll); (status, bytes).
pub async fn fetch(url: &str, format: &str, token: &str, sha256: &str) -> (u16, Vec<u8>) {
    let resp = reqwest::Client::new()
        .get(format!("{url}/api/signing/v1/sign/{format}/{sha256}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("fetch request");
    let status = resp.status().as_u16();
    let claimed = resp
        .headers()
        .get("X-Content-SHA256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = resp.bytes().await.expect("body").to_vec();
    if status == 200 {
        assert_eq!(
            claimed.as_deref(),
            Some(sha256_hex(&bytes).as_str()),
            "output sha256 header"
        );
    }
    (status, bytes)
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (scripts/test installs it): {e}"))
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A fresh GNUPGHOME under `dir` holding only the test gpg key's public half.
pub fn gpg_home(dir: &Path) -> PathBuf {
    let home = dir.join("gnupg");
    std::fs::create_dir_all(&home).expect("mkdir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    let public = dir.join("release-gpg.asc");
    std::fs::write(&public, &keys()[0].public).expect("write");
    let out = run(Command::new("gpg")
        .env("GNUPGHOME", &home)
        .args(["--batch", "--no-tty", "--import"])
        .arg(&public));
    assert!(out.status.success(), "gpg --import: {}", text(&out));
    home
}

/// Whether gpg says `sig` is a good signature of `data`.
pub fn gpg_verifies(home: &Path, sig: &Path, data: &Path) -> bool {
    let out = run(Command::new("gpg")
        .env("GNUPGHOME", home)
        .args(["--batch", "--no-tty", "--status-fd", "1", "--verify"])
        .arg(sig)
        .arg(data));
    out.status.success() && text(&out).contains("[GNUPG:] GOODSIG")
}

/// Whether `minisign -V` accepts `sig` for `data`.
pub fn minisign_verifies(dir: &Path, data: &Path, sig: &Path) -> bool {
    let public = dir.join("release-minisign.pub");
    std::fs::write(&public, &keys()[1].public).expect("write");
    let out = run(Command::new("minisign")
        .arg("-V")
        .arg("-p")
        .arg(&public)
        .arg("-m")
        .arg(data)
        .arg("-x")
        .arg(sig));
    out.status.success()
}

/// Flips one bit of the file at `path`.
pub fn tamper(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[0] ^= 0x01;
    std::fs::write(path, bytes).expect("write");
}

/// A signing token for `formats`, asked by a new client `id` holding `signing:token:*`
/// (createClient refuses an id twice, so each token needs its own).
pub async fn signing_token(env: &Env, url: &str, id: &str, formats: &[&str]) -> String {
    let creds = env.client(id, &["signing:token:*"]).await;
    let (status, body) = ask_token(
        url,
        Some(&creds),
        json!({"formats": formats, "duration": "10m"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["expires"].is_string(), "{body}");
    body["token"].as_str().expect("token").to_string()
}
