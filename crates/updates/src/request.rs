//! `/update/<N>/...` URLs turned into the query Balrog matches rules against
//! (`web/public/client.py`: `getQueryFromURL` and its helpers).

use std::collections::BTreeMap;

/// `force=1` (serve the main mapping, skip the dice) or `force=-1` (always
/// the fallback mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Force {
    Main,
    Fallback,
}

impl Force {
    /// The value appended to force-host URLs.
    pub fn query_value(self) -> &'static str {
        match self {
            Force::Main => "1",
            Force::Fallback => "-1",
        }
    }
}

/// Everything a rule or blob looks at. Fields a URL form does not carry are
/// None, which matters: e.g. a rule with a distribution never matches
/// `/update/1` or `/update/2`, and one with a distVersion neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateQuery {
    /// N of `/update/N/`.
    pub query_version: u32,
    pub product: String,
    pub version: String,
    pub build_id: String,
    pub build_target: String,
    pub locale: String,
    pub channel: String,
    /// `""` for `/update/1` (Balrog injects it so osVersion rules still run).
    pub os_version: String,
    pub distribution: Option<String>,
    pub dist_version: Option<String>,
    pub instruction_set: Option<String>,
    pub memory: Option<i64>,
    pub jaws: Option<bool>,
    pub header_architecture: Option<String>,
    pub force: Option<Force>,
    pub mig64: Option<bool>,
    pub pin: Option<String>,
}

impl UpdateQuery {
    /// A query with the six fields every form has (used by unit tests).
    pub fn for_test(
        product: &str,
        version: &str,
        build_id: &str,
        build_target: &str,
        locale: &str,
        channel: &str,
    ) -> UpdateQuery {
        UpdateQuery {
            query_version: 3,
            product: product.into(),
            version: version.into(),
            build_id: build_id.into(),
            build_target: build_target.into(),
            locale: locale.into(),
            channel: channel.into(),
            os_version: String::new(),
            distribution: None,
            dist_version: None,
            instruction_set: None,
            memory: None,
            jaws: None,
            header_architecture: Some("Intel".into()),
            force: None,
            mig64: None,
            pin: None,
        }
    }
}

/// Why a request gets no update document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not one of the URL forms: Balrog's 404 handler answers 200 with the
    /// empty updates document.
    NoRoute,
    /// A query argument the route does not declare: Connexion's strict
    /// validation answers 400.
    ExtraQueryParameter(String),
}

/// Query arguments each form declares (the public API spec); `pin` is not
/// declared on `/update/2`.
fn allowed_args(n: u32) -> &'static [&'static str] {
    if n == 2 {
        &["avast", "force", "mig64"]
    } else {
        &["avast", "force", "mig64", "pin"]
    }
}

/// Non-ASCII characters become `?` (Balrog's `encode("ascii", "replace")`).
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Decodes a query string as Werkzeug does (`+` is a space; the first value
/// of a repeated name wins).
pub fn parse_query_string(qs: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pair in qs.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode(&k.replace('+', " "));
        let v = decode(&v.replace('+', " "));
        out.entry(k).or_insert(v);
    }
    out
}

