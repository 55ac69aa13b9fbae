//! The read endpoints: `GET /logs`, `/logs/recent`, `/stats`, `/metrics`.
//! Parameters are checked here, on the event loop (a bad one is a 400 that
//! names it and says what is accepted); the work runs as a job on a reader
//! thread.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use spool_core::query::{parse_level_param, parse_limit, Cursor, Filter, DEFAULT_LIMIT};
use spool_proto::http::{decode_component, Request};
use spool_proto::{format_rfc3339_nanos, parse_time_param};

use super::reply::{error, Reply};
use super::Counters;
use crate::metrics::{counter, gauge};
use crate::query::logs::{self, LogsQuery, QueryError};
use crate::query::pool::Job;
use crate::query::ReadSide;

const LOGS_PARAMS: &str = "level, service, since, until, q, qi, limit, cursor";

/// Parses `/logs` parameters into a query, or the 400 naming the bad one.
pub(super) fn logs_query(req: &Request) -> Result<LogsQuery, Reply> {
    logs_query_parts(req, "/logs", LOGS_PARAMS)
}

/// Parses the parameters of `/logs` (and of `endpoint`, which takes the
/// same, listed in `takes`): the filters, `since`, `until`, `limit`,
/// `cursor`.
pub(super) fn logs_query_parts(
    req: &Request,
    endpoint: &str,
    takes: &str,
) -> Result<LogsQuery, Reply> {
    let mut cursor = None;
    let mut limit = DEFAULT_LIMIT as usize;
    let mut since_until = (None, None);
    let mut filter = filter_params(req, endpoint, takes, |key, value| {
        let bad = |what: String| error(400, &format!("{key}: {what}"));
        match key {
            "since" | "until" => {
                let ns = parse_time_param(value).ok_or_else(|| {
                    let plus = plus_hint(value);
                    bad(format!("{value:?} is not a time; give RFC 3339 (2026-11-30T10:00:00Z) or Unix milliseconds{plus}"))
                })?;
                if key == "since" {
                    since_until.0 = Some(ns);
                } else {
                    since_until.1 = Some(ns);
                }
            }
            "limit" => limit = parse_limit(value).map_err(|e| bad(e.to_string()))? as usize,
            "cursor" => {
                cursor = Some(Cursor::decode(value).map_err(|_| {
                    bad(format!("{value:?} is not a cursor this server gave; pass next_cursor from the previous answer, or start without one"))
                })?)
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    (filter.since_ns, filter.until_ns) = since_until;
    Ok(LogsQuery {
        filter,
        cursor,
        limit,
    })
}

/// For a time value that did not parse: when it holds a space, the hint
/// that an unencoded `+` in a URL is one (empty otherwise).
pub(super) fn plus_hint(value: &str) -> &'static str {
    if value.contains(' ') {
        " (a '+' in a URL means a space: write a +01:00 offset as %2B01:00)"
    } else {
        ""
    }
}

/// Parses the filter parameters `/logs` and `/ws` share (`level`,
/// `service`, `q`, `qi`), each at most once; hands every other parameter
/// to `rest`, which takes it (`Ok(true)`), refuses its value (`Err`), or
/// does not know it (`Ok(false)`: a 400 saying `endpoint` takes `takes`).
pub(super) fn filter_params(
    req: &Request,
    endpoint: &str,
    takes: &str,
    mut rest: impl FnMut(&str, &str) -> Result<bool, Reply>,
) -> Result<Filter, Reply> {
    let mut filter = Filter::default();
    let mut seen: Vec<String> = Vec::new();
    let bad = |name: &str, what: String| error(400, &format!("{name}: {what}"));
    for (key, raw) in req.query_pairs_bytes() {
        let value = String::from_utf8_lossy(&raw).into_owned();
        let name = if key == "level>" {
            "level"
        } else {
            key.as_str()
        };
        if seen.iter().any(|k| k == name) {
            return Err(bad(
                name,
                "given twice; give it once (levels and services take a comma list)".into(),
            ));
        }
        seen.push(name.to_owned());
        if let Some(levels) = parse_level_param(&key, &value) {
            filter.levels = levels.map_err(|e| bad("level", e.to_string()))?;
            continue;
        }
        match key.as_str() {
            "service" => filter.services = Some(services_param(req)?),
            "q" | "qi" => {
                if filter.text.is_some() {
                    return Err(bad(
                        &key,
                        "give q (exact) or qi (ignoring ASCII case), not both".into(),
                    ));
                }
                // The needle as the bytes sent (percent escapes decoded,
                // not checked as UTF-8).
                filter.text = Some((raw, key == "qi"));
            }
            other => {
                if !rest(other, &value)? {
                    return Err(error(
                        400,
                        &format!("unknown parameter {other:?}; {endpoint} takes {takes}"),
                    ));
                }
            }
        }
    }
    Ok(filter)
}

/// The `service` parameter: a comma list split before percent-decoding
/// (so `%2C` is a comma inside a name); `service=` alone selects the
/// records that have no service. Names are exact, surrounding spaces
/// trimmed.
fn services_param(req: &Request) -> Result<Vec<String>, Reply> {
    let raw = req
        .query_pairs_raw()
        .into_iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v)
        .unwrap_or_default();
    if raw.is_empty() {
        return Ok(vec![String::new()]);
    }
    raw.split(',')
        .map(|element| {
            let Some(name) = decode_component(element) else {
                return Err(error(
                    400,
                    "service: a name is not UTF-8 once percent-decoded; service names are UTF-8 text",
                ));
            };
            let name = name.trim().to_owned();
            if name.is_empty() {
                Err(error(
                    400,
                    "service: an empty name in the list; give names separated by commas (%2C for a comma inside a name), or service= alone for records without a service",
                ))
            } else {
                Ok(name)
            }
        })
        .collect()
}

/// Parses `/logs/recent` (only `limit`).
pub(super) fn recent_query(req: &Request) -> Result<LogsQuery, Reply> {
    let mut limit = DEFAULT_LIMIT as usize;
    once_each(req)?;
    for (key, value) in req.query_pairs() {
        match key.as_str() {
            "limit" => {
                limit =
                    parse_limit(&value).map_err(|e| error(400, &format!("limit: {e}")))? as usize
            }
            other => {
                return Err(error(
                    400,
                    &format!(
                    "unknown parameter {other:?}; /logs/recent takes limit (use /logs to filter)"
                ),
                ))
            }
        }
    }
    Ok(LogsQuery {
        filter: Filter::default(),
        cursor: None,
        limit,
    })
}

/// A 400 when a parameter is given twice (every endpoint takes each once).
pub(super) fn once_each(req: &Request) -> Result<(), Reply> {
    let pairs = req.query_pairs();
    for (i, (key, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(k, _)| k == key) {
            return Err(error(400, &format!("{key}: given twice; give it once")));
        }
    }
    Ok(())
}

/// The job answering a `/logs` query.
pub(super) fn logs_job(q: LogsQuery) -> Job {
    Box::new(move |rs: &ReadSide| match logs::run(rs, &q) {
        Ok(body) => Reply::json(200, body),
        Err(QueryError::Damaged(what)) => error(500, &what),
        Err(QueryError::Io(what)) => error(500, &format!("reading the log failed: {what}")),
    })
}

/// What `/stats` and `/metrics` read from the log and its indexes.
struct LogFacts {
    stats: spool_core::commit::CommitStats,
    durable: u64,
    segments: usize,
    bytes_on_disk: u64,
    stored: u64,
    record_bytes: u64,
    index_bytes: usize,
    oldest_ns: Option<u64>,
    newest_ns: Option<u64>,
    rebuilt: u64,
    /// Why the indexes could not be brought up to date (damage), if so.
    index_error: Option<String>,
}

fn log_facts(rs: &ReadSide) -> Result<LogFacts, String> {
    let (stats, durable, segments, bytes_on_disk) = rs.handoff.inspect(|gc| {
        (
            gc.stats(),
            gc.durable().0,
            gc.segments().len(),
            gc.segments().iter().map(|s| s.file_bytes).sum(),
        )
    });
    // Monitoring keeps answering when the log is damaged: the catalog as
    // far as it got, and the error.
    let (mut catalog, index_error) = match rs.current_catalog() {
        Ok(c) => (c, None),
        Err(e) => (
            match rs.catalog.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            },
            Some(e.to_string()),
        ),
    };
    let (stored, record_bytes, index_bytes) = catalog.totals();
    let mut oldest: Option<u64> = None;
    let mut newest: Option<u64> = None;
    for index in catalog.snapshot() {
        for b in index.blocks().iter().filter(|b| b.holds_entries()) {
            oldest = Some(oldest.map_or(b.min_timestamp_ns(), |o| o.min(b.min_timestamp_ns())));
            newest = Some(newest.map_or(b.max_timestamp_ns(), |n| n.max(b.max_timestamp_ns())));
        }
    }
    Ok(LogFacts {
        stats,
        durable,
        segments,
        bytes_on_disk,
        stored,
        record_bytes,
        index_bytes,
        oldest_ns: oldest,
        newest_ns: newest,
        rebuilt: catalog.rebuilt,
        index_error,
    })
}

fn json_string_or_null(s: Option<&str>) -> String {
    match s {
        Some(s) => {
            let mut out = Vec::new();
            spool_proto::decode::push_json_string(&mut out, s);
            String::from_utf8(out).unwrap_or_default()
        }
        None => "null".to_owned(),
    }
}

fn time_or_null(ns: Option<u64>) -> String {
    match ns {
        Some(ns) => {
            let mut s = String::from("\"");
            format_rfc3339_nanos(ns, &mut s);
            s.push('"');
            s
        }
        None => "null".to_owned(),
    }
}

/// The job answering `/stats`.
pub(super) fn stats_job(c: Counters) -> Job {
    Box::new(move |rs: &ReadSide| {
        let f = match log_facts(rs) {
            Ok(f) => f,
            Err(e) => return error(500, &e),
        };
        let uptime = c.uptime.as_secs_f64();
        let dropped = f.stats.rejected + c.refused_records;
        let body = format!(
            concat!(
                "{{\"total_processed\":{},\"total_dropped\":{},\"uptime_seconds\":{:.3},",
                "\"avg_throughput\":{:.1},\"logs_in_storage\":{},\"records_per_second_10s\":{:.1},",
                "\"fsyncs\":{},\"records_per_fsync\":{:.2},\"bytes_on_disk\":{},\"record_bytes\":{},\"segments\":{},",
                "\"oldest_record_time\":{},\"newest_record_time\":{},\"last_id\":\"{}\",",
                "\"open_connections\":{},\"subscribers\":{},\"requests\":{},\"queries_served\":{},",
                "\"index_bytes\":{},\"index_bytes_per_record\":{:.2},\"index_error\":{},",
                "\"alert_rules\":{},\"alerts_fired\":{},\"alerts_not_stored\":{},",
                "\"webhook_delivered\":{},\"webhook_failed_attempts\":{},\"webhook_dropped\":{},\"webhook_queued\":{}}}"
            ),
            f.stats.records,
            dropped,
            uptime,
            f.stats.records as f64 / uptime.max(1e-9),
            f.stored,
            c.records_last_10s as f64 / 10.0,
            f.stats.syncs,
            f.stats.records as f64 / f.stats.syncs.max(1) as f64,
            f.bytes_on_disk,
            f.record_bytes,
            f.segments,
            time_or_null(f.oldest_ns),
            time_or_null(f.newest_ns),
            f.durable,
            c.open_connections,
            c.subscribers,
            c.requests,
            rs.queries.load(Ordering::Relaxed),
            f.index_bytes,
            f.index_bytes as f64 / f.stored.max(1) as f64,
            json_string_or_null(f.index_error.as_deref()),
            c.alerts.rules,
            c.alerts.fired,
            c.alerts.not_stored,
            c.alerts.webhook_delivered,
            c.alerts.webhook_failed,
            c.alerts.webhook_dropped,
            c.alerts.webhook_queued,
        );
        Reply::json(200, body.into_bytes())
    })
}

/// The job answering `/metrics` (Prometheus text format).
pub(super) fn metrics_job(c: Counters) -> Job {
    Box::new(move |rs: &ReadSide| {
        let f = match log_facts(rs) {
            Ok(f) => f,
            Err(e) => return error(500, &e),
        };
        let mut out = String::with_capacity(8192);
        counter(
            &mut out,
            "spool_records_total",
            "Records made durable.",
            f.stats.records,
        );
        counter(
            &mut out,
            "spool_records_dropped_total",
            "Records refused: no space for a new segment (507) or the write queue full (503).",
            f.stats.rejected + c.refused_records,
        );
        counter(
            &mut out,
            "spool_fsyncs_total",
            "Appends made durable, one fdatasync each.",
            f.stats.syncs,
        );
        counter(
            &mut out,
            "spool_written_bytes_total",
            "Record frame bytes made durable.",
            f.stats.bytes,
        );
        counter(
            &mut out,
            "spool_segments_created_total",
            "Segment files created.",
            f.stats.segments_created,
        );
        counter(
            &mut out,
            "spool_segments_deleted_total",
            "Segment files deleted by retention.",
            f.stats.segments_deleted,
        );
        counter(
            &mut out,
            "spool_http_requests_total",
            "HTTP requests answered.",
            c.requests,
        );
        counter(
            &mut out,
            "spool_queries_total",
            "Queries answered (/logs, /logs/recent).",
            rs.queries.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "spool_indexes_rebuilt_total",
            "Segment indexes rebuilt from their segment because their file was damaged or stale.",
            f.rebuilt,
        );
        gauge(
            &mut out,
            "spool_connections_open",
            "Open client connections.",
            c.open_connections as f64,
        );
        counter(
            &mut out,
            "spool_alerts_fired_total",
            "Alerts raised by the alert rules.",
            c.alerts.fired,
        );
        counter(
            &mut out,
            "spool_alerts_not_stored_total",
            "Alerts that could not be written to the log (write queue full, disk full, or a failed write).",
            c.alerts.not_stored,
        );
        counter(
            &mut out,
            "spool_alert_webhook_delivered_total",
            "Alerts the webhook receiver accepted (2xx).",
            c.alerts.webhook_delivered,
        );
        counter(
            &mut out,
            "spool_alert_webhook_failed_attempts_total",
            "Webhook attempts that did not deliver (no answer, timeout, or not 2xx).",
            c.alerts.webhook_failed,
        );
        counter(
            &mut out,
            "spool_alert_webhook_dropped_total",
            "Alerts dropped without delivery: the webhook queue was full, or the receiver refused them with a 3xx or 4xx.",
            c.alerts.webhook_dropped,
        );
        gauge(
            &mut out,
            "spool_alert_webhook_queued",
            "Alerts waiting for the webhook, the one in flight included.",
            c.alerts.webhook_queued as f64,
        );
        gauge(
            &mut out,
            "spool_alert_rules",
            "Alert rules in force.",
            c.alerts.rules as f64,
        );
        gauge(
            &mut out,
            "spool_ws_subscribers",
            "WebSocket followers connected (GET /ws).",
            c.subscribers as f64,
        );
        gauge(
            &mut out,
            "spool_disk_bytes",
            "Bytes the segment files take.",
            f.bytes_on_disk as f64,
        );
        gauge(
            &mut out,
            "spool_segments",
            "Segment files.",
            f.segments as f64,
        );
        gauge(
            &mut out,
            "spool_records_stored",
            "Records in the log (not yet deleted by retention).",
            f.stored as f64,
        );
        gauge(
            &mut out,
            "spool_record_bytes",
            "Bytes of the records in the log (frames, without preallocated space).",
            f.record_bytes as f64,
        );
        gauge(
            &mut out,
            "spool_index_bytes",
            "Bytes of segment indexes held in memory.",
            f.index_bytes as f64,
        );
        gauge(
            &mut out,
            "spool_index_ok",
            "1 while the indexes are current with the log; 0 when indexing stopped at damage (see /stats index_error).",
            if f.index_error.is_none() { 1.0 } else { 0.0 },
        );
        gauge(
            &mut out,
            "spool_durable_id",
            "Highest durable record id.",
            f.durable as f64,
        );
        gauge(
            &mut out,
            "spool_uptime_seconds",
            "Seconds since start.",
            c.uptime.as_secs_f64(),
        );
        let m = &rs.metrics;
        m.request_seconds.render(
            &mut out,
            "spool_http_request_duration_seconds",
            "From a request's arrival to its answer being queued (ingest: once durable).",
        );
        m.log.commit_seconds.render(
            &mut out,
            "spool_commit_duration_seconds",
            "One append: pwrite through fdatasync.",
        );
        m.log.commit_records.render(
            &mut out,
            "spool_commit_records",
            "Records made durable by one fdatasync.",
        );
        let _ = write!(out, "");
        Reply::with_type(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            out.into_bytes(),
        )
    })
}
