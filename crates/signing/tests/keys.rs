//! Unlocking, errors and the start-up proof, through the public API.

mod common;

use common::*;
use relyard_signing::{
    generate, Format, KeyFile, KeyKind, Keyring, Signed, Signer, SigningError, SigningResult,
};

#[test]
fn a_wrong_passphrase_is_a_clear_error() {
    let (file, _) = generate("release", KeyKind::Gpg, b"right", FAST).expect("generate");
    let err = file.unlock(b"wrong").expect_err("wrong passphrase");
    assert!(matches!(&err, SigningError::WrongPassphrase { key_id } if key_id == "release"));
    assert_eq!(
        err.to_string(),
        "key `release`: wrong passphrase (or the key file was altered)"
    );
    assert!(matches!(
        file.unlock(b"").expect_err("empty"),
        SigningError::EmptyPassphrase { .. }
    ));
}

#[test]
fn every_header_field_is_bound_to_the_sealed_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, _) = generate("release", KeyKind::Gpg, b"pw", FAST).expect("generate");
    let (other, _) = generate("other", KeyKind::Gpg, b"pw", FAST).expect("generate");
    let json = file.to_json();
    let other_public = serde_json_string(other.public_key());
    let edits = [
        json.replace("\"id\": \"release\"", "\"id\": \"release2\""),
        json.replace("\"t_cost\": 1", "\"t_cost\": 2"),
        json.replace(&serde_json_string(file.public_key()), &other_public),
    ];
    for (n, edited) in edits.iter().enumerate() {
        assert_ne!(edited, &json, "edit {n} applied");
        let path = dir.path().join(format!("edit{n}.key"));
        let parsed = KeyFile::from_json(edited, &path).expect("still parses");
        let err = parsed.unlock(b"pw").expect_err("altered file refused");
        assert!(
            matches!(err, SigningError::WrongPassphrase { .. }),
            "edit {n}: {err}"
        );
    }
    // A different kind is refused too (the minisign parser never sees gpg bytes).
    let kind = json.replace("\"kind\": \"gpg\"", "\"kind\": \"minisign\"");
    let parsed = KeyFile::from_json(&kind, dir.path()).expect("parses");
    assert!(matches!(
        parsed.unlock(b"pw").expect_err("kind"),
        SigningError::WrongPassphrase { .. }
    ));
}

/// The public key as it appears inside the JSON file.
fn serde_json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

#[test]
fn key_files_are_new_owner_only_files_and_garbage_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.key");
    let (file, _) = generate("k", KeyKind::Minisign, b"pw", FAST).expect("generate");
    file.write_new(&path).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(matches!(
        file.write_new(&path).expect_err("no overwrite"),
        SigningError::Io { .. }
    ));
    std::fs::write(
        dir.path().join("junk"),
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n",
    )
    .expect("w");
    assert!(matches!(
        KeyFile::read(&dir.path().join("junk")).expect_err("junk"),
        SigningError::BadKeyFile { .. }
    ));
    assert!(matches!(
        generate("bad id", KeyKind::Gpg, b"pw", FAST).expect_err("id"),
        SigningError::InvalidKeyId(_)
    ));
    assert!(matches!(
        generate("k", KeyKind::Gpg, b"", FAST).expect_err("empty passphrase"),
        SigningError::EmptyPassphrase { .. }
    ));
}

#[test]
fn a_key_signs_only_formats_of_its_kind() {
    let (_, key) = generate("m", KeyKind::Minisign, b"pw", FAST).expect("generate");
    let err = key
        .signer(Format::Gpg)
        .expect_err("minisign key cannot sign gpg");
    assert_eq!(
        err.to_string(),
        "key `m` is a minisign key and cannot sign gpg"
    );
    assert_eq!(
        "sha256sums".parse::<Format>().expect("parse"),
        Format::Sha256sums
    );
    assert_eq!("mar".parse::<Format>().expect("parse"), Format::Mar);
    assert_eq!(
        "authenticode".parse::<Format>().expect("parse"),
        Format::Authenticode
    );
    assert!("exe".parse::<Format>().is_err());
    assert!(key.signer(Format::Mar).is_err());
}

