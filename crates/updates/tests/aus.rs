//! The rule decision with an injected dice: Balrog's `tests/test_AUS.py`
//! (`TestAUSThrottlingWithoutFallback`), which rolls every value 0..99 once
//! and counts which release each roll is served.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use relyard_updates::request::{Force, UpdateQuery};
use relyard_updates::{evaluate, Catalog, Dice, PinnableRelease, Release, Rule};
use serde_json::json;

/// Hands out 99, 98, … 0 (as the Python test pops its list) and counts rolls.
struct Rolls {
    left: Mutex<Vec<u8>>,
    used: AtomicUsize,
}

impl Dice for Rolls {
    fn roll(&self) -> u8 {
        self.used.fetch_add(1, Ordering::SeqCst);
        self.left.lock().expect("lock").pop().unwrap_or(0)
    }
}

fn catalog(rate: i64, fallback: bool) -> Catalog {
    let blob = |name: &str, extv: &str| {
        Release::from_json(json!({"name": name, "extv": extv, "schema_version": 1, "platforms": {"a": {"buildID": "1", "locales": {"a": {}}}}}))
            .expect("blob")
    };
    let mut releases = HashMap::new();
    for (name, extv) in [("b", "2.0"), ("fallback", "2.0"), ("pinned", "1.0")] {
        releases.insert(name.to_string(), blob(name, extv));
    }
    let rule = Rule {
        rule_id: 1,
        data_version: 1,
        background_rate: Some(rate),
        priority: Some(1),
        mapping: Some("b".into()),
        update_type: "minor".into(),
        fallback_mapping: fallback.then(|| "fallback".into()),
        ..Default::default()
    };
    let pins = vec![PinnableRelease {
        product: "bar".into(),
        version: "1.".into(),
        channel: "foo".into(),
        mapping: "pinned".into(),
    }];
    Catalog {
        rules: vec![rule],
        releases,
        pins,
        ..Default::default()
    }
}

/// (served mapping, served fallback, served pinned, requests tested).
fn run(rate: i64, force: Option<Force>, fallback: bool, pin: bool) -> (usize, usize, usize, usize) {
    let c = catalog(rate, fallback);
    let dice = Rolls {
        left: Mutex::new((0..100).collect()),
        used: AtomicUsize::new(0),
    };
    let mut q = UpdateQuery::for_test("bar", "1.0", "0", "a", "a", "foo");
    q.force = force;
    q.pin = pin.then(|| "1.".into());
    let (mut mapping, mut fb, mut pinned, mut tested) = (0, 0, 0, 0);
    while tested < 100 {
        let before = dice.used.load(Ordering::SeqCst);
        let d = evaluate(&c, &q, &dice).expect("evaluates");
        tested += 1;
        match d.release.map(|(r, _)| r.name().to_string()).as_deref() {
            Some("b") => mapping += 1,
            Some("fallback") => fb += 1,
            Some("pinned") => pinned += 1,
            _ => {}
        }
        // Like the Python test: stop once a request asks for no roll.
        if dice.used.load(Ordering::SeqCst) == before {
            break;
        }
    }
    (mapping, fb, pinned, tested)
}

#[test]
fn throttling_without_fallback() {
    assert_eq!(run(100, None, false, false), (1, 0, 0, 1)); // testThrottling100
    assert_eq!(run(50, None, false, false), (50, 0, 0, 100)); // testThrottling50
    assert_eq!(run(25, None, false, false), (25, 0, 0, 100)); // testThrottling25
    assert_eq!(run(0, None, false, false), (0, 0, 0, 100)); // testThrottlingZero
    assert_eq!(run(25, Some(Force::Main), false, false), (1, 0, 0, 1)); // testThrottling25WithForcing
    assert_eq!(run(25, Some(Force::Fallback), false, false), (0, 0, 0, 1)); // testThrottling25WithForcingFailure
}

#[test]
fn throttling_with_fallback() {
    assert_eq!(run(100, None, true, false), (1, 0, 0, 1)); // testThrottling100WithFallback
    assert_eq!(run(50, None, true, false), (50, 50, 0, 100)); // testThrottling50WithFallback
    assert_eq!(run(25, None, true, false), (25, 75, 0, 100)); // testThrottling25WithFallback
    assert_eq!(run(0, None, true, false), (0, 100, 0, 100)); // testThrottlingZeroWithFallback
    assert_eq!(run(25, Some(Force::Main), true, false), (1, 0, 0, 1)); // testThrottling25WithForcingAndFallback
    assert_eq!(run(25, Some(Force::Fallback), true, false), (0, 1, 0, 1)); // testThrottling25WithForcingFailureAndFallback
}

#[test]
fn pinning_with_throttling() {
    assert_eq!(run(100, None, false, true).2, 1); // testPinningWithThrottling100
    assert_eq!(run(25, Some(Force::Main), false, true).2, 1); // testPinningWithThrottling25WithForcing
    assert_eq!(run(100, None, true, true).2, 1); // testPinningWithThrottling100WithFallback
    assert_eq!(run(25, None, true, true).2, 100); // testPinningWithThrottling25WithFallback
    assert_eq!(run(0, None, true, true).2, 100); // testPinningWithThrottlingZeroWithFallback
    assert_eq!(run(25, Some(Force::Main), true, true).2, 1); // testPinningWithThrottling25WithForcingAndFallback
    assert_eq!(run(25, Some(Force::Fallback), true, true).2, 1); // testPinningWithThrottling25WithForcingFailureAndFallback
}
