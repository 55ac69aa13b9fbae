//! Decoded records as the log stores them: encoded entry payloads back to
//! back in one buffer, so a body of 1,000 records costs a few allocations
//! instead of four per record (three owned strings and a payload vector).

use spool_core::entry::EntryRef;

use super::{DecodeLimits, RecordProblem};

/// Encoded entry payloads ([`EntryRef::encode_into`]), in body order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Payloads {
    bytes: Vec<u8>,
    /// Where each payload ends in `bytes`.
    ends: Vec<usize>,
}

impl Payloads {
    /// How many payloads.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Payload `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let start = match i.checked_sub(1) {
            None => 0,
            Some(before) => *self.ends.get(before)?,
        };
        self.bytes.get(start..*self.ends.get(i)?)
    }

    /// The payloads in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            bytes: &self.bytes,
            ends: &self.ends,
            start: 0,
        }
    }

    /// Bytes of all payloads together.
    pub fn total_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Adds a payload as it is (already encoded).
    pub fn push(&mut self, payload: &[u8]) {
        self.bytes.extend_from_slice(payload);
        self.ends.push(self.bytes.len());
    }

    /// Encodes `entry` and adds it; refuses it (413) when its encoding is
    /// over `limits.max_record_bytes` or cannot be encoded at all, leaving
    /// the payloads unchanged.
    pub(super) fn push_entry(
        &mut self,
        entry: &EntryRef<'_>,
        limits: &DecodeLimits,
    ) -> Result<(), RecordProblem> {
        let len = entry.encoded_len();
        if len > limits.max_record_bytes {
            return Err(RecordProblem {
                status: 413,
                message: format!(
                    "record is {len} bytes encoded, more than the limit of {} bytes",
                    limits.max_record_bytes
                ),
            });
        }
        entry
            .encode_into(&mut self.bytes)
            .map_err(|e| RecordProblem {
                status: 413,
                message: format!("record cannot be stored: {e}"),
            })?;
        self.ends.push(self.bytes.len());
        Ok(())
    }
}

/// The payloads of a [`Payloads`], in order.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    bytes: &'a [u8],
    ends: &'a [usize],
    start: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&end, rest) = self.ends.split_first()?;
        let payload = self.bytes.get(self.start..end)?;
        self.ends = rest;
        self.start = end;
        Some(payload)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.ends.len(), Some(self.ends.len()))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Payloads {
    type Item = &'a [u8];
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spool_core::entry::Level;

    #[test]
    fn payloads_read_back_in_order() {
        let mut p = Payloads::default();
        assert!(p.is_empty() && p.get(0).is_none() && p.iter().next().is_none());
        p.push(b"raw");
        let e = EntryRef {
            timestamp_ns: 7,
            level: Level::Warn,
            service: "svc",
            message: "hello",
            metadata: "{\"a\":1}",
        };
        p.push_entry(&e, &DecodeLimits::default()).unwrap();
        p.push(b"");
        assert_eq!(p.len(), 3);
        assert_eq!(p.get(0), Some(&b"raw"[..]));
        assert_eq!(EntryRef::decode(p.get(1).unwrap()), Ok(e));
        assert_eq!(p.get(2), Some(&b""[..]));
        assert_eq!(p.get(3), None);
        let all: Vec<&[u8]> = p.iter().collect();
        assert_eq!(all.len(), 3);
        assert_eq!(p.iter().len(), 3);
        let small = DecodeLimits {
            max_record_bytes: e.encoded_len() - 1,
            ..DecodeLimits::default()
        };
        assert_eq!(p.push_entry(&e, &small).unwrap_err().status, 413);
        assert_eq!(p.len(), 3, "a refused entry adds nothing");
    }
}
