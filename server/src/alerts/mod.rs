//! Alerts in the daemon. The windows themselves are `spool_core::alert`
//! (sans-IO); the event loop's side is `runtime::alerts` and
//! `runtime::webhook`.
//!
//! - [`rules`]: the rule set from `--alert-rules FILE` (TOML) or a JSON
//!   body (`PUT /alerts/rules`, saved in the data directory), checked as a
//!   whole; an error names the rule and the field.
//! - [`engine`]: which rules select each submitted record; counting once
//!   the record is durable; the alerts that fire.
//! - [`feed`]: records submitted off the loop (`/simulate`) reach the
//!   windows too.
//! - [`record`]: a fired alert as a log record of service `spool`, and
//!   the JSON object it is delivered as.
//! - [`checkpoint`]: the windows saved as they are (once a second while
//!   they change, and at shutdown), so a restart puts them back by arrival
//!   time.
//! - [`restore`]: start-up puts the windows and cooldowns back, from the
//!   checkpoint and the log.
//! - [`webhook`]: delivery to `--alert-webhook URL` as a state machine
//!   without IO: bounded queue, retries with backoff and jitter, counters.

pub mod checkpoint;
pub mod engine;
pub mod feed;
pub mod record;
pub mod restore;
pub mod rules;
pub mod webhook;
