//! The offline commands (`spool cat`, `spool verify`) and the exit statuses
//! every `spool` command uses.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure a restart may fix: an IO error, a failed write or sync (the daemon exits so recovery runs), the data directory locked by another process |
//! | 2 | usage: a bad flag or value |
//! | 3 | the log is damaged: corruption, or segments or acknowledged records missing. A restart cannot fix it; an operator must look (`spool verify`) |
//! | 4 | `spool cat`: records were deleted by retention (or declared lost) before they could be read; each gap was reported on stderr |

pub mod cat;
pub mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

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

/// Parses `--data-dir DIR` (default `SPOOL_DATA_DIR`, then `./spool-data`),
/// the only option of the offline commands.
pub fn data_dir_arg(args: &mut lexopt::Parser) -> Result<PathBuf, ExitCode> {
    let mut dir = std::env::var_os("SPOOL_DATA_DIR")
        .map_or_else(|| PathBuf::from("./spool-data"), PathBuf::from);
    loop {
        match args.next() {
            Ok(Some(lexopt::Arg::Long("data-dir"))) => match args.value() {
                Ok(v) => dir = PathBuf::from(v),
                Err(e) => return Err(usage_error(&e.to_string())),
            },
            Ok(None) => return Ok(dir),
            Ok(Some(other)) => return Err(usage_error(&format!("unexpected argument {other:?}"))),
            Err(e) => return Err(usage_error(&e.to_string())),
        }
    }
}

/// Reports a usage error and returns its exit status.
pub fn usage_error(msg: &str) -> ExitCode {
    eprintln!("spool: {msg} (see spool --help)");
    ExitCode::from(EXIT_USAGE)
}
