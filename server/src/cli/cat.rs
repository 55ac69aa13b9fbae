//! `spool cat`: the records of a data directory, in id order (or newest
//! first), selected with the filters of `GET /logs`, while a daemon may be
//! writing it.
//!
//! Selection is [`Filter::matches`], the one test `/logs` uses too, so the
//! two agree by construction. The pass over the log is [`walk`]'s: every
//! gap is named on stderr whether or not a filter would have kept its
//! records (exit status 4), damage stops it (status 3). Output is NDJSON
//! for programs, or one readable line per record, coloured by level, for a
//! person at a terminal. `--reverse` holds back at most `--limit` lines (a
//! ring of the newest matches); without `--limit` it holds every matching
//! line. A forward `--limit` stops reading at the last line it prints, so
//! it does not look for gaps or damage past it.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use spool_core::entry::EntryRef;
use spool_core::query::{Filter, PreparedFilter};
use spool_core::record::Lsn;
use spool_proto::format_rfc3339_nanos;

use super::args::{
    default_data_dir, parse_format, ArgError, CommandSpec, FlagSpec, Format, Given, Usage,
    DATA_DIR, FORMAT, HELP,
};
use super::filters;
use super::walk::{walk, Sink};
use super::{term, EXIT_FAILURE, EXIT_GAP, EXIT_OK};

/// `spool cat`'s flags and help.
pub static SPEC: CommandSpec = CommandSpec {
    name: "cat",
    summary: "print the records of a data directory, oldest first (gaps and damage on stderr)",
    flags: &[
        DATA_DIR,
        filters::LEVEL,
        filters::SERVICE,
        filters::SINCE,
        filters::UNTIL,
        filters::GREP,
        filters::GREP_I,
        FlagSpec {
            long: "limit",
            short: None,
            value: Some("N"),
            help: "print at most N records (a whole number, 1 or more)",
        },
        FlagSpec {
            long: "reverse",
            short: None,
            value: None,
            help: "newest first (with --limit: the N newest matches)",
        },
        FORMAT,
        HELP,
    ],
    notes: "Filters are those of GET /logs; every one given must hold. Times are the
records' own timestamps, so --since/--until read the whole log. Gaps
(records deleted by retention before they were read) are reported on
stderr whatever the filters, and make the exit status 4; damage stops
cat with status 3. With --limit and without --reverse, cat stops after
the Nth record and does not look further. Without --limit, --reverse
holds every matching record in memory.

NDJSON when stdout is not a terminal (the same lines as GET /logs
records); on a terminal, one line per record coloured by level (NO_COLOR
turns colour off), with control characters in record text escaped.
",
};

/// What `spool cat` was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatOptions {
    /// The data directory.
    pub dir: PathBuf,
    /// Which records to print.
    pub filter: Filter,
    /// Print at most this many.
    pub limit: Option<u64>,
    /// Newest first.
    pub reverse: bool,
    /// `None`: by whether stdout is a terminal.
    pub format: Option<Format>,
}

/// What the command line asked for: run, or print the help.
#[derive(Debug)]
pub enum Parsed {
    /// Run with these options.
    Run(CatOptions),
    /// `--help`.
    Help,
}

/// Parses `spool cat`'s flags.
pub fn parse(args: &mut lexopt::Parser) -> Result<Parsed, Usage> {
    let given = SPEC.parse(args)?;
    options(given).map_err(|error| Usage {
        command: SPEC.name,
        error,
    })
}

