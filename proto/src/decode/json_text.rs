//! A strict JSON text scanner: RFC 8259 on bytes, without building values.
//!
//! This module owns the question "is this exactly one JSON value?" and the
//! answer "here it is without insignificant whitespace". It never converts a
//! number, so `1e400`, `-0` and `123456789012345678901234567890` are valid
//! and come out byte for byte as they went in; key order, duplicate keys and
//! string escapes are kept as sent. What it refuses, with the byte offset and
//! a sentence:
//!
//! - anything outside the RFC 8259 grammar (leading zeros, `+1`, `.5`, `1.`,
//!   trailing commas, comments, single quotes, `NaN`, bytes after the value);
//! - invalid UTF-8 anywhere, control characters (below U+0020) inside
//!   strings, unknown escapes, and `\u` escapes that are not a Unicode scalar
//!   value: a low surrogate (`\uDC00`–`\uDFFF`) on its own, or a high
//!   surrogate (`\uD800`–`\uDBFF`) not followed at once by a low one. Strings
//!   decoded by serde_json are refused for the same reasons, so a text this
//!   scanner accepts always decodes;
//! - arrays and objects nested deeper than [`MAX_DEPTH`].
//!
//! It agrees with `serde_json::from_slice::<serde_json::Value>` on what is
//! valid except for numbers outside the `f64` range, which serde_json refuses
//! and JSON allows. The scan is iterative (no recursion), so hostile nesting
//! cannot exhaust the stack, and it never panics.

use std::fmt;

/// The deepest nesting of arrays and objects accepted: a value may sit inside
/// at most this many. serde_json's limit, so the two agree on deep inputs.
pub const MAX_DEPTH: usize = 127;

/// Why a text is not JSON, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonTextError {
    /// Byte offset in the scanned text of the first byte that is wrong (the
    /// length of the text when it ends too early).
    pub offset: usize,
    /// What is wrong, for a person.
    pub message: &'static str,
}

impl fmt::Display for JsonTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for JsonTextError {}

/// Checks that `text` is exactly one JSON value, optionally surrounded by
/// whitespace.
pub fn validate(text: &[u8]) -> Result<(), JsonTextError> {
    let mut s = Scanner::new(text);
    s.skip_ws();
    s.value(&mut NoSink)?;
    s.skip_ws();
    s.finish()
}

/// Checks `text` like [`validate`] and appends it to `out` without its
/// insignificant whitespace (whitespace outside strings). Everything else,
/// numbers and escapes included, is copied byte for byte. On error `out` is
/// left as it was.
pub fn minify(text: &[u8], out: &mut Vec<u8>) -> Result<(), JsonTextError> {
    let before = out.len();
    let mut s = Scanner::new(text);
    s.skip_ws();
    let result = s.value(&mut Minify::new(out, s.pos)).and_then(|_| {
        s.skip_ws();
        s.finish()
    });
    if result.is_err() {
        out.truncate(before);
    }
    result
}

/// What kind of value a [`Token`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    /// `escaped`: the string contains at least one backslash escape, so its
    /// text between the quotes is not its value.
    String {
        escaped: bool,
    },
    Number,
    Bool,
    Null,
}

impl Kind {
    /// "a string", "an object", ... for error messages.
    pub(crate) fn described(self) -> &'static str {
        match self {
            Kind::Object => "an object",
            Kind::Array => "an array",
            Kind::String { .. } => "a string",
            Kind::Number => "a number",
            Kind::Bool => "a boolean",
            Kind::Null => "null",
        }
    }
}

/// One complete, valid value: `text[start..end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) kind: Kind,
}

impl Token {
    /// The value's text (quotes included for strings).
    pub(crate) fn text<'a>(&self, text: &'a [u8]) -> &'a [u8] {
        // The scanner only makes tokens inside the text it scanned; an empty
        // slice instead of a panic if that were ever wrong.
        text.get(self.start..self.end).unwrap_or_default()
    }

    /// A string's text between its quotes (escapes not decoded).
    pub(crate) fn string_body<'a>(&self, text: &'a [u8]) -> &'a [u8] {
        let t = self.text(text);
        t.get(1..t.len().saturating_sub(1)).unwrap_or_default()
    }
}

/// Where scanned bytes go besides being checked.
pub(crate) trait Sink {
    /// `text[from..to]` is insignificant whitespace.
    fn whitespace(&mut self, text: &[u8], from: usize, to: usize);
    /// The value ended at `end`.
    fn end(&mut self, text: &[u8], end: usize);
}

/// Checks only.
pub(crate) struct NoSink;

impl Sink for NoSink {
    #[inline]
    fn whitespace(&mut self, _: &[u8], _: usize, _: usize) {}
    #[inline]
    fn end(&mut self, _: &[u8], _: usize) {}
}

/// Copies everything but insignificant whitespace into a caller's buffer,
/// one slice per run between whitespace (a compact value is one copy).
pub(crate) struct Minify<'o> {
    out: &'o mut Vec<u8>,
    from: usize,
}

