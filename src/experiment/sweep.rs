//! Sweeps: a scenario run at many points of a parameter grid, each point with the same replication
//! seeds (common random numbers), so differences between points come from the parameters, not the
//! noise. Sweeps can be cut into shards that run on different machines and merged afterwards into
//! exactly what the unsharded sweep writes.
//!
//! A sweep is described by axes, each a scenario field path and the values it takes
//! (`chips.ascend-910c.training_mfu=0.30,0.35,0.41`,
//! `policy.lease-ban.from=2026-01-01..2027-07-01/quarter`). Point 0 is the scenario as written (the
//! baseline); the other points are the grid (every combination) or, with the one-at-a-time design,
//! each value of each axis with the other axes as written.
//!
//! The unit of work is a (point, replication) pair, numbered point-major. Shard `i` of `n` takes
//! the pairs whose number is `i - 1` modulo `n`. Every pair yields the headline numbers of its
//! replication ([`crate::metrics::headline()`]); they are all a sweep keeps, so memory grows with
//! points x replications x a dozen numbers, never with events or periods.

use rayon::prelude::*;

use crate::metrics::{headline, headline_names, summary::Spread, PeriodKind, Periods, RunMetrics};
use crate::scenario::sweep::{self as axis, AxisError, VARY_HELP};
use crate::scenario::{Scenario, ScenarioError};

pub use crate::scenario::sweep::{Axis, AxisValue, Design, MAX_POINTS};

use super::{assemble, in_pool, run_one, ExperimentError, RunOptions, RunResult};

/// A sweep axis could not be understood, or makes no valid scenario.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The `--vary` text is malformed.
    #[error("--vary '{spec}': {message}\n  help: {help}")]
    Syntax {
        /// The text as given.
        spec: String,
        /// What is wrong.
        message: String,
        /// How to write it.
        help: String,
    },
    /// Too many points.
    #[error("{}\n  help: use fewer values or a coarser step, or split the sweep", axis::too_many_points(*points))]
    TooManyPoints {
        /// Points asked for.
        points: usize,
        /// The limit.
        max: usize,
    },
    /// A point's overrides do not make a valid scenario (unknown field, out of range, ...).
    #[error("sweep point {point} ({label}): {source}")]
    Point {
        /// Point index.
        point: usize,
        /// Its overrides.
        label: String,
        /// The scenario's complaint, with the field path.
        #[source]
        source: Box<ScenarioError>,
    },
    /// A `--set PATH=VALUE` is malformed.
    #[error("--set '{spec}': {message}\n  help: write PATH=VALUE with a value as in a scenario file, e.g. --set chips.h100.training_mfu=0.35, --set policy.lease-ban.from=2026-07-01 or --set 'chips.h100.training_mfu={{ triangular = [0.30, 0.35, 0.41] }}'")]
    Setting {
        /// The text as given.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// `--shard` is malformed.
    #[error("--shard '{0}': expected I/N with 1 <= I <= N, e.g. --shard 3/16")]
    Shard(String),
    /// Neither the command line nor the scenario says what to vary.
    #[error("no axes: the scenario has no [sweep] section with vary = [...] and no --vary was given\n  help: give --vary PATH=VALUES, e.g. --vary chips.ascend-910c.training_mfu=0.30,0.35,0.41, or add [sweep] vary = [\"PATH=VALUES\"] to the scenario")]
    NoAxes,
}

/// Parses one `--vary PATH=VALUES` argument (see [`crate::scenario::sweep::parse_axis`]); errors
/// name the argument.
pub fn parse_axis(spec: &str) -> Result<Axis, SweepError> {
    axis::parse_axis(spec).map_err(|e| match e {
        AxisError::Syntax { message } => SweepError::Syntax {
            spec: spec.into(),
            message,
            help: VARY_HELP.into(),
        },
        AxisError::TooManyPoints { points, max } => SweepError::TooManyPoints { points, max },
    })
}

