//! What `capsim run`, `capsim sweep` and `capsim compare` do, as library calls: the command line
//! (`src/cli.rs`) and the Python package (`python/`) both call these, so they write the same
//! folders and refuse the same inputs with the same messages.
//!
//! Errors keep their type inside the `anyhow::Error`: a [`ScenarioError`], a
//! [`crate::report::view::ReadError`], a [`crate::report::compare::CompareError`], a
//! [`crate::experiment::sweep::SweepError`] or a refused destination
//! ([`OutputError::is_refusal`]) is the input's fault (the CLI's exit code 2); anything else is
//! not. [`is_input_error`] tells them apart.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::experiment::{self, sweep, RunOptions};
use crate::metrics::PeriodKind;
use crate::report::folders::{self, Format};
use crate::report::output::{self, Kind, OutputError};
use crate::report::{self, compare};
use crate::scenario::{self, Scenario, ScenarioError};

/// Most replications of one run, as the command line takes them (the web app's pages take at
/// most 1000).
pub const RUN_REPLICATIONS_MAX: u64 = 100_000;
/// Most replications per point of a sweep.
pub const SWEEP_REPLICATIONS_MAX: u64 = 1_000_000;
/// Most worker threads (the command line's `--threads` is a `u16`).
pub const THREADS_MAX: u64 = u16::MAX as u64;

/// A number of a request out of its range: replications, threads or a seed, as every caller (the
/// command line, Python, the web app) refuses it, with the same words.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {given} is not a whole number from {lo} to {hi}\n  help: give {what} as a whole number from {lo} to {hi}")]
pub struct RequestError {
    /// The argument (`replications`, `threads`, `seed`).
    pub what: &'static str,
    /// The number given.
    pub given: i128,
    /// The least it may be.
    pub lo: u64,
    /// The most it may be.
    pub hi: u64,
}

/// `given` as a `u64` from `lo` to `hi`, or the [`RequestError`] that says why not.
pub fn whole(what: &'static str, given: i128, lo: u64, hi: u64) -> Result<u64, RequestError> {
    if (i128::from(lo)..=i128::from(hi)).contains(&given) {
        Ok(given as u64)
    } else {
        Err(RequestError {
            what,
            given,
            lo,
            hi,
        })
    }
}

/// Refuses replications and threads out of range before anything runs.
fn check_counts(
    replications: Option<u64>,
    replications_max: u64,
    threads: Option<usize>,
) -> Result<(), RequestError> {
    if let Some(r) = replications {
        whole("replications", i128::from(r), 1, replications_max)?;
    }
    if let Some(t) = threads {
        whole("threads", t as i128, 1, THREADS_MAX)?;
    }
    Ok(())
}

/// Whether `e` is the input's fault (a bad scenario, a folder that is not a run, a refused
/// destination), which the CLI reports with exit code 2.
pub fn is_input_error(e: &anyhow::Error) -> bool {
    e.is::<ScenarioError>()
        || e.is::<RequestError>()
        || e.is::<report::view::ReadError>()
        || e.is::<compare::CompareError>()
        || e.is::<sweep::SweepError>()
        || e.is::<report::sweep::MergeError>()
        || e.downcast_ref::<OutputError>()
            .is_some_and(OutputError::is_refusal)
}

/// An output error as the callers report it: a refused destination as it is (the input's fault),
/// an I/O failure under `what`.
pub fn output_error(e: OutputError, what: impl FnOnce() -> String) -> anyhow::Error {
    if e.is_refusal() {
        e.into()
    } else {
        anyhow::Error::new(e).context(what())
    }
}

/// The scenario file at `path`, or the built-in baseline.
pub fn load(path: Option<&Path>) -> Result<Scenario, ScenarioError> {
    match path {
        Some(p) => scenario::load_file(p),
        None => scenario::baseline(),
    }
}

