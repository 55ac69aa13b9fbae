//! Start-up: the windows and cooldowns put back, so a burst that spans a
//! restart fires once, not zero or two times.
//!
//! **From the checkpoint** (`alerts::checkpoint`, written about once a
//! second while windows change, when the rules change, and at shutdown):
//! each rule equal in every field to a saved one gets its window back
//! exactly, arrival times included; any other rule (new, or changed while
//! the daemon was down) starts empty, as after `PUT /alerts/rules`. Then
//! the records after the last id the checkpoint evaluated (none after a
//! clean stop; about a second's after a crash) are counted in id order:
//! those that had arrived by the checkpoint (it keeps their arrival and
//! the rules that selected them) at their arrival, for those rules only;
//! later ones at their own timestamps held between the checkpoint's time
//! and now. The alerts stored after that id are followed as they were: where
//! one fired, the window empties and the cooldown runs from its time. A
//! fire the replay finds after a rule's last stored alert was due before
//! the stop but never stored: it is raised now, marked `at_start`; so are
//! the alerts the checkpoint holds as fired but not stored, when the log
//! does not have them.
//!
//! **From the log alone** (no checkpoint, or a torn one), reading the
//! longest window or cooldown twice:
//!
//! 1. the newest alert record of each rule gives its last triggering id
//!    and when it fired: the cooldown is restored, and only records after
//!    that id count again (the window was emptied when it fired);
//! 2. per rule, the newest `threshold` records it selects after that id,
//!    stamped within its window before now, go back into its window,
//!    oldest first; if they fill it outside the cooldown the alert is
//!    raised, marked `at_start`.
//!
//! There each record is placed at its own timestamp (for a record sent
//! without one, that *is* its arrival), never later than now: the records
//! of a producer whose clock is far off may count as closer together, or
//! further apart, than they arrived. A rule set by `PUT /alerts/rules`
//! counts no record stamped before it was put in force.

use std::collections::{HashMap, HashSet, VecDeque};

use spool_core::alert::Fired;
use spool_core::entry::EntryRef;
use spool_core::record::Lsn;
use spool_core::time::{Instant, Now};

use super::checkpoint::Saved;
use super::engine::{alert_clock, Engine};
use super::record::stored_alert;
use crate::embed::Log;
use crate::reader::{From, Item, ReaderError};

/// What the rebuild did.
#[derive(Debug, Default)]
pub struct Restored {
    /// Whether a checkpoint was used (else the log alone).
    pub from_checkpoint: bool,
    /// Records read.
    pub records: u64,
    /// Rules whose window came back from the checkpoint.
    pub exact: usize,
    /// Rules whose cooldown came back from an alert record.
    pub cooldowns: usize,
    /// Records put back into windows from the log.
    pub counted: usize,
    /// Alerts whose records were durable before the stop but that were
    /// never stored: (rule index, alert) to raise now.
    pub missed: Vec<(usize, Fired)>,
    /// Alert records the checkpoint held as fired and not stored, absent
    /// from the log: their payloads, to store now.
    pub unstored: Vec<Vec<u8>>,
}

/// Rebuilds `engine`'s windows and cooldowns as of `now` from `saved` (the
/// checkpoint, if any) and `log`. `since` gives, by rule name, the
/// wall-clock time (ns) from which a rule was in force, when known: older
/// records do not count for it.
pub fn rebuild(
    engine: &mut Engine,
    log: &Log,
    now: Now,
    since: &HashMap<String, u64>,
    saved: Option<&Saved>,
) -> Result<Restored, ReaderError> {
    let rules: Vec<_> = engine.rules().cloned().collect();
    let mut out = Restored::default();
    let span = rules
        .iter()
        .map(|r| r.window_ns.max(r.cooldown_ns))
        .max()
        .unwrap_or(0);
    if rules.is_empty() {
        engine.evaluated_through(log.handoff().durable());
        return Ok(out);
    }
    match saved {
        Some(ck) => {
            out.from_checkpoint = true;
            from_checkpoint(engine, log, now, ck, &mut out)?
        }
        None => from_log(engine, log, now, since, &rules, span, &mut out)?,
    }
    // Everything durable is evaluated now; save that at once.
    engine.evaluated_through(log.handoff().durable());
    Ok(out)
}

