//! The README's throwaway-key walk-through, run with the built examples and the real tools, so
//! the documentation keeps working.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

/// `target/<profile>/examples/<name>`: `cargo test` builds the examples next to the test
/// binaries (`target/<profile>/deps/`), as does scripts/test's `cargo build --all-targets`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo test -p relyard-signing`, which builds the examples",
        path.display()
    );
    path
}

/// Runs an example in `dir` with `passphrase` on stdin; Ok(stdout) or Err(stderr).
fn run_example(dir: &Path, name: &str, args: &[&str], passphrase: &str) -> Result<String, String> {
    let mut child = Command::new(example(name))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn example");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{passphrase}\n").as_bytes())
        .expect("write passphrase");
    let out = child.wait_with_output().expect("wait");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_readme_walk_through_signs_files_that_the_tools_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir(d.join("keys")).expect("mkdir");
    let pw = "throwaway passphrase";
    run_example(d, "generate_key", &["gpg", "demo-gpg", "keys"], pw).expect("gpg key");
    run_example(
        d,
        "generate_key",
        &["minisign", "demo-minisign", "keys"],
        pw,
    )
    .expect("minisign key");
    std::fs::write(d.join("a.txt"), "hello\n").expect("write");
    std::fs::write(d.join("b.bin"), [0u8, 1, 2]).expect("write");
    let sign = |args: &[&str]| run_example(d, "sign_file", args, pw);
    assert_eq!(
        sign(&["keys/demo-gpg.key", "gpg", "a.txt"]).expect("gpg"),
        "a.txt.asc\n"
    );
    sign(&["keys/demo-minisign.key", "minisign", "a.txt"]).expect("minisign");
    sign(&["keys/demo-gpg.key", "sha256sums", "a.txt", "b.bin"]).expect("sums");

    let public = std::fs::read_to_string(d.join("keys/demo-gpg.asc")).expect("public");
    let home = gpg_home_with(d, &public);
    gpg_verify(&home, &d.join("a.txt.asc"), &d.join("a.txt")).expect("gpg --verify");
    gpg_verify(&home, &d.join("SHA256SUMS.asc"), &d.join("SHA256SUMS")).expect("sums sig");
    let out = run(Command::new("minisign")
        .args(["-V", "-p", "keys/demo-minisign.pub", "-m", "a.txt"])
        .current_dir(d));
    assert!(out.status.success(), "{}", text(&out));
    let out = run(Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(d));
    assert!(out.status.success(), "{}", text(&out));

    let wrong = run_example(
        d,
        "sign_file",
        &["keys/demo-gpg.key", "gpg", "a.txt"],
        "wrong",
    )
    .expect_err("wrong passphrase");
    assert!(
        wrong.contains("key `demo-gpg`: wrong passphrase"),
        "{wrong}"
    );
    // The key file is never overwritten.
    let again = run_example(d, "generate_key", &["gpg", "demo-gpg", "keys"], pw)
        .expect_err("existing key file kept");
    assert!(again.contains("keys/demo-gpg.key"), "{again}");
}

#[test]
fn the_readme_mar_walk_through_signs_a_mar_that_mar_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir(d.join("keys")).expect("mkdir");
    let pw = "throwaway passphrase";
    run_example(d, "generate_key", &["rsa", "demo-rsa", "keys"], pw).expect("rsa key");
    std::fs::write(d.join("a.txt"), "hello\n").expect("write");
    let out = run(mar()
        .args(["-c", "update.mar", "-V", "1.0", "-H", "demo", "a.txt"])
        .current_dir(d));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        run_example(
            d,
            "sign_file",
            &["keys/demo-rsa.key", "mar", "update.mar"],
            pw
        )
        .expect("mar"),
        "update.mar.signed\n"
    );
    let out = run(mar()
        .args(["-k", "keys/demo-rsa.pem", "-v", "update.mar.signed"])
        .current_dir(d));
    assert!(
        out.status.success() && text(&out).contains("Verification OK"),
        "{}",
        text(&out)
    );
}
