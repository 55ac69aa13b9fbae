//! Evaluating rules where the records already are: each record is
//! matched against the rules when the runtime submits it, and counted
//! when the group commit reports it durable. A record in a batch that is
//! refused (disk full) or never synced counts for nothing.
//!
//! Windows run on the loop's monotonic clock, read once per turn: a
//! record's time is when its request was complete (its arrival), never
//! the producer's timestamp. The windows see that clock moved forward by
//! [`CLOCK_OFFSET_NS`] ([`alert_clock`]), so that start-up can place the
//! records and alerts of the last day before the process started.

use std::collections::VecDeque;

use spool_core::alert::{Alerts, Fired, Rule, RuleError, Selector};
use spool_core::entry::EntryRef;
use spool_core::record::Lsn;
use spool_core::time::{Instant, Now};

use super::checkpoint::SavedWindow;
use super::feed::{select, Noted};
use super::record;

/// How far the windows' clock is ahead of the daemon's monotonic clock
/// (which starts near 0 when the process starts): two days, more than the
/// longest window or cooldown (a day).
pub const CLOCK_OFFSET_NS: u64 = 2 * 86_400 * 1_000_000_000;

/// `mono` on the windows' clock.
pub fn alert_clock(mono: Instant) -> Instant {
    mono.add_nanos(CLOCK_OFFSET_NS)
}

/// Rule sets replaced whose index moves are kept for late notes.
const MAX_MOVES: usize = 8;

/// A submitted record some rule selects, not yet durable.
struct Selected {
    id: Lsn,
    epoch: u64,
    at: Instant,
    rules: Vec<u16>,
}

/// The rule set, each rule's window, and the selected records waiting
/// to be durable.
pub struct Engine {
    alerts: Alerts,
    /// Counts rule sets put in force (for [`Noted::generation`]).
    generation: u64,
    /// For the last few rule sets replaced: (the generation replaced, old
    /// index → new index), to carry notes made under them over.
    moves: VecDeque<(u64, Vec<Option<u16>>)>,
    pending: VecDeque<Selected>,
    scratch: Vec<u16>,
    /// Every record up to this id was evaluated.
    through: Lsn,
    /// The highest id submitted (and matched against the rules).
    submitted: Lsn,
    /// Windows changed since the last [`Engine::saved`].
    dirty: bool,
}

impl Engine {
    /// Evaluates `rules` (checked as a set).
    pub fn new(rules: Vec<Rule>) -> Result<Engine, RuleError> {
        let alerts = Alerts::new(rules)?;
        Ok(Engine {
            alerts,
            generation: 0,
            moves: VecDeque::new(),
            through: Lsn(0),
            submitted: Lsn(0),
            dirty: false,
            pending: VecDeque::new(),
            scratch: Vec::new(),
        })
    }