/// Parses a path (without the query string) and its query string.
/// `user_agent` decides headerArchitecture for Darwin build targets.
pub fn parse_update_url(
    path: &str,
    query_string: Option<&str>,
    user_agent: Option<&str>,
) -> Result<UpdateQuery, ParseError> {
    // The WSGI server decodes the whole path before Flask routes it, so an
    // encoded `/` (%2F) separates segments too.
    let path = decode(path);
    let rest = path.strip_prefix("/update/").ok_or(ParseError::NoRoute)?;
    let segments: Vec<&str> = rest.split('/').collect();
    // Every form ends in a literal "update.xml" segment.
    if segments.last() != Some(&"update.xml") {
        return Err(ParseError::NoRoute);
    }
    // The version is a literal in each route: "03" is no route.
    let (n, expected): (u32, usize) = match segments[0] {
        "1" => (1, 6),
        "2" => (2, 7),
        "3" => (3, 9),
        "4" => (4, 10),
        "5" => (5, 10),
        "6" => (6, 10),
        _ => return Err(ParseError::NoRoute),
    };
    let fields = &segments[1..segments.len() - 1];
    // Path parameters must be non-empty (Werkzeug's default converter).
    // Werkzeug may instead redirect a path with `//` to its merged form; we
    // answer it as an unknown path (unverified against a live Balrog).
    if fields.iter().any(|f| f.is_empty()) {
        return Err(ParseError::NoRoute);
    }
    if fields.len() != expected {
        return Err(ParseError::NoRoute);
    }
    let args = parse_query_string(query_string.unwrap_or(""));
    if let Some(extra) = args.keys().find(|k| !allowed_args(n).contains(&k.as_str())) {
        return Err(ParseError::ExtraQueryParameter(extra.clone()));
    }
    let f = |i: usize| ascii(fields[i]);
    let mut version = f(1);
    // Bug 1133250: old ESR builds append "esrpre" to the version in /update/3.
    if n == 3 {
        if let Some(v) = version.strip_suffix("esrpre").filter(|v| !v.is_empty()) {
            version = v.to_string();
        }
    }
    let mut q = UpdateQuery {
        query_version: n,
        product: f(0),
        version,
        build_id: f(2),
        build_target: f(3),
        // Some Avast versions prepend "x86 " to the locale (bug 1125231).
        locale: f(4).replace("x86 ", ""),
        channel: f(5),
        os_version: if n == 1 { String::new() } else { f(6) },
        distribution: None,
        dist_version: None,
        instruction_set: None,
        memory: None,
        jaws: None,
        header_architecture: None,
        force: None,
        mig64: None,
        pin: None,
    };
    // Forms without these fields match them as Balrog's `query.get(col, "")`.
    if n <= 5 {
        q.instruction_set = Some(String::new());
    }
    if n <= 2 {
        q.distribution = Some(String::new());
    }
    match n {
        3..=5 => {
            q.distribution = Some(f(7));
            q.dist_version = Some(f(8));
        }
        6 => {
            let caps = SystemCapabilities::parse(fields[7]);
            // Balrog parses the raw segment, before its ASCII clean-up.
            q.instruction_set = caps.instruction_set;
            q.memory = caps.memory;
            q.jaws = caps.jaws;
            q.distribution = Some(f(8));
            q.dist_version = Some(f(9));
        }
        _ => {}
    }
    q.header_architecture = Some(header_architecture(&q.build_target, user_agent).to_string());
    let force = args.get("force").map(|v| ascii(v));
    q.force = match force.as_deref().map(fix_avast_force) {
        Some("1") => Some(Force::Main),
        Some("-1") => Some(Force::Fallback),
        _ => None,
    };
    // "1" is what official clients send; any other value is "not mig64".
    q.mig64 = args.get("mig64").map(|v| v == "1");
    q.pin = args.get("pin").map(|v| ascii(v));
    Ok(q)
}

/// Avast appends `?avast=1` (sometimes as `%3Favast=1`) to a URL that already
/// has `?force=1`; what precedes it is the real force value.
fn fix_avast_force(force: &str) -> &str {
    if !force.contains("avast") {
        return force;
    }
    force
        .split_once('?')
        .or_else(|| force.split_once("%3F"))
        .map(|(f, _)| f)
        .unwrap_or(force)
}

fn header_architecture(build_target: &str, user_agent: Option<&str>) -> &'static str {
    if build_target.starts_with("Darwin") && user_agent.is_some_and(|ua| ua.contains("PPC")) {
        "PPC"
    } else {
        "Intel"
    }
}

/// The `/update/6` systemCapabilities segment, broken down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemCapabilities {
    pub instruction_set: Option<String>,
    pub memory: Option<i64>,
    pub jaws: Option<bool>,
}

/// Python's `int()` on a string: optional surrounding whitespace and sign.
fn py_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

