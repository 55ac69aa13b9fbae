//! Fuzz target bodies for Spool.
//!
//! Each target is a plain `pub fn(&[u8])` so the libFuzzer binaries in
//! `fuzz_targets/` (nightly, feature `libfuzzer`) and the corpus replay in
//! `tests/replay.rs` (stable) run exactly the same code. Every target checks
//! properties of the result, not only that nothing panics; a failed property
//! is an `assert!`, which libFuzzer reports as a crash.
//!
//! Inputs start with a few control bytes (documented on each target) and the
//! rest is the data under test. Missing control bytes read as zero, so every
//! byte string is a valid input.

#![forbid(unsafe_code)]

use spool_core::entry::{EntryRef, ENTRY_FIXED_LEN};
use spool_core::record::{
    decode_frame, encode_frame, Decoded, FrameError, Lsn, SegmentHeader, SegmentId,
    FLAG_BATCH_START, FRAME_HEADER_LEN, MAX_PAYLOAD_LEN, SEGMENT_HEADER_LEN,
};
use spool_core::recover::{
    active_index, is_unwritten, scan_segment, CorruptionKind, Role, SegmentScan, SECTOR,
};
use spool_proto::decode::json_text;
use spool_proto::{decode_entries, DecodeLimits, HttpError, Limits, Request, RequestParser};

/// Reads control bytes from the front of an input; past the end reads zero.
struct Control<'a> {
    rest: &'a [u8],
}

impl<'a> Control<'a> {
    fn new(data: &'a [u8]) -> Self {
        Control { rest: data }
    }

    fn u8(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&b, tail)) => {
                self.rest = tail;
                b
            }
            None => 0,
        }
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.u8();
        }
        out
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.bytes())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }

    fn into_rest(self) -> &'a [u8] {
        self.rest
    }
}

/// The frame CRC as the format documents it, computed independently of
/// `spool_core::record`: CRC32 of the epoch (8 bytes LE), bytes 4..20 of the
/// frame, and the payload.
pub fn reference_frame_crc(epoch: u64, frame: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&epoch.to_le_bytes());
    h.update(frame.get(4..).unwrap_or_default());
    h.finalize()
}

/// If `buf` starts with a frame whose length field fits in `buf`, rewrites its
/// CRC to the correct one for `epoch`; returns the frame length.
fn fix_frame_crc(buf: &mut [u8], epoch: u64) -> Option<usize> {
    let header = buf.get(..FRAME_HEADER_LEN)?;
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let total = FRAME_HEADER_LEN.checked_add(usize::try_from(len).ok()?)?;
    let frame = buf.get_mut(..total)?;
    let crc = reference_frame_crc(epoch, frame);
    frame[..4].copy_from_slice(&crc.to_le_bytes());
    Some(total)
}

// ---------------------------------------------------------------------------
// record_decode
// ---------------------------------------------------------------------------

/// `decode_frame` on arbitrary bytes.
///
/// Layout: `ctrl: u8, epoch: u64 LE, max: u32 LE, buf...`. `ctrl` bit 0: fix
/// the CRC of the frame at the start of `buf` first (so valid frames are
/// reached); bits 1-2 pick `max_payload`: 0 = `max`, 1 = `MAX_PAYLOAD_LEN`,
/// 2 = `u32::MAX`, 3 = `max % 4096`.
///
/// Properties: a `Record` re-encodes (with `encode_frame`, same epoch, seq,
/// flags, payload) to exactly the input prefix, does not validate under any
/// other epoch, and decodes the same with trailing bytes appended or with
/// just its own bytes; `NeedMore { needed }` means `len + needed` is exactly
/// the frame length (20 before the header is complete) and that many more
/// bytes end the `NeedMore`; each error matches the header bytes.
pub fn record_decode(data: &[u8]) {
    let mut c = Control::new(data);
    let ctrl = c.u8();
    let epoch = c.u64();
    let raw_max = c.u32();
    let max = match (ctrl >> 1) & 3 {
        0 => raw_max,
        1 => MAX_PAYLOAD_LEN,
        2 => u32::MAX,
        _ => raw_max % 4096,
    };
    let mut buf = c.into_rest().to_vec();
    if ctrl & 1 != 0 {
        fix_frame_crc(&mut buf, epoch);
    }
    check_decode_frame(&buf, epoch, max);
}