fn options(given: Vec<Given>) -> Result<Parsed, ArgError> {
    let mut o = CatOptions {
        dir: default_data_dir(),
        filter: Filter::default(),
        limit: None,
        reverse: false,
        format: None,
    };
    let mut filter = filters::FilterFlags::default();
    let once = |flag: &'static FlagSpec, set: bool| {
        if set {
            Err(ArgError::Twice { flag: flag.long })
        } else {
            Ok(())
        }
    };
    let bad = |flag: &'static FlagSpec, why: String| ArgError::BadValue {
        flag: flag.long,
        why,
    };
    for (flag, value) in given {
        let value = match filter.take(flag, value)? {
            None => continue,
            Some(value) => value,
        };
        match flag.long {
            "help" => return Ok(Parsed::Help),
            "data-dir" => o.dir = PathBuf::from(value.unwrap_or_default()),
            "limit" => {
                once(flag, o.limit.is_some())?;
                let text = flag.text(value)?;
                match text.trim().parse::<u64>() {
                    Ok(n) if n > 0 => o.limit = Some(n),
                    _ => {
                        return Err(bad(
                            flag,
                            format!("{text:?} is not a whole number of records, 1 or more"),
                        ))
                    }
                }
            }
            "reverse" => o.reverse = true,
            "format" => {
                once(flag, o.format.is_some())?;
                o.format = Some(parse_format(&flag.text(value)?)?);
            }
            // Every flag of SPEC is handled above.
            other => return Err(SPEC.unknown_flag(other)),
        }
    }
    o.filter = filter.finish()?;
    Ok(Parsed::Run(o))
}

/// Runs `spool cat`, writing records to stdout.
pub fn run(o: &CatOptions) -> ExitCode {
    let render = Render::for_stdout(o.format);
    let filter = o.filter.clone().prepare();
    let stdout = io::stdout();
    let out = io::BufWriter::new(stdout.lock());
    let walked = if o.reverse {
        let mut sink = NewestFirst {
            out,
            filter: &filter,
            render,
            keep: o.limit.unwrap_or(u64::MAX),
            held: VecDeque::new(),
            spare: Vec::new(),
        };
        walk(&o.dir, &mut sink, "printed")
    } else {
        let mut sink = OldestFirst {
            out,
            filter: &filter,
            render,
            left: o.limit.unwrap_or(u64::MAX),
            line: Vec::with_capacity(512),
        };
        walk(&o.dir, &mut sink, "printed")
    };
    let walked = match walked {
        Ok(w) => w,
        Err(code) => return ExitCode::from(code),
    };
    if walked.not_entries > 0 {
        eprintln!(
            "spool: {} record(s) were not log entries and were not printed",
            walked.not_entries
        );
        return ExitCode::from(EXIT_FAILURE);
    }
    ExitCode::from(if walked.gaps > 0 { EXIT_GAP } else { EXIT_OK })
}

/// How one record becomes one line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Render {
    format: Format,
    colour: bool,
}

impl Render {
    /// `format`, or by whether stdout is a terminal: NDJSON for programs,
    /// readable coloured lines for a person.
    pub(crate) fn for_stdout(format: Option<Format>) -> Render {
        let on_terminal = term::stdout_is_terminal();
        let format = format.unwrap_or(if on_terminal {
            Format::Text
        } else {
            Format::Json
        });
        Render {
            format,
            colour: format == Format::Text && on_terminal && term::colour_allowed(),
        }
    }

    /// Appends the record's line, newline included.
    pub(crate) fn line(&self, id: Lsn, e: &EntryRef<'_>, out: &mut Vec<u8>) {
        match self.format {
            Format::Json => spool_proto::decode::entry_to_json(id.0, e, out),
            Format::Text => out.extend_from_slice(readable_line(id, e, self.colour).as_bytes()),
        }
        out.push(b'\n');
    }
}

