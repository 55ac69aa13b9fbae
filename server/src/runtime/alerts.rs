//! Alerts in the event loop: records are matched against the rules when
//! submitted and counted when durable (`alerts::engine`); a fired alert
//! is appended to the log as a record of service `spool`; once that
//! record is durable it is written to stderr and queued for the webhook.
//! Followers get it by reading the log, as they get every record.
//!
//! An alert that cannot be stored at once (the write queue is full) waits
//! in a bounded queue and is submitted again at the next durable advance;
//! refused for lack of disk space, it waits the same way. After a failed
//! write nothing is stored: start-up's rebuild raises the alerts whose
//! records were durable (`alerts::restore`).

use std::collections::VecDeque;

use spool_core::alert::{Fired, Rule};
use spool_core::commit::SubmitError;
use spool_core::entry::EntryRef;
use spool_core::record::Lsn;
use spool_core::time::{Instant, Now};

use super::Server;
use crate::alerts::checkpoint::{self, Saved};
use crate::alerts::engine::{alert_clock, Engine};
use crate::alerts::record::{alert_entry, alert_json, alert_line};
use crate::alerts::restore::Restored;
use crate::alerts::rules::{self, Source};
use crate::app::reply::{self, Reply};
use crate::app::AlertCounters;

/// Most alerts waiting to be stored (the write queue was full).
const MAX_WAITING: usize = 1024;
/// Windows that changed are saved at most this often.
const CHECKPOINT_EVERY_NS: u64 = 1_000_000_000;

/// The runtime's alert state.
pub(super) struct AlertState {
    pub(super) engine: Engine,
    /// The rules in force as `GET /alerts/rules` answers them.
    pub(super) rules_json: Vec<u8>,
    pub(super) source: String,
    /// Alert records submitted, not yet durable: (id, epoch, payload).
    stored: VecDeque<(Lsn, u64, Vec<u8>)>,
    /// Alert payloads to submit again.
    waiting: VecDeque<Vec<u8>>,
    pub(super) counters: AlertCounters,
    pub(super) webhook: Option<super::webhook::WebhookLink>,
    /// When each rule set by `PUT` was put in force (saved with the rules).
    since: rules::Since,
    /// When the windows were last saved (`alerts::checkpoint`).
    saved_at: Option<Instant>,
    /// Writes them, off the loop (`None` once shut down).
    writer: Option<checkpoint::Writer>,
}

impl AlertState {
    pub(super) fn new(
        engine: Engine,
        source: &Source,
        since: rules::Since,
        webhook: Option<super::webhook::WebhookLink>,
        writer: checkpoint::Writer,
    ) -> AlertState {
        let rules: Vec<Rule> = engine.rules().cloned().collect();
        AlertState {
            rules_json: rules::to_json(&rules),
            counters: AlertCounters {
                rules: rules.len(),
                ..AlertCounters::default()
            },
            engine,
            source: source.to_string(),
            stored: VecDeque::new(),
            waiting: VecDeque::new(),
            webhook,
            since,
            saved_at: None,
            writer: Some(writer),
        }
    }
}

/// The stored alert for `rule` firing with `fired`, as a payload.
fn payload(rule: &Rule, fired: &Fired, now: Now, at_start: bool) -> Option<Vec<u8>> {
    let wall = now.wall.0;
    let clock_now = alert_clock(now.mono);
    let first_at = wall.saturating_sub(clock_now.nanos_since(fired.first_at));
    let last_at = wall.saturating_sub(clock_now.nanos_since(fired.at));
    alert_entry(rule, fired, (first_at, last_at), wall, at_start)
        .encode()
        .ok()
}

impl Server {
    /// Records `first..` of epoch `epoch` were submitted at `at`.
    pub(super) fn alerts_submitted(
        &mut self,
        first: Lsn,
        epoch: u64,
        at: Instant,
        payloads: &spool_proto::decode::Payloads,
    ) {
        self.alerts.engine.submitted(first, epoch, at, payloads);
    }