fn check_decode_frame(buf: &[u8], epoch: u64, max: u32) {
    let effective_max = max.min(MAX_PAYLOAD_LEN);
    let result = decode_frame(buf, SegmentId(epoch), max);
    // The length field, once the whole header is present.
    let len_field = buf
        .get(..FRAME_HEADER_LEN)
        .map(|h| u32::from_le_bytes([h[4], h[5], h[6], h[7]]));
    match result {
        Ok(Decoded::Record(frame)) => {
            let plen = frame.payload.len();
            assert!(plen >= 1, "a record with an empty payload validated");
            assert!(
                plen as u64 <= u64::from(effective_max),
                "payload of {plen} bytes over the maximum {effective_max}"
            );
            assert_eq!(
                len_field,
                Some(plen as u32),
                "payload length != length field"
            );
            assert!(
                frame.flags == 0 || frame.flags == FLAG_BATCH_START,
                "flags {:#x} validated",
                frame.flags
            );
            let total = FRAME_HEADER_LEN + plen;
            assert_eq!(frame.encoded_len(), total as u64);
            assert!(total <= buf.len());
            assert_eq!(
                frame.payload,
                &buf[FRAME_HEADER_LEN..total],
                "payload is not the bytes after the header"
            );
            assert_eq!(
                frame.seq.0.to_le_bytes(),
                buf[12..20],
                "seq is not bytes 12..20"
            );
            let mut again = Vec::new();
            encode_frame(
                &mut again,
                SegmentId(epoch),
                frame.seq,
                frame.flags,
                frame.payload,
            );
            assert_eq!(
                again.as_slice(),
                &buf[..total],
                "re-encoding a decoded frame does not reproduce its bytes"
            );
            // Only its own bytes matter.
            assert_eq!(
                decode_frame(&buf[..total], SegmentId(epoch), max),
                Ok(Decoded::Record(frame))
            );
            let mut longer = buf[..total].to_vec();
            longer.extend_from_slice(&[0xA5; 7]);
            assert_eq!(
                decode_frame(&longer, SegmentId(epoch), max),
                Ok(Decoded::Record(frame))
            );
            // CRC32 detects every single-bit change, so a neighbouring epoch
            // (one bit apart) never validates.
            for other in [epoch ^ 1, epoch ^ (1 << 63)] {
                assert_eq!(
                    decode_frame(&buf[..total], SegmentId(other), max),
                    Err(FrameError::BadCrc),
                    "frame of epoch {epoch} validated under epoch {other}"
                );
            }
        }
        Ok(Decoded::NeedMore { needed }) => {
            assert!(needed > 0, "NeedMore with needed = 0");
            let have = buf.len() as u64;
            let want = match len_field {
                Some(len) => {
                    assert!(
                        len >= 1 && len <= effective_max,
                        "NeedMore for an implausible length {len}"
                    );
                    assert!(buf[8] & !FLAG_BATCH_START == 0 && buf[9..12] == [0; 3]);
                    FRAME_HEADER_LEN as u64 + u64::from(len)
                }
                None => FRAME_HEADER_LEN as u64,
            };
            assert_eq!(
                have + needed,
                want,
                "NeedMore {{ needed: {needed} }} with {have} bytes present, frame needs {want}"
            );
            assert!(have < want);
            // Supplying `needed` more bytes ends the NeedMore (for a short
            // header, with a plausible length it may still need the payload).
            if needed <= 1 << 20 {
                let mut more = buf.to_vec();
                more.resize(buf.len() + needed as usize, 0x01);
                match decode_frame(&more, SegmentId(epoch), max) {
                    Ok(Decoded::NeedMore { needed: n2 }) => assert!(
                        buf.len() < FRAME_HEADER_LEN,
                        "still NeedMore ({n2}) after the needed bytes arrived"
                    ),
                    Ok(Decoded::Record(_)) | Err(_) => {}
                }
            }
        }
        Err(FrameError::Zero) => {
            assert!(buf.len() >= FRAME_HEADER_LEN);
            assert!(buf[..FRAME_HEADER_LEN].iter().all(|&b| b == 0));
        }
        Err(FrameError::BadLength(len)) => {
            assert_eq!(Some(len), len_field);
            assert!(
                len == 0 || len > effective_max,
                "BadLength({len}) for a valid length"
            );
        }
        Err(FrameError::BadFlags) => {
            assert!(buf.len() >= FRAME_HEADER_LEN);
            assert!(buf[8] & !FLAG_BATCH_START != 0 || buf[9..12] != [0; 3]);
        }
        Err(FrameError::BadCrc) => {
            let len = len_field.expect("BadCrc without a header");
            let total = FRAME_HEADER_LEN + len as usize;
            assert!(buf.len() >= total, "BadCrc before the frame was complete");
            let stored = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
            assert_ne!(
                stored,
                reference_frame_crc(epoch, &buf[..total]),
                "BadCrc for a frame whose CRC is right"
            );
        }
    }
    // The independent CRC agrees the other way round too: a complete,
    // plausible frame with the right CRC must validate.
    if let Some(len) = len_field {
        let plausible = len >= 1
            && len <= effective_max
            && buf[8] & !FLAG_BATCH_START == 0
            && buf[9..12] == [0; 3];
        let total = FRAME_HEADER_LEN + len as usize;
        if plausible && buf.len() >= total {
            let stored = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let right = stored == reference_frame_crc(epoch, &buf[..total]);
            assert_eq!(
                matches!(result, Ok(Decoded::Record(_))),
                right,
                "validation disagrees with the documented CRC"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// recovery_scan
// ---------------------------------------------------------------------------

/// `scan_segment` (both roles) and `is_unwritten` on segment images.
///
/// Layout: `ctrl: u8, epoch: u8, previous: u8, max: u16 LE, keep_bad: u8,
/// body...`. `ctrl` bit 0: the segment is `body` as is (else a valid header
/// for `epoch`, then `body`); bit 1: walk the frames from offset 32 and fix
/// their CRCs, except the k-th plausible frame when bit k of `keep_bad` is
/// set; bit 2: zero-pad to a multiple of [`SECTOR`]; bit 3 (raw only): scan
/// as the id the header names, if it decodes. `max` 0 means `u32::MAX`.
///
/// Properties: see [`check_scan`].
pub fn recovery_scan(data: &[u8]) {
    let mut c = Control::new(data);
    let ctrl = c.u8();
    let epoch = u64::from(c.u8());
    let previous = Lsn(u64::from(c.u8()));
    let max = match c.u16() {
        0 => u32::MAX,
        m => u32::from(m),
    };
    let keep_bad = c.u8();
    let body = c.into_rest();
    let raw = ctrl & 1 != 0;
    let mut bytes = if raw {
        body.to_vec()
    } else {
        let mut b = SegmentHeader {
            id: SegmentId(epoch),
        }
        .encode()
        .to_vec();
        b.extend_from_slice(body);
        b
    };
    let mut segment = SegmentId(epoch);
    if raw && ctrl & 8 != 0 {
        if let Ok(h) = SegmentHeader::decode(&bytes) {
            segment = h.id;
        }
    }
    if ctrl & 2 != 0 {
        let mut pos = SEGMENT_HEADER_LEN as usize;
        let mut k = 0u32;
        while pos < bytes.len() {
            let plausible = bytes.get(pos + 4..pos + 8).is_some_and(|l| {
                let len = u32::from_le_bytes([l[0], l[1], l[2], l[3]]);
                len >= 1 && len <= max.min(MAX_PAYLOAD_LEN)
            });
            if !plausible {
                pos += 1;
                continue;
            }
            let keep = k < 8 && keep_bad & (1 << k) != 0;
            k += 1;
            let total = if keep {
                None
            } else {
                fix_frame_crc(&mut bytes[pos..], segment.0)
            };
            match total {
                Some(total) => pos += total,
                None => pos += 1,
            }
        }
    }
    if ctrl & 4 != 0 {
        let padded = bytes.len().div_ceil(SECTOR) * SECTOR;
        bytes.resize(padded.max(SECTOR), 0);
    }
    check_scan(segment, &bytes, previous, max);

    // active_index on a few bits of the input.
    let flags: Vec<bool> = (0..(ctrl >> 4) as usize)
        .map(|i| keep_bad & (1 << (i % 8)) != 0)
        .collect();
    let want = match flags.iter().rposition(|&u| !u) {
        Some(i) => Some(i),
        None if flags.is_empty() => None,
        None => Some(0),
    };
    assert_eq!(active_index(&flags), want);
}

/// The valid prefix of a segment as the format defines it: frames from offset
/// 32 with strictly increasing ids, up to all-zero bytes or the first frame
/// that is not such a record. Returns (stop offset, ids, clean).
fn walk_frames(
    segment: SegmentId,
    bytes: &[u8],
    previous: Lsn,
    max: u32,
) -> (usize, Vec<Lsn>, bool) {
    let mut pos = SEGMENT_HEADER_LEN as usize;
    let mut ids = Vec::new();
    let mut last = previous;
    loop {
        let rest = bytes.get(pos..).unwrap_or_default();
        if rest.iter().all(|&b| b == 0) {
            return (pos, ids, true);
        }
        match decode_frame(rest, segment, max) {
            // The first record above `previous`; each later one the next id
            // (ids are dense within a segment).
            Ok(Decoded::Record(f))
                if (ids.is_empty() && f.seq > last)
                    || Some(f.seq) == last.0.checked_add(1).map(Lsn) =>
            {
                last = f.seq;
                ids.push(f.seq);
                pos += FRAME_HEADER_LEN + f.payload.len();
            }
            _ => return (pos, ids, false),
        }
    }
}

/// Checks one segment image against the recovery guarantees:
///
/// - never panics; `Sealed` Ok implies `Active` Ok with the same result, and
///   `Active` Ok without a torn tail implies `Sealed` Ok;
/// - on `Ok`: `32 <= end <= len`, `records`/`first`/`last` match walking the
///   frames from 32 to `end` with `decode_frame`, and every byte from `end` is
///   zero, or (`Active` only) there is a torn tail at `end` with
///   `end < dirty_end <= len`, nothing non-zero from `dirty_end`, and fewer
///   than `MAX_IN_FLIGHT` valid batch starts after it;
/// - cutting the torn tail (zeroing `[at, dirty_end)`) or truncating at `end`
///   gives a clean segment with the same records, and appending the next
///   record at `end` then scans as one more record;
/// - on `Err`: the offset is 0 for header problems, else where the valid
///   prefix stops;
/// - `is_unwritten` is exactly "valid header, zeros after".
pub fn check_scan(segment: SegmentId, bytes: &[u8], previous: Lsn, max: u32) {
    let len = bytes.len() as u64;
    let header = SegmentHeader::decode(bytes);
    let unwritten = is_unwritten(bytes);
    assert_eq!(
        unwritten,
        header.is_ok()
            && bytes.len() >= SEGMENT_HEADER_LEN as usize
            && bytes[SEGMENT_HEADER_LEN as usize..].iter().all(|&b| b == 0),
        "is_unwritten disagrees with its definition"
    );
    let active = scan_segment(segment, bytes, Role::Active, previous, max);
    let sealed = scan_segment(segment, bytes, Role::Sealed, previous, max);
    let header_ok = matches!(header, Ok(h) if h.id == segment);
    if !header_ok {
        for r in [&active, &sealed] {
            let e = r.expect_err("a segment with a bad header scanned Ok");
            assert_eq!(e.offset, 0);
            assert!(matches!(
                e.kind,
                CorruptionKind::Header(_) | CorruptionKind::WrongId(_)
            ));
        }
        return;
    }
    if unwritten {
        let want = SegmentScan {
            segment,
            end: SEGMENT_HEADER_LEN,
            records: 0,
            first: None,
            last: None,
            torn: None,
        };
        assert_eq!(active, Ok(want), "unwritten segment, active");
        assert_eq!(sealed, Ok(want), "unwritten segment, sealed");
    }
    let (stop, ids, clean) = walk_frames(segment, bytes, previous, max);
    if let Ok(s) = sealed {
        assert_eq!(active, Ok(s), "sealed Ok but active differs");
        assert_eq!(s.torn, None, "sealed segment with a torn tail");
    }
    if let Ok(s) = active {
        if s.torn.is_none() {
            assert_eq!(sealed, Ok(s), "active clean but sealed differs");
        }
    }
    for (role, result) in [(Role::Active, active), (Role::Sealed, sealed)] {
        match result {
            Ok(s) => {
                assert_eq!(s.segment, segment);
                assert!(
                    s.end >= SEGMENT_HEADER_LEN && s.end <= len,
                    "end {} of {len}",
                    s.end
                );
                assert_eq!(
                    s.end, stop as u64,
                    "{role:?}: end is not where the valid frames stop"
                );
                assert_eq!(s.records, ids.len() as u64);
                assert_eq!(s.first, ids.first().copied());
                assert_eq!(s.last, ids.last().copied());
                let after = &bytes[stop..];
                match s.torn {
                    None => {
                        assert!(clean);
                        assert!(
                            after.iter().all(|&b| b == 0),
                            "{role:?}: non-zero bytes after the end and no torn tail"
                        );
                    }
                    Some(t) => {
                        assert_eq!(role, Role::Active);
                        assert!(!clean);
                        assert_eq!(t.at, s.end);
                        assert!(t.dirty_end > t.at && t.dirty_end <= len, "{t:?} len {len}");
                        assert!(bytes[t.dirty_end as usize..].iter().all(|&b| b == 0));
                        assert_ne!(bytes[t.dirty_end as usize - 1], 0);
                        let later_batches = (stop + 1..bytes.len())
                            .filter(|&q| {
                                matches!(
                                    decode_frame(&bytes[q..], segment, max),
                                    Ok(Decoded::Record(f)) if f.flags & FLAG_BATCH_START != 0
                                )
                            })
                            .count();
                        assert!(
                            later_batches < usize::from(spool_core::commit::MAX_IN_FLIGHT),
                            "torn tail with {later_batches} valid writes after it"
                        );
                    }
                }
                check_after_recovery(segment, bytes, previous, max, s);
            }
            Err(e) => {
                assert_eq!(e.segment, segment);
                assert!(!clean, "{role:?}: a clean segment reported {e:?}");
                assert_eq!(
                    e.offset, stop as u64,
                    "{role:?}: {e:?} not where valid frames stop"
                );
                assert!(!matches!(
                    e.kind,
                    CorruptionKind::Header(_) | CorruptionKind::WrongId(_)
                ));
                if let CorruptionKind::Sequence { previous: p, found } = e.kind {
                    if ids.is_empty() {
                        assert!(found <= p);
                    } else {
                        assert_ne!(Some(found), p.0.checked_add(1).map(Lsn));
                    }
                    assert_eq!(p, ids.last().copied().unwrap_or(previous));
                }
            }
        }
    }
}

/// What the server does after a successful scan: cut the torn tail, then
/// append at `end`. Both must leave a segment that scans clean.
fn check_after_recovery(segment: SegmentId, bytes: &[u8], previous: Lsn, max: u32, s: SegmentScan) {
    let mut cut = bytes.to_vec();
    if let Some(t) = s.torn {
        cut[t.at as usize..t.dirty_end as usize].fill(0);
    }
    let clean = SegmentScan { torn: None, ..s };
    for role in [Role::Active, Role::Sealed] {
        assert_eq!(
            scan_segment(segment, &cut, role, previous, max),
            Ok(clean),
            "{role:?}: segment not clean after cutting the torn tail"
        );
        assert_eq!(
            scan_segment(segment, &bytes[..s.end as usize], role, previous, max),
            Ok(clean),
            "{role:?}: truncating at end does not scan clean"
        );
    }
    let last = s.last.unwrap_or(previous).max(previous);
    let Some(next) = last.0.checked_add(1) else {
        return;
    };
    let mut frame = Vec::new();
    encode_frame(&mut frame, segment, Lsn(next), FLAG_BATCH_START, b"n");
    let at = s.end as usize;
    if cut.len() < at + frame.len() {
        cut.resize(at + frame.len(), 0);
    }
    cut[at..at + frame.len()].copy_from_slice(&frame);
    let want = SegmentScan {
        end: s.end + frame.len() as u64,
        records: s.records + 1,
        first: Some(s.first.unwrap_or(Lsn(next))),
        last: Some(Lsn(next)),
        ..clean
    };
    assert_eq!(
        scan_segment(segment, &cut, Role::Active, previous, max),
        Ok(want),
        "a record appended at the recovered end is not found"
    );
}

// ---------------------------------------------------------------------------
// http_request
// ---------------------------------------------------------------------------

/// The limits the HTTP target runs with (small so limits are reached).
pub const HTTP_LIMITS: Limits = Limits {
    max_header_bytes: 1024,
    max_body: 4096,
    max_headers: 16,
};

/// What one connection made of its input.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Request(Request, usize),
    Error(HttpError),
}

/// Feeds `pieces` in order to one parser as a connection would (append, parse
/// and drain until `Ok(None)`; stop at the first error). With `release`, it
/// also drops the prefix [`RequestParser::take_released`] hands back after
/// each `Ok(None)`, as the server does (kept aside here, so each request is
/// still checked against all of its bytes). Returns the outcomes and the
/// bytes left unconsumed (none after an error).
fn run_connection(pieces: &[&[u8]], continue_sent: bool, release: bool) -> (Vec<Outcome>, Vec<u8>) {
    let mut parser = RequestParser::new(HTTP_LIMITS);
    let mut buf: Vec<u8> = Vec::new();
    let mut released: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match parser.parse(&buf) {
                Ok(Some((req, consumed))) => {
                    assert!(
                        consumed > 0 || !released.is_empty(),
                        "a request consumed no bytes"
                    );
                    assert!(
                        consumed <= buf.len(),
                        "consumed {consumed} of {} bytes",
                        buf.len()
                    );
                    released.extend_from_slice(&buf[..consumed]);
                    check_request(&req, &released);
                    buf.drain(..consumed);
                    out.push(Outcome::Request(req, released.len()));
                    released.clear();
                }
                Ok(None) => {
                    if release {
                        let n = parser.take_released();
                        assert!(n <= buf.len(), "released {n} of {} bytes", buf.len());
                        released.extend(buf.drain(..n));
                    }
                    if continue_sent && parser.wants_continue() {
                        parser.mark_continue_sent();
                        assert!(!parser.wants_continue());
                    }
                    break;
                }
                Err(e) => {
                    let mut answer = Vec::new();
                    e.write_to(&mut answer, spool_proto::Version::Http11);
                    assert!(answer.starts_with(format!("HTTP/1.1 {} ", e.status()).as_bytes()));
                    assert!(matches!(e.status(), 400 | 413 | 414 | 431 | 501));
                    out.push(Outcome::Error(e));
                    // The connection closes: what was left is never read.
                    return (out, Vec::new());
                }
            }
        }
    }
    // Bytes released but not yet part of a finished request are still
    // unconsumed input.
    released.extend_from_slice(&buf);
    (out, released)
}

/// Properties of one parsed request; `raw` is exactly the bytes it consumed.
fn check_request(req: &Request, raw: &[u8]) {
    let limits = HTTP_LIMITS;
    assert!(
        req.body.len() as u64 <= limits.max_body,
        "body over the limit"
    );
    assert!(req.headers.len() <= limits.max_headers);
    assert!(req.body.len() < raw.len());
    assert!(!req.path.is_empty());
    assert!(!req.method.as_str().is_empty());
    for (name, _) in &req.headers {
        assert!(!name.is_empty());
        assert_eq!(
            *name,
            name.to_ascii_lowercase(),
            "header name not lower-cased"
        );
    }
    let count = |n: &str| req.headers.iter().filter(|(h, _)| h == n).count();
    assert!(count("host") <= 1, "several Host headers accepted");
    let te = count("transfer-encoding");
    let cl = count("content-length");
    assert!(
        te == 0 || cl == 0,
        "Content-Length with Transfer-Encoding accepted"
    );
    assert!(cl <= 1, "several Content-Length headers accepted");
    if te > 0 {
        assert_eq!(req.version, spool_proto::Version::Http11, "TE in HTTP/1.0");
        // The last coding is chunked, and chunked only once, alone.
        let codings: Vec<String> = req
            .headers
            .iter()
            .filter(|(h, _)| h == "transfer-encoding")
            .flat_map(|(_, v)| v.split(|&b| b == b','))
            .map(|c| {
                String::from_utf8_lossy(c)
                    .trim_matches([' ', '\t'])
                    .to_owned()
            })
            .filter(|c| !c.is_empty())
            .collect();
        assert!(
            codings.len() == 1 && codings[0].eq_ignore_ascii_case("chunked"),
            "accepted transfer codings {codings:?}"
        );
    }
    if let Some(v) = req.header("content-length") {
        let n: u64 = std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.trim_matches([' ', '\t']).parse().ok())
            .unwrap_or_else(|| panic!("accepted Content-Length {v:?}"));
        assert_eq!(req.body.len() as u64, n, "body length != Content-Length");
        assert!(
            raw.ends_with(&req.body),
            "Content-Length body is not the last bytes"
        );
    }
    if te == 0 && cl == 0 {
        // RFC 9112 §6.3: no Content-Length and no Transfer-Encoding is an
        // empty body, for every method (POST included).
        assert!(req.body.is_empty(), "a body without a length");
    }
    // A request depends only on the bytes it consumed.
    let mut fresh = RequestParser::new(limits);
    assert_eq!(
        fresh.parse(raw),
        Ok(Some((req.clone(), raw.len()))),
        "re-parsing exactly the consumed bytes gives a different answer"
    );
}

