//! One WebSocket subscriber's place in the log and what it selects.

use spool_core::entry::EntryRef;
use spool_core::query::{Filter, PreparedFilter};
use spool_core::read::Start;
use spool_core::record::Lsn;

use super::catch_up::CatchUp;
use super::window::{LiveItem, Window};

/// Where a subscriber starts (`from=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum From {
    /// Records made durable from now on (the default).
    Now,
    /// The oldest record still in the log.
    Oldest,
    /// The records after this id (resume: no duplicate, no gap).
    After(Lsn),
    /// The first record, in id order, whose own timestamp is at or after
    /// this (ns since the Unix epoch), and every record after it.
    Time(u64),
}

/// Records it selects.
#[derive(Clone, Debug)]
pub struct Selection {
    filter: PreparedFilter,
    /// The filter selects every record: no need to decode.
    all: bool,
    /// For [`From::Time`]: records are skipped until the first whose own
    /// timestamp is at or after this.
    pub seek_ns: Option<u64>,
}

impl Selection {
    /// Records `filter` selects, after `seek_ns` if given.
    pub fn new(filter: Filter, seek_ns: Option<u64>) -> Selection {
        let all = filter == Filter::default();
        Selection {
            filter: filter.prepare(),
            all,
            seek_ns,
        }
    }

    /// Whether the record with this payload is sent: it matches the
    /// filter, or it is an alert. Skipping by time ends at the first
    /// record at or after the time.
    pub fn wants(&mut self, payload: &[u8]) -> bool {
        if self.all && self.seek_ns.is_none() {
            return true;
        }
        let Ok(entry) = EntryRef::decode(payload) else {
            return false;
        };
        if let Some(ns) = self.seek_ns {
            if entry.timestamp_ns < ns {
                return false;
            }
            self.seek_ns = None;
        }
        // Alerts go to every subscriber, whatever it filters.
        self.all || self.filter.matches(&entry) || crate::alerts::record::is_alert(&entry)
    }
}

/// A subscriber. Its cursor `next` is the id of the next record it will
/// be sent (or skip); it moves only as frames are queued on its socket,
/// so a subscriber that stops reading holds its place, not a queue.
pub struct Subscription {
    /// The next id it wants.
    pub next: Lsn,
    /// What it selects (`None` while a catch-up job holds it).
    pub selection: Option<Selection>,
    /// Its own reader, while behind the window and no job has it.
    pub catch_up: Option<Box<CatchUp>>,
    /// A catch-up job is running for it.
    pub job: bool,
    /// Where its first catch-up starts (before it has read anything).
    pub start: Option<Start>,
}

impl Subscription {
    /// A subscriber selecting `selection` whose next wanted id is `next`;
    /// `start` is where its own reader starts if `next` is older than the
    /// window (`Start::After(next - 1)` when `None`).
    pub fn new(next: Lsn, selection: Selection, start: Option<Start>) -> Subscription {
        Subscription {
            next,
            selection: Some(selection),
            catch_up: None,
            job: false,
            start,
        }
    }

    /// Whether its cursor is older than the window: it reads the log itself.
    pub fn is_behind(&self, window: &Window) -> bool {
        self.next < window.oldest()
    }

    /// Whether it waits for the follower to read further.
    pub fn waits_for_follower(&self, window: &Window) -> bool {
        !self.job && self.next >= window.next()
    }

    /// Appends the frames it wants from the window to `out` until `out`
    /// holds `limit` bytes; moves its cursor past every item considered.
    /// Returns whether anything was appended.
    pub fn take_from(&mut self, window: &Window, out: &mut Vec<u8>, limit: usize) -> bool {
        if self.job || self.is_behind(window) {
            return false;
        }
        let Some(selection) = self.selection.as_mut() else {
            return false;
        };
        let before = out.len();
        for item in window.from(self.next) {
            if out.len() >= limit {
                break;
            }
            if wanted(selection, item) {
                out.extend_from_slice(&item.frame);
            }
            self.next = item.last.next();
        }
        out.len() > before
    }
}

fn wanted(selection: &mut Selection, item: &LiveItem) -> bool {
    if item.gap {
        return true;
    }
    !item.frame.is_empty() && selection.wants(&item.payload)
}
