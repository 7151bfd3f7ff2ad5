//! Reports: what a run, a comparison and a sweep write. Nothing here recomputes what the metrics
//! hold.
//!
//! # Layers (STYLE.md pattern 18)
//!
//! Each module holds data, or renders data to bytes, or assembles a folder's files; a module
//! imports only modules listed before it, so no two import each other:
//!
//! | module | kind | imports |
//! |---|---|---|
//! | [`output`] | file I/O: writes a folder in one rename | - |
//! | [`format`](mod@format) | renderer of numbers for a reader: the one format of report tables and chart axes | - |
//! | [`csv`] | renderer of the metrics' CSVs (and the number format and column names that readers share) | - |
//! | [`manifest`] | data: a run's `manifest.json` | - |
//! | [`observed`] | data: a run held against the scenario's observations; `observations.csv` | `csv` |
//! | [`schema`] | data: every run table's columns (type, unit, meaning); `schema.json` | `csv`, `observed` |
//! | [`parquet`] | renderer: a table's CSV, read back under its schema, as Parquet (the one home of Arrow and Parquet) | `schema` |
//! | [`view`] | data: a run as the reports read it, from a finished run or a run folder | `manifest`, `csv` |
//! | [`compare`] | data: headline numbers of runs and their differences; `comparison.csv` | `view`, `csv` |
//! | [`sweep`] | data: a sweep's manifest, reading and merging shard folders; `sweep.csv`, `records.csv` | `view`, `csv` |
//! | [`charts`] | renderer: SVG, PNG and PDF charts of runs (with their observations) and of sweeps | `format`, `observed`, `view`, `sweep` |
//! | [`html`] | renderer: `report.html` of a run, a comparison and a sweep | `format`, `view`, `observed`, `compare`, `sweep`, `charts` |
//! | [`folders`] | assembler: every file of a run, comparison and sweep folder | all of the above |
//!
//! Check with `grep -rn "use super::\|use crate::report\|super::[a-z]*::" src/report`.

pub mod charts;
pub mod compare;
pub mod csv;
pub mod folders;
pub mod format;
pub mod html;
pub mod manifest;
pub mod observed;
pub mod output;
#[cfg(feature = "parquet")]
pub mod parquet;
/// Built without the `parquet` feature: asking for Parquet fails with a clear error.
#[cfg(not(feature = "parquet"))]
#[path = "parquet_off.rs"]
pub mod parquet;
pub mod schema;
pub mod sweep;
pub mod view;
