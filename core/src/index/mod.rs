//! The per-segment index: block summaries that let a query skip what cannot
//! match, and the persisted form of a sealed segment's index.
//!
//! This module owns the [`SegmentIndex`] of each segment, the
//! [`IndexBuilder`] that grows it one record at a time (as records are
//! appended, or while a segment is scanned to rebuild it), and its on-disk
//! encoding ([`encode`], [`decode`]). It guarantees that every record the
//! builder was given lies in exactly one block, blocks tile the segment from
//! its header to [`SegmentIndex::covered_len`] in id order, and a block's
//! summary is true of every record in it: ids, byte range, timestamp range
//! and levels exactly, services as a superset (see [`ServiceSet`]). A
//! persisted index that fails any check does not decode: the server rebuilds
//! it from the segment rather than trust it.
//!
//! # Block size
//!
//! A block closes once it holds [`BlockTarget::max_bytes`] of frames or
//! [`BlockTarget::max_records`] records, whichever comes first. The default,
//! 32 KiB or 512 records, was chosen by measurement; the numbers and the
//! reasoning are on [`DEFAULT_BLOCK_TARGET`].
//!
//! # Memory
//!
//! A [`BlockSummary`] is 136 bytes in memory (the exact service set, 8 × 8
//! bytes, is about half of it; the block's CRC 8), so an index costs 136
//! bytes per block. With the
//! default target every closed block holds 32 KiB or 512 records, so per
//! record an index holds at most `136 / 512 + 136 × frame / 32768` bytes:
//! 0.27 plus 0.42% of the record's frame. Measured (before the block CRC
//! was added) on ~190-byte records: 0.73 bytes per record in memory, 0.47
//! persisted; the daemon reports its own figure in `/stats`. That is within
//! 8 bytes per record for frames up to about 1.8 KiB; larger records cost
//! more per record but never more than 0.42% of their size. `core/tests/query.rs` checks the bound.

mod block;
mod persist;
mod services;

use alloc::vec::Vec;
use core::fmt;

use crate::entry::{EntryError, EntryRef};
use crate::record::{
    decode_frame, Decoded, FrameError, Lsn, SegmentId, FRAME_HEADER_LEN, MAX_PAYLOAD_LEN,
    SEGMENT_HEADER_LEN,
};

pub use block::{BlockSummary, Fields, LevelMask, ALL_LEVELS, NOT_AN_ENTRY};
pub use persist::{decode, encode, BlockFault, IndexError, INDEX_MAGIC, INDEX_VERSION};
pub use services::{service_hash, service_hash_bytes, ServiceSet, BLOOM_BITS, EXACT_SERVICES};

/// The smallest frame a record can have: a frame header and one payload
/// byte (a raw library payload; an entry takes at least 20).
const MIN_FRAME_LEN: u64 = FRAME_HEADER_LEN as u64 + 1;

/// The largest [`BlockTarget::max_bytes`]: a block then stays below
/// `MAX_BLOCK_BYTES` plus one largest frame, within `u32`.
pub const MAX_BLOCK_BYTES: u32 = 1 << 30;

/// When the builder closes a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockTarget {
    /// Close a block once its frames take at least this many bytes.
    pub max_bytes: u32,
    /// Close a block once it holds this many records.
    pub max_records: u32,
}

