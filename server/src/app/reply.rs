//! Answers: [`Reply`], the JSON each status carries, and how a reply is
//! written. Every error body is `{"error": "...", "status": N}` with a
//! sentence a person can act on.

use spool_core::commit::SubmitError;
use spool_core::record::Lsn;
use spool_proto::http::{
    json_error, write_head, write_json, write_response, Method, Request, Version,
};

/// An answer ready to be written.
pub struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    close: bool,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: Vec<u8>) -> Reply {
        Reply::with_type(status, "application/json", body)
    }

    /// An answer of another content type.
    pub fn with_type(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type,
            body,
            headers: Vec::new(),
            close: false,
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The same answer, closing the connection after it.
    pub fn closing(mut self) -> Reply {
        self.close = true;
        self
    }

    /// Whether the connection must close after this answer, whatever the
    /// request asked (the bytes after it cannot be trusted to start a
    /// request).
    pub fn closes(&self) -> bool {
        self.close
    }

    /// Appends the full response.
    pub fn write(&self, out: &mut Vec<u8>, version: Version, keep_alive: bool) {
        self.write_maybe_head(out, version, keep_alive, false);
    }

    /// Appends the response; for `HEAD`, the head alone.
    pub fn write_maybe_head(
        &self,
        out: &mut Vec<u8>,
        version: Version,
        keep_alive: bool,
        head_only: bool,
    ) {
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(self.headers.len() + 1);
        if head_only || self.content_type != "application/json" {
            headers.push(("Content-Type", self.content_type));
        }
        headers.extend(self.headers.iter().map(|(k, v)| (*k, v.as_str())));
        if head_only {
            write_head(
                out,
                version,
                self.status,
                &headers,
                Some(self.body.len() as u64),
                keep_alive,
            );
        } else if self.content_type == "application/json" {
            write_json(out, version, self.status, &self.body, keep_alive, &headers);
        } else {
            write_response(out, version, self.status, &headers, &self.body, keep_alive);
        }
    }
}

/// An error answer.
pub fn error(status: u16, message: &str) -> Reply {
    Reply::json(status, json_error(status, message))
}

/// 503 when [`crate::query::pool::MAX_MONITOR_JOBS`] `/stats` and
/// `/metrics` requests are queued or running.
pub fn too_many_monitor_requests() -> Reply {
    with_header(
        error(
            503,
            "too many /stats and /metrics requests at once; retry after the delay",
        ),
        "Retry-After",
        "1",
    )
}

/// 503 when a `/simulate` is already running.
pub fn simulation_running() -> Reply {
    with_header(
        error(
            503,
            "a /simulate is already running (one at a time); retry when it finishes",
        ),
        "Retry-After",
        "1",
    )
}

/// 503 for a query while the answers waiting to be read by clients
/// already hold `limit` bytes (`--max-buffered`).
pub fn answers_waiting(limit: u64) -> Reply {
    with_header(
        error(
            503,
            &format!("answers waiting to be read by clients hold more than {limit} bytes (--max-buffered); retry after the delay"),
        ),
        "Retry-After",
        "1",
    )
}

/// 503 when `--max-queries` are queued or running.
pub fn too_many_queries() -> Reply {
    with_header(
        error(
            503,
            "too many queries queued or running (--max-queries); retry after the delay",
        ),
        "Retry-After",
        "1",
    )
}

pub(crate) fn with_header(mut r: Reply, name: &'static str, value: &str) -> Reply {
    r.headers.push((name, value.to_owned()));
    r
}

/// 411 for a request that needs a body but says neither how long it is
/// (`Content-Length`) nor that it is chunked: by RFC 9112 §6.3 its body is
/// empty, so any bytes the client sent after the head would be read as the
/// next request. The connection closes after the answer, as after every
/// error answer to such a request ([`super::handle`]).
pub(crate) fn length_required(req: &Request) -> Option<Reply> {
    if !unframed(req) {
        return None;
    }
    Some(error(
        411,
        &format!(
            "{} {} needs a body and this request has neither Content-Length nor Transfer-Encoding: chunked; send the body with its Content-Length",
            req.method, req.path
        ),
    ))
}

/// Whether `req` may have been sent with a body its head does not frame:
/// a POST or PUT with neither `Content-Length` nor `Transfer-Encoding`.
/// Its body is empty by RFC 9112 §6.3, but bytes the client sent after the
/// head would be read as the next request, so an error answer to it
/// closes the connection.
pub(crate) fn unframed(req: &Request) -> bool {
    matches!(req.method, Method::Post | Method::Put)
        && req.header("content-length").is_none()
        && req.header("transfer-encoding").is_none()
}

pub(crate) fn not_allowed(allow: &str, req: &Request) -> Reply {
    with_header(
        error(
            405,
            &format!("{} does not accept {}; use {allow}", req.path, req.method),
        ),
        "Allow",
        allow,
    )
}

