//! Managing clients and roles: the logic behind the Auth API's write endpoints.

use relyard_core::{ApiError, Timestamp};
use relyard_store::{StoreError, Tx};
use serde::{Deserialize, Serialize};

use crate::exchanges::{client_event, role_event, Change};
use crate::roles::Role;
use crate::scopes::{is_forbidden_in_grants, is_valid_scope};
use crate::service::AuthService;
use crate::store::{self, ClientRow, RoleRow};

/// A client as the API shows it; `accessToken` only right after create and reset.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    pub client_id: String,
    pub description: String,
    pub expires: Timestamp,
    pub created: Timestamp,
    pub last_modified: Timestamp,
    pub last_date_used: Timestamp,
    pub last_rotated: Timestamp,
    pub delete_on_expiration: bool,
    pub disabled: bool,
    pub scopes: Vec<String>,
    pub expanded_scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleInfo {
    pub role_id: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub expanded_scopes: Vec<String>,
    pub created: Timestamp,
    pub last_modified: Timestamp,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateClient {
    pub expires: Timestamp,
    pub description: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub delete_on_expiration: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateClient {
    pub expires: Timestamp,
    pub description: String,
    pub scopes: Option<Vec<String>>,
    pub delete_on_expiration: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleInput {
    pub description: String,
    pub scopes: Vec<String>,
}

/// Scopes a client or role may be granted: printable ASCII, not ending in `**`.
pub fn validate_grants(scopes: &[String]) -> Result<(), ApiError> {
    for s in scopes {
        if !is_valid_scope(s) {
            return Err(ApiError::validation(format!(
                "scope {s:?} has characters outside printable ASCII"
            )));
        }
        if is_forbidden_in_grants(s) {
            return Err(ApiError::validation(format!(
                "scope {s:?} ends in `**`, which is not allowed"
            )));
        }
    }
    Ok(())
}

pub fn validate_client_id(client_id: &str) -> Result<(), ApiError> {
    if client_id.is_empty() || client_id.len() > 256 || !relyard_core::ids::is_client_id(client_id)
    {
        return Err(ApiError::invalid_arguments(format!(
            "invalid clientId {client_id:?}"
        )));
    }
    Ok(())
}

fn validate_role_id(role_id: &str) -> Result<(), ApiError> {
    if role_id.is_empty() || role_id.len() > 255 || !is_valid_scope(role_id) {
        return Err(ApiError::invalid_arguments(format!(
            "invalid roleId {role_id:?}"
        )));
    }
    Ok(())
}

/// Reserved for clients from configuration.
const STATIC_PREFIX: &str = "static/";

/// A new access token: 44 url-safe characters, as Taskcluster's.
fn new_access_token() -> String {
    format!(
        "{}{}",
        relyard_core::ids::slugid(),
        relyard_core::ids::slugid()
    )
}

impl AuthService {
    fn client_info(&self, row: &ClientRow, access_token: Option<String>) -> ClientInfo {
        ClientInfo {
            client_id: row.client_id.clone(),
            description: row.description.clone(),
            expires: row.expires,
            created: row.created,
            last_modified: row.last_modified,
            last_date_used: row.last_date_used,
            last_rotated: row.last_rotated,
            delete_on_expiration: row.delete_on_expiration,
            disabled: row.disabled,
            scopes: row.scopes.clone(),
            expanded_scopes: self.expand(&row.scopes),
            access_token,
        }
    }

    fn role_info(&self, row: &RoleRow) -> RoleInfo {
        RoleInfo {
            role_id: row.role_id.clone(),
            description: row.description.clone(),
            scopes: row.scopes.clone(),
            expanded_scopes: self.expand(&[format!("assume:{}", row.role_id)]),
            created: row.created,
            last_modified: row.last_modified,
        }
    }

    pub async fn get_client_info(&self, client_id: &str) -> Result<ClientInfo, ApiError> {
        let row = store::get_client(&self.db, client_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("client {client_id} not found")))?;
        Ok(self.client_info(&row, None))
    }

    pub async fn list_clients(
        &self,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<ClientInfo>, Option<String>), ApiError> {
        let rows = store::list_clients(&self.db, prefix, after, limit as i64 + 1).await?;
        let more = rows.len() > limit;
        let page: Vec<ClientInfo> = rows
            .iter()
            .take(limit)
            .map(|r| self.client_info(r, None))
            .collect();
        let next = if more {
            page.last().map(|c| c.client_id.clone())
        } else {
            None
        };
        Ok((page, next))
    }

    pub async fn create_client(
        &self,
        client_id: &str,
        input: CreateClient,
    ) -> Result<ClientInfo, ApiError> {
        validate_client_id(client_id)?;
        if client_id.starts_with(STATIC_PREFIX) {
            return Err(ApiError::input(format!(
                "clientId {client_id:?} starts with {STATIC_PREFIX:?}, which is reserved for \
                 statically configured clients"
            )));
        }
        validate_grants(&input.scopes)?;
        let now = Timestamp::now();
        let token = new_access_token();
        let row = ClientRow {
            client_id: client_id.to_string(),
            description: input.description,
            sealed_access_token: self.cipher.seal(token.as_bytes()),
            scopes: input.scopes,
            expires: input.expires,
            delete_on_expiration: input.delete_on_expiration,
            disabled: false,
            created: now,
            last_modified: now,
            last_date_used: now,
            last_rotated: now,
            static_client: false,
        };
        let mut tx = self.db.begin().await?;
        if !store::insert_client(&mut tx, &row).await? {
            return Err(ApiError::conflict(format!(
                "client {client_id} already exists"
            )));
        }
        self.commit_with_event(tx, client_event(Change::Created, client_id))
            .await?;
        Ok(self.client_info(&row, Some(token)))
    }

    /// Applies `change` to an existing non-static client in one transaction.
    async fn modify_client(
        &self,
        client_id: &str,
        change: impl FnOnce(&mut ClientRow) -> Result<Option<String>, ApiError>,
    ) -> Result<ClientInfo, ApiError> {
        let mut tx = self.db.begin().await?;
        let mut row = store::get_client_tx(&mut tx, client_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("client {client_id} not found")))?;
        if row.static_client {
            return Err(ApiError::input(format!(
                "{client_id} is a static client; change it in configuration"
            )));
        }
        let token = change(&mut row)?;
        row.last_modified = Timestamp::now();
        store::update_client(&mut tx, &row).await?;
        self.commit_with_event(tx, client_event(Change::Updated, client_id))
            .await?;
        Ok(self.client_info(&row, token))
    }

    /// The scopes an update would add to the client, which the caller must hold.
    pub async fn scopes_added_to_client(
        &self,
        client_id: &str,
        scopes: &[String],
    ) -> Result<Vec<String>, ApiError> {
        let existing = store::get_client(&self.db, client_id)
            .await?
            .map(|r| r.scopes)
            .unwrap_or_default();
        Ok(scopes
            .iter()
            .filter(|s| !existing.contains(s))
            .cloned()
            .collect())
    }

    pub async fn update_client(
        &self,
        client_id: &str,
        input: UpdateClient,
    ) -> Result<ClientInfo, ApiError> {
        if let Some(scopes) = &input.scopes {
            validate_grants(scopes)?;
        }
        self.modify_client(client_id, |row| {
            row.description = input.description;
            row.expires = input.expires;
            if let Some(scopes) = input.scopes {
                row.scopes = scopes;
            }
            if let Some(d) = input.delete_on_expiration {
                row.delete_on_expiration = d;
            }
            Ok(None)
        })
        .await
    }

    pub async fn reset_access_token(&self, client_id: &str) -> Result<ClientInfo, ApiError> {
        let token = new_access_token();
        let sealed = self.cipher.seal(token.as_bytes());
        self.modify_client(client_id, |row| {
            row.sealed_access_token = sealed;
            row.last_rotated = Timestamp::now();
            Ok(Some(token))
        })
        .await
    }

    pub async fn set_client_disabled(
        &self,
        client_id: &str,
        disabled: bool,
    ) -> Result<ClientInfo, ApiError> {
        self.modify_client(client_id, |row| {
            row.disabled = disabled;
            Ok(None)
        })
        .await
    }

    pub async fn delete_client(&self, client_id: &str) -> Result<(), ApiError> {
        let mut tx = self.db.begin().await?;
        if let Some(row) = store::get_client_tx(&mut tx, client_id).await? {
            if row.static_client {
                return Err(ApiError::input(format!(
                    "{client_id} is a static client; remove it from configuration"
                )));
            }
            store::delete_client(&mut tx, client_id).await?;
        }
        // Announced whether or not the client existed, as Taskcluster does.
        self.commit_with_event(tx, client_event(Change::Deleted, client_id))
            .await
    }

    pub async fn get_role(&self, role_id: &str) -> Result<RoleInfo, ApiError> {
        let roles = store::all_roles(&self.db).await?;
        let row = roles
            .iter()
            .find(|r| r.role_id == role_id)
            .ok_or_else(|| ApiError::not_found(format!("role {role_id} not found")))?;
        Ok(self.role_info(row))
    }

    pub async fn list_roles(&self) -> Result<Vec<RoleInfo>, ApiError> {
        let roles = store::all_roles(&self.db).await?;
        Ok(roles.iter().map(|r| self.role_info(r)).collect())
    }

    pub async fn role_scopes(&self, role_id: &str) -> Result<Option<Vec<String>>, ApiError> {
        let roles = store::all_roles(&self.db).await?;
        Ok(roles
            .into_iter()
            .find(|r| r.role_id == role_id)
            .map(|r| r.scopes))
    }

    /// Creates (`create = true`, 409 if it exists with other content) or updates (404 if
    /// missing) a role, after checking the whole role set still expands (no parameter cycles).
    pub async fn put_role(
        &self,
        role_id: &str,
        input: RoleInput,
        create: bool,
    ) -> Result<RoleInfo, ApiError> {
        validate_role_id(role_id)?;
        validate_grants(&input.scopes)?;
        let now = Timestamp::now();
        let mut tx = self.db.begin().await?;
        let mut roles = store::lock_roles(&mut tx).await?;
        let existing = roles.iter().position(|r| r.role_id == role_id);
        let row = match (existing, create) {
            (Some(i), true) => {
                let r = roles[i].clone();
                if r.scopes != input.scopes || r.description != input.description {
                    return Err(ApiError::conflict(format!("role {role_id} already exists")));
                }
                // A repeated create is a success and, as in Taskcluster, announced again.
                self.commit_with_event(tx, role_event(Change::Created, role_id))
                    .await?;
                return Ok(self.role_info(&r));
            }
            (None, false) => return Err(ApiError::not_found(format!("role {role_id} not found"))),
            (Some(i), false) => {
                let r = &mut roles[i];
                r.description = input.description;
                r.scopes = input.scopes;
                r.last_modified = now;
                r.clone()
            }
            (None, true) => {
                let r = RoleRow {
                    role_id: role_id.to_string(),
                    description: input.description,
                    scopes: input.scopes,
                    created: now,
                    last_modified: now,
                };
                roles.push(r.clone());
                r
            }
        };
        AuthService::check_roles(roles.iter().map(RoleRow::role).collect::<Vec<Role>>())?;
        store::upsert_role(&mut tx, &row).await?;
        let change = if create {
            Change::Created
        } else {
            Change::Updated
        };
        self.commit_with_event(tx, role_event(change, role_id))
            .await?;
        Ok(self.role_info(&row))
    }

    pub async fn delete_role(&self, role_id: &str) -> Result<(), ApiError> {
        let mut tx = self.db.begin().await?;
        store::lock_roles(&mut tx).await?;
        store::delete_role(&mut tx, role_id).await?;
        self.commit_with_event(tx, role_event(Change::Deleted, role_id))
            .await
    }

    /// Writes `event` to the outbox in `tx`, commits both, then wakes the publisher and tells
    /// every server to reload: a change and its event commit together or not at all.
    async fn commit_with_event(
        &self,
        mut tx: Tx,
        event: relyard_events::Event,
    ) -> Result<(), ApiError> {
        relyard_events::enqueue(&mut tx, &event).await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.bus.kick();
        self.changed().await
    }
}
