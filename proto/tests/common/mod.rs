//! Seeded random JSON documents for the property tests: every number form
//! JSON allows (long mantissas, huge and tiny exponents, `-0`, integers past
//! 64 bits, f64 values printed shortest and with 17 significant digits),
//! strings with every escape and raw Unicode, duplicate keys, and random
//! insignificant whitespace between tokens.
#![allow(dead_code, unreachable_pub)]

/// xorshift64*: small, seeded, good enough to pick test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    /// A finite f64 from random bits.
    pub fn finite_f64(&mut self) -> f64 {
        loop {
            let f = f64::from_bits(self.next());
            if f.is_finite() {
                return f;
            }
        }
    }
}

/// One document: as sent (with whitespace) and as Spool must keep it.
pub struct Doc {
    pub pretty: String,
    pub compact: String,
}

impl Doc {
    fn token(&mut self, rng: &mut Rng, text: &str) {
        self.pretty.push_str(text);
        self.compact.push_str(text);
        self.ws(rng);
    }

    fn ws(&mut self, rng: &mut Rng) {
        if rng.chance(3) {
            for _ in 0..=rng.below(3) {
                self.pretty
                    .push([' ', '\t', '\n', '\r'][rng.below(4) as usize]);
            }
        }
    }
}

/// A random number in one of the forms JSON allows.
pub fn random_number(rng: &mut Rng) -> String {
    match rng.below(9) {
        0 => format!("{}", rng.finite_f64()),
        1 => format!("{:.16e}", rng.finite_f64()),
        2 => format!("{:e}", rng.finite_f64()),
        3 => {
            // Ordinary magnitudes with 17 significant digits, like metrics.
            let f = (rng.next() % 1_000_000) as f64 / 7.0;
            format!("{:.*}", rng.below(17) as usize, f)
        }
        4 => [
            "0",
            "-0",
            "-0.0",
            "0e0",
            "1e400",
            "-1e400",
            "1e-400",
            "-1E-400",
            "123456789012345678901234567890",
            "1046.8333333333335",
            "1119.0714285714287",
            "0.1",
            "18446744073709551616",
            "-9223372036854775809",
            "2.2250738585072011e-308",
            "4.9e-324",
            "1.7976931348623157e308",
            "1.7976931348623159e308",
        ][rng.below(18) as usize]
            .to_owned(),
        5 => format!("{}", rng.next() as i64),
        _ => {
            let mut s = String::new();
            if rng.chance(2) {
                s.push('-');
            }
            let int_len = rng.below(40);
            if int_len == 0 {
                s.push('0');
            } else {
                s.push(char::from(b'1' + rng.below(9) as u8));
                for _ in 1..int_len {
                    s.push(char::from(b'0' + rng.below(10) as u8));
                }
            }
            if rng.chance(2) {
                s.push('.');
                for _ in 0..=rng.below(40) {
                    s.push(char::from(b'0' + rng.below(10) as u8));
                }
            }
            if rng.chance(2) {
                s.push(if rng.chance(2) { 'e' } else { 'E' });
                match rng.below(3) {
                    0 => s.push('-'),
                    1 => s.push('+'),
                    _ => {}
                }
                let limit = if rng.chance(4) { 1000 } else { 30 };
                s.push_str(&rng.below(limit).to_string());
            }
            s
        }
    }
}

/// A random JSON string literal, quotes included.
pub fn random_string(rng: &mut Rng) -> String {
    let mut s = String::from("\"");
    for _ in 0..rng.below(12) {
        match rng.below(10) {
            0 => s.push_str(
                ["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"][rng.below(8) as usize],
            ),
            1 => {
                // Any BMP scalar value except surrogates, as \u, either case.
                let unit = loop {
                    let u = rng.below(0x10000) as u32;
                    if !(0xD800..=0xDFFF).contains(&u) {
                        break u;
                    }
                };
                if rng.chance(2) {
                    s.push_str(&format!("\\u{unit:04x}"));
                } else {
                    s.push_str(&format!("\\u{unit:04X}"));
                }
            }
            2 => {
                let hi = 0xD800 + rng.below(0x400);
                let lo = 0xDC00 + rng.below(0x400);
                s.push_str(&format!("\\u{hi:04X}\\u{lo:04x}"));
            }
            3 => s.push(
                ['é', '日', '😀', '\u{7f}', '\u{a0}', '✓', '\u{2028}'][rng.below(7) as usize],
            ),
            4 => s.push(' '),
            _ => s.push(char::from(b'a' + rng.below(26) as u8)),
        }
    }
    s.push('"');
    s
}

fn value(rng: &mut Rng, doc: &mut Doc, depth: u32) {
    let pick = if depth == 0 {
        rng.below(5)
    } else {
        rng.below(7)
    };
    match pick {
        0 | 1 => {
            let n = random_number(rng);
            doc.token(rng, &n);
        }
        2 => {
            let s = random_string(rng);
            doc.token(rng, &s);
        }
        3 => {
            let word = ["true", "false", "null"][rng.below(3) as usize];
            doc.token(rng, word);
        }
        4 => {
            let n = random_number(rng);
            doc.token(rng, &n);
        }
        5 => {
            doc.token(rng, "[");
            let len = rng.below(5);
            for i in 0..len {
                if i > 0 {
                    doc.token(rng, ",");
                }
                value(rng, doc, depth - 1);
            }
            doc.token(rng, "]");
        }
        _ => object(rng, doc, depth - 1),
    }
}

fn object(rng: &mut Rng, doc: &mut Doc, depth: u32) {
    doc.token(rng, "{");
    let len = rng.below(6);
    for i in 0..len {
        if i > 0 {
            doc.token(rng, ",");
        }
        // Duplicate keys now and then: kept as sent.
        let key = if rng.chance(3) {
            ["\"k\"", "\"a\"", "\"message\"", "\"\""][rng.below(4) as usize].to_owned()
        } else {
            random_string(rng)
        };
        doc.token(rng, &key);
        doc.token(rng, ":");
        value(rng, doc, depth);
    }
    doc.token(rng, "}");
}

/// A random object nested at most `depth` deep, with whitespace around it.
pub fn random_document(rng: &mut Rng, depth: u32) -> Doc {
    let mut doc = Doc {
        pretty: String::new(),
        compact: String::new(),
    };
    doc.ws(rng);
    object(rng, &mut doc, depth);
    doc
}
