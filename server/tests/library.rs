//! The embeddable blocking API: many threads append to a real directory;
//! every id returned is durable and reads back after reopening. 64 threads
//! make one completion wake dozens of appenders, so most are woken through
//! the relay (`spool_core::handoff`), not by the IO thread: a lost hand-on
//! would hang this test.

use std::collections::BTreeMap;
use std::sync::Arc;

use spool_core::read::{LogReader, ReadItem, Start};
use spool_core::record::Lsn;
use spool_server::storage::dir_store::DirStore;
use spool_server::Log;

#[test]
fn many_threads_append_and_every_returned_id_reads_back() {
    let dir = std::env::temp_dir().join(format!("spool-lib-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let log = Arc::new(Log::open(&dir).unwrap());
    let threads: Vec<_> = (0..64u8)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..25u32)
                    .map(|i| {
                        let payload = format!("thread {t} record {i}").into_bytes();
                        (log.append(&payload).unwrap().0, payload)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut written = BTreeMap::new();
    for t in threads {
        written.extend(t.join().unwrap());
    }
    assert_eq!(written.len(), 1600, "ids are unique");
    assert_eq!(written.keys().next(), Some(&1));
    assert_eq!(written.keys().last(), Some(&1600), "ids are consecutive");
    let syncs = log.handoff().inspect(|gc| gc.stats().syncs);
    assert!(syncs <= 1600, "{syncs} syncs");
    Arc::into_inner(log).unwrap().close();

    // Reopen: recovery finds exactly what was returned.
    let reopened = Log::open(&dir).unwrap();
    assert_eq!(reopened.recovered().records, 1600);
    reopened.close();
    // The reader yields every record, in id order, consecutive.
    let mut read = BTreeMap::new();
    let mut store = DirStore::new(&dir);
    let mut reader = LogReader::new(Start::Oldest);
    while let Some(item) = reader.next(&mut store).unwrap() {
        match item {
            ReadItem::Record { id, payload } => {
                assert_eq!(id.0, read.len() as u64 + 1, "ids are consecutive");
                read.insert(id.0, payload.to_vec());
            }
            ReadItem::Gap { from, to } => panic!("unexpected gap {from}..={to}"),
        }
    }
    assert_eq!(read, written);
    // Resuming after an id yields exactly the rest.
    let mut reader = LogReader::new(Start::After(spool_core::record::Lsn(123)));
    let mut ids = Vec::new();
    while let Some(item) = reader.next(&mut store).unwrap() {
        if let ReadItem::Record { id, .. } = item {
            ids.push(id.0);
        }
    }
    assert_eq!(ids, (124..=1600).collect::<Vec<_>>());
    // A second open of a directory in use is refused.
    let held = Log::open(&dir).unwrap();
    assert!(Log::open(&dir).is_err());
    drop(held);
    let _ = std::fs::remove_dir_all(&dir);
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("spool-lib-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// 16 KiB segments, 1 KiB records, 8 KiB batches: many rotations quickly.
fn small_segments() -> spool_server::embed::LogOptions {
    use spool_core::commit::CommitConfig;
    use spool_core::segment::SegmentPolicy;
    spool_server::embed::LogOptions {
        commit: CommitConfig {
            policy: SegmentPolicy {
                segment_bytes: 16 << 10,
                ..SegmentPolicy::default()
            },
            max_payload: 1024,
            max_batch_bytes: 8 << 10,
            ..CommitConfig::default()
        },
        ..spool_server::embed::LogOptions::default()
    }
}

fn entry(ts_ns: u64, message: &str) -> spool_core::entry::Entry {
    spool_core::entry::Entry {
        timestamp_ns: ts_ns,
        level: spool_core::entry::Level::Info,
        service: "lib".to_owned(),
        message: message.to_owned(),
        metadata: String::new(),
    }
}

/// The reader: from the oldest, after an id, from a time (over sealed and
/// active segments), and a follower that sees records appended later by
/// another thread, in order, none twice, none missing.
#[test]
fn the_reader_reads_from_an_id_or_a_time_and_follows() {
    use spool_server::reader::{From, Item};
    use std::time::Duration;

    let dir = temp_dir("reader");
    let opts = small_segments;
    let log = Arc::new(Log::open_with(&dir, opts()).unwrap());
    // Timestamps out of order around a rising line: record i at about i ms.
    let ts = |i: u64| 1_000_000_000_000 + i * 1_000_000 + (i % 7) * 3_000_000;
    let mut ids = Vec::new();
    for i in 0..600u64 {
        ids.push(log.append_entry(&entry(ts(i), &format!("r{i}"))).unwrap());
    }
    let segments = log.handoff().inspect(|gc| gc.segments().len());
    assert!(segments >= 3, "{segments} segments");
    let read_all = |from: From| -> Vec<Lsn> {
        let mut r = log.reader(from).unwrap();
        let mut got = Vec::new();
        while let Some(item) = r.next_item().unwrap() {
            match item {
                Item::Record { id, .. } => got.push(id),
                Item::Gap { from, to } => panic!("gap {from}..={to}"),
            }
        }
        got
    };
    assert_eq!(read_all(From::Oldest), ids);
    assert_eq!(read_all(From::After(ids[249])), ids[250..].to_vec());
    // From a time: the first record (in id order) at or after it, and
    // every record after that one.
    for t in [ts(0), ts(123), ts(300) + 1, ts(599), ts(599) + 1] {
        let first = (0..600u64).position(|i| ts(i) >= t);
        let want = first.map_or(Vec::new(), |f| ids[f..].to_vec());
        assert_eq!(read_all(From::Time(t)), want, "from time {t}");
    }
    // A follower sees what another thread appends, as it becomes durable.
    let mut follower = log.reader(From::After(*ids.last().unwrap())).unwrap();
    assert_eq!(follower.wait_next(Duration::from_millis(20)).unwrap(), None);
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            (0..300u64)
                .map(|i| log.append(format!("later {i}").as_bytes()).unwrap())
                .collect::<Vec<_>>()
        })
    };
    let mut seen = Vec::new();
    while seen.len() < 300 {
        match follower.wait_next(Duration::from_secs(10)).unwrap() {
            Some(Item::Record { id, payload }) => {
                assert_eq!(payload, format!("later {}", seen.len()).into_bytes());
                assert!(id <= log.handoff().durable(), "only durable records");
                seen.push(id);
            }
            Some(Item::Gap { from, to }) => panic!("gap {from}..={to}"),
            None => panic!("the follower waited 10 s for a record that was appended"),
        }
    }
    let appended = writer.join().unwrap();
    assert_eq!(seen, appended);
    drop(follower);
    Arc::into_inner(log).unwrap().close();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Zeros written ahead (`storage::files::ZERO_AHEAD`): after appends, the
/// blocks from the segment's start to past the newest record are written
/// ones (FIEMAP shows no unwritten extent there), the rest of the
/// preallocated file is left alone, and no segment file ever grows past
/// its preallocated length, with small segments and across a restart.
#[test]
fn appends_write_zeros_ahead_but_never_past_a_segment() {
    use spool_server::storage::files::{ZERO_AHEAD, ZERO_AHEAD_BELOW};

    // Default 64 MiB segments: one record, then one more after a restart.
    let dir = temp_dir("zeros");
    for round in 1..=2u64 {
        let log = Log::open(&dir).unwrap();
        log.append(format!("record {round}").as_bytes()).unwrap();
        log.close();
        let seg = only_segment(&dir);
        let len = std::fs::metadata(&seg).unwrap().len();
        assert_eq!(len, 64 << 20, "the segment keeps its preallocated length");
        match extents(&seg) {
            Some(extents) => {
                let unwritten_before = extents
                    .iter()
                    .any(|&(start, _, unwritten)| unwritten && start < ZERO_AHEAD);
                assert!(!unwritten_before, "round {round}: {extents:?}");
                let unwritten_after = extents.iter().any(|&(start, end, unwritten)| {
                    unwritten && end > 2 * ZERO_AHEAD && start < len
                });
                assert!(
                    unwritten_after,
                    "round {round}: the rest is left alone: {extents:?}"
                );
            }
            None => eprintln!("FIEMAP is not supported here: extent checks skipped"),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();

    // A large append writes no zeros ahead (its own blocks are written, the
    // next block is not); the small one after it does.
    let dir = temp_dir("zeros-large");
    let log = Log::open(&dir).unwrap();
    let record = vec![b'x'; 1000];
    let large = vec![record.as_slice(); 64];
    log.append_batch(large.iter().copied()).unwrap();
    let end = 32 + 64 * (20 + 1000);
    assert!(end - 32 >= ZERO_AHEAD_BELOW);
    if let Some(extents) = extents(&only_segment(&dir)) {
        let first_unwritten = extents.iter().find(|e| e.2).map(|e| e.0);
        assert_eq!(
            first_unwritten,
            Some(end.div_ceil(4096) * 4096),
            "{extents:?}"
        );
    }
    log.append(b"small").unwrap();
    let end = end + 20 + 5;
    if let Some(extents) = extents(&only_segment(&dir)) {
        let first_unwritten = extents.iter().find(|e| e.2).map(|e| e.0);
        assert!(
            first_unwritten.is_some_and(|at| at >= end + ZERO_AHEAD - 4096),
            "{extents:?}"
        );
    }
    log.close();
    std::fs::remove_dir_all(&dir).unwrap();

    // 16 KiB segments, far smaller than ZERO_AHEAD: every file keeps its
    // length, across rotations and a restart, and every record reads back.
    let dir = temp_dir("zeros-small");
    let opts = small_segments;
    let mut written = Vec::new();
    for round in 0..2 {
        let log = Log::open_with(&dir, opts()).unwrap();
        for i in 0..1000 {
            let payload = format!("round {round} record {i} {}", "x".repeat(i % 97)).into_bytes();
            log.append(&payload).unwrap();
            written.push(payload);
        }
        log.close();
        let mut segments = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "seg") {
                segments += 1;
                assert_eq!(
                    std::fs::metadata(&path).unwrap().len(),
                    16 << 10,
                    "{path:?}"
                );
            }
        }
        assert!(segments > 4, "{segments} segments");
    }
    let mut store = DirStore::new(&dir);
    let mut reader = LogReader::new(Start::Oldest);
    let mut read = Vec::new();
    while let Some(item) = reader.next(&mut store).unwrap() {
        match item {
            ReadItem::Record { payload, .. } => read.push(payload.to_vec()),
            ReadItem::Gap { from, to } => panic!("gap {from}..={to}"),
        }
    }
    assert_eq!(read, written);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn only_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let mut segs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    assert_eq!(segs.len(), 1, "{segs:?}");
    segs.remove(0)
}

/// The file's extents as (start, end, unwritten), through the FIEMAP
/// ioctl after syncing the file; None where the file system has no FIEMAP.
fn extents(path: &std::path::Path) -> Option<Vec<(u64, u64, bool)>> {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Extent {
        logical: u64,
        physical: u64,
        length: u64,
        reserved64: [u64; 2],
        flags: u32,
        reserved: [u32; 3],
    }
    #[repr(C)]
    struct Fiemap {
        start: u64,
        length: u64,
        flags: u32,
        mapped_extents: u32,
        extent_count: u32,
        reserved: u32,
        extents: [Extent; 256],
    }
    const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B; // _IOWR('f', 11, struct fiemap)
    const FIEMAP_FLAG_SYNC: u32 = 1;
    const FIEMAP_EXTENT_UNWRITTEN: u32 = 0x800;
    let file = std::fs::File::open(path).unwrap();
    let mut map = Fiemap {
        start: 0,
        length: u64::MAX,
        flags: FIEMAP_FLAG_SYNC,
        mapped_extents: 0,
        extent_count: 256,
        reserved: 0,
        extents: [Extent::default(); 256],
    };
    // SAFETY: `map` is a struct fiemap followed by room for the 256
    // extents its extent_count announces; the descriptor is open.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP, &mut map as *mut Fiemap) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        assert!(
            matches!(
                err.raw_os_error(),
                Some(libc::EOPNOTSUPP) | Some(libc::ENOTTY)
            ),
            "FIEMAP: {err}"
        );
        return None;
    }
    let n = map.mapped_extents as usize;
    assert!(n < 256, "more extents than asked for");
    Some(
        map.extents[..n]
            .iter()
            .map(|e| {
                (
                    e.logical,
                    e.logical + e.length,
                    e.flags & FIEMAP_EXTENT_UNWRITTEN != 0,
                )
            })
            .collect(),
    )
}
