//! Deadlines, earliest first: the event loop sleeps exactly until the next.
//!
//! A min-heap of `(deadline, slot, generation)`. Entries are never removed:
//! one whose connection closed (the generation differs) or whose deadline
//! the connection no longer has is skipped when it comes due. Each open
//! connection keeps one live entry, armed no later than its earliest
//! possible deadline (see `HttpConn::soonest_from`), so the heap holds at
//! most the open connections plus those closed within one timeout.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use spool_core::time::Instant;

/// The timer heap.
#[derive(Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl Timers {
    /// Calls for slot `slot` (of `generation`) at `at`.
    pub(super) fn arm(&mut self, at: Instant, slot: usize, generation: u64) {
        self.heap.push(Reverse((at, slot, generation)));
    }

    /// The earliest armed deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Removes and returns an entry due at `now`, if any.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize, u64)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// Entries held (live and stale).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_entries_come_out_earliest_first_and_only_when_due() {
        let mut t = Timers::default();
        let at = Instant::from_nanos;
        t.arm(at(30), 1, 1);
        t.arm(at(10), 2, 1);
        t.arm(at(20), 3, 7);
        assert_eq!(t.next(), Some(at(10)));
        assert_eq!(t.pop_due(at(5)), None);
        assert_eq!(t.pop_due(at(25)), Some((at(10), 2, 1)));
        assert_eq!(t.pop_due(at(25)), Some((at(20), 3, 7)));
        assert_eq!(t.pop_due(at(25)), None);
        assert_eq!(t.len(), 1);
    }
}
