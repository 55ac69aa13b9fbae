//! CPU cost of the on-disk format: frame encode/decode, entry payload
//! encode/decode, and the recovery scan, as bytes per second.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use spool_core::entry::{Entry, EntryRef, Level};
use spool_core::record::{
    decode_frame, encode_frame, frame_len, Decoded, Lsn, SegmentHeader, SegmentId,
    SEGMENT_HEADER_LEN,
};
use spool_core::recover::{scan_segment, Role};

const FRAMES: usize = 1000;
const EPOCH: SegmentId = SegmentId(7);
const MAX_PAYLOAD: u32 = 1 << 20;
const SEGMENT_BYTES: usize = 4 << 20;

fn payload() -> Vec<u8> {
    spool_benches::payload()
}

fn frames(c: &mut Criterion) {
    let payload = payload();
    let total = FRAMES as u64 * frame_len(payload.len() as u32);
    let mut g = c.benchmark_group("frame");
    g.throughput(Throughput::Bytes(total));

    let mut out = Vec::with_capacity(total as usize);
    g.bench_function("encode_200B_x1000", |b| {
        b.iter(|| {
            out.clear();
            for seq in 1..=FRAMES as u64 {
                encode_frame(&mut out, EPOCH, Lsn(seq), 0, black_box(&payload));
            }
            black_box(out.len())
        })
    });

    let mut buf = Vec::with_capacity(total as usize);
    for seq in 1..=FRAMES as u64 {
        encode_frame(&mut buf, EPOCH, Lsn(seq), 0, &payload);
    }
    g.bench_function("decode_200B_x1000", |b| {
        b.iter(|| {
            let mut rest = black_box(buf.as_slice());
            let mut n = 0u64;
            while !rest.is_empty() {
                match decode_frame(rest, EPOCH, MAX_PAYLOAD) {
                    Ok(Decoded::Record(f)) => {
                        n += f.seq.0;
                        rest = &rest[f.encoded_len() as usize..];
                    }
                    other => panic!("bad frame: {other:?}"),
                }
            }
            n
        })
    });
    g.finish();
}

fn sample_entry() -> Entry {
    let message = "card authorization declined for order 8f3a2c1e-77d4-4b0a-9e61: \
                   issuer returned 05 (do not honor) after 212 ms, retry 2 of 3"
        .to_string();
    Entry {
        timestamp_ns: 1_700_000_000_123_456_789,
        level: Level::Warn,
        service: "payments".into(),
        message,
        metadata: r#"{"user":4242,"region":"eu-1","card":"visa"}"#.into(),
    }
}

fn entries(c: &mut Criterion) {
    let entry = sample_entry();
    let len = entry.encoded_len();
    let mut g = c.benchmark_group("entry");
    g.throughput(Throughput::Bytes(len as u64));

    let mut out = Vec::with_capacity(len);
    g.bench_function(format!("encode_into_{len}B"), |b| {
        b.iter(|| {
            out.clear();
            black_box(&entry).encode_into(&mut out).unwrap();
            black_box(out.len())
        })
    });

    let bytes = entry.encode().unwrap();
    g.bench_function(format!("decode_{len}B"), |b| {
        b.iter(|| {
            let e = EntryRef::decode(black_box(&bytes)).unwrap();
            black_box(e.message.len())
        })
    });
    g.finish();
}

fn recovery_scan(c: &mut Criterion) {
    let payload = payload();
    let mut seg = SegmentHeader { id: EPOCH }.encode().to_vec();
    let per = frame_len(payload.len() as u32) as usize;
    let mut seq = 1;
    while seg.len() + per <= SEGMENT_BYTES {
        encode_frame(&mut seg, EPOCH, Lsn(seq), 0, &payload);
        seq += 1;
    }
    let records = seq - 1;
    let end = seg.len() as u64;
    seg.resize(SEGMENT_BYTES, 0);
    assert!(end > SEGMENT_HEADER_LEN);

    let mut g = c.benchmark_group("recover");
    g.throughput(Throughput::Bytes(SEGMENT_BYTES as u64));
    g.bench_function("scan_segment_4MiB_200B", |b| {
        b.iter(|| {
            let s =
                scan_segment(EPOCH, black_box(&seg), Role::Active, Lsn(0), MAX_PAYLOAD).unwrap();
            assert_eq!((s.records, s.end), (records, end));
            s.end
        })
    });
    g.finish();
}

criterion_group!(benches, frames, entries, recovery_scan);
criterion_main!(benches);
