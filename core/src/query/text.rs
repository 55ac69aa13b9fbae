//! The substring search behind `q` (exact bytes) and `qi` (ASCII case
//! ignored): one matcher used both on a record's fields and on a block's raw
//! bytes.
//!
//! Searching raw bytes is a sound pre-check: a field is stored verbatim in
//! its frame, so a record whose field contains the needle leaves the needle
//! in the block's bytes. (The converse does not hold: the needle may span
//! fields or headers. Such blocks are decoded and checked exactly.)

use memchr::memmem::Finder;
use memchr::{memchr2_iter, memchr_iter};

use crate::entry::EntryRef;

/// A prepared substring search.
pub(crate) struct TextMatcher<'n> {
    needle: &'n [u8],
    /// Case-sensitive: memmem. `None`: ASCII case ignored; candidates by the
    /// needle's first byte (either case), then a case-folding compare.
    exact: Option<Finder<'n>>,
}

impl<'n> TextMatcher<'n> {
    pub(crate) fn new(needle: &'n [u8], ignore_ascii_case: bool) -> Self {
        TextMatcher {
            needle,
            exact: (!ignore_ascii_case).then(|| Finder::new(needle)),
        }
    }

    /// Whether `hay` contains the needle.
    pub(crate) fn found_in(&self, hay: &[u8]) -> bool {
        match &self.exact {
            Some(finder) => finder.find(hay).is_some(),
            None => contains_ignore_ascii_case(hay, self.needle),
        }
    }

    /// Whether the entry's message or metadata contains the needle.
    pub(crate) fn matches_entry(&self, entry: &EntryRef<'_>) -> bool {
        self.found_in(entry.message.as_bytes()) || self.found_in(entry.metadata.as_bytes())
    }
}

/// A [`TextMatcher`] that owns its needle: prepared once (an alert
/// rule's pattern), used for every record.
#[derive(Clone, Debug)]
pub(crate) struct OwnedMatcher {
    needle: alloc::vec::Vec<u8>,
    exact: Option<Finder<'static>>,
}

impl OwnedMatcher {
    pub(crate) fn new(needle: &[u8], ignore_ascii_case: bool) -> Self {
        OwnedMatcher {
            needle: needle.to_vec(),
            exact: (!ignore_ascii_case).then(|| Finder::new(needle).into_owned()),
        }
    }

    /// The prepared search, borrowed (no searcher is built).
    fn matcher(&self) -> TextMatcher<'_> {
        TextMatcher {
            needle: &self.needle,
            exact: self.exact.as_ref().map(Finder::as_ref),
        }
    }

    /// Whether the entry's message or metadata contains the needle.
    pub(crate) fn matches_entry(&self, entry: &EntryRef<'_>) -> bool {
        self.matcher().matches_entry(entry)
    }
}

fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if hay.len() < needle.len() {
        return false;
    }
    // A match starts at most here.
    let last_start = hay.len() - needle.len();
    let tail_matches =
        |at: usize| at <= last_start && hay[at + 1..at + needle.len()].eq_ignore_ascii_case(rest);
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let head = &hay[..=last_start];
    if lower == upper {
        memchr_iter(first, head).any(tail_matches)
    } else {
        memchr2_iter(lower, upper, head).any(tail_matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(hay: &[u8], needle: &[u8], ci: bool) -> bool {
        needle.is_empty()
            || hay.windows(needle.len()).any(|w| {
                if ci {
                    w.eq_ignore_ascii_case(needle)
                } else {
                    w == needle
                }
            })
    }

    #[test]
    fn agrees_with_a_naive_search() {
        let alphabet = b"aAbB-\xc3\xa9";
        let mut x: u64 = 7;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) % n) as usize
        };
        for _ in 0..5000 {
            let hay: alloc::vec::Vec<u8> = (0..next(12))
                .map(|_| alphabet[next(alphabet.len() as u64)])
                .collect();
            let needle: alloc::vec::Vec<u8> = (0..next(4))
                .map(|_| alphabet[next(alphabet.len() as u64)])
                .collect();
            for ci in [false, true] {
                assert_eq!(
                    TextMatcher::new(&needle, ci).found_in(&hay),
                    naive(&hay, &needle, ci),
                    "{hay:?} {needle:?} {ci}"
                );
            }
        }
    }
}
