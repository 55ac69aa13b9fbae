//! The index and query planner against an independent model.
//!
//! Random records (many services, more than eight in some blocks, every
//! level, out-of-order timestamps, messages of random words) are encoded
//! into real segment frames and indexed with random block targets, some
//! indexes through their persisted form, the newest segment still being
//! built. Random filters then run through `plan` + `scan_block` and must
//! return exactly what a plain filter over the records returns, newest
//! first; paging with the cursor, while records keep being appended between
//! pages, must return every match present at the first page exactly once.
//!
//! Each failure message names its seed; `SPOOL_QUERY_SEEDS=N` runs N worlds
//! per test instead of the default.
//!
//! `measure_block_targets` (ignored) prints the numbers behind the default
//! block target: `cargo test -p spool-core --release --test query --
//! --ignored --nocapture`.

mod common;

use common::Rng;
use std::time::{Duration, Instant};

use spool_core::entry::{Entry, EntryRef, Level};
use spool_core::index::{
    decode, encode, BlockSummary, BlockTarget, IndexBuilder, SegmentIndex, ALL_LEVELS,
    DEFAULT_BLOCK_TARGET,
};
use spool_core::query::{plan, scan_block, Cursor, Filter, Match, ScanError};
use spool_core::record::{encode_frame, Lsn, SegmentHeader, SegmentId, SEGMENT_HEADER_LEN};

const WORDS: &[&str] = &[
    "connection",
    "timeout",
    "refused",
    "user",
    "login",
    "payment",
    "declined",
    "cache",
    "miss",
    "disk",
    "full",
    "retry",
    "request",
    "served",
    "GET",
    "POST",
    "db",
    "query",
    "slow",
    "shard",
    "Ünïcode",
    "worker",
    "started",
    "stopped",
    "token",
    "expired",
    "queue",
    "backlog",
    "OOM",
    "killed",
];

fn service_name(i: u64) -> String {
    format!("svc-{i}")
}

/// How one world's records are drawn.
struct Shape {
    services: u64,
    /// Per mille of records from a "burst" that spreads over every service
    /// (so blocks see more than 8).
    burst: u64,
}

fn random_entry(rng: &mut Rng, shape: &Shape, clock: &mut u64) -> Entry {
    *clock += rng.below(1_000);
    // Producers' clocks disagree: some records arrive stamped far back.
    let timestamp_ns = if rng.chance(50) {
        clock.saturating_sub(rng.below(200_000))
    } else {
        *clock
    };
    let service = if rng.chance(shape.burst) {
        service_name(rng.below(shape.services))
    } else {
        // Skewed: most records come from a few services.
        let popular = 1 + rng.below(shape.services);
        service_name(rng.below(popular))
    };
    let level = Level::ALL[match rng.below(100) {
        0..=4 => 0,
        5..=19 => 1,
        20..=79 => 2,
        80..=91 => 3,
        92..=98 => 4,
        _ => 5,
    }];
    let words = 1 + rng.below(12);
    let message = (0..words)
        .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ");
    let metadata = if rng.chance(300) {
        format!(
            r#"{{"user":"{}"}}"#,
            WORDS[rng.below(WORDS.len() as u64) as usize]
        )
    } else {
        String::new()
    };
    Entry {
        timestamp_ns,
        level,
        service: if rng.chance(20) {
            String::new()
        } else {
            service
        },
        message,
        metadata,
    }
}

/// A sealed segment (its index decoded or rebuilt) or the active one.
enum SegIndex {
    Sealed(SegmentIndex),
    Active(IndexBuilder),
}

struct Segment {
    id: SegmentId,
    bytes: Vec<u8>,
    index: SegIndex,
}

impl Segment {
    fn index(&self) -> &SegmentIndex {
        match &self.index {
            SegIndex::Sealed(i) => i,
            SegIndex::Active(b) => b.index(),
        }
    }
}

