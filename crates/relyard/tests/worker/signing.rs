//! Signing tasks: a build task's artifact, signed by a signing worker through a real signing
//! server, verifies with gpg; an artifact altered after upload fails the chain-of-trust check and
//! nothing is signed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use relyard_signing::config::SigningConfig;
use relyard_signing::formats::KeyKind;
use relyard_signing::keystore::{generate, KdfParams};
use relyard_signing::passphrases::Passphrases;
use relyard_signing::server::SigningServer;
use serde_json::{json, Value};

use crate::common::{sh, Env};

const KEY_ID: &str = "release-gpg";
const PASSPHRASE: &str = "signing task test passphrase";
/// The build task's artifact, and what the signing task publishes beside it.
const INPUT: &str = "public/build/app.txt";

/// Cheap Argon2 parameters: this test is about tasks, not key stretching.
const FAST: KdfParams = KdfParams {
    m_cost_kib: 64,
    t_cost: 1,
    p_cost: 1,
};

struct Signing {
    server: SigningServer,
    public_key: String,
    audit_log: PathBuf,
}

/// A signing server with one gpg key, trusting the test server's auth.
async fn signing_server(env: &Env) -> Signing {
    let dir = env.path("signing");
    std::fs::create_dir_all(dir.join("keys")).expect("keys dir");
    let (file, _) = generate(KEY_ID, KeyKind::Gpg, PASSPHRASE.as_bytes(), FAST).expect("key");
    file.write_new(&dir.join("keys/release.key"))
        .expect("key file");
    std::fs::write(
        dir.join("keys/token.secret"),
        "a token secret of more than thirty-two bytes",
    )
    .expect("token secret");
    let text = format!(
        r#"
listen = "127.0.0.1:0"
auth_root_url = "{root}"
allowed_networks = ["127.0.0.0/8"]
pool_size = 2
audit_log = "audit.log"
long_poll = "5s"
[[token_keys]]
id = "t1"
secret_file = "keys/token.secret"
[results]
dir = "results"
max_age = "1d"
max_bytes = 10485760
[[keys]]
id = "{KEY_ID}"
file = "keys/release.key"
formats = ["gpg"]
[formats.gpg]
max_size = 1048576
filename_globs = ["*.txt"]
"#,
        root = env.server.root_url
    );
    let config = SigningConfig::parse(&text, &dir).expect("signing config");
    let mut passphrases = Passphrases::default();
    passphrases.insert(KEY_ID, PASSPHRASE);
    let (token_keys, keyring) = config.unlock(&passphrases).expect("keys unlock");
    let server = SigningServer::start(&config, token_keys, keyring)
        .await
        .expect("signing server starts");
    Signing {
        server,
        public_key: file.public_key().to_string(),
        audit_log: dir.join("audit.log"),
    }
}

fn build_task(env: &Env, content: &str) -> Value {
    env.task(
        "build",
        json!({
            "command": [sh(&format!("mkdir -p out && printf '%s' '{content}' > out/app.txt"))],
            "maxRunTime": 60,
            "artifacts": [{"type": "directory", "path": "out", "name": "public/build"}],
        }),
    )
}

fn signing_task(env: &Env, build_id: &str) -> Value {
    let mut def = env.task(
        "sign",
        json!({"signing": {"format": "gpg",
            "upstreamArtifacts": [{"taskId": build_id, "paths": [INPUT]}]}}),
    );
    def["dependencies"] = json!([build_id]);
    def
}

