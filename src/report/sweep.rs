//! A sweep's data: its manifest (`manifest.json`), its statistics per point and metric
//! (`sweep.csv`) and the headline numbers of every (point, replication) pair (`records.csv`,
//! exact); and reading shard folders back for `capsim merge`. The sweep folder, with its page and
//! charts, is assembled by [`super::folders::sweep_files`].
//!
//! `records.csv` writes floats in Rust's shortest round-trip form (counts as integers, no value as an
//! empty cell), so a merge reads back exactly the values the shards computed, and its outputs are
//! byte-identical to an unsharded sweep's.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::experiment::sweep::{Design, Plan, PointStat, Record, Shard};
use crate::scenario::Scenario;

use super::csv::{cell, float};
use super::view::{format_error, read_in, ReadError};
use crate::metrics::catalog::{headline_list, Kind};

/// What a sweep folder says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepManifest {
    /// Scenario name.
    pub scenario: String,
    /// SHA-256 of the scenario's files.
    pub content_hash: String,
    /// Master seed (shared by all points: common random numbers).
    pub seed: u64,
    /// Replications per point.
    pub replications: u64,
    /// Reporting period the replications ran with.
    pub period: String,
    /// `grid` or `one_at_a_time`.
    pub design: String,
    /// Axes: field path and value labels.
    pub axes: Vec<AxisEntry>,
    /// Point labels, point 0 first (the baseline).
    pub points: Vec<String>,
    /// Per point, the value label of each axis (null where the point leaves it as written).
    pub point_values: Vec<Vec<Option<String>>>,
    /// Per axis, the field's value as the scenario writes it (null where it is left to its
    /// default), for the points that leave it as written.
    #[serde(default)]
    pub written: Vec<Option<String>>,
    /// Firms (for the per-firm headline names).
    pub firms: Vec<String>,
    /// `I/N`, or `all` for a whole (or merged) sweep.
    pub shard: String,
    /// capsim version.
    pub capsim_version: String,
}

/// An axis in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AxisEntry {
    /// Field path.
    pub path: String,
    /// Value labels, in order.
    pub values: Vec<String>,
}

impl SweepManifest {
    /// The manifest of a sweep of `scenario` over `plan`.
    pub fn new(
        scenario: &Scenario,
        plan: &Plan,
        seed: u64,
        replications: u64,
        period: &str,
        shard: Shard,
    ) -> SweepManifest {
        let written = plan
            .axes
            .iter()
            .map(|a| {
                scenario.field_value(&a.path).map(|v| match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                })
            })
            .collect();
        SweepManifest {
            scenario: scenario.name.clone(),
            content_hash: scenario.content_hash.clone(),
            written,
            firms: scenario
                .world
                .firms
                .iter()
                .map(|f| f.name.clone())
                .collect(),
            ..SweepManifest::of_plan(plan, seed, replications, period, shard)
        }
    }

    /// What the manifest says of the plan and the run: everything but the scenario's name,
    /// content hash and firms, which are left empty.
    pub fn of_plan(
        plan: &Plan,
        seed: u64,
        replications: u64,
        period: &str,
        shard: Shard,
    ) -> SweepManifest {
        SweepManifest {
            scenario: String::new(),
            content_hash: String::new(),
            seed,
            replications,
            period: period.to_string(),
            design: match plan.design {
                Design::Grid => "grid".into(),
                Design::OneAtATime => "one_at_a_time".into(),
            },
            axes: plan
                .axes
                .iter()
                .map(|a| AxisEntry {
                    path: a.path.clone(),
                    values: a.values.iter().map(|v| v.label.clone()).collect(),
                })
                .collect(),
            points: (0..plan.points.len()).map(|p| plan.label(p)).collect(),
            point_values: point_settings(plan),
            written: vec![None; plan.axes.len()],
            firms: vec![],
            shard: if shard == Shard::ALL {
                "all".into()
            } else {
                format!("{}/{}", shard.index, shard.count)
            },
            capsim_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The same sweep, whatever the shard: what must agree between shards to merge them.
    fn identity(&self) -> SweepManifest {
        SweepManifest {
            shard: "all".into(),
            ..self.clone()
        }
    }
}

impl SweepManifest {
    /// `manifest.json` of a sweep or shard folder: pretty JSON, ending in a newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut m = serde_json::to_vec_pretty(self).expect("serialisable");
        m.push(b'\n');
        m
    }
}

