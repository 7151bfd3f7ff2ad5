//! The command line as a user meets it: exit codes, messages with file:line:col, no half-written
//! output.

mod manners;
mod safety;
#[cfg(feature = "serve")]
mod serve;

use crate::support::{capsim, tmp};

/// Broken scenarios (as diffs over the baseline): what to change, and what the message must say.
const BROKEN: &[(&str, &str, &[&str])] = &[
    (
        "unknown-chip",
        "[sites.my-bytedance-h100]\nchip = \"H2O\"\n",
        &["bad.toml:", "sites.my-bytedance-h100.chip", "unknown chip 'H2O'", "h100"],
    ),
    (
        "unknown-key",
        "[chips.h100]\nprice = 3\n",
        &["bad.toml:", "chips.h100", "unknown key 'price'", "lease_usd_per_chip_hour"],
    ),
    (
        "negative",
        "[sites.my-bytedance-h100]\npue = -1.4\n",
        &["bad.toml:", "sites.my-bytedance-h100.pue"],
    ),
    (
        "nan",
        "[chips.h100]\ntraining_mfu = nan\n",
        &["bad.toml:", "chips.h100.training_mfu"],
    ),
    (
        "date-outside",
        "[[policy]]\nname = \"late\"\nrule = \"export_ban\"\nchip = \"h100\"\nto = \"CN\"\nfrom = 2031-01-01\n",
        &["bad.toml:", "from", "2031-01-01"],
    ),
    (
        "undefined-site",
        "[firms.deepseek]\nsites = [\"nowhere\"]\n",
        &["bad.toml:", "firms.deepseek.sites", "nowhere"],
    ),
    (
        "syntax",
        "[chips.h100\n",
        &["bad.toml:", "TOML"],
    ),
];

#[test]
fn broken_scenarios_exit_2_with_located_messages_and_write_nothing() {
    let dir = tmp("cli-broken");
    let out = dir.join("out");
    for (name, diff, needles) in BROKEN {
        let file = dir.join("bad.toml");
        let text = format!("extends = \"baseline.toml\"\nname = \"{name}\"\n{diff}");
        std::fs::write(&file, text).unwrap();
        let (code, _stdout, stderr) = capsim(&[
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{name}: exit code {code}, stderr: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        for n in *needles {
            assert!(stderr.contains(n), "{name}: message lacks '{n}':\n{stderr}");
        }
        // file:line:col: the file name is followed by two numbers.
        let at = stderr.split("bad.toml:").nth(1).unwrap_or("");
        let mut parts = at.splitn(3, ':');
        let (line, col) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        assert!(
            line.parse::<u32>().is_ok() && col.parse::<u32>().is_ok(),
            "{name}: no line:col in {stderr}"
        );
        assert!(
            !out.join(name).exists(),
            "{name}: an output folder was written"
        );
        let (vcode, _, _) = capsim(&["validate", file.to_str().unwrap()]);
        assert_eq!(vcode, 2, "{name}: validate must fail too");
    }
    let leftovers = std::fs::read_dir(&out).map_or(0, |d| d.flatten().count());
    assert_eq!(leftovers, 0, "nothing may be left under --out");
}

#[test]
fn run_writes_the_documented_files_and_validate_and_chips_work() {
    let dir = tmp("cli-ok");
    let (code, stdout, stderr) =
        capsim(&["run", "--out", dir.to_str().unwrap(), "--replications", "2"]);
    assert_eq!(code, 0, "{stderr}");
    let run = dir.join("baseline");
    assert_eq!(stdout.trim(), run.display().to_string());
    for f in [
        "timeseries.csv",
        "firms.csv",
        "summary.csv",
        "manifest.json",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let ts = std::fs::read_to_string(run.join("timeseries.csv")).unwrap();
    let header = ts.lines().next().unwrap();
    for col in [
        "replication",
        "period_start",
        "site",
        "jurisdiction",
        "chip",
        "chips_online",
        "chip_hours_busy",
        "utilisation",
        "compute_pflop_days",
        "tokens_served",
        "training_jobs_completed",
        "wait_hours_p50",
        "wait_hours_p95",
        "cost_usd",
        "energy_mwh",
        "evictions",
        "failures",
        "blocked_jobs",
    ] {
        assert!(
            header.split(',').any(|c| c == col),
            "timeseries.csv lacks {col}"
        );
    }
    let manifest = std::fs::read_to_string(run.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"replications\": 2") && manifest.contains("content_hash"));

    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/lease-ban-2026.toml");
    let (code, stdout, _) = capsim(&["validate", shipped]);
    assert_eq!(code, 0);
    assert!(stdout.contains("ok"));
    let (code, stdout, _) = capsim(&["chips"]);
    assert_eq!(code, 0);
    for chip in [
        "a800",
        "h20",
        "h200",
        "b200",
        "gb200",
        "ascend-910b",
        "ascend-910c",
        "ascend-950",
    ] {
        assert!(stdout.contains(chip), "chips lacks {chip}");
    }
    let (code, _, stderr) = capsim(&["run", "--period", "fortnight"]);
    assert_eq!(code, 2, "{stderr}");
}
