//! Alert rules and their sliding windows: edges, cooldown, scoping, and
//! the checks a rule set must pass.

use spool_core::alert::{
    default_rules, validate_rules, Rule, RuleField, RuleWindow, MAX_THRESHOLD,
};
use spool_core::entry::{EntryRef, Level};
use spool_core::record::Lsn;
use spool_core::time::Instant;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

fn rule(threshold: u32, window_ns: u64, cooldown_ns: u64) -> Rule {
    Rule {
        name: "r".into(),
        min_level: Level::Error,
        service: None,
        pattern: None,
        ignore_case: false,
        threshold,
        window_ns,
        cooldown_ns,
    }
}

fn at(ns: u64) -> Instant {
    Instant::from_nanos(ns)
}

#[test]
fn threshold_records_within_the_window_fire_and_one_fewer_does_not() {
    // 3 within 10 s, the oldest at most 10 s before the newest.
    let mut w = RuleWindow::new(&rule(3, 10 * S, 0));
    assert_eq!(w.observe(at(0), Lsn(1)), None);
    assert_eq!(w.observe(at(4 * S), Lsn(2)), None);
    // Exactly at the boundary (10 s after the first): fires.
    let fired = w
        .observe(at(10 * S), Lsn(3))
        .expect("fires at the boundary");
    assert_eq!(
        (fired.count, fired.first_id, fired.last_id),
        (3, Lsn(1), Lsn(3))
    );
    assert_eq!((fired.first_at, fired.at), (at(0), at(10 * S)));

    // One nanosecond past the boundary: the first has left the window.
    let mut w = RuleWindow::new(&rule(3, 10 * S, 0));
    w.observe(at(0), Lsn(1));
    w.observe(at(4 * S), Lsn(2));
    assert_eq!(w.observe(at(10 * S + 1), Lsn(3)), None);
    // The two still inside plus one more do.
    let fired = w.observe(at(11 * S), Lsn(4)).expect("fires");
    assert_eq!((fired.first_id, fired.last_id), (Lsn(2), Lsn(4)));
}

#[test]
fn a_threshold_of_one_fires_on_each_record_outside_the_cooldown() {
    let mut w = RuleWindow::new(&rule(1, MS, 5 * S));
    assert!(w.observe(at(0), Lsn(1)).is_some());
    assert!(
        w.observe(at(5 * S - 1), Lsn(2)).is_none(),
        "inside the cooldown"
    );
    assert!(
        w.observe(at(5 * S), Lsn(3)).is_some(),
        "the cooldown has ended"
    );
}

#[test]
fn the_cooldown_holds_back_a_second_alert_and_records_during_it_count_after() {
    let mut w = RuleWindow::new(&rule(2, 10 * S, 30 * S));
    w.observe(at(0), Lsn(1));
    assert!(w.observe(at(S), Lsn(2)).is_some());
    // A burst during the cooldown: no alert, but it is counted.
    for i in 0..3 {
        assert_eq!(w.observe(at(28 * S + i * S), Lsn(3 + i)), None);
    }
    // The first record after the cooldown fires, with a record from the
    // burst that is still within the window (not one of the first alert).
    let fired = w
        .observe(at(31 * S), Lsn(6))
        .expect("fires after the cooldown");
    assert_eq!((fired.first_id, fired.last_id), (Lsn(5), Lsn(6)));
    assert_eq!(fired.first_at, at(30 * S));
    // Records that arrived during the cooldown but left the window by its
    // end do not count.
    let mut w = RuleWindow::new(&rule(2, 10 * S, 30 * S));
    w.observe(at(0), Lsn(1));
    w.observe(at(S), Lsn(2));
    w.observe(at(5 * S), Lsn(3));
    assert_eq!(w.observe(at(31 * S), Lsn(4)), None);
}

#[test]
fn a_restored_cooldown_keeps_a_restart_from_firing_twice() {
    let mut w = RuleWindow::new(&rule(2, 10 * S, 60 * S));
    w.fired_at(at(100 * S));
    w.observe(at(110 * S), Lsn(1));
    assert_eq!(w.observe(at(111 * S), Lsn(2)), None);
    w.observe(at(160 * S), Lsn(3));
    assert!(w.observe(at(161 * S), Lsn(4)).is_some());
}

