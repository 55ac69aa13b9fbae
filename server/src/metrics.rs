//! Counters and histograms the daemon exports, and the Prometheus text
//! format (version 0.0.4) they are written in.
//!
//! A [`Histogram`] is a fixed set of cumulative buckets of atomics, so the
//! IO threads and the event loop record into it without a lock, and a
//! reader renders a consistent-enough snapshot (each value is read once).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) for latency histograms: 50 µs to 10 s.
pub const LATENCY_BOUNDS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
];

/// Upper bounds for records per commit.
pub const BATCH_BOUNDS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 16384.0, 65536.0,
];

/// A histogram with fixed bucket bounds; see the module docs.
pub struct Histogram {
    bounds: &'static [f64],
    /// Non-cumulative counts per bucket; the last is `+Inf`.
    counts: Vec<AtomicU64>,
    /// Sum of observations, in millionths (µs for latencies).
    sum_micros: AtomicU64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        let i = self.bounds.partition_point(|&b| b < value);
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros
            .fetch_add((value * 1e6).max(0.0) as u64, Ordering::Relaxed);
    }

    /// Appends `name`'s `_bucket`, `_sum` and `_count` lines with HELP/TYPE.
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut total = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            total += c.load(Ordering::Relaxed);
            match self.bounds.get(i) {
                Some(b) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {total}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
                }
            }
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {total}");
    }
}

/// Appends a counter (`name` ends in `_total`).
pub fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

/// Appends a gauge.
pub fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

/// The log's own histograms, recorded by the IO threads.
pub struct LogMetrics {
    /// Seconds from issuing an append's write to its fdatasync returning.
    pub commit_seconds: Histogram,
    /// Records made durable by one append (one fdatasync).
    pub commit_records: Histogram,
}

impl Default for LogMetrics {
    fn default() -> Self {
        LogMetrics {
            commit_seconds: Histogram::new(LATENCY_BOUNDS),
            commit_records: Histogram::new(BATCH_BOUNDS),
        }
    }
}

/// The daemon's histograms: its own (the event loop records request
/// latency) and the log's (recorded by the IO threads).
pub struct Metrics {
    /// From a request's hand-off to the application to its answer.
    pub request_seconds: Histogram,
    /// The log's commit histograms.
    pub log: std::sync::Arc<LogMetrics>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_count_everything() {
        let h = Histogram::new(&[1.0, 2.0]);
        for v in [0.5, 1.0, 1.5, 3.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "test");
        assert!(out.contains("x_bucket{le=\"1\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"2\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("x_count 4\n"), "{out}");
        assert!(out.contains("x_sum 6\n"), "{out}");
    }
}
