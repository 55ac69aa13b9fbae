//! The flags of the offline commands and how every `spool` command words a
//! mistake on its command line.
//!
//! A command describes its flags once, in a [`CommandSpec`]; its `--help`
//! text and its parser both come from that table, so the two cannot
//! disagree. Every mistake is an [`ArgError`] that names the argument and
//! says what is accepted; [`Usage`] adds the command and points to its
//! `--help`. Usage errors exit with status 2 ([`super::EXIT_USAGE`]).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

/// One flag of a command.
#[derive(Debug)]
pub struct FlagSpec {
    /// The long name, without `--`.
    pub long: &'static str,
    /// A one-letter alias, if any.
    pub short: Option<char>,
    /// The value's placeholder (`DIR`), or `None` for a switch.
    pub value: Option<&'static str>,
    /// What the flag does and what its value takes, for `--help` and errors.
    pub help: &'static str,
}

/// A command's name, summary, flags and closing notes: its `--help`.
#[derive(Debug)]
pub struct CommandSpec {
    /// The word after `spool` (`cat`).
    pub name: &'static str,
    /// One line: what the command does.
    pub summary: &'static str,
    /// Its flags, `--help` included.
    pub flags: &'static [FlagSpec],
    /// Text after the flags (may be empty).
    pub notes: &'static str,
}

/// `--data-dir`, shared by every offline command.
pub const DATA_DIR: FlagSpec = FlagSpec {
    long: "data-dir",
    short: None,
    value: Some("DIR"),
    help: "the data directory [$SPOOL_DATA_DIR, else ./spool-data]",
};

/// `--help`, which every command has.
pub const HELP: FlagSpec = FlagSpec {
    long: "help",
    short: Some('h'),
    value: None,
    help: "this text",
};

/// `--format`, for the commands whose output has a person's and a
/// program's form.
pub const FORMAT: FlagSpec = FlagSpec {
    long: "format",
    short: None,
    value: Some("json|text"),
    help: "json, or text for a person [text on a terminal, json otherwise]",
};

/// A mistake on the command line, naming the argument.
#[derive(Debug, PartialEq, Eq)]
pub enum ArgError {
    /// A flag the command does not have.
    UnknownFlag {
        /// The flag as given (`--level`, `-x`).
        flag: String,
        /// The flags the command does have.
        accepted: String,
        /// A flag of the command it looks like a misspelling of.
        suggest: Option<&'static str>,
    },
    /// A word where the command takes only flags.
    Unexpected {
        /// The word.
        word: String,
        /// What the command takes.
        accepted: String,
    },
    /// A flag that takes a value, given none.
    MissingValue {
        /// The flag.
        flag: &'static str,
        /// What its value takes.
        takes: &'static str,
    },
    /// A switch given a value (`--reverse=yes`).
    SwitchWithValue {
        /// The switch.
        flag: &'static str,
    },
    /// A value that does not parse.
    BadValue {
        /// The flag.
        flag: &'static str,
        /// What is wrong and what is accepted.
        why: String,
    },
    /// A value that is not UTF-8 where text is needed.
    NotUtf8 {
        /// The flag.
        flag: &'static str,
    },
    /// A flag given twice where the second would be ambiguous.
    Twice {
        /// The flag.
        flag: &'static str,
    },
    /// A flag that means something only beside another.
    Requires {
        /// The flag given.
        flag: &'static str,
        /// The flag it needs.
        needs: &'static str,
    },
    /// A word after `spool` that is not a command.
    UnknownCommand(String),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::UnknownFlag {
                flag,
                accepted,
                suggest,
            } => {
                write!(f, "unknown flag {flag}")?;
                if let Some(s) = suggest {
                    write!(f, " (did you mean --{s}?)")?;
                }
                write!(f, ": it takes {accepted}")
            }
            ArgError::Unexpected { word, accepted } => {
                write!(f, "unexpected argument {word:?}: it takes {accepted}")
            }
            ArgError::MissingValue { flag, takes } => {
                write!(f, "--{flag} needs a value: {takes}")
            }
            ArgError::SwitchWithValue { flag } => {
                write!(f, "--{flag} is a switch and takes no value")
            }
            ArgError::BadValue { flag, why } => write!(f, "--{flag}: {why}"),
            ArgError::NotUtf8 { flag } => write!(f, "--{flag}: the value is not UTF-8 text"),
            ArgError::Twice { flag } => write!(f, "--{flag} is given twice; give it once"),
            ArgError::Requires { flag, needs } => {
                write!(f, "--{flag} only works together with --{needs}")
            }
            ArgError::UnknownCommand(word) => write!(
                f,
                "unknown command {word:?}: the commands are serve, cat, tail, stats, verify"
            ),
        }
    }
}