/// Parses one `--set PATH=VALUE`: the value is read as a TOML value (a number, a date, a quoted
/// string, an array, an inline table such as a distribution), and a bare word as a string.
pub fn parse_setting(spec: &str) -> Result<(String, toml::Value), SweepError> {
    let err = |message: String| SweepError::Setting {
        spec: spec.into(),
        message,
    };
    let (path, text) = spec
        .split_once('=')
        .ok_or_else(|| err("no '=' between the field path and its value".into()))?;
    let (path, text) = (path.trim(), text.trim());
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(err(format!("'{path}' is not a field path")));
    }
    if text.is_empty() {
        return Err(err("an empty value".into()));
    }
    #[derive(serde::Deserialize)]
    struct One {
        v: toml::Value,
    }
    let value = match toml::from_str::<One>(&format!("v = {text}")) {
        Ok(one) => one.v,
        Err(_)
            if text
                .chars()
                .all(|c| c.is_alphanumeric() || "-_".contains(c)) =>
        {
            toml::Value::String(text.to_string())
        }
        Err(e) => return Err(err(format!("not a value: {}", e.message()))),
    };
    Ok((path.to_string(), value))
}

/// Replications per point when neither the command line nor the scenario says.
pub const DEFAULT_REPLICATIONS: u64 = 10;

/// One point of a sweep: the overrides it applies (empty for the baseline point).
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// (axis index, value index) for each axis it sets.
    pub settings: Vec<(usize, usize)>,
}

/// The points of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The axes.
    pub axes: Vec<Axis>,
    /// The design.
    pub design: Design,
    /// Point 0 is the baseline (no overrides).
    pub points: Vec<Point>,
}

impl Plan {
    /// Lays out the points of `axes` under `design`.
    pub fn new(axes: Vec<Axis>, design: Design) -> Result<Plan, SweepError> {
        let count = design.points(&axes);
        if count > MAX_POINTS {
            return Err(SweepError::TooManyPoints {
                points: count,
                max: MAX_POINTS,
            });
        }
        let mut points = Vec::with_capacity(count);
        points.push(Point { settings: vec![] });
        match design {
            Design::Grid => {
                for k in 0..count - 1 {
                    let mut rest = k;
                    let mut settings = vec![(0, 0); axes.len()];
                    // The last axis varies fastest.
                    for (a, axis) in axes.iter().enumerate().rev() {
                        settings[a] = (a, rest % axis.values.len());
                        rest /= axis.values.len();
                    }
                    points.push(Point { settings });
                }
            }
            Design::OneAtATime => {
                for (a, axis) in axes.iter().enumerate() {
                    for v in 0..axis.values.len() {
                        points.push(Point {
                            settings: vec![(a, v)],
                        });
                    }
                }
            }
        }
        Ok(Plan {
            axes,
            design,
            points,
        })
    }

    /// The plan of a sweep of `scenario`, and its replications per point, from what the command
    /// line gives and the scenario's `[sweep]` section, the command line first:
    ///
    /// - axes: `cli_vary` (each parsed with [`parse_axis`]; an error names the `--vary`), else
    ///   the section's `vary` (checked when the scenario loaded, so it never blames `--vary`), else
    ///   [`SweepError::NoAxes`];
    /// - design: `cli_design`, else the section's `design`, else [`Design::Grid`];
    /// - replications: `cli_replications`, else the section's, else 10; at least 1.
    pub fn resolve(
        scenario: &Scenario,
        cli_vary: &[String],
        cli_design: Option<Design>,
        cli_replications: Option<u64>,
    ) -> Result<(Plan, u64), SweepError> {
        let spec = scenario.sweep();
        let design = cli_design
            .or(spec.as_ref().and_then(|s| s.design))
            .unwrap_or_default();
        let axes = if cli_vary.is_empty() {
            match &spec {
                Some(s) if !s.axes.is_empty() => s.axes.clone(),
                _ => return Err(SweepError::NoAxes),
            }
        } else {
            let axes = cli_vary
                .iter()
                .map(|v| parse_axis(v))
                .collect::<Result<Vec<_>, _>>()?;
            // One axis per field: a second would override the first at every point (after the
            // count, which refuses a huge list at once).
            Plan::new(axes.clone(), design)?;
            let mut seen = std::collections::HashSet::new();
            for (i, a) in axes.iter().enumerate() {
                if !seen.insert(a.path.as_str()) {
                    return Err(SweepError::Syntax {
                        spec: cli_vary[i].clone(),
                        message: format!("{} is varied by an earlier --vary too", a.path),
                        help: "give each field one axis: put all its values in one --vary".into(),
                    });
                }
            }
            axes
        };
        let replications = cli_replications
            .or(spec.as_ref().and_then(|s| s.replications))
            .unwrap_or(DEFAULT_REPLICATIONS)
            .max(1);
        Ok((Plan::new(axes, design)?, replications))
    }

