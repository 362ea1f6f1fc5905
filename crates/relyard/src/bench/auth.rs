//! `relyard bench auth`: what authentication costs.
//!
//! In-process (no HTTP): the p50 of `AuthService::authenticate` for a Hawk-signed request, and of
//! role expansion with 10,000 roles. Over HTTP: Hawk-signed no-op requests per second against a
//! `relyard serve` child, next to unsigned ones, so the difference is what auth adds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use relyard::server::Server;
use relyard_auth::hawk_verify::HawkInput;
use relyard_core::Timestamp;

use super::child::ChildServer;
use super::stats::{percentile, print_table, us};

#[derive(Args)]
pub struct AuthBenchArgs {
    /// Roles to expand through.
    #[arg(long, default_value_t = 10_000)]
    roles: usize,
    /// In-process samples per measurement.
    #[arg(long, default_value_t = 20_000)]
    samples: usize,
    /// Seconds of HTTP load per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

pub async fn run(args: AuthBenchArgs) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let (auth_p50, expand_p50) = in_process(&args).await?;
    rows.push((
        "authenticate() of a Hawk-signed request (client scopes via roles), p50".to_string(),
        us(auth_p50),
        "≤ 50 µs".to_string(),
    ));
    rows.push((
        format!("expand one repo role with {} roles, p50", args.roles),
        us(expand_p50),
        "-".to_string(),
    ));

    let child = ChildServer::start(None).await?;
    let signed = http_rate(&child, true, &args).await?;
    let unsigned = http_rate(&child, false, &args).await?;
    child.stop().await;
    rows.push((
        format!("Hawk-signed no-op requests, {} clients", args.concurrency),
        format!("{signed:.0} req/s"),
        "-".into(),
    ));
    rows.push((
        format!("unsigned no-op requests, {} clients", args.concurrency),
        format!("{unsigned:.0} req/s"),
        "-".into(),
    ));
    print_table("relyard bench auth (SQLite)", &rows);
    Ok(())
}

/// Roles shaped like a CI deployment's: one per repository branch pattern, each assuming one of
/// a hundred shared worker-pool roles.
async fn load_roles(server: &Server, n: usize) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let mut tx = server.db.begin().await?;
    for i in 0..n {
        let (role_id, scopes) = if i < 100 {
            (
                format!("worker-pool:pool{i}"),
                vec![
                    format!("queue:claim-work:proj/pool{i}"),
                    format!("secrets:get:pool{i}/*"),
                ],
            )
        } else {
            (
                format!("repo:github.com/org/r{i}:branch:*"),
                vec![
                    format!("assume:worker-pool:pool{}", i % 100),
                    format!("queue:route:index.r{i}.<..>"),
                    format!("queue:create-task:highest:proj/r{i}"),
                ],
            )
        };
        let row = relyard_auth::store::RoleRow {
            role_id,
            description: String::new(),
            scopes,
            created: now,
            last_modified: now,
        };
        relyard_auth::store::upsert_role(&mut tx, &row).await?;
    }
    tx.commit().await?;
    server.auth.reload().await?;
    Ok(())
}

async fn in_process(args: &AuthBenchArgs) -> anyhow::Result<(Duration, Duration)> {
    let dir = tempfile::tempdir()?;
    let (server, token) = super::local_server(dir.path()).await?;
    load_roles(&server, args.roles).await?;

    // A client whose scopes come through the roles, as a CI job's do.
    let root = taskcluster::Auth::new(
        taskcluster::ClientBuilder::new(&server.root_url).credentials(
            taskcluster::Credentials::new(relyard_auth::ROOT_CLIENT_ID, &token),
        ),
    )?;
    let client_id = "bench/ci-job";
    let created = root
        .createClient(
            client_id,
            &serde_json::json!({
                "expires": Timestamp::now().plus_days(1),
                "description": "benchmark client",
                "scopes": ["assume:repo:github.com/org/r4242:branch:main"],
            }),
        )
        .await?;
    let access_token = created["accessToken"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no accessToken"))?;
    let key = hawk::Key::new(access_token.as_bytes(), hawk::DigestAlgorithm::Sha256)?;
    let credentials = hawk::Credentials {
        id: client_id.to_string(),
        key,
    };
    let path = "/api/queue/v1/task/abc/status";
    let header = hawk::RequestBuilder::new("GET", "127.0.0.1", 8080, path)
        .request()
        .make_header(&credentials)?;
    let authorization = format!("Hawk {header}");
    let input = HawkInput {
        method: "GET",
        resource: path,
        host: "127.0.0.1",
        port: 8080,
        authorization: Some(&authorization),
        payload: None,
    };
    // Warm the client cache as a long-running server has it.
    server
        .auth
        .authenticate(&input, None)
        .await
        .map_err(|_| anyhow::anyhow!("benchmark request did not authenticate"))?;
    let mut auth_samples = Vec::with_capacity(args.samples);
    for _ in 0..args.samples {
        let t = Instant::now();
        let caller = server.auth.authenticate(&input, None).await;
        auth_samples.push(t.elapsed());
        anyhow::ensure!(caller.is_ok(), "benchmark request stopped authenticating");
    }

    let scopes = vec!["assume:repo:github.com/org/r4242:branch:main".to_string()];
    let expanded = server.auth.expand(&scopes);
    anyhow::ensure!(expanded.len() > 3, "role expansion found no roles");
    let mut expand_samples = Vec::with_capacity(args.samples);
    for _ in 0..args.samples {
        let t = Instant::now();
        std::hint::black_box(server.auth.expand(&scopes));
        expand_samples.push(t.elapsed());
    }
    server.stop().await?;
    Ok((
        percentile(&mut auth_samples, 50.0),
        percentile(&mut expand_samples, 50.0),
    ))
}

/// Requests per second of `GET /api/auth/v1/scopes/current` (signed) or `/ping` (unsigned).
async fn http_rate(child: &ChildServer, signed: bool, args: &AuthBenchArgs) -> anyhow::Result<f64> {
    let creds =
        taskcluster::Credentials::new(relyard_auth::ROOT_CLIENT_ID, &child.root_access_token);
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut loops = Vec::new();
    for _ in 0..args.concurrency {
        let mut builder = taskcluster::ClientBuilder::new(&child.root_url);
        if signed {
            builder = builder.credentials(creds.clone());
        }
        let auth = taskcluster::Auth::new(builder)?;
        let count = Arc::clone(&count);
        loops.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if signed {
                    auth.currentScopes().await?;
                } else {
                    auth.ping().await?;
                }
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    let start = Instant::now();
    for l in loops {
        l.await??;
    }
    Ok(count.load(std::sync::atomic::Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}
