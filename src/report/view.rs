//! What reports show of a run: its summary series, sites, firms, policy timeline and provenance,
//! built from a finished run or read back from a run folder, so that `run` and `compare` draw the
//! same charts and pages from the same data.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;

use crate::experiment::RunResult;
use crate::metrics::catalog::Rebuild;
use crate::metrics::summary::Spread;
use crate::metrics::{headline, headline_names, PeriodKind, Periods};
use crate::model::Operator;
use crate::scenario::Scenario;

use super::manifest::{self, FirmEntry, Manifest, PolicyEntry, SiteEntry};

/// The manifest of a finished run.
pub fn manifest_of(scenario: &Scenario, result: &RunResult) -> Manifest {
    let mut ledger = manifest::Ledger::default();
    for r in &result.runs {
        ledger.add(&r.jobs);
    }
    let (sites, firms, policies) = world_entries(scenario);
    Manifest {
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

/// One metric of one group in one period, across replications.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Band {
    /// Mean across replications.
    pub mean: f64,
    /// 5th percentile.
    pub p05: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Replications with a value.
    pub n: usize,
}

/// An input of a run as reports show it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct InputRow {
    /// Field path.
    pub field: String,
    /// Value as written (TOML; empty where unknown).
    pub value: String,
    /// Unit (empty where none).
    pub unit: String,
    /// Source.
    pub source: String,
}

/// Key of a series: (group kind, group name, metric), as in `summary.csv`.
pub type SeriesKey = (String, String, String);

/// Each headline number's name and its value in each replication (None: no value there), in
/// headline order.
pub type Headlines = Vec<(String, Vec<Option<f64>>)>;

/// A run as the report layer sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunView {
    /// The run's name, as its tables' `run` column gives it (`--name`; by default the
    /// scenario's).
    pub run: String,
    /// The run's manifest (scenario, seed, replications, sites, firms, policies, ...).
    pub manifest: Manifest,
    /// First day of each period.
    pub periods: Vec<NaiveDate>,
    /// Length of each period in days (the first and last may be partial: see
    /// [`RunView::is_full`]).
    pub period_days: Vec<f64>,
    /// Every summary series, one entry per period (None where no replication had a value).
    pub series: BTreeMap<SeriesKey, Vec<Option<Band>>>,
    /// Every input with a source: (field path, value as written, unit, source), sorted by path
    /// (value and unit empty when read from a folder written before `inputs.csv`).
    pub provenance: Vec<InputRow>,
    /// Each headline number over the whole horizon, per replication (None: no value), in
    /// headline order (`headline.csv`).
    pub headlines: Headlines,
}

/// Why a run folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A file is missing or unreadable.
    #[error("{file}: cannot read: {source}\n  help: give the folder a `capsim run` wrote (it holds manifest.json and summary.csv)")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The folder holds its tables as Parquet only.
    #[error("{folder}: the run's tables are Parquet only (written with --format parquet); this reads the CSV files\n  help: run it again with --format csv or --format both")]
    ParquetOnly {
        /// The run folder.
        folder: String,
    },
    /// A file is not in the format `capsim run` writes.
    #[error("{file}: not a capsim output file: {message}\n  help: re-run `capsim run` with this version of capsim")]
    Format {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
}

impl RunView {
    /// The view of a run that just finished, named as its scenario (see [`RunView::from_run_named`]).
    pub fn from_run(scenario: &Scenario, result: &RunResult) -> RunView {
        Self::from_run_named(scenario, result, &scenario.name)
    }

