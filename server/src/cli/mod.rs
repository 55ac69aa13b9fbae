//! The offline commands (`spool cat`, `spool tail`, `spool stats`,
//! `spool verify`), how
//! every `spool` command words a usage error, and the exit statuses they
//! all use.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure a restart may fix: an IO error, a failed write or sync (the daemon exits so recovery runs), the data directory locked by another process |
//! | 2 | usage: a bad flag or value |
//! | 3 | the log is damaged: corruption, or segments or acknowledged records missing. A restart cannot fix it; an operator must look (`spool verify`) |
//! | 4 | `spool cat`, `spool tail`: records were deleted by retention (or declared lost) before they could be read; each gap was reported on stderr |

pub mod args;
pub mod cat;
pub mod filters;
pub mod stats;
pub mod tail;
mod term;
pub mod verify;
mod walk;

use std::process::ExitCode;

pub use args::Usage;
pub use term::grouped;

/// Success.
pub const EXIT_OK: u8 = 0;
/// A failure a restart may fix (IO, a failed write, a held lock).
pub const EXIT_FAILURE: u8 = 1;
/// Bad command-line usage.
pub const EXIT_USAGE: u8 = 2;
/// The log is damaged; an operator must look. Supervisors should not
/// restart on it (`RestartPreventExitStatus=3`).
pub const EXIT_DAMAGED: u8 = 3;
/// `spool cat` reported gaps: records deleted before they were read.
pub const EXIT_GAP: u8 = 4;

/// Prints a usage error on stderr and returns its exit status (2).
pub fn usage_exit(u: &Usage) -> ExitCode {
    eprintln!("{u}");
    ExitCode::from(EXIT_USAGE)
}