/// `capsim run`.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// Scenario file (None: the built-in baseline).
    pub scenario: Option<PathBuf>,
    /// `PATH=VALUE` overrides, applied in order.
    pub set: Vec<String>,
    /// Master seed (None: the scenario's).
    pub seed: Option<u64>,
    /// Replications.
    pub replications: u64,
    /// Reporting period.
    pub period: PeriodKind,
    /// Files of the tables.
    pub format: Format,
    /// Worker threads (None: every core).
    pub threads: Option<usize>,
    /// Folder that receives the run folder.
    pub out: PathBuf,
    /// Name of the run folder (None: the scenario's name).
    pub name: Option<String>,
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct RunDone {
    /// The run folder written.
    pub folder: PathBuf,
    /// Its name.
    pub run: String,
    /// The scenario's name, horizon and overrides.
    pub scenario: String,
    /// First day of the horizon.
    pub start_date: String,
    /// Last day of the horizon.
    pub end_date: String,
    /// `--set` overrides as applied (`PATH=VALUE`).
    pub overrides: Vec<String>,
    /// Reporting period.
    pub period: PeriodKind,
    /// Master seed used.
    pub seed: u64,
    /// Replications run.
    pub replications: u64,
    /// Jobs arrived, completed and blocked at the end, all replications together.
    pub jobs: (u64, u64, u64),
    /// Wall time of the simulation, seconds.
    pub wall_time_s: f64,
}

/// The scenario a run request names, with its `--set` overrides applied in order.
pub fn scenario_for(req: &RunRequest) -> anyhow::Result<Scenario> {
    let mut sc = load(req.scenario.as_deref())?;
    for spec in &req.set {
        let (path, value) = sweep::parse_setting(spec)?;
        sc.set_field(&path, value)?;
    }
    Ok(sc)
}

/// Runs a scenario and writes its run folder; `tick` is called as each replication finishes.
pub fn run(req: &RunRequest, tick: &(dyn Fn() + Sync)) -> anyhow::Result<RunDone> {
    let sc = scenario_for(req)?;
    run_with(req, &sc, |sc, options| {
        experiment::execute_with_progress(sc, options, tick)
    })
}

/// [`run`] for a page that shows the run as it goes (`capsim serve`): `sc` is
/// [`scenario_for`]`(req)`, `live` receives the replications finished so far and may cancel the
/// run ([`experiment::ExperimentError::Cancelled`], nothing written). The folder written is
/// [`run`]'s, byte for byte.
pub fn run_live(
    req: &RunRequest,
    sc: &Scenario,
    live: &experiment::Live<'_>,
) -> anyhow::Result<RunDone> {
    run_with(req, sc, |sc, options| {
        experiment::execute_live(sc, options, live)
    })
}

fn run_with(
    req: &RunRequest,
    sc: &Scenario,
    simulate: impl FnOnce(
        &Scenario,
        RunOptions,
    ) -> Result<experiment::RunResult, experiment::ExperimentError>,
) -> anyhow::Result<RunDone> {
    check_counts(Some(req.replications), RUN_REPLICATIONS_MAX, req.threads)?;
    let folder_name = req.name.clone().unwrap_or_else(|| sc.name.clone());
    output::check_name(&folder_name)?;
    output::check(&req.out, &folder_name, Kind::Run)?;
    let options = RunOptions {
        seed: req.seed.unwrap_or(sc.seed),
        replications: req.replications,
        period: req.period,
        threads: req.threads,
    };
    let result = simulate(sc, options).context("the simulation failed")?;
    let files = folders::run_folder_files_as(sc, &result, &folder_name, req.format)
        .context("cannot draw the run's charts")?;
    let folder = output::write_folder(&req.out, &folder_name, Kind::Run, &files).map_err(|e| {
        output_error(e, || {
            format!("cannot write the run folder under {}", req.out.display())
        })
    })?;
    let jobs = result.runs.iter().fold((0, 0, 0), |a, r| {
        (
            a.0 + r.jobs.arrived,
            a.1 + r.jobs.completed,
            a.2 + r.jobs.blocked,
        )
    });
    drop(files);
    Ok(RunDone {
        folder,
        run: folder_name,
        scenario: sc.name.clone(),
        start_date: sc.start_date.to_string(),
        end_date: sc.end_date.to_string(),
        overrides: sc.overrides(),
        period: req.period,
        seed: result.options.seed,
        replications: req.replications,
        jobs,
        wall_time_s: result.wall_time_s,
    })
}