    /// The view of a run that just finished, named `run` (its folder's name, the `run` column of
    /// its tables: `--name`).
    pub fn from_run_named(scenario: &Scenario, result: &RunResult, run: &str) -> RunView {
        let manifest = manifest_of(scenario, result);
        let n = result.periods.len();
        let names = headline_names(
            &manifest
                .firms
                .iter()
                .map(|f| f.name.clone())
                .collect::<Vec<_>>(),
        );
        let per_run: Vec<Vec<f64>> = result
            .runs
            .iter()
            .map(|r| headline(r, &result.periods))
            .collect();
        let headlines = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let v = per_run
                    .iter()
                    .map(|r| r.get(i).copied().filter(|x| !x.is_nan()))
                    .collect();
                (name, v)
            })
            .collect();
        let mut series: BTreeMap<SeriesKey, Vec<Option<Band>>> = BTreeMap::new();
        for r in &result.summary {
            let key = (
                r.group.kind().to_string(),
                r.group.name().to_string(),
                r.metric.to_string(),
            );
            series.entry(key).or_insert_with(|| vec![None; n])[r.period] = Some(Band {
                mean: r.mean,
                p05: r.p05,
                p95: r.p95,
                n: r.n,
            });
        }
        RunView {
            run: run.to_string(),
            manifest,
            periods: result.periods.starts.clone(),
            period_days: (0..n).map(|p| result.periods.days(p)).collect(),
            series,
            provenance: scenario
                .inputs()
                .into_iter()
                .map(|i| InputRow {
                    field: i.field,
                    value: i.value,
                    unit: i.unit,
                    source: i.source,
                })
                .collect(),
            headlines,
        }
    }

    /// Reads a run folder written by `capsim run` (`manifest.json`, `summary.csv`, `headline.csv`,
    /// `provenance.csv`).
    pub fn read(dir: &Path) -> Result<RunView, ReadError> {
        let read = |name: &str| read_in(dir, name);
        let format = |name: &str, message: String| format_error(dir, name, message);
        let manifest: Manifest = serde_json::from_slice(&read("manifest.json")?)
            .map_err(|e| format("manifest.json", e.to_string()))?;
        if !dir.join("summary.csv").exists() && dir.join("summary.parquet").exists() {
            return Err(ReadError::ParquetOnly {
                folder: dir.display().to_string(),
            });
        }

        // Streamed row by row (a long daily run's summary is hundreds of MB): no copy of the
        // file, and no strings kept per row.
        let path = dir.join("summary.csv");
        let file = std::fs::File::open(&path).map_err(|source| ReadError::Io {
            file: path.display().to_string(),
            source,
        })?;
        let mut rdr = csv::Reader::from_reader(std::io::BufReader::with_capacity(1 << 20, file));
        let header = rdr
            .headers()
            .map_err(|e| format("summary.csv", e.to_string()))?
            .clone();
        if header.iter().collect::<Vec<_>>() != super::csv::SUMMARY_COLUMNS {
            return Err(format(
                "summary.csv",
                format!("unexpected columns {header:?}"),
            ));
        }
        // Periods and series in the order first seen; each series one value per period seen.
        let mut seen: Vec<NaiveDate> = Vec::new();
        let mut days: BTreeMap<NaiveDate, f64> = BTreeMap::new();
        let mut date_index: std::collections::HashMap<NaiveDate, usize> = Default::default();
        let mut key_index: std::collections::HashMap<String, usize> = Default::default();
        let mut keys: Vec<SeriesKey> = Vec::new();
        let mut values: Vec<Vec<Option<Band>>> = Vec::new();
        let mut rec = csv::StringRecord::new();
        let mut joined = String::new();
        let mut run: Option<String> = None;
        let mut i = 0;
        while rdr
            .read_record(&mut rec)
            .map_err(|e| format("summary.csv", e.to_string()))?
        {
            i += 1;
            if run.is_none() {
                run = Some(rec[0].to_string());
            }
            let bad = |what: &str| format("summary.csv", format!("row {}: bad {what}", i + 1));
            let date: NaiveDate = rec[2].parse().map_err(|_| bad("period_start"))?;
            let num = |j: usize, what: &str| rec[j].parse::<f64>().map_err(|_| bad(what));
            days.insert(date, num(4, "period_days")?);
            let band = Band {
                n: rec[8].parse().map_err(|_| bad("replications"))?,
                mean: num(9, "mean")?,
                p05: num(10, "p05")?,
                p95: num(11, "p95")?,
            };
            let p = *date_index.entry(date).or_insert_with(|| {
                seen.push(date);
                seen.len() - 1
            });
            joined.clear();
            for part in [&rec[5], &rec[6], &rec[7]] {
                joined.push_str(part);
                joined.push('\0');
            }
            let k = match key_index.get(joined.as_str()) {
                Some(&k) => k,
                None => {
                    key_index.insert(joined.clone(), keys.len());
                    keys.push((rec[5].to_string(), rec[6].to_string(), rec[7].to_string()));
                    values.push(Vec::new());
                    keys.len() - 1
                }
            };
            let v = &mut values[k];
            if v.len() <= p {
                v.resize(p + 1, None);
            }
            v[p] = Some(band);
        }
        // Periods in date order; each series reordered to them.
        let mut order: Vec<usize> = (0..seen.len()).collect();
        order.sort_by_key(|&j| seen[j]);
        let periods: Vec<NaiveDate> = order.iter().map(|&j| seen[j]).collect();
        let mut series: BTreeMap<SeriesKey, Vec<Option<Band>>> = BTreeMap::new();
        for (key, v) in keys.into_iter().zip(values) {
            let sorted = order.iter().map(|&j| v.get(j).copied().flatten()).collect();
            series.insert(key, sorted);
        }

        let period_days = periods.iter().map(|d| days[d]).collect();
        let headlines = read_headlines(&read("headline.csv")?)
            .map_err(|message| format("headline.csv", message))?;

        // inputs.csv (field, value, unit, source); a folder written before it has only
        // provenance.csv (field, source).
        let mut provenance = Vec::new();
        if let Ok(bytes) = read("inputs.csv") {
            let mut rdr = csv::Reader::from_reader(bytes.as_slice());
            for rec in rdr.records() {
                let rec = rec.map_err(|e| format("inputs.csv", e.to_string()))?;
                if rec.len() != super::csv::INPUTS_COLUMNS.len() {
                    return Err(format("inputs.csv", "rows need 6 fields".into()));
                }
                provenance.push(InputRow {
                    field: rec[2].to_string(),
                    value: rec[3].to_string(),
                    unit: rec[4].to_string(),
                    source: rec[5].to_string(),
                });
            }
        } else if let Ok(bytes) = read("provenance.csv") {
            let mut rdr = csv::Reader::from_reader(bytes.as_slice());
            for rec in rdr.records() {
                let rec = rec.map_err(|e| format("provenance.csv", e.to_string()))?;
                provenance.push(InputRow {
                    field: rec[0].to_string(),
                    value: String::new(),
                    unit: String::new(),
                    source: rec[1].to_string(),
                });
            }
        }
        // An empty summary (no periods) names no run: the folder's name is the run's. A name
        // that is not a run name (a table edited by hand) is not taken: it becomes part of a
        // comparison's folder name.
        let safe = |r: &String| super::output::name_problem(r).is_none();
        let run = run
            .filter(safe)
            .or_else(|| {
                dir.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .filter(safe)
            })
            .or_else(|| Some(manifest.scenario.clone()).filter(safe))
            .unwrap_or_else(|| "run".to_string());
        Ok(RunView {
            run,
            manifest,
            periods,
            period_days,
            series,
            provenance,
            headlines,
        })
    }

    /// A series by group kind, group and metric (e.g. `("jurisdiction", "CN", "compute_pflop_days")`).
    pub fn series(&self, kind: &str, group: &str, metric: &str) -> Option<&[Option<Band>]> {
        self.series
            .get(&(kind.to_string(), group.to_string(), metric.to_string()))
            .map(Vec::as_slice)
    }

    /// Whether period `p` covers its whole calendar day, week, month, quarter or year (as
    /// [`crate::metrics::Periods::is_full`] says of the run's periods).
    pub fn is_full(&self, p: usize) -> bool {
        let Some(kind) = PeriodKind::parse(&self.manifest.period) else {
            return false;
        };
        match (self.periods.get(p), self.period_days.get(p)) {
            (Some(&start), Some(&days)) => kind.is_full(start, days as u32),
            _ => false,
        }
    }

    /// A headline number's values, one per replication (None: no value there).
    pub fn headline(&self, name: &str) -> Option<&[Option<f64>]> {
        self.headlines
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// A headline number across replications: mean, p05, p95 and how many had a value.
    pub fn headline_band(&self, name: &str) -> Option<Band> {
        let s = Spread::of(self.headline(name)?.iter().flatten().copied())?;
        Some(Band {
            mean: s.mean,
            p05: s.p05,
            p95: s.p95,
            n: s.n,
        })
    }

    /// Jurisdictions with at least one site, sorted.
    pub fn jurisdictions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .manifest
            .sites
            .iter()
            .map(|s| s.jurisdiction.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Headline numbers per replication from `headline.csv`'s bytes, in the file's order of metrics.
fn read_headlines(bytes: &[u8]) -> Result<Headlines, String> {
    let mut rdr = csv::Reader::from_reader(bytes);
    let header = rdr.headers().map_err(|e| e.to_string())?.clone();
    if header.iter().collect::<Vec<_>>() != super::csv::HEADLINE_COLUMNS {
        return Err(format!("unexpected columns {header:?}"));
    }
    let mut out: Headlines = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| e.to_string())?;
        let bad = || format!("row {}: bad value", i + 2);
        let rep: usize = rec[2].parse().map_err(|_| bad())?;
        let value = match &rec[4] {
            "" => None,
            s => Some(s.parse::<f64>().map_err(|_| bad())?),
        };
        let at = match out.iter().position(|(n, _)| n == &rec[3]) {
            Some(at) => at,
            None => {
                out.push((rec[3].to_string(), Vec::new()));
                out.len() - 1
            }
        };
        let v = &mut out[at].1;
        if v.len() <= rep {
            v.resize(rep + 1, None);
        }
        v[rep] = value;
    }
    Ok(out)
}

