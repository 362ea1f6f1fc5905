//! The failover client: with two servers configured and one of them down (or stuck with a job
//! pending), every file is signed and verifies; outputs land where the issue says; the cache
//! answers when no server can.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use relyard_core::retry::RetryPolicy;
use relyard_signing::client::{sign_files, SignRequest};
use relyard_signing::Format;

use crate::common::*;

/// A quick back-off, so a test that exhausts the servers does not wait redo's minutes.
fn quick() -> RetryPolicy {
    RetryPolicy::new(
        3,
        Duration::from_millis(50),
        Duration::from_millis(200),
        1.5,
        Duration::ZERO,
    )
    .expect("policy")
}

/// A URL where nothing listens: a signing server that was started and stopped.
async fn stopped_server(env: &Env) -> String {
    let s = env.signing("stopped", &["127.0.0.0/8"]).await;
    let url = s.url.clone();
    s.server.stop().await.expect("stop");
    url
}

fn files(env: &Env, names: &[&str]) -> Vec<PathBuf> {
    let dir = env.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    names
        .iter()
        .map(|n| {
            let p = dir.join(n);
            std::fs::write(&p, format!("contents of {n}\n")).expect("write");
            p
        })
        .collect()
}

#[tokio::test]
async fn with_one_server_down_every_file_is_signed_and_verifies() {
    let env = Env::new().await;
    let down = stopped_server(&env).await;
    let up = env.signing("up", &["127.0.0.0/8"]).await;
    let creds = env.client("project/release", &["signing:token:*"]).await;
    let inputs = files(&env, &["a.txt", "b.bin", "c.tar.gz", "d.txt", "e.txt"]);
    let home = gpg_home(env.dir.path());

    // Both orders of the two servers are tried: the list is shuffled anyway, but each order is
    // seen here for sure.
    for (round, servers) in [
        vec![down.clone(), up.url.clone()],
        vec![up.url.clone(), down.clone()],
    ]
    .into_iter()
    .enumerate()
    {
        let out_dir = env.path(&format!("out-{round}"));
        std::fs::create_dir_all(&out_dir).expect("mkdir");
        let mut req = SignRequest::new(servers, Format::Gpg, inputs.clone(), creds.clone());
        req.retry = quick();
        req.output_dir = Some(out_dir.clone());
        let seen = std::sync::Mutex::new(0usize);
        let written = sign_files(&req, &|_| *seen.lock().expect("lock") += 1)
            .await
            .expect("signed");
        assert_eq!(written.len(), inputs.len());
        assert_eq!(*seen.lock().expect("lock"), inputs.len());
        for input in &inputs {
            let name = input.file_name().expect("name").to_string_lossy();
            let sig = out_dir.join(format!("{name}.asc"));
            assert!(gpg_verifies(&home, &sig, input), "{name}");
        }
    }
    // Each input was signed once; the second round came from the result store.
    assert_eq!(up.audit_lines(), inputs.len());

    // SHA256SUMS + SHA256SUMS.asc beside the inputs (no --output-dir).
    let mut req = SignRequest::new(
        vec![down.clone(), up.url.clone()],
        Format::Sha256sums,
        inputs.clone(),
        creds.clone(),
    );
    req.retry = quick();
    sign_files(&req, &|_| {}).await.expect("sums");
    let dir = env.path("in");
    assert!(gpg_verifies(
        &home,
        &dir.join("SHA256SUMS.asc"),
        &dir.join("SHA256SUMS")
    ));
    let out = run(Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(&dir));
    assert!(out.status.success(), "{}", text(&out));

    // A tampered file no longer verifies.
    tamper(&inputs[0]);
    assert!(!gpg_verifies(
        &home,
        &env.path("out-0/a.txt.asc"),
        &inputs[0]
    ));
    let out = run(Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(&dir));
    assert!(!out.status.success());
}

