//! Reports: what a run writes. Exporters are pure functions returning bytes (`csv`, `manifest`);
//! `output` does the file I/O. Nothing here recomputes what the metrics hold.

pub mod csv;
pub mod manifest;
pub mod output;

use crate::experiment::RunResult;
use crate::scenario::Scenario;

/// Every file of a run folder, as (relative path, bytes), in a fixed order.
pub fn run_files(scenario: &Scenario, result: &RunResult) -> Vec<(String, Vec<u8>)> {
    let world = &scenario.world;
    let mut ledger = manifest::Ledger::default();
    for r in &result.runs {
        ledger.add(&r.jobs);
    }
    let m = manifest::Manifest {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        content_hash: scenario.content_hash.clone(),
        files: scenario.files.clone(),
        seed: result.options.seed,
        replications: result.options.replications,
        period: result.options.period.as_str().to_string(),
        start_date: scenario.start_date.to_string(),
        end_date: scenario.end_date.to_string(),
        capsim_version: env!("CARGO_PKG_VERSION").to_string(),
        wall_time_s: result.wall_time_s,
        events: result.runs.iter().map(|r| r.events).sum(),
        jobs: ledger,
    };
    vec![
        (
            "timeseries.csv".into(),
            csv::timeseries(world, &result.periods, &result.runs),
        ),
        (
            "firms.csv".into(),
            csv::firms(world, &result.periods, &result.runs),
        ),
        (
            "summary.csv".into(),
            csv::summary(&result.periods, &result.summary),
        ),
        ("manifest.json".into(), manifest::to_json(&m)),
    ]
}
