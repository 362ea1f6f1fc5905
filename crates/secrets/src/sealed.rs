//! How a secret's value is stored: sealed with [`Cipher`] together with the secret's name.
//!
//! The cipher has no associated-data input, so the name goes inside the sealed envelope instead:
//! someone who can write to the database but lacks the key cannot move `prod/key`'s sealed value
//! into the row of a secret they are allowed to read; opening it under the wrong name fails.

use relyard_auth::Cipher;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::SecretsError;

#[derive(Serialize, Deserialize)]
struct Envelope {
    name: String,
    secret: Map<String, Value>,
}

pub fn seal(cipher: &Cipher, name: &str, secret: Map<String, Value>) -> String {
    let envelope = Envelope {
        name: name.to_string(),
        secret,
    };
    // Serializing a map of JSON values to bytes cannot fail.
    cipher.seal(&serde_json::to_vec(&envelope).unwrap_or_default())
}

pub fn open(cipher: &Cipher, name: &str, sealed: &str) -> Result<Map<String, Value>, SecretsError> {
    let unreadable = |reason: String| SecretsError::Unreadable {
        name: name.to_string(),
        reason,
    };
    let plain = cipher.open(sealed).map_err(|e| unreadable(e.to_string()))?;
    let envelope: Envelope =
        serde_json::from_slice(&plain).map_err(|e| unreadable(e.to_string()))?;
    if envelope.name != name {
        return Err(unreadable("sealed for another secret".into()));
    }
    Ok(envelope.secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cipher() -> Cipher {
        Cipher::new(&[("k1".into(), "test key".into())]).unwrap()
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn round_trips_without_plaintext() {
        let c = cipher();
        let sealed = seal(&c, "a/b", map(json!({"password": "hunter2"})));
        assert!(sealed.starts_with("k1:"));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            open(&c, "a/b", &sealed).unwrap(),
            map(json!({"password": "hunter2"}))
        );
    }

    #[test]
    fn a_value_moved_to_another_name_does_not_open() {
        let c = cipher();
        let sealed = seal(&c, "prod/key", map(json!({"k": 1})));
        assert!(matches!(
            open(&c, "dev/key", &sealed),
            Err(SecretsError::Unreadable { .. })
        ));
    }

    #[test]
    fn wrong_key_or_tampering_is_unreadable() {
        let sealed = seal(&cipher(), "n", map(json!({})));
        let other = Cipher::new(&[("k1".into(), "other key".into())]).unwrap();
        assert!(matches!(
            open(&other, "n", &sealed),
            Err(SecretsError::Unreadable { .. })
        ));
        assert!(matches!(
            open(&cipher(), "n", "k1:AAAA"),
            Err(SecretsError::Unreadable { .. })
        ));
    }
}
