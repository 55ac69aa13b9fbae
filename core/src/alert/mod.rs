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
use crate::query::text::OwnedMatcher;
use crate::record::Lsn;
use crate::time::Instant;

/// Which rules select a record: a rule set with each pattern prepared
/// once, without windows. Cheap to clone and to share with the threads
/// that submit records off the daemon's loop.
#[derive(Clone, Debug)]
pub struct Selector {
    rules: Vec<(Rule, Option<OwnedMatcher>)>,
}

impl Selector {
    /// The rules, checked as a set ([`validate_rules`]).
    pub fn new(rules: Vec<Rule>) -> Result<Selector, RuleError> {
        validate_rules(&rules)?;
        Ok(Selector {
            rules: rules
                .into_iter()
                .map(|r| {
                    let m = r
                        .pattern
                        .as_deref()
                        .map(|p| OwnedMatcher::new(p.as_bytes(), r.ignore_case));
                    (r, m)
                })
                .collect(),
        })
    }

    /// The rules, in order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|(r, _)| r)
    }

    /// The lowest level any rule counts (`None` without rules): a record
    /// below it is selected by none, without decoding it.
    pub fn min_level(&self) -> Option<Level> {
        self.rules.iter().map(|(r, _)| r.min_level).min()
    }

    /// Appends to `out` the index of every rule that selects `entry`, in
    /// rule order (what [`Rule::selects`] says, with the pattern prepared).
    pub fn select(&self, entry: &EntryRef<'_>, out: &mut Vec<u16>) {
        for (i, (rule, pattern)) in self.rules.iter().enumerate() {
            let selected = entry.level >= rule.min_level
                && rule.service.as_deref().is_none_or(|s| s == entry.service)
                && pattern.as_ref().is_none_or(|m| m.matches_entry(entry));
            if selected {
                // At most MAX_RULES (256) rules: the index fits.
                out.push(i as u16);
            }
        }
    }
}

/// A rule set and each rule's window: what the daemon evaluates every
/// durable record against.
pub struct Alerts {
    selector: Selector,
    windows: Vec<RuleWindow>,
}

impl Alerts {
    /// The rules, checked as a set ([`validate_rules`]).
    pub fn new(rules: Vec<Rule>) -> Result<Alerts, RuleError> {
        let selector = Selector::new(rules)?;
        let windows = selector.rules().map(RuleWindow::new).collect();
        Ok(Alerts { selector, windows })
    }

    /// The rules, in order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.selector.rules()
    }

    /// The rules as a [`Selector`].
    pub fn selector(&self) -> &Selector {
        &self.selector
    }

    /// The rule at `index`.
    pub fn rule(&self, index: usize) -> Option<&Rule> {
        self.selector.rules.get(index).map(|(r, _)| r)
    }

    /// How many rules.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// See [`Selector::min_level`].
    pub fn min_level(&self) -> Option<Level> {
        self.selector.min_level()
    }

    /// See [`Selector::select`].
    pub fn select(&self, entry: &EntryRef<'_>, out: &mut Vec<u16>) {
        self.selector.select(entry, out);
    }

    /// Rule `index` counts record `id`, which arrived at `at` (arrivals in
    /// order per rule); the alert, if this fires it. An index out of range
    /// counts nothing.
    pub fn count(&mut self, index: usize, at: Instant, id: Lsn) -> Option<Fired> {
        self.windows.get_mut(index)?.observe(at, id)
    }

    /// Rule `index`'s window.
    pub fn window(&self, index: usize) -> Option<&RuleWindow> {
        self.windows.get(index)
    }

    /// Rule `index`'s window, to restore it.
    pub fn window_mut(&mut self, index: usize) -> Option<&mut RuleWindow> {
        self.windows.get_mut(index)
    }

    /// Restores rule `index`'s cooldown: it fired at `at` ([`RuleWindow::fired_at`]).
    pub fn fired_at(&mut self, index: usize, at: Instant) {
        if let Some(window) = self.windows.get_mut(index) {
            window.fired_at(at);
        }
    }

    /// Replaces the rule set with `rules` (checked as a set). A new rule
    /// equal in every field to an old one keeps the old one's window and
    /// cooldown; any other starts empty. Returns, for each old index, the
    /// new index of the rule that kept its window.
    pub fn replace(&mut self, rules: Vec<Rule>) -> Result<Vec<Option<u16>>, RuleError> {
        let selector = Selector::new(rules)?;
        let old_rules: Vec<&Rule> = self.selector.rules().collect();
        let mut old_windows: Vec<Option<RuleWindow>> = core::mem::take(&mut self.windows)
            .into_iter()
            .map(Some)
            .collect();
        let mut moved = alloc::vec![None; old_rules.len()];
        let windows = selector
            .rules()
            .enumerate()
            .map(|(new_index, r)| {
                let kept = old_rules
                    .iter()
                    .enumerate()
                    .position(|(i, o)| *o == r && old_windows[i].is_some());
                match kept.and_then(|i| old_windows[i].take().map(|w| (i, w))) {
                    Some((i, w)) => {
                        moved[i] = Some(new_index as u16);
                        w
                    }
                    None => RuleWindow::new(r),
                }
            })
            .collect();
        self.windows = windows;
        self.selector = selector;
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
        let mut chosen = Vec::new();
        self.selector.select(entry, &mut chosen);
        for r in chosen {
            let r = usize::from(r);
            if let Some(f) = self.count(r, at, id) {
                if let Some(rule) = self.rule(r) {
                    fired(rule, f);
                }
            }
        }
    }
}
