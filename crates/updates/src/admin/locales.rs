//! `/releases/<name>/builds/<platform>/<locale>`: one locale of a release, what each build
//! machine submits (balrogclient's `SingleLocale`). Submissions from an older data_version
//! are merged three ways by the store, so build machines racing on one release all land.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use http::StatusCode;
use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Caller;
use serde_json::{json, Value};

use super::body::Fields;
use super::error::{AdminError, AdminResult};
use super::listing::with_data_version;
use super::releases::{create_new, find, new_data_version, refuse_if_protected, ReleaseForm};
use super::scopes::{permission, Thing};
use super::AdminState;
use crate::store;

/// A platform named in a blob that is an alias of another resolves to that one.
fn resolved_platform(blob: &Value, platform: &str) -> String {
    blob.pointer(&format!("/platforms/{}/alias", escape(platform)))
        .and_then(Value::as_str)
        .unwrap_or(platform)
        .to_string()
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

pub async fn get_locale(
    State(st): State<AdminState>,
    Path((name, platform, locale)): Path<(String, String, String)>,
) -> AdminResult<Response> {
    let r = find(&st, &name).await?;
    let platform = resolved_platform(&r.data, &platform);
    let pointer = format!(
        "/platforms/{}/locales/{}",
        escape(&platform),
        escape(&locale)
    );
    let Some(data) = r.data.pointer(&pointer) else {
        return Err(AdminError::not_found(format!(
            "Couldn't find locale identified by: {name}, {platform}, {locale}"
        )));
    };
    Ok(with_data_version(Json(data.clone()), r.data_version))
}

/// The blob with `data` as the locale's entry, and `aliases` pointing at the platform.
fn with_locale(
    blob: &Value,
    platform: &str,
    locale: &str,
    data: &Value,
    aliases: &[String],
) -> Value {
    let mut out = blob.as_object().cloned().unwrap_or_default();
    let platforms = out.entry("platforms").or_insert_with(|| json!({}));
    if !platforms.is_object() {
        *platforms = json!({});
    }
    if let Some(ps) = platforms.as_object_mut() {
        let entry = ps.entry(platform).or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        if let Some(p) = entry.as_object_mut() {
            let locales = p.entry("locales").or_insert_with(|| json!({}));
            if !locales.is_object() {
                *locales = json!({});
            }
            if let Some(l) = locales.as_object_mut() {
                l.insert(locale.to_string(), data.clone());
            }
        }
        for a in aliases {
            if !ps.contains_key(a) {
                ps.insert(a.clone(), json!({"alias": platform}));
            }
        }
    }
    Value::Object(out)
}

/// `PUT /releases/<name>/builds/<platform>/<locale>`: one locale of a release (balrogclient's
/// `SingleLocale.update_build`). 201 when the locale is new, 200 when it replaced one.
pub async fn put_locale(
    State(st): State<AdminState>,
    caller: Caller,
    Path((name, platform, locale)): Path<(String, String, String)>,
    fields: Fields,
) -> AdminResult<Response> {
    let form = ReleaseForm::parse(&fields)?;
    let aliases: Vec<String> = match fields.json_doc("alias")? {
        None => Vec::new(),
        Some(v) => serde_json::from_value(v).map_err(|_| {
            AdminError::bad_field("Bad Request", "alias must be a list of platform names")
        })?,
    };
    let locale_scope = |product: &str| {
        ScopeExpr::any_of([
            permission(Thing::ReleaseLocale, "modify", Some(product)),
            permission(Thing::Release, "modify", Some(product)),
        ])
    };
    match store::get_release(&st.db, &name).await? {
        None => {
            caller.require(&ScopeExpr::all_of([
                permission(Thing::Release, "create", Some(&form.product)),
                locale_scope(&form.product),
            ]))?;
            let fresh = Value::Object(form.fresh_blob(&name)?);
            let blob = with_locale(&fresh, &platform, &locale, &form.data, &aliases);
            create_new(&st, &caller, &name, &form.product, &blob).await
        }
        Some(old) => {
            let dv = form.check_existing(&old)?;
            caller.require(&locale_scope(&old.product))?;
            refuse_if_protected(&st, &name).await?;
            let existed = {
                let p = resolved_platform(&old.data, &platform);
                let pointer = format!("/platforms/{}/locales/{}", escape(&p), escape(&locale));
                old.data.pointer(&pointer).is_some()
            };
            let data = form.data.clone();
            let r = store::update_release_with(&st.db, caller.name(), &name, None, dv, |cur| {
                let p = resolved_platform(&cur.data, &platform);
                Ok(with_locale(&cur.data, &p, &locale, &data, &aliases))
            })
            .await?;
            st.changed().await;
            let status = if existed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok(new_data_version(status, r.data_version))
        }
    }
}
