//! Applying what the application and the log decide: a request's outcome
//! (answer now, append and park, run a job and park), the answers of
//! finished jobs, and the group commit's events (durable, rejected,
//! failed, deleted, rotated).

use std::collections::VecDeque;

use spool_core::commit::Event;
use spool_core::segment::DeleteReason;
use spool_core::time::Instant;
use spool_proto::http::{Method, Request};

use super::{parked, ParkedJob, Server};
use crate::app::{self, reply, Context, Counters, Outcome};
use crate::clock;
use crate::conn::Conn;
use crate::query::pool::{Answer, JobKind};
use crate::query::ReadSide;

/// Records made durable per second, over the last ten whole seconds.
#[derive(Default)]
pub(super) struct RecentRate {
    /// (second since start, records) for the newest seconds.
    buckets: VecDeque<(u64, u64)>,
}

impl RecentRate {
    pub(super) fn add(&mut self, now: Instant, records: u64) {
        let second = now.as_nanos() / 1_000_000_000;
        match self.buckets.back_mut() {
            Some((s, n)) if *s == second => *n += records,
            _ => self.buckets.push_back((second, records)),
        }
        while self.buckets.len() > 11 {
            self.buckets.pop_front();
        }
    }

    pub(super) fn last_10s(&self, now: Instant) -> u64 {
        let second = now.as_nanos() / 1_000_000_000;
        self.buckets
            .iter()
            .filter(|(s, _)| *s < second && *s + 10 >= second)
            .map(|(_, n)| n)
            .sum()
    }
}

impl Server {
    /// Hands a request to the application and applies the outcome.
    pub(super) fn dispatch(&mut self, idx: usize, req: Request, now: Instant) {
        let ctx = Context {
            cfg: &self.cfg,
            phase: self.phase(),
            // Read now, not at the start of the loop turn: a record's
            // server timestamp and its arrival for the alert windows are
            // the same moment on both clocks.
            now: clock::now(),
            counters: Counters {
                uptime: clock::until(self.started, now),
                open_connections: self.open_conns,
                subscribers: self.live.subscribers(),
                requests: self.requests,
                refused_records: self.refused_records,
                records_last_10s: self.recent.last_10s(now),
                alerts: self.alert_counters(),
            },
            rules_json: &self.alerts.rules_json,
            rules_source: &self.alerts.source,
        };
        let outcome = app::handle(&req, &ctx);
        let both = ctx.now;
        let head_only = req.method == Method::Head;
        let version = req.version;
        let reply = match outcome {
            Outcome::Reply(reply) => reply,
            Outcome::Append(payloads) => {
                match self.log.handoff().submit_quiet(both, payloads.iter()) {
                    Ok((ticket, wake_io)) => {
                        // Woken at the end of the turn, with the rest of it.
                        self.io_kick |= wake_io;
                        self.alerts_submitted(ticket.first, ticket.epoch, both.mono, &payloads);
                        let Some(slot) = self.slot(idx) else {
                            return;
                        };
                        if let Conn::Http(c) = &mut slot.conn {
                            c.park();
                        }
                        let generation = slot.generation;
                        self.parked
                            .park(ticket, idx, generation, version, req.keep_alive, now);
                        return;
                    }
                    Err(e) => {
                        if e == spool_core::commit::SubmitError::Busy {
                            self.refused_records += payloads.len() as u64;
                        }
                        reply::refused(e)
                    }
                }
            }
            Outcome::Job(JobKind::Query, _) if self.answers_waiting() > self.cfg.max_buffered => {
                reply::answers_waiting(self.cfg.max_buffered)
            }
            Outcome::Job(kind, job) => {
                self.next_job += 1;
                let id = self.next_job;
                match self.pool.try_submit(id, kind, job) {
                    Ok(()) => {
                        let Some(slot) = self.slot(idx) else {
                            return;
                        };
                        if let Conn::Http(c) = &mut slot.conn {
                            c.park();
                        }
                        let generation = slot.generation;
                        self.jobs.insert(
                            id,
                            ParkedJob {
                                conn: idx,
                                generation,
                                version,
                                keep_alive: req.keep_alive,
                                head_only,
                                since: now,
                            },
                        );
                        return;
                    }
                    Err(JobKind::Query | JobKind::CatchUp) => reply::too_many_queries(),
                    Err(JobKind::Monitor) => reply::too_many_monitor_requests(),
                    Err(JobKind::Long) => reply::simulation_running(),
                }
            }
            Outcome::SetRules(rules) => self.set_rules(rules),
            Outcome::Upgrade(up) => match self.upgrade(idx, up, now) {
                Ok(()) => return,
                Err(reply) => reply,
            },
        };
        self.requests += 1;
        if let Some(conn) = self.slot(idx).and_then(|s| s.conn.http()) {
            let keep_alive = conn.keep_alive(req.keep_alive && !reply.closes());
            conn.answer(now, keep_alive, |out| {
                reply.write_maybe_head(out, version, keep_alive, head_only)
            });
        }
    }
    /// Bytes of HTTP answers all connections hold unsent (clients reading
    /// slowly). New queries wait while it is over `--max-buffered`.
    /// WebSocket followers are not counted: each is bounded by
    /// `--max-unsent` on its own, and followers that stopped reading must
    /// not shut out queries.
    fn answers_waiting(&self) -> u64 {
        self.slots
            .iter()
            .flatten()
            .filter_map(|s| match &s.conn {
                Conn::Http(c) => Some(c.unsent().len() as u64),
                Conn::Ws(_) => None,
            })
            .sum()
    }

