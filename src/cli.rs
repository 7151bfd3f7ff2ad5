//! The clap commands: `run`, `validate`, `chips`. Thin: every step is a library call.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use capsim::experiment::{self, RunOptions};
use capsim::metrics::PeriodKind;
use capsim::report;
use capsim::scenario::{self, Scenario, ScenarioError};

/// Discrete-event capacity simulator for AI compute under export controls.
#[derive(Parser, Debug)]
#[command(name = "capsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario and write its CSVs under OUT/<scenario-name>/.
    Run {
        /// Scenario file (TOML). Without it, the baseline built into the binary runs.
        scenario: Option<PathBuf>,
        /// Folder that receives the run folder.
        #[arg(long, default_value = "output")]
        out: PathBuf,
        /// Master seed (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Monte Carlo replications.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        replications: u64,
        /// Reporting period of the output rows.
        #[arg(long, value_enum, default_value_t = Period::Month)]
        period: Period,
    },
    /// Check scenario files without running them.
    Validate {
        /// Scenario files (TOML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// List the chip table of a scenario (default: the built-in baseline).
    Chips {
        /// Scenario file (TOML).
        scenario: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Period {
    Day,
    Week,
    Month,
}

impl From<Period> for PeriodKind {
    fn from(p: Period) -> Self {
        match p {
            Period::Day => PeriodKind::Day,
            Period::Week => PeriodKind::Week,
            Period::Month => PeriodKind::Month,
        }
    }
}

fn load(path: Option<&Path>) -> Result<Scenario, ScenarioError> {
    match path {
        Some(p) => scenario::load_file(p),
        None => scenario::baseline(),
    }
}

/// Runs the parsed command. Errors that are the input's fault are `ScenarioError`s (exit code 2).
pub fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            scenario,
            out,
            seed,
            replications,
            period,
        } => {
            let sc = load(scenario.as_deref())?;
            let options = RunOptions {
                seed: seed.unwrap_or(sc.seed),
                replications,
                period: period.into(),
                threads: None,
            };
            let result = experiment::execute(&sc, options).context("the simulation failed")?;
            let files = report::run_files(&sc, &result);
            let dest = report::output::write_folder(&out, &sc.name, &files)
                .with_context(|| format!("cannot write the run folder under {}", out.display()))?;
            let ledger: (u64, u64, u64) = result.runs.iter().fold((0, 0, 0), |a, r| {
                (
                    a.0 + r.jobs.arrived,
                    a.1 + r.jobs.completed,
                    a.2 + r.jobs.blocked,
                )
            });
            eprintln!(
                "capsim: ran '{}' ({} to {}, {} replication{}, seed {}) in {:.2} s: {} jobs arrived, \
                 {} completed, {} blocked at the end",
                sc.name,
                sc.start_date,
                sc.end_date,
                replications,
                if replications == 1 { "" } else { "s" },
                result.options.seed,
                result.wall_time_s,
                ledger.0,
                ledger.1,
                ledger.2
            );
            println!("{}", dest.display());
            Ok(())
        }
        Command::Validate { scenarios } => {
            let mut failed = None;
            for p in &scenarios {
                match scenario::load_file(p) {
                    Ok(sc) => println!(
                        "{}: ok ({}: {} chips, {} sites, {} firms, {} policies)",
                        p.display(),
                        sc.name,
                        sc.world.chips.len(),
                        sc.world.sites.len(),
                        sc.world.firms.len(),
                        sc.world.timeline.policies.len()
                    ),
                    Err(e) => {
                        eprintln!("error: {e}");
                        failed.get_or_insert(e);
                    }
                }
            }
            match failed {
                Some(e) => Err(AlreadyReported(e).into()),
                None => Ok(()),
            }
        }
        Command::Chips { scenario } => {
            let sc = load(scenario.as_deref())?;
            println!(
                "{:<14} {:<8} {:>5} {:>10} {:>7} {:>8} {:>5} {:>11} {:>10} {:>9}",
                "chip",
                "vendor",
                "from",
                "bf16_tflops",
                "mem_gb",
                "power_w",
                "mfu",
                "infer_tok/s",
                "price_usd",
                "usd/chip-h"
            );
            for c in &sc.world.chips {
                println!(
                    "{:<14} {:<8} {:>5} {:>10} {:>7} {:>8} {:>5} {:>11} {:>10} {:>9}",
                    c.name,
                    c.vendor,
                    c.vendor_country,
                    c.bf16_dense_tflops,
                    c.memory_gb,
                    c.all_in_power_w,
                    c.training_mfu,
                    c.inference_tokens_per_s,
                    c.purchase_usd,
                    c.lease_usd_per_chip_hour
                );
            }
            Ok(())
        }
    }
}

/// A scenario error that `validate` already printed; only its exit code is left to give.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AlreadyReported(pub ScenarioError);
