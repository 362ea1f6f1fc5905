//! Authenticating a request (Taskcluster's `signaturevalidator.js`): Hawk with permanent or
//! temporary credentials and `authorizedScopes`, or a Bearer token from the OAuth2 endpoint.
//!
//! The Hawk pipeline runs against a [`Realm`]: the stored clients and roles, or the fixed test
//! client of `testAuthenticate`, which Taskcluster checks with the very same code.

use std::net::IpAddr;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use relyard_core::Timestamp;

use crate::caller::Caller;
use crate::hawk_verify::{has_bewit, parse_ext, HawkInput, Presented};
use crate::scopes::{is_valid_scope, ScopeExpr};
use crate::service::{ActiveClient, AuthFailure, AuthService};
use crate::tempcreds::{self, Certificate};
use crate::testauth;

/// Whose clients credentials are checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Realm<'a> {
    /// The stored clients, with scopes expanded through the current roles.
    Live,
    /// `testAuthenticate`'s only client, `tester` / `no-secret`, holding exactly these scopes;
    /// no roles apply (Taskcluster expands with the identity function there).
    Test(&'a [String]),
}

/// The scopes every caller holds besides its own.
const ANONYMOUS: &str = "assume:anonymous";

impl AuthService {
    /// Authenticates a request as Taskcluster does; `Err` carries the reason for a 401.
    pub async fn authenticate(
        &self,
        input: &HawkInput<'_>,
        source_ip: Option<IpAddr>,
    ) -> Result<Caller, AuthFailure> {
        if let Some(token) = input.authorization.and_then(bearer_token) {
            if has_bewit(input.resource) {
                return Err(AuthFailure::Failed(
                    "request carries both an Authorization header and a bewit".into(),
                ));
            }
            return self.authenticate_bearer(token, source_ip).await;
        }
        self.authenticate_hawk(Realm::Live, input, source_ip).await
    }

    pub(crate) async fn authenticate_hawk(
        &self,
        realm: Realm<'_>,
        input: &HawkInput<'_>,
        source_ip: Option<IpAddr>,
    ) -> Result<Caller, AuthFailure> {
        let presented = Presented::from_request(input).map_err(AuthFailure::Failed)?;
        let Some(id) = presented.id() else {
            return Ok(Caller {
                client_id: None,
                scopes: self.realm_anonymous(realm),
                expires: None,
                source_ip,
            });
        };
        let ext = match presented.ext() {
            Some(e) if !e.is_empty() => parse_ext(e).map_err(AuthFailure::Failed)?,
            _ => Default::default(),
        };
        let now = Timestamp::now();
        let (key, mut scopes, mut expires) = match &ext.certificate {
            None => {
                let client = self.realm_client(realm, id, now).await?;
                (
                    client.access_token.clone(),
                    client.expanded.as_ref().clone(),
                    client.expires,
                )
            }
            Some(cert) => self.check_certificate(realm, id, cert, now).await?,
        };
        if !presented.verify(input, &key) {
            return Err(AuthFailure::Failed(
                "Hawk signature, payload hash, timestamp or bewit is invalid (check the access token and clock)".into(),
            ));
        }
        if let Some(authorized) = &ext.authorized_scopes {
            if !authorized.iter().all(|s| is_valid_scope(s)) {
                return Err(AuthFailure::Failed(
                    "ext.authorizedScopes must be an array of valid scopes".into(),
                ));
            }
            // The anonymous role counts before the check, so that authorizedScopes may name
            // scopes the caller holds only through it.
            let held = self.with_anonymous(realm, scopes);
            let wanted = ScopeExpr::all_of(authorized.iter().map(ScopeExpr::scope));
            if !wanted.satisfied_by(&held) {
                return Err(AuthFailure::Failed(
                    "Supplied credentials do not satisfy authorizedScopes".into(),
                ));
            }
            scopes = authorized.clone();
        }
        // And again after, in case authorizedScopes left it out.
        let scopes = self.with_anonymous(realm, scopes);
        if let Some(cert) = &ext.certificate {
            expires = expires.min(Timestamp::from_millis(cert.expiry));
        }
        Ok(Caller {
            client_id: Some(id.to_string()),
            scopes: Arc::new(scopes),
            expires: Some(expires),
            source_ip,
        })
    }

