//! Nothing a user does loses their files: `--out` never replaces what capsim did not write,
//! concurrent runs into one folder all complete, an interrupted command leaves no temporary folder,
//! and `merge` refuses shards whose rows do not fit the sweep.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{capsim, tiny_world, tmp};

/// A tiny world (the two-site test world with a little fine-tuning work), so each run is quick.
fn tiny(dir: &Path) -> String {
    tiny_world(dir, 7, None)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The names under `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn hidden(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect()
}

fn run_tiny(sc: &str, out: &Path, name: &str) -> (i32, String, String) {
    capsim(&["run", sc, "--out", &s(out), "--name", name, "--quiet"])
}

#[test]
fn out_never_replaces_a_folder_capsim_did_not_write() {
    let dir = tmp("safety-own");
    let sc = tiny(&dir);
    let runs = dir.join("runs");
    for name in ["a", "b"] {
        let (code, _, err) = run_tiny(&sc, &runs, name);
        assert_eq!(code, 0, "{err}");
    }
    // compare --out a folder of the user's: refused, the folder untouched.
    let docs = dir.join("mydocs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("thesis.txt"), "draft").unwrap();
    let (code, _, err) = capsim(&[
        "compare",
        &s(&runs.join("a")),
        &s(&runs.join("b")),
        "--out",
        &s(&docs),
    ]);
    assert_eq!(code, 2, "{err}");
    for needle in ["mydocs", "thesis.txt", "did not write", "help:", "--out"] {
        assert!(err.contains(needle), "message lacks '{needle}': {err}");
    }
    assert_eq!(names(&docs), ["thesis.txt"]);
    assert_eq!(
        std::fs::read_to_string(docs.join("thesis.txt")).unwrap(),
        "draft"
    );
    assert!(hidden(&dir).is_empty(), "{:?}", names(&dir));

    // run --name a folder of the user's: refused before simulating, nothing written.
    let x = dir.join("x");
    std::fs::create_dir_all(x.join("notes")).unwrap();
    std::fs::write(x.join("notes/a.txt"), "mine").unwrap();
    let (code, _, err) = run_tiny(&sc, &x, "notes");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a.txt") && err.contains("--name"), "{err}");
    assert_eq!(names(&x), ["notes"]);
    assert_eq!(names(&x.join("notes")), ["a.txt"]);

    // capsim's own folder of the kind is replaced; an empty folder is written into.
    let (code, _, err) = run_tiny(&sc, &runs, "a");
    assert_eq!(code, 0, "{err}");
    std::fs::create_dir_all(runs.join("empty")).unwrap();
    let (code, _, err) = run_tiny(&sc, &runs, "empty");
    assert_eq!(code, 0, "{err}");
    // ... but not one the user added files to, nor a folder of another kind.
    std::fs::write(runs.join("a/notes.md"), "mine").unwrap();
    let (code, _, err) = run_tiny(&sc, &runs, "a");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("notes.md"), "{err}");
    assert!(runs.join("a/notes.md").is_file());
    let cmp = dir.join("cmp");
    let (code, _, err) = capsim(&[
        "compare",
        &s(&runs.join("b")),
        &s(&runs.join("empty")),
        "--out",
        &s(&cmp),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_tiny(&sc, &dir, "cmp");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("comparison folder"), "{err}");
    // A comparison folder is replaced by the next comparison.
    let (code, _, err) = capsim(&[
        "compare",
        &s(&runs.join("b")),
        &s(&runs.join("empty")),
        "--out",
        &s(&cmp),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(hidden(&dir).is_empty() && hidden(&runs).is_empty());
}

/// The README's first command, run twice: the second replaces the first's folder, every file it
/// writes (observations included) being one capsim knows as its own.
#[test]
fn the_embedded_baseline_can_be_run_again_into_its_own_folder() {
    let dir = tmp("safety-again");
    let out = s(&dir.join("output"));
    for _ in 0..2 {
        let (code, _, err) = capsim(&["run", "--out", &out, "--quiet"]);
        assert_eq!(code, 0, "{err}");
    }
    assert!(dir.join("output/baseline/observations.csv").is_file());
}

#[test]
fn a_file_at_the_destination_is_refused_up_front() {
    let dir = tmp("safety-file");
    let sc = tiny(&dir);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("two-sites"), "a file").unwrap();
    let (code, _, err) = capsim(&["run", &sc, "--out", &s(&out), "--quiet"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("two-sites") && err.contains("is a file"),
        "{err}"
    );
    assert_eq!(names(&out), ["two-sites"], "nothing may be written");
    assert_eq!(
        std::fs::read_to_string(out.join("two-sites")).unwrap(),
        "a file"
    );

    // --out itself a file.
    let (code, _, err) = capsim(&["run", &sc, "--out", &s(&out.join("two-sites")), "--quiet"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a folder"), "{err}");

    // compare --out FILE.
    let runs = dir.join("runs");
    for name in ["a", "b"] {
        let (code, _, err) = run_tiny(&sc, &runs, name);
        assert_eq!(code, 0, "{err}");
    }
    let file = dir.join("cmp.txt");
    std::fs::write(&file, "mine").unwrap();
    let (code, _, err) = capsim(&[
        "compare",
        &s(&runs.join("a")),
        &s(&runs.join("b")),
        "--out",
        &s(&file),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cmp.txt") && err.contains("is a file"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    assert!(hidden(&dir).is_empty(), "{:?}", names(&dir));
}

/// Sends `signal` to process `pid`.
#[cfg(unix)]
fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) takes any pid and signal number; at worst it fails with ESRCH.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

#[test]
#[cfg(unix)]
fn concurrent_runs_into_one_folder_all_complete() {
    let dir = tmp("safety-race");
    let sc = tiny(&dir);
    let out = dir.join("out");
    let (code, _, err) = run_tiny(&sc, &dir.join("ref"), "r");
    assert_eq!(code, 0, "{err}");
    let expected = names(&dir.join("ref/r"));
    for trial in 0..8 {
        let mut children: Vec<_> = (0..6)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_capsim"))
                    .args(["run", &sc, "--out", &s(&out), "--name", "r"])
                    .args(["--quiet", "--threads", "1"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Bunch the swaps together: stop each run as it writes its charts (its last files), and
        // let them all go on at once.
        let mut stopped = vec![false; children.len()];
        let started = Instant::now();
        while stopped.contains(&false) && started.elapsed() < Duration::from_secs(60) {
            for (c, done) in children.iter_mut().zip(&mut stopped) {
                if *done {
                    continue;
                }
                if out.join(format!(".r.tmp-{}/charts", c.id())).exists() {
                    signal(c.id(), libc::SIGSTOP);
                    *done = true;
                } else if c.try_wait().unwrap().is_some() {
                    // It got past its charts unseen.
                    *done = true;
                }
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        for c in &children {
            signal(c.id(), libc::SIGCONT);
        }
        for c in children {
            let o = c.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(0), "trial {trial}: {err}");
        }
        assert_eq!(names(&out), ["r"], "trial {trial}: leftovers");
        assert_eq!(names(&out.join("r")), expected, "trial {trial}");
        assert_eq!(
            std::fs::read(out.join("r/timeseries.csv")).unwrap(),
            std::fs::read(dir.join("ref/r/timeseries.csv")).unwrap()
        );
    }
}

/// Starts `capsim args`, waits until its temporary folder appears under `out`, sends `signal`
/// (by `kill`) and returns its exit code.
fn interrupt(args: &[&str], out: &Path, signal: &str) -> Option<i32> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !names(out).iter().any(|n| n.contains(".tmp-")) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no temporary folder"
        );
        assert!(child.try_wait().unwrap().is_none(), "it ended too soon");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1000));
    assert!(child.try_wait().unwrap().is_none(), "it ended too soon");
    let killed = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap().code()
}

#[test]
#[cfg(unix)]
fn interrupted_commands_remove_their_temporary_folders() {
    let dir = tmp("safety-signal");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/lease-ban-2026.toml");
    let out = dir.join("out");
    let o = s(&out);
    let sweep = [
        "sweep",
        shipped,
        "--replications",
        "200",
        "--out",
        &o,
        "--quiet",
    ];
    assert_eq!(interrupt(&sweep, &out, "INT"), Some(130));
    assert!(names(&out).is_empty(), "left: {:?}", names(&out));
    let mut lean = sweep.to_vec();
    lean.push("--headline-only");
    assert_eq!(interrupt(&lean, &out, "TERM"), Some(143));
    assert!(names(&out).is_empty(), "left: {:?}", names(&out));
}

#[test]
fn temporary_folders_of_dead_processes_are_removed_by_the_next_run() {
    let dir = tmp("safety-stale");
    let sc = tiny(&dir);
    let out = dir.join("out");
    // Above Linux's largest pid (2^22): never a live process.
    let stale: PathBuf = out.join(".x.tmp-4194305");
    std::fs::create_dir_all(stale.join("points/000")).unwrap();
    std::fs::write(stale.join("points/000/summary.csv"), "half").unwrap();
    let (code, _, err) = run_tiny(&sc, &out, "x");
    assert_eq!(code, 0, "{err}");
    if cfg!(target_os = "linux") {
        assert_eq!(names(&out), ["x"]);
    }
}

/// A sweep of the tiny world in 2 shards: (the shard folders, the merge's --out).
fn shards(dir: &Path, sc: &str) -> Vec<PathBuf> {
    let out = dir.join("shards");
    for i in 1..=2 {
        let shard = format!("{i}/2");
        let (code, _, err) = capsim(&[
            "sweep",
            sc,
            "--replications",
            "3",
            "--vary",
            "sites.johor.lease_usd_per_chip_hour=0.4,0.9",
            "--shard",
            &shard,
            "--out",
            &s(&out),
            "--quiet",
        ]);
        assert_eq!(code, 0, "{err}");
    }
    (1..=2)
        .map(|i| out.join(format!("sweep-two-sites.shard-{i}-of-2")))
        .collect()
}

#[test]
fn merge_refuses_rows_that_do_not_fit_the_sweep() {
    let dir = tmp("safety-merge");
    let sc = tiny(&dir);
    let dirs = shards(&dir, &sc);
    let merge = |dirs: &[PathBuf], out: &str| {
        let mut args: Vec<String> = vec!["merge".into()];
        args.extend(dirs.iter().map(|d| s(d)));
        args.extend(["--out".into(), s(&dir.join(out))]);
        capsim(&args)
    };
    let (code, _, err) = merge(&dirs, "ok");
    assert_eq!(code, 0, "{err}");
    let records = std::fs::read_to_string(dirs[0].join("records.csv")).unwrap();
    let lines: Vec<&str> = records.lines().collect();
    let other = std::fs::read_to_string(dirs[1].join("records.csv")).unwrap();
    // Row 2 (line 3) of shard 1, changed.
    let with = |f: &dyn Fn(&str) -> String| -> String {
        let mut v: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        v[2] = f(lines[2]);
        v.join("\n") + "\n"
    };
    let field = |row: &str, i: usize, to: &str| -> String {
        let mut f: Vec<&str> = row.split(',').collect();
        f[i] = to;
        f.join(",")
    };
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "point",
            with(&|r| field(r, 0, "999")),
            other.clone(),
            "point 999",
        ),
        (
            "replication",
            with(&|r| field(r, 1, "77")),
            other.clone(),
            "replication 77",
        ),
        ("nan", with(&|r| field(r, 2, "NaN")), other.clone(), "'NaN'"),
        ("inf", with(&|r| field(r, 3, "inf")), other.clone(), "'inf'"),
        (
            "short",
            with(&|r| field(r, 3, "1,2")),
            other.clone(),
            "fields",
        ),
        // A row of shard 1 also in shard 2, and twice in shard 1.
        (
            "elsewhere",
            records.clone(),
            format!("{other}{}\n", lines[2]),
            "not one of shard 2/2's pairs",
        ),
        (
            "twice",
            format!("{records}{}\n", lines[2]),
            other.clone(),
            "appears again (first at",
        ),
    ];
    for (name, one, two, needle) in cases {
        let bad: Vec<PathBuf> = (1..=2)
            .map(|i| dir.join(format!("{name}/sweep-two-sites.shard-{i}-of-2")))
            .collect();
        for (d, (src, text)) in bad.iter().zip(dirs.iter().zip([&one, &two])) {
            std::fs::create_dir_all(d).unwrap();
            std::fs::copy(src.join("manifest.json"), d.join("manifest.json")).unwrap();
            std::fs::write(d.join("records.csv"), text).unwrap();
        }
        let (code, _, err) = merge(&bad, &format!("{name}-out"));
        assert_eq!(code, 2, "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(
            err.contains(needle) && err.contains("help:"),
            "{name}: {err}"
        );
        let line = if name == "elsewhere" {
            format!("shard-2-of-2/records.csv:{}:", other.lines().count() + 1)
        } else if name == "twice" {
            format!("shard-1-of-2/records.csv:{}:", lines.len() + 1)
        } else {
            "shard-1-of-2/records.csv:3:".to_string()
        };
        assert!(err.contains(&line), "{name}: not located at {line}: {err}");
        assert!(!dir.join(format!("{name}-out")).exists(), "{name}: written");
    }
}

#[test]
fn a_name_never_writes_above_or_beside_the_output_folder() {
    let dir = tmp("safety-name");
    let sc = tiny(&dir);
    let runs = dir.join("runs");
    for name in ["../escaped", "a/b", "..", ".hidden", "", "x y"] {
        let (code, _, err) = run_tiny(&sc, &runs, name);
        assert_eq!(code, 2, "--name {name:?}: {err}");
        assert!(
            err.contains(&format!("invalid folder name '{name}'")) && err.contains("help: "),
            "--name {name:?}: {err}"
        );
    }
    assert!(!dir.join("escaped").exists());
    assert!(names(&runs).is_empty(), "{:?}", names(&runs));
    let (code, _, err) = run_tiny(&sc, &runs, "fine-name_1.0");
    assert_eq!(code, 0, "{err}");
    assert_eq!(names(&runs), ["fine-name_1.0"]);
    // The rule is of run names: a comparison's --out is the user's own path, spaces and all.
    let run = s(&runs.join("fine-name_1.0"));
    let out = dir.join("my results");
    let (code, _, err) = capsim(&["compare", &run, &run, "--out", &s(&out)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.join("comparison.csv").is_file());
}
