//! Unix time with its unit inferred from magnitude, read exactly.

use spool_proto::unix_time::{
    parse_unix_time, UnixTimeError, MICROS_BELOW, MILLIS_BELOW, SECONDS_BELOW,
};

const T: u64 = 1_700_000_000_000_000_000; // 2023-11-14T22:13:20Z

#[test]
fn every_unit_names_the_same_instant() {
    for text in [
        "1700000000",
        "1700000000000",
        "1700000000000000",
        "1700000000000000000",
        "1.7e9",
        "1.7E+9",
        "17e8",
        "1700000000.0",
        "1700000000000.000",
        "0.17e10",
        "170000000000000000000e-11",
    ] {
        assert_eq!(parse_unix_time(text), Ok(T), "{text}");
    }
    assert_eq!(parse_unix_time("1700000000123"), Ok(T + 123_000_000));
    assert_eq!(parse_unix_time("1700000000123456"), Ok(T + 123_456_000));
    assert_eq!(parse_unix_time("1700000000123456789"), Ok(T + 123_456_789));
}

#[test]
fn fractions_are_exact_and_truncated_below_a_nanosecond() {
    let cases = [
        ("1700000000.123456789", T + 123_456_789),
        ("1700000000.1234567899999", T + 123_456_789),
        ("1700000000.5", T + 500_000_000),
        ("1700000000.000000001", T + 1),
        ("1700000000.0000000009", T),
        ("1700000000123.456789", T + 123_456_789),
        ("1700000000123.4567899", T + 123_456_789),
        ("1700000000123456.789", T + 123_456_789),
        ("1700000000123456.7899", T + 123_456_789),
        ("1700000000123456789.9", T + 123_456_789),
        ("1.700000000123456789e9", T + 123_456_789),
        ("1700000000123456789e-9", T + 123_456_789),
        ("0.5", 500_000_000),
        ("5e-1", 500_000_000),
        ("1e-9", 1),
        ("1e-10", 0),
        ("1e-400", 0),
        ("0.000000000000000000000000000000000000000001", 0),
    ];
    for (text, want) in cases {
        assert_eq!(parse_unix_time(text), Ok(want), "{text}");
    }
}

#[test]
fn unit_boundaries_are_victorialogs() {
    assert_eq!(SECONDS_BELOW, 2_147_483_648);
    assert_eq!(MILLIS_BELOW, 2_147_483_648_000);
    assert_eq!(MICROS_BELOW, 2_147_483_648_000_000);
    let cases = [
        ("0", 0),
        ("-0", 0),
        ("-0.0e5", 0),
        ("1", 1_000_000_000),
        ("2147483647", 2_147_483_647_000_000_000),
        ("2147483647.999999999", 2_147_483_647_999_999_999),
        ("2147483648", 2_147_483_648_000_000),
        ("2147483647999", 2_147_483_647_999_000_000),
        ("2147483647999.999999", 2_147_483_647_999_999_999),
        ("2147483648000", 2_147_483_648_000_000),
        ("2147483647999999", 2_147_483_647_999_999_000),
        ("2147483647999999.999", 2_147_483_647_999_999_999),
        ("2147483648000000", 2_147_483_648_000_000),
        ("18446744073709551615", u64::MAX),
        ("18446744073709551615.999", u64::MAX),
        ("1.8446744073709551615e19", u64::MAX),
    ];
    for (text, want) in cases {
        assert_eq!(parse_unix_time(text), Ok(want), "{text}");
    }
}

#[test]
fn refused_values() {
    use UnixTimeError::*;
    let cases = [
        ("-1", Negative),
        ("-0.5", Negative),
        ("-1e-400", Negative),
        ("-1700000000", Negative),
        ("18446744073709551616", TooLate),
        ("1.8446744073709551616e19", TooLate),
        ("123456789012345678901234567890", TooLate),
        ("1e400", TooLate),
        ("1e300", TooLate),
        ("1e999999999999999999999", TooLate),
        ("", NotANumber),
        ("abc", NotANumber),
        ("NaN", NotANumber),
        ("Infinity", NotANumber),
        ("+1", NotANumber),
        ("01", NotANumber),
        (".5", NotANumber),
        ("1.", NotANumber),
        ("1e", NotANumber),
        ("1e+", NotANumber),
        (" 1", NotANumber),
        ("1 ", NotANumber),
        ("0x10", NotANumber),
        ("1_000", NotANumber),
        ("2024-01-02T03:04:05Z", NotANumber),
    ];
    for (text, want) in cases {
        assert_eq!(parse_unix_time(text), Err(want), "{text}");
    }
    // Exponents that would overflow an i64 saturate instead of panicking.
    assert_eq!(parse_unix_time("1e-99999999999999999999999999"), Ok(0));
}

/// Integers of every length: the unit is the one whose range holds them.
#[test]
fn integer_forms_agree_with_the_rule() {
    let mut n: u64 = 1;
    while let Some(next) = n.checked_mul(3) {
        let want = if n < SECONDS_BELOW {
            n.checked_mul(1_000_000_000)
        } else if n < MILLIS_BELOW {
            Some(n * 1_000_000)
        } else if n < MICROS_BELOW {
            Some(n * 1_000)
        } else {
            Some(n)
        };
        let got = parse_unix_time(&n.to_string()).ok();
        assert_eq!(got, want, "{n}");
        // The same value in exponent form.
        let exp = format!("{n}0e-1");
        assert_eq!(parse_unix_time(&exp).ok(), want, "{exp}");
        n = next;
    }
}
