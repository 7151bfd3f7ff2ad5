//! Issue 10, items 6-13: every figure has a range, and whatever `validate` accepts runs to the end
//! with finite outputs; names, horizons, listed dates and `extends` targets are bounded. Each case
//! of the issue is a regression test here, and a property test mutates the figures of a small
//! valid scenario to check the promise itself.

use crate::support::{capsim, tmp, two_sites};
use capsim::experiment::{self, RunOptions, RunResult};
use capsim::metrics::PeriodKind;
use capsim::scenario::{self, Scenario, ScenarioError};
use proptest::prelude::*;

const WORKLOADS: &str = r#"
[[firms.acme.workloads]]
name = "pretraining"
kind = "training"
arrivals = { every_days = 20 }
size_flop = 3e21
gang_chips = 256
checkpoint_hours = 1.0
restart_hours = 0.5

[[firms.acme.workloads]]
name = "chat"
kind = "inference"
tokens_per_day = 1e11
growth_per_year = 2.5
daily_amplitude = 0.3
batch_hours = 1
"#;

const POLICIES: &str = r#"
[[policy]]
name = "fee"
rule = "licence_fee"
chip = "h100"
to = "MY"
from = 2025-01-15
fee_fraction = 0.15
"#;

/// The small valid world of these tests, on a 60-day horizon.
fn base() -> String {
    two_sites(POLICIES, WORKLOADS).replace("end_date = 2025-12-31", "end_date = 2025-03-01")
}

/// `base()` with the first `from` replaced by `to` (which must occur).
fn with(from: &str, to: &str) -> String {
    let b = base();
    assert!(b.contains(from), "'{from}' not in the base scenario");
    b.replacen(from, to, 1)
}

/// Loads `text` as if it sat in `scenarios/` (so that the baseline's includes resolve).
fn load(text: &str) -> Result<Scenario, ScenarioError> {
    let scenarios = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    scenario::load_str(text, "t.toml", Some(&scenarios))
}

/// The error of loading `text`, which must be refused with a location, a field path and help.
fn refused(text: &str, case: &str) -> String {
    match load(text) {
        Ok(_) => panic!("{case}: accepted"),
        Err(e) => {
            let msg = e.to_string();
            assert!(e.location().is_some(), "{case}: no location: {msg}");
            assert!(msg.starts_with("t.toml:"), "{case}: {msg}");
            assert!(msg.contains("\n  help: "), "{case}: no help: {msg}");
            msg
        }
    }
}

fn run_once(sc: &Scenario) -> RunResult {
    experiment::execute(
        sc,
        RunOptions {
            seed: sc.seed,
            replications: 1,
            period: PeriodKind::Month,
            threads: Some(1),
        },
    )
    .unwrap_or_else(|e| panic!("run failed: {e}"))
}

/// The first non-finite number in the metrics, summary and headline numbers of a run, if any. A
/// summary row with no value (`n == 0`) and a headline ratio with nothing to divide are NaN by
/// design (an empty cell); every other number must be finite.
fn non_finite(r: &RunResult) -> Option<String> {
    for row in &r.summary {
        if row.n > 0 && ![row.mean, row.p05, row.p95].iter().all(|v| v.is_finite()) {
            return Some(format!("summary {row:?}"));
        }
    }
    for run in &r.runs {
        let h = capsim::metrics::headline::headline(run, &r.periods);
        if let Some(v) = h.iter().find(|v| v.is_infinite()) {
            return Some(format!("headline {v}"));
        }
    }
    // Debug prints a non-finite f64 as `inf`, `-inf` or `NaN`: whole tokens, unlike `inference`.
    let text = format!("{:?}", r.runs);
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|tok| *tok == "inf" || *tok == "NaN")
        .map(|tok| format!("{tok} in the run's metrics"))
}

#[test]
fn the_base_world_runs_with_finite_outputs() {
    let sc = load(&base()).unwrap();
    let r = run_once(&sc);
    assert_eq!(non_finite(&r), None);
}

