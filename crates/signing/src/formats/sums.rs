//! `sha256sums`: a `SHA256SUMS` manifest of a set of files plus its detached OpenPGP signature
//! `SHA256SUMS.asc`, the way Debian and many release pages publish checksums.
//!
//! Facts relied on (GNU coreutils `sha256sum`):
//! - one line per file: 64 lower-case hex digits, a space, a mode character (a space for text
//!   mode, `*` for binary; on GNU systems both read the same bytes), the file name, `\n`;
//! - `sha256sum -c SHA256SUMS` re-hashes each named file relative to the current directory;
//! - names holding `\\` or a newline are written escaped (a leading `\\` on the line). Such names
//!   are refused here instead, along with absolute paths and `..` components, so that checking a
//!   manifest never reads outside the directory it is checked in.
//!
//! The signature is an ordinary gpg detached signature over the manifest's bytes, checked with
//! `gpg --verify SHA256SUMS.asc SHA256SUMS`.

use sha2::{Digest as _, Sha256};

use super::gpg::GpgKey;
use super::{Format, Signed, Signer};
use crate::error::{SigningError, SigningResult};

/// The manifest's conventional file name.
pub const MANIFEST_NAME: &str = "SHA256SUMS";

fn invalid(reason: impl Into<String>) -> SigningError {
    SigningError::InvalidInput {
        format: Format::Sha256sums.as_str(),
        reason: reason.into(),
    }
}

fn check_name(name: &str) -> SigningResult<()> {
    let bad = name.is_empty()
        || name.contains(['\n', '\r', '\\', '\0'])
        || name.starts_with('/')
        || name.split('/').any(|part| part == ".." || part.is_empty());
    if bad {
        return Err(invalid(format!(
            "file name {name:?} is empty, absolute, has an empty or `..` component, or holds \\, NUL or a line break"
        )));
    }
    Ok(())
}

/// Builds a manifest from `(name, sha256)` pairs, sorted by name so that the same set of files
/// always gives the same bytes (and so the same cached signature).
pub fn manifest_from_digests(entries: &[(&str, [u8; 32])]) -> SigningResult<String> {
    let mut sorted: Vec<&(&str, [u8; 32])> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(invalid(format!("file name {:?} appears twice", w[0].0)));
    }
    let mut out = String::new();
    for (name, digest) in sorted {
        check_name(name)?;
        // Binary mode (`*`): the digest is of the exact bytes, whatever the platform.
        out.push_str(&format!("{} *{name}\n", hex::encode(digest)));
    }
    if out.is_empty() {
        return Err(invalid("a manifest needs at least one file"));
    }
    Ok(out)
}

/// Builds a manifest from file names and contents.
pub fn manifest(files: &[(&str, &[u8])]) -> SigningResult<String> {
    let digests: Vec<(&str, [u8; 32])> = files
        .iter()
        .map(|(name, data)| (*name, Sha256::digest(data).into()))
        .collect();
    manifest_from_digests(&digests)
}

/// Checks that `input` is a manifest this module would write (UTF-8, at least one line, each
/// line well-formed, no repeated name) and returns its `(name, hex digest)` entries.
pub fn parse_manifest(input: &[u8]) -> SigningResult<Vec<(String, String)>> {
    let text = std::str::from_utf8(input).map_err(|_| invalid("the manifest is not UTF-8"))?;
    if !text.ends_with('\n') {
        return Err(invalid("the manifest must end with a newline"));
    }
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let (digest, rest) = line
            .split_at_checked(64)
            .ok_or_else(|| invalid(format!("line {}: too short", n + 1)))?;
        let well_formed = digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let name = rest
            .strip_prefix(" *")
            .or_else(|| rest.strip_prefix("  "))
            .filter(|_| well_formed)
            .ok_or_else(|| {
                invalid(format!(
                    "line {}: expected `<64 lower-case hex> *<name>`",
                    n + 1
                ))
            })?;
        check_name(name)?;
        entries.push((name.to_string(), digest.to_string()));
    }
    if entries.is_empty() {
        return Err(invalid("a manifest needs at least one file"));
    }
    let mut names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(invalid(format!("file name {:?} appears twice", w[0])));
    }
    Ok(entries)
}

/// Signs SHA256SUMS manifests with an OpenPGP key.
#[derive(Clone, Debug)]
pub struct SumsSigner {
    key: GpgKey,
}

impl SumsSigner {
    pub fn new(key: GpgKey) -> Self {
        Self { key }
    }

    /// The manifest of `files` and its signature (`SHA256SUMS`, `SHA256SUMS.asc`).
    pub fn sign_files(&self, files: &[(&str, &[u8])]) -> SigningResult<(String, Signed)> {
        let text = manifest(files)?;
        let signed = self.sign(text.as_bytes())?;
        Ok((text, signed))
    }
}

impl Signer for SumsSigner {
    fn format(&self) -> Format {
        Format::Sha256sums
    }

    fn key_id(&self) -> &str {
        self.key.id()
    }

    /// `input` is the manifest; it is refused unless well-formed, so the server never vouches for
    /// arbitrary bytes under this format.
    fn sign(&self, input: &[u8]) -> SigningResult<Signed> {
        parse_manifest(input)?;
        Ok(Signed {
            format: Format::Sha256sums,
            key_id: self.key.id().to_string(),
            signature: self.key.sign_detached(Format::Sha256sums, input)?,
        })
    }

    fn verify(&self, input: &[u8], signature: &[u8]) -> SigningResult<()> {
        parse_manifest(input)?;
        self.key
            .verify_detached(Format::Sha256sums, input, signature)
    }

    fn proof_input(&self) -> Vec<u8> {
        // A manifest describing the generic proof text; built, not hard-coded, so the proof also
        // exercises the manifest writer.
        manifest(&[("relyard-proof.txt", super::PROOF_INPUT)])
            .map(String::into_bytes)
            .unwrap_or_default()
    }
}
