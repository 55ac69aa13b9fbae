//! The recovery scan: find where a segment's valid records end, and tell a
//! torn tail (cut it) from corruption (refuse it).
//!
//! The rule (RELIABILITY.md 13): a bad record is a torn tail only in the
//! active segment, and only when no valid record of the same epoch follows
//! it, with one refinement for torn multi-sector writes. Everything else is
//! corruption and is reported with the segment and byte offset; nothing is
//! skipped.
//!
//! The refinement: a power cut during a write can persist a later sector of
//! it but not an earlier one, leaving valid records after a torn one, all
//! from the one unacknowledged write. Each write is synced before the next
//! starts ([`MAX_IN_FLIGHT`] is 1), so only the last write can be torn. A
//! bad record in the active segment is therefore still a torn tail when (a)
//! no valid record marked [`FLAG_BATCH_START`] follows it (a later write
//! would prove it had been synced), and (b) the gap between it and the next
//! valid record is all zeros, or holds the tail of a [`SECTOR`]-aligned
//! block that is all zeros: a sector that never landed on the zero-filled
//! preallocation. Bit rot in synced data does not zero a record or a sector
//! tail; it is reported as corruption.
//!
//! The active segment is the newest segment holding any record; empty
//! segments after it are ones prepared ahead of rotation and never written.

use alloc::vec::Vec;
use core::fmt;

use crate::commit::{LogState, MAX_IN_FLIGHT};
use crate::mark::{gap_declared, Found};
use crate::record::{
    decode_frame, Decoded, FrameError, HeaderError, Lsn, SegmentHeader, SegmentId,
    FLAG_BATCH_START, FRAME_HEADER_LEN, MAX_PAYLOAD_LEN, SEGMENT_HEADER_LEN,
};
use crate::segment::SegmentInfo;

/// The unit a device writes atomically, as the torn-write rule assumes.
pub const SECTOR: usize = 512;

/// How the scan treats a bad record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sealed: fully synced before any later segment was written; any bad
    /// byte is corruption.
    Sealed,
    /// The segment being written when the process stopped: a bad last
    /// record may be a torn write.
    Active,
}

/// What the scan found wrong, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// The segment holding the bad bytes.
    pub segment: SegmentId,
    /// Byte offset of the bad record (or 0 for the header).
    pub offset: u64,
    /// What is wrong there.
    pub kind: CorruptionKind,
}

/// The kinds of corruption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorruptionKind {
    /// The segment header is invalid.
    Header(HeaderError),
    /// The header names a different segment id than the file name.
    WrongId(SegmentId),
    /// A record frame is invalid and valid data follows it (or the segment is sealed).
    Frame(FrameError),
    /// The segment ends inside a record (sealed segment).
    Truncated,
    /// A valid record whose sequence number does not increase.
    Sequence {
        /// The previous record's id.
        previous: Lsn,
        /// The id found.
        found: Lsn,
    },
    /// Non-zero bytes after the logical end of a sealed segment.
    GarbageAfterEnd,
    /// The segment's first record does not follow the previous segment's
    /// last, and the ids between are not a declared gap.
    MissingRecords {
        /// First missing id.
        from: Lsn,
        /// Last missing id.
        to: Lsn,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "segment {} offset {}: ", self.segment, self.offset)?;
        match self.kind {
            CorruptionKind::Header(e) => write!(f, "{e}"),
            CorruptionKind::WrongId(id) => write!(f, "header names segment {id}"),
            CorruptionKind::Frame(e) => write!(f, "{e}, with valid records after it"),
            CorruptionKind::Truncated => f.write_str("sealed segment ends inside a record"),
            CorruptionKind::Sequence { previous, found } => {
                write!(f, "record id {found} does not follow {previous}")
            }
            CorruptionKind::GarbageAfterEnd => {
                f.write_str("non-zero bytes after the last record of a sealed segment")
            }
            CorruptionKind::MissingRecords { from, to } => write!(
                f,
                "records {from}..={to} are missing before this segment's first record"
            ),
        }
    }
}

