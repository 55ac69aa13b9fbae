//! Unix time as shippers send it: seconds, milliseconds, microseconds or
//! nanoseconds since 1970-01-01T00:00:00Z, told apart by magnitude.
//!
//! The unit is inferred from the value's integer part `n` with the
//! boundaries VictoriaLogs uses (`ParseUnixTimestamp` in
//! `app/vlinsert/insertutils/timestamp.go` of VictoriaMetrics/VictoriaMetrics):
//!
//! | integer part `n` | unit | times it covers |
//! |---|---|---|
//! | `n < 2^31 = 2147483648` | seconds | 1970-01-01 to 2038-01-19T03:14:07.999999999Z |
//! | `2147483648 ≤ n < 2147483648000` | milliseconds | 1970-01-25T20:31:23.648Z to 2038-01-19T03:14:07.999999999Z |
//! | `2147483648000 ≤ n < 2147483648000000` | microseconds | the same span |
//! | `2147483648000000 ≤ n ≤ 18446744073709551615` | nanoseconds | 1970-01-25T20:31:23.648Z to 2554-07-21T23:34:33.709551615Z |
//!
//! The number ranges do not overlap, and any time from 1970-01-25 to 2038
//! can be sent in any of the four units: `1700000000`, `1700000000123`,
//! `1700000000123456` and `1700000000123456789` are all
//! 2023-11-14T22:13:20Z (and a little). The price, as in VictoriaLogs: a
//! millisecond, microsecond or nanosecond time before 1970-01-25 reads as a
//! (later) time in the next coarser unit.
//!
//! Where Spool differs from VictoriaLogs, and why:
//! - The value is decimal text read exactly, never through `f64`: a
//!   fraction or an exponent (`1700000000.123456789`, `1.7e9`,
//!   `1700000000123.5`) gives exactly the nanoseconds it names; digits
//!   below one nanosecond are truncated. VictoriaLogs parses fractional
//!   values as `f64`, which loses the last digits of a nanosecond time.
//! - Negative times are refused and the range ends at `u64::MAX`
//!   nanoseconds (2554-07-21), because Spool stores unsigned nanoseconds.
//!   VictoriaLogs takes negative times and stops at `i64::MAX`.
//! - `0` is the epoch. VictoriaLogs reads `0` as "now"; a producer that
//!   sends a time should get that time.

use std::fmt;

/// Integer parts below this are seconds (2^31, as VictoriaLogs).
pub const SECONDS_BELOW: u64 = 1 << 31;
/// Integer parts from [`SECONDS_BELOW`] and below this are milliseconds.
pub const MILLIS_BELOW: u64 = SECONDS_BELOW * 1_000;
/// Integer parts from [`MILLIS_BELOW`] and below this are microseconds;
/// from here on they are nanoseconds.
pub const MICROS_BELOW: u64 = SECONDS_BELOW * 1_000_000;

/// The forms of time Spool accepts, for error messages.
pub const ACCEPTED_TIMES: &str =
    "send RFC 3339 text (2024-01-02T03:04:05.123Z) or Unix time from 1970 on: \
     seconds below 2147483648, milliseconds below 2147483648000, microseconds below \
     2147483648000000, else nanoseconds up to 18446744073709551615 (2554-07-21)";

/// Why a text is not a Unix time Spool can store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnixTimeError {
    /// Not a decimal number (the JSON number grammar).
    NotANumber,
    /// Below zero.
    Negative,
    /// After 2554-07-21T23:34:33.709551615Z.
    TooLate,
}

impl fmt::Display for UnixTimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnixTimeError::NotANumber => "not a decimal number",
            UnixTimeError::Negative => "before 1970",
            UnixTimeError::TooLate => "after 2554-07-21T23:34:33.709551615Z",
        })
    }
}

