//! CPU cost of turning an ingest body into encoded records
//! (`decode_payloads`, what the daemon does per request), as bytes of body
//! per second: a 1,000-record NDJSON body of realistic records with small
//! metadata objects, the same records as one JSON array, and a
//! single-record JSON body.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use spool_proto::decode::{decode_entries, decode_payloads, DecodeLimits, Payloads};

const RECORDS: usize = 1000;
const NOW: u64 = 1_700_000_000_000_000_000;

const SERVICES: [&str; 5] = ["payments", "checkout", "auth", "search", "inventory"];
const LEVELS: [&str; 5] = ["INFO", "INFO", "WARN", "ERROR", "DEBUG"];

/// Record `i` as one line of JSON: the shape shippers send (RFC 3339 or
/// Unix-millisecond timestamp, level, service, a message of about 100 bytes,
/// a few metadata fields of mixed types), some messages with escapes.
fn record(i: usize) -> String {
    let service = SERVICES[i % SERVICES.len()];
    let level = LEVELS[i % LEVELS.len()];
    let timestamp = if i % 2 == 0 {
        format!(
            "\"2024-03-05T10:20:{:02}.{:06}Z\"",
            i % 60,
            i * 37 % 1_000_000
        )
    } else {
        format!("{}", 1_709_634_030_000u64 + i as u64)
    };
    let message = if i % 10 == 0 {
        format!(
            "request {i} failed: upstream said \\\"busy\\\"\\n retrying in {} ms",
            i % 500
        )
    } else {
        format!(
            "card authorization declined for order {i:08x}-77d4-4b0a: issuer returned 05 after {} ms",
            i % 997
        )
    };
    format!(
        r#"{{"timestamp":{timestamp},"level":"{level}","service":"{service}","message":"{message}","metadata":{{"user":{},"region":"eu-{}","latency_ms":{}.{},"retry":{}}}}}"#,
        4000 + i,
        i % 3,
        i % 300,
        i % 10,
        i % 2 == 0
    )
}

fn decode(c: &mut Criterion) {
    let limits = DecodeLimits::default();
    let lines: Vec<String> = (0..RECORDS).map(record).collect();
    let ndjson = lines.join("\n") + "\n";
    let array = format!("[{}]", lines.join(","));
    let single = record(1);

    let mut g = c.benchmark_group("decode");
    for (name, content_type, body) in [
        ("ndjson_1000", "application/x-ndjson", &ndjson),
        ("json_array_1000", "application/json", &array),
        ("json_single", "application/json", &single),
    ] {
        let n = decode_entries(Some(content_type), body.as_bytes(), NOW, &limits)
            .expect("benchmark body decodes")
            .len();
        assert_eq!(n, if name == "json_single" { 1 } else { RECORDS });
        g.throughput(Throughput::Bytes(body.len() as u64));
        // What the daemon does per request: one fresh payload buffer.
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut out = Payloads::default();
                decode_payloads(
                    Some(content_type),
                    black_box(body.as_bytes()),
                    NOW,
                    &limits,
                    &mut out,
                )
                .map(|()| out.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
