//! Sign-offs and scheduled rule changes on a real database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`), after Balrog's `tests/test_db.py` (TestSignoffsTable,
//! TestRulesScheduledChanges) and its agent's enact loop.

mod common;

use common::rule;
use relyard_store::Db;
use relyard_testing::TestDb;
use relyard_updates::store::{self, ChangeType, NewChange, StoreError};
use relyard_updates::Rule;

async fn setup() -> TestDb {
    common::migrated_db().await
}

const NOON: i64 = 1_700_000_000_000;

/// A Firefox rule on `channel` at data_version 1.
async fn stored_rule(db: &Db, id: i64, channel: &str) -> Rule {
    let mut r = rule(id, 100, 100, "b", "Firefox");
    r.channel = Some(channel.into());
    store::create_rule(db, "bill", &r).await.unwrap()
}

/// Schedules `rule` with a new mapping for NOON.
async fn schedule_mapping(db: &Db, rule: &Rule, mapping: &str) -> i64 {
    let mut new = rule.clone();
    new.mapping = Some(mapping.into());
    let change = NewChange {
        change_type: ChangeType::Update,
        rule: new,
        when: NOON,
    };
    store::schedule_rule_change(db, "bill", &change)
        .await
        .unwrap()
        .sc_id
}

/// The release channel needs two relman sign-offs; bill, mary and joe are relman, qa is not.
async fn protect_release(db: &Db) {
    store::create_required_signoff(db, "test", "Firefox", "release", "relman", 2)
        .await
        .unwrap();
    for user in ["bill", "mary", "joe"] {
        store::grant_role(db, user, "relman").await.unwrap();
    }
    store::grant_role(db, "qa", "qa").await.unwrap();
}

async fn mapping_of(db: &Db, rule_id: i64) -> Option<String> {
    store::get_rule(db, rule_id).await.unwrap().unwrap().mapping
}

#[tokio::test]
async fn protected_change_waits_for_two_different_signers() {
    let t = setup().await;
    let db = &t.db;
    protect_release(db).await;
    let r = stored_rule(db, 1, "release*").await;
    let required = store::required_signoffs_for(db, &r).await.unwrap();
    assert_eq!(required, [("relman".to_string(), 2)].into());
    let sc = schedule_mapping(db, &r, "c").await;

    // Due, but no sign-offs yet.
    let run = store::enact_due(db, "server-a", NOON).await.unwrap();
    assert_eq!((run.enacted, run.waiting), (vec![], vec![sc]));

    // One signer, twice: still one.
    assert!(store::sign_off(db, sc, "mary", "relman").await.unwrap());
    assert!(!store::sign_off(db, sc, "mary", "relman").await.unwrap());
    assert_eq!(store::signoffs(db, sc).await.unwrap().len(), 1);
    assert!(!store::is_ready(db, sc).await.unwrap());
    let run = store::enact_due(db, "server-a", NOON + 1).await.unwrap();
    assert!(run.enacted.is_empty());
    assert_eq!(mapping_of(db, 1).await.as_deref(), Some("b"));

    // A revoked sign-off no longer counts.
    assert!(store::sign_off(db, sc, "joe", "relman").await.unwrap());
    assert!(store::revoke_signoff(db, sc, "joe").await.unwrap());
    assert!(!store::is_ready(db, sc).await.unwrap());

    // The second different signer makes it ready; the next run enacts it.
    assert!(store::sign_off(db, sc, "bill", "relman").await.unwrap());
    assert!(store::is_ready(db, sc).await.unwrap());
    let run = store::enact_due(db, "server-a", NOON + 2).await.unwrap();
    assert_eq!(run.enacted, vec![sc]);
    assert_eq!(mapping_of(db, 1).await.as_deref(), Some("c"));
    let done = store::get_scheduled_change(db, sc).await.unwrap().unwrap();
    assert!(done.complete && done.failed.is_none());

    // Written through the store: history has the change, by who scheduled it.
    let history = store::rule_history(db, 1).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].changed_by, "bill");
    assert_eq!(history[1].data_version, Some(2));

    // Enacted once: later runs do nothing, and it can no longer be signed.
    let run = store::enact_due(db, "server-a", NOON + 3).await.unwrap();
    assert!(run.enacted.is_empty() && run.waiting.is_empty());
    let err = store::sign_off(db, sc, "joe", "relman").await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotPending(id) if id == sc),
        "{err}"
    );
}

#[tokio::test]
async fn signoffs_need_a_role_the_user_holds() {
    let t = setup().await;
    let db = &t.db;
    protect_release(db).await;
    let r = stored_rule(db, 1, "release").await;
    let sc = schedule_mapping(db, &r, "c").await;
    let err = store::sign_off(db, sc, "qa", "relman").await.unwrap_err();
    assert!(matches!(err, StoreError::NoRole { .. }), "{err}");
    let err = store::sign_off(db, sc, "nobody", "relman")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NoRole { .. }), "{err}");
    // One sign-off per user: a second role is refused too.
    store::grant_role(db, "mary", "qa").await.unwrap();
    store::sign_off(db, sc, "mary", "relman").await.unwrap();
    let err = store::sign_off(db, sc, "mary", "qa").await.unwrap_err();
    assert!(matches!(err, StoreError::SignedAsOtherRole { .. }), "{err}");
    assert!(store::signoffs(db, sc).await.unwrap().len() == 1);
}

