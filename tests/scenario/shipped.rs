//! Every file under `scenarios/` loads, runs (on a short horizon), and keeps its invariants.

use std::path::Path;

use capsim::metrics::{PeriodKind, Periods};
use capsim::model::run_replication;
use capsim::scenario;

#[test]
fn every_shipped_scenario_loads_and_runs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let sc = scenario::load_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!sc.provenance.is_empty(), "{}: no sources", path.display());
        // A short horizon keeps the test fast; the full horizon runs in the benchmark.
        let end = sc.start_date + chrono::Days::new(120);
        let periods = Periods::new(sc.start_date, end, PeriodKind::Week);
        let m = run_replication(&sc.world, &periods, sc.seed, 0)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(m.jobs.is_conserved(), "{}: {:?}", path.display(), m.jobs);
        assert!(m.events > 0);
        seen += 1;
    }
    assert!(
        seen >= 5,
        "expected at least the baseline and four what-ifs, found {seen}"
    );
}

#[test]
fn baseline_runs_its_full_horizon_with_every_invariant() {
    let sc = scenario::baseline().unwrap();
    let r = crate::support::run(&sc, 1);
    let m = &r.runs[0];
    assert!(m.jobs.is_conserved(), "{:?}", m.jobs);
    assert!(m.jobs.completed > 0, "{:?}", m.jobs);
    for (s, rows) in m.site.iter().enumerate() {
        for row in rows {
            assert!(row.chip_hours_busy <= row.chip_hours_online * (1.0 + 1e-9) + 1e-6);
            for v in [
                row.cost_usd,
                row.energy_mwh,
                row.compute_pflop_days,
                row.tokens_served,
            ] {
                assert!(v.is_finite() && v >= 0.0, "site {s}: {v}");
            }
        }
    }
    // The baseline is the story: Chinese firms train abroad and at home.
    let abroad: f64 = m
        .firm
        .iter()
        .flatten()
        .map(|f| f.compute_abroad_pflop_days)
        .sum();
    let home: f64 = m
        .firm
        .iter()
        .flatten()
        .map(|f| f.compute_home_pflop_days)
        .sum();
    assert!(abroad > 0.0 && home > 0.0, "home {home}, abroad {abroad}");
}

/// The baseline held against what happened: its held-out observations (not inputs, not context)
/// are scored, and every one the model misses is listed, with its reason, in the README's table
/// "Where the baseline misses". Issue 11 asks for at least 80% inside; the national baseline
/// reaches 6 of 17 (35%), and this test holds that floor so that a change that loses ground is
/// seen, while the README says why each miss is a miss.
#[test]
fn the_baseline_is_held_against_its_held_out_observations_and_every_miss_is_explained() {
    use capsim::report::observed::{self, Status};
    let sc = scenario::baseline().expect("the embedded baseline loads");
    let result = crate::support::run(&sc, 8);
    let held = observed::hold(&sc, &result);
    let (scored, inside) = observed::score(&held);
    assert!(
        scored >= 17,
        "only {scored} held-out observations are scored"
    );
    assert!(
        inside >= 6,
        "{inside} of {scored} inside: fewer than the 6 the README reports for one replication"
    );
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let table = readme
        .split("Where the baseline misses")
        .nth(1)
        .expect("the README's table of misses");
    for h in held.iter().filter(|h| h.status == Status::Outside) {
        let row = format!("| {} | `{}` | {} |", h.obs.date, h.obs.metric, h.obs.group);
        assert!(
            table.contains(&row),
            "the README does not list the miss {row} (model {:?})",
            h.sim.map(|s| s.mean)
        );
    }
}
