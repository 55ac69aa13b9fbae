//! The log mark: what the log promised, kept outside the segments it
//! describes, so start-up can tell a log that is whole from one that lost
//! its newest segments or its last acknowledged records.
//!
//! A segment cannot vouch for its own existence: delete the newest one, or
//! cut its last acknowledged record, and what remains is a smaller log that
//! scans cleanly. Handing out ids again from where it now ends would give a
//! second record an id a downstream consumer has already seen (it would
//! drop the new record as a copy of the old one). The mark is a small
//! CRC-checked file (`MARK` in the data directory) of two
//! [`MARK_LEN`]-byte slots, each one sector holding a whole mark and a
//! sequence number. It is created once through a temporary name (written,
//! synced, renamed, directory synced); after that each new mark overwrites
//! the slot that does *not* hold the newest valid mark, in place, with one
//! sector-sized write and `fdatasync`. Reading takes the valid slot with the
//! higher sequence number. So a write that fails, is cut short or torn
//! leaves the previous mark readable; and an in-place write allocates
//! nothing, so a daemon can start, and stop cleanly, on a full disk. It is
//! written:
//!
//! - at open, after recovery and before the first write: not clean;
//! - after every segment is created, before any record goes into it;
//! - at a clean shutdown, after the last write was synced: clean, with the
//!   exact end of the log.
//!
//! What start-up checks against it ([`check`]):
//!
//! - the newest segment named is present (a segment prepared last cannot be
//!   missing unless someone removed it);
//! - the log reaches `durable`, the highest id known durable when the mark
//!   was written (every id up to it was acknowledged or could have been);
//! - after a clean shutdown, the log ends exactly where the mark says: a
//!   damaged last record is then corruption, not a torn write (a torn write
//!   needs a crash, and the mark says there was none).
//!
//! `id_bound` is an upper bound on every id handed out before the next mark
//! is written: a segment holds at most [`records_per_segment`] records, and
//! a record goes into a segment only after the segment's creation wrote a
//! mark. When records are lost and the operator accepts it, ids continue
//! after `id_bound`, so no id that could have been acknowledged is given
//! twice; the lost range is kept in `gaps`, so every later start and every
//! reader knows it is a declared gap, not fresh damage.
//!
//! Layout (little-endian, no `usize`):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | magic `SPOOLMRK` |
//! | 8 | 1 | version, 1 |
//! | 9 | 1 | flags: bit 0 clean shutdown; other bits invalid |
//! | 10 | 2 | zero |
//! | 12 | 8 | newest segment id created (0: none) |
//! | 20 | 8 | `durable`: highest id known durable |
//! | 28 | 8 | `id_bound`: no id above it was handed out |
//! | 36 | 8 | clean: the active segment (else 0) |
//! | 44 | 8 | clean: the write position in it (else 0) |
//! | 52 | 8 | sequence number of this slot's write |
//! | 60 | 4 | number of gaps `G` (at most [`MAX_GAPS`]) |
//! | 64 | 16·G | gaps: first and last id of each |
//! | 64+16G | 4 | CRC32 of every byte before it |
//! | 68+16G | to [`MARK_LEN`] | zero |
//!
//! The file is two such slots, [`MARK_FILE_LEN`] bytes.

use alloc::vec::Vec;
use core::fmt;

use crate::record::{frame_len, Lsn, SegmentId, SEGMENT_HEADER_LEN};

/// Magic bytes opening the mark file.
pub const MARK_MAGIC: [u8; 8] = *b"SPOOLMRK";
/// The mark format version written by this build.
pub const MARK_VERSION: u8 = 1;
/// Most declared gaps a mark keeps, so that it fits one sector (the oldest
/// are dropped past it; each needed an operator's `--accept-data-loss`).
pub const MAX_GAPS: usize = 27;
/// One slot of the mark file: one sector.
pub const MARK_LEN: usize = 512;
/// The mark file: two slots.
pub const MARK_FILE_LEN: usize = 2 * MARK_LEN;
const FIXED_LEN: usize = 64;

/// Where a cleanly stopped log ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanEnd {
    /// The segment the last record went to (or the first segment, if empty).
    pub segment: SegmentId,
    /// The write position in it: one past the last record.
    pub end: u64,
}

/// The log mark. See the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogMark {
    /// The newest segment created (`SegmentId(0)`: none yet).
    pub newest_segment: SegmentId,
    /// Every id up to this one was durable when the mark was written.
    pub durable: Lsn,
    /// No id above this one was handed out before the next mark.
    pub id_bound: Lsn,
    /// Set by a clean shutdown: where the log ends.
    pub clean: Option<CleanEnd>,
    /// Id ranges declared lost (oldest first, not overlapping).
    pub gaps: Vec<(Lsn, Lsn)>,
}