// Items 6 and 7: size_flop is checked like every other figure, and no sampler overflows.

#[test]
fn a_size_flop_lognormal_too_wide_is_refused_not_a_panic() {
    let msg = refused(
        &with(
            "size_flop = 3e21",
            "size_flop = { lognormal = { median = 1e-300, p95 = 1e22 } }",
        ),
        "wide lognormal",
    );
    assert!(
        msg.contains("firms.acme.workloads.pretraining.size_flop.lognormal: lognormal with"),
        "{msg}"
    );
    assert!(msg.contains("[1000000, 1e30]"), "{msg}");
}

#[test]
fn overflowing_triangulars_are_refused_at_load() {
    for (from, to, path) in [
        (
            "size_flop = 3e21",
            "size_flop = { triangular = [1e-300, 1e300, 1e308] }",
            "t.toml:52:28: firms.acme.workloads.pretraining.size_flop.triangular",
        ),
        (
            "repair_hours = 24",
            "repair_hours = { triangular = [1e-300, 1e300, 1e308] }",
            "t.toml:29:31: sites.johor.repair_hours.triangular",
        ),
    ] {
        let msg = refused(&with(from, to), to);
        assert!(msg.starts_with(path), "{msg}");
        assert!(msg.contains("can draw values"), "{msg}");
    }
}

#[test]
fn a_triangular_near_the_largest_float_samples_inside_its_support() {
    use rand::SeedableRng;
    let q = capsim::model::Quantity::Triangular {
        low: 1e-300,
        mode: 1e300,
        high: 1e308,
    };
    let mut g = rand_pcg::Pcg64::seed_from_u64(1);
    for _ in 0..1000 {
        let v = q.sample(&mut g);
        assert!(v.is_finite() && (1e-300..=1e308).contains(&v), "{v}");
    }
    // A lognormal validation would refuse samples without a panic.
    let l = capsim::model::Quantity::LogNormal {
        median: 1e-300,
        p95: 1e22,
    };
    assert!(l.sample(&mut g).is_finite());
}

// Items 8 and 9: figures that made cost infinite or outputs NaN are refused, located.

#[test]
fn figures_that_made_outputs_infinite_are_refused_with_their_range() {
    for (from, to, path, range) in [
        (
            "electricity_usd_per_kwh = 0.10",
            "electricity_usd_per_kwh = 1e308",
            "t.toml:26:27: sites.johor.electricity_usd_per_kwh",
            "[0, 100]",
        ),
        ("pue = 1.4", "pue = 1e308", "sites.johor.pue", "[1, 3]"),
        (
            "all_in_power_w = 1300",
            "all_in_power_w = 1e308",
            "chips.h100.all_in_power_w",
            "[1, 100000]",
        ),
        (
            "purchase_usd = 25000",
            "purchase_usd = 1e308",
            "chips.h100.purchase_usd",
            "[0, 1000000000]",
        ),
        (
            "lease_usd_per_chip_hour = 2.35",
            "lease_usd_per_chip_hour = 1e308",
            "chips.h100.lease_usd_per_chip_hour",
            "[0, 10000]",
        ),
        (
            "fee_fraction = 0.15",
            "fee_fraction = 1e308",
            "policy.fee.fee_fraction",
            "[0, 100]",
        ),
        (
            "pricing = \"owned\"",
            "pricing = \"owned\"\namortisation_years = 5e-324",
            "sites.home.amortisation_years",
            "[0.1, 100]",
        ),
        (
            "tokens_per_day = 1e11",
            "tokens_per_day = 1e308",
            "firms.acme.workloads.chat.tokens_per_day",
            "0 or a number in [1, 1e18]",
        ),
        (
            // Found by `what_loads_runs_with_finite_outputs`: a demand of 1e-302 tokens a day
            // served some 1e-300 tokens, and the cost per million tokens overflowed to infinity.
            "tokens_per_day = 1e11",
            "tokens_per_day = 1e-302",
            "firms.acme.workloads.chat.tokens_per_day",
            "0 or a number in [1, 1e18]",
        ),
        (
            "bf16_dense_tflops = 989",
            "bf16_dense_tflops = 5e-324",
            "chips.h100.bf16_dense_tflops",
            "[1, 1000000]",
        ),
        (
            "growth_per_year = 2.5",
            "growth_per_year = 1e308",
            "firms.acme.workloads.chat.growth_per_year",
            "[0.01, 1000]",
        ),
        (
            "growth_per_year = 2.5",
            "growth_per_year = 1e-308",
            "firms.acme.workloads.chat.growth_per_year",
            "[0.01, 1000]",
        ),
        (
            "batch_hours = 1",
            "batch_hours = 1e50",
            "firms.acme.workloads.chat.batch_hours",
            "[0.01, 8766]",
        ),
        (
            "training_mfu = 0.40",
            "training_mfu = 5e-324",
            "chips.h100.training_mfu",
            "[0.01, 1]",
        ),
        (
            "inference_tokens_per_s = 2800",
            "inference_tokens_per_s = 5e-324",
            "chips.h100.inference_tokens_per_s",
            "0 or a number in [1, 1000000000]",
        ),
    ] {
        let msg = refused(&with(from, to), to);
        assert!(msg.contains(path), "{to}: {msg}");
        let help = msg.split("\n  help: ").nth(1).unwrap_or("");
        assert!(help.contains(range), "{to}: the help gives no range: {msg}");
    }
}

