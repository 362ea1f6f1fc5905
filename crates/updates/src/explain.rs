//! A dry run of one update URL over a catalog: the query as parsed, every rule that outranks
//! the one that decided and the column that ruled it out, the decision (shutoff, dice, "never
//! update backwards") and the document the client would get. Behind
//! `GET /api/updates/v1/explain?url=…` and `relyard updates explain`.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use relyard_core::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::answer::{answer, evaluate, Catalog, UpdateRequest};
use crate::matching::{
    fallback_channel, match_boolean, match_build_id, match_channel, match_csv, match_memory,
    match_simple_expression, match_version, VersionClass,
};
use crate::request::{parse_update_url, ParseError, UpdateQuery};
use crate::rules::{is_shut_off, rule_matches, Rule};
use crate::service::UpdatesService;

/// A rule that outranks the deciding one, and why it did not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PassedOver {
    pub rule_id: i64,
    pub alias: Option<String>,
    pub priority: Option<i64>,
    /// The first column that ruled the rule out, in Balrog's order, e.g.
    /// `channel: rule "beta*" vs "release"`.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The URL path (and query) that was explained.
    pub url: String,
    /// The fields Balrog reads from the URL; null when the URL is not an update URL.
    pub query: Option<Value>,
    pub shut_off: bool,
    /// The rule that decided (null: none applies).
    pub rule: Option<Rule>,
    /// Rules evaluated before the deciding one (higher priority, or equal and a lower id).
    pub passed_over: Vec<PassedOver>,
    /// What the rule's backgroundRate does: who gets `mapping` and who `fallbackMapping`.
    pub dice: Option<String>,
    /// The release served when the dice picks the mapping (or no dice is rolled).
    pub release: Option<String>,
    pub status: u16,
    /// The document a client gets when the dice picks the mapping.
    pub xml: String,
    /// The document when the dice picks the fallback (only when the rate is below 100).
    pub fallback_xml: Option<String>,
}

/// Explains `url` (a path like `/update/6/…/update.xml`, or a full URL whose path is taken)
/// for a client sending `user_agent`.
pub fn explain(catalog: &Catalog, url: &str, user_agent: Option<&str>) -> Explanation {
    let path_and_query = strip_origin(url);
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let req = UpdateRequest {
        path,
        query,
        user_agent,
    };
    // The dice's two sides: 0 is below any rate above 0, 99 at or above any rate below 100.
    let picked = answer(&req, catalog, &|| 0u8);
    let mut out = Explanation {
        url: path_and_query.to_string(),
        query: None,
        shut_off: false,
        rule: None,
        passed_over: Vec::new(),
        dice: None,
        release: None,
        status: picked.status,
        xml: picked.body,
        fallback_xml: None,
    };
    let q = match parse_update_url(path, query, user_agent) {
        Ok(q) => q,
        Err(ParseError::NoRoute) => return out,
        Err(ParseError::ExtraQueryParameter(_)) => return out,
    };
    out.query = Some(query_json(&q));
    out.shut_off = is_shut_off(&catalog.shutoffs, &q);
    let chosen = evaluate(catalog, &q, &|| 0u8).ok().and_then(|d| {
        out.release = d.release.map(|(r, _)| r.name().to_string());
        d.rule.cloned()
    });
    out.passed_over = outranking(&catalog.rules, chosen.as_ref())
        .filter(|r| !rule_matches(r, &q).unwrap_or(false))
        .map(|r| PassedOver {
            rule_id: r.rule_id,
            alias: r.alias.clone(),
            priority: r.priority,
            reason: mismatch(r, &q),
        })
        .collect();
    if let Some(rule) = &chosen {
        let rate = rule.background_rate.unwrap_or(100);
        if rate < 100 && q.force.is_none() {
            out.dice = Some(format!(
                "backgroundRate {rate}: {rate}% of clients get {}, the rest {}",
                rule.mapping.as_deref().unwrap_or("no update"),
                rule.fallback_mapping.as_deref().unwrap_or("no update")
            ));
            out.fallback_xml = Some(answer(&req, catalog, &|| 99u8).body);
        } else if q.force.is_some() {
            out.dice = Some("force is set: the dice is not rolled".into());
        }
    }
    out.rule = chosen;
    out
}

/// The rules Balrog would prefer to `chosen` (all of them when nothing applies), best first.
fn outranking<'a>(rules: &'a [Rule], chosen: Option<&Rule>) -> impl Iterator<Item = &'a Rule> {
    let rank = |r: &Rule| (std::cmp::Reverse(r.priority.unwrap_or(0)), r.rule_id);
    let limit = chosen.map(rank);
    let mut ahead: Vec<&Rule> = rules
        .iter()
        .filter(|r| limit.is_none_or(|l| rank(r) < l))
        .collect();
    ahead.sort_by_key(|r| rank(r));
    ahead.into_iter()
}

