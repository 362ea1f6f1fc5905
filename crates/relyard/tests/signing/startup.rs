//! `relyard signing-server` as a process: passphrases on a file descriptor, a wrong one stops
//! it with a message naming the key, `--check-config`, and a real start; and the same server
//! mounted in `relyard up --signing-config`, with its signing worker.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::common::*;

/// `relyard <args>` started by the shell with `passphrases` on fd 3 (a file, redirected) and
/// `vars` in its environment, for `args` to name.
fn relyard_with_fd3(env: &Env, passphrases: &str, args: &str, vars: &[(&str, &Path)]) -> Command {
    let file = env.path("passphrases");
    std::fs::write(&file, passphrases).expect("write");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("exec \"$RELYARD\" {args} 3<\"$PASSPHRASES\""))
        .env("RELYARD", env!("CARGO_BIN_EXE_relyard"))
        .env("PASSPHRASES", &file)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null());
    for (name, value) in vars {
        cmd.env(name, value);
    }
    cmd
}

/// `relyard signing-server --config <config> --passphrase-fd 3 <extra>`.
fn server_command(env: &Env, config: &Path, passphrases: &str, extra: &str) -> Command {
    relyard_with_fd3(
        env,
        passphrases,
        &format!("signing-server --config \"$CONFIG\" --passphrase-fd 3 {extra}"),
        &[("CONFIG", config)],
    )
}

fn passphrase_lines(wrong_for: Option<&str>) -> String {
    keys()
        .iter()
        .map(|k| {
            let p = if Some(k.id) == wrong_for {
                "wrong passphrase"
            } else {
                PASSPHRASE
            };
            format!("{}={p}\n", k.id)
        })
        .collect()
}

#[tokio::test]
async fn a_wrong_passphrase_on_the_fd_stops_the_server_naming_the_key() {
    let env = Env::new().await;
    let config = env.write_config("proc", &["127.0.0.0/8"]);
    let out = run(&mut server_command(
        &env,
        &config,
        &passphrase_lines(Some("release-minisign")),
        "",
    ));
    assert!(
        !out.status.success(),
        "started with a wrong passphrase: {}",
        text(&out)
    );
    let t = text(&out);
    assert!(
        t.contains("key `release-minisign`: wrong passphrase"),
        "the message names the key: {t}"
    );
    assert!(
        !t.contains("release-gpg`"),
        "only the failing key is named: {t}"
    );
    // A key with no passphrase line at all is named too.
    let out = run(&mut server_command(
        &env,
        &config,
        "release-gpg=test passphrase\n",
        "",
    ));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("key `release-rsa`: no passphrase"),
        "{}",
        text(&out)
    );
    // Nothing was served, so nothing was written.
    assert!(!env.path("proc/audit.log").exists());
}

#[tokio::test]
async fn check_config_validates_and_unlocks_when_given_passphrases() {
    let env = Env::new().await;
    let config = env.write_config("check", &["127.0.0.0/8"]);
    let out = run(&mut server_command(
        &env,
        &config,
        &passphrase_lines(None),
        "--check-config",
    ));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("every key unlocked and proved"),
        "{}",
        text(&out)
    );
    let out = run(&mut server_command(
        &env,
        &config,
        &passphrase_lines(Some("release-rsa")),
        "--check-config",
    ));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("key `release-rsa`: wrong passphrase"),
        "{}",
        text(&out)
    );

    // A bad CIDR and a missing key file are named without any passphrase.
    let bad = env.path("bad.toml");
    std::fs::write(&bad, env.config_text("check", &["10.0.0.1/8"])).expect("write");
    let out = run(Command::new(env!("CARGO_BIN_EXE_relyard"))
        .args(["signing-server", "--check-config", "--config"])
        .arg(&bad));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("did you mean `10.0.0.0/8`"),
        "{}",
        text(&out)
    );
    std::fs::write(
        &bad,
        env.config_text("check", &["127.0.0.0/8"])
            .replace("release-rsa.key", "gone.key"),
    )
    .expect("write");
    let out = run(Command::new(env!("CARGO_BIN_EXE_relyard"))
        .args(["signing-server", "--check-config", "--config"])
        .arg(&bad));
    assert!(!out.status.success());
    assert!(text(&out).contains("gone.key"), "{}", text(&out));
}

