//! The group commit: many producers' records, one write and one fdatasync.
//!
//! [`GroupCommit`] is a single-owner, sans-IO state machine. Producers
//! [`submit`](GroupCommit::submit) records; it frames them into a batch
//! buffer and hands out one IO operation at a time
//! ([`poll_io`](GroupCommit::poll_io)); the caller performs it and reports
//! the result ([`complete`](GroupCommit::complete)); events come out
//! ([`poll_event`](GroupCommit::poll_event)).
//!
//! Drain order: after every mutation (`submit`, `complete`,
//! `handle_timeout`), drain `poll_event` until `None`, then `poll_io` until
//! `None`, then sleep until `poll_timeout` or the next input.
//!
//! Guarantees:
//! - [`Event::Durable`]`(n)` is emitted only after the `Append` covering
//!   record `n` completed successfully, i.e. its write **and** its
//!   fdatasync returned success. Durable events come in increasing order.
//! - Idle, the first record goes out at once (no timer); while an append is
//!   in flight, new records collect in the next batch.
//! - Queued (not yet written) bytes are bounded: beyond
//!   [`CommitConfig::max_queued_bytes`] `submit` answers
//!   [`SubmitError::Busy`] and changes nothing.
//! - A failed append or sync is never retried: every record not yet durable
//!   is reported in [`Event::Failed`], later submits fail, no more IO is
//!   issued.
//! - Disk full (no space to create the next segment) is not fatal: every
//!   queued record (whole requests: segments are created before any queued
//!   record is written) is reported in [`Event::Rejected`] and was never
//!   written; creation is retried after
//!   [`CommitConfig::disk_full_retry_ns`] on the monotonic clock (a wall
//!   clock stepped backwards does not prolong it), or as soon as a deletion
//!   frees space.
//! - Ids are dense: each record's id is the previous one's + 1. Records
//!   rejected for lack of space were never written nor acknowledged, so
//!   their ids go to the next records; [`Event::Rejected`] carries the id
//!   epoch it applies to ([`GroupCommit::id_epoch`]), so an owner never
//!   mistakes a later record that reuses an id for the rejected one.
//! - Before the first record goes into a new segment, the segment's creation
//!   has written the [`LogMark`] (`IoOp::Prepare` carries it), whose
//!   `id_bound` covers every id that can be handed out until the next
//!   segment is created.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use crate::mark::{records_per_segment, CleanEnd, LogMark};
use crate::record::{
    encode_frame, frame_len, Lsn, SegmentId, FLAG_BATCH_START, SEGMENT_HEADER_LEN,
};
use crate::segment::{DeleteReason, SegmentInfo, SegmentPolicy};
use crate::time::{Instant, Now, UnixNanos};

/// Tuning of the group commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitConfig {
    /// Rotation and retention.
    pub policy: SegmentPolicy,
    /// Largest record payload accepted.
    pub max_payload: u32,
    /// Largest single write (bytes of frames in one `Append`).
    pub max_batch_bytes: u64,
    /// Bound on bytes submitted but not yet handed to IO. A submit that would
    /// pass it is refused with [`SubmitError::Busy`] (unless nothing is
    /// queued, so a single large request always fits eventually).
    pub max_queued_bytes: u64,
    /// How long to wait before retrying segment creation after ENOSPC.
    pub disk_full_retry_ns: u64,
}

/// Appends (write + fdatasync) in flight at once. One: each write is synced
/// before the next starts, so after a crash only the last write can be torn,
/// and recovery can tell a torn write from corruption (see
/// [`crate::recover`]). Overlapping syncs were measured (2 in flight gave
/// fewer records per second with synchronous writers on the development
/// machine) and, in the deterministic simulation, made an acknowledged-then-
/// corrupted write indistinguishable from a torn unacknowledged one.
pub const MAX_IN_FLIGHT: u8 = 1;