#[test]
fn validate_refuses_an_infinite_cost_with_exit_2() {
    let dir = tmp("limits-cli");
    let file = dir.join("t.toml");
    std::fs::write(&file, with("pue = 1.4", "pue = 1e308")).unwrap();
    let (code, _, err) = capsim(&["validate", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("sites.johor.pue: must be a number in [1, 3]"),
        "{err}"
    );
}

// Item 10 and 13: names have a length limit; the run name is a file name.

#[test]
fn long_names_are_refused_with_the_limit() {
    let long = "p".repeat(8_000);
    let msg = refused(
        &with("name = \"fee\"", &format!("name = \"{long}\"")),
        "long policy name",
    );
    assert!(
        msg.contains("8000 characters long, more than the limit of 200"),
        "{msg}"
    );
    let msg = refused(
        &with("[sites.home]", &format!("[sites.{}]", "h".repeat(201))),
        "long site name",
    );
    assert!(msg.contains("limit of 200"), "{msg}");
    let msg = refused(
        &with(
            "name = \"two-sites\"",
            &format!("name = \"{}\"", "n".repeat(300)),
        ),
        "long run name",
    );
    assert!(msg.contains("t.toml:2:8: name: invalid run name"), "{msg}");
    assert!(msg.contains("limit of 200"), "{msg}");
    for bad in ["a/b", "..", "a\\u0000b"] {
        refused(
            &with("name = \"two-sites\"", &format!("name = \"{bad}\"")),
            bad,
        );
    }
    // 200 characters is fine.
    load(&with(
        "name = \"fee\"",
        &format!("name = \"{}\"", "p".repeat(200)),
    ))
    .unwrap();
}

// Item 11: horizons, listed dates and chip counts are bounded.

#[test]
fn horizons_longer_than_50_years_are_refused() {
    for (from, to) in [
        ("end_date = 2025-03-01", "end_date = 9999-12-31"),
        ("start_date = 2025-01-01", "start_date = 0001-01-01"),
    ] {
        let msg = refused(&with(from, to), to);
        assert!(msg.contains("more than the limit of 18263 days"), "{msg}");
        assert!(msg.contains("end_date"), "{msg}");
    }
    // 50 years is fine.
    load(&with("end_date = 2025-03-01", "end_date = 2074-12-31")).unwrap();
}

#[test]
fn more_than_10000_listed_dates_are_refused() {
    let dates = vec!["2025-01-02"; 10_001].join(", ");
    let msg = refused(
        &with(
            "arrivals = { every_days = 20 }",
            &format!("arrivals = {{ dates = [{dates}] }}"),
        ),
        "dates",
    );
    assert!(msg.contains("arrivals.dates: 10001 dates listed, more than the limit of 10000"));
    let msg = refused(
        &with("initial_chips = 4096", "initial_chips = 1000000000000"),
        "chips",
    );
    assert!(msg.contains("sites.home.initial_chips"), "{msg}");
}

#[test]
fn a_one_day_horizon_loads_and_runs() {
    let one_day = with("end_date = 2025-03-01", "end_date = 2025-01-01").replace(POLICIES, "");
    let sc = load(&one_day).unwrap();
    assert_eq!(sc.start_date, sc.end_date);
    let r = run_once(&sc);
    assert_eq!(r.periods.starts.len(), 1);
    assert_eq!(non_finite(&r), None);
    refused(
        &with("end_date = 2025-03-01", "end_date = 2024-12-31"),
        "end before start",
    );
}

// Item 12: `extends` opens only regular files of bounded size, and says where it was written.

#[cfg(unix)]
#[test]
fn extends_of_a_folder_a_fifo_or_a_device_is_refused_at_its_line() {
    let dir = tmp("limits-extends");
    std::fs::create_dir_all(dir.join("folder")).unwrap();
    let fifo = dir.join("fifo.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let mut targets = vec![
        ("folder", "a folder"),
        ("/dev/zero", "a device, pipe or socket"),
    ];
    if made {
        targets.push(("fifo.toml", "a device, pipe or socket"));
    }
    for (target, what) in targets {
        let text = format!("name = \"child\"\nextends = \"{target}\"\n");
        let t = std::time::Instant::now();
        let err = scenario::load_str(&text, "child.toml", Some(&dir)).unwrap_err();
        let msg = err.to_string();
        assert!(t.elapsed().as_secs() < 5, "{target}: {:?}", t.elapsed());
        assert!(
            msg.starts_with("child.toml:2:11: extends: cannot read"),
            "{msg}"
        );
        assert!(msg.contains(what), "{msg}");
        assert!(msg.contains("\n  help: "), "{msg}");
    }
}

#[cfg(unix)]
#[test]
fn a_scenario_path_that_is_a_device_or_folder_is_refused_at_once() {
    let dir = tmp("limits-root");
    for path in [std::path::Path::new("/dev/zero"), dir.as_path()] {
        let t = std::time::Instant::now();
        let msg = scenario::load_file(path).unwrap_err().to_string();
        assert!(t.elapsed().as_secs() < 5, "{path:?}: {:?}", t.elapsed());
        assert!(msg.contains("not a regular file"), "{msg}");
    }
}

#[test]
fn extends_of_a_file_over_16_mib_is_refused() {
    let dir = tmp("limits-big");
    std::fs::write(dir.join("big.toml"), vec![b'#'; (16 << 20) + 1]).unwrap();
    let text = "name = \"child\"\nextends = \"big.toml\"\n";
    let msg = scenario::load_str(text, "child.toml", Some(&dir))
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("child.toml:2:11: extends: cannot read"),
        "{msg}"
    );
    assert!(msg.contains("larger than 16 MiB"), "{msg}");
}

