//! `authenticode` signatures checked by Debian's osslsigncode (`osslsigncode verify`), which
//! scripts/test installs. The PE files are built in the test (`build_minimal_pe`); the imported
//! CA-issued chain is made with the `openssl` command.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use relyard_signing::{
    build_minimal_pe, build_unsigned_mar, AuthenticodeKey, Format, KeyFile, KeyKind, Keyring,
    SigningError, UnlockedKey,
};

/// RSA generation takes seconds, so the tests share two stored keys.
fn keys() -> &'static (UnlockedKey, UnlockedKey) {
    static KEYS: OnceLock<(UnlockedKey, UnlockedKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        (
            stored_key(dir.path(), "release-win", KeyKind::Authenticode),
            stored_key(dir.path(), "other-win", KeyKind::Authenticode),
        )
    })
}

/// `osslsigncode verify -CAfile ca -in file`: Ok(output) when it reports the signature good.
/// No timestamp is involved (we do not countersign), and our certificates name no CRL. The
/// flags and messages used here are the same in Debian 12's osslsigncode 2.5 and 2.9.
fn ossl_verify(ca: &Path, file: &Path) -> Result<String, String> {
    let out = run(Command::new("osslsigncode")
        .args(["verify", "-CAfile"])
        .arg(ca)
        .arg("-in")
        .arg(file));
    let t = text(&out);
    if out.status.success() && t.contains("Signature verification: ok") {
        Ok(t)
    } else {
        Err(t)
    }
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

/// A PE with code, data of an odd size and trailing (overlay) data whose length is not a
/// multiple of 8, so the padding before the certificate table is exercised.
fn sample_pe() -> Vec<u8> {
    let data: Vec<u8> = (0..=255u8).cycle().take(5001).collect();
    let mut pe = build_minimal_pe(&[
        (".text", &[0x31, 0xc0, 0xc3]),
        (".rdata", &data),
        (".data", b"relyard"),
    ]);
    pe.extend_from_slice(b"overlay: 13b");
    pe.push(b'\n');
    pe
}

#[test]
fn osslsigncode_verifies_signed_pes_and_rejects_tampering() {
    let (key, other) = keys();
    let signer = key.signer(Format::Authenticode).expect("signer");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ca = write(d, "cert.pem", key.public_key().expect("chain"));
    let other_ca = write(d, "other.pem", other.public_key().expect("chain"));

    let unsigned = sample_pe();
    let unsigned_file = write(d, "unsigned.exe", &unsigned);
    ossl_verify(&ca, &unsigned_file).expect_err("an unsigned PE does not verify");

    let signed = signer.sign(&unsigned).expect("sign").signature;
    assert_eq!(
        signed.len() % 8,
        0,
        "the certificate table is 8-byte aligned"
    );
    let file = write(d, "signed.exe", &signed);
    let report = ossl_verify(&ca, &file).expect("osslsigncode accepts the signature");
    assert!(
        report.contains("Message digest algorithm  : SHA256"),
        "{report}"
    );
    assert!(
        report.contains("Signer's certificate:") && report.contains("CN=release-win"),
        "{report}"
    );
    // osslsigncode recomputes the PE checksum: 2.5 prints the stored and the computed value
    // (MISMATCH after a wrong one), 2.9 one value when they match, both and a warning when not.
    let checksums: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("PE checksum"))
        .filter_map(|l| l.split(':').nth(1))
        .map(str::trim)
        .collect();
    assert!(!checksums.is_empty(), "{report}");
    assert!(checksums.iter().all(|c| *c == checksums[0]), "{report}");
    assert!(
        !report.contains("MISMATCH") && !report.contains("invalid PE checksum"),
        "{report}"
    );
    signer.verify(&unsigned, &signed).expect("own verify");
    ossl_verify(&other_ca, &file).expect_err("another certificate is not trusted");
    assert!(other
        .signer(Format::Authenticode)
        .expect("signer")
        .verify(&unsigned, &signed)
        .is_err());

    // One changed byte in a section, in the trailing data or in the header fails both.
    let text_at = relyard_signing::formats::pe::first_section_byte(&signed).expect("section");
    for at in [text_at + 1, unsigned.len() - 3, 0x50] {
        let mut tampered = signed.clone();
        tampered[at] ^= 1;
        let tampered_file = write(d, "tampered.exe", &tampered);
        ossl_verify(&ca, &tampered_file).expect_err("tampered PE rejected");
        assert!(signer.verify(&unsigned, &tampered).is_err(), "byte {at}");
    }
    // A 32-bit PE32 image, whose Certificate Table entry sits elsewhere, verifies too.
    let pe32 = relyard_signing::formats::pe::build_minimal_pe32(&[(".text", &[0xc3])]);
    let pe32_file = write(
        d,
        "signed32.exe",
        signer.sign(&pe32).expect("sign").signature,
    );
    ossl_verify(&ca, &pe32_file).expect("osslsigncode accepts a signed PE32");

    // A valid signed PE of something else is not a signature of this input.
    let elsewhere = signer
        .sign(&build_minimal_pe(&[(".text", &[0xc3])]))
        .expect("sign");
    assert!(signer.verify(&unsigned, &elsewhere.signature).is_err());
}