impl Default for CommitConfig {
    fn default() -> Self {
        CommitConfig {
            policy: SegmentPolicy::default(),
            max_payload: 1 << 20,
            max_batch_bytes: 8 << 20,
            max_queued_bytes: 64 << 20,
            disk_full_retry_ns: 1_000_000_000,
        }
    }
}

/// Where the log stood when the process started (from the recovery scan).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogState {
    /// Every segment file, oldest first, including the active one and any
    /// prepared after it.
    pub segments: Vec<SegmentInfo>,
    /// The segment the next record goes to (newest with records, or the
    /// first prepared one); `None` for an empty directory.
    pub active: Option<SegmentId>,
    /// The write position in the active segment.
    pub active_end: u64,
    /// The last id given out: the last record in the log (`Lsn(0)` for
    /// none), or past it when lost records were accepted (ids continue
    /// after the lost ones).
    pub last_lsn: Lsn,
    /// Id ranges declared lost, kept in every [`LogMark`] written.
    pub gaps: Vec<(Lsn, Lsn)>,
    /// The active segment takes no more records (ids continue after a
    /// declared gap, and ids are dense within a segment): the next record
    /// starts a new segment.
    pub seal_active: bool,
}

/// One IO operation for the caller to perform, then pass back to
/// [`GroupCommit::complete`].
#[derive(Debug, PartialEq, Eq)]
pub enum IoOp {
    /// Create segment `segment`: write its header, preallocate `file_bytes`,
    /// sync the file, make it visible under its final name, sync the
    /// directory; then replace the log mark with `mark` (written to a
    /// temporary name, synced, renamed, directory synced). The operation
    /// succeeds only when both are durable.
    Prepare {
        /// The new segment.
        segment: SegmentId,
        /// Its file size.
        file_bytes: u64,
        /// The mark to write once the segment exists.
        mark: LogMark,
    },
    /// Write `data` at `offset` in `segment`, then fdatasync that file.
    Append {
        /// Target segment (prepared before).
        segment: SegmentId,
        /// Byte offset in the file.
        offset: u64,
        /// The framed records; returned through `complete` for reuse.
        data: Vec<u8>,
        /// First record id in `data`.
        first: Lsn,
        /// Last record id in `data`.
        last: Lsn,
    },
    /// Delete a sealed segment's file, then sync the directory.
    Delete {
        /// The segment to delete.
        segment: SegmentId,
    },
}

/// How an IO operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoError {
    /// ENOSPC (or EDQUOT) while creating a segment.
    NoSpace,
    /// Any other failure, with the OS error number; a short write is `EIO`.
    Os(i32),
    /// The segment file was deleted (its link count is 0) while the log
    /// wrote to it: what was written there is gone with it.
    SegmentDeleted,
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IoError::NoSpace => f.write_str("no space left on device"),
            IoError::Os(errno) => write!(f, "OS error {errno}"),
            IoError::SegmentDeleted => {
                f.write_str("the segment file was deleted while being written")
            }
        }
    }
}

/// What happened, for the owner to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Every submitted record with an id up to this one, other than those
    /// reported rejected, is written and synced.
    Durable(Lsn),
    /// Records `first..=last` submitted in id epoch `epoch` were not written
    /// (disk full) and never will be. Their ids go to the next records,
    /// which belong to epoch `epoch + 1`.
    Rejected {
        /// First rejected id.
        first: Lsn,
        /// Last rejected id.
        last: Lsn,
        /// The id epoch the rejected records were submitted in.
        epoch: u64,
    },
    /// A write or sync failed: records `first..=last` (empty when
    /// `first > last`) will never be acknowledged and the log accepts
    /// nothing more. The owner should stop and exit non-zero.
    Failed {
        /// First record that will not be acknowledged.
        first: Lsn,
        /// Last record submitted.
        last: Lsn,
        /// The failure.
        error: IoError,
    },
    /// The first record reached a new segment; the previous one is sealed.
    Rotated {
        /// The segment sealed (none on the first segment of a log).
        sealed: Option<SegmentId>,
        /// The new active segment.
        active: SegmentId,
    },
    /// A segment was deleted by retention.
    Deleted {
        /// The segment deleted.
        segment: SegmentId,
        /// Its first record id (`Lsn(0)`: it held none).
        first: Lsn,
        /// Its last record id.
        last: Lsn,
        /// Its file size.
        file_bytes: u64,
        /// Why it was deleted.
        reason: DeleteReason,
    },
}

