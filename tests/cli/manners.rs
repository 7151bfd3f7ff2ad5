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

#[test]
fn validate_reports_every_wrong_value_of_a_kind_each_located() {
    let dir = tmp("cli-several");
    std::fs::create_dir_all(&dir).unwrap();
    let base = crate::support::two_sites("", "");
    // Both sites' values wrong: both are reported, each with its line, column and help (within
    // one entry, the first wrong value is).
    let two = base
        .replacen("pue = 1.4", "pue = 0.4", 1)
        .replacen("pue = 1.3", "pue = 0.3", 1);
    let f = dir.join("two.toml");
    std::fs::write(&f, &two).unwrap();
    let (code, _, err) = capsim(&["validate", f.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 2, "{err}");
    assert!(
        errors[0].contains("two.toml:") && errors[0].contains("sites.johor.pue"),
        "{err}"
    );
    assert!(
        errors[1].contains("two.toml:") && errors[1].contains("sites.home.pue"),
        "{err}"
    );
    assert_eq!(err.matches("\n  help: ").count(), 2, "{err}");
    assert!(err.contains("(2 errors in all)"), "{err}");
    // Two policies wrong: both. (Sites and firms refer to chips, policies to both: a kind is
    // checked once the kinds it refers to are right.)
    let policies = r#"
[[policy]]
name = "a"
rule = "licence_fee"
chip = "h100"
to = "CN"
fee_fraction = -1
from = 2025-01-01

[[policy]]
name = "b"
rule = "licence_fee"
chip = "h100"
to = "CN"
fee_fraction = 0.1
from = 2031-01-01
"#;
    let f = dir.join("policies.toml");
    std::fs::write(&f, crate::support::two_sites(policies, "")).unwrap();
    let (code, _, err) = capsim(&["validate", f.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error: ")).count(),
        2,
        "{err}"
    );
    assert!(
        err.contains("policy[0].fee_fraction") || err.contains("fee_fraction"),
        "{err}"
    );
    // One error is reported as before: no count line.
    let one = base.replacen("training_mfu = 0.40", "training_mfu = 1.7", 1);
    let f = dir.join("one.toml");
    std::fs::write(&f, &one).unwrap();
    let (code, _, err) = capsim(&["validate", f.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(!err.contains("errors in all"), "{err}");
}

#[test]
fn an_error_in_the_built_in_baseline_says_where_its_source_is() {
    let out = crate::support::tmp("cli-embedded-note");
    let (code, _, err) = capsim(&[
        "run",
        "--set",
        "firms.alibaba.demand.share=2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error: <embedded>/baseline/firms/alibaba.toml:"),
        "{err}"
    );
    // The note names the file in the source tree once, and that file exists there.
    let note = err
        .lines()
        .find(|l| l.starts_with("  note: "))
        .unwrap_or_else(|| panic!("no note: {err}"));
    assert!(
        note.contains("from scenarios/baseline/firms/alibaba.toml in its source"),
        "{note}"
    );
    assert!(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/baseline/firms/alibaba.toml")
        .is_file());
    assert!(
        !out.join("baseline").exists(),
        "nothing is written on bad input"
    );
    // A sweep's point wraps the same error: the note is there too.
    let (code, _, err) = capsim(&[
        "sweep",
        "--vary",
        "firms.alibaba.demand.share=0.5,2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("note: `<embedded>/` is the built-in baseline"),
        "{err}"
    );
    // A user file's error has no such note.
    let dir = crate::support::tmp("cli-embedded-note-user");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.toml");
    std::fs::write(
        &f,
        crate::support::two_sites("", "").replacen("pue = 1.4", "pue = 0.4", 1),
    )
    .unwrap();
    let (code, _, err) = capsim(&["run", f.to_str().unwrap(), "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("note:"), "{err}");
}
