//! TLS termination for `relyard serve --tls-cert … --tls-key …` (rustls, aws-lc-rs provider).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// The rustls server configuration for a PEM certificate chain and key, offering HTTP/1.1
/// (and HTTP/2, which hyper speaks too) by ALPN.
pub fn server_config(tls: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| format!("reading certificates from {}: {e}", tls.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", tls.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| format!("reading the private key from {}: {e}", tls.key.display()))?;
    // Chosen explicitly: other crates in the build enable rustls' ring provider too, and with
    // two providers compiled in rustls has no process default.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS protocol versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
