//! The on-disk format: segment header and record frame.
//!
//! A segment file is a [`SegmentHeader`] followed by record frames, then
//! zeros to the preallocated end of the file. All integers are little-endian;
//! no field is `usize`.
//!
//! Segment header, [`SEGMENT_HEADER_LEN`] = 32 bytes:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | magic `SPOOLSEG` |
//! | 8 | 1 | format version, [`FORMAT_VERSION`] |
//! | 9 | 3 | zero |
//! | 12 | 8 | epoch: the segment id, unique for the life of a data directory |
//! | 20 | 8 | zero (reserved) |
//! | 28 | 4 | CRC32 of bytes 0..28 |
//!
//! Record frame, [`FRAME_HEADER_LEN`] = 20 bytes then the payload:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | CRC32 of: the segment epoch (8 bytes LE), bytes 4..20 of this frame, the payload |
//! | 4 | 4 | payload length `L` (`u32`), at least 1 |
//! | 8 | 1 | flags: bit 0 [`FLAG_BATCH_START`] marks the first record of each write; other bits are invalid |
//! | 9 | 3 | zero |
//! | 12 | 8 | sequence number (the record id), strictly increasing through the log |
//! | 20 | L | payload (see [`crate::entry`]) |
//!
//! [`FLAG_BATCH_START`] lets recovery tell a torn write from corruption:
//! batches are written one at a time, each synced before the next starts, so
//! only the last batch can be torn, and a valid batch start after a bad
//! record proves the bad record had been synced (see [`crate::recover`]).
//!
//! The epoch under the CRC means bytes left over from another segment (a
//! reused or preallocated file) can never validate here; a zero length is
//! never valid, so the zero fill after the last record reads as "end".

use alloc::vec::Vec;
use core::fmt;

/// Magic bytes opening every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"SPOOLSEG";
/// Format version written in each segment header.
pub const FORMAT_VERSION: u8 = 1;
/// Length of the segment header.
pub const SEGMENT_HEADER_LEN: u64 = 32;
/// Length of a record frame's header (before the payload).
pub const FRAME_HEADER_LEN: usize = 20;
/// Frame flag: the first record of a write (an `Append` batch).
pub const FLAG_BATCH_START: u8 = 1;

/// The largest payload the format can describe; configured limits are lower.
pub const MAX_PAYLOAD_LEN: u32 = 64 << 20;

/// A record's sequence number: its id, unique and increasing in a data
/// directory. `Lsn(0)` means "no record".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    /// The next sequence number.
    pub fn next(self) -> Lsn {
        Lsn(self.0 + 1)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A segment's id, which is also its epoch under every record CRC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId(pub u64);

impl SegmentId {
    /// The id of the segment that follows this one.
    pub fn next(self) -> SegmentId {
        SegmentId(self.0 + 1)
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:020}", self.0)
    }
}

/// Why bytes are not a valid segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than [`SEGMENT_HEADER_LEN`] bytes.
    Truncated,
    /// The magic bytes are wrong: not a Spool segment.
    BadMagic,
    /// A version this build cannot read.
    UnsupportedVersion(u8),
    /// The header CRC does not match, or a reserved byte is not zero.
    BadCrc,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Truncated => f.write_str("segment header truncated"),
            HeaderError::BadMagic => f.write_str("not a spool segment (bad magic)"),
            HeaderError::UnsupportedVersion(v) => write!(f, "unsupported segment version {v}"),
            HeaderError::BadCrc => f.write_str("segment header checksum mismatch"),
        }
    }
}

/// A segment file's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The segment id (epoch).
    pub id: SegmentId,
}

