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
use crate::metrics::catalog::headline_list;

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
        SweepManifest {
            scenario: scenario.name.clone(),
            content_hash: scenario.content_hash.clone(),
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
        row.extend(
            manifest.point_values[s.point]
                .iter()
                .map(|v| v.clone().unwrap_or_default()),
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
    /// Some pairs are missing or doubled.
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
pub fn merge(dirs: &[&Path]) -> Result<(SweepManifest, Vec<Record>), MergeError> {
    let mut first: Option<(SweepManifest, String)> = None;
    let mut records = Vec::new();
    for dir in dirs {
        let (m, r) = read_sweep(dir)?;
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
        records.extend(r);
    }
    let (manifest, _) = first.ok_or(MergeError::Incomplete {
        found: 0,
        expected: 0,
        detail: ": no folders given".into(),
    })?;
    let expected = manifest.points.len() * manifest.replications as usize;
    records.sort_by_key(|r| (r.point, r.replication));
    let mut seen = std::collections::BTreeSet::new();
    let dup = records
        .iter()
        .find(|r| !seen.insert((r.point, r.replication)));
    if let Some(d) = dup {
        return Err(MergeError::Incomplete {
            found: records.len(),
            expected,
            detail: format!(
                ": point {} replication {} appears twice",
                d.point, d.replication
            ),
        });
    }
    if records.len() != expected {
        return Err(MergeError::Incomplete {
            found: records.len(),
            expected,
            detail: String::new(),
        });
    }
    Ok((manifest, records))
}
