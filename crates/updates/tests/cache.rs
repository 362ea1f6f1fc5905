//! Loads of the catalog from the store: coalesced under a burst, skipped when the data version
//! did not move, and seen through `loads()`. SQLite, or PostgreSQL with `TEST_DATABASE_URL`.

mod common;

use std::sync::Arc;

use common::{b_blob, rule};
use relyard_updates::store;
use relyard_updates::{EmergencyShutoff, UpdatesService};

async fn loaded_service() -> (relyard_testing::TestDb, UpdatesService) {
    let t = common::migrated_db().await;
    store::create_release(&t.db, "bill", "b", "b", &b_blob())
        .await
        .expect("release");
    store::create_rule(&t.db, "bill", &rule(1, 90, 100, "b", "b"))
        .await
        .expect("rule");
    let service = UpdatesService::from_db(t.db.clone(), Arc::new(|| 99u8))
        .await
        .expect("load");
    (t, service)
}

fn loads(service: &UpdatesService) -> u64 {
    *service.loads().borrow()
}

#[tokio::test]
async fn a_burst_of_reloads_is_one_load_in_flight_and_at_most_one_after() {
    let (_t, service) = loaded_service().await;
    let before = loads(&service);
    let burst: Vec<_> = (0..50)
        .map(|_| {
            let s = service.clone();
            tokio::spawn(async move { s.reload().await })
        })
        .collect();
    for r in futures_join(burst).await {
        r.expect("reload");
    }
    let done = loads(&service) - before;
    assert!((1..=2).contains(&done), "{done} loads for 50 reload calls");
}

#[tokio::test]
async fn an_unchanged_store_is_not_loaded_again_and_a_change_is() {
    let (t, service) = loaded_service().await;
    let before = loads(&service);
    assert!(!service.reload_if_changed().await.expect("check"));
    assert_eq!(loads(&service), before);

    // A shutoff has no history row: its row is part of the data version all the same.
    let off = EmergencyShutoff {
        product: "b".into(),
        channel: "a".into(),
    };
    store::create_shutoff(&t.db, &off).await.expect("shutoff");
    assert!(service.reload_if_changed().await.expect("check"));
    assert_eq!(service.catalog().shutoffs, vec![off]);
    assert_eq!(loads(&service), before + 1);

    let mut r = store::get_rule(&t.db, 1).await.expect("get").expect("rule");
    r.background_rate = Some(50);
    store::update_rule(&t.db, "bill", &r).await.expect("update");
    assert!(service.reload_if_changed().await.expect("check"));
    assert_eq!(service.catalog().rules[0].background_rate, Some(50));

    // An explicit reload always loads.
    service.reload().await.expect("reload");
    assert_eq!(loads(&service), before + 3);
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}
