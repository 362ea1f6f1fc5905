//! The MAR (Mozilla ARchive) container: just enough to read an archive, add a signature block and
//! find the bytes a signature covers. Written from Mozilla's format description
//! (wiki.mozilla.org/Software_Update:MAR, modules/libmar); all integers are big-endian.
//!
//! ```text
//! 0   "MAR1"
//! 4   u32 offset of the index
//! 8   signature block (absent in old-format archives, whose content starts at 8):
//!       u64 size of the whole file, u32 number of signatures,
//!       per signature: u32 algorithm id (2 = RSA-PKCS#1 v1.5 with SHA-384), u32 size, bytes
//! .   additional-sections block (optional): u32 count, per section: u32 size (including these
//!       8 bytes), u32 id (1 = product information: channel NUL, product version NUL), data
//! .   content: the members' bytes
//! .   index: u32 size, then per member: u32 offset, u32 size, u32 flags, NUL-terminated name
//! ```
//!
//! Where the content starts is not stored: it is the smallest member offset. So adding a
//! signature block moves the content, and every member offset and the index offset shift by the
//! block's size. A signature covers the whole file except the signature bytes themselves: the
//! first 8 bytes, the file size, the count, each signature's id and size, then everything after
//! the last signature.

const MAGIC: &[u8; 4] = b"MAR1";
const HEADER_LEN: usize = 8;
/// libmar refuses more signatures than this, and larger ones; so do we, before allocating.
const MAX_SIGNATURES: u32 = 8;
const MAX_SIGNATURE_LEN: u32 = 2048;
/// Additional section id of the product information block.
const PRODUCT_INFO_ID: u32 = 1;

/// One member of the index.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    offset: u32,
    size: u32,
    flags: u32,
    name: Vec<u8>,
}

/// A parsed archive, borrowing the file's bytes.
#[derive(Debug)]
pub(crate) struct Mar<'a> {
    bytes: &'a [u8],
    entries: Vec<Entry>,
    data_offset: usize,
    index_offset: usize,
    /// The file size the signature block declares (None in old-format archives).
    declared_size: Option<u64>,
    /// `(algorithm id, signature)` in file order.
    pub(crate) signatures: Vec<(u32, &'a [u8])>,
    /// Where the signature block ends (8 for old-format archives).
    signatures_end: usize,
}

fn be32(bytes: &[u8], at: usize) -> Result<u32, String> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("truncated at byte {at}"))
}

fn be64(bytes: &[u8], at: usize) -> Result<u64, String> {
    Ok((u64::from(be32(bytes, at)?) << 32) | u64::from(be32(bytes, at + 4)?))
}

