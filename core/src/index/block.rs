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
    /// False for a record that is not a log entry (see [`Fields::raw`]).
    pub entry: bool,
}

impl<'a> Fields<'a> {
    /// A record whose payload is not a log entry (a raw payload appended
    /// through the library): summarised as time 0, no service, and the
    /// [`NOT_AN_ENTRY`] bit, so no filter selects it and no block
    /// summary rules out an entry it holds.
    pub fn raw() -> Fields<'a> {
        Fields {
            timestamp_ns: 0,
            level: Level::Info,
            service: b"",
            entry: false,
        }
    }
}

impl<'a> Fields<'a> {
    /// The fields of a payload read from its fixed fields
    /// ([`EntryRef::peek_fields`]), or [`Fields::raw`] when those are not an
    /// entry's: how every index is built, so a rebuilt index equals the
    /// one written.
    pub fn peek(payload: &'a [u8]) -> Fields<'a> {
        EntryRef::peek_fields(payload)
            .and_then(|(timestamp_ns, level, service)| {
                Some(Fields {
                    timestamp_ns,
                    level: Level::from_u8(level)?,
                    service,
                    entry: true,
                })
            })
            .unwrap_or_else(Fields::raw)
    }
}

impl Fields<'_> {
    fn level_bit(&self) -> LevelMask {
        if self.entry {
            1 << self.level as u8
        } else {
            NOT_AN_ENTRY
        }
    }
}

impl<'a> From<&EntryRef<'a>> for Fields<'a> {
    fn from(e: &EntryRef<'a>) -> Self {
        Fields {
            timestamp_ns: e.timestamp_ns,
            level: e.level,
            service: e.service.as_bytes(),
            entry: true,
        }
    }
}

/// Bitmask with one bit per [`crate::entry::Level`] (`1 << level as u8`).
pub type LevelMask = u8;

/// Every level's bit set.
pub const ALL_LEVELS: LevelMask = 0b0011_1111;

/// The bit of a block holding records that are not log entries (raw
/// payloads appended through the library): no level filter selects it.
pub const NOT_AN_ENTRY: LevelMask = 0b0100_0000;

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
    /// CRC32 of the block's frame bytes (`offset..end`), when every frame
    /// was pushed with its bytes: a reader checks a block it reads in one
    /// pass, records it serves or not.
    pub(crate) crc: Option<u32>,
}

impl BlockSummary {
    /// A block holding just the frame at `offset`.
    pub(crate) fn first(
        id: Lsn,
        offset: u64,
        frame_len: u32,
        entry: &Fields<'_>,
        frame: Option<&[u8]>,
    ) -> Self {
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
            levels: entry.level_bit(),
            services,
            crc: frame.map(crc32fast::hash),
        }
    }

    /// Adds the frame that directly follows the block; the caller checked
    /// that it does and that the length fits.
    pub(crate) fn extend(
        &mut self,
        id: Lsn,
        frame_len: u32,
        entry: &Fields<'_>,
        frame: Option<&[u8]>,
    ) {
        self.crc = match (self.crc, frame) {
            (Some(crc), Some(frame)) => {
                let mut h = crc32fast::Hasher::new_with_initial(crc);
                h.update(frame);
                Some(h.finalize())
            }
            _ => None,
        };
        self.last_id = id;
        self.len += frame_len;
        self.records += 1;
        // Times and services are the entries' (a record that is not an
        // entry has neither); a block's first entry replaces the 0 that a
        // block opened by a non-entry holds.
        if entry.entry {
            if self.holds_entries() {
                self.min_ts = self.min_ts.min(entry.timestamp_ns);
                self.max_ts = self.max_ts.max(entry.timestamp_ns);
            } else {
                self.min_ts = entry.timestamp_ns;
                self.max_ts = entry.timestamp_ns;
            }
            self.services.insert(service_hash_bytes(entry.service));
        }
        self.levels |= entry.level_bit();
    }

    /// Whether any record in the block is a log entry (its times and
    /// services describe only those).
    pub fn holds_entries(&self) -> bool {
        self.levels & ALL_LEVELS != 0
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

    /// Whether `bytes`, read at [`Self::offset`] of segment `segment`, are
    /// the block this summary describes: the right length, the recorded
    /// CRC (when known), and whole valid frames (each CRC-checked) from
    /// [`Self::first_id`] to [`Self::last_id`], [`Self::records`] of them.
    /// What start-up checks before taking a segment from its index.
    pub fn describes(&self, segment: crate::record::SegmentId, bytes: &[u8]) -> bool {
        use crate::record::{decode_frame, Decoded, MAX_PAYLOAD_LEN};
        if bytes.len() as u64 != self.byte_len()
            || self.crc.is_some_and(|c| crc32fast::hash(bytes) != c)
        {
            return false;
        }
        let (mut pos, mut count, mut first, mut last) = (0usize, 0u32, None, Lsn(0));
        while pos < bytes.len() {
            let Some(rest) = bytes.get(pos..) else {
                return false;
            };
            let Ok(Decoded::Record(frame)) = decode_frame(rest, segment, MAX_PAYLOAD_LEN) else {
                return false;
            };
            first.get_or_insert(frame.seq);
            last = frame.seq;
            count += 1;
            pos += frame.encoded_len() as usize;
        }
        first == Some(self.first_id) && last == self.last_id && count == self.records
    }

    /// CRC32 of the block's bytes, if the index knows it (see the field).
    pub fn crc(&self) -> Option<u32> {
        self.crc
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