/// `RequestParser` on one connection's bytes, whole and in pieces.
///
/// Layout: `ctrl: u8, a: u16 LE, b: u16 LE, input...`. `ctrl` bits 0-1: how
/// to split (0: at `a`, 1: at `a` and `b`, 2: one byte at a time for inputs
/// up to 2 KiB, else at `a`; 3: at `a`, `b` and their midpoint); bit 2:
/// acknowledge `100 Continue` when the parser wants it.
///
/// Properties: never panics; `0 < consumed <= buffered`; each request
/// satisfies [`check_request`] (no smuggling shapes accepted, body matches
/// its framing, re-parsing just its bytes gives it again); and splitting the
/// input, with or without dropping the released prefix, gives exactly the
/// same requests, errors and leftover as whole.
pub fn http_request(data: &[u8]) {
    let mut c = Control::new(data);
    let ctrl = c.u8();
    let a = usize::from(c.u16());
    let b = usize::from(c.u16());
    let input = c.into_rest();
    let n = input.len();
    let continue_sent = ctrl & 4 != 0;
    let whole = run_connection(&[input], continue_sent, false);
    let mut cuts: Vec<usize> = match ctrl & 3 {
        0 => vec![a % (n + 1)],
        1 => vec![a % (n + 1), b % (n + 1)],
        2 if n <= 2048 => (1..n).collect(),
        2 => vec![a % (n + 1)],
        _ => {
            let (x, y) = (a % (n + 1), b % (n + 1));
            vec![x, y, (x + y) / 2]
        }
    };
    cuts.sort_unstable();
    cuts.dedup();
    let mut pieces = Vec::new();
    let mut from = 0;
    for &cut in &cuts {
        pieces.push(&input[from..cut]);
        from = cut;
    }
    pieces.push(&input[from..]);
    let split = run_connection(&pieces, continue_sent, false);
    assert_eq!(whole, split, "split at {cuts:?} parses differently");
    // Dropping what the parser released (a chunked body's decoded input)
    // changes nothing either.
    let released = run_connection(&pieces, continue_sent, true);
    assert_eq!(
        whole, released,
        "split at {cuts:?} and released parses differently"
    );
}

