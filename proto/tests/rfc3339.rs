//! RFC 3339 parsing and formatting.

use spool_proto::rfc3339::{format_rfc3339_nanos, parse_rfc3339, parse_time_param};

fn fmt(ns: u64) -> String {
    let mut s = String::new();
    format_rfc3339_nanos(ns, &mut s);
    s
}

const SEC: u64 = 1_000_000_000;
const DAY: u64 = 86_400 * SEC;

#[test]
fn known_instants() {
    let cases = [
        (0, "1970-01-01T00:00:00.000000000Z"),
        (1, "1970-01-01T00:00:00.000000001Z"),
        (DAY - 1, "1970-01-01T23:59:59.999999999Z"),
        (951_782_400 * SEC, "2000-02-29T00:00:00.000000000Z"),
        (951_868_800 * SEC, "2000-03-01T00:00:00.000000000Z"),
        (1_704_164_645_123_456_789, "2024-01-02T03:04:05.123456789Z"),
        (1_709_164_800 * SEC, "2024-02-29T00:00:00.000000000Z"),
        (4_102_444_800 * SEC, "2100-01-01T00:00:00.000000000Z"),
        (4_107_456_000 * SEC, "2100-02-28T00:00:00.000000000Z"),
        (4_107_542_400 * SEC, "2100-03-01T00:00:00.000000000Z"),
        (u64::MAX, "2554-07-21T23:34:33.709551615Z"),
    ];
    for (ns, text) in cases {
        assert_eq!(fmt(ns), text);
        assert_eq!(parse_rfc3339(text), Some(ns), "{text}");
    }
}

#[test]
fn format_parse_round_trip_across_years() {
    // Step by a prime number of seconds plus odd nanos to visit many dates.
    let mut ns = 0u64;
    while ns < 4_200_000_000 * SEC {
        assert_eq!(parse_rfc3339(&fmt(ns)), Some(ns), "{}", fmt(ns));
        ns += 7_919 * 3_607 * SEC + 123_457;
    }
    for day in 0..(200 * 366) {
        let ns = day * DAY;
        assert_eq!(parse_rfc3339(&fmt(ns)), Some(ns));
    }
}

#[test]
fn offsets_fractions_and_variants() {
    let base = parse_rfc3339("2024-01-02T03:04:05Z").unwrap();
    let cases = [
        ("2024-01-02T03:04:05+00:00", base),
        ("2024-01-02T03:04:05-00:00", base),
        ("2024-01-02T04:04:05+01:00", base),
        ("2024-01-01T23:34:05-03:30", base),
        ("2024-01-02t03:04:05z", base),
        ("2024-01-02 03:04:05Z", base),
        ("2024-01-02T03:04:05.5Z", base + 500_000_000),
        ("2024-01-02T03:04:05.000001Z", base + 1_000),
        ("2024-01-02T03:04:05.1234567891234Z", base + 123_456_789),
        ("2024-01-02T03:04:60Z", base + 55 * SEC),
        ("1970-01-01T01:00:00+01:00", 0),
    ];
    for (text, want) in cases {
        assert_eq!(parse_rfc3339(text), Some(want), "{text}");
    }
}

#[test]
fn invalid_inputs() {
    for text in [
        "",
        "2024-01-02",
        "2024-01-02T03:04:05",
        "2024-01-02T03:04:05ZZ",
        "2024-01-02T03:04:05.Z",
        "2024-01-02T03:04:05+0100",
        "2024-01-02T03:04:05+24:00",
        "2024-13-02T03:04:05Z",
        "2024-00-02T03:04:05Z",
        "2023-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-01-02T24:00:00Z",
        "2024-01-02T03:60:00Z",
        "2024-01-02T03:04:61Z",
        "1969-12-31T23:59:59.999999999Z",
        "1970-01-01T00:30:00+01:00",
        "2554-07-21T23:34:34Z",
        "9999-12-31T23:59:59Z",
        "+2024-01-02T03:04:05Z",
        "2024-1-02T03:04:05Z",
        "２０２４-01-02T03:04:05Z",
    ] {
        assert_eq!(parse_rfc3339(text), None, "{text}");
    }
    assert_eq!(
        parse_rfc3339("2000-02-29T00:00:00Z"),
        Some(951_782_400 * SEC)
    );
}

#[test]
fn time_params() {
    assert_eq!(parse_time_param("0"), Some(0));
    assert_eq!(
        parse_time_param("1704164645123"),
        Some(1_704_164_645_123_000_000)
    );
    assert_eq!(
        parse_time_param("2024-01-02T03:04:05Z"),
        Some(1_704_164_645 * SEC)
    );
    assert_eq!(parse_time_param("99999999999999999999"), None);
    assert_eq!(parse_time_param("18446744073710"), None);
    assert_eq!(parse_time_param("-1"), None);
    assert_eq!(parse_time_param(""), None);
    assert_eq!(parse_time_param("12a"), None);
}
