//! The assembler of the report layer: every file of a run folder, a comparison folder and a sweep
//! folder, as (relative path, bytes) in a fixed order, from the data modules ([`view`],
//! [`compare`], [`sweep`], [`manifest`]) and the renderers ([`csv`], [`charts`], [`html`]).
//! [`super::output`] writes them. Nothing imports this module but the CLI (and tests).

use super::charts::{self, Chart, ChartError};
use super::compare::{self, Comparison};
use super::output::Content;
use super::sweep::{self, SweepManifest};
use super::view::{self, RunView};
use super::{csv, html, manifest, observed, parquet, schema};
use crate::experiment::sweep::{reduce, Record};
use crate::experiment::RunResult;
use crate::scenario::Scenario;

/// Which files hold a run folder's tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// CSV only (the default).
    #[default]
    Csv,
    /// Parquet only (`capsim compare` reads CSV: it cannot read such a folder).
    Parquet,
    /// CSV and Parquet side by side.
    Both,
}

impl Format {
    fn csv(self) -> bool {
        self != Format::Parquet
    }
    fn parquet(self) -> bool {
        self != Format::Csv
    }
}

/// The data files of a run folder (CSVs and manifest), as (relative path, content), in a fixed
/// order; `summary.csv`, the largest, is streamed to disk when written. Every CSV starts with the
/// columns `run` (`run`, the run's name: its folder's) and `scenario`. [`run_folder_files`] adds
/// the report and charts.
pub fn run_files<'a>(
    scenario: &'a Scenario,
    result: &'a RunResult,
    run: &'a str,
) -> Vec<(String, Content<'a>)> {
    in_format(run_tables(scenario, result, run), Format::Csv)
}

/// The tables of `files` (`<table>.csv` of [`schema::RUN_TABLES`]) in `format`: kept as CSV,
/// written as Parquet (`<table>.parquet`, converted as they are written), or both; then
/// `schema.json`, which documents every table's columns and names its files.
fn in_format(files: Vec<(String, Content<'_>)>, format: Format) -> Vec<(String, Content<'_>)> {
    let mut out = Vec::with_capacity(files.len() * 2 + 1);
    let mut tables: Vec<(&'static str, Vec<String>)> = Vec::new();
    for (name, content) in files {
        let table = name
            .strip_suffix(".csv")
            .and_then(|t| schema::RUN_TABLES.iter().find(|&&r| r == t).copied());
        let Some(table) = table else {
            out.push((name, content));
            continue;
        };
        let columns = schema::run_table(table).expect("a run table");
        let mut names = Vec::new();
        if !format.parquet() {
            tables.push((table, vec![name.clone()]));
            out.push((name, content));
            continue;
        }
        let content = std::rc::Rc::new(content);
        if format.csv() {
            names.push(name.clone());
        }
        if format.parquet() {
            names.push(format!("{table}.parquet"));
        }
        tables.push((table, names));
        if format.csv() {
            let c = content.clone();
            out.push((
                name,
                Content::Stream(Box::new(move |w| match &*c {
                    Content::Bytes(b) => w.write_all(b),
                    Content::Stream(f) => f(w),
                })),
            ));
        }
        if format.parquet() {
            out.push((
                format!("{table}.parquet"),
                Content::Stream(Box::new(move |w| {
                    let csv = |sink: &mut dyn std::io::Write| match &*content {
                        Content::Bytes(b) => sink.write_all(b),
                        Content::Stream(f) => f(sink),
                    };
                    parquet::write(table, &columns, &csv, w)
                })),
            ));
        }
    }
    let listed: Vec<(&str, Vec<&str>)> = tables
        .iter()
        .map(|(t, f)| (*t, f.iter().map(String::as_str).collect()))
        .collect();
    let listed: Vec<(&str, &[&str])> = listed.iter().map(|(t, f)| (*t, f.as_slice())).collect();
    out.push((
        "schema.json".into(),
        Content::Bytes(schema::run_schema_json(&listed)),
    ));
    out
}

/// The tables of a run (CSV) and its manifest.
fn run_tables<'a>(
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
/// `charts/<name>.svg|png|pdf`.
pub fn run_folder_files<'a>(
    scenario: &'a Scenario,
    result: &'a RunResult,
    run: &'a str,
) -> Result<Vec<(String, Content<'a>)>, ChartError> {
    run_folder_files_as(scenario, result, run, Format::Csv)
}

/// [`run_folder_files`] with the tables in `format`.
pub fn run_folder_files_as<'a>(
    scenario: &'a Scenario,
    result: &'a RunResult,
    run: &'a str,
    format: Format,
) -> Result<Vec<(String, Content<'a>)>, ChartError> {
    let mut files = run_tables(scenario, result, run);
    let view = RunView::from_run_named(scenario, result, run);
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
    let mut files = in_format(files, format);
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

/// `charts/<name>.svg`, `charts/<name>.png` and `charts/<name>.pdf` for each chart, in chart
/// order.
pub fn chart_files(charts: &[Chart]) -> Vec<(String, Vec<u8>)> {
    charts
        .iter()
        .flat_map(|c| {
            [
                (format!("charts/{}.svg", c.name), c.svg.clone().into_bytes()),
                (format!("charts/{}.png", c.name), c.png.clone()),
                (format!("charts/{}.pdf", c.name), c.pdf.clone()),
            ]
        })
        .collect()
}

/// Every file of a comparison folder: `comparison.csv`, `periods.csv` (with `by_period`: firm
/// figures period by period), `report.html`, then `charts/<name>.svg|png|pdf` for `charts` (from
/// `charts::render(views)`).
pub fn compare_files(
    c: &Comparison,
    views: &[RunView],
    charts: &[Chart],
    by_period: Option<&[compare::PeriodRow]>,
) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("comparison.csv".to_string(), compare::comparison_csv(c))];
    if let Some(rows) = by_period {
        out.push((
            "periods.csv".to_string(),
            compare::periods_csv(&c.labels, rows),
        ));
    }
    out.push((
        "report.html".to_string(),
        html::compare_report(c, views, charts, by_period),
    ));
    out.extend(chart_files(charts));
    out
}

/// Every file of a sweep folder (or shard folder), in a fixed order: `records.csv`; for a whole
/// (or merged) sweep `sweep.csv`, `report.html` (see [`html::sweep_report`]) and the charts
/// (`charts/<name>.svg`, `.png` and `.pdf`, see [`charts::render_sweep`]); `manifest.json`. A shard
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