/// The default block target: 32 KiB or 512 records.
///
/// Measured with the `#[ignore]`d `measure_block_targets` in
/// `core/tests/query.rs`: one 40 MiB segment of 225,000 records of 186
/// bytes on average, 12 services of skewed popularity interleaved at random,
/// mostly increasing timestamps; percentages are of the segment's bytes
/// the plan reads, times are plan + scan in memory (release, one core):
///
/// | target | index B/record (memory, persisted) | service at 0.7% | `CRITICAL` at 0.1% | 1% time window |
/// |---|---|---|---|---|
/// | 4 KiB | 5.69, 4.29 | 14.5%, 3.6 ms | 2.3%, 0.5 ms | 1.1% |
/// | 8 KiB | 2.88, 1.89 | 26.8%, 6.2 ms | 4.5%, 0.9 ms | 1.1% |
/// | 16 KiB | 1.45, 0.94 | 45.6%, 9.8 ms | 8.7%, 1.8 ms | 1.1% |
/// | 32 KiB | 0.73, 0.47 | 70.1%, 14.9 ms | 16.6%, 3.4 ms | 1.2% |
/// | 64 KiB | 0.36, 0.24 | 91.5%, 18.3 ms | 30.0%, 5.9 ms | 1.3% |
/// | 256 KiB | 0.09, 0.06 | 100%, 20.0 ms | 76.2%, 15.1 ms | 1.9% |
///
/// Halving the block size roughly halves what a filter on a rare value
/// reads and doubles the index's memory; time windows (the common narrowing
/// filter) skip well at every size. 32 KiB reads about half of what 64 KiB
/// reads for rare levels while keeping the index at 4 MiB per GiB of log
/// (40 MiB at the default 10 GiB retention; 16 KiB would double that for
/// another halving). Reads stay large enough to be cheap, and adjacent
/// planned blocks are adjacent on disk, so a reader can merge them. The
/// test interleaves services at random, the worst case: real logs cluster
/// a rare service's or an incident's records in time, which skips better at
/// any size. The record cap only binds for frames under 64 bytes; it bounds
/// the records one block scan collects.
pub const DEFAULT_BLOCK_TARGET: BlockTarget = BlockTarget {
    max_bytes: 32 << 10,
    max_records: 512,
};

impl Default for BlockTarget {
    fn default() -> Self {
        DEFAULT_BLOCK_TARGET
    }
}

/// The index of one segment: its blocks, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentIndex {
    segment: SegmentId,
    end: u64,
    blocks: Vec<BlockSummary>,
}

impl SegmentIndex {
    /// An index of a segment with no records yet.
    pub fn empty(segment: SegmentId) -> Self {
        SegmentIndex {
            segment,
            end: SEGMENT_HEADER_LEN,
            blocks: Vec::new(),
        }
    }

    /// The segment this index describes.
    pub fn segment(&self) -> SegmentId {
        self.segment
    }

    /// The segment offset just past the last indexed frame
    /// ([`SEGMENT_HEADER_LEN`] when there is none). A persisted index is
    /// current only if this equals the segment's logical end.
    pub fn covered_len(&self) -> u64 {
        self.end
    }

    /// The blocks, oldest first; consecutive and in id order.
    pub fn blocks(&self) -> &[BlockSummary] {
        &self.blocks
    }

    /// Records indexed.
    pub fn records(&self) -> u64 {
        self.blocks.iter().map(|b| u64::from(b.records)).sum()
    }

    /// The oldest indexed record's id, if any.
    pub fn first_id(&self) -> Option<Lsn> {
        self.blocks.first().map(|b| b.first_id)
    }

    /// The newest indexed record's id, if any.
    pub fn last_id(&self) -> Option<Lsn> {
        self.blocks.last().map(|b| b.last_id)
    }

    /// The block whose id range holds `id`, if any: where to start reading
    /// for a record id.
    pub fn block_for_id(&self, id: Lsn) -> Option<&BlockSummary> {
        let at = self.blocks.partition_point(|b| b.last_id < id);
        self.blocks.get(at).filter(|b| b.first_id <= id)
    }

    /// Bytes this index holds in memory (the value and its block list).
    pub fn memory_bytes(&self) -> usize {
        core::mem::size_of::<Self>() + self.blocks.capacity() * core::mem::size_of::<BlockSummary>()
    }
}

