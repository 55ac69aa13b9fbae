//! Records submitted off the event loop (`POST /simulate` runs on a
//! thread of its own) reach the alert windows too.
//!
//! The submitting thread matches its records against a copy of the rules
//! ([`Selector`]) and submits them while holding the feed's lock, noting
//! which rules select which ids. The loop holds the same lock while it
//! takes these notes and then the group commit's events: so a `Durable`
//! event the loop sees never covers a record it has not been told about.

use std::sync::{Arc, Mutex, MutexGuard};

use spool_core::alert::Selector;
use spool_core::commit::SubmitError;
use spool_core::entry::{EntryRef, Level};
use spool_core::handoff::{Handoff, Ticket};
use spool_core::record::Lsn;
use spool_core::time::{Instant, Now};

use super::record::is_alert;

/// Records of one submission that some rule selects.
pub struct Noted {
    /// The submission's first id and id epoch.
    pub first: Lsn,
    /// See [`Ticket::epoch`].
    pub epoch: u64,
    /// When it was submitted (the daemon's monotonic clock).
    pub at: Instant,
    /// The rule set the selections refer to.
    pub generation: u64,
    /// (offset from `first`, indexes of the rules that select it).
    pub selected: Vec<(u32, Vec<u16>)>,
}

#[derive(Default)]
struct State {
    rules: Option<(u64, Arc<Selector>)>,
    noted: Vec<Noted>,
}

/// See the module docs.
#[derive(Default)]
pub struct Feed {
    state: Mutex<State>,
}

impl Feed {
    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            // A panicking holder left only notes: keep them.
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The rule set in force is `selector`, number `generation`.
    pub fn set_rules(&self, generation: u64, selector: Selector) {
        self.lock().rules = Some((generation, Arc::new(selector)));
    }

    /// The rule set in force, to match records against before
    /// [`Feed::submit`].
    pub fn rules(&self) -> Option<(u64, Arc<Selector>)> {
        self.lock().rules.clone()
    }

    /// Submits `payloads` to the group commit (not waiting: `Busy` when the
    /// queue is full) and notes the records the rules of `generation`
    /// select, under the feed's lock.
    pub fn submit<'p, I>(
        &self,
        handoff: &Handoff,
        now: Now,
        payloads: I,
        rules: Option<&(u64, Arc<Selector>)>,
    ) -> Result<Ticket, SubmitError>
    where
        I: IntoIterator<Item = &'p [u8]>,
        I::IntoIter: Clone,
    {
        let payloads = payloads.into_iter();
        let selected = match rules {
            Some((_, selector)) => select(selector, payloads.clone()),
            None => Vec::new(),
        };
        let mut state = self.lock();
        let ticket = handoff.submit(now, payloads)?;
        if let (Some((generation, _)), false) = (rules, selected.is_empty()) {
            state.noted.push(Noted {
                first: ticket.first,
                epoch: ticket.epoch,
                at: now.mono,
                generation: *generation,
                selected,
            });
        }
        Ok(ticket)
    }

    /// Takes the notes and, under the same lock, runs `then` (which takes
    /// the group commit's events).
    pub fn take_then<R>(&self, notes: &mut Vec<Noted>, then: impl FnOnce() -> R) -> R {
        let mut state = self.lock();
        notes.append(&mut state.noted);
        then()
    }
}

/// The records (by offset) some rule selects, and which rules: alert
/// records and payloads that are not entries are selected by none.
pub(super) fn select<'p>(
    selector: &Selector,
    payloads: impl IntoIterator<Item = &'p [u8]>,
) -> Vec<(u32, Vec<u16>)> {
    let Some(min_level) = selector.min_level() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, payload) in payloads.into_iter().enumerate() {
        match EntryRef::peek_fields(payload).and_then(|(_, l, _)| Level::from_u8(l)) {
            Some(level) if level >= min_level => {}
            _ => continue,
        }
        let Ok(entry) = EntryRef::decode(payload) else {
            continue;
        };
        if is_alert(&entry) {
            continue;
        }
        let mut rules = Vec::new();
        selector.select(&entry, &mut rules);
        if !rules.is_empty() {
            out.push((i as u32, rules));
        }
    }
    out
}