/// `#12  2026-01-02T15:04:05.123Z  ERROR     payments  message  {"k":1}`:
/// millisecond time, the level in its colour, text escaped for a terminal.
fn readable_line(id: Lsn, e: &EntryRef<'_>, colour: bool) -> String {
    let mut line = String::with_capacity(64 + e.message.len() + e.metadata.len());
    term::paint(&mut line, &format!("#{id}"), term::DIM, colour);
    line.push_str("  ");
    let mut ts = String::with_capacity(30);
    format_rfc3339_nanos(e.timestamp_ns, &mut ts);
    // `YYYY-MM-DDTHH:MM:SS.mmm` of `...mmmuuunnnZ`.
    ts.truncate(23);
    ts.push('Z');
    term::paint(&mut line, &ts, term::DIM, colour);
    line.push_str("  ");
    term::paint_level(&mut line, e.level, colour);
    line.push_str("  ");
    if !e.service.is_empty() {
        let mut service = String::new();
        term::push_printable(&mut service, e.service);
        term::paint(&mut line, &service, "1", colour);
        line.push_str("  ");
    }
    term::push_printable(&mut line, e.message);
    let metadata = e.metadata.trim();
    if !metadata.is_empty() && metadata != "{}" {
        line.push_str("  ");
        let mut meta = String::new();
        term::push_printable(&mut meta, metadata);
        term::paint(&mut line, &meta, term::DIM, colour);
    }
    line
}

/// Prints each match as it is read, up to the limit.
struct OldestFirst<'f, W: Write> {
    out: W,
    filter: &'f PreparedFilter,
    render: Render,
    left: u64,
    line: Vec<u8>,
}

impl<W: Write> Sink for OldestFirst<'_, W> {
    fn entry(&mut self, id: Lsn, e: &EntryRef<'_>) -> io::Result<bool> {
        if !self.filter.matches(e) {
            return Ok(true);
        }
        self.line.clear();
        self.render.line(id, e, &mut self.line);
        self.out.write_all(&self.line)?;
        self.left -= 1;
        Ok(self.left > 0)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Holds the newest `keep` matches (rendered) and prints them, newest
/// first, when the pass ends.
struct NewestFirst<'f, W: Write> {
    out: W,
    filter: &'f PreparedFilter,
    render: Render,
    keep: u64,
    /// Oldest at the front.
    held: VecDeque<Vec<u8>>,
    /// A line buffer to reuse.
    spare: Vec<u8>,
}

impl<W: Write> Sink for NewestFirst<'_, W> {
    fn entry(&mut self, id: Lsn, e: &EntryRef<'_>) -> io::Result<bool> {
        if !self.filter.matches(e) {
            return Ok(true);
        }
        if self.held.len() as u64 >= self.keep {
            if let Some(oldest) = self.held.pop_front() {
                self.spare = oldest;
            }
        }
        let mut line = std::mem::take(&mut self.spare);
        line.clear();
        self.render.line(id, e, &mut line);
        self.held.push_back(line);
        Ok(true)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        while let Some(line) = self.held.pop_back() {
            self.out.write_all(&line)?;
        }
        self.out.flush()
    }
}

