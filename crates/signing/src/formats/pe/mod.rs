//! Windows PE (Portable Executable) images: just enough to find what an Authenticode signature
//! covers, attach a signature and fix the checksum. Written from Microsoft's PE/COFF
//! specification and "Windows Authenticode Portable Executable Signature Format"; all integers
//! are little-endian.
//!
//! ```text
//! 0        "MZ" ... u32 e_lfanew at 0x3c: where the PE header starts
//! lfanew   "PE\0\0", COFF header (20 bytes: u16 machine, u16 number of sections, ...,
//!          u16 size of the optional header at +16)
//! opt      optional header: u16 magic (0x10b PE32, 0x20b PE32+), ..., u32 SizeOfHeaders at +60,
//!          u32 CheckSum at +64, u32 NumberOfRvaAndSizes at +92 / +108, then the data
//!          directories (8 bytes each: u32 address, u32 size); entry 4 is the Certificate Table,
//!          whose address is a *file offset*
//! opt+size section table: 40 bytes per section (u32 SizeOfRawData at +16, PointerToRawData +20)
//! ...      section data, then any trailing data; the certificate table, when present, is last
//! ```
//!
//! The Authenticode image hash covers the whole file except the CheckSum field, the Certificate
//! Table directory entry and the certificate table itself, read in file order. That is the
//! specification's "headers, sections by file offset, then the data after the last section"
//! whenever the sections leave no gaps, and it is what osslsigncode computes.

use sha2::{Digest as _, Sha256};

mod build;
pub use build::{build_minimal_pe, build_minimal_pe32};

const PE_MAGIC: &[u8; 4] = b"PE\0\0";
const PE32: u16 = 0x10b;
const PE32_PLUS: u16 = 0x20b;
const COFF_HEADER_LEN: usize = 20;
const SECTION_HEADER_LEN: usize = 40;
const CERTIFICATE_TABLE_ENTRY: usize = 4;
/// The certificate table and each entry in it are 8-byte aligned.
pub(crate) const CERT_ALIGN: usize = 8;
/// WIN_CERTIFICATE: u32 dwLength, u16 wRevision, u16 wCertificateType, then the data.
pub(crate) const WIN_CERT_HEADER_LEN: usize = 8;
pub(crate) const WIN_CERT_REVISION_2_0: u16 = 0x0200;
pub(crate) const WIN_CERT_TYPE_PKCS_SIGNED_DATA: u16 = 0x0002;

/// A parsed image, borrowing the file's bytes.
#[derive(Debug)]
pub(crate) struct Pe<'a> {
    bytes: &'a [u8],
    checksum_at: usize,
    cert_entry_at: usize,
    /// `(file offset, size)` of the certificate table, when the directory entry is not empty.
    cert_table: Option<(usize, usize)>,
    /// Offsets of each section's raw data, for tampering in tests and proofs.
    sections: Vec<(usize, usize)>,
}

fn le16(bytes: &[u8], at: usize) -> Result<u16, String> {
    bytes
        .get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| format!("truncated at byte {at}"))
}

fn le32(bytes: &[u8], at: usize) -> Result<u32, String> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("truncated at byte {at}"))
}

pub(crate) fn put32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn align_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