    /// A point's overrides as text, e.g. `chips.h100.training_mfu=0.35, policy.x.from=2026-07-01`.
    pub fn label(&self, point: usize) -> String {
        let s = &self.points[point].settings;
        if s.is_empty() {
            return "as written".into();
        }
        s.iter()
            .map(|&(a, v)| format!("{}={}", self.axes[a].path, self.axes[a].values[v].label))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The scenario of each point, validated; fails before anything runs if any point is invalid.
    pub fn scenarios(&self, base: &Scenario) -> Result<Vec<Scenario>, SweepError> {
        (0..self.points.len())
            .map(|p| {
                let mut sc = base.clone();
                for &(a, v) in &self.points[p].settings {
                    let axis = &self.axes[a];
                    sc.set_field(&axis.path, axis.values[v].value.clone())
                        .map_err(|source| SweepError::Point {
                            point: p,
                            label: self.label(p),
                            source: Box::new(source),
                        })?;
                }
                Ok(sc)
            })
            .collect()
    }
}

/// A slice of the (point, replication) pairs: shard `index` (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Parses `I/N`.
    pub fn parse(s: &str) -> Result<Shard, SweepError> {
        let bad = || SweepError::Shard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether pair number `k` belongs to this shard.
    pub fn owns(&self, k: u64) -> bool {
        k % self.count == self.index - 1
    }
}

/// The headline numbers of one (point, replication) pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Point index.
    pub point: usize,
    /// Replication index.
    pub replication: u64,
    /// Headline values, in [`headline_names`] order.
    pub values: Vec<f64>,
}

impl Record {
    /// The headline numbers of replication `replication` at point `point`.
    fn of(point: usize, replication: u64, run: &RunMetrics, periods: &Periods) -> Record {
        Record {
            point,
            replication,
            values: headline(run, periods),
        }
    }
}

/// Each point's reporting periods.
fn periods_of(scenarios: &[Scenario], period: PeriodKind) -> Vec<Periods> {
    scenarios
        .iter()
        .map(|s| Periods::new(s.start_date, s.end_date, period))
        .collect()
}

/// Runs this shard's pairs of a sweep in parallel (on `threads` threads, or every core); records
/// come back in pair order.
pub fn run_pairs(
    scenarios: &[Scenario],
    period: PeriodKind,
    seed: u64,
    replications: u64,
    shard: Shard,
    threads: Option<usize>,
    on_done: &(dyn Fn() + Sync),
) -> Result<Vec<Record>, ExperimentError> {
    let pairs: Vec<(usize, u64)> = (0..scenarios.len())
        .flat_map(|p| (0..replications).map(move |r| (p, r)))
        .enumerate()
        .filter(|&(k, _)| shard.owns(k as u64))
        .map(|(_, pr)| pr)
        .collect();
    let periods = periods_of(scenarios, period);
    in_pool(threads, || {
        pairs
            .into_par_iter()
            .map(|(p, r)| {
                // Common random numbers: every point uses the same seed for replication r.
                let rep = run_one(&scenarios[p], &periods[p], seed, r)?;
                on_done();
                Ok(Record::of(p, r, &rep.metrics, &periods[p]))
            })
            .collect()
    })
}