#[tokio::test]
async fn unprotected_change_enacts_on_time_alone() {
    let t = setup().await;
    let db = &t.db;
    protect_release(db).await;
    // A beta rule matches no required sign-off.
    let r = stored_rule(db, 1, "beta").await;
    assert!(store::required_signoffs_for(db, &r)
        .await
        .unwrap()
        .is_empty());
    let sc = schedule_mapping(db, &r, "c").await;

    // Not due yet: nothing happens.
    let run = store::enact_due(db, "server-a", NOON - 1).await.unwrap();
    assert!(run.leased);
    assert!(run.enacted.is_empty() && run.waiting.is_empty());
    assert_eq!(mapping_of(db, 1).await.as_deref(), Some("b"));

    let run = store::enact_due(db, "server-a", NOON).await.unwrap();
    assert_eq!(run.enacted, vec![sc]);
    assert_eq!(mapping_of(db, 1).await.as_deref(), Some("c"));
}

#[tokio::test]
async fn inserts_and_deletes_are_enacted() {
    let t = setup().await;
    let db = &t.db;
    let old = stored_rule(db, 1, "beta").await;
    let delete = NewChange {
        change_type: ChangeType::Delete,
        rule: old,
        when: NOON,
    };
    let del = store::schedule_rule_change(db, "bill", &delete)
        .await
        .unwrap();
    let mut fresh = rule(0, 50, 100, "d", "Firefox");
    fresh.channel = Some("nightly".into());
    let insert = NewChange {
        change_type: ChangeType::Insert,
        rule: fresh,
        when: NOON,
    };
    let ins = store::schedule_rule_change(db, "bill", &insert)
        .await
        .unwrap();
    let run = store::enact_due(db, "server-a", NOON).await.unwrap();
    assert_eq!(run.enacted, vec![del.sc_id, ins.sc_id]);
    let rules = store::list_rules(db).await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].mapping.as_deref(), Some("d"));
}

#[tokio::test]
async fn stale_change_is_marked_failed_not_applied() {
    let t = setup().await;
    let db = &t.db;
    let r = stored_rule(db, 1, "beta").await;
    let sc = schedule_mapping(db, &r, "c").await;
    // Someone changes the rule directly after the change was scheduled.
    let mut moved = r.clone();
    moved.mapping = Some("e".into());
    store::update_rule(db, "mary", &moved).await.unwrap();

    let run = store::enact_due(db, "server-a", NOON).await.unwrap();
    assert_eq!((run.enacted, run.failed), (vec![], vec![sc]));
    assert_eq!(mapping_of(db, 1).await.as_deref(), Some("e"));
    let failed = store::get_scheduled_change(db, sc).await.unwrap().unwrap();
    assert!(!failed.complete);
    assert!(failed.failed.unwrap().contains("data_version 2"));
    // Not retried.
    let run = store::enact_due(db, "server-a", NOON + 1).await.unwrap();
    assert!(run.failed.is_empty() && run.enacted.is_empty());

    // Scheduling on a stale version is refused outright.
    let err = NewChange {
        change_type: ChangeType::Update,
        rule: r,
        when: NOON,
    };
    let err = store::schedule_rule_change(db, "bill", &err)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
}

#[tokio::test]
async fn lease_has_one_holder_until_it_expires() {
    let t = setup().await;
    let db = &t.db;
    let lease = store::ENACT_LEASE;
    assert!(store::take_lease(db, lease, "a", NOON, 1000).await.unwrap());
    assert!(!store::take_lease(db, lease, "b", NOON + 999, 1000)
        .await
        .unwrap());
    // The holder may renew; after expiry anyone may take it.
    assert!(store::take_lease(db, lease, "a", NOON + 500, 1000)
        .await
        .unwrap());
    assert!(!store::take_lease(db, lease, "b", NOON + 1499, 1000)
        .await
        .unwrap());
    assert!(store::take_lease(db, lease, "b", NOON + 1500, 1000)
        .await
        .unwrap());
    // Another server holding it: enact_due does nothing.
    let r = stored_rule(db, 1, "beta").await;
    schedule_mapping(db, &r, "c").await;
    let run = store::enact_due(db, "a", NOON + 1600).await.unwrap();
    assert!(!run.leased && run.enacted.is_empty());
    assert_eq!(mapping_of(db, 1).await.as_deref(), Some("b"));
    store::release_lease(db, lease, "b").await.unwrap();
    let run = store::enact_due(db, "a", NOON + 1600).await.unwrap();
    assert_eq!(run.enacted.len(), 1);
}

#[tokio::test]
async fn two_servers_racing_take_the_lease_once() {
    let t = setup().await;
    let db = &t.db;
    for round in 0..10 {
        let now = NOON + round * 10_000;
        let (a, b) = tokio::join!(
            store::take_lease(db, "race", "a", now, 5_000),
            store::take_lease(db, "race", "b", now, 5_000),
        );
        assert!(a.unwrap() ^ b.unwrap(), "round {round}: exactly one holder");
    }
}

#[tokio::test]
async fn two_servers_racing_enact_each_change_once() {
    let t = setup().await;
    let db = &t.db;
    let mut scs = Vec::new();
    for id in 1..=5 {
        let r = stored_rule(db, id, "beta").await;
        scs.push(schedule_mapping(db, &r, "c").await);
    }
    let (db_a, db_b) = (db.clone(), db.clone());
    let a = tokio::spawn(async move { store::enact_due(&db_a, "server-a", NOON).await });
    let b = tokio::spawn(async move { store::enact_due(&db_b, "server-b", NOON).await });
    let (a, b) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
    let mut enacted: Vec<i64> = a.enacted.iter().chain(&b.enacted).copied().collect();
    enacted.sort_unstable();
    assert_eq!(
        enacted, scs,
        "every change enacted exactly once: {a:?} {b:?}"
    );
    for id in 1..=5 {
        // One creation and one enactment per rule: nothing applied twice.
        assert_eq!(store::rule_history(db, id).await.unwrap().len(), 2);
        assert_eq!(
            store::get_rule(db, id).await.unwrap().unwrap().data_version,
            2
        );
    }
}
