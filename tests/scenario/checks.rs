//! Scenario rules checked through runs and the command line: every end date is inclusive (the last
//! day on which a thing applies or happens), and a `[sweep]` section is checked when the file loads.

use crate::support::{capsim, load, tmp, two_sites};
use capsim::experiment::{self, RunOptions, RunResult};
use capsim::metrics::PeriodKind;
use capsim::scenario::Scenario;

/// One replication reported by day.
fn run_daily(sc: &Scenario) -> RunResult {
    experiment::execute(
        sc,
        RunOptions {
            seed: sc.seed,
            replications: 1,
            period: PeriodKind::Day,
            threads: Some(1),
        },
    )
    .unwrap_or_else(|e| panic!("run failed: {e}"))
}

/// Index of the daily period that starts on `date`.
fn day_index(r: &RunResult, date: &str) -> usize {
    let d: chrono::NaiveDate = date.parse().unwrap();
    r.periods
        .starts
        .iter()
        .position(|s| *s == d)
        .unwrap_or_else(|| panic!("no period starts on {date}"))
}

#[test]
fn a_licence_fee_until_march_31_applies_on_march_31_and_not_on_april_1() {
    let policy = r#"
[[policy]]
name = "fee"
rule = "licence_fee"
chip = "h100"
to = "MY"
fee_fraction = 0.5
from = 2025-03-01
until = 2025-03-31
"#;
    // Flat inference demand, served at Johor (cheapest even with the fee) every hour of the year.
    let workloads = r#"
[[firms.acme.workloads]]
name = "chat"
kind = "inference"
tokens_per_day = 1e11
"#;
    let sc = load(&two_sites(policy, workloads));
    let p = &sc.world.timeline.policies[0];
    assert!(p.in_force(sc.date_to_time("2025-03-31".parse().unwrap())));
    assert!(!p.in_force(sc.date_to_time("2025-04-01".parse().unwrap())));

    let r = run_daily(&sc);
    let firm = &r.runs[0].firm[0];
    let cost = |d: &str| firm[day_index(&r, d)].cost_usd();
    let (feb28, mar1, mar31, apr1) = (
        cost("2025-02-28"),
        cost("2025-03-01"),
        cost("2025-03-31"),
        cost("2025-04-01"),
    );
    assert!(apr1 > 0.0, "Johor serves the demand");
    assert!(mar31 > apr1 * 1.2, "fee on its last day: {mar31} vs {apr1}");
    assert!(
        mar1 > feb28 * 1.2,
        "fee on its first day: {mar1} vs {feb28}"
    );
    assert!((mar31 - mar1).abs() < 1e-6 * mar1, "{mar31} vs {mar1}");
    assert!((apr1 - feb28).abs() < 1e-6 * feb28, "{apr1} vs {feb28}");
}

#[test]
fn a_workload_generates_arrivals_on_its_end_date() {
    // Every 12 hours on one day: 00:00 and 12:00 on 2025-03-31, its first and last day.
    let workloads = r#"
[[firms.acme.workloads]]
name = "tuning"
kind = "fine_tuning"
start_date = 2025-03-31
end_date = 2025-03-31
arrivals = { every_days = 0.5 }
size_flop = 1e18
gang_chips = 8
checkpoint_hours = 1
restart_hours = 0.5
"#;
    let sc = load(&two_sites("", workloads));
    let r = run_daily(&sc);
    let firm = &r.runs[0].firm[0];
    assert_eq!(firm[day_index(&r, "2025-03-30")].jobs_arrived, 0);
    assert_eq!(firm[day_index(&r, "2025-03-31")].jobs_arrived, 2);
}

/// A copy of `two_sites` with a `[sweep]` section, written to a scratch folder.
fn with_sweep(name: &str, sweep: &str) -> (std::path::PathBuf, String) {
    let dir = tmp(name);
    let text = format!("{}\n[sweep]\n{sweep}\n", two_sites("", ""));
    let path = dir.join("bad.toml");
    std::fs::write(&path, &text).unwrap();
    (dir, path.display().to_string())
}

/// The 1-based line of the first line of `text` that contains `needle`.
fn line_of(path: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn validate_refuses_an_unknown_sweep_design_with_its_place() {
    let (_dir, path) = with_sweep(
        "sweep-design",
        "vary = [\"sites.johor.pue=1.2,1.3\"]\ndesign = \"gird\"",
    );
    let (code, out, err) = capsim(&["validate", &path]);
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    let line = line_of(&path, "design = \"gird\"");
    assert!(err.contains(&format!("{path}:{line}:10")), "{err}");
    assert!(err.contains("sweep.design"), "{err}");
    assert!(err.contains("help:") && err.contains("grid") && err.contains("one-at-a-time"));
}

#[test]
fn validate_refuses_a_malformed_sweep_axis_with_its_place() {
    let (_dir, path) = with_sweep(
        "sweep-vary",
        "vary = [\"sites.johor.pue=1.2,1.3\", \"garbage\"]",
    );
    let (code, out, err) = capsim(&["validate", &path]);
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    let line = line_of(&path, "garbage");
    assert!(err.contains(&format!("{path}:{line}:")), "{err}");
    assert!(err.contains("sweep.vary[1]"), "{err}");
    assert!(err.contains("help:") && err.contains("PATH=V1,V2"), "{err}");
    assert!(!err.contains("--vary"), "nobody gave --vary: {err}");
}

#[test]
fn validate_refuses_a_sweep_axis_on_a_field_that_does_not_exist() {
    let (_dir, path) = with_sweep("sweep-path", "vary = [\"sites.johor.puee=1.2,1.3\"]");
    let (code, _, err) = capsim(&["validate", &path]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sweep.vary[0]"), "{err}");
    assert!(
        err.contains("puee") && err.contains("did you mean 'pue'"),
        "{err}"
    );
}

#[test]
fn sweep_blames_the_file_not_the_command_line_for_a_bad_sweep_section() {
    let (dir, path) = with_sweep("sweep-cli", "vary = [\"garbage\"]");
    let out = dir.join("o").display().to_string();
    let (code, _, err) = capsim(&["sweep", &path, "--out", &out, "--quiet"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sweep.vary[0]"), "{err}");
    assert!(!err.contains("--vary"), "{err}");
    // A --vary on the command line replaces a good file's axes, and is blamed when it is wrong.
    let (_dir, good) = with_sweep("sweep-cli-good", "vary = [\"sites.johor.pue=1.2,1.3\"]");
    let (code, _, err) = capsim(&["sweep", &good, "--out", &out, "--quiet", "--vary", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--vary 'x'"), "{err}");
}
