//! Daemon configuration: defaults, then `SPOOL_*` environment variables,
//! then command-line flags (flags win).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use spool_core::commit::CommitConfig;
use spool_core::record::{frame_len, MAX_PAYLOAD_LEN, SEGMENT_HEADER_LEN};
use spool_core::segment::SegmentPolicy;
use spool_proto::http::client::{parse_http_url, HttpUrl};
use spool_proto::http::origin::{AllowedHosts, AllowedOrigins, WebAccess};

use crate::alerts::webhook::Format;

/// Everything `spool serve` can be told.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Segment file size.
    pub segment_size: u64,
    /// Rotate segments older than this.
    pub segment_age: Option<Duration>,
    /// Delete oldest sealed segments past this total.
    pub retention_bytes: u64,
    /// Delete sealed segments older than this.
    pub retention_age: Option<Duration>,
    /// Largest request body.
    pub max_body: u64,
    /// Largest request head (request line + headers).
    pub max_header: u64,
    /// Largest single record (encoded entry).
    pub max_record: u64,
    /// Most open client connections.
    pub max_connections: usize,
    /// Most open client connections from one IP address.
    pub max_connections_per_ip: usize,
    /// Request bytes all connections together may buffer; a body that
    /// would pass it gets 503.
    pub max_buffered: u64,
    /// Unsent answer bytes per connection beyond which its requests stop
    /// being read.
    pub max_unsent: u64,
    /// Close a keep-alive connection idle this long.
    pub idle_timeout: Duration,
    /// A whole request (head and body) must arrive within this of its first byte.
    pub request_timeout: Duration,
    /// Bound on bytes queued for the next write (beyond: 503).
    pub max_queued: u64,
    /// A query's time budget; past it the answer is partial, with a cursor.
    pub query_timeout: Duration,
    /// Queries queued or running at once (beyond: 503).
    pub max_queries: usize,
    /// Bytes of one `/logs` answer; past it the answer is partial, with a
    /// cursor.
    pub max_answer: u64,
    /// Bytes of the newest records kept decoded for WebSocket followers
    /// near the head (one read of the log serves them all).
    pub live_window: u64,
    /// Send a WebSocket ping after this long without a frame out.
    pub ws_ping: Duration,
    /// Largest frame or message a WebSocket client may send.
    pub max_ws_message: u64,
    /// Start even though the log lost its newest segments or acknowledged
    /// records (or its mark); ids continue after the lost ones.
    pub accept_data_loss: bool,
    /// Hosts and origins besides loopback and the daemon's own that may
    /// send requests (`--allow-host`, `--allow-origin`).
    pub web: WebAccess,
    /// Alert rules file (TOML); rules set by `PUT /alerts/rules` win.
    pub alert_rules: Option<PathBuf>,
    /// POST each alert here.
    pub alert_webhook: Option<HttpUrl>,
    /// The webhook's body: the alert JSON, or Slack's `{"text": ...}`.
    pub alert_webhook_format: Format,
    /// Longest one webhook attempt may take (connect, send, answer head).
    pub alert_webhook_timeout: Duration,
    /// Most alerts waiting for the webhook; beyond, the oldest is dropped.
    pub alert_webhook_queue: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./spool-data"),
            segment_size: 64 << 20,
            segment_age: None,
            retention_bytes: 10 << 30,
            retention_age: None,
            max_body: 8 << 20,
            max_header: 16 << 10,
            max_record: 1 << 20,
            max_connections: 10_000,
            max_connections_per_ip: 1_024,
            max_buffered: 256 << 20,
            max_unsent: 64 << 10,
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_queued: 64 << 20,
            query_timeout: Duration::from_secs(10),
            max_queries: 64,
            max_answer: 8 << 20,
            live_window: 8 << 20,
            ws_ping: Duration::from_secs(30),
            max_ws_message: 64 << 10,
            accept_data_loss: false,
            web: WebAccess::default(),
            alert_rules: None,
            alert_webhook: None,
            alert_webhook_format: Format::Json,
            alert_webhook_timeout: Duration::from_secs(5),
            alert_webhook_queue: 1024,
        }
    }
}

