//! A sweep's per-point run folders: each is exactly what `capsim run --set ...` writes for that
//! point (the replication seeds are shared), shards and `--headline-only` keep none, and `--set`
//! is checked like any scenario field.

use crate::support::{capsim, tmp};

use std::path::Path;

use capsim::experiment::sweep::{self, Design, Plan, Shard};
use capsim::experiment::ExperimentError;
use capsim::metrics::PeriodKind;

/// Every file under `dir`, relative path -> bytes, with `wall_time_s` blanked in manifests (the
/// one thing that is not a function of the inputs).
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let mut bytes = std::fs::read(&p).unwrap();
            if rel.ends_with("manifest.json") {
                let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                if let Some(m) = v.as_object_mut() {
                    m.remove("wall_time_s");
                }
                bytes = serde_json::to_vec(&v).unwrap();
            }
            out.insert(rel, bytes);
        }
    }
    out
}

#[test]
fn each_point_folder_is_what_capsim_run_writes_for_that_point() {
    let dir = tmp("points-vs-run");
    let sc = super::sweep::scenario(&dir);
    let out = dir.join("out").display().to_string();
    let (code, _, err) = capsim(&[
        "sweep",
        &sc,
        "--vary",
        "sites.johor.lease_usd_per_chip_hour=0.4,0.9",
        "--replications",
        "3",
        "--threads",
        "2",
        "--out",
        &out,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("points/"), "{err}");
    let points = dir.join("out/sweep-two-sites/points");
    let mut names: Vec<String> = std::fs::read_dir(&points)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["000", "001", "002"]);

    // Point 2 sets the lease price to 0.9; point 0 is the scenario as written.
    for (point, set) in [
        ("002", Some("sites.johor.lease_usd_per_chip_hour=0.9")),
        ("000", None),
    ] {
        let mut args = vec!["run", &sc, "--replications", "3", "--threads", "1"];
        if let Some(s) = set {
            args.extend(["--set", s]);
        }
        // The point folder's run is named as `--name <scenario>-point-NNN` names it.
        let name = format!("two-sites-point-{point}");
        args.extend(["--name", &name, "--out", &out, "--quiet"]);
        let (code, _, err) = capsim(&args);
        assert_eq!(code, 0, "{err}");
        let run = files(&dir.join("out").join(&name));
        let swept = files(&points.join(point));
        assert_eq!(
            run.keys().collect::<Vec<_>>(),
            swept.keys().collect::<Vec<_>>(),
            "point {point}: other files"
        );
        assert!(run.contains_key("report.html") && run.contains_key("charts/cost-spend.png"));
        for (f, bytes) in &run {
            assert!(
                swept[f] == *bytes,
                "point {point}: {f} differs from `capsim run` of the point"
            );
        }
    }
    // The override is on record where a reader looks.
    let m = std::fs::read_to_string(points.join("002/manifest.json")).unwrap();
    assert!(
        m.contains("sites.johor.lease_usd_per_chip_hour = 0.9"),
        "{m}"
    );
    let html = std::fs::read_to_string(points.join("002/report.html")).unwrap();
    assert!(html.contains("Overrides"), "the report names the override");
    let m0 = std::fs::read_to_string(points.join("000/manifest.json")).unwrap();
    assert!(!m0.contains("overrides"), "{m0}");
}

#[test]
fn shards_and_headline_only_sweeps_keep_no_point_folders() {
    let dir = tmp("points-none");
    let sc = super::sweep::scenario(&dir);
    let out = dir.join("out").display().to_string();
    let base = [
        "sweep",
        sc.as_str(),
        "--vary",
        "sites.johor.lease_usd_per_chip_hour=0.4",
        "--replications",
        "2",
        "--out",
        &out,
        "--quiet",
    ];
    let (code, _, err) = capsim(&[&base[..], &["--headline-only"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(!dir.join("out/sweep-two-sites/points").exists());
    assert!(dir.join("out/sweep-two-sites/sweep.csv").exists());
    let (code, _, err) = capsim(&[&base[..], &["--shard", "1/2"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(dir
        .join("out/sweep-two-sites.shard-1-of-2/records.csv")
        .exists());
    assert!(!dir.join("out/sweep-two-sites.shard-1-of-2/points").exists());
}

fn bits(records: &[sweep::Record]) -> Vec<(usize, u64, Vec<u64>)> {
    records
        .iter()
        .map(|r| {
            (
                r.point,
                r.replication,
                r.values.iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

/// The batched per-point runner yields the same records as the pair runner, whatever the batch
/// size the thread count gives, and a failing output step stops the sweep with its error.
#[test]
fn run_points_matches_run_pairs_and_stops_on_a_failing_sink() {
    let dir = tmp("points-lib");
    let sc = capsim::scenario::load_file(Path::new(&super::sweep::scenario(&dir))).unwrap();
    let axis = sweep::parse_axis("sites.johor.lease_usd_per_chip_hour=0.4,0.9,1.5").unwrap();
    let scenarios = Plan::new(vec![axis], Design::Grid)
        .unwrap()
        .scenarios(&sc)
        .unwrap();
    let pairs = sweep::run_pairs(
        &scenarios,
        PeriodKind::Month,
        7,
        3,
        Shard::ALL,
        Some(2),
        &|| {},
    )
    .unwrap();
    for threads in [1, 2] {
        let seen = std::sync::Mutex::new(vec![]);
        let records = sweep::run_points(
            &scenarios,
            PeriodKind::Month,
            7,
            3,
            Some(threads),
            &|| {},
            &|p, result| {
                assert_eq!(result.runs.len(), 3);
                assert_eq!(result.options.seed, 7);
                seen.lock().unwrap().push(p);
                Ok(())
            },
        )
        .unwrap();
        // (Bit for bit: NaN ratios are not equal to themselves.)
        assert_eq!(bits(&records), bits(&pairs), "{threads} threads");
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert_eq!(seen, [0, 1, 2, 3], "each point once");
    }
    let failed = sweep::run_points(
        &scenarios,
        PeriodKind::Month,
        7,
        1,
        Some(1),
        &|| {},
        &|p, _| {
            if p == 2 {
                Err(ExperimentError::Output("disk full".into()))
            } else {
                Ok(())
            }
        },
    );
    assert!(matches!(failed, Err(ExperimentError::Output(e)) if e.to_string() == "disk full"));
}

#[test]
fn bad_settings_are_clear_errors() {
    let dir = tmp("points-set");
    let out = dir.join("out").display().to_string();
    for (set, wanted) in [
        ("chips.h100.training_mfu", "no '='"),
        ("chips.h100.training_mfu=", "empty value"),
        ("chips.h100.training_muf=0.3", "training_muf"),
        ("chips.h100.training_mfu=1.7", "training_mfu"),
        ("chips.h100.training_mfu=[1,", "not a value"),
    ] {
        let (code, _, err) = capsim(&["run", "--set", set, "--out", &out, "--quiet"]);
        assert_eq!(code, 2, "{set}: {err}");
        assert!(err.contains(wanted), "{set}: {err}");
        assert!(err.contains("help"), "{set}: {err}");
    }
    assert!(
        !dir.join("out").join("baseline").exists(),
        "nothing written"
    );
    // A distribution is a value too.
    let (code, _, err) = capsim(&[
        "run",
        "--set",
        "chips.h100.training_mfu={ triangular = [0.30, 0.35, 0.41] }",
        "--replications",
        "2",
        "--out",
        &out,
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let draws = std::fs::read_to_string(dir.join("out/baseline/draws.csv")).unwrap();
    assert!(draws.contains("chips.h100.training_mfu"), "{draws}");
}