/// An [`ArgError`] of one command: printed as `spool <cmd>: <error> (see
/// spool <cmd> --help)`.
#[derive(Debug, PartialEq, Eq)]
pub struct Usage {
    /// The command (`cat`), or `""` for `spool` itself.
    pub command: &'static str,
    /// The mistake.
    pub error: ArgError,
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.command {
            "" => write!(f, "spool: {} (see spool --help)", self.error),
            cmd => write!(f, "spool {cmd}: {} (see spool {cmd} --help)", self.error),
        }
    }
}

/// A flag as given: which one, and its value if it takes one.
pub type Given = (&'static FlagSpec, Option<OsString>);

impl CommandSpec {
    /// Reads every argument left in `args` as one of this command's flags.
    pub fn parse(&'static self, args: &mut lexopt::Parser) -> Result<Vec<Given>, Usage> {
        let usage = |error| Usage {
            command: self.name,
            error,
        };
        let mut given = Vec::new();
        loop {
            let arg = match args.next() {
                Ok(Some(arg)) => arg,
                Ok(None) => return Ok(given),
                Err(e) => return Err(usage(self.lexopt_error(e))),
            };
            let flag = match arg {
                lexopt::Arg::Long(name) => self.flags.iter().find(|f| f.long == name),
                lexopt::Arg::Short(c) => self.flags.iter().find(|f| f.short == Some(c)),
                lexopt::Arg::Value(_) => None,
            };
            let Some(flag) = flag else {
                return Err(usage(self.unknown(&arg)));
            };
            let value = match flag.value {
                Some(_) => Some(args.value().map_err(|_| {
                    usage(ArgError::MissingValue {
                        flag: flag.long,
                        takes: flag.help,
                    })
                })?),
                None => None,
            };
            given.push((flag, value));
        }
    }

    /// The error for an argument this command does not have.
    fn unknown(&self, arg: &lexopt::Arg<'_>) -> ArgError {
        match arg {
            lexopt::Arg::Long(name) => self.unknown_flag(&format!("--{name}")),
            lexopt::Arg::Short(c) => self.unknown_flag(&format!("-{c}")),
            lexopt::Arg::Value(v) => ArgError::Unexpected {
                word: v.to_string_lossy().into_owned(),
                accepted: format!("only flags: {}", self.flag_list()),
            },
        }
    }

    /// lexopt's own errors, in this command's words.
    fn lexopt_error(&self, e: lexopt::Error) -> ArgError {
        match e {
            lexopt::Error::UnexpectedValue { option, .. } => {
                let name = option.trim_start_matches('-');
                match self
                    .flags
                    .iter()
                    .find(|f| f.long == name || f.short.is_some_and(|c| name == c.to_string()))
                {
                    Some(flag) => ArgError::SwitchWithValue { flag: flag.long },
                    None => self.unknown_flag(&option),
                }
            }
            lexopt::Error::UnexpectedArgument(v) => ArgError::Unexpected {
                word: v.to_string_lossy().into_owned(),
                accepted: format!("only flags: {}", self.flag_list()),
            },
            other => ArgError::Unexpected {
                word: other.to_string(),
                accepted: self.flag_list(),
            },
        }
    }

    /// The error for a flag (`--levels`, `-x`) this command does not have,
    /// with the one it most likely meant: a flag that starts with it, or
    /// that it starts with.
    pub fn unknown_flag(&self, given: &str) -> ArgError {
        let name = given.trim_start_matches('-');
        let suggest = (name.len() > 1)
            .then(|| {
                self.flags
                    .iter()
                    .find(|f| name.starts_with(f.long) || f.long.starts_with(name))
            })
            .flatten()
            .map(|f| f.long);
        ArgError::UnknownFlag {
            flag: given.to_owned(),
            accepted: self.flag_list(),
            suggest,
        }
    }

    /// `--data-dir DIR, --help` style: every flag with its value.
    pub fn flag_list(&self) -> String {
        let mut out = String::new();
        for (i, f) in self.flags.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str("--");
            out.push_str(f.long);
            if let Some(v) = f.value {
                out.push(' ');
                out.push_str(v);
            }
            if let Some(c) = f.short {
                out.push_str(&format!(" (-{c})"));
            }
        }
        out
    }

    /// The command's `--help` text.
    pub fn help(&self) -> String {
        let mut out = format!(
            "spool {}: {}\n\nusage: spool {} [options]\n\noptions:\n",
            self.name, self.summary, self.name
        );
        for f in self.flags {
            let mut left = match f.short {
                Some(c) => format!("-{c}, --{}", f.long),
                None => format!("    --{}", f.long),
            };
            if let Some(v) = f.value {
                left.push(' ');
                left.push_str(v);
            }
            if left.len() <= 24 {
                out.push_str(&format!("  {left:<24} {}\n", f.help));
            } else {
                out.push_str(&format!("  {left}\n  {:<24} {}\n", "", f.help));
            }
        }
        if !self.notes.is_empty() {
            out.push('\n');
            out.push_str(self.notes);
        }
        out
    }
}