impl<'o> Minify<'o> {
    /// Copies the value that starts at `start`.
    pub(crate) fn new(out: &'o mut Vec<u8>, start: usize) -> Self {
        Minify { out, from: start }
    }

    fn copy(&mut self, text: &[u8], to: usize) {
        if let Some(run) = text.get(self.from..to) {
            self.out.extend_from_slice(run);
        }
    }
}

impl Sink for Minify<'_> {
    #[inline]
    fn whitespace(&mut self, text: &[u8], from: usize, to: usize) {
        self.copy(text, from);
        self.from = to;
    }
    #[inline]
    fn end(&mut self, text: &[u8], end: usize) {
        self.copy(text, end);
        self.from = end;
    }
}

/// `true` for bytes a string may contain as they are: printable ASCII but
/// `"` and `\`. (Bytes from 0x80 are checked as UTF-8, below 0x20 refused.)
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x20;
    while b < 0x80 {
        t[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    t
};

const fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// A cursor over one text. The record decoder drives it member by member;
/// [`Scanner::value`] checks one whole value.
pub(crate) struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a [u8]) -> Self {
        Scanner {
            text,
            pos: 0,
            depth: 0,
        }
    }

    pub(crate) fn text(&self) -> &'a [u8] {
        self.text
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn err<T>(&self, offset: usize, message: &'static str) -> Result<T, JsonTextError> {
        Err(JsonTextError { offset, message })
    }

    /// Skips whitespace (not reported to any sink).
    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    #[inline]
    fn skip_ws_into<S: Sink>(&mut self, sink: &mut S) {
        let from = self.pos;
        self.skip_ws();
        if self.pos != from {
            sink.whitespace(self.text, from, self.pos);
        }
    }

    /// Consumes `byte` if it is next.
    pub(crate) fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `Ok` at the end of the text, else "bytes after the value".
    pub(crate) fn finish(&self) -> Result<(), JsonTextError> {
        if self.pos < self.text.len() {
            return self.err(
                self.pos,
                "unexpected bytes after the JSON value; send one value",
            );
        }
        Ok(())
    }

    /// Consumes the `[` or `{` at the cursor, counting the depth.
    pub(crate) fn open(&mut self) -> Result<(), JsonTextError> {
        if self.depth >= MAX_DEPTH {
            return self.err(self.pos, "arrays and objects are nested too deeply");
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    /// Leaves the container opened last (its `]` or `}` already consumed).
    pub(crate) fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// An object member's name at the cursor, then the `:` and the
    /// whitespace around it. Returns the name's token.
    pub(crate) fn key(&mut self) -> Result<Token, JsonTextError> {
        self.member_name(&mut NoSink)
    }

    fn member_name<S: Sink>(&mut self, sink: &mut S) -> Result<Token, JsonTextError> {
        if self.peek() != Some(b'"') {
            return self.err(self.pos, "expected a member name in double quotes");
        }
        let key = self.string()?;
        self.skip_ws_into(sink);
        if !self.eat(b':') {
            return self.err(self.pos, "expected ':' after a member name");
        }
        self.skip_ws_into(sink);
        Ok(key)
    }

    /// Scans one complete value starting at the cursor (no leading
    /// whitespace), passing its insignificant whitespace to `sink`.
    pub(crate) fn value<S: Sink>(&mut self, sink: &mut S) -> Result<Token, JsonTextError> {
        let start = self.pos;
        let kind = match self.peek() {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            _ => {
                let token = self.scalar()?;
                sink.end(self.text, self.pos);
                return Ok(token);
            }
        };
        // Containers opened inside this value, innermost last: bit i of
        // `objects` is set when the i-th is an object. MAX_DEPTH < 128.
        let mut objects: u128 = 0;
        let mut open = 0usize;
        'value: loop {
            // A value starts at the cursor.
            match self.peek() {
                Some(c @ (b'{' | b'[')) => {
                    self.open()?;
                    let is_object = c == b'{';
                    self.skip_ws_into(sink);
                    let empty = self.eat(if is_object { b'}' } else { b']' });
                    if empty {
                        self.close();
                    } else {
                        objects = (objects & !(1 << open)) | (u128::from(is_object) << open);
                        open += 1;
                        if is_object {
                            self.member_name(sink)?;
                        }
                        continue 'value;
                    }
                }
                _ => {
                    self.scalar()?;
                }
            }
            // After a value: close containers or go on to the next element.
            loop {
                if open == 0 {
                    sink.end(self.text, self.pos);
                    return Ok(Token {
                        start,
                        end: self.pos,
                        kind,
                    });
                }
                let in_object = objects & (1 << (open - 1)) != 0;
                self.skip_ws_into(sink);
                let close = if in_object { b'}' } else { b']' };
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_ws_into(sink);
                        if in_object {
                            self.member_name(sink)?;
                        }
                        continue 'value;
                    }
                    Some(c) if c == close => {
                        self.pos += 1;
                        self.close();
                        open -= 1;
                    }
                    _ if in_object => {
                        return self.err(self.pos, "expected ',' or '}' after an object member")
                    }
                    _ => return self.err(self.pos, "expected ',' or ']' after an array element"),
                }
            }
        }
    }

    /// A string, number, `true`, `false` or `null` at the cursor.
    fn scalar(&mut self) -> Result<Token, JsonTextError> {
        let start = self.pos;
        let kind =
            match self.peek() {
                Some(b'"') => return self.string(),
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                    Kind::Number
                }
                Some(b't') => self.literal(b"true", Kind::Bool)?,
                Some(b'f') => self.literal(b"false", Kind::Bool)?,
                Some(b'n') => self.literal(b"null", Kind::Null)?,
                None => return self.err(start, "the text ends where a JSON value should start"),
                Some(_) => return self.err(
                    start,
                    "expected a JSON value (object, array, string, number, true, false or null)",
                ),
            };
        Ok(Token {
            start,
            end: self.pos,
            kind,
        })
    }

    fn literal(&mut self, word: &'static [u8], kind: Kind) -> Result<Kind, JsonTextError> {
        if self.text.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(kind)
        } else {
            self.err(
                self.pos,
                "expected a JSON value (object, array, string, number, true, false or null)",
            )
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, any length.
    fn number(&mut self) -> Result<(), JsonTextError> {
        let t = self.text;
        let mut i = self.pos;
        if t.get(i) == Some(&b'-') {
            i += 1;
        }
        match t.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = skip_digits(t, i + 1),
            _ => return self.err(i, "a number needs a digit after '-'"),
        }
        if t.get(i) == Some(&b'.') {
            let from = i + 1;
            i = skip_digits(t, from);
            if i == from {
                return self.err(i, "a number needs a digit after '.'");
            }
        }
        if matches!(t.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(t.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let from = i;
            i = skip_digits(t, from);
            if i == from {
                return self.err(i, "a number needs a digit in its exponent");
            }
        }
        self.pos = i;
        Ok(())
    }

    /// The string whose opening quote is at the cursor.
    fn string(&mut self) -> Result<Token, JsonTextError> {
        let t = self.text;
        let start = self.pos;
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            while t.get(i).is_some_and(|&b| PLAIN[usize::from(b)]) {
                i += 1;
            }
            match t.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Token {
                        start,
                        end: self.pos,
                        kind: Kind::String { escaped },
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    i = self.escape(i)?;
                }
                Some(&b) if b >= 0x80 => {
                    // A run of non-ASCII bytes: no UTF-8 sequence contains an
                    // ASCII byte, so the run is valid on its own or not at all.
                    let from = i;
                    while t.get(i).is_some_and(|&b| b >= 0x80) {
                        i += 1;
                    }
                    if let Err(e) = std::str::from_utf8(t.get(from..i).unwrap_or_default()) {
                        return self.err(from + e.valid_up_to(), "invalid UTF-8 in a string");
                    }
                }
                Some(_) => {
                    return self.err(
                        i,
                        "a control character (below U+0020) in a string must be escaped (\\n, \\t, \\u0000)",
                    )
                }
                None => return self.err(t.len(), "a string is not closed"),
            }
        }
    }

    /// The escape whose backslash is at `i`; returns the offset after it.
    fn escape(&self, i: usize) -> Result<usize, JsonTextError> {
        match self.text.get(i + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
            Some(b'u') => {
                let unit = self.hex4(i)?;
                match unit {
                    0xDC00..=0xDFFF => self.err(
                        i,
                        "a \\u escape is a lone UTF-16 low surrogate (\\uDC00-\\uDFFF); send a high surrogate before it or the character as UTF-8",
                    ),
                    0xD800..=0xDBFF => {
                        let low = if self.text.get(i + 6..i + 8) == Some(b"\\u") {
                            self.hex4(i + 6)?
                        } else {
                            0
                        };
                        if (0xDC00..=0xDFFF).contains(&low) {
                            Ok(i + 12)
                        } else {
                            self.err(
                                i,
                                "a \\u escape is a UTF-16 high surrogate (\\uD800-\\uDBFF) not followed by a low surrogate; send the pair or the character as UTF-8",
                            )
                        }
                    }
                    _ => Ok(i + 6),
                }
            }
            Some(_) => self.err(
                i,
                "unknown escape in a string; use \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX",
            ),
            None => self.err(self.text.len(), "a string is not closed"),
        }
    }

    /// The four hex digits after the `\u` at `i`.
    fn hex4(&self, i: usize) -> Result<u16, JsonTextError> {
        let digits = self.text.get(i + 2..i + 6).ok_or(JsonTextError {
            offset: i,
            message: "a \\u escape needs four hex digits",
        })?;
        digits.iter().try_fold(0u16, |acc, &d| {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => {
                    return Err(JsonTextError {
                        offset: i,
                        message: "a \\u escape needs four hex digits",
                    })
                }
            };
            Ok(acc << 4 | u16::from(v))
        })
    }
}

fn skip_digits(t: &[u8], mut i: usize) -> usize {
    while t.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}