// Found by the mutation campaign (tools/mutation-campaign/): counts that items 11's limits
// did not cover.

#[test]
fn more_than_a_million_batch_jobs_are_refused() {
    let fifty_years = |arrivals: &str| {
        with("end_date = 2025-03-01", "end_date = 2074-12-31")
            .replace(POLICIES, "")
            .replace("arrivals = { every_days = 20 }", arrivals)
    };
    // A job every 0.01 days for 50 years: 1.8 million jobs, all kept for jobs.csv (the run took
    // 40 s and 4.8 GB and wrote a 1.9 GB jobs.csv before the limit).
    let msg = refused(
        &fifty_years("arrivals = { every_days = 0.01 }"),
        "every 0.01 days",
    );
    assert!(
        msg.contains("firms.acme.workloads.pretraining.arrivals.every_days: about 1826200 jobs"),
        "{msg}"
    );
    assert!(
        msg.contains("more than the limit of 1000000 batch jobs per replication"),
        "{msg}"
    );
    // A distribution counts at the shortest gap it can draw.
    let msg = refused(
        &fifty_years("arrivals = { mean_gap_days = { uniform = [0.01, 100] } }"),
        "uniform gap",
    );
    assert!(
        msg.contains("arrivals.mean_gap_days: about 1826200 jobs"),
        "{msg}"
    );
    // Just under the limit loads (it is not run here).
    load(&fifty_years("arrivals = { every_days = 0.02 }")).unwrap();
}

