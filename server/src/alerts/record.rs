//! A fired alert as a log record, and back.
//!
//! An alert is stored as an entry of service [`SERVICE`] (which producers
//! may not use), at the rule's level, whose metadata is one object
//! `{"alert": {...}}`:
//!
//! | key | value |
//! |---|---|
//! | `rule` | the rule's name |
//! | `count`, `threshold` | records counted (the threshold) |
//! | `window_ms`, `cooldown_ms` | the rule's window and cooldown |
//! | `first_id`, `last_id` | the first and last triggering record (ids as strings) |
//! | `first_at`, `last_at` | when the first and the last of them arrived (RFC 3339, server clock); the cooldown runs from `last_at` |
//! | `rule_service`, `pattern`, `ignore_case` | the rule's scope, when it has one |
//! | `at_start` | `true` when raised at start-up for records made durable before a stop that came before the alert was stored |
//!
//! Delivered (to followers, `GET /alerts`, the webhook) as one flat JSON
//! object: `{"type":"alert","id","timestamp","level","message"}` followed
//! by the members of the `alert` object.

use spool_core::alert::{Fired, Rule};
use spool_core::entry::{Entry, EntryRef};
use spool_core::record::Lsn;
use spool_proto::decode::{json_text, push_json_string, push_record_head};
use spool_proto::format_rfc3339_nanos;

/// The service of the daemon's own records; ingest refuses it.
pub const SERVICE: &str = spool_proto::decode::RESERVED_SERVICE;

/// What start-up needs of a stored alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAlert {
    /// The rule's name.
    pub rule: String,
    /// The last triggering record.
    pub last_id: Lsn,
    /// When it fired: its last triggering record's arrival (`last_at`;
    /// the alert record's own timestamp for alerts stored without it).
    pub fired_ns: u64,
}

/// `ns` as users write spans: `90s`, `5m`, `1h`, `1500ms`.
pub fn span_text(ns: u64) -> String {
    const S: u64 = 1_000_000_000;
    if ns == 0 {
        "0s".into()
    } else if ns % (3600 * S) == 0 {
        format!("{}h", ns / (3600 * S))
    } else if ns % (60 * S) == 0 {
        format!("{}m", ns / (60 * S))
    } else if ns % S == 0 {
        format!("{}s", ns / S)
    } else {
        format!("{}ms", ns / 1_000_000)
    }
}

/// The entry recording that `rule` fired with `fired`: `first_at_ns` and
/// `last_at_ns` are when the first and the last triggering records
/// arrived, `now_ns` when it is recorded (all wall clock, ns since the
/// Unix epoch).
pub fn alert_entry(
    rule: &Rule,
    fired: &Fired,
    (first_at_ns, last_at_ns): (u64, u64),
    now_ns: u64,
    at_start: bool,
) -> Entry {
    let mut message = format!(
        "{}: {} {} at {} or above",
        rule.name,
        fired.count,
        if fired.count == 1 {
            "record"
        } else {
            "records"
        },
        rule.min_level
    );
    if let Some(s) = &rule.service {
        message.push_str(&format!(" of service {s:?}"));
    }
    if let Some(p) = &rule.pattern {
        message.push_str(&format!(" containing {p:?}"));
        if rule.ignore_case {
            message.push_str(" (any case)");
        }
    }
    message.push_str(&format!(
        " within {} (ids {} to {})",
        span_text(rule.window_ns),
        fired.first_id,
        fired.last_id
    ));
    if at_start {
        message.push_str("; raised at start-up: the daemon stopped before storing it");
    }
    let mut m = Vec::with_capacity(256);
    m.extend_from_slice(b"{\"alert\":{\"rule\":");
    push_json_string(&mut m, &rule.name);
    let mut first_at = String::new();
    format_rfc3339_nanos(first_at_ns, &mut first_at);
    let mut last_at = String::new();
    format_rfc3339_nanos(last_at_ns, &mut last_at);
    m.extend_from_slice(
        format!(
            ",\"count\":{},\"threshold\":{},\"window_ms\":{},\"cooldown_ms\":{},\"first_id\":\"{}\",\"last_id\":\"{}\",\"first_at\":\"{first_at}\",\"last_at\":\"{last_at}\"",
            fired.count,
            rule.threshold,
            rule.window_ns / 1_000_000,
            rule.cooldown_ns / 1_000_000,
            fired.first_id,
            fired.last_id
        )
        .as_bytes(),
    );
    if let Some(s) = &rule.service {
        m.extend_from_slice(b",\"rule_service\":");
        push_json_string(&mut m, s);
    }
    if let Some(p) = &rule.pattern {
        m.extend_from_slice(b",\"pattern\":");
        push_json_string(&mut m, p);
        m.extend_from_slice(format!(",\"ignore_case\":{}", rule.ignore_case).as_bytes());
    }
    if at_start {
        m.extend_from_slice(b",\"at_start\":true");
    }
    m.extend_from_slice(b"}}");
    Entry {
        timestamp_ns: now_ns,
        level: rule.min_level,
        service: SERVICE.into(),
        message,
        // Built from JSON pieces above: valid UTF-8.
        metadata: String::from_utf8_lossy(&m).into_owned(),
    }
}

/// The alert object's members, when `entry` is an alert record: the
/// metadata's inner object without its braces.
fn members<'a>(entry: &EntryRef<'a>) -> Option<&'a str> {
    if entry.service != SERVICE {
        return None;
    }
    let inner = entry
        .metadata
        .strip_prefix("{\"alert\":{")?
        .strip_suffix("}}")?;
    (!inner.is_empty()).then_some(inner)
}

