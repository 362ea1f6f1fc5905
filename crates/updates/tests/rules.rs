//! Which rules match a query: Balrog's `tests/test_db.py`, classes
//! `TestRulesSimple` and `TestRulesSpecial` (their rules, queries and the
//! rule_ids each `getRulesMatchingQuery` call expects).

use relyard_updates::request::UpdateQuery;
use relyard_updates::rules::matching_rules;
use relyard_updates::Rule;

fn r(id: i64, priority: i64, f: impl FnOnce(&mut Rule)) -> Rule {
    let mut rule = Rule {
        rule_id: id,
        priority: Some(priority),
        background_rate: Some(100),
        update_type: "z".into(),
        ..Default::default()
    };
    f(&mut rule);
    rule
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// The query those tests build: every column "" unless given.
fn q(f: impl FnOnce(&mut UpdateQuery)) -> UpdateQuery {
    let mut q = UpdateQuery::for_test("", "3.0", "", "", "", "");
    q.distribution = s("");
    q.dist_version = s("");
    q.instruction_set = s("");
    q.header_architecture = s("");
    f(&mut q);
    q
}

fn ids(rules: &[Rule], query: &UpdateQuery) -> Vec<i64> {
    matching_rules(rules, query)
        .expect("matches")
        .iter()
        .map(|r| r.rule_id)
        .collect()
}

/// `TestRulesSimple.setUp`.
fn simple() -> Vec<Rule> {
    vec![
        r(1, 100, |x| {
            (x.version, x.build_target, x.mapping, x.product, x.channel) =
                (s("3.5"), s("d"), s("c"), s("a"), s("a"))
        }),
        r(2, 100, |x| {
            (x.version, x.build_target, x.mapping, x.product, x.channel) =
                (s("3.3"), s("d"), s("b"), s("a"), s("a"))
        }),
        r(3, 100, |x| {
            (x.version, x.build_target, x.mapping, x.product) = (s("3.5"), s("a"), s("a"), s("a"))
        }),
        r(4, 80, |x| {
            (x.alias, x.build_target, x.mapping, x.channel) = (s("gandalf"), s("d"), s("a"), s("a"))
        }),
        r(5, 80, |x| {
            (x.build_target, x.version, x.mapping) = (s("d"), s("3.3"), s("c"));
            x.background_rate = Some(0);
        }),
        r(6, 100, |x| {
            (x.alias, x.build_target, x.mapping, x.product, x.channel) =
                (s("radagast"), s("d"), s("a"), s("a"), s("a"));
            x.os_version = s("foo 1");
        }),
        r(7, 100, |x| {
            (x.build_target, x.mapping, x.product, x.channel) = (s("d"), s("a"), s("a"), s("a"));
            x.os_version = s("foo 2,blah 6,bar && baz");
        }),
        r(8, 100, |x| {
            (x.build_target, x.mapping, x.locale, x.product, x.channel) =
                (s("e"), s("d"), s("foo,bar-baz"), s("a"), s("a"))
        }),
        r(9, 100, |x| {
            (
                x.build_target,
                x.mapping,
                x.instruction_set,
                x.product,
                x.channel,
            ) = (s("f"), s("f"), s("S"), s("foo"), s("foo*"))
        }),
        r(10, 100, |x| {
            (
                x.build_target,
                x.mapping,
                x.fallback_mapping,
                x.product,
                x.channel,
            ) = (s("g"), s("g"), s("fallback"), s("foo"), s("foo"))
        }),
    ]
}

fn a_query(version: &str, target: &str, f: impl FnOnce(&mut UpdateQuery)) -> UpdateQuery {
    q(|x| {
        (x.product, x.version, x.channel, x.build_target) =
            ("a".into(), version.into(), "a".into(), target.into());
        f(x);
    })
}

#[test]
fn rules_simple() {
    let rules = simple();
    assert_eq!(ids(&rules, &a_query("3.5", "a", |_| {})), [3]); // testGetRulesMatchingQuery
    assert_eq!(ids(&rules, &a_query("3.5", "d", |_| {})), [1, 4]); // ...WithNullColumn
                                                                   // ...ReturnBackgroundThrottledEvenIfNotForced / ...ReturnBackgroundThrottled
    assert_eq!(ids(&rules, &a_query("3.3", "d", |_| {})), [2, 4, 5]);
    let os = |v: &'static str| a_query("5.0", "d", move |x| x.os_version = v.into());
    assert_eq!(ids(&rules, &os("foo 1.2.3")), [4, 6]); // ...OsVersionSubstring
    assert_eq!(ids(&rules, &os("bbb,foo 1.2.3")), [4, 6]); // ...OsVersionSubstringNotAtStart
    assert_eq!(ids(&rules, &os("blah 6.3.2")), [4, 7]); // ...OsVersionMultipleSubstring
    assert_eq!(ids(&rules, &os("bar 1.3 baz 2.3")), [4, 7]); // ...OsVersionAndMatching
                                                             // ...InstructionSet / ...InstructionSetNoSubstringMatch
    let iset = q(|x| {
        (x.product, x.version, x.channel, x.build_target) =
            ("foo".into(), "5.0".into(), "foo".into(), "f".into());
        x.instruction_set = s("S");
    });
    assert_eq!(ids(&rules, &iset), [9]);
    assert_eq!(
        ids(
            &rules,
            &a_query("5.0", "f", |x| x.instruction_set = s("SA"))
        ),
        Vec::<i64>::new()
    );
    // ...FallbackMapping
    let fb = q(|x| {
        (x.product, x.version, x.channel, x.build_target) =
            ("foo".into(), "5.0".into(), "foo".into(), "g".into())
    });
    assert_eq!(ids(&rules, &fb), [10]);
    // ...Locale / ...LocaleNoPartialMatch
    assert_eq!(
        ids(&rules, &a_query("5.0", "e", |x| x.locale = "foo".into())),
        [8]
    );
    assert_eq!(
        ids(&rules, &a_query("5", "e", |x| x.locale = "bar".into())),
        Vec::<i64>::new()
    );
}

/// `TestRulesSpecial.setUp`.
fn special() -> Vec<Rule> {
    vec![
        r(1, 100, |x| x.version = s(">=4.0b1")),
        r(2, 100, |x| x.channel = s("release*")),
        r(3, 100, |x| x.build_id = s(">=20010101222222")),
        r(4, 90, |x| x.version = s("3.0.1,3.0.2,3.0b3")),
        r(5, 80, |x| x.version = s("2.0.1,2.0.2,2.0.3")),
        r(6, 70, |x| (x.channel, x.memory) = (s("abc"), s("<=2000"))),
    ]
}

#[test]
fn rules_special() {
    let rules = special();
    let none: Vec<i64> = vec![];
    let version = |v: &'static str| q(move |x| x.version = v.into());
    // testGetRulesMatchingQueryVersionComparison
    for v in ["4.0", "4.0b2", "4.0.1"] {
        assert_eq!(ids(&rules, &version(v)), [1], "{v}");
    }
    assert_eq!(ids(&rules, &version("3.0")), none);
    // ...ListOfVersionsComparison, ...IfVersionNotPresentInListOfVersions,
    // ...PartialVersionDoesNotMatchLongerVersion
    for v in ["3.0.1", "3.0.2", "3.0b3"] {
        assert_eq!(ids(&rules, &version(v)), [4], "{v}");
    }
    assert_eq!(ids(&rules, &version("3.0.3")), none);
    assert_eq!(ids(&rules, &version("2.0")), none);
    // ...ChannelGlobbing (also through the -cck- fallback)
    assert_eq!(ids(&rules, &q(|x| x.channel = "releasetest".into())), [2]);
    assert_eq!(
        ids(&rules, &q(|x| x.channel = "releasetest-cck-blah".into())),
        [2]
    );
    // testGetRulesMatchingBuildIDComparison
    assert_eq!(
        ids(&rules, &q(|x| x.build_id = "20010101222222".into())),
        [3]
    );
    assert_eq!(
        ids(&rules, &q(|x| x.build_id = "20010101232323".into())),
        [3]
    );
    assert_eq!(
        ids(&rules, &q(|x| x.build_id = "20010101212121".into())),
        none
    );
    // testGetRulesMatchingMemory{LessThanEqualTo,ExactMatch,NoMatch}
    let mem = |m: i64| q(move |x| (x.channel, x.memory) = ("abc".into(), Some(m)));
    assert_eq!(ids(&rules, &mem(1500)), [6]);
    assert_eq!(ids(&rules, &mem(2000)), [6]);
    assert_eq!(ids(&rules, &mem(2500)), none);
}