/// `spool cat`'s entry point from `main`: parse, then run or print help.
pub fn main(args: &mut lexopt::Parser) -> ExitCode {
    match parse(args) {
        Ok(Parsed::Run(o)) => run(&o),
        Ok(Parsed::Help) => {
            print!("{}", SPEC.help());
            ExitCode::SUCCESS
        }
        Err(u) => super::usage_exit(&u),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spool_core::entry::Level;
    use spool_core::query::parse_levels;

    fn parse_args(args: &[&str]) -> Result<CatOptions, String> {
        let mut p = lexopt::Parser::from_args(args);
        match parse(&mut p) {
            Ok(Parsed::Run(o)) => Ok(o),
            Ok(Parsed::Help) => Err("help".into()),
            Err(u) => Err(u.to_string()),
        }
    }

    #[test]
    fn filters_from_flags() {
        let o = parse_args(&[
            "--level",
            ">=warn",
            "--service",
            "api,db",
            "--service=a,b",
            "--since",
            "1000",
            "--until",
            "2026-01-02T00:00:00Z",
            "--grep",
            "Disk",
            "-i",
            "--limit",
            "5",
            "--reverse",
        ])
        .unwrap();
        let f = &o.filter;
        assert_eq!(f.levels, parse_levels(">=WARN").unwrap());
        assert_eq!(
            f.services.as_deref(),
            Some(&["api".into(), "db".into(), "a".into(), "b".into()][..])
        );
        assert_eq!(f.since_ns, Some(1_000_000_000));
        assert_eq!(
            f.until_ns,
            spool_proto::parse_rfc3339("2026-01-02T00:00:00Z")
        );
        assert_eq!(f.text, Some((b"Disk".to_vec(), true)));
        assert_eq!((o.limit, o.reverse), (Some(5), true));
        let o = parse_args(&["--level", "ERROR", "--level", "debug"]).unwrap();
        assert_eq!(o.filter.levels, parse_levels("ERROR,DEBUG").unwrap());
        assert_eq!(parse_args(&[]).unwrap().filter, Filter::default());
        assert_eq!(parse_args(&["--help"]).unwrap_err(), "help");
    }

    #[test]
    fn mistakes_are_named() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["--level"], &["--level needs a value", ">=WARN"]),
            (&["--level", "loud"], &["--level", "\"loud\"", "CRITICAL"]),
            (&["--service", "a,,b"], &["--service", "empty service name"]),
            (
                &["--since", "yesterday"],
                &["--since", "RFC 3339", "milliseconds"],
            ),
            (&["--limit", "0"], &["--limit", "\"0\"", "1 or more"]),
            (&["--limit", "-3"], &["--limit", "\"-3\""]),
            (&["-i"], &["--grep-i", "--grep"]),
            (&["--grep", "a", "--grep", "b"], &["--grep is given twice"]),
            (&["--format", "xml"], &["--format", "json or text"]),
            (&["--reverse=1"], &["--reverse is a switch"]),
            (
                &["--levels", "x"],
                &[
                    "unknown flag --levels (did you mean --level?)",
                    "--level LEVELS",
                ],
            ),
            (&["ERROR"], &["\"ERROR\"", "only flags"]),
        ];
        for (args, mentions) in cases {
            let e = parse_args(args).unwrap_err();
            assert!(e.ends_with("(see spool cat --help)"), "{e}");
            for m in *mentions {
                assert!(e.contains(m), "{args:?}: {e:?} should mention {m:?}");
            }
        }
    }

    #[test]
    fn readable_lines() {
        let e = EntryRef {
            timestamp_ns: 1_767_366_245_123_456_789,
            level: Level::Error,
            service: "pay\x1bments",
            message: "card declined\nretrying",
            metadata: r#"{"attempt":2}"#,
        };
        assert_eq!(
            readable_line(Lsn(12), &e, false),
            "#12  2026-01-02T15:04:05.123Z  ERROR     pay\\u{1b}ments  card declined\\nretrying  {\"attempt\":2}"
        );
        let coloured = readable_line(Lsn(12), &e, true);
        assert!(coloured.contains("\x1b[31mERROR   \x1b[0m"), "{coloured:?}");
        let bare = EntryRef {
            service: "",
            metadata: "",
            ..e
        };
        assert!(readable_line(Lsn(1), &bare, false).ends_with("ERROR     card declined\\nretrying"));
    }

    #[test]
    fn newest_first_keeps_only_the_limit() {
        let mut out = Vec::new();
        let filter = Filter::default().prepare();
        {
            let mut sink = NewestFirst {
                out: &mut out,
                filter: &filter,
                render: Render {
                    format: Format::Json,
                    colour: false,
                },
                keep: 3,
                held: VecDeque::new(),
                spare: Vec::new(),
            };
            for i in 1..=10u64 {
                let e = EntryRef {
                    timestamp_ns: i,
                    level: Level::Info,
                    service: "",
                    message: "m",
                    metadata: "",
                };
                assert!(sink.entry(Lsn(i), &e).unwrap());
                assert!(sink.held.len() <= 3);
            }
            sink.finish().unwrap();
        }
        let ids: Vec<String> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
            .collect();
        assert_eq!(ids, ["\"10\"", "\"9\"", "\"8\""]);
    }
}
