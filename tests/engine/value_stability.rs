//! Value stability: pinned draws from the random streams, so an upgrade that changes sampled values fails loudly.
//!
//! Every capsim result is a function of these draws. `rand_pcg::Pcg64` is specified by its algorithm
//! and `rng::stream` by its derivation, but a dependency upgrade (rand, rand_pcg, rand_distr) could
//! still change what comes out, silently changing every published number. The literals below were
//! computed once and hard-coded. If this test fails after an upgrade, the upgrade changed results:
//! treat it as a breaking change (new literals, and a note in the changelog), never as noise.

use capsim::engine::rng::{self, fnv1a64, splitmix64};
use rand::Rng;
use rand_distr::{Distribution, Exp};

fn u64s(seed: u64, rep: u64, name: &str) -> Vec<u64> {
    let mut g = rng::stream(seed, rep, name);
    (0..4).map(|_| g.random::<u64>()).collect()
}

fn exps(seed: u64, rep: u64, name: &str) -> Vec<f64> {
    let mut g = rng::stream(seed, rep, name);
    let exp = Exp::new(1.0).expect("positive rate");
    (0..3).map(|_| exp.sample(&mut g)).collect()
}

/// Floats are compared to within a few ulps rather than bit for bit, so that a last-bit difference in
/// a platform's `ln` cannot fail the test; any change of algorithm or stream moves them by far more.
fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 4.0 * f64::EPSILON * w.abs(),
            "{what}[{i}]: got {g:?}, pinned {w:?} (all: {got:?})"
        );
    }
}

#[test]
fn arrivals_stream_u64_draws_are_pinned() {
    assert_eq!(
        u64s(42, 0, "arrivals"),
        [
            0x8c15_4326_2c13_d9ee,
            0x9a3f_ec36_15cf_3e72,
            0xf801_3da9_b26d_49c7,
            0xefdf_8bdc_805f_2c5c,
        ]
    );
}

#[test]
fn arrivals_stream_exponential_samples_are_pinned() {
    assert_close(
        &exps(42, 0, "arrivals"),
        &[0.2273691196580252, 1.1161613690749865, 0.8475515917602955],
        "Exp(1) from stream(42, 0, arrivals)",
    );
}

#[test]
fn service_stream_of_another_replication_is_pinned() {
    assert_eq!(
        u64s(42, 1, "service"),
        [
            0x0bdd_73f4_0f4e_1c46,
            0x6e73_111d_1011_df5b,
            0xa20c_95b4_34ea_15d8,
            0x0fa5_e7c8_327e_e40a,
        ]
    );
    assert_close(
        &exps(42, 1, "service"),
        &[0.11886853173690773, 0.94505017416862, 0.43554581294332567],
        "Exp(1) from stream(42, 1, service)",
    );
}

// The derivation's building blocks, pinned on their own so a failure above can be traced: these
// change only if `rng.rs` changes, the draws above also if the dependencies do. (Computed
// independently, in Python, from the published FNV-1a and SplitMix64 definitions.)
#[test]
fn stream_derivation_functions_are_pinned() {
    assert_eq!(fnv1a64(b"arrivals"), 0xb10b_c22c_a203_cc53);
    assert_eq!(splitmix64(42), 0xbdd7_3226_2feb_6e95);
}
