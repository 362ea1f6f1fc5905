//! Key passphrases at server start: typed on the terminal without echo, or, for automation,
//! `KEY_ID=passphrase` lines read from a file descriptor (`--passphrase-fd N`). Never from the
//! config file or the environment, where they would be read by anything that reads those.

use std::collections::HashMap;
use std::io::Read;

use zeroize::Zeroizing;

use crate::keystore::validate_key_id;

#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    #[error("passphrase line {line}: expected KEY_ID=passphrase")]
    NoEquals { line: usize },
    #[error("passphrase line {line}: {reason}")]
    BadKeyId { line: usize, reason: String },
    #[error("passphrase line {line}: key `{id}` appears twice")]
    Repeated { line: usize, id: String },
    #[error("reading passphrases: {0}")]
    Io(#[from] std::io::Error),
}

/// Passphrases by key id; wiped from memory when dropped.
#[derive(Default)]
pub struct Passphrases {
    by_id: HashMap<String, Zeroizing<String>>,
}

impl std::fmt::Debug for Passphrases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.by_id.keys().collect();
        ids.sort();
        f.debug_struct("Passphrases").field("ids", &ids).finish()
    }
}

impl Passphrases {
    /// `KEY_ID=passphrase` lines. Everything after the first `=` is the passphrase, spaces
    /// included, up to the line end (`\n` or `\r\n`); blank lines are skipped.
    pub fn parse(text: &str) -> Result<Self, PassphraseError> {
        let mut by_id = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            if line.trim().is_empty() {
                continue;
            }
            let (id, passphrase) = line
                .split_once('=')
                .ok_or(PassphraseError::NoEquals { line: line_no })?;
            validate_key_id(id).map_err(|e| PassphraseError::BadKeyId {
                line: line_no,
                reason: e.to_string(),
            })?;
            if by_id
                .insert(id.to_string(), Zeroizing::new(passphrase.to_string()))
                .is_some()
            {
                return Err(PassphraseError::Repeated {
                    line: line_no,
                    id: id.to_string(),
                });
            }
        }
        Ok(Self { by_id })
    }

    /// Reads lines from `reader` to its end (the writer closes its end of the pipe).
    pub fn read_from(mut reader: impl Read) -> Result<Self, PassphraseError> {
        let mut text = Zeroizing::new(String::new());
        reader.read_to_string(&mut text)?;
        Self::parse(&text)
    }

    /// Asks for each key's passphrase on the terminal, without echo.
    pub fn prompt(ids: &[&str]) -> Result<Self, PassphraseError> {
        let mut by_id = HashMap::new();
        for id in ids {
            let passphrase = rpassword::prompt_password(format!("passphrase for key `{id}`: "))?;
            by_id.insert(id.to_string(), Zeroizing::new(passphrase));
        }
        Ok(Self { by_id })
    }

    pub fn insert(&mut self, id: &str, passphrase: &str) {
        self.by_id
            .insert(id.to_string(), Zeroizing::new(passphrase.to_string()));
    }

    pub fn get(&self, id: &str) -> Option<&str> {
        self.by_id.get(id).map(|p| p.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_as_given() {
        let p = Passphrases::parse("release=a b=c \r\n\nnightly=x\n").unwrap();
        assert_eq!(p.get("release"), Some("a b=c "));
        assert_eq!(p.get("nightly"), Some("x"));
        assert_eq!(p.get("other"), None);
        assert!(!format!("{p:?}").contains("a b=c"));
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        let e = Passphrases::parse("a=1\nnope\n").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = Passphrases::parse("a=1\na=2\n").unwrap_err().to_string();
        assert!(e.contains("`a` appears twice"), "{e}");
        let e = Passphrases::parse("bad id=1\n").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
