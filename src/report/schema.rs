//! The documented schema of every table a run folder holds: for each file, its columns in order,
//! each with a type, a unit and a meaning. The CSV writers ([`super::csv`], [`super::observed`])
//! write these columns; the Parquet files ([`super::parquet`]) carry these types (and the unit and
//! meaning as field metadata); `schema.json` in the run folder lists them for readers (pandas,
//! polars, duckdb, R); a test reads every file of a run back under its schema, so a column whose
//! values do not all parse as its type fails it.
//!
//! Metric columns (`timeseries.csv`, `firms.csv`) come from the metric catalog: a count is an
//! integer column, every other quantity a float column.

use serde::Serialize;

use super::csv::{
    DECISIONS_COLUMNS, DRAWS_COLUMNS, FIRMS_KEYS, HEADLINE_COLUMNS, INPUTS_COLUMNS, JOBS_COLUMNS,
    SUMMARY_COLUMNS, TIMESERIES_KEYS,
};
use super::observed::COLUMNS as OBSERVATIONS_COLUMNS;
use crate::metrics::catalog::{self, Dtype, Metric};

/// A column's type, as every reader should type it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Type {
    /// Text (UTF-8); an empty cell is no value.
    Text,
    /// A 64-bit signed integer, written without a decimal point.
    Int,
    /// A 64-bit float, always written with a `.` or an exponent (shortest round-trip form).
    Float,
    /// A calendar day, `YYYY-MM-DD`.
    Date,
    /// A local date-time from the scenario's start, `YYYY-MM-DDTHH:MM:SS`, to the second.
    Timestamp,
    /// `true` or `false`.
    Bool,
}

/// One column of a table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Column {
    /// Its name in the header.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: Type,
    /// Its unit (empty where it has none: names, labels, dates).
    pub unit: String,
    /// What it holds.
    pub meaning: String,
}

/// What every column named so in a run folder's tables is (the key and label columns the files
/// share, and the fixed columns of each file); metric columns come from the catalog.
fn known(name: &str) -> Option<(Type, &'static str, &'static str)> {
    use Type::*;
    Some(match name {
        "run" => (
            Text,
            "",
            "the run's name (its folder's; a sweep point's <scenario>-point-NNN)",
        ),
        "scenario" => (Text, "", "the scenario's name"),
        "replication" => (Int, "", "replication index, from 0"),
        "period_start" => (Date, "", "first day of the reporting period"),
        "period_end" => (Date, "", "last day of the reporting period (inclusive)"),
        "period_days" => (Int, "days", "days in the reporting period"),
        "site" => (Text, "", "site name"),
        "jurisdiction" => (Text, "", "ISO code of the site's jurisdiction"),
        "operator" => (Text, "", "who operates the site: domestic or foreign"),
        "chip" => (Text, "", "chip name"),
        "firm" => (Text, "", "firm name"),
        "headquarters" => (Text, "", "ISO code of the firm's home jurisdiction"),
        "group_kind" => (
            Text,
            "",
            "kind of group: all, jurisdiction, chip, operator, firms, firm",
        ),
        "group" => (
            Text,
            "",
            "the group (all, a jurisdiction's code, a chip, a firm, ...)",
        ),
        "metric" => (
            Text,
            "",
            "metric name (see the metric catalog in the README)",
        ),
        "replications" => (Int, "", "replications summarised"),
        "mean" => (Float, "the metric's", "mean across replications"),
        "p05" => (Float, "the metric's", "5th percentile across replications"),
        "p95" => (Float, "the metric's", "95th percentile across replications"),
        "field" => (Text, "", "field path of the scenario input"),
        "source" => (Text, "", "the source the scenario gives"),
        "job" => (
            Int,
            "",
            "job number within its replication, in arrival order",
        ),
        "workload" => (Text, "", "the firm's workload that generated the job"),
        "kind" => (Text, "", "training or fine_tuning"),
        "size_flop" => (Float, "FLOP", "work the job does"),
        "gang_chips" => (Int, "chips", "chips the job runs on at once"),
        "arrived" => (Timestamp, "", "when the job arrived"),
        "first_start" => (Timestamp, "", "when it first started (empty: never)"),
        "completed" => (Timestamp, "", "when it completed (empty: not by the end)"),
        "wait_hours" => (Float, "hours", "from arrival to first start"),
        "completion_hours" => (Float, "hours", "from arrival to completion"),
        "sites" => (Text, "", "sites it ran at, in order, separated by ';'"),
        "evictions" => (
            Int,
            "",
            "times it was evicted (checkpointed and placed again)",
        ),
        "failures" => (Int, "", "chip failures that restarted it"),
        "final_state" => (Text, "", "completed, running, queued or blocked at the end"),
        "at" => (Timestamp, "", "when the decision was made"),
        "lot" => (
            Int,
            "",
            "lease lot, order or purchase number (its rows are its life)",
        ),
        "action" => (
            Text,
            "",
            "what was decided (sign, order, import, grey, pass, renew, ...)",
        ),
        "chips" => (Int, "chips", "chips the decision took or moved"),
        "usd_per_chip_hour" => (Float, "USD/chip-hour", "the option's or lot's price"),
        "need_chips" => (
            Int,
            "chips",
            "unmet need the review found: waiting gangs and planned runs, less chips on their way (or a replaced lot's chips)",
        ),
        "market_held_share" => (
            Float,
            "share",
            "share of the market's open capacity held after",
        ),
        "channel" => (Text, "", "lease, domestic, import or grey"),
        "rank" => (
            Int,
            "",
            "the option's rank by cost at its review (1 = cheapest; 0: no review)",
        ),
        "usd_per_pflop_day" => (
            Float,
            "USD/PFLOP-day",
            "the option's cost per useful PFLOP-day as ranked",
        ),
        "gap_pflops" => (
            Float,
            "PFLOP/s",
            "planned capacity rules refused, not yet replaced",
        ),
        "inference_need_tokens_per_s" => (
            Float,
            "tokens/s",
            "forecast peak inference demand its serving capacity would not take",
        ),
        "planned_chips" => (
            Int,
            "chips",
            "gangs of planned training runs counted in need_chips (with forecast_training)",
        ),
        "why" => (Text, "", "why the option was taken or passed"),
        "line" => (Int, "", "line of the observation in the observations file"),
        "date" => (Date, "", "the day the observed figure refers to"),
        "from" => (
            Date,
            "",
            "first day of the observed figure's window (empty: one day)",
        ),
        "value" => (Float, "the unit column's", "the value"),
        "in_run" => (Float, "the input's", "the value the replication ran with"),
        "low" => (Float, "the unit column's", "lowest value the source allows"),
        "high" => (
            Float,
            "the unit column's",
            "highest value the source allows",
        ),
        "unit" => (Text, "", "unit of the value"),
        "status" => (Text, "", "inside, outside, input or context"),
        "window_start" => (Date, "", "first day of the periods the model is read over"),
        "window_end" => (Date, "", "last day of the periods the model is read over"),
        "sim_mean" => (
            Float,
            "the unit column's",
            "the model's mean across replications",
        ),
        "sim_p05" => (Float, "the unit column's", "the model's 5th percentile"),
        "sim_p95" => (Float, "the unit column's", "the model's 95th percentile"),
        "used_as_input" => (
            Bool,
            "",
            "whether the scenario also uses the figure as an input",
        ),
        "note" => (Text, "", "the observation's note"),
        _ => return None,
    })
}