/// `capsim sweep`.
#[derive(Clone, Debug)]
pub struct SweepRequest {
    /// Scenario file (None: the built-in baseline).
    pub scenario: Option<PathBuf>,
    /// Axes, `PATH=VALUES` (empty: the scenario's `[sweep]`).
    pub vary: Vec<String>,
    /// Grid or one at a time (None: the scenario's, else grid).
    pub design: Option<sweep::Design>,
    /// Replications per point (None: the scenario's, else 10).
    pub replications: Option<u64>,
    /// Master seed (None: the scenario's).
    pub seed: Option<u64>,
    /// `I/N`: only that slice of the (point, replication) pairs.
    pub shard: Option<String>,
    /// Reporting period of the point folders.
    pub period: PeriodKind,
    /// No point folders, headline numbers only.
    pub headline_only: bool,
    /// Folder that receives the sweep folder.
    pub out: PathBuf,
    /// Worker threads (None: every core).
    pub threads: Option<usize>,
}

/// What a sweep did.
#[derive(Clone, Debug)]
pub struct SweepDone {
    /// The sweep folder written.
    pub folder: PathBuf,
    /// The scenario's name.
    pub scenario: String,
    /// Points, replications per point and (point, replication) pairs run.
    pub points: usize,
    /// Replications per point.
    pub replications: u64,
    /// Pairs run (in this shard).
    pub pairs: usize,
    /// The shard (`ALL` for a whole sweep).
    pub shard: sweep::Shard,
    /// Whether each point's run folder was written under `points/`.
    pub point_folders: bool,
}

/// A sweep resolved before anything runs: the scenario, its plan, replications per point, the
/// shard, and every point's scenario (each built and validated).
fn plan_sweep(
    req: &SweepRequest,
) -> anyhow::Result<(Scenario, sweep::Plan, u64, sweep::Shard, Vec<Scenario>)> {
    let sc = load(req.scenario.as_deref())?;
    let (plan, replications) = sweep::Plan::resolve(&sc, &req.vary, req.design, req.replications)?;
    let shard = req
        .shard
        .as_deref()
        .map_or(Ok(sweep::Shard::ALL), sweep::Shard::parse)?;
    // Every point is built and validated before anything runs.
    let scenarios = plan.scenarios(&sc)?;
    Ok((sc, plan, replications, shard, scenarios))
}

