//! A task's log: one file that the task's output and the worker's own prefixed lines go to, which
//! readers can follow over HTTP while it grows (what generic-worker's livelog does), and which is
//! uploaded as `live_backing.log` when the task ends.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::watch;

/// How far the log has been written, and whether it is finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    len: u64,
    closed: bool,
}

/// Writes are plain `std::fs` calls under a lock: appending a few bytes to the page cache takes
/// microseconds, far less than a hop to tokio's blocking pool for every line.
pub struct LiveLog {
    path: PathBuf,
    file: Mutex<std::fs::File>,
    progress: watch::Sender<Progress>,
}

impl LiveLog {
    pub fn create(path: &Path) -> std::io::Result<Arc<LiveLog>> {
        let file = std::fs::File::create(path)?;
        Ok(Arc::new(LiveLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            progress: watch::channel(Progress {
                len: 0,
                closed: false,
            })
            .0,
        }))
    }

    /// Appends bytes of the task's output.
    pub fn write(&self, bytes: &[u8]) {
        use std::io::Write;
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(bytes) {
            tracing::warn!(path = %self.path.display(), error = %e, "writing the task log failed");
            return;
        }
        let written = bytes.len() as u64;
        self.progress.send_modify(|p| p.len += written);
    }

    /// A line from the worker itself, prefixed so that readers can tell it from the task's output.
    pub fn worker_line(&self, message: &str) {
        let ts = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
        let mut text = String::new();
        for line in message.lines() {
            text.push_str(&format!("[relyard-worker {ts}] {line}\n"));
        }
        self.write(text.as_bytes());
    }

    /// No more bytes will come: followers finish once they have read everything.
    pub fn close(&self) {
        self.progress.send_modify(|p| p.closed = true);
    }

    /// The whole log from its first byte, following new bytes until the log is closed.
    pub fn follow(self: &Arc<Self>) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        struct State {
            log: Arc<LiveLog>,
            file: Option<tokio::fs::File>,
            offset: u64,
            progress: watch::Receiver<Progress>,
        }
        let state = State {
            log: Arc::clone(self),
            file: None,
            offset: 0,
            progress: self.progress.subscribe(),
        };
        futures::stream::try_unfold(state, |mut st| async move {
            loop {
                let now = *st.progress.borrow_and_update();
                if st.offset < now.len {
                    if st.file.is_none() {
                        st.file = Some(tokio::fs::File::open(&st.log.path).await?);
                    }
                    let Some(file) = st.file.as_mut() else {
                        return Ok(None);
                    };
                    file.seek(std::io::SeekFrom::Start(st.offset)).await?;
                    let want = (now.len - st.offset).min(64 * 1024) as usize;
                    let mut buf = vec![0u8; want];
                    let n = file.read(&mut buf).await?;
                    if n == 0 {
                        return Ok(None);
                    }
                    buf.truncate(n);
                    st.offset += n as u64;
                    return Ok(Some((Bytes::from(buf), st)));
                }
                if now.closed {
                    return Ok(None);
                }
                if st.progress.changed().await.is_err() {
                    return Ok(None);
                }
            }
        })
    }
}

/// The logs being served, by the unguessable token in their URL.
#[derive(Default)]
pub struct LogRegistry {
    logs: Mutex<HashMap<String, Arc<LiveLog>>>,
}

impl LogRegistry {
    pub fn insert(&self, token: String, log: Arc<LiveLog>) {
        if let Ok(mut logs) = self.logs.lock() {
            logs.insert(token, log);
        }
    }

    pub fn remove(&self, token: &str) {
        if let Ok(mut logs) = self.logs.lock() {
            logs.remove(token);
        }
    }

    pub fn get(&self, token: &str) -> Option<Arc<LiveLog>> {
        self.logs.lock().ok()?.get(token).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn a_follower_sees_bytes_written_after_it_started_and_ends_at_close() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = LiveLog::create(&dir.path().join("log")).expect("log");
        log.write(b"first\n");
        let mut follower = Box::pin(log.follow());
        let chunk = follower.next().await.expect("a chunk").expect("read");
        assert_eq!(&chunk[..], b"first\n");
        log.worker_line("second");
        let chunk = follower.next().await.expect("a chunk").expect("read");
        let text = String::from_utf8_lossy(&chunk);
        assert!(text.starts_with("[relyard-worker "), "{text}");
        assert!(text.ends_with("] second\n"), "{text}");
        log.close();
        assert!(follower.next().await.is_none());
    }
}