impl<'a> Mar<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        if bytes.get(..4) != Some(MAGIC) {
            return Err("not a MAR file (no MAR1 magic)".into());
        }
        let index_offset = be32(bytes, 4)? as usize;
        let index_len = be32(bytes, index_offset)? as usize;
        let index_end = index_offset
            .checked_add(4 + index_len)
            .filter(|&e| e == bytes.len())
            .ok_or("the index does not end at the end of the file")?;
        let entries = parse_index(&bytes[index_offset + 4..index_end])?;
        let data_offset = entries
            .iter()
            .map(|e| e.offset as usize)
            .min()
            .ok_or("the MAR has no members")?;
        for e in &entries {
            let end = e.offset as usize + e.size as usize;
            if e.offset < HEADER_LEN as u32 || end > index_offset {
                return Err(format!(
                    "member {} lies outside the content",
                    String::from_utf8_lossy(&e.name)
                ));
            }
        }
        let mut mar = Mar {
            bytes,
            entries,
            data_offset,
            index_offset,
            declared_size: None,
            signatures: Vec::new(),
            signatures_end: HEADER_LEN,
        };
        if data_offset > HEADER_LEN {
            mar.parse_signatures()?;
            parse_additional(mar.additional())?;
        }
        Ok(mar)
    }

    fn parse_signatures(&mut self) -> Result<(), String> {
        let b = self.bytes;
        self.declared_size = Some(be64(b, HEADER_LEN)?);
        let count = be32(b, HEADER_LEN + 8)?;
        if count > MAX_SIGNATURES {
            return Err(format!("{count} signatures (at most {MAX_SIGNATURES})"));
        }
        let mut at = HEADER_LEN + 12;
        for _ in 0..count {
            let (alg, len) = (be32(b, at)?, be32(b, at + 4)?);
            if len > MAX_SIGNATURE_LEN {
                return Err(format!(
                    "a {len}-byte signature (at most {MAX_SIGNATURE_LEN})"
                ));
            }
            let sig = b
                .get(at + 8..at + 8 + len as usize)
                .ok_or("truncated signature")?;
            self.signatures.push((alg, sig));
            at += 8 + len as usize;
        }
        if at > self.data_offset {
            return Err("the signature block overlaps the content".into());
        }
        self.signatures_end = at;
        Ok(())
    }

    /// The additional-sections block, verbatim (empty if there is none).
    fn additional(&self) -> &'a [u8] {
        &self.bytes[self.signatures_end..self.data_offset]
    }

    /// Whether the signature block's file size is this file's size. libmar checks it, and it is
    /// covered by the signature, so a mismatch means the file was cut or extended.
    pub(crate) fn size_matches(&self) -> bool {
        self.declared_size == Some(self.bytes.len() as u64)
    }

    /// The bytes the signatures cover, in order (see the module comment).
    pub(crate) fn signed_parts(&self) -> (Vec<u8>, &'a [u8]) {
        let mut head = self.bytes[..HEADER_LEN].to_vec();
        head.extend_from_slice(&self.declared_size.unwrap_or(0).to_be_bytes());
        head.extend_from_slice(&(self.signatures.len() as u32).to_be_bytes());
        for (alg, sig) in &self.signatures {
            head.extend_from_slice(&alg.to_be_bytes());
            head.extend_from_slice(&(sig.len() as u32).to_be_bytes());
        }
        (head, &self.bytes[self.signatures_end..])
    }

    /// The archive rewritten with one signature block holding a single zero-filled signature of
    /// `sig_len` bytes and algorithm `alg`, the additional sections and content unchanged and the
    /// offsets shifted to match. Returns the file and where the signature bytes start.
    pub(crate) fn with_signature_slot(
        &self,
        alg: u32,
        sig_len: usize,
    ) -> Result<(Vec<u8>, usize), String> {
        let additional = self.additional();
        let content = &self.bytes[self.data_offset..self.index_offset];
        let sig_at = HEADER_LEN + 12 + 8;
        let new_data = sig_at + sig_len + additional.len();
        let new_index = new_data + content.len();
        let index = &self.bytes[self.index_offset..];
        let total = new_index + index.len();
        let new_index_u32 = u32::try_from(new_index).map_err(|_| "the MAR would exceed 4 GiB")?;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&new_index_u32.to_be_bytes());
        out.extend_from_slice(&(total as u64).to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&alg.to_be_bytes());
        out.extend_from_slice(&(sig_len as u32).to_be_bytes());
        out.resize(sig_at + sig_len, 0);
        out.extend_from_slice(additional);
        out.extend_from_slice(content);
        out.extend_from_slice(&index[..4]);
        for e in &self.entries {
            let moved = (e.offset as usize - self.data_offset) + new_data;
            let moved = u32::try_from(moved).map_err(|_| "the MAR would exceed 4 GiB")?;
            write_entry(&mut out, moved, e);
        }
        debug_assert_eq!(out.len(), total);
        Ok((out, sig_at))
    }
}

fn write_entry(out: &mut Vec<u8>, offset: u32, e: &Entry) {
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&e.size.to_be_bytes());
    out.extend_from_slice(&e.flags.to_be_bytes());
    out.extend_from_slice(&e.name);
    out.push(0);
}

fn parse_index(mut index: &[u8]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    while !index.is_empty() {
        let (offset, size, flags) = (be32(index, 0)?, be32(index, 4)?, be32(index, 8)?);
        let rest = &index[12..];
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .filter(|&n| n > 0)
            .ok_or("an index entry without a name")?;
        entries.push(Entry {
            offset,
            size,
            flags,
            name: rest[..nul].to_vec(),
        });
        index = &rest[nul + 1..];
    }
    Ok(entries)
}

/// Checks that the bytes between the signatures and the content are exactly one well-formed
/// additional-sections block, so that nothing unaccounted for gets signed.
fn parse_additional(block: &[u8]) -> Result<(), String> {
    if block.is_empty() {
        return Ok(());
    }
    let count = be32(block, 0)?;
    let mut at = 4usize;
    for _ in 0..count {
        let size = be32(block, at)? as usize;
        if size < 8 || at + size > block.len() {
            return Err("a malformed additional section".into());
        }
        at += size;
    }
    if at != block.len() {
        return Err("unexpected bytes between the signatures and the content".into());
    }
    Ok(())
}

