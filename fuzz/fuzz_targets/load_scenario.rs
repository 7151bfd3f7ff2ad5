//! The scenario loader on arbitrary text (issue 10, "Fuzzing in the project").
//!
//! The input, as UTF-8, is a scenario file `fuzz.toml` in a private folder that holds copies of the
//! shipped scenarios (and of every file built into capsim, so the baseline's `include`s resolve),
//! so `extends = "baseline.toml"` (or any shipped file) is followed and merged as for a user. An
//! `extends` or `include` entry that would leave that folder (an absolute path, or `..`) is not
//! tried: the fuzzer must not read arbitrary files of the machine it runs on.
//!
//! The properties:
//!
//! - loading never panics;
//! - a refusal carries a location in a file of the load (`file:line:col`, the line inside that
//!   file) and the message starts with it and has a `help:` line, as the CLI prints it;
//! - what loads gives a world for any replication (drawing the uncertain inputs cannot fail);
//! - its `[sweep]` section, if any, makes a plan whose points all validate or are refused located
//!   (points are checked when there are at most [`MAX_SWEEP_POINTS`]);
//! - one replication over the first two weeks of the horizon runs to the end without a model error
//!   (its invariants hold), and every number of its metrics is finite.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use capsim::experiment::{self, sweep};
use capsim::metrics::{PeriodKind, Periods};
use capsim::scenario::{self, Scenario, ScenarioError};
use libfuzzer_sys::fuzz_target;

/// The shipped scenarios, written into the private folder that `extends` resolves in.
const SHIPPED: &[(&str, &str)] = &[
    (
        "baseline.toml",
        include_str!("../../scenarios/baseline.toml"),
    ),
    (
        "ascend-hbm-squeeze.toml",
        include_str!("../../scenarios/ascend-hbm-squeeze.toml"),
    ),
    (
        "gulf-opens.toml",
        include_str!("../../scenarios/gulf-opens.toml"),
    ),
    (
        "h200-opens.toml",
        include_str!("../../scenarios/h200-opens.toml"),
    ),
    (
        "lease-ban-2026.toml",
        include_str!("../../scenarios/lease-ban-2026.toml"),
    ),
];

/// The name of the fuzzed file.
const NAME: &str = "fuzz.toml";

/// Sweep plans with more points are not expanded (each point validates the whole scenario again).
const MAX_SWEEP_POINTS: usize = 16;

/// Days of the horizon that the short run keeps.
const SHORT_DAYS: u64 = 14;

/// The private folder (under `$TMPDIR`, one per process) with the shipped scenarios in it.
fn folder() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("capsim-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("cannot create the fuzzer's folder");
        for (name, text) in SHIPPED.iter().chain(scenario::EMBEDDED_FILES) {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("cannot create the fuzzer's folder");
            }
            std::fs::write(path, text).expect("cannot write a shipped scenario");
        }
        dir
    })
}

/// Whether the text's `extends` or an entry of its `include` (if it parses as TOML and has them)
/// names something outside the private folder. Included files are copies of the shipped ones,
/// whose own paths stay inside.
fn leaves_the_folder(text: &str) -> bool {
    let Ok(table) = text.parse::<toml::Table>() else {
        return false;
    };
    let outside = |target: &str| {
        Path::new(target).is_absolute()
            || target.contains('\\')
            || target.split('/').any(|seg| seg == "..")
    };
    let extends = match table.get("extends") {
        Some(toml::Value::String(target)) => outside(target),
        _ => false,
    };
    let include = match table.get("include") {
        Some(toml::Value::Array(entries)) => entries
            .iter()
            .any(|e| e.as_str().is_some_and(outside)),
        _ => false,
    };
    extends || include
}