#[test]
fn a_sweep_too_large_to_count_is_refused_at_once() {
    // 10,001 axes of two values: 2^10001 points. The count saturated and the message said
    // "18446744073709551615 points"; each axis's field was checked on a copy of the whole scenario
    // before the count, so the refusal took seconds.
    let axes = vec!["\"chips.h100.training_mfu=0.3,0.4\""; 10_001].join(", ");
    let t = std::time::Instant::now();
    let msg = refused(
        &format!("{}\n[sweep]\nvary = [{axes}]\n", base()),
        "huge sweep",
    );
    assert!(t.elapsed().as_secs() < 3, "{:?}", t.elapsed());
    assert!(
        msg.contains(
            "sweep.vary: the sweep has more points than can be counted, and the limit is 10000"
        ),
        "{msg}"
    );
    assert!(!msg.contains("18446744073709551615"), "{msg}");
    // The command line's --vary says the same.
    let axes: Vec<_> = (0..70)
        .map(|_| experiment::sweep::parse_axis("chips.h100.training_mfu=0.3,0.4").unwrap())
        .collect();
    let e = experiment::sweep::Plan::new(axes, experiment::sweep::Design::Grid).unwrap_err();
    assert!(
        e.to_string().contains("more points than can be counted"),
        "{e}"
    );
    // One field varied by many axes (one at a time, under the limit): a second axis on a field
    // would override the first at every point, so it is refused, at once and at its entry (the
    // baseline, 9,000 axes; a mutation campaign once made such a sweep run for minutes).
    let axes = vec!["\"chips.h100.training_mfu=0.3\""; 9_000].join(", ");
    let text = format!(
        "{}\n[sweep]\nvary = [{axes}]\ndesign = \"one-at-a-time\"\n",
        scenario::BASELINE_TOML
    );
    let t = std::time::Instant::now();
    let msg = load(&text).unwrap_err().to_string();
    assert!(t.elapsed().as_secs() < 3, "{:?}", t.elapsed());
    assert!(
        msg.contains("sweep.vary[1]: axis 'chips.h100.training_mfu=0.3' varies chips.h100.training_mfu again (vary[0] already does)"),
        "{msg}"
    );
    assert!(msg.contains("give each field one axis"), "{msg}");
}

// The promise of items 6-9: anything that loads runs to the end with finite outputs.

