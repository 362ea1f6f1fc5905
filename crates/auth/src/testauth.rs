//! `testAuthenticate` and `testAuthenticateGet`: probes for client implementations of Taskcluster
//! authentication. They check the request's Hawk credentials (certificates and
//! `authorizedScopes` included) against one fixed client, `tester` / `no-secret`, instead of the
//! stored ones, then require scopes, answering `{clientId, scopes}` as the endpoint saw them.

use std::cmp::Ordering;
use std::net::IpAddr;

use relyard_core::ApiError;
use serde::{Deserialize, Serialize};

use crate::authn::Realm;
use crate::hawk_verify::HawkInput;
use crate::scopes::{is_valid_scope, scope_compare, scope_matches, ScopeExpr};
use crate::service::AuthService;

pub(crate) const TEST_CLIENT_ID: &str = "tester";
pub(crate) const TEST_ACCESS_TOKEN: &str = "no-secret";
/// What `tester` holds for `testAuthenticateGet`.
pub const GET_CLIENT_SCOPES: [&str; 2] = ["test:*", "auth:create-client:test:*"];
/// What `testAuthenticateGet` requires.
pub const GET_REQUIRED_SCOPE: &str = "test:authenticate-get";
/// Taskcluster's clientId for a request that carried no credentials.
const NO_AUTH_CLIENT_ID: &str = "auth-failed:no-auth";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestAuthenticateRequest {
    pub client_scopes: Vec<String>,
    pub required_scopes: Vec<String>,
}

impl TestAuthenticateRequest {
    /// The schema's rules: printable-ASCII scopes, no repeats.
    pub fn validate(&self) -> Result<(), ApiError> {
        for (field, list) in [
            ("clientScopes", &self.client_scopes),
            ("requiredScopes", &self.required_scopes),
        ] {
            if let Some(bad) = list.iter().find(|s| !is_valid_scope(s)) {
                return Err(ApiError::validation(format!(
                    "{field} holds an invalid scope {bad:?}"
                )));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = list.iter().find(|s| !seen.insert(s.as_str())) {
                return Err(ApiError::validation(format!(
                    "{field} lists {dup:?} more than once"
                )));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestAuthenticateResponse {
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl AuthService {
    /// Authenticates `input` as if `tester` held `client_scopes`, then requires `required`:
    /// 401 for bad credentials, 403 InsufficientScopes for missing scopes.
    pub async fn test_authenticate(
        &self,
        input: &HawkInput<'_>,
        source_ip: Option<IpAddr>,
        client_scopes: &[String],
        required: &ScopeExpr,
    ) -> Result<TestAuthenticateResponse, ApiError> {
        let caller = self
            .authenticate_hawk(Realm::Test(client_scopes), input, source_ip)
            .await?;
        caller.require(required)?;
        Ok(TestAuthenticateResponse {
            client_id: caller
                .client_id
                .unwrap_or_else(|| NO_AUTH_CLIENT_ID.to_string()),
            scopes: caller.scopes.as_ref().clone(),
        })
    }
}

/// Taskcluster's `mergeScopeSets` as it behaves on the test client's scopes, which nobody
/// sorted: one linear merge pass, each step taking the smaller head and skipping what the taken
/// scope satisfies. Unsorted input keeps its order, which the official clients' own tests expect
/// (`["assume:anonymous", "scopes:specific", "scopes:another"]`).
pub(crate) fn merge_in_order(a: &[String], b: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let from_a =
            j >= b.len() || (i < a.len() && scope_compare(&a[i], &b[j]) != Ordering::Greater);
        let taken = if from_a { &a[i] } else { &b[j] };
        while i < a.len() && scope_matches(taken, &a[i]) {
            i += 1;
        }
        while j < b.len() && scope_matches(taken, &b[j]) {
            j += 1;
        }
        out.push(taken.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::merge_in_order;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn merges_like_taskcluster_on_unsorted_input() {
        let anon = v(&["assume:anonymous"]);
        assert_eq!(merge_in_order(&[], &anon), anon);
        assert_eq!(
            merge_in_order(&v(&["scopes:specific", "scopes:another"]), &anon),
            v(&["assume:anonymous", "scopes:specific", "scopes:another"])
        );
        assert_eq!(
            merge_in_order(&v(&["a:x", "test:a"]), &anon),
            v(&["a:x", "assume:anonymous", "test:a"])
        );
        // already there, or granted by a star: not repeated
        assert_eq!(merge_in_order(&anon, &anon), anon);
        assert_eq!(merge_in_order(&v(&["assume:*"]), &anon), v(&["assume:*"]));
    }
}
