//! `relyard updates rules|history|explain|rollout`: the update service's admin API
//! (`/api/updates/v1`, Balrog's) from the command line, Hawk-signed like the other verbs.

use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::connect::{print_json, ConnectArgs};

const PREFIX: &str = "api/updates/v1/";

#[derive(Args)]
pub struct UpdatesArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    verb: UpdatesVerb,
}

#[derive(Subcommand)]
enum UpdatesVerb {
    /// The rules, highest priority first.
    Rules {
        /// Only this product's rules.
        #[arg(long)]
        product: Option<String>,
    },
    /// A rule's revisions, newest first (who changed what, when).
    History {
        /// Rule id or alias.
        rule: String,
    },
    /// Dry run: which rule an update URL matches, why each rule ranked above it did not, and
    /// the update.xml the client would get.
    Explain {
        /// `/update/6/…/update.xml`, or a whole URL (its path is used).
        url: String,
        /// The client's User-Agent (it decides headerArchitecture).
        #[arg(long)]
        user_agent: Option<String>,
    },
    /// Plan a staged rollout of a rule: one scheduled change per backgroundRate step.
    ///
    /// Balrog allows one pending scheduled change per rule, so the steps are written one at a
    /// time: the first step above the rule's current rate is scheduled now; run the command
    /// again (or keep it running with --follow) to schedule each next step once the previous
    /// one has been enacted.
    Rollout {
        /// Rule id or alias.
        rule: String,
        /// backgroundRate steps in percent, e.g. 12.5,25,50,100 (Balrog stores whole
        /// percents: fractions are rounded).
        #[arg(long, value_delimiter = ',', required = true)]
        steps: Vec<f64>,
        /// Time between steps, e.g. 45m.
        #[arg(long, value_parser = humantime::parse_duration)]
        every: Duration,
        /// When the first step is due: RFC 3339 (2026-12-02T09:00:00Z) or a delay like 10m
        /// (default: one minute from now).
        #[arg(long)]
        start: Option<String>,
        /// Stay running and schedule each next step once the previous one is enacted.
        #[arg(long)]
        follow: bool,
    },
}

pub async fn run(args: UpdatesArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?.build()?;
    let api = Api { client };
    match args.verb {
        UpdatesVerb::Rules { product } => {
            let mut query = Vec::new();
            if let Some(p) = &product {
                query.push(("product", p.as_str()));
            }
            let page = api.get("rules", Some(query)).await?;
            if args.json {
                return print_json(&page);
            }
            print_rules(page["rules"].as_array().map(Vec::as_slice).unwrap_or(&[]));
            Ok(())
        }
        UpdatesVerb::History { rule } => {
            let page = api
                .get(
                    &format!("rules/{}/revisions", path_segment(&rule)),
                    Some(vec![("limit", "1000")]),
                )
                .await?;
            if args.json {
                return print_json(&page);
            }
            print_history(page["rules"].as_array().map(Vec::as_slice).unwrap_or(&[]));
            Ok(())
        }
        UpdatesVerb::Explain { url, user_agent } => {
            let mut query = vec![("url", url.as_str())];
            if let Some(ua) = &user_agent {
                query.push(("ua", ua.as_str()));
            }
            let e = api.get("explain", Some(query)).await?;
            if args.json {
                return print_json(&e);
            }
            print_explanation(&e);
            Ok(())
        }
        UpdatesVerb::Rollout {
            rule,
            steps,
            every,
            start,
            follow,
        } => {
            rollout(
                &api,
                &rule,
                &steps,
                every,
                start.as_deref(),
                follow,
                args.json,
            )
            .await
        }
    }
}

struct Api {
    client: taskcluster::Client,
}

impl Api {
    async fn get(&self, path: &str, query: Option<Vec<(&str, &str)>>) -> anyhow::Result<Value> {
        let resp = self
            .client
            .request("GET", &format!("{PREFIX}{path}"), query, None)
            .await
            .with_context(|| format!("GET /{PREFIX}{path}"))?;
        Ok(resp.json().await?)
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let resp = self
            .client
            .request("POST", &format!("{PREFIX}{path}"), None, Some(body))
            .await
            .with_context(|| format!("POST /{PREFIX}{path}"))?;
        Ok(resp.json().await?)
    }
}

fn path_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_rules(rules: &[Value]) {
    // In the order Balrog evaluates them: priority, then the lower id on a tie.
    let mut rules: Vec<&Value> = rules.iter().collect();
    rules.sort_by_key(|r| {
        (
            std::cmp::Reverse(r["priority"].as_i64().unwrap_or(0)),
            r["rule_id"].as_i64().unwrap_or(0),
        )
    });
    let cols = [
        "rule_id",
        "alias",
        "priority",
        "product",
        "channel",
        "version",
        "buildTarget",
        "locale",
        "mapping",
        "backgroundRate",
        "fallbackMapping",
    ];
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|r| cols.iter().map(|c| cell(&r[*c])).collect())
        .collect();
    print_columns(&cols, &rows);
}

fn print_history(revisions: &[Value]) {
    let cols = [
        "change_id",
        "when",
        "changed_by",
        "data_version",
        "mapping",
        "backgroundRate",
        "fallbackMapping",
        "priority",
    ];
    let rows: Vec<Vec<String>> = revisions
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| match *c {
                    "when" => r["timestamp"]
                        .as_i64()
                        .map(|ms| relyard_core::Timestamp::from_millis(ms).to_string())
                        .unwrap_or_else(|| "-".into()),
                    c => cell(&r[c]),
                })
                .collect()
        })
        .collect();
    print_columns(&cols, &rows);
}

