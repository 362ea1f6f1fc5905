//! Balrog's public update endpoint as a plain function: a request in, status,
//! headers and body out (`web/public/client.py` + `AUS.evaluateRules`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::allowlist::{DomainAllowlist, ForceHosts};
use crate::blobs::{Release, RenderContext, ServeUpdate, UpdateParts};
use crate::error::{Result, UpdatesError};
use crate::matching::fallback_channel;
use crate::request::{parse_update_url, ParseError, UpdateQuery};
use crate::rules::{choose_mapping, is_shut_off, select_rule, Dice, EmergencyShutoff, Rule};
use crate::versions::PinVersion;
use crate::xml::{document, EMPTY_UPDATES};

/// A pinnable release (bug 1529943): clients pinned to `version` on
/// (`product`, `channel`) are served `mapping` instead of a newer release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnableRelease {
    pub product: String,
    pub channel: String,
    pub version: String,
    pub mapping: String,
}

/// Everything the public endpoint reads: rules (kept in rule_id order, which
/// breaks priority ties as Balrog's table scan does), releases by name,
/// shutoffs, pins and the URL policy.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub rules: Vec<Rule>,
    pub releases: HashMap<String, Release>,
    /// The product column of Balrog's releases table, by release name: the
    /// product a superblob's named blobs are rendered for.
    pub release_products: HashMap<String, String>,
    pub shutoffs: Vec<EmergencyShutoff>,
    pub pins: Vec<PinnableRelease>,
    pub allowlist: DomainAllowlist,
    pub force_hosts: ForceHosts,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            rules: Vec::new(),
            releases: HashMap::new(),
            release_products: HashMap::new(),
            shutoffs: Vec::new(),
            pins: Vec::new(),
            allowlist: DomainAllowlist::balrog_production(),
            force_hosts: ForceHosts::default(),
        }
    }
}

/// What an HTTP request contributes.
#[derive(Debug, Clone, Copy)]
pub struct UpdateRequest<'a> {
    /// The raw (percent-encoded) path, e.g. `/update/3/Firefox/…/update.xml`.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// The HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Which rule decided (the `Rule-ID` / `Rule-Data-Version` headers).
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub rule: Option<&'a Rule>,
    /// The release to serve and the rule's update_type, or None for "no update".
    pub release: Option<(&'a Release, &'a str)>,
}

/// `AUS.evaluateRules`: shutoffs, the best rule, the dice, "never update
/// backwards" and pins.
pub fn evaluate<'a>(
    catalog: &'a Catalog,
    q: &UpdateQuery,
    dice: &dyn Dice,
) -> Result<Decision<'a>> {
    let none = |rule| {
        Ok(Decision {
            rule,
            release: None,
        })
    };
    if is_shut_off(&catalog.shutoffs, q) {
        return none(None);
    }
    let Some(rule) = select_rule(&catalog.rules, q)? else {
        return none(None);
    };
    let Some(mapping) = choose_mapping(rule, q.force, dice) else {
        return none(Some(rule));
    };
    // Balrog refuses to delete a release a rule maps to; a missing one is no update here.
    let Some(mut release) = catalog.releases.get(mapping) else {
        return none(Some(rule));
    };
    match release.should_serve_update(q)? {
        ServeUpdate::No => return none(Some(rule)),
        ServeUpdate::Yes => {}
        ServeUpdate::Maybe => {
            // Past the client's pin: serve the pinned release when there is
            // one; otherwise (deliberately) the newer release.
            let pin = PinVersion::parse(q.pin.as_deref().unwrap_or(""))?.to_string();
            let channel = fallback_channel(&q.channel);
            if let Some(p) = catalog
                .pins
                .iter()
                .find(|p| p.product == q.product && p.channel == channel && p.version == pin)
            {
                match catalog.releases.get(&p.mapping) {
                    Some(r) if r.should_serve_update(q)? != ServeUpdate::No => release = r,
                    _ => return none(Some(rule)),
                }
            }
        }
    }
    Ok(Decision {
        rule: Some(rule),
        release: Some((release, rule.update_type.as_str())),
    })
}

/// Headers Balrog's `after_request` puts on every public response.
pub(crate) fn common_headers(content_type: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", content_type.to_string()),
        ("Strict-Transport-Security", "max-age=31536000;".into()),
        ("X-Content-Type-Options", "nosniff".into()),
        ("Cache-Control", "public, max-age=90".into()),
        (
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'".into(),
        ),
    ]
}