/// The bytes of `dir/name`, or an error naming the file.
pub(super) fn read_in(dir: &Path, name: &str) -> Result<Vec<u8>, ReadError> {
    let file = dir.join(name);
    std::fs::read(&file).map_err(|source| ReadError::Io {
        file: file.display().to_string(),
        source,
    })
}

/// `dir/name` is not in the format capsim writes.
pub(super) fn format_error(dir: &Path, name: &str, message: String) -> ReadError {
    ReadError::Format {
        file: dir.join(name).display().to_string(),
        message,
    }
}

/// The manifest's site, firm and policy lists for a scenario.
/// The scenario's rules as a manifest lists them (name, rule, one-line summary, dates, source).
pub fn policy_entries(sc: &Scenario) -> Vec<PolicyEntry> {
    world_entries(sc).2
}

pub(super) fn world_entries(sc: &Scenario) -> (Vec<SiteEntry>, Vec<FirmEntry>, Vec<PolicyEntry>) {
    let w = &sc.world;
    let sites = w
        .sites
        .iter()
        .map(|s| SiteEntry {
            name: s.name.clone(),
            jurisdiction: s.jurisdiction.clone(),
            operator: match s.operator {
                Operator::Domestic => "domestic".into(),
                Operator::Foreign => "foreign".into(),
            },
            chip: w.chips[s.chip.0 as usize].name.clone(),
        })
        .collect();
    let firms = w
        .firms
        .iter()
        .map(|f| FirmEntry {
            name: f.name.clone(),
            headquarters: f.headquarters.clone(),
        })
        .collect();
    let policies = w
        .timeline
        .policies
        .iter()
        .zip(&sc.policy_dates)
        .map(|(p, d)| PolicyEntry {
            name: p.name.clone(),
            rule: p.rule.kind().to_string(),
            summary: p.rule.describe(),
            from: d.from.to_string(),
            until: d.until.map(|u| u.to_string()),
            source: p.source.clone(),
        })
        .collect();
    (sites, firms, policies)
}