    fn realm_anonymous(&self, realm: Realm<'_>) -> Arc<Vec<String>> {
        match realm {
            Realm::Live => self.anonymous_scopes(),
            Realm::Test(_) => Arc::new(vec![ANONYMOUS.to_string()]),
        }
    }

    /// `scopes` plus the anonymous role, expanded as the realm expands.
    pub(crate) fn with_anonymous(&self, realm: Realm<'_>, mut scopes: Vec<String>) -> Vec<String> {
        match realm {
            Realm::Live => {
                scopes.push(ANONYMOUS.to_string());
                self.expand(&scopes)
            }
            Realm::Test(_) => testauth::merge_in_order(&scopes, &[ANONYMOUS.to_string()]),
        }
    }

    /// The enabled, unexpired client `client_id` of the realm.
    async fn realm_client(
        &self,
        realm: Realm<'_>,
        client_id: &str,
        now: Timestamp,
    ) -> Result<Arc<ActiveClient>, AuthFailure> {
        match realm {
            Realm::Live => self.active_client(client_id, now).await,
            Realm::Test(scopes) => {
                if client_id != testauth::TEST_CLIENT_ID {
                    return Err(AuthFailure::Failed(format!(
                        "Client with clientId '{client_id}' not found"
                    )));
                }
                Ok(Arc::new(ActiveClient {
                    access_token: testauth::TEST_ACCESS_TOKEN.to_string(),
                    expires: Timestamp::from_millis(253_402_300_799_000),
                    disabled: false,
                    expanded: Arc::new(scopes.to_vec()),
                    last_used_ms: AtomicI64::new(now.millis()),
                }))
            }
        }
    }

    pub(crate) async fn active_client(
        &self,
        client_id: &str,
        now: Timestamp,
    ) -> Result<Arc<ActiveClient>, AuthFailure> {
        let client = self
            .client(client_id)
            .await
            .map_err(AuthFailure::Internal)?
            .ok_or_else(|| AuthFailure::Failed(format!("client {client_id} not found")))?;
        if client.disabled {
            return Err(AuthFailure::Failed(format!(
                "client {client_id} is disabled"
            )));
        }
        if client.expires < now {
            return Err(AuthFailure::Failed(format!(
                "client {client_id} has expired"
            )));
        }
        self.note_use(client_id, &client, now);
        Ok(client)
    }

    /// Validates temporary credentials; returns the temporary key, the certificate's scopes and
    /// the issuer's expiry.
    async fn check_certificate(
        &self,
        realm: Realm<'_>,
        id: &str,
        cert: &Certificate,
        now: Timestamp,
    ) -> Result<(String, Vec<String>, Timestamp), AuthFailure> {
        let issuer_id = cert.issuer.as_deref().unwrap_or(id);
        if cert.issuer.is_some() && issuer_id == id {
            return Err(AuthFailure::Failed(
                "ext.certificate.issuer must differ from the supplied clientId".into(),
            ));
        }
        let issuer = self.realm_client(realm, issuer_id, now).await?;
        tempcreds::check_certificate_limits(cert, now.millis()).map_err(AuthFailure::Failed)?;
        let named = cert.issuer.as_deref().map(|_| id);
        if let Some(name) = named {
            let need = format!("auth:create-client:{name}");
            if !ScopeExpr::scope(need.clone()).satisfied_by(&issuer.expanded) {
                return Err(AuthFailure::Failed(format!(
                    "ext.certificate issuer `{issuer_id}` doesn't have `{need}` for supplied clientId."
                )));
            }
        }
        let wanted = ScopeExpr::all_of(cert.scopes.iter().map(ScopeExpr::scope));
        if !wanted.satisfied_by(&issuer.expanded) {
            return Err(AuthFailure::Failed(format!(
                "ext.certificate issuer `{issuer_id}` doesn't satisfy all certificate scopes"
            )));
        }
        if !tempcreds::verify_certificate_signature(&issuer.access_token, cert, named) {
            return Err(AuthFailure::Failed(
                "ext.certificate.signature is not valid".into(),
            ));
        }
        let key = tempcreds::temporary_access_token(&issuer.access_token, &cert.seed);
        Ok((key, cert.scopes.clone(), issuer.expires))
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 6750).
fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn reads_bearer_tokens() {
        assert_eq!(bearer_token("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Hawk id=\"x\""), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