/// A wall-clock time at or before `now`, on the windows' clock.
fn placer(now: Now) -> impl Fn(u64) -> Instant {
    let wall = now.wall.0;
    let clock_now = alert_clock(now.mono);
    move |ns: u64| {
        Instant::from_nanos(
            clock_now
                .as_nanos()
                .saturating_sub(wall.saturating_sub(ns.min(wall))),
        )
    }
}

fn from_checkpoint(
    engine: &mut Engine,
    log: &Log,
    now: Now,
    ck: &Saved,
    out: &mut Restored,
) -> Result<(), ReaderError> {
    let wall = now.wall.0;
    let place = placer(now);
    let rules: Vec<_> = engine.rules().cloned().collect();
    let mut exact: HashSet<usize> = HashSet::new();
    // Per rule, the newest id its saved window holds: a damaged
    // checkpoint must not have the replay count it twice.
    let mut held: HashMap<usize, Lsn> = HashMap::new();
    // The checkpoint's rule indexes, as today's.
    let mut now_index: HashMap<u16, u16> = HashMap::new();
    for (i, rule) in rules.iter().enumerate() {
        if let Some(j) = ck.windows.iter().position(|w| &w.rule == rule) {
            let w = &ck.windows[j];
            engine.restore_window(i, w, now);
            exact.insert(i);
            if let Some(&(_, id)) = w.arrivals.last() {
                held.insert(i, id);
            }
            if let (Ok(j), Ok(i)) = (u16::try_from(j), u16::try_from(i)) {
                now_index.insert(j, i);
            }
        }
    }
    // Records that had arrived, but were not yet durable, at the
    // checkpoint: their arrival, and the rules that selected them then.
    let pending: HashMap<Lsn, (u64, Vec<u16>)> = ck
        .pending
        .iter()
        .map(|(id, at, rs)| {
            let rs = rs
                .iter()
                .filter_map(|r| now_index.get(r).copied())
                .collect();
            (*id, (*at, rs))
        })
        .collect();
    out.exact = exact.len();

    // The alerts stored after the checkpoint's last id.
    let mut stored: HashMap<String, Vec<(Lsn, u64)>> = HashMap::new();
    let mut reader = log.reader(From::After(ck.through))?;
    while let Some(item) = reader.next_item()? {
        let Item::Record { payload, .. } = item else {
            continue;
        };
        out.records += 1;
        if let Some(a) = EntryRef::decode(&payload)
            .ok()
            .and_then(|e| stored_alert(&e))
        {
            stored
                .entry(a.rule)
                .or_default()
                .push((a.last_id, a.fired_ns));
        }
    }
    for p in &ck.unstored {
        let Some(a) = EntryRef::decode(p).ok().and_then(|e| stored_alert(&e)) else {
            continue;
        };
        let in_log = stored
            .get(&a.rule)
            .is_some_and(|v| v.iter().any(|&(l, _)| l == a.last_id));
        if !in_log {
            out.unstored.push(p.clone());
        }
    }
    if exact.is_empty() {
        return Ok(());
    }

    // The records after it, in id order, following the stored alerts.
    // One that had not arrived at the checkpoint arrived after it.
    let low = ck.written_ns.min(wall);
    let mut at_ns = 0;
    let mut reader = log.reader(From::After(ck.through))?;
    while let Some(item) = reader.next_item()? {
        let Item::Record { id, payload } = item else {
            continue;
        };
        let Ok(entry) = EntryRef::decode(&payload) else {
            continue;
        };
        let selected: Vec<u16> = match pending.get(&id) {
            Some((at, rs)) => {
                at_ns = at_ns.max((*at).min(wall));
                rs.clone()
            }
            // Arrived by the checkpoint, selected by no rule then.
            None if id <= ck.submitted => Vec::new(),
            None => {
                at_ns = at_ns.max(entry.timestamp_ns.clamp(low, wall));
                engine.select(&entry).to_vec()
            }
        };
        for r in selected {
            let r = usize::from(r);
            if !exact.contains(&r) || held.get(&r).is_some_and(|&h| id <= h) {
                continue;
            }
            out.counted += 1;
            let fired = engine.replay(r, place(at_ns), id);
            let alerts = rules.get(r).and_then(|rule| stored.get(&rule.name));
            if let Some(&(_, fired_ns)) = alerts.and_then(|v| v.iter().find(|&&(l, _)| l == id)) {
                // It fired here, and the alert was stored: the cooldown
                // runs from this record's arrival, which the alert names;
                // later records arrived after it.
                engine.fired_reset(r, place(fired_ns));
                at_ns = at_ns.max(fired_ns.min(wall));
            } else if let Some(f) = fired {
                let handled = alerts.is_some_and(|v| v.iter().any(|&(l, _)| l >= id));
                if !handled {
                    out.missed.push((r, f));
                }
            }
        }
    }
    Ok(())
}

