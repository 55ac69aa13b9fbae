//! The daemon reads its two clocks here, and nowhere else.
//!
//! [`mono`] is `CLOCK_MONOTONIC` (through `std::time::Instant`) as
//! nanoseconds since the first reading in this process; it drives every
//! timeout, retry and deadline. [`wall`] is `CLOCK_REALTIME`; it stamps
//! records and ages sealed segments for retention. See [`spool_core::time`].

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use spool_core::time::{Instant, Now, UnixNanos};

static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();

/// The monotonic clock.
pub fn mono() -> Instant {
    let origin = *ORIGIN.get_or_init(std::time::Instant::now);
    let ns = std::time::Instant::now()
        .saturating_duration_since(origin)
        .as_nanos();
    Instant::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// The wall clock (0 if it reads before 1970).
pub fn wall() -> UnixNanos {
    UnixNanos(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
    )
}

/// Both clocks, read once.
pub fn now() -> Now {
    Now {
        mono: mono(),
        wall: wall(),
    }
}

/// `d` later on the monotonic clock.
pub fn after(t: Instant, d: Duration) -> Instant {
    t.add_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// How long from `now` until `deadline` (zero if it has passed).
pub fn until(now: Instant, deadline: Instant) -> Duration {
    Duration::from_nanos(deadline.nanos_since(now))
}