// Multi-threaded: the `relyard sign` process is waited for synchronously while the in-process
// signing server must go on answering it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relyard_sign_writes_minisig_files_and_reuses_its_cache() {
    let env = Env::new().await;
    let down = stopped_server(&env).await;
    let up = env.signing("cli", &["127.0.0.0/8"]).await;
    let creds = env.client("project/cli", &["signing:token:minisign"]).await;
    let inputs = files(&env, &["one.txt", "two.txt"]);
    let cache = env.path("cache");
    let sign = |servers: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_relyard"));
        cmd.arg("sign");
        for s in servers {
            cmd.args(["--server", s]);
        }
        cmd.args(["--format", "minisign", "--cache-dir"])
            .arg(&cache)
            .args(&inputs)
            .env("TASKCLUSTER_ROOT_URL", &env.auth.root_url)
            .env("TASKCLUSTER_CLIENT_ID", &creds.client_id)
            .env("TASKCLUSTER_ACCESS_TOKEN", &creds.access_token)
            .env_remove("TASKCLUSTER_CERTIFICATE")
            .env("RUST_BACKTRACE", "0");
        run(&mut cmd)
    };
    let out = sign(&[&down, &up.url]);
    assert!(out.status.success(), "{}", text(&out));
    for input in &inputs {
        let sig = PathBuf::from(format!("{}.minisig", input.display()));
        assert!(
            minisign_verifies(env.dir.path(), input, &sig),
            "{}",
            sig.display()
        );
        std::fs::remove_file(&sig).expect("rm");
    }
    // Every server down now: the cache still answers for the same inputs.
    up.server.stop().await.expect("stop");
    let out = sign(&[&down]);
    assert!(out.status.success(), "{}", text(&out));
    for input in &inputs {
        let sig = PathBuf::from(format!("{}.minisig", input.display()));
        assert!(minisign_verifies(env.dir.path(), input, &sig));
    }
    // A new input with no server up fails, saying why.
    let new = env.path("in/three.txt");
    std::fs::write(&new, "three\n").expect("write");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_relyard"));
    let out = run(cmd
        .args(["sign", "--server", &down, "--format", "minisign"])
        .arg(&new)
        .env("TASKCLUSTER_CLIENT_ID", &creds.client_id)
        .env("TASKCLUSTER_ACCESS_TOKEN", &creds.access_token)
        .env("RUST_BACKTRACE", "0"));
    assert!(!out.status.success());
    assert!(text(&out).contains("cannot connect"), "{}", text(&out));
}

#[tokio::test]
async fn a_mar_is_signed_in_place_and_verifies_with_the_mar_tool() {
    let env = Env::new().await;
    let down = stopped_server(&env).await;
    let up = env.signing("mar", &["127.0.0.0/8"]).await;
    let creds = env.client("project/mar", &["signing:token:mar"]).await;
    let dir = env.path("mar");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("update.txt"), "payload\n").expect("write");
    let out = run(Command::new("mar")
        .args([
            "-c",
            "update.mar",
            "-V",
            "128.0",
            "-H",
            "release",
            "update.txt",
        ])
        .current_dir(&dir));
    assert!(out.status.success(), "mar -c: {}", text(&out));
    let mar = dir.join("update.mar");
    let unsigned = std::fs::read(&mar).expect("read");

    let mut req = SignRequest::new(
        vec![down, up.url.clone()],
        Format::Mar,
        vec![mar.clone()],
        creds,
    );
    req.retry = quick();
    let written = sign_files(&req, &|_| {}).await.expect("signed");
    assert_eq!(written, vec![mar.clone()]);
    assert_ne!(
        std::fs::read(&mar).expect("read"),
        unsigned,
        "signed in place"
    );
    let pem = dir.join("release-rsa.pem");
    std::fs::write(&pem, &keys()[2].public).expect("write");
    let out = run(Command::new("mar").arg("-k").arg(&pem).arg("-v").arg(&mar));
    assert!(out.status.success(), "mar -v: {}", text(&out));
    tamper_last_byte(&mar);
    let out = run(Command::new("mar").arg("-k").arg(&pem).arg("-v").arg(&mar));
    assert!(!out.status.success(), "a tampered MAR verified");
}

