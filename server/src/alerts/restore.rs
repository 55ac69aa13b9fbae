//! Start-up: the windows and cooldowns rebuilt from the log, so a burst
//! that spans a restart fires once, not zero or two times.
//!
//! The records of the longest window or cooldown are read twice:
//!
//! 1. the newest alert record of each rule gives its last triggering id
//!    and when it fired: the cooldown is restored, and only records after
//!    that id count again (the window was emptied when it fired);
//! 2. per rule, the newest `threshold` records it selects after that id,
//!    placed within its window before now, go back into its window, oldest
//!    first. If they fill it outside the cooldown, the alert was due before
//!    the stop but never stored (the daemon stopped in between): it is
//!    raised now, marked `at_start`.
//!
//! **Which clock.** While running, windows use arrival times; arrival
//! times are not stored in records, so the rebuild places each record at
//! its own timestamp (for a record sent without one, that *is* its
//! arrival, on the server's clock), never later than now. A record whose
//! producer's clock is far off is placed by that clock: it may count as
//! closer to the others, or further from them, than it arrived; other
//! records are placed by their own timestamps. A rule set by
//! `PUT /alerts/rules` counts no record stamped before it was put in force.

use std::collections::{BinaryHeap, HashMap};

use spool_core::alert::Fired;
use spool_core::entry::EntryRef;
use spool_core::record::Lsn;
use spool_core::time::{Instant, Now};

use super::engine::{alert_clock, Engine};
use super::record::stored_alert;
use crate::embed::Log;
use crate::reader::{From, Item, ReaderError};

/// What the rebuild did.
#[derive(Debug, Default)]
pub struct Restored {
    /// Records read (each pass).
    pub records: u64,
    /// Rules whose cooldown came back from an alert record.
    pub cooldowns: usize,
    /// Records put back into windows.
    pub counted: usize,
    /// Alerts whose records were durable before the stop but that were
    /// never stored: (rule index, alert) to raise now.
    pub missed: Vec<(usize, Fired)>,
}

/// Rebuilds `engine`'s windows and cooldowns from `log` as of `now`.
/// `since` gives, by rule name, the wall-clock time (ns) from which a
/// rule was in force, when known: older records do not count for it.
pub fn rebuild(
    engine: &mut Engine,
    log: &Log,
    now: Now,
    since: &HashMap<String, u64>,
) -> Result<Restored, ReaderError> {
    let rules: Vec<_> = engine.rules().cloned().collect();
    let span = rules
        .iter()
        .map(|r| r.window_ns.max(r.cooldown_ns))
        .max()
        .unwrap_or(0);
    let mut out = Restored::default();
    if span == 0 {
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

    // 1. The newest alert of each rule.
    let mut last: HashMap<usize, Lsn> = HashMap::new();
    let mut reader = log.reader(From::Time(from))?;
    while let Some(item) = reader.next_item()? {
        let Item::Record { payload, .. } = item else {
            continue;
        };
        out.records += 1;
        let Ok(entry) = EntryRef::decode(&payload) else {
            continue;
        };
        if let Some(a) = stored_alert(&entry) {
            // An alert of an older rule of the same name (replaced by PUT
            // since) says nothing of this one.
            if since.get(&a.rule).is_some_and(|&s| a.fired_ns < s) {
                continue;
            }
            if let Some(i) = engine.position(&a.rule) {
                last.insert(i, a.last_id);
                engine.fired_at(i, place(a.fired_ns));
            }
        }
    }
    out.cooldowns = last.len();

    // 2. Per rule, the newest `threshold` records inside its window.
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
            if last.get(&r).is_some_and(|&l| id <= l) || at < starts[r] {
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
    Ok(out)
}
