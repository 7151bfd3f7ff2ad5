//! Every table of a run folder fits its documented schema (`schema.json`, `report::schema`): its
//! CSV reads back under it and its Parquet file holds the same rows with those types; a CSV that
//! breaks its schema is refused when converted.

use std::io::Write;

use capsim::experiment::{self, RunOptions};
use capsim::metrics::PeriodKind;
use capsim::report::folders::{self, Format};
use capsim::report::schema::{self, Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::support::{load, tmp};

fn tables_of(sc: &capsim::scenario::Scenario, period: PeriodKind, replications: u64, dir: &str) {
    let options = RunOptions {
        seed: sc.seed,
        replications,
        period,
        threads: None,
    };
    let result = experiment::execute(sc, options).unwrap();
    let files = folders::run_folder_files_as(sc, &result, "run", Format::Both).unwrap();
    let dir = tmp(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut seen = Vec::new();
    for (name, content) in &files {
        let Some(table) = name.strip_suffix(".parquet") else {
            continue;
        };
        seen.push(table.to_string());
        let columns = schema::run_table(table).unwrap();
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&content.to_bytes()).unwrap();
        drop(f);
        // The CSV beside it: its header is the schema's, and it has as many rows.
        let csv = files
            .iter()
            .find(|(n, _)| *n == format!("{table}.csv"))
            .map(|(_, c)| c.to_bytes())
            .unwrap();
        let mut r = csv::Reader::from_reader(csv.as_slice());
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(header, names, "{table}");
        let rows = r.records().count();
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
        let fields: Vec<(String, String)> = reader
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect();
        let want: Vec<(String, String)> = columns
            .iter()
            .map(|c| {
                let t = match c.ty {
                    Type::Text => "Utf8",
                    Type::Int => "Int64",
                    Type::Float => "Float64",
                    Type::Date => "Date32",
                    Type::Timestamp => "Timestamp(ms)",
                    Type::Bool => "Boolean",
                };
                (c.name.clone(), t.to_string())
            })
            .collect();
        assert_eq!(fields, want, "{table}");
        let parquet_rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(parquet_rows, rows, "{table}");
    }
    // Every table the folder has is in both forms, and schema.json names them.
    let json = files
        .iter()
        .find(|(n, _)| n == "schema.json")
        .map(|(_, c)| c.to_bytes())
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let listed: Vec<&str> = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(listed, seen);
    for t in v["tables"].as_array().unwrap() {
        let name = t["table"].as_str().unwrap();
        assert_eq!(
            t["files"],
            serde_json::json!([format!("{name}.csv"), format!("{name}.parquet")])
        );
    }
}

#[test]
fn every_table_of_a_daily_run_and_of_the_baseline_fits_its_schema_in_csv_and_parquet() {
    let small = load(&super::scenario_toml(false));
    tables_of(&small, PeriodKind::Day, 2, "tables-daily");
    let baseline = capsim::scenario::baseline().unwrap();
    tables_of(&baseline, PeriodKind::Quarter, 1, "tables-baseline");
}

#[test]
fn a_csv_that_breaks_its_schema_is_refused_with_the_table_and_the_value() {
    let columns = schema::run_table("draws").unwrap();
    let write = |csv: &'static str| {
        let mut out = Vec::new();
        capsim::report::parquet::write(
            "draws",
            &columns,
            &|w: &mut dyn Write| w.write_all(csv.as_bytes()),
            &mut out,
        )
        .map(|()| out)
    };
    let good = "run,scenario,replication,field,value,in_run\nr,s,0,chips.x.pue,1.25,1.25\n\
                r,s,1,chips.x.pue,1.5,1.5\n";
    assert!(write(good).unwrap().starts_with(b"PAR1"));
    // An integer column written as a float, a float column holding text, a header that differs.
    for (csv, says) in [
        (
            "run,scenario,replication,field,value,in_run\nr,s,0.0,f,1.0,1.0\n",
            "0.0",
        ),
        (
            "run,scenario,replication,field,value,in_run\nr,s,0,f,high,1.0\n",
            "high",
        ),
        (
            "run,scenario,rep,field,value,in_run\nr,s,0,f,1.0,1.0\n",
            "header",
        ),
    ] {
        let e = write(csv).unwrap_err().to_string();
        assert!(
            e.starts_with("draws: the CSV does not fit its schema"),
            "{e}"
        );
        assert!(e.contains(says), "{e}");
    }
}