    /// Answers the connections whose jobs finished.
    pub(super) fn on_job_answers(&mut self, now: Instant) {
        let mut answers = Vec::new();
        self.pool.take_answers(&mut answers);
        for (id, answer) in answers {
            let reply = match answer {
                Answer::Reply(reply) => reply,
                Answer::CatchUp(c) => {
                    self.on_catch_up(id, c, now);
                    continue;
                }
            };
            let Some(job) = self.jobs.remove(&id) else {
                continue;
            };
            self.answer_conn(
                job.conn,
                job.generation,
                job.since,
                now,
                job.keep_alive,
                |out, keep_alive| {
                    reply.write_maybe_head(out, job.version, keep_alive, job.head_only)
                },
            );
        }
    }
    /// Answers a parked request on its connection, if that connection is
    /// still the one that sent it, and serves what queued up behind it.
    pub(super) fn answer_parked(&mut self, p: parked::Parked, reply: reply::Reply, now: Instant) {
        self.answer_conn(
            p.conn,
            p.generation,
            p.since,
            now,
            p.keep_alive,
            |out, keep_alive| reply.write(out, p.version, keep_alive),
        );
    }
    pub(super) fn answer_conn(
        &mut self,
        idx: usize,
        generation: u64,
        since: Instant,
        now: Instant,
        keep_alive: bool,
        write: impl FnOnce(&mut Vec<u8>, bool),
    ) {
        self.requests += 1;
        self.pool
            .read_side()
            .metrics
            .request_seconds
            .observe(now.nanos_since(since) as f64 / 1e9);
        let Some(slot) = self.slot(idx) else {
            return;
        };
        if slot.generation != generation {
            return; // the client went away; its records are durable regardless
        }
        let Conn::Http(conn) = &mut slot.conn else {
            return;
        };
        let keep_alive = conn.keep_alive(keep_alive);
        conn.answer(now, keep_alive, |out| write(out, keep_alive));
        // Pipelined requests behind this one can go now.
        self.enqueue(idx);
    }

    /// Applies the group commit's events: answers parked requests, reports
    /// failures and retention deletions.
    pub(super) fn on_log_events(&mut self, now: Instant) {
        let mut events = Vec::new();
        let mut noted = Vec::new();
        // Records `/simulate` submitted are noted before the events that
        // may make them durable (see `alerts::feed`).
        let handoff = self.log.handoff();
        self.pool
            .read_side()
            .alert_feed
            .take_then(&mut noted, || handoff.take_events(&mut events));
        for n in noted {
            self.alerts.engine.noted(n);
        }
        for ev in events {
            match ev {
                Event::Durable(upto) => {
                    self.recent
                        .add(now, upto.0.saturating_sub(self.durable_seen.0));
                    self.durable_seen = upto;
                    self.live.durable_advanced();
                    self.alerts_durable(upto, clock::now());
                    for p in self.parked.durable(upto) {
                        let r = reply::accepted(p.first, p.last);
                        self.answer_parked(p, r, now);
                    }
                }
                Event::Rejected { first, last, epoch } => {
                    self.alerts_rejected(first, last, epoch);
                    for p in self.parked.rejected(first, last, epoch) {
                        self.answer_parked(p, reply::disk_full(), now);
                    }
                }
                Event::Failed { error, .. } => {
                    eprintln!("spool: write or sync failed ({error}); nothing after the last durable record is acknowledged; exiting after answering");
                    self.failed = true;
                    self.alerts_failed();
                    for p in self.parked.take_all() {
                        self.answer_parked(p, reply::unavailable(true), now);
                    }
                    self.start_draining(now);
                }
                Event::Deleted {
                    segment,
                    first,
                    last,
                    file_bytes,
                    reason,
                } => {
                    let ids = if first.0 == 0 {
                        "no records".to_owned()
                    } else {
                        format!("ids {first}..={last}")
                    };
                    let why = match reason {
                        DeleteReason::Size => format!(
                            "all segments took more than --retention-bytes {}",
                            self.cfg.retention_bytes
                        ),
                        DeleteReason::Age => format!(
                            "sealed longer ago than --retention-age {:?} (wall clock)",
                            self.cfg.retention_age.unwrap_or_default()
                        ),
                    };
                    eprintln!(
                        "spool: retention deleted {} ({ids}, {file_bytes} bytes): {why}",
                        crate::storage::files::segment_file_name(segment)
                    );
                }
                Event::Rotated { .. } => {
                    // Finish and persist the sealed segment's index now, off
                    // the loop, rather than at the next query (best effort:
                    // skipped when the pool is full; queries catch up).
                    self.next_job += 1;
                    let _ = self.pool.try_submit(
                        self.next_job,
                        JobKind::Query,
                        Box::new(|rs: &ReadSide| {
                            if let Err(e) = rs.current_catalog() {
                                eprintln!("spool: indexing the log: {e}");
                            }
                            reply::Reply::json(200, Vec::new())
                        }),
                    );
                }
            }
        }
    }
}
