//! The persisted form of a sealed segment's index.
//!
//! [`decode`] accepts only what [`encode`] produces from a valid index: the
//! magic, version and CRC are checked first, then every structural rule the
//! builder guarantees (blocks tile the segment in id order, summaries are
//! self-consistent). It never panics and never allocates more than the
//! input's size justifies, whatever the bytes.
//!
//! Layout (all integers little-endian, no `usize`):
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic [`INDEX_MAGIC`] |
//! | 1 | version [`INDEX_VERSION`] |
//! | 3 | zero |
//! | 8 | segment id |
//! | 8 | covered length: the segment offset after the last indexed frame |
//! | 4 | block count `B` (`u32`) |
//! | … | `B` blocks, below |
//! | 4 | CRC32 of every byte before it |
//!
//! Block: first id (8), last id (8), offset (8), byte length (4), records
//! (4), min timestamp (8), max timestamp (8), level mask (1), service-set
//! kind (1: 0 exact, 1 bloom), exact count `n` (1, 0 for bloom), whether
//! the block's CRC is known (1: 0 or 1), the CRC32 of the block's frame
//! bytes (4, zero when unknown), then `n` service hashes (8 each) or the
//! bloom filter's 32 bytes.

use alloc::vec::Vec;
use core::fmt;

use crate::index::block::{BlockSummary, ALL_LEVELS, NOT_AN_ENTRY};
use crate::index::services::{Repr, ServiceSet, BLOOM_BITS, EXACT_SERVICES};
use crate::index::{SegmentIndex, MIN_FRAME_LEN};
use crate::record::{Lsn, SegmentId, SEGMENT_HEADER_LEN};

/// Magic bytes opening a persisted index.
pub const INDEX_MAGIC: [u8; 8] = *b"SPOOLIDX";

/// The persisted index version written by this build. It covers the layout
/// and [`crate::index::service_hash`].
pub const INDEX_VERSION: u8 = 2;

const HEADER_LEN: usize = 8 + 1 + 3 + 8 + 8 + 4;
const CRC_LEN: usize = 4;
const BLOCK_FIXED_LEN: usize = 8 + 8 + 8 + 4 + 4 + 8 + 8 + 1 + 1 + 1 + 1 + 4;
const BLOOM_LEN: usize = BLOOM_BITS / 8;
const KIND_EXACT: u8 = 0;
const KIND_BLOOM: u8 = 1;

/// Why bytes are not a valid persisted index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexError {
    /// Shorter than the header and checksum, or ends inside a block.
    Truncated,
    /// Not a Spool index (wrong magic).
    BadMagic,
    /// A version this build does not read.
    UnsupportedVersion(u8),
    /// The checksum does not match.
    BadCrc,
    /// A reserved header byte is set.
    BadHeader,
    /// Block `block` (counting from 0) breaks a rule the builder keeps.
    BadBlock {
        /// Which block.
        block: u32,
        /// Which rule.
        fault: BlockFault,
    },
    /// The blocks end somewhere other than the covered length.
    CoverageMismatch {
        /// The covered length in the header.
        covered_len: u64,
        /// Where the blocks end.
        blocks_end: u64,
    },
    /// Bytes follow the last block.
    TrailingBytes,
}

/// The rule a persisted block breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockFault {
    /// It holds no record, or more records than ids or bytes allow.
    RecordCount,
    /// Its ids are 0, reversed, or not above the previous block's.
    Ids,
    /// It does not start where the previous block ended.
    Offset,
    /// The smallest timestamp is above the largest.
    Timestamps,
    /// No level, or a bit for a level that does not exist (beyond the
    /// six levels and [`crate::index::NOT_AN_ENTRY`]).
    Levels,
    /// An unknown service-set kind or an exact count above the maximum.
    Services,
    /// The block-CRC flag is neither 0 nor 1, or 0 with a CRC.
    Crc,
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexError::Truncated => f.write_str("index truncated"),
            IndexError::BadMagic => f.write_str("not a spool index (bad magic)"),
            IndexError::UnsupportedVersion(v) => write!(f, "unsupported index version {v}"),
            IndexError::BadCrc => f.write_str("index checksum mismatch"),
            IndexError::BadHeader => f.write_str("index header reserved bytes set"),
            IndexError::BadBlock { block, fault } => {
                let what = match fault {
                    BlockFault::RecordCount => "record count",
                    BlockFault::Ids => "ids",
                    BlockFault::Offset => "offset",
                    BlockFault::Timestamps => "timestamps",
                    BlockFault::Levels => "levels",
                    BlockFault::Services => "services",
                    BlockFault::Crc => "block checksum flag",
                };
                write!(f, "index block {block}: bad {what}")
            }
            IndexError::CoverageMismatch {
                covered_len,
                blocks_end,
            } => write!(
                f,
                "index covers {covered_len} bytes but its blocks end at {blocks_end}"
            ),
            IndexError::TrailingBytes => f.write_str("bytes after the last index block"),
        }
    }
}