/// Why a record cannot be added to an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// The frame does not start where the previous one ended.
    NotContiguous {
        /// Where the next frame must start.
        expected: u64,
        /// Where the pushed frame starts.
        got: u64,
    },
    /// The id is not above the previous record's (or is 0).
    IdNotIncreasing {
        /// The previous record's id (`Lsn(0)` for none).
        previous: Lsn,
        /// The pushed id.
        got: Lsn,
    },
    /// A frame length no record can have.
    BadFrameLen(u64),
    /// A frame in bytes given to [`IndexBuilder::push_frames`] is invalid.
    Frame {
        /// Segment offset of the frame.
        offset: u64,
        /// What is wrong with it.
        error: FrameError,
    },
    /// A valid frame whose payload is not an entry.
    Entry {
        /// Segment offset of the frame.
        offset: u64,
        /// What is wrong with the payload.
        error: EntryError,
    },
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::NotContiguous { expected, got } => {
                write!(f, "frame at offset {got}, expected one at {expected}")
            }
            PushError::IdNotIncreasing { previous, got } => {
                write!(f, "record id {got} does not follow {previous}")
            }
            PushError::BadFrameLen(len) => write!(f, "frame length {len} out of range"),
            PushError::Frame { offset, error } => write!(f, "at offset {offset}: {error}"),
            PushError::Entry { offset, error } => write!(f, "at offset {offset}: {error}"),
        }
    }
}

/// Builds a [`SegmentIndex`] one record at a time, oldest first.
///
/// Push each record once it is written (the index must not describe bytes a
/// reader cannot read yet), or push a sealed segment's bytes through
/// [`IndexBuilder::push_frames`] to rebuild its index. [`IndexBuilder::index`]
/// is usable for queries at any point, the block being filled included.
#[derive(Clone, Debug)]
pub struct IndexBuilder {
    index: SegmentIndex,
    target: BlockTarget,
    /// Whether the last block takes more records.
    open: bool,
}

impl IndexBuilder {
    /// A builder for segment `segment` with the default block target.
    pub fn new(segment: SegmentId) -> Self {
        Self::with_target(segment, DEFAULT_BLOCK_TARGET)
    }

    /// A builder with a chosen block target. Limits are clamped to 1 and
    /// up, and the byte limit to at most [`MAX_BLOCK_BYTES`].
    pub fn with_target(segment: SegmentId, target: BlockTarget) -> Self {
        IndexBuilder {
            index: SegmentIndex::empty(segment),
            target: BlockTarget {
                max_bytes: target.max_bytes.clamp(1, MAX_BLOCK_BYTES),
                max_records: target.max_records.max(1),
            },
            open: false,
        }
    }

    /// Adds the record `id` whose frame of `frame_len` bytes starts at
    /// `offset` in the segment. Frames must be pushed in order, each starting
    /// where the last ended (the first at [`SEGMENT_HEADER_LEN`]), with
    /// increasing ids. On error nothing changes.
    pub fn push(
        &mut self,
        id: Lsn,
        offset: u64,
        frame_len: u64,
        entry: &EntryRef<'_>,
    ) -> Result<(), PushError> {
        self.push_with(id, offset, frame_len, &Fields::from(entry), None)
    }

    /// Like [`IndexBuilder::push`], with the frame's bytes, so the block
    /// keeps the CRC of its bytes ([`BlockSummary::crc`]), and the fields
    /// an index keeps, read from the payload without decoding it whole.
    pub fn push_frame(
        &mut self,
        id: Lsn,
        offset: u64,
        frame: &[u8],
        fields: &Fields<'_>,
    ) -> Result<(), PushError> {
        self.push_with(id, offset, frame.len() as u64, fields, Some(frame))
    }