/// Whether `entry` is an alert record.
pub fn is_alert(entry: &EntryRef<'_>) -> bool {
    members(entry).is_some()
}

/// Appends the alert as delivered (one flat JSON object) and returns
/// `true`, or appends nothing and returns `false` when `entry` (record
/// `id`) is not an alert record. The caller has checked the metadata is
/// a JSON object.
pub fn alert_json(id: Lsn, entry: &EntryRef<'_>, out: &mut Vec<u8>) -> bool {
    let Some(inner) = members(entry) else {
        return false;
    };
    let start = out.len();
    out.extend_from_slice(b"{\"type\":\"alert\",");
    push_record_head(id.0, entry, out);
    out.extend_from_slice(b",\"message\":");
    push_json_string(out, entry.message);
    out.push(b',');
    out.extend_from_slice(inner.as_bytes());
    out.push(b'}');
    // Only the daemon writes this service, but a library user may have:
    // deliver nothing that is not one valid object.
    if json_text::validate(&out[start..]).is_err() {
        out.truncate(start);
        return false;
    }
    true
}

/// The rule, last triggering id and firing time of an alert record.
pub fn stored_alert(entry: &EntryRef<'_>) -> Option<StoredAlert> {
    members(entry)?;
    let v: serde_json::Value = serde_json::from_str(entry.metadata).ok()?;
    let a = v.get("alert")?;
    Some(StoredAlert {
        rule: a.get("rule")?.as_str()?.to_owned(),
        last_id: Lsn(a.get("last_id")?.as_str()?.parse().ok()?),
        fired_ns: a
            .get("last_at")
            .and_then(serde_json::Value::as_str)
            .and_then(spool_proto::parse_rfc3339)
            .unwrap_or(entry.timestamp_ns),
    })
}

/// One line for people (stderr, Slack's `text`).
pub fn alert_line(id: Lsn, entry: &EntryRef<'_>) -> String {
    format!("ALERT [{}] {} (alert id {id})", entry.level, entry.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spool_core::entry::Level;
    use spool_core::time::Instant;

    fn rule() -> Rule {
        Rule {
            name: "Payment \"timeouts\"".into(),
            min_level: Level::Warn,
            service: Some("pay".into()),
            pattern: Some("time\nout".into()),
            ignore_case: true,
            threshold: 5,
            window_ns: 60_000_000_000,
            cooldown_ns: 300_000_000_000,
        }
    }

    #[test]
    fn an_alert_record_round_trips_to_its_delivered_object() {
        let fired = Fired {
            count: 5,
            first_id: Lsn(7),
            last_id: Lsn(19),
            first_at: Instant::from_nanos(1),
            at: Instant::from_nanos(2),
        };
        let e = alert_entry(
            &rule(),
            &fired,
            (1_000_000_000, 1_500_000_000),
            2_000_000_000,
            false,
        );
        assert_eq!(e.service, SERVICE);
        assert_eq!(e.level, Level::Warn);
        let payload = e.encode().expect("encodes");
        let r = EntryRef::decode(&payload).expect("decodes");
        assert!(is_alert(&r));
        let mut out = Vec::new();
        assert!(alert_json(Lsn(20), &r, &mut out));
        let v: serde_json::Value = serde_json::from_slice(&out).expect("one JSON object");
        assert_eq!(v["type"], "alert");
        assert_eq!(v["id"], "20");
        assert_eq!(v["rule"], "Payment \"timeouts\"");
        assert_eq!(v["level"], "WARN");
        assert_eq!(
            (v["first_id"].as_str(), v["last_id"].as_str()),
            (Some("7"), Some("19"))
        );
        assert_eq!(
            (v["window_ms"].as_u64(), v["cooldown_ms"].as_u64()),
            (Some(60_000), Some(300_000))
        );
        assert_eq!(v["rule_service"], "pay");
        assert_eq!(v["pattern"], "time\nout");
        assert_eq!(v["first_at"], "1970-01-01T00:00:01.000000000Z");
        let stored = stored_alert(&r).expect("an alert");
        assert_eq!(
            stored,
            StoredAlert {
                rule: "Payment \"timeouts\"".into(),
                last_id: Lsn(19),
                fired_ns: 1_500_000_000
            }
        );
    }

    #[test]
    fn other_records_are_not_alerts() {
        let plain = |service: &'static str, metadata: &'static str| EntryRef {
            timestamp_ns: 0,
            level: Level::Error,
            service,
            message: "m",
            metadata,
        };
        let mut out = Vec::new();
        for e in [
            plain("api", "{\"alert\":{\"rule\":\"x\"}}"),
            plain("spool", "{\"other\":1}"),
            plain("spool", ""),
            plain("spool", "{\"alert\":{}}"),
            plain("spool", "{\"alert\":{\"rule\":}}"),
        ] {
            assert!(!alert_json(Lsn(1), &e, &mut out), "{e:?}");
            assert!(out.is_empty());
            assert_eq!(stored_alert(&e), None);
        }
    }

    #[test]
    fn spans_read_as_users_write_them() {
        let s = 1_000_000_000;
        assert_eq!(span_text(60 * s), "1m");
        assert_eq!(span_text(30 * s), "30s");
        assert_eq!(span_text(7200 * s), "2h");
        assert_eq!(span_text(1_500_000_000), "1500ms");
        assert_eq!(span_text(0), "0s");
    }
}