/// A torn tail to cut from the active segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The logical end: where the bad record starts.
    pub at: u64,
    /// One past the last non-zero byte; `[at, dirty_end)` must be zeroed
    /// (and synced) before the segment is written again.
    pub dirty_end: u64,
}

/// The result of scanning one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentScan {
    /// The segment scanned.
    pub segment: SegmentId,
    /// Offset just past the last valid record (the next write position).
    pub end: u64,
    /// Number of valid records.
    pub records: u64,
    /// The first record's id, if any.
    pub first: Option<Lsn>,
    /// The last record's id, if any.
    pub last: Option<Lsn>,
    /// A torn tail that must be cut, if one was found.
    pub torn: Option<TornTail>,
}

/// True when `bytes` is a segment with a valid header and nothing but zeros
/// after it: prepared, never written.
pub fn is_unwritten(bytes: &[u8]) -> bool {
    SegmentHeader::decode(bytes).is_ok()
        && bytes
            .get(SEGMENT_HEADER_LEN as usize..)
            .is_some_and(|rest| rest.iter().all(|&b| b == 0))
}

/// Checks that `bytes` open with a valid header naming `segment`; else the
/// corruption at offset 0.
pub fn check_header(segment: SegmentId, bytes: &[u8]) -> Result<(), Corruption> {
    let kind = match SegmentHeader::decode(bytes) {
        Ok(h) if h.id == segment => return Ok(()),
        Ok(h) => CorruptionKind::WrongId(h.id),
        Err(e) => CorruptionKind::Header(e),
    };
    Err(Corruption {
        segment,
        offset: 0,
        kind,
    })
}

/// Which segment of a directory is the active one, given each file's
/// `is_unwritten` answer oldest first: the newest that holds any record, or
/// the first unwritten one if none does. `None` for no segments.
pub fn active_index(unwritten: &[bool]) -> Option<usize> {
    match unwritten.iter().rposition(|&u| !u) {
        Some(i) => Some(i),
        None if unwritten.is_empty() => None,
        None => Some(0),
    }
}

/// Scans a whole segment file.
///
/// `previous` is the id of the last record of the segments before this one
/// (`Lsn(0)` for none): the first record must have a larger id, and every
/// later record the id after the one before it (ids are dense within a
/// segment; whether the first follows `previous` exactly is
/// [`LogScan`]'s check, since a declared gap may sit between segments).
/// `max_payload` bounds the length field before any read.
///
/// Guarantees: `Ok` means every byte before `end` is a valid record of this
/// epoch with consecutive ids, and every byte after it is zero, or (active
/// segments only) is the torn tail `torn`, which no valid record follows.
pub fn scan_segment(
    segment: SegmentId,
    bytes: &[u8],
    role: Role,
    previous: Lsn,
    max_payload: u32,
) -> Result<SegmentScan, Corruption> {
    let corrupt = |offset: u64, kind| Corruption {
        segment,
        offset,
        kind,
    };
    check_header(segment, bytes)?;
    let mut scan = SegmentScan {
        segment,
        end: SEGMENT_HEADER_LEN,
        records: 0,
        first: None,
        last: None,
        torn: None,
    };
    let mut last = previous;
    let mut pos = SEGMENT_HEADER_LEN as usize;
    let bad = loop {
        let Some(rest) = bytes.get(pos..) else {
            break None;
        };
        if rest.iter().all(|&b| b == 0) {
            // Zero fill (or nothing) to the end of the file: the clean end.
            break None;
        }
        match decode_frame(rest, segment, max_payload) {
            Ok(Decoded::Record(frame))
                if (scan.records == 0 && frame.seq > last) || frame.seq == last.next() =>
            {
                last = frame.seq;
                scan.first.get_or_insert(frame.seq);
                scan.last = Some(frame.seq);
                scan.records += 1;
                pos += FRAME_HEADER_LEN + frame.payload.len();
            }
            Ok(Decoded::Record(frame)) => {
                break Some(CorruptionKind::Sequence {
                    previous: last,
                    found: frame.seq,
                })
            }
            Ok(Decoded::NeedMore { .. }) => break Some(CorruptionKind::Truncated),
            Err(FrameError::Zero) => break Some(CorruptionKind::GarbageAfterEnd),
            Err(e) => break Some(CorruptionKind::Frame(e)),
        }
    };
    scan.end = pos as u64;
    let Some(kind) = bad else {
        return Ok(scan);
    };
    if let CorruptionKind::Sequence { .. } = kind {
        // A checksum-valid record out of order cannot come from a torn
        // write: it is corruption in any segment.
        return Err(corrupt(pos as u64, kind));
    }
    if role == Role::Sealed || !is_torn_write(bytes, pos, segment, max_payload) {
        // In an active segment a later valid record proves the bad one is not
        // a torn write; report it as the frame error it is.
        let kind = match (role, kind) {
            (Role::Active, CorruptionKind::Truncated | CorruptionKind::GarbageAfterEnd) => {
                CorruptionKind::Frame(FrameError::BadCrc)
            }
            _ => kind,
        };
        return Err(corrupt(pos as u64, kind));
    }
    let dirty_end = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(pos, |i| i + 1)
        .max(pos);
    scan.torn = Some(TornTail {
        at: pos as u64,
        dirty_end: dirty_end as u64,
    });
    Ok(scan)
}