/// The first column (in Balrog's order) that rules `rule` out for `q`.
fn mismatch(rule: &Rule, q: &UpdateQuery) -> String {
    let show = |v: Option<&str>| v.map(|s| format!("{s:?}")).unwrap_or_else(|| "none".into());
    let exact: [(&str, &Option<String>, Option<&str>); 4] = [
        ("product", &rule.product, Some(q.product.as_str())),
        (
            "buildTarget",
            &rule.build_target,
            Some(q.build_target.as_str()),
        ),
        (
            "headerArchitecture",
            &rule.header_architecture,
            q.header_architecture.as_deref(),
        ),
        ("distVersion", &rule.dist_version, q.dist_version.as_deref()),
    ];
    for (name, col, value) in exact {
        if let Some(c) = col {
            if value != Some(c.as_str()) {
                return format!("{name}: rule {c:?} vs {}", show(value));
            }
        }
    }
    let fallback = fallback_channel(&q.channel);
    let checks: [(&str, &Option<String>, String, Result<bool, _>); 6] = [
        (
            "channel",
            &rule.channel,
            format!("{:?}", q.channel),
            Ok(match_channel(rule.channel.as_deref(), &q.channel, fallback)),
        ),
        (
            "version",
            &rule.version,
            format!("{:?}", q.version),
            match_version(
                rule.version.as_deref(),
                &q.version,
                VersionClass::for_product(&q.product),
            ),
        ),
        (
            "buildID",
            &rule.build_id,
            format!("{:?}", q.build_id),
            match_build_id(rule.build_id.as_deref(), &q.build_id),
        ),
        (
            "memory",
            &rule.memory,
            q.memory
                .map(|m| m.to_string())
                .unwrap_or_else(|| "none".into()),
            match_memory(rule.memory.as_deref(), q.memory),
        ),
        (
            "osVersion",
            &rule.os_version,
            format!("{:?}", q.os_version),
            Ok(match_simple_expression(
                rule.os_version.as_deref(),
                &q.os_version,
            )),
        ),
        (
            "instructionSet",
            &rule.instruction_set,
            show(q.instruction_set.as_deref()),
            Ok(match_csv(
                rule.instruction_set.as_deref(),
                q.instruction_set.as_deref(),
            )),
        ),
    ];
    for (name, c, value, result) in checks {
        match result {
            Ok(true) => {}
            Ok(false) => return format!("{name}: rule {:?} vs {value}", col(c)),
            Err(e) => return format!("{name}: rule {:?} cannot be compared: {e}", col(c)),
        }
    }
    let lists: [(&str, &Option<String>, Option<&str>); 2] = [
        (
            "distribution",
            &rule.distribution,
            q.distribution.as_deref(),
        ),
        ("locale", &rule.locale, Some(q.locale.as_str())),
    ];
    for (name, c, value) in lists {
        if !match_csv(c.as_deref(), value) {
            return format!("{name}: {value:?} is not in rule {:?}", col(c));
        }
    }
    if !match_boolean(rule.mig64, q.mig64) {
        return format!("mig64: rule {:?} vs {:?}", rule.mig64, q.mig64);
    }
    if !match_boolean(rule.jaws, q.jaws) {
        return format!("jaws: rule {:?} vs {:?}", rule.jaws, q.jaws);
    }
    "does not apply".into()
}

fn query_json(q: &UpdateQuery) -> Value {
    json!({
        "product": q.product, "version": q.version, "buildID": q.build_id,
        "buildTarget": q.build_target, "locale": q.locale, "channel": q.channel,
        "osVersion": q.os_version, "distribution": q.distribution,
        "distVersion": q.dist_version, "instructionSet": q.instruction_set,
        "memory": q.memory, "jaws": q.jaws, "headerArchitecture": q.header_architecture,
        "force": q.force.map(|f| format!("{f:?}")), "mig64": q.mig64, "pin": q.pin,
    })
}

fn col(c: &Option<String>) -> &str {
    c.as_deref().unwrap_or("")
}

/// `https://host/update/…?x` → `/update/…?x`; a path is kept as it is.
fn strip_origin(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => url,
    }
}

#[derive(Deserialize)]
struct ExplainParams {
    url: Option<String>,
    /// The User-Agent the client would send (it decides headerArchitecture).
    ua: Option<String>,
}

/// `GET /explain?url=…[&ua=…]`, to be nested with the admin API (it is behind authentication
/// there, like every admin route, though it reads nothing a client could not ask for).
pub fn router(service: UpdatesService) -> Router {
    Router::new()
        .route("/explain", get(explain_handler))
        .with_state(service)
}

async fn explain_handler(
    State(service): State<UpdatesService>,
    Query(p): Query<ExplainParams>,
) -> Result<Json<Explanation>, ApiError> {
    let url = p
        .url
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::invalid_arguments("give the update URL as ?url=…"))?;
    Ok(Json(explain(&service.catalog(), &url, p.ua.as_deref())))
}
