//! `gpg` signatures checked by GnuPG itself.

mod common;

use common::*;
use relyard_signing::{Format, KeyKind, UnlockedKey};

#[test]
fn gpg_verifies_a_detached_signature_and_rejects_a_tampered_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = stored_key(dir.path(), "release-gpg", KeyKind::Gpg);
    let signer = key.signer(Format::Gpg).expect("signer");
    let data = b"firefox-150.0.tar.xz contents\x00\x01\x02 binary too\n".repeat(100);
    let signed = signer.sign(&data).expect("sign");
    assert_eq!(signed.format, Format::Gpg);
    assert_eq!(signed.key_id, "release-gpg");
    let armored = String::from_utf8(signed.signature.clone()).expect("utf8");
    assert!(
        armored.starts_with("-----BEGIN PGP SIGNATURE-----"),
        "{armored}"
    );

    let file = dir.path().join("firefox.tar.xz");
    let sig = dir
        .path()
        .join(format!("firefox.tar.xz{}", Format::Gpg.detached_suffix()));
    std::fs::write(&file, &data).expect("write");
    std::fs::write(&sig, &signed.signature).expect("write sig");
    let home = gpg_home_with(dir.path(), &key.public_key().expect("public"));

    let status = gpg_verify(&home, &sig, &file).expect("gpg accepts the signature");
    let UnlockedKey::Gpg(gpg_key) = &key else {
        panic!("a gpg key")
    };
    assert!(
        status.contains(&format!("VALIDSIG {}", gpg_key.fingerprint())),
        "{status}"
    );
    // Our own verifier agrees.
    signer.verify(&data, &signed.signature).expect("verify");

    let mut tampered = data.clone();
    tampered[10] ^= 0x20;
    std::fs::write(&file, &tampered).expect("write");
    let err = gpg_verify(&home, &sig, &file).expect_err("gpg rejects a tampered file");
    assert!(err.contains("BADSIG"), "{err}");
    assert!(signer.verify(&tampered, &signed.signature).is_err());
}

#[test]
fn gpg_rejects_a_signature_by_another_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trusted = stored_key(dir.path(), "a", KeyKind::Gpg);
    let other = stored_key(dir.path(), "b", KeyKind::Gpg);
    let data = b"payload";
    let signed = other
        .signer(Format::Gpg)
        .expect("signer")
        .sign(data)
        .expect("sign");
    let file = dir.path().join("f");
    let sig = dir.path().join("f.asc");
    std::fs::write(&file, data).expect("write");
    std::fs::write(&sig, &signed.signature).expect("write");
    let home = gpg_home_with(dir.path(), &trusted.public_key().expect("public"));
    let err = gpg_verify(&home, &sig, &file).expect_err("unknown key");
    assert!(err.contains("NO_PUBKEY") || err.contains("ERRSIG"), "{err}");
    let trusted_signer = trusted.signer(Format::Gpg).expect("signer");
    assert!(trusted_signer.verify(data, &signed.signature).is_err());
}
