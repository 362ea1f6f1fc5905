//! `relyard bench updates`: update.xml requests per second from one server process with
//! 1,000 rules and 200 releases, over keep-alive HTTP/1.1 connections from a load generator in
//! the same process (so the table's RSS is both), with p50/p99 latency.

mod fixture;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use relyard::server::Server;
use relyard_updates::store;

use super::stats::{ms, percentile, print_table};

#[derive(Args)]
pub struct UpdatesBenchArgs {
    /// Concurrent keep-alive connections of the load generator.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long to measure, after a one-second warm-up (e.g. 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Rules in the table.
    #[arg(long, default_value_t = 1000)]
    rules: usize,
    /// Distinct update.xml URLs the load generator cycles through.
    #[arg(long, default_value_t = 5000)]
    urls: usize,
}

pub async fn run(args: UpdatesBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.connections >= 1, "--connections must be at least 1");
    let dir = tempfile::tempdir()?;
    let (server, _) = super::local_server(dir.path()).await?;
    let loading = Instant::now();
    let (rules, releases) = load(&server, args.rules).await?;
    let load_time = loading.elapsed();
    let urls = Arc::new(fixture::urls(args.urls.max(1)));

    // Every URL must be answered with an update, or the figures would measure something else.
    let checked = check_answers(server.addr, &urls).await?;

    run_load(server.addr, &urls, args.connections, Duration::from_secs(1)).await?;
    let started = Instant::now();
    let mut result = run_load(server.addr, &urls, args.connections, args.duration).await?;
    let elapsed = started.elapsed();
    let rss = rss_mb();
    server.stop().await?;

    let rate = result.latencies.len() as f64 / elapsed.as_secs_f64();
    let p50 = percentile(&mut result.latencies, 50.0);
    let p99 = percentile(&mut result.latencies, 99.0);
    let rows = vec![
        (
            format!("catalog: {rules} rules, {releases} releases, stored and loaded"),
            format!("{:.1} s", load_time.as_secs_f64()),
            "-".to_string(),
        ),
        (
            format!(
                "URLs answered 200 with an <update> ({} distinct)",
                urls.len()
            ),
            format!("{checked}/{}", urls.len()),
            "all".into(),
        ),
        (
            format!(
                "update.xml requests/s, {} keep-alive connections, {:.0} s",
                args.connections,
                elapsed.as_secs_f64()
            ),
            format!("{rate:.0} req/s"),
            "≥ 16,000".into(),
        ),
        ("latency p50".into(), ms(p50), "-".into()),
        ("latency p99".into(), ms(p99), "≤ 10 ms".into()),
        (
            "sampled answers that were not 200 with an <update>".into(),
            format!("{}", result.bad),
            "0".into(),
        ),
        (
            "process RSS (server + load generator)".into(),
            rss.map(|m| format!("{m:.0} MB"))
                .unwrap_or_else(|| "?".into()),
            "-".into(),
        ),
    ];
    print_table("relyard bench updates (SQLite, one process)", &rows);
    Ok(())
}

/// Stores the fixture's releases and rules through the store (as the admin API would) and
/// reloads; returns (rules, releases).
async fn load(server: &Server, rules: usize) -> anyhow::Result<(usize, usize)> {
    let mut releases = 0;
    for product in fixture::PRODUCTS {
        for major in fixture::FIRST_MAJOR..=fixture::LAST_MAJOR {
            let name = fixture::release_name(product, major);
            store::create_release(
                &server.db,
                "bench",
                &name,
                product,
                &fixture::release(product, major),
            )
            .await
            .with_context(|| format!("storing release {name}"))?;
            releases += 1;
        }
    }
    let rules = fixture::rules(rules);
    for r in &rules {
        store::create_rule(&server.db, "bench", r)
            .await
            .context("storing a rule")?;
    }
    server.updates.changed().await?;
    Ok((rules.len(), releases))
}

type Connection = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Connection> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "bench connection ended");
        }
    });
    Ok(send)
}

/// One GET on `conn`: (status, body).
async fn get(conn: &mut Connection, addr: SocketAddr, url: &str) -> anyhow::Result<(u16, Bytes)> {
    conn.ready().await?;
    let req = http::Request::get(url)
        .header(http::header::HOST, addr.to_string())
        .header(
            http::header::USER_AGENT,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:158.0) Gecko/20100101 Firefox/158.0",
        )
        .body(Empty::<Bytes>::new())?;
    let resp = conn.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

fn is_update(status: u16, body: &[u8]) -> bool {
    status == 200 && body.windows(7).any(|w| w == b"<update")
}

/// How many of `urls` are answered 200 with an `<update>`.
async fn check_answers(addr: SocketAddr, urls: &[String]) -> anyhow::Result<usize> {
    let mut conn = connect(addr).await?;
    let mut ok = 0;
    for url in urls {
        let (status, body) = get(&mut conn, addr, url).await?;
        if is_update(status, &body) {
            ok += 1;
        } else if ok == 0 {
            tracing::warn!(%url, status, body = %String::from_utf8_lossy(&body), "no update");
        }
    }
    Ok(ok)
}

struct LoadResult {
    latencies: Vec<Duration>,
    bad: u64,
}

/// `connections` tasks, each sending requests one after another on its own keep-alive
/// connection for `duration`; every 100th answer of each is checked.
async fn run_load(
    addr: SocketAddr,
    urls: &Arc<Vec<String>>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let bad = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + duration;
    let mut tasks = Vec::with_capacity(connections);
    for c in 0..connections {
        let urls = Arc::clone(urls);
        let bad = Arc::clone(&bad);
        let mut conn = connect(addr).await?;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(1 << 16);
            let mut i = c * 7919;
            while Instant::now() < until {
                let url = &urls[i % urls.len()];
                let sent = Instant::now();
                let (status, body) = get(&mut conn, addr, url).await?;
                latencies.push(sent.elapsed());
                if i % 100 == 0 && !is_update(status, &body) {
                    bad.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    Ok(LoadResult {
        latencies,
        bad: bad.load(Ordering::Relaxed),
    })
}

/// This process's resident set, from /proc (Linux).
fn rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}
