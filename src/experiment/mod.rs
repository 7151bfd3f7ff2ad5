//! Experiments: replications of one scenario, run in parallel and gathered in a fixed order.
//!
//! Each replication is single-threaded and draws only from its own random streams, derived from
//! `(seed, replication)`: its uncertain inputs (see the scenario layer) and its events alike. Results
//! are collected in replication order (rayon's indexed `collect`) and reduced serially, so the output
//! is byte-identical for any number of threads.

pub mod sweep;

use rayon::prelude::*;

use crate::metrics::{summarise, PeriodKind, Periods, RunMetrics, SummaryRow};

use crate::model::{run_replication, ModelError, World};
use crate::scenario::{Scenario, ScenarioError};

/// Why an experiment could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The simulation broke an invariant (a bug in capsim: please report it with the scenario).
    #[error("{0}")]
    Model(#[from] ModelError),
    /// A replication's drawn inputs did not make a valid world.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// Writing a sweep point's results failed (the caller's output step).
    #[error("{0}")]
    Output(Box<dyn std::error::Error + Send + Sync>),
    /// The run was cancelled before all its replications finished (`capsim serve`).
    #[error("the run was cancelled")]
    Cancelled,
    /// The thread pool could not be built.
    #[error("cannot start {threads} worker threads: {message}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// The cause.
        message: String,
    },
}

/// What one replication produced: its metrics and the input values it drew.
#[derive(Clone, Debug)]
pub struct Replication {
    /// Metrics per period.
    pub metrics: RunMetrics,
    /// Each uncertain input's draw, in the scenario's order.
    pub draws: Vec<Draw>,
}

/// What one replication drew for one uncertain input.
#[derive(Clone, Debug, PartialEq)]
pub struct Draw {
    /// The input's field path (as `--set` takes it).
    pub field: String,
    /// The value drawn.
    pub value: f64,
    /// The value the replication ran with: the draw, but for a firm's `demand.share` its share
    /// renormalised over the firm's group ([`Scenario::in_run`]).
    pub in_run: f64,
}

/// Runs replication `replication` of `scenario` under `seed`.
pub fn run_one(
    scenario: &Scenario,
    periods: &Periods,
    seed: u64,
    replication: u64,
) -> Result<Replication, ExperimentError> {
    let (world, drawn) = scenario.world_for(seed, replication)?;
    let metrics = run_replication(&world, periods, seed, replication)?;
    let in_run = scenario.in_run(&drawn);
    let draws = drawn
        .into_iter()
        .zip(in_run)
        .map(|((field, value), in_run)| Draw {
            field,
            value,
            in_run,
        })
        .collect();
    Ok(Replication { metrics, draws })
}

/// Runs `replications` replications in parallel (on `threads` threads, or all cores), calling
/// `on_done` after each, and returns them in replication order.
pub fn run_replications(
    scenario: &Scenario,
    periods: &Periods,
    seed: u64,
    replications: u64,
    threads: Option<usize>,
    on_done: &(dyn Fn() + Sync),
) -> Result<Vec<Replication>, ExperimentError> {
    in_pool(threads, || {
        (0..replications)
            .into_par_iter()
            .map(|r| {
                let rep = run_one(scenario, periods, seed, r);
                on_done();
                rep
            })
            .collect::<Result<Vec<_>, _>>()
    })
}

/// Caps every parallel step of this process outside [`RunOptions::threads`]' own pool (drawing
/// charts, one per task) at `threads` threads, by sizing rayon's global pool. Call it once, before
/// anything runs in parallel; a second call is an error.
pub fn limit_threads(threads: usize) -> Result<(), ExperimentError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| ExperimentError::Threads {
            threads,
            message: e.to_string(),
        })
}

/// Runs `work` on a pool of `threads` threads, or on rayon's global pool (every core).
fn in_pool<T: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> Result<T, ExperimentError> + Send,
) -> Result<T, ExperimentError> {
    match threads {
        None => work(),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| ExperimentError::Threads {
                threads: n,
                message: e.to_string(),
            })?
            .install(work),
    }
}

/// What a run is asked to do beyond the scenario itself.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Master seed (the scenario's unless overridden).
    pub seed: u64,
    /// Number of replications (>= 1).
    pub replications: u64,
    /// Reporting period.
    pub period: PeriodKind,
    /// Worker threads; `None` uses every core. Does not change the results.
    pub threads: Option<usize>,
}

/// The results of a run, ready for the report layer.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The options it ran with.
    pub options: RunOptions,
    /// Reporting periods.
    pub periods: Periods,
    /// Per-replication metrics, in replication order.
    pub runs: Vec<RunMetrics>,
    /// Per-replication drawn inputs, in replication order.
    pub draws: Vec<Vec<Draw>>,
    /// Statistics across replications.
    pub summary: Vec<SummaryRow>,
    /// Wall-clock seconds spent simulating.
    pub wall_time_s: f64,
}

/// Runs a scenario's replications and summarises them.
pub fn execute(scenario: &Scenario, options: RunOptions) -> Result<RunResult, ExperimentError> {
    execute_with_progress(scenario, options, &|| {})
}

/// As [`execute`], calling `on_done` after each replication (for a progress bar).
pub fn execute_with_progress(
    scenario: &Scenario,
    options: RunOptions,
    on_done: &(dyn Fn() + Sync),
) -> Result<RunResult, ExperimentError> {
    let periods = Periods::new(scenario.start_date, scenario.end_date, options.period);
    let started = std::time::Instant::now();
    let reps = run_replications(
        scenario,
        &periods,
        options.seed,
        options.replications,
        options.threads,
        on_done,
    )?;
    let wall_time_s = started.elapsed().as_secs_f64();
    Ok(assemble(scenario, options, periods, reps, wall_time_s))
}

