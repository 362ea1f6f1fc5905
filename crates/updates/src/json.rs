//! The `/json/1` and `/json/2` routes (Guardian / Mozilla VPN), Balrog's
//! `web/public/json.py`: the path fields go to the rules as they are, and
//! the answer is the release's JSON, or 404 without a body.

use serde_json::Value;

use crate::answer::{common_headers, error_answer, evaluate, rule_answer, Answer, Catalog};
use crate::blobs::Release;
use crate::error::{Result, UpdatesError};
use crate::request::{parse_query_string, Force, UpdateQuery};
use crate::rules::{Dice, Rule};

/// Werkzeug's NotFound text, which Balrog sends for unknown non-/update paths.
const NOT_FOUND: &str =
    "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Why a `/json/...` request has no query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonParseError {
    NoRoute,
    ExtraQueryParameter(String),
}

/// `/json/1/{product}/{version}/{buildTarget}/{channel}/update.json` and
/// `/json/2/…/{channel}/{osVersion}/update.json`. The query carries only
/// these fields; the others match as Balrog's defaults (`""`, or absent so
/// that rules with headerArchitecture or distVersion never match).
pub fn parse_json_url(
    path: &str,
    query_string: Option<&str>,
) -> std::result::Result<UpdateQuery, JsonParseError> {
    let path = decode(path);
    let rest = path.strip_prefix("/json/").ok_or(JsonParseError::NoRoute)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let (n, fields) = match segments.as_slice() {
        ["1", p, v, bt, ch, "update.json"] => (1, [*p, *v, *bt, *ch, ""]),
        ["2", p, v, bt, ch, os, "update.json"] => (2, [*p, *v, *bt, *ch, *os]),
        _ => return Err(JsonParseError::NoRoute),
    };
    if fields[..4].iter().any(|f| f.is_empty()) || (n == 2 && fields[4].is_empty()) {
        return Err(JsonParseError::NoRoute);
    }
    let args = parse_query_string(query_string.unwrap_or(""));
    if let Some(extra) = args.keys().find(|k| k.as_str() != "force") {
        return Err(JsonParseError::ExtraQueryParameter(extra.clone()));
    }
    let [product, version, build_target, channel, os_version] = fields.map(String::from);
    Ok(UpdateQuery {
        query_version: 0,
        product,
        version,
        build_id: String::new(),
        build_target,
        locale: String::new(),
        channel,
        os_version,
        distribution: Some(String::new()),
        dist_version: None,
        instruction_set: Some(String::new()),
        memory: None,
        jaws: None,
        header_architecture: None,
        force: match args.get("force").map(String::as_str) {
            Some("1") => Some(Force::Main),
            Some("-1") => Some(Force::Fallback),
            _ => None,
        },
        mig64: None,
        pin: None,
    })
}

/// `json.dumps` with Python's defaults: `", "` and `": "` separators and
/// non-ASCII escaped as `\uXXXX`.
pub fn py_json(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let raw = serde_json::to_string(s).unwrap_or_default();
            let mut out = String::with_capacity(raw.len());
            for c in raw.chars() {
                if c.is_ascii() {
                    out.push(c);
                } else {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
            out
        }
        Value::Array(a) => format!("[{}]", a.iter().map(py_json).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => object(o.iter().map(|(k, v)| (k.as_str(), v))),
        other => other.to_string(),
    }
}

fn object<'a>(fields: impl Iterator<Item = (&'a str, &'a Value)>) -> String {
    let parts: Vec<String> = fields
        .map(|(k, v)| format!("{}: {}", py_json(&Value::String(k.into())), py_json(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn not_found(body: &str, content_type: &str) -> Answer {
    Answer {
        status: 404,
        headers: common_headers(content_type),
        body: body.into(),
    }
}

/// Answers one `/json/...` request as Balrog's public app does.
pub fn answer_json(path: &str, query: Option<&str>, catalog: &Catalog, dice: &dyn Dice) -> Answer {
    let q = match parse_json_url(path, query) {
        Ok(q) => q,
        Err(JsonParseError::NoRoute) => return not_found(NOT_FOUND, "text/plain; charset=utf-8"),
        Err(JsonParseError::ExtraQueryParameter(name)) => {
            return crate::answer::extra_parameter(&name)
        }
    };
    match respond(&q, catalog, dice) {
        Ok(Some((body, rule))) => rule_answer("application/json", body, rule),
        // Flask's bare Response(status=404): an empty text/html body.
        Ok(None) => not_found("", "text/html; charset=utf-8"),
        Err(e) => error_answer(&e),
    }
}

fn respond<'a>(
    q: &UpdateQuery,
    catalog: &'a Catalog,
    dice: &dyn Dice,
) -> Result<Option<(String, Option<&'a Rule>)>> {
    let decision = evaluate(catalog, q, dice)?;
    let Some((release, _)) = decision.release else {
        return Ok(None);
    };
    let Release::Guardian(g) = release else {
        // Balrog has no JSON form for other blobs and fails (500).
        return Err(UpdatesError::Internal(format!(
            "{} has no JSON response",
            release.name()
        )));
    };
    let fields = g.response(q, &catalog.allowlist);
    Ok(Some((
        object(fields.iter().map(|(k, v)| (*k, v))),
        decision.rule,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_json_dumps() {
        assert_eq!(
            py_json(&json!({"a": [1, true, null], "b": "é\"x"})),
            r#"{"a": [1, true, null], "b": "\u00e9\"x"}"#
        );
        assert_eq!(py_json(&json!("😀")), r#""\ud83d\ude00""#);
    }

    #[test]
    fn json_urls() {
        let q = parse_json_url(
            "/json/1/Guardian/0.4.0.0/WINNT_x86_64/release/update.json",
            Some("force=1"),
        )
        .unwrap();
        assert_eq!(
            (
                q.product.as_str(),
                q.version.as_str(),
                q.os_version.as_str()
            ),
            ("Guardian", "0.4.0.0", "")
        );
        assert_eq!(q.force, Some(Force::Main));
        let q = parse_json_url(
            "/json/2/Guardian/1/WINNT_x86_64/release/Windows%2010/update.json",
            None,
        )
        .unwrap();
        assert_eq!(q.os_version, "Windows 10");
        assert_eq!(
            parse_json_url("/json/1/Guardian/1/WINNT/update.json", None),
            Err(JsonParseError::NoRoute)
        );
        assert_eq!(
            parse_json_url("/json/1/G/1/W/r/update.json", Some("pin=1.")),
            Err(JsonParseError::ExtraQueryParameter("pin".into()))
        );
    }
}
