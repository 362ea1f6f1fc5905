//! `relyard secrets get|set|list|rm`.

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use taskcluster::Secrets;

use super::connect::{from_now, print_json, ConnectArgs};

#[derive(Args)]
pub struct SecretsArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(subcommand)]
    verb: SecretsVerb,
}

#[derive(Subcommand)]
enum SecretsVerb {
    /// Prints `{secret, expires}`.
    Get {
        name: String,
    },
    /// Stores a JSON object (from --value, or --file, `-` for stdin).
    Set {
        name: String,
        #[arg(long, conflicts_with = "file")]
        value: Option<String>,
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        #[arg(long, default_value = "1 year")]
        expires: String,
    },
    /// Names of the secrets.
    List,
    Rm {
        name: String,
    },
}

pub async fn run(args: SecretsArgs) -> anyhow::Result<()> {
    let secrets = Secrets::new(args.connect.client()?)?;
    match args.verb {
        SecretsVerb::Get { name } => print_json(&secrets.get(&name).await?),
        SecretsVerb::Set {
            name,
            value,
            file,
            expires,
        } => {
            let text = match (value, file) {
                (Some(v), _) => v,
                (None, Some(p)) if p.as_os_str() == "-" => {
                    std::io::read_to_string(std::io::stdin())?
                }
                (None, Some(p)) => std::fs::read_to_string(&p)
                    .with_context(|| format!("reading {}", p.display()))?,
                (None, None) => anyhow::bail!("give the secret with --value JSON or --file PATH"),
            };
            let secret: Value =
                serde_json::from_str(&text).context("the secret must be a JSON object")?;
            anyhow::ensure!(secret.is_object(), "the secret must be a JSON object");
            secrets
                .set(
                    &name,
                    &json!({ "secret": secret, "expires": from_now(&expires)? }),
                )
                .await?;
            print_json(&json!({ "set": name }))
        }
        SecretsVerb::List => {
            let mut names = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = secrets.list(token.as_deref(), None).await?;
                if let Some(list) = page["secrets"].as_array() {
                    names.extend(list.iter().cloned());
                }
                match page["continuationToken"].as_str() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
            print_json(&json!({ "secrets": names }))
        }
        SecretsVerb::Rm { name } => {
            secrets.remove(&name).await?;
            print_json(&json!({ "removed": name }))
        }
    }
}