/// Flips a bit in a MAR member's bytes (the start of the file is the header and index offset).
fn tamper_last_byte(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).expect("read");
    // The members come right after the header and signature block; the index is last. A byte in
    // the middle is member data for a one-member MAR this small.
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).expect("write");
}

/// A server that takes every upload and never finishes a job: what a wedged signing server
/// looks like to the client.
async fn stuck_server() -> String {
    use axum::routing::{get, post};
    use axum::Json;
    let pending = || async {
        // As a real server's long poll would, after a while.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (
            axum::http::StatusCode::ACCEPTED,
            Json(serde_json::json!({"status": "pending"})),
        )
    };
    let app = axum::Router::new()
        .route(
            "/api/signing/v1/token",
            post(|| async { Json(serde_json::json!({"token": "t", "expires": "later"})) }),
        )
        .route("/api/signing/v1/sign/{format}", post(pending))
        .route("/api/signing/v1/sign/{format}/{sha}", get(pending));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_job_stuck_pending_moves_on_to_the_next_server() {
    let env = Env::new().await;
    let stuck = stuck_server().await;
    let up = env.signing("unstuck", &["127.0.0.0/8"]).await;
    let creds = env.client("project/patient", &["signing:token:gpg"]).await;
    let inputs = files(&env, &["x.txt", "y.txt"]);
    let home = gpg_home(env.dir.path());
    for servers in [
        vec![stuck.clone(), up.url.clone()],
        vec![up.url.clone(), stuck.clone()],
    ] {
        let mut req = SignRequest::new(servers, Format::Gpg, inputs.clone(), creds.clone());
        req.retry = quick();
        req.pending_deadline = Duration::from_millis(300);
        sign_files(&req, &|_| {}).await.expect("signed");
        for input in &inputs {
            let sig = PathBuf::from(format!("{}.asc", input.display()));
            assert!(gpg_verifies(&home, &sig, input), "{}", sig.display());
            std::fs::remove_file(&sig).expect("rm");
        }
    }
    assert_eq!(up.audit_lines(), inputs.len());
}

/// `osslsigncode verify -CAfile ca -in file` reports a good signature.
fn osslsigncode_verifies(ca: &std::path::Path, file: &std::path::Path) -> bool {
    let out = run(Command::new("osslsigncode")
        .args(["verify", "-CAfile"])
        .arg(ca)
        .arg("-in")
        .arg(file));
    out.status.success() && text(&out).contains("Signature verification: ok")
}

#[tokio::test]
async fn an_exe_is_signed_into_the_output_dir_and_verifies_with_osslsigncode() {
    let env = Env::new().await;
    let down = stopped_server(&env).await;
    let up = env.signing("win", &["127.0.0.0/8"]).await;
    let creds = env
        .client("project/win", &["signing:token:authenticode"])
        .await;
    let dir = env.path("win-in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let exe = dir.join("setup.exe");
    let unsigned =
        relyard_signing::build_minimal_pe(&[(".text", &[0x31, 0xc0, 0xc3]), (".data", b"relyard")]);
    std::fs::write(&exe, &unsigned).expect("write");
    let out_dir = env.path("win-out");

    let mut req = SignRequest::new(
        vec![down, up.url.clone()],
        Format::Authenticode,
        vec![exe.clone()],
        creds,
    );
    req.retry = quick();
    req.output_dir = Some(out_dir.clone());
    let written = sign_files(&req, &|_| {}).await.expect("signed");
    let signed = out_dir.join("setup.exe");
    assert_eq!(written, vec![signed.clone()]);
    assert_eq!(
        std::fs::read(&exe).expect("read"),
        unsigned,
        "the input is left as it was"
    );
    let ca = env.path("release-win.pem");
    std::fs::write(&ca, &keys()[3].public).expect("write");
    assert!(osslsigncode_verifies(&ca, &signed));
    assert!(
        !osslsigncode_verifies(&ca, &exe),
        "the unsigned input does not verify"
    );
    tamper_last_byte(&signed);
    assert!(
        !osslsigncode_verifies(&ca, &signed),
        "a tampered PE verified"
    );
}