#[test]
fn every_unlocked_key_proves_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gpg = stored_key(dir.path(), "g", KeyKind::Gpg);
    let mini = stored_key(dir.path(), "m", KeyKind::Minisign);
    let mut ring = Keyring::new();
    for format in [Format::Gpg, Format::Sha256sums] {
        ring.add(gpg.signer(format).expect("signer"));
    }
    ring.add(mini.signer(Format::Minisign).expect("signer"));
    ring.prove().expect("all keys prove");
    assert_eq!(ring.signers().count(), 3);
    assert_eq!(
        ring.signer(Format::Minisign, None).map(|s| s.key_id()),
        Some("m")
    );
    assert!(ring.signer(Format::Gpg, Some("nope")).is_none());
}

/// A signer whose verifier accepts anything: `prove` must catch it, because its signatures
/// would prove nothing.
#[derive(Debug)]
struct AcceptsAnything;

impl Signer for AcceptsAnything {
    fn format(&self) -> Format {
        Format::Gpg
    }
    fn key_id(&self) -> &str {
        "lax"
    }
    fn sign(&self, _input: &[u8]) -> SigningResult<Signed> {
        Ok(Signed {
            format: Format::Gpg,
            key_id: "lax".into(),
            signature: Vec::new(),
        })
    }
    fn verify(&self, _input: &[u8], _signature: &[u8]) -> SigningResult<()> {
        Ok(())
    }
}

/// A signer whose signatures never verify (e.g. a key whose public half was swapped).
#[derive(Debug)]
struct NeverVerifies;

impl Signer for NeverVerifies {
    fn format(&self) -> Format {
        Format::Minisign
    }
    fn key_id(&self) -> &str {
        "broken"
    }
    fn sign(&self, _input: &[u8]) -> SigningResult<Signed> {
        Ok(Signed {
            format: Format::Minisign,
            key_id: "broken".into(),
            signature: Vec::new(),
        })
    }
    fn verify(&self, _input: &[u8], _signature: &[u8]) -> SigningResult<()> {
        Err(SigningError::Verify {
            format: "minisign",
            key_id: "broken".into(),
            reason: "no".into(),
        })
    }
}

#[test]
fn the_proof_reports_every_failing_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ring = Keyring::new();
    ring.add(
        stored_key(dir.path(), "good", KeyKind::Minisign)
            .signer(Format::Minisign)
            .expect("signer"),
    );
    ring.add(Box::new(AcceptsAnything));
    ring.add(Box::new(NeverVerifies));
    let failures = ring.prove().expect_err("two keys fail");
    let messages: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(
        messages[0],
        "start-up proof of key `lax` (gpg) failed: a signature verified for altered input"
    );
    assert!(messages[1].starts_with("start-up proof of key `broken` (minisign) failed:"));
}

#[test]
fn gnupg_finds_no_key_in_a_key_file() {
    // The independent check of "not a usable plaintext key": GnuPG, given the key file and its
    // decoded sealed bytes, imports nothing and ends up with no secret key.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("release.key");
    let (file, _) = generate("release", KeyKind::Gpg, b"pw", FAST).expect("generate");
    file.write_new(&path).expect("write");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    let sealed = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        json["sealed"].as_str().expect("sealed field"),
    )
    .expect("base64");
    let sealed_path = dir.path().join("sealed.bin");
    std::fs::write(&sealed_path, sealed).expect("write");

    // Control: the same GnuPG home does import the key's public half, so the refusals below
    // are about the files, not a broken gpg set-up.
    let home = gpg_home_with(dir.path(), file.public_key());
    for candidate in [&path, &sealed_path] {
        let out = run(gpg(&home).arg("--import").arg(candidate));
        let report = text(&out);
        // Usually gpg fails ("no valid OpenPGP data"), but random sealed bytes now and then start
        // like a packet gpg skips, and it exits 0 having processed nothing. What matters is that
        // nothing was imported: no IMPORT_OK, and IMPORT_RES counts no key, secret key read or
        // secret key imported.
        assert!(!report.contains("IMPORT_OK"), "{report}");
        if let Some(res) = report
            .lines()
            .find_map(|l| l.strip_prefix("[GNUPG:] IMPORT_RES "))
        {
            let counts: Vec<&str> = res.split_whitespace().collect();
            for (field, name) in [(2, "imported"), (9, "secret read"), (10, "secret imported")] {
                assert_eq!(
                    counts.get(field).copied(),
                    Some("0"),
                    "gpg {name} from {}: {report}",
                    candidate.display()
                );
            }
        } else {
            assert!(
                !out.status.success(),
                "gpg imported {}: {report}",
                candidate.display()
            );
        }
    }
    let out = run(gpg(&home).args(["--list-secret-keys", "--with-colons"]));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("sec:"),
        "{}",
        text(&out)
    );
}