// ---------------------------------------------------------------------------
// entry_decoders
// ---------------------------------------------------------------------------

/// The content types every input is decoded as.
const CONTENT_TYPES: [Option<&str>; 8] = [
    None,
    Some("text/plain"),
    Some("TEXT/Plain; charset=utf-8"),
    Some("application/json"),
    Some("application/x-ndjson"),
    Some("application/ndjson"),
    Some(" application/jsonlines ;q=1"),
    Some("application/x-www-form-urlencoded"),
];

/// `decode_entries` for every content type.
///
/// Layout: `ctrl: u8, body...`. `ctrl` bits 0-1 pick limits (default; 64-byte
/// records and 3 records; 40-byte records; 1 record), bits 2-3 the receive
/// time (0, a 2023 time, `u64::MAX`, 1).
///
/// Properties: never panics; an accepted body has `1..=max_records` entries,
/// each within `max_record_bytes`, each round-tripping exactly through
/// `Entry::encode` / `EntryRef::decode`, with metadata empty or a JSON object;
/// text entries are exactly the non-blank lines; errors carry 400/413 and the
/// position their message names; `text/plain`, the form type and no content
/// type agree, the NDJSON aliases agree, and a one-line object decodes the
/// same as JSON and NDJSON; an unsupported type is always 415. Only valid
/// JSON is accepted (by `json_text`, and by serde_json unless a number is
/// outside the f64 range), and each accepted JSON record's metadata is
/// exactly its `metadata` member's text (found by serde_json) minus
/// insignificant whitespace (removed by [`strip_json_whitespace`]), and its
/// message and service are exactly the strings serde_json decodes.
pub fn entry_decoders(data: &[u8]) {
    let mut c = Control::new(data);
    let ctrl = c.u8();
    let body = c.into_rest();
    let limits = match ctrl & 3 {
        0 => DecodeLimits::default(),
        1 => DecodeLimits {
            max_record_bytes: 64,
            max_records: 3,
        },
        2 => DecodeLimits {
            max_record_bytes: ENTRY_FIXED_LEN + 20,
            max_records: 100,
        },
        _ => DecodeLimits {
            max_record_bytes: 1 << 20,
            max_records: 1,
        },
    };
    let now_ns = match (ctrl >> 2) & 3 {
        0 => 0,
        1 => 1_700_000_000_123_456_789,
        2 => u64::MAX,
        _ => 1,
    };
    let results: Vec<_> = CONTENT_TYPES
        .iter()
        .map(|&ct| {
            let r = decode_entries(ct, body, now_ns, &limits);
            check_decoded(&r, &limits);
            r
        })
        .collect();
    // Aliases agree exactly.
    assert_eq!(results[0], results[1], "no content type vs text/plain");
    assert_eq!(results[1], results[2], "text/plain with parameters");
    assert_eq!(results[1], results[7], "form type vs text/plain");
    assert_eq!(results[4], results[5], "NDJSON aliases differ");
    assert_eq!(results[4], results[6], "NDJSON aliases differ");
    check_text(&results[1], body, now_ns, &limits);

    // A body that is one valid JSON object on one line is the same record
    // either way.
    let unbom = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let valid_json = |bytes: &[u8]| json_text::validate(bytes).is_ok();
    if !unbom.contains(&b'\n') && unbom.trim_ascii_start().starts_with(b"{") && valid_json(unbom) {
        let (json, ndjson) = (&results[3], &results[4]);
        assert_eq!(
            json.is_ok(),
            ndjson.is_ok(),
            "one-line object: JSON {json:?} vs NDJSON {ndjson:?}"
        );
        if let (Ok(j), Ok(n)) = (json, ndjson) {
            assert_eq!(j, n);
        }
    }

    // Only valid JSON is accepted: the whole body for JSON, each non-blank
    // line for NDJSON. (Fuzzing found the old fast path accepting invalid
    // UTF-8 and lone surrogates in ignored fields; see regressions/.) Each
    // accepted record is exactly what was sent.
    if let Ok(entries) = &results[3] {
        assert!(valid_json(unbom), "JSON body accepted but not valid JSON");
        check_serde_agrees(unbom);
        let records: Vec<&[u8]> = if unbom.trim_ascii_start().starts_with(b"[") {
            let items: Vec<&serde_json::value::RawValue> =
                serde_json::from_slice(unbom).expect("an accepted JSON array splits into elements");
            items.iter().map(|r| r.get().as_bytes()).collect()
        } else {
            vec![unbom]
        };
        assert_eq!(records.len(), entries.len(), "one entry per array element");
        for (record, entry) in records.iter().zip(entries) {
            check_record_as_sent(record, entry);
        }
    }
    if let Ok(entries) = &results[4] {
        let lines: Vec<&[u8]> = unbom
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.trim_ascii().is_empty())
            .collect();
        assert_eq!(lines.len(), entries.len(), "one entry per NDJSON line");
        for (line, entry) in lines.iter().zip(entries) {
            assert!(valid_json(line), "NDJSON line accepted but not valid JSON");
            check_serde_agrees(line);
            check_record_as_sent(line, entry);
        }
    }

    let bad = decode_entries(Some("application/xml"), body, now_ns, &limits);
    assert_eq!(bad.as_ref().map_err(|e| e.status), Err(415));
}