impl SegmentHeader {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN as usize] {
        let mut out = [0u8; SEGMENT_HEADER_LEN as usize];
        out[0..8].copy_from_slice(&SEGMENT_MAGIC);
        out[8] = FORMAT_VERSION;
        out[12..20].copy_from_slice(&self.id.0.to_le_bytes());
        let crc = crc32fast::hash(&out[0..28]);
        out[28..32].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and checks a header from the start of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, HeaderError> {
        let h = bytes
            .first_chunk::<{ SEGMENT_HEADER_LEN as usize }>()
            .ok_or(HeaderError::Truncated)?;
        if h[0..8] != SEGMENT_MAGIC {
            return Err(HeaderError::BadMagic);
        }
        if h[8] != FORMAT_VERSION {
            return Err(HeaderError::UnsupportedVersion(h[8]));
        }
        let stored = u32::from_le_bytes([h[28], h[29], h[30], h[31]]);
        if crc32fast::hash(&h[0..28]) != stored || h[9..12] != [0; 3] || h[20..28] != [0; 8] {
            return Err(HeaderError::BadCrc);
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&h[12..20]);
        Ok(SegmentHeader {
            id: SegmentId(u64::from_le_bytes(id)),
        })
    }
}

/// The encoded size of a record with a `payload_len`-byte payload.
pub fn frame_len(payload_len: u32) -> u64 {
    FRAME_HEADER_LEN as u64 + u64::from(payload_len)
}

/// Appends one record frame to `out`. The caller has checked the payload
/// length (at least 1, at most its configured maximum); `flags` is 0 or
/// [`FLAG_BATCH_START`].
pub fn encode_frame(out: &mut Vec<u8>, epoch: SegmentId, seq: Lsn, flags: u8, payload: &[u8]) {
    // Lengths above u32 are rejected before this point; saturate rather than
    // wrap so a caller bug can only produce a frame that fails to validate.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut header = [0u8; FRAME_HEADER_LEN];
    header[4..8].copy_from_slice(&len.to_le_bytes());
    header[8] = flags;
    header[12..20].copy_from_slice(&seq.0.to_le_bytes());
    let crc = frame_crc(epoch, &header, payload);
    header[0..4].copy_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
}

fn frame_crc(epoch: SegmentId, header: &[u8; FRAME_HEADER_LEN], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&epoch.0.to_le_bytes());
    h.update(&header[4..]);
    h.update(payload);
    h.finalize()
}

/// A valid record frame read from a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The record id.
    pub seq: Lsn,
    /// The frame flags ([`FLAG_BATCH_START`] or 0).
    pub flags: u8,
    /// The payload bytes.
    pub payload: &'a [u8],
}

impl Frame<'_> {
    /// Bytes this frame occupies on disk.
    pub fn encoded_len(&self) -> u64 {
        FRAME_HEADER_LEN as u64 + self.payload.len() as u64
    }
}

/// Outcome of decoding at a position: a record, or not enough bytes yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A valid frame.
    Record(Frame<'a>),
    /// The bytes present are a prefix of a frame whose header is plausible;
    /// `needed` more bytes would complete it.
    NeedMore {
        /// How many more bytes the frame needs.
        needed: u64,
    },
}

/// Why the bytes at a position are not a valid frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The header is all zeros: the unwritten space after the last record.
    Zero,
    /// The length field is 0 or larger than the maximum allowed.
    BadLength(u32),
    /// A flag or reserved byte is set.
    BadFlags,
    /// The CRC does not match (torn, corrupt, or from another epoch).
    BadCrc,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Zero => f.write_str("zero-filled space where a record header belongs"),
            FrameError::BadLength(l) => write!(f, "record length {l} out of range"),
            FrameError::BadFlags => f.write_str("record flags or reserved bytes set"),
            FrameError::BadCrc => f.write_str("record checksum mismatch"),
        }
    }
}

/// Decodes the frame at the start of `buf` for a segment of `epoch`.
///
/// The length is checked against `max_payload` before anything else is read,
/// so a corrupt length never causes a large allocation or read. Returns
/// [`Decoded::NeedMore`] when `buf` ends inside a frame whose header is
/// plausible (the CRC can only be checked once the whole frame is present).
pub fn decode_frame(
    buf: &[u8],
    epoch: SegmentId,
    max_payload: u32,
) -> Result<Decoded<'_>, FrameError> {
    decode_frame_with(buf, epoch, max_payload, true)
}

/// Like [`decode_frame`] but without the CRC check: every structural check
/// (length, flags, reserved bytes, the frame complete in `buf`) and
/// nothing else. For a scan that looks at many records and serves few: it
/// must call [`frame_is_intact`] on each frame before serving it.
pub fn decode_frame_unchecked(buf: &[u8], max_payload: u32) -> Result<Decoded<'_>, FrameError> {
    decode_frame_with(buf, SegmentId(0), max_payload, false)
}

