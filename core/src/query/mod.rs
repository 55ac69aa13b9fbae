//! Queries over the log: the filter, its parameters, the paging cursor, and
//! the plan that turns a filter into the blocks worth reading.
//!
//! This module owns what `GET /logs` and `spool cat` mean: which records a
//! [`Filter`] selects ([`Filter::matches`] is the one authoritative test),
//! the order answers come in (newest first, by id), and paging with a
//! [`Cursor`]. It guarantees that [`plan`] + [`scan_block`] return exactly
//! the records a plain [`Filter::matches`] over every record would, newest
//! first: a block is only skipped when its summary proves no record in it
//! can match ([`Filter::may_match`]). Paging with [`Cursor::below`] the
//! last id returned yields every matching record exactly once, also while
//! newer records are appended (they get higher ids than any cursor).
//!
//! The caller does the IO. With the segments' bytes in memory (a server
//! reads each [`BlockRange`] with one `pread` instead):
//!
//! ```
//! use spool_core::index::SegmentIndex;
//! use spool_core::query::{plan, scan_block, Cursor, Filter, Match, ScanError};
//!
//! /// One page, newest first, and the cursor for the next one.
//! fn page<'a>(
//!     segments: &'a [(SegmentIndex, Vec<u8>)], // oldest first
//!     filter: &Filter,
//!     cursor: Option<Cursor>,
//!     limit: usize,
//! ) -> Result<(Vec<Match<'a>>, Option<Cursor>), ScanError> {
//!     let mut out = Vec::new();
//!     for range in plan(segments.iter().rev().map(|(index, _)| index), filter, cursor) {
//!         let (_, bytes) = segments
//!             .iter()
//!             .find(|(index, _)| index.segment() == range.segment)
//!             .expect("planned from these segments");
//!         let block = &bytes[range.offset as usize..(range.offset + range.len) as usize];
//!         scan_block(block, &range, filter, limit, &mut out)?;
//!         if out.len() == limit {
//!             let next = out.last().map(|m| Cursor::below(m.id));
//!             return Ok((out, next));
//!         }
//!     }
//!     Ok((out, None))
//! }
//! # assert!(page(&[], &Filter::default(), None, 10).unwrap().0.is_empty());
//! ```

mod cursor;
mod params;
mod plan;
mod scan;
pub(crate) mod text;

use alloc::string::String;
use alloc::vec::Vec;

use crate::entry::EntryRef;
use crate::index::{service_hash, BlockSummary, LevelMask, ALL_LEVELS};

pub use cursor::{Cursor, CursorError};
pub use params::{
    parse_level_param, parse_levels, parse_limit, parse_services, ParamError, DEFAULT_LIMIT,
    MAX_LIMIT,
};
pub use plan::{plan, BlockRange, Plan};
pub use scan::{scan_block, Match, ScanError};

use text::TextMatcher;

/// A [`Filter`] whose text search (`q`, `qi`) is prepared once: what a
/// follower or `spool cat` tests every record against, where
/// [`Filter::matches`] would build the substring searcher per record.
#[derive(Clone, Debug)]
pub struct PreparedFilter {
    filter: Filter,
    text: Option<text::OwnedMatcher>,
}

impl PreparedFilter {
    /// Exactly [`Filter::matches`].
    pub fn matches(&self, entry: &EntryRef<'_>) -> bool {
        self.filter.matches_except_text(entry)
            && self.text.as_ref().is_none_or(|m| m.matches_entry(entry))
    }

    /// The filter it was prepared from.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }
}

/// Which records a query selects. Every condition that is set must hold.
///
/// [`Filter::default`] selects every record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// Levels to keep, one bit per level (`1 << level as u8`; see
    /// [`parse_levels`]). [`ALL_LEVELS`] keeps all; 0 keeps none.
    pub levels: LevelMask,
    /// Keep records whose service is exactly one of these (the empty name is
    /// a record with no service). `None` keeps any; an empty list keeps none.
    pub services: Option<Vec<String>>,
    /// Keep records whose own timestamp is at or after this (ns since the
    /// Unix epoch).
    pub since_ns: Option<u64>,
    /// Keep records whose own timestamp is before this (exclusive, so
    /// consecutive windows do not overlap).
    pub until_ns: Option<u64>,
    /// Keep records whose message or metadata text contains these bytes;
    /// the flag makes the comparison ignore ASCII case (`qi`). An empty
    /// needle keeps all.
    pub text: Option<(Vec<u8>, bool)>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            levels: ALL_LEVELS,
            services: None,
            since_ns: None,
            until_ns: None,
            text: None,
        }
    }
}

impl Filter {
    /// Whether `entry` is selected: the exact, authoritative test.
    pub fn matches(&self, entry: &EntryRef<'_>) -> bool {
        self.matches_except_text(entry)
            && match &self.text {
                None => true,
                Some((needle, ci)) => TextMatcher::new(needle, *ci).matches_entry(entry),
            }
    }

    /// The filter with its text search prepared once, for testing many
    /// records (see [`PreparedFilter`]).
    pub fn prepare(self) -> PreparedFilter {
        let text = self
            .text
            .as_ref()
            .map(|(needle, ci)| text::OwnedMatcher::new(needle, *ci));
        PreparedFilter { filter: self, text }
    }

