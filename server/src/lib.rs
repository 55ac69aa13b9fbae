//! spool-server: the `spool` daemon and the embeddable log.
//!
//! - [`embed`]: [`Log`], the blocking library API (open, append, close).
//! - [`reader`]: reading and following a [`Log`] from an id or a time.
//! - [`storage`]: segment files, the IO thread, recovery at open.
//! - [`runtime`]: the mio event loop: sockets, clock, timers, signals; it
//!   applies what the application decides.
//! - [`conn`]: per-connection buffers and protocol state (HTTP/1.1).
//! - [`app`]: routing and handlers: request in, outcome out.
//! - [`query`]: the read side: indexes, `/logs`, reader threads.
//! - [`metrics`]: histograms and the Prometheus text format.
//! - [`clock`]: the two clocks (monotonic for deadlines, wall for records).
//! - [`config`]: flags and `SPOOL_*` environment variables.
//! - [`cli`]: `spool cat`, `spool stats`, `spool verify`; usage errors and
//!   exit statuses.

pub mod alerts;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conn;
pub mod embed;
pub mod live;
pub mod metrics;
pub mod query;
pub mod reader;
pub mod runtime;
pub mod storage;

pub use embed::Log;
