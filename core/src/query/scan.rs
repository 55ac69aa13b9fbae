//! Scanning one planned block: its matching records, newest first.
//!
//! [`scan_block`] checks every frame it reads (CRC, payload) and that the
//! bytes are the block the index describes (first and last id, frame
//! boundaries); a disagreement is a [`ScanError`], never a silently short
//! answer. Records it returns pass [`Filter::matches`], in descending id
//! order. With a case-sensitive text filter, a block whose raw bytes do not
//! contain the needle is answered without decoding a record (see
//! `text.rs` for why that is sound).

use alloc::vec::Vec;
use core::fmt;

use crate::entry::{EntryError, EntryRef};
use crate::query::text::TextMatcher;
use crate::query::{BlockRange, Filter};
use crate::record::{
    decode_frame_unchecked, frame_is_intact, Decoded, FrameError, Lsn, SegmentId, MAX_PAYLOAD_LEN,
};

/// A matching record, borrowing the block's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match<'a> {
    /// The record id.
    pub id: Lsn,
    /// Offset of its frame in the segment.
    pub offset: u64,
    /// The decoded entry.
    pub entry: EntryRef<'a>,
}

/// Why a block's bytes could not be scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanError {
    /// The bytes given are not as long as the range.
    Length {
        /// The range's length.
        expected: u64,
        /// Bytes given.
        got: u64,
    },
    /// A frame in the block is invalid (corruption).
    Frame {
        /// The segment.
        segment: SegmentId,
        /// Offset of the frame in the segment.
        offset: u64,
        /// What is wrong with it.
        error: FrameError,
    },
    /// A valid frame whose payload is not an entry.
    Entry {
        /// The segment.
        segment: SegmentId,
        /// Offset of the frame in the segment.
        offset: u64,
        /// What is wrong with the payload.
        error: EntryError,
    },
    /// The block's bytes do not have the CRC the index recorded: either a
    /// byte in the block is damaged, or the index describes other bytes.
    /// The caller tells which by checking each frame's own CRC.
    BlockCrc {
        /// The segment.
        segment: SegmentId,
        /// Offset of the block in the segment.
        offset: u64,
    },
    /// The frames are valid but not the block the index describes (ids or
    /// frame boundaries differ): the index is stale and must be rebuilt.
    IndexMismatch {
        /// The segment.
        segment: SegmentId,
        /// Offset of the frame where the difference shows.
        offset: u64,
    },
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanError::Length { expected, got } => {
                write!(f, "block of {expected} bytes given as {got} bytes")
            }
            ScanError::Frame {
                segment,
                offset,
                error,
            } => write!(f, "segment {segment} offset {offset}: {error}"),
            ScanError::Entry {
                segment,
                offset,
                error,
            } => write!(f, "segment {segment} offset {offset}: {error}"),
            ScanError::BlockCrc { segment, offset } => write!(
                f,
                "segment {segment} block at offset {offset}: checksum mismatch"
            ),
            ScanError::IndexMismatch { segment, offset } => write!(
                f,
                "segment {segment} offset {offset}: records differ from the index"
            ),
        }
    }
}

/// Appends the records of one block that `filter` selects to `out`, newest
/// first, keeping `out` at most `limit` long (the newest of the block's
/// matches win). `bytes` are the `range.len` bytes at `range.offset` of
/// `range.segment`. Returns how many records it appended; on error it
/// appends none.
///
/// Call it for each range of a [`crate::query::plan`] in order until `out`
/// holds `limit` records: then `out` is the page, and
/// [`crate::query::Cursor::below`] the last record's id is where the next
/// page starts.
pub fn scan_block<'a>(
    bytes: &'a [u8],
    range: &BlockRange,
    filter: &Filter,
    limit: usize,
    out: &mut Vec<Match<'a>>,
) -> Result<usize, ScanError> {
    if bytes.len() as u64 != range.len {
        return Err(ScanError::Length {
            expected: range.len,
            got: bytes.len() as u64,
        });
    }
    // One CRC over the whole block before anything in it is trusted: a
    // damaged byte anywhere (a record that would not be selected, or that
    // its damage would hide from the filter) is an error, never a
    // silently shorter answer.
    if range.crc.is_some_and(|crc| crc32fast::hash(bytes) != crc) {
        return Err(ScanError::BlockCrc {
            segment: range.segment,
            offset: range.offset,
        });
    }
    if out.len() >= limit {
        return Ok(0);
    }
    let text = filter
        .text
        .as_ref()
        .map(|(needle, ci)| TextMatcher::new(needle, *ci));
    if text.as_ref().is_some_and(|t| !t.found_in(bytes)) {
        return Ok(0);
    }
    let start = out.len();
    let walked = walk(bytes, range, filter, text.as_ref(), out);
    if let Err(e) = walked {
        out.truncate(start);
        return Err(e);
    }
    out[start..].reverse();
    out.truncate(limit);
    Ok(out.len() - start)
}

/// Appends the block's matches to `out` in id order.
fn walk<'a>(
    bytes: &'a [u8],
    range: &BlockRange,
    filter: &Filter,
    text: Option<&TextMatcher<'_>>,
    out: &mut Vec<Match<'a>>,
) -> Result<(), ScanError> {
    let segment = range.segment;
    let mismatch = |offset| ScanError::IndexMismatch { segment, offset };
    let mut pos = 0usize;
    let mut previous: Option<Lsn> = None;
    let mut reached_cursor = false;
    while let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) {
        let offset = range.offset.saturating_add(pos as u64);
        // Structure only: the CRC is checked for the records a cheap look
        // at their fixed fields cannot rule out, before any is served.
        let frame = match decode_frame_unchecked(rest, MAX_PAYLOAD_LEN) {
            Ok(Decoded::Record(frame)) => frame,
            // The range ends inside a frame: the index disagrees with the
            // frame boundaries.
            Ok(Decoded::NeedMore { .. }) => return Err(mismatch(offset)),
            Err(error) => {
                return Err(ScanError::Frame {
                    segment,
                    offset,
                    error,
                })
            }
        };
        let in_order = match previous {
            None => frame.seq == range.first_id,
            Some(p) => frame.seq > p,
        };
        if !in_order || frame.seq > range.last_id {
            return Err(mismatch(offset));
        }
        if range.below.is_some_and(|b| frame.seq >= b) {
            reached_cursor = true;
            break;
        }
        previous = Some(frame.seq);
        pos += frame.encoded_len() as usize;
        if !filter.may_select(frame.payload, text) {
            continue;
        }
        if !frame_is_intact(rest, segment) {
            return Err(ScanError::Frame {
                segment,
                offset,
                error: FrameError::BadCrc,
            });
        }
        let entry = match EntryRef::decode(frame.payload) {
            Ok(entry) => entry,
            // The block's CRC held, so these are the bytes written: a raw
            // payload appended through the library, not damage. Not a log
            // entry, so no query selects it.
            Err(_) if range.crc.is_some() => continue,
            Err(error) => {
                return Err(ScanError::Entry {
                    segment,
                    offset,
                    error,
                })
            }
        };
        let selected =
            filter.matches_except_text(&entry) && text.is_none_or(|t| t.matches_entry(&entry));
        if selected {
            out.push(Match {
                id: frame.seq,
                offset,
                entry,
            });
        }
    }
    if !reached_cursor && previous != Some(range.last_id) {
        return Err(mismatch(range.offset.saturating_add(pos as u64)));
    }
    Ok(())
}
