//! The command line for scripts and shells: a JSON summary on stdout, environment defaults,
//! completions and a man page.

use crate::support::{capsim, tmp};

#[test]
fn run_json_is_one_object_scripts_can_read_and_the_environment_sets_defaults() {
    let dir = tmp("cli-json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(["run", "--json", "-q", "--period", "year"])
        .env("CAPSIM_OUT", dir.join("env-out"))
        .env("CAPSIM_THREADS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    // CAPSIM_OUT chose the folder; the summary names it and the run.
    let folder = dir.join("env-out").join("baseline");
    assert_eq!(v["folder"], folder.display().to_string());
    assert!(folder.join("summary.csv").exists());
    assert_eq!(v["scenario"], "baseline");
    assert_eq!(v["period"], "year");
    assert_eq!(v["replications"], 1);
    // -q leaves stderr empty: no bar, no summary line.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jobs = &v["jobs"];
    assert!(jobs["arrived"].as_u64().unwrap() >= jobs["completed"].as_u64().unwrap());
    // A bad CAPSIM_THREADS is refused like a bad --threads.
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(["run", "-q", "--out"])
        .arg(dir.join("never"))
        .env("CAPSIM_THREADS", "0")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("invalid value '0' for '--threads"), "{err}");
    assert!(!dir.join("never").exists());
}

#[test]
fn completions_and_the_man_page_cover_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = capsim(&["completions", shell]);
        assert_eq!(code, 0, "{err}");
        for command in ["run", "sweep", "merge", "compare", "validate"] {
            assert!(out.contains(command), "{shell} completions lack {command}");
        }
    }
    let (code, out, err) = capsim(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(".TH capsim 1"));
    assert!(out.contains("compare"));
}

#[test]
fn parquet_tables_sit_beside_or_instead_of_the_csvs_and_compare_says_what_it_needs() {
    let dir = tmp("cli-parquet");
    let out = dir.join("out");
    let run = |args: &[&str]| {
        let mut a = vec![
            "run",
            "-q",
            "--period",
            "year",
            "--out",
            out.to_str().unwrap(),
        ];
        a.extend_from_slice(args);
        capsim(&a)
    };
    let (code, _, err) = run(&["--format", "both", "--name", "both"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["--format", "parquet", "--name", "parquet"]);
    assert_eq!(code, 0, "{err}");
    for table in [
        "timeseries",
        "firms",
        "summary",
        "headline",
        "jobs",
        "decisions",
    ] {
        assert!(out.join("both").join(format!("{table}.csv")).exists());
        assert!(out.join("both").join(format!("{table}.parquet")).exists());
        assert!(out
            .join("parquet")
            .join(format!("{table}.parquet"))
            .exists());
        assert!(!out.join("parquet").join(format!("{table}.csv")).exists());
    }
    let schema = std::fs::read_to_string(out.join("parquet").join("schema.json")).unwrap();
    assert!(schema.contains("\"summary.parquet\"") && !schema.contains("\"summary.csv\""));
    // Running again over a folder with Parquet files replaces it (capsim's own files).
    let (code, _, err) = run(&["--format", "both", "--name", "both"]);
    assert_eq!(code, 0, "{err}");
    // compare reads CSV: a Parquet-only folder is refused, saying how to get one it can read.
    let (code, _, err) = capsim(&[
        "compare",
        out.join("both").to_str().unwrap(),
        out.join("parquet").to_str().unwrap(),
        "--out",
        dir.join("cmp").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("Parquet only") && err.contains("--format both"),
        "{err}"
    );
    assert!(!dir.join("cmp").exists());
}