impl FlagSpec {
    /// The value as text, or the error naming this flag.
    pub fn text(&'static self, value: Option<OsString>) -> Result<String, ArgError> {
        value
            .unwrap_or_default()
            .into_string()
            .map_err(|_| ArgError::NotUtf8 { flag: self.long })
    }
}

/// The data directory when `--data-dir` is not given: `SPOOL_DATA_DIR`,
/// else `./spool-data`.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("SPOOL_DATA_DIR").map_or_else(|| PathBuf::from("./spool-data"), PathBuf::from)
}

/// How a command's output is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For programs: NDJSON (`cat`) or one JSON object (`stats`).
    Json,
    /// For a person: aligned text, coloured on a terminal.
    Text,
}

/// Parses `--format`.
pub fn parse_format(value: &str) -> Result<Format, ArgError> {
    match value {
        "json" => Ok(Format::Json),
        "text" => Ok(Format::Text),
        other => Err(ArgError::BadValue {
            flag: FORMAT.long,
            why: format!("{other:?} is not a format: use json or text"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DEMO: CommandSpec = CommandSpec {
        name: "demo",
        summary: "a demonstration",
        flags: &[
            DATA_DIR,
            FlagSpec {
                long: "reverse",
                short: Some('r'),
                value: None,
                help: "newest first",
            },
            HELP,
        ],
        notes: "",
    };

    fn parse(args: &[&str]) -> Result<Vec<(&'static str, Option<String>)>, Usage> {
        let mut p = lexopt::Parser::from_args(args);
        Ok(DEMO
            .parse(&mut p)?
            .into_iter()
            .map(|(f, v)| (f.long, v.map(|v| v.into_string().unwrap())))
            .collect())
    }

    #[test]
    fn flags_values_and_switches() {
        assert_eq!(
            parse(&["--data-dir", "d", "-r", "--data-dir=e"]).unwrap(),
            vec![
                ("data-dir", Some("d".into())),
                ("reverse", None),
                ("data-dir", Some("e".into()))
            ]
        );
    }

    #[test]
    fn mistakes_name_the_argument_and_what_is_accepted() {
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["--level", "x"],
                &["--level", "--data-dir DIR", "--reverse"],
            ),
            (&["--reversed"], &["did you mean --reverse?"]),
            (&["-x"], &["-x", "--data-dir DIR"]),
            (&["extra"], &["\"extra\"", "only flags"]),
            (
                &["--data-dir"],
                &["--data-dir needs a value", "data directory"],
            ),
            (&["--reverse=yes"], &["--reverse is a switch"]),
        ];
        for (args, mentions) in cases {
            let e = parse(args).unwrap_err().to_string();
            assert!(e.starts_with("spool demo: "), "{e}");
            assert!(e.ends_with("(see spool demo --help)"), "{e}");
            for m in *mentions {
                assert!(e.contains(m), "{args:?}: {e} should mention {m}");
            }
        }
    }

    #[test]
    fn help_lists_every_flag() {
        let help = DEMO.help();
        for f in DEMO.flags {
            assert!(help.contains(&format!("--{}", f.long)), "{help}");
            assert!(help.contains(f.help), "{help}");
        }
        assert!(help.contains("-r, --reverse"), "{help}");
    }
}