/// Why a submit was refused. Nothing was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue is full; try again after the current write finishes.
    Busy,
    /// A record is larger than the configured maximum.
    TooLarge {
        /// The payload length.
        len: u64,
        /// The maximum.
        max: u32,
    },
    /// A record is empty, or no records were given.
    Empty,
    /// The disk is full and these records need a new segment.
    DiskFull,
    /// The log failed and accepts nothing more.
    Failed,
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Busy => f.write_str("write queue full"),
            SubmitError::TooLarge { len, max } => {
                write!(f, "record of {len} bytes is larger than the maximum {max}")
            }
            SubmitError::Empty => f.write_str("empty record"),
            SubmitError::DiskFull => f.write_str("disk full"),
            SubmitError::Failed => f.write_str("log failed after a write error"),
        }
    }
}

/// Counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Appends completed (each one write + one fdatasync).
    pub syncs: u64,
    /// Records made durable.
    pub records: u64,
    /// Frame bytes made durable.
    pub bytes: u64,
    /// Records rejected for lack of space: queued and then dropped
    /// ([`Event::Rejected`]), or refused at submit while the disk was full.
    pub rejected: u64,
    /// Segments created.
    pub segments_created: u64,
    /// Segments deleted by retention.
    pub segments_deleted: u64,
}

struct Batch {
    segment: SegmentId,
    offset: u64,
    data: Vec<u8>,
    first: Lsn,
    last: Lsn,
}

/// An append handed out and not yet completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AppendInFlight {
    segment: SegmentId,
    offset: u64,
    last: Lsn,
    records: u64,
    bytes: u64,
    done: bool,
}

/// The one segment-file operation (create or delete) that may run beside
/// the appends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Maintenance {
    Prepare(SegmentId),
    /// A retention delete, and why retention chose it.
    Delete(SegmentId, DeleteReason),
}

/// The group-commit state machine. See the module docs for the contract.
///
/// Methods: getters (`durable`, `stats`, `segments`, …); inputs (`submit`,
/// `complete`, `handle_timeout`); outputs (`poll_event`, `poll_io`,
/// `poll_timeout`).
pub struct GroupCommit {
    cfg: CommitConfig,
    next_lsn: Lsn,
    durable: Lsn,
    /// Where the next submitted record goes.
    place_segment: SegmentId,
    /// The file size of `place_segment`, where placing stops: its
    /// preallocated length. A segment recovered from an earlier run keeps
    /// the size it was created with, whatever `segment_bytes` is now, so a
    /// larger `segment_bytes` never writes past its end (growing the file)
    /// and a smaller one never overfills the id bound.
    place_capacity: u64,
    place_offset: u64,
    /// When the placement segment took its first record (monotonic).
    place_started: Instant,
    /// End of the last issued append (so a rejection can rewind placement).
    written_segment: SegmentId,
    written_end: u64,
    queue: VecDeque<Batch>,
    queued_bytes: u64,
    /// Appends in issue order; acknowledged only from the front.
    appends: VecDeque<AppendInFlight>,
    maintenance: Option<Maintenance>,
    /// Segments up to this one take no more records ([`LogState::seal_active`]).
    sealed_through: SegmentId,
    /// Id ranges declared lost, carried into every mark.
    gaps: Vec<(Lsn, Lsn)>,
    /// The highest `id_bound` written in a mark.
    id_bound: Lsn,
    /// Rejections so far: the id epoch.
    epoch: u64,
    /// Segment of the last completed append.
    active: SegmentId,
    /// Highest segment whose file exists.
    prepared: SegmentId,
    segments: Vec<SegmentInfo>,
    deletes: VecDeque<(SegmentId, DeleteReason)>,
    /// After ENOSPC: no segment creation before this (monotonic).
    disk_full_until: Option<Instant>,
    spare: Vec<Vec<u8>>,
    events: VecDeque<Event>,
    failed: bool,
    stats: CommitStats,
}

