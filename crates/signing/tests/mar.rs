//! `mar` signatures checked by the independent PyPI `mar` tool (mozilla-releng's mardor), which
//! scripts/test installs in the test venv and puts on PATH.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;
use relyard_signing::{build_unsigned_mar, Format, KeyKind, UnlockedKey};

/// 4096-bit RSA generation takes seconds, so the tests share two stored keys.
fn keys() -> &'static (UnlockedKey, UnlockedKey) {
    static KEYS: OnceLock<(UnlockedKey, UnlockedKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        (
            stored_key(dir.path(), "release-mar", KeyKind::Rsa),
            stored_key(dir.path(), "other-mar", KeyKind::Rsa),
        )
    })
}

/// `mar -k pub -v file`: Ok(output) when mardor accepts the signature.
fn mar_verify(public: &Path, file: &Path) -> Result<String, String> {
    let out = run(mar().arg("-k").arg(public).arg("-v").arg(file));
    let t = text(&out);
    if out.status.success() && t.contains("Verification OK") {
        Ok(t)
    } else {
        Err(t)
    }
}

fn write_public(dir: &Path, name: &str, key: &UnlockedKey) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, key.public_key().expect("public")).expect("write");
    path
}

#[test]
fn mar_tool_verifies_signed_mars_made_by_mar_and_rejects_tampering() {
    let (key, other) = keys();
    let signer = key.signer(Format::Mar).expect("signer");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir(d.join("bin")).expect("mkdir");
    std::fs::write(d.join("update.manifest"), b"add \"bin/app\"\n").expect("write");
    let payload: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    std::fs::write(d.join("bin/app"), &payload).expect("write");
    let public = write_public(d, "pub.pem", key);
    let other_public = write_public(d, "other.pem", other);

    // Old format (no signature block) and new format (empty block plus product information).
    for (name, extra) in [
        ("old.mar", vec![]),
        ("new.mar", vec!["-V", "128.0", "-H", "release"]),
    ] {
        let out = run(mar()
            .current_dir(d)
            .arg("-c")
            .arg(name)
            .args(&extra)
            .args(["update.manifest", "bin/app"]));
        assert!(out.status.success(), "mar -c: {}", text(&out));
        let unsigned = std::fs::read(d.join(name)).expect("read");
        mar_verify(&public, &d.join(name)).expect_err("an unsigned MAR does not verify");

        let signed = signer.sign(&unsigned).expect("sign").signature;
        let file = d.join(format!("signed-{name}"));
        std::fs::write(&file, &signed).expect("write");
        mar_verify(&public, &file).expect("mar -v accepts the signature");
        signer.verify(&unsigned, &signed).expect("own verify");
        mar_verify(&other_public, &file).expect_err("another key's public key is refused");

        let listing = text(&run(mar().arg("-T").arg(&file)));
        assert!(listing.contains("Signature type: sha384"), "{listing}");
        assert!(listing.contains("- Signature 2 size 512"), "{listing}");
        if !extra.is_empty() {
            assert!(listing.contains("MAR channel name: release"), "{listing}");
            assert!(listing.contains("Product version: 128.0"), "{listing}");
        }
        // The members survive the shifted offsets.
        let out_dir = d.join(format!("x-{name}"));
        std::fs::create_dir(&out_dir).expect("mkdir");
        let out = run(mar().arg("-C").arg(&out_dir).arg("-x").arg(&file));
        assert!(out.status.success(), "mar -x: {}", text(&out));
        assert_eq!(
            std::fs::read(out_dir.join("bin/app")).expect("extracted"),
            payload
        );

        // One flipped bit in a member, or in the declared file size, fails both verifiers.
        for at in [signed.len() - 2000, 10] {
            let mut tampered = signed.clone();
            tampered[at] ^= 1;
            std::fs::write(&file, &tampered).expect("write");
            mar_verify(&public, &file).expect_err("tampered MAR rejected");
            assert!(signer.verify(&unsigned, &tampered).is_err());
        }
        // A valid signed MAR of something else is not a signature of this input.
        let elsewhere = signer
            .sign(&build_unsigned_mar(&[("a", 0o644, b"x")], None))
            .expect("sign");
        assert!(signer.verify(&unsigned, &elsewhere.signature).is_err());
    }
}

#[test]
fn re_signing_replaces_the_signature_and_the_proof_passes() {
    let (key, other) = keys();
    let dir = tempfile::tempdir().expect("tempdir");
    let unsigned = build_unsigned_mar(
        &[("a.txt", 0o644, b"hello\n"), ("dir/b", 0o755, b"world")],
        Some(("nightly", "130.0a1")),
    );
    let by_other = other
        .signer(Format::Mar)
        .expect("signer")
        .sign(&unsigned)
        .expect("sign");
    let signer = key.signer(Format::Mar).expect("signer");
    let signed = signer.sign(&by_other.signature).expect("re-sign");
    assert_eq!(signed.signature.len(), by_other.signature.len());
    let file = dir.path().join("re.mar");
    std::fs::write(&file, &signed.signature).expect("write");
    let public = write_public(dir.path(), "pub.pem", key);
    let other_public = write_public(dir.path(), "other.pem", other);
    mar_verify(&public, &file).expect("re-signed MAR verifies with the new key");
    mar_verify(&other_public, &file).expect_err("the old signature is gone");
    signer
        .verify(&unsigned, &signed.signature)
        .expect("own verify");

    signer.prove().expect("start-up proof");
    // Not a MAR: refused before signing.
    let err = signer.sign(b"not a mar").expect_err("refused");
    assert!(err.to_string().contains("invalid mar input"), "{err}");
    // An RSA key signs only MAR.
    assert!(key.signer(Format::Gpg).is_err());
}
