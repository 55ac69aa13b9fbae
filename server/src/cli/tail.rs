//! `spool tail [-f]`: the records of a data directory from a starting
//! point, selected with the `/logs` filters; with `-f`, it then follows the
//! directory as a daemon writes it, across rotation and retention.
//!
//! Built on [`LogReader`] over the segment files and an inotify
//! [`DirWatch`] on the directory: after each change (and at least once a
//! second) the reader reads on from where it stopped. Only complete,
//! CRC-valid records are printed; bytes at the end that are not yet a
//! whole record are read again when they are. Gaps (records retention
//! deleted before they were read) are named on stderr and tail goes on;
//! damage stops it with status 3.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use spool_core::entry::EntryRef;
use spool_core::query::Filter;
use spool_core::read::{LogReader, ReadError, ReadItem, Start};
use spool_core::record::{Lsn, MAX_PAYLOAD_LEN};
use spool_core::recover::{scan_segment, Role};

use super::args::{
    default_data_dir, parse_format, ArgError, CommandSpec, FlagSpec, Format, Given, Usage,
    DATA_DIR, FORMAT, HELP,
};
use super::cat::Render;
use super::filters;
use super::{EXIT_DAMAGED, EXIT_FAILURE, EXIT_GAP, EXIT_OK};
use crate::storage::dir_store::DirStore;
use crate::storage::files::segment_file_name;
use crate::storage::recovery::{list_segments, read_mark};
use crate::storage::watch::DirWatch;

/// `spool tail`'s flags and help.
pub static SPEC: CommandSpec = CommandSpec {
    name: "tail",
    summary: "print records from a starting point; with -f, follow a data directory as it is written",
    flags: &[
        DATA_DIR,
        FlagSpec {
            long: "follow",
            short: Some('f'),
            value: None,
            help: "keep reading as records are written (across rotation and retention)",
        },
        FlagSpec {
            long: "from",
            short: None,
            value: Some("WHERE"),
            help: "oldest, now (the default: only records written from now on) or an id (the records after it)",
        },
        filters::LEVEL,
        filters::SERVICE,
        filters::SINCE,
        filters::UNTIL,
        filters::GREP,
        filters::GREP_I,
        FORMAT,
        HELP,
    ],
    notes: "Filters are those of GET /logs. Gaps (records deleted by retention before
tail read them) are reported on stderr and tail goes on (exit status 4
when it ends without -f); damage stops it with status 3. NDJSON when
stdout is not a terminal; on a terminal, one coloured line per record.
",
};

/// Where tail starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum From {
    /// The oldest record still in the log.
    Oldest,
    /// After the newest record now in the log.
    Now,
    /// After this id.
    After(Lsn),
}

/// What `spool tail` was asked for.
#[derive(Clone, Debug)]
pub struct TailOptions {
    /// The data directory.
    pub dir: PathBuf,
    /// Keep following.
    pub follow: bool,
    /// Where to start.
    pub from: From,
    /// Which records to print.
    pub filter: Filter,
    /// `None`: by whether stdout is a terminal.
    pub format: Option<Format>,
}

fn options(given: Vec<Given>) -> Result<Option<TailOptions>, ArgError> {
    let mut o = TailOptions {
        dir: default_data_dir(),
        follow: false,
        from: From::Now,
        filter: Filter::default(),
        format: None,
    };
    let mut filter = filters::FilterFlags::default();
    let mut from_given = false;
    for (flag, value) in given {
        let value: Option<OsString> = match filter.take(flag, value)? {
            None => continue,
            Some(value) => value,
        };
        match flag.long {
            "help" => return Ok(None),
            "data-dir" => o.dir = PathBuf::from(value.unwrap_or_default()),
            "follow" => o.follow = true,
            "from" => {
                if from_given {
                    return Err(ArgError::Twice { flag: flag.long });
                }
                from_given = true;
                let text = flag.text(value)?;
                o.from = match text.trim() {
                    "oldest" => From::Oldest,
                    "now" => From::Now,
                    id => From::After(Lsn(id.parse().map_err(|_| ArgError::BadValue {
                        flag: flag.long,
                        why: format!("{text:?} is not oldest, now or a record id"),
                    })?)),
                };
            }
            "format" => o.format = Some(parse_format(&flag.text(value)?)?),
            other => return Err(SPEC.unknown_flag(other)),
        }
    }
    o.filter = filter.finish()?;
    Ok(Some(o))
}