fn check_decoded(
    result: &Result<Vec<spool_core::entry::Entry>, spool_proto::DecodeError>,
    limits: &DecodeLimits,
) {
    match result {
        Ok(entries) => {
            assert!(!entries.is_empty(), "an accepted body with no entries");
            assert!(
                entries.len() <= limits.max_records,
                "more records than the limit"
            );
            for entry in entries {
                let bytes = entry.encode().expect("an accepted entry does not encode");
                assert_eq!(bytes.len(), entry.encoded_len());
                assert!(
                    bytes.len() <= limits.max_record_bytes,
                    "record over the size limit"
                );
                let back = EntryRef::decode(&bytes).expect("an encoded entry does not decode");
                assert_eq!(&back.to_owned_entry(), entry, "entry does not round-trip");
                if !entry.metadata.is_empty() {
                    assert_eq!(
                        json_text::validate(entry.metadata.as_bytes()),
                        Ok(()),
                        "metadata is not JSON"
                    );
                    assert!(entry.metadata.starts_with('{'), "metadata is not an object");
                    check_serde_agrees(entry.metadata.as_bytes());
                }
            }
        }
        Err(e) => {
            assert!(matches!(e.status, 400 | 413), "status {}", e.status);
            assert!(!e.message.is_empty());
            assert!(e.line.is_none() || e.index.is_none());
            if let Some(line) = e.line {
                assert!(line >= 1);
                assert!(e.message.starts_with(&format!("line {line}: ")), "{e:?}");
            }
            if let Some(index) = e.index {
                assert!(e.message.starts_with(&format!("record {index}: ")), "{e:?}");
            }
        }
    }
}

