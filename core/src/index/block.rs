//! One block's summary: where its frames lie and what its records can match.
//!
//! A [`BlockSummary`] covers consecutive frames of one segment. Everything
//! in it is exact (ids, byte range, timestamp range, levels) except the
//! service set, which may over-approximate (see [`ServiceSet`]). So a
//! summary can prove that no record in the block matches a filter, never
//! the opposite.

use crate::entry::{EntryRef, Level};
use crate::index::services::{service_hash_bytes, ServiceSet};
use crate::record::Lsn;

/// The fields of a record an index keeps: from a decoded entry, or read
/// straight from a payload's fixed fields
/// ([`crate::entry::EntryRef::peek_fields`]).
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    /// The record's own timestamp.
    pub timestamp_ns: u64,
    /// Its level.
    pub level: Level,
    /// Its service name's bytes.
    pub service: &'a [u8],
}

impl<'a> From<&EntryRef<'a>> for Fields<'a> {
    fn from(e: &EntryRef<'a>) -> Self {
        Fields {
            timestamp_ns: e.timestamp_ns,
            level: e.level,
            service: e.service.as_bytes(),
        }
    }
}

/// Bitmask with one bit per [`crate::entry::Level`] (`1 << level as u8`).
pub type LevelMask = u8;

/// Every level's bit set.
pub const ALL_LEVELS: LevelMask = 0b0011_1111;

/// What a query needs to know about a block without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockSummary {
    pub(crate) first_id: Lsn,
    pub(crate) last_id: Lsn,
    pub(crate) offset: u64,
    pub(crate) len: u32,
    pub(crate) records: u32,
    pub(crate) min_ts: u64,
    pub(crate) max_ts: u64,
    pub(crate) levels: LevelMask,
    pub(crate) services: ServiceSet,
}

impl BlockSummary {
    /// A block holding just the frame at `offset`.
    pub(crate) fn first(id: Lsn, offset: u64, frame_len: u32, entry: &Fields<'_>) -> Self {
        let mut services = ServiceSet::default();
        services.insert(service_hash_bytes(entry.service));
        BlockSummary {
            first_id: id,
            last_id: id,
            offset,
            len: frame_len,
            records: 1,
            min_ts: entry.timestamp_ns,
            max_ts: entry.timestamp_ns,
            levels: 1 << entry.level as u8,
            services,
        }
    }

    /// Adds the frame that directly follows the block; the caller checked
    /// that it does and that the length fits.
    pub(crate) fn extend(&mut self, id: Lsn, frame_len: u32, entry: &Fields<'_>) {
        self.last_id = id;
        self.len += frame_len;
        self.records += 1;
        self.min_ts = self.min_ts.min(entry.timestamp_ns);
        self.max_ts = self.max_ts.max(entry.timestamp_ns);
        self.levels |= 1 << entry.level as u8;
        self.services.insert(service_hash_bytes(entry.service));
    }

    /// The id of the block's first (oldest) record.
    pub fn first_id(&self) -> Lsn {
        self.first_id
    }

    /// The id of the block's last (newest) record.
    pub fn last_id(&self) -> Lsn {
        self.last_id
    }

    /// Byte offset of the block's first frame in its segment file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes of the block's frames (headers included), from [`Self::offset`].
    pub fn byte_len(&self) -> u64 {
        u64::from(self.len)
    }

    /// Offset just past the block's last frame.
    pub fn end(&self) -> u64 {
        self.offset + u64::from(self.len)
    }

    /// Records in the block (never zero).
    pub fn records(&self) -> u32 {
        self.records
    }

    /// The smallest record timestamp in the block (ns since the Unix epoch).
    pub fn min_timestamp_ns(&self) -> u64 {
        self.min_ts
    }

    /// The largest record timestamp in the block (ns since the Unix epoch).
    pub fn max_timestamp_ns(&self) -> u64 {
        self.max_ts
    }

    /// The levels present in the block.
    pub fn levels(&self) -> LevelMask {
        self.levels
    }

    /// The services present in the block (by hash, possibly over-approximated).
    pub fn services(&self) -> &ServiceSet {
        &self.services
    }
}
