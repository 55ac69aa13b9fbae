//! One rule's sliding window: the arrival times of the last selected
//! records, in a fixed-size ring.

use heapless::Deque;

use super::rule::{Rule, MAX_THRESHOLD};
use crate::record::Lsn;
use crate::time::Instant;

/// An alert: `count` selected records arrived within the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fired {
    /// How many (the rule's threshold).
    pub count: u32,
    /// The first of them.
    pub first_id: Lsn,
    /// The last of them (the one that fired it).
    pub last_id: Lsn,
    /// When the first arrived.
    pub first_at: Instant,
    /// When the last arrived.
    pub at: Instant,
}

/// One rule's state. Memory is fixed: [`MAX_THRESHOLD`] arrivals (16 KiB),
/// whatever the rate.
#[derive(Clone, Debug)]
pub struct RuleWindow {
    arrivals: Deque<(Instant, Lsn), { MAX_THRESHOLD as usize }>,
    threshold: usize,
    window_ns: u64,
    cooldown_ns: u64,
    quiet_until: Option<Instant>,
}

impl RuleWindow {
    /// An empty window for `rule` (checked with [`Rule::check`]; a
    /// threshold above [`MAX_THRESHOLD`] counts as that).
    pub fn new(rule: &Rule) -> RuleWindow {
        RuleWindow {
            arrivals: Deque::new(),
            threshold: (rule.threshold.clamp(1, MAX_THRESHOLD)) as usize,
            window_ns: rule.window_ns,
            cooldown_ns: rule.cooldown_ns,
            quiet_until: None,
        }
    }

    /// Record `id`, which the rule selects, arrived at `at` (arrivals come
    /// in order: `at` never decreases). Returns the alert when this makes
    /// `threshold` selected records whose oldest arrived at most `window`
    /// before `at`, outside a cooldown. Firing starts the cooldown and
    /// empties the window: the next alert counts records after this one
    /// (those arriving during the cooldown included).
    pub fn observe(&mut self, at: Instant, id: Lsn) -> Option<Fired> {
        if self.arrivals.len() == self.threshold {
            self.arrivals.pop_front();
        }
        // Cannot fail: at most threshold - 1 are held here.
        let _ = self.arrivals.push_back((at, id));
        while let Some(&(t, _)) = self.arrivals.front() {
            if at.nanos_since(t) <= self.window_ns {
                break;
            }
            self.arrivals.pop_front();
        }
        if self.arrivals.len() < self.threshold || self.quiet_until.is_some_and(|q| at < q) {
            return None;
        }
        let &(first_at, first_id) = self.arrivals.front()?;
        self.arrivals.clear();
        self.quiet_until = Some(at.add_nanos(self.cooldown_ns));
        Some(Fired {
            count: self.threshold as u32,
            first_id,
            last_id: id,
            first_at,
            at,
        })
    }

    /// Restores a cooldown after a restart: an alert of this rule fired at
    /// `at` (on the clock `observe` is given).
    pub fn fired_at(&mut self, at: Instant) {
        self.quiet_until = Some(at.add_nanos(self.cooldown_ns));
    }

    /// The arrivals held, oldest first, and the end of the cooldown: the
    /// whole state, to save it ([`RuleWindow::restore`] puts it back).
    pub fn state(&self) -> (impl Iterator<Item = (Instant, Lsn)> + '_, Option<Instant>) {
        (self.arrivals.iter().copied(), self.quiet_until)
    }

    /// Puts back a state [`RuleWindow::state`] gave (arrivals oldest
    /// first; at most the threshold, the newest kept).
    pub fn restore(
        &mut self,
        arrivals: impl IntoIterator<Item = (Instant, Lsn)>,
        quiet_until: Option<Instant>,
    ) {
        self.arrivals.clear();
        for a in arrivals {
            if self.arrivals.len() == self.threshold {
                self.arrivals.pop_front();
            }
            // Cannot fail: at most threshold - 1 are held here.
            let _ = self.arrivals.push_back(a);
        }
        self.quiet_until = quiet_until;
    }
}