/// Segments, oldest first, and the model: every record with its id.
struct World {
    rng: Rng,
    shape: Shape,
    clock: u64,
    segments: Vec<Segment>,
    records: Vec<(Lsn, Entry)>,
    next_id: Lsn,
}

impl World {
    fn new(seed: u64, shape: Shape) -> World {
        World {
            rng: Rng(seed),
            shape,
            clock: 1_700_000_000_000_000_000,
            segments: Vec::new(),
            records: Vec::new(),
            next_id: Lsn(1 + seed % 1000),
        }
    }

    fn random_target(&mut self) -> BlockTarget {
        if self.rng.chance(200) {
            return DEFAULT_BLOCK_TARGET;
        }
        BlockTarget {
            max_bytes: 100 + self.rng.below(6_000) as u32,
            max_records: 1 + self.rng.below(80) as u32,
        }
    }

    /// Seals the active segment (through the persisted form, or by a
    /// rebuild from its bytes) and opens a new one.
    fn rotate(&mut self) {
        if let Some(seg) = self.segments.last_mut() {
            if let SegIndex::Active(b) = &seg.index {
                let built = b.clone().finish();
                let sealed = if self.rng.chance(500) {
                    decode(&encode(&built)).expect("a fresh index decodes")
                } else {
                    let mut rebuilt = IndexBuilder::with_target(seg.id, DEFAULT_BLOCK_TARGET);
                    let body = &seg.bytes[SEGMENT_HEADER_LEN as usize..];
                    let used = rebuilt.push_frames(body, SEGMENT_HEADER_LEN).unwrap();
                    assert_eq!(used as usize, body.len());
                    let rebuilt = rebuilt.finish();
                    assert_eq!(rebuilt.records(), built.records());
                    rebuilt
                };
                assert_eq!(sealed.covered_len(), seg.bytes.len() as u64);
                seg.index = SegIndex::Sealed(sealed);
            }
        }
        let id = self.segments.last().map_or(SegmentId(1), |s| s.id.next());
        let target = self.random_target();
        self.segments.push(Segment {
            id,
            bytes: SegmentHeader { id }.encode().to_vec(),
            index: SegIndex::Active(IndexBuilder::with_target(id, target)),
        });
    }

    /// Appends `n` records to the active segment.
    fn append(&mut self, n: usize) {
        if self.segments.is_empty() {
            self.rotate();
        }
        for _ in 0..n {
            let entry = random_entry(&mut self.rng, &self.shape, &mut self.clock);
            let payload = entry.encode().unwrap();
            let seg = self.segments.last_mut().unwrap();
            let offset = seg.bytes.len() as u64;
            encode_frame(&mut seg.bytes, seg.id, self.next_id, 0, &payload);
            let len = seg.bytes.len() as u64 - offset;
            let SegIndex::Active(builder) = &mut seg.index else {
                unreachable!("the newest segment is active")
            };
            builder
                .push(
                    self.next_id,
                    offset,
                    len,
                    &EntryRef::decode(&payload).unwrap(),
                )
                .unwrap();
            self.records.push((self.next_id, entry));
            self.next_id = self.next_id.next();
        }
    }

    fn grow(&mut self, records: usize, segments: usize) {
        for _ in 0..segments {
            self.rotate();
            let n = self.rng.below(2 * records as u64 / segments as u64) as usize;
            self.append(n);
        }
    }

