//! Nothing secret is stored in plain text: after creating clients, resetting a token, issuing
//! an OAuth token and storing secrets, no access token and no secret value appears in the raw
//! SQLite files (database, WAL, shared memory) or anywhere under the server's data directory; on
//! PostgreSQL, in no row of any table.
//!
//! One test in its own binary: it points the process's temporary directory (where the test
//! database and the server's data directory are made) at a directory it then scans whole.

mod common;

use std::path::{Path, PathBuf};

use common::{make_client, root_auth, slug, tomorrow};
use relyard_store::{Backend, Row};
use relyard_testing::TestServer;
use serde_json::json;

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Fails naming the file and which secret it holds.
fn assert_no_file_holds(root: &Path, secrets: &[String]) -> usize {
    let files = files_under(root);
    for file in &files {
        let Ok(bytes) = std::fs::read(file) else {
            continue; // removed while scanning (e.g. SQLite's shm at close)
        };
        for secret in secrets {
            assert!(
                !contains(&bytes, secret),
                "{} holds a secret in plain text: {secret}",
                file.display()
            );
        }
    }
    files.len()
}

/// Every row of every table in the public schema, as text.
async fn postgres_rows(server: &TestServer) -> Vec<String> {
    let db = server.db.db.reader();
    let tables = sqlx::query(
        "SELECT table_name::text AS t FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let mut rows = Vec::new();
    for t in tables {
        let table: String = t.try_get("t").unwrap();
        let sql = format!("SELECT CAST(x AS TEXT) AS r FROM \"{table}\" x");
        for r in sqlx::query(&sql).fetch_all(db).await.unwrap() {
            rows.push(r.try_get::<String, _>("r").unwrap());
        }
    }
    rows
}

#[tokio::test]
async fn no_token_or_secret_value_is_stored_in_plain_text() {
    let root_dir = std::env::temp_dir().join(format!("relyard-at-rest-{}", slug()));
    std::fs::create_dir_all(&root_dir).unwrap();
    tempfile::env::override_temp_dir(&root_dir).expect("first override in this binary");

    let server = TestServer::start().await;
    let mut secrets = vec![server.root_access_token.clone()];
    for i in 0..5 {
        secrets.push(
            make_client(
                &server,
                &format!("test/at-rest/{i}"),
                &["auth:current-scopes"],
            )
            .await,
        );
    }
    let reset = root_auth(&server)
        .resetAccessToken("test/at-rest/0")
        .await
        .unwrap();
    secrets.push(reset["accessToken"].as_str().unwrap().to_string());

    let secrets_api = taskcluster::Secrets::new(server.root_client()).unwrap();
    for i in 0..5 {
        let value = format!("secret-value-{}", slug());
        secrets_api
            .set(
                &format!("project/at-rest/{i}"),
                &json!({"secret": {"password": value, "nested": [value.clone()]}, "expires": tomorrow()}),
            )
            .await
            .unwrap();
        assert_eq!(
            secrets_api
                .get(&format!("project/at-rest/{i}"))
                .await
                .unwrap()["secret"]["password"],
            json!(value)
        );
        secrets.push(value);
    }

    // Fresh clients used once, so that lastDateUsed and caches have been written too.
    let used =
        taskcluster::Auth::new(server.client(Some(common::creds("test/at-rest/1", &secrets[2]))))
            .unwrap();
    used.currentScopes().await.unwrap();

    match server.db.backend() {
        Backend::Sqlite => {
            // The database file lies in the same overridden temporary directory.
            assert!(
                server.db.url.contains(root_dir.to_str().unwrap()),
                "{}",
                server.db.url
            );
        }
        Backend::Postgres => {
            let rows = postgres_rows(&server).await;
            assert!(rows.len() > 10, "the scan saw the stored rows");
            for row in &rows {
                for secret in &secrets {
                    assert!(
                        !row.contains(secret.as_str()),
                        "a row holds a secret: {row}"
                    );
                }
            }
        }
    }
    // While running: database, WAL and shared memory as they are; then after a clean stop.
    let scanned = assert_no_file_holds(&root_dir, &secrets);
    if server.db.backend() == Backend::Sqlite {
        assert!(scanned > 0);
        // Control: the scan does see what is stored in the clear, such as clientIds.
        let seen = files_under(&root_dir)
            .iter()
            .any(|f| std::fs::read(f).is_ok_and(|b| contains(&b, "test/at-rest/3")));
        assert!(seen, "the scan reads the database files");
    }
    let TestServer {
        server: running, ..
    } = server;
    running.stop().await.unwrap();
    assert_no_file_holds(&root_dir, &secrets);
    let _ = std::fs::remove_dir_all(&root_dir);
}