impl GroupCommit {
    /// Starts from the recovered state of a log.
    ///
    /// # Panics
    /// If `cfg.max_payload` does not fit a segment (a configuration error
    /// the caller validates first with [`CommitConfig::validate`]).
    pub fn new(cfg: CommitConfig, state: LogState, now: Now) -> GroupCommit {
        assert!(cfg.validate().is_ok(), "invalid commit config");
        let active = state.active.unwrap_or_default();
        let prepared = state.segments.last().map_or(SegmentId(0), |s| s.id);
        let end = if state.active.is_some() {
            state.active_end
        } else {
            SEGMENT_HEADER_LEN
        };
        let sealed_through = if state.seal_active {
            active
        } else {
            SegmentId(0)
        };
        let mut gc = GroupCommit {
            cfg,
            sealed_through,
            gaps: state.gaps,
            id_bound: state.last_lsn,
            epoch: 0,
            next_lsn: state.last_lsn.next(),
            durable: state.last_lsn,
            place_segment: active,
            place_offset: end,
            // Set from the segment list below.
            place_capacity: 0,
            place_started: now.mono,
            written_segment: active,
            written_end: end,
            queue: VecDeque::new(),
            queued_bytes: 0,
            appends: VecDeque::new(),
            maintenance: None,
            active,
            prepared,
            segments: state.segments,
            deletes: VecDeque::new(),
            disk_full_until: None,
            spare: Vec::new(),
            events: VecDeque::new(),
            failed: false,
            stats: CommitStats::default(),
        };
        gc.place_capacity = gc.capacity_of(active);
        gc.id_bound = gc.bound_now();
        gc.plan_retention(now.wall);
        gc
    }

    /// The bound on ids given out before the next segment is created: ids
    /// already given, plus what the active segment and the next one can
    /// hold (a record reaches a third segment only after that segment's
    /// creation wrote a new mark).
    fn bound_now(&self) -> Lsn {
        let largest = self.place_capacity.max(self.cfg.policy.segment_bytes);
        let room = records_per_segment(largest).saturating_mul(2);
        Lsn((self.next_lsn.0 - 1).saturating_add(room)).max(self.id_bound)
    }

    /// The mark to write when the log opens, before any record is written:
    /// not clean, naming the newest segment and bounding the ids this run
    /// may give out before it creates another segment.
    pub fn open_mark(&self) -> LogMark {
        LogMark {
            newest_segment: self.prepared,
            durable: self.durable,
            id_bound: self.id_bound,
            clean: None,
            gaps: self.gaps.clone(),
        }
    }

    /// The mark to write at a clean shutdown: where the log ends now.
    /// `None` unless the log is idle and has not failed.
    pub fn clean_mark(&self) -> Option<LogMark> {
        if self.failed || !self.is_idle() {
            return None;
        }
        let clean = if self.written_segment.0 != 0 {
            Some(CleanEnd {
                segment: self.written_segment,
                end: self.written_end,
            })
        } else {
            // No segment yet, or none written: recovery finds the first
            // segment empty, its end right after the header.
            self.segments.first().map(|s| CleanEnd {
                segment: s.id,
                end: SEGMENT_HEADER_LEN,
            })
        };
        Some(LogMark {
            newest_segment: self.prepared,
            durable: self.durable,
            id_bound: self.durable.max(Lsn(self.next_lsn.0 - 1)),
            clean,
            gaps: self.gaps.clone(),
        })
    }