#[tokio::test]
async fn the_process_serves_after_unlocking() {
    let env = Env::new().await;
    let config = env.write_config("serving", &["127.0.0.0/8"]);
    let mut child = server_command(&env, &config, &passphrase_lines(None), "")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    // The server prints its URL once it listens; reading the line waits for that event.
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("read");
    let url = line
        .trim()
        .strip_prefix("signing server listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let resp = reqwest::get(format!("{url}/__heartbeat__"))
        .await
        .expect("get");
    assert_eq!(resp.status(), 200);
    child.kill().expect("kill");
    let _ = child.wait();
}

#[tokio::test]
async fn up_keeps_running_when_nobody_reads_its_stdout() {
    let env = Env::new().await;
    let config = env.write_config("unread", &["127.0.0.0/8"]);
    // A pipe whose reading end is gone: every line `up` prints fails with EPIPE.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut child = up_command(&env, &config, &passphrase_lines(None))
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    // `up` logs that it is ready once every part runs; reading its log waits for that line,
    // or for the log's end if `up` stopped first.
    let is_ready = first_line_matching(stderr, |line| {
        line.contains("relyard up is ready").then_some(())
    });
    let became_ready = is_ready.await.is_ok();
    let exited = child.try_wait().expect("try_wait");
    assert!(
        became_ready && exited.is_none(),
        "up with an unread stdout: ready {became_ready}, exit status {exited:?}"
    );
    let creds: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.path("up-state/credentials.json")).expect("credentials.json"),
    )
    .expect("json");
    let root_url = creds["rootUrl"].as_str().expect("rootUrl");
    let resp = reqwest::get(format!("{root_url}/api/queue/v1/ping"))
        .await
        .expect("ping");
    assert_eq!(resp.status(), 200);
    child.kill().expect("kill");
    let _ = child.wait();
}

/// The first value `pick` finds in `output`'s lines; the reader keeps draining after it so the
/// child never blocks on a full pipe. Dropped unsent if the output ends first.
fn first_line_matching<T: Send + 'static>(
    output: impl std::io::Read + Send + 'static,
    mut pick: impl FnMut(&str) -> Option<T> + Send + 'static,
) -> tokio::sync::oneshot::Receiver<T> {
    let (found, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            if found.is_some() {
                if let Some(value) = pick(&line) {
                    if let Some(tx) = found.take() {
                        let _ = tx.send(value);
                    }
                }
            }
        }
    });
    receiver
}

/// `relyard up --signing-config <config> --signing-passphrase-fd 3`, state under `up-state`.
fn up_command(env: &Env, config: &Path, passphrases: &str) -> Command {
    relyard_with_fd3(
        env,
        passphrases,
        "up --listen 127.0.0.1:0 --dir \"$DIR\" --workers 1 --capacity 1 \
         --signing-config \"$CONFIG\" --signing-passphrase-fd 3",
        &[("CONFIG", config), ("DIR", &env.path("up-state"))],
    )
}

