//! `GET /ws`: the WebSocket handshake and the subscription's parameters.
//! The runtime upgrades the connection; the live path feeds it.

use spool_core::query::Filter;
use spool_core::record::Lsn;
use spool_proto::http::Request;
use spool_proto::parse_time_param;
use spool_proto::ws::accept_key;

use super::read::{filter_params, plus_hint};
use super::reply::{error, with_header, Reply};
use crate::live::subscription::From;

const WS_PARAMS: &str = "level, service, q, qi, from";

/// A checked `/ws` handshake.
pub struct WsUpgrade {
    /// The `Sec-WebSocket-Accept` value.
    pub accept: String,
    /// Which records to send.
    pub filter: Filter,
    /// Where to start.
    pub from: From,
}

/// Checks the handshake and parses the parameters: filters as `/logs`,
/// and `from` = `now` (default), `oldest`, a record id, or an RFC 3339
/// time.
pub(super) fn ws_request(req: &Request) -> Result<WsUpgrade, Reply> {
    let accept = accept_key(req).map_err(|r| {
        let reply = error(r.status, r.message);
        if r.status == 426 {
            // RFC 6455 §4.2.2: say which version is spoken.
            with_header(reply, "Sec-WebSocket-Version", "13")
        } else {
            reply
        }
    })?;
    let mut from = From::Now;
    let filter = filter_params(req, "/ws", WS_PARAMS, |key, value| {
        if key != "from" {
            return Ok(false);
        }
        let value = value.trim();
        from = match value {
            "now" => From::Now,
            "oldest" => From::Oldest,
            v if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => From::After(Lsn(v
                .parse()
                .map_err(|_| error(400, &format!("from: record id {v} is out of range")))?)),
            v => match parse_time_param(v) {
                Some(ns) => From::Time(ns),
                None => {
                    let plus = plus_hint(v);
                    return Err(error(
                        400,
                        &format!("from: {v:?} is not now, oldest, a record id (to resume after it) or an RFC 3339 time (2026-11-30T10:00:00Z){plus}"),
                    ));
                }
            },
        };
        Ok(true)
    })?;
    Ok(WsUpgrade {
        accept,
        filter,
        from,
    })
}