impl<'a> Pe<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        if bytes.get(..2) != Some(b"MZ") {
            return Err("not a PE file (no MZ header)".into());
        }
        let pe_at = le32(bytes, 0x3c)? as usize;
        if bytes.get(pe_at..pe_at.saturating_add(4)) != Some(PE_MAGIC) {
            return Err("not a PE file (no PE signature where e_lfanew points)".into());
        }
        let coff = pe_at + 4;
        let section_count = usize::from(le16(bytes, coff + 2)?);
        let opt_len = usize::from(le16(bytes, coff + 16)?);
        let opt = coff + COFF_HEADER_LEN;
        let (rva_count_at, dirs_at) = match le16(bytes, opt)? {
            PE32 => (opt + 92, opt + 96),
            PE32_PLUS => (opt + 108, opt + 112),
            other => return Err(format!("unknown optional header magic {other:#x}")),
        };
        let opt_end = opt + opt_len;
        let dir_count = le32(bytes, rva_count_at)? as usize;
        if dir_count <= CERTIFICATE_TABLE_ENTRY || dirs_at + 8 * dir_count.min(16) > opt_end {
            return Err("the optional header has no Certificate Table entry".into());
        }
        let headers_len = le32(bytes, opt + 60)? as usize;
        let sections_end = opt_end + SECTION_HEADER_LEN * section_count;
        if sections_end > headers_len || headers_len > bytes.len() {
            return Err("the section table does not fit in SizeOfHeaders and the file".into());
        }
        let cert_entry_at = dirs_at + 8 * CERTIFICATE_TABLE_ENTRY;
        let cert_at = le32(bytes, cert_entry_at)? as usize;
        let cert_len = le32(bytes, cert_entry_at + 4)? as usize;
        let cert_table = match (cert_at, cert_len) {
            (0, 0) => None,
            (at, len) if at >= headers_len && at.checked_add(len) == Some(bytes.len()) => {
                Some((at, len))
            }
            _ => return Err("the certificate table is not at the end of the file".into()),
        };
        let image_end = cert_table.map_or(bytes.len(), |(at, _)| at);
        let mut sections = Vec::with_capacity(section_count);
        for i in 0..section_count {
            let h = opt_end + SECTION_HEADER_LEN * i;
            let len = le32(bytes, h + 16)? as usize;
            let at = le32(bytes, h + 20)? as usize;
            if len > 0 && (at < headers_len || at.saturating_add(len) > image_end) {
                return Err(format!("section {i}'s data lies outside the image"));
            }
            sections.push((at, len));
        }
        Ok(Self {
            bytes,
            checksum_at: opt + 64,
            cert_entry_at,
            cert_table,
            sections,
        })
    }

    /// The certificate table's bytes, if the image has one.
    pub(crate) fn certificate_table(&self) -> Option<&'a [u8]> {
        self.cert_table.map(|(at, len)| &self.bytes[at..at + len])
    }

    /// The image without its certificate table.
    fn image(&self) -> &'a [u8] {
        &self.bytes[..self.cert_table.map_or(self.bytes.len(), |(at, _)| at)]
    }

    /// The Authenticode SHA-256 image hash.
    pub(crate) fn image_digest(&self) -> [u8; 32] {
        let image = self.image();
        let mut h = Sha256::new();
        h.update(&image[..self.checksum_at]);
        h.update(&image[self.checksum_at + 4..self.cert_entry_at]);
        h.update(&image[self.cert_entry_at + 8..]);
        h.finalize().into()
    }

    /// The image as it is before signing: no certificate table, padded to its 8-byte boundary
    /// (the padding is hashed, so it is part of what is signed), CheckSum and Certificate Table
    /// entry zero. An unsigned input and its signed output have the same unsigned form.
    pub(crate) fn unsigned_form(&self) -> Vec<u8> {
        let mut out = self.image().to_vec();
        out.resize(align_up(out.len(), CERT_ALIGN), 0);
        out[self.checksum_at..self.checksum_at + 4].fill(0);
        out[self.cert_entry_at..self.cert_entry_at + 8].fill(0);
        out
    }

    /// `unsigned_form` with `certificate_table` appended, the directory entry pointing at it and
    /// the checksum recomputed. The image hash of the result is that of `unsigned_form`.
    pub(crate) fn with_certificate_table(&self, certificate_table: &[u8]) -> Vec<u8> {
        let mut out = self.unsigned_form();
        let at = out.len();
        out.extend_from_slice(certificate_table);
        // Sizes were bounded by the caller (a PE's offsets are 32-bit; see `fits_u32`).
        put32(&mut out, self.cert_entry_at, at as u32);
        put32(
            &mut out,
            self.cert_entry_at + 4,
            certificate_table.len() as u32,
        );
        let sum = checksum(&out, self.checksum_at);
        put32(&mut out, self.checksum_at, sum);
        out
    }

    /// Where the certificate table starts (0 when there is none).
    #[cfg(test)]
    pub(crate) fn cert_table_offset(&self) -> usize {
        self.cert_table.map_or(0, |(at, _)| at)
    }

    #[cfg(test)]
    pub(crate) fn checksum_offset(&self) -> usize {
        self.checksum_at
    }

    pub(crate) fn stored_checksum(&self) -> u32 {
        le32(self.bytes, self.checksum_at).unwrap_or(0)
    }

    pub(crate) fn computed_checksum(&self) -> u32 {
        checksum(self.bytes, self.checksum_at)
    }

    /// The file offset of the first byte of section data, if any section has data.
    pub(crate) fn first_section_byte(&self) -> Option<usize> {
        self.sections
            .iter()
            .find(|(_, len)| *len > 0)
            .map(|(at, _)| *at)
    }
}

/// Whether an image of `len` bytes can carry its offsets in the PE's 32-bit fields.
pub(crate) fn fits_u32(len: usize) -> bool {
    u32::try_from(len).is_ok()
}

