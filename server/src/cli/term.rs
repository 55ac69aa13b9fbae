//! What the offline commands show a person at a terminal: whether a stream
//! is one, level colours, text made safe to print, and verify's progress
//! bar.
//!
//! Record text comes from producers, so nothing a record holds is written
//! to a terminal raw: control characters (an escape sequence could move the
//! cursor, rewrite the title or hide lines) and bidirectional overrides are
//! shown as `\u{..}` escapes instead. Colour is used only on a terminal,
//! and never when `NO_COLOR` is set or `TERM` is `dumb`.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use spool_core::entry::Level;

/// Whether stdout is a terminal (isatty).
pub(crate) fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether stderr is a terminal (isatty).
pub(crate) fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Whether output on a terminal may use colour (<https://no-color.org>).
pub(crate) fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// SGR codes for a level: quiet for detail, loud for failures.
fn level_sgr(level: Level) -> &'static str {
    match level {
        Level::Trace => "2",
        Level::Debug => "36",
        Level::Info => "32",
        Level::Warn => "33",
        Level::Error => "31",
        Level::Critical => "1;37;41",
    }
}

/// Appends `text` wrapped in `sgr` when `colour` is on.
pub(crate) fn paint(out: &mut String, text: &str, sgr: &str, colour: bool) {
    if colour {
        let _ = write!(out, "\x1b[{sgr}m{text}\x1b[0m");
    } else {
        out.push_str(text);
    }
}

/// Appends a level word padded to 8 columns, in its colour.
pub(crate) fn paint_level(out: &mut String, level: Level, colour: bool) {
    let word = format!("{:<8}", level.as_str());
    paint(out, &word, level_sgr(level), colour);
}

/// Dim text (ids, timestamps) on a colour terminal.
pub(crate) const DIM: &str = "2";

/// Whether `c` must not reach a terminal raw.
fn unsafe_on_terminal(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Appends `text` with every character that could act on a terminal
/// escaped (`\n`, `\t`, `\r`, else `\u{1b}` style).
pub(crate) fn push_printable(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if unsafe_on_terminal(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Bytes as a person reads them: `512 B`, `1.5 KiB`, `64.0 MiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A count with thousands separators (`1,234,567`).
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A one-line progress bar on stderr: bytes done of a total and records
/// per second, redrawn at most ten times a second. Draws nothing when
/// stderr is not a terminal.
pub(crate) struct Progress {
    on: bool,
    total: u64,
    done: u64,
    records: u64,
    started: Instant,
    drawn: Option<Instant>,
}

impl Progress {
    /// A bar towards `total` bytes, shown when stderr is a terminal.
    pub(crate) fn new(total: u64) -> Progress {
        Progress {
            on: stderr_is_terminal(),
            total,
            done: 0,
            records: 0,
            started: Instant::now(),
            drawn: None,
        }
    }

    /// Whether the bar is drawn at all.
    pub(crate) fn shown(&self) -> bool {
        self.on
    }

    /// Starts over (the work is being redone from the beginning).
    pub(crate) fn restart(&mut self, total: u64) {
        self.total = total;
        self.done = 0;
        self.records = 0;
        self.started = Instant::now();
    }

    /// `bytes` more were read.
    pub(crate) fn add_bytes(&mut self, bytes: u64) {
        self.done = self.done.saturating_add(bytes);
        self.draw(false);
    }

    /// `records` have been checked in all.
    pub(crate) fn set_records(&mut self, records: u64) {
        self.records = records;
        self.draw(false);
    }

    fn draw(&mut self, force: bool) {
        if !self.on {
            return;
        }
        let now = Instant::now();
        if !force
            && self
                .drawn
                .is_some_and(|t| now.duration_since(t) < Duration::from_millis(100))
        {
            return;
        }
        self.drawn = Some(now);
        let line = bar_line(
            self.done,
            self.total,
            self.records,
            now.duration_since(self.started),
        );
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
    }

    /// Removes the bar, leaving the line empty for what follows.
    pub(crate) fn clear(&mut self) {
        if self.on && self.drawn.is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.drawn = None;
        }
    }
}

/// `[#######.............]  35%  22.4 MiB / 64.0 MiB  1,200,000 records/s`
fn bar_line(done: u64, total: u64, records: u64, elapsed: Duration) -> String {
    const WIDTH: u64 = 24;
    let total = total.max(done).max(1);
    let filled = done.saturating_mul(WIDTH) / total;
    let mut line = String::from("spool verify [");
    for i in 0..WIDTH {
        line.push(if i < filled { '#' } else { '.' });
    }
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        (records as f64 / secs) as u64
    } else {
        0
    };
    let _ = write!(
        line,
        "] {:>3}%  {} / {}  {} records/s",
        done.saturating_mul(100) / total,
        human_bytes(done),
        human_bytes(total),
        grouped(rate)
    );
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_text_cannot_drive_the_terminal() {
        let mut out = String::new();
        push_printable(
            &mut out,
            "ok\x1b]0;pwned\x07 line\nnext\ttab \u{9b}31m \u{202e}evil é",
        );
        assert_eq!(
            out,
            "ok\\u{1b}]0;pwned\\u{7} line\\nnext\\ttab \\u{9b}31m \\u{202e}evil é"
        );
        assert!(!out.chars().any(unsafe_on_terminal));
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(64 << 20), "64.0 MiB");
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn bar_shows_progress_and_rate() {
        let line = bar_line(32 << 20, 64 << 20, 1000, Duration::from_secs(2));
        assert!(line.contains("[############............]"), "{line}");
        assert!(line.contains(" 50%"), "{line}");
        assert!(line.contains("32.0 MiB / 64.0 MiB"), "{line}");
        assert!(line.contains("500 records/s"), "{line}");
        // More done than announced (a segment grew): never past 100%.
        assert!(bar_line(10, 5, 0, Duration::ZERO).contains("100%"));
    }
}