    /// The id epoch: how many times queued records were rejected (and
    /// their ids given again). See [`Event::Rejected`].
    pub fn id_epoch(&self) -> u64 {
        self.epoch
    }

    /// The id the next submitted record will get.
    pub fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    /// The highest id reported durable so far.
    pub fn durable(&self) -> Lsn {
        self.durable
    }

    /// True once a write or sync failed.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// True while segment creation is failing for lack of space.
    pub fn is_disk_full(&self) -> bool {
        self.disk_full_until.is_some()
    }

    /// True when nothing is queued or in flight.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
            && self.appends.is_empty()
            && self.maintenance.is_none()
            && self.deletes.is_empty()
    }

    /// Counters since start.
    pub fn stats(&self) -> CommitStats {
        self.stats
    }

    /// Every segment file, oldest first.
    pub fn segments(&self) -> &[SegmentInfo] {
        &self.segments
    }

    /// Whether retention has queued or started deleting `segment` (its file
    /// may already be gone while [`GroupCommit::segments`] still lists it).
    pub fn is_deleting(&self, segment: SegmentId) -> bool {
        self.deletes.iter().any(|&(d, _)| d == segment)
            || matches!(self.maintenance, Some(Maintenance::Delete(d, _)) if d == segment)
    }

    /// The segment being written (`SegmentId(0)` before the first record).
    pub fn active(&self) -> SegmentId {
        self.active
    }

    /// Bytes queued for the next writes.
    pub fn queued_bytes(&self) -> u64 {
        self.queued_bytes
    }

    /// Queues records, all or none. Returns the first and last id given.
    ///
    /// Records are framed at once into the batch for the segment they will
    /// occupy; a record never spans two segments.
    pub fn submit<'p, I>(&mut self, now: Now, payloads: I) -> Result<(Lsn, Lsn), SubmitError>
    where
        I: IntoIterator<Item = &'p [u8]>,
        I::IntoIter: Clone,
    {
        if self.failed {
            return Err(SubmitError::Failed);
        }
        let iter = payloads.into_iter();
        let mut total = 0u64;
        let mut count = 0u64;
        for p in iter.clone() {
            let len = p.len() as u64;
            if len == 0 {
                return Err(SubmitError::Empty);
            }
            if len > u64::from(self.cfg.max_payload) {
                return Err(SubmitError::TooLarge {
                    len,
                    max: self.cfg.max_payload,
                });
            }
            total += frame_len(len as u32);
            count += 1;
        }
        if count == 0 {
            return Err(SubmitError::Empty);
        }
        if self.queued_bytes > 0 && self.queued_bytes + total > self.cfg.max_queued_bytes {
            return Err(SubmitError::Busy);
        }
        // Inside the retry window after ENOSPC, refuse at once what needs a
        // new segment; after it, accept and let `poll_io` try creation again.
        let retrying_later = self.disk_full_until.is_some_and(|t| now.mono < t);
        if retrying_later && self.would_need_new_segment(total) {
            self.stats.rejected += count;
            return Err(SubmitError::DiskFull);
        }
        let first = self.next_lsn;
        for p in iter {
            self.place(now.mono, p);
        }
        Ok((first, Lsn(self.next_lsn.0 - 1)))
    }

    fn would_need_new_segment(&self, total: u64) -> bool {
        self.place_segment >= self.prepared
            && (self.place_segment > self.prepared
                || self.place_segment.0 == 0
                || self.place_segment <= self.sealed_through
                || self.place_offset + total > self.place_capacity)
    }

    fn place(&mut self, now: Instant, payload: &[u8]) {
        let len = frame_len(payload.len() as u32);
        let policy = SegmentPolicy {
            segment_bytes: self.place_capacity,
            ..self.cfg.policy
        };
        if self.place_segment.0 == 0
            || self.place_segment <= self.sealed_through
            || policy.needs_new_segment(self.place_offset, len, self.place_started, now)
        {
            self.place_segment = self.place_segment.next();
            self.place_offset = SEGMENT_HEADER_LEN;
            // Prepared by an earlier run: its size then; else the setting.
            self.place_capacity = self.capacity_of(self.place_segment);
            self.place_started = now;
        }
        let lsn = self.next_lsn;
        self.next_lsn = lsn.next();
        let fits_last = self.queue.back().is_some_and(|b| {
            b.segment == self.place_segment && b.data.len() as u64 + len <= self.cfg.max_batch_bytes
        });
        if !fits_last {
            let data = self.spare.pop().unwrap_or_default();
            self.queue.push_back(Batch {
                segment: self.place_segment,
                offset: self.place_offset,
                data,
                first: lsn,
                last: lsn,
            });
        }
        if let Some(batch) = self.queue.back_mut() {
            let flags = if fits_last { 0 } else { FLAG_BATCH_START };
            encode_frame(&mut batch.data, self.place_segment, lsn, flags, payload);
            batch.last = lsn;
        }
        self.place_offset += len;
        self.queued_bytes += len;
    }

    /// The next IO operation, if one may start now; call until `None`.
    ///
    /// At most [`MAX_IN_FLIGHT`] appends run at once, acknowledged strictly
    /// in order; beside them at most one segment create or delete runs.
    pub fn poll_io(&mut self, now: Now) -> Option<IoOp> {
        if self.failed {
            return None;
        }
        if let Some(newest) = self.queue.back() {
            // Create every segment the queue needs before writing any of it:
            // a request spanning into a new segment is then either written
            // whole or, if creation hits ENOSPC, rejected whole.
            if newest.segment > self.prepared {
                if self.maintenance.is_none() {
                    if self.disk_full_until.is_some_and(|t| now.mono < t) {
                        self.reject_queue();
                    } else {
                        return Some(self.start_prepare());
                    }
                }
            } else if self.maintenance.is_none() && self.should_prepare_ahead(now.mono) {
                return Some(self.start_prepare());
            } else if self.can_append() {
                return self.start_append();
            }
        }
        if self.maintenance.is_none() {
            if let Some((segment, reason)) = self.deletes.pop_front() {
                self.maintenance = Some(Maintenance::Delete(segment, reason));
                return Some(IoOp::Delete { segment });
            }
            if self.should_prepare_ahead(now.mono) {
                return Some(self.start_prepare());
            }
        }
        None
    }

    fn can_append(&self) -> bool {
        !self.queue.is_empty() && self.appends.len() < usize::from(MAX_IN_FLIGHT)
    }

    fn start_append(&mut self) -> Option<IoOp> {
        let batch = self.queue.pop_front()?;
        let bytes = batch.data.len() as u64;
        self.queued_bytes -= bytes;
        self.written_segment = batch.segment;
        self.written_end = batch.offset + bytes;
        self.appends.push_back(AppendInFlight {
            segment: batch.segment,
            offset: batch.offset,
            last: batch.last,
            records: batch.last.0 - batch.first.0 + 1,
            bytes,
            done: false,
        });
        Some(IoOp::Append {
            segment: batch.segment,
            offset: batch.offset,
            data: batch.data,
            first: batch.first,
            last: batch.last,
        })
    }

    /// Prepare the next segment once the current one is half full, so
    /// rotation itself is only a switch; and retry after disk full.
    fn should_prepare_ahead(&self, now: Instant) -> bool {
        if self.prepared > self.place_segment || self.place_segment.0 == 0 {
            return false;
        }
        match self.disk_full_until {
            Some(t) => now >= t,
            None => self.place_offset >= self.place_capacity / 2,
        }
    }

    fn start_prepare(&mut self) -> IoOp {
        let segment = self.prepared.next();
        self.maintenance = Some(Maintenance::Prepare(segment));
        self.id_bound = self.bound_now();
        IoOp::Prepare {
            segment,
            file_bytes: self.cfg.policy.segment_bytes,
            mark: LogMark {
                newest_segment: segment,
                durable: self.durable,
                id_bound: self.id_bound,
                clean: None,
                gaps: self.gaps.clone(),
            },
        }
    }

    /// The file size of `segment`: as listed, else (not created yet) the
    /// configured size.
    fn capacity_of(&self, segment: SegmentId) -> u64 {
        self.segments
            .iter()
            .rev()
            .find(|s| s.id == segment)
            .map_or(self.cfg.policy.segment_bytes, |s| s.file_bytes)
    }

    fn reject_queue(&mut self) {
        let (Some(first), Some(last)) = (
            self.queue.front().map(|b| b.first),
            self.queue.back().map(|b| b.last),
        ) else {
            return;
        };
        for mut batch in self.queue.drain(..) {
            batch.data.clear();
            self.spare.push(batch.data);
        }
        self.stats.rejected += last.0 - first.0 + 1;
        self.queued_bytes = 0;
        self.place_segment = self.written_segment;
        self.place_offset = self.written_end;
        self.place_capacity = self.capacity_of(self.written_segment);
        // Nothing from `first` on was written or acknowledged: the next
        // records take these ids, in a new epoch.
        self.next_lsn = first;
        self.events.push_back(Event::Rejected {
            first,
            last,
            epoch: self.epoch,
        });
        self.epoch += 1;
    }

    /// Reports the result of an operation `poll_io` handed out (pass the op
    /// back so its buffer is reused).
    pub fn complete(&mut self, now: Now, op: IoOp, result: Result<(), IoError>) {
        match op {
            IoOp::Append {
                segment,
                offset,
                mut data,
                ..
            } => {
                data.clear();
                self.spare.push(data);
                let Some(i) = self
                    .appends
                    .iter()
                    .position(|a| a.segment == segment && a.offset == offset)
                else {
                    debug_assert!(false, "completion of an append not in flight");
                    return;
                };
                if self.failed {
                    // Nothing is acknowledged after a failure, whatever completes.
                    self.appends.remove(i);
                    return;
                }
                match result {
                    Ok(()) => {
                        if let Some(a) = self.appends.get_mut(i) {
                            a.done = true;
                        }
                        self.release_durable(now.wall);
                    }
                    Err(error) => {
                        self.appends.remove(i);
                        self.fail(error);
                    }
                }
            }
            IoOp::Prepare { segment, .. } => {
                self.maintenance = None;
                if self.failed {
                    return;
                }
                match result {
                    Ok(()) => {
                        self.prepared = segment;
                        self.disk_full_until = None;
                        self.stats.segments_created += 1;
                        self.segments.push(SegmentInfo {
                            id: segment,
                            file_bytes: self.cfg.policy.segment_bytes,
                            sealed_at_ns: now.wall.0,
                            first: Lsn(0),
                            last: Lsn(0),
                        });
                        self.plan_retention(now.wall);
                    }
                    Err(IoError::NoSpace) => {
                        self.disk_full_until =
                            Some(now.mono.add_nanos(self.cfg.disk_full_retry_ns));
                        if self.queue.back().is_some_and(|b| b.segment > self.prepared) {
                            self.reject_queue();
                        }
                    }
                    Err(error) => self.fail(error),
                }
            }
            IoOp::Delete { segment } => {
                let reason = match self.maintenance.take() {
                    Some(Maintenance::Delete(id, reason)) if id == segment => reason,
                    _ => {
                        debug_assert!(false, "completion of a delete not in flight");
                        DeleteReason::Size
                    }
                };
                if self.failed {
                    return;
                }
                match result {
                    Ok(()) => {
                        let info = self.segments.iter().find(|s| s.id == segment).copied();
                        self.segments.retain(|s| s.id != segment);
                        self.stats.segments_deleted += 1;
                        self.events.push_back(Event::Deleted {
                            segment,
                            first: info.map_or(Lsn(0), |i| i.first),
                            last: info.map_or(Lsn(0), |i| i.last),
                            file_bytes: info.map_or(0, |i| i.file_bytes),
                            reason,
                        });
                        if self.disk_full_until.is_some() {
                            // Space was freed: retry creation at once.
                            self.disk_full_until = Some(now.mono);
                        }
                    }
                    Err(error) => self.fail(error),
                }
            }
        }
    }

    /// Acknowledges completed appends from the front, in order.
    fn release_durable(&mut self, wall: UnixNanos) {
        let mut newest = None;
        while self.appends.front().is_some_and(|a| a.done) {
            let Some(a) = self.appends.pop_front() else {
                break;
            };
            newest = Some(a.last);
            let first_of_append = Lsn(a.last.0 + 1 - a.records);
            if let Some(s) = self.segments.iter_mut().find(|s| s.id == a.segment) {
                if s.first == Lsn(0) {
                    s.first = first_of_append;
                }
                s.last = a.last;
            }
            self.stats.syncs += 1;
            self.stats.records += a.records;
            self.stats.bytes += a.bytes;
            if a.segment != self.active {
                let sealed = (self.active.0 != 0).then_some(self.active);
                if let Some(s) = self.segments.iter_mut().find(|s| Some(s.id) == sealed) {
                    s.sealed_at_ns = wall.0;
                }
                self.active = a.segment;
                self.events.push_back(Event::Rotated {
                    sealed,
                    active: a.segment,
                });
                self.plan_retention(wall);
            }
        }
        if let Some(last) = newest {
            self.durable = last;
            self.events.push_back(Event::Durable(last));
        }
    }

    fn fail(&mut self, error: IoError) {
        self.failed = true;
        for mut batch in self.queue.drain(..) {
            batch.data.clear();
        }
        self.queued_bytes = 0;
        self.deletes.clear();
        self.events.push_back(Event::Failed {
            first: self.durable.next(),
            last: Lsn(self.next_lsn.0 - 1),
            error,
        });
    }

    /// Advances time: applies age-based retention and disk-full retries.
    pub fn handle_timeout(&mut self, now: Now) {
        self.plan_retention(now.wall);
    }

    /// When `handle_timeout` (then `poll_io`) should next run, if ever, on
    /// the monotonic clock. A retention expiry (a wall-clock time) is
    /// converted through `now`; if the wall clock steps, the next call
    /// converts again.
    pub fn poll_timeout(&self, now: Now) -> Option<Instant> {
        let expiry = self
            .cfg
            .policy
            .next_expiry(&self.segments, self.active)
            .filter(|_| !self.failed)
            .map(|at| now.mono.add_nanos(at.saturating_sub(now.wall.0)));
        match (expiry, self.disk_full_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn plan_retention(&mut self, wall: UnixNanos) {
        if self.failed {
            return;
        }
        let victims = self
            .cfg
            .policy
            .retention_victims(&self.segments, self.active, wall.0);
        for (id, reason) in victims {
            let queued = self.deletes.iter().any(|&(d, _)| d == id)
                || matches!(self.maintenance, Some(Maintenance::Delete(d, _)) if d == id);
            if !queued {
                self.deletes.push_back((id, reason));
            }
        }
    }
}

impl CommitConfig {
    /// Checks that the limits are consistent: a maximum-size record fits in
    /// an empty segment, and batches hold at least one record.
    pub fn validate(&self) -> Result<(), &'static str> {
        let max_frame = frame_len(self.max_payload);
        if self.max_payload == 0 || self.max_payload > crate::record::MAX_PAYLOAD_LEN {
            return Err("maximum record size must be between 1 byte and 64 MiB");
        }
        if SEGMENT_HEADER_LEN + max_frame > self.policy.segment_bytes {
            return Err("segment size must hold the header and one maximum-size record");
        }
        if max_frame > self.max_batch_bytes {
            return Err("batch size must hold one maximum-size record");
        }
        Ok(())
    }
}
