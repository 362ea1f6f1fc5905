//! Balrog's permissions as relyard scopes: the one place that says which scope an admin action
//! needs. Balrog's `admin` permission is `updates:admin`; a permission restricted to products
//! becomes one scope per product, `updates:<thing>:<action>:<product>`; a change to something
//! without a product (a rule matching every product) needs the unrestricted permission, which
//! is the literal scope `…:<action>:*` (held by `updates:<thing>:*` or
//! `updates:<thing>:<action>:*`, not by a per-product scope). Sign-off roles are
//! `updates:role:<role>`.

use relyard_auth::scopes::ScopeExpr;
use relyard_auth::Caller;

use super::error::AdminResult;

/// Everything, like Balrog's `admin` permission without options.
pub const ADMIN: &str = "updates:admin";

/// Enacting a scheduled change by hand (Balrog's `scheduled_change` `enact`).
pub const ENACT: &str = "updates:scheduled_change:enact";

/// Seeing another user's permissions and roles (Balrog's `permission` `view`).
pub const VIEW_PERMISSIONS: &str = "updates:permission:view";

/// What an action is done to: Balrog's permission names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thing {
    Rule,
    Release,
    ReleaseReadOnly,
    ReleaseLocale,
    EmergencyShutoff,
    RequiredSignoff,
    PinnableRelease,
}

impl Thing {
    fn as_str(self) -> &'static str {
        match self {
            Thing::Rule => "rule",
            Thing::Release => "release",
            Thing::ReleaseReadOnly => "release_read_only",
            Thing::ReleaseLocale => "release_locale",
            Thing::EmergencyShutoff => "emergency_shutoff",
            Thing::RequiredSignoff => "required_signoff",
            Thing::PinnableRelease => "pinnable_release",
        }
    }
}

/// The scope expression for `action` on `thing` of `product` (None: every product).
pub fn permission(thing: Thing, action: &str, product: Option<&str>) -> ScopeExpr {
    let product = product.unwrap_or("*");
    ScopeExpr::any_of([
        ScopeExpr::scope(ADMIN),
        ScopeExpr::scope(format!("updates:{}:{action}:{product}", thing.as_str())),
    ])
}

/// The scope that makes a caller hold sign-off role `role`.
pub fn role_scope(role: &str) -> String {
    format!("updates:role:{role}")
}

pub fn holds_role(caller: &Caller, role: &str) -> bool {
    caller.satisfies(&ScopeExpr::scope(role_scope(role)))
}

/// The caller must satisfy `action` on `thing` for every product in `products`.
pub fn require(
    caller: &Caller,
    thing: Thing,
    action: &str,
    products: &[Option<&str>],
) -> AdminResult<()> {
    let mut needed: Vec<ScopeExpr> = Vec::new();
    for p in products {
        let expr = permission(thing, action, *p);
        if !needed.contains(&expr) {
            needed.push(expr);
        }
    }
    let expr = match needed.len() {
        1 => needed.remove(0),
        _ => ScopeExpr::all_of(needed),
    };
    Ok(caller.require(&expr)?)
}

/// Balrog's permission list of a caller, read back from its scopes: `{permission: {options,
/// data_version}}` with `options.products` when the scopes name products.
pub fn permissions_of(scopes: &[String]) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::{json, Map, Value};
    let mut out = Map::new();
    let held = |s: &str| relyard_auth::scopes::scope_satisfied(scopes, s);
    if held(ADMIN) {
        out.insert("admin".into(), json!({"options": null, "data_version": 1}));
    }
    if held(ENACT) {
        out.insert(
            "scheduled_change".into(),
            json!({"options": {"actions": ["enact"]}, "data_version": 1}),
        );
    }
    let things = [
        Thing::Rule,
        Thing::Release,
        Thing::ReleaseReadOnly,
        Thing::ReleaseLocale,
        Thing::EmergencyShutoff,
        Thing::RequiredSignoff,
    ];
    for thing in things {
        let prefix = format!("updates:{}:", thing.as_str());
        let mut actions: Vec<String> = Vec::new();
        let mut products: Vec<String> = Vec::new();
        let mut unrestricted = false;
        for s in scopes {
            let Some(rest) = s.strip_prefix(&prefix) else {
                if s.ends_with('*') && prefix.starts_with(&s[..s.len() - 1]) {
                    unrestricted = true;
                    actions.clear();
                }
                continue;
            };
            let (action, product) = rest.split_once(':').unwrap_or((rest, "*"));
            if action == "*" || action.is_empty() {
                unrestricted = true;
                continue;
            }
            if !actions.iter().any(|a| a == action) {
                actions.push(action.to_string());
            }
            if product != "*" && !products.iter().any(|p| p == product) {
                products.push(product.to_string());
            }
        }
        if !unrestricted && actions.is_empty() {
            continue;
        }
        let mut options = Map::new();
        if !unrestricted {
            options.insert("actions".into(), json!(actions));
            if !products.is_empty() {
                options.insert("products".into(), json!(products));
            }
        }
        let options = if options.is_empty() {
            Value::Null
        } else {
            Value::Object(options)
        };
        out.insert(
            thing.as_str().into(),
            json!({"options": options, "data_version": 1}),
        );
    }
    out
}

/// The sign-off roles a caller holds, by name, from its `updates:role:<role>` scopes (a
/// wildcard such as `updates:role:*` is listed as `*`).
pub fn roles_of(scopes: &[String]) -> Vec<String> {
    let mut roles: Vec<String> = scopes
        .iter()
        .filter_map(|s| {
            if s == "*" || s == "updates:*" || s == "updates:role:*" {
                return Some("*".to_string());
            }
            s.strip_prefix("updates:role:").map(str::to_string)
        })
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(scopes: &[&str], expr: &ScopeExpr) -> bool {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        expr.satisfied_by(&scopes)
    }

    #[test]
    fn product_scopes_and_wildcards() {
        let ff = permission(Thing::Rule, "modify", Some("Firefox"));
        let any = permission(Thing::Rule, "modify", None);
        assert!(held(&["updates:rule:modify:Firefox"], &ff));
        assert!(held(&["updates:rule:*"], &ff));
        assert!(held(&["updates:admin"], &ff));
        assert!(!held(&["updates:rule:modify:Thunderbird"], &ff));
        assert!(!held(&["updates:rule:create:Firefox"], &ff));
        // A rule for every product needs the unrestricted permission.
        assert!(!held(&["updates:rule:modify:Firefox"], &any));
        assert!(held(&["updates:rule:modify:*"], &any));
    }

    #[test]
    fn permissions_read_back() {
        let scopes: Vec<String> = ["updates:rule:modify:Firefox", "updates:role:relman"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = permissions_of(&scopes);
        assert_eq!(
            p["rule"]["options"],
            serde_json::json!({"actions": ["modify"], "products": ["Firefox"]})
        );
        assert!(!p.contains_key("admin"));
        assert_eq!(roles_of(&scopes), vec!["relman"]);
    }
}
