//! `POST /ingest`: decodes a body into encoded records, or the answer that
//! says which record is at fault. Nothing is submitted here.

use spool_proto::decode::{decode_payloads, DecodeLimits, Payloads};
use spool_proto::http::Request;

use super::reply::{error, with_line, Reply};
use super::Context;

/// The encoded payloads of every record in the body, in order; or the 4xx
/// answer naming the record (`line` or `index`) that cannot be stored.
pub(super) fn records(req: &Request, ctx: &Context<'_>) -> Result<Payloads, Reply> {
    let limits = DecodeLimits {
        max_record_bytes: usize::try_from(ctx.cfg.max_record).unwrap_or(usize::MAX),
        ..DecodeLimits::default()
    };
    let mut payloads = Payloads::default();
    decode_payloads(
        req.content_type(),
        &req.body,
        ctx.now.wall.0,
        &limits,
        &mut payloads,
    )
    .map_err(|e| {
        let mut r = error(e.status, &e.message);
        if let Some(line) = e.line {
            r = with_line(r, "line", line);
        }
        if let Some(index) = e.index {
            r = with_line(r, "index", index);
        }
        r
    })?;
    Ok(payloads)
}