#[test]
fn memory_per_rule_is_fixed_whatever_the_rate() {
    let size = std::mem::size_of::<RuleWindow>();
    assert!(size <= 17 * 1024, "{size} bytes");
    // A million records in one window at the largest threshold: the
    // window holds at most MAX_THRESHOLD, and fires every MAX_THRESHOLD.
    let mut w = RuleWindow::new(&rule(MAX_THRESHOLD, S, 0));
    let mut fired = 0;
    for i in 0..1_000_000u64 {
        if w.observe(at(i), Lsn(i + 1)).is_some() {
            fired += 1;
        }
    }
    assert_eq!(fired, 1_000_000 / u64::from(MAX_THRESHOLD));
}

fn entry<'a>(level: Level, service: &'a str, message: &'a str) -> EntryRef<'a> {
    EntryRef {
        timestamp_ns: 0,
        level,
        service,
        message,
        metadata: "",
    }
}

#[test]
fn rules_select_by_minimum_level_service_and_pattern() {
    let mut r = rule(1, S, 0);
    assert!(r.selects(&entry(Level::Error, "a", "x")));
    assert!(r.selects(&entry(Level::Critical, "a", "x")));
    assert!(!r.selects(&entry(Level::Warn, "a", "x")));
    r.service = Some("pay".into());
    assert!(r.selects(&entry(Level::Error, "pay", "x")));
    assert!(!r.selects(&entry(Level::Error, "payments", "x")));
    r.pattern = Some("Timeout".into());
    assert!(r.selects(&entry(Level::Error, "pay", "db Timeout after 3s")));
    assert!(!r.selects(&entry(Level::Error, "pay", "db timeout after 3s")));
    r.ignore_case = true;
    assert!(r.selects(&entry(Level::Error, "pay", "db TIMEOUT after 3s")));
}

#[test]
fn a_rule_set_is_checked_as_a_whole_naming_the_rule_and_the_field() {
    assert_eq!(validate_rules(&default_rules()), Ok(()));
    let cases: Vec<(Rule, RuleField)> = vec![
        (
            Rule {
                name: " ".into(),
                ..rule(1, S, 0)
            },
            RuleField::Name,
        ),
        (
            Rule {
                name: "x".repeat(65),
                ..rule(1, S, 0)
            },
            RuleField::Name,
        ),
        (
            Rule {
                name: "a\nb".into(),
                ..rule(1, S, 0)
            },
            RuleField::Name,
        ),
        (
            Rule {
                name: "safe\u{202E}txt.exe".into(),
                ..rule(1, S, 0)
            },
            RuleField::Name,
        ),
        (rule(0, S, 0), RuleField::Threshold),
        (rule(MAX_THRESHOLD + 1, S, 0), RuleField::Threshold),
        (rule(1, 0, 0), RuleField::Window),
        (rule(1, 86_401 * S, 0), RuleField::Window),
        (rule(1, S, 86_401 * S), RuleField::Cooldown),
        (
            Rule {
                service: Some(String::new()),
                ..rule(1, S, 0)
            },
            RuleField::Service,
        ),
        (
            Rule {
                pattern: Some(String::new()),
                ..rule(1, S, 0)
            },
            RuleField::Pattern,
        ),
    ];
    for (bad, field) in cases {
        let mut set = default_rules();
        set.push(bad.clone());
        let e = validate_rules(&set).expect_err("refused");
        assert_eq!((e.index, e.field), (2, field), "{bad:?}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("rule 3 ({:?}): {}:", bad.name, field.as_str())),
            "{e}"
        );
    }
    let mut twice = default_rules();
    twice.push(Rule {
        name: "High Error Rate".into(),
        ..rule(1, S, 0)
    });
    let e = validate_rules(&twice).expect_err("a repeated name");
    assert_eq!((e.index, e.field), (2, RuleField::Name));
    let many: Vec<Rule> = (0..257)
        .map(|i| Rule {
            name: format!("r{i}"),
            ..rule(1, S, 0)
        })
        .collect();
    assert_eq!(
        validate_rules(&many).expect_err("too many").field,
        RuleField::Rules
    );
}

