//! Scheduled rule changes and sign-offs over HTTP with different callers (one on Bearer, one
//! on Hawk), after Balrog's `tests/admin/views/test_scheduled_changes.py`: a change to a
//! protected rule is not enacted before two different people holding the required role signed
//! off, one person signing twice does not count twice, and it is enacted right after the
//! second sign-off (the "due" step is `store::enact_due`, called directly).

#[path = "common/admin.rs"]
mod admin_common;

use admin_common::{empty_blob, Admin};
use relyard_updates::store;
use serde_json::{json, Value};

struct Protected {
    a: Admin,
    admin: String,
    rule_id: i64,
    sc_id: i64,
    when: i64,
}

/// Releases R1 and R2, a Firefox release-channel rule on R1 protected by 2 relman sign-offs,
/// and a scheduled change (by the admin, who holds no role) moving it to R2.
async fn protected() -> Protected {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", &["updates:admin"]).await;
    for name in ["R1", "R2"] {
        a.put_release(&admin, name, "Firefox", empty_blob(name))
            .await;
    }
    let rule_id = a.protected_rule(&admin, "R1", 2).await;

    let when = relyard_core::Timestamp::now().millis() + 3_600_000;
    let change = json!({"change_type": "update", "rule_id": rule_id, "data_version": 1,
                        "mapping": "R2", "when": when});
    let sc = a
        .call(
            Some(&admin),
            "POST",
            "/scheduled_changes/rules",
            Some(&change),
        )
        .await;
    assert_eq!(sc.status, 200, "{}", sc.text);
    assert_eq!(sc.body["signoffs"], json!({}));
    let sc_id = sc.body["sc_id"].as_i64().expect("sc_id");
    Protected {
        a,
        admin,
        rule_id,
        sc_id,
        when,
    }
}

impl Protected {
    async fn mapping(&self) -> Value {
        let r = self
            .a
            .call(None, "GET", &format!("/rules/{}", self.rule_id), None)
            .await;
        r.body["mapping"].clone()
    }

    /// The scheduler's run at the change's time.
    async fn enact_due(&self) -> store::EnactReport {
        let report = store::enact_due(&self.a.db, "test-server", self.when + 1)
            .await
            .expect("enact_due");
        self.a.service.changed().await.expect("reload");
        report
    }

    fn signoffs_path(&self) -> String {
        format!("/scheduled_changes/rules/{}/signoffs", self.sc_id)
    }
}

