//! One record of a result segment: `RYS1`, the header's length (u32, little-endian), the
//! header as JSON (which result, its output's sha256 and length, when it was stored), then the
//! output. The header's length prefix and the output's declared length let a reader skip from
//! record to record without reading the outputs.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::ResultKey;
use crate::formats::Format;
use crate::Sha256Digest;

const MAGIC: &[u8; 4] = b"RYS1";
/// Headers are a few hundred bytes; anything larger is damage, not a header.
const HEADER_MAX: u32 = 4096;

/// What a record says about its output.
#[derive(Debug, Clone)]
pub struct Header {
    pub key: ResultKey,
    pub output_sha256: Sha256Digest,
    pub len: u64,
    time_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderJson {
    format: Format,
    key_id: String,
    input_sha256: Sha256Digest,
    output_sha256: Sha256Digest,
    len: u64,
    time_ms: u64,
}

/// [`HeaderJson`] borrowing the key's strings, for writing (one per signature).
#[derive(Serialize)]
struct HeaderJsonOut<'a> {
    format: Format,
    key_id: &'a str,
    input_sha256: Sha256Digest,
    output_sha256: Sha256Digest,
    len: u64,
    time_ms: u64,
}

impl Header {
    pub fn new(key: ResultKey, len: u64, output_sha256: Sha256Digest, at: SystemTime) -> Self {
        let time_ms = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        Self {
            key,
            output_sha256,
            len,
            time_ms,
        }
    }

    pub fn time(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(self.time_ms)
    }

    fn to_json(&self) -> Vec<u8> {
        let json = HeaderJsonOut {
            format: self.key.format,
            key_id: &self.key.key_id,
            input_sha256: self.key.input_sha256,
            output_sha256: self.output_sha256,
            len: self.len,
            time_ms: self.time_ms,
        };
        // Only strings and numbers: serializing cannot fail.
        serde_json::to_vec(&json).unwrap_or_default()
    }

    fn from_json(bytes: &[u8]) -> Option<Self> {
        let json: HeaderJson = serde_json::from_slice(bytes).ok()?;
        Some(Self {
            key: ResultKey {
                format: json.format,
                key_id: json.key_id.into(),
                input_sha256: json.input_sha256,
            },
            output_sha256: json.output_sha256,
            len: json.len,
            time_ms: json.time_ms,
        })
    }
}

/// Appends the record of `output` to `buffer`; returns where in `buffer` the output starts.
pub fn encode(header: &Header, output: &[u8], buffer: &mut Vec<u8>) -> u64 {
    let json = header.to_json();
    buffer.extend_from_slice(MAGIC);
    buffer.extend_from_slice(&(json.len() as u32).to_le_bytes());
    buffer.extend_from_slice(&json);
    let data_at = buffer.len() as u64;
    buffer.extend_from_slice(output);
    data_at
}

/// A record found by [`scan`]: its header and where its output starts in the file.
pub struct Record {
    pub header: Header,
    pub offset: u64,
}

/// The records of a segment up to the first that is not whole (a crash may cut the last one
/// short, or leave zeros where the page cache never reached the disk), and the file's length.
pub fn scan(file: &File) -> std::io::Result<(Vec<Record>, u64)> {
    let size = file.metadata()?.len();
    let mut records = Vec::new();
    let mut at = 0u64;
    while at + 8 <= size {
        let mut prefix = [0u8; 8];
        file.read_exact_at(&mut prefix, at)?;
        let header_len = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
        if &prefix[..4] != MAGIC || header_len > HEADER_MAX {
            break;
        }
        let offset = at + 8 + u64::from(header_len);
        if offset > size {
            break;
        }
        let mut json = vec![0u8; header_len as usize];
        file.read_exact_at(&mut json, at + 8)?;
        let Some(header) = Header::from_json(&json) else {
            break;
        };
        let Some(end) = offset.checked_add(header.len).filter(|end| *end <= size) else {
            break;
        };
        records.push(Record { header, offset });
        at = end;
    }
    Ok((records, size))
}

/// The `len` bytes of an output at `offset` (`UnexpectedEof` if the file is shorter).
pub fn read_output(file: &File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(std::io::Error::other)?;
    let mut bytes = vec![0u8; len];
    file.read_exact_at(&mut bytes, offset)?;
    Ok(bytes)
}
