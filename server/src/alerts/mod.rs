//! Alerts in the daemon (issue 8, in progress): rules as users write them.
//! The windows themselves are `spool_core::alert`.
//!
//! - [`rules`]: a rule set from a TOML file (`--alert-rules`, not wired
//!   yet) or a JSON body (`PUT /alerts/rules`, not wired yet), checked as a
//!   whole; an error names the rule and the field.
//! - [`webhook`]: delivery to `--alert-webhook URL` (not wired yet) as a
//!   state machine without IO: bounded queue, retries with backoff and
//!   jitter, counters. The event loop owns the socket and the clock.

pub mod rules;
pub mod webhook;
