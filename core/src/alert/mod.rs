//! Threshold alerts over sliding windows, sans-IO.
//!
//! A [`Rule`] selects records (a minimum level, optionally one service and
//! a substring of the message or metadata) and fires when `threshold` of
//! them arrive within `window` of each other; after firing it stays quiet
//! for `cooldown`. [`RuleWindow`] holds one rule's state: the arrival
//! times of at most [`MAX_THRESHOLD`] selected records, in a fixed-size
//! ring (no allocation, whatever the rate).
//!
//! Time is passed in. The daemon passes each record's **arrival time on
//! its monotonic clock**, never the producer's timestamp: a producer with a
//! wrong clock, or a batch of old records replayed, can neither trigger
//! nor suppress an alert, and no clock step moves a window.
//!
//! Not wired into the daemon yet (issue 8): rules are not loaded, nothing
//! evaluates them.

pub mod rule;
pub mod window;

pub use rule::{
    default_rules, validate_rules, Rule, RuleError, RuleField, MAX_NAME, MAX_RULES, MAX_THRESHOLD,
};
pub use window::{Fired, RuleWindow};
