//! The result store: signed outputs by (format, key id, input sha256), so that the same input
//! is signed once and later requests for it are answered from here. Bounded by age and by total
//! size; the oldest results go first.
//!
//! Layout: append-only segment files `<dir>/segments/<seq>.seg`, each a run of records
//! (`record.rs`): a header naming the result and its output's sha256, then the output. Results
//! are appended without fsync — a file per result and an fsync each cost more than an Ed25519
//! signature many times over — so every read checks the output against the sha256 in its
//! header: a torn or lost record (a crash before the page cache reached the disk) is forgotten
//! and its input signed again, never served. What a signature must survive, the audit line, is
//! fsync'd by the audit log before the result is handed out.
//!
//! Eviction drops whole segments, oldest first, once their newest record is older than
//! `max_age` or the total passes `max_bytes`; a segment is closed when it reaches an eighth of
//! `max_bytes` (at most 64 MiB), so eviction is never coarser than that. The index is rebuilt
//! from the segments at start, so results survive a restart; the key id in each record keeps a
//! changed key from serving what an old one signed. Methods block on the file system: call them
//! from blocking tasks.

mod record;

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::formats::Format;
use crate::Sha256Digest;
use record::{Header, Record};

#[derive(Debug, thiserror::Error)]
#[error("result store {path}: {source}")]
pub struct ResultStoreError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ResultStoreError + '_ {
    move |source| ResultStoreError {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResultKey {
    pub format: Format,
    /// Shared: every result of a key names it, and the index holds each key twice.
    pub key_id: Arc<str>,
    pub input_sha256: Sha256Digest,
}

/// The index's maps: keys are sha256s (of inputs, which a caller can only choose by finding
/// preimages), so a fast hasher is safe here.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The largest segment; smaller when `max_bytes` is small, so eviction stays fine-grained.
const SEGMENT_MAX: u64 = 64 << 20;

/// Where one output is.
#[derive(Debug, Clone, Copy)]
struct Location {
    segment: u64,
    offset: u64,
    len: u64,
    sha256: Sha256Digest,
    at: SystemTime,
}

#[derive(Debug)]
struct Segment {
    file: Arc<File>,
    size: u64,
    newest: SystemTime,
    /// The results recorded here (some may have been re-recorded in a later segment since).
    keys: Vec<ResultKey>,
}

#[derive(Debug, Default)]
struct Index {
    entries: FastMap<ResultKey, Location>,
    /// By sequence number: the first is the oldest, the last the one appended to.
    segments: BTreeMap<u64, Segment>,
    total: u64,
    /// The segment appended to, if any (none at start: a new one is made at the first put).
    active: Option<u64>,
    next_seq: u64,
}

#[derive(Debug)]
pub struct ResultStore {
    segments_dir: PathBuf,
    tmp: PathBuf,
    max_age: Duration,
    max_bytes: u64,
    segment_max: u64,
    index: Mutex<Index>,
}

impl ResultStore {
    /// Opens (creating) the store at `dir` and indexes what an earlier run left, dropping
    /// anything too old; a record cut short by a crash ends its segment's index.
    pub fn open(dir: &Path, max_age: Duration, max_bytes: u64) -> Result<Self, ResultStoreError> {
        let tmp = dir.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        let segments_dir = dir.join("segments");
        std::fs::create_dir_all(&segments_dir).map_err(io_err(&segments_dir))?;
        let store = Self {
            segments_dir,
            tmp,
            max_age,
            max_bytes,
            segment_max: (max_bytes / 8).clamp(1, SEGMENT_MAX),
            index: Mutex::new(Index::default()),
        };
        let mut index = Index::default();
        for (seq, path) in store.existing_segments()? {
            let file = File::open(&path).map_err(io_err(&path))?;
            let (records, size) = record::scan(&file).map_err(io_err(&path))?;
            let mut segment = Segment {
                file: Arc::new(file),
                size,
                newest: SystemTime::UNIX_EPOCH,
                keys: Vec::with_capacity(records.len()),
            };
            for Record { header, offset } in records {
                let at = header.time();
                segment.newest = segment.newest.max(at);
                let location = Location {
                    segment: seq,
                    offset,
                    len: header.len,
                    sha256: header.output_sha256,
                    at,
                };
                let key = header.key;
                segment.keys.push(key.clone());
                // Later segments and later records in one segment are newer.
                index.entries.insert(key, location);
            }
            index.total += size;
            index.segments.insert(seq, segment);
            index.next_seq = seq + 1;
        }
        {
            let mut guard = store.lock();
            *guard = index;
            store.evict(&mut guard);
        }
        Ok(store)
    }

    /// The segment files in the folder, oldest first; anything else there is left alone.
    fn existing_segments(&self) -> Result<Vec<(u64, PathBuf)>, ResultStoreError> {
        let dir = &self.segments_dir;
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            let name = entry.file_name();
            let seq = name
                .to_str()
                .and_then(|n| n.strip_suffix(".seg"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(seq) = seq {
                found.push((seq, entry.path()));
            }
        }
        found.sort();
        Ok(found)
    }

    fn segment_path(&self, seq: u64) -> PathBuf {
        self.segments_dir.join(format!("{seq:012}.seg"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        // A panic while holding the lock leaves a consistent index (a record is indexed only
        // after it was written whole), so the poison is ignored.
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The folder for upload temp files.
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    fn expired(&self, at: SystemTime, now: SystemTime) -> bool {
        now.duration_since(at).unwrap_or_default() > self.max_age
    }

    pub fn contains(&self, key: &ResultKey) -> bool {
        let now = SystemTime::now();
        self.lock()
            .entries
            .get(key)
            .is_some_and(|l| !self.expired(l.at, now))
    }

    /// The stored output, if present, not too old and whole (its sha256 is the recorded one);
    /// a damaged record is forgotten, so the input is signed again.
    pub fn get(&self, key: &ResultKey) -> Result<Option<Vec<u8>>, ResultStoreError> {
        let (location, file) = {
            let index = self.lock();
            let Some(location) = index.entries.get(key).copied() else {
                return Ok(None);
            };
            if self.expired(location.at, SystemTime::now()) {
                return Ok(None);
            }
            let Some(segment) = index.segments.get(&location.segment) else {
                return Ok(None);
            };
            (location, Arc::clone(&segment.file))
        };
        let path = self.segment_path(location.segment);
        let bytes = match record::read_output(&file, location.offset, location.len) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => None,
            Err(e) => return Err(io_err(&path)(e)),
        };
        match bytes {
            Some(bytes) if Sha256Digest::of(&bytes) == location.sha256 => Ok(Some(bytes)),
            _ => {
                tracing::warn!(segment = %path.display(), input = %key.input_sha256,
                    "a stored result does not match its sha256; it will be signed again");
                let mut index = self.lock();
                if index
                    .entries
                    .get(key)
                    .is_some_and(|l| l.segment == location.segment && l.offset == location.offset)
                {
                    index.entries.remove(key);
                }
                Ok(None)
            }
        }
    }

    /// Stores one output; see [`ResultStore::put_many`].
    pub fn put(&self, key: &ResultKey, output: &[u8]) -> Result<(), ResultStoreError> {
        self.put_many(&[(key, output, Sha256Digest::of(output))])
    }

    /// Appends `outputs` (each with its sha256, which the signer already took) to the current
    /// segment in one write (no fsync: reads check the hash), then evicts expired segments and
    /// the oldest others until the total fits `max_bytes` (never the segment just written,
    /// which its waiting callers will read).
    pub fn put_many(
        &self,
        outputs: &[(&ResultKey, &[u8], Sha256Digest)],
    ) -> Result<(), ResultStoreError> {
        if outputs.is_empty() {
            return Ok(());
        }
        let now = SystemTime::now();
        let mut buffer = Vec::new();
        let mut placed = Vec::with_capacity(outputs.len());
        for (key, output, sha256) in outputs {
            let header = Header::new((*key).clone(), output.len() as u64, *sha256, now);
            let data_at = record::encode(&header, output, &mut buffer);
            placed.push((data_at, header));
        }
        let mut index = self.lock();
        let seq = self.active_segment(&mut index)?;
        let path = self.segment_path(seq);
        let Some(segment) = index.segments.get_mut(&seq) else {
            return Err(io_err(&path)(std::io::Error::other("segment vanished")));
        };
        let base = segment.size;
        (&*segment.file).write_all(&buffer).map_err(io_err(&path))?;
        segment.size += buffer.len() as u64;
        segment.newest = now;
        let full = segment.size >= self.segment_max;
        let mut located = Vec::with_capacity(placed.len());
        for (data_at, header) in placed {
            segment.keys.push(header.key.clone());
            located.push((
                header.key,
                Location {
                    segment: seq,
                    offset: base + data_at,
                    len: header.len,
                    sha256: header.output_sha256,
                    at: now,
                },
            ));
        }
        index.entries.extend(located);
        index.total += buffer.len() as u64;
        self.evict(&mut index);
        if full {
            // The next put opens a new segment; this one can now be evicted as a whole.
            index.active = None;
        }
        Ok(())
    }

    /// The segment to append to, made when there is none.
    fn active_segment(&self, index: &mut Index) -> Result<u64, ResultStoreError> {
        if let Some(seq) = index.active {
            return Ok(seq);
        }
        let seq = index.next_seq;
        let path = self.segment_path(seq);
        let mut options = OpenOptions::new();
        options.create_new(true).append(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(io_err(&path))?;
        index.segments.insert(
            seq,
            Segment {
                file: Arc::new(file),
                size: 0,
                newest: SystemTime::now(),
                keys: Vec::new(),
            },
        );
        index.active = Some(seq);
        index.next_seq = seq + 1;
        Ok(seq)
    }

    /// Drops the oldest segments (never the active one) while they are expired or the total
    /// is over `max_bytes`.
    fn evict(&self, index: &mut Index) {
        let now = SystemTime::now();
        while let Some((&seq, oldest)) = index.segments.first_key_value() {
            if Some(seq) == index.active
                || (!self.expired(oldest.newest, now) && index.total <= self.max_bytes)
            {
                break;
            }
            let Some(segment) = index.segments.remove(&seq) else {
                break;
            };
            index.total -= segment.size;
            for key in &segment.keys {
                if index.entries.get(key).is_some_and(|l| l.segment == seq) {
                    index.entries.remove(key);
                }
            }
            let path = self.segment_path(seq);
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "cannot evict results");
                }
            }
        }
    }

    /// How many results are held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The size of the segments in bytes (outputs and their headers).
    pub fn total_bytes(&self) -> u64 {
        self.lock().total
    }
}

#[cfg(test)]
mod tests;