    /// `false` only when no record the block summarises can match, so the
    /// block need not be read.
    pub fn may_match(&self, block: &BlockSummary) -> bool {
        self.may_match_hashed(block, self.service_hashes().as_deref())
    }

    /// Everything in [`Self::matches`] but the text search (the cheap part,
    /// done first).
    fn matches_except_text(&self, entry: &EntryRef<'_>) -> bool {
        self.levels & (1 << entry.level as u8) != 0
            && self.since_ns.is_none_or(|t| entry.timestamp_ns >= t)
            && self.until_ns.is_none_or(|t| entry.timestamp_ns < t)
            && self
                .services
                .as_ref()
                .is_none_or(|s| s.iter().any(|s| s == entry.service))
    }

    /// `false` only when the record whose payload this is cannot be
    /// selected, judged from its fixed fields (level, time, service) and,
    /// for a text search, whether the needle occurs anywhere in it; read
    /// without decoding or validating the payload. A payload that is not
    /// an entry is never ruled out (decoding it reports the damage).
    pub(crate) fn may_select(&self, payload: &[u8], text: Option<&TextMatcher<'_>>) -> bool {
        let Some((ts, level, service)) = EntryRef::peek_fields(payload) else {
            return true;
        };
        let level_ok = level > 5 || self.levels & (1 << level) != 0;
        level_ok
            && self.since_ns.is_none_or(|t| ts >= t)
            && self.until_ns.is_none_or(|t| ts < t)
            && self
                .services
                .as_ref()
                .is_none_or(|s| s.iter().any(|s| s.as_bytes() == service))
            && text.is_none_or(|t| t.found_in(payload))
    }

    /// The hashes of the wanted services, computed once per plan.
    fn service_hashes(&self) -> Option<Vec<u64>> {
        self.services
            .as_ref()
            .map(|s| s.iter().map(|s| service_hash(s)).collect())
    }

    fn may_match_hashed(&self, block: &BlockSummary, services: Option<&[u64]>) -> bool {
        self.levels & block.levels() != 0
            && self.since_ns.is_none_or(|t| block.max_timestamp_ns() >= t)
            && self.until_ns.is_none_or(|t| block.min_timestamp_ns() < t)
            && services.is_none_or(|s| s.iter().any(|&h| block.services().may_contain(h)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Entry, Level};
    use crate::index::IndexBuilder;
    use crate::record::{frame_len, Lsn, SegmentId, SEGMENT_HEADER_LEN};
    use alloc::vec;

    fn e(ts: u64, level: Level, service: &str, message: &str, metadata: &str) -> Entry {
        Entry {
            timestamp_ns: ts,
            level,
            service: service.into(),
            message: message.into(),
            metadata: metadata.into(),
        }
    }

    fn check(f: &Filter, entry: &Entry) -> bool {
        let payload = entry.encode().unwrap();
        let r = EntryRef::decode(&payload).unwrap();
        let got = f.matches(&r);
        // The prepared filter (followers, `spool cat`) decides the same.
        assert_eq!(f.clone().prepare().matches(&r), got, "{f:?} {entry:?}");
        // Whatever matches, the summary of a block holding it may match.
        let mut b = IndexBuilder::new(SegmentId(1));
        b.push(
            Lsn(1),
            SEGMENT_HEADER_LEN,
            frame_len(payload.len() as u32),
            &r,
        )
        .unwrap();
        if got {
            assert!(f.may_match(&b.index().blocks()[0]), "{f:?} {entry:?}");
        }
        got
    }

    #[test]
    fn each_condition() {
        let rec = e(
            100,
            Level::Warn,
            "api",
            "Disk FULL on /var",
            r#"{"host":"db-1"}"#,
        );
        assert!(check(&Filter::default(), &rec));
        let f = |g: fn(&mut Filter)| {
            let mut f = Filter::default();
            g(&mut f);
            check(&f, &rec)
        };
        assert!(f(|f| f.levels = 1 << Level::Warn as u8));
        assert!(!f(|f| f.levels = 1 << Level::Error as u8));
        assert!(!f(|f| f.levels = 0));
        assert!(f(|f| f.services = Some(vec!["db".into(), "api".into()])));
        assert!(!f(|f| f.services = Some(vec!["API".into()])));
        assert!(!f(|f| f.services = Some(vec![])));
        assert!(f(|f| f.since_ns = Some(100)));
        assert!(!f(|f| f.since_ns = Some(101)));
        assert!(f(|f| f.until_ns = Some(101)));
        assert!(!f(|f| f.until_ns = Some(100)));
        assert!(f(|f| f.text = Some((b"FULL".to_vec(), false))));
        assert!(!f(|f| f.text = Some((b"full".to_vec(), false))));
        assert!(f(|f| f.text = Some((b"disk full".to_vec(), true))));
        assert!(f(|f| f.text = Some((b"db-1".to_vec(), false))));
        assert!(f(|f| f.text = Some((b"".to_vec(), false))));
        assert!(!f(|f| f.text = Some((b"on /var{".to_vec(), false))));
    }

    #[test]
    fn no_service_is_the_empty_name() {
        let rec = e(1, Level::Info, "", "m", "");
        let mut f = Filter {
            services: Some(vec![String::new()]),
            ..Filter::default()
        };
        assert!(check(&f, &rec));
        f.services = Some(vec!["x".into()]);
        assert!(!check(&f, &rec));
    }
}