/// The flags, their environment variables and help, in one table so the
/// three can never disagree.
const OPTIONS: &[(&str, &str, &str)] = &[
    (
        "listen",
        "SPOOL_LISTEN",
        "address to listen on [127.0.0.1:8080]",
    ),
    (
        "data-dir",
        "SPOOL_DATA_DIR",
        "data directory [./spool-data]",
    ),
    (
        "segment-size",
        "SPOOL_SEGMENT_SIZE",
        "segment file size [64MiB]",
    ),
    (
        "segment-age",
        "SPOOL_SEGMENT_AGE",
        "also rotate segments older than this, e.g. 1h [off]",
    ),
    (
        "retention-bytes",
        "SPOOL_RETENTION_BYTES",
        "delete oldest sealed segments past this total [10GiB]",
    ),
    (
        "retention-age",
        "SPOOL_RETENTION_AGE",
        "delete sealed segments older than this, e.g. 7d [off]",
    ),
    (
        "max-body",
        "SPOOL_MAX_BODY",
        "largest request body; larger gets 413 [8MiB]",
    ),
    (
        "max-header",
        "SPOOL_MAX_HEADER",
        "largest request head; larger gets 431 [16KiB]",
    ),
    (
        "max-record",
        "SPOOL_MAX_RECORD",
        "largest single record; larger gets 413 [1MiB]",
    ),
    (
        "max-connections",
        "SPOOL_MAX_CONNECTIONS",
        "most open client connections [10000]",
    ),
    (
        "max-connections-per-ip",
        "SPOOL_MAX_CONNECTIONS_PER_IP",
        "most open connections from one IP address [1024]",
    ),
    (
        "max-buffered",
        "SPOOL_MAX_BUFFERED",
        "request bytes all connections may hold; a body past it gets 503 [256MiB]",
    ),
    (
        "max-unsent",
        "SPOOL_MAX_UNSENT",
        "unsent answer bytes per connection before its requests stop being read [64KiB]",
    ),
    (
        "idle-timeout",
        "SPOOL_IDLE_TIMEOUT",
        "close idle keep-alive connections after [60s]",
    ),
    (
        "request-timeout",
        "SPOOL_REQUEST_TIMEOUT",
        "a request (head and body) must arrive within [30s]",
    ),
    (
        "max-queued",
        "SPOOL_MAX_QUEUED",
        "bytes waiting for the disk before 503 [64MiB]",
    ),
    (
        "query-timeout",
        "SPOOL_QUERY_TIMEOUT",
        "a query's time budget; past it the answer is partial, with a cursor to continue [10s]",
    ),
    (
        "max-queries",
        "SPOOL_MAX_QUERIES",
        "queries queued or running at once; beyond, 503 [64]",
    ),
    (
        "max-answer",
        "SPOOL_MAX_ANSWER",
        "bytes of one /logs answer; past it the answer is partial, with a cursor to continue [8MiB]",
    ),
    (
        "live-window",
        "SPOOL_LIVE_WINDOW",
        "bytes of the newest records kept for WebSocket followers; a follower further behind reads the log on a reader thread [8MiB]",
    ),
    (
        "ws-ping",
        "SPOOL_WS_PING",
        "WebSocket ping after this long without a frame sent; no pong within --idle-timeout closes [30s]",
    ),
    (
        "max-ws-message",
        "SPOOL_MAX_WS_MESSAGE",
        "largest frame or message a WebSocket client may send; larger closes with 1009 [64KiB]",
    ),
    (
        "alert-rules",
        "SPOOL_ALERT_RULES",
        "alert rules file, TOML [[rule]] tables (see README), or none for no rules; rules set by PUT /alerts/rules are saved in the data directory and win [LogStream's two defaults]",
    ),
    (
        "alert-webhook",
        "SPOOL_ALERT_WEBHOOK",
        "POST each alert to this http:// URL, retried with backoff [none]",
    ),
    (
        "alert-webhook-format",
        "SPOOL_ALERT_WEBHOOK_FORMAT",
        "json (the alert object) or slack ({\"text\": ...}) [json]",
    ),
    (
        "alert-webhook-timeout",
        "SPOOL_ALERT_WEBHOOK_TIMEOUT",
        "longest one webhook attempt may take (connect, send, answer); then it is retried [5s]",
    ),
    (
        "alert-webhook-queue",
        "SPOOL_ALERT_WEBHOOK_QUEUE",
        "most alerts waiting for the webhook; beyond, the oldest is dropped and counted [1024]",
    ),
    (
        "allow-origin",
        "SPOOL_ALLOW_ORIGIN",
        "web origins allowed besides the daemon's own, comma list (https://dash.example.com:8443); * allows every page [none]",
    ),
    (
        "allow-host",
        "SPOOL_ALLOW_HOST",
        "Host names answered besides localhost and IP addresses, comma list; .example.com includes subdomains; * turns the DNS-rebinding check off [none]",
    ),
];

