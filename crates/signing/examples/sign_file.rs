//! Signs files with a key file, writing the detached signatures beside them — what the signing
//! server will do for its clients, here in one process for trying keys out.
//!
//! ```text
//! echo 'a passphrase' | cargo run -p relyard-signing --example sign_file -- KEY_FILE FORMAT FILE...
//! ```
//!
//! The key is unlocked with the passphrase from standard input and proven first, as the server
//! does at start. `gpg` and `minisign` write `FILE.asc` / `FILE.minisig` for each file;
//! `sha256sums` writes `SHA256SUMS` and `SHA256SUMS.asc` in the current directory, naming the
//! files as given (so give paths relative to it). `mar` and `authenticode` write each signed MAR or PE as
//! `FILE.signed` (the input is left as it was).

use std::io::BufRead as _;
use std::path::Path;
use std::process::ExitCode;

use relyard_signing::{manifest, Format, KeyFile, MANIFEST_NAME};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sign_file: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [key_path, format, files @ ..] = &args[..] else {
        return Err(
            "usage: sign_file KEY_FILE gpg|minisign|sha256sums|mar|authenticode FILE...".into(),
        );
    };
    if files.is_empty() {
        return Err("no files to sign".into());
    }
    let format: Format = format.parse()?;
    let mut passphrase = String::new();
    std::io::stdin().lock().read_line(&mut passphrase)?;
    let passphrase = passphrase.trim_end_matches(['\r', '\n']);
    let key = KeyFile::read(Path::new(key_path))?.unlock(passphrase.as_bytes())?;
    let signer = key.signer(format)?;
    signer.prove()?;
    if format == Format::Sha256sums {
        let contents = files
            .iter()
            .map(|f| std::fs::read(f).map(|data| (f.as_str(), data)))
            .collect::<Result<Vec<_>, _>>()?;
        let borrowed: Vec<(&str, &[u8])> =
            contents.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        let listing = manifest(&borrowed)?;
        let signed = signer.sign(listing.as_bytes())?;
        std::fs::write(MANIFEST_NAME, &listing)?;
        let asc = format!("{MANIFEST_NAME}{}", format.detached_suffix());
        std::fs::write(&asc, &signed.signature)?;
        println!("{MANIFEST_NAME}\n{asc}");
        return Ok(());
    }
    for file in files {
        let signed = signer.sign(&std::fs::read(file)?)?;
        // An embedded format's output is the whole signed file; never write it over the input.
        let out = if format.is_embedded() {
            format!("{file}.signed")
        } else {
            format!("{file}{}", format.detached_suffix())
        };
        std::fs::write(&out, &signed.signature)?;
        println!("{out}");
    }
    Ok(())
}