    /// The rules, in order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.alerts.rules()
    }

    /// The rule at `index`.
    pub fn rule(&self, index: usize) -> Option<&Rule> {
        self.alerts.rule(index)
    }

    /// Index of the rule named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.alerts.rules().position(|r| r.name == name)
    }

    /// Replaces the rule set (checked as a set). Rules unchanged in every
    /// field keep their windows and cooldowns; records already selected
    /// stay counted by them. Other rules start empty.
    pub fn replace(&mut self, rules: Vec<Rule>) -> Result<(), RuleError> {
        let moved = self.alerts.replace(rules)?;
        self.dirty = true;
        self.moves.push_back((self.generation, moved.clone()));
        if self.moves.len() > MAX_MOVES {
            self.moves.pop_front();
        }
        self.generation += 1;
        for s in &mut self.pending {
            s.rules = s
                .rules
                .iter()
                .filter_map(|&r| moved.get(usize::from(r)).copied().flatten())
                .collect();
        }
        self.pending.retain(|s| !s.rules.is_empty());
        Ok(())
    }

    /// Records `first`, `first + 1`, ... with these payloads were submitted
    /// (id epoch `epoch`) at `at` (the daemon's monotonic clock): note which
    /// rules select each. Alert records and payloads that are not entries
    /// are selected by none.
    pub fn submitted<'p, I>(&mut self, first: Lsn, epoch: u64, at: Instant, payloads: I)
    where
        I: IntoIterator<Item = &'p [u8]>,
        I::IntoIter: ExactSizeIterator,
    {
        let payloads = payloads.into_iter();
        let last = Lsn(first.0 + (payloads.len() as u64).saturating_sub(1));
        self.submitted = self.submitted.max(last);
        let selected = select(self.alerts.selector(), payloads);
        self.noted(Noted {
            first,
            epoch,
            at,
            generation: self.generation,
            selected,
        });
    }

    /// The rule set in force and its generation, for [`super::feed::Feed`].
    pub fn selector(&self) -> (u64, &Selector) {
        (self.generation, self.alerts.selector())
    }

    /// Records submitted elsewhere (see [`super::feed`]): inserted in id
    /// order. Selections made under an earlier rule set count for the
    /// rules of it still in force (unchanged), as for records already
    /// pending when the set was replaced; made under one more than
    /// [`MAX_MOVES`] sets ago, they are dropped.
    pub fn noted(&mut self, n: Noted) {
        let at = alert_clock(n.at);
        for (offset, mut rules) in n.selected {
            for (generation, moved) in &self.moves {
                if *generation >= n.generation {
                    rules = rules
                        .iter()
                        .filter_map(|&r| moved.get(usize::from(r)).copied().flatten())
                        .collect();
                }
            }
            let known = n.generation == self.generation
                || self.moves.front().is_some_and(|(g, _)| *g <= n.generation);
            if rules.is_empty() || !known {
                continue;
            }
            let s = Selected {
                id: Lsn(n.first.0 + u64::from(offset)),
                epoch: n.epoch,
                at,
                rules,
            };
            if self.pending.back().is_none_or(|b| b.id < s.id) {
                self.pending.push_back(s);
            } else {
                let i = self.pending.partition_point(|p| p.id < s.id);
                self.pending.insert(i, s);
            }
        }
    }

    /// Every record up to `upto` is durable: each rule counts the ones it
    /// selected; `fire` gets every alert, in id order.
    pub fn durable(&mut self, upto: Lsn, mut fire: impl FnMut(&Rule, Fired)) {
        if upto > self.through {
            self.through = upto;
        }
        while self.pending.front().is_some_and(|s| s.id <= upto) {
            let Some(s) = self.pending.pop_front() else {
                break;
            };
            self.dirty = true;
            for &r in &s.rules {
                let r = usize::from(r);
                if let Some(f) = self.alerts.count(r, s.at, s.id) {
                    if let Some(rule) = self.alerts.rule(r) {
                        fire(rule, f);
                    }
                }
            }
        }
    }

    /// Records `first..=last` of id epoch `epoch` were refused: they count
    /// for nothing.
    pub fn rejected(&mut self, first: Lsn, last: Lsn, epoch: u64) {
        self.pending
            .retain(|s| !(s.epoch == epoch && s.id >= first && s.id <= last));
    }

    /// A write failed: nothing pending will be durable.
    pub fn failed(&mut self) {
        self.pending.clear();
    }

    /// Rule `index` counts record `id` at `at`, on the windows' clock
    /// (start-up's rebuild).
    pub fn replay(&mut self, index: usize, at: Instant, id: Lsn) -> Option<Fired> {
        self.alerts.count(index, at, id)
    }

    /// The indexes of the rules that select `entry` (start-up's rebuild).
    pub fn select(&mut self, entry: &EntryRef<'_>) -> &[u16] {
        self.scratch.clear();
        if !record::is_alert(entry) {
            self.alerts.select(entry, &mut self.scratch);
        }
        &self.scratch
    }

    /// Rule `index` fired at `at`, on the windows' clock (start-up restores
    /// its cooldown).
    pub fn fired_at(&mut self, index: usize, at: Instant) {
        self.alerts.fired_at(index, at);
    }

    /// Rule `index` fired at `at` on record... as a stored alert says: its
    /// window empties and its cooldown runs from `at` (start-up's replay
    /// follows what was stored).
    pub fn fired_reset(&mut self, index: usize, at: Instant) {
        if let Some(w) = self.alerts.window_mut(index) {
            w.restore(std::iter::empty(), None);
            w.fired_at(at);
        }
    }

    /// Every record up to `id` has been evaluated (start-up, after the
    /// rebuild); the windows are to be saved.
    pub fn evaluated_through(&mut self, id: Lsn) {
        self.through = self.through.max(id);
        self.submitted = self.submitted.max(id);
        self.dirty = true;
    }

    /// The highest id submitted and matched against the rules: a record
    /// up to it that no rule selected is in no window, now or later.
    pub fn submitted_through(&self) -> Lsn {
        self.submitted
    }

    /// The windows are to be saved (an alert they fired became durable,
    /// or the rules changed).
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Whether the windows changed since the last [`Engine::saved`].
    pub fn dirty(&self) -> bool {
        self.dirty
    }

    /// Every record up to this id was evaluated.
    pub fn through(&self) -> Lsn {
        self.through
    }

    /// Each rule's window as of `now`, arrival times on the wall clock
    /// (for [`super::checkpoint`]); clears [`Engine::dirty`].
    pub fn saved(&mut self, now: Now) -> Vec<SavedWindow> {
        self.dirty = false;
        let wall = Self::to_wall(now);
        self.alerts
            .rules()
            .enumerate()
            .filter_map(|(i, rule)| {
                let (arrivals, quiet) = self.alerts.window(i)?.state();
                Some(SavedWindow {
                    rule: rule.clone(),
                    arrivals: arrivals.map(|(at, id)| (wall(at), id)).collect(),
                    quiet_until_ns: quiet.map(&wall),
                })
            })
            .collect()
    }

    /// The records submitted but not yet durable that rules selected: (id,
    /// arrival on the wall clock as of `now`, indexes of the rules), in id
    /// order (for [`super::checkpoint`]: a restart places them at their
    /// arrival and counts them only for those rules).
    pub fn saved_pending(&self, now: Now) -> Vec<(Lsn, u64, Vec<u16>)> {
        let wall = Self::to_wall(now);
        self.pending
            .iter()
            .map(|s| (s.id, wall(s.at), s.rules.clone()))
            .collect()
    }

    /// A time on the windows' clock as wall-clock ns, as of `now`.
    fn to_wall(now: Now) -> impl Fn(Instant) -> u64 {
        let clock_now = alert_clock(now.mono);
        move |at: Instant| {
            if at <= clock_now {
                now.wall.0.saturating_sub(clock_now.nanos_since(at))
            } else {
                now.wall.0.saturating_add(at.nanos_since(clock_now))
            }
        }
    }

    /// Puts back rule `index`'s window as [`Engine::saved`] gave it, the
    /// wall-clock times placed on the windows' clock as of `now`. A time
    /// from a clock that has since stepped back is capped: no arrival
    /// later than now, no cooldown ending later than now plus the rule's
    /// cooldown.
    pub fn restore_window(&mut self, index: usize, saved: &SavedWindow, now: Now) {
        let clock_now = alert_clock(now.mono);
        let wall = now.wall.0;
        let cooldown = self.alerts.rule(index).map_or(0, |r| r.cooldown_ns);
        let place = |ns: u64| {
            if ns <= wall {
                Instant::from_nanos(clock_now.as_nanos().saturating_sub(wall - ns))
            } else {
                clock_now.add_nanos(ns - wall)
            }
        };
        if let Some(w) = self.alerts.window_mut(index) {
            w.restore(
                saved
                    .arrivals
                    .iter()
                    .map(|&(t, id)| (place(t.min(wall)), id)),
                saved
                    .quiet_until_ns
                    .map(|q| place(q.min(wall.saturating_add(cooldown)))),
            );
        }
    }

    /// Selected records waiting to be durable.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spool_core::entry::{Entry, Level};

    fn rule(name: &str, threshold: u32) -> Rule {
        Rule {
            name: name.into(),
            min_level: Level::Error,
            service: None,
            pattern: None,
            ignore_case: false,
            threshold,
            window_ns: 10_000_000_000,
            cooldown_ns: 0,
        }
    }

    fn payload(level: Level) -> Vec<u8> {
        Entry {
            timestamp_ns: 1,
            level,
            service: "api".into(),
            message: "m".into(),
            metadata: String::new(),
        }
        .encode()
        .expect("encodes")
    }

    fn fires(e: &mut Engine, upto: u64) -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        e.durable(Lsn(upto), |r, f| {
            out.push((r.name.clone(), f.first_id.0, f.last_id.0))
        });
        out
    }

    #[test]
    fn only_durable_records_count_and_refused_ones_never_do() {
        let mut e = Engine::new(vec![rule("two", 2)]).expect("valid");
        let err = payload(Level::Error);
        let info = payload(Level::Info);
        let at = Instant::from_nanos(5);
        e.submitted(Lsn(1), 0, at, [err.as_slice(), info.as_slice()]);
        assert_eq!(e.pending(), 1, "the INFO record is selected by no rule");
        // Refused: ids 3..=3 of epoch 0.
        e.submitted(Lsn(3), 0, at, [err.as_slice()]);
        e.rejected(Lsn(3), Lsn(3), 0);
        assert!(fires(&mut e, 10).is_empty(), "one durable ERROR is below 2");
        e.submitted(Lsn(3), 1, at, [err.as_slice()]);
        assert!(fires(&mut e, 2).is_empty(), "not durable yet");
        assert_eq!(fires(&mut e, 3), vec![("two".into(), 1, 3)]);
    }

    #[test]
    fn a_new_rule_set_keeps_the_windows_of_unchanged_rules() {
        let mut e = Engine::new(vec![rule("a", 2), rule("b", 2)]).expect("valid");
        let err = payload(Level::Error);
        let at = Instant::from_nanos(5);
        e.submitted(Lsn(1), 0, at, [err.as_slice()]);
        assert!(fires(&mut e, 1).is_empty());
        e.submitted(Lsn(2), 0, at, [err.as_slice()]);
        // "b" changes (a new threshold): it starts again; "a" keeps its
        // first record and the pending second.
        e.replace(vec![rule("b", 3), rule("a", 2)]).expect("valid");
        assert_eq!(fires(&mut e, 2), vec![("a".into(), 1, 2)]);
        assert!(e.replace(vec![rule("x", 0)]).is_err());
        assert_eq!(e.rules().count(), 2, "a refused set changes nothing");
    }

    #[test]
    fn records_noted_from_another_thread_count_in_id_order_under_their_rule_set() {
        let mut e = Engine::new(vec![rule("two", 2)]).expect("valid");
        let err = payload(Level::Error);
        let at = Instant::from_nanos(5);
        // The loop's own submission (id 3) before a /simulate batch (ids 1..=2)
        // is noted: pending stays in id order.
        e.submitted(Lsn(3), 0, at, [err.as_slice()]);
        let (generation, _) = e.selector();
        e.noted(Noted {
            first: Lsn(1),
            epoch: 0,
            at,
            generation,
            selected: vec![(0, vec![0]), (1, vec![0])],
        });
        assert_eq!(fires(&mut e, 2), vec![("two".into(), 1, 2)]);
        // Selections made under a replaced rule set are dropped.
        e.replace(vec![rule("two", 3)]).expect("valid");
        e.noted(Noted {
            first: Lsn(10),
            epoch: 0,
            at,
            generation,
            selected: vec![(0, vec![0])],
        });
        assert_eq!(
            e.pending(),
            0,
            "id 3 was selected by the old rule; 10 by a changed one"
        );

        // A note made before a PUT that left its rule unchanged still counts.
        let mut e = Engine::new(vec![rule("a", 2), rule("b", 2)]).expect("valid");
        let (generation, _) = e.selector();
        e.replace(vec![rule("b", 5), rule("a", 2)]).expect("valid");
        e.noted(Noted {
            first: Lsn(1),
            epoch: 0,
            at,
            generation,
            selected: vec![(0, vec![0, 1]), (1, vec![0, 1])],
        });
        assert_eq!(
            fires(&mut e, 2),
            vec![("a".into(), 1, 2)],
            "a moved to index 1"
        );
    }

    #[test]
    fn saved_times_from_a_clock_that_stepped_back_are_capped() {
        let mut r = rule("one", 1);
        r.cooldown_ns = 2_000_000_000;
        let mut e = Engine::new(vec![r.clone()]).expect("valid");
        let now = Now {
            mono: Instant::from_nanos(1_000),
            wall: spool_core::time::UnixNanos(10_000_000_000_000),
        };
        // Saved under a clock a day ahead: a cooldown ending a day later.
        let day = 86_400_000_000_000u64;
        e.restore_window(
            0,
            &SavedWindow {
                rule: r,
                arrivals: Vec::new(),
                quiet_until_ns: Some(now.wall.0 + day),
            },
            now,
        );
        let later = alert_clock(now.mono).add_nanos(2_000_000_001);
        assert!(
            e.replay(0, later, Lsn(1)).is_some(),
            "the cooldown ends at most its length after now"
        );
    }
}
