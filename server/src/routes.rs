//! Routing and answers: which handler a request goes to, and the JSON each
//! status carries. Every error body is `{"error": "...", "status": N}` with
//! a sentence a person can act on.

use spool_core::record::Lsn;
use spool_proto::decode::{decode_entries, DecodeLimits};
use spool_proto::http::{
    json_error, write_head, write_json, Method, Request, Scheme, Version, WebAccess,
};

use crate::log::{now_ns, Log};
use spool_core::commit::SubmitError;
use spool_core::handoff::Ticket;

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

fn with_header(mut r: Reply, name: &'static str, value: &str) -> Reply {
    r.headers.push((name, value.to_owned()));
    r
}

/// Where a request goes.
pub enum Route {
    /// `POST /ingest`.
    Ingest,
    /// `GET /healthz`.
    Health,
    /// `GET /readyz`.
    Ready,
    /// Answered at once (400 or 403 from the web check, 404, 405).
    Reply(Reply),
}

/// Picks the handler for a request. Before any path is looked at, `web`
/// refuses requests a web page may have sent without leave (SPEC §3: a
/// foreign `Origin`, a `Host` open to DNS rebinding): 403, or 400 for a
/// malformed `Host` or repeated fields.
pub fn route(req: &Request, web: &WebAccess) -> Route {
    if let Err(refusal) = web.check(Scheme::Http, req) {
        return Route::Reply(error(refusal.status(), &refusal.message()));
    }
    let get = matches!(req.method, Method::Get | Method::Head);
    match req.path.as_str() {
        "/ingest" if req.method == Method::Post => Route::Ingest,
        "/ingest" => Route::Reply(not_allowed("POST", req)),
        "/healthz" if get => Route::Health,
        "/readyz" if get => Route::Ready,
        "/healthz" | "/readyz" => Route::Reply(not_allowed("GET, HEAD", req)),
        _ => Route::Reply(error(
            404,
            &format!("no such endpoint {}; see the API in README", req.path),
        )),
    }
}

fn not_allowed(allow: &str, req: &Request) -> Reply {
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

/// Decodes and submits an ingest body. `Ok` gives the id range to wait for;
/// `Err` is the answer to send now (nothing was queued).
pub fn ingest(req: &Request, log: &Log, max_record: u64) -> Result<Ticket, Reply> {
    let now = now_ns();
    let limits = DecodeLimits {
        max_record_bytes: usize::try_from(max_record).unwrap_or(usize::MAX),
        ..DecodeLimits::default()
    };
    let entries = decode_entries(req.content_type(), &req.body, now, &limits).map_err(|e| {
        let mut r = error(e.status, &e.message);
        if let Some(line) = e.line {
            r = with_line(r, "line", line);
        }
        if let Some(index) = e.index {
            r = with_line(r, "index", index);
        }
        r
    })?;
    let mut payloads = Vec::with_capacity(entries.len());
    for e in &entries {
        payloads.push(
            e.encode()
                .map_err(|err| error(413, &format!("record cannot be stored: {err}")))?,
        );
    }
    match log
        .handoff()
        .submit(now, payloads.iter().map(Vec::as_slice))
    {
        Ok(range) => Ok(range),
        Err(SubmitError::Busy) => Err(with_header(
            error(503, "write queue full; retry after the indicated delay"),
            "Retry-After",
            "1",
        )),
        Err(SubmitError::DiskFull) => Err(disk_full()),
        Err(SubmitError::TooLarge { len, max }) => Err(error(
            413,
            &format!("a record is {len} bytes encoded; the limit is {max} (--max-record)"),
        )),
        Err(SubmitError::Empty) => Err(error(400, "body has no records")),
        Err(SubmitError::Failed) => Err(unavailable(true)),
    }
}

/// Adds a numeric field (`"line": 3`) to a JSON error body.
fn with_line(mut r: Reply, key: &str, value: u64) -> Reply {
    if r.body.last() == Some(&b'}') {
        r.body.pop();
        r.body
            .extend_from_slice(format!(r#","{key}":{value}}}"#).as_bytes());
    }
    r
}
