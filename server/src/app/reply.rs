//! Answers: [`Reply`], the JSON each status carries, and how a reply is
//! written. Every error body is `{"error": "...", "status": N}` with a
//! sentence a person can act on.

use spool_core::commit::SubmitError;
use spool_core::record::Lsn;
use spool_proto::http::{json_error, write_head, write_json, Request, Version};

/// An answer ready to be written.
pub struct Reply {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
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
        let headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if head_only {
            let mut all = vec![("Content-Type", "application/json")];
            all.extend(headers);
            write_head(
                out,
                version,
                self.status,
                &all,
                Some(self.body.len() as u64),
                keep_alive,
            );
        } else {
            write_json(out, version, self.status, &self.body, keep_alive, &headers);
        }
    }
}

/// An error answer.
pub fn error(status: u16, message: &str) -> Reply {
    Reply {
        status,
        body: json_error(status, message),
        headers: Vec::new(),
    }
}

pub(crate) fn with_header(mut r: Reply, name: &'static str, value: &str) -> Reply {
    r.headers.push((name, value.to_owned()));
    r
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
    Reply {
        status: 200,
        body: br#"{"status":"ok"}"#.to_vec(),
        headers: Vec::new(),
    }
}

/// `/readyz`: recovery finished (the listener only opens after it) and the
/// log accepts writes.
pub fn ready(failed: bool, draining: bool) -> Reply {
    if failed || draining {
        return unavailable(failed);
    }
    Reply {
        status: 200,
        body: br#"{"status":"ready"}"#.to_vec(),
        headers: Vec::new(),
    }
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
    Reply {
        status: 200,
        body: body.into_bytes(),
        headers: Vec::new(),
    }
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

/// Adds a numeric field (`"line": 3`) to a JSON error body.
pub(crate) fn with_line(mut r: Reply, key: &str, value: u64) -> Reply {
    if r.body.last() == Some(&b'}') {
        r.body.pop();
        r.body
            .extend_from_slice(format!(r#","{key}":{value}}}"#).as_bytes());
    }
    r
}
