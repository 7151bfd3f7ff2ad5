//! Reports: what a run writes. Exporters are pure functions returning bytes (`csv`, `manifest`);
//! `output` does the file I/O. Nothing here recomputes what the metrics hold.

pub mod charts;
pub mod compare;
pub mod csv;
pub mod html;
pub mod manifest;
pub mod output;
pub mod sweep;
pub mod view;

use crate::experiment::RunResult;
use crate::scenario::Scenario;

/// The manifest of a finished run.
pub fn manifest_of(scenario: &Scenario, result: &RunResult) -> manifest::Manifest {
    let mut ledger = manifest::Ledger::default();
    for r in &result.runs {
        ledger.add(&r.jobs);
    }
    let (sites, firms, policies) = view::world_entries(scenario);
    manifest::Manifest {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        content_hash: scenario.content_hash.clone(),
        files: scenario.files.clone(),
        overrides: scenario.overrides(),
        seed: result.options.seed,
        replications: result.options.replications,
        period: result.options.period.as_str().to_string(),
        start_date: scenario.start_date.to_string(),
        end_date: scenario.end_date.to_string(),
        capsim_version: env!("CARGO_PKG_VERSION").to_string(),
        wall_time_s: result.wall_time_s,
        events: result.runs.iter().map(|r| r.events).sum(),
        jobs: ledger,
        sites,
        firms,
        policies,
    }
}

/// `provenance.csv`: every input figure's field path and the source the scenario gives for it.
pub fn provenance_csv(scenario: &Scenario) -> Vec<u8> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(["field", "source"]).expect("in memory");
    for p in &scenario.provenance {
        w.write_record([&p.path, &p.source]).expect("in memory");
    }
    w.into_inner().expect("in memory")
}

/// The data files of a run folder (CSVs and manifest), as (relative path, bytes), in a fixed order.
/// [`run_folder_files`] adds the report and charts.
pub fn run_files(scenario: &Scenario, result: &RunResult) -> Vec<(String, Vec<u8>)> {
    let world = &scenario.world;
    let m = manifest_of(scenario, result);
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
        (
            "headline.csv".into(),
            csv::headlines(world, &result.periods, &result.runs),
        ),
        (
            "jobs.csv".into(),
            csv::jobs(world, &result.periods, &result.runs),
        ),
        ("provenance.csv".into(), provenance_csv(scenario)),
        ("draws.csv".into(), csv::draws(&result.draws)),
        ("manifest.json".into(), manifest::to_json(&m)),
    ]
}

/// Every file of a run folder: [`run_files`], then `report.html` and `charts/<name>.svg|png`.
pub fn run_folder_files(
    scenario: &Scenario,
    result: &RunResult,
) -> Result<Vec<(String, Vec<u8>)>, charts::ChartError> {
    let mut files = run_files(scenario, result);
    let view = view::RunView::from_run(scenario, result);
    let charts = charts::render(std::slice::from_ref(&view))?;
    files.push(("report.html".into(), html::run_report(&view, &charts)));
    files.extend(chart_files(&charts));
    Ok(files)
}

/// `charts/<name>.svg` and `charts/<name>.png` for each chart, in chart order.
pub fn chart_files(charts: &[charts::Chart]) -> Vec<(String, Vec<u8>)> {
    charts
        .iter()
        .flat_map(|c| {
            [
                (format!("charts/{}.svg", c.name), c.svg.clone().into_bytes()),
                (format!("charts/{}.png", c.name), c.png.clone()),
            ]
        })
        .collect()
}