/// Encodes an index for storage beside its sealed segment.
pub fn encode(index: &SegmentIndex) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        HEADER_LEN + index.blocks.len() * (BLOCK_FIXED_LEN + 8 * EXACT_SERVICES) + CRC_LEN,
    );
    out.extend_from_slice(&INDEX_MAGIC);
    out.extend_from_slice(&[INDEX_VERSION, 0, 0, 0]);
    out.extend_from_slice(&index.segment.0.to_le_bytes());
    out.extend_from_slice(&index.end.to_le_bytes());
    // A segment's blocks number far below u32::MAX (each holds at least one
    // frame of at least 40 bytes); saturating keeps a caller bug detectable
    // (the count would not match) rather than wrapping.
    let count = u32::try_from(index.blocks.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    for b in &index.blocks {
        out.extend_from_slice(&b.first_id.0.to_le_bytes());
        out.extend_from_slice(&b.last_id.0.to_le_bytes());
        out.extend_from_slice(&b.offset.to_le_bytes());
        out.extend_from_slice(&b.len.to_le_bytes());
        out.extend_from_slice(&b.records.to_le_bytes());
        out.extend_from_slice(&b.min_ts.to_le_bytes());
        out.extend_from_slice(&b.max_ts.to_le_bytes());
        out.push(b.levels);
        let crc = [u8::from(b.crc.is_some())];
        let crc_bytes = b.crc.unwrap_or(0).to_le_bytes();
        match b.services.repr() {
            Repr::Exact { len, hashes } => {
                out.extend_from_slice(&[KIND_EXACT, *len]);
                out.extend_from_slice(&crc);
                out.extend_from_slice(&crc_bytes);
                for h in hashes.iter().take(usize::from(*len)) {
                    out.extend_from_slice(&h.to_le_bytes());
                }
            }
            Repr::Bloom(bits) => {
                out.extend_from_slice(&[KIND_BLOOM, 0]);
                out.extend_from_slice(&crc);
                out.extend_from_slice(&crc_bytes);
                for word in bits {
                    out.extend_from_slice(&word.to_le_bytes());
                }
            }
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes and checks a persisted index. The caller still compares
/// [`SegmentIndex::segment`] and [`SegmentIndex::covered_len`] with the
/// segment it means to use it for.
pub fn decode(bytes: &[u8]) -> Result<SegmentIndex, IndexError> {
    if bytes.len() < HEADER_LEN + CRC_LEN {
        return Err(IndexError::Truncated);
    }
    let (body, crc) = bytes.split_at(bytes.len() - CRC_LEN);
    let mut r = Reader { rest: body };
    if r.array::<8>()? != INDEX_MAGIC {
        return Err(IndexError::BadMagic);
    }
    let [version, reserved @ ..] = r.array::<4>()?;
    if version != INDEX_VERSION {
        return Err(IndexError::UnsupportedVersion(version));
    }
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != stored {
        return Err(IndexError::BadCrc);
    }
    if reserved != [0; 3] {
        return Err(IndexError::BadHeader);
    }
    let segment = SegmentId(r.u64()?);
    let covered_len = r.u64()?;
    let count = r.u32()?;
    // Every block takes at least BLOCK_FIXED_LEN bytes: a count the input
    // cannot hold is rejected before anything is allocated for it.
    let count_usize = usize::try_from(count).map_err(|_| IndexError::Truncated)?;
    if count_usize > r.rest.len() / BLOCK_FIXED_LEN {
        return Err(IndexError::Truncated);
    }
    let mut blocks = Vec::with_capacity(count_usize);
    let mut end = SEGMENT_HEADER_LEN;
    let mut previous = Lsn(0);
    for i in 0..count {
        let block = read_block(&mut r).map_err(|e| match e {
            Read::Truncated => IndexError::Truncated,
            Read::Services => IndexError::BadBlock {
                block: i,
                fault: BlockFault::Services,
            },
            Read::Crc => IndexError::BadBlock {
                block: i,
                fault: BlockFault::Crc,
            },
        })?;
        check_block(&block, end, previous)
            .map_err(|fault| IndexError::BadBlock { block: i, fault })?;
        end = block.end();
        previous = block.last_id;
        blocks.push(block);
    }
    if !r.rest.is_empty() {
        return Err(IndexError::TrailingBytes);
    }
    if end != covered_len {
        return Err(IndexError::CoverageMismatch {
            covered_len,
            blocks_end: end,
        });
    }
    Ok(SegmentIndex {
        segment,
        end,
        blocks,
    })
}

enum Read {
    Truncated,
    Services,
    Crc,
}

fn read_block(r: &mut Reader<'_>) -> Result<BlockSummary, Read> {
    let t = |_| Read::Truncated;
    let first_id = Lsn(r.u64().map_err(t)?);
    let last_id = Lsn(r.u64().map_err(t)?);
    let offset = r.u64().map_err(t)?;
    let len = r.u32().map_err(t)?;
    let records = r.u32().map_err(t)?;
    let min_ts = r.u64().map_err(t)?;
    let max_ts = r.u64().map_err(t)?;
    let [levels, kind, n, has_crc] = r.array::<4>().map_err(t)?;
    let crc_value = r.u32().map_err(t)?;
    let crc = match (has_crc, crc_value) {
        (0, 0) => None,
        (1, c) => Some(c),
        _ => return Err(Read::Crc),
    };
    let services = match kind {
        KIND_EXACT if usize::from(n) <= EXACT_SERVICES => {
            let mut hashes = [0u64; EXACT_SERVICES];
            let used = &mut hashes[..usize::from(n)];
            for h in used.iter_mut() {
                *h = r.u64().map_err(t)?;
            }
            ServiceSet::from_exact(used).ok_or(Read::Services)?
        }
        KIND_BLOOM if n == 0 => {
            let mut bits = [0u64; BLOOM_LEN / 8];
            for word in &mut bits {
                *word = r.u64().map_err(t)?;
            }
            ServiceSet::from_bloom(bits)
        }
        _ => return Err(Read::Services),
    };
    Ok(BlockSummary {
        first_id,
        last_id,
        offset,
        len,
        records,
        min_ts,
        max_ts,
        levels,
        services,
        crc,
    })
}

/// The rules [`crate::index::IndexBuilder`] keeps, for a block that should
/// start at `expected_offset` after the block ending with id `previous`.
fn check_block(b: &BlockSummary, expected_offset: u64, previous: Lsn) -> Result<(), BlockFault> {
    if b.first_id <= previous || b.last_id < b.first_id {
        return Err(BlockFault::Ids);
    }
    if b.offset != expected_offset || b.offset.checked_add(u64::from(b.len)).is_none() {
        return Err(BlockFault::Offset);
    }
    // The first and last ids are records' ids, all distinct and increasing.
    let id_span = b.last_id.0 - b.first_id.0;
    let records = u64::from(b.records);
    let fits_ids = (records == 1 && id_span == 0) || (records >= 2 && id_span >= records - 1);
    let fits_bytes = records * MIN_FRAME_LEN <= u64::from(b.len);
    if !fits_ids || !fits_bytes {
        return Err(BlockFault::RecordCount);
    }
    if b.min_ts > b.max_ts {
        return Err(BlockFault::Timestamps);
    }
    if b.levels == 0 || b.levels & !(ALL_LEVELS | NOT_AN_ENTRY) != 0 {
        return Err(BlockFault::Levels);
    }
    if b.services.exact_hashes().is_some_and(|h| h.is_empty()) {
        return Err(BlockFault::Services);
    }
    Ok(())
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], IndexError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(IndexError::Truncated)?;
        self.rest = tail;
        Ok(*head)
    }

    fn u64(&mut self) -> Result<u64, IndexError> {
        self.array::<8>().map(u64::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, IndexError> {
        self.array::<4>().map(u32::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Entry, EntryRef, Level};
    use crate::index::{BlockTarget, IndexBuilder};
    use alloc::format;

    /// Three blocks: two services, then ten (a bloom filter), then two.
    fn small_index() -> SegmentIndex {
        let mut b = IndexBuilder::with_target(
            SegmentId(9),
            BlockTarget {
                max_bytes: 1 << 20,
                max_records: 10,
            },
        );
        let mut offset = SEGMENT_HEADER_LEN;
        for i in 0..24u64 {
            let e = Entry {
                timestamp_ns: 1_000 + (i * 7919) % 13,
                level: Level::ALL[(i % 6) as usize],
                service: if (10..20).contains(&i) {
                    format!("s{i}")
                } else {
                    format!("s{}", i % 2)
                },
                message: "m".into(),
                metadata: "".into(),
            };
            let payload = e.encode().unwrap();
            let len = crate::record::frame_len(payload.len() as u32);
            b.push(
                Lsn(i + 1),
                offset,
                len,
                &EntryRef::decode(&payload).unwrap(),
            )
            .unwrap();
            offset += len;
        }
        b.finish()
    }

    #[test]
    fn round_trip() {
        let index = small_index();
        let exact = |b: &BlockSummary| b.services.exact_hashes().is_some();
        assert!(index.blocks().iter().any(exact));
        assert!(!index.blocks().iter().all(exact));
        let bytes = encode(&index);
        assert_eq!(decode(&bytes), Ok(index));
        let empty = SegmentIndex::empty(SegmentId(3));
        assert_eq!(decode(&encode(&empty)), Ok(empty));
    }

    #[test]
    fn every_damaged_byte_and_truncation_is_rejected() {
        let bytes = encode(&small_index());
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                assert!(decode(&b).is_err(), "byte {i} ^ {flip:#x} accepted");
            }
        }
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut} accepted");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }

    /// Re-seals `body` (everything but the CRC) with a valid checksum.
    fn sealed(mut body: Vec<u8>) -> Vec<u8> {
        let crc = crc32fast::hash(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        body
    }

    #[test]
    fn structural_rules_hold_even_under_a_valid_crc() {
        let bytes = encode(&small_index());
        let body = &bytes[..bytes.len() - CRC_LEN];
        let block0 = HEADER_LEN;
        let cases: [(usize, u8, IndexError); 6] = [
            (9, 1, IndexError::BadHeader),
            (
                block0 + 16,
                1,
                IndexError::BadBlock {
                    block: 0,
                    fault: BlockFault::Offset,
                },
            ),
            (
                block0,
                0x10,
                IndexError::BadBlock {
                    block: 0,
                    fault: BlockFault::Ids,
                },
            ),
            (
                block0 + 48,
                0x80,
                IndexError::BadBlock {
                    block: 0,
                    fault: BlockFault::Levels,
                },
            ),
            (
                block0 + 49,
                7,
                IndexError::BadBlock {
                    block: 0,
                    fault: BlockFault::Services,
                },
            ),
            (
                20,
                1,
                IndexError::CoverageMismatch {
                    covered_len: 0,
                    blocks_end: 0,
                },
            ),
        ];
        for (at, flip, want) in cases {
            let mut b = body.to_vec();
            b[at] ^= flip;
            let got = decode(&sealed(b));
            match (got, want) {
                (Err(IndexError::CoverageMismatch { .. }), IndexError::CoverageMismatch { .. }) => {
                }
                (got, want) => assert_eq!(got, Err(want), "byte {at}"),
            }
        }
        // A block count the bytes cannot hold allocates nothing.
        let mut b = body.to_vec();
        b[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&sealed(b)), Err(IndexError::Truncated));
    }

    #[test]
    fn what_decodes_is_what_encode_writes() {
        // Any byte changed under a valid CRC: decoding never panics, and
        // whatever it accepts encodes back to the same bytes.
        let bytes = encode(&small_index());
        let body = &bytes[..bytes.len() - CRC_LEN];
        for i in 0..body.len() {
            for flip in [0x01, 0x02, 0x10, 0x80, 0xff] {
                let mut b = body.to_vec();
                b[i] ^= flip;
                let b = sealed(b);
                if let Ok(index) = decode(&b) {
                    assert_eq!(encode(&index), b, "byte {i} ^ {flip:#x}");
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x1234_5678;
        for len in 0..400usize {
            let mut b: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if len >= 12 {
                b[..8].copy_from_slice(&INDEX_MAGIC);
                b[8] = INDEX_VERSION;
            }
            let _ = decode(&b);
            if len >= HEADER_LEN + CRC_LEN {
                // Past the checksum: the structural checks must hold too.
                let body = b[..len - CRC_LEN].to_vec();
                let _ = decode(&sealed(body));
            }
        }
    }
}
