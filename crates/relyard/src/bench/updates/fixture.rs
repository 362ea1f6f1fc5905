//! The benchmark's data: 200 app releases (schema 4, several platforms and locales, complete
//! and partial patches) and 1,000 rules shaped like a production rule table (watersheds,
//! desupport, partner distributions, locale and build-specific rules on many channels), where
//! most requests fall through to one of the general rules at the end of the list.

use relyard_updates::Rule;
use serde_json::{json, Map, Value};

pub const PRODUCTS: [&str; 2] = ["Firefox", "Thunderbird"];
pub const PLATFORMS: [(&str, &str, &str); 6] = [
    (
        "WINNT_x86_64-msvc",
        "win64",
        "Windows_NT 10.0.0.0.19045.3693 (x64)",
    ),
    (
        "WINNT_x86-msvc",
        "win",
        "Windows_NT 10.0.0.0.19045.3693 (x86)",
    ),
    (
        "WINNT_aarch64-msvc",
        "win64-aarch64",
        "Windows_NT 10.0.0.0.22631.2861 (aarch64)",
    ),
    ("Darwin_x86_64-gcc3-u-i386-x86_64", "mac", "Darwin 22.6.0"),
    ("Darwin_aarch64-gcc3", "mac", "Darwin 23.1.0"),
    (
        "Linux_x86_64-gcc3",
        "linux64",
        "Linux 6.5.0-14-generic (GTK 3.24.38,libpulse 16.1.0)",
    ),
];
pub const LOCALES: [&str; 24] = [
    "en-US", "de", "fr", "es-ES", "it", "ja", "ru", "pl", "pt-BR", "zh-CN", "zh-TW", "nl", "sv-SE",
    "ko", "tr", "cs", "uk", "hu", "fi", "da", "nb-NO", "el", "ro", "he",
];
/// Release majors per product: 100 each, so 200 releases.
pub const FIRST_MAJOR: u32 = 60;
pub const LAST_MAJOR: u32 = 159;
/// The general rules at the end serve these channels.
pub const SERVED_CHANNELS: [&str; 2] = ["release", "beta"];

pub fn release_name(product: &str, major: u32) -> String {
    format!("{product}-{major}.0-build1")
}

/// The buildID of `major` on platform number `p`: later majors build later.
pub fn build_id(major: u32, p: usize) -> String {
    format!(
        "20{:02}{:02}01{:02}0000",
        10 + major / 10,
        1 + major % 10,
        p
    )
}

pub fn release(product: &str, major: u32) -> Value {
    let lower = product.to_lowercase();
    let version = format!("{major}.0");
    let froms: Vec<String> = (1..=2)
        .filter(|back| major >= FIRST_MAJOR + back)
        .map(|back| release_name(product, major - back))
        .collect();
    let mut platforms = Map::new();
    for (p, (target, os_ftp, _)) in PLATFORMS.iter().enumerate() {
        let mut locales = Map::new();
        for (l, locale) in LOCALES.iter().enumerate() {
            let partials: Vec<Value> = froms
                .iter()
                .map(|from| json!({"filesize": 9_000_000 + l, "from": from, "hashValue": format!("{:0128x}", major as usize * 1000 + l)}))
                .collect();
            locales.insert(
                locale.to_string(),
                json!({
                    "partials": partials,
                    "completes": [{"filesize": 60_000_000 + l, "from": "*", "hashValue": format!("{:0128x}", major as usize * 100 + l)}]
                }),
            );
        }
        platforms.insert(
            target.to_string(),
            json!({"buildID": build_id(major, p), "OS_FTP": os_ftp, "OS_BOUNCER": os_ftp, "locales": locales}),
        );
    }
    let mut partial_urls = Map::new();
    for from in &froms {
        partial_urls.insert(
            from.clone(),
            json!(format!("http://download.mozilla.org/?product={lower}-{version}-partial-{from}&os=%OS_BOUNCER%&lang=%LOCALE%")),
        );
    }
    json!({
        "name": release_name(product, major), "schema_version": 4, "hashFunction": "sha512",
        "appVersion": version, "displayVersion": version, "platformVersion": version,
        "detailsURL": format!("https://www.mozilla.org/%LOCALE%/{lower}/{version}/releasenotes/"),
        "fileUrls": {"*": {
            "partials": partial_urls,
            "completes": {"*": format!("http://download.mozilla.org/?product={lower}-{version}-complete&os=%OS_BOUNCER%&lang=%LOCALE%")}
        }},
        "platforms": platforms
    })
}

