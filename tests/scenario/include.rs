//! `include` as a user meets it: a copy of the shipped baseline split over files loads to the same
//! scenario, a split scenario runs to the same outputs byte for byte and the manifest lists every
//! file, errors in an included file are located there (exit 2), and a what-if run from a folder
//! without `scenarios/` still extends the built-in baseline.

use std::path::{Path, PathBuf};

use capsim::scenario;

use crate::support::{capsim, tiny_world, tmp};

/// The fragment a top-level table of a scenario goes to when split: `None` keeps it in the root.
fn fragment(header: &str) -> Option<&'static str> {
    let first = header
        .trim_start_matches('[')
        .split(['.', ']'])
        .next()
        .unwrap_or("");
    match first {
        "chips" => Some("split/chips.toml"),
        "sites" => Some("split/sites.toml"),
        "firms" => Some("split/firms.toml"),
        "policy" => Some("split/policy.toml"),
        _ => None,
    }
}

/// Splits the scenario `text` into `dir/root.toml` (its top-level keys, `[sources]` and anything
/// else) and one file per kind of table under `dir/split/` (chips, sites, firms, policy), which
/// the root includes. Each table (with the comments that follow it) goes whole to its file, in
/// order. Returns the root's path and the fragments' paths, in include order.
fn split_into(dir: &Path, text: &str) -> (PathBuf, Vec<PathBuf>) {
    let names = [
        "split/chips.toml",
        "split/sites.toml",
        "split/firms.toml",
        "split/policy.toml",
    ];
    let mut root = String::new();
    let mut parts = vec![String::new(); names.len()];
    let mut into: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        if line.starts_with('[') {
            into = fragment(line).and_then(|f| names.iter().position(|n| *n == f));
        }
        match into {
            Some(i) => parts[i].push_str(line),
            None => root.push_str(line),
        }
    }
    // Kinds of table the text lacks get no file (a baseline already split in scenarios/ may
    // leave its root few tables).
    let names: Vec<&str> = names
        .iter()
        .zip(&parts)
        .filter(|(_, p)| !p.is_empty())
        .map(|(n, _)| *n)
        .collect();
    let parts: Vec<&String> = parts.iter().filter(|p| !p.is_empty()).collect();
    let list = names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    // A root that already includes files (a baseline split in scenarios/) gets ours first.
    let root = if list.is_empty() {
        root
    } else if root.starts_with("include = [") || root.contains("\ninclude = [") {
        root.replacen("include = [", &format!("include = [{list}, "), 1)
    } else {
        format!("include = [{list}]\n{root}")
    };
    std::fs::create_dir_all(dir.join("split")).unwrap();
    let mut paths = Vec::new();
    for (name, part) in names.iter().zip(parts) {
        std::fs::write(dir.join(name), part).unwrap();
        paths.push(dir.join(name));
    }
    let root_path = dir.join("root.toml");
    std::fs::write(&root_path, root).unwrap();
    (root_path, paths)
}