/// The id of the newest record in `dir` now (0 for none): where `--from
/// now` starts. Reads only the newest segments.
fn newest_id(dir: &std::path::Path) -> Result<Lsn, String> {
    let ids = list_segments(dir, false).map_err(|e| e.to_string())?;
    for &id in ids.iter().rev() {
        let path = dir.join(segment_file_name(id));
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        // Active: a record being written at the end is not an error here.
        if let Ok(scan) = scan_segment(id, &bytes, Role::Active, Lsn(0), MAX_PAYLOAD_LEN) {
            if let Some(last) = scan.last {
                return Ok(last);
            }
        }
    }
    Ok(Lsn(0))
}

/// Runs `spool tail`.
pub fn run(o: &TailOptions) -> ExitCode {
    let render = Render::for_stdout(o.format);
    // Watch before the first read, so nothing written in between is missed.
    let watch = if o.follow {
        match DirWatch::new(&o.dir) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("spool: cannot watch {}: {e}", o.dir.display());
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    } else {
        None
    };
    let start = match o.from {
        From::Oldest => Start::Oldest,
        From::After(id) => Start::After(id),
        From::Now => match newest_id(&o.dir) {
            Ok(Lsn(0)) => Start::Oldest,
            Ok(id) => Start::After(id),
            Err(e) => {
                eprintln!("spool: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
        },
    };
    let gaps_declared = match read_mark(&o.dir) {
        Ok(Ok(Some(mark))) => mark.gaps,
        _ => Vec::new(),
    };
    let mut reader = LogReader::new(start).with_gaps(&gaps_declared);
    let mut store = DirStore::new(&o.dir);
    let filter = o.filter.clone().prepare();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut line = Vec::with_capacity(512);
    let mut gaps = 0u64;
    loop {
        match reader.next(&mut store) {
            Ok(Some(ReadItem::Record { id, payload })) => {
                let Ok(entry) = EntryRef::decode(payload) else {
                    continue; // not a log entry (a raw library payload)
                };
                if !spool_proto::decode::metadata_is_object(entry.metadata)
                    || !filter.matches(&entry)
                {
                    continue;
                }
                line.clear();
                render.line(id, &entry, &mut line);
                if out.write_all(&line).is_err() {
                    return ExitCode::from(EXIT_OK); // the reader went away
                }
            }
            Ok(Some(ReadItem::Gap { from, to })) => {
                let _ = out.flush();
                gaps += 1;
                eprintln!(
                    "spool: records {from}..={to} were deleted before they were read (retention)"
                );
            }
            Ok(None) => {
                if out.flush().is_err() {
                    return ExitCode::from(EXIT_OK);
                }
                let Some(watch) = &watch else {
                    break;
                };
                // Woken by a change, or after a second at most.
                if let Err(e) = watch.wait(Duration::from_secs(1)) {
                    eprintln!("spool: watching {}: {e}", o.dir.display());
                    return ExitCode::from(EXIT_FAILURE);
                }
            }
            Err(ReadError::Corrupt(c)) => {
                let _ = out.flush();
                eprintln!("spool: the log is damaged: {c}; run spool verify");
                return ExitCode::from(EXIT_DAMAGED);
            }
            Err(ReadError::Store(e)) => {
                let _ = out.flush();
                eprintln!("spool: reading {}: {e}", o.dir.display());
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    }
    ExitCode::from(if gaps > 0 { EXIT_GAP } else { EXIT_OK })
}

/// `spool tail`'s entry point from `main`.
pub fn main(args: &mut lexopt::Parser) -> ExitCode {
    let parsed = SPEC.parse(args).and_then(|given| {
        options(given).map_err(|error| Usage {
            command: SPEC.name,
            error,
        })
    });
    match parsed {
        Ok(Some(o)) => run(&o),
        Ok(None) => {
            print!("{}", SPEC.help());
            ExitCode::SUCCESS
        }
        Err(u) => super::usage_exit(&u),
    }
}
