//! The updates store on a real database (SQLite, or PostgreSQL with `TEST_DATABASE_URL`):
//! Balrog's `data_version` checks and history (its `tests/test_db.py`), and the public endpoint
//! answering from what the store holds.

mod common;

use std::sync::Arc;

use common::{assert_empty, assert_xml, b_blob, rule, v1_blob, Server, B_UPDATE};
use relyard_store::Db;
use relyard_testing::TestDb;
use relyard_updates::allowlist::DomainAllowlist;
use relyard_updates::store::{self, StoreError};
use relyard_updates::{EmergencyShutoff, Rule, UpdatesService};
use serde_json::{json, Value};

async fn setup() -> TestDb {
    common::migrated_db().await
}

/// A rule with every column set, as Balrog's GET /rules/<id> returns it.
fn full_rule() -> Rule {
    serde_json::from_value(json!({
        "rule_id": 42024, "alias": "moz-releng", "priority": 90, "mapping": "b",
        "fallbackMapping": "f", "backgroundRate": 25, "update_type": "minor", "product": "b",
        "version": "<60.0", "channel": "release*", "buildTarget": "p", "buildID": "<2019",
        "locale": "de,fr", "osVersion": "Windows_NT 10", "memory": ">2000",
        "instructionSet": "SSE2", "jaws": false, "mig64": true, "distribution": "default",
        "distVersion": "1.0", "headerArchitecture": "Intel", "comment": "x", "data_version": 7
    }))
    .expect("rule JSON")
}

/// Stores [`full_rule`] as "bill", then a changed copy as `who`: versions 1 and 2.
async fn stored_and_changed(db: &Db, who: &str, change: impl FnOnce(&mut Rule)) -> (Rule, Rule) {
    let v1 = store::create_rule(db, "bill", &full_rule()).await.unwrap();
    let mut next = v1.clone();
    change(&mut next);
    let v2 = store::update_rule(db, who, &next).await.unwrap();
    (v1, v2)
}

fn rule_json(r: &Rule) -> Value {
    serde_json::to_value(r).expect("rule to JSON")
}