#[test]
fn a_rule_set_evaluates_each_record_against_every_rule_in_order() {
    let mut set = default_rules();
    set.push(Rule {
        name: "payments timeouts".into(),
        min_level: Level::Warn,
        service: Some("pay".into()),
        pattern: Some("timeout".into()),
        ignore_case: true,
        threshold: 2,
        window_ns: 5 * S,
        cooldown_ns: 0,
    });
    let mut alerts = spool_core::alert::Alerts::new(set).unwrap();
    assert_eq!(alerts.rules().count(), 3);
    let mut fired = Vec::new();
    let mut feed = |alerts: &mut spool_core::alert::Alerts, t: u64, id: u64, e: EntryRef<'_>| {
        alerts.observe(at(t), Lsn(id), &e, |r, f| {
            fired.push((r.name.clone(), f.first_id.0, f.last_id.0))
        });
    };
    // Three CRITICAL pay timeouts within 30 s: "Critical Errors" (3 in
    // 30 s) and the payments rule (2 in 5 s) both count them.
    feed(
        &mut alerts,
        0,
        1,
        entry(Level::Critical, "pay", "db TIMEOUT"),
    );
    feed(
        &mut alerts,
        S,
        2,
        entry(Level::Critical, "pay", "db timeout"),
    );
    feed(
        &mut alerts,
        2 * S,
        3,
        entry(Level::Critical, "pay", "disk full"),
    );
    assert_eq!(
        fired,
        vec![
            ("payments timeouts".to_owned(), 1, 2),
            ("Critical Errors".to_owned(), 1, 3),
        ]
    );
    // A bad set is refused as a whole.
    let bad = vec![rule(0, S, 0)];
    assert!(spool_core::alert::Alerts::new(bad).is_err());
}

#[test]
fn select_then_count_is_observe_split_in_two() {
    // The daemon selects at submit and counts when durable; together they
    // must fire exactly what `observe` fires.
    let set = vec![rule(2, 10 * S, 0), {
        let mut r = rule(1, S, 0);
        r.name = "warn".into();
        r.min_level = Level::Warn;
        r.service = Some("pay".into());
        r
    }];
    let mut split = spool_core::alert::Alerts::new(set.clone()).unwrap();
    let mut whole = spool_core::alert::Alerts::new(set).unwrap();
    assert_eq!(split.min_level(), Some(Level::Warn));
    let records = [
        entry(Level::Info, "pay", "a"),
        entry(Level::Warn, "pay", "b"),
        entry(Level::Error, "api", "c"),
        entry(Level::Error, "pay", "d"),
    ];
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (i, e) in records.iter().enumerate() {
        let (t, id) = (at(i as u64 * S), Lsn(i as u64 + 1));
        let mut chosen = Vec::new();
        split.select(e, &mut chosen);
        for r in chosen {
            if let Some(f) = split.count(usize::from(r), t, id) {
                a.push((usize::from(r), f));
            }
        }
        whole.observe(t, id, e, |r, f| {
            b.push((if r.name == "warn" { 1 } else { 0 }, f))
        });
    }
    assert_eq!(a, b);
    assert_eq!(a.len(), 3, "warn fires on b and d; the ERROR rule on c+d");
    assert_eq!(split.count(99, at(0), Lsn(1)), None, "no such rule");
}

#[test]
fn replacing_a_rule_set_keeps_only_the_windows_of_identical_rules() {
    let a = rule(2, 10 * S, 60 * S);
    let mut b = rule(2, 10 * S, 0);
    b.name = "b".into();
    let mut alerts = spool_core::alert::Alerts::new(vec![a.clone(), b.clone()]).unwrap();
    let e = entry(Level::Error, "api", "x");
    let mut chosen = Vec::new();
    alerts.select(&e, &mut chosen);
    for r in &chosen {
        alerts.count(usize::from(*r), at(0), Lsn(1));
    }
    // "b" changes its window; "a" moves to the end, unchanged.
    let mut b2 = b.clone();
    b2.window_ns = 20 * S;
    let moved = alerts.replace(vec![b2, a.clone()]).unwrap();
    assert_eq!(moved, vec![Some(1), None]);
    // "a" had one record: the next fires it. "b" starts again.
    assert!(alerts.count(1, at(S), Lsn(2)).is_some());
    assert!(alerts.count(0, at(S), Lsn(2)).is_none());
    // A refused set changes nothing.
    assert!(alerts.replace(vec![rule(0, S, 0)]).is_err());
    assert_eq!(alerts.len(), 2);
}
