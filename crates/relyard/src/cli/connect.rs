//! How CLI verbs reach a relyard server: `TASKCLUSTER_ROOT_URL` / `TASKCLUSTER_CLIENT_ID` /
//! `TASKCLUSTER_ACCESS_TOKEN` (`TASKCLUSTER_CERTIFICATE` for temporary credentials), as the
//! official clients read them, else `.relyard/credentials.json` written by `relyard up`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::Deserialize;
use taskcluster::{ClientBuilder, Credentials};

#[derive(Args, Clone)]
pub struct ConnectArgs {
    /// Root URL of the server (default: $TASKCLUSTER_ROOT_URL, else .relyard/credentials.json).
    #[arg(long, global = true)]
    pub root_url: Option<String>,
    /// Credentials file written by `relyard up`.
    #[arg(long, global = true, default_value = ".relyard/credentials.json")]
    pub credentials_file: PathBuf,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialsFile {
    root_url: String,
    client_id: String,
    access_token: String,
}

impl ConnectArgs {
    /// The root URL and credentials to use.
    pub fn resolve(&self) -> anyhow::Result<(String, Option<Credentials>)> {
        let env_url = std::env::var("TASKCLUSTER_ROOT_URL")
            .ok()
            .filter(|s| !s.is_empty());
        let env_creds = Credentials::from_env().ok();
        if env_creds.is_some() || env_url.is_some() || !self.credentials_file.exists() {
            let url = self.root_url.clone().or(env_url).context(
                "no server: set TASKCLUSTER_ROOT_URL or pass --root-url (or run `relyard up` here)",
            )?;
            return Ok((url, env_creds));
        }
        let raw = std::fs::read(&self.credentials_file)
            .with_context(|| format!("reading {}", self.credentials_file.display()))?;
        let file: CredentialsFile = serde_json::from_slice(&raw).with_context(|| {
            format!(
                "{} is not a relyard credentials file",
                self.credentials_file.display()
            )
        })?;
        let url = self.root_url.clone().unwrap_or(file.root_url);
        Ok((
            url,
            Some(Credentials::new(file.client_id, file.access_token)),
        ))
    }

    pub fn client(&self) -> anyhow::Result<ClientBuilder> {
        let (url, creds) = self.resolve()?;
        let builder = ClientBuilder::new(url);
        Ok(match creds {
            Some(c) => builder.credentials(c),
            None => builder,
        })
    }
}

/// Prints a JSON answer for people and scripts alike.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `1 day`, `2h`, `30m` from now, as Taskcluster's date-time string.
pub fn from_now(spec: &str) -> anyhow::Result<String> {
    let d = humantime::parse_duration(&spec.replace(' ', ""))
        .with_context(|| format!("{spec:?} is not a duration like `1 day` or `2h`"))?;
    let t = relyard_core::Timestamp::now().plus_ms(d.as_millis().min(i64::MAX as u128) as i64);
    Ok(t.to_string())
}