/// Text bodies: one entry per non-blank line, message = the line.
fn check_text(
    result: &Result<Vec<spool_core::entry::Entry>, spool_proto::DecodeError>,
    body: &[u8],
    now_ns: u64,
    limits: &DecodeLimits,
) {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let lines: Vec<&[u8]> = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.trim_ascii().is_empty())
        .collect();
    match result {
        Ok(entries) => {
            assert_eq!(
                entries.len(),
                lines.len(),
                "text entries != non-blank lines"
            );
            for (entry, line) in entries.iter().zip(&lines) {
                assert_eq!(entry.message.as_bytes(), *line);
                assert_eq!(entry.timestamp_ns, now_ns);
                assert!(entry.service.is_empty() && entry.metadata.is_empty());
            }
        }
        Err(e) => {
            let all_utf8 = lines.iter().all(|l| std::str::from_utf8(l).is_ok());
            let fits = lines
                .iter()
                .all(|l| ENTRY_FIXED_LEN + l.len() <= limits.max_record_bytes);
            assert!(
                lines.is_empty() || !all_utf8 || !fits || lines.len() > limits.max_records,
                "valid text refused: {e:?}"
            );
        }
    }
}

/// serde_json accepts `json` too, unless [`serde_json_quirk`] explains why
/// not.
fn check_serde_agrees(json: &[u8]) {
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(json) {
        assert!(
            serde_json_quirk(&e, json),
            "valid JSON that serde_json refuses: {e}"
        );
    }
}