/// The option lines of `spool --help`.
pub fn options_help() -> String {
    let mut out = String::from(
        "  --accept-data-loss  start even though the log lost its newest segments or\n                      acknowledged records (start-up refuses and says what is\n                      missing); ids continue after every id that could have\n                      been acknowledged, and readers report the lost ids as\n                      a gap. A flag only, never from the environment.\n",
    );
    for (flag, env, help) in OPTIONS {
        out.push_str(&format!(
            "  --{flag:<17} {help}\n  {:<19} (env {env})\n",
            ""
        ));
    }
    out
}

impl ServeConfig {
    /// Applies `SPOOL_*` variables from `env`, then the `--flag value` pairs
    /// in `args` (flags win). Returns a message a person can act on.
    pub fn from_sources(
        env: impl Fn(&str) -> Option<OsString>,
        args: &mut lexopt::Parser,
    ) -> Result<ServeConfig, String> {
        let mut cfg = ServeConfig::default();
        for (flag, var, _) in OPTIONS {
            if let Some(v) = env(var) {
                let v = v.into_string().map_err(|_| format!("{var} is not UTF-8"))?;
                cfg.set(flag, &v).map_err(|e| format!("{var}: {e}"))?;
            }
        }
        while let Some(arg) = args.next().map_err(|e| match e {
            lexopt::Error::UnexpectedValue { option, .. } => {
                format!("{option} is a switch and takes no value")
            }
            other => other.to_string(),
        })? {
            match arg {
                // A switch, and deliberately a flag only: an environment
                // variable left set would accept every later loss silently.
                lexopt::Arg::Long("accept-data-loss") => cfg.accept_data_loss = true,
                lexopt::Arg::Long(name) => {
                    let name = name.to_owned();
                    let Some((_, _, help)) = OPTIONS.iter().find(|(f, _, _)| *f == name) else {
                        return Err(unknown_flag(&format!("--{name}")));
                    };
                    let value = args
                        .value()
                        .map_err(|_| format!("--{name} needs a value: {help}"))?;
                    let value = value
                        .into_string()
                        .map_err(|_| format!("--{name}: not UTF-8"))?;
                    cfg.set(&name, &value)
                        .map_err(|e| format!("--{name}: {e}"))?;
                }
                lexopt::Arg::Short(c) => return Err(unknown_flag(&format!("-{c}"))),
                lexopt::Arg::Value(v) => {
                    return Err(format!(
                        "unexpected argument {:?}: spool serve takes only --flag value options",
                        v.to_string_lossy()
                    ))
                }
            }
        }
        cfg.check_sizes()?;
        cfg.check_counts()?;
        Ok(cfg)
    }

    /// Limits that would refuse everything: at least one connection, one
    /// per address, one query.
    fn check_counts(&self) -> Result<(), String> {
        for (flag, value) in [
            ("--max-connections", self.max_connections),
            ("--max-connections-per-ip", self.max_connections_per_ip),
            ("--max-queries", self.max_queries),
        ] {
            if value == 0 {
                return Err(format!(
                    "{flag} 0 would refuse every request; give at least 1"
                ));
            }
        }
        if self.alert_webhook_queue == 0 {
            return Err("--alert-webhook-queue 0 would drop every alert; give at least 1".into());
        }
        if self.alert_webhook_timeout.is_zero() {
            return Err("--alert-webhook-timeout 0 would give up on every attempt; give a duration such as 5s".into());
        }
        if self.ws_ping.is_zero() {
            return Err("--ws-ping 0 would ping without pause; give a duration such as 30s".into());
        }
        if self.max_ws_message < 125 {
            return Err(format!(
                "--max-ws-message {} is below 125 bytes, the size of a control frame a client must be able to send (a ping or a close)",
                self.max_ws_message
            ));
        }
        Ok(())
    }