/// Figures of `base()` that a case may change: the text to find, the key it sets, and a typical
/// value (mutations scatter around it).
const FIGURES: &[(&str, &str, f64)] = &[
    ("bf16_dense_tflops = 989", "bf16_dense_tflops", 989.0),
    ("memory_gb = 80", "memory_gb", 80.0),
    ("board_power_w = 700", "board_power_w", 700.0),
    ("all_in_power_w = 1300", "all_in_power_w", 1300.0),
    ("training_mfu = 0.40", "training_mfu", 0.4),
    (
        "inference_tokens_per_s = 2800",
        "inference_tokens_per_s",
        2800.0,
    ),
    ("purchase_usd = 25000", "purchase_usd", 25000.0),
    (
        "lease_usd_per_chip_hour = 2.35",
        "lease_usd_per_chip_hour",
        2.35,
    ),
    (
        "lease_usd_per_chip_hour = 0.5",
        "lease_usd_per_chip_hour",
        0.5,
    ),
    (
        "electricity_usd_per_kwh = 0.10",
        "electricity_usd_per_kwh",
        0.1,
    ),
    ("pue = 1.3", "pue", 1.3),
    (
        "mtbf_hours = 1e9\nrepair_hours = 24\ninitial",
        "mtbf_hours",
        50000.0,
    ),
    ("repair_hours = 24", "repair_hours", 24.0),
    ("pricing = \"owned\"", "amortisation_years", 4.0),
    ("size_flop = 3e21", "size_flop", 3e+21),
    ("every_days = 20", "every_days", 20.0),
    ("checkpoint_hours = 1.0", "checkpoint_hours", 1.0),
    ("restart_hours = 0.5", "restart_hours", 0.5),
    ("tokens_per_day = 1e11", "tokens_per_day", 100000000000.0),
    ("growth_per_year = 2.5", "growth_per_year", 2.5),
    ("daily_amplitude = 0.3", "daily_amplitude", 0.3),
    ("batch_hours = 1", "batch_hours", 1.0),
    ("fee_fraction = 0.15", "fee_fraction", 0.15),
];

/// A number near `typical` (within a factor of 100), anywhere from 1e-320 to 1e308, or 0.
fn magnitude(typical: f64) -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => (-2.0f64..2.0).prop_map(move |e| typical * 10f64.powf(e)),
        1 => (-320i32..=308, 1.0f64..10.0).prop_map(|(e, m)| format!("{m}e{e}").parse().unwrap()),
        1 => Just(0.0),
    ]
}

/// Three magnitudes in order.
fn three(typical: f64) -> impl Strategy<Value = [f64; 3]> {
    (magnitude(typical), magnitude(typical), magnitude(typical)).prop_map(|(a, b, c)| {
        let mut v = [a, b, c];
        v.sort_by(f64::total_cmp);
        v
    })
}

/// A value for a figure whose typical value is `typical`: a number or a distribution, as TOML.
fn value(typical: f64) -> impl Strategy<Value = String> {
    prop_oneof![
        magnitude(typical).prop_map(|v| format!("{v:e}")),
        three(typical).prop_map(|v| format!("{{ uniform = [{:e}, {:e}] }}", v[0], v[2])),
        three(typical)
            .prop_map(|v| format!("{{ triangular = [{:e}, {:e}, {:e}] }}", v[0], v[1], v[2])),
        three(typical).prop_map(|v| format!(
            "{{ lognormal = {{ median = {:e}, p95 = {:e} }} }}",
            v[1], v[2]
        )),
    ]
}

/// One change: a figure's index and its new value.
fn change() -> impl Strategy<Value = (usize, String)> {
    (0..FIGURES.len()).prop_flat_map(|i| (Just(i), value(FIGURES[i].2)))
}

/// `base()` with one or two figures set to `values`.
fn mutated(changes: &[(usize, String)]) -> String {
    let mut text = base();
    for (i, v) in changes {
        let (find, key, _) = FIGURES[i % FIGURES.len()];
        let set = if key == "amortisation_years" || key == "mtbf_hours" {
            // Keep what follows the figure's text.
            let rest = find.split_once('\n').map_or("", |(_, r)| r);
            let head = if key == "amortisation_years" {
                format!("{find}\n{key} = {v}")
            } else {
                format!("{key} = {v}\n{rest}")
            };
            head
        } else {
            format!("{key} = {v}")
        };
        text = text.replacen(find, &set, 1);
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn what_loads_runs_with_finite_outputs(
        changes in proptest::collection::vec(change(), 1..3)
    ) {
        let text = mutated(&changes);
        match load(&text) {
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(e.location().is_some(), "no location: {msg}");
                prop_assert!(msg.contains("\n  help: "), "no help: {msg}");
            }
            Ok(sc) => {
                if std::env::var_os("CAPSIM_SHOW_CASES").is_some() {
                    eprintln!("runs: {changes:?}");
                }
                let r = experiment::execute(
                    &sc,
                    RunOptions { seed: sc.seed, replications: 1, period: PeriodKind::Month, threads: Some(1) },
                );
                let r = match r {
                    Ok(r) => r,
                    Err(e) => return Err(TestCaseError::fail(format!("{changes:?}: run failed: {e}"))),
                };
                prop_assert_eq!(non_finite(&r), None, "{:?}", changes);
            }
        }
    }
}

