//! `text/plain` bodies: one record per non-blank line.

use spool_core::entry::{EntryRef, Level};

use super::{numbered_lines, DecodeError, DecodeLimits, Payloads, RecordProblem};

pub(super) fn decode_text(
    body: &[u8],
    now_ns: u64,
    limits: &DecodeLimits,
    out: &mut Payloads,
) -> Result<(), DecodeError> {
    let before = out.len();
    for (n, line) in numbered_lines(body) {
        if out.len() - before >= limits.max_records {
            return Err(DecodeError::too_many_records(limits.max_records));
        }
        let Ok(message) = std::str::from_utf8(line) else {
            return Err(DecodeError::at_line(
                n,
                RecordProblem::bad("text is not valid UTF-8; send UTF-8"),
            ));
        };
        let entry = EntryRef {
            timestamp_ns: now_ns,
            level: leading_level(message).unwrap_or(Level::Info),
            service: "",
            message,
            metadata: "",
        };
        out.push_entry(&entry, limits)
            .map_err(|p| DecodeError::at_line(n, p))?;
    }
    Ok(())
}

/// The level named by the line's first word, if it is a level word: letters
/// followed by a space, tab, `:` or the end, or letters in `[` `]`.
pub(super) fn leading_level(line: &str) -> Option<Level> {
    let line = line.trim_start();
    let (bracketed, rest) = match line.strip_prefix('[') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let word_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
    let word = rest.get(..word_len)?;
    let after = rest.as_bytes().get(word_len).copied();
    let delimited = if bracketed {
        after == Some(b']')
    } else {
        matches!(after, None | Some(b' ' | b'\t' | b':'))
    };
    if delimited {
        Level::parse(word)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_words() {
        let cases = [
            ("ERROR something", Some(Level::Error)),
            ("[warn] x", Some(Level::Warn)),
            ("WARNING: y", Some(Level::Warn)),
            ("error: z", Some(Level::Error)),
            ("  fatal\tboom", Some(Level::Critical)),
            ("DEBUG", Some(Level::Debug)),
            ("[ERROR]no space", Some(Level::Error)),
            ("[ERROR no close", None),
            ("ERRORS happen", None),
            ("Error-prone code", None),
            ("3 retries left", None),
            ("info] odd", None),
            ("", None),
            ("[]", None),
            ("hello world", None),
        ];
        for (line, want) in cases {
            assert_eq!(leading_level(line), want, "{line:?}");
        }
    }
}
