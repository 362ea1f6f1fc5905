//! The result store: signed outputs by (format, key id, input sha256), so that the same input
//! is signed once and later requests for it are answered from here. Bounded by age and by total
//! size; the oldest results go first.
//!
//! Layout: `<dir>/<format>/<key id>/<input sha256>`, written to `<dir>/tmp/` and renamed into
//! place, so a reader never sees half a file. The index is rebuilt from the folder at start, so
//! results survive a restart; the key id in the path keeps a changed key from serving what an
//! old one signed. Methods block on the file system: call them from blocking tasks.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::formats::Format;

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
    pub key_id: String,
    /// Lowercase hex.
    pub input_sha256: String,
}

impl ResultKey {
    fn relative(&self) -> PathBuf {
        Path::new(self.format.as_str())
            .join(&self.key_id)
            .join(&self.input_sha256)
    }
}

#[derive(Debug, Clone, Copy)]
struct Stored {
    at: SystemTime,
    size: u64,
}

#[derive(Debug, Default)]
struct Index {
    entries: HashMap<ResultKey, Stored>,
    total: u64,
}

#[derive(Debug)]
pub struct ResultStore {
    dir: PathBuf,
    tmp: PathBuf,
    max_age: Duration,
    max_bytes: u64,
    index: Mutex<Index>,
}

impl ResultStore {
    /// Opens (creating) the store at `dir` and indexes what an earlier run left, dropping
    /// anything too old or unreadable and half-written files.
    pub fn open(dir: &Path, max_age: Duration, max_bytes: u64) -> Result<Self, ResultStoreError> {
        let tmp = dir.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        let store = Self {
            dir: dir.to_path_buf(),
            tmp,
            max_age,
            max_bytes,
            index: Mutex::new(Index::default()),
        };
        let mut index = Index::default();
        for format in Format::ALL {
            let fdir = dir.join(format.as_str());
            let Ok(key_dirs) = std::fs::read_dir(&fdir) else {
                continue;
            };
            for key_dir in key_dirs.flatten() {
                let key_id = key_dir.file_name().to_string_lossy().into_owned();
                let Ok(files) = std::fs::read_dir(key_dir.path()) else {
                    continue;
                };
                for file in files.flatten() {
                    let Ok(meta) = file.metadata() else { continue };
                    let key = ResultKey {
                        format,
                        key_id: key_id.clone(),
                        input_sha256: file.file_name().to_string_lossy().into_owned(),
                    };
                    let at = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    index.total += meta.len();
                    index.entries.insert(
                        key,
                        Stored {
                            at,
                            size: meta.len(),
                        },
                    );
                }
            }
        }
        {
            let mut guard = store.lock();
            *guard = index;
            store.evict(&mut guard, None);
        }
        Ok(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        // A panic while holding the lock leaves a consistent map (every update is one insert or
        // remove), so the poison is ignored.
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The folder for upload temp files (same file system, so renames are atomic).
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    fn expired(&self, stored: &Stored, now: SystemTime) -> bool {
        now.duration_since(stored.at).unwrap_or_default() > self.max_age
    }

    pub fn contains(&self, key: &ResultKey) -> bool {
        let now = SystemTime::now();
        self.lock()
            .entries
            .get(key)
            .is_some_and(|s| !self.expired(s, now))
    }

    /// The stored output, if present and not too old.
    pub fn get(&self, key: &ResultKey) -> Result<Option<Vec<u8>>, ResultStoreError> {
        if !self.contains(key) {
            return Ok(None);
        }
        let path = self.dir.join(key.relative());
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.forget(key);
                Ok(None)
            }
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    fn forget(&self, key: &ResultKey) {
        let mut index = self.lock();
        if let Some(s) = index.entries.remove(key) {
            index.total -= s.size;
        }
    }

    /// Stores `output` for `key`, then evicts expired results and the oldest others until the
    /// total fits `max_bytes` (never the one just stored, which its waiting callers will fetch).
    pub fn put(&self, key: &ResultKey, output: &[u8]) -> Result<(), ResultStoreError> {
        let path = self.dir.join(key.relative());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut tmp = tempfile::NamedTempFile::new_in(&self.tmp).map_err(io_err(&self.tmp))?;
        tmp.write_all(output).map_err(io_err(&self.tmp))?;
        tmp.as_file().sync_data().map_err(io_err(&self.tmp))?;
        tmp.persist(&path).map_err(|e| io_err(&path)(e.error))?;
        let mut index = self.lock();
        let stored = Stored {
            at: SystemTime::now(),
            size: output.len() as u64,
        };
        if let Some(old) = index.entries.insert(key.clone(), stored) {
            index.total -= old.size;
        }
        index.total += stored.size;
        self.evict(&mut index, Some(key));
        Ok(())
    }

    fn evict(&self, index: &mut Index, keep: Option<&ResultKey>) {
        let now = SystemTime::now();
        let mut by_age: Vec<(ResultKey, Stored)> = index
            .entries
            .iter()
            .filter(|(k, _)| Some(*k) != keep)
            .map(|(k, s)| (k.clone(), *s))
            .collect();
        by_age.sort_by_key(|(_, s)| s.at);
        for (key, stored) in by_age {
            if !self.expired(&stored, now) && index.total <= self.max_bytes {
                break;
            }
            index.entries.remove(&key);
            index.total -= stored.size;
            let path = self.dir.join(key.relative());
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "cannot evict a result");
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

    /// Their total size in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.lock().total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> ResultKey {
        ResultKey {
            format: Format::Gpg,
            key_id: "k".into(),
            input_sha256: format!("{n:064x}"),
        }
    }

    #[test]
    fn results_are_kept_across_a_reopen_and_bounded_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path(), Duration::from_secs(3600), 25).unwrap();
        store.put(&key(1), &[1; 10]).unwrap();
        std::thread::sleep(Duration::from_millis(20)); // distinct mtimes order the eviction
        store.put(&key(2), &[2; 10]).unwrap();
        assert_eq!(store.get(&key(1)).unwrap(), Some(vec![1; 10]));
        std::thread::sleep(Duration::from_millis(20));
        store.put(&key(3), &[3; 10]).unwrap();
        // 30 bytes > 25: the oldest goes.
        assert_eq!(store.get(&key(1)).unwrap(), None);
        assert_eq!(store.len(), 2);
        assert_eq!(store.total_bytes(), 20);
        drop(store);

        let store = ResultStore::open(dir.path(), Duration::from_secs(3600), 25).unwrap();
        assert_eq!(store.get(&key(3)).unwrap(), Some(vec![3; 10]));
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn old_results_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path(), Duration::from_millis(30), 1000).unwrap();
        store.put(&key(1), b"x").unwrap();
        assert!(store.contains(&key(1)));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(store.get(&key(1)).unwrap(), None);
        store.put(&key(2), b"y").unwrap();
        assert_eq!(store.len(), 1);
        assert!(!dir.path().join(key(1).relative()).exists());
    }
}