    /// Everything up to `upto` is durable: announce the alerts stored,
    /// count the records, store the alerts they fire.
    pub(super) fn alerts_durable(&mut self, upto: Lsn, now: Now) {
        while self
            .alerts
            .stored
            .front()
            .is_some_and(|(id, _, _)| *id <= upto)
        {
            let Some((id, _, payload)) = self.alerts.stored.pop_front() else {
                break;
            };
            // No longer "fired, not stored" in the next checkpoint.
            self.alerts.engine.mark_dirty();
            self.announce(id, &payload, now);
        }
        let mut fired = Vec::new();
        self.alerts
            .engine
            .durable(upto, |rule, f| fired.extend(payload(rule, &f, now, false)));
        self.alerts.counters.fired += fired.len() as u64;
        // Those that waited first, in the order they fired.
        let waiting: Vec<Vec<u8>> = self.alerts.waiting.drain(..).collect();
        for p in waiting.into_iter().chain(fired) {
            self.store_alert(p, now);
        }
    }

    /// Alerts found at start-up (their records durable before the stop,
    /// the alert never stored).
    pub(super) fn raise_missed(&mut self, restored: &Restored, now: Now) {
        for p in &restored.unstored {
            self.alerts.counters.fired += 1;
            self.store_alert(p.clone(), now);
        }
        for (index, f) in &restored.missed {
            let Some(rule) = self.alerts.engine.rule(*index) else {
                continue;
            };
            if let Some(p) = payload(rule, f, now, true) {
                self.alerts.counters.fired += 1;
                self.store_alert(p, now);
            }
        }
    }

    /// Records `first..=last` of epoch `epoch` were refused (disk full).
    pub(super) fn alerts_rejected(&mut self, first: Lsn, last: Lsn, epoch: u64) {
        self.alerts.engine.rejected(first, last, epoch);
        let mut keep = VecDeque::new();
        for (id, e, p) in self.alerts.stored.drain(..) {
            if e == epoch && id >= first && id <= last {
                self.alerts.waiting.push_back(p);
            } else {
                keep.push_back((id, e, p));
            }
        }
        self.alerts.stored = keep;
        self.bound_waiting();
    }

    /// A write failed: nothing more is stored. The alerts not stored stay
    /// in the shutdown checkpoint, which the next start stores.
    pub(super) fn alerts_failed(&mut self) {
        self.alerts.engine.failed();
        let lost = self.alerts.stored.len() + self.alerts.waiting.len();
        if lost > 0 {
            eprintln!("spool: {lost} alerts were not stored (the write failed); they are kept in {} for the next start to store", crate::alerts::checkpoint::FILE);
        }
        self.alerts.counters.not_stored += lost as u64;
    }

    fn store_alert(&mut self, p: Vec<u8>, now: Now) {
        match self.log.handoff().submit(now, [p.as_slice()]) {
            Ok(t) => self.alerts.stored.push_back((t.first, t.epoch, p)),
            Err(SubmitError::Busy) => {
                self.alerts.waiting.push_back(p);
                self.bound_waiting();
            }
            Err(e) => {
                self.alerts.counters.not_stored += 1;
                if let Ok(entry) = EntryRef::decode(&p) {
                    eprintln!("spool: {} NOT STORED: {e}", alert_line(Lsn(0), &entry));
                }
            }
        }
    }

    fn bound_waiting(&mut self) {
        while self.alerts.waiting.len() > MAX_WAITING {
            self.alerts.waiting.pop_front();
            self.alerts.counters.not_stored += 1;
            eprintln!("spool: an alert was dropped unstored: {MAX_WAITING} alerts already wait for the write queue");
        }
    }

    /// Alert record `id` is durable: one line on stderr, and the webhook.
    fn announce(&mut self, id: Lsn, payload: &[u8], now: Now) {
        let Ok(entry) = EntryRef::decode(payload) else {
            return;
        };
        let line = alert_line(id, &entry);
        eprintln!("spool: {line}");
        if let Some(link) = &mut self.alerts.webhook {
            let mut json = Vec::new();
            if alert_json(id, &entry, &mut json) {
                link.enqueue(json, line, now.mono);
            }
        }
    }

