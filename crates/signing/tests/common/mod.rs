//! Helpers for running the independent verifiers (Debian's gpg, minisign, sha256sum, and the
//! PyPI `mar` in the test venv). scripts/test installs them; these tests install nothing.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use relyard_signing::{generate, KdfParams, KeyFile, KeyKind, UnlockedKey};

/// Cheap Argon2id costs: the tests exercise the format, not the work factor.
pub const FAST: KdfParams = KdfParams {
    m_cost_kib: 256,
    t_cost: 1,
    p_cost: 1,
};

/// A throwaway key that went through the key store: sealed, written, read back and unlocked,
/// so every test signs with a key as the server would hold it.
pub fn stored_key(dir: &Path, id: &str, kind: KeyKind) -> UnlockedKey {
    let path = dir.join(format!("{id}.key"));
    let (file, _) = generate(id, kind, b"test passphrase", FAST).expect("generate");
    file.write_new(&path).expect("write key file");
    KeyFile::read(&path)
        .expect("read key file")
        .unlock(b"test passphrase")
        .expect("unlock")
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

/// A gpg invocation confined to `home` (a fresh GNUPGHOME), never touching the user's keyring.
pub fn gpg(home: &Path) -> Command {
    let mut cmd = Command::new("gpg");
    cmd.env("GNUPGHOME", home)
        .args(["--batch", "--no-tty", "--status-fd", "1"]);
    cmd
}

/// A GNUPGHOME holding only `public_armored`.
pub fn gpg_home_with(dir: &Path, public_armored: &str) -> std::path::PathBuf {
    let home = dir.join("gnupg");
    std::fs::create_dir(&home).expect("mkdir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    let pubfile = dir.join("pub.asc");
    std::fs::write(&pubfile, public_armored).expect("write pub");
    let out = run(gpg(&home).arg("--import").arg(&pubfile));
    assert!(out.status.success(), "gpg --import: {}", text(&out));
    home
}

/// `gpg --verify sig data`: Ok(status output) when gpg says the signature is good.
pub fn gpg_verify(home: &Path, sig: &Path, data: &Path) -> Result<String, String> {
    let out = run(gpg(home).arg("--verify").arg(sig).arg(data));
    let t = text(&out);
    if out.status.success() && t.contains("[GNUPG:] GOODSIG") {
        Ok(t)
    } else {
        Err(t)
    }
}

/// The `mar` command (PyPI `mar`); fails loudly rather than skipping when the venv is not on PATH.
pub fn mar() -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("mar").is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`mar` (PyPI package mar, tests/python/requirements.txt) is not on PATH: run scripts/test, \
         or put $HOME/.cache/relyard/venv/bin on PATH"
    );
    Command::new("mar")
}
