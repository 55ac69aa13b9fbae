//! The application: which handler a request goes to, and what it decides.
//!
//! A handler gets a parsed [`Request`] and a read-only [`Context`] and
//! returns an [`Outcome`]. It never touches a socket, the connection table
//! or the log's writer: only the runtime applies outcomes (writes the
//! reply, submits the records and parks the connection until they are
//! durable). This module never imports `conn` or `runtime`.

mod alerts;
mod ingest;
pub mod live;
mod read;
pub mod reply;
mod simulate;

use spool_core::time::Now;
use spool_proto::http::{Method, Request, Scheme};

use crate::config::ServeConfig;
use crate::query::pool::{Job, JobKind};
use reply::{error, not_allowed, Reply};

/// Where the daemon stands, as handlers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Accepting writes.
    Running,
    /// Shutting down after a signal: answering what is in flight.
    Draining,
    /// A write or sync failed: no more writes; exiting after answering.
    Failed,
}

/// The runtime's counters, as of the request (for `/stats`, `/metrics`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// Since the daemon started.
    pub uptime: std::time::Duration,
    /// Client connections open now.
    pub open_connections: usize,
    /// WebSocket followers connected now.
    pub subscribers: usize,
    /// HTTP requests answered.
    pub requests: u64,
    /// Records in ingest requests refused because the write queue was full.
    pub refused_records: u64,
    /// Records made durable in the last ten whole seconds.
    pub records_last_10s: u64,
    /// Alerts and their delivery.
    pub alerts: AlertCounters,
}

/// Alert counters, as of the request.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlertCounters {
    /// Rules in force.
    pub rules: usize,
    /// Alerts raised since start.
    pub fired: u64,
    /// Alerts that could not be stored (the write queue stayed full, the
    /// disk was full, or a write failed).
    pub not_stored: u64,
    /// Webhook: alerts delivered (a 2xx answer).
    pub webhook_delivered: u64,
    /// Webhook: attempts that failed (no answer, or not 2xx).
    pub webhook_failed: u64,
    /// Webhook: alerts dropped (queue full, or refused with a 4xx).
    pub webhook_dropped: u64,
    /// Webhook: alerts waiting, the one in flight included.
    pub webhook_queued: u64,
}

/// What a handler may read.
pub struct Context<'a> {
    /// The configuration the daemon runs with.
    pub cfg: &'a ServeConfig,
    /// Running, draining or failed.
    pub phase: Phase,
    /// Both clocks, read once this loop turn (the wall clock stamps records
    /// that carry no time of their own).
    pub now: Now,
    /// The runtime's counters.
    pub counters: Counters,
    /// The alert rules in force, as `GET /alerts/rules` answers them.
    pub rules_json: &'a [u8],
    /// Where those rules came from.
    pub rules_source: &'a str,
}

/// What the runtime is to do with a request.
pub enum Outcome {
    /// Write this answer now.
    Reply(Reply),
    /// Submit these encoded records (all or none) to the group commit and
    /// park the connection: answer [`reply::accepted`] once the last one is
    /// durable, or [`reply::refused`] if the submission is refused.
    Append(spool_proto::decode::Payloads),
    /// Run this job off the event loop (a reader thread, or a thread of its
    /// own for a long one) and park the connection until it answers; 503
    /// when too many are queued.
    Job(JobKind, Job),
    /// Answer `101 Switching Protocols` and make the connection a
    /// WebSocket subscriber (`GET /ws`).
    Upgrade(live::WsUpgrade),
    /// Save this rule set (checked as a whole) so a restart keeps it, put
    /// it in force, and answer it; or answer 500 and keep the old set if
    /// it cannot be saved (`PUT /alerts/rules`).
    SetRules(Vec<spool_core::alert::Rule>),
}