    /// The size limits agree: one maximum-size record fits in a segment.
    /// The message names both flags and the smallest segment that works.
    fn check_sizes(&self) -> Result<(), String> {
        let commit = self.commit_config();
        if self.max_record == 0 || self.max_record > u64::from(MAX_PAYLOAD_LEN) {
            return Err(format!(
                "--max-record {}: a record limit must be from 1 byte to {} ({} bytes)",
                self.max_record,
                size_text(u64::from(MAX_PAYLOAD_LEN)),
                MAX_PAYLOAD_LEN
            ));
        }
        let smallest = SEGMENT_HEADER_LEN + frame_len(commit.max_payload);
        if self.segment_size < smallest {
            return Err(format!(
                "--segment-size {} is too small for --max-record {}: a segment must hold its header and one largest record, so with this --max-record the smallest --segment-size that works is {smallest} bytes (give at least {}); make the segment larger or --max-record smaller",
                size_text(self.segment_size),
                size_text(self.max_record),
                size_text(smallest.next_multiple_of(1024))
            ));
        }
        commit.validate().map_err(str::to_owned)
    }

    fn set(&mut self, flag: &str, v: &str) -> Result<(), String> {
        match flag {
            "listen" => {
                self.listen = v
                    .parse()
                    .map_err(|_| format!("{v:?} is not an address like 127.0.0.1:8080"))?
            }
            "data-dir" => self.data_dir = PathBuf::from(v),
            "segment-size" => self.segment_size = parse_size(v)?,
            "segment-age" => self.segment_age = Some(parse_duration(v)?),
            "retention-bytes" => self.retention_bytes = parse_size(v)?,
            "retention-age" => self.retention_age = Some(parse_duration(v)?),
            "max-body" => self.max_body = parse_size(v)?,
            "max-header" => self.max_header = parse_size(v)?,
            "max-record" => self.max_record = parse_size(v)?,
            "max-connections" => {
                self.max_connections = v.parse().map_err(|_| format!("{v:?} is not a number"))?
            }
            "max-connections-per-ip" => {
                self.max_connections_per_ip =
                    v.parse().map_err(|_| format!("{v:?} is not a number"))?
            }
            "max-buffered" => self.max_buffered = parse_size(v)?,
            "max-unsent" => self.max_unsent = parse_size(v)?,
            "idle-timeout" => self.idle_timeout = parse_duration(v)?,
            "request-timeout" => self.request_timeout = parse_duration(v)?,
            "max-queued" => self.max_queued = parse_size(v)?,
            "query-timeout" => self.query_timeout = parse_duration(v)?,
            "max-answer" => self.max_answer = parse_size(v)?,
            "max-queries" => {
                self.max_queries = v.parse().map_err(|_| format!("{v:?} is not a number"))?
            }
            "live-window" => self.live_window = parse_size(v)?,
            "ws-ping" => self.ws_ping = parse_duration(v)?,
            "max-ws-message" => self.max_ws_message = parse_size(v)?,
            "alert-rules" => self.alert_rules = Some(PathBuf::from(v)),
            "alert-webhook" => {
                self.alert_webhook = Some(parse_http_url(v).map_err(|e| format!("{v:?}: {e}"))?)
            }
            "alert-webhook-format" => {
                self.alert_webhook_format = match v {
                    "json" => Format::Json,
                    "slack" => Format::Slack,
                    _ => return Err(format!("{v:?}: give json or slack")),
                }
            }
            "alert-webhook-timeout" => self.alert_webhook_timeout = parse_duration(v)?,
            "alert-webhook-queue" => {
                self.alert_webhook_queue =
                    v.parse().map_err(|_| format!("{v:?} is not a number"))?
            }
            "allow-origin" => self.web.origins = AllowedOrigins::parse(v)?,
            "allow-host" => self.web.hosts = AllowedHosts::parse(v)?,
            _ => return Err(format!("unknown option {flag}")),
        }
        Ok(())
    }

