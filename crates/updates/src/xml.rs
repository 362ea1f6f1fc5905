//! The update.xml document, laid out line by line as Balrog joins it.

use once_cell::sync::Lazy;
use regex::Regex;

use crate::blobs::UpdateParts;

/// The "no update" document (no trailing newline).
pub const EMPTY_UPDATES: &str = "<?xml version=\"1.0\"?>\n<updates>\n</updates>";

/// Two Firefox nightlies could not parse newlines or indentation (bug 1517743).
const SQUASHED_RELEASE: &str = "Firefox-mozilla-central-nightly-latest";
const SQUASHED_BUILD_IDS: [&str; 2] = ["20190103220533", "20190104093221"];

static BARE_AMP: Lazy<Regex> = Lazy::new(|| Regex::new("&(amp;)?").expect("static regex"));

/// Every `&` not already starting `&amp;` becomes `&amp;`; nothing else is
/// escaped (Balrog's only escaping).
pub fn escape_ampersands(s: &str) -> String {
    BARE_AMP.replace_all(s, "&amp;").into_owned()
}

/// `<?xml…>`, `<updates>`, the blob's lines, `</updates>`, joined by `\n`.
pub fn document(parts: &UpdateParts, release_name: &str, build_id: &str) -> String {
    let mut lines: Vec<&str> = vec!["<?xml version=\"1.0\"?>", "<updates>", &parts.header];
    lines.extend(parts.body.iter().map(String::as_str));
    lines.push(&parts.footer);
    lines.push("</updates>");
    let xml = escape_ampersands(&lines.join("\n"));
    if release_name == SQUASHED_RELEASE && SQUASHED_BUILD_IDS.contains(&build_id) {
        return xml.replace('\n', "").replace("    ", "");
    }
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ampersands() {
        assert_eq!(
            escape_ampersands("a&b&amp;c&&amp;"),
            "a&amp;b&amp;c&amp;&amp;"
        );
        assert_eq!(escape_ampersands("&lt;"), "&amp;lt;");
    }
}
