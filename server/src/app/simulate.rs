//! `POST /simulate?count=N`: realistic records through the same durable
//! path as `/ingest`, answered once all are durable, with the rate.
//!
//! Records: eight services, levels weighted toward INFO (TRACE 2%, DEBUG
//! 10%, INFO 70%, WARN 12%, ERROR 5%, CRITICAL 1%), messages with request
//! ids, users and durations, and metadata on about a third of them. The
//! generator is a seeded xorshift, so a run is reproducible from its seed.

use std::time::Instant;

use spool_core::entry::{Entry, Level};
use spool_proto::http::Request;

use spool_core::commit::SubmitError;
use spool_core::handoff::AppendError;
use spool_core::record::Lsn;

use super::reply::{disk_full, error, unavailable, Reply};
use crate::clock;
use crate::query::pool::Job;
use crate::query::ReadSide;

/// Default and largest `count`.
pub(super) const DEFAULT_COUNT: u64 = 10_000;
/// See [`DEFAULT_COUNT`].
pub(super) const MAX_COUNT: u64 = 10_000_000;
/// Records per submission.
const BATCH: usize = 1_000;

const SERVICES: [&str; 8] = [
    "api", "auth", "billing", "search", "worker", "gateway", "db", "cache",
];
const INFO: [&str; 6] = [
    "request completed",
    "user logged in",
    "cache refreshed",
    "job finished",
    "payment captured",
    "connection opened",
];
const TROUBLE: [&str; 5] = [
    "slow query",
    "retrying upstream call",
    "payment declined",
    "timeout talking to upstream",
    "disk nearly full",
];

/// The parsed `count` (and optional `seed`), or the 400 naming the problem.
pub(super) fn parse(req: &Request) -> Result<(u64, u64), Reply> {
    let mut count = DEFAULT_COUNT;
    let mut seed = 0x5eed;
    super::read::once_each(req)?;
    for (key, value) in req.query_pairs() {
        match key.as_str() {
            "count" => {
                count = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=MAX_COUNT).contains(n))
                    .ok_or_else(|| {
                        error(400, &format!("count: {value:?} is not a number from 1 to {MAX_COUNT}"))
                    })?
            }
            "seed" => {
                seed = value
                    .parse()
                    .map_err(|_| error(400, &format!("seed: {value:?} is not a number")))?
            }
            other => {
                return Err(error(
                    400,
                    &format!("unknown parameter {other:?}; /simulate takes count (1 to {MAX_COUNT}) and seed"),
                ))
            }
        }
    }
    Ok((count, seed))
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn level(r: u64) -> Level {
    match r % 100 {
        0..=1 => Level::Trace,
        2..=11 => Level::Debug,
        12..=81 => Level::Info,
        82..=93 => Level::Warn,
        94..=98 => Level::Error,
        _ => Level::Critical,
    }
}

/// One generated record, encoded.
fn record(rng: &mut Rng, now_ns: u64) -> Option<Vec<u8>> {
    let level = level(rng.next());
    let service = SERVICES[rng.below(SERVICES.len() as u64) as usize];
    let request = rng.next() & 0xffff_ffff;
    let ms = rng.below(2_000);
    let text = if level >= Level::Warn {
        TROUBLE[rng.below(TROUBLE.len() as u64) as usize]
    } else {
        INFO[rng.below(INFO.len() as u64) as usize]
    };
    let message = format!(
        "{text} request_id={request:08x} user={} duration_ms={ms}",
        rng.below(5_000)
    );
    let metadata = if rng.below(3) == 0 {
        format!(
            "{{\"region\":\"{}\",\"status\":{},\"bytes\":{}}}",
            ["eu-west-1", "us-east-1", "ap-south-1"][rng.below(3) as usize],
            [200, 201, 204, 400, 404, 500][rng.below(6) as usize],
            rng.below(1 << 20)
        )
    } else {
        String::new()
    };
    Entry {
        timestamp_ns: now_ns,
        level,
        service: service.to_owned(),
        message,
        metadata,
    }
    .encode()
    .ok()
}

/// The job: generates and appends `count` records, waits until all are
/// durable, answers with ids and the rate.
pub(super) fn job(count: u64, seed: u64) -> Job {
    Box::new(move |rs: &ReadSide| {
        let mut rng = Rng(seed.max(1));
        let started = Instant::now();
        let mut first = None;
        let mut last = None;
        let mut left = count;
        let mut batch: Vec<Vec<u8>> = Vec::with_capacity(BATCH);
        while left > 0 {
            batch.clear();
            let now = clock::now();
            for _ in 0..left.min(BATCH as u64) {
                match record(&mut rng, now.wall.0) {
                    Some(r) => batch.push(r),
                    None => return error(500, "a generated record could not be encoded"),
                }
            }
            // Through the alert feed, so the rules count these records as
            // they count ingested ones; while the write queue is full, wait
            // for the previous batch to be durable (or a moment) and retry.
            let rules = rs.alert_feed.rules();
            loop {
                match rs.alert_feed.submit(
                    &rs.handoff,
                    now,
                    batch.iter().map(Vec::as_slice),
                    rules.as_ref(),
                ) {
                    Ok(ticket) => {
                        first.get_or_insert(ticket.first);
                        last = Some(ticket);
                        break;
                    }
                    Err(SubmitError::Busy) => match last {
                        Some(t) if t.last > rs.handoff.durable() => {
                            if let Err(e) = rs.handoff.wait_durable(t) {
                                return refused_midway(e, first, count - left);
                            }
                        }
                        _ => std::thread::sleep(std::time::Duration::from_millis(1)),
                    },
                    Err(e) => return refused_midway(AppendError::Submit(e), first, count - left),
                }
            }
            left -= batch.len() as u64;
        }
        let (Some(first), Some(ticket)) = (first, last) else {
            return error(500, "nothing was generated");
        };
        if let Err(e) = rs.handoff.wait_durable(ticket) {
            return refused_midway(e, Some(first), count);
        }
        let seconds = started.elapsed().as_secs_f64();
        Reply::json(
            200,
            format!(
                "{{\"status\":\"accepted\",\"count\":{count},\"first_id\":\"{first}\",\"last_id\":\"{}\",\"seconds\":{seconds:.3},\"records_per_second\":{:.0}}}",
                ticket.last,
                count as f64 / seconds.max(1e-9)
            )
            .into_bytes(),
        )
    })
}

/// The answer when the log stops taking the generated records: which
/// status, and how many were submitted before (ids from `first`).
fn refused_midway(e: AppendError, first: Option<Lsn>, submitted: u64) -> Reply {
    let mut reply = match e {
        AppendError::Submit(SubmitError::DiskFull) | AppendError::DiskFull => disk_full(),
        AppendError::Closed => unavailable(false),
        _ => unavailable(true),
    };
    if let Some(first) = first {
        reply = super::reply::with_note(
            reply,
            &format!("{submitted} records from id {first} were submitted before; each is in the log only if durable before this"),
        );
    }
    reply
}