    /// The per-connection limits this configuration implies.
    pub fn conn_limits(&self) -> crate::conn::http::ConnLimits {
        crate::conn::http::ConnLimits {
            http: spool_proto::http::Limits {
                max_header_bytes: usize::try_from(self.max_header).unwrap_or(usize::MAX),
                max_body: self.max_body,
                ..spool_proto::http::Limits::default()
            },
            max_unsent: usize::try_from(self.max_unsent).unwrap_or(usize::MAX),
            idle_timeout: self.idle_timeout,
            request_timeout: self.request_timeout,
        }
    }

    /// The group-commit limits this configuration implies.
    pub fn commit_config(&self) -> CommitConfig {
        let max_payload = u32::try_from(self.max_record).unwrap_or(u32::MAX);
        CommitConfig {
            policy: SegmentPolicy {
                segment_bytes: self.segment_size,
                max_age_ns: self.segment_age.map(duration_ns),
                retention_bytes: self.retention_bytes,
                retention_age_ns: self.retention_age.map(duration_ns),
            },
            max_payload,
            max_batch_bytes: (8u64 << 20).max(u64::from(max_payload) + 64),
            max_queued_bytes: self.max_queued,
            disk_full_retry_ns: 1_000_000_000,
        }
    }
}

/// The error for a flag `spool serve` does not have: what it does take,
/// and where the flag belongs when it is one of `spool cat`'s.
fn unknown_flag(flag: &str) -> String {
    let name = flag.trim_start_matches('-');
    let of_cat = crate::cli::cat::SPEC.flags.iter().any(|f| f.long == name);
    let hint = if of_cat && name != "data-dir" && name != "help" {
        format!(" ({flag} is an option of spool cat)")
    } else {
        String::new()
    };
    let mut takes = String::from("--accept-data-loss");
    for (name, _, _) in OPTIONS {
        takes.push_str(", --");
        takes.push_str(name);
    }
    format!("unknown flag {flag}{hint}: spool serve takes {takes}")
}

/// `n` bytes as a flag would take it: `1MiB`, `64KiB`, else plain bytes.
fn size_text(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n >= 1 << shift && n % (1 << shift) == 0 {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Parses `123`, `64KiB`, `64K`, `10MiB`, `10M`, `1GiB`, `1G` (binary units).
pub fn parse_size(v: &str) -> Result<u64, String> {
    let v = v.trim();
    let split = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let (whole, fraction) = num.split_once('.').unwrap_or((num, ""));
    let not_a_size = || format!("{v:?} is not a size like 64MiB or 1.5GiB");
    if whole.is_empty() || fraction.contains('.') || (num.contains('.') && fraction.is_empty()) {
        return Err(not_a_size());
    }
    let n: u64 = whole.parse().map_err(|_| not_a_size())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("{v:?}: unknown size unit (use KiB, MiB, GiB)")),
    };
    let whole_bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("{v:?} is too large"))?;
    // A fraction of the unit, which must come to whole bytes (1.5MiB is
    // 1,572,864 bytes; 1.1KiB would be 1,126.4 and is refused).
    if fraction.is_empty() {
        return Ok(whole_bytes);
    }
    if fraction.len() > 18 {
        return Err(not_a_size());
    }
    let digits: u128 = fraction.parse().map_err(|_| not_a_size())?;
    let denominator = 10u128.pow(fraction.len() as u32);
    let scaled = u128::from(mult) * digits;
    if scaled % denominator != 0 {
        return Err(format!(
            "{v:?} is not a whole number of bytes; give a size in a smaller unit"
        ));
    }
    u64::try_from(scaled / denominator)
        .ok()
        .and_then(|part| whole_bytes.checked_add(part))
        .ok_or_else(|| format!("{v:?} is too large"))
}