fn print_columns(cols: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..cols.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([cols[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(cols.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

fn print_explanation(e: &Value) {
    println!("URL: {}", cell(&e["url"]));
    if e["query"].is_null() {
        println!("Not an update URL Balrog routes: the client gets the empty document.");
    }
    if e["shutOff"].as_bool() == Some(true) {
        println!("Updates are shut off for this product and channel.");
    }
    let passed = e["passedOver"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for p in passed {
        println!(
            "  rule {} (priority {}{}) does not apply: {}",
            cell(&p["rule_id"]),
            cell(&p["priority"]),
            p["alias"]
                .as_str()
                .map(|a| format!(", alias {a}"))
                .unwrap_or_default(),
            cell(&p["reason"])
        );
    }
    match e["rule"].as_object() {
        Some(r) => println!(
            "Matched rule {} (priority {}): mapping {}, backgroundRate {}",
            cell(&r["rule_id"]),
            cell(&r["priority"]),
            cell(&r["mapping"]),
            cell(&r["backgroundRate"])
        ),
        None => println!("No rule matches."),
    }
    if let Some(d) = e["dice"].as_str() {
        println!("{d}");
    }
    match e["release"].as_str() {
        Some(r) => println!("Release served: {r}"),
        None => println!("No release is served (no update)."),
    }
    println!("\nHTTP {}:\n{}", cell(&e["status"]), cell(&e["xml"]));
    if let Some(x) = e["fallbackXml"].as_str() {
        println!("\nWhen the dice picks the fallback:\n{x}");
    }
}

/// When the first step is due, in ms since the epoch.
fn start_ms(start: Option<&str>, now_ms: i64) -> anyhow::Result<i64> {
    let Some(spec) = start else {
        return Ok(now_ms + 60_000);
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(spec) {
        return Ok(t.timestamp_millis());
    }
    let d = humantime::parse_duration(spec)
        .with_context(|| format!("--start {spec:?} is neither RFC 3339 nor a delay like 10m"))?;
    Ok(now_ms + i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The rollout's steps as whole percents, checked to rise to at most 100.
fn whole_steps(steps: &[f64]) -> anyhow::Result<Vec<i64>> {
    let mut out: Vec<i64> = Vec::new();
    for s in steps {
        anyhow::ensure!(
            s.is_finite() && *s > 0.0 && *s <= 100.0,
            "each step must be a percentage in (0, 100], not {s}"
        );
        let rate = s.round() as i64;
        if (rate as f64 - s).abs() > f64::EPSILON {
            eprintln!("note: backgroundRate is a whole percent; step {s} becomes {rate}");
        }
        anyhow::ensure!(
            out.last().is_none_or(|last| rate > *last),
            "steps must rise: {steps:?}"
        );
        out.push(rate);
    }
    Ok(out)
}

async fn rollout(
    api: &Api,
    rule: &str,
    steps: &[f64],
    every: Duration,
    start: Option<&str>,
    follow: bool,
    as_json: bool,
) -> anyhow::Result<()> {
    let rates = whole_steps(steps)?;
    let now = relyard_core::Timestamp::now().millis();
    let first = start_ms(start, now)?;
    let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
    let plan: Vec<(i64, i64)> = rates
        .iter()
        .enumerate()
        .map(|(i, r)| (*r, first.saturating_add(every_ms.saturating_mul(i as i64))))
        .collect();
    loop {
        let current = api
            .get(&format!("rules/{}", path_segment(rule)), None)
            .await?;
        let rate = current["backgroundRate"].as_i64().unwrap_or(100);
        let Some(&(next_rate, planned)) = plan.iter().find(|(r, _)| *r > rate) else {
            println!("rule {rule} is at backgroundRate {rate}: the rollout is complete");
            return Ok(());
        };
        // A step whose time passed while waiting goes out a few seconds from now.
        let when = planned.max(relyard_core::Timestamp::now().millis() + 5_000);
        let body = json!({
            "change_type": "update",
            "rule_id": current["rule_id"],
            "data_version": current["data_version"],
            "backgroundRate": next_rate,
            "when": when,
        });
        let made = api.post("scheduled_changes/rules", &body).await?;
        let sc_id = made["sc_id"].as_i64().context("the server gave no sc_id")?;
        if as_json {
            print_json(&json!({"sc_id": sc_id, "backgroundRate": next_rate, "when": when}))?;
        } else {
            println!(
                "scheduled change {sc_id}: rule {rule} backgroundRate {rate} → {next_rate} at {}",
                relyard_core::Timestamp::from_millis(when)
            );
            for (r, t) in plan.iter().filter(|(r, _)| *r > next_rate) {
                println!(
                    "  then → {r} at {} (scheduled once the previous step is enacted)",
                    relyard_core::Timestamp::from_millis(*t)
                );
            }
        }
        if !follow {
            return Ok(());
        }
        wait_enacted(api, sc_id).await?;
    }
}

/// Polls scheduled change `sc_id` until it is enacted (there is no event stream for clients).
async fn wait_enacted(api: &Api, sc_id: i64) -> anyhow::Result<()> {
    loop {
        let sc = api
            .get(&format!("scheduled_changes/rules/{sc_id}"), None)
            .await?;
        let change = if sc["scheduled_change"].is_object() {
            &sc["scheduled_change"]
        } else {
            &sc
        };
        if change["complete"].as_bool() == Some(true) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
