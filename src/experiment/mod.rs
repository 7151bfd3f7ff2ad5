//! Experiments: replications of one world, run in parallel and gathered in a fixed order.
//!
//! Each replication is single-threaded and draws only from its own random streams, derived from
//! `(seed, replication)`; results are collected in replication order (rayon's indexed `collect`), so
//! the output is the same for any number of threads.

use rayon::prelude::*;

use crate::metrics::{summarise, PeriodKind, Periods, RunMetrics, SummaryRow};
use crate::model::{run_replication, ModelError, World};
use crate::scenario::Scenario;

/// Runs replications `0..replications` of `world` and returns them in replication order.
pub fn run_replications(
    world: &World,
    periods: &Periods,
    seed: u64,
    replications: u64,
) -> Result<Vec<RunMetrics>, ModelError> {
    (0..replications)
        .into_par_iter()
        .map(|r| run_replication(world, periods, seed, r))
        .collect()
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
    /// Statistics across replications.
    pub summary: Vec<SummaryRow>,
    /// Wall-clock seconds spent simulating.
    pub wall_time_s: f64,
}

/// Runs a scenario's replications and summarises them.
pub fn execute(scenario: &Scenario, options: RunOptions) -> Result<RunResult, ModelError> {
    let periods = Periods::new(scenario.start_date, scenario.end_date, options.period);
    let started = std::time::Instant::now();
    let runs = run_replications(
        &scenario.world,
        &periods,
        options.seed,
        options.replications,
    )?;
    let wall_time_s = started.elapsed().as_secs_f64();
    let world = &scenario.world;
    let site_names: Vec<String> = world.sites.iter().map(|s| s.name.clone()).collect();
    let site_jurisdictions: Vec<String> =
        world.sites.iter().map(|s| s.jurisdiction.clone()).collect();
    let firm_names: Vec<String> = world.firms.iter().map(|f| f.name.clone()).collect();
    let summary = summarise(&runs, &site_names, &site_jurisdictions, &firm_names);
    Ok(RunResult {
        options,
        periods,
        runs,
        summary,
        wall_time_s,
    })
}
