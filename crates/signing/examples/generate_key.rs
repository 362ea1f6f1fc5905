//! Makes a throwaway key file and its public key, for tests, docs and local servers.
//!
//! ```text
//! echo 'a passphrase' | cargo run -p relyard-signing --example generate_key -- gpg nightly DIR
//! ```
//!
//! Reads the passphrase from the first line of standard input (so it is not in the shell
//! history or `ps`), writes `DIR/<id>.key` (sealed, mode 0600) and the public key as
//! `DIR/<id>.asc` (gpg: `gpg --import` it), `DIR/<id>.pub` (minisign: `minisign -p`),
//! `DIR/<id>.pem` (rsa, for mar: `mar -k <id>.pem -v`) or `DIR/<id>.crt` (authenticode: the
//! self-signed code-signing certificate, for `osslsigncode verify -CAfile <id>.crt`).
//!
//! `generate_key authenticode KEY_ID DIR --import KEY.pem CHAIN.pem` seals a real code-signing
//! key (unencrypted PKCS#8 or PKCS#1 PEM) with its CA-issued chain (leaf first) instead, and
//! writes the chain as `DIR/<id>.crt`.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;

use relyard_signing::{generate, AuthenticodeKey, KdfParams, KeyFile, KeyKind, UnlockedKey};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("generate_key: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, id, dir, import) = match &args[..] {
        [kind, id, dir] => (kind, id, dir, None),
        [kind, id, dir, flag, key, chain] if kind == "authenticode" && flag == "--import" => {
            (kind, id, dir, Some((key, chain)))
        }
        _ => {
            return Err(
                "usage: generate_key gpg|minisign|rsa|authenticode KEY_ID DIR \
                 [--import KEY.pem CHAIN.pem (authenticode)]  (passphrase on stdin)"
                    .into(),
            )
        }
    };
    let kind = match kind.as_str() {
        "gpg" => KeyKind::Gpg,
        "minisign" => KeyKind::Minisign,
        "rsa" => KeyKind::Rsa,
        "authenticode" => KeyKind::Authenticode,
        other => {
            return Err(
                format!("unknown key kind `{other}` (gpg, minisign, rsa or authenticode)").into(),
            )
        }
    };
    let mut passphrase = String::new();
    std::io::stdin().lock().read_line(&mut passphrase)?;
    let passphrase = passphrase.trim_end_matches(['\r', '\n']);
    let (file, key) = match import {
        None => generate(id, kind, passphrase.as_bytes(), KdfParams::default())?,
        Some((key, chain)) => {
            let key = AuthenticodeKey::import(
                id,
                &std::fs::read_to_string(key)?,
                &std::fs::read_to_string(chain)?,
            )?;
            let key = UnlockedKey::Authenticode(key);
            let file = KeyFile::seal(&key, passphrase.as_bytes(), KdfParams::default())?;
            (file, key)
        }
    };
    let dir = PathBuf::from(dir);
    let key_path = dir.join(format!("{id}.key"));
    file.write_new(&key_path)?;
    let public_path = dir.join(match kind {
        KeyKind::Gpg => format!("{id}.asc"),
        KeyKind::Minisign => format!("{id}.pub"),
        KeyKind::Rsa => format!("{id}.pem"),
        KeyKind::Authenticode => format!("{id}.crt"),
    });
    std::fs::write(&public_path, key.public_key()?)?;
    println!("{}\n{}", key_path.display(), public_path.display());
    Ok(())
}
