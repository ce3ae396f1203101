//! Sticky bucketing that matches Unleash bit for bit: MurmurHash3 x86_32 over the UTF-8 bytes of
//! `"{group}:{id}"`, reduced to a bucket in `1..=modulus`.
//!
//! Two uses, each with its own seed, exactly as Unleash's SDKs do:
//!
//! - the **percentage gate** ([`in_rollout`]): modulus 100, seed 0, a key is in iff its bucket is
//!   at most the percentage. Raising the percentage only ever adds keys (monotone).
//! - the **variant split** ([`variant_index`]): seed 86028157, modulus = the total weight, the first
//!   variant (in listed order) whose cumulative weight reaches the bucket wins. Changing any weight
//!   can re-slice every key, so it is only used where the weights do not move (see
//!   [`crate::split`]).
//!
//! The algorithm's name and version ([`ALGORITHM`], [`ALGORITHM_VERSION`]) are recorded with every
//! split: a change here silently reshuffles every user, so it must be a new version, never an edit.
//!
//! MurmurHash3 is implemented here (a few lines, no `unsafe`) rather than taken from the `murmur3`
//! crate, whose API reads from an `std::io::Read` and returns `io::Result`: an IO-shaped error path
//! that cannot happen and that this IO-free crate would have to invent an error for.

/// The bucketing algorithm recorded with every split and rollout.
pub const ALGORITHM: &str = "unleash-murmur3-x86_32";

/// The version of [`ALGORITHM`]; a different mapping from keys to buckets needs a new version.
pub const ALGORITHM_VERSION: u32 = 1;

/// The seed of the percentage gate (Unleash's `flexibleRollout` / `gradualRollout*` strategies).
pub const PERCENTAGE_SEED: u32 = 0;

/// The seed of the variant split (Unleash's `VARIANT_HASH_SEED`).
pub const VARIANT_SEED: u32 = 86_028_157;

/// The modulus of the percentage gate: buckets `1..=100`.
pub const PERCENTAGE_MODULUS: u32 = 100;

/// MurmurHash3 x86_32 of `bytes` with `seed` (Austin Appleby's reference `MurmurHash3_x86_32`).
///
/// ```
/// use opm_core::bucketing::murmur3_x86_32;
/// assert_eq!(murmur3_x86_32(b"hello", 0), 0x248B_FA47);
/// ```
pub fn murmur3_x86_32(bytes: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mix_k = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);

    let mut hash = seed;
    let mut blocks = bytes.chunks_exact(4);
    for block in &mut blocks {
        let k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        hash ^= mix_k(k);
        hash = hash.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let k = tail.iter().rev().fold(0u32, |k, &byte| (k << 8) | u32::from(byte));
        hash ^= mix_k(k);
    }
    // The reference implementation takes the length as a 32-bit int.
    hash ^= bytes.len() as u32;
    fmix32(hash)
}

fn fmix32(mut hash: u32) -> u32 {
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^ (hash >> 16)
}

/// Unleash's `normalizedHash`: `murmur3("{group}:{id}", seed) % modulus + 1`, a bucket in
/// `1..=modulus`. A modulus of 0 has no buckets and yields 0.
///
/// ```
/// use opm_core::bucketing::normalized_hash;
/// assert_eq!(normalized_hash("Feature.flexibleRollout.10", "174", 100, 0), 10);
/// ```
pub fn normalized_hash(group: &str, id: &str, modulus: u32, seed: u32) -> u32 {
    let mut input = String::with_capacity(group.len() + 1 + id.len());
    input.push_str(group);
    input.push(':');
    input.push_str(id);
    murmur3_x86_32(input.as_bytes(), seed).checked_rem(modulus).map_or(0, |rest| rest + 1)
}

/// The percentage-gate bucket of `id` in `group`: a value in `1..=100`.
pub fn percentage_bucket(group: &str, id: &str) -> u32 {
    normalized_hash(group, id, PERCENTAGE_MODULUS, PERCENTAGE_SEED)
}

/// Whether `id` is inside a rollout of `percent` percent in `group` (bucket `<= percent`).
///
/// Monotone: if a key is in at `p`, it is in at every `q >= p`. 0 lets nobody in, 100 everybody.
pub fn in_rollout(group: &str, id: &str, percent: u32) -> bool {
    percentage_bucket(group, id) <= percent
}

/// Unleash's variant selection: the index of the variant `id` falls into, given the variants'
/// weights in listed order. `None` when the weights sum to 0 (or overflow a `u32`).
///
/// Deterministic for fixed weights; changing the weights may move any key (the cumulative ranges
/// are re-sliced), which is why splits put a monotone percentage gate in front of it.
pub fn variant_index(group: &str, id: &str, weights: &[u32]) -> Option<usize> {
    let total = weights.iter().try_fold(0u32, |sum, &weight| sum.checked_add(weight))?;
    if total == 0 {
        return None;
    }
    let target = normalized_hash(group, id, total, VARIANT_SEED);
    pick_cumulative(weights, target)
}