/// One replication's values of every firm metric in one period (None: an empty cell).
pub type Replicated = Vec<Vec<Option<f64>>>;

/// A (first day, last day, firm) key of [`FirmPeriods`].
pub type FirmPeriodKey = (NaiveDate, NaiveDate, String);

/// A run's firm metrics per (period, firm) and replication, as `firms.csv` holds them: what a
/// comparison by period reads (the summary has no per-replication values).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FirmPeriods {
    /// The metric columns of `firms.csv`, in order.
    pub metrics: Vec<String>,
    /// For each (first day of the period, last day, firm), in file order: for each replication,
    /// each metric's value (None: empty cell).
    pub rows: Vec<(FirmPeriodKey, Replicated)>,
}

/// A firm's metric that [`FirmPeriods::coarsen`] cannot rebuild from its values in shorter
/// periods, so leaves out.
pub fn cannot_coarsen(metric: &str) -> bool {
    crate::metrics::catalog::firm_metric(metric).is_none_or(|m| m.rebuild() == Rebuild::Cannot)
}

impl FirmPeriods {
    /// The same figures over the periods of `periods` (longer ones, which these nest in: see
    /// [`PeriodKind::nests_in`]), rebuilt per replication by the catalog's rules
    /// ([`crate::metrics::catalog::Rebuild`]): flows summed, stocks read in the last period,
    /// ratios divided from their parts' sums (never a mean of ratios). Metrics that cannot be
    /// rebuilt from the periods' values (percentiles, unit costs) are left out (see
    /// [`cannot_coarsen`]). Err: a row does not lie inside one of `periods` (the message says
    /// which).
    pub fn coarsen(&self, periods: &Periods) -> Result<FirmPeriods, String> {
        let at = |m: &str| self.metrics.iter().position(|x| x == m);
        // Each kept metric: its column and how to rebuild it.
        enum How {
            Sum(usize),
            Last(usize),
            Ratio(Vec<usize>, Vec<usize>),
        }
        let mut metrics = Vec::new();
        let mut hows = Vec::new();
        for (i, name) in self.metrics.iter().enumerate() {
            let Some(def) = crate::metrics::catalog::firm_metric(name) else {
                continue;
            };
            let how = match def.rebuild() {
                Rebuild::Sum => How::Sum(i),
                Rebuild::Last => How::Last(i),
                Rebuild::Ratio(parts) => {
                    let cols =
                        |names: &[&str]| names.iter().map(|n| at(n)).collect::<Option<Vec<_>>>();
                    match (cols(parts.numerator), cols(parts.denominator)) {
                        (Some(n), Some(d)) => How::Ratio(n, d),
                        _ => continue,
                    }
                }
                Rebuild::Cannot => continue,
            };
            metrics.push(name.clone());
            hows.push(how);
        }
        // The rows of each (long period, firm), in order of first appearance; each group's rows
        // in time order.
        let mut groups: Vec<((usize, &str), Vec<usize>)> = Vec::new();
        let mut index: std::collections::HashMap<(usize, &str), usize> = Default::default();
        // The last day of long period `p`.
        let last_day = |p: usize| -> Option<NaiveDate> {
            let days = periods.days(p) as u64;
            periods.starts[p]
                .checked_add_days(chrono::Days::new(days))?
                .pred_opt()
        };
        for (r, ((start, end, firm), _)) in self.rows.iter().enumerate() {
            let p = periods.starts.partition_point(|d| d <= start);
            if p == 0 || last_day(p - 1).is_none_or(|l| *end > l) {
                return Err(format!(
                    "the period {start} to {end} does not lie inside one {}",
                    periods.kind.as_str()
                ));
            }
            let key = (p - 1, firm.as_str());
            let g = *index.entry(key).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(r);
        }
        let mut rows = Vec::with_capacity(groups.len());
        for ((p, firm), mut members) in groups {
            members.sort_by_key(|&r| self.rows[r].0 .0);
            let reps = members
                .iter()
                .map(|&r| self.rows[r].1.len())
                .max()
                .unwrap_or(0);
            let replicated: Replicated = (0..reps)
                .map(|rep| {
                    let cell = |r: usize, c: usize| -> Option<f64> {
                        self.rows[r]
                            .1
                            .get(rep)
                            .and_then(|v| v.get(c).copied().flatten())
                    };
                    let sum = |c: usize| -> Option<f64> {
                        members
                            .iter()
                            .filter_map(|&r| cell(r, c))
                            .fold(None, |acc, x| Some(acc.unwrap_or(0.0) + x))
                    };
                    hows.iter()
                        .map(|how| match how {
                            How::Sum(c) => sum(*c),
                            How::Last(c) => cell(*members.last().expect("a group has rows"), *c),
                            How::Ratio(n, d) => {
                                let total = |cols: &[usize]| {
                                    cols.iter().filter_map(|&c| sum(c)).sum::<f64>()
                                };
                                crate::metrics::catalog::ratio(total(n), total(d))
                            }
                        })
                        .collect()
                })
                .collect();
            let end = last_day(p).expect("checked above");
            rows.push(((periods.starts[p], end, firm.to_string()), replicated));
        }
        Ok(FirmPeriods { metrics, rows })
    }