/// Whether the frame at the start of `buf` (already structurally decoded)
/// passes its CRC for a segment of `epoch`.
pub fn frame_is_intact(buf: &[u8], epoch: SegmentId) -> bool {
    matches!(
        decode_frame(buf, epoch, MAX_PAYLOAD_LEN),
        Ok(Decoded::Record(_))
    )
}

fn decode_frame_with(
    buf: &[u8],
    epoch: SegmentId,
    max_payload: u32,
    check_crc: bool,
) -> Result<Decoded<'_>, FrameError> {
    let Some(header) = buf.first_chunk::<FRAME_HEADER_LEN>() else {
        return Ok(Decoded::NeedMore {
            needed: (FRAME_HEADER_LEN - buf.len()) as u64,
        });
    };
    if header.iter().all(|&b| b == 0) {
        return Err(FrameError::Zero);
    }
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 || len > max_payload.min(MAX_PAYLOAD_LEN) {
        return Err(FrameError::BadLength(len));
    }
    if header[8] & !FLAG_BATCH_START != 0 || header[9..12] != [0; 3] {
        return Err(FrameError::BadFlags);
    }
    let total = FRAME_HEADER_LEN as u64 + u64::from(len);
    let have = buf.len() as u64;
    if have < total {
        return Ok(Decoded::NeedMore {
            needed: total - have,
        });
    }
    let payload = &buf[FRAME_HEADER_LEN..FRAME_HEADER_LEN + len as usize];
    let stored = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    if check_crc && frame_crc(epoch, header, payload) != stored {
        return Err(FrameError::BadCrc);
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&header[12..20]);
    Ok(Decoded::Record(Frame {
        seq: Lsn(u64::from_le_bytes(seq)),
        flags: header[8],
        payload,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_damage() {
        let h = SegmentHeader { id: SegmentId(7) };
        let bytes = h.encode();
        assert_eq!(SegmentHeader::decode(&bytes), Ok(h));
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes;
                b[i] ^= 1 << bit;
                assert!(SegmentHeader::decode(&b).is_err(), "byte {i} bit {bit}");
            }
        }
        assert_eq!(
            SegmentHeader::decode(&bytes[..31]),
            Err(HeaderError::Truncated)
        );
    }

    #[test]
    fn frame_round_trip() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, SegmentId(3), Lsn(42), FLAG_BATCH_START, b"hello");
        assert_eq!(buf.len() as u64, frame_len(5));
        match decode_frame(&buf, SegmentId(3), 1024) {
            Ok(Decoded::Record(f)) => {
                assert_eq!(f.seq, Lsn(42));
                assert_eq!(f.flags, FLAG_BATCH_START);
                assert_eq!(f.payload, b"hello");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_epoch_never_validates() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, SegmentId(3), Lsn(1), 0, b"x");
        assert_eq!(
            decode_frame(&buf, SegmentId(4), 1024),
            Err(FrameError::BadCrc)
        );
    }

    #[test]
    fn prefixes_need_more_and_bits_fail() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, SegmentId(1), Lsn(9), 0, b"payload bytes");
        for cut in 1..buf.len() {
            assert!(
                matches!(
                    decode_frame(&buf[..cut], SegmentId(1), 1024),
                    Ok(Decoded::NeedMore { .. })
                ),
                "cut {cut}"
            );
        }
        for i in 0..buf.len() {
            for bit in 0..8 {
                let mut b = buf.clone();
                b[i] ^= 1 << bit;
                assert!(
                    !matches!(decode_frame(&b, SegmentId(1), 1024), Ok(Decoded::Record(_))),
                    "byte {i} bit {bit} still validated"
                );
            }
        }
    }

    #[test]
    fn length_checked_before_reading() {
        let mut buf = [0u8; FRAME_HEADER_LEN];
        buf[0] = 1;
        buf[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode_frame(&buf, SegmentId(1), 1024),
            Err(FrameError::BadLength(u32::MAX))
        );
        assert_eq!(
            decode_frame(&[0u8; 40], SegmentId(1), 1024),
            Err(FrameError::Zero)
        );
    }
}