/// The PE checksum (imagehlp's CheckSumMappedFile): the one's-complement-style 16-bit sum of the
/// file's little-endian words, with the CheckSum field counted as zero, plus the file length.
pub(crate) fn checksum(bytes: &[u8], checksum_at: usize) -> u32 {
    let mut sum: u32 = 0;
    for (i, pair) in bytes.chunks(2).enumerate() {
        let at = 2 * i;
        let word = if (checksum_at..checksum_at + 4).contains(&at) {
            0
        } else {
            u32::from(pair[0]) | pair.get(1).map_or(0, |b| u32::from(*b) << 8)
        };
        sum += word;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum.wrapping_add(bytes.len() as u32)
}

/// A certificate table holding one WIN_CERTIFICATE (revision 2.0, PKCS#7 SignedData) with
/// `pkcs7`, zero-padded to 8 bytes; dwLength counts the padding, as signtool writes it.
pub(crate) fn win_certificate(pkcs7: &[u8]) -> Vec<u8> {
    let len = align_up(WIN_CERT_HEADER_LEN + pkcs7.len(), CERT_ALIGN);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&WIN_CERT_REVISION_2_0.to_le_bytes());
    out.extend_from_slice(&WIN_CERT_TYPE_PKCS_SIGNED_DATA.to_le_bytes());
    out.extend_from_slice(pkcs7);
    out.resize(len, 0);
    out
}

/// The PKCS#7 bytes (with any trailing padding) of a certificate table's only entry.
pub(crate) fn parse_win_certificate(table: &[u8]) -> Result<&[u8], String> {
    let len = le32(table, 0)? as usize;
    if len != table.len() || len < WIN_CERT_HEADER_LEN {
        return Err("the certificate table does not hold exactly one WIN_CERTIFICATE".into());
    }
    let (revision, kind) = (le16(table, 4)?, le16(table, 6)?);
    if revision != WIN_CERT_REVISION_2_0 || kind != WIN_CERT_TYPE_PKCS_SIGNED_DATA {
        return Err(format!(
            "WIN_CERTIFICATE revision {revision:#06x} type {kind}, not 0x0200 PKCS_SIGNED_DATA"
        ));
    }
    Ok(&table[WIN_CERT_HEADER_LEN..])
}

/// The file offset of the first byte of section data of a well-formed PE, for tampering.
pub fn first_section_byte(pe: &[u8]) -> Option<usize> {
    Pe::parse(pe).ok()?.first_section_byte()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        build_minimal_pe(&[(".text", &[0x31, 0xc0, 0xc3]), (".rdata", b"hello")])
    }

    #[test]
    fn a_built_image_parses_and_its_checksum_is_right() {
        let pe = sample();
        let parsed = Pe::parse(&pe).expect("parse");
        assert_eq!(parsed.stored_checksum(), parsed.computed_checksum());
        assert!(parsed.certificate_table().is_none());
        assert_eq!(parsed.first_section_byte(), Some(0x200));
        assert_eq!(&pe[0x200..0x203], &[0x31, 0xc0, 0xc3]);
    }

    #[test]
    fn the_digest_ignores_checksum_entry_and_table_but_not_the_rest() {
        for pe in [
            sample(),
            build_minimal_pe32(&[(".text", &[0xc3]), (".data", b"32")]),
        ] {
            digest_round_trip(pe);
        }
    }

    fn digest_round_trip(pe: Vec<u8>) {
        let parsed = Pe::parse(&pe).expect("parse");
        let digest = parsed.image_digest();
        let signed = parsed.with_certificate_table(&[7u8; 16]);
        let reparsed = Pe::parse(&signed).expect("parse signed");
        assert_eq!(reparsed.image_digest(), digest);
        assert_eq!(reparsed.certificate_table(), Some(&[7u8; 16][..]));
        assert_eq!(reparsed.stored_checksum(), reparsed.computed_checksum());
        assert_eq!(reparsed.unsigned_form(), parsed.unsigned_form());
        let mut changed = pe.clone();
        changed[0x201] ^= 1;
        assert_ne!(Pe::parse(&changed).expect("parse").image_digest(), digest);
    }

    #[test]
    fn malformed_images_are_refused_without_panicking() {
        assert!(Pe::parse(b"not a PE").is_err());
        let pe = sample();
        let signed = Pe::parse(&pe)
            .expect("parse")
            .with_certificate_table(&[0u8; 8]);
        for image in [&pe, &signed] {
            for len in 0..image.len() {
                let _ = Pe::parse(&image[..len]);
            }
            for at in 0..0x200 {
                let mut changed = image.to_vec();
                changed[at] ^= 0xff;
                let _ = Pe::parse(&changed).map(|p| (p.image_digest(), p.unsigned_form()));
            }
        }
        // A table that does not end the file is refused.
        let mut trailing = signed.clone();
        trailing.push(0);
        assert!(Pe::parse(&trailing).is_err());
    }
}
