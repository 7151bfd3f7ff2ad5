//! The assembler of the report layer: every file of a run folder, a comparison folder and a sweep
//! folder, as (relative path, bytes) in a fixed order, from the data modules ([`view`],
//! [`compare`], [`sweep`], [`manifest`]) and the renderers ([`csv`], [`charts`], [`html`]).
//! [`super::output`] writes them. Nothing imports this module but the CLI (and tests).

use super::charts::{self, Chart, ChartError};
use super::compare::{self, Comparison};
use super::output::Content;
use super::sweep::{self, SweepManifest};
use super::view::{self, RunView};
use super::{csv, html, manifest, observed};
use crate::experiment::sweep::{reduce, Record};
use crate::experiment::RunResult;
use crate::scenario::Scenario;

/// The data files of a run folder (CSVs and manifest), as (relative path, content), in a fixed
/// order; `summary.csv`, the largest, is streamed to disk when written. Every CSV starts with the
/// columns `run` (`run`, the run's name: its folder's) and `scenario`. [`run_folder_files`] adds
/// the report and charts.
pub fn run_files<'a>(
    scenario: &'a Scenario,
    result: &'a RunResult,
    run: &'a str,
) -> Vec<(String, Content<'a>)> {
    let world = &scenario.world;
    let m = view::manifest_of(scenario, result);
    let tag = csv::Tag {
        run,
        scenario: &scenario.name,
    };
    let bytes = |name: &str, b: Vec<u8>| (name.to_string(), Content::Bytes(b));
    vec![
        bytes(
            "timeseries.csv",
            csv::timeseries(tag, world, &result.periods, &result.runs),
        ),
        bytes(
            "firms.csv",
            csv::firms(tag, world, &result.periods, &result.runs),
        ),
        (
            "summary.csv".into(),
            Content::Stream(Box::new(move |w| {
                csv::summary_to(w, tag, &result.periods, &result.summary)
            })),
        ),
        bytes(
            "headline.csv",
            csv::headlines(tag, world, &result.periods, &result.runs),
        ),
        bytes(
            "jobs.csv",
            csv::jobs(tag, world, &result.periods, &result.runs),
        ),
        bytes(
            "decisions.csv",
            csv::decisions(tag, world, &result.periods, &result.runs),
        ),
        bytes("provenance.csv", csv::provenance(tag, scenario)),
        bytes("inputs.csv", csv::inputs(tag, scenario)),
        bytes("draws.csv", csv::draws(tag, &result.draws)),
        bytes("manifest.json", manifest::to_json(&m)),
    ]
}

/// Every file of a run folder named `run`: [`run_files`], then `report.html` and
/// `charts/<name>.svg|png`.
pub fn run_folder_files<'a>(
    scenario: &'a Scenario,
    result: &'a RunResult,
    run: &'a str,
) -> Result<Vec<(String, Content<'a>)>, ChartError> {
    let mut files = run_files(scenario, result, run);
    let view = RunView::from_run(scenario, result);
    let held = observed::hold(scenario, result);
    let charts = charts::render_observed(std::slice::from_ref(&view), &held)?;
    if !held.is_empty() {
        files.push((
            "observations.csv".into(),
            Content::Bytes(observed::observations_csv(
                csv::Tag {
                    run,
                    scenario: &scenario.name,
                },
                &held,
            )),
        ));
    }
    files.push((
        "report.html".into(),
        Content::Bytes(html::run_report(&view, &charts, &held)),
    ));
    files.extend(
        chart_files(&charts)
            .into_iter()
            .map(|(name, b)| (name, Content::Bytes(b))),
    );
    Ok(files)
}

/// `charts/<name>.svg` and `charts/<name>.png` for each chart, in chart order.
pub fn chart_files(charts: &[Chart]) -> Vec<(String, Vec<u8>)> {
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

/// Every file of a comparison folder: `comparison.csv`, `report.html`, then
/// `charts/<name>.svg|png` for `charts` (from `charts::render(views)`).
pub fn compare_files(
    c: &Comparison,
    views: &[RunView],
    charts: &[Chart],
) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("comparison.csv".to_string(), compare::comparison_csv(c)),
        (
            "report.html".to_string(),
            html::compare_report(c, views, charts),
        ),
    ];
    out.extend(chart_files(charts));
    out
}

/// Every file of a sweep folder (or shard folder), in a fixed order: `records.csv`; for a whole
/// (or merged) sweep `sweep.csv`, `report.html` (see [`html::sweep_report`]) and the charts
/// (`charts/<name>.svg` and `.png`, see [`charts::render_sweep`]); `manifest.json`. A shard
/// has no statistics, so no report and no charts.
///
/// `point_folders`: whether the sweep folder also holds each point's run folder (`points/NNN/`,
/// written by `capsim sweep` itself), which the report then links to. Only the report depends on
/// it; a shard ignores it.
pub fn sweep_files(
    manifest: &SweepManifest,
    records: &[Record],
    point_folders: bool,
) -> Result<Vec<(String, Vec<u8>)>, ChartError> {
    let mut files = vec![(
        "records.csv".to_string(),
        sweep::records_csv(manifest, records),
    )];
    if manifest.shard == "all" {
        let stats = reduce(records, manifest.points.len(), &manifest.firms);
        files.push(("sweep.csv".into(), sweep::sweep_csv(manifest, &stats)));
        let charts = charts::render_sweep(manifest, &stats)?;
        files.push((
            "report.html".into(),
            html::sweep_report(manifest, &stats, &charts, point_folders),
        ));
        files.extend(chart_files(&charts));
    }
    files.push(("manifest.json".into(), manifest.to_json()));
    Ok(files)
}
