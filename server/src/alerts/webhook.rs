//! Alert webhook delivery (`--alert-webhook URL`), without IO: the queue of
//! alerts waiting to be POSTed, the retry schedule, and the counters.
//!
//! [`Webhook`] decides; the event loop acts. The loop owns the socket and
//! the clock, passes `now` into every call, writes the request with
//! `spool_proto::http::client::write_post`, reads the answer with a
//! `ResponseReader`, and reports each attempt's outcome back. Nothing here
//! blocks, allocates without bound, or reads a clock, so a webhook that is
//! down or slow can never hold up ingest: alerts beyond the queue bound
//! are dropped (oldest first) and counted.
//!
//! Guarantees: at most one attempt is in flight; alerts are delivered in
//! the order they were enqueued (a rejected or dropped alert is skipped);
//! an alert the receiver accepted (2xx) is never sent again.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::time::Duration;

use serde_json::Value;
use spool_core::time::Instant;
use spool_proto::http::client::ResponseError;

use crate::clock;

/// The body format the receiver expects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// The alert JSON as given to [`Webhook::enqueue`].
    #[default]
    Json,
    /// A Slack-compatible incoming webhook body: `{"text": "..."}` (also
    /// accepted by Mattermost, Rocket.Chat and others).
    Slack,
}

/// How a [`Webhook`] queues and retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Most alerts waiting to be sent, not counting the one in flight
    /// (default 1024; 0 is taken as 1).
    pub queue: usize,
    /// Longest one attempt may take: connect, send, and the response head
    /// (default 5 s).
    pub timeout: Duration,
    /// Delay before the first retry (default 100 ms; at least 1 ms).
    pub backoff_min: Duration,
    /// Longest delay between retries (default 60 s; at least `backoff_min`).
    pub backoff_max: Duration,
    /// The body format (default [`Format::Json`]).
    pub format: Format,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            queue: 1024,
            timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(60),
            format: Format::Json,
        }
    }
}

/// Why an attempt ended without a status code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Resolving the host or connecting failed (refused, unreachable).
    Connect(io::ErrorKind),
    /// Sending the request or reading the answer failed (reset, broken pipe).
    Io(io::ErrorKind),
    /// No final status within [`WebhookConfig::timeout`].
    TimedOut,
    /// The peer's answer was not HTTP, too large, or cut short.
    Response(ResponseError),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connect(kind) => write!(f, "could not connect: {kind}"),
            Failure::Io(kind) => write!(f, "connection failed: {kind}"),
            Failure::TimedOut => f.write_str("no answer within the timeout"),
            Failure::Response(e) => write!(f, "{e}"),
        }
    }
}

/// How the attempt [`Webhook::next_attempt`] started ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The final status code of the answer.
    Status(u16),
    /// No status code.
    Failed(Failure),
}

/// What [`Webhook::attempt_done`] made of an outcome, for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the alert is delivered and gone from the queue.
    Delivered,
    /// The receiver refused this alert (a status that retrying cannot
    /// change); it is dropped and counted in [`WebhookStats::rejected`].
    Rejected {
        /// The status code.
        status: u16,
    },
    /// The alert stays first in line; the next attempt is not before `at`.
    Retry {
        /// The end of the backoff.
        at: Instant,
        /// Failed attempts in a row, this one included.
        consecutive_failures: u32,
    },
}

/// Counters since start, and the queue right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Alerts the receiver accepted (2xx).
    pub delivered: u64,
    /// Attempts that did not deliver: transport failures, timeouts, and
    /// every non-2xx status (rejections included).
    pub failed_attempts: u64,
    /// Alerts dropped because the receiver refused them (see [`Webhook`]).
    pub rejected: u64,
    /// Alerts dropped unsent because the queue was full.
    pub dropped: u64,
    /// Alerts held: waiting, plus the one in flight.
    pub queued: usize,
    /// Whether an attempt is in flight.
    pub in_flight: bool,
    /// Failed attempts in a row (0 after a delivery or a rejection).
    pub consecutive_failures: u32,
}