/// Builds an unsigned MAR of `members` (`(name, mode, bytes)`), with an empty signature block and
/// a product information block when `product` (`(channel, version)`) is given, as Mozilla's
/// tools make them; else in the old format. For tests and the start-up proof.
pub fn build_unsigned(members: &[(&str, u32, &[u8])], product: Option<(&str, &str)>) -> Vec<u8> {
    let mut head = Vec::new();
    if let Some((channel, version)) = product {
        let mut section = Vec::new();
        section.extend_from_slice(channel.as_bytes());
        section.push(0);
        section.extend_from_slice(version.as_bytes());
        section.push(0);
        head.extend_from_slice(&0u64.to_be_bytes()); // file size, filled in below
        head.extend_from_slice(&0u32.to_be_bytes()); // no signatures
        head.extend_from_slice(&1u32.to_be_bytes());
        head.extend_from_slice(&(section.len() as u32 + 8).to_be_bytes());
        head.extend_from_slice(&PRODUCT_INFO_ID.to_be_bytes());
        head.extend_from_slice(&section);
    }
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&head);
    let mut entries = Vec::new();
    for (name, mode, data) in members {
        entries.push(Entry {
            offset: out.len() as u32,
            size: data.len() as u32,
            flags: *mode,
            name: name.as_bytes().to_vec(),
        });
        out.extend_from_slice(data);
    }
    let index_offset = out.len() as u32;
    out[4..8].copy_from_slice(&index_offset.to_be_bytes());
    let mut index = Vec::new();
    for e in &entries {
        write_entry(&mut index, e.offset, e);
    }
    out.extend_from_slice(&(index.len() as u32).to_be_bytes());
    out.extend_from_slice(&index);
    if product.is_some() {
        let size = out.len() as u64;
        out[8..16].copy_from_slice(&size.to_be_bytes());
    }
    out
}

/// Where the first member's bytes start in `mar`, for altering content in tests and proofs.
pub fn first_content_byte(mar: &[u8]) -> Option<usize> {
    Mar::parse(mar).ok().map(|m| m.data_offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_slot_shifts_offsets_by_the_block_size() {
        let old = build_unsigned(&[("a", 0o644, b"hello"), ("b/c", 0o755, b"world")], None);
        let m = Mar::parse(&old).expect("parse");
        assert_eq!(m.data_offset, 8);
        let (new, sig_at) = m.with_signature_slot(2, 512).expect("slot");
        let n = Mar::parse(&new).expect("parse signed");
        assert_eq!(sig_at, 28);
        assert_eq!(n.data_offset, 8 + 12 + 8 + 512);
        assert!(n.size_matches());
        assert_eq!(n.signatures, vec![(2, &[0u8; 512][..])]);
        let names: Vec<_> = n
            .entries
            .iter()
            .map(|e| (e.offset, e.name.clone()))
            .collect();
        assert_eq!(names, vec![(540, b"a".to_vec()), (545, b"b/c".to_vec())]);
        assert_eq!(&new[540..550], b"helloworld");
    }

    #[test]
    fn product_information_is_kept() {
        let with = build_unsigned(&[("a", 0o644, b"x")], Some(("release", "1.0")));
        let m = Mar::parse(&with).expect("parse");
        assert!(m.size_matches() && m.signatures.is_empty());
        let (new, _) = m.with_signature_slot(2, 512).expect("slot");
        let n = Mar::parse(&new).expect("parse signed");
        assert_eq!(n.additional(), m.additional());
        assert!(n.additional().windows(8).any(|w| w == b"release\0"));
    }

    #[test]
    fn malformed_archives_are_refused() {
        let good = build_unsigned(&[("a", 0o644, b"x")], None);
        assert!(Mar::parse(b"MAR2\0\0\0\x08").is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(Mar::parse(&trailing).is_err());
        let mut outside = good.clone();
        let at = outside.len() - 2 - 12; // the one entry's offset field
        outside[at..at + 4].copy_from_slice(&1000u32.to_be_bytes());
        assert!(Mar::parse(&outside).is_err());
        assert!(Mar::parse(&build_unsigned(&[], None)).is_err());
    }

    #[test]
    fn any_truncation_or_changed_byte_is_an_error_or_a_parse_never_a_panic() {
        let unsigned = build_unsigned(&[("a", 0o644, b"xyz"), ("b", 0o644, b"")], Some(("c", "v")));
        let (signed, _) = Mar::parse(&unsigned)
            .and_then(|m| m.with_signature_slot(2, 16))
            .expect("slot");
        for len in 0..signed.len() {
            assert!(Mar::parse(&signed[..len]).is_err(), "truncated to {len}");
        }
        for at in 0..signed.len() {
            for v in [0x00, 0x01, 0x7f, 0xff] {
                let mut changed = signed.clone();
                changed[at] = v;
                if let Ok(m) = Mar::parse(&changed) {
                    let _ = m.with_signature_slot(2, 512);
                    let _ = m.signed_parts();
                }
            }
        }
    }
}