#[tokio::test]
async fn rules_round_trip() {
    let t = setup().await;
    let db = &t.db;
    let created = store::create_rule(db, "bill", &full_rule()).await.unwrap();
    // A new row starts at data_version 1 whatever the caller sent; the imported id is kept.
    assert_eq!((created.rule_id, created.data_version), (42024, 1));
    assert_eq!(
        created,
        Rule {
            data_version: 1,
            ..full_rule()
        }
    );
    assert_eq!(
        store::get_rule(db, 42024).await.unwrap(),
        Some(created.clone())
    );

    // Wildcards (NULL columns) survive the round trip; rule_id 0 asks for a fresh id, which
    // comes after the imported one.
    let wild = store::create_rule(db, "bill", &rule(0, 80, 100, "c", "c"))
        .await
        .unwrap();
    assert_eq!(wild.rule_id, 42025);
    assert_eq!(
        store::get_rule(db, wild.rule_id).await.unwrap(),
        Some(wild.clone())
    );
    let ids: Vec<i64> = store::list_rules(db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.rule_id)
        .collect();
    assert_eq!(ids, vec![42024, 42025]);

    let mut changed = created.clone();
    changed.priority = Some(100);
    changed.jaws = None;
    changed.alias = None;
    let updated = store::update_rule(db, "ben", &changed).await.unwrap();
    assert_eq!(updated.data_version, 2);
    assert_eq!(
        store::get_rule(db, 42024).await.unwrap(),
        Some(Rule {
            data_version: 2,
            ..changed
        })
    );

    store::delete_rule(db, "ben", 42024, 2).await.unwrap();
    assert_eq!(store::get_rule(db, 42024).await.unwrap(), None);
    assert!(matches!(
        store::delete_rule(db, "ben", 42024, 2).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn taken_alias_and_id_are_refused() {
    let t = setup().await;
    let db = &t.db;
    store::create_rule(db, "bill", &full_rule()).await.unwrap();
    let again = store::create_rule(db, "bill", &full_rule()).await;
    assert!(matches!(again, Err(StoreError::Exists { .. })), "{again:?}");
    let same_alias = Rule {
        rule_id: 0,
        ..full_rule()
    };
    let got = store::create_rule(db, "bill", &same_alias).await;
    assert!(matches!(got, Err(StoreError::Exists { .. })), "{got:?}");
    // Taking another rule's alias in an update is refused too, and changes nothing.
    let other = store::create_rule(db, "bill", &rule(0, 1, 100, "b", "b"))
        .await
        .unwrap();
    let taking = Rule {
        alias: Some("moz-releng".into()),
        ..other.clone()
    };
    let got = store::update_rule(db, "bill", &taking).await;
    assert!(matches!(got, Err(StoreError::Exists { .. })), "{got:?}");
    assert_eq!(
        store::get_rule(db, other.rule_id).await.unwrap(),
        Some(other)
    );
    assert_eq!(store::list_rules(db).await.unwrap().len(), 2);
    assert_eq!(store::rule_history(db, 42024).await.unwrap().len(), 1);
}

// balrog tests/test_db.py: testUpdateRuleOutdatedData / testDeleteRuleOutdatedData.
#[tokio::test]
async fn stale_rule_data_version_changes_nothing() {
    let t = setup().await;
    let db = &t.db;
    let (v1, v2) = stored_and_changed(db, "bill", |r| r.priority = Some(1)).await;

    // A writer who read version 1 neither updates nor deletes.
    let stale = Rule {
        priority: Some(5),
        ..v1.clone()
    };
    match store::update_rule(db, "ben", &stale).await {
        Err(StoreError::Conflict { given, current, .. }) => assert_eq!((given, current), (1, 2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        store::delete_rule(db, "ben", v1.rule_id, 1).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store::get_rule(db, v1.rule_id).await.unwrap(), Some(v2));
    assert_eq!(store::rule_history(db, v1.rule_id).await.unwrap().len(), 2);
}

// balrog tests/test_db.py: the rules_history rows of testInsert / testUpdate / testDelete.
#[tokio::test]
async fn every_rule_change_has_a_history_row() {
    let t = setup().await;
    let db = &t.db;
    let (v1, v2) = stored_and_changed(db, "ben", |r| r.mapping = Some("c".into())).await;
    store::delete_rule(db, "carl", v1.rule_id, 2).await.unwrap();

    let h = store::rule_history(db, v1.rule_id).await.unwrap();
    let who: Vec<&str> = h.iter().map(|r| r.changed_by.as_str()).collect();
    assert_eq!(who, ["bill", "ben", "carl"]);
    let versions: Vec<Option<i64>> = h.iter().map(|r| r.data_version).collect();
    assert_eq!(versions, [Some(1), Some(2), None]);
    assert_eq!(
        (h[0].old.clone(), h[0].new.clone()),
        (None, Some(rule_json(&v1)))
    );
    assert_eq!(
        (h[1].old.clone(), h[1].new.clone()),
        (Some(rule_json(&v1)), Some(rule_json(&v2)))
    );
    // The deleted rule's history stays, ending with its last row.
    assert_eq!(
        (h[2].old.clone(), h[2].new.clone()),
        (Some(rule_json(&v2)), None)
    );
    assert!(h.windows(2).all(|w| w[0].change_id < w[1].change_id));
    assert!(h.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    assert!(h[0].timestamp.millis() > 1_600_000_000_000, "milliseconds");
}

fn release_json(r: &store::StoredRelease) -> Value {
    serde_json::to_value(r).expect("release to JSON")
}

#[tokio::test]
async fn releases_round_trip_with_history() {
    let t = setup().await;
    let db = &t.db;
    let blob = b_blob();
    let v1 = store::create_release(db, "bill", "b", "b", &blob)
        .await
        .unwrap();
    assert_eq!((v1.data_version, v1.read_only), (1, false));
    assert_eq!(store::get_release(db, "b").await.unwrap(), Some(v1.clone()));
    assert!(matches!(
        store::create_release(db, "bill", "b", "b", &blob).await,
        Err(StoreError::Exists { .. })
    ));

    let blob2 = v1_blob("b", Some("2.0"), "3", &[("l", "3", "4", "http://a.com/z2")]);
    let v2 = store::update_release(db, "ben", "b", "b", &blob2, 1)
        .await
        .unwrap();
    assert_eq!((v2.data_version, &v2.data), (2, &blob2));
    // Stale: nothing changes.
    assert!(matches!(
        store::update_release(db, "ben", "b", "b", &blob, 1).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store::delete_release(db, "ben", "b", 1).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store::get_release(db, "b").await.unwrap(), Some(v2.clone()));

    store::delete_release(db, "carl", "b", 2).await.unwrap();
    assert_eq!(store::get_release(db, "b").await.unwrap(), None);
    assert_eq!(store::list_releases(db).await.unwrap(), vec![]);
    let h = store::release_history(db, "b").await.unwrap();
    type Change<'a> = (&'a str, Option<i64>, Option<Value>, Option<Value>);
    let rows: Vec<Change> = h
        .iter()
        .map(|r| {
            (
                r.changed_by.as_str(),
                r.data_version,
                r.old.clone(),
                r.new.clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("bill", Some(1), None, Some(release_json(&v1))),
            (
                "ben",
                Some(2),
                Some(release_json(&v1)),
                Some(release_json(&v2))
            ),
            ("carl", None, Some(release_json(&v2)), None),
        ]
    );
}

// balrog tests/test_db.py: TestReleasesAPI read_only cases (ReadOnlyError).
#[tokio::test]
async fn read_only_releases_refuse_changes() {
    let t = setup().await;
    let db = &t.db;
    let blob = b_blob();
    store::create_release(db, "bill", "b", "b", &blob)
        .await
        .unwrap();
    let ro = store::set_read_only(db, "bill", "b", true, 1)
        .await
        .unwrap();
    assert_eq!((ro.read_only, ro.data_version), (true, 2));

    let blob2 = v1_blob("b", Some("2.0"), "3", &[("l", "3", "4", "http://a.com/z2")]);
    assert!(matches!(
        store::update_release(db, "ben", "b", "b", &blob2, 2).await,
        Err(StoreError::ReadOnly(_))
    ));
    assert!(matches!(
        store::delete_release(db, "ben", "b", 2).await,
        Err(StoreError::ReadOnly(_))
    ));
    assert_eq!(store::get_release(db, "b").await.unwrap(), Some(ro));
    assert_eq!(store::release_history(db, "b").await.unwrap().len(), 2);

    let rw = store::set_read_only(db, "bill", "b", false, 2)
        .await
        .unwrap();
    let v4 = store::update_release(db, "ben", "b", "b", &blob2, rw.data_version)
        .await
        .unwrap();
    assert_eq!(v4.data_version, 4);
}

#[tokio::test]
async fn invalid_and_mapped_releases() {
    let t = setup().await;
    let db = &t.db;
    let bad = json!({"name": "x", "schema_version": 7});
    assert!(matches!(
        store::create_release(db, "bill", "x", "x", &bad).await,
        Err(StoreError::InvalidBlob(_))
    ));
    assert_eq!(store::release_history(db, "x").await.unwrap(), vec![]);

    // Balrog refuses to delete a release a rule maps to (also as fallback).
    store::create_release(db, "bill", "b", "b", &b_blob())
        .await
        .unwrap();
    let r = Rule {
        fallback_mapping: Some("b".into()),
        ..rule(3, 90, 0, "q", "q")
    };
    store::create_rule(db, "bill", &r).await.unwrap();
    match store::delete_release(db, "ben", "b", 1).await {
        Err(StoreError::InUse { rule_id, .. }) => assert_eq!(rule_id, 3),
        other => panic!("expected in use, got {other:?}"),
    }
    assert!(store::get_release(db, "b").await.unwrap().is_some());
}

#[tokio::test]
async fn shutoffs() {
    let t = setup().await;
    let db = &t.db;
    let s = EmergencyShutoff {
        product: "b".into(),
        channel: "a".into(),
    };
    let stored = store::create_shutoff(db, "test", &s).await.unwrap();
    assert_eq!(stored.data_version, 1);
    assert!(matches!(
        store::create_shutoff(db, "test", &s).await,
        Err(StoreError::Exists { .. })
    ));
    assert!(matches!(
        store::delete_shutoff(db, "test", &s, 2).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store::list_shutoffs(db).await.unwrap(), vec![stored]);
    store::delete_shutoff(db, "test", &s, 1).await.unwrap();
    assert_eq!(store::list_shutoffs(db).await.unwrap(), vec![]);
}

async fn serve(db: &Db) -> Server {
    let service = UpdatesService::from_db(db.clone(), Arc::new(|| 99u8))
        .await
        .expect("load from the store");
    let allowlist = DomainAllowlist::from_json(&json!({"a.com": ["b"]})).expect("allow-list");
    service.set_allowlist(allowlist);
    Server::serve(service).await
}

// balrog tests/web/test_client.py: testGetURL (rule 1 → release b), answered from the store.
#[tokio::test]
async fn the_router_answers_from_the_store() {
    let t = setup().await;
    let db = &t.db;
    store::create_release(db, "bill", "b", "b", &b_blob())
        .await
        .unwrap();
    let r1 = store::create_rule(db, "bill", &rule(1, 90, 100, "b", "b"))
        .await
        .unwrap();
    let url = "/update/3/b/1.0/1/p/l/a/a/a/a/update.xml";
    let s = serve(db).await;
    let got = s.get(url).await;
    assert_xml(&got, B_UPDATE);
    assert_eq!(got.header("rule-id"), Some("1"));
    assert_eq!(got.header("rule-data-version"), Some("1"));

    // A change is seen after reload(), not before; the allow-list set in memory is kept.
    let off = EmergencyShutoff {
        product: "b".into(),
        channel: "a".into(),
    };
    store::create_shutoff(db, "test", &off).await.unwrap();
    assert_xml(&s.get(url).await, B_UPDATE);
    s.service.reload().await.unwrap();
    assert_empty(&s.get(url).await);

    store::delete_shutoff(db, "test", &off, 1).await.unwrap();
    store::update_rule(
        db,
        "ben",
        &Rule {
            background_rate: Some(0),
            ..r1
        },
    )
    .await
    .unwrap();
    s.service.reload().await.unwrap();
    let got = s.get(url).await;
    assert_empty(&got);
    assert_eq!(got.header("rule-data-version"), Some("2"));
}

#[tokio::test]
async fn reload_needs_a_database() {
    let service = UpdatesService::default();
    assert!(matches!(
        service.reload().await,
        Err(StoreError::NoDatabase)
    ));
}

#[tokio::test]
async fn permissions() {
    let t = setup().await;
    let db = &t.db;
    let opts = json!({"products": ["Firefox"], "actions": ["create"]});
    let p = store::grant_permission(db, "bill", "rule", Some(&opts))
        .await
        .unwrap();
    let admin = store::grant_permission(db, "bill", "admin", None)
        .await
        .unwrap();
    assert!(matches!(
        store::grant_permission(db, "bill", "rule", None).await,
        Err(StoreError::Exists { .. })
    ));
    assert_eq!(
        store::user_permissions(db, "bill").await.unwrap(),
        vec![admin, p]
    );
    assert!(matches!(
        store::revoke_permission(db, "bill", "rule", 2).await,
        Err(StoreError::Conflict { .. })
    ));
    store::revoke_permission(db, "bill", "rule", 1)
        .await
        .unwrap();
    assert_eq!(store::user_permissions(db, "bill").await.unwrap().len(), 1);
}

/// Two writers who read the same version race: the row lock lets exactly one through, the other
/// gets the conflict, and history has one row per change that happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_of_one_version() {
    let t = setup().await;
    let db = &t.db;
    let v1 = store::create_rule(db, "bill", &full_rule()).await.unwrap();
    let writers = ["ben", "carl", "dora", "eve"].map(|who| {
        let (db, rule) = (
            db.clone(),
            Rule {
                comment: Some(who.into()),
                ..v1.clone()
            },
        );
        tokio::spawn(async move { store::update_rule(&db, who, &rule).await })
    });
    let mut won = 0;
    for w in writers {
        match w.await.expect("task") {
            Ok(r) => {
                won += 1;
                assert_eq!(r.data_version, 2);
            }
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store::rule_history(db, v1.rule_id).await.unwrap().len(), 2);
}