/// The valid JSON serde_json refuses when it parses a `Value`: numbers
/// outside the f64 range (it reads numbers as f64), and, with its
/// `raw_value` feature on (this crate turns it on; Spool's build does not),
/// an object whose member name is its private marker for raw values
/// (fuzzing found `{"$serde_json::private::RawValue":"x"}`; see
/// `regressions/json_text/`).
fn serde_json_quirk(e: &serde_json::Error, json: &[u8]) -> bool {
    const RAW_VALUE_MARKER: &[u8] = b"$serde_json::private::RawValue";
    e.to_string().contains("number out of range")
        || json
            .windows(RAW_VALUE_MARKER.len())
            .any(|w| w == RAW_VALUE_MARKER)
}

/// One accepted JSON record (an object's text) against its entry: metadata
/// is the `metadata` member's text minus insignificant whitespace (`{}` is
/// kept, `null` or absent is none), message and service the decoded strings.
fn check_record_as_sent(record: &[u8], entry: &spool_core::entry::Entry) {
    use serde_json::value::RawValue;
    // Duplicate names of fields Spool reads are refused, so where the map
    // keeps the last of several, it is one Spool ignores.
    let members: std::collections::HashMap<String, &RawValue> =
        serde_json::from_slice(record).expect("an accepted record is an object");
    let raw = |name: &str| members.get(name).map(|r| r.get()).filter(|r| *r != "null");
    let metadata = raw("metadata").map(|m| strip_json_whitespace(m.as_bytes()));
    assert_eq!(
        entry.metadata.as_bytes(),
        metadata.as_deref().unwrap_or_default(),
        "metadata is not the text sent minus whitespace"
    );
    let message: String = serde_json::from_str(raw("message").expect("accepted without a message"))
        .expect("message decodes");
    assert_eq!(entry.message, message, "message is not the string sent");
    let service: String = raw("service")
        .map(|s| serde_json::from_str(s).expect("service decodes"))
        .unwrap_or_default();
    assert_eq!(entry.service, service, "service is not the string sent");
}

/// `json` without whitespace outside strings, by a method independent of
/// `json_text`: a quote toggles "in a string" unless it is escaped. `json`
/// must be valid JSON.
pub fn strip_json_whitespace(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        } else if b == b'"' {
            in_string = true;
        }
        out.push(b);
    }
    out
}

// ---------------------------------------------------------------------------
// json_text
// ---------------------------------------------------------------------------

