//! Signing tasks: a worker with signing servers configured runs tasks whose payload is
//! `{signing: {format, upstreamArtifacts}}` instead of commands. It downloads the named artifacts
//! of the task's dependencies, refuses any whose bytes do not hash to what the queue recorded at
//! upload (the chain of trust), has them signed by the signing servers (with the failover client
//! of `relyard sign`, under the worker's own credentials, which hold `signing:token:<format>`
//! and `queue:list-artifacts:*` for the recorded hashes),
//! and uploads what comes back as the task's artifacts under the inputs' names: `<name>.asc`,
//! `<name>.minisig`, `SHA256SUMS` + `SHA256SUMS.asc` beside the first input, or the signed file
//! itself for embedded formats (MAR, Authenticode). Build workers hold no such credentials, so
//! only tasks routed to a signing worker's queue can be signed.

pub mod payload;
pub mod upstream;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use relyard_signing::client::{sign_files, ClientError, SignRequest};
use relyard_signing::formats::Format;

use crate::livelog::LiveLog;
use crate::queue_api::RunApi;
use crate::run::Resolution;
use payload::SigningPayload;
use upstream::{fetch_verified, UpstreamError};

/// Where a signing worker sends its signing requests, and as whom.
#[derive(Clone, Debug)]
pub struct SigningSettings {
    pub servers: Vec<String>,
    pub credentials: taskcluster::Credentials,
}

/// One signing task's run, from inputs to uploaded outputs; the caller handles claims, cancel
/// and the time limit.
pub struct SigningRun<'a> {
    pub run: &'a RunApi,
    pub http: &'a reqwest::Client,
    /// The run's fresh directory.
    pub dir: &'a Path,
    pub settings: &'a SigningSettings,
    pub expires: &'a str,
    pub log: &'a Arc<LiveLog>,
}

impl SigningRun<'_> {
    pub async fn run(&self, payload: &SigningPayload) -> Resolution {
        let log = self.log;
        let Ok(format) = Format::from_str(&payload.format) else {
            log.worker_line(&format!(
                "malformed-payload: payload.signing.format `{}` is not one of {}",
                payload.format,
                Format::ALL.map(|f| f.as_str()).join(", ")
            ));
            return Resolution::Exception("malformed-payload");
        };
        let inputs = match self.fetch_inputs(payload).await {
            Ok(i) => i,
            Err(e) => {
                log.worker_line(&e.to_string());
                return if e.is_task_fault() {
                    Resolution::Failed
                } else {
                    Resolution::Exception("internal-error")
                };
            }
        };
        let mut request = SignRequest::new(
            self.settings.servers.clone(),
            format,
            inputs.clone(),
            self.settings.credentials.clone(),
        );
        // Embedded formats replace the input in place: the task directory is the run's own.
        request.output_dir = None;
        let on_signed = {
            let (log, dir) = (Arc::clone(log), self.dir.to_path_buf());
            move |path: &Path| log.worker_line(&format!("Signed {}", artifact_name(&dir, path)))
        };
        let outputs = match sign_files(&request, &on_signed).await {
            Ok(o) => o,
            Err(e) => {
                log.worker_line(&format!("signing failed: {e}"));
                // The server refused the input itself (too large, a name it does not sign):
                // the task's fault. Anything else is ours, after the client's retries.
                return if matches!(
                    e,
                    ClientError::Status {
                        status: 400 | 413,
                        ..
                    }
                ) {
                    Resolution::Failed
                } else {
                    Resolution::Exception("internal-error")
                };
            }
        };
        self.upload(&outputs).await
    }

    async fn fetch_inputs(&self, payload: &SigningPayload) -> Result<Vec<PathBuf>, UpstreamError> {
        let mut inputs = Vec::new();
        for up in &payload.upstream {
            for name in &up.paths {
                let got = fetch_verified(self.run, self.http, self.dir, &up.task_id, name).await?;
                self.log.worker_line(&format!(
                    "Chain of trust: {name} of task {} has the SHA-256 the queue recorded ({})",
                    up.task_id, got.sha256
                ));
                inputs.push(got.path);
            }
        }
        Ok(inputs)
    }

    async fn upload(&self, outputs: &[PathBuf]) -> Resolution {
        for path in outputs {
            let name = artifact_name(self.dir, path);
            let content_type = crate::artifacts::content_type_of(None, path);
            if let Err(e) = crate::artifacts::upload_file(
                self.run,
                self.http,
                &name,
                path,
                &content_type,
                self.expires,
            )
            .await
            {
                self.log.worker_line(&format!("uploading {name}: {e}"));
                return if e.is_conflict() {
                    Resolution::Lost
                } else {
                    Resolution::Exception("internal-error")
                };
            }
            self.log.worker_line(&format!("Uploaded {name}"));
        }
        Resolution::Completed
    }
}

/// The artifact name of a file in the run's directory.
fn artifact_name(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}