/// `records.csv`: one row per (point, replication), exact values.
pub fn records_csv(manifest: &SweepManifest, records: &[Record]) -> Vec<u8> {
    let list = headline_list(&manifest.firms);
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let mut header = vec!["point".to_string(), "replication".to_string()];
    header.extend(list.iter().map(|h| h.name.clone()));
    w.write_record(&header).expect("in memory");
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by_key(|r| (r.point, r.replication));
    for r in sorted {
        let mut row = vec![r.point.to_string(), r.replication.to_string()];
        row.extend(
            r.values
                .iter()
                .zip(&list)
                .map(|(&v, h)| cell(Some(v), h.headline.metric().dtype)),
        );
        w.write_record(&row).expect("in memory");
    }
    w.into_inner().expect("in memory")
}

/// `sweep.csv`: one row per (point, metric), with each axis's value as a column.
pub fn sweep_csv(manifest: &SweepManifest, stats: &[PointStat]) -> Vec<u8> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let mut header = vec!["point".to_string(), "label".to_string()];
    header.extend(manifest.axes.iter().map(|a| a.path.clone()));
    header.extend(["metric", "replications", "mean", "p05", "p95"].map(String::from));
    w.write_record(&header).expect("in memory");
    for s in stats {
        let mut row = vec![s.point.to_string(), manifest.points[s.point].clone()];
        // A point that leaves an axis as written has the scenario's value there.
        row.extend(
            manifest.point_values[s.point]
                .iter()
                .enumerate()
                .map(|(a, v)| {
                    v.clone()
                        .or_else(|| manifest.written.get(a).cloned().flatten())
                        .unwrap_or_default()
                }),
        );
        row.extend([
            s.metric.clone(),
            s.n.to_string(),
            float(s.mean),
            float(s.p05),
            float(s.p95),
        ]);
        w.write_record(&row).expect("in memory");
    }
    w.into_inner().expect("in memory")
}

/// Per point, the label of each axis's value there (None where the point leaves the axis as written).
fn point_settings(plan: &Plan) -> Vec<Vec<Option<String>>> {
    plan.points
        .iter()
        .map(|p| {
            let mut v = vec![None; plan.axes.len()];
            for &(a, i) in &p.settings {
                v[a] = Some(plan.axes[a].values[i].label.clone());
            }
            v
        })
        .collect()
}