/// What a live run ([`execute_live`]) is told and asked while it runs.
pub struct Live<'a> {
    /// Set to stop the run: replications not yet started are skipped and the run ends with
    /// [`ExperimentError::Cancelled`] (those running finish first).
    pub cancel: &'a std::sync::atomic::AtomicBool,
    /// Called with the result of the replications finished so far (in replication order, however
    /// they finished), at most once per `every`, and always once all have finished. It runs on a
    /// worker thread; the run waits for it.
    pub partial: &'a (dyn Fn(&RunResult) + Sync),
    /// Least time between two calls of `partial` (the last one excepted).
    pub every: std::time::Duration,
}

/// As [`execute`], showing its progress as it goes: after each replication, the result of those
/// finished so far goes to `live.partial` (throttled), so that bands can tighten on a page while
/// the rest run. The final result is [`execute`]'s, byte for byte: replications are independent
/// and gathered in replication order.
pub fn execute_live(
    scenario: &Scenario,
    options: RunOptions,
    live: &Live<'_>,
) -> Result<RunResult, ExperimentError> {
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;
    let periods = Periods::new(scenario.start_date, scenario.end_date, options.period);
    let started = std::time::Instant::now();
    let n = options.replications;
    // Finished replications by index, and when `partial` was last called.
    let done: Mutex<(Vec<Option<Replication>>, Option<std::time::Instant>)> =
        Mutex::new((vec![None; n as usize], None));
    let report = |rep: &Replication, r: u64| {
        let snapshot = {
            let mut guard = done
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            guard.0[r as usize] = Some(rep.clone());
            let finished = guard.0.iter().filter(|x| x.is_some()).count() as u64;
            let due = guard.1.is_none_or(|t| t.elapsed() >= live.every);
            if finished < n && !due {
                return;
            }
            guard.1 = Some(std::time::Instant::now());
            guard.0.iter().flatten().cloned().collect::<Vec<_>>()
        };
        let partial = assemble(
            scenario,
            options.clone(),
            periods.clone(),
            snapshot,
            started.elapsed().as_secs_f64(),
        );
        (live.partial)(&partial);
    };
    let reps = in_pool(options.threads, || {
        (0..n)
            .into_par_iter()
            .map(|r| {
                if live.cancel.load(Ordering::Relaxed) {
                    return Err(ExperimentError::Cancelled);
                }
                let rep = run_one(scenario, &periods, options.seed, r)?;
                if !live.cancel.load(Ordering::Relaxed) {
                    report(&rep, r);
                }
                Ok(rep)
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    if live.cancel.load(Ordering::Relaxed) {
        return Err(ExperimentError::Cancelled);
    }
    let wall_time_s = started.elapsed().as_secs_f64();
    Ok(assemble(scenario, options, periods, reps, wall_time_s))
}

/// A run's result from its replications (in replication order): splits metrics from draws and
/// summarises across replications.
pub(crate) fn assemble(
    scenario: &Scenario,
    options: RunOptions,
    periods: Periods,
    reps: Vec<Replication>,
    wall_time_s: f64,
) -> RunResult {
    let (runs, draws): (Vec<RunMetrics>, Vec<_>) =
        reps.into_iter().map(|r| (r.metrics, r.draws)).unzip();
    let world: &World = &scenario.world;
    let site_names: Vec<String> = world.sites.iter().map(|s| s.name.clone()).collect();
    let site_jurisdictions: Vec<String> =
        world.sites.iter().map(|s| s.jurisdiction.clone()).collect();
    let site_chips: Vec<String> = world
        .sites
        .iter()
        .map(|s| world.chips[s.chip.0 as usize].name.clone())
        .collect();
    let firm_names: Vec<String> = world.firms.iter().map(|f| f.name.clone()).collect();
    let summary = summarise(
        &runs,
        &periods,
        &site_names,
        &site_jurisdictions,
        &site_chips,
        &firm_names,
    );
    RunResult {
        options,
        periods,
        runs,
        draws,
        summary,
        wall_time_s,
    }
}

#[cfg(test)]
mod live_tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Mutex;

    fn options() -> RunOptions {
        RunOptions {
            seed: 7,
            replications: 4,
            period: PeriodKind::Year,
            threads: Some(2),
        }
    }

    /// A live run shows the replications finished so far as it goes, and ends with what a plain
    /// run gives.
    #[test]
    fn a_live_run_shows_its_progress_and_ends_with_the_plain_result() {
        let sc = crate::scenario::baseline().unwrap();
        let plain = execute(&sc, options()).unwrap();
        let seen: Mutex<Vec<usize>> = Mutex::new(Vec::new());
        let cancel = AtomicBool::new(false);
        let live = Live {
            cancel: &cancel,
            partial: &|r: &RunResult| seen.lock().unwrap().push(r.runs.len()),
            every: std::time::Duration::ZERO,
        };
        let result = execute_live(&sc, options(), &live).unwrap();
        assert_eq!(result.runs, plain.runs);
        assert_eq!(result.summary, plain.summary);
        assert_eq!(result.draws, plain.draws);
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), 4, "every replication shown: {seen:?}");
        assert_eq!(seen.iter().max(), Some(&4));
    }

    #[test]
    fn a_cancelled_run_stops_with_cancelled() {
        let sc = crate::scenario::baseline().unwrap();
        let cancel = AtomicBool::new(true);
        let live = Live {
            cancel: &cancel,
            partial: &|_: &RunResult| panic!("nothing runs"),
            every: std::time::Duration::ZERO,
        };
        assert!(matches!(
            execute_live(&sc, options(), &live),
            Err(ExperimentError::Cancelled)
        ));
    }
}
