//! The clap commands: `run`, `sweep`, `merge`, `compare`, `validate`, `chips`. Thin: every step is a
//! library call.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use capsim::api;
use capsim::experiment::{self, sweep};

use crate::progress;
use capsim::metrics::PeriodKind;
use capsim::report::output::{self, Kind};
use capsim::report::{self, folders};
use capsim::scenario::{self, ScenarioError};

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
    #[command(after_help = "Examples:
  capsim run                                         the built-in baseline, to output/baseline/
  capsim run scenarios/lease-ban-2026.toml --replications 20
  capsim run --set policy.us-h20-licence-cn.enabled=false --name no-h20-ban
  capsim run --period quarter --json | jq .folder    a summary for scripts on stdout")]
    Run {
        /// Scenario file (TOML). Without it, the baseline built into the binary runs.
        scenario: Option<PathBuf>,
        /// Folder that receives the run folder.
        #[arg(long, env = "CAPSIM_OUT", default_value = "output")]
        out: PathBuf,
        /// Master seed (default: the scenario's `seed`).
        #[arg(long, allow_negative_numbers = true, value_parser = seed)]
        seed: Option<u64>,
        /// Monte Carlo replications.
        #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = run_replications)]
        replications: u64,
        /// Set a field on top of the scenario file (repeatable), as a sweep point does, e.g.
        /// --set chips.h100.training_mfu=0.35 or --set policy.lease-ban.from=2026-07-01. The
        /// manifest lists the overrides.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Name of the run folder (default: the scenario's name).
        #[arg(long)]
        name: Option<String>,
        /// Reporting period of the output rows.
        #[arg(long, value_enum, default_value_t = Period::Month)]
        period: Period,
        /// Files of the tables: CSV, Parquet (typed, compressed; `capsim compare` reads CSV), or
        /// both. `schema.json` documents every column either way.
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Worker threads (default: every core). The output does not depend on it.
        #[arg(long, env = "CAPSIM_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// No progress bar and no summary line on stderr (errors still print there).
        #[arg(short, long)]
        quiet: bool,
        /// Print a JSON summary of the run on stdout (the folder, the scenario, the seed, the
        /// replications, the jobs' ledger, the wall time) instead of the folder's path.
        #[arg(long)]
        json: bool,
    },
    /// Run a scenario at many points of a parameter grid, each with the same replication seeds.
    ///
    /// Writes OUT/sweep-<scenario>/: sweep.csv, records.csv, manifest.json, report.html, charts/,
    /// and under points/NNN/ each point's run folder, as `capsim run` writes it. With --shard I/N,
    /// only that slice of the (point, replication) pairs, to OUT/sweep-<scenario>.shard-I-of-N/
    /// (headline numbers only), for `capsim merge`.
    Sweep {
        /// Scenario file (TOML). Without it, the built-in baseline.
        scenario: Option<PathBuf>,
        /// An axis: PATH=V1,V2,... or PATH=FROM..TO/STEP (repeat for more axes), e.g.
        /// chips.ascend-910c.training_mfu=0.30,0.35,0.41 or
        /// policy.lease-ban.from=2026-01-01..2027-07-01/quarter. Default: the scenario's [sweep].
        #[arg(long = "vary", value_name = "PATH=VALUES")]
        vary: Vec<String>,
        /// Every combination of values (grid), or one axis at a time around the scenario as
        /// written. Default: the scenario's [sweep], else grid.
        #[arg(long, value_enum)]
        design: Option<DesignArg>,
        /// Replications per point (every point uses the same seeds). Default: the scenario's
        /// [sweep], else 10.
        #[arg(long, allow_negative_numbers = true, value_parser = sweep_replications)]
        replications: Option<u64>,
        /// Master seed (default: the scenario's `seed`).
        #[arg(long, allow_negative_numbers = true, value_parser = seed)]
        seed: Option<u64>,
        /// Run only slice I of N of the (point, replication) pairs (e.g. from a job array index).
        /// Shards keep headline numbers only (no points/ folders).
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Reporting period of the per-point run folders.
        #[arg(long, value_enum, default_value_t = Period::Month)]
        period: Period,
        /// Keep only the headline numbers of each (point, replication): no points/ folders. Memory
        /// then stays bounded by those numbers, however many replications.
        #[arg(long)]
        headline_only: bool,
        /// Folder that receives the sweep folder.
        #[arg(long, env = "CAPSIM_OUT", default_value = "output")]
        out: PathBuf,
        /// Worker threads (default: every core). The output does not depend on it.
        #[arg(long, env = "CAPSIM_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// No progress bar and no summary line on stderr (errors still print there).
        #[arg(short, long)]
        quiet: bool,
    },
    /// Join the shard folders of one sweep into exactly what the unsharded sweep writes.
    Merge {
        /// Shard folders written by `capsim sweep ... --shard I/N`.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Folder that receives the merged sweep folder.
        #[arg(long, default_value = "output")]
        out: PathBuf,
    },
    /// Compare run folders: overlaid charts, a table of differences against the first run
    /// (comparison.csv) and report.html, written to OUT.
    Compare {
        /// Run folders written by `capsim run`; the first is the baseline.
        #[arg(required = true, num_args = 2..)]
        runs: Vec<PathBuf>,
        /// Folder to write (default: output/compare-<run1>-vs-<run2>...).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also compare every firm figure period by period (periods.csv, with paired bands): the
        /// runs must have been written with this `--period` or a shorter one that adds up to it
        /// (days into any, months into quarters or years, quarters into years).
        #[arg(long, value_enum)]
        period: Option<Period>,
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
    /// Explore what-ifs in the browser: a local web app that runs scenarios live.
    ///
    /// Pick a scenario, move, switch off or add its dated rules, edit any input, and run: the
    /// charts update as replications finish. Every run is a normal run folder under OUT, with the
    /// command line that writes it again. Listens on 127.0.0.1 (this machine only) unless --host
    /// says otherwise.
    #[cfg(feature = "serve")]
    #[command(after_help = "Examples:
  capsim serve                                     the baseline and ./scenarios/*.toml
  capsim serve scenarios/lease-ban-2026.toml --open
  capsim serve --port 0                            any free port (printed)")]
    Serve {
        /// Scenario files (default: the built-in baseline and ./scenarios/*.toml).
        scenarios: Vec<PathBuf>,
        /// Port to listen on (0: any free port).
        #[arg(long, default_value_t = 8765)]
        port: u16,
        /// Address to listen on. Anything but loopback lets other machines run simulations and
        /// read OUT.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// Open the page in the default browser.
        #[arg(long)]
        open: bool,
        /// Folder that receives the run folders.
        #[arg(long, env = "CAPSIM_OUT", default_value = "output")]
        out: PathBuf,
        /// Worker threads of each run (default: every core).
        #[arg(long, env = "CAPSIM_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
    },
    /// Print a shell completion script, e.g. `capsim completions bash >
    /// ~/.local/share/bash-completion/completions/capsim`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `capsim man > capsim.1 && man ./capsim.1`.
    Man,
    /// Print the JSON Schema of scenario files, for editors (the shipped scenarios point to
    /// scenarios/capsim.schema.json with a `#:schema` line).
    Schema,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DesignArg {
    Grid,
    OneAtATime,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Csv,
    Parquet,
    Both,
}

impl From<Format> for folders::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Csv => folders::Format::Csv,
            Format::Parquet => folders::Format::Parquet,
            Format::Both => folders::Format::Both,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Period {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl From<Period> for PeriodKind {
    fn from(p: Period) -> Self {
        match p {
            Period::Day => PeriodKind::Day,
            Period::Week => PeriodKind::Week,
            Period::Month => PeriodKind::Month,
            Period::Quarter => PeriodKind::Quarter,
            Period::Year => PeriodKind::Year,
        }
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
            set,
            name,
            period,
            format,
            threads,
            quiet,
            json,
        } => {
            if let Some(n) = threads {
                experiment::limit_threads(n.into())?;
            }
            let bar = progress::bar(replications, "replications", quiet);
            let done = api::run(
                &api::RunRequest {
                    scenario,
                    set,
                    seed,
                    replications,
                    period: period.into(),
                    format: format.into(),
                    threads: threads.map(usize::from),
                    out,
                    name,
                },
                &|| bar.inc(1),
            )?;
            bar.finish_and_clear();
            let (arrived, completed, blocked) = done.jobs;
            if !quiet {
                eprintln!(
                    "capsim: ran '{}' ({} to {}, {} replication{}, seed {}) in {:.2} s: {} jobs \
                     arrived, {} completed, {} blocked at the end",
                    done.scenario,
                    done.start_date,
                    done.end_date,
                    done.replications,
                    if done.replications == 1 { "" } else { "s" },
                    done.seed,
                    done.wall_time_s,
                    arrived,
                    completed,
                    blocked
                );
            }
            if json {
                let summary = serde_json::json!({
                    "folder": done.folder.display().to_string(),
                    "run": done.run,
                    "scenario": done.scenario,
                    "start_date": done.start_date,
                    "end_date": done.end_date,
                    "period": done.period.as_str(),
                    "seed": done.seed,
                    "replications": done.replications,
                    "overrides": done.overrides,
                    "jobs": {
                        "arrived": arrived,
                        "completed": completed,
                        "blocked": blocked,
                    },
                    "wall_time_s": done.wall_time_s,
                });
                println!("{summary}");
            } else {
                println!("{}", done.folder.display());
            }
            Ok(())
        }
        #[cfg(feature = "serve")]
        Command::Serve {
            scenarios,
            port,
            host,
            open,
            out,
            threads,
        } => {
            let opts = capsim::serve::Options {
                scenarios,
                addr: std::net::SocketAddr::new(host, port),
                out,
                threads: threads.map(usize::from),
            };
            capsim::serve::serve(opts, |addr| {
                let url = format!("http://{addr}/");
                println!("{url}");
                if addr.ip().is_loopback() {
                    eprintln!(
                        "capsim serve: listening on {url} (this machine only); Ctrl-C stops it"
                    );
                } else {
                    eprintln!(
                        "capsim serve: listening on {url}, NOT loopback: anyone who can reach \
                         this address can run simulations and read the run folders; Ctrl-C stops it"
                    );
                }
                if open {
                    open_browser(&url);
                }
            })
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "capsim", &mut std::io::stdout());
            Ok(())
        }
        Command::Schema => {
            let text = serde_json::to_string_pretty(&scenario::json_schema())
                .context("cannot write the schema")?;
            println!("{text}");
            Ok(())
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .context("cannot write the man page")?;
            Ok(())
        }
        Command::Sweep {
            scenario,
            vary,
            design,
            replications,
            seed,
            shard,
            period,
            headline_only,
            out,
            threads,
            quiet,
        } => {
            if let Some(n) = threads {
                experiment::limit_threads(n.into())?;
            }
            let design = design.map(|d| match d {
                DesignArg::Grid => sweep::Design::Grid,
                DesignArg::OneAtATime => sweep::Design::OneAtATime,
            });
            let bar = std::sync::OnceLock::new();
            let done = api::sweep(
                &api::SweepRequest {
                    scenario,
                    vary,
                    design,
                    replications,
                    seed,
                    shard,
                    period: period.into(),
                    headline_only,
                    out,
                    threads: threads.map(usize::from),
                },
                &|pairs| {
                    bar.get_or_init(|| progress::bar(pairs, "runs", quiet));
                },
                &|| {
                    if let Some(b) = bar.get() {
                        b.inc(1);
                    }
                },
            )?;
            if let Some(b) = bar.get() {
                b.finish_and_clear();
            }
            if !quiet {
                eprintln!(
                    "capsim: swept '{}' over {} points x {} replications ({} pairs{}){}",
                    done.scenario,
                    done.points,
                    done.replications,
                    done.pairs,
                    if done.shard == sweep::Shard::ALL {
                        String::new()
                    } else {
                        format!(" in shard {}/{}", done.shard.index, done.shard.count)
                    },
                    if done.point_folders {
                        "; each point's run folder is under points/"
                    } else {
                        ""
                    }
                );
            }
            println!("{}", done.folder.display());
            Ok(())
        }
        Command::Merge { shards, out } => {
            let dirs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
            let (mut manifest, records) = report::sweep::merge(&dirs)?;
            manifest.shard = "all".into();
            let name = format!("sweep-{}", manifest.scenario);
            output::check_name(&name)?;
            output::check(&out, &name, Kind::Sweep)?;
            let files = folders::sweep_files(&manifest, &records, false)
                .context("cannot draw the sweep's charts")?;
            let dest = output::write_folder(&out, &name, Kind::Sweep, &files).map_err(|e| {
                api::output_error(e, || {
                    format!("cannot write the sweep folder under {}", out.display())
                })
            })?;
            eprintln!(
                "capsim: merged {} shards, {} pairs (shards keep headline numbers only: for a \
                 point's run folder, `capsim run` the scenario with --set for each of its axes)",
                shards.len(),
                records.len()
            );
            println!("{}", dest.display());
            Ok(())
        }
        Command::Compare { runs, out, period } => {
            let done = api::compare(&runs, out.as_deref(), period.map(PeriodKind::from))?;
            eprintln!(
                "capsim: compared {} runs over {} to {}",
                done.runs, done.window.0, done.window.1
            );
            println!("{}", done.folder.display());
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
            let sc = api::load(scenario.as_deref())?;
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

/// `s` as a whole number from `lo` to `hi` (the library's range check, [`api::whole`]), or what
/// is wrong with it and what it may be, as clap shows an argument's error.
fn whole(s: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let range = format!("a whole number from {lo} to {hi}");
    match s.trim().parse::<i128>() {
        Ok(v) => api::whole("", v, lo, hi).map_err(|_| format!("{v} is not {range}")),
        Err(_) => Err(format!("'{s}' is not {range}")),
    }
}

/// `--replications` of `capsim run`.
fn run_replications(s: &str) -> Result<u64, String> {
    whole(s, 1, api::RUN_REPLICATIONS_MAX)
}

/// `--replications` of `capsim sweep`.
fn sweep_replications(s: &str) -> Result<u64, String> {
    whole(s, 1, api::SWEEP_REPLICATIONS_MAX)
}

/// `--seed`.
fn seed(s: &str) -> Result<u64, String> {
    whole(s, 0, u64::MAX)
}

/// Opens `url` in the default browser, or says how to.
#[cfg(feature = "serve")]
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_err()
    {
        eprintln!("capsim serve: cannot open a browser ({opener}); open {url} yourself");
    }
}
