//! `relyard signing-server --config signing.toml`: the signing service as its own process, so
//! its keys live in a process (and, in production, a machine) of their own.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use relyard_signing::access::TokenKeys;
use relyard_signing::config::SigningConfig;
use relyard_signing::passphrases::Passphrases;
use relyard_signing::server::SigningServer;
use relyard_signing::Keyring;

use super::banner::banner;

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

/// A signing configuration whose keys are unlocked and proven, ready to serve.
pub(super) struct Unlocked {
    pub config: SigningConfig,
    token_keys: TokenKeys,
    keyring: Keyring,
}

impl Unlocked {
    pub async fn start(self) -> anyhow::Result<SigningServer> {
        Ok(SigningServer::start(&self.config, self.token_keys, self.keyring).await?)
    }
}

/// Unlocks and proves every key of `config`, or says which failed.
fn unlock(config: SigningConfig, passphrases: &Passphrases) -> anyhow::Result<Unlocked> {
    let (token_keys, keyring) = config.unlock(passphrases).context("refusing to start")?;
    Ok(Unlocked {
        config,
        token_keys,
        keyring,
    })
}

/// Loads the configuration at `path` and unlocks its keys with passphrases from the file
/// descriptor `passphrase_fd`, or asked for on the terminal.
pub(super) fn load_and_unlock(path: &Path, passphrase_fd: Option<u32>) -> anyhow::Result<Unlocked> {
    let config = SigningConfig::load(path)?;
    let passphrases = passphrases_for(&config, passphrase_fd)?;
    unlock(config, &passphrases)
}

fn passphrases_for(config: &SigningConfig, fd: Option<u32>) -> anyhow::Result<Passphrases> {
    match fd {
        Some(fd) => read_fd(fd),
        None => Ok(Passphrases::prompt(&config.key_ids())?),
    }
}

pub async fn run(args: SigningServerArgs) -> anyhow::Result<()> {
    let config = SigningConfig::load(&args.config)?;
    let passphrases = match args.passphrase_fd {
        None if args.check_config => None,
        fd => Some(passphrases_for(&config, fd)?),
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
    let unlocked = unlock(config, &passphrases.unwrap_or_default())?;
    let server = unlocked.start().await?;
    // Tests and scripts read this line to learn the port when listening on port 0.
    banner!("signing server listening on {}", server.url());
    let token = server.shutdown_token();
    tokio::spawn(async move {
        super::termination().await;
        tracing::info!("signing server shutting down");
        token.cancel();
    });
    server.wait().await?;
    Ok(())
}
