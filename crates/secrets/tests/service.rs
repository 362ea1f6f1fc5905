//! The `Secrets` service on a real database (SQLite, or PostgreSQL with `TEST_DATABASE_URL`).

mod common;

use common::{ctx, in_days, setup};
use relyard_auth::Cipher;
use relyard_core::paging::PageQuery;
use relyard_core::Timestamp;
use relyard_secrets::{AuditQuery, Outcome, Secrets, SecretsError};
use relyard_store::{Backend, Row};
use serde_json::json;

fn page(token: Option<String>, limit: usize) -> PageQuery {
    PageQuery {
        continuation_token: token,
        limit: Some(limit.to_string()),
    }
}

async fn audit(svc: &Secrets, name: Option<&str>) -> Vec<(String, String, String, String)> {
    let q = AuditQuery {
        name: name.map(String::from),
        page: PageQuery::default(),
    };
    let page = svc.audit_log(&q).await.expect("audit log");
    page.entries
        .into_iter()
        .map(|e| (e.client_id, e.action, e.name, e.outcome))
        .collect()
}

#[tokio::test]
async fn set_get_replace_remove() {
    let (_db, svc) = setup().await;
    let me = ctx("alice");
    let expires = Timestamp::parse("2099-01-02T03:04:05.678Z").unwrap();
    svc.set("project/a", json!({"token": "t1"}), expires, &me)
        .await
        .unwrap();
    let got = svc.get("project/a", &me).await.unwrap();
    assert_eq!(got.secret, json!({"token": "t1"}));
    assert_eq!(got.expires, expires);

    svc.set(
        "project/a",
        json!({"token": "t2", "n": [1, 2]}),
        in_days(1),
        &me,
    )
    .await
    .unwrap();
    assert_eq!(
        svc.get("project/a", &me).await.unwrap().secret,
        json!({"token": "t2", "n": [1, 2]})
    );

    assert_eq!(svc.remove("project/a", &me).await.unwrap(), Outcome::Ok);
    assert!(matches!(
        svc.get("project/a", &me).await,
        Err(SecretsError::NotFound)
    ));
    assert_eq!(
        svc.remove("project/a", &me).await.unwrap(),
        Outcome::NotFound
    );
}

#[tokio::test]
async fn set_refuses_non_objects_and_writes_nothing() {
    let (_db, svc) = setup().await;
    for bad in [json!("s"), json!([1]), json!(1), json!(null)] {
        let r = svc.set("x", bad, in_days(1), &ctx("c")).await;
        assert!(matches!(r, Err(SecretsError::Invalid(_))), "{r:?}");
    }
    assert!(audit(&svc, None).await.is_empty());
    assert!(svc
        .list(&PageQuery::default())
        .await
        .unwrap()
        .secrets
        .is_empty());
}

#[tokio::test]
async fn expired_secrets_answer_not_found_and_are_purged_on_read() {
    let (tdb, svc) = setup().await;
    svc.set(
        "old",
        json!({"v": 1}),
        Timestamp::now().plus_secs(-60),
        &ctx("c"),
    )
    .await
    .unwrap();
    // Not listed even before anyone reads it.
    assert!(svc
        .list(&PageQuery::default())
        .await
        .unwrap()
        .secrets
        .is_empty());
    assert!(matches!(
        svc.get("old", &ctx("c")).await,
        Err(SecretsError::NotFound)
    ));
    let rows = sqlx::query("SELECT name FROM secrets")
        .fetch_all(tdb.db.reader())
        .await
        .unwrap();
    assert!(rows.is_empty(), "expired secret was not deleted on read");
    let log = audit(&svc, Some("old")).await;
    assert_eq!(
        log[0],
        ("c".into(), "get".into(), "old".into(), "not-found".into())
    );
}

#[tokio::test]
async fn purge_expired_deletes_only_expired_secrets() {
    let (_db, svc) = setup().await;
    let now = Timestamp::now();
    svc.set("gone1", json!({}), now.plus_secs(-10), &ctx("c"))
        .await
        .unwrap();
    svc.set("gone2", json!({}), now.plus_secs(-1), &ctx("c"))
        .await
        .unwrap();
    svc.set("kept", json!({}), now.plus_secs(3600), &ctx("c"))
        .await
        .unwrap();
    assert_eq!(svc.purge_expired(now).await.unwrap(), 2);
    assert_eq!(svc.purge_expired(now).await.unwrap(), 0);
    assert_eq!(
        svc.list(&PageQuery::default()).await.unwrap().secrets,
        vec!["kept"]
    );
}

#[tokio::test]
async fn remove_of_an_expired_secret_is_not_found_but_deletes_it() {
    let (tdb, svc) = setup().await;
    svc.set("old", json!({}), Timestamp::now().plus_secs(-5), &ctx("c"))
        .await
        .unwrap();
    assert_eq!(
        svc.remove("old", &ctx("c")).await.unwrap(),
        Outcome::NotFound
    );
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM secrets")
        .fetch_one(tdb.db.reader())
        .await
        .unwrap()
        .get("n");
    assert_eq!(n, 0);
}