/// Why bytes are not a valid mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkError {
    /// Shorter than its fields say.
    Truncated,
    /// Not a mark file.
    BadMagic,
    /// A version this build cannot read.
    UnsupportedVersion(u8),
    /// The checksum does not match, or a reserved bit or byte is set.
    BadCrc,
}

impl fmt::Display for MarkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MarkError::Truncated => f.write_str("mark file truncated"),
            MarkError::BadMagic => f.write_str("not a spool mark file (bad magic)"),
            MarkError::UnsupportedVersion(v) => write!(f, "unsupported mark version {v}"),
            MarkError::BadCrc => f.write_str("mark file checksum mismatch"),
        }
    }
}

/// The most records one segment of `segment_bytes` can hold: every record
/// takes at least a frame header and one payload byte.
pub fn records_per_segment(segment_bytes: u64) -> u64 {
    segment_bytes.saturating_sub(SEGMENT_HEADER_LEN) / frame_len(1)
}

impl LogMark {
    /// Encodes the mark as one slot with sequence number `seq`.
    pub fn encode(&self, seq: u64) -> Vec<u8> {
        let gaps = &self.gaps[self.gaps.len().saturating_sub(MAX_GAPS)..];
        let mut out = Vec::with_capacity(FIXED_LEN + 16 * gaps.len() + 4);
        out.extend_from_slice(&MARK_MAGIC);
        out.push(MARK_VERSION);
        out.push(u8::from(self.clean.is_some()));
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.newest_segment.0.to_le_bytes());
        out.extend_from_slice(&self.durable.0.to_le_bytes());
        out.extend_from_slice(&self.id_bound.0.to_le_bytes());
        let clean = self.clean.unwrap_or(CleanEnd {
            segment: SegmentId(0),
            end: 0,
        });
        out.extend_from_slice(&clean.segment.0.to_le_bytes());
        out.extend_from_slice(&clean.end.to_le_bytes());
        out.extend_from_slice(&seq.to_le_bytes());
        // At most MAX_GAPS, so the count fits.
        out.extend_from_slice(&(gaps.len() as u32).to_le_bytes());
        for (a, b) in gaps {
            out.extend_from_slice(&a.0.to_le_bytes());
            out.extend_from_slice(&b.0.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out.resize(MARK_LEN, 0);
        out
    }

    /// Decodes and checks one slot: the mark and its sequence number.
    pub fn decode(bytes: &[u8]) -> Result<(LogMark, u64), MarkError> {
        if bytes.len() < FIXED_LEN + 4 {
            return Err(if bytes.len() >= 8 && bytes[..8] != MARK_MAGIC {
                MarkError::BadMagic
            } else {
                MarkError::Truncated
            });
        }
        if bytes[..8] != MARK_MAGIC {
            return Err(MarkError::BadMagic);
        }
        if bytes[8] != MARK_VERSION {
            return Err(MarkError::UnsupportedVersion(bytes[8]));
        }
        let u64_at = |at: usize| -> u64 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let count = u32::from_le_bytes([bytes[60], bytes[61], bytes[62], bytes[63]]) as usize;
        if count > MAX_GAPS {
            return Err(MarkError::BadCrc);
        }
        let total = FIXED_LEN + 16 * count + 4;
        if bytes.len() < total {
            return Err(MarkError::Truncated);
        }
        if bytes.len() > MARK_LEN || bytes[total..].iter().any(|&b| b != 0) {
            return Err(MarkError::BadCrc);
        }
        let body = &bytes[..total - 4];
        let stored = u32::from_le_bytes([
            bytes[total - 4],
            bytes[total - 3],
            bytes[total - 2],
            bytes[total - 1],
        ]);
        if crc32fast::hash(body) != stored || bytes[9] > 1 || bytes[10..12] != [0, 0] {
            return Err(MarkError::BadCrc);
        }
        let clean = (bytes[9] == 1).then(|| CleanEnd {
            segment: SegmentId(u64_at(36)),
            end: u64_at(44),
        });
        let gaps = (0..count)
            .map(|i| {
                let at = FIXED_LEN + 16 * i;
                (Lsn(u64_at(at)), Lsn(u64_at(at + 8)))
            })
            .collect();
        let mark = LogMark {
            newest_segment: SegmentId(u64_at(12)),
            durable: Lsn(u64_at(20)),
            id_bound: Lsn(u64_at(28)),
            clean,
            gaps,
        };
        Ok((mark, u64_at(52)))
    }

    /// Reads a mark file: the newest valid slot's mark, its sequence
    /// number and which slot it is. An error when neither slot is valid
    /// (the first slot's error).
    pub fn decode_file(bytes: &[u8]) -> Result<(LogMark, u64, usize), MarkError> {
        if bytes.len() != MARK_FILE_LEN {
            return Err(if bytes.len() < MARK_FILE_LEN {
                MarkError::Truncated
            } else {
                MarkError::BadCrc
            });
        }
        let (a, b) = bytes.split_at(MARK_LEN);
        match (LogMark::decode(a), LogMark::decode(b)) {
            (Ok((m, sa)), Ok((_, sb))) if sa >= sb => Ok((m, sa, 0)),
            (_, Ok((m, sb))) => Ok((m, sb, 1)),
            (Ok((m, sa)), Err(_)) => Ok((m, sa, 0)),
            (Err(e), Err(_)) => Err(e),
        }
    }

    /// Where and how to write this mark over the mark file `current` (its
    /// bytes, `None` when there is none): `Some((offset, slot bytes))` to
    /// overwrite the slot not holding the newest valid mark in place, or
    /// `None` when the file must be created whole ([`LogMark::encode_file`]).
    pub fn encode_over(&self, current: Option<&[u8]>) -> Option<(u64, Vec<u8>)> {
        let (_, seq, slot) = LogMark::decode_file(current?).ok()?;
        let other = 1 - slot;
        Some((
            (other * MARK_LEN) as u64,
            self.encode(seq.saturating_add(1)),
        ))
    }

    /// A whole new mark file: this mark in the first slot (sequence 1), the
    /// second slot empty.
    pub fn encode_file(&self) -> Vec<u8> {
        let mut out = self.encode(1);
        out.resize(MARK_FILE_LEN, 0);
        out
    }

    /// Whether every id in `from..=to` lies in a declared gap.
    pub fn declares_gap(&self, from: Lsn, to: Lsn) -> bool {
        gap_declared(&self.gaps, from, to)
    }
}

/// Whether every id in `from..=to` lies inside one of `gaps` (sorted,
/// merged ranges).
pub fn gap_declared(gaps: &[(Lsn, Lsn)], from: Lsn, to: Lsn) -> bool {
    gaps.iter().any(|&(a, b)| a <= from && to <= b)
}

/// Adds `from..=to` to `gaps`, keeping them sorted and merged.
pub fn add_gap(gaps: &mut Vec<(Lsn, Lsn)>, from: Lsn, to: Lsn) {
    if from > to {
        return;
    }
    gaps.push((from, to));
    gaps.sort();
    let mut merged: Vec<(Lsn, Lsn)> = Vec::with_capacity(gaps.len());
    for &(a, b) in gaps.iter() {
        match merged.last_mut() {
            Some(last) if a.0 <= last.1 .0.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    *gaps = merged;
}

/// What start-up found of the log, for [`check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// The newest segment file present (`None`: no segment).
    pub newest_segment: Option<SegmentId>,
    /// The last valid record id (`Lsn(0)`: none).
    pub last: Lsn,
    /// The segment the next record would go to and the position in it.
    pub active: Option<(SegmentId, u64)>,
    /// A torn tail found in the active segment (its segment and offset).
    pub torn: Option<(SegmentId, u64)>,
}

/// How the log on disk falls short of its mark. Each is damage that a
/// restart cannot repair: an operator must look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkProblem {
    /// Segments exist but the mark file does not.
    NoMark,
    /// The mark file is damaged.
    BadMark(MarkError),
    /// The newest segment(s) the mark names are gone.
    MissingSegments {
        /// The newest segment present, if any.
        newest_found: Option<SegmentId>,
        /// The newest segment the mark names.
        newest_marked: SegmentId,
    },
    /// The log ends before records that were durable.
    MissingRecords {
        /// The last record present.
        last_found: Lsn,
        /// The highest id the mark says was durable.
        durable: Lsn,
    },
    /// The log was stopped cleanly, yet does not end where it did.
    ChangedSinceCleanStop {
        /// Where the mark says the log ended.
        expected: CleanEnd,
        /// Where the scan found the end, or the damaged record.
        found: Option<(SegmentId, u64)>,
    },
}

impl fmt::Display for MarkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MarkProblem::NoMark => f.write_str(
                "the MARK file is missing, so spool cannot prove that no newest segment or acknowledged record was lost",
            ),
            MarkProblem::BadMark(e) => write!(f, "the MARK file is damaged ({e})"),
            MarkProblem::MissingSegments {
                newest_found,
                newest_marked,
            } => match newest_found {
                Some(found) => write!(
                    f,
                    "segments {}..={} are missing: the newest segment present is {found}, but segment {newest_marked} was created and may hold acknowledged records",
                    found.next(),
                    newest_marked
                ),
                None => write!(
                    f,
                    "every segment is missing: segment {newest_marked} was created and may hold acknowledged records"
                ),
            },
            MarkProblem::MissingRecords { last_found, durable } => write!(
                f,
                "acknowledged records are missing: the log ends at id {last_found}, but ids up to {durable} were durable"
            ),
            MarkProblem::ChangedSinceCleanStop { expected, found } => {
                write!(
                    f,
                    "the log was stopped cleanly ending at segment {} offset {}, but ",
                    expected.segment, expected.end
                )?;
                match found {
                    Some((s, at)) => write!(f, "now ends at segment {s} offset {at}: the bytes after it are damaged, not a torn write"),
                    None => f.write_str("no segment holds that end now"),
                }
            }
        }
    }
}

