//! spool-core: the sans-IO heart of Spool.
//!
//! Nothing here calls the operating system or reads a clock: bytes and time
//! are passed in, decisions and IO requests come out. The crate is `no_std`
//! (with `alloc`) so it can be embedded; the `std` feature adds only the
//! thread handoff the server uses.
//!
//! Where to find things:
//! - [`entry`]: a log entry and its payload encoding; levels.
//! - [`record`]: the on-disk record frame (length, CRC32, sequence number) and
//!   segment header.
//! - [`commit`]: the group-commit state machine.
//! - [`segment`]: rotation and retention decisions.
//! - [`recover`]: the recovery scan (logical end, torn tail versus corruption).
//! - [`mark`]: the log mark (newest segment, durable and id bounds, clean
//!   shutdown) that start-up checks the segments against.
//! - [`read`]: the reader every consumer of the log uses: consecutive ids
//!   or a declared gap, across rotation and retention.
//! - [`time`]: the two clocks passed in: monotonic [`time::Instant`] for
//!   deadlines, wall-clock [`time::UnixNanos`] for timestamps and retention.
//! - [`index`]: per-segment block summaries (ids, byte range, time range,
//!   levels, services) built as records are written, and their persisted
//!   form.
//! - [`query`]: what `/logs` means: the filter, parameter parsing, the
//!   paging cursor, the plan of blocks to read and the scan of one block.
//! - `handoff` (feature `std`): the producer / IO-thread handoff, loom-checked.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(any(feature = "std", test, loom))]
extern crate std;

pub mod alert;
pub mod commit;
pub mod entry;
#[cfg(any(feature = "std", loom))]
pub mod handoff;
pub mod index;
pub mod mark;
pub mod query;
pub mod read;
pub mod record;
pub mod recover;
pub mod segment;
#[cfg(any(feature = "std", loom))]
mod sync;
pub mod time;