/// Runs every (point, replication) pair of a whole sweep and hands each point's full result, as
/// `capsim run` of that point's scenario would produce it ([`super::execute`] with the same seed,
/// replications and period), to `sink` together with the point's index; returns the records, in
/// pair order, exactly as [`run_pairs`] does.
///
/// Points run in batches of consecutive points with at least four pairs per thread between them
/// (one point when it has that many replications), every pair of a batch in parallel; then the
/// batch's points are summarised and passed to `sink` in parallel, and dropped. Memory therefore
/// holds one batch's replications, as `capsim run` holds its own: it grows with the replications
/// per point, not with the number of points. `sink` is called from worker threads, once per
/// point, in no fixed order; the first error it returns stops the sweep.
#[allow(clippy::too_many_arguments)]
pub fn run_points(
    scenarios: &[Scenario],
    period: PeriodKind,
    seed: u64,
    replications: u64,
    threads: Option<usize>,
    on_done: &(dyn Fn() + Sync),
    sink: &(dyn Fn(usize, &RunResult) -> Result<(), ExperimentError> + Sync),
) -> Result<Vec<Record>, ExperimentError> {
    let periods = periods_of(scenarios, period);
    in_pool(threads, || {
        let wanted = 4 * rayon::current_num_threads() as u64;
        let per_batch = wanted.div_ceil(replications.max(1)).max(1) as usize;
        let mut records = Vec::with_capacity(scenarios.len() * replications as usize);
        for first in (0..scenarios.len()).step_by(per_batch) {
            let batch = first..(first + per_batch).min(scenarios.len());
            let started = std::time::Instant::now();
            let pairs: Vec<(usize, u64)> = batch
                .clone()
                .flat_map(|p| (0..replications).map(move |r| (p, r)))
                .collect();
            let mut reps = pairs
                .into_par_iter()
                .map(|(p, r)| {
                    let rep = run_one(&scenarios[p], &periods[p], seed, r);
                    on_done();
                    rep
                })
                .collect::<Result<Vec<_>, _>>()?
                .into_iter();
            let wall_time_s = started.elapsed().as_secs_f64();
            let per_point: Vec<(usize, Vec<_>)> = batch
                .map(|p| (p, reps.by_ref().take(replications as usize).collect()))
                .collect();
            let batch_records = per_point
                .into_par_iter()
                .map(|(p, reps)| {
                    let options = RunOptions {
                        seed,
                        replications,
                        period,
                        threads,
                    };
                    let result = assemble(
                        &scenarios[p],
                        options,
                        periods[p].clone(),
                        reps,
                        wall_time_s,
                    );
                    sink(p, &result)?;
                    Ok(result
                        .runs
                        .iter()
                        .enumerate()
                        .map(|(r, run)| Record::of(p, r as u64, run, &result.periods))
                        .collect::<Vec<_>>())
                })
                .collect::<Result<Vec<_>, ExperimentError>>()?;
            records.extend(batch_records.into_iter().flatten());
        }
        Ok(records)
    })
}

/// Mean, p05 and p95 of one metric at one point, over the replications that have a value.
#[derive(Clone, Debug, PartialEq)]
pub struct PointStat {
    /// Point index.
    pub point: usize,
    /// Metric name.
    pub metric: String,
    /// Replications with a value (NaN ratios are left out).
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// 5th percentile.
    pub p05: f64,
    /// 95th percentile.
    pub p95: f64,
}

