//! The Auth API's handlers (`/api/auth/v1/…`): parse, authorize, call [`AuthService`], serialize.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use relyard_core::paging::{self, PageQuery};
use relyard_core::{ApiError, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::caller::Caller;
use crate::hawk_verify::HawkInput;
use crate::manage::{ClientInfo, CreateClient, RoleInfo, RoleInput, UpdateClient};
use crate::middleware::Unauthenticated;
use crate::oauth::{OAuthError, TokenRequest, TokenResponse};
use crate::scopes::ScopeExpr;
use crate::service::AuthService;
use crate::testauth::{
    TestAuthenticateRequest, TestAuthenticateResponse, GET_CLIENT_SCOPES, GET_REQUIRED_SCOPE,
};

type Auth = State<Arc<AuthService>>;
type ApiResult<T> = Result<T, ApiError>;

/// Routes relative to `/api/auth/v1`; the binary nests them behind [`crate::authenticate`].
pub fn router(auth: Arc<AuthService>) -> Router {
    Router::new()
        .route("/ping", get(relyard_core::ping::ping))
        .route("/clients/", get(list_clients))
        .route("/clients", get(list_clients))
        .route(
            "/clients/{client_id}",
            get(get_client)
                .put(create_client)
                .post(update_client)
                .delete(delete_client),
        )
        .route("/clients/{client_id}/reset", post(reset_access_token))
        .route("/clients/{client_id}/enable", post(enable_client))
        .route("/clients/{client_id}/disable", post(disable_client))
        .route("/roles/", get(list_roles))
        .route("/roles", get(list_roles))
        .route("/roleids/", get(list_role_ids))
        .route("/roleids", get(list_role_ids))
        .route("/roles2/", get(list_roles2))
        .route("/roles2", get(list_roles2))
        .route(
            "/roles/{role_id}",
            get(get_role)
                .put(create_role)
                .post(update_role)
                .delete(delete_role),
        )
        .route("/scopes/expand", post(expand_scopes))
        .route("/scopes/current", get(current_scopes))
        .route("/authenticate-hawk", post(authenticate_hawk))
        .route("/test-authenticate", post(test_authenticate))
        .route("/test-authenticate-get/", get(test_authenticate_get))
        .route("/oauth/token", post(oauth_token))
        .with_state(auth)
}

fn all_of_scopes<'a>(first: String, scopes: impl IntoIterator<Item = &'a String>) -> ScopeExpr {
    ScopeExpr::all_of(
        std::iter::once(ScopeExpr::scope(first)).chain(scopes.into_iter().map(ScopeExpr::scope)),
    )
}

