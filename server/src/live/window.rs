//! The newest records, each framed once for every subscriber: a deque of
//! consecutive ids bounded in bytes.

use std::collections::VecDeque;

use spool_core::record::Lsn;

/// One record (or gap) in the window.
pub struct LiveItem {
    /// Its id, or a gap's first id.
    pub first: Lsn,
    /// Its id, or a gap's last id.
    pub last: Lsn,
    /// The record's payload (for filters); empty for a gap.
    pub payload: Box<[u8]>,
    /// The WebSocket frame to send: the record as JSON, or the gap
    /// message; empty for a record that is not a log entry (never sent).
    pub frame: Box<[u8]>,
    /// A gap, sent to every subscriber whatever its filter.
    pub gap: bool,
}

impl LiveItem {
    fn cost(&self) -> usize {
        self.payload.len() + self.frame.len() + std::mem::size_of::<LiveItem>()
    }
}

/// The window. Invariant: items cover consecutive ids, `first` of each is
/// `last + 1` of the one before, and `next` is `last + 1` of the newest.
pub struct Window {
    items: VecDeque<LiveItem>,
    bytes: usize,
    max_bytes: usize,
    next: Lsn,
}

impl Window {
    /// An empty window whose first item will have id `next`, holding about
    /// `max_bytes` (at least the newest item, whatever its size).
    pub fn new(next: Lsn, max_bytes: usize) -> Window {
        Window {
            items: VecDeque::new(),
            bytes: 0,
            max_bytes,
            next,
        }
    }

    /// The id the next item will have: one past the newest.
    pub fn next(&self) -> Lsn {
        self.next
    }

    /// The oldest id in the window (`next` when empty): a subscriber whose
    /// cursor is below it must read the log itself.
    pub fn oldest(&self) -> Lsn {
        self.items.front().map_or(self.next, |i| i.first)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends the next item; drops the oldest past the byte bound.
    /// `item.first` must be [`Window::next`].
    pub fn push(&mut self, item: LiveItem) {
        debug_assert_eq!(item.first, self.next);
        self.next = item.last.next();
        self.bytes += item.cost();
        self.items.push_back(item);
        while self.bytes > self.max_bytes && self.items.len() > 1 {
            if let Some(old) = self.items.pop_front() {
                self.bytes -= old.cost();
            }
        }
    }

    /// Empties the window; the next item will have id `next`.
    pub fn reset(&mut self, next: Lsn) {
        self.items = VecDeque::new();
        self.bytes = 0;
        self.next = next;
    }

    /// The items from the one holding id `from` on (all of them when
    /// `from` is older than the window, none when it is not yet in it).
    pub fn from(&self, from: Lsn) -> impl Iterator<Item = &LiveItem> {
        let at = self.items.partition_point(|i| i.last < from);
        self.items.range(at..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: u64, size: usize) -> LiveItem {
        LiveItem {
            first: Lsn(id),
            last: Lsn(id),
            payload: vec![0; size].into(),
            frame: vec![1; size].into(),
            gap: false,
        }
    }

    #[test]
    fn bounded_in_bytes_and_positioned_by_id() {
        let per = item(1, 100).cost();
        let mut w = Window::new(Lsn(1), per * 3);
        assert_eq!((w.oldest(), w.next()), (Lsn(1), Lsn(1)));
        for id in 1..=5 {
            w.push(item(id, 100));
        }
        assert_eq!((w.oldest(), w.next()), (Lsn(3), Lsn(6)));
        assert!(w.bytes() <= per * 3);
        let ids: Vec<u64> = w.from(Lsn(4)).map(|i| i.first.0).collect();
        assert_eq!(ids, [4, 5]);
        assert_eq!(w.from(Lsn(1)).count(), 3);
        assert_eq!(w.from(Lsn(6)).count(), 0);
        // A gap item covers a range: positioning inside it finds it.
        w.push(LiveItem {
            first: Lsn(6),
            last: Lsn(9),
            payload: Box::new([]),
            frame: Box::new([]),
            gap: true,
        });
        assert_eq!(w.from(Lsn(8)).next().map(|i| i.first), Some(Lsn(6)));
        assert_eq!(w.next(), Lsn(10));
        // One item larger than the bound is still kept.
        w.push(item(10, per * 5));
        assert_eq!((w.oldest(), w.next()), (Lsn(10), Lsn(11)));
        w.reset(Lsn(50));
        assert_eq!((w.oldest(), w.next(), w.bytes()), (Lsn(50), Lsn(50), 0));
    }
}