/// Whether the bad record at `bad` can be the torn last write (module docs).
fn is_torn_write(bytes: &[u8], bad: usize, segment: SegmentId, max_payload: u32) -> bool {
    // Up to MAX_IN_FLIGHT writes may be unsynced at a crash; a write after
    // them proves the bad record's write had been synced.
    let mut later_writes = 0;
    let mut first_valid = None;
    for q in bad + 1..bytes.len() {
        let Some(rest) = bytes.get(q..) else { break };
        if let Ok(Decoded::Record(frame)) = decode_frame(rest, segment, max_payload) {
            if frame.flags & FLAG_BATCH_START != 0 {
                later_writes += 1;
                if later_writes >= MAX_IN_FLIGHT {
                    return false;
                }
            }
            first_valid.get_or_insert(q);
        }
    }
    let Some(next) = first_valid else {
        return true; // nothing valid after it
    };
    // The gap [bad, next) is all zeros (a write that never landed), or some
    // sector tail in it is (a sector of a write that never landed).
    if bytes
        .get(bad..next)
        .is_some_and(|g| g.iter().all(|&x| x == 0))
    {
        return true;
    }
    let first_sector_end = (bad / SECTOR + 1) * SECTOR;
    (first_sector_end..=next).step_by(SECTOR).any(|end| {
        let start = (end - SECTOR).max(bad);
        bytes
            .get(start..end)
            .is_some_and(|b| b.iter().all(|&x| x == 0))
    })
}

/// A segment id missing between older and newer segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingSegment(pub SegmentId);

/// Recovery of a whole log, one segment at a time, oldest first, so the
/// caller never holds more than one segment's bytes.
///
/// Use: list the segment ids; find how many of the newest are unwritten
/// ([`is_unwritten`], reading from the newest back until one is not);
/// [`LogScan::new`]; [`LogScan::push`] each segment's bytes in id order; cut
/// every [`TornTail`] it reports (zero the range, sync) before writing;
/// [`LogScan::finish`] for the group commit's starting state.
#[derive(Debug)]
pub struct LogScan {
    ids: Vec<SegmentId>,
    active: Option<usize>,
    next: usize,
    previous: Lsn,
    state: LogState,
    records: u64,
    gaps: Vec<(Lsn, Lsn)>,
    torn: Option<(SegmentId, u64)>,
}

