//! The query plan: which blocks to read, newest first.
//!
//! [`plan`] walks the segments' indexes from the newest block down and
//! yields a [`BlockRange`] for every block whose summary may hold a match
//! (see [`Filter::may_match`]) and whose ids reach below the cursor. It
//! reads nothing; the caller reads each range and hands the bytes to
//! [`crate::query::scan_block`], stopping once it has its page.

use alloc::vec::Vec;

use crate::index::SegmentIndex;
use crate::query::{Cursor, Filter};
use crate::record::{Lsn, SegmentId};

/// One block to read: `len` bytes at `offset` in segment `segment`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRange {
    /// The segment file.
    pub segment: SegmentId,
    /// Offset of the block's first frame.
    pub offset: u64,
    /// Bytes of the block's frames.
    pub len: u64,
    /// The id of the block's first record.
    pub first_id: Lsn,
    /// The id of the block's last record.
    pub last_id: Lsn,
    /// CRC32 of the block's bytes, when the index knows it: check it on
    /// the bytes read before trusting any record in them.
    pub crc: Option<u32>,
    /// Set when the cursor falls inside the block: only ids strictly below
    /// this one are wanted.
    pub below: Option<Lsn>,
}

/// The blocks a query reads, newest first; an iterator of [`BlockRange`].
#[derive(Debug)]
pub struct Plan<'a, I> {
    segments: I,
    filter: &'a Filter,
    /// The wanted services' hashes, computed once.
    services: Option<Vec<u64>>,
    below: Option<Lsn>,
    /// The segment being walked and how many of its blocks (from the
    /// oldest) are still to consider.
    current: Option<(&'a SegmentIndex, usize)>,
    skipped_blocks: u64,
    skipped_bytes: u64,
}

/// Plans a query over `segments`, which must come newest segment first
/// (each index's blocks are walked newest first), from the newest record or
/// from below `cursor`.
pub fn plan<'a, I>(segments: I, filter: &'a Filter, cursor: Option<Cursor>) -> Plan<'a, I::IntoIter>
where
    I: IntoIterator<Item = &'a SegmentIndex>,
{
    Plan {
        segments: segments.into_iter(),
        filter,
        services: filter.service_hashes(),
        below: cursor.map(|c| c.id()),
        current: None,
        skipped_blocks: 0,
        skipped_bytes: 0,
    }
}

impl<I> Plan<'_, I> {
    /// Blocks passed over so far because their summary cannot match.
    pub fn skipped_blocks(&self) -> u64 {
        self.skipped_blocks
    }

    /// Bytes of the blocks passed over so far.
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped_bytes
    }
}

impl<'a, I: Iterator<Item = &'a SegmentIndex>> Iterator for Plan<'a, I> {
    type Item = BlockRange;

    fn next(&mut self) -> Option<BlockRange> {
        loop {
            let Some((index, remaining)) = &mut self.current else {
                let index = self.segments.next()?;
                let blocks = index.blocks();
                // Blocks are in id order: those starting below the cursor
                // are a prefix.
                let wanted = match self.below {
                    Some(below) => blocks.partition_point(|b| b.first_id() < below),
                    None => blocks.len(),
                };
                self.current = Some((index, wanted));
                continue;
            };
            let Some(at) = remaining.checked_sub(1) else {
                self.current = None;
                continue;
            };
            *remaining = at;
            let Some(block) = index.blocks().get(at) else {
                continue;
            };
            if !self
                .filter
                .may_match_hashed(block, self.services.as_deref())
            {
                self.skipped_blocks += 1;
                self.skipped_bytes += block.byte_len();
                continue;
            }
            return Some(BlockRange {
                segment: index.segment(),
                offset: block.offset(),
                len: block.byte_len(),
                first_id: block.first_id(),
                last_id: block.last_id(),
                crc: block.crc(),
                below: self.below.filter(|&b| b <= block.last_id()),
            });
        }
    }
}
