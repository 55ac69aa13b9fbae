//! The two clocks the core is given, as two types so they cannot be mixed.
//!
//! [`Instant`] is monotonic: nanoseconds since an origin the caller fixes
//! (process start, a simulation's zero). It never steps backwards, so it
//! drives every timeout, retry and deadline: the disk-full retry, age
//! rotation, and in the server idle and request timeouts. [`UnixNanos`] is
//! the wall clock: it stamps records and ages sealed segments for
//! retention (the only clock that survives a restart), and it may step in
//! either direction. The core reads neither: callers pass a [`Now`] in.

/// A monotonic instant: nanoseconds since the caller's fixed origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The instant `ns` nanoseconds after the origin.
    pub const fn from_nanos(ns: u64) -> Instant {
        Instant(ns)
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `ns` nanoseconds later (saturating).
    pub const fn add_nanos(self, ns: u64) -> Instant {
        Instant(self.0.saturating_add(ns))
    }

    /// Nanoseconds from `earlier` to `self`; 0 if `earlier` is later.
    pub const fn nanos_since(self, earlier: Instant) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Wall-clock time: nanoseconds since the Unix epoch, as the system clock
/// says (it can be stepped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixNanos(pub u64);

/// Both clocks, read once by the caller for one step of a state machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Now {
    /// For timeouts, retries and deadlines.
    pub mono: Instant,
    /// For record timestamps and retention age.
    pub wall: UnixNanos,
}

impl Now {
    /// Both clocks at the same reading: for tests and simulations in which
    /// the wall clock never steps.
    pub const fn at(ns: u64) -> Now {
        Now {
            mono: Instant(ns),
            wall: UnixNanos(ns),
        }
    }
}