    /// `PUT /alerts/rules`: saved first (so a restart keeps what was
    /// answered), then in force.
    pub(super) fn set_rules(&mut self, rules: Vec<Rule>) -> Reply {
        // A rule unchanged in every field keeps its window, and so the
        // time it was put in force; any other is in force from now.
        let wall = crate::clock::wall().0;
        let mut since = rules::Since::new();
        for r in &rules {
            if self.alerts.engine.rules().any(|old| old == r) {
                if let Some(&t) = self.alerts.since.get(&r.name) {
                    since.insert(r.name.clone(), t);
                }
            } else {
                since.insert(r.name.clone(), wall);
            }
        }
        if let Err(e) = rules::save(&self.cfg.data_dir, &rules, &since) {
            return reply::error(
                500,
                &format!(
                    "could not save the rules in {}: {e}; the rules in force are unchanged",
                    self.cfg.data_dir.join(rules::SAVED_RULES).display()
                ),
            );
        }
        if let Err(e) = self.alerts.engine.replace(rules.clone()) {
            // Checked by the handler already; kept for the message.
            return reply::error(400, &e.to_string());
        }
        let (generation, selector) = self.alerts.engine.selector();
        self.pool
            .read_side()
            .alert_feed
            .set_rules(generation, selector.clone());
        self.alerts.rules_json = rules::to_json(&rules);
        // The new windows saved at once: a crash right after this answer
        // must not bring back the old rules' windows.
        let now = crate::clock::now();
        let saved = self.alerts_state(now);
        if let Some(w) = &self.alerts.writer {
            if let Err(e) = w.write_now(&saved) {
                eprintln!(
                    "spool: could not save the alert windows in {}: {e}",
                    checkpoint::FILE
                );
            }
        }
        self.alerts.saved_at = Some(now.mono);
        self.alerts.since = since;
        self.alerts.source = Source::Saved(self.cfg.data_dir.join(rules::SAVED_RULES)).to_string();
        self.alerts.counters.rules = rules.len();
        eprintln!(
            "spool: alert rules replaced by PUT /alerts/rules: {} rules",
            rules.len()
        );
        let mut body = b"{\n  \"saved\": true,".to_vec();
        let json = &self.alerts.rules_json;
        body.extend_from_slice(json.get(1..).unwrap_or_default());
        Reply::json(200, body)
    }

    /// Saves the windows (`alerts::checkpoint`, written off the loop) when
    /// they changed and a second has passed since the last save, or at
    /// once with `last` (at shutdown: synced, and waited for).
    pub(super) fn alerts_checkpoint(&mut self, now: Now, last: bool) {
        if self.alerts.writer.is_none()
            || !last
                && (!self.alerts.engine.dirty()
                    || self
                        .alerts
                        .saved_at
                        .is_some_and(|t| now.mono.nanos_since(t) < CHECKPOINT_EVERY_NS))
        {
            return;
        }
        self.alerts.saved_at = Some(now.mono);
        let saved = self.alerts_state(now);
        if last {
            if let Some(w) = self.alerts.writer.take() {
                w.finish(saved);
            }
        } else if let Some(w) = &self.alerts.writer {
            w.write(saved);
        }
    }

    /// The state to save as of `now` (clears the engine's dirty mark).
    fn alerts_state(&mut self, now: Now) -> Saved {
        let unstored = self
            .alerts
            .stored
            .iter()
            .map(|(_, _, p)| p.clone())
            .chain(self.alerts.waiting.iter().cloned())
            .collect();
        Saved {
            written_ns: now.wall.0,
            through: self.alerts.engine.through(),
            submitted: self.alerts.engine.submitted_through(),
            windows: self.alerts.engine.saved(now),
            unstored,
            pending: self.alerts.engine.saved_pending(now),
        }
    }

    /// When the loop must save the windows next, if they changed.
    pub(super) fn alerts_checkpoint_due(&self) -> Option<Instant> {
        if !self.alerts.engine.dirty() {
            return None;
        }
        Some(
            self.alerts
                .saved_at
                .map_or(Instant::from_nanos(0), |t| t.add_nanos(CHECKPOINT_EVERY_NS)),
        )
    }

    /// The counters `/stats` and `/metrics` report.
    pub(super) fn alert_counters(&self) -> AlertCounters {
        let mut c = self.alerts.counters;
        if let Some(link) = &self.alerts.webhook {
            link.fill(&mut c);
        }
        c
    }
}
