//! The strict JSON text scanner: fixed valid and invalid texts, and seeded
//! random documents checked against serde_json and against the minifying
//! rule (the input minus insignificant whitespace, byte for byte).

use spool_proto::decode::json_text::{minify, validate, MAX_DEPTH};

mod common;
use common::{random_document, Rng};

fn minified(text: &[u8]) -> Result<String, String> {
    let mut out = b"prefix:".to_vec();
    match minify(text, &mut out) {
        Ok(()) => Ok(String::from_utf8(out[7..].to_vec()).unwrap()),
        Err(e) => {
            assert_eq!(out, b"prefix:", "minify left output behind on error");
            Err(e.to_string())
        }
    }
}

/// serde_json's verdict, with its one known difference: numbers outside the
/// f64 range, which JSON allows and Spool keeps.
fn serde_valid(text: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<serde_json::Value>(text)
        .map(drop)
        .map_err(|e| e.to_string())
}

#[test]
fn valid_texts_minify_exactly() {
    let cases: &[(&str, &str)] = &[
        ("0", "0"),
        ("-0", "-0"),
        (" \t\r\n1 \n", "1"),
        ("1e400", "1e400"),
        ("-1E-400", "-1E-400"),
        ("1.5e+10", "1.5e+10"),
        (
            "0.000000000000000000000000000001",
            "0.000000000000000000000000000001",
        ),
        (
            "123456789012345678901234567890123456789012345678901234567890",
            "123456789012345678901234567890123456789012345678901234567890",
        ),
        ("1046.8333333333335", "1046.8333333333335"),
        ("true", "true"),
        ("false", "false"),
        ("null", "null"),
        (r#""""#, r#""""#),
        (r#"" spaces inside stay ""#, r#"" spaces inside stay ""#),
        (
            r#""\" \\ \/ \b \f \n \r \t \u0000 \u00e9 \uD83D\uDE00 \uFFFF""#,
            r#""\" \\ \/ \b \f \n \r \t \u0000 \u00e9 \uD83D\uDE00 \uFFFF""#,
        ),
        ("\"ünïcödé ✓ 日本 😀\"", "\"ünïcödé ✓ 日本 😀\""),
        ("\"\u{7f}\"", "\"\u{7f}\""),
        ("[]", "[]"),
        ("{}", "{}"),
        ("[ ]", "[]"),
        ("{ }", "{}"),
        ("[ 1 , [ 2 , { } ] , \"a b\" ]", "[1,[2,{}],\"a b\"]"),
        (
            "{ \"b\" : 1 , \"a\" : 2 , \"b\" : 3 }",
            "{\"b\":1,\"a\":2,\"b\":3}",
        ),
        (
            "{\"k\":{\"k\":{\"k\":[null,true,false,-0.0e-0]}}}",
            "{\"k\":{\"k\":{\"k\":[null,true,false,-0.0e-0]}}}",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(validate(text.as_bytes()), Ok(()), "{text}");
        assert_eq!(minified(text.as_bytes()).as_deref(), Ok(*want), "{text}");
    }
}

#[test]
fn invalid_texts_are_refused_with_an_offset() {
    let cases: &[(&[u8], usize, &str)] = &[
        (b"", 0, "ends where a JSON value should start"),
        (b"   ", 3, "ends where"),
        (b"01", 1, "after the JSON value"),
        (b"+1", 0, "expected a JSON value"),
        (b".5", 0, "expected a JSON value"),
        (b"1.", 2, "digit after '.'"),
        (b"1.e5", 2, "digit after '.'"),
        (b"1e", 2, "exponent"),
        (b"1e+", 3, "exponent"),
        (b"-", 1, "digit after '-'"),
        (b"--1", 1, "digit after '-'"),
        (b"NaN", 0, "expected a JSON value"),
        (b"Infinity", 0, "expected a JSON value"),
        (b"-Infinity", 1, "digit after '-'"),
        (b"tru", 0, "expected a JSON value"),
        (b"nul", 0, "expected a JSON value"),
        (b"True", 0, "expected a JSON value"),
        (b"[1,]", 3, "expected a JSON value"),
        (b"[1 2]", 3, "after an array element"),
        (b"[", 1, "ends where"),
        (b"[1", 2, "after an array element"),
        (b"{\"a\":1,}", 7, "member name"),
        (b"{\"a\" 1}", 5, "':'"),
        (b"{'a':1}", 1, "member name"),
        (b"{a:1}", 1, "member name"),
        (b"{\"a\":1", 6, "after an object member"),
        (b"{\"a\":1]", 6, "after an object member"),
        (b"[1}", 2, "after an array element"),
        (b"1 2", 2, "after the JSON value"),
        (b"{} x", 3, "after the JSON value"),
        (b"// c\n1", 0, "expected a JSON value"),
        (b"\"abc", 4, "not closed"),
        (b"\"a\\", 3, "not closed"),
        (b"\"\\x\"", 1, "unknown escape"),
        (b"\"\\u12\"", 1, "four hex digits"),
        (b"\"\\u12G4\"", 1, "four hex digits"),
        (b"\"\\uD800\"", 1, "high surrogate"),
        (b"\"\\ud800x\"", 1, "high surrogate"),
        (b"\"\\uD800\\n\"", 1, "high surrogate"),
        (b"\"\\uD800\\uD800\"", 1, "high surrogate"),
        (b"\"\\uD800\\u0041\"", 1, "high surrogate"),
        (b"\"\\uDC00\"", 1, "low surrogate"),
        (b"\"a\\uDFFF\\uD800\"", 2, "low surrogate"),
        (b"\"tab\there\"", 4, "control character"),
        (b"\"nl\nhere\"", 3, "control character"),
        (b"\"nul\0\"", 4, "control character"),
        (b"\"bad \xff\"", 5, "UTF-8"),
        (b"\"cut \xc3\"", 5, "UTF-8"),
        (b"\"overlong \xc0\xaf\"", 10, "UTF-8"),
        (b"\"surrogate \xed\xa0\x80\"", 11, "UTF-8"),
        (b"\"too high \xf4\x90\x80\x80\"", 10, "UTF-8"),
        (b"\xef\xbb\xbf{}", 0, "expected a JSON value"),
        (b"\xff", 0, "expected a JSON value"),
        (b"[\"\xe2\x9c\"]", 2, "UTF-8"),
    ];
    for (text, offset, needle) in cases {
        let shown = String::from_utf8_lossy(text);
        let err = validate(text).expect_err(&shown);
        assert_eq!(err.offset, *offset, "{shown:?}: {err}");
        assert!(err.message.contains(needle), "{shown:?}: {err}");
        assert_eq!(minified(text).unwrap_err(), err.to_string());
        assert!(serde_valid(text).is_err(), "serde_json accepts {shown:?}");
    }
}

#[test]
fn nesting_is_limited_without_recursion() {
    let nested = |depth: usize, open: &str, close: &str| {
        format!("{}{}", open.repeat(depth), close.repeat(depth))
    };
    for (open, close) in [("[", "]"), ("{\"k\":[", "]}")] {
        let ok = nested(MAX_DEPTH / open.matches(['[', '{']).count(), open, close);
        assert_eq!(validate(ok.as_bytes()), Ok(()));
        assert!(serde_valid(ok.as_bytes()).is_ok());
    }
    let deepest = nested(MAX_DEPTH, "[", "]");
    assert_eq!(validate(deepest.as_bytes()), Ok(()));
    assert!(serde_valid(deepest.as_bytes()).is_ok());
    let too_deep = nested(MAX_DEPTH + 1, "[", "]");
    let err = validate(too_deep.as_bytes()).unwrap_err();
    assert_eq!(err.offset, MAX_DEPTH);
    assert!(err.message.contains("nested too deeply"), "{err}");
    assert!(serde_valid(too_deep.as_bytes()).is_err());
    // Hostile depth: refused quickly, no stack overflow.
    let hostile = "[".repeat(10_000_000);
    assert_eq!(validate(hostile.as_bytes()).unwrap_err().offset, MAX_DEPTH);
}

/// Random documents with random numbers and whitespace: valid, minified to
/// exactly the expected text, and valid for serde_json too unless a number
/// is outside the f64 range.
#[test]
fn random_documents_minify_to_themselves_without_whitespace() {
    let mut rng = Rng::new(0x5eed_0001);
    let mut out_of_range = 0;
    for _ in 0..3000 {
        let doc = random_document(&mut rng, 5);
        let text = doc.pretty.as_bytes();
        assert_eq!(validate(text), Ok(()), "{}", doc.pretty);
        let min = minified(text).unwrap();
        assert_eq!(min, doc.compact, "input: {}", doc.pretty);
        // Minifying is idempotent.
        assert_eq!(minified(min.as_bytes()).unwrap(), min);
        match serde_valid(text) {
            Ok(()) => {}
            Err(e) => {
                assert!(e.contains("number out of range"), "{e}: {}", doc.pretty);
                out_of_range += 1;
            }
        }
    }
    assert!(out_of_range > 0, "the generator should make huge numbers");
}

/// Random edits of valid documents: the scanner and serde_json agree on
/// validity, except where serde_json refuses a number outside the f64 range.
#[test]
fn agrees_with_serde_json_on_mutated_documents() {
    let mut rng = Rng::new(0x5eed_0002);
    let alphabet: &[u8] =
        b"{}[]\":,.-+eE0123456789 \t\n\\/utrfnlasbx\x00\x1f\x7f\xc3\xa9\xed\xa0\xff";
    let mut both_invalid = 0;
    for _ in 0..20_000 {
        let doc = random_document(&mut rng, 3);
        let mut bytes = doc.pretty.into_bytes();
        for _ in 0..=rng.below(3) {
            let at = rng.below(bytes.len() as u64 + 1) as usize;
            let byte = alphabet[rng.below(alphabet.len() as u64) as usize];
            match rng.below(3) {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 if at < bytes.len() => bytes[at] = byte,
                _ => bytes.insert(at, byte),
            }
        }
        let ours = validate(&bytes);
        let theirs = serde_valid(&bytes);
        let shown = String::from_utf8_lossy(&bytes);
        match (&ours, &theirs) {
            (Ok(()), Ok(())) => {}
            (Err(_), Err(_)) => both_invalid += 1,
            (Ok(()), Err(e)) => assert!(
                e.contains("number out of range"),
                "serde_json refuses ({e}) what we accept: {shown:?}"
            ),
            (Err(e), Ok(())) => panic!("we refuse ({e}) what serde_json accepts: {shown:?}"),
        }
        if ours.is_ok() {
            let min = minified(&bytes).unwrap();
            assert_eq!(minified(min.as_bytes()).unwrap(), min);
        }
    }
    assert!(both_invalid > 1000, "mutations should break documents");
}
