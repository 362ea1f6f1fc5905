//! `relyard signing-server` as a process: passphrases on a file descriptor, a wrong one stops
//! it with a message naming the key, `--check-config`, and a real start.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use crate::common::*;

/// `relyard signing-server --config <config> --passphrase-fd 3 <extra>` with `passphrases`
/// on fd 3 (a file, redirected by the shell).
fn server_command(env: &Env, config: &std::path::Path, passphrases: &str, extra: &str) -> Command {
    let file = env.path("passphrases");
    std::fs::write(&file, passphrases).expect("write");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "exec \"$RELYARD\" signing-server --config \"$CONFIG\" --passphrase-fd 3 {extra} 3<\"$PASSPHRASES\""
        ))
        .env("RELYARD", env!("CARGO_BIN_EXE_relyard"))
        .env("CONFIG", config)
        .env("PASSPHRASES", &file)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null());
    cmd
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