impl LogScan {
    /// Starts a scan of segments `ids` (sorted ascending), of which the last
    /// `trailing_unwritten` are prepared and never written. Fails when the ids
    /// are not contiguous.
    pub fn new(ids: &[SegmentId], trailing_unwritten: usize) -> Result<LogScan, MissingSegment> {
        if let Some(w) = ids.windows(2).find(|w| w[1] != w[0].next()) {
            return Err(MissingSegment(w[0].next()));
        }
        let mut unwritten = alloc::vec![false; ids.len()];
        let from = ids.len().saturating_sub(trailing_unwritten);
        for u in unwritten.iter_mut().skip(from) {
            *u = true;
        }
        Ok(LogScan {
            ids: ids.to_vec(),
            active: active_index(&unwritten),
            next: 0,
            previous: Lsn(0),
            state: LogState::default(),
            records: 0,
            gaps: Vec::new(),
            torn: None,
        })
    }

    /// Declares id ranges known lost (from the [`crate::mark::LogMark`]):
    /// a segment may start after such a gap without being corruption.
    pub fn with_gaps(mut self, gaps: &[(Lsn, Lsn)]) -> LogScan {
        self.gaps = gaps.to_vec();
        self
    }

    /// The id of the next segment to push, if any.
    pub fn next_segment(&self) -> Option<SegmentId> {
        self.ids.get(self.next).copied()
    }

    /// Whether the next segment is sealed (older than the newest segment
    /// holding records): one whose index may stand in for its bytes
    /// ([`LogScan::push_indexed`]).
    pub fn next_is_sealed(&self) -> bool {
        self.active.is_some_and(|a| self.next < a)
    }

    /// Whether a sealed segment whose records are `first..=last` would
    /// continue the log where the segments pushed so far end (directly, or
    /// after a declared gap). A caller holding an index for the segment
    /// asks this first and reads the segment instead when it is `false`.
    pub fn continues(&self, first: Lsn, last: Lsn) -> bool {
        let expected = self.previous.next();
        first.0 != 0
            && last >= first
            && (self.previous == Lsn(0)
                || first == expected
                || (first > expected && gap_declared(&self.gaps, expected, Lsn(first.0 - 1))))
    }

    /// Takes the next segment, a sealed one, from its index instead of its
    /// bytes: records `first..=last` ending at byte `end`. The records are
    /// not read, so their CRCs are not checked here: that is `spool
    /// verify`'s job, and every record a query serves is checked as it is
    /// read. Only for a segment [`LogScan::next_is_sealed`] names, whose
    /// ids [`LogScan::continues`] accepts; otherwise `Err` and nothing
    /// changes.
    pub fn push_indexed(
        &mut self,
        first: Lsn,
        last: Lsn,
        end: u64,
        file_bytes: u64,
        sealed_at_ns: u64,
    ) -> Result<(), Corruption> {
        let Some(&id) = self.ids.get(self.next) else {
            return Err(Corruption {
                segment: SegmentId(0),
                offset: 0,
                kind: CorruptionKind::WrongId(SegmentId(0)),
            });
        };
        if !self.next_is_sealed() || !self.continues(first, last) {
            return Err(Corruption {
                segment: id,
                offset: SEGMENT_HEADER_LEN,
                kind: CorruptionKind::MissingRecords {
                    from: self.previous.next(),
                    to: Lsn(first.0.saturating_sub(1)),
                },
            });
        }
        self.next += 1;
        self.records += last.0 - first.0 + 1;
        self.previous = last;
        self.state.last_lsn = last;
        self.state.active = Some(id);
        self.state.active_end = end;
        self.state.segments.push(SegmentInfo {
            id,
            file_bytes,
            sealed_at_ns,
            first,
            last,
        });
        Ok(())
    }

