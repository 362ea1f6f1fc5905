//! `relyard signing-server --config signing.toml`: the signing service as its own process, so
//! its keys live in a process (and, in production, a machine) of their own.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use relyard_signing::config::SigningConfig;
use relyard_signing::passphrases::Passphrases;
use relyard_signing::server::SigningServer;

#[derive(Args)]
#[command(after_help = "\
Passphrases are asked for on the terminal (no echo), one per key, unless --passphrase-fd N gives \
a file descriptor to read `KEY_ID=passphrase` lines from (e.g. `3<passphrases` in a shell, or a \
pipe from a secrets tool). Every key is unlocked and proven (a test signature is made and \
verified) before the server listens; if any key fails, it does not start.")]
pub struct SigningServerArgs {
    /// The configuration file (examples/signing.toml is a commented one).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Read `KEY_ID=passphrase` lines from this file descriptor instead of the terminal.
    #[arg(long, value_name = "N")]
    passphrase_fd: Option<u32>,
    /// Check the configuration and the files it names, unlock and prove the keys when
    /// passphrases are given with --passphrase-fd, then exit.
    #[arg(long)]
    check_config: bool,
}

fn read_fd(fd: u32) -> anyhow::Result<Passphrases> {
    // /dev/fd/N opens the descriptor the parent handed over, without unsafe code.
    let path = format!("/dev/fd/{fd}");
    let file = std::fs::File::open(&path)
        .with_context(|| format!("--passphrase-fd {fd}: cannot open {path}"))?;
    Ok(Passphrases::read_from(file)?)
}

pub async fn run(args: SigningServerArgs) -> anyhow::Result<()> {
    let config = SigningConfig::load(&args.config)?;
    let passphrases = match args.passphrase_fd {
        Some(fd) => Some(read_fd(fd)?),
        None if args.check_config => None,
        None => Some(Passphrases::prompt(&config.key_ids())?),
    };
    if args.check_config {
        match &passphrases {
            Some(p) => {
                config.unlock(p)?;
                println!(
                    "{}: configuration and files are valid; every key unlocked and proved",
                    args.config.display()
                );
            }
            None => {
                config.check_files()?;
                println!(
                    "{}: configuration and files are valid (give --passphrase-fd to unlock the keys too)",
                    args.config.display()
                );
            }
        }
        return Ok(());
    }
    let passphrases = passphrases.unwrap_or_default();
    let (token_keys, keyring) = config.unlock(&passphrases).context("refusing to start")?;
    drop(passphrases);
    let server = SigningServer::start(&config, token_keys, keyring).await?;
    // Tests and scripts read this line to learn the port when listening on port 0.
    println!("signing server listening on {}", server.url());
    let token = server.shutdown_token();
    tokio::spawn(async move {
        super::termination().await;
        tracing::info!("signing server shutting down");
        token.cancel();
    });
    server.wait().await?;
    Ok(())
}
