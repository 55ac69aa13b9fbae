//! Segment rotation and retention: decisions, never actions.
//!
//! The group commit asks these functions where a record goes and which
//! sealed segments to delete; the server carries the deletions out. The
//! active segment (the one being written) and any segment after it are never
//! chosen for deletion.

use alloc::vec::Vec;

use crate::record::{Lsn, SegmentId, SEGMENT_HEADER_LEN};
use crate::time::Instant;

/// When to start a new segment and when to delete old ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentPolicy {
    /// Segment file size: a record that would end past it goes to the next
    /// segment. Default 64 MiB.
    pub segment_bytes: u64,
    /// Start a new segment for the next record once the active one has been
    /// written for this long (nanoseconds, monotonic clock). `None`: size only.
    pub max_age_ns: Option<u64>,
    /// Delete the oldest sealed segments while all segments together take
    /// more than this. Default 10 GiB.
    pub retention_bytes: u64,
    /// Delete sealed segments sealed longer ago than this (nanoseconds, wall
    /// clock: the only clock a restart keeps).
    pub retention_age_ns: Option<u64>,
}

impl Default for SegmentPolicy {
    fn default() -> Self {
        SegmentPolicy {
            segment_bytes: 64 << 20,
            max_age_ns: None,
            retention_bytes: 10 << 30,
            retention_age_ns: None,
        }
    }
}

/// What the policy knows of one segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The segment's id.
    pub id: SegmentId,
    /// Bytes it takes on disk (its preallocated file size).
    pub file_bytes: u64,
    /// When it was sealed (wall clock, ns since the Unix epoch), or when it
    /// was last written for the active one.
    pub sealed_at_ns: u64,
    /// Its first record's id (`Lsn(0)`: none yet).
    pub first: Lsn,
    /// Its last record's id (`Lsn(0)`: none yet).
    pub last: Lsn,
}

/// Why retention deletes a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteReason {
    /// All segments together took more than `retention_bytes`.
    Size,
    /// It was sealed longer ago than `retention_age_ns` (wall clock).
    Age,
}

impl SegmentPolicy {
    /// Whether a record of `frame_len` bytes, placed when the current segment
    /// holds data up to `offset` and was started at `started` (monotonic),
    /// must go to a new segment instead.
    pub fn needs_new_segment(
        &self,
        offset: u64,
        frame_len: u64,
        started: Instant,
        now: Instant,
    ) -> bool {
        if offset + frame_len > self.segment_bytes {
            return offset > SEGMENT_HEADER_LEN;
        }
        match self.max_age_ns {
            Some(age) => offset > SEGMENT_HEADER_LEN && now.nanos_since(started) >= age,
            None => false,
        }
    }

    /// The sealed segments to delete now, oldest first, each with why.
    ///
    /// `segments` lists every segment file oldest first. Only segments with an
    /// id below `active` are candidates; deleting stops at the first
    /// candidate that neither the size nor the age limit condemns, so the log
    /// always stays a contiguous run of segments. Age is measured on the
    /// wall clock passed in: a clock stepped forward past the retention age
    /// condemns every sealed segment at once.
    pub fn retention_victims(
        &self,
        segments: &[SegmentInfo],
        active: SegmentId,
        now_ns: u64,
    ) -> Vec<(SegmentId, DeleteReason)> {
        let mut total: u64 = segments.iter().map(|s| s.file_bytes).sum();
        let mut victims = Vec::new();
        for s in segments.iter().take_while(|s| s.id < active) {
            let reason = if total > self.retention_bytes {
                DeleteReason::Size
            } else if self
                .retention_age_ns
                .is_some_and(|age| now_ns.saturating_sub(s.sealed_at_ns) >= age)
            {
                DeleteReason::Age
            } else {
                break;
            };
            total -= s.file_bytes;
            victims.push((s.id, reason));
        }
        victims
    }

    /// When the oldest sealed segment reaches the retention age, if an age is set.
    pub fn next_expiry(&self, segments: &[SegmentInfo], active: SegmentId) -> Option<u64> {
        let age = self.retention_age_ns?;
        let oldest = segments.iter().find(|s| s.id < active)?;
        Some(oldest.sealed_at_ns.saturating_add(age))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn info(id: u64, bytes: u64, at: u64) -> SegmentInfo {
        SegmentInfo {
            id: SegmentId(id),
            file_bytes: bytes,
            sealed_at_ns: at,
            first: Lsn(0),
            last: Lsn(0),
        }
    }

    #[test]
    fn rotation_by_size_and_age() {
        let p = SegmentPolicy {
            segment_bytes: 1000,
            max_age_ns: Some(50),
            ..SegmentPolicy::default()
        };
        assert!(!p.needs_new_segment(32, 900, Instant::from_nanos(0), Instant::from_nanos(0)));
        assert!(p.needs_new_segment(500, 501, Instant::from_nanos(0), Instant::from_nanos(0)));
        // An empty segment takes any record that fits the format.
        assert!(!p.needs_new_segment(32, 5000, Instant::from_nanos(0), Instant::from_nanos(0)));
        assert!(p.needs_new_segment(100, 10, Instant::from_nanos(0), Instant::from_nanos(50)));
        assert!(!p.needs_new_segment(32, 10, Instant::from_nanos(0), Instant::from_nanos(50)));
    }

    #[test]
    fn retention_never_touches_active_or_later() {
        let p = SegmentPolicy {
            retention_bytes: 150,
            ..SegmentPolicy::default()
        };
        let segs = vec![
            info(1, 100, 0),
            info(2, 100, 0),
            info(3, 100, 0),
            info(4, 100, 0),
        ];
        assert_eq!(
            p.retention_victims(&segs, SegmentId(3), 0),
            vec![
                (SegmentId(1), DeleteReason::Size),
                (SegmentId(2), DeleteReason::Size)
            ]
        );
        assert_eq!(p.retention_victims(&segs[2..], SegmentId(3), 0), vec![]);
    }

    #[test]
    fn retention_by_age_keeps_order() {
        let p = SegmentPolicy {
            retention_age_ns: Some(10),
            ..SegmentPolicy::default()
        };
        let segs = vec![info(1, 1, 0), info(2, 1, 5), info(3, 1, 20), info(4, 1, 30)];
        assert_eq!(
            p.retention_victims(&segs, SegmentId(4), 16),
            vec![
                (SegmentId(1), DeleteReason::Age),
                (SegmentId(2), DeleteReason::Age)
            ]
        );
        assert_eq!(p.next_expiry(&segs, SegmentId(4)), Some(10));
    }
}
