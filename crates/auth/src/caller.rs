//! The authenticated caller of a request and the one check every endpoint makes.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use relyard_core::{ApiError, ErrorCode, Timestamp};
use serde_json::json;

use crate::scopes::ScopeExpr;

/// Who is calling, with the scopes they hold (roles expanded, temporary credentials and
/// `authorizedScopes` applied). Put into request extensions by [`crate::authenticate`].
#[derive(Clone, Debug)]
pub struct Caller {
    /// `None` for unauthenticated requests, which hold the `anonymous` role's scopes.
    pub client_id: Option<String>,
    pub scopes: Arc<Vec<String>>,
    /// When the credentials stop working (temporary credentials, expiring clients).
    pub expires: Option<Timestamp>,
    pub source_ip: Option<IpAddr>,
}

impl Caller {
    /// The clientId as shown in messages and audit records.
    pub fn name(&self) -> &str {
        self.client_id.as_deref().unwrap_or("anonymous")
    }

    pub fn satisfies(&self, expr: &ScopeExpr) -> bool {
        expr.satisfied_by(&self.scopes)
    }

    /// Answers 403 InsufficientScopes, naming what is missing, unless the caller satisfies `expr`.
    pub fn require(&self, expr: &ScopeExpr) -> Result<(), ApiError> {
        if self.satisfies(expr) {
            return Ok(());
        }
        let unsatisfied = expr
            .unsatisfied(&self.scopes)
            .unwrap_or_else(|| expr.clone());
        let message = format!(
            "Client ID {} does not have sufficient scopes and is missing the following scopes:\n\n\
             ```\n{}\n```\n\nThis request requires the client to satisfy the following scope expression:\n\n\
             ```\n{}\n```",
            self.name(),
            serde_json::to_string_pretty(&unsatisfied.to_json()).unwrap_or_default(),
            serde_json::to_string_pretty(&expr.to_json()).unwrap_or_default(),
        );
        Err(
            ApiError::new(ErrorCode::InsufficientScopes, message).with_details(
                json!({ "required": expr.to_json(), "unsatisfied": unsatisfied.to_json() }),
            ),
        )
    }
}

/// Left by [`crate::authenticate`] instead of a [`Caller`] when credentials do not check out.
/// As in Taskcluster, this fails only endpoints that look at the caller (every endpoint that
/// checks scopes); public ones still answer, which the official Rust client relies on: it signs
/// the path without the query, so its signatures on listings with query parameters never match.
#[derive(Debug, Clone)]
pub(crate) struct AuthRejection(pub ApiError);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        Err(match parts.extensions.get::<AuthRejection>() {
            Some(AuthRejection(e)) => e.clone(),
            None => ApiError::internal("route is not behind the authentication layer"),
        })
    }
}
