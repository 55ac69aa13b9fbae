//! Start-up: the windows and cooldowns put back, so a burst that spans a
//! restart fires once, not zero or two times.
//!
//! **From the checkpoint** (`alerts::checkpoint`, written about once a
//! second while windows change and at shutdown): each rule equal in every
//! field to a saved one gets its window back exactly, arrival times
//! included. Only the records after the last id the checkpoint evaluated
//! (none after a clean stop) are counted again, placed at their own
//! timestamps held between the checkpoint's time and now (a crash loses
//! at most about a second of arrival times). Alerts the checkpoint holds
//! as fired but not stored, and not in the log, are stored now.
//!
//! **From the log alone** (no checkpoint, a torn one, or a rule that
//! changed while the daemon was down), reading the longest window or
//! cooldown twice:
//!
//! 1. the newest alert record of each rule gives its last triggering id
//!    and when it fired: the cooldown is restored, and only records after
//!    that id count again (the window was emptied when it fired);
//! 2. per rule, the newest `threshold` records it selects after that id,
//!    placed within its window before now, go back into its window, oldest
//!    first.
//!
//! Arrival times are not stored in records, so this places each record at
//! its own timestamp (for a record sent without one, that *is* its
//! arrival), never later than now: the records of a producer whose clock
//! is far off may count as closer together, or further apart, than they
//! arrived. A rule set by `PUT /alerts/rules` counts no record stamped
//! before it was put in force.
//!
//! Either way, if the restored records fill a window outside its
//! cooldown, the alert was due before the stop but never stored (the
//! daemon stopped in between): it is raised now, marked `at_start`.

use std::collections::{BinaryHeap, HashMap, HashSet};

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
        return Ok(out);
    }
    let wall = now.wall.0;
    let clock_now = alert_clock(now.mono);
    // A wall-clock time at or before now, on the windows' clock.
    let place = |ns: u64| {
        Instant::from_nanos(
            clock_now
                .as_nanos()
                .saturating_sub(wall.saturating_sub(ns.min(wall))),
        )
    };
    // A second of slack for records stamped a little before they arrived.
    let from = wall.saturating_sub(span).saturating_sub(1_000_000_000);

    // The checkpoint's windows, for rules unchanged since.
    let mut exact: HashSet<usize> = HashSet::new();
    if let Some(ck) = saved {
        for (i, rule) in rules.iter().enumerate() {
            if let Some(w) = ck.windows.iter().find(|w| &w.rule == rule) {
                engine.restore_window(i, w, now);
                exact.insert(i);
            }
        }
    }
    let through = saved.map_or(Lsn(0), |ck| ck.through);

    // 1. The newest alert of each rule (and by name, for the checkpoint's
    //    unstored alerts).
    let mut last: HashMap<usize, (Lsn, u64)> = HashMap::new();
    let mut last_by_name: HashMap<String, Lsn> = HashMap::new();
    let mut reader = log.reader(From::Time(from))?;
    while let Some(item) = reader.next_item()? {
        let Item::Record { payload, .. } = item else {
            continue;
        };
        out.records += 1;
        let Ok(entry) = EntryRef::decode(&payload) else {
            continue;
        };
        let Some(a) = stored_alert(&entry) else {
            continue;
        };
        let newest = last_by_name.entry(a.rule.clone()).or_default();
        *newest = (*newest).max(a.last_id);
        // An alert of an older rule of the same name (replaced by PUT
        // since) says nothing of this one.
        if since.get(&a.rule).is_some_and(|&s| a.fired_ns < s) {
            continue;
        }
        if let Some(i) = engine.position(&a.rule) {
            last.insert(i, (a.last_id, a.fired_ns));
        }
    }
    // A rule that fired after the checkpoint's last id: its saved window
    // is older than that fire; it is rebuilt from the log instead.
    exact.retain(|i| last.get(i).is_none_or(|&(l, _)| l <= through));
    out.exact = exact.len();
    for (&i, &(_, fired_ns)) in &last {
        if !exact.contains(&i) {
            engine.fired_at(i, place(fired_ns));
            out.cooldowns += 1;
        }
    }
    if let Some(ck) = saved {
        for p in &ck.unstored {
            let Ok(entry) = EntryRef::decode(p) else {
                continue;
            };
            let Some(a) = stored_alert(&entry) else {
                continue;
            };
            if last_by_name.get(&a.rule).is_none_or(|&l| l < a.last_id) {
                out.unstored.push(p.clone());
            }
        }
    }

    // 2a. Rules restored from the checkpoint: the records after its last
    //     id, in id order, each between the checkpoint's time and now.
    if !exact.is_empty() {
        let low = saved.map_or(0, |ck| ck.written_ns).min(wall);
        let mut at_ns = low;
        let mut reader = log.reader(From::After(through))?;
        while let Some(item) = reader.next_item()? {
            let Item::Record { id, payload } = item else {
                continue;
            };
            out.records += 1;
            let Ok(entry) = EntryRef::decode(&payload) else {
                continue;
            };
            at_ns = at_ns.max(entry.timestamp_ns.clamp(low, wall));
            let selected: Vec<u16> = engine.select(&entry).to_vec();
            for r in selected {
                let r = usize::from(r);
                if !exact.contains(&r) {
                    continue;
                }
                out.counted += 1;
                if let Some(f) = engine.replay(r, place(at_ns), id) {
                    out.missed.push((r, f));
                }
            }
        }
    }

    // 2b. Other rules: per rule, the newest `threshold` records inside its
    //     window, by their own timestamps.
    if exact.len() < rules.len() && span > 0 {
        let starts: Vec<u64> = rules
            .iter()
            .map(|r| {
                let window_start = wall.saturating_sub(r.window_ns);
                since
                    .get(&r.name)
                    .map_or(window_start, |&s| s.max(window_start))
            })
            .collect();
        // Min-heaps by (time, id): the oldest is dropped past the threshold.
        let mut newest: Vec<BinaryHeap<std::cmp::Reverse<(u64, Lsn)>>> =
            rules.iter().map(|_| BinaryHeap::new()).collect();
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
                if exact.contains(&r)
                    || last.get(&r).is_some_and(|&(l, _)| id <= l)
                    || at < starts[r]
                {
                    continue;
                }
                let heap = &mut newest[r];
                heap.push(std::cmp::Reverse((at, id)));
                if heap.len() > rules[r].threshold as usize {
                    heap.pop();
                }
            }
        }
        for (r, heap) in newest.into_iter().enumerate() {
            let mut records: Vec<(u64, Lsn)> = heap.into_iter().map(|x| x.0).collect();
            records.sort_unstable();
            out.counted += records.len();
            for (at, id) in records {
                if let Some(f) = engine.replay(r, place(at), id) {
                    out.missed.push((r, f));
                }
            }
        }
    }
    Ok(out)
}