/// The index of the first weight whose cumulative sum reaches `target` (`1..=total`), if any.
pub(crate) fn pick_cumulative(weights: &[u32], target: u32) -> Option<usize> {
    let mut cumulative = 0u64;
    for (index, &weight) in weights.iter().enumerate() {
        cumulative += u64::from(weight);
        if cumulative >= u64::from(target) {
            return Some(index);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_standard_vectors() {
        let check = |bytes: &[u8], seed: u32, expected: u32| {
            assert_eq!(murmur3_x86_32(bytes, seed), expected, "{bytes:?} seed {seed}");
        };
        check(b"", 0, 0);
        check(b"", 1, 0x514E_28B7);
        check(b"hello", 0, 0x248B_FA47);
    }

    #[test]
    fn murmur_covers_every_tail_length() {
        // Published vectors for MurmurHash3_x86_32 (SMHasher and the Wikipedia test table).
        let check = |bytes: &[u8], seed: u32, expected: u32| {
            assert_eq!(murmur3_x86_32(bytes, seed), expected, "{bytes:?} seed {seed}");
        };
        check(b"", 0xffff_ffff, 0x81F1_6F39);
        check(&[0xff, 0xff, 0xff, 0xff], 0, 0x7629_3B50);
        check(&[0x21, 0x43, 0x65, 0x87], 0, 0xF55B_516B);
        check(&[0x21, 0x43, 0x65, 0x87], 0x5082_EDEE, 0x2362_F9DE);
        check(&[0x21, 0x43, 0x65], 0, 0x7E4A_8634);
        check(&[0x21, 0x43], 0, 0xA0F7_B07A);
        check(&[0x21], 0, 0x7266_1CF4);
        check(&[0, 0, 0, 0], 0, 0x2362_F9DE);
        check(&[0, 0, 0], 0, 0x85F0_B427);
        check(&[0, 0], 0, 0x30F4_C306);
        check(&[0], 0, 0x514E_28B7);
        check(b"Hello, world!", 1234, 0xFAF6_CDB3);
        check(b"The quick brown fox jumps over the lazy dog", 0x9747_b28c, 0x2FA8_26CD);
    }

    #[test]
    fn percentage_gate_vectors() {
        let check = |group: &str, id: &str, bucket: u32| {
            assert_eq!(percentage_bucket(group, id), bucket, "{group}:{id}");
            assert_eq!(normalized_hash(group, id, 100, 0), bucket, "{group}:{id}");
        };
        check("Feature.flexibleRollout.10", "174", 10);
        check("Feature.flexibleRollout.10", "499", 32);
        check("Feature.flexibleRollout.userId.55", "25", 55);
        check("gr1", "123", 73);
        assert!(in_rollout("Feature.flexibleRollout.10", "174", 10));
        assert!(!in_rollout("Feature.flexibleRollout.10", "499", 10));
        assert!(in_rollout("Feature.flexibleRollout.userId.55", "25", 55));
        assert!(!in_rollout("Feature.flexibleRollout.userId.55", "25", 54));
        assert!(!in_rollout("gr1", "123", 72));
        assert!(in_rollout("gr1", "123", 73));
    }

    #[test]
    fn gate_edges() {
        assert!(!in_rollout("g", "k", 0));
        assert!(in_rollout("g", "k", 100));
        assert_eq!(normalized_hash("g", "k", 0, 0), 0);
        assert_eq!(normalized_hash("g", "k", 1, 0), 1);
    }

    #[test]
    fn variant_split_vectors() {
        // Unleash client specification 08-variants: the group is the feature name.
        let check = |group: &str, weights: &[u32], id: &str, target: u32, index: usize| {
            let total = weights.iter().sum();
            assert_eq!(normalized_hash(group, id, total, VARIANT_SEED), target, "{group} user {id}");
            assert_eq!(variant_index(group, id, weights), Some(index), "{group} user {id}");
        };
        check("Feature.Variants.C", &[33, 33, 33], "232", 18, 0);
        check("Feature.Variants.C", &[33, 33, 33], "607", 58, 1);
        check("Feature.Variants.C", &[33, 33, 33], "656", 94, 2);
        check("Feature.Variants.D", &[1, 49, 50], "712", 1, 0);
        check("Feature.Variants.D", &[1, 49, 50], "525", 30, 1);
        check("Feature.Variants.D", &[1, 49, 50], "537", 70, 2);
    }

    #[test]
    fn variant_split_without_weight_picks_nothing() {
        assert_eq!(variant_index("g", "k", &[]), None);
        assert_eq!(variant_index("g", "k", &[0, 0]), None);
        assert_eq!(variant_index("g", "k", &[u32::MAX, 1]), None);
        assert_eq!(variant_index("g", "k", &[0, 5, 0]), Some(1));
    }

    #[test]
    fn cumulative_walk_skips_zero_weights() {
        assert_eq!(pick_cumulative(&[0, 1, 0, 2], 1), Some(1));
        assert_eq!(pick_cumulative(&[0, 1, 0, 2], 2), Some(3));
        assert_eq!(pick_cumulative(&[0, 1, 0, 2], 3), Some(3));
        assert_eq!(pick_cumulative(&[0, 1, 0, 2], 4), None);
    }
}
