//! Durable appends per second through the blocking [`spool_server::Log`] API
//! with 1, 4, 16 and 64 writer threads (group commit shares fdatasyncs),
//! against one thread doing `pwrite` + `fdatasync` per record.
//!
//! Each criterion iteration is [`RECORDS_PER_ITER`] durable 200-byte
//! records; `iter_custom` spawns the writers once per sample and has them
//! append `iters * RECORDS_PER_ITER` records between them. The log is opened
//! once per thread count, so segment creation at open is not measured.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use spool_benches::{fresh_dir, log_append, payload, FsyncPerRecord, WRITERS};
use spool_server::Log;

/// Durable records per criterion iteration.
const RECORDS_PER_ITER: u64 = 256;

/// On disk, not tmpfs: cargo's per-target scratch dir under the target dir.
fn base() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("spool-group-commit")
}

fn group_commit(c: &mut Criterion) {
    let payload = payload();
    let mut g = c.benchmark_group("group_commit");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(RECORDS_PER_ITER));

    // Criterion calls the closure once per sample: open outside it.
    let dir = fresh_dir(&base(), "fsync").unwrap();
    let mut file = FsyncPerRecord::create(&dir.join("baseline"), 64 << 20).unwrap();
    g.bench_function("fsync_per_record/1", |b| {
        b.iter_custom(|iters| file.run(iters * RECORDS_PER_ITER, &payload).unwrap());
    });
    drop(file);

    for threads in WRITERS {
        let dir = fresh_dir(&base(), &format!("log-{threads}")).unwrap();
        let log = Log::open(&dir).unwrap();
        g.bench_function(format!("log_append/{threads}"), |b| {
            b.iter_custom(|iters| log_append(&log, threads, iters * RECORDS_PER_ITER, &payload));
        });
        log.close();
    }
    g.finish();
    let _ = std::fs::remove_dir_all(base());
}

criterion_group!(benches, group_commit);
criterion_main!(benches);