/// Parses `250ms`, `30s`, `5m`, `2h`, `7d`, or plain seconds.
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{v:?} is not a duration like 30s"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        "d" => Duration::from_secs(n.saturating_mul(86_400)),
        _ => return Err(format!("{v:?}: unknown unit (use ms, s, m, h, d)")),
    };
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("10G"), Ok(10 << 30));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("12X").is_err());
        assert_eq!(parse_size("1.5MiB"), Ok(3 << 19));
        assert_eq!(parse_size("0.25GiB"), Ok(1 << 28));
        assert!(parse_size("1.1KiB")
            .unwrap_err()
            .contains("whole number of bytes"));
        assert!(parse_size("1.5").is_err());
        assert!(parse_size("1.").is_err());
        assert!(parse_size(".5MiB").is_err());
        assert!(parse_size("1.2.3MiB").is_err());
        assert!(parse_size("-1").is_err());
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn flags_override_environment() {
        let env = |k: &str| match k {
            "SPOOL_MAX_BODY" => Some(OsString::from("1MiB")),
            "SPOOL_LISTEN" => Some(OsString::from("127.0.0.1:9000")),
            _ => None,
        };
        let mut args = lexopt::Parser::from_args(["--listen", "127.0.0.1:9001"]);
        let cfg = ServeConfig::from_sources(env, &mut args).unwrap();
        assert_eq!(cfg.listen.port(), 9001);
        assert_eq!(cfg.max_body, 1 << 20);
        let mut bad = lexopt::Parser::from_args(["--segment-size", "1KiB"]);
        assert!(ServeConfig::from_sources(|_| None, &mut bad).is_err());
    }

    #[test]
    fn a_segment_too_small_for_the_record_limit_names_the_smallest() {
        let err = |args: &[&str]| {
            let mut p = lexopt::Parser::from_args(args);
            ServeConfig::from_sources(|_| None, &mut p).unwrap_err()
        };
        let e = err(&["--segment-size", "1MiB"]);
        assert!(
            e.contains("--segment-size 1MiB") && e.contains("--max-record 1MiB"),
            "{e}"
        );
        assert!(e.contains("1048628 bytes (give at least 1025KiB)"), "{e}");
        let e = err(&["--max-record", "100", "--segment-size", "151"]);
        assert!(e.contains("works is 152 bytes"), "{e}");
        let mut ok = lexopt::Parser::from_args(["--max-record", "100", "--segment-size", "152"]);
        assert!(ServeConfig::from_sources(|_| None, &mut ok).is_ok());
        assert!(err(&["--max-record", "65MiB"]).contains("--max-record"));
        assert!(err(&["--max-record", "0"]).contains("from 1 byte"));
    }

    #[test]
    fn allow_lists_from_environment_and_flags() {
        let env = |k: &str| match k {
            "SPOOL_ALLOW_HOST" => Some(OsString::from("env.example")),
            "SPOOL_ALLOW_ORIGIN" => Some(OsString::from("http://env.example")),
            _ => None,
        };
        let mut args = lexopt::Parser::from_args(["--allow-host", ".flag.example,spool.lan"]);
        let cfg = ServeConfig::from_sources(env, &mut args).unwrap();
        assert_eq!(
            cfg.web.hosts,
            AllowedHosts::parse(".flag.example,spool.lan").unwrap()
        );
        assert_eq!(
            cfg.web.origins,
            AllowedOrigins::parse("http://env.example").unwrap()
        );
        for bad in [
            ["--allow-host", "a.example:80"],
            ["--allow-origin", "a.example"],
            ["--allow-origin", "null"],
        ] {
            let mut args = lexopt::Parser::from_args(bad);
            let err = ServeConfig::from_sources(|_| None, &mut args).unwrap_err();
            assert!(err.starts_with(&format!("{}:", bad[0])), "{err}");
        }
        assert!(options_help().contains("SPOOL_ALLOW_ORIGIN"));
        assert!(options_help().contains("SPOOL_ALLOW_HOST"));
    }

    #[test]
    fn live_path_limits_parse_and_refuse_what_cannot_work() {
        let parse = |args: &[&str]| {
            let mut p = lexopt::Parser::from_args(args);
            ServeConfig::from_sources(|_| None, &mut p)
        };
        let cfg = parse(&[
            "--live-window",
            "2MiB",
            "--ws-ping",
            "5s",
            "--max-ws-message",
            "1KiB",
        ])
        .unwrap();
        assert_eq!(
            (cfg.live_window, cfg.ws_ping, cfg.max_ws_message),
            (2 << 20, Duration::from_secs(5), 1024)
        );
        assert!(parse(&["--ws-ping", "0"])
            .unwrap_err()
            .contains("--ws-ping 0"));
        assert!(parse(&["--max-ws-message", "100"])
            .unwrap_err()
            .contains("below 125 bytes"));
        assert!(options_help().contains("SPOOL_LIVE_WINDOW"));
    }
}
