//! Start-up: the windows and cooldowns rebuilt from the log, so a burst
//! that spans a restart fires once, not zero or two times.
//!
//! The records still inside the longest window or cooldown are read twice:
//!
//! 1. the newest alert record of each rule gives its last triggering id
//!    and when it fired: the cooldown is restored, and only records after
//!    that id count again (the window was emptied when it fired);
//! 2. the records after it are counted, in id order. A rule that fires
//!    here fired before the stop but its alert was never stored (the
//!    daemon stopped in between): it is raised now, marked `at_start`.
//!
//! **Which clock.** While running, windows use arrival times; arrival
//! times are not stored in records, so the rebuild uses each record's own
//! timestamp, which for a record sent without one *is* its arrival (the
//! server's clock), made non-decreasing in id order (ids are given in
//! arrival order) and never later than now. A producer whose clock runs
//! far ahead or behind can make the rebuilt window count its records
//! closer together or further apart than they arrived.

use std::collections::HashMap;

use spool_core::alert::Fired;
use spool_core::entry::EntryRef;
use spool_core::record::Lsn;
use spool_core::time::Now;

use super::engine::Engine;
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
    /// Alerts whose records were durable before the stop but that were
    /// never stored: (rule index, alert) to raise now.
    pub missed: Vec<(usize, Fired)>,
}

/// Rebuilds `engine`'s windows and cooldowns from `log` as of `now`.
pub fn rebuild(engine: &mut Engine, log: &Log, now: Now) -> Result<Restored, ReaderError> {
    let span = engine
        .rules()
        .map(|r| r.window_ns.max(r.cooldown_ns))
        .max()
        .unwrap_or(0);
    let mut out = Restored::default();
    if span == 0 {
        return Ok(out);
    }
    let wall = now.wall.0;
    // A second of slack for records stamped a little before they arrived.
    let since = wall.saturating_sub(span).saturating_sub(1_000_000_000);
    // The monotonic instant of a wall-clock time in the past.
    let mono = |ns: u64| {
        spool_core::time::Instant::from_nanos(
            now.mono.as_nanos().saturating_sub(wall.saturating_sub(ns)),
        )
    };

    // 1. The newest alert of each rule.
    let mut last: HashMap<usize, Lsn> = HashMap::new();
    let mut reader = log.reader(From::Time(since))?;
    while let Some(item) = reader.next_item()? {
        let Item::Record { payload, .. } = item else {
            continue;
        };
        out.records += 1;
        let Ok(entry) = EntryRef::decode(&payload) else {
            continue;
        };
        if let Some(a) = stored_alert(&entry) {
            if let Some(i) = engine.position(&a.rule) {
                last.insert(i, a.last_id);
                engine.fired_at(i, mono(a.fired_ns.min(wall)));
            }
        }
    }
    out.cooldowns = last.len();

    // 2. The records after each rule's last alert.
    let mut reader = log.reader(From::Time(since))?;
    let mut at_ns = 0u64;
    while let Some(item) = reader.next_item()? {
        let Item::Record { id, payload } = item else {
            continue;
        };
        let Ok(entry) = EntryRef::decode(&payload) else {
            continue;
        };
        at_ns = at_ns.max(entry.timestamp_ns.min(wall));
        let selected = engine.select(&entry).to_vec();
        for r in selected {
            let r = usize::from(r);
            if last.get(&r).is_some_and(|&l| id <= l) {
                continue;
            }
            if let Some(f) = engine.replay(r, mono(at_ns), id) {
                out.missed.push((r, f));
            }
        }
    }
    Ok(out)
}