const XML: &str = "text/xml; charset=utf-8";

fn html_escape(s: &str) -> String {
    // Python's html.escape(quote=False).
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(crate) fn error_answer(e: &UpdatesError) -> Answer {
    match e {
        UpdatesError::BadData(msg) => Answer {
            status: 400,
            headers: common_headers("text/plain; charset=utf-8"),
            body: html_escape(msg),
        },
        other => {
            tracing::error!(error = %other, "update request failed");
            let body = serde_json::json!({"status": 500, "title": "Internal Server Error", "type": "about:blank", "detail": "The server encountered an internal error and was unable to complete your request."});
            Answer {
                status: 500,
                headers: common_headers("application/problem+json"),
                body: body.to_string(),
            }
        }
    }
}

/// Connexion's strict validation of query arguments.
pub(crate) fn extra_parameter(name: &str) -> Answer {
    let body = serde_json::json!({
        "detail": format!("Extra query parameter(s) {name} not in spec"),
        "status": 400,
        "title": "Bad Request",
        "type": "about:blank"
    });
    Answer {
        status: 400,
        headers: common_headers("application/problem+json"),
        body: body.to_string(),
    }
}

/// The release's parts; a superblob's body is, for each of its products in
/// order, the lines of the release the rules give that product (rules,
/// dice and all, as Balrog's `evaluate_response_products`), then the lines
/// of each release it names (`evaluate_response_blobs`).
fn render(
    catalog: &Catalog,
    ctx: &RenderContext<'_>,
    release: &Release,
    q: &UpdateQuery,
    update_type: &str,
    dice: &dyn Dice,
) -> Result<UpdateParts> {
    let mut parts = release.render(q, update_type, ctx)?;
    if let Release::Super(superblob) = release {
        for product in superblob.products() {
            let mut pq = q.clone();
            pq.product = product.clone();
            if let Some((r, ut)) = evaluate(catalog, &pq, dice)?.release {
                parts.body.extend(r.render(&pq, ut, ctx)?.body);
            }
        }
        // Named blobs are rendered for their own product, with the
        // superblob rule's update_type, and without rule evaluation.
        for name in superblob.blobs() {
            let Some(r) = catalog.releases.get(name) else {
                tracing::warn!(name, "superblob names a missing release");
                continue;
            };
            let mut pq = q.clone();
            if let Some(p) = catalog.release_products.get(name) {
                pq.product = p.clone();
            }
            parts.body.extend(r.render(&pq, update_type, ctx)?.body);
        }
    }
    Ok(parts)
}

/// Answers one `/update/...` request as Balrog's public app does.
pub fn answer(req: &UpdateRequest<'_>, catalog: &Catalog, dice: &dyn Dice) -> Answer {
    let q = match parse_update_url(req.path, req.query, req.user_agent) {
        Ok(q) => q,
        // Balrog's 404 handler answers unknown /update paths with the empty document.
        Err(ParseError::NoRoute) => {
            return Answer {
                status: 200,
                headers: common_headers(XML),
                body: EMPTY_UPDATES.into(),
            }
        }
        Err(ParseError::ExtraQueryParameter(name)) => return extra_parameter(&name),
    };
    let decision = match evaluate(catalog, &q, dice) {
        Ok(d) => d,
        Err(e) => return error_answer(&e),
    };
    let body = match decision.release {
        None => EMPTY_UPDATES.to_string(),
        Some((release, update_type)) => {
            let ctx = RenderContext {
                allowlist: &catalog.allowlist,
                force_hosts: &catalog.force_hosts,
                releases: &catalog.releases,
            };
            match render(catalog, &ctx, release, &q, update_type, dice) {
                Ok(parts) => document(&parts, release.name(), &q.build_id),
                Err(e) => return error_answer(&e),
            }
        }
    };
    rule_answer(XML, body, decision.rule)
}

/// A 200 with the `Rule-ID` / `Rule-Data-Version` of the deciding rule
/// (`unknown` when none decided).
pub(crate) fn rule_answer(content_type: &str, body: String, rule: Option<&Rule>) -> Answer {
    let mut headers = common_headers(content_type);
    let (id, version) = match rule {
        Some(r) => (r.rule_id.to_string(), r.data_version.to_string()),
        None => ("unknown".to_string(), "unknown".to_string()),
    };
    headers.push(("Rule-ID", id));
    headers.push(("Rule-Data-Version", version));
    Answer {
        status: 200,
        headers,
        body,
    }
}