    fn push_with(
        &mut self,
        id: Lsn,
        offset: u64,
        frame_len: u64,
        entry: &Fields<'_>,
        frame: Option<&[u8]>,
    ) -> Result<(), PushError> {
        if offset != self.index.end {
            return Err(PushError::NotContiguous {
                expected: self.index.end,
                got: offset,
            });
        }
        let previous = self.index.last_id().unwrap_or(Lsn(0));
        if id <= previous {
            return Err(PushError::IdNotIncreasing { previous, got: id });
        }
        let max_frame = FRAME_HEADER_LEN as u64 + u64::from(MAX_PAYLOAD_LEN);
        if !(MIN_FRAME_LEN..=max_frame).contains(&frame_len) {
            return Err(PushError::BadFrameLen(frame_len));
        }
        // In range of u32 (checked just above: at most 64 MiB + 20).
        let len32 = frame_len as u32;
        let end = offset
            .checked_add(frame_len)
            .ok_or(PushError::BadFrameLen(frame_len))?;
        match self.index.blocks.last_mut() {
            // An open block is below its byte target (at most 1 GiB) and
            // the frame at most 64 MiB: the sum fits in u32.
            Some(block) if self.open => block.extend(id, len32, entry, frame),
            _ => {
                self.index
                    .blocks
                    .push(BlockSummary::first(id, offset, len32, entry, frame));
            }
        }
        self.index.end = end;
        if let Some(block) = self.index.blocks.last() {
            self.open =
                block.len < self.target.max_bytes && block.records < self.target.max_records;
        }
        Ok(())
    }

    /// Decodes the consecutive whole frames at the start of `bytes`, which
    /// lie at segment offset `at`, and pushes each. Stops at the end of the
    /// records (zeros, or a frame that `bytes` ends inside) and returns how
    /// many bytes it consumed; the caller passes the rest again with more
    /// bytes. An invalid frame or payload is an error; the frames before it
    /// stay pushed.
    pub fn push_frames(&mut self, bytes: &[u8], at: u64) -> Result<u64, PushError> {
        let mut pos = 0usize;
        loop {
            let offset = at.saturating_add(pos as u64);
            let rest = bytes.get(pos..).unwrap_or(&[]);
            let frame = match decode_frame(rest, self.index.segment, MAX_PAYLOAD_LEN) {
                Ok(Decoded::Record(frame)) => frame,
                Ok(Decoded::NeedMore { .. }) | Err(FrameError::Zero) => return Ok(pos as u64),
                Err(error) => return Err(PushError::Frame { offset, error }),
            };
            // Classified by the payload's fixed fields, as the daemon does
            // when it indexes what it wrote (a payload whose fixed fields
            // are not an entry's is summarised as not an entry; one whose
            // fixed fields are but whose rest is not is summarised by
            // them, and a query never serves it).
            let fields = Fields::peek(frame.payload);
            let len = frame.encoded_len() as usize;
            let bytes = rest.get(..len).unwrap_or_default();
            self.push_frame(frame.seq, offset, bytes, &fields)?;
            pos += len;
        }
    }

    /// The index so far, the block being filled included.
    pub fn index(&self) -> &SegmentIndex {
        &self.index
    }

    /// The finished index, its block list trimmed to size.
    pub fn finish(self) -> SegmentIndex {
        let mut index = self.index;
        index.blocks.shrink_to_fit();
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Entry, Level};
    use crate::record::encode_frame;

    fn entry(ts: u64, level: Level, service: &str) -> Entry {
        Entry {
            timestamp_ns: ts,
            level,
            service: service.into(),
            message: "message text".into(),
            metadata: alloc::string::String::new(),
        }
    }

    fn segment_bytes(seg: SegmentId, entries: &[Entry]) -> Vec<u8> {
        let mut out = crate::record::SegmentHeader { id: seg }.encode().to_vec();
        for (i, e) in entries.iter().enumerate() {
            let payload = e.encode().unwrap();
            encode_frame(&mut out, seg, Lsn(100 + i as u64), 0, &payload);
        }
        out
    }

