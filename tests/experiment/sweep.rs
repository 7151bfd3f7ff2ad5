//! Sweeps from the command line: shards merge into exactly what the unsharded sweep writes, the
//! thread count changes nothing, and bad axes are clear errors before anything runs.

use crate::support::{capsim, tmp};

use std::path::Path;

/// A tiny world so the sweep is quick: the two-site test world with steady fine-tuning work.
pub(super) fn scenario(dir: &Path) -> String {
    crate::support::tiny_world(dir, 3, Some(50_000))
}

const AXES: [&str; 4] = [
    "--vary",
    "sites.johor.lease_usd_per_chip_hour=0.4,0.9",
    "--vary",
    "policy.lease-ban.from=2025-03-01..2025-09-01/quarter",
];

#[test]
fn shards_merge_into_the_unsharded_sweep_byte_for_byte() {
    let dir = tmp("sweep-merge");
    let sc = scenario(&dir);
    let d = |x: &str| dir.join(x).display().to_string();
    let mut whole = vec!["sweep", &sc, "--replications", "3", "--out"];
    let whole_out = d("whole");
    whole.push(&whole_out);
    whole.extend(AXES);
    whole.extend(["--threads", "2", "--quiet"]);
    let (code, _, err) = capsim(&whole);
    assert_eq!(code, 0, "{err}");
    // The same sweep keeping headline numbers only: no point folders, so nothing for its report
    // to link to, as after a merge.
    let lean_out = d("lean");
    let mut lean = vec!["sweep", &sc, "--replications", "3", "--out", &lean_out];
    lean.extend(AXES);
    lean.extend(["--headline-only", "--threads", "2", "--quiet"]);
    let (code, _, err) = capsim(&lean);
    assert_eq!(code, 0, "{err}");
    let shards_out = d("shards");
    for i in 1..=3 {
        let shard = format!("{i}/3");
        let mut args = vec![
            "sweep",
            &sc,
            "--replications",
            "3",
            "--out",
            &shards_out,
            "--shard",
            &shard,
        ];
        args.extend(AXES);
        args.extend(["--threads", "1", "--quiet"]);
        let (code, _, err) = capsim(&args);
        assert_eq!(code, 0, "{err}");
    }
    let mut merge = vec!["merge".to_string()];
    let mut shard_dirs: Vec<String> = std::fs::read_dir(&shards_out)
        .unwrap()
        .flatten()
        .map(|e| e.path().display().to_string())
        .collect();
    shard_dirs.sort();
    shard_dirs.reverse(); // order of the folders must not matter
    merge.extend(shard_dirs);
    merge.extend(["--out".to_string(), d("merged")]);
    let (code, _, err) = capsim(&merge.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    // The charts, as SVG, PNG and PDF: one per axis (a grid of two axes has no tornado), none in
    // the shards.
    let charts = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d.join("charts"))
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let chart_names = charts(&dir.join("whole/sweep-two-sites"));
    assert_eq!(
        chart_names,
        [
            "sweep-1-sites-johor-lease-usd-per-chip-hour-backlog.pdf",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-backlog.png",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-backlog.svg",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-compute.pdf",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-compute.png",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-compute.svg",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-costs.pdf",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-costs.png",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-costs.svg",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-firms.pdf",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-firms.png",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-firms.svg",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-service.pdf",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-service.png",
            "sweep-1-sites-johor-lease-usd-per-chip-hour-service.svg",
            "sweep-2-policy-lease-ban-from-backlog.pdf",
            "sweep-2-policy-lease-ban-from-backlog.png",
            "sweep-2-policy-lease-ban-from-backlog.svg",
            "sweep-2-policy-lease-ban-from-compute.pdf",
            "sweep-2-policy-lease-ban-from-compute.png",
            "sweep-2-policy-lease-ban-from-compute.svg",
            "sweep-2-policy-lease-ban-from-costs.pdf",
            "sweep-2-policy-lease-ban-from-costs.png",
            "sweep-2-policy-lease-ban-from-costs.svg",
            "sweep-2-policy-lease-ban-from-firms.pdf",
            "sweep-2-policy-lease-ban-from-firms.png",
            "sweep-2-policy-lease-ban-from-firms.svg",
            "sweep-2-policy-lease-ban-from-service.pdf",
            "sweep-2-policy-lease-ban-from-service.png",
            "sweep-2-policy-lease-ban-from-service.svg",
        ]
    );
    for shard in std::fs::read_dir(&shards_out).unwrap().flatten() {
        assert!(
            charts(&shard.path()).is_empty(),
            "{:?} has charts",
            shard.path()
        );
    }
    let mut compared = vec!["sweep.csv", "records.csv", "manifest.json"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    compared.extend(chart_names.iter().map(|c| format!("charts/{c}")));
    for f in &compared {
        let a = std::fs::read(dir.join("whole/sweep-two-sites").join(f)).unwrap();
        let b = std::fs::read(dir.join("merged/sweep-two-sites").join(f)).unwrap();
        assert!(
            a == b,
            "{f} differs between the unsharded sweep and the merged shards"
        );
    }
    assert_eq!(
        charts(&dir.join("merged/sweep-two-sites")),
        chart_names,
        "the merged folder has other charts"
    );
    // The merged folder is, file for file and byte for byte, the --headline-only sweep, report
    // included.
    let files = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let lean_dir = dir.join("lean/sweep-two-sites");
    let merged_dir = dir.join("merged/sweep-two-sites");
    assert_eq!(
        files(&lean_dir),
        [
            "charts",
            "manifest.json",
            "records.csv",
            "report.html",
            "sweep.csv"
        ]
    );
    assert_eq!(files(&merged_dir), files(&lean_dir));
    compared.push("report.html".into());
    for f in &compared {
        let a = std::fs::read(lean_dir.join(f)).unwrap();
        let b = std::fs::read(merged_dir.join(f)).unwrap();
        assert!(
            a == b,
            "{f} differs between the --headline-only sweep and the merged shards"
        );
    }
    // The whole sweep's report links each point to its run report, which is there; the merged
    // one has no links (no point folders), and otherwise names the same points.
    let report = |d: &Path| std::fs::read_to_string(d.join("report.html")).unwrap();
    let whole_dir = dir.join("whole/sweep-two-sites");
    let (linked, unlinked) = (report(&whole_dir), report(&merged_dir));
    assert!(
        !unlinked.contains("href=") && !unlinked.contains("<a "),
        "the merged report links somewhere"
    );
    for p in 0..7 {
        let target = format!("points/{p:03}/report.html");
        assert!(
            linked.contains(&format!("<a href=\"{target}\">")),
            "the report does not link {target}"
        );
        assert!(whole_dir.join(&target).is_file(), "{target} is not there");
    }
    assert!(
        !linked.contains("points/007/"),
        "a link to a point that does not exist"
    );
    for needle in [
        "sites.johor.lease_usd_per_chip_hour",
        "policy.lease-ban.from",
        "as written",
        "common random numbers",
    ] {
        assert!(linked.contains(needle), "the report lacks '{needle}'");
        assert!(
            unlinked.contains(needle),
            "the merged report lacks '{needle}'"
        );
    }
    // Its charts inline, as drawn to charts/ (less the XML declaration).
    let svg =
        std::fs::read_to_string(whole_dir.join("charts/sweep-2-policy-lease-ban-from-compute.svg"))
            .unwrap();
    let body = &svg[svg.find("<svg").unwrap()..];
    assert!(
        linked.contains(body.trim_end()),
        "the report lacks the axis chart"
    );
    let png = std::fs::read(
        dir.join("whole/sweep-two-sites/charts/sweep-2-policy-lease-ban-from-compute.png"),
    )
    .unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let svg = std::fs::read_to_string(
        dir.join("whole/sweep-two-sites/charts/sweep-2-policy-lease-ban-from-compute.svg"),
    )
    .unwrap();
    for text in [
        "Sweep over policy.lease-ban.from",
        "One line per value of",
        "as written",
    ] {
        assert!(svg.contains(text), "the axis chart lacks '{text}'");
    }
    // 1 baseline + 2 x 3 grid points, 3 replications each.
    let records = std::fs::read_to_string(dir.join("whole/sweep-two-sites/records.csv")).unwrap();
    assert_eq!(records.lines().count(), 1 + 7 * 3);
    let sweep = std::fs::read_to_string(dir.join("whole/sweep-two-sites/sweep.csv")).unwrap();
    assert!(
        sweep.contains("policy.lease-ban.from=2025-06-01"),
        "{sweep}"
    );
    // The scenario as written (point 0) has its own values in the axis columns, so it is a point
    // of a plot against either axis.
    let first = sweep.lines().nth(1).unwrap();
    assert!(first.starts_with("0,as written,0.5,2025-09-01,"), "{first}");

    // A missing shard is refused.
    let (code, _, err) = capsim(&[
        "merge",
        &format!("{shards_out}/sweep-two-sites.shard-1-of-3"),
        "--out",
        &d("bad"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pairs"), "{err}");
    // It names the shards whose folders were not given.
    assert!(
        err.contains("no folder of shard 2/3, 3/3 was given"),
        "{err}"
    );
    assert!(!Path::new(&d("bad")).exists(), "nothing written");
}

#[test]
fn points_share_replication_seeds() {
    // Common random numbers: a point whose override equals the value as written reproduces the
    // baseline point exactly, replication by replication.
    let dir = tmp("sweep-crn");
    let sc = scenario(&dir);
    let out = dir.join("o").display().to_string();
    let (code, _, err) = capsim(&[
        "sweep",
        &sc,
        "--replications",
        "3",
        "--out",
        &out,
        "--quiet",
        "--vary",
        "sites.johor.lease_usd_per_chip_hour=0.5,0.9",
    ]);
    assert_eq!(code, 0, "{err}");
    let records = std::fs::read_to_string(dir.join("o/sweep-two-sites/records.csv")).unwrap();
    let rows: Vec<Vec<&str>> = records
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    for r in 0..3 {
        assert_eq!(
            rows[r][2..],
            rows[3 + r][2..],
            "replication {r}: baseline and price 0.5 differ"
        );
    }
    assert_ne!(
        rows[0][2..],
        rows[6][2..],
        "a different price gives different results"
    );
    // A grid of one axis: its chart and the tornado.
    let charts = dir.join("o/sweep-two-sites/charts");
    for name in [
        "sweep-1-sites-johor-lease-usd-per-chip-hour-compute",
        "tornado-compute",
    ] {
        let png = std::fs::read(charts.join(format!("{name}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}");
        let svg = std::fs::read_to_string(charts.join(format!("{name}.svg"))).unwrap();
        assert!(
            svg.contains("sites.johor.lease_usd_per_chip_hour"),
            "{name}"
        );
    }
}

#[test]
fn bad_axes_are_clear_errors_before_any_run() {
    let dir = tmp("sweep-bad");
    let sc = scenario(&dir);
    let out = dir.join("o").display().to_string();
    for (axis, needle) in [
        ("chips.h100.no_such_field=1,2", "no_such_field"),
        ("sites.nowhere.pue=1.2", "nowhere"),
        ("chips.h100.training_mfu=0.5..0.4/0.1", "empty range"),
        ("chips.h100.training_mfu=0.3..0.5/0", "positive"),
        ("chips.h100.training_mfu=0..1e9/1", "limit"),
        ("chips.h100.training_mfu=1.5", "training_mfu"),
        (
            "policy.lease-ban.from=2025-01-01..2026-01-01/fortnight",
            "fortnight",
        ),
    ] {
        let (code, _, err) = capsim(&["sweep", &sc, "--out", &out, "--quiet", "--vary", axis]);
        assert_eq!(code, 2, "{axis}: {err}");
        assert!(
            err.contains(needle),
            "{axis}: message lacks '{needle}': {err}"
        );
        assert!(!dir.join("o").exists(), "{axis}: something was written");
    }
}