#[tokio::test]
async fn two_different_people_must_sign_and_one_person_twice_does_not_count() {
    let p = protected().await;
    let relman = json!({"role": "relman"});

    // bill calls with a Bearer token, mary with Hawk; carol holds no role.
    let bill =
        p.a.bearer("test/bill", &["updates:role:relman", "updates:role:qa"])
            .await;
    let mary_token = p.a.make_client("test/mary", &["updates:role:*"]).await;
    let mary = ("test/mary", mary_token.as_str());
    let carol = p.a.bearer("test/carol", &["updates:rule:*"]).await;

    let listed =
        p.a.call(None, "GET", "/scheduled_changes/rules", None)
            .await;
    assert_eq!(listed.body["count"], 1);
    let sc = &listed.body["scheduled_changes"][0];
    assert_eq!(sc["required_signoffs"], json!({"relman": 2}));
    assert_eq!(sc["mapping"], "R2");
    assert_eq!(sc["sc_data_version"], 1);

    let refused =
        p.a.call(Some(&carol), "POST", &p.signoffs_path(), Some(&relman))
            .await;
    assert_eq!(refused.status, 403, "{}", refused.text);

    let first =
        p.a.call(Some(&bill), "POST", &p.signoffs_path(), Some(&relman))
            .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let report = p.enact_due().await;
    assert_eq!(report.waiting, vec![p.sc_id]);
    assert_eq!(p.mapping().await, "R1");

    // The same person again: accepted, but still one sign-off.
    let again =
        p.a.call(Some(&bill), "POST", &p.signoffs_path(), Some(&relman))
            .await;
    assert_eq!(again.status, 200, "{}", again.text);
    let other_role =
        p.a.call(
            Some(&bill),
            "POST",
            &p.signoffs_path(),
            Some(&json!({"role": "qa"})),
        )
        .await;
    assert_eq!(
        other_role.status, 400,
        "one sign-off per person: {}",
        other_role.text
    );
    let report = p.enact_due().await;
    assert_eq!(report.waiting, vec![p.sc_id]);
    assert!(report.enacted.is_empty());
    assert_eq!(p.mapping().await, "R1");
    let one =
        p.a.call(
            None,
            "GET",
            &format!("/scheduled_changes/rules/{}", p.sc_id),
            None,
        )
        .await;
    assert_eq!(
        one.body["scheduled_change"]["signoffs"],
        json!({"test/bill": "relman"})
    );

    // Enacting by hand before the second sign-off is refused too.
    let enactor =
        p.a.bearer("test/enactor", &["updates:scheduled_change:enact"])
            .await;
    let early =
        p.a.call(
            Some(&enactor),
            "POST",
            &format!("/scheduled_changes/rules/{}/enact", p.sc_id),
            None,
        )
        .await;
    assert_eq!(early.status, 400, "{}", early.text);
    assert_eq!(p.mapping().await, "R1");

    // A second, different person: the next run enacts it.
    let second =
        p.a.call_hawk(mary, "POST", &p.signoffs_path(), Some(&relman))
            .await;
    assert_eq!(second.status, 200, "{}", second.text);
    let report = p.enact_due().await;
    assert_eq!(report.enacted, vec![p.sc_id]);
    assert_eq!(p.mapping().await, "R2");
    let history =
        p.a.call(
            None,
            "GET",
            &format!("/rules/{}/revisions", p.rule_id),
            None,
        )
        .await;
    assert_eq!(history.body["rules"][0]["changed_by"], "test/admin");
    assert_eq!(history.body["rules"][0]["mapping"], "R2");

    let done =
        p.a.call(None, "GET", "/scheduled_changes/rules?all=1", None)
            .await;
    assert_eq!(done.body["scheduled_changes"][0]["complete"], true);
    let pending =
        p.a.call(None, "GET", "/scheduled_changes/rules", None)
            .await;
    assert_eq!(pending.body["count"], 0);
    let revisions =
        p.a.call(
            None,
            "GET",
            &format!("/scheduled_changes/rules/{}/revisions", p.sc_id),
            None,
        )
        .await;
    assert_eq!(revisions.body["count"], 2, "{}", revisions.text);
    assert_eq!(revisions.body["revisions"][0]["complete"], true);
}