#[tokio::test]
async fn up_with_a_signing_config_signs_for_its_own_clients() {
    let env = Env::new().await;
    // The configuration names the test's other relyard; mounted in `up`, the signing server
    // must check Hawk with `up`'s own auth instead, or the root client below is refused.
    let config = env.write_config("mounted", &["127.0.0.0/8"]);
    let mut child = up_command(&env, &config, &passphrase_lines(None))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    // Lines are printed once each part listens; reading them waits for that.
    let mut root_url = None;
    let urls = first_line_matching(stdout, move |line| {
        if let Some(url) = line.strip_prefix("relyard is up at ") {
            root_url = Some(url.to_string());
        }
        let url = line.strip_prefix("signing server listening on ")?;
        Some((root_url.clone()?, url.to_string()))
    });
    let (root_url, url) = urls.await.expect("`up` printed its URLs");

    let creds: serde_json::Value = serde_json::from_slice(
        &std::fs::read(env.path("up-state/credentials.json")).expect("credentials.json"),
    )
    .expect("json");
    let root = taskcluster::Credentials::new(
        creds["clientId"].as_str().expect("clientId"),
        creds["accessToken"].as_str().expect("accessToken"),
    );
    let (status, body) = ask_token(
        &url,
        Some(&root),
        json!({"formats": ["gpg"], "duration": "10m"}),
    )
    .await;
    assert_eq!(status, 200, "token from up's own auth: {body}");
    let token = body["token"].as_str().expect("token");

    let data = b"signed by relyard up\n";
    let (status, body) = upload(&url, "gpg", token, "notes.txt", data).await;
    assert!(status == 202 || status == 200, "upload: {status} {body}");
    let (status, signature) = fetch(&url, "gpg", token, &sha256_hex(data)).await;
    assert_eq!(status, 200);
    let (data_path, sig_path) = (env.path("notes.txt"), env.path("notes.txt.asc"));
    std::fs::write(&data_path, data).expect("write");
    std::fs::write(&sig_path, &signature).expect("write");
    let gpg = gpg_home(env.dir.path());
    assert!(gpg_verifies(&gpg, &sig_path, &data_path));

    // A build task on the local build worker, then a signing task on the signing worker.
    let queue = taskcluster::Queue::new(
        taskcluster::ClientBuilder::new(&root_url).credentials(root.clone()),
    )
    .expect("queue client");
    let build = task(
        "proj-local/default",
        json!({
            "command": [["sh", "-c", "mkdir -p out && printf 'local release' > out/app.txt"]],
            "maxRunTime": 60,
            "artifacts": [{"type": "directory", "path": "out", "name": "public/build"}],
        }),
        &[],
    );
    let build_id = relyard_core::ids::slugid();
    queue
        .createTask(&build_id, &build)
        .await
        .expect("build task");
    let sign = task(
        "proj-local/signing",
        json!({"signing": {"format": "gpg",
            "upstreamArtifacts": [{"taskId": build_id, "paths": ["public/build/app.txt"]}]}}),
        &[&build_id],
    );
    let sign_id = relyard_core::ids::slugid();
    queue
        .createTask(&sign_id, &sign)
        .await
        .expect("signing task");
    let state = resolved(&queue, &sign_id).await;
    assert_eq!(
        state, "completed",
        "the signing task on up's signing worker"
    );
    let artifact = |task: &str, name: &str| {
        let url = queue
            .getLatestArtifact_signed_url(task, name, Duration::from_secs(300))
            .expect("signed url");
        async move {
            reqwest::get(url)
                .await
                .expect("artifact")
                .bytes()
                .await
                .expect("bytes")
        }
    };
    std::fs::write(
        &data_path,
        artifact(&build_id, "public/build/app.txt").await,
    )
    .expect("write");
    std::fs::write(
        &sig_path,
        artifact(&sign_id, "public/build/app.txt.asc").await,
    )
    .expect("write");
    assert!(gpg_verifies(&gpg, &sig_path, &data_path));
    child.kill().expect("kill");
    let _ = child.wait();
}

fn task(queue: &str, payload: serde_json::Value, dependencies: &[&str]) -> serde_json::Value {
    let now = chrono::Utc::now();
    json!({
        "taskQueueId": queue,
        "created": now.to_rfc3339(),
        "deadline": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "dependencies": dependencies,
        "payload": payload,
        "metadata": {"name": "up test", "description": "relyard up with signing",
            "owner": "test@example.com", "source": "https://example.com/test"},
    })
}

/// The task's state once it has resolved. `up` publishes no events (no AMQP here), so its
/// status is asked for, within a bound.
async fn resolved(queue: &taskcluster::Queue, task_id: &str) -> String {
    let until = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let status = queue.status(task_id).await.expect("status");
        let state = status["status"]["state"].as_str().unwrap_or("").to_string();
        if ["completed", "failed", "exception"].contains(&state.as_str()) {
            return state;
        }
        assert!(std::time::Instant::now() < until, "{status:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn up_with_a_key_that_does_not_unlock_does_not_start() {
    let env = Env::new().await;
    let config = env.write_config("mounted-wrong", &["127.0.0.0/8"]);
    let out = run(&mut up_command(
        &env,
        &config,
        &passphrase_lines(Some("release-gpg")),
    ));
    assert!(!out.status.success(), "started: {}", text(&out));
    assert!(
        text(&out).contains("key `release-gpg`: wrong passphrase"),
        "{}",
        text(&out)
    );
    // Refused before anything else started: no state directory, no database.
    assert!(!env.path("up-state").exists());
}