#[tokio::test]
async fn list_pages_through_every_name_once() {
    let (_db, svc) = setup().await;
    let mut want: Vec<String> = (0..7).map(|i| format!("team/s{i}")).collect();
    for n in &want {
        svc.set(n, json!({}), in_days(1), &ctx("c")).await.unwrap();
    }
    let (mut seen, mut token, mut pages) = (Vec::new(), None, 0);
    loop {
        let p = svc.list(&page(token, 3)).await.unwrap();
        assert!(p.secrets.len() <= 3);
        seen.extend(p.secrets);
        pages += 1;
        match p.continuation_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    seen.sort();
    want.sort();
    assert_eq!(seen, want);
    let bad = PageQuery {
        continuation_token: Some("!!".into()),
        limit: None,
    };
    assert!(matches!(svc.list(&bad).await, Err(SecretsError::Api(_))));
}

#[tokio::test]
async fn audit_records_every_access_newest_first_and_pages() {
    let (_db, svc) = setup().await;
    svc.set("a", json!({"pw": "hunter2"}), in_days(1), &ctx("alice"))
        .await
        .unwrap();
    svc.get("a", &ctx("bob")).await.unwrap();
    let _ = svc.get("missing", &ctx("bob")).await;
    svc.remove("a", &ctx("alice")).await.unwrap();
    svc.remove("a", &ctx("alice")).await.unwrap();

    let all = audit(&svc, None).await;
    let want = [
        ("alice", "remove", "a", "not-found"),
        ("alice", "remove", "a", "ok"),
        ("bob", "get", "missing", "not-found"),
        ("bob", "get", "a", "ok"),
        ("alice", "set", "a", "ok"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(c, a, n, o)| (c.to_string(), a.to_string(), n.to_string(), o.to_string()))
        .collect();
    assert_eq!(all, want);
    assert_eq!(audit(&svc, Some("missing")).await, want[2..3].to_vec());

    let q = AuditQuery {
        name: Some("a".into()),
        page: page(None, 3),
    };
    let first = svc.audit_log(&q).await.unwrap();
    assert_eq!(first.entries.len(), 3);
    assert_eq!(
        first.entries[0].source_ip.as_deref(),
        Some(common::CLIENT_IP)
    );
    let q = AuditQuery {
        name: Some("a".into()),
        page: page(first.continuation_token, 3),
    };
    let second = svc.audit_log(&q).await.unwrap();
    assert_eq!(second.entries.len(), 1);
    assert_eq!(second.entries[0].action, "set");
    assert!(second.continuation_token.is_none());
}

#[tokio::test]
async fn audit_table_is_append_only() {
    let (tdb, svc) = setup().await;
    svc.set("a", json!({}), in_days(1), &ctx("c"))
        .await
        .unwrap();
    let w = tdb.db.writer();
    assert!(sqlx::query("UPDATE secrets_audit SET outcome = 'x'")
        .execute(w)
        .await
        .is_err());
    assert!(sqlx::query("DELETE FROM secrets_audit")
        .execute(w)
        .await
        .is_err());
    assert_eq!(audit(&svc, None).await.len(), 1);
}

#[tokio::test]
async fn keys_rotate_and_values_are_bound_to_their_name() {
    let (tdb, svc) = setup().await;
    svc.set("old-key", json!({"v": "before"}), in_days(1), &ctx("c"))
        .await
        .unwrap();
    let rotated = Cipher::new(&[
        ("k2".into(), "new key".into()),
        ("k1".into(), "secrets test key".into()),
    ])
    .unwrap();
    let svc2 = Secrets::new(tdb.db.clone(), rotated);
    assert_eq!(
        svc2.get("old-key", &ctx("c")).await.unwrap().secret,
        json!({"v": "before"})
    );
    svc2.set("new-key", json!({"v": "after"}), in_days(1), &ctx("c"))
        .await
        .unwrap();
    let sealed: String = sqlx::query("SELECT value FROM secrets WHERE name = 'new-key'")
        .fetch_one(tdb.db.reader())
        .await
        .unwrap()
        .get("value");
    assert!(sealed.starts_with("k2:"));

    // Someone with database access copies a sealed value into another secret's row: it does not open.
    sqlx::query("UPDATE secrets SET value = $1 WHERE name = 'old-key'")
        .bind(&sealed)
        .execute(tdb.db.writer())
        .await
        .unwrap();
    assert!(matches!(
        svc2.get("old-key", &ctx("c")).await,
        Err(SecretsError::Unreadable { .. })
    ));
}

#[tokio::test]
async fn no_plaintext_in_the_database() {
    let (tdb, svc) = setup().await;
    let canary = "canary-plaintext-8d1f27";
    svc.set(
        "plain/name-marker",
        json!({"password": canary}),
        in_days(1),
        &ctx("c"),
    )
    .await
    .unwrap();
    svc.get("plain/name-marker", &ctx("c")).await.unwrap();

    // Every text column of both tables, on either backend.
    for sql in [
        "SELECT value AS t FROM secrets",
        "SELECT client_id || action || name || outcome AS t FROM secrets_audit",
    ] {
        for row in sqlx::query(sql).fetch_all(tdb.db.reader()).await.unwrap() {
            let t: String = row.get("t");
            assert!(!t.contains(canary), "plaintext in {sql}");
        }
    }

    if tdb.backend() != Backend::Sqlite {
        return;
    }
    // The raw files: the database and its WAL, before and after a checkpoint folds one into the other.
    let path = tdb.url.trim_start_matches("sqlite:").to_string();
    let dir = std::path::Path::new(&path).parent().unwrap().to_path_buf();
    let scan = |when: &str| {
        let mut saw_name = false;
        for entry in std::fs::read_dir(&dir).unwrap() {
            // SQLite's `-shm` / `-journal` files come and go: one gone since the listing was
            // taken holds nothing to find.
            let bytes = match std::fs::read(entry.unwrap().path()) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("reading the database files: {e}"),
            };
            assert!(
                !contains(&bytes, canary.as_bytes()),
                "plaintext on disk ({when})"
            );
            saw_name |= contains(&bytes, b"plain/name-marker");
        }
        // Proves the scan looked at the bytes the secret was written to.
        assert!(saw_name, "secret name not found on disk ({when})");
    };
    scan("live");
    tdb.db.close().await;
    scan("closed");
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