#[tokio::test]
async fn enact_by_hand_revoke_edit_and_delete() {
    let p = protected().await;
    let relman = json!({"role": "relman"});
    let bill = p.a.bearer("test/bill", &["updates:role:relman"]).await;
    let mary = p.a.bearer("test/mary", &["updates:role:relman"]).await;
    for who in [&bill, &mary] {
        let r =
            p.a.call(Some(who), "POST", &p.signoffs_path(), Some(&relman))
                .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // Mary takes hers back: not ready any more.
    let revoked =
        p.a.call(Some(&mary), "DELETE", &p.signoffs_path(), None)
            .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert!(p.enact_due().await.waiting.contains(&p.sc_id));

    // Editing the change drops the sign-offs it had.
    let edit = json!({"sc_data_version": 1, "data_version": 1, "backgroundRate": 50});
    let path = format!("/scheduled_changes/rules/{}", p.sc_id);
    let edited = p.a.call(Some(&p.admin), "POST", &path, Some(&edit)).await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    assert_eq!(edited.body["new_data_version"], 2);
    let stale = p.a.call(Some(&p.admin), "POST", &path, Some(&edit)).await;
    assert_eq!(stale.status, 400);
    let one = p.a.call(None, "GET", &path, None).await;
    assert_eq!(one.body["scheduled_change"]["signoffs"], json!({}));
    assert_eq!(one.body["scheduled_change"]["backgroundRate"], 50);

    for who in [&bill, &mary] {
        p.a.call(Some(who), "POST", &p.signoffs_path(), Some(&relman))
            .await;
    }
    let nobody = p.a.bearer("test/nobody", &[]).await;
    let enact_path = format!("{path}/enact");
    let refused = p.a.call(Some(&nobody), "POST", &enact_path, None).await;
    assert_eq!(refused.status, 403);
    let enacted = p.a.call(Some(&p.admin), "POST", &enact_path, None).await;
    assert_eq!(enacted.status, 200, "{}", enacted.text);
    assert_eq!(p.mapping().await, "R2");
    let twice = p.a.call(Some(&p.admin), "POST", &enact_path, None).await;
    assert_eq!(twice.status, 400);

    // A new change, deleted with its data_version.
    let change = json!({"change_type": "delete", "rule_id": p.rule_id, "data_version": 2,
                        "when": p.when});
    let sc =
        p.a.call(
            Some(&p.admin),
            "POST",
            "/scheduled_changes/rules",
            Some(&change),
        )
        .await;
    assert_eq!(sc.status, 200, "{}", sc.text);
    let del_path = format!("/scheduled_changes/rules/{}", sc.body["sc_id"]);
    let stale =
        p.a.call(
            Some(&p.admin),
            "DELETE",
            &format!("{del_path}?data_version=7"),
            None,
        )
        .await;
    assert_eq!(stale.status, 400);
    let deleted =
        p.a.call(
            Some(&p.admin),
            "DELETE",
            &format!("{del_path}?data_version=1"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let gone = p.a.call(None, "GET", &del_path, None).await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn bad_scheduled_changes_are_400() {
    let p = protected().await;
    let past = relyard_core::Timestamp::now().millis() - 1000;
    let cases = [
        json!({"change_type": "update", "rule_id": p.rule_id, "data_version": 1, "when": past}),
        json!({"change_type": "update", "rule_id": p.rule_id, "when": p.when}),
        json!({"change_type": "sideways", "when": p.when}),
        json!({"change_type": "insert", "mapping": "R1", "when": p.when}),
        json!({"change_type": "update", "rule_id": p.rule_id, "data_version": 1}),
        json!({"change_type": "update", "rule_id": "x", "data_version": 1, "when": p.when}),
        json!({"change_type": "update", "rule_id": p.rule_id, "data_version": 1,
               "when": "soon"}),
    ];
    for body in cases {
        let r =
            p.a.call(
                Some(&p.admin),
                "POST",
                "/scheduled_changes/rules",
                Some(&body),
            )
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
    }
    let no_role =
        p.a.call(Some(&p.admin), "POST", &p.signoffs_path(), Some(&json!({})))
            .await;
    assert_eq!(no_role.status, 400);
    let not_a_number =
        p.a.call(None, "GET", "/scheduled_changes/rules/abc", None)
            .await;
    assert_eq!(not_a_number.status, 400);
}

#[tokio::test]
async fn a_scheduler_holding_the_role_signs_off_and_one_change_per_rule_is_pending() {
    let p = protected().await;
    // The fixture's change is pending: another one for the same rule is refused.
    let again = json!({"change_type": "update", "rule_id": p.rule_id, "data_version": 1,
                       "backgroundRate": 5, "when": p.when});
    let refused =
        p.a.call(
            Some(&p.admin),
            "POST",
            "/scheduled_changes/rules",
            Some(&again),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.body["detail"], "ChangeScheduledError");
    let path = format!("/scheduled_changes/rules/{}?data_version=1", p.sc_id);
    let deleted = p.a.call(Some(&p.admin), "DELETE", &path, None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);

    // bill may change rules and holds relman: scheduling signs off for him.
    let bill =
        p.a.bearer("test/bill", &["updates:rule:*", "updates:role:relman"])
            .await;
    let sc =
        p.a.call(
            Some(&bill),
            "POST",
            "/scheduled_changes/rules",
            Some(&again),
        )
        .await;
    assert_eq!(sc.status, 200, "{}", sc.text);
    assert_eq!(sc.body["signoffs"], json!({"test/bill": "relman"}));
    let sc_id = sc.body["sc_id"].as_i64().expect("sc_id");
    let report = p.enact_due().await;
    assert_eq!(report.waiting, vec![sc_id], "two are needed");
    let mary = p.a.bearer("test/mary", &["updates:role:relman"]).await;
    let signed =
        p.a.call(
            Some(&mary),
            "POST",
            &format!("/scheduled_changes/rules/{sc_id}/signoffs"),
            Some(&json!({"role": "relman"})),
        )
        .await;
    assert_eq!(signed.status, 200, "{}", signed.text);
    assert_eq!(p.enact_due().await.enacted, vec![sc_id]);
    let rule =
        p.a.call(None, "GET", &format!("/rules/{}", p.rule_id), None)
            .await;
    assert_eq!(rule.body["backgroundRate"], 5);
}

#[tokio::test]
async fn direct_changes_are_merged_into_pending_scheduled_changes() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", &["updates:admin"]).await;
    for name in ["R1", "R2"] {
        let body = json!({"name": name, "product": "Firefox", "blob": empty_blob(name)});
        a.call(
            Some(&admin),
            "PUT",
            &format!("/releases/{name}"),
            Some(&body),
        )
        .await;
    }
    let rule = json!({"mapping": "R1", "product": "Firefox", "channel": "nightly",
                      "priority": 100, "backgroundRate": 100, "update_type": "minor"});
    let id: i64 = a
        .call(Some(&admin), "POST", "/rules", Some(&rule))
        .await
        .text
        .parse()
        .expect("rule id");
    let when = relyard_core::Timestamp::now().millis() + 3_600_000;
    let change = json!({"change_type": "update", "rule_id": id, "data_version": 1,
                        "backgroundRate": 5, "when": when});
    let sc = a
        .call(
            Some(&admin),
            "POST",
            "/scheduled_changes/rules",
            Some(&change),
        )
        .await;
    let sc_path = format!("/scheduled_changes/rules/{}", sc.body["sc_id"]);

    // Another column: merged into the scheduled change, which is rebased on version 2.
    let direct = json!({"mapping": "R2", "data_version": 1});
    let r = a
        .call(Some(&admin), "PUT", &format!("/rules/{id}"), Some(&direct))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = a.call(None, "GET", &sc_path, None).await;
    let planned = &got.body["scheduled_change"];
    assert_eq!(planned["mapping"], "R2");
    assert_eq!(planned["backgroundRate"], 5);
    assert_eq!(planned["data_version"], 2);
    assert_eq!(planned["sc_data_version"], 2);

    // The same column: Balrog's UpdateMergeError, and nothing changes.
    let clash = json!({"backgroundRate": 7, "data_version": 2});
    let r = a
        .call(Some(&admin), "PUT", &format!("/rules/{id}"), Some(&clash))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["detail"], "UpdateMergeError");
    let now = a.call(None, "GET", &format!("/rules/{id}"), None).await;
    assert_eq!(now.header("X-Data-Version"), Some("2"));
    assert_eq!(now.body["backgroundRate"], 100);

    let report = store::enact_due(&a.db, "test-server", when + 1)
        .await
        .expect("enact_due");
    assert_eq!(report.enacted.len(), 1, "{report:?}");
    let done = a.call(None, "GET", &format!("/rules/{id}"), None).await;
    assert_eq!(done.body["mapping"], "R2");
    assert_eq!(done.body["backgroundRate"], 5);
}

#[tokio::test]
async fn required_signoff_changes_are_recorded_in_history() {
    let a = Admin::start().await;
    let admin = a.bearer("test/admin", &["updates:admin"]).await;
    a.require_signoffs(&admin, "Firefox", "beta", "qa", 2).await;
    let path = "/required_signoffs/product?product=Firefox&channel=beta&role=qa";
    let stale = a
        .call(
            Some(&admin),
            "DELETE",
            &format!("{path}&data_version=2"),
            None,
        )
        .await;
    assert_eq!(stale.status, 400, "{}", stale.text);
    let deleted = a
        .call(
            Some(&admin),
            "DELETE",
            &format!("{path}&data_version=1"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);

    let history = store::required_signoff_history(&a.db, "Firefox", "beta", "qa")
        .await
        .expect("history");
    assert_eq!(history.len(), 2, "{history:?}");
    assert!(history.iter().all(|h| h.changed_by == "test/admin"));
    let created = history[0].new.as_ref().expect("the created row");
    assert_eq!(created["signoffs_required"], 2);
    assert_eq!(
        (history[0].old.is_none(), history[0].data_version),
        (true, Some(1))
    );
    let removed = history[1].old.as_ref().expect("the deleted row");
    assert_eq!(removed["role"], "qa");
    assert_eq!(
        (history[1].new.is_none(), history[1].data_version),
        (true, None)
    );
}
