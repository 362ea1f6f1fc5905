//! `/releases…`: Balrog's v1 release endpoints. Blobs go in as a JSON string in `data`
//! (balrogclient) or as an object in `blob` (Balrog's `PUT`); writes at an older data_version
//! are merged three ways by the store, as Balrog merges concurrent locale submissions.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use relyard_auth::Caller;
use serde_json::{json, Map, Value};

use super::body::{query_int, Fields};
use super::error::{AdminError, AdminResult};
use super::listing::{distinct_column, history_page, with_data_version};
use super::scopes::{require, Thing};
use super::AdminState;
use crate::store::{self, StoredRelease};

const COLUMNS: [&str; 4] = ["name", "product", "data_version", "read_only"];

pub(super) async fn find(st: &AdminState, name: &str) -> AdminResult<StoredRelease> {
    store::get_release(&st.db, name)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("Release: {name} not found")))
}

/// A release as Balrog's listings show it: everything but the blob.
async fn info(st: &AdminState, r: &StoredRelease) -> AdminResult<Value> {
    Ok(json!({
        "name": r.name,
        "product": r.product,
        "data_version": r.data_version,
        "read_only": r.read_only,
        "rule_ids": store::rules_using(&st.db, &r.name).await?,
        "required_signoffs": store::release_required(&st.db, &r.name).await?,
    }))
}

/// A release that protected rules map to changes only through a scheduled change.
pub(super) async fn refuse_if_protected(st: &AdminState, name: &str) -> AdminResult<()> {
    if store::release_required(&st.db, name).await?.is_empty() {
        return Ok(());
    }
    Err(AdminError::signoff_required(format!(
        "release {name} is mapped to by rules that require signoff; schedule the change with \
         /scheduled_changes/releases"
    )))
}

pub(super) fn name_matches(name: &str, blob: &Value) -> AdminResult<()> {
    match blob.get("name").and_then(Value::as_str) {
        Some(n) if n == name => Ok(()),
        other => Err(AdminError::bad_field(
            "Bad Request",
            format!(
                "name in database ({name}) does not match name in blob ({})",
                other.unwrap_or("None")
            ),
        )),
    }
}

pub(super) fn new_data_version(status: StatusCode, data_version: i64) -> Response {
    (status, Json(json!({"new_data_version": data_version}))).into_response()
}

/// Creates a release a write named before it existed: 201 with its data_version.
pub(super) async fn create_new(
    st: &AdminState,
    caller: &Caller,
    name: &str,
    product: &str,
    blob: &Value,
) -> AdminResult<Response> {
    let r = store::create_release(&st.db, caller.name(), name, product, blob).await?;
    st.changed().await;
    Ok(new_data_version(StatusCode::CREATED, r.data_version))
}

pub async fn list(
    State(st): State<AdminState>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    let mut releases = store::list_releases(&st.db).await?;
    if let Some(p) = q.get("product").filter(|p| !p.is_empty()) {
        releases.retain(|r| &r.product == p);
    }
    if let Some(prefix) = q.get("name_prefix").filter(|p| !p.is_empty()) {
        releases.retain(|r| r.name.starts_with(prefix.as_str()));
    }
    if q.get("names_only").is_some_and(|v| !v.is_empty()) {
        let names: Vec<&str> = releases.iter().map(|r| r.name.as_str()).collect();
        return Ok(Json(json!({"names": names})));
    }
    let mut out = Vec::new();
    for r in &releases {
        out.push(info(&st, r).await?);
    }
    Ok(Json(json!({"releases": out})))
}

