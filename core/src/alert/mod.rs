//! Threshold alerts over sliding windows, sans-IO.
//!
//! A [`Rule`] selects records (a minimum level, optionally one service and
//! a substring of the message or metadata) and fires when `threshold` of
//! them arrive within `window` of each other; after firing it stays quiet
//! for `cooldown`. [`RuleWindow`] holds one rule's state: the arrival
//! times of at most [`MAX_THRESHOLD`] selected records, in a fixed-size
//! ring (no allocation, whatever the rate).
//!
//! Time is passed in. The daemon passes each record's **arrival time on
//! its monotonic clock**, never the producer's timestamp: a producer with a
//! wrong clock, or a batch of old records replayed, can neither trigger
//! nor suppress an alert, and no clock step moves a window.
//!
//! The daemon splits [`Alerts::observe`] in two: it notes which rules
//! select a record when the record is submitted ([`Alerts::select`]) and
//! counts it when the group commit reports it durable ([`Alerts::count`]),
//! so only durable records raise alerts.

pub mod rule;
pub mod window;

pub use rule::{
    default_rules, validate_rules, Rule, RuleError, RuleField, MAX_NAME, MAX_RULES, MAX_THRESHOLD,
};
pub use window::{Fired, RuleWindow};

use alloc::vec::Vec;

use crate::entry::{EntryRef, Level};
use crate::record::Lsn;
use crate::time::Instant;

/// A rule set and each rule's window: what the daemon evaluates every
/// durable record against.
pub struct Alerts {
    rules: Vec<(Rule, RuleWindow)>,
}

impl Alerts {
    /// The rules, checked as a set ([`validate_rules`]).
    pub fn new(rules: Vec<Rule>) -> Result<Alerts, RuleError> {
        validate_rules(&rules)?;
        Ok(Alerts {
            rules: rules
                .into_iter()
                .map(|r| {
                    let w = RuleWindow::new(&r);
                    (r, w)
                })
                .collect(),
        })
    }

    /// The rules, in order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|(r, _)| r)
    }

    /// The rule at `index`.
    pub fn rule(&self, index: usize) -> Option<&Rule> {
        self.rules.get(index).map(|(r, _)| r)
    }

    /// How many rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The lowest level any rule counts (`None` without rules): a record
    /// below it is selected by none, without decoding it.
    pub fn min_level(&self) -> Option<Level> {
        self.rules.iter().map(|(r, _)| r.min_level).min()
    }

    /// Appends to `out` the index of every rule that selects `entry`, in
    /// rule order.
    pub fn select(&self, entry: &EntryRef<'_>, out: &mut Vec<u16>) {
        for (i, (rule, _)) in self.rules.iter().enumerate() {
            if rule.selects(entry) {
                // At most MAX_RULES (256) rules: the index fits.
                out.push(i as u16);
            }
        }
    }

    /// Rule `index` counts record `id`, which arrived at `at` (arrivals in
    /// order per rule); the alert, if this fires it. An index out of range
    /// counts nothing.
    pub fn count(&mut self, index: usize, at: Instant, id: Lsn) -> Option<Fired> {
        let (_, window) = self.rules.get_mut(index)?;
        window.observe(at, id)
    }

    /// Restores rule `index`'s cooldown: it fired at `at` ([`RuleWindow::fired_at`]).
    pub fn fired_at(&mut self, index: usize, at: Instant) {
        if let Some((_, window)) = self.rules.get_mut(index) {
            window.fired_at(at);
        }
    }

    /// Replaces the rule set with `rules` (checked as a set). A new rule
    /// equal in every field to an old one keeps the old one's window and
    /// cooldown; any other starts empty. Returns, for each old index, the
    /// new index of the rule that kept its window.
    pub fn replace(&mut self, rules: Vec<Rule>) -> Result<Vec<Option<u16>>, RuleError> {
        validate_rules(&rules)?;
        let mut old: Vec<Option<(Rule, RuleWindow)>> = core::mem::take(&mut self.rules)
            .into_iter()
            .map(Some)
            .collect();
        let mut moved = alloc::vec![None; old.len()];
        self.rules = rules
            .into_iter()
            .enumerate()
            .map(|(new_index, r)| {
                let kept = old
                    .iter()
                    .position(|o| o.as_ref().is_some_and(|(or, _)| *or == r));
                match kept.and_then(|i| old[i].take().map(|o| (i, o))) {
                    Some((i, (_, window))) => {
                        moved[i] = Some(new_index as u16);
                        (r, window)
                    }
                    None => {
                        let w = RuleWindow::new(&r);
                        (r, w)
                    }
                }
            })
            .collect();
        Ok(moved)
    }

    /// Record `id` arrived at `at`: each rule that selects it counts it;
    /// `fired` is called with the rule and the alert for every rule this
    /// record fires, in rule order.
    pub fn observe(
        &mut self,
        at: Instant,
        id: Lsn,
        entry: &EntryRef<'_>,
        mut fired: impl FnMut(&Rule, Fired),
    ) {
        for (rule, window) in &mut self.rules {
            if rule.selects(entry) {
                if let Some(f) = window.observe(at, id) {
                    fired(rule, f);
                }
            }
        }
    }
}