fn column(name: &str) -> Column {
    let (ty, unit, meaning) =
        known(name).unwrap_or_else(|| panic!("column '{name}' has no entry in report::schema"));
    Column {
        name: name.to_string(),
        ty,
        unit: unit.to_string(),
        meaning: meaning.to_string(),
    }
}

fn metric_column(m: &Metric) -> Column {
    Column {
        name: m.name.to_string(),
        ty: match m.dtype {
            Dtype::Count => Type::Int,
            Dtype::Float => Type::Float,
        },
        unit: m.unit.to_string(),
        meaning: m.label.to_string(),
    }
}

fn columns(names: &[&str]) -> Vec<Column> {
    names.iter().map(|n| column(n)).collect()
}

/// The tables of a run folder, in the order the folder lists them.
pub const RUN_TABLES: &[&str] = &[
    "timeseries",
    "firms",
    "summary",
    "headline",
    "jobs",
    "decisions",
    "provenance",
    "inputs",
    "draws",
    "observations",
];

/// The columns of table `name` of a run folder (`firms` for `firms.csv` and `firms.parquet`), or
/// `None` for a name that is not one of [`RUN_TABLES`].
pub fn run_table(name: &str) -> Option<Vec<Column>> {
    Some(match name {
        "timeseries" => {
            let mut v = columns(TIMESERIES_KEYS);
            v.extend(catalog::SITE.iter().map(metric_column));
            v
        }
        "firms" => {
            let mut v = columns(FIRMS_KEYS);
            v.extend(catalog::FIRM.iter().map(metric_column));
            v
        }
        "summary" => columns(SUMMARY_COLUMNS),
        "headline" => columns(HEADLINE_COLUMNS),
        "jobs" => columns(JOBS_COLUMNS),
        "decisions" => columns(DECISIONS_COLUMNS),
        "provenance" => columns(&["run", "scenario", "field", "source"]),
        "inputs" => {
            let mut v = columns(INPUTS_COLUMNS);
            // An input's value as written in the scenario: a number, a date, or a distribution.
            v[3] = Column {
                name: "value".into(),
                ty: Type::Text,
                unit: "the unit column's".into(),
                meaning: "the value as used, or its distribution as written".into(),
            };
            v
        }
        "draws" => {
            let mut v = columns(DRAWS_COLUMNS);
            v[4].unit = "the input's".into();
            v[4].meaning = "the value this replication drew".into();
            v[5].unit = "the input's".into();
            v[5].meaning = "the value this replication ran with: the draw, but for a firm's \
                demand.share its share renormalised over the firm's group (the draw x the sum of \
                the group's written_at / the sum of the group's shares, drawn or fixed)"
                .into();
            v
        }
        "observations" => columns(OBSERVATIONS_COLUMNS),
        _ => return None,
    })
}

/// `schema.json` of a run folder: for each table, its columns (name, type, unit, meaning), and the
/// files that hold it.
pub fn run_schema_json(tables: &[(&str, &[&str])]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Table {
        table: String,
        files: Vec<String>,
        columns: Vec<Column>,
    }
    let v: Vec<Table> = tables
        .iter()
        .filter_map(|(t, files)| {
            Some(Table {
                table: t.to_string(),
                files: files.iter().map(|f| f.to_string()).collect(),
                columns: run_table(t)?,
            })
        })
        .collect();
    let mut out = serde_json::to_vec_pretty(&serde_json::json!({
        "about": "the tables of this run folder: each column's type (text, int, float, date, \
                  timestamp, bool), unit and meaning; CSV and Parquet files of a table have the \
                  same columns",
        "tables": v,
    }))
    .expect("serialisable");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_table_has_a_schema_with_unique_names() {
        for t in RUN_TABLES {
            let cols = run_table(t).unwrap();
            let mut names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(names[..2], ["run", "scenario"], "{t}");
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), cols.len(), "{t}: a column twice");
        }
        assert!(run_table("nope").is_none());
    }
}