    /// Reads `dir/firms.csv`, streaming its rows.
    pub fn read(dir: &Path) -> Result<FirmPeriods, ReadError> {
        if !dir.join("firms.csv").exists() && dir.join("firms.parquet").exists() {
            return Err(ReadError::ParquetOnly {
                folder: dir.display().to_string(),
            });
        }
        let path = dir.join("firms.csv");
        let file = std::fs::File::open(&path).map_err(|source| ReadError::Io {
            file: path.display().to_string(),
            source,
        })?;
        let format = |message: String| format_error(dir, "firms.csv", message);
        let mut rdr = csv::Reader::from_reader(std::io::BufReader::with_capacity(1 << 20, file));
        let header: Vec<String> = rdr
            .headers()
            .map_err(|e| format(e.to_string()))?
            .iter()
            .map(String::from)
            .collect();
        let keys = super::csv::FIRMS_KEYS.len();
        if header.len() < keys || header[..keys] != *super::csv::FIRMS_KEYS {
            return Err(format(format!(
                "the header does not start with {}",
                super::csv::FIRMS_KEYS.join(",")
            )));
        }
        let col = |c: &str| header.iter().position(|h| h == c).expect("checked above");
        let (rep_at, start_at, end_at, firm_at) = (
            col("replication"),
            col("period_start"),
            col("period_end"),
            col("firm"),
        );
        let mut out = FirmPeriods {
            metrics: header[keys..].to_vec(),
            rows: Vec::new(),
        };
        let mut index: std::collections::HashMap<(NaiveDate, String), usize> =
            std::collections::HashMap::new();
        let mut rec = csv::StringRecord::new();
        let mut line = 1;
        while rdr
            .read_record(&mut rec)
            .map_err(|e| format(e.to_string()))?
        {
            line += 1;
            let bad = |what: &str| format(format!("line {line}: bad {what}"));
            let rep: usize = rec[rep_at].parse().map_err(|_| bad("replication"))?;
            let start: NaiveDate = rec[start_at].parse().map_err(|_| bad("period_start"))?;
            let end: NaiveDate = rec[end_at].parse().map_err(|_| bad("period_end"))?;
            let values = rec
                .iter()
                .skip(keys)
                .map(|s| match s {
                    "" => Ok(None),
                    s => s.parse::<f64>().map(Some).map_err(|_| bad("value")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let key = (start, rec[firm_at].to_string());
            let at = *index.entry(key.clone()).or_insert_with(|| {
                out.rows.push(((start, end, key.1.clone()), Vec::new()));
                out.rows.len() - 1
            });
            let reps = &mut out.rows[at].1;
            if reps.len() <= rep {
                reps.resize(rep + 1, Vec::new());
            }
            reps[rep] = values;
        }
        Ok(out)
    }
}
