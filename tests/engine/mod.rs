//! Tests of the discrete-event engine through its public API only (`capsim::engine`).
//!
//! The statistical tests (`mmc`, `md1`) check that a queue built on the engine reproduces analytic
//! results; the contract tests (`determinism`, `queue_props`) check the ordering and determinism
//! guarantees the engine documents.

mod determinism;
mod md1;
mod mmc;
mod queue_props;
mod station;
mod stats;
mod value_stability;

/// The proptest configuration of these tests: the default, except that failing cases are saved beside
/// the test's source file (proptest's default looks for a `lib.rs`, which integration tests lack).
fn proptest_config() -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..proptest::test_runner::Config::default()
    }
}
