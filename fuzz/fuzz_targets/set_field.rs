//! The command line's `--set PATH=VALUE` and `--vary PATH=VALUES` on arbitrary text (issue 10).
//!
//! Each line of the input is one setting, applied in turn to the baseline built into capsim, as
//! `capsim run --set LINE ...` would; each line is also read as a sweep axis, as `capsim sweep
//! --vary LINE` would. The properties:
//!
//! - nothing panics;
//! - a setting the scenario refuses is refused located in a file of the load, with a help line,
//!   and leaves the scenario as it was;
//! - what is accepted gives a world for a replication (drawing the inputs cannot fail);
//! - an axis that parses makes a plan whose points (up to 16) validate or are refused located.

#![no_main]

use std::sync::OnceLock;

use capsim::experiment::sweep;
use capsim::scenario::{self, Scenario, ScenarioError};
use libfuzzer_sys::fuzz_target;

/// Settings per input (more lines are ignored).
const MAX_LINES: usize = 4;

/// Sweep plans with more points are not expanded.
const MAX_SWEEP_POINTS: usize = 16;

fn baseline() -> &'static Scenario {
    static SC: OnceLock<Scenario> = OnceLock::new();
    SC.get_or_init(|| scenario::baseline().expect("the embedded baseline loads"))
}

/// A refusal as the CLI prints it: located, starting with its location, with a help line.
fn check_refusal(e: &ScenarioError, what: &str) {
    let msg = e.to_string();
    let at = e
        .location()
        .unwrap_or_else(|| panic!("{what}: a refusal without a location: {msg}"));
    assert!(
        msg.starts_with(&format!("{at}: ")),
        "{what}: the message does not start with its location {at}: {msg}"
    );
    assert!(msg.contains("\n  help: "), "{what}: no help line: {msg}");
    // The baseline's files are built in: `<embedded>/baseline.toml` and the files it includes.
    let text = at
        .file
        .strip_prefix("<embedded>/")
        .and_then(scenario::embedded_file)
        .unwrap_or_else(|| panic!("{what}: {at} is not in a built-in file: {msg}"));
    let lines = text.split('\n').count();
    assert!(
        at.line >= 1 && at.column >= 1 && at.line <= lines,
        "{what}: {at} is not in the file's {lines} lines: {msg}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut sc = baseline().clone();
    for line in text.lines().take(MAX_LINES) {
        // --vary LINE
        if let Ok(axis) = sweep::parse_axis(line) {
            if let Ok(plan) = sweep::Plan::new(vec![axis], sweep::Design::Grid) {
                if plan.points.len() <= MAX_SWEEP_POINTS {
                    match plan.scenarios(&sc) {
                        Ok(_) => {}
                        Err(sweep::SweepError::Point { source, .. }) => {
                            check_refusal(&source, "sweep point")
                        }
                        Err(e) => panic!("a sweep point fails unlocated: {e}"),
                    }
                }
            }
        }
        // --set LINE
        let Ok((path, value)) = sweep::parse_setting(line) else {
            continue;
        };
        let before = sc.content_hash.clone();
        match sc.set_field(&path, value) {
            Ok(()) => {
                if let Err(e) = sc.world_for(sc.seed, 0) {
                    panic!("--set {line} was accepted, but the world fails: {e}");
                }
            }
            Err(e) => {
                check_refusal(&e, "set");
                assert_eq!(
                    sc.content_hash, before,
                    "a refused --set changed the scenario"
                );
            }
        }
    }
});