    /// Scans the next segment's bytes. `file_bytes` and `sealed_at_ns` are
    /// what the retention policy needs to know of the file.
    pub fn push(
        &mut self,
        bytes: &[u8],
        file_bytes: u64,
        sealed_at_ns: u64,
    ) -> Result<SegmentScan, Corruption> {
        let i = self.next;
        let Some(&id) = self.ids.get(i) else {
            return Err(Corruption {
                segment: SegmentId(0),
                offset: 0,
                kind: CorruptionKind::WrongId(SegmentId(0)),
            });
        };
        let role = if Some(i) >= self.active {
            Role::Active
        } else {
            Role::Sealed
        };
        let scan = scan_segment(id, bytes, role, self.previous, MAX_PAYLOAD_LEN)?;
        if let Some(first) = scan.first {
            let expected = self.previous.next();
            if self.previous != Lsn(0)
                && first != expected
                && !gap_declared(&self.gaps, expected, Lsn(first.0 - 1))
            {
                return Err(Corruption {
                    segment: id,
                    offset: SEGMENT_HEADER_LEN,
                    kind: CorruptionKind::MissingRecords {
                        from: expected,
                        to: Lsn(first.0 - 1),
                    },
                });
            }
        }
        if let Some(t) = scan.torn {
            self.torn = Some((id, t.at));
        }
        self.next += 1;
        self.records += scan.records;
        if let Some(last) = scan.last {
            self.previous = last;
            self.state.last_lsn = last;
        }
        if scan.records > 0 || self.state.active.is_none() {
            self.state.active = Some(id);
            self.state.active_end = scan.end;
        }
        self.state.segments.push(SegmentInfo {
            id,
            file_bytes,
            sealed_at_ns,
            first: scan.first.unwrap_or_default(),
            last: scan.last.unwrap_or_default(),
        });
        Ok(scan)
    }

    /// Valid records seen so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// What the scan found, for checking against the log mark
    /// ([`crate::mark::check`]); complete once every segment was pushed.
    pub fn found(&self) -> Found {
        Found {
            newest_segment: self.ids.last().copied(),
            last: self.state.last_lsn,
            active: self.state.active.map(|a| (a, self.state.active_end)),
            torn: self.torn,
        }
    }