/// Writes every built-in file (the baseline and what it names) into `dir`, as in `scenarios/`.
fn write_built_in(dir: &Path) {
    for (rel, text) in scenario::EMBEDDED_FILES {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

#[test]
fn the_baseline_split_over_files_loads_to_the_same_scenario() {
    let dir = tmp("include-baseline");
    write_built_in(&dir);
    let (root, parts) = split_into(&dir, scenario::BASELINE_TOML);
    let split = scenario::load_file(&root).unwrap_or_else(|e| panic!("split baseline: {e}"));
    let single = scenario::baseline().unwrap();
    assert_eq!(split.world, single.world);
    assert_eq!(split.provenance, single.provenance);
    assert_eq!(split.policy_dates, single.policy_dates);
    assert_eq!(split.inputs, single.inputs);
    assert_eq!(split.observations, single.observations);
    assert_eq!(split.name, single.name);
    let mut files = vec![root.display().to_string()];
    files.extend(parts.iter().map(|p| p.display().to_string()));
    assert_eq!(split.files[..files.len()], files[..]);

    // `capsim validate` checks the composed scenario.
    let (code, stdout, stderr) = capsim(&["validate", root.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let counts = format!(
        "({}: {} chips, {} sites, {} firms, {} policies)",
        single.name,
        single.world.chips.len(),
        single.world.sites.len(),
        single.world.firms.len(),
        single.world.timeline.policies.len()
    );
    assert!(stdout.contains(&counts), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_error_in_an_included_file_is_located_there_and_exits_2() {
    let dir = tmp("include-error");
    write_built_in(&dir);
    let (root, parts) = split_into(&dir, scenario::BASELINE_TOML);
    // The first included file with a site's PUE (split/sites.toml, or a file the baseline itself
    // includes once it is split in scenarios/).
    let built_in = scenario::EMBEDDED_FILES
        .iter()
        .filter(|(rel, _)| *rel != "baseline.toml" && rel.ends_with(".toml"))
        .map(|(rel, _)| dir.join(rel));
    let sites = parts
        .iter()
        .cloned()
        .chain(built_in)
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("\npue = ")))
        .expect("an included file with a site");
    let sites = &sites;
    let text = std::fs::read_to_string(sites).unwrap();
    let i = text.find("\npue = ").expect("a pue") + 1;
    let end = i + text[i..].find('\n').unwrap();
    let broken = format!("{}pue = 0.5{}", &text[..i], &text[end..]);
    std::fs::write(sites, &broken).unwrap();
    let line = broken[..i].matches('\n').count() + 1;
    let col = i - broken[..i].rfind('\n').map_or(0, |n| n + 1) + 1 + "pue = ".len();
    let at = format!("error: {}:{line}:{col}: sites.", sites.display());
    let out = dir.join("out");
    let root = root.to_str().unwrap();
    for args in [
        vec!["validate", root],
        vec!["run", root, "--out", out.to_str().unwrap()],
    ] {
        let (code, _, stderr) = capsim(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&at),
            "{args:?}: expected {at}, got {stderr}"
        );
        assert!(
            stderr.contains(".pue: must be") && stderr.contains("\n  help: "),
            "{stderr}"
        );
    }
    assert!(!out.join("baseline").exists(), "run wrote output");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_split_scenario_runs_to_the_same_outputs_and_the_manifest_lists_every_file() {
    let dir = tmp("include-run");
    let single = PathBuf::from(tiny_world(&dir, 20, Some(20_000)));
    let split_dir = dir.join("split-world");
    std::fs::create_dir_all(&split_dir).unwrap();
    let (root, parts) = split_into(&split_dir, &std::fs::read_to_string(&single).unwrap());
    assert_eq!(
        parts.len(),
        4,
        "chips, sites, firms and policy each in a file"
    );
    let run = |file: &Path, out: &str| {
        let out = dir.join(out);
        let (code, stdout, stderr) = capsim(&[
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--replications",
            "2",
        ]);
        assert_eq!(code, 0, "{stderr}");
        PathBuf::from(stdout.trim())
    };
    let a = run(&single, "out-single");
    let b = run(&root, "out-split");
    let mut compared = 0;
    for entry in std::fs::read_dir(&a).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".csv") {
            continue;
        }
        let left = std::fs::read(entry.path()).unwrap();
        let right = std::fs::read(b.join(&name)).unwrap();
        assert!(
            left == right,
            "{name} differs between the single and the split file"
        );
        compared += 1;
    }
    assert!(compared >= 5, "compared only {compared} files");
    let manifest = std::fs::read_to_string(b.join("manifest.json")).unwrap();
    let mut at = 0;
    for f in std::iter::once(&root).chain(&parts) {
        let shown = format!("{:?}", f.display().to_string());
        let found = manifest[at..]
            .find(&shown)
            .unwrap_or_else(|| panic!("manifest lacks {shown} (in order): {manifest}"));
        at += found + shown.len();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_what_if_outside_the_checkout_extends_the_built_in_baseline_and_includes_its_own_files() {
    let dir = tmp("include-embedded");
    std::fs::write(
        dir.join("whatif.toml"),
        "extends = \"baseline.toml\"\ninclude = [\"more.toml\"]\nname = \"whatif\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("more.toml"), "[chips.h100]\ntraining_mfu = 0.3\n").unwrap();
    assert!(!dir.join("baseline.toml").exists() && !dir.join("scenarios").exists());

    // The library: the built-in baseline and the files it includes, under the what-if's layer.
    let sc = scenario::load_file(&dir.join("whatif.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sc.files[1], dir.join("more.toml").display().to_string());
    assert_eq!(sc.files[2], scenario::EMBEDDED_BASELINE);
    assert!(sc.files[2..].iter().all(|f| f.starts_with("<embedded>/")));
    let base = scenario::baseline().unwrap();
    assert_eq!(sc.files[2..], base.files[..]);
    let h100 = sc.world.chips.iter().find(|c| c.name == "h100").unwrap();
    assert_eq!(h100.training_mfu, 0.3);
    assert_eq!(sc.world.sites, base.world.sites);

    // The command line, run from that folder with relative paths.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_capsim"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = cli(&["validate", "whatif.toml"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("whatif.toml: ok (whatif: "), "{stdout}");
    let (code, _, stderr) = cli(&["run", "whatif.toml", "--out", "out", "--replications", "1"]);
    assert_eq!(code, 0, "{stderr}");
    let manifest = std::fs::read_to_string(dir.join("out/whatif/manifest.json")).unwrap();
    for f in [
        "\"whatif.toml\"",
        "\"more.toml\"",
        "\"<embedded>/baseline.toml\"",
    ] {
        assert!(manifest.contains(f), "manifest lacks {f}: {manifest}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