/// The text of a file of the load, by the name its errors show.
fn text_of<'a>(file: &str, root: &'a str) -> Option<&'a str> {
    if file == NAME {
        return Some(root);
    }
    // A copy in the private folder, or a file built into capsim: by its path relative to either.
    let folder = folder().display().to_string();
    let rel = file
        .strip_prefix(folder.as_str())
        .map(|r| r.trim_start_matches(['/', '\\']))
        .or_else(|| file.strip_prefix("<embedded>/"))?;
    SHIPPED
        .iter()
        .chain(scenario::EMBEDDED_FILES)
        .find(|(n, _)| *n == rel)
        .map(|(_, t)| *t)
}

/// A refusal as the CLI prints it: located inside a file of the load, with a `help:` line.
fn check_refusal(e: &ScenarioError, root: &str, what: &str) {
    let msg = e.to_string();
    let at = e
        .location()
        .unwrap_or_else(|| panic!("{what}: a refusal without a location: {msg}"));
    assert!(
        msg.starts_with(&format!("{at}: ")),
        "{what}: the message does not start with its location {at}: {msg}"
    );
    assert!(msg.contains("\n  help: "), "{what}: no help line: {msg}");
    assert!(at.line >= 1 && at.column >= 1, "{what}: {at}: {msg}");
    if let Some(text) = text_of(&at.file, root) {
        let lines = text.split('\n').count();
        assert!(
            at.line <= lines,
            "{what}: line {} of {} beyond its {lines} lines: {msg}",
            at.line,
            at.file
        );
    }
}

/// The first `inf`/`NaN` token in a value's Debug text (Debug prints a non-finite f64 as a whole
/// token `inf`, `-inf` or `NaN`, unlike words such as `inference`).
fn non_finite(debug: &str) -> Option<&str> {
    debug
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|tok| *tok == "inf" || *tok == "NaN")
}

/// Expands the scenario's `[sweep]` section, if it has one, and validates each point.
fn check_sweep(sc: &Scenario, root: &str) {
    if sc.sweep().is_none() {
        return;
    }
    let plan = match sweep::Plan::resolve(sc, &[], None, None) {
        Ok((plan, _)) => plan,
        // A section without axes, or too many points: refused with the limit, as the CLI does.
        Err(sweep::SweepError::NoAxes | sweep::SweepError::TooManyPoints { .. }) => return,
        Err(e) => panic!("the [sweep] section loaded but its plan fails: {e}"),
    };
    if plan.points.len() > MAX_SWEEP_POINTS {
        return;
    }
    match plan.scenarios(sc) {
        Ok(_) => {}
        Err(sweep::SweepError::Point { source, .. }) => check_refusal(&source, root, "sweep point"),
        Err(e) => panic!("a sweep point fails unlocated: {e}"),
    }
}

/// One replication over the first [`SHORT_DAYS`] days of the horizon: the simulation runs until
/// the end of the periods it is given, so weekly periods over two weeks cut any scenario short.
fn short_run(sc: &Scenario) {
    let end = sc
        .start_date
        .checked_add_days(chrono::Days::new(SHORT_DAYS - 1))
        .unwrap_or(sc.end_date)
        .min(sc.end_date);
    let periods = Periods::new(sc.start_date, end, PeriodKind::Week);
    let rep = experiment::run_one(sc, &periods, sc.seed, 0)
        .unwrap_or_else(|e| panic!("a scenario that validates fails to run: {e}"));
    let debug = format!("{:?}", rep.metrics);
    if let Some(tok) = non_finite(&debug) {
        panic!("{tok} in the metrics of a scenario that validates");
    }
    for d in &rep.draws {
        assert!(
            d.value.is_finite() && d.in_run.is_finite(),
            "{} drawn as {}, run with {}",
            d.field,
            d.value,
            d.in_run
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if leaves_the_folder(text) {
        return;
    }
    let sc = match scenario::load_str(text, NAME, Some(folder())) {
        Ok(sc) => sc,
        Err(e) => {
            check_refusal(&e, text, "load");
            return;
        }
    };
    for replication in [0, 1] {
        if let Err(e) = sc.world_for(sc.seed, replication) {
            panic!("replication {replication}'s world fails for a scenario that loaded: {e}");
        }
    }
    check_sweep(&sc, text);
    short_run(&sc);
});