/// Runs a sweep and writes its folder; `start` is told how many (point, replication) pairs will
/// run, `tick` is called as each finishes.
pub fn sweep(
    req: &SweepRequest,
    start: &dyn Fn(u64),
    tick: &(dyn Fn() + Sync),
) -> anyhow::Result<SweepDone> {
    check_counts(req.replications, SWEEP_REPLICATIONS_MAX, req.threads)?;
    let (sc, plan, replications, shard, scenarios) = plan_sweep(req)?;
    let seed = req.seed.unwrap_or(sc.seed);
    start((scenarios.len() as u64 * replications).div_ceil(shard.count));
    let period = req.period;
    let out = &req.out;
    let name = if shard == sweep::Shard::ALL {
        format!("sweep-{}", sc.name)
    } else {
        format!("sweep-{}.shard-{}-of-{}", sc.name, shard.index, shard.count)
    };
    let cannot = || format!("cannot write the sweep folder under {}", out.display());
    let folder =
        output::Folder::create(out, &name, Kind::Sweep).map_err(|e| output_error(e, cannot))?;
    let point_folders = shard == sweep::Shard::ALL && !req.headline_only;
    let records = if point_folders {
        let width = (scenarios.len() - 1).to_string().len().max(3);
        sweep::run_points(
            &scenarios,
            period,
            seed,
            replications,
            req.threads,
            tick,
            &|p, result| {
                let sub = format!("points/{p:0width$}");
                // As `capsim run ... --name <scenario>-point-NNN` names it.
                let run = format!("{}-point-{p:0width$}", scenarios[p].name);
                let write = || -> anyhow::Result<()> {
                    let files = folders::run_folder_files(&scenarios[p], result, &run)?;
                    folder.write_all(&sub, &files)?;
                    Ok(())
                };
                write()
                    .with_context(|| format!("cannot write {sub} of the sweep folder"))
                    .map_err(|e| experiment::ExperimentError::Output(e.into()))
            },
        )
    } else {
        sweep::run_pairs(
            &scenarios,
            period,
            seed,
            replications,
            shard,
            req.threads,
            tick,
        )
    }
    .context("the sweep failed")?;
    let manifest =
        report::sweep::SweepManifest::new(&sc, &plan, seed, replications, period.as_str(), shard);
    let files = folders::sweep_files(&manifest, &records, point_folders)
        .context("cannot draw the sweep's charts")?;
    folder.write_all("", &files).with_context(cannot)?;
    folder.finish().map_err(|e| output_error(e, cannot))?;
    Ok(SweepDone {
        folder: out.join(&name),
        scenario: sc.name.clone(),
        points: plan.points.len(),
        replications,
        pairs: records.len(),
        shard,
        point_folders,
    })
}

/// What a comparison did.
#[derive(Clone, Debug)]
pub struct CompareDone {
    /// The comparison folder written.
    pub folder: PathBuf,
    /// Runs compared.
    pub runs: usize,
    /// The window compared: first and last day.
    pub window: (String, String),
}

/// Splits `dir` into (parent, folder name), refusing a path that names no folder.
fn split_folder(dir: &Path) -> Result<(PathBuf, String), compare::CompareError> {
    let name =
        dir.file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| compare::CompareError::BadOut {
                out: dir.display().to_string(),
            })?;
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
    Ok((
        parent.map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        name.to_string(),
    ))
}

/// Compares run folders (the first is the baseline) and writes the comparison folder at `out`
/// (None: `output/compare-<run1>-vs-<run2>...`); with `period`, firm figures period by period too.
pub fn compare(
    runs: &[PathBuf],
    out: Option<&Path>,
    period: Option<PeriodKind>,
) -> anyhow::Result<CompareDone> {
    let views = runs
        .iter()
        .map(|d| report::view::RunView::read(d))
        .collect::<Result<Vec<_>, _>>()?;
    let comparison = compare::compare(&views)?;
    let by_period = match period {
        None => None,
        Some(p) => {
            let firms = runs
                .iter()
                .map(|d| report::view::FirmPeriods::read(d))
                .collect::<Result<Vec<_>, _>>()?;
            Some(compare::by_period(&views, &firms, p.as_str())?)
        }
    };
    let (root, name) = match out {
        Some(dir) => split_folder(dir)?,
        None => (
            PathBuf::from("output"),
            compare::folder_name(&comparison.labels),
        ),
    };
    compare::check_out(&root.join(&name))?;
    output::check(&root, &name, Kind::Comparison)?;
    let charts = report::charts::render(&views).context("cannot draw the comparison charts")?;
    let files = folders::compare_files(&comparison, &views, &charts, by_period.as_deref());
    let folder = output::write_folder(&root, &name, Kind::Comparison, &files).map_err(|e| {
        output_error(e, || {
            format!(
                "cannot write the comparison folder {}",
                root.join(&name).display()
            )
        })
    })?;
    Ok(CompareDone {
        folder,
        runs: views.len(),
        window: (
            comparison.window.from.to_string(),
            comparison.window.until.to_string(),
        ),
    })
}