/// Routes `req` and runs its handler. Before any path is looked at, the web
/// check refuses requests a web page may have sent without leave (SPEC §3:
/// a foreign `Origin`, a `Host` open to DNS rebinding): 403, or 400 for a
/// malformed `Host` or repeated fields.
pub fn handle(req: &Request, ctx: &Context<'_>) -> Outcome {
    match route(req, ctx) {
        // Bytes after an unframed POST's head cannot be trusted to start a
        // request (see `reply::unframed`).
        Outcome::Reply(r) if r.status() >= 400 && reply::unframed(req) => {
            Outcome::Reply(r.closing())
        }
        outcome => outcome,
    }
}

fn route(req: &Request, ctx: &Context<'_>) -> Outcome {
    if let Err(refusal) = ctx.cfg.web.check(Scheme::Http, req) {
        return Outcome::Reply(error(refusal.status(), &refusal.message()));
    }
    let get = matches!(req.method, Method::Get | Method::Head);
    let reply = match req.path.as_str() {
        "/ingest" if req.method == Method::Post => {
            if let Some(reply) = reply::length_required(req) {
                reply
            } else if ctx.phase != Phase::Running {
                reply::unavailable(ctx.phase == Phase::Failed)
            } else {
                match ingest::records(req, ctx) {
                    Ok(payloads) => return Outcome::Append(payloads),
                    Err(reply) => reply,
                }
            }
        }
        "/ingest" => not_allowed("POST", req),
        "/ws" if req.method == Method::Get => {
            if ctx.phase != Phase::Running {
                reply::unavailable(ctx.phase == Phase::Failed)
            } else {
                match live::ws_request(req) {
                    Ok(up) => return Outcome::Upgrade(up),
                    Err(reply) => reply,
                }
            }
        }
        "/ws" => not_allowed("GET", req),
        "/" if get => reply::dashboard(),
        "/" => not_allowed("GET, HEAD", req),
        "/healthz" if get => reply::health(),
        "/readyz" if get => reply::ready(ctx.phase == Phase::Failed, ctx.phase == Phase::Draining),
        "/healthz" | "/readyz" => not_allowed("GET, HEAD", req),
        "/logs" if get => match read::logs_query(req) {
            Ok(q) => return Outcome::Job(JobKind::Query, read::logs_job(q)),
            Err(reply) => reply,
        },
        "/logs/recent" if get => match read::recent_query(req) {
            Ok(q) => return Outcome::Job(JobKind::Query, read::logs_job(q)),
            Err(reply) => reply,
        },
        "/stats" if get => return Outcome::Job(JobKind::Monitor, read::stats_job(ctx.counters)),
        "/metrics" if get => {
            return Outcome::Job(JobKind::Monitor, read::metrics_job(ctx.counters))
        }
        "/logs" | "/logs/recent" | "/stats" | "/metrics" => not_allowed("GET, HEAD", req),
        "/alerts" if get => match alerts::alerts_query(req) {
            Ok(q) => return Outcome::Job(JobKind::Query, alerts::alerts_job(q)),
            Err(reply) => reply,
        },
        "/alerts" => not_allowed("GET, HEAD", req),
        "/alerts/rules" if get => alerts::get_rules(req, ctx.rules_json, ctx.rules_source),
        "/alerts/rules" if req.method == Method::Put => {
            if let Some(reply) = reply::length_required(req) {
                reply
            } else if ctx.phase != Phase::Running {
                reply::unavailable(ctx.phase == Phase::Failed)
            } else {
                match alerts::put_rules(req) {
                    Ok(rules) => return Outcome::SetRules(rules),
                    Err(reply) => reply,
                }
            }
        }
        "/alerts/rules" => not_allowed("GET, HEAD, PUT", req),
        "/simulate" if req.method == Method::Post => {
            if ctx.phase != Phase::Running {
                reply::unavailable(ctx.phase == Phase::Failed)
            } else {
                match simulate::parse(req) {
                    Ok((count, seed)) => {
                        return Outcome::Job(JobKind::Long, simulate::job(count, seed))
                    }
                    Err(reply) => reply,
                }
            }
        }
        "/simulate" => not_allowed("POST", req),
        _ => error(
            404,
            &format!("no such endpoint {}; see the API in README", req.path),
        ),
    };
    Outcome::Reply(reply)
}