/// The delivery state machine for one webhook URL.
///
/// Driving it, on each turn of the event loop after reading the clock:
/// 1. [`Webhook::enqueue`] each new alert.
/// 2. If an attempt is in flight and [`Webhook::timed_out`], close its
///    socket and call [`Webhook::attempt_done`] with
///    [`Failure::TimedOut`]. When its status code arrives, or its
///    connection fails, close the socket and call `attempt_done`.
/// 3. Call [`Webhook::next_attempt`]; when it returns a body, connect and
///    POST it (`Content-Type: application/json`).
/// 4. Sleep no later than [`Webhook::deadline`].
///
/// Which answers are retried: transport failures, timeouts, `5xx`, `408
/// Request Timeout` and `429 Too Many Requests` keep the alert first in
/// line and retry it after an exponential backoff with jitter, for as long
/// as it takes (the queue bound keeps memory bounded meanwhile). Any other
/// non-2xx status (`4xx`, and `3xx`: redirects are not followed, so point
/// the URL at the final address) means the receiver refuses this payload
/// and would refuse it again: the alert is dropped and counted as
/// `rejected`, so one bad alert cannot block the ones behind it.
#[derive(Clone, Debug)]
pub struct Webhook {
    cfg: WebhookConfig,
    /// Request bodies in the configured format; the front is in flight
    /// when `in_flight` is set.
    queue: VecDeque<Vec<u8>>,
    /// When the in-flight attempt started.
    in_flight: Option<Instant>,
    /// No attempt starts before this (the end of the current backoff).
    not_before: Instant,
    consecutive_failures: u32,
    rng: u64,
    delivered: u64,
    failed_attempts: u64,
    rejected: u64,
    dropped: u64,
}

impl Webhook {
    /// An empty queue. `seed` seeds the jitter (any value; give different
    /// daemons different seeds so their retries spread out).
    pub fn new(cfg: WebhookConfig, seed: u64) -> Self {
        let backoff_min = cfg.backoff_min.max(Duration::from_millis(1));
        let cfg = WebhookConfig {
            queue: cfg.queue.max(1),
            backoff_min,
            backoff_max: cfg.backoff_max.max(backoff_min),
            ..cfg
        };
        Webhook {
            cfg,
            queue: VecDeque::new(),
            in_flight: None,
            not_before: Instant::from_nanos(0),
            consecutive_failures: 0,
            // xorshift has one fixed point, 0.
            rng: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
            delivered: 0,
            failed_attempts: 0,
            rejected: 0,
            dropped: 0,
        }
    }

    /// The configuration in effect (after the clamps [`Webhook::new`] applies).
    pub fn config(&self) -> &WebhookConfig {
        &self.cfg
    }

    /// Queues an alert: `alert_json` is the body for [`Format::Json`],
    /// `slack_text` the message for [`Format::Slack`] (only the one the
    /// format needs is kept). When [`WebhookConfig::queue`] alerts are
    /// already waiting, the oldest waiting one (never the one in flight) is
    /// dropped and counted in [`WebhookStats::dropped`]. Never blocks.
    pub fn enqueue(&mut self, alert_json: Vec<u8>, slack_text: String) {
        let body = match self.cfg.format {
            Format::Json => alert_json,
            Format::Slack => slack_body(&slack_text),
        };
        if self.waiting() >= self.cfg.queue {
            let oldest_waiting = usize::from(self.in_flight.is_some());
            if self.queue.remove(oldest_waiting).is_some() {
                self.dropped += 1;
            }
        }
        self.queue.push_back(body);
    }

    /// Starts the next attempt if one is due: nothing is in flight, an
    /// alert is waiting, and the backoff has ended by `now`. Returns the
    /// request body to POST and marks that alert in flight until
    /// [`Webhook::attempt_done`]; `None` means there is nothing to send now.
    pub fn next_attempt(&mut self, now: Instant) -> Option<&[u8]> {
        if self.in_flight.is_some() || now < self.not_before {
            return None;
        }
        let body = self.queue.front()?;
        self.in_flight = Some(now);
        Some(body)
    }