/// `n` rules: the specific ones first, the general ones (the last `2 × SERVED_CHANNELS`) at the
/// end, with a lower priority than the specific ones, as in Balrog's production table.
pub fn rules(n: usize) -> Vec<Rule> {
    let general = PRODUCTS.len() * SERVED_CHANNELS.len();
    let channels = [
        "release",
        "beta",
        "esr",
        "release-cck-*",
        "release-localtest",
        "beta-localtest",
        "aurora",
        "nightly",
        "esr-localtest",
        "release-sysaddon",
    ];
    let odd_locales = "ach,af,an,ar,ast,az,be,bg,bn,br,bs,ca,cak,cy";
    let mut out = Vec::with_capacity(n);
    for i in 0..n.saturating_sub(general) {
        let product = PRODUCTS[usize::from(i % 5 == 0)];
        let major = FIRST_MAJOR + (i as u32 % 40);
        let mut r = Rule {
            priority: Some(100 + (i as i64 % 900)),
            background_rate: Some(100),
            mapping: Some(release_name(product, major)),
            product: Some(product.into()),
            channel: Some(channels[i % channels.len()].into()),
            update_type: "minor".into(),
            comment: Some(format!("specific rule {i}")),
            ..Default::default()
        };
        match i % 7 {
            // Watersheds: old clients must step through this release first.
            0 => r.version = Some(format!("<{}.0", 40 + i % 20)),
            // Desupport of old Windows.
            1 => {
                r.os_version = Some("Windows_NT 5.1,Windows_NT 5.2,Windows_NT 6.0".into());
                r.build_target = Some(PLATFORMS[1].0.into());
            }
            2 => r.distribution = Some(format!("partner{i},mint-{i}")),
            3 => r.locale = Some(odd_locales.into()),
            4 => r.build_id = Some(format!("<2015{:02}01000000", 1 + i % 12)),
            5 => {
                r.memory = Some("<512".into());
                r.version = Some(format!("<{}.0", 100 + i % 50));
            }
            _ => {
                r.instruction_set = Some("SSE".into());
                r.os_version = Some("Windows_NT 6.1&&(x64)".into());
            }
        }
        out.push(r);
    }
    for product in PRODUCTS {
        for channel in SERVED_CHANNELS {
            out.push(Rule {
                priority: Some(90),
                background_rate: Some(100),
                mapping: Some(release_name(product, LAST_MAJOR)),
                product: Some(product.into()),
                channel: Some(channel.into()),
                update_type: "minor".into(),
                comment: Some(format!("{product} {channel}: latest")),
                ..Default::default()
            });
        }
    }
    out
}

/// `n` update.xml URLs of clients on older releases (some one or two behind, so they get a
/// partial too), across products, platforms, locales and served channels.
pub fn urls(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let product = PRODUCTS[usize::from(i % 4 == 3)];
            let p = i % PLATFORMS.len();
            let (target, _, os) = PLATFORMS[p];
            let locale = LOCALES[(i / PLATFORMS.len()) % LOCALES.len()];
            let channel = SERVED_CHANNELS[usize::from(i % 10 == 9)];
            let major = LAST_MAJOR - 1 - (i as u32 % 20);
            let os = percent_encoding::utf8_percent_encode(os, percent_encoding::NON_ALPHANUMERIC);
            format!(
                "/update/6/{product}/{major}.0/{}/{target}/{locale}/{channel}/{os}/ISET:SSE4_2,MEM:16384/default/default/update.xml",
                build_id(major, p)
            )
        })
        .collect()
}