/// Nanoseconds since the epoch of a Unix time written as decimal text in the
/// JSON number grammar (`-`? digits, optional `.fraction`, optional
/// `e`/`E` exponent), its unit inferred from its integer part as the module
/// doc says. `-0` is 0.
pub fn parse_unix_time(text: &str) -> Result<u64, UnixTimeError> {
    let n = Decimal::parse(text.as_bytes()).ok_or(UnixTimeError::NotANumber)?;
    if n.negative && !n.is_zero() {
        return Err(UnixTimeError::Negative);
    }
    let whole = n.integer_part().ok_or(UnixTimeError::TooLate)?;
    // Fraction digits that still count in the unit: 9 for seconds, none
    // for nanoseconds.
    let (per_unit, fraction_digits) = if whole < SECONDS_BELOW {
        (1_000_000_000, 9)
    } else if whole < MILLIS_BELOW {
        (1_000_000, 6)
    } else if whole < MICROS_BELOW {
        (1_000, 3)
    } else {
        (1, 0)
    };
    whole
        .checked_mul(per_unit)
        .and_then(|ns| ns.checked_add(n.fraction(fraction_digits)))
        .ok_or(UnixTimeError::TooLate)
}

/// A decimal number as `digits × 10^exponent`, read from its text exactly:
/// `digits` are the integer then the fraction digits without their leading
/// zeros (none for zero).
struct Decimal<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
    /// Leading zeros of `int ++ frac`, skipped.
    zeros: usize,
    /// Power of ten of the last digit. Saturated far beyond any time.
    exponent: i64,
}

impl<'a> Decimal<'a> {
    fn parse(t: &'a [u8]) -> Option<Decimal<'a>> {
        let mut i = 0;
        let negative = t.first() == Some(&b'-');
        if negative {
            i += 1;
        }
        let int_start = i;
        i = skip_digits(t, i);
        let int = t.get(int_start..i)?;
        if int.is_empty() || (int.len() > 1 && int.first() == Some(&b'0')) {
            return None;
        }
        let mut frac: &[u8] = &[];
        if t.get(i) == Some(&b'.') {
            let from = i + 1;
            i = skip_digits(t, from);
            frac = t.get(from..i)?;
            if frac.is_empty() {
                return None;
            }
        }
        let mut exp: i64 = 0;
        if matches!(t.get(i), Some(b'e' | b'E')) {
            i += 1;
            let exp_negative = t.get(i) == Some(&b'-');
            if matches!(t.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let from = i;
            while let Some(d) = t.get(i).filter(|d| d.is_ascii_digit()) {
                // Saturates: 10^(10^9) is as far from any time as more.
                exp = (exp * 10 + i64::from(d - b'0')).min(1_000_000_000);
                i += 1;
            }
            if i == from {
                return None;
            }
            if exp_negative {
                exp = -exp;
            }
        }
        if i != t.len() {
            return None;
        }
        let zeros = int.iter().chain(frac).take_while(|&&d| d == b'0').count();
        // `frac.len()` is at most the text length, far below i64::MAX.
        let exponent = exp - frac.len() as i64;
        Some(Decimal {
            negative,
            int,
            frac,
            zeros,
            exponent,
        })
    }

    fn len(&self) -> usize {
        self.int.len() + self.frac.len() - self.zeros
    }

    fn is_zero(&self) -> bool {
        self.len() == 0
    }

    /// How many digits stand before the decimal point (zero or negative
    /// when the value is below 1).
    fn integer_digits(&self) -> i64 {
        self.len() as i64 + self.exponent
    }

    /// The integer part, or `None` above `u64::MAX`.
    fn integer_part(&self) -> Option<u64> {
        let count = self.integer_digits();
        if count > 20 {
            return None;
        }
        (0..count.max(0)).try_fold(0u64, |n, k| {
            n.checked_mul(10)?.checked_add(u64::from(self.digit(k)))
        })
    }

    /// The first `count` fraction digits as an integer: the fraction
    /// truncated to `10^-count`.
    fn fraction(&self, count: i64) -> u64 {
        let first = self.integer_digits();
        (first..first + count).fold(0, |acc, k| acc * 10 + u64::from(self.digit(k)))
    }

    /// The digit of place value `10^(integer_digits - 1 - k)`: `k = 0` is
    /// the most significant digit. Zero outside the written digits.
    fn digit(&self, k: i64) -> u8 {
        let Ok(k) = usize::try_from(k) else {
            return 0;
        };
        let at = self.zeros + k;
        let d = match at.checked_sub(self.int.len()) {
            None => self.int.get(at),
            Some(in_frac) => self.frac.get(in_frac),
        };
        d.map_or(0, |d| d - b'0')
    }
}

fn skip_digits(t: &[u8], mut i: usize) -> usize {
    while t.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}
