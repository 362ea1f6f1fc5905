//! The task's environment and directory.

use std::collections::BTreeMap;
use std::path::Path;

use super::TaskRun;
use crate::payload::Payload;

impl TaskRun {
    /// The task's environment, built from nothing so that no credential of the worker's leaks in.
    pub(super) fn task_env(
        &self,
        payload: &Payload,
        proxy_url: Option<String>,
    ) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for key in [
            "PATH", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "SHELL", "TERM",
        ] {
            if let Ok(v) = std::env::var(key) {
                env.insert(key.to_string(), v);
            }
        }
        env.entry("PATH".into())
            .or_insert_with(|| "/usr/local/bin:/usr/bin:/bin".into());
        let dir = self.dir.to_string_lossy().to_string();
        env.insert("HOME".into(), dir.clone());
        env.insert("TASK_WORKDIR".into(), dir);
        env.insert("TASK_ID".into(), self.task_id.clone());
        env.insert("RUN_ID".into(), self.run_id.to_string());
        if let Some(g) = self.task.get("taskGroupId").and_then(|v| v.as_str()) {
            env.insert("TASK_GROUP_ID".into(), g.to_string());
        }
        env.insert(
            "TASKCLUSTER_ROOT_URL".into(),
            self.shared.config.root_url.clone(),
        );
        env.insert(
            "TASKCLUSTER_WORKER_GROUP".into(),
            self.shared.config.worker_group.clone(),
        );
        env.insert(
            "TASKCLUSTER_WORKER_ID".into(),
            self.shared.config.worker_id.clone(),
        );
        for (k, v) in &payload.env {
            env.insert(k.clone(), v.clone());
        }
        if let Some(url) = proxy_url {
            env.insert("TASKCLUSTER_PROXY_URL".into(), url);
        }
        env
    }
}

/// Removes a task directory even where the task (or a read-only mount) took write bits away.
pub(super) async fn remove_dir_forcibly(dir: &Path) {
    if tokio::fs::remove_dir_all(dir).await.is_ok() {
        return;
    }
    let d = dir.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || {
        restore_write(&d);
        std::fs::remove_dir_all(&d)
    })
    .await;
}

fn restore_write(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.file_type().is_symlink() {
        return;
    }
    let _ = std::fs::set_permissions(
        path,
        std::fs::Permissions::from_mode(meta.permissions().mode() | 0o700),
    );
    if meta.is_dir() {
        if let Ok(entries) = std::fs::read_dir(path) {
            for e in entries.flatten() {
                restore_write(&e.path());
            }
        }
    }
}
