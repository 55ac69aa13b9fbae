//! The application: which handler a request goes to, and what it decides.
//!
//! A handler gets a parsed [`Request`] and a read-only [`Context`] and
//! returns an [`Outcome`]. It never touches a socket, the connection table
//! or the log's writer: only the runtime applies outcomes (writes the
//! reply, submits the records and parks the connection until they are
//! durable). This module never imports `conn` or `runtime`.

mod ingest;
pub mod reply;

use spool_core::time::Now;
use spool_proto::http::{Method, Request, Scheme};

use crate::config::ServeConfig;
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

/// What a handler may read.
pub struct Context<'a> {
    /// The configuration the daemon runs with.
    pub cfg: &'a ServeConfig,
    /// Running, draining or failed.
    pub phase: Phase,
    /// Both clocks, read once this loop turn (the wall clock stamps records
    /// that carry no time of their own).
    pub now: Now,
}

/// What the runtime is to do with a request.
pub enum Outcome {
    /// Write this answer now.
    Reply(Reply),
    /// Submit these encoded records (all or none) to the group commit and
    /// park the connection: answer [`reply::accepted`] once the last one is
    /// durable, or [`reply::refused`] if the submission is refused.
    Append(Vec<Vec<u8>>),
}

/// Routes `req` and runs its handler. Before any path is looked at, the web
/// check refuses requests a web page may have sent without leave (SPEC §3:
/// a foreign `Origin`, a `Host` open to DNS rebinding): 403, or 400 for a
/// malformed `Host` or repeated fields.
pub fn handle(req: &Request, ctx: &Context<'_>) -> Outcome {
    if let Err(refusal) = ctx.cfg.web.check(Scheme::Http, req) {
        return Outcome::Reply(error(refusal.status(), &refusal.message()));
    }
    let get = matches!(req.method, Method::Get | Method::Head);
    let reply = match req.path.as_str() {
        "/ingest" if req.method == Method::Post => {
            if ctx.phase != Phase::Running {
                reply::unavailable(ctx.phase == Phase::Failed)
            } else {
                match ingest::records(req, ctx) {
                    Ok(payloads) => return Outcome::Append(payloads),
                    Err(reply) => reply,
                }
            }
        }
        "/ingest" => not_allowed("POST", req),
        "/healthz" if get => reply::health(),
        "/readyz" if get => reply::ready(ctx.phase == Phase::Failed, ctx.phase == Phase::Draining),
        "/healthz" | "/readyz" => not_allowed("GET, HEAD", req),
        _ => error(
            404,
            &format!("no such endpoint {}; see the API in README", req.path),
        ),
    };
    Outcome::Reply(reply)
}