    /// The group commit's starting state (every segment must have been pushed).
    pub fn finish(self) -> LogState {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{encode_frame, SegmentHeader, FLAG_BATCH_START};
    use alloc::vec::Vec;

    const MAX: u32 = 4096;

    fn segment(id: u64, records: &[(u64, &[u8])], size: usize) -> Vec<u8> {
        let mut buf = SegmentHeader { id: SegmentId(id) }.encode().to_vec();
        for &(seq, payload) in records {
            encode_frame(&mut buf, SegmentId(id), Lsn(seq), FLAG_BATCH_START, payload);
        }
        assert!(buf.len() <= size);
        buf.resize(size, 0);
        buf
    }

    fn recs() -> Vec<(u64, &'static [u8])> {
        alloc::vec![
            (1, b"first".as_slice()),
            (2, b"second"),
            (3, b"third record")
        ]
    }

    /// A sealed segment taken from its index gives the same state as its
    /// bytes; an index that does not continue the log, or one offered for
    /// the active segment, is refused and changes nothing.
    #[test]
    fn sealed_segments_from_their_indexes_give_the_same_state() {
        let segs = [
            segment(1, &[(1, b"a".as_slice()), (2, b"bb")], 256),
            segment(2, &[(3, b"ccc".as_slice())], 256),
            segment(3, &[(4, b"d".as_slice()), (5, b"ee")], 256),
        ];
        let ids = [SegmentId(1), SegmentId(2), SegmentId(3)];
        let mut full = LogScan::new(&ids, 0).unwrap();
        let mut ends = Vec::new();
        for seg in &segs {
            ends.push(full.push(seg, 256, 7).unwrap());
        }
        let mut fast = LogScan::new(&ids, 0).unwrap();
        assert!(fast.next_is_sealed());
        assert!(!fast.continues(Lsn(2), Lsn(1)));
        fast.push_indexed(Lsn(1), Lsn(2), ends[0].end, 256, 7)
            .unwrap();
        assert!(!fast.continues(Lsn(4), Lsn(4)), "id 3 would be missing");
        assert!(fast.push_indexed(Lsn(4), Lsn(4), 99, 256, 7).is_err());
        fast.push_indexed(Lsn(3), Lsn(3), ends[1].end, 256, 7)
            .unwrap();
        assert!(
            !fast.next_is_sealed(),
            "the newest segment with records is read"
        );
        assert!(fast
            .push_indexed(Lsn(4), Lsn(5), ends[2].end, 256, 7)
            .is_err());
        fast.push(&segs[2], 256, 7).unwrap();
        assert_eq!(fast.records(), full.records());
        assert_eq!(fast.found(), full.found());
        assert_eq!(fast.finish(), full.finish());
    }

    #[test]
    fn clean_segment_finds_logical_end() {
        let seg = segment(1, &recs(), 512);
        let s = scan_segment(SegmentId(1), &seg, Role::Active, Lsn(0), MAX).unwrap();
        assert_eq!(s.records, 3);
        assert_eq!((s.first, s.last), (Some(Lsn(1)), Some(Lsn(3))));
        assert_eq!(s.end, 32 + 25 + 26 + 32);
        assert_eq!(s.torn, None);
        assert!(is_unwritten(&segment(2, &[], 128)));
        assert!(!is_unwritten(&seg));
    }

    #[test]
    fn every_cut_of_the_last_record_is_a_torn_tail() {
        let full = segment(1, &recs(), 200);
        let end_of_two = 32 + 25 + 26;
        let end_of_three = end_of_two + 32;
        for cut in end_of_two + 1..end_of_three {
            let mut seg = full.clone();
            seg[cut..].fill(0);
            let s = scan_segment(SegmentId(1), &seg, Role::Active, Lsn(0), MAX).unwrap();
            assert_eq!(s.end, end_of_two as u64, "cut {cut}");
            assert_eq!(s.records, 2);
            assert!(s.torn.is_some(), "cut {cut}");
            // The same bytes in a sealed segment are corruption.
            let e = scan_segment(SegmentId(1), &seg, Role::Sealed, Lsn(0), MAX).unwrap_err();
            assert_eq!(e.offset, end_of_two as u64);
        }
    }

    #[test]
    fn flipping_any_bit_of_the_last_record_is_a_torn_tail() {
        let full = segment(1, &recs(), 200);
        let end_of_two = 32 + 25 + 26;
        for i in end_of_two..end_of_two + 32 {
            for bit in 0..8 {
                let mut seg = full.clone();
                seg[i] ^= 1 << bit;
                let s = scan_segment(SegmentId(1), &seg, Role::Active, Lsn(0), MAX).unwrap();
                assert_eq!(s.end, end_of_two as u64);
                let torn = s.torn.unwrap();
                assert_eq!(torn.at, end_of_two as u64);
            }
        }
    }

    #[test]
    fn bad_record_followed_by_valid_one_is_corruption() {
        let mut seg = segment(1, &recs(), 200);
        seg[32 + 22] ^= 0x40; // inside record 1's payload
        let e = scan_segment(SegmentId(1), &seg, Role::Active, Lsn(0), MAX).unwrap_err();
        assert_eq!(e.offset, 32);
        assert_eq!(e.kind, CorruptionKind::Frame(FrameError::BadCrc));
    }

    #[test]
    fn zeros_and_garbage_after_the_end() {
        let end = 32 + 25 + 26 + 32;
        let mut seg = segment(1, &recs(), 300);
        seg[end + 40..end + 50].copy_from_slice(b"garbage!!!");
        let s = scan_segment(SegmentId(1), &seg, Role::Active, Lsn(0), MAX).unwrap();
        assert_eq!(s.end, end as u64);
        assert_eq!(s.torn.unwrap().dirty_end, (end + 50) as u64);
        assert!(scan_segment(SegmentId(1), &seg, Role::Sealed, Lsn(0), MAX).is_err());
    }

    #[test]
    fn record_from_an_older_epoch_never_validates() {
        let mut seg = segment(5, &recs(), 300);
        let end = 32 + 25 + 26 + 32;
        let mut old = Vec::new();
        encode_frame(
            &mut old,
            SegmentId(4),
            Lsn(4),
            FLAG_BATCH_START,
            b"stale but well formed",
        );
        seg[end..end + old.len()].copy_from_slice(&old);
        let s = scan_segment(SegmentId(5), &seg, Role::Active, Lsn(0), MAX).unwrap();
        assert_eq!(s.records, 3);
        assert_eq!(s.torn.unwrap().at, end as u64);
    }

    #[test]
    fn ids_must_increase_across_segments() {
        let seg = segment(2, &[(3, b"x")], 100);
        let e = scan_segment(SegmentId(2), &seg, Role::Sealed, Lsn(3), MAX).unwrap_err();
        assert!(matches!(e.kind, CorruptionKind::Sequence { .. }));
        let seg = segment(2, &[(7, b"x")], 100);
        assert!(scan_segment(SegmentId(3), &seg, Role::Sealed, Lsn(0), MAX).is_err());
    }

    /// One write of `n` records (first flagged) of `len`-byte payloads, at `at`.
    fn write_batch(buf: &mut [u8], at: usize, first_seq: u64, n: u64, len: usize) -> usize {
        let mut batch = Vec::new();
        for k in 0..n {
            let flags = if k == 0 { FLAG_BATCH_START } else { 0 };
            encode_frame(
                &mut batch,
                SegmentId(1),
                Lsn(first_seq + k),
                flags,
                &alloc::vec![0x5A; len],
            );
        }
        buf[at..at + batch.len()].copy_from_slice(&batch);
        at + batch.len()
    }

    #[test]
    fn a_torn_multi_sector_write_with_a_later_sector_persisted_is_cut() {
        let mut seg = segment(1, &[], 8192);
        let end1 = write_batch(&mut seg, 32, 1, 2, 100);
        let end2 = write_batch(&mut seg, end1, 3, 20, 150);
        // The sector holding the start of write 2 never reached the disk.
        let lost = (end1 / SECTOR) * SECTOR..(end1 / SECTOR + 1) * SECTOR;
        let mut torn = seg.clone();
        torn[lost.start.max(end1)..lost.end].fill(0);
        let s = scan_segment(SegmentId(1), &torn, Role::Active, Lsn(0), MAX).unwrap();
        assert_eq!(s.end, end1 as u64);
        assert_eq!(s.last, Some(Lsn(2)));
        assert_eq!(s.torn.unwrap().dirty_end, end2 as u64);

        // The same damage with a later write after it is corruption: the
        // damaged write had been synced before the next one started.
        let mut later = seg.clone();
        let mut at = end2;
        for k in 0..u64::from(MAX_IN_FLIGHT) - 1 {
            at = write_batch(&mut later, at, 23 + k, 1, 10);
        }
        let mut fewer = later.clone();
        fewer[lost.start.max(end1)..lost.end].fill(0);
        // MAX_IN_FLIGHT - 1 writes after it could all have been in flight.
        let s = scan_segment(SegmentId(1), &fewer, Role::Active, Lsn(0), MAX).unwrap();
        assert_eq!(s.end, end1 as u64);
        let _ = write_batch(&mut later, at, 30, 1, 10);
        later[lost.start.max(end1)..lost.end].fill(0);
        let e = scan_segment(SegmentId(1), &later, Role::Active, Lsn(0), MAX).unwrap_err();
        assert_eq!(e.offset, end1 as u64);

        // A flipped bit (no zeroed sector) inside the last write, with valid
        // records after it in that write, is corruption too.
        let mut rot = seg.clone();
        rot[end1 + 40] ^= 1;
        assert!(scan_segment(SegmentId(1), &rot, Role::Active, Lsn(0), MAX).is_err());
    }

    #[test]
    fn a_valid_record_out_of_order_is_corruption_even_at_the_tail() {
        let seg = segment(1, &[(5, b"five"), (3, b"three")], 200);
        for role in [Role::Active, Role::Sealed] {
            let e = scan_segment(SegmentId(1), &seg, role, Lsn(0), MAX).unwrap_err();
            assert!(
                matches!(e.kind, CorruptionKind::Sequence { .. }),
                "{role:?}: {e:?}"
            );
        }
        // The first record not above the previous segment's last id, too.
        let seg = segment(2, &[(4, b"x")], 100);
        assert!(scan_segment(SegmentId(2), &seg, Role::Active, Lsn(4), MAX).is_err());
    }
}
