//! Random streams derived from `(master seed, replication, stream name)`.
//!
//! # Determinism contract
//!
//! [`stream`] returns a generator whose draws depend only on its three arguments: not on the thread
//! that runs the replication, on the order replications run in, on other streams, or on the clock.
//! The generator is [`rand_pcg::Pcg64`] (PCG XSL-RR 128/64), whose output is specified by its
//! algorithm and pinned by `tests/value_stability`; `StdRng` is deliberately not used, since its
//! algorithm may change between `rand` versions. The derivation is a fixed function:
//!
//! 1. the stream name is hashed with 64-bit FNV-1a;
//! 2. `(seed, replication, name hash)` are mixed with SplitMix64 into a 128-bit state and a
//!    128-bit stream selector (PCG's increment), so different names give different sequences
//!    even from the same state.
//!
//! Give each kind of randomness its own named stream (arrivals, sizes, failures, ...) so that a change
//! in how often one is drawn does not shift every other draw.

use rand_pcg::Pcg64;

/// The generator every stream uses.
pub type SimRng = Pcg64;

/// SplitMix64's output function: a bijective mix of 64 bits (Steele, Lea and Flood, 2014).
#[inline]
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 64-bit FNV-1a hash of a byte string (a fixed, documented function; std's hashers are not).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The generator for one named stream of one replication under one master seed.
pub fn stream(seed: u64, replication: u64, name: &str) -> SimRng {
    stream_by_key(seed, replication, fnv1a64(name.as_bytes()))
}

/// As [`stream`], with the stream already given as a 64-bit key (for streams indexed by number,
/// e.g. one per workload: `fnv1a64(b"arrivals") ^ splitmix64(index)`).
pub fn stream_by_key(seed: u64, replication: u64, key: u64) -> SimRng {
    let a = splitmix64(seed);
    let b = splitmix64(a ^ splitmix64(replication.wrapping_add(0x632B_E59B_D9B4_E019)));
    let c = splitmix64(b ^ key);
    let d = splitmix64(c ^ 0xD1B5_4A32_D192_ED03);
    let e = splitmix64(d ^ key.rotate_left(32));
    let f = splitmix64(e ^ 0x8CB9_2BA7_2F3D_8DD7);
    let state = (u128::from(c) << 64) | u128::from(d);
    let inc = (u128::from(e) << 64) | u128::from(f);
    Pcg64::new(state, inc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_inputs_same_draws_different_inputs_different_draws() {
        let draw = |s, r, n| -> Vec<u64> {
            let mut g = stream(s, r, n);
            (0..4).map(|_| g.random::<u64>()).collect()
        };
        assert_eq!(draw(1, 0, "a"), draw(1, 0, "a"));
        assert_ne!(draw(1, 0, "a"), draw(2, 0, "a"));
        assert_ne!(draw(1, 0, "a"), draw(1, 1, "a"));
        assert_ne!(draw(1, 0, "a"), draw(1, 0, "b"));
    }

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