impl SystemCapabilities {
    /// New style (bug 1373367) is `ISET:x,MEM:n,JAWS:b`; old style is `x` or
    /// `x,n`. Unparseable parts leave their field unset.
    pub fn parse(s: &str) -> SystemCapabilities {
        let mut caps = SystemCapabilities::default();
        if s.starts_with("ISET:") {
            for part in s.split(',') {
                let Some((key, value)) = part.split_once(':') else {
                    continue;
                };
                match key {
                    "ISET" => caps.instruction_set = Some(value.to_string()),
                    "MEM" => caps.memory = py_int(value),
                    "JAWS" => caps.jaws = py_int(value).map(|n| n != 0),
                    _ => {}
                }
            }
        } else {
            let parts: Vec<&str> = s.split(',').collect();
            match parts.as_slice() {
                [iset] => caps.instruction_set = Some(iset.to_string()),
                [iset, mem] => {
                    caps.instruction_set = Some(iset.to_string());
                    caps.memory = py_int(mem);
                }
                _ => {}
            }
        }
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(iset: Option<&str>, memory: Option<i64>, jaws: Option<bool>) -> SystemCapabilities {
        SystemCapabilities {
            instruction_set: iset.map(String::from),
            memory,
            jaws,
        }
    }

    // balrog tests/web/test_client.py, TestGetSystemCapabilities.
    #[test]
    fn system_capabilities() {
        assert_eq!(
            SystemCapabilities::parse("ISET:SSE2,MEM:8192"),
            caps(Some("SSE2"), Some(8192), None)
        );
        assert_eq!(
            SystemCapabilities::parse("ISET:SSE2,MEM:8192,JAWS:1"),
            caps(Some("SSE2"), Some(8192), Some(true))
        );
        assert_eq!(
            SystemCapabilities::parse("ISET:SSE2,MEM:8192,JAWS:0"),
            caps(Some("SSE2"), Some(8192), Some(false))
        );
        assert_eq!(
            SystemCapabilities::parse("SSE3"),
            caps(Some("SSE3"), None, None)
        );
        assert_eq!(
            SystemCapabilities::parse("SSE3,8095"),
            caps(Some("SSE3"), Some(8095), None)
        );
        assert_eq!(
            SystemCapabilities::parse("ISET:SSE2,MEM:unknown"),
            caps(Some("SSE2"), None, None)
        );
        assert_eq!(
            SystemCapabilities::parse("ISET:SSE3,MEM:6721,PROC:Intel"),
            caps(Some("SSE3"), Some(6721), None)
        );
        assert_eq!(
            SystemCapabilities::parse("ISET:SSE4_2,MEM:32768,(select*from(select(sleep(20)))a)"),
            caps(Some("SSE4_2"), Some(32768), None)
        );
        assert_eq!(
            SystemCapabilities::parse(
                "ISET:SSE3,MEM:16268,JAWS:0%27%22%60%20%2d%2d%23%c0%22%c0%27%d5%22%d5%27aa"
            ),
            caps(Some("SSE3"), Some(16268), None)
        );
        assert_eq!(SystemCapabilities::parse("a,b,c"), caps(None, None, None));
    }

    #[test]
    fn url_forms() {
        let q = parse_update_url("/update/1/b/1.0/1/p/l/a/update.xml", None, None).unwrap();
        assert_eq!(
            (
                q.query_version,
                q.os_version.as_str(),
                q.dist_version.clone()
            ),
            (1, "", None)
        );
        assert_eq!(
            q.distribution.as_deref(),
            Some(""),
            "Balrog's default for absent columns"
        );
        let q = parse_update_url("/update/2/b/1.0/1/p/l/a/os/update.xml", None, None).unwrap();
        assert_eq!(q.os_version, "os");
        let q = parse_update_url(
            "/update/3/b/1.0esrpre/1/p/l/a/a/d/dv/update.xml",
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            (
                q.version.as_str(),
                q.distribution.as_deref(),
                q.dist_version.as_deref()
            ),
            ("1.0", Some("d"), Some("dv"))
        );
        let q = parse_update_url(
            "/update/4/b/1.0/1/p/x86 l/a/a/d/dv/pv/update.xml",
            Some("force=1%3Favast=1"),
            None,
        )
        .unwrap();
        assert_eq!((q.locale.as_str(), q.force), ("l", Some(Force::Main)));
        let q = parse_update_url(
            "/update/5/b/1.0/1/p/l/a/a/d/dv/imei/update.xml",
            Some("force=-1&mig64=0"),
            None,
        )
        .unwrap();
        assert_eq!((q.force, q.mig64), (Some(Force::Fallback), Some(false)));
        let q = parse_update_url(
            "/update/6/b/1.0/1/Darwin_x86/l/a/a/ISET:SSE3,MEM:2048/d/dv/update.xml",
            Some("mig64=1"),
            Some("PPC Mac"),
        )
        .unwrap();
        assert_eq!(q.instruction_set.as_deref(), Some("SSE3"));
        assert_eq!(q.memory, Some(2048));
        assert_eq!(q.mig64, Some(true));
        assert_eq!(q.header_architecture.as_deref(), Some("PPC"));
        let q = parse_update_url(
            "/update/4/b/1.0/1/p/l/a/a/a/a/1/update.xml",
            Some("force=1?avast=1"),
            None,
        )
        .unwrap();
        assert_eq!(q.force, Some(Force::Main));
    }

    // balrog tests/web/test_client.py, testGetHeaderArchitecture*.
    #[test]
    fn header_architectures() {
        assert_eq!(
            header_architecture("WINNT_x86-msvc", Some("Firefox Intel Windows")),
            "Intel"
        );
        assert_eq!(
            header_architecture("Darwin_x86-gcc3-u-ppc-i386", Some("Firefox Intel Mac")),
            "Intel"
        );
        assert_eq!(
            header_architecture("Darwin_ppc-gcc3-u-ppc-i386", Some("Firefox PPC Mac")),
            "PPC"
        );
        assert_eq!(
            header_architecture("Darwin_ppc-gcc3-u-ppc-i386", None),
            "Intel"
        );
    }

    #[test]
    fn encoded_slashes_split_segments() {
        // /update/1 with the channel "a/b" is a 7-field path: no route.
        let url = "/update/1/b/1.0/1/p/l/a%2Fb/update.xml";
        assert_eq!(parse_update_url(url, None, None), Err(ParseError::NoRoute));
        let q = parse_update_url("/update/2/b/1.0/1/p/l/a%2Fb/update.xml", None, None).unwrap();
        assert_eq!((q.channel.as_str(), q.os_version.as_str()), ("a", "b"));
    }

    #[test]
    fn malformed() {
        assert_eq!(
            parse_update_url("/update/3/b/1.0/1/p/l/a/update.xml", None, None),
            Err(ParseError::NoRoute)
        );
        assert_eq!(
            parse_update_url("/update/7/b/1.0/1/p/l/a/update.xml", None, None),
            Err(ParseError::NoRoute)
        );
        assert_eq!(
            parse_update_url("/update/01/b/1.0/1/p/l/a/update.xml", None, None),
            Err(ParseError::NoRoute)
        );
        assert_eq!(
            parse_update_url("/update/1/b/1.0/1/p/l/a/other.xml", None, None),
            Err(ParseError::NoRoute)
        );
        assert_eq!(
            parse_update_url("/update/1/b//1/p/l/a/update.xml", None, None),
            Err(ParseError::NoRoute)
        );
        assert_eq!(
            parse_update_url(
                "/update/2/b/1.0/1/p/l/a/os/update.xml",
                Some("pin=1."),
                None
            ),
            Err(ParseError::ExtraQueryParameter("pin".into()))
        );
        let q =
            parse_update_url("/update/1/b/1.0/1/p/l/\u{c3}\u{c3}/update.xml", None, None).unwrap();
        assert_eq!(q.channel, "??");
    }
}