    /// Ends the attempt in flight with its outcome and says what follows
    /// (`None`, changing nothing, when no attempt is in flight). See
    /// [`Webhook`] for which outcomes are retried.
    pub fn attempt_done(&mut self, now: Instant, outcome: Outcome) -> Option<Verdict> {
        self.in_flight.take()?;
        let verdict = match outcome {
            Outcome::Status(200..=299) => {
                self.delivered += 1;
                self.queue.pop_front();
                self.consecutive_failures = 0;
                self.not_before = now;
                Verdict::Delivered
            }
            Outcome::Status(status) if !is_retried(status) => {
                self.failed_attempts += 1;
                self.rejected += 1;
                self.queue.pop_front();
                self.consecutive_failures = 0;
                self.not_before = now;
                Verdict::Rejected { status }
            }
            Outcome::Status(_) | Outcome::Failed(_) => {
                self.failed_attempts += 1;
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let delay = self.jitter(self.backoff(self.consecutive_failures));
                self.not_before = clock::after(now, delay);
                Verdict::Retry {
                    at: self.not_before,
                    consecutive_failures: self.consecutive_failures,
                }
            }
        };
        Some(verdict)
    }

    /// When the loop must next call [`Webhook::timed_out`] (an attempt is
    /// in flight: its timeout) or [`Webhook::next_attempt`] (alerts wait:
    /// the end of the backoff, possibly already past); `None` when idle.
    pub fn deadline(&self) -> Option<Instant> {
        match self.in_flight {
            Some(started) => Some(clock::after(started, self.cfg.timeout)),
            None if !self.queue.is_empty() => Some(self.not_before),
            None => None,
        }
    }

    /// Whether the attempt in flight has run for [`WebhookConfig::timeout`]
    /// or longer by `now`. The caller then abandons it and reports
    /// [`Failure::TimedOut`].
    pub fn timed_out(&self, now: Instant) -> bool {
        self.in_flight
            .is_some_and(|started| now >= clock::after(started, self.cfg.timeout))
    }

    /// The counters and the queue right now.
    pub fn stats(&self) -> WebhookStats {
        WebhookStats {
            delivered: self.delivered,
            failed_attempts: self.failed_attempts,
            rejected: self.rejected,
            dropped: self.dropped,
            queued: self.queue.len(),
            in_flight: self.in_flight.is_some(),
            consecutive_failures: self.consecutive_failures,
        }
    }

    fn waiting(&self) -> usize {
        self.queue.len() - usize::from(self.in_flight.is_some())
    }

