//! Requests waiting for the log: each is answered once the `Durable` event
//! covers its last record, or refused by the event that says it never will
//! be written.

use std::collections::BTreeMap;

use spool_core::handoff::Ticket;
use spool_core::record::Lsn;
use spool_core::time::Instant;
use spool_proto::http::Version;

/// One parked request.
pub(super) struct Parked {
    /// The connection slot that sent it.
    pub(super) conn: usize,
    /// That slot's generation then (a reused slot is another client).
    pub(super) generation: u64,
    /// The id epoch its records were submitted in (see `Event::Rejected`).
    pub(super) epoch: u64,
    /// Its first and last record ids.
    pub(super) first: Lsn,
    /// See `first`.
    pub(super) last: Lsn,
    /// How to answer.
    pub(super) version: Version,
    /// Whether the client asked to keep the connection.
    pub(super) keep_alive: bool,
    /// When the request was handed to the application.
    pub(super) since: Instant,
}

/// Parked requests by their last id.
#[derive(Default)]
pub(super) struct ParkedRequests {
    by_last: BTreeMap<Lsn, Vec<Parked>>,
}

impl ParkedRequests {
    /// Parks the request that was given `ticket`.
    pub(super) fn park(
        &mut self,
        ticket: Ticket,
        conn: usize,
        generation: u64,
        version: Version,
        keep_alive: bool,
        since: Instant,
    ) {
        self.by_last.entry(ticket.last).or_default().push(Parked {
            conn,
            generation,
            epoch: ticket.epoch,
            first: ticket.first,
            last: ticket.last,
            version,
            keep_alive,
            since,
        });
    }

    /// Whether none waits.
    pub(super) fn is_empty(&self) -> bool {
        self.by_last.is_empty()
    }

    /// Removes and returns every request whose records are all at or
    /// below `upto` (durable now).
    pub(super) fn durable(&mut self, upto: Lsn) -> Vec<Parked> {
        let rest = self.by_last.split_off(&upto.next());
        let done = std::mem::replace(&mut self.by_last, rest);
        done.into_values().flatten().collect()
    }

    /// Removes and returns the requests of id epoch `epoch` with records in
    /// `first..=last` (rejected: never written). Later requests that reuse
    /// those ids in a newer epoch stay.
    pub(super) fn rejected(&mut self, first: Lsn, last: Lsn, epoch: u64) -> Vec<Parked> {
        let keys: Vec<Lsn> = self.by_last.range(first..).map(|(k, _)| *k).collect();
        let mut hit = Vec::new();
        for key in keys {
            let Some(ps) = self.by_last.remove(&key) else {
                continue;
            };
            let (h, keep): (Vec<Parked>, Vec<Parked>) = ps
                .into_iter()
                .partition(|p| p.epoch == epoch && p.first <= last);
            if !keep.is_empty() {
                self.by_last.insert(key, keep);
            }
            hit.extend(h);
        }
        hit
    }

    /// Removes and returns all of them (after a write failure).
    pub(super) fn take_all(&mut self) -> Vec<Parked> {
        std::mem::take(&mut self.by_last)
            .into_values()
            .flatten()
            .collect()
    }
}