/// `gpg --verify` of `signature` over `data` with only `public_key` in a fresh keyring.
fn gpg_verifies(dir: &Path, public_key: &str, data: &[u8], signature: &[u8]) -> bool {
    let home = dir.join(format!("gnupg-{}", relyard_core::ids::slugid()));
    std::fs::create_dir_all(&home).expect("gnupg home");
    std::fs::write(home.join("key.asc"), public_key).expect("public key");
    std::fs::write(home.join("data"), data).expect("data");
    std::fs::write(home.join("data.asc"), signature).expect("signature");
    let gpg = |args: &[&str]| {
        std::process::Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--quiet"])
            .args(args)
            .output()
            .expect("gpg runs")
    };
    let import = gpg(&["--import", &home.join("key.asc").to_string_lossy()]);
    assert!(import.status.success(), "gpg --import: {import:?}");
    gpg(&[
        "--verify",
        &home.join("data.asc").to_string_lossy(),
        &home.join("data").to_string_lossy(),
    ])
    .status
    .success()
}

#[tokio::test]
async fn a_signing_task_signs_its_dependencys_artifact_and_gpg_verifies_it() {
    let env = Env::new().await;
    let signing = signing_server(&env).await;
    let _worker = env.worker("signer", &["--signing-server", &signing.server.url()]);

    let build = env.create(&build_task(&env, "release bits 1.0")).await;
    let sign = env.create(&signing_task(&env, &build)).await;
    let status = env.wait_resolved(&sign).await;
    assert_eq!(status["state"], "completed", "{}", env.log(&sign).await);

    let input = env.artifact(&build, INPUT).await;
    let signature = env.artifact(&sign, &format!("{INPUT}.asc")).await;
    assert!(String::from_utf8_lossy(&signature).contains("BEGIN PGP SIGNATURE"));
    assert!(gpg_verifies(
        &env.dir.path().join("gpg"),
        &signing.public_key,
        &input,
        &signature
    ));
    let mut tampered = input.clone();
    tampered[0] ^= 1;
    assert!(!gpg_verifies(
        &env.dir.path().join("gpg"),
        &signing.public_key,
        &tampered,
        &signature
    ));
    let log = env.log(&sign).await;
    assert!(log.contains("Chain of trust"), "{log}");
}

#[tokio::test]
async fn an_artifact_altered_after_upload_fails_the_chain_of_trust_and_nothing_is_signed() {
    let env = Env::new().await;
    let signing = signing_server(&env).await;
    let _worker = env.worker("signer", &["--signing-server", &signing.server.url()]);

    let content = "release bits 2.0, as built";
    let build = env.create(&build_task(&env, content)).await;
    assert_eq!(env.wait_resolved(&build).await["state"], "completed");
    // Someone with access to the artifact storage swaps the bytes after the upload.
    let stored = find_file_holding(env.server.data_dir(), content.as_bytes());
    std::fs::write(&stored, "release bits 2.0, with a backdoor").expect("alter the blob");

    let sign = env.create(&signing_task(&env, &build)).await;
    let status = env.wait_resolved(&sign).await;
    assert_eq!(status["state"], "failed");
    let log = env.log(&sign).await;
    assert!(log.contains("chain of trust"), "{log}");
    assert!(log.contains(INPUT), "{log}");
    let audit = std::fs::read_to_string(&signing.audit_log).unwrap_or_default();
    assert!(audit.trim().is_empty(), "something was signed: {audit}");
}

#[tokio::test]
async fn a_worker_without_signing_servers_refuses_signing_tasks() {
    let env = Env::new().await;
    let _worker = env.worker("plain", &[]);
    let build = env.create(&build_task(&env, "x")).await;
    let sign = env.create(&signing_task(&env, &build)).await;
    let status = env
        .wait_for(&sign, Duration::from_secs(60), |s| {
            s["state"] == "exception" || s["state"] == "completed" || s["state"] == "failed"
        })
        .await;
    assert_eq!(status["state"], "exception");
    assert_eq!(status["runs"][0]["reasonResolved"], "malformed-payload");
}

/// The one file under `dir` whose bytes are `content`.
fn find_file_holding(dir: &Path, content: &[u8]) -> PathBuf {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path).map(|b| b == content).unwrap_or(false) {
                found.push(path);
            }
        }
    }
    assert_eq!(found.len(), 1, "blob files holding the content: {found:?}");
    found.remove(0)
}