    /// Plan + scan: what the server will do.
    fn query(
        &self,
        filter: &Filter,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> (Vec<Match<'_>>, u64) {
        let newest_first = self.segments.iter().rev();
        let mut plan = plan(newest_first.clone().map(|s| s.index()), filter, cursor);
        let mut out = Vec::new();
        for range in &mut plan {
            let seg = self
                .segments
                .iter()
                .find(|s| s.id == range.segment)
                .unwrap();
            let bytes = &seg.bytes[range.offset as usize..(range.offset + range.len) as usize];
            scan_block(bytes, &range, filter, limit, &mut out).unwrap();
            if out.len() >= limit {
                break;
            }
        }
        (out, plan.skipped_blocks())
    }

    /// The model's answer: a plain filter over every record, newest first.
    fn expected(&self, filter: &Filter, below: Option<Lsn>) -> Vec<Lsn> {
        self.records
            .iter()
            .rev()
            .filter(|(id, _)| below.is_none_or(|b| *id < b))
            .filter(|(_, e)| model_matches(filter, e))
            .map(|(id, _)| *id)
            .collect()
    }

    fn random_filter(&mut self) -> Filter {
        let rng = &mut self.rng;
        let mut f = Filter::default();
        if rng.chance(500) {
            f.levels = if rng.chance(500) {
                // >= some level
                let min = rng.below(6);
                ALL_LEVELS & !((1u8 << min) - 1)
            } else {
                rng.below(64) as u8
            };
        }
        if rng.chance(500) {
            let n = 1 + rng.below(3);
            f.services = Some(
                (0..n)
                    .map(|_| match rng.below(10) {
                        0 => String::new(),
                        1 => "absent".into(),
                        _ => service_name(rng.below(self.shape.services)),
                    })
                    .collect(),
            );
        }
        let which = rng.below(4);
        let (lo, hi) = (1_700_000_000_000_000_000u64 - 300_000, self.clock + 1);
        let records = &self.records;
        let blocks: Vec<&BlockSummary> = self
            .segments
            .iter()
            .flat_map(|s| s.index().blocks())
            .collect();
        // Often exactly a record's timestamp or a block's smallest or
        // largest (or one off): the boundaries are where mistakes hide.
        let mut t = || {
            let exact = match rng.below(4) {
                0 if !records.is_empty() => {
                    records[rng.below(records.len() as u64) as usize]
                        .1
                        .timestamp_ns
                }
                1 if !blocks.is_empty() => {
                    let b = blocks[rng.below(blocks.len() as u64) as usize];
                    if rng.chance(500) {
                        b.min_timestamp_ns()
                    } else {
                        b.max_timestamp_ns()
                    }
                }
                _ => return lo + rng.below(hi - lo),
            };
            (exact + rng.below(3)).saturating_sub(1)
        };
        match which {
            0 => f.since_ns = Some(t()),
            1 => f.until_ns = Some(t()),
            2 => {
                let (a, b) = (t(), t());
                f.since_ns = Some(a.min(b));
                f.until_ns = Some(a.max(b));
            }
            _ => {}
        }
        if rng.chance(400) {
            let word = WORDS[rng.below(WORDS.len() as u64) as usize];
            let mut needle: Vec<u8> = word.as_bytes().to_vec();
            // A piece of a word, a word with its neighbour, or odd case.
            match rng.below(4) {
                0 => needle.truncate(1 + rng.below(needle.len() as u64) as usize),
                1 => needle.extend_from_slice(b" user"),
                2 => needle.iter_mut().for_each(|b| {
                    if rng.chance(500) {
                        *b = b.to_ascii_uppercase()
                    }
                }),
                _ => {}
            }
            f.text = Some((needle, rng.chance(500)));
        }
        f
    }
}

/// The model filter, written independently of `Filter::matches`.
fn model_matches(f: &Filter, e: &Entry) -> bool {
    let contains = |hay: &str, needle: &[u8], ci: bool| {
        if needle.is_empty() {
            return true;
        }
        let hay = hay.as_bytes();
        if ci {
            let hay = hay.to_ascii_lowercase();
            let needle = needle.to_ascii_lowercase();
            hay.windows(needle.len()).any(|w| w == needle.as_slice())
        } else {
            hay.windows(needle.len()).any(|w| w == needle)
        }
    };
    (f.levels >> (e.level as u8)) & 1 == 1
        && f.services.as_ref().is_none_or(|s| s.contains(&e.service))
        && f.since_ns.is_none_or(|s| e.timestamp_ns >= s)
        && f.until_ns.is_none_or(|u| e.timestamp_ns < u)
        && f.text
            .as_ref()
            .is_none_or(|(n, ci)| contains(&e.message, n, *ci) || contains(&e.metadata, n, *ci))
}

/// Worlds per test: `SPOOL_QUERY_SEEDS` or the default.
fn seeds(default: u64) -> u64 {
    std::env::var("SPOOL_QUERY_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn check_answer(world: &World, got: &[Match<'_>], want: &[Lsn], context: &dyn Fn() -> String) {
    let got_ids: Vec<Lsn> = got.iter().map(|m| m.id).collect();
    assert_eq!(got_ids, want, "{}", context());
    for m in got {
        let i = world
            .records
            .binary_search_by_key(&m.id, |(id, _)| *id)
            .unwrap();
        assert_eq!(m.entry.to_owned_entry(), world.records[i].1);
    }
}

#[test]
fn plan_and_scan_equal_a_plain_filter() {
    let started = Instant::now();
    let mut skipped = 0;
    let mut queries = 0;
    for seed in 0..seeds(12) {
        let shape = Shape {
            services: 4 + (seed % 6) * 4,
            burst: 50 + (seed % 6) * 60,
        };
        let mut world = World::new(seed, shape);
        world.grow(6_000, 2 + seed as usize);
        assert!(
            world.segments.iter().any(|s| s
                .index()
                .blocks()
                .iter()
                .any(|b| b.services().exact_hashes().is_none()))
                || seed % 6 < 2,
            "seed {seed}: no block with more than 8 services"
        );
        for q in 0..150 {
            let filter = world.random_filter();
            let want = world.expected(&filter, None);
            let limit = match world.rng.below(3) {
                0 => 1 + world.rng.below(5) as usize,
                1 => 1 + world.rng.below(300) as usize,
                _ => 10_000,
            };
            let (got, s) = world.query(&filter, None, limit);
            skipped += s;
            queries += 1;
            let n = want.len().min(limit);
            check_answer(&world, &got, &want[..n], &|| {
                format!("seed {seed} query {q}: {filter:?} limit {limit}")
            });
            // From a random cursor, too.
            let below = Lsn(world.rng.below(world.next_id.0 + 2));
            let cursor = Cursor::below(below);
            let want = world.expected(&filter, Some(cursor.id()));
            let (got, _) = world.query(&filter, Some(cursor), limit);
            check_answer(&world, &got, &want[..want.len().min(limit)], &|| {
                format!("seed {seed} query {q}: {filter:?} below {below} limit {limit}")
            });
        }
    }
    assert!(skipped > 1000, "the planner skipped only {skipped} blocks");
    println!(
        "{queries} random queries, {skipped} blocks skipped, {:?}",
        started.elapsed()
    );
}

#[test]
fn paging_returns_every_match_once_while_records_are_appended() {
    for seed in 1000..1000 + seeds(8) {
        let mut world = World::new(
            seed,
            Shape {
                services: 12,
                burst: 200,
            },
        );
        world.grow(4_000, 3);
        for q in 0..40 {
            let filter = world.random_filter();
            let all = world.expected(&filter, None);
            // Pages small enough to take several, few enough to stay quick.
            let limit = 1 + world.rng.below(20) as usize + all.len() / 15;
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let (page, _) = world.query(&filter, cursor, limit);
                let want = world.expected(&filter, cursor.map(|c: Cursor| c.id()));
                check_answer(&world, &page, &want[..want.len().min(limit)], &|| {
                    format!("seed {seed} query {q} page after {cursor:?}: {filter:?}")
                });
                seen.extend(page.iter().map(|m| m.id));
                if page.len() < limit {
                    break;
                }
                // The cursor goes through its string form, as over HTTP.
                let next = Cursor::below(page[page.len() - 1].id).encode();
                cursor = Some(Cursor::decode(&next).unwrap());
                // Records arrive between pages; now and then a rotation.
                let n = world.rng.below(30) as usize;
                world.append(n);
                if world.rng.chance(100) {
                    world.rotate();
                }
            }
            assert_eq!(seen, all, "seed {seed} query {q}: {filter:?}");
        }
    }
}

#[test]
fn text_precheck_skips_blocks_without_the_needle() {
    let mut world = World::new(
        99,
        Shape {
            services: 5,
            burst: 0,
        },
    );
    world.grow(2_000, 2);
    let filter = Filter {
        text: Some((b"no such words".to_vec(), false)),
        ..Filter::default()
    };
    let (got, skipped) = world.query(&filter, None, 100);
    assert!(got.is_empty());
    assert_eq!(skipped, 0, "the index cannot skip by text");
    // Damage the first record of each segment: a block without the needle
    // is still refused when its CRC is known (sealed segments), never
    // answered as if whole.
    for seg in &mut world.segments {
        let bytes = &mut seg.bytes;
        let at = SEGMENT_HEADER_LEN as usize;
        bytes[at] ^= 0xff;
    }
    let sealed = &world.segments[0];
    let first = plan([sealed.index()], &filter, None)
        .last()
        .expect("the oldest block is planned");
    let bytes = &sealed.bytes[first.offset as usize..(first.offset + first.len) as usize];
    assert!(first.crc.is_some());
    assert!(matches!(
        scan_block(bytes, &first, &filter, 100, &mut Vec::new()),
        Err(ScanError::BlockCrc { .. })
    ));
    // A needle the oldest block holds: its scan decodes, and finds the damage.
    let word = world.records[0].1.message.split(' ').next().unwrap();
    let filter = Filter {
        text: Some((word.as_bytes().to_vec(), false)),
        ..Filter::default()
    };
    let newest_first: Vec<&SegmentIndex> = world.segments.iter().rev().map(|s| s.index()).collect();
    let oldest = world.segments[0].index().blocks()[0];
    let range = plan(newest_first, &filter, None)
        .find(|r| r.offset == oldest.offset() && r.segment == world.segments[0].id)
        .unwrap();
    let seg = &world.segments[0];
    let bytes = &seg.bytes[range.offset as usize..(range.offset + range.len) as usize];
    assert!(scan_block(bytes, &range, &filter, 100, &mut Vec::new()).is_err());
}

#[test]
fn scan_reports_damage_and_stale_indexes_and_appends_nothing() {
    let mut rng = Rng(5);
    let id = SegmentId(3);
    let mut bytes = realistic_segment(&mut rng, id, 64 << 10);
    let index = build(id, &bytes, DEFAULT_BLOCK_TARGET);
    let all = Filter::default();
    let range = plan([&index], &all, None).next().unwrap();
    let span = range.offset as usize..(range.offset + range.len) as usize;
    let mut out = Vec::new();
    assert!(scan_block(&bytes[span.clone()], &range, &all, 10_000, &mut out).unwrap() > 1);
    out.clear();

    // The index says the block starts one id later, ends one id earlier,
    // or is shorter than it is (without a block CRC, so the frames tell).
    let mut stale = range;
    stale.first_id = range.first_id.next();
    stale.crc = None;
    let mut short = range;
    short.last_id = Lsn(range.last_id.0 - 1);
    short.crc = None;
    let mut cut = range;
    cut.len -= 1;
    cut.crc = None;
    for r in [stale, short] {
        let got = scan_block(&bytes[span.clone()], &r, &all, 10_000, &mut out);
        assert!(
            matches!(got, Err(ScanError::IndexMismatch { .. })),
            "{got:?}"
        );
    }
    let got = scan_block(
        &bytes[span.start..span.end - 1],
        &cut,
        &all,
        10_000,
        &mut out,
    );
    assert!(
        matches!(got, Err(ScanError::IndexMismatch { .. })),
        "{got:?}"
    );
    let got = scan_block(
        &bytes[span.start..span.end - 1],
        &range,
        &all,
        10_000,
        &mut out,
    );
    assert!(matches!(got, Err(ScanError::Length { .. })), "{got:?}");

    // A damaged last record: an error, and the matches before it are not
    // left in `out`. With the block's CRC the whole block is refused
    // before any record is looked at; without it, the record's own CRC.
    bytes[span.end - 1] ^= 0x20;
    let mut out = Vec::new();
    let got = scan_block(&bytes[span.clone()], &range, &all, 10_000, &mut out);
    assert!(matches!(got, Err(ScanError::BlockCrc { .. })), "{got:?}");
    assert!(out.is_empty());
    let mut no_crc = range;
    no_crc.crc = None;
    let got = scan_block(&bytes[span.clone()], &no_crc, &all, 10_000, &mut out);
    assert!(matches!(got, Err(ScanError::Frame { .. })), "{got:?}");
    assert!(out.is_empty());
    // Damage in a record the filter would not select, or that the damage
    // itself hides from the filter, is refused too: the block CRC covers
    // every byte.
    let rare = Filter {
        text: Some((b"no such words".to_vec(), false)),
        ..Filter::default()
    };
    let got = scan_block(&bytes[span.clone()], &range, &rare, 10_000, &mut out);
    assert!(matches!(got, Err(ScanError::BlockCrc { .. })), "{got:?}");
}

/// A segment of about `bytes_wanted` bytes of realistic records: ~200-byte
/// frames, 12 services of skewed popularity, CRITICAL at about 0.5%.
fn realistic_segment(rng: &mut Rng, id: SegmentId, bytes_wanted: usize) -> Vec<u8> {
    let shape = Shape {
        services: 12,
        burst: 0,
    };
    let mut clock = 1_700_000_000_000_000_000;
    let mut bytes = SegmentHeader { id }.encode().to_vec();
    let mut next = 1;
    while bytes.len() < bytes_wanted {
        let mut e = random_entry(rng, &shape, &mut clock);
        if e.level == Level::Critical && rng.chance(900) {
            e.level = Level::Error; // CRITICAL at about 0.5%
        }
        // About 200-byte frames: a longer message and request metadata.
        for _ in 0..rng.below(10) {
            e.message.push(' ');
            e.message += WORDS[rng.below(WORDS.len() as u64) as usize];
        }
        e.metadata = format!(
            r#"{{"request_id":"{:016x}","path":"/api/v1/{}","status":{}}}"#,
            rng.next(),
            WORDS[rng.below(WORDS.len() as u64) as usize],
            200 + rng.below(4) * 100
        );
        let payload = e.encode().unwrap();
        encode_frame(&mut bytes, id, Lsn(next), 0, &payload);
        next += 1;
    }
    bytes
}

fn build(id: SegmentId, bytes: &[u8], target: BlockTarget) -> SegmentIndex {
    let mut b = IndexBuilder::with_target(id, target);
    let body = &bytes[SEGMENT_HEADER_LEN as usize..];
    assert_eq!(
        b.push_frames(body, SEGMENT_HEADER_LEN).unwrap() as usize,
        body.len()
    );
    b.finish()
}

#[test]
fn index_memory_stays_within_the_stated_bound() {
    let mut rng = Rng(7);
    let id = SegmentId(1);
    let bytes = realistic_segment(&mut rng, id, 8 << 20);
    let index = build(id, &bytes, DEFAULT_BLOCK_TARGET);
    let records = index.records() as usize;
    let per_record = index.memory_bytes() as f64 / records as f64;
    let mean_frame = (bytes.len() - SEGMENT_HEADER_LEN as usize) as f64 / records as f64;
    // Every closed block reached its byte or record target.
    let block = std::mem::size_of::<BlockSummary>();
    let max_blocks = bytes.len() / DEFAULT_BLOCK_TARGET.max_bytes as usize
        + records / DEFAULT_BLOCK_TARGET.max_records as usize
        + 1;
    assert!(index.blocks().len() <= max_blocks);
    assert!(index.memory_bytes() <= std::mem::size_of::<SegmentIndex>() + block * max_blocks);
    // 128 bytes of summary plus the block's CRC (an Option<u32>).
    assert!(block <= 136, "BlockSummary grew to {block} bytes");
    assert!(per_record <= 1.0, "{per_record} bytes per record");
    println!(
        "{records} records of {mean_frame:.0} bytes: {} blocks of {block} bytes, {per_record:.3} index bytes per record",
        index.blocks().len()
    );
    // The persisted form is of the same order.
    let persisted = encode(&index).len() as f64 / records as f64;
    assert!(persisted <= 1.0, "{persisted} persisted bytes per record");
}

#[test]
#[ignore = "measurement: prints the table behind DEFAULT_BLOCK_TARGET"]
fn measure_block_targets() {
    let mut rng = Rng(42);
    let id = SegmentId(1);
    let bytes = realistic_segment(&mut rng, id, 40 << 20);
    let (first_ts, last_ts) = (1_700_000_000_000_000_000u64, {
        let probe = build(id, &bytes, DEFAULT_BLOCK_TARGET);
        probe
            .blocks()
            .iter()
            .map(|b| b.max_timestamp_ns())
            .max()
            .unwrap()
    });
    let window = (last_ts - first_ts) / 100;
    let filters: Vec<(&str, Filter)> = vec![
        (
            "rare service",
            Filter {
                services: Some(vec![service_name(11)]),
                ..Filter::default()
            },
        ),
        (
            "CRITICAL",
            Filter {
                levels: 1 << Level::Critical as u8,
                ..Filter::default()
            },
        ),
        (
            "1% window",
            Filter {
                since_ns: Some(first_ts + 50 * window),
                until_ns: Some(first_ts + 51 * window),
                ..Filter::default()
            },
        ),
        (
            "q=OOM killed",
            Filter {
                text: Some((b"OOM killed".to_vec(), false)),
                ..Filter::default()
            },
        ),
        ("all, limit 100", Filter::default()),
    ];
    let records = build(id, &bytes, DEFAULT_BLOCK_TARGET).records();
    println!(
        "{} MiB: {records} records of {} bytes on average",
        bytes.len() >> 20,
        bytes.len() as u64 / records
    );
    let targets = [
        (4, u32::MAX),
        (8, u32::MAX),
        (16, u32::MAX),
        (32, u32::MAX),
        (64, u32::MAX),
        (256, u32::MAX),
        (32, 512),
    ];
    for (kib, max_records) in targets {
        let target = BlockTarget {
            max_bytes: kib << 10,
            max_records,
        };
        let index = build(id, &bytes, target);
        let records = index.records();
        let mut line = format!(
            "{kib:>4} KiB/{max_records:>10} records: {:>6} blocks, {:.2} B/record in memory, {:.2} persisted;",
            index.blocks().len(),
            index.memory_bytes() as f64 / records as f64,
            encode(&index).len() as f64 / records as f64
        );
        for (name, filter) in &filters {
            let limit = if *name == "all, limit 100" {
                100
            } else {
                10_000
            };
            let mut read = 0u64;
            let mut elapsed = Duration::ZERO;
            let mut found = 0;
            for _ in 0..5 {
                read = 0;
                let t = Instant::now();
                let mut out = Vec::new();
                for range in plan([&index], filter, None) {
                    read += range.len;
                    let b = &bytes[range.offset as usize..(range.offset + range.len) as usize];
                    scan_block(b, &range, filter, limit, &mut out).unwrap();
                    if out.len() >= limit {
                        break;
                    }
                }
                found = out.len();
                let e = t.elapsed();
                if elapsed == Duration::ZERO || e < elapsed {
                    elapsed = e;
                }
            }
            line += &format!(
                " {name}: {found} found, {:.1}% read, {:.2} ms;",
                100.0 * read as f64 / bytes.len() as f64,
                elapsed.as_secs_f64() * 1e3
            );
        }
        println!("{line}");
    }
}