/// A switched-off policy written out in full is checked like any other, so that a mistake in it is
/// found when the file loads, not on the day someone switches it on; it does not run, and leaves
/// no uncertain input behind.
#[test]
fn a_switched_off_policy_is_checked_but_not_run() {
    let off = with(
        "fee_fraction = 0.15",
        "fee_fraction = 0.15\nenabled = false",
    );
    let sc = load(&off).expect("a switched-off policy that is right loads");
    assert!(
        sc.world.timeline.policies.iter().all(|p| p.name != "fee"),
        "a switched-off policy does not run"
    );
    let msg = refused(
        &off.replacen("fee_fraction = 0.15", "fee_fraction = 1000", 1),
        "out of range",
    );
    assert!(msg.contains("policy.fee.fee_fraction"), "{msg}");
    let msg = refused(
        &off.replacen("rule = \"licence_fee\"", "rule = \"licence_fees\"", 1),
        "unknown rule",
    );
    assert!(msg.contains("licence_fees"), "{msg}");
    let uncertain = off.replacen(
        "fee_fraction = 0.15",
        "fee_fraction = { uniform = [0.1, 0.2] }",
        1,
    );
    let sc = load(&uncertain).expect("loads");
    assert!(sc.inputs.is_empty(), "{:?}", sc.inputs);

    // Setting one of its fields (`--set`, a sweep axis) would change nothing: refused, with how to
    // switch it on; switched on first, the same setting runs.
    let mut sc = load(&off).expect("loads");
    let e = sc
        .set_field("policy.fee.fee_fraction", toml::Value::Float(0.2))
        .expect_err("a field of a switched-off policy");
    let msg = e.to_string();
    assert!(msg.contains("is switched off"), "{msg}");
    assert!(msg.contains("policy.fee.enabled = true"), "{msg}");
    sc.set_field("policy.fee.enabled", toml::Value::Boolean(true))
        .expect("switched on");
    sc.set_field("policy.fee.fee_fraction", toml::Value::Float(0.2))
        .expect("then set");
    assert!(sc.world.timeline.policies.iter().any(|p| p.name == "fee"));
}

/// A switched-off policy dated after the horizon does not stop the load (a shorter what-if of a
/// base that switches a later rule off must load), but it is still checked.
#[test]
fn a_switched_off_policy_beyond_the_horizon_is_checked_but_does_not_stop_the_load() {
    let later = with(
        "from = 2025-01-15\nfee_fraction = 0.15",
        "from = 2026-06-01\nuntil = 2026-12-31\nfee_fraction = 0.15\nenabled = false",
    );
    let sc = load(&later).unwrap_or_else(|e| panic!("a later switched-off rule loads: {e}"));
    assert!(sc.world.timeline.policies.is_empty());
    // Switched on, the same dates are refused: the rule would start after end_date.
    let msg = refused(
        &later.replace("enabled = false", "enabled = true"),
        "switched on",
    );
    assert!(msg.contains("policy.fee.from"), "{msg}");
    // Switched off, a mistake in it is still refused.
    let msg = refused(
        &later.replace(
            "chip = \"h100\"\nto = \"MY\"",
            "chip = \"h1000\"\nto = \"MY\"",
        ),
        "bad chip in a switched-off rule",
    );
    assert!(msg.contains("h1000"), "{msg}");
}
