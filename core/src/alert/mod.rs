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
//! Not wired into the daemon yet (issue 8): rules are not loaded, nothing
//! evaluates them.

pub mod rule;
pub mod window;

pub use rule::{
    default_rules, validate_rules, Rule, RuleError, RuleField, MAX_NAME, MAX_RULES, MAX_THRESHOLD,
};
pub use window::{Fired, RuleWindow};

use alloc::vec::Vec;

use crate::entry::EntryRef;
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
