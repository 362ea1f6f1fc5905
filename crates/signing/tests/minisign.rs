//! `minisign` signatures checked by Debian's minisign.

mod common;

use std::path::Path;

use common::*;
use relyard_signing::{Format, KeyKind};

/// `minisign -V -p pub -m file -x sig`: Ok(output) when minisign accepts it.
fn minisign_verify(pubkey: &Path, file: &Path, sig: &Path) -> Result<String, String> {
    let mut cmd = std::process::Command::new("minisign");
    cmd.arg("-V")
        .arg("-p")
        .arg(pubkey)
        .arg("-m")
        .arg(file)
        .arg("-x")
        .arg(sig);
    let out = run(&mut cmd);
    if out.status.success() {
        Ok(text(&out))
    } else {
        Err(text(&out))
    }
}

#[test]
fn minisign_verifies_and_rejects_tampered_file_and_comment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = stored_key(dir.path(), "nightly-minisign", KeyKind::Minisign);
    let signer = key.signer(Format::Minisign).expect("signer");
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let signed = signer.sign(&data).expect("sign");

    let file = dir.path().join("update.mar");
    let sig = dir
        .path()
        .join(format!("update.mar{}", Format::Minisign.detached_suffix()));
    let pubkey = dir.path().join("minisign.pub");
    std::fs::write(&file, &data).expect("write");
    std::fs::write(&sig, &signed.signature).expect("write");
    std::fs::write(&pubkey, key.public_key().expect("public")).expect("write");

    let out = minisign_verify(&pubkey, &file, &sig).expect("minisign accepts the signature");
    assert!(
        out.contains("Signature and comment signature verified"),
        "{out}"
    );
    assert!(
        out.contains("key:nightly-minisign"),
        "trusted comment shown: {out}"
    );
    signer.verify(&data, &signed.signature).expect("own verify");

    // A changed file fails.
    let mut tampered = data.clone();
    tampered[50_000] ^= 1;
    std::fs::write(&file, &tampered).expect("write");
    minisign_verify(&pubkey, &file, &sig).expect_err("tampered file rejected");
    assert!(signer.verify(&tampered, &signed.signature).is_err());

    // A changed trusted comment fails too: the global signature covers it.
    std::fs::write(&file, &data).expect("write");
    let forged = String::from_utf8(signed.signature.clone())
        .expect("utf8")
        .replace("key:nightly-minisign", "key:someone-else");
    std::fs::write(&sig, &forged).expect("write");
    let err = minisign_verify(&pubkey, &file, &sig).expect_err("forged comment rejected");
    assert!(err.to_lowercase().contains("comment"), "{err}");
    assert!(signer.verify(&data, forged.as_bytes()).is_err());
}

#[test]
fn minisign_public_key_file_names_its_key_id_and_quiet_mode_prints_the_trusted_comment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = stored_key(dir.path(), "m", KeyKind::Minisign);
    let relyard_signing::UnlockedKey::Minisign(k) = &key else {
        panic!("a minisign key")
    };
    let public = k.public_key_file();
    let first = public.lines().next().expect("comment line");
    assert_eq!(
        first,
        format!(
            "untrusted comment: minisign public key {}",
            k.minisign_key_id()
        )
    );
    // minisign reads that file and, with -Q, prints only the verified trusted comment.
    let data = b"x";
    let signed = key
        .signer(Format::Minisign)
        .expect("signer")
        .sign(data)
        .expect("sign");
    let (file, sig, pubkey) = (
        dir.path().join("x"),
        dir.path().join("x.minisig"),
        dir.path().join("p"),
    );
    std::fs::write(&file, data).expect("write");
    std::fs::write(&sig, &signed.signature).expect("write");
    std::fs::write(&pubkey, &public).expect("write");
    let mut cmd = std::process::Command::new("minisign");
    cmd.args(["-V", "-Q"])
        .arg("-p")
        .arg(&pubkey)
        .arg("-m")
        .arg(&file)
        .arg("-x")
        .arg(&sig);
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).starts_with("timestamp:"), "{}", text(&out));
}
