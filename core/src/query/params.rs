//! Parsing of the `/logs` query parameters that are the core's to define:
//! levels, services and the page size. (Times are parsed in `proto`.)
//!
//! Each parser is pure and returns a [`ParamError`] whose text says what is
//! accepted, ready to go into a 400 answer.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::entry::Level;
use crate::index::LevelMask;

/// The page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;

/// The largest `limit` accepted.
pub const MAX_LIMIT: u32 = 10_000;

/// How much of a bad value an error repeats back.
const ECHO_MAX: usize = 32;

/// A query parameter that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamError {
    /// A level word that names no level (the word, cut to 32 bytes).
    UnknownLevel(String),
    /// An empty level spec or an empty item in a level list.
    EmptyLevel,
    /// An empty service name in a service list.
    EmptyService,
    /// `limit` is not a whole number from 1 to [`MAX_LIMIT`].
    BadLimit(String),
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LEVELS: &str = "a level (TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL), \
             a comma list of levels, or >=LEVEL";
        match self {
            ParamError::UnknownLevel(w) => write!(f, "unknown level {w:?}: level takes {LEVELS}"),
            ParamError::EmptyLevel => write!(f, "empty level: level takes {LEVELS}"),
            ParamError::EmptyService => {
                f.write_str("empty service name: service takes a name or a comma list of names")
            }
            ParamError::BadLimit(v) => {
                write!(
                    f,
                    "bad limit {v:?}: limit takes a number from 1 to {MAX_LIMIT}"
                )
            }
        }
    }
}

/// Parses a level spec: one level (`ERROR`), a comma list (`WARN,ERROR`),
/// or a minimum (`>=WARN`). Words are those of [`Level::parse`], in any
/// case; spaces around them are ignored.
///
/// In a query string `level>=WARN` splits at its `=` into the key `level>`
/// and the value `WARN`; [`parse_level_param`] handles both spellings.
pub fn parse_levels(spec: &str) -> Result<LevelMask, ParamError> {
    let spec = spec.trim();
    if let Some(min) = spec.strip_prefix(">=") {
        return level(min).map(at_least);
    }
    spec.split(',')
        .try_fold(0, |mask, word| Ok(mask | 1 << level(word)? as u8))
}

/// Parses a query parameter if it is a level filter: `level=<spec>`, or
/// `level>=<level>` as it arrives split at `=` (key `level>`). `None` when
/// the key is neither.
pub fn parse_level_param(key: &str, value: &str) -> Option<Result<LevelMask, ParamError>> {
    match key {
        "level" => Some(parse_levels(value)),
        "level>" => Some(level(value).map(at_least)),
        _ => None,
    }
}

/// The mask of `min` and every more severe level.
fn at_least(min: Level) -> LevelMask {
    Level::ALL
        .iter()
        .filter(|&&l| l >= min)
        .fold(0, |mask, &l| mask | 1 << l as u8)
}

fn level(word: &str) -> Result<Level, ParamError> {
    let word = word.trim();
    if word.is_empty() {
        return Err(ParamError::EmptyLevel);
    }
    Level::parse(word).ok_or_else(|| ParamError::UnknownLevel(echo(word)))
}

/// Parses a service list: one name or names separated by commas, spaces
/// around each ignored. (A name holding a comma is given by repeating the
/// parameter instead.)
pub fn parse_services(value: &str) -> Result<Vec<String>, ParamError> {
    value
        .split(',')
        .map(|name| match name.trim() {
            "" => Err(ParamError::EmptyService),
            name => Ok(name.to_string()),
        })
        .collect()
}

/// Parses `limit`: a whole number from 1 to [`MAX_LIMIT`].
pub fn parse_limit(value: &str) -> Result<u32, ParamError> {
    match value.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ParamError::BadLimit(echo(value))),
    }
}

/// At most [`ECHO_MAX`] bytes of `s`, cut at a character boundary.
fn echo(s: &str) -> String {
    let mut end = s.len().min(ECHO_MAX);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(levels: &[Level]) -> LevelMask {
        levels.iter().fold(0, |m, &l| m | 1 << l as u8)
    }

    #[test]
    fn level_specs() {
        assert_eq!(parse_levels("ERROR"), Ok(mask(&[Level::Error])));
        assert_eq!(parse_levels("error"), Ok(mask(&[Level::Error])));
        assert_eq!(
            parse_levels("warn, Error"),
            Ok(mask(&[Level::Warn, Level::Error]))
        );
        assert_eq!(
            parse_levels(">=warning"),
            Ok(mask(&[Level::Warn, Level::Error, Level::Critical]))
        );
        assert_eq!(parse_levels(">=TRACE"), Ok(crate::index::ALL_LEVELS));
        assert_eq!(parse_levels("fatal"), Ok(mask(&[Level::Critical])));
        assert_eq!(
            parse_level_param("level>", "WARN"),
            parse_levels(">=WARN").ok().map(Ok)
        );
        assert_eq!(parse_level_param("service", "WARN"), None);
    }

    #[test]
    fn level_errors_say_what_is_accepted() {
        assert_eq!(parse_levels(""), Err(ParamError::EmptyLevel));
        assert_eq!(parse_levels("WARN,"), Err(ParamError::EmptyLevel));
        assert_eq!(parse_levels(">="), Err(ParamError::EmptyLevel));
        assert_eq!(
            parse_levels("verbose"),
            Err(ParamError::UnknownLevel("verbose".into()))
        );
        assert_eq!(
            parse_levels("<=WARN"),
            Err(ParamError::UnknownLevel("<=WARN".into()))
        );
        let long = "é".repeat(40);
        let Err(e) = parse_levels(&long) else {
            panic!()
        };
        let text = alloc::format!("{e}");
        assert!(text.contains("TRACE") && text.contains(">=LEVEL"), "{text}");
        assert!(text.len() < 200, "{text}");
    }

    #[test]
    fn services_and_limits() {
        assert_eq!(parse_services("api"), Ok(alloc::vec!["api".into()]));
        assert_eq!(
            parse_services("api, db"),
            Ok(alloc::vec!["api".into(), "db".into()])
        );
        assert_eq!(parse_services("api,,db"), Err(ParamError::EmptyService));
        assert_eq!(parse_services(""), Err(ParamError::EmptyService));
        assert_eq!(parse_limit("1"), Ok(1));
        assert_eq!(parse_limit("10000"), Ok(MAX_LIMIT));
        for bad in ["0", "10001", "-1", "ten", "", "1.5"] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
    }
}
