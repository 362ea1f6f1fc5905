//! `relyard signin`: temporary credentials for a set of scopes, printed as lines to export.

use anyhow::Context;
use clap::Args;

use super::connect::ConnectArgs;

#[derive(Args)]
pub struct SigninArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Scopes the credentials hold (each must be held by the issuing credentials).
    #[arg(long = "scope", required = true)]
    scopes: Vec<String>,
    /// How long they last (at most 31 days).
    #[arg(long, default_value = "1h")]
    expires: String,
    /// Name the credentials (named temporary credentials need `auth:create-client:<name>`).
    #[arg(long)]
    name: Option<String>,
}

pub async fn run(args: SigninArgs) -> anyhow::Result<()> {
    let (root_url, creds) = args.connect.resolve()?;
    let creds = creds.context("signin needs permanent credentials to issue from")?;
    let duration = humantime::parse_duration(&args.expires.replace(' ', ""))
        .with_context(|| format!("{:?} is not a duration", args.expires))?;
    let temp = match &args.name {
        Some(name) => creds.create_named_temp_creds(name, duration, &args.scopes)?,
        None => creds.create_temp_creds(duration, &args.scopes)?,
    };
    println!("export TASKCLUSTER_ROOT_URL='{root_url}'");
    println!("export TASKCLUSTER_CLIENT_ID='{}'", temp.client_id);
    println!("export TASKCLUSTER_ACCESS_TOKEN='{}'", temp.access_token);
    if let Some(cert) = &temp.certificate {
        println!("export TASKCLUSTER_CERTIFICATE='{cert}'");
    }
    Ok(())
}