#[test]
fn non_pe_and_already_signed_input_is_refused() {
    let (key, _) = keys();
    let signer = key.signer(Format::Authenticode).expect("signer");
    for not_pe in [
        b"not a PE".to_vec(),
        Vec::new(),
        build_unsigned_mar(&[("a", 0o644, b"x")], None),
        sample_pe()[..0x100].to_vec(),
    ] {
        let err = signer.sign(&not_pe).expect_err("refused");
        assert!(
            matches!(
                err,
                SigningError::InvalidInput {
                    format: "authenticode",
                    ..
                }
            ),
            "{err}"
        );
    }
    let signed = signer.sign(&sample_pe()).expect("sign").signature;
    let err = signer.sign(&signed).expect_err("signed input refused");
    assert!(err.to_string().contains("already signed"), "{err}");
}

#[test]
fn the_proof_passes_and_the_key_file_holds_the_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, key) = relyard_signing::generate("proof-win", KeyKind::Authenticode, b"pw", FAST)
        .expect("generate");
    let json = file.to_json();
    assert!(!json.contains("PRIVATE KEY"));
    assert!(file.public_key().starts_with("-----BEGIN CERTIFICATE-----"));
    let path = dir.path().join("proof-win.key");
    file.write_new(&path).expect("write");
    let back = KeyFile::read(&path)
        .expect("read")
        .unlock(b"pw")
        .expect("unlock");
    assert_eq!(
        back.public_key().expect("chain"),
        key.public_key().expect("chain")
    );
    let signer = back.signer(Format::Authenticode).expect("signer");
    signer.prove().expect("start-up proof");
    let mut ring = Keyring::new();
    ring.add(signer);
    ring.prove().expect("keyring proof");
    // An Authenticode key signs only Authenticode, and an RSA (mar) key cannot sign it.
    assert!(back.signer(Format::Mar).is_err());
    // A certificate for another key in the public part is refused at unlock.
    let (other, _) =
        relyard_signing::generate("other", KeyKind::Authenticode, b"pw", FAST).expect("generate");
    let mut swapped: serde_json::Value = serde_json::from_str(&json).expect("json");
    swapped["public"] = other.public_key().into();
    let swapped = KeyFile::from_json(&swapped.to_string(), &path).expect("parse");
    assert!(swapped.unlock(b"pw").is_err());
}

/// Runs `openssl` in `dir` with `args` (split at spaces) and, if given, `-subj subject`.
fn openssl(dir: &Path, args: &str, subject: Option<&str>) {
    let mut cmd = Command::new("openssl");
    cmd.current_dir(dir).args(args.split(' '));
    if let Some(subject) = subject {
        cmd.arg("-subj").arg(subject);
    }
    let out = run(&mut cmd);
    assert!(out.status.success(), "openssl {args}: {}", text(&out));
}

/// Issues `out` for leaf.csr from the test CA, with the extensions `extensions`.
fn issue_leaf(dir: &Path, extensions: &str, out: &str) {
    write(dir, "ext.cnf", extensions);
    openssl(
        dir,
        &format!(
            "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
             -extfile ext.cnf -out {out}"
        ),
        None,
    );
}

/// A key issued by a CA (root → leaf with codeSigning) is brought in with `import`, sealed, and
/// its signatures verify against the root alone: the chain travels in the signature.
#[test]
fn an_imported_ca_issued_key_signs_and_verifies_against_the_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    openssl(
        d,
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30",
        Some("/CN=relyard test root"),
    );
    openssl(
        d,
        "req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr",
        Some("/CN=relyard test publisher"),
    );
    issue_leaf(
        d,
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
        "leaf.pem",
    );
    let read = |name: &str| std::fs::read_to_string(d.join(name)).expect("read");
    let chain = read("leaf.pem") + &read("ca.pem");

    let imported = AuthenticodeKey::import("vendor", &read("leaf.key"), &chain).expect("import");
    let file = KeyFile::seal(&UnlockedKey::Authenticode(imported), b"pw", FAST).expect("seal");
    let key = file.unlock(b"pw").expect("unlock");
    let signer = key.signer(Format::Authenticode).expect("signer");
    let signed = signer.sign(&sample_pe()).expect("sign").signature;
    signer.verify(&sample_pe(), &signed).expect("own verify");
    let report = ossl_verify(&d.join("ca.pem"), &write(d, "vendor.exe", &signed))
        .expect("verifies against the root");
    assert!(report.contains("CN=relyard test publisher"), "{report}");

    // osslsigncode's own signature of the same input names the same image hash as ours.
    let theirs = d.join("theirs.exe");
    let out = run(Command::new("osslsigncode")
        .args([
            "sign", "-certs", "leaf.pem", "-key", "leaf.key", "-h", "sha256", "-in",
        ])
        .arg(write(d, "unsigned.exe", sample_pe()))
        .arg("-out")
        .arg(&theirs)
        .current_dir(d));
    assert!(out.status.success(), "osslsigncode sign: {}", text(&out));
    let digest_line = |report: &str| {
        report
            .lines()
            .find(|l| l.starts_with("Current message digest"))
            .map(str::to_string)
    };
    let their_report = ossl_verify(&d.join("ca.pem"), &theirs).expect("their signature");
    assert!(digest_line(&report).is_some());
    assert_eq!(digest_line(&report), digest_line(&their_report));

    // The leaf must be the key's, and must allow code signing.
    assert!(AuthenticodeKey::import("vendor", &read("ca.key"), &chain).is_err());
    issue_leaf(d, "extendedKeyUsage=serverAuth\n", "server.pem");
    let err = AuthenticodeKey::import("vendor", &read("leaf.key"), &read("server.pem"))
        .expect_err("a TLS server certificate is refused");
    assert!(err.to_string().contains("codeSigning"), "{err}");
}
