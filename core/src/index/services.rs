//! The set of service names seen in one block: exact while small, a bloom
//! filter beyond.
//!
//! [`ServiceSet::may_contain`] never answers `false` for a service that was
//! inserted; it may answer `true` for one that was not (a hash collision in
//! the exact form, a bloom false positive in the other). A query therefore
//! only skips a block on its answer, and always checks records exactly.

/// Distinct service hashes kept exactly before a block's set becomes a bloom
/// filter. Most blocks see a handful of services; eight covers them with
/// no false positive beyond a 64-bit hash collision.
pub const EXACT_SERVICES: usize = 8;

/// Bits in the bloom filter a block falls back to (256 = 32 bytes, the
/// same order of size as the exact form).
pub const BLOOM_BITS: usize = 256;

/// Bits set per service in the bloom filter. With 256 bits, 4 probes keep
/// the false-positive rate near 2% at 30 distinct services in a block and
/// near 0.3% at 15.
const BLOOM_PROBES: usize = 4;

/// The 64-bit hash of a service name that blocks store: FNV-1a over the
/// bytes, then the murmur3 64-bit finaliser so every output bit depends on
/// every input bit (the bloom filter takes its probe positions from
/// separate bytes of the hash).
///
/// Persisted indexes store these hashes: changing the function requires a
/// new [`crate::index::INDEX_VERSION`].
pub fn service_hash(service: &str) -> u64 {
    service_hash_bytes(service.as_bytes())
}

/// [`service_hash`] of a service name's bytes (as a payload holds them).
pub fn service_hash_bytes(service: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in service {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The services of one block, by [`service_hash`]: up to
/// [`EXACT_SERVICES`] distinct hashes kept exactly, then a [`BLOOM_BITS`]-bit
/// bloom filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceSet(Repr);

/// The two forms, for the persisted encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Repr {
    /// `hashes[..len]` are the distinct hashes in the order first seen;
    /// `len <= EXACT_SERVICES`, the rest are zero.
    Exact {
        len: u8,
        hashes: [u64; EXACT_SERVICES],
    },
    Bloom([u64; BLOOM_BITS / 64]),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Exact {
            len: 0,
            hashes: [0; EXACT_SERVICES],
        }
    }
}

impl ServiceSet {
    /// Adds a service by its hash.
    pub fn insert(&mut self, hash: u64) {
        match &mut self.0 {
            Repr::Exact { len, hashes } => {
                if exact(*len, hashes).contains(&hash) {
                    return;
                }
                if let Some(slot) = hashes.get_mut(usize::from(*len)) {
                    *slot = hash;
                    *len += 1;
                    return;
                }
                let mut bits = [0u64; BLOOM_BITS / 64];
                for &h in hashes.iter() {
                    bloom_set(&mut bits, h);
                }
                bloom_set(&mut bits, hash);
                self.0 = Repr::Bloom(bits);
            }
            Repr::Bloom(bits) => bloom_set(bits, hash),
        }
    }

    /// `false` only if no service with this hash was inserted.
    pub fn may_contain(&self, hash: u64) -> bool {
        match &self.0 {
            Repr::Exact { len, hashes } => exact(*len, hashes).contains(&hash),
            Repr::Bloom(bits) => {
                bloom_probes(hash).all(|bit| bits[bit / 64] & (1 << (bit % 64)) != 0)
            }
        }
    }

    /// The distinct hashes while the set is exact; `None` once it is a
    /// bloom filter.
    pub fn exact_hashes(&self) -> Option<&[u64]> {
        match &self.0 {
            Repr::Exact { len, hashes } => Some(exact(*len, hashes)),
            Repr::Bloom(_) => None,
        }
    }

    pub(crate) fn repr(&self) -> &Repr {
        &self.0
    }

    /// An exact set of `hashes`, or `None` if there are too many.
    pub(crate) fn from_exact(hashes: &[u64]) -> Option<ServiceSet> {
        let mut all = [0u64; EXACT_SERVICES];
        all.get_mut(..hashes.len())?.copy_from_slice(hashes);
        Some(ServiceSet(Repr::Exact {
            len: hashes.len() as u8,
            hashes: all,
        }))
    }

    pub(crate) fn from_bloom(bits: [u64; BLOOM_BITS / 64]) -> ServiceSet {
        ServiceSet(Repr::Bloom(bits))
    }
}

/// The used part of an exact set (all of it if `len` were ever too large).
fn exact(len: u8, hashes: &[u64; EXACT_SERVICES]) -> &[u64] {
    hashes.get(..usize::from(len)).unwrap_or(hashes)
}

fn bloom_set(bits: &mut [u64; BLOOM_BITS / 64], hash: u64) {
    for bit in bloom_probes(hash) {
        bits[bit / 64] |= 1 << (bit % 64);
    }
}

/// The bit positions of `hash`: one byte of the hash each (256 bits).
fn bloom_probes(hash: u64) -> impl Iterator<Item = usize> {
    hash.to_le_bytes()
        .into_iter()
        .take(BLOOM_PROBES)
        .map(usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn exact_until_full_then_bloom_keeps_everything() {
        let mut set = ServiceSet::default();
        let names: alloc::vec::Vec<_> = (0..40).map(|i| format!("svc-{i}")).collect();
        for (i, name) in names.iter().enumerate() {
            set.insert(service_hash(name));
            set.insert(service_hash(name)); // duplicates change nothing
            assert_eq!(set.exact_hashes().is_some(), i < EXACT_SERVICES);
            for seen in &names[..=i] {
                assert!(set.may_contain(service_hash(seen)), "{seen} lost at {i}");
            }
        }
    }

    #[test]
    fn exact_set_says_no_to_others() {
        let mut set = ServiceSet::default();
        for name in ["api", "db", "", "payments"] {
            set.insert(service_hash(name));
        }
        assert!(set.may_contain(service_hash("")));
        assert!(!set.may_contain(service_hash("auth")));
        assert!(!set.may_contain(service_hash("API")));
    }

    #[test]
    fn bloom_false_positives_are_rare_at_realistic_sizes() {
        let mut set = ServiceSet::default();
        for i in 0..20 {
            set.insert(service_hash(&format!("service-{i}")));
        }
        let false_hits = (0..10_000)
            .filter(|i| set.may_contain(service_hash(&format!("other-{i}"))))
            .count();
        // (1 - e^(-4*20/256))^4 is about 0.6%.
        assert!(false_hits < 300, "{false_hits} false positives in 10,000");
    }
}