fn from_log(
    engine: &mut Engine,
    log: &Log,
    now: Now,
    since: &HashMap<String, u64>,
    rules: &[spool_core::alert::Rule],
    span: u64,
    out: &mut Restored,
) -> Result<(), ReaderError> {
    let wall = now.wall.0;
    let place = placer(now);
    // A second of slack for records stamped a little before they arrived.
    let from = wall.saturating_sub(span).saturating_sub(1_000_000_000);

    // 1. The newest alert of each rule.
    let mut last: HashMap<usize, (Lsn, u64)> = HashMap::new();
    let mut reader = log.reader(From::Time(from))?;
    while let Some(item) = reader.next_item()? {
        let Item::Record { payload, .. } = item else {
            continue;
        };
        out.records += 1;
        let Some(a) = EntryRef::decode(&payload)
            .ok()
            .and_then(|e| stored_alert(&e))
        else {
            continue;
        };
        // An alert of an older rule of the same name (replaced by PUT
        // since) says nothing of this one.
        if since.get(&a.rule).is_some_and(|&s| a.fired_ns < s) {
            continue;
        }
        if let Some(i) = engine.position(&a.rule) {
            last.insert(i, (a.last_id, a.fired_ns));
        }
    }
    for (&i, &(_, fired_ns)) in &last {
        engine.fired_at(i, place(fired_ns));
        out.cooldowns += 1;
    }

    // 2. Per rule, the newest `threshold` records (in id order) stamped
    //    inside its window, put back oldest first by their timestamps.
    let starts: Vec<u64> = rules
        .iter()
        .map(|r| {
            let window_start = wall.saturating_sub(r.window_ns);
            since
                .get(&r.name)
                .map_or(window_start, |&s| s.max(window_start))
        })
        .collect();
    let mut newest: Vec<VecDeque<(u64, Lsn)>> = rules.iter().map(|_| VecDeque::new()).collect();
    let mut reader = log.reader(From::Time(from))?;
    while let Some(item) = reader.next_item()? {
        let Item::Record { id, payload } = item else {
            continue;
        };
        let Ok(entry) = EntryRef::decode(&payload) else {
            continue;
        };
        let at = entry.timestamp_ns.min(wall);
        for &r in engine.select(&entry) {
            let r = usize::from(r);
            if last.get(&r).is_some_and(|&(l, _)| id <= l) || at < starts[r] {
                continue;
            }
            let kept = &mut newest[r];
            if kept.len() == rules[r].threshold as usize {
                kept.pop_front();
            }
            kept.push_back((at, id));
        }
    }
    for (r, kept) in newest.into_iter().enumerate() {
        let mut records: Vec<(u64, Lsn)> = kept.into();
        records.sort_unstable();
        out.counted += records.len();
        for (at, id) in records {
            if let Some(f) = engine.replay(r, place(at), id) {
                out.missed.push((r, f));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::checkpoint::SavedWindow;
    use crate::alerts::record::alert_entry;
    use spool_core::alert::Rule;
    use spool_core::entry::{Entry, Level};

    const MS: u64 = 1_000_000;

    /// A scratch data directory, removed when dropped (a failing test too).
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("spool-restore-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn error(ts: u64) -> Entry {
        Entry {
            timestamp_ns: ts,
            level: Level::Error,
            service: "api".into(),
            message: "x".into(),
            metadata: String::new(),
        }
    }

    #[test]
    fn a_stored_alert_starts_the_cooldown_at_its_last_records_arrival() {
        let scratch = Scratch::new("cooldown");
        let dir = scratch.0.clone();
        let rule = Rule {
            name: "A".into(),
            min_level: Level::Error,
            service: None,
            pattern: None,
            ignore_case: false,
            threshold: 2,
            window_ns: 60_000 * MS,
            cooldown_ns: 3 * MS,
        };
        let t0 = 1_800_000_000_000_000_000u64;
        {
            let log = Log::open(&dir).expect("open");
            // Records 1 and 2 fire; their alert (3) is recorded 10 ms after
            // record 2 arrived, and records 4 and 5 arrived in between.
            log.append_entry(&error(t0 + 10 * MS)).expect("1");
            log.append_entry(&error(t0 + 20 * MS)).expect("2");
            let fired = Fired {
                count: 2,
                first_id: Lsn(1),
                last_id: Lsn(2),
                first_at: Instant::from_nanos(0),
                at: Instant::from_nanos(0),
            };
            let alert = alert_entry(
                &rule,
                &fired,
                (t0 + 10 * MS, t0 + 20 * MS),
                t0 + 30 * MS,
                false,
            );
            log.append_entry(&alert).expect("3");
            log.append_entry(&error(t0 + 24 * MS)).expect("4");
            log.append_entry(&error(t0 + 26 * MS)).expect("5");
            assert!(log.close());
        }
        let log = Log::open(&dir).expect("reopen");
        let mut engine = Engine::new(vec![rule.clone()]).expect("valid");
        let ck = Saved {
            written_ns: t0,
            through: Lsn(0),
            submitted: Lsn(0),
            windows: vec![SavedWindow {
                rule,
                arrivals: Vec::new(),
                quiet_until_ns: None,
            }],
            unstored: Vec::new(),
            pending: Vec::new(),
        };
        let now = Now {
            mono: Instant::from_nanos(5_000 * MS),
            wall: spool_core::time::UnixNanos(t0 + 1_000 * MS),
        };
        let restored =
            rebuild(&mut engine, &log, now, &HashMap::new(), Some(&ck)).expect("rebuild");
        let missed: Vec<(u64, u64)> = restored
            .missed
            .iter()
            .map(|(_, f)| (f.first_id.0, f.last_id.0))
            .collect();
        // The cooldown (3 ms) ran from record 2's arrival (20 ms), not from
        // when the alert was recorded (30 ms): records 4 and 5 (24, 26 ms)
        // are after it and fire.
        assert_eq!(missed, vec![(4, 5)]);
        assert!(log.close());
    }

    #[test]
    fn a_checkpoint_whose_last_id_is_damaged_does_not_count_its_records_twice() {
        let scratch = Scratch::new("twice");
        let dir = scratch.0.clone();
        let rule = Rule {
            name: "W".into(),
            min_level: Level::Error,
            service: None,
            pattern: None,
            ignore_case: false,
            threshold: 4,
            window_ns: 60_000 * MS,
            cooldown_ns: 0,
        };
        let t0 = 1_800_000_000_000_000_000u64;
        {
            let log = Log::open(&dir).expect("open");
            for k in 1..=3 {
                log.append_entry(&error(t0 + k * MS)).expect("append");
            }
            assert!(log.close());
        }
        let log = Log::open(&dir).expect("reopen");
        let mut engine = Engine::new(vec![rule.clone()]).expect("valid");
        let ck = Saved {
            written_ns: t0 + 10 * MS,
            // Should be 3: the window below holds records 1 to 3.
            through: Lsn(0),
            submitted: Lsn(0),
            windows: vec![SavedWindow {
                rule,
                arrivals: (1..=3).map(|k| (t0 + k * MS, Lsn(k))).collect(),
                quiet_until_ns: None,
            }],
            unstored: Vec::new(),
            pending: Vec::new(),
        };
        let now = Now {
            mono: Instant::from_nanos(5_000 * MS),
            wall: spool_core::time::UnixNanos(t0 + 1_000 * MS),
        };
        let restored =
            rebuild(&mut engine, &log, now, &HashMap::new(), Some(&ck)).expect("rebuild");
        assert!(restored.missed.is_empty(), "{:?}", restored.missed);
        // One more record makes four, not seven.
        let at = alert_clock(now.mono);
        let f = engine.replay(0, at, Lsn(4)).expect("the fourth fires");
        assert_eq!((f.first_id, f.last_id), (Lsn(1), Lsn(4)));
        assert!(log.close());
    }

    #[test]
    fn records_not_yet_durable_at_the_checkpoint_keep_their_arrival_and_their_rules() {
        let scratch = Scratch::new("pending");
        let dir = scratch.0.clone();
        let rule = |name: &str| Rule {
            name: name.into(),
            min_level: Level::Error,
            service: None,
            pattern: None,
            ignore_case: false,
            threshold: 1,
            window_ns: 60_000 * MS,
            cooldown_ns: 20 * MS,
        };
        let t0 = 1_800_000_000_000_000_000u64;
        {
            let log = Log::open(&dir).expect("open");
            log.append_entry(&error(t0)).expect("1");
            log.append_entry(&error(t0 + 10 * MS)).expect("2");
            log.append_entry(&error(t0 + 12 * MS)).expect("3");
            assert!(log.close());
        }
        let log = Log::open(&dir).expect("reopen");
        let mut engine = Engine::new(vec![rule("R"), rule("N")]).expect("valid");
        // R fired on record 1 at t0 (cooldown to t0 + 20 ms). Record 2 had
        // arrived at t0 + 10 ms, selected by R only (N was put in force by
        // a PUT after it), and was not durable when the checkpoint was
        // written at t0 + 25 ms.
        let ck = Saved {
            written_ns: t0 + 25 * MS,
            through: Lsn(1),
            // Record 3 had arrived by the checkpoint and no rule selected
            // it then (it is not in `pending`): it counts for none, not
            // for N, put in force after it.
            submitted: Lsn(3),
            windows: vec![
                SavedWindow {
                    rule: rule("R"),
                    arrivals: Vec::new(),
                    quiet_until_ns: Some(t0 + 20 * MS),
                },
                SavedWindow {
                    rule: rule("N"),
                    arrivals: Vec::new(),
                    quiet_until_ns: None,
                },
            ],
            unstored: Vec::new(),
            pending: vec![(Lsn(2), t0 + 10 * MS, vec![0])],
        };
        let now = Now {
            mono: Instant::from_nanos(5_000 * MS),
            wall: spool_core::time::UnixNanos(t0 + 1_000 * MS),
        };
        let restored =
            rebuild(&mut engine, &log, now, &HashMap::new(), Some(&ck)).expect("rebuild");
        // Inside R's cooldown where it arrived, and never N's.
        assert!(restored.missed.is_empty(), "{:?}", restored.missed);
        assert!(log.close());
    }
}
