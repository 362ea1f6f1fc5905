//! `relyard auth …`: clients and roles.

use clap::{Args, Subcommand};
use serde_json::json;
use taskcluster::Auth;

use super::connect::{from_now, print_json, ConnectArgs};

#[derive(Args)]
pub struct AuthArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(subcommand)]
    verb: AuthVerb,
}

#[derive(Subcommand)]
enum AuthVerb {
    /// Clients: list, get, create, update, enable, disable, reset, delete.
    #[command(subcommand)]
    Client(ClientVerb),
    /// Roles: list, get, create, update, delete.
    #[command(subcommand)]
    Role(RoleVerb),
    /// Expand scopes through the roles.
    Expand { scopes: Vec<String> },
    /// The scopes of the credentials in use.
    CurrentScopes,
}

#[derive(Subcommand)]
enum ClientVerb {
    List {
        #[arg(long)]
        prefix: Option<String>,
    },
    Get {
        client_id: String,
    },
    /// Prints the new client with its accessToken (shown only once).
    Create {
        client_id: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// How long the client lives, e.g. `1 year`.
        #[arg(long, default_value = "1 year")]
        expires: String,
        #[arg(long)]
        delete_on_expiration: bool,
    },
    /// Replaces description, scopes and expiry.
    Update {
        client_id: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long = "scope")]
        scopes: Vec<String>,
        #[arg(long, default_value = "1 year")]
        expires: String,
    },
    Enable {
        client_id: String,
    },
    Disable {
        client_id: String,
    },
    /// Issues a new accessToken; the old one stops working.
    Reset {
        client_id: String,
    },
    Delete {
        client_id: String,
    },
}

#[derive(Subcommand)]
enum RoleVerb {
    List,
    Get {
        role_id: String,
    },
    Create {
        role_id: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    Update {
        role_id: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    Delete {
        role_id: String,
    },
}

pub async fn run(args: AuthArgs) -> anyhow::Result<()> {
    let auth = Auth::new(args.connect.client()?)?;
    let out = match args.verb {
        AuthVerb::Client(v) => match v {
            ClientVerb::List { prefix } => auth.listClients(prefix.as_deref(), None, None).await?,
            ClientVerb::Get { client_id } => auth.client(&client_id).await?,
            ClientVerb::Create {
                client_id,
                description,
                scopes,
                expires,
                delete_on_expiration,
            } => {
                let body = json!({
                    "description": description,
                    "scopes": scopes,
                    "expires": from_now(&expires)?,
                    "deleteOnExpiration": delete_on_expiration,
                });
                auth.createClient(&client_id, &body).await?
            }
            ClientVerb::Update {
                client_id,
                description,
                scopes,
                expires,
            } => {
                let body = json!({ "description": description, "scopes": scopes, "expires": from_now(&expires)? });
                auth.updateClient(&client_id, &body).await?
            }
            ClientVerb::Enable { client_id } => auth.enableClient(&client_id).await?,
            ClientVerb::Disable { client_id } => auth.disableClient(&client_id).await?,
            ClientVerb::Reset { client_id } => auth.resetAccessToken(&client_id).await?,
            ClientVerb::Delete { client_id } => {
                auth.deleteClient(&client_id).await?;
                json!({ "deleted": client_id })
            }
        },
        AuthVerb::Role(v) => match v {
            RoleVerb::List => auth.listRoles().await?,
            RoleVerb::Get { role_id } => auth.role(&role_id).await?,
            RoleVerb::Create {
                role_id,
                description,
                scopes,
            } => {
                auth.createRole(
                    &role_id,
                    &json!({ "description": description, "scopes": scopes }),
                )
                .await?
            }
            RoleVerb::Update {
                role_id,
                description,
                scopes,
            } => {
                auth.updateRole(
                    &role_id,
                    &json!({ "description": description, "scopes": scopes }),
                )
                .await?
            }
            RoleVerb::Delete { role_id } => {
                auth.deleteRole(&role_id).await?;
                json!({ "deleted": role_id })
            }
        },
        AuthVerb::Expand { scopes } => auth.expandScopes(&json!({ "scopes": scopes })).await?,
        AuthVerb::CurrentScopes => auth.currentScopes().await?,
    };
    print_json(&out)
}
