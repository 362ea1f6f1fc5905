//! A run's log as artifacts: `live.log` as a reference to the worker's live log while the task
//! runs, then the uploaded `live_backing.log` and `live.log` as a link to it (generic-worker's way).

use serde_json::json;

use super::TaskRun;
use crate::payload::{self, Payload};

impl TaskRun {
    /// `public/logs/live.log` as a reference to this worker's live log URL while the task runs.
    pub(super) async fn publish_live_log(&self, token: &str, payload: Option<&Payload>) {
        let max_run = payload.map_or(0, |p| p.max_run_time);
        let until = chrono::Utc::now() + chrono::Duration::seconds(max_run as i64 + 15 * 60);
        let expires = match chrono::DateTime::parse_from_rfc3339(&self.task_expires()) {
            Ok(t) if t < until => t.with_timezone(&chrono::Utc),
            _ => until,
        };
        let name = payload.map_or("public/logs/live.log".to_string(), |p| p.logs.live.clone());
        let url = format!("{}/log/{token}", self.shared.livelog_base);
        let body = json!({
            "storageType": "reference",
            "url": url,
            "contentType": "text/plain; charset=utf-8",
            "expires": expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        if let Err(e) = self.run.create_artifact(&name, &body).await {
            tracing::warn!(error = %e, task_id = %self.task_id, "creating the live log artifact failed");
        }
    }

    /// Uploads the finished log and turns `live.log` into a link to it, as generic-worker does.
    pub(super) async fn publish_backing_log(
        &self,
        logs: &payload::Logs,
        live: bool,
    ) -> Result<(), crate::artifacts::ArtifactError> {
        let expires = self.task_expires();
        crate::artifacts::upload_file(
            &self.run,
            &self.shared.http,
            &logs.backing,
            &self.log_path,
            "text/plain; charset=utf-8",
            &expires,
        )
        .await?;
        if live {
            self.run
                .create_artifact(
                    &logs.live,
                    &json!({"storageType": "link", "artifact": logs.backing, "expires": expires, "contentType": "text/plain; charset=utf-8"}),
                )
                .await?;
        }
        Ok(())
    }
}
