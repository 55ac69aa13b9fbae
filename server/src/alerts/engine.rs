//! Evaluating rules where the records already are: each record is
//! matched against the rules when the runtime submits it, and counted
//! when the group commit reports it durable. A record in a batch that is
//! refused (disk full) or never synced counts for nothing.
//!
//! Windows run on the loop's monotonic clock, read once per turn: a
//! record's time is when its request was complete (its arrival), never
//! the producer's timestamp.

use std::collections::VecDeque;

use spool_core::alert::{Alerts, Fired, Rule, RuleError};
use spool_core::entry::{EntryRef, Level};
use spool_core::record::Lsn;
use spool_core::time::Instant;

use super::record;

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
    min_level: Option<Level>,
    pending: VecDeque<Selected>,
    scratch: Vec<u16>,
}

impl Engine {
    /// Evaluates `rules` (checked as a set).
    pub fn new(rules: Vec<Rule>) -> Result<Engine, RuleError> {
        let alerts = Alerts::new(rules)?;
        Ok(Engine {
            min_level: alerts.min_level(),
            alerts,
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
        self.min_level = self.alerts.min_level();
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
    /// (id epoch `epoch`) at `at`: note which rules select each. Alert
    /// records and payloads that are not entries are selected by none.
    pub fn submitted<'p>(
        &mut self,
        first: Lsn,
        epoch: u64,
        at: Instant,
        payloads: impl IntoIterator<Item = &'p [u8]>,
    ) {
        let Some(min_level) = self.min_level else {
            return;
        };
        for (i, payload) in payloads.into_iter().enumerate() {
            // The level byte first: most records are below every rule.
            match EntryRef::peek_fields(payload).and_then(|(_, l, _)| Level::from_u8(l)) {
                Some(level) if level >= min_level => {}
                _ => continue,
            }
            let Ok(entry) = EntryRef::decode(payload) else {
                continue;
            };
            if record::is_alert(&entry) {
                continue;
            }
            self.scratch.clear();
            self.alerts.select(&entry, &mut self.scratch);
            if !self.scratch.is_empty() {
                self.pending.push_back(Selected {
                    id: Lsn(first.0 + i as u64),
                    epoch,
                    at,
                    rules: self.scratch.clone(),
                });
            }
        }
    }

    /// Every record up to `upto` is durable: each rule counts the ones it
    /// selected; `fire` gets every alert, in id order.
    pub fn durable(&mut self, upto: Lsn, mut fire: impl FnMut(&Rule, Fired)) {
        while self.pending.front().is_some_and(|s| s.id <= upto) {
            let Some(s) = self.pending.pop_front() else {
                break;
            };
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

    /// Rule `index` counts record `id` at `at` (start-up's rebuild).
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

    /// Rule `index` fired at `at` (start-up restores its cooldown).
    pub fn fired_at(&mut self, index: usize, at: Instant) {
        self.alerts.fired_at(index, at);
    }

    /// Selected records waiting to be durable.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spool_core::entry::Entry;

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
}