pub async fn get_one(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> AdminResult<Response> {
    let r = find(&st, &name).await?;
    Ok(with_data_version(Json(r.data), r.data_version))
}

/// `POST /releases` with `{name, product, blob}`: a new release.
pub async fn create(
    State(st): State<AdminState>,
    caller: Caller,
    fields: Fields,
) -> AdminResult<Response> {
    let name = fields.required_str("name")?.to_string();
    let product = fields.required_str("product")?.to_string();
    let blob = blob_of(&fields)?.ok_or_else(|| super::body::missing("blob"))?;
    name_matches(&name, &blob)?;
    require(&caller, Thing::Release, "create", &[Some(&product)])?;
    if store::get_release(&st.db, &name).await?.is_some() {
        return Err(AdminError::bad_field(
            &format!("Release: {name} already exists"),
            "Database already contains the release",
        ));
    }
    let r = store::create_release(&st.db, caller.name(), &name, &product, &blob).await?;
    st.changed().await;
    Ok(new_data_version(StatusCode::CREATED, r.data_version))
}

/// The blob of a body: `blob` (an object) or `data` (a JSON string or an object).
fn blob_of(fields: &Fields) -> AdminResult<Option<Value>> {
    let blob = match fields.json_doc("blob")? {
        Some(b) => Some(b),
        None => fields.json_doc("data")?,
    };
    match blob {
        Some(b) if !b.is_object() => Err(AdminError::bad_field(
            "Invalid Blob",
            "the blob must be a JSON object",
        )),
        other => Ok(other),
    }
}

/// `PUT /releases/<name>`: creates the release, or replaces its blob (data_version required).
pub async fn ensure(
    State(st): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    fields: Fields,
) -> AdminResult<Response> {
    let blob = blob_of(&fields)?.ok_or_else(|| super::body::missing("blob"))?;
    name_matches(&name, &blob)?;
    let product = fields.str("product")?.map(str::to_string);
    match store::get_release(&st.db, &name).await? {
        None => {
            let product = product.ok_or_else(|| super::body::missing("product"))?;
            require(&caller, Thing::Release, "create", &[Some(&product)])?;
            store::create_release(&st.db, caller.name(), &name, &product, &blob).await?;
            st.changed().await;
            Ok(StatusCode::CREATED.into_response())
        }
        Some(old) => {
            let data_version = fields
                .int("data_version")?
                .ok_or_else(|| AdminError::bad_request("data_version field is missing"))?;
            let products = [Some(old.product.as_str()), product.as_deref()];
            require(&caller, Thing::Release, "modify", &products)?;
            refuse_if_protected(&st, &name).await?;
            let r = store::update_release_with(
                &st.db,
                caller.name(),
                &name,
                product.as_deref(),
                data_version,
                |_| Ok(blob),
            )
            .await?;
            st.changed().await;
            Ok(new_data_version(StatusCode::OK, r.data_version))
        }
    }
}

/// The parts of Balrog's `changeRelease` form both `POST /releases/<name>` and the locale
/// `PUT` read.
pub(super) struct ReleaseForm {
    pub(super) product: String,
    pub(super) data: Value,
    data_version: Option<i64>,
    schema_version: Option<i64>,
    hash_function: Option<String>,
}

impl ReleaseForm {
    pub(super) fn parse(fields: &Fields) -> AdminResult<ReleaseForm> {
        let product = fields.required_str("product")?.to_string();
        let data = fields
            .json_doc("data")?
            .ok_or_else(|| super::body::missing("data"))?;
        if !data.is_object() {
            return Err(AdminError::bad_field(
                "Bad Request",
                "data must be a JSON object",
            ));
        }
        let schema_version = match fields.int("schema_version")? {
            Some(v) => Some(v),
            None => data.get("schema_version").and_then(Value::as_i64),
        };
        let hash_function = match fields.str("hashFunction")? {
            Some(h) => Some(h.to_string()),
            None => data
                .get("hashFunction")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        Ok(ReleaseForm {
            product,
            data,
            data_version: fields.int("data_version")?,
            schema_version,
            hash_function,
        })
    }

    /// The blob Balrog starts a release with when a write names one that does not exist.
    pub(super) fn fresh_blob(&self, name: &str) -> AdminResult<Map<String, Value>> {
        let Some(schema_version) = self.schema_version else {
            return Err(AdminError::bad_request("schema_version is required"));
        };
        let mut blob = Map::new();
        blob.insert("name".into(), json!(name));
        blob.insert("schema_version".into(), json!(schema_version));
        if let Some(h) = &self.hash_function {
            blob.insert("hashFunction".into(), json!(h));
        }
        Ok(blob)
    }

    /// Balrog's checks against an existing release: a data_version, the same product and
    /// hash function.
    pub(super) fn check_existing(&self, old: &StoredRelease) -> AdminResult<i64> {
        let Some(dv) = self.data_version else {
            return Err(AdminError::bad_request(
                "Release exists, data_version must be provided",
            ));
        };
        if self.product != old.product {
            return Err(AdminError::bad_request(format!(
                "Product name '{}' doesn't match the one on the release object ('{}') for \
                 release '{}'",
                self.product, old.product, old.name
            )));
        }
        let current = old.data.get("hashFunction").and_then(Value::as_str);
        if let (Some(cur), Some(given)) = (current, self.hash_function.as_deref()) {
            if cur != given {
                return Err(AdminError::bad_request(format!(
                    "hashFunction '{given}' doesn't match the one on the release object \
                     ('{cur}') for release '{}'",
                    old.name
                )));
            }
        }
        Ok(dv)
    }
}

/// Balrog's `dict.update`: the top-level keys given replace the blob's.
fn shallow_update(base: &Value, incoming: &Value) -> Value {
    let mut out = base.as_object().cloned().unwrap_or_default();
    if let Some(m) = incoming.as_object() {
        for (k, v) in m {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// `POST /releases/<name>`: the top-level keys of `data` replace the blob's; a release that
/// does not exist is created (201).
pub async fn merge_post(
    State(st): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    fields: Fields,
) -> AdminResult<Response> {
    let form = ReleaseForm::parse(&fields)?;
    match store::get_release(&st.db, &name).await? {
        None => {
            require(&caller, Thing::Release, "create", &[Some(&form.product)])?;
            let blob = shallow_update(&Value::Object(form.fresh_blob(&name)?), &form.data);
            name_matches(&name, &blob)?;
            create_new(&st, &caller, &name, &form.product, &blob).await
        }
        Some(old) => {
            let dv = form.check_existing(&old)?;
            require(&caller, Thing::Release, "modify", &[Some(&old.product)])?;
            refuse_if_protected(&st, &name).await?;
            let incoming = form.data.clone();
            let r = store::update_release_with(&st.db, caller.name(), &name, None, dv, |cur| {
                Ok(shallow_update(&cur.data, &incoming))
            })
            .await?;
            st.changed().await;
            Ok(new_data_version(StatusCode::OK, r.data_version))
        }
    }
}

pub async fn delete(
    State(st): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Response> {
    let old = find(&st, &name).await?;
    let dv = query_int(&q, "data_version")?.ok_or_else(|| super::body::missing("data_version"))?;
    require(&caller, Thing::Release, "delete", &[Some(&old.product)])?;
    store::delete_release(&st.db, caller.name(), &name, dv).await?;
    st.changed().await;
    Ok(StatusCode::OK.into_response())
}

pub async fn get_read_only(
    State(st): State<AdminState>,
    Path(name): Path<String>,
) -> AdminResult<Json<Value>> {
    let r = find(&st, &name).await?;
    Ok(Json(json!({"read_only": r.read_only})))
}

/// `PUT /releases/<name>/read_only {read_only, data_version}`.
pub async fn put_read_only(
    State(st): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    fields: Fields,
) -> AdminResult<Response> {
    let read_only = fields
        .bool("read_only")?
        .ok_or_else(|| super::body::missing("read_only"))?;
    let dv = fields.required_int("data_version")?;
    let new = change_read_only(&st, &caller, &name, read_only, dv).await?;
    Ok(new_data_version(StatusCode::CREATED, new))
}

/// Sets or clears read_only of a release at data_version `dv`; answers the new data_version.
/// Making a read-only release read-only again changes nothing; making one writable that
/// protected rules map to needs a scheduled change.
pub(super) async fn change_read_only(
    st: &AdminState,
    caller: &Caller,
    name: &str,
    read_only: bool,
    dv: i64,
) -> AdminResult<i64> {
    let old = find(st, name).await?;
    let action = if read_only { "set" } else { "unset" };
    let product = [Some(old.product.as_str())];
    require(caller, Thing::ReleaseReadOnly, action, &product)?;
    if read_only && old.read_only {
        if dv != old.data_version {
            return Err(crate::store::StoreError::Conflict {
                what: "release",
                key: name.to_string(),
                given: dv,
                current: old.data_version,
            }
            .into());
        }
        return Ok(dv);
    }
    if !read_only {
        refuse_if_protected(st, name).await?;
    }
    let r = store::set_read_only(&st.db, caller.name(), name, read_only, dv).await?;
    st.changed().await;
    Ok(r.data_version)
}

pub async fn revisions(
    State(st): State<AdminState>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> AdminResult<Json<Value>> {
    find(&st, &name).await?;
    let history = store::release_history(&st.db, &name).await?;
    history_page(history, &q, "revisions", |h| {
        let new = h.new.as_ref();
        json!({
            "change_id": h.change_id,
            "changed_by": h.changed_by,
            "timestamp": h.timestamp.millis(),
            "data_version": h.data_version,
            "name": name,
            "product": new.and_then(|n| n.get("product")),
            "read_only": new.and_then(|n| n.get("read_only")),
        })
    })
}

pub async fn column(
    State(st): State<AdminState>,
    Path(column): Path<String>,
) -> AdminResult<Json<Value>> {
    if !COLUMNS.contains(&column.as_str()) {
        return Err(AdminError::not_found("Requested column does not exist"));
    }
    let values = store::list_releases(&st.db)
        .await?
        .into_iter()
        .map(|r| match column.as_str() {
            "name" => json!(r.name),
            "product" => json!(r.product),
            "data_version" => json!(r.data_version),
            _ => json!(r.read_only),
        })
        .collect();
    Ok(distinct_column(column, values))
}