/// `/healthz`: the process is alive.
pub fn health() -> Reply {
    Reply::json(200, br#"{"status":"ok"}"#.to_vec())
}

/// `/readyz`: recovery finished (the listener only opens after it) and the
/// log accepts writes.
pub fn ready(failed: bool, draining: bool) -> Reply {
    if failed || draining {
        return unavailable(failed);
    }
    Reply::json(200, br#"{"status":"ready"}"#.to_vec())
}

/// 503 after a write failure or while shutting down.
pub fn unavailable(failed: bool) -> Reply {
    let msg = if failed {
        "a disk write or sync failed; spool accepts no more writes and will exit so recovery can run"
    } else {
        "spool is shutting down; retry against the restarted server"
    };
    with_header(error(503, msg), "Retry-After", "1")
}

/// 503 when `--max-connections` are open.
pub fn too_many_connections() -> Reply {
    with_header(
        error(503, "too many connections (--max-connections); retry later"),
        "Retry-After",
        "1",
    )
}

/// 507: no space for a new segment; nothing in the request was written.
pub fn disk_full() -> Reply {
    with_header(
        error(507, "disk full: no record of this request was written; free space or lower --retention-bytes, then retry"),
        "Retry-After",
        "1",
    )
}

/// The 2xx answer for records `first..=last`, sent once they are durable.
pub fn accepted(first: Lsn, last: Lsn) -> Reply {
    let body = if first == last {
        format!(r#"{{"status":"accepted","id":"{first}"}}"#)
    } else {
        format!(
            r#"{{"status":"accepted","count":{},"first_id":"{first}","last_id":"{last}"}}"#,
            last.0 - first.0 + 1
        )
    };
    Reply::json(200, body.into_bytes())
}

/// 503 when the request bodies buffered by all connections reached
/// `--max-buffered`: nothing of this request was read or stored.
pub fn too_much_buffered(limit: u64) -> Reply {
    with_header(
        error(
            503,
            &format!("spool is holding {limit} bytes of request bodies (--max-buffered); nothing of this request was stored; retry after the delay"),
        ),
        "Retry-After",
        "1",
    )
}

/// 413 for a request that alone needs more than `--max-buffered`.
pub fn larger_than_buffer(limit: u64) -> Reply {
    error(
        413,
        &format!("this request needs more than --max-buffered ({limit} bytes) to receive; send a smaller body, or raise --max-buffered"),
    )
}

/// 503 when the client's address has `--max-connections-per-ip` open.
pub fn too_many_from_address() -> Reply {
    with_header(
        error(
            503,
            "too many connections from this address (--max-connections-per-ip); reuse a keep-alive connection or retry later",
        ),
        "Retry-After",
        "1",
    )
}

/// The answer when the group commit refused a submission (nothing queued).
pub fn refused(e: SubmitError) -> Reply {
    match e {
        SubmitError::Busy => with_header(
            error(503, "write queue full; retry after the indicated delay"),
            "Retry-After",
            "1",
        ),
        SubmitError::DiskFull => disk_full(),
        SubmitError::TooLarge { len, max } => error(
            413,
            &format!("a record is {len} bytes encoded; the limit is {max} (--max-record)"),
        ),
        SubmitError::Empty => error(400, "body has no records"),
        SubmitError::Failed => unavailable(true),
    }
}

/// Adds a `"note"` string field to a JSON error body.
pub(crate) fn with_note(mut r: Reply, note: &str) -> Reply {
    if r.body.last() == Some(&b'}') {
        r.body.pop();
        r.body.extend_from_slice(b",\"note\":\"");
        for c in note.chars() {
            match c {
                '"' => r.body.extend_from_slice(b"\\\""),
                '\\' => r.body.extend_from_slice(b"\\\\"),
                c if (c as u32) < 0x20 => {}
                c => {
                    let mut buf = [0u8; 4];
                    r.body.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        r.body.extend_from_slice(b"\"}");
    }
    r
}

/// Adds a numeric field (`"line": 3`) to a JSON error body.
pub(crate) fn with_line(mut r: Reply, key: &str, value: u64) -> Reply {
    if r.body.last() == Some(&b'}') {
        r.body.pop();
        r.body
            .extend_from_slice(format!(r#","{key}":{value}}}"#).as_bytes());
    }
    r
}

/// The dashboard: one HTML page embedded in the binary (no build step, no
/// network fetch; its script and style are inline).
pub fn dashboard() -> Reply {
    static PAGE: &str = include_str!("dashboard.html");
    let r = Reply::with_type(200, "text/html; charset=utf-8", PAGE.as_bytes().to_vec());
    with_header(r, "Cache-Control", "no-cache")
}