/// Parses a JSON body, answering 400 with serde's message (which names the field).
fn body<T: serde::de::DeserializeOwned>(raw: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(raw)
        .map_err(|e| ApiError::validation(format!("invalid request body: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientListQuery {
    prefix: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

async fn list_clients(
    State(auth): Auth,
    Query(q): Query<ClientListQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.page.limit(1000, 1000)?;
    let after: Option<String> = q.page.token()?;
    let (clients, next) = auth
        .list_clients(q.prefix.as_deref(), after.as_deref(), limit)
        .await?;
    let mut out = json!({ "clients": clients });
    if let Some(n) = next {
        out["continuationToken"] = json!(paging::encode(&n));
    }
    Ok(Json(out))
}

async fn get_client(
    State(auth): Auth,
    Path(client_id): Path<String>,
) -> ApiResult<Json<ClientInfo>> {
    Ok(Json(auth.get_client_info(&client_id).await?))
}

async fn create_client(
    State(auth): Auth,
    caller: Caller,
    Path(client_id): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<ClientInfo>> {
    let input: CreateClient = body(&raw)?;
    caller.require(&all_of_scopes(
        format!("auth:create-client:{client_id}"),
        &input.scopes,
    ))?;
    Ok(Json(auth.create_client(&client_id, input).await?))
}

async fn update_client(
    State(auth): Auth,
    caller: Caller,
    Path(client_id): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<ClientInfo>> {
    let input: UpdateClient = body(&raw)?;
    let added = match &input.scopes {
        Some(scopes) => auth.scopes_added_to_client(&client_id, scopes).await?,
        None => Vec::new(),
    };
    caller.require(&all_of_scopes(
        format!("auth:update-client:{client_id}"),
        &added,
    ))?;
    Ok(Json(auth.update_client(&client_id, input).await?))
}

async fn reset_access_token(
    State(auth): Auth,
    caller: Caller,
    Path(client_id): Path<String>,
) -> ApiResult<Json<ClientInfo>> {
    caller.require(&ScopeExpr::scope(format!(
        "auth:reset-access-token:{client_id}"
    )))?;
    Ok(Json(auth.reset_access_token(&client_id).await?))
}

async fn enable_client(
    State(auth): Auth,
    caller: Caller,
    Path(client_id): Path<String>,
) -> ApiResult<Json<ClientInfo>> {
    caller.require(&ScopeExpr::scope(format!("auth:enable-client:{client_id}")))?;
    Ok(Json(auth.set_client_disabled(&client_id, false).await?))
}

async fn disable_client(
    State(auth): Auth,
    caller: Caller,
    Path(client_id): Path<String>,
) -> ApiResult<Json<ClientInfo>> {
    caller.require(&ScopeExpr::scope(format!(
        "auth:disable-client:{client_id}"
    )))?;
    Ok(Json(auth.set_client_disabled(&client_id, true).await?))
}

async fn delete_client(
    State(auth): Auth,
    caller: Caller,
    Path(client_id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&ScopeExpr::scope(format!("auth:delete-client:{client_id}")))?;
    auth.delete_client(&client_id).await?;
    Ok(Json(json!({})))
}

async fn list_roles(State(auth): Auth) -> ApiResult<Json<Vec<RoleInfo>>> {
    Ok(Json(auth.list_roles().await?))
}

/// One page of roles, by roleId, with a continuation token when more remain.
async fn role_page(
    auth: &AuthService,
    q: &PageQuery,
) -> ApiResult<(Vec<RoleInfo>, Option<String>)> {
    let limit = q.limit(1000, 1000)?;
    let after: Option<String> = q.token()?;
    let roles: Vec<RoleInfo> = auth
        .list_roles()
        .await?
        .into_iter()
        .filter(|r| after.as_deref().is_none_or(|a| r.role_id.as_str() > a))
        .collect();
    let more = roles.len() > limit;
    let page: Vec<RoleInfo> = roles.into_iter().take(limit).collect();
    let next = if more {
        page.last().map(|r| paging::encode(&r.role_id))
    } else {
        None
    };
    Ok((page, next))
}

async fn list_role_ids(State(auth): Auth, Query(q): Query<PageQuery>) -> ApiResult<Json<Value>> {
    let (page, next) = role_page(&auth, &q).await?;
    let ids: Vec<&str> = page.iter().map(|r| r.role_id.as_str()).collect();
    let mut out = json!({ "roleIds": ids });
    if let Some(n) = next {
        out["continuationToken"] = json!(n);
    }
    Ok(Json(out))
}

async fn list_roles2(State(auth): Auth, Query(q): Query<PageQuery>) -> ApiResult<Json<Value>> {
    let (page, next) = role_page(&auth, &q).await?;
    let mut out = json!({ "roles": page });
    if let Some(n) = next {
        out["continuationToken"] = json!(n);
    }
    Ok(Json(out))
}

async fn get_role(State(auth): Auth, Path(role_id): Path<String>) -> ApiResult<Json<RoleInfo>> {
    Ok(Json(auth.get_role(&role_id).await?))
}

async fn create_role(
    State(auth): Auth,
    caller: Caller,
    Path(role_id): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<RoleInfo>> {
    let input: RoleInput = body(&raw)?;
    caller.require(&all_of_scopes(
        format!("auth:create-role:{role_id}"),
        &input.scopes,
    ))?;
    Ok(Json(auth.put_role(&role_id, input, true).await?))
}

async fn update_role(
    State(auth): Auth,
    caller: Caller,
    Path(role_id): Path<String>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<RoleInfo>> {
    let input: RoleInput = body(&raw)?;
    let existing = auth.role_scopes(&role_id).await?.unwrap_or_default();
    let added: Vec<String> = input
        .scopes
        .iter()
        .filter(|s| !existing.contains(s))
        .cloned()
        .collect();
    caller.require(&all_of_scopes(
        format!("auth:update-role:{role_id}"),
        &added,
    ))?;
    Ok(Json(auth.put_role(&role_id, input, false).await?))
}

async fn delete_role(
    State(auth): Auth,
    caller: Caller,
    Path(role_id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&ScopeExpr::scope(format!("auth:delete-role:{role_id}")))?;
    auth.delete_role(&role_id).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeList {
    scopes: Vec<String>,
}

async fn expand_scopes(
    State(auth): Auth,
    caller: Caller,
    raw: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    caller.require(&ScopeExpr::scope("auth:expand-scopes"))?;
    let input: ScopeList = body(&raw)?;
    Ok(Json(json!({ "scopes": auth.expand(&input.scopes) })))
}

async fn current_scopes(caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(&ScopeExpr::scope("auth:current-scopes"))?;
    Ok(Json(json!({ "scopes": caller.scopes.as_ref() })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AuthenticateHawkRequest {
    method: String,
    resource: String,
    host: String,
    port: u16,
    authorization: Option<String>,
    source_ip: Option<std::net::IpAddr>,
}

/// For services outside this process: authenticates a request they received.
async fn authenticate_hawk(State(auth): Auth, raw: axum::body::Bytes) -> ApiResult<Json<Value>> {
    let req: AuthenticateHawkRequest = body(&raw)?;
    let method = req.method.to_ascii_uppercase();
    let input = HawkInput {
        method: &method,
        resource: &req.resource,
        host: &req.host,
        port: req.port,
        authorization: req.authorization.as_deref(),
        payload: None,
    };
    Ok(Json(match auth.authenticate(&input, req.source_ip).await {
        Ok(caller) => json!({
            "status": "auth-success",
            "scheme": if caller.client_id.is_some() { "hawk" } else { "none" },
            "clientId": caller.client_id,
            "scopes": caller.scopes.as_ref(),
            "expires": caller.expires.unwrap_or_else(|| Timestamp::now().plus_days(365)),
        }),
        Err(crate::service::AuthFailure::Failed(message)) => {
            json!({ "status": "auth-failed", "message": message })
        }
        Err(crate::service::AuthFailure::Internal(e)) => return Err(e),
    }))
}

/// Checks the request's own Hawk credentials against the test client holding `clientScopes`
/// (the layer let this route through unauthenticated), then requires `requiredScopes`.
async fn test_authenticate(
    State(auth): Auth,
    Unauthenticated(target): Unauthenticated,
    raw: axum::body::Bytes,
) -> ApiResult<Json<TestAuthenticateResponse>> {
    let input: TestAuthenticateRequest = body(&raw)?;
    input.validate()?;
    let target = target.map_err(ApiError::unauthenticated)?;
    let payload = target.wants_payload_hash().then_some(raw.as_ref());
    let required = ScopeExpr::all_of(input.required_scopes.iter().map(ScopeExpr::scope));
    let answer = auth
        .test_authenticate(
            &target.hawk_input(payload),
            target.source_ip,
            &input.client_scopes,
            &required,
        )
        .await?;
    Ok(Json(answer))
}

/// As [`test_authenticate`] with fixed scopes, for signed URLs.
async fn test_authenticate_get(
    State(auth): Auth,
    Unauthenticated(target): Unauthenticated,
) -> ApiResult<Json<TestAuthenticateResponse>> {
    let target = target.map_err(ApiError::unauthenticated)?;
    let payload = target.wants_payload_hash().then_some(&[][..]);
    let client_scopes: Vec<String> = GET_CLIENT_SCOPES.iter().map(|s| s.to_string()).collect();
    let answer = auth
        .test_authenticate(
            &target.hawk_input(payload),
            target.source_ip,
            &client_scopes,
            &ScopeExpr::scope(GET_REQUIRED_SCOPE),
        )
        .await?;
    Ok(Json(answer))
}

/// OAuth2 client credentials grant (RFC 6749 §4.4); errors in OAuth's shape, not Taskcluster's.
async fn oauth_token(
    State(auth): Auth,
    Unauthenticated(target): Unauthenticated,
    raw: axum::body::Bytes,
) -> Result<TokenResponse, OAuthError> {
    let target = target.map_err(OAuthError::InvalidRequest)?;
    let request = TokenRequest::parse(&target.content_type, target.authorization.as_deref(), &raw)?;
    auth.issue_token(request).await
}
