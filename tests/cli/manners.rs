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