/// Reduces records (any order) to statistics per (point, metric), in (point, metric) order.
pub fn reduce(records: &[Record], points: usize, firm_names: &[String]) -> Vec<PointStat> {
    let names = headline_names(firm_names);
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by_key(|r| (r.point, r.replication));
    let mut out = Vec::new();
    for p in 0..points {
        let at: Vec<&&Record> = sorted.iter().filter(|r| r.point == p).collect();
        for (m, name) in names.iter().enumerate() {
            let Some(s) = Spread::of(at.iter().filter_map(|r| r.values.get(m).copied())) else {
                continue;
            };
            out.push(PointStat {
                point: p,
                metric: name.clone(),
                n: s.n,
                mean: s.mean,
                p05: s.p05,
                p95: s.p95,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_lists_numeric_ranges_and_date_ranges() {
        let a = parse_axis("chips.x.training_mfu=0.30,0.35,0.41").unwrap();
        assert_eq!(a.path, "chips.x.training_mfu");
        assert_eq!(
            a.values
                .iter()
                .map(|v| v.label.as_str())
                .collect::<Vec<_>>(),
            ["0.3", "0.35", "0.41"]
        );
        let b = parse_axis("chips.x.training_mfu=0.3..0.5/0.1").unwrap();
        assert_eq!(
            b.values
                .iter()
                .map(|v| v.label.as_str())
                .collect::<Vec<_>>(),
            ["0.3", "0.4", "0.5"]
        );
        let c = parse_axis("policy.lease-ban.from=2026-01-01..2027-07-01/quarter").unwrap();
        assert_eq!(c.values.len(), 7);
        assert_eq!(c.values[1].label, "2026-04-01");
        assert_eq!(c.values[6].label, "2027-07-01");
    }

    #[test]
    fn invalid_axes_are_clear_errors() {
        for bad in [
            "no-equals",
            "a.b=",
            "a.b=2..1/0.5",
            "a.b=1..2/0",
            "a.b=1..2/-1",
            "a.b=2026-01-01..2025-01-01/month",
            "a.b=2025-01-01..2026-01-01/fortnight",
            "a.b=0..1e9/1",
            "=1,2",
        ] {
            let e = parse_axis(bad).unwrap_err().to_string();
            assert!(e.contains("help") || e.contains("limit"), "{bad}: {e}");
        }
    }

    #[test]
    fn grid_and_one_at_a_time_designs() {
        let a = parse_axis("a.x=1,2").unwrap();
        let b = parse_axis("b.y=3,4,5").unwrap();
        let grid = Plan::new(vec![a.clone(), b.clone()], Design::Grid).unwrap();
        assert_eq!(grid.points.len(), 1 + 6);
        assert_eq!(grid.label(0), "as written");
        assert_eq!(grid.label(1), "a.x=1, b.y=3");
        assert_eq!(grid.label(6), "a.x=2, b.y=5");
        let oat = Plan::new(vec![a, b], Design::OneAtATime).unwrap();
        assert_eq!(oat.points.len(), 1 + 5);
        assert_eq!(oat.label(3), "b.y=3");
    }

    #[test]
    fn resolve_takes_the_command_line_first_then_the_scenarios_sweep_section() {
        let text = format!(
            "{}\n[sweep]\nvary = [\"chips.h100.training_mfu=0.3,0.4\"]\n\
             design = \"one-at-a-time\"\nreplications = 3\n",
            crate::scenario::BASELINE_TOML
        );
        let scenarios = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let sc = crate::scenario::load_str(&text, "swept.toml", Some(&scenarios)).unwrap();

        let (plan, reps) = Plan::resolve(&sc, &[], None, None).unwrap();
        assert_eq!(plan.axes.len(), 1);
        assert_eq!(plan.axes[0].path, "chips.h100.training_mfu");
        assert_eq!(plan.design, Design::OneAtATime);
        assert_eq!((plan.points.len(), reps), (3, 3));

        let cli = ["chips.h100.memory_gb=80,96,141".to_string()];
        let (plan, reps) = Plan::resolve(&sc, &cli, Some(Design::Grid), Some(5)).unwrap();
        assert_eq!(plan.axes[0].path, "chips.h100.memory_gb");
        assert_eq!(plan.design, Design::Grid);
        assert_eq!((plan.points.len(), reps), (4, 5));

        let e = Plan::resolve(&sc, &["x".to_string()], None, None).unwrap_err();
        assert!(e.to_string().starts_with("--vary 'x'"), "{e}");
        // A field varied twice is refused at the second --vary.
        let twice = [
            "chips.h100.memory_gb=80,96".to_string(),
            "chips.h100.memory_gb=120".to_string(),
        ];
        let e = Plan::resolve(&sc, &twice, None, None).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "--vary 'chips.h100.memory_gb=120': chips.h100.memory_gb is varied by an earlier \
                 --vary too"
            ),
            "{e}"
        );

        let plain = crate::scenario::baseline().unwrap();
        let e = Plan::resolve(&plain, &[], None, None).unwrap_err();
        assert!(matches!(e, SweepError::NoAxes), "{e}");
        assert!(!e.to_string().contains("--vary '"), "{e}");
        let (_, reps) = Plan::resolve(&plain, &cli, None, None).unwrap();
        assert_eq!(reps, DEFAULT_REPLICATIONS);
    }

    #[test]
    fn shards_partition_the_pairs() {
        let shards: Vec<Shard> = (1..=3).map(|i| Shard { index: i, count: 3 }).collect();
        for k in 0..100u64 {
            assert_eq!(shards.iter().filter(|s| s.owns(k)).count(), 1);
        }
        assert!(Shard::parse("0/3").is_err());
        assert!(Shard::parse("4/3").is_err());
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
    }
}