/// Reads a sweep or shard folder: its manifest and records.
pub fn read_sweep(dir: &Path) -> Result<(SweepManifest, Vec<Record>), ReadError> {
    let read = |name: &str| read_in(dir, name);
    let format = |name: &str, message: String| format_error(dir, name, message);
    let manifest: SweepManifest = serde_json::from_slice(&read("manifest.json")?)
        .map_err(|e| format("manifest.json", format!("not a sweep manifest: {e}")))?;
    let bytes = read("records.csv")?;
    let mut rdr = ::csv::Reader::from_reader(bytes.as_slice());
    let mut records = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format("records.csv", e.to_string()))?;
        let bad = || format("records.csv", format!("row {} is malformed", i + 2));
        let point: usize = rec.get(0).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let replication: u64 = rec.get(1).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let values = rec
            .iter()
            .skip(2)
            .map(|s| match s {
                "" => Ok(f64::NAN),
                s => s.parse::<f64>().map_err(|_| bad()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        records.push(Record {
            point,
            replication,
            values,
        });
    }
    Ok((manifest, records))
}

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A folder could not be read.
    #[error("{0}")]
    Read(#[from] ReadError),
    /// The folders are shards of different sweeps.
    #[error("{dir} is a shard of another sweep than {first} (scenario, seed, replications, axes or version differ)\n  help: merge only the shards of one `capsim sweep ... --shard I/N` command")]
    Mismatch {
        /// The odd folder.
        dir: String,
        /// The first folder.
        first: String,
    },
    /// A row of a `records.csv` does not fit the sweep.
    #[error("{at}: {message}\n  help: {help}")]
    Row {
        /// `dir/records.csv:LINE`.
        at: String,
        /// What is wrong.
        message: String,
        /// How to go on.
        help: &'static str,
    },
    /// Some pairs are missing.
    #[error("the shards hold {found} of the sweep's {expected} (point, replication) pairs{detail}\n  help: pass every shard folder once (shards 1/N to N/N)")]
    Incomplete {
        /// Pairs found.
        found: usize,
        /// Pairs expected.
        expected: usize,
        /// Which.
        detail: String,
    },
}

/// Joins shard folders into the manifest and records of the whole sweep.
///
/// Every row of every `records.csv` is checked against the plan in the manifests: the header names
/// the sweep's headline numbers, the point and replication are in range and belong to the shard,
/// each value is a finite number (or empty, where the metric has no value: never a flow's total), and each
/// (point, replication) pair appears exactly once across the shards. A row that fails is refused
/// with its file and line.
pub fn merge(dirs: &[&Path]) -> Result<(SweepManifest, Vec<Record>), MergeError> {
    let mut first: Option<(SweepManifest, String)> = None;
    let mut records = Vec::new();
    // (point, replication) -> where it was read.
    let mut seen = std::collections::HashMap::new();
    // The shards given, as "I/N".
    let mut given = std::collections::BTreeSet::new();
    for dir in dirs {
        let m = read_manifest(dir)?;
        given.insert(m.shard.clone());
        match &first {
            None => first = Some((m.identity(), dir.display().to_string())),
            Some((f, name)) => {
                if m.identity() != *f {
                    return Err(MergeError::Mismatch {
                        dir: dir.display().to_string(),
                        first: name.clone(),
                    });
                }
            }
        }
        let file = dir.join("records.csv").display().to_string();
        for (r, line) in read_checked_records(dir, &m)? {
            let at = format!("{file}:{line}");
            if let Some(before) = seen.insert((r.point, r.replication), at.clone()) {
                return Err(MergeError::Row {
                    at,
                    message: format!(
                        "point {} replication {} appears again (first at {before})",
                        r.point, r.replication
                    ),
                    help: "pass each shard folder once, all from one `capsim sweep ... --shard \
                           I/N` command",
                });
            }
            records.push(r);
        }
    }
    let (manifest, _) = first.ok_or(MergeError::Incomplete {
        found: 0,
        expected: 0,
        detail: ": no folders given".into(),
    })?;
    let expected = manifest.points.len() * manifest.replications as usize;
    records.sort_by_key(|r| (r.point, r.replication));
    if records.len() != expected {
        let mut missing = (0..manifest.points.len())
            .flat_map(|p| (0..manifest.replications).map(move |r| (p, r)))
            .filter(|k| !seen.contains_key(k));
        let more = match expected - records.len() {
            0 | 1 => String::new(),
            n => format!(", and {} more", n - 1),
        };
        // Pair k = point x replications + replication belongs to shard k mod N + 1.
        let count = given
            .iter()
            .find_map(|s| s.split_once('/').and_then(|(_, n)| n.parse::<usize>().ok()));
        let detail = match (missing.next(), count) {
            (Some((p, r)), Some(n)) => {
                let absent: Vec<String> = (1..=n)
                    .map(|i| format!("{i}/{n}"))
                    .filter(|s| !given.contains(s))
                    .collect();
                if absent.is_empty() {
                    let shard = (p * manifest.replications as usize + r as usize) % n + 1;
                    format!(
                        ": shard {shard}/{n} is incomplete (point {p} replication {r} is \
                         missing{more})"
                    )
                } else {
                    format!(
                        ": no folder of shard {} was given (point {p} replication {r} is \
                         missing{more})",
                        absent.join(", ")
                    )
                }
            }
            (Some((p, r)), None) => format!(": point {p} replication {r} is missing{more}"),
            (None, _) => String::new(),
        };
        return Err(MergeError::Incomplete {
            found: records.len(),
            expected,
            detail,
        });
    }
    Ok((manifest, records))
}

/// A sweep or shard folder's manifest.
fn read_manifest(dir: &Path) -> Result<SweepManifest, ReadError> {
    serde_json::from_slice(&read_in(dir, "manifest.json")?)
        .map_err(|e| format_error(dir, "manifest.json", format!("not a sweep manifest: {e}")))
}

/// The rows of `dir/records.csv` with their line numbers, each checked against the manifest `m`
/// of its folder (see [`merge`]).
fn read_checked_records(dir: &Path, m: &SweepManifest) -> Result<Vec<(Record, u64)>, MergeError> {
    const HELP: &str = "this records.csv is not as `capsim sweep --shard I/N` wrote it: run that \
                        shard again rather than editing the file";
    let file = dir.join("records.csv").display().to_string();
    let bad = |line: u64, message: String| MergeError::Row {
        at: format!("{file}:{line}"),
        message,
        help: HELP,
    };
    let shard = if m.shard == "all" {
        Shard::ALL
    } else {
        Shard::parse(&m.shard).map_err(|_| {
            format_error(
                dir,
                "manifest.json",
                format!("shard '{}' is not I/N", m.shard),
            )
        })?
    };
    let list = headline_list(&m.firms);
    let bytes = read_in(dir, "records.csv")?;
    let mut rdr = ::csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(bytes.as_slice());
    let header = rdr
        .headers()
        .map_err(|e| bad(1, format!("cannot read the header: {e}")))?
        .clone();
    let expected: Vec<&str> = ["point", "replication"]
        .into_iter()
        .chain(list.iter().map(|h| h.name.as_str()))
        .collect();
    if let Some(i) =
        (0..expected.len().max(header.len())).find(|&i| header.get(i) != expected.get(i).copied())
    {
        return Err(bad(
            1,
            format!(
                "column {} of the header is '{}', where this sweep's records have '{}'",
                i + 1,
                header.get(i).unwrap_or(""),
                expected.get(i).copied().unwrap_or("")
            ),
        ));
    }
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, e.to_string())
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.len() != expected.len() {
            return Err(bad(
                line,
                format!(
                    "the row has {} fields, where the header has {}",
                    rec.len(),
                    expected.len()
                ),
            ));
        }
        let point: usize = rec[0]
            .parse()
            .map_err(|_| bad(line, format!("point '{}' is not a point number", &rec[0])))?;
        if point >= m.points.len() {
            return Err(bad(
                line,
                format!(
                    "point {point} is not a point of this sweep (it has {}: 0 to {})",
                    m.points.len(),
                    m.points.len().saturating_sub(1)
                ),
            ));
        }
        let replication: u64 = rec[1].parse().map_err(|_| {
            bad(
                line,
                format!("replication '{}' is not a replication number", &rec[1]),
            )
        })?;
        if replication >= m.replications {
            return Err(bad(
                line,
                format!(
                    "replication {replication} is not a replication of this sweep (it has {}: 0 \
                     to {})",
                    m.replications,
                    m.replications.saturating_sub(1)
                ),
            ));
        }
        let k = point as u64 * m.replications + replication;
        if !shard.owns(k) {
            return Err(bad(
                line,
                format!(
                    "point {point} replication {replication} is not one of shard {}'s pairs",
                    m.shard
                ),
            ));
        }
        let values = rec
            .iter()
            .skip(2)
            .zip(&list)
            .map(|(s, h)| {
                let metric = h.headline.metric();
                match s {
                    // A flow is a sum: it always has a value.
                    "" if metric.kind != Kind::Flow => Ok(f64::NAN),
                    "" => Err(bad(
                        line,
                        format!("{} is empty, but a total always has a value", h.name),
                    )),
                    s => match s.parse::<f64>() {
                        Ok(v) if v.is_finite() => Ok(v),
                        _ => Err(bad(
                            line,
                            format!("{} is '{s}', not a finite number", h.name),
                        )),
                    },
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        rows.push((
            Record {
                point,
                replication,
                values,
            },
            line,
        ));
    }
    Ok(rows)
}