/// `spool_proto::decode::json_text`, the strict JSON text scanner.
///
/// Layout: the whole input is the text (no control bytes).
///
/// Properties: never panics; `validate` and `minify` agree; valid exactly
/// when serde_json parses it as a `Value`, except where
/// [`serde_json_quirk`] says serde_json alone refuses; an error's offset is within the
/// text and `minify` leaves its output as it was; a valid text's minified
/// form equals [`strip_json_whitespace`] of it, is valid, minifies to
/// itself, and parses with serde_json to the same value.
pub fn json_text(data: &[u8]) {
    let verdict = json_text::validate(data);
    let mut out = b"keep".to_vec();
    let minified = json_text::minify(data, &mut out);
    assert_eq!(verdict, minified, "validate and minify disagree");
    let serde = serde_json::from_slice::<serde_json::Value>(data);
    match (&verdict, &serde) {
        (Ok(()), Ok(_)) | (Err(_), Err(_)) => {}
        (Ok(()), Err(e)) => assert!(
            serde_json_quirk(e, data),
            "serde_json refuses ({e}) what json_text accepts"
        ),
        (Err(e), Ok(_)) => panic!("json_text refuses ({e}) what serde_json accepts"),
    }
    match verdict {
        Err(e) => {
            assert!(e.offset <= data.len(), "error offset past the end");
            assert!(!e.message.is_empty());
            assert_eq!(out, b"keep", "minify changed its output on error");
        }
        Ok(()) => {
            assert_eq!(out.get(..4), Some(&b"keep"[..]));
            let min = &out[4..];
            assert_eq!(min, strip_json_whitespace(data), "minified differs");
            let mut again = Vec::new();
            assert_eq!(json_text::minify(min, &mut again), Ok(()));
            assert_eq!(again, min, "minified text does not minify to itself");
            if let Ok(value) = serde {
                let back: serde_json::Value =
                    serde_json::from_slice(min).expect("minified text parses");
                assert_eq!(back, value, "minifying changed the value");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// index_decode
// ---------------------------------------------------------------------------

/// `spool_core::index::decode`, the persisted index of a sealed segment
/// (which start-up and the daemon's catalog read, and never trust further
/// than it checks out).
///
/// Layout: `ctrl: u8, bytes...`. `ctrl` bit 0: replace the last 4 bytes
/// with the CRC32 of the rest first, so the structural checks after the
/// CRC are reached.
///
/// Properties: never panics; a decoded index re-encodes to bytes that
/// decode to the same index, and its blocks tile the covered range in id
/// order (what the planner relies on); any single byte changed in that
/// encoding (CRC fixed or not) decodes to an error or to an index that
/// itself re-encodes consistently.
pub fn index_decode(data: &[u8]) {
    use spool_core::index::{decode, encode};
    let Some((&ctrl, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if ctrl & 1 != 0 && bytes.len() >= 4 {
        let body = bytes.len() - 4;
        let crc = crc32fast::hash(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_le_bytes());
    }
    let Ok(index) = decode(&bytes) else {
        return;
    };
    let again = encode(&index);
    assert_eq!(
        decode(&again).as_ref(),
        Ok(&index),
        "re-encoding changes it"
    );
    let mut end = spool_core::record::SEGMENT_HEADER_LEN;
    let mut previous = spool_core::record::Lsn(0);
    for b in index.blocks() {
        assert_eq!(b.offset(), end, "blocks do not tile the segment");
        assert!(b.first_id() > previous && b.last_id() >= b.first_id());
        assert!(b.min_timestamp_ns() <= b.max_timestamp_ns());
        assert!(b.records() >= 1);
        end = b.end();
        previous = b.last_id();
    }
    assert_eq!(end, index.covered_len());
    // A changed byte without the CRC fixed is always refused.
    if let Some(at) = again
        .len()
        .checked_sub(1)
        .map(|l| usize::from(ctrl >> 1) % (l + 1))
    {
        let mut flipped = again.clone();
        flipped[at] ^= 0x5a;
        assert!(decode(&flipped).is_err(), "a flipped byte at {at} decoded");
    }
}

/// `ws_frames`: the server's reader of client WebSocket frames
/// (`spool_proto::ws::FrameReader`) on arbitrary bytes.
///
/// Control bytes: `[max_frame_lo, max_message_lo]` (limits of 125 + the
/// byte, so tiny limits are reached), then the client's bytes. Checks:
/// - it never panics, and never says it used more bytes than it was
///   given;
/// - no data message is over its limit;
/// - fed one byte at a time, it returns the same messages and the same
///   error as fed everything at once (incremental parsing is exact);
/// - each message, sent again as one masked frame, reads back the same.
pub fn ws_frames(data: &[u8]) {
    use spool_proto::ws::{FrameReader, Incoming, WsLimits};
    let b = |i: usize| data.get(i).copied().unwrap_or(0) as usize;
    let limits = WsLimits {
        max_frame: 125 + b(0),
        max_message: 125 + b(1),
    };
    let input = data.get(2..).unwrap_or(&[]);
    type Outcome = Result<Vec<Incoming>, u16>;
    let whole = |input: &[u8]| -> Outcome {
        let mut r = FrameReader::new(limits);
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            match r.next(&input[at..]) {
                Ok((m, used)) => {
                    assert!(at + used <= input.len());
                    at += used;
                    match m {
                        Some(m) => out.push(m),
                        None if used == 0 => return Ok(out),
                        None => {}
                    }
                }
                Err(e) => return Err(e.code),
            }
        }
    };
    let all = whole(input);
    // One byte at a time.
    let mut r = FrameReader::new(limits);
    let mut buf = Vec::new();
    let mut step: Outcome = Ok(Vec::new());
    'bytes: for &byte in input {
        buf.push(byte);
        loop {
            match r.next(&buf) {
                Ok((m, used)) => {
                    buf.drain(..used);
                    match m {
                        Some(m) => {
                            if let Ok(v) = step.as_mut() {
                                v.push(m);
                            }
                        }
                        None if used == 0 => break,
                        None => {}
                    }
                }
                Err(e) => {
                    step = Err(e.code);
                    break 'bytes;
                }
            }
        }
    }
    match (&all, &step) {
        (Ok(a), Ok(s)) => assert_eq!(a, s, "incremental parsing differs"),
        (Err(a), Err(s)) => assert_eq!(a, s, "incremental parsing fails differently"),
        // Fed at once, an error after the last message it returned is
        // reached; fed byte by byte, the same.
        _ => panic!("whole: {all:?}, byte by byte: {step:?}"),
    }
    for m in all.unwrap_or_default() {
        let (opcode, payload): (u8, Vec<u8>) = match &m {
            Incoming::Text(t) => {
                assert!(t.len() <= limits.max_message);
                (1, t.clone().into_bytes())
            }
            Incoming::Binary(b) => {
                assert!(b.len() <= limits.max_message);
                (2, b.clone())
            }
            Incoming::Ping(p) => (9, p.clone()),
            Incoming::Pong(p) => (10, p.clone()),
            Incoming::Close(_) => continue,
        };
        if payload.len() > limits.max_frame {
            continue; // assembled from fragments: not one frame
        }
        let mask = [0x11, 0x22, 0x33, 0x44];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        let again = FrameReader::new(limits).next(&frame);
        assert_eq!(again, Ok((Some(m.clone()), frame.len())), "re-sent {m:?}");
    }
}

/// The webhook's HTTP client side (`spool_proto::http::client`) on what a
/// receiver (anyone at the webhook URL) may answer, and on URLs.
///
/// Properties:
/// - the response reader never panics, and holds no more than its bound;
/// - fed one byte at a time it gives the same status or error as fed the
///   whole answer at once;
/// - a status it gives is a final one (200..=999);
/// - a URL that parses prints as a URL that parses to the same thing.
pub fn http_response(data: &[u8]) {
    use spool_proto::http::client::{parse_http_url, ResponseReader};
    let max_head = 64 + usize::from(data.first().copied().unwrap_or(0)) * 8;
    let input = data.get(1..).unwrap_or(&[]);
    let mut whole = ResponseReader::new(max_head);
    let all = whole.push(input);
    let mut bytes = ResponseReader::new(max_head);
    let mut step = Ok(None);
    for &b in input {
        step = bytes.push(&[b]);
        if !matches!(step, Ok(None)) {
            break;
        }
    }
    assert_eq!(all, step, "one byte at a time differs from all at once");
    if let Ok(Some(status)) = all {
        assert!((200..=999).contains(&status), "final status {status}");
    }
    if let Ok(text) = core::str::from_utf8(input) {
        if let Ok(url) = parse_http_url(text) {
            let again = parse_http_url(&url.to_string()).expect("a printed URL parses");
            assert_eq!(again, url);
        }
    }
}