/// Checks what start-up found against the mark (`None`: no mark file).
///
/// Guarantees: `Ok` means no segment the mark names is missing, the log
/// reaches every id the mark knew durable, and after a clean shutdown the
/// log ends exactly where it ended (no torn tail). A fresh directory (no
/// segment, no mark) is `Ok`.
pub fn check(mark: Result<Option<&LogMark>, MarkError>, found: &Found) -> Result<(), MarkProblem> {
    let mark = match mark {
        Err(e) => return Err(MarkProblem::BadMark(e)),
        Ok(None) if found.newest_segment.is_none() => return Ok(()),
        Ok(None) => return Err(MarkProblem::NoMark),
        Ok(Some(m)) => m,
    };
    if mark.newest_segment.0 != 0 && found.newest_segment < Some(mark.newest_segment) {
        return Err(MarkProblem::MissingSegments {
            newest_found: found.newest_segment,
            newest_marked: mark.newest_segment,
        });
    }
    if let Some(expected) = mark.clean {
        let found_end = found.torn.or(found.active);
        if found.torn.is_some() || found_end != Some((expected.segment, expected.end)) {
            return Err(MarkProblem::ChangedSinceCleanStop {
                expected,
                found: found_end,
            });
        }
    }
    if found.last < mark.durable && !mark.declares_gap(found.last.next(), mark.durable) {
        return Err(MarkProblem::MissingRecords {
            last_found: found.last,
            durable: mark.durable,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample() -> LogMark {
        LogMark {
            newest_segment: SegmentId(7),
            durable: Lsn(1000),
            id_bound: Lsn(5000),
            clean: Some(CleanEnd {
                segment: SegmentId(6),
                end: 4096,
            }),
            gaps: vec![(Lsn(10), Lsn(20)), (Lsn(30), Lsn(30))],
        }
    }

    #[test]
    fn round_trip_and_every_damage_is_detected() {
        let m = sample();
        let bytes = m.encode(7);
        assert_eq!(LogMark::decode(&bytes), Ok((m.clone(), 7)));
        // Cut inside the fields: refused; cut in the zero padding after the
        // CRC: the same mark (nothing of it is lost).
        let total = 64 + 16 * m.gaps.len() + 4;
        for cut in 0..bytes.len() {
            match cut < total {
                true => assert!(LogMark::decode(&bytes[..cut]).is_err(), "cut {cut}"),
                false => assert_eq!(
                    LogMark::decode(&bytes[..cut]),
                    Ok((m.clone(), 7)),
                    "cut {cut}"
                ),
            }
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(LogMark::decode(&b).is_err(), "byte {i} bit {bit}");
            }
        }
        assert_eq!(bytes.len(), MARK_LEN);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(LogMark::decode(&longer).is_err());
        // The most gaps a mark keeps still fit one sector.
        let mut full = m.clone();
        full.gaps = (0..MAX_GAPS as u64 * 2)
            .map(|i| (Lsn(i * 10 + 1), Lsn(i * 10 + 2)))
            .collect();
        let bytes = full.encode(1);
        assert_eq!(bytes.len(), MARK_LEN);
        let (back, _) = LogMark::decode(&bytes).unwrap();
        assert_eq!(back.gaps, full.gaps[MAX_GAPS..]);
    }

    #[test]
    fn the_file_keeps_the_previous_mark_through_a_failed_write() {
        let mut a = sample();
        let file = a.encode_file();
        assert_eq!(LogMark::decode_file(&file), Ok((a.clone(), 1, 0)));
        // Each write goes to the other slot with the next sequence number.
        let mut file = file;
        for n in 2..6u64 {
            a.durable = Lsn(1000 + n);
            let (at, slot) = a.encode_over(Some(&file)).unwrap();
            assert_eq!(at, ((n + 1) % 2) * MARK_LEN as u64);
            file[at as usize..at as usize + MARK_LEN].copy_from_slice(&slot);
            assert_eq!(LogMark::decode_file(&file).unwrap().0, a);
            // The same write torn or cut short at any point: the previous
            // mark is read.
            let mut b = a.clone();
            b.durable = Lsn(9999);
            let (at2, slot2) = b.encode_over(Some(&file)).unwrap();
            for cut in 0..MARK_LEN {
                let mut torn = file.clone();
                torn[at2 as usize..at2 as usize + cut].copy_from_slice(&slot2[..cut]);
                let read = LogMark::decode_file(&torn).unwrap().0;
                assert!(read == a || (cut >= 68 && read == b), "cut {cut}");
            }
        }
        assert!(a.encode_over(None).is_none());
        assert!(LogMark::decode_file(&[0u8; MARK_FILE_LEN]).is_err());
    }

    #[test]
    fn gaps_merge() {
        let mut g = vec![];
        add_gap(&mut g, Lsn(5), Lsn(9));
        add_gap(&mut g, Lsn(1), Lsn(2));
        add_gap(&mut g, Lsn(10), Lsn(12));
        add_gap(&mut g, Lsn(4), Lsn(3));
        assert_eq!(g, vec![(Lsn(1), Lsn(2)), (Lsn(5), Lsn(12))]);
        assert!(gap_declared(&g, Lsn(6), Lsn(12)));
        assert!(!gap_declared(&g, Lsn(2), Lsn(5)));
    }

    fn found(newest: u64, last: u64, active: (u64, u64), torn: Option<(u64, u64)>) -> Found {
        Found {
            newest_segment: (newest > 0).then_some(SegmentId(newest)),
            last: Lsn(last),
            active: Some((SegmentId(active.0), active.1)),
            torn: torn.map(|(s, at)| (SegmentId(s), at)),
        }
    }

    #[test]
    fn checks() {
        let mut m = sample();
        m.clean = None;
        assert_eq!(check(Ok(Some(&m)), &found(7, 1200, (6, 10), None)), Ok(()));
        // Newer segments than the mark names: prepared after it was written.
        assert_eq!(check(Ok(Some(&m)), &found(8, 1200, (6, 10), None)), Ok(()));
        assert!(matches!(
            check(Ok(Some(&m)), &found(6, 1200, (6, 10), None)),
            Err(MarkProblem::MissingSegments { .. })
        ));
        assert!(matches!(
            check(Ok(Some(&m)), &found(7, 999, (6, 10), None)),
            Err(MarkProblem::MissingRecords { .. })
        ));
        // A crash's torn tail is fine when the mark is not clean.
        assert_eq!(
            check(Ok(Some(&m)), &found(7, 1000, (6, 10), Some((6, 10)))),
            Ok(())
        );
        let clean = sample();
        assert_eq!(
            check(Ok(Some(&clean)), &found(7, 1000, (6, 4096), None)),
            Ok(())
        );
        assert!(matches!(
            check(
                Ok(Some(&clean)),
                &found(7, 1000, (6, 4000), Some((6, 4000)))
            ),
            Err(MarkProblem::ChangedSinceCleanStop { .. })
        ));
        assert!(matches!(
            check(Ok(Some(&clean)), &found(7, 1000, (6, 5000), None)),
            Err(MarkProblem::ChangedSinceCleanStop { .. })
        ));
        assert_eq!(
            check(
                Ok(None),
                &Found {
                    newest_segment: None,
                    last: Lsn(0),
                    active: None,
                    torn: None
                }
            ),
            Ok(())
        );
        assert_eq!(
            check(Ok(None), &found(1, 3, (1, 90), None)),
            Err(MarkProblem::NoMark)
        );
        assert!(matches!(
            check(Err(MarkError::BadCrc), &found(1, 3, (1, 90), None)),
            Err(MarkProblem::BadMark(_))
        ));
        // A declared gap covers records that are gone.
        let mut gapped = m.clone();
        gapped.gaps = vec![(Lsn(900), Lsn(1000))];
        assert_eq!(
            check(Ok(Some(&gapped)), &found(7, 899, (6, 10), None)),
            Ok(())
        );
    }
}
