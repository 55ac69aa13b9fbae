//! The `/logs` filters as command-line flags, shared by `spool cat` and
//! `spool tail`: `--level`, `--service`, `--since`, `--until`, `--grep`,
//! `--grep-i`. Parsed into the same [`Filter`] `/logs` uses, so they all
//! agree by construction.

use std::ffi::OsString;

use spool_core::query::{parse_levels, parse_services, Filter};
use spool_proto::parse_time_param;

use super::args::{ArgError, FlagSpec};

/// `--level`.
pub const LEVEL: FlagSpec = FlagSpec {
    long: "level",
    short: None,
    value: Some("LEVELS"),
    help: "a level (ERROR), a comma list (WARN,ERROR) or a minimum (>=WARN)",
};
/// `--service`.
pub const SERVICE: FlagSpec = FlagSpec {
    long: "service",
    short: None,
    value: Some("NAMES"),
    help: "a service name or a comma list (repeatable); '' for records without a service",
};
/// `--since`.
pub const SINCE: FlagSpec = FlagSpec {
    long: "since",
    short: None,
    value: Some("TIME"),
    help: "records stamped at or after TIME: RFC 3339 (2026-01-02T15:04:05Z) or Unix milliseconds",
};
/// `--until`.
pub const UNTIL: FlagSpec = FlagSpec {
    long: "until",
    short: None,
    value: Some("TIME"),
    help: "records stamped before TIME (not at it): RFC 3339 or Unix milliseconds",
};
/// `--grep`.
pub const GREP: FlagSpec = FlagSpec {
    long: "grep",
    short: None,
    value: Some("TEXT"),
    help: "records whose message or metadata contains TEXT (exact bytes)",
};
/// `--grep-i`.
pub const GREP_I: FlagSpec = FlagSpec {
    long: "grep-i",
    short: Some('i'),
    value: None,
    help: "with --grep: ignore ASCII case",
};

/// The filter flags seen so far.
#[derive(Default)]
pub struct FilterFlags {
    filter: Filter,
    levels: Option<u8>,
    grep: Option<String>,
    ignore_case: bool,
}

impl FilterFlags {
    /// Takes `flag` if it is a filter flag (`Ok(None)`); otherwise hands
    /// its value back for the command's own flags.
    pub fn take(
        &mut self,
        flag: &'static FlagSpec,
        value: Option<OsString>,
    ) -> Result<Option<Option<OsString>>, ArgError> {
        let bad = |why: String| ArgError::BadValue {
            flag: flag.long,
            why,
        };
        match flag.long {
            "level" => {
                let mask = parse_levels(&flag.text(value)?).map_err(|e| bad(e.to_string()))?;
                // Repeating the flag adds levels, as a comma list would.
                self.levels = Some(self.levels.unwrap_or(0) | mask);
            }
            "service" => {
                let text = flag.text(value)?;
                // An empty value: the records that have no service.
                let names = if text.is_empty() {
                    vec![String::new()]
                } else {
                    parse_services(&text).map_err(|e| bad(e.to_string()))?
                };
                self.filter
                    .services
                    .get_or_insert_with(Vec::new)
                    .extend(names);
            }
            "since" | "until" => {
                let text = flag.text(value)?;
                let ns = parse_time_param(&text).ok_or_else(|| {
                    bad(format!(
                        "{text:?} is not a time: use RFC 3339 (2026-01-02T15:04:05Z) or Unix milliseconds (1767366245000)"
                    ))
                })?;
                let slot = if flag.long == "since" {
                    &mut self.filter.since_ns
                } else {
                    &mut self.filter.until_ns
                };
                if slot.is_some() {
                    return Err(ArgError::Twice { flag: flag.long });
                }
                *slot = Some(ns);
            }
            "grep" => {
                if self.grep.is_some() {
                    return Err(ArgError::Twice { flag: flag.long });
                }
                self.grep = Some(flag.text(value)?);
            }
            "grep-i" => self.ignore_case = true,
            _ => return Ok(Some(value)),
        }
        Ok(None)
    }

    /// The filter the flags describe.
    pub fn finish(mut self) -> Result<Filter, ArgError> {
        if let Some(mask) = self.levels {
            self.filter.levels = mask;
        }
        match self.grep {
            Some(text) => self.filter.text = Some((text.into_bytes(), self.ignore_case)),
            None if self.ignore_case => {
                return Err(ArgError::Requires {
                    flag: "grep-i",
                    needs: "grep",
                })
            }
            None => {}
        }
        Ok(self.filter)
    }
}