    #[test]
    fn blocks_close_at_the_target_and_tile_the_segment() {
        let seg = SegmentId(4);
        let entries: Vec<Entry> = (0..50)
            .map(|i| entry(1000 - i, Level::ALL[(i % 6) as usize], "api"))
            .collect();
        let bytes = segment_bytes(seg, &entries);
        let mut b = IndexBuilder::with_target(
            seg,
            BlockTarget {
                max_bytes: 200,
                max_records: 3,
            },
        );
        let used = b
            .push_frames(&bytes[SEGMENT_HEADER_LEN as usize..], SEGMENT_HEADER_LEN)
            .unwrap();
        assert_eq!(used + SEGMENT_HEADER_LEN, bytes.len() as u64);
        let index = b.finish();
        assert_eq!(index.covered_len(), bytes.len() as u64);
        assert_eq!(index.records(), 50);
        let mut at = SEGMENT_HEADER_LEN;
        let mut next_id = Lsn(100);
        for block in index.blocks() {
            assert_eq!(block.offset(), at);
            assert_eq!(block.first_id(), next_id);
            assert!(block.records() <= 3);
            assert!(block.byte_len() < 200 + 100);
            at = block.end();
            next_id = block.last_id().next();
        }
        assert_eq!(at, index.covered_len());
        assert_eq!(
            index.block_for_id(Lsn(105)).map(|b| b.first_id()),
            Some(Lsn(103))
        );
        assert!(index.block_for_id(Lsn(99)).is_none());
        assert!(index.block_for_id(Lsn(150)).is_none());
    }

    #[test]
    fn summaries_are_exact() {
        let seg = SegmentId(1);
        let entries = [
            entry(50, Level::Warn, "a"),
            entry(10, Level::Info, "b"),
            entry(30, Level::Warn, "a"),
        ];
        let bytes = segment_bytes(seg, &entries);
        let mut b = IndexBuilder::new(seg);
        b.push_frames(&bytes[32..], 32).unwrap();
        let index = b.finish();
        let [block] = index.blocks() else {
            panic!("{index:?}")
        };
        assert_eq!(
            (block.min_timestamp_ns(), block.max_timestamp_ns()),
            (10, 50)
        );
        assert_eq!(
            block.levels(),
            (1 << Level::Warn as u8) | (1 << Level::Info as u8)
        );
        assert!(block.services().may_contain(service_hash("a")));
        assert!(!block.services().may_contain(service_hash("c")));
        assert_eq!((block.first_id(), block.last_id()), (Lsn(100), Lsn(102)));
    }

    #[test]
    fn push_rejects_out_of_order_input_and_changes_nothing() {
        let e = entry(1, Level::Info, "x");
        let payload = e.encode().unwrap();
        let fl = crate::record::frame_len(payload.len() as u32);
        let r = EntryRef::decode(&payload).unwrap();
        let mut b = IndexBuilder::new(SegmentId(1));
        assert_eq!(
            b.push(Lsn(1), 40, fl, &r),
            Err(PushError::NotContiguous {
                expected: 32,
                got: 40
            })
        );
        assert!(matches!(
            b.push(Lsn(0), 32, fl, &r),
            Err(PushError::IdNotIncreasing { .. })
        ));
        assert_eq!(b.push(Lsn(1), 32, 5, &r), Err(PushError::BadFrameLen(5)));
        b.push(Lsn(7), 32, fl, &r).unwrap();
        assert!(matches!(
            b.push(Lsn(7), 32 + fl, fl, &r),
            Err(PushError::IdNotIncreasing { .. })
        ));
        assert_eq!(b.index().records(), 1);
        assert_eq!(b.index().covered_len(), 32 + fl);
    }

    #[test]
    fn push_frames_stops_at_zeros_and_partial_frames() {
        let seg = SegmentId(2);
        let entries = [entry(1, Level::Info, "x"), entry(2, Level::Error, "y")];
        let mut bytes = segment_bytes(seg, &entries);
        let full = bytes.len();
        bytes.extend_from_slice(&[0; 64]);
        let mut b = IndexBuilder::new(seg);
        // Half of the second frame: only the first is taken.
        let used = b.push_frames(&bytes[32..full - 5], 32).unwrap();
        assert!(used > 0 && used < (full - 32) as u64);
        let more = b
            .push_frames(&bytes[32 + used as usize..], 32 + used)
            .unwrap();
        assert_eq!(32 + used + more, full as u64);
        assert_eq!(b.index().records(), 2);
        // A frame from another segment is an error.
        let mut other = IndexBuilder::new(SegmentId(3));
        assert!(matches!(
            other.push_frames(&bytes[32..], 32),
            Err(PushError::Frame {
                offset: 32,
                error: FrameError::BadCrc
            })
        ));
    }
}
