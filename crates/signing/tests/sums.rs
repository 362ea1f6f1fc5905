//! `sha256sums`: the manifest checked by `sha256sum -c`, its signature by `gpg --verify`.

mod common;

use std::process::Command;

use common::*;
use relyard_signing::{manifest, parse_manifest, Format, KeyKind, SigningError, MANIFEST_NAME};

#[test]
fn sha256sum_and_gpg_verify_a_signed_manifest_and_catch_tampering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = stored_key(dir.path(), "sums", KeyKind::Gpg);
    let signer = key.signer(Format::Sha256sums).expect("signer");
    let out = dir.path().join("release");
    std::fs::create_dir_all(out.join("linux-x86_64")).expect("mkdir");
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("firefox-150.0.tar.xz", b"tarball".repeat(1000)),
        (
            "linux-x86_64/firefox.complete.mar",
            vec![0u8, 1, 2, 255, b'\n', b'\r'],
        ),
        ("README with spaces.txt", b"read me\n".to_vec()),
    ];
    for (name, data) in &files {
        std::fs::write(out.join(name), data).expect("write");
    }
    let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    let listing = manifest(&borrowed).expect("manifest");
    assert_eq!(listing.lines().count(), 3);
    let signed = signer.sign(listing.as_bytes()).expect("sign");
    let sums = out.join(MANIFEST_NAME);
    let asc = out.join(format!(
        "{MANIFEST_NAME}{}",
        Format::Sha256sums.detached_suffix()
    ));
    std::fs::write(&sums, &listing).expect("write");
    std::fs::write(&asc, &signed.signature).expect("write");

    let check = || {
        run(Command::new("sha256sum")
            .arg("-c")
            .arg(MANIFEST_NAME)
            .current_dir(&out))
    };
    let ok = check();
    assert!(ok.status.success(), "sha256sum -c: {}", text(&ok));
    let home = gpg_home_with(dir.path(), &key.public_key().expect("public"));
    gpg_verify(&home, &asc, &sums).expect("gpg accepts the manifest signature");

    // A changed file: sha256sum -c fails for it (the signature still covers the manifest).
    std::fs::write(out.join("README with spaces.txt"), b"read me!\n").expect("write");
    let bad = check();
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("README with spaces.txt: FAILED"),
        "{}",
        text(&bad)
    );

    // A manifest altered to match the changed file: gpg rejects it.
    let mut forged = listing.into_bytes();
    forged[0] = if forged[0] == b'0' { b'1' } else { b'0' };
    std::fs::write(&sums, &forged).expect("write");
    let err = gpg_verify(&home, &asc, &sums).expect_err("altered manifest rejected");
    assert!(err.contains("BADSIG"), "{err}");
    assert!(signer.verify(&forged, &signed.signature).is_err());
}

#[test]
fn sign_files_returns_the_manifest_and_its_signature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = stored_key(dir.path(), "sums", KeyKind::Gpg);
    let relyard_signing::UnlockedKey::Gpg(gpg) = key else {
        panic!("a gpg key")
    };
    let sums = relyard_signing::SumsSigner::new(gpg);
    let (text, signed) = sums
        .sign_files(&[("b", b"2"), ("a", b"1")])
        .expect("sign files");
    // Sorted by name, binary mode, lower-case hex: what `sha256sum -b` writes.
    assert_eq!(
        text,
        "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b *a\n\
         d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35 *b\n"
    );
    use relyard_signing::Signer as _;
    sums.verify(text.as_bytes(), &signed.signature)
        .expect("verify");
}

#[test]
fn malformed_manifests_and_unsafe_names_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = stored_key(dir.path(), "sums", KeyKind::Gpg);
    let signer = key.signer(Format::Sha256sums).expect("signer");
    let digest = "0".repeat(64);
    for input in [
        String::new(),
        "not a manifest\n".to_string(),
        format!("{digest} *a"),                // no final newline
        format!("{} *a\n", "A".repeat(64)),    // upper-case hex
        format!("{digest} a\n"),               // one space, no mode
        format!("{digest} *../etc/passwd\n"),  // escapes the directory
        format!("{digest} */etc/passwd\n"),    // absolute
        format!("{digest} *a\n{digest} *a\n"), // repeated name
        format!("{digest} *back\\slash\n"),    // would need sha256sum's escaping
    ] {
        let err = signer.sign(input.as_bytes()).expect_err(&input);
        assert!(
            matches!(err, SigningError::InvalidInput { .. }),
            "{input:?}: {err}"
        );
    }
    assert!(manifest(&[("a/../b", b"x")]).is_err());
    assert!(manifest(&[]).is_err());
    // Text-mode lines (two spaces), as `sha256sum` writes by default, are accepted.
    let entries = parse_manifest(format!("{digest}  dir/file\n").as_bytes()).expect("parse");
    assert_eq!(entries, vec![("dir/file".to_string(), digest)]);
}
