//! spool-server: the `spool` daemon and the embeddable log.
//!
//! - [`log`]: [`Log`], the blocking library API (open, append, close).
//! - [`storage`]: segment files, the IO executor, recovery at open.
//! - `event_loop`: the mio loop that owns sockets and drives the log.
//! - `config`: flags and `SPOOL_*` environment variables.

pub mod cli;
pub mod log;
pub mod storage;

pub use log::Log;
pub mod config;
pub mod event_loop;
pub mod routes;