    /// The backoff ceiling after `failures` failures in a row (at least 1):
    /// `backoff_min` doubled `failures - 1` times, capped at `backoff_max`.
    fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.cfg
            .backoff_min
            .saturating_mul(1u32 << doublings)
            .min(self.cfg.backoff_max)
    }

    /// Uniform in `[d/2, d]`: spreads out retries from many daemons while
    /// keeping the doubling.
    fn jitter(&mut self, d: Duration) -> Duration {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let half = ns / 2;
        let span = ns - half;
        let offset = match span.checked_add(1) {
            Some(n) => self.next_random() % n,
            None => self.next_random(),
        };
        Duration::from_nanos(half + offset.min(span))
    }

    /// xorshift64*: plenty for jitter, and no dependency.
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Whether an attempt that got `status` (not 2xx) is tried again: the
/// receiver is failing or asks us to slow down, rather than refusing the
/// payload.
fn is_retried(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// `{"text": <text>}`, with the text escaped as a JSON string.
fn slack_body(text: &str) -> Vec<u8> {
    format!("{{\"text\":{}}}", Value::String(text.to_owned())).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn at_ms(ms: u64) -> Instant {
        Instant::from_nanos(ms * MS)
    }

    fn cfg() -> WebhookConfig {
        WebhookConfig::default()
    }

    fn alert(n: u32) -> Vec<u8> {
        format!("{{\"n\":{n}}}").into_bytes()
    }

    /// Starts an attempt at `now` and returns its body as text.
    fn start(w: &mut Webhook, now: Instant) -> Option<String> {
        w.next_attempt(now)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    fn refused() -> Outcome {
        Outcome::Failed(Failure::Connect(io::ErrorKind::ConnectionRefused))
    }

    #[test]
    fn idle_has_nothing_to_do() {
        let mut w = Webhook::new(cfg(), 1);
        assert_eq!(w.deadline(), None);
        assert_eq!(w.next_attempt(at_ms(0)), None);
        assert!(!w.timed_out(at_ms(10_000_000)));
        assert_eq!(w.attempt_done(at_ms(0), Outcome::Status(200)), None);
        assert_eq!(w.stats(), WebhookStats::default());
    }

    #[test]
    fn delivers_in_order_one_at_a_time() {
        let mut w = Webhook::new(cfg(), 1);
        w.enqueue(alert(1), String::new());
        w.enqueue(alert(2), String::new());
        assert_eq!(w.deadline(), Some(at_ms(0)));
        assert_eq!(start(&mut w, at_ms(0)).as_deref(), Some("{\"n\":1}"));
        assert_eq!(w.next_attempt(at_ms(0)), None, "one attempt in flight");
        assert_eq!(w.stats().queued, 2);
        assert!(w.stats().in_flight);
        let done = w.attempt_done(at_ms(3), Outcome::Status(204));
        assert_eq!(done, Some(Verdict::Delivered));
        assert_eq!(start(&mut w, at_ms(3)).as_deref(), Some("{\"n\":2}"));
        assert_eq!(
            w.attempt_done(at_ms(4), Outcome::Status(200)),
            Some(Verdict::Delivered)
        );
        let s = w.stats();
        assert_eq!((s.delivered, s.failed_attempts, s.queued), (2, 0, 0));
        assert_eq!(w.deadline(), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let w = Webhook::new(cfg(), 1);
        let ms: Vec<u128> = (1..=14).map(|n| w.backoff(n).as_millis()).collect();
        assert_eq!(
            ms,
            [
                100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000,
                60000
            ]
        );
        assert_eq!(w.backoff(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn retries_follow_the_backoff_within_jitter_bounds() {
        let mut w = Webhook::new(cfg(), 7);
        w.enqueue(alert(1), String::new());
        let mut now = at_ms(0);
        for n in 1..=20u32 {
            assert!(w.next_attempt(now).is_some(), "attempt {n}");
            let Some(Verdict::Retry {
                at,
                consecutive_failures,
            }) = w.attempt_done(now, refused())
            else {
                panic!("attempt {n} not retried");
            };
            assert_eq!(consecutive_failures, n);
            let d = u64::try_from(w.backoff(n).as_nanos()).unwrap_or(u64::MAX);
            let waited = at.nanos_since(now);
            assert!(d / 2 <= waited && waited <= d, "{n}: {waited} vs {d}");
            assert_eq!(w.deadline(), Some(at));
            let just_before = Instant::from_nanos(at.as_nanos() - 1);
            assert_eq!(w.next_attempt(just_before), None, "backoff not over");
            now = at;
        }
        let s = w.stats();
        assert_eq!((s.failed_attempts, s.consecutive_failures), (20, 20));
        assert_eq!(s.delivered, 0);
    }

    #[test]
    fn jitter_stays_in_bounds_and_differs_across_seeds() {
        let d = Duration::from_millis(800);
        let draws = |seed: u64| -> Vec<Duration> {
            let mut w = Webhook::new(cfg(), seed);
            (0..200).map(|_| w.jitter(d)).collect()
        };
        let (a, b, zero) = (draws(1), draws(2), draws(0));
        for x in a.iter().chain(&b).chain(&zero) {
            assert!(Duration::from_millis(400) <= *x && *x <= d, "{x:?}");
        }
        assert_ne!(a, b);
        assert_ne!(a, zero);
        assert_eq!(a, draws(1), "the same seed gives the same schedule");
        // Spread across the range, not stuck at one end.
        let low = a
            .iter()
            .filter(|x| **x < Duration::from_millis(600))
            .count();
        assert!((40..160).contains(&low), "{low} of 200 in the lower half");
        // Degenerate widths.
        let mut w = Webhook::new(cfg(), 3);
        assert_eq!(w.jitter(Duration::ZERO), Duration::ZERO);
        let one = w.jitter(Duration::from_nanos(1));
        assert!(one <= Duration::from_nanos(1));
        let huge = w.jitter(Duration::MAX);
        assert!(huge >= Duration::from_nanos(u64::MAX / 2));
    }

    #[test]
    fn down_then_up_delivers_exactly_once() {
        let mut w = Webhook::new(cfg(), 42);
        w.enqueue(alert(1), String::new());
        let mut now = at_ms(0);
        let mut sent = 0;
        for status in [None, Some(503), None, Some(502), Some(200)] {
            assert!(w.next_attempt(now).is_some());
            sent += 1;
            let outcome = match status {
                Some(s) => Outcome::Status(s),
                None => Outcome::Failed(Failure::Io(io::ErrorKind::ConnectionReset)),
            };
            match w.attempt_done(now, outcome) {
                Some(Verdict::Retry { at, .. }) => now = at,
                Some(Verdict::Delivered) => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(sent, 5);
        let s = w.stats();
        assert_eq!((s.delivered, s.failed_attempts, s.queued), (1, 4, 0));
        assert_eq!(s.consecutive_failures, 0);
        // Delivered means gone: nothing is ever sent again.
        for t in [now, at_ms(1_000_000)] {
            assert_eq!(w.next_attempt(t), None);
        }
        assert_eq!(w.deadline(), None);
    }

    #[test]
    fn delivery_resets_the_backoff() {
        let mut w = Webhook::new(cfg(), 5);
        w.enqueue(alert(1), String::new());
        w.enqueue(alert(2), String::new());
        w.next_attempt(at_ms(0));
        w.attempt_done(at_ms(0), refused());
        let retry = w.deadline().unwrap_or_default();
        w.next_attempt(retry);
        w.attempt_done(retry, Outcome::Status(201));
        assert_eq!(w.deadline(), Some(retry), "the next alert goes at once");
        assert_eq!(start(&mut w, retry).as_deref(), Some("{\"n\":2}"));
        let Some(Verdict::Retry { at, .. }) = w.attempt_done(retry, refused()) else {
            panic!("not retried");
        };
        assert!(at.nanos_since(retry) <= 100 * MS, "back to backoff_min");
    }

    #[test]
    fn queue_overflow_drops_the_oldest_waiting() {
        let mut w = Webhook::new(WebhookConfig { queue: 3, ..cfg() }, 1);
        for n in 1..=3 {
            w.enqueue(alert(n), String::new());
        }
        assert_eq!(w.stats().dropped, 0);
        w.enqueue(alert(4), String::new());
        assert_eq!(w.stats().dropped, 1);
        assert_eq!(w.stats().queued, 3);
        // 1 was dropped; 2 goes first and is in flight while more arrive.
        assert_eq!(start(&mut w, at_ms(0)).as_deref(), Some("{\"n\":2}"));
        w.enqueue(alert(5), String::new()); // waiting: 3 4 5
        w.enqueue(alert(6), String::new()); // drops 3, not the in-flight 2
        let s = w.stats();
        assert_eq!((s.dropped, s.queued), (2, 4));
        w.attempt_done(at_ms(1), Outcome::Status(200));
        let mut order = Vec::new();
        while let Some(body) = start(&mut w, at_ms(1)) {
            order.push(body);
            w.attempt_done(at_ms(1), Outcome::Status(200));
        }
        assert_eq!(order, ["{\"n\":4}", "{\"n\":5}", "{\"n\":6}"]);
        assert_eq!(w.stats().delivered, 4);
    }

    #[test]
    fn queue_of_one_keeps_the_in_flight_alert() {
        let mut w = Webhook::new(WebhookConfig { queue: 0, ..cfg() }, 1);
        assert_eq!(w.config().queue, 1);
        w.enqueue(alert(1), String::new());
        w.next_attempt(at_ms(0));
        w.enqueue(alert(2), String::new());
        w.enqueue(alert(3), String::new());
        assert_eq!(w.stats().dropped, 1);
        w.attempt_done(at_ms(0), Outcome::Status(200));
        assert_eq!(start(&mut w, at_ms(0)).as_deref(), Some("{\"n\":3}"));
    }

    #[test]
    fn client_errors_are_rejected_not_retried() {
        for status in [400, 401, 403, 404, 410, 413, 422, 301, 302] {
            let mut w = Webhook::new(cfg(), 1);
            w.enqueue(alert(1), String::new());
            w.enqueue(alert(2), String::new());
            w.next_attempt(at_ms(0));
            assert_eq!(
                w.attempt_done(at_ms(1), Outcome::Status(status)),
                Some(Verdict::Rejected { status })
            );
            let s = w.stats();
            assert_eq!((s.rejected, s.failed_attempts, s.delivered), (1, 1, 0));
            assert_eq!(s.consecutive_failures, 0);
            assert_eq!(
                start(&mut w, at_ms(1)).as_deref(),
                Some("{\"n\":2}"),
                "{status}: the next alert goes at once"
            );
        }
    }

    #[test]
    fn throttling_and_server_errors_are_retried() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            let mut w = Webhook::new(cfg(), 1);
            w.enqueue(alert(1), String::new());
            w.next_attempt(at_ms(0));
            let verdict = w.attempt_done(at_ms(0), Outcome::Status(status));
            assert!(
                matches!(verdict, Some(Verdict::Retry { .. })),
                "{status}: {verdict:?}"
            );
            let s = w.stats();
            assert_eq!((s.rejected, s.failed_attempts, s.queued), (0, 1, 1));
            assert_eq!(w.next_attempt(at_ms(0)), None);
            assert_eq!(start(&mut w, at_ms(100)).as_deref(), Some("{\"n\":1}"));
        }
    }

    #[test]
    fn timeout_detection() {
        let mut w = Webhook::new(cfg(), 1);
        w.enqueue(alert(1), String::new());
        w.next_attempt(at_ms(1_000));
        assert_eq!(w.deadline(), Some(at_ms(6_000)));
        assert!(!w.timed_out(at_ms(5_999)));
        assert!(w.timed_out(at_ms(6_000)));
        let verdict = w.attempt_done(at_ms(6_000), Outcome::Failed(Failure::TimedOut));
        assert!(matches!(verdict, Some(Verdict::Retry { .. })));
        assert!(!w.timed_out(at_ms(60_000)), "nothing in flight");
        assert_eq!(w.stats().failed_attempts, 1);
    }

    #[test]
    fn config_clamps() {
        let w = Webhook::new(
            WebhookConfig {
                backoff_min: Duration::ZERO,
                backoff_max: Duration::ZERO,
                ..cfg()
            },
            1,
        );
        assert_eq!(w.config().backoff_min, Duration::from_millis(1));
        assert_eq!(w.config().backoff_max, Duration::from_millis(1));
        assert_eq!(w.backoff(1), Duration::from_millis(1));
    }

    #[test]
    fn json_format_sends_the_alert_as_given() {
        let mut w = Webhook::new(cfg(), 1);
        w.enqueue(br#"{"rule":"x","count":3}"#.to_vec(), "ignored".into());
        assert_eq!(
            w.next_attempt(at_ms(0)),
            Some(&br#"{"rule":"x","count":3}"#[..])
        );
    }

    #[test]
    fn slack_body_escapes_the_text() {
        let mut w = Webhook::new(
            WebhookConfig {
                format: Format::Slack,
                ..cfg()
            },
            1,
        );
        let text = "High \"Error\" Rate\nline 2\ttab \\ back é 日本 🚨 \u{1}";
        w.enqueue(b"{\"unused\":1}".to_vec(), text.into());
        let body = start(&mut w, at_ms(0)).unwrap_or_default();
        assert_eq!(
            body,
            "{\"text\":\"High \\\"Error\\\" Rate\\nline 2\\ttab \\\\ back é 日本 🚨 \\u0001\"}"
        );
        let parsed: Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(parsed, serde_json::json!({ "text": text }));
    }

    #[test]
    fn failure_messages() {
        let msgs = [
            Failure::Connect(io::ErrorKind::ConnectionRefused).to_string(),
            Failure::TimedOut.to_string(),
            Failure::Response(ResponseError::ClosedBeforeStatus { received: 0 }).to_string(),
        ];
        assert!(msgs[0].contains("connect"), "{msgs:?}");
        assert!(msgs[1].contains("timeout"), "{msgs:?}");
        assert!(msgs[2].contains("closed"), "{msgs:?}");
    }
}
