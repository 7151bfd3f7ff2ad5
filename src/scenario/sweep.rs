//! Sweep axes and designs, as a scenario's `[sweep]` section and the command line's `--vary` write
//! them: the pure parsing, shared by the loader (which checks a `[sweep]` section when the file
//! loads) and by `experiment::sweep` (which lays out and runs the points).
//!
//! An axis is `PATH=V1,V2,...` (numbers, dates, words) or `PATH=FROM..TO/STEP` (numbers, or dates
//! with a step of `day`, `week`, `month`, `quarter`, `year` or `Nd`).

use std::collections::HashMap;

use chrono::{Datelike, Days, Months, NaiveDate};

use super::did_you_mean;
use super::locate::{key, Seg, Want};
use super::raw::RawSweep;
use super::validate::Issue;

/// Most points a sweep may have.
pub const MAX_POINTS: usize = 10_000;

/// An axis text that cannot be read. The caller says where the text came from (`--vary '...'`,
/// or a file, line and field path).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AxisError {
    /// The text is malformed; [`VARY_HELP`] says how to write it.
    #[error("{message}")]
    Syntax {
        /// What is wrong.
        message: String,
    },
    /// The axis alone has more values than a sweep may have points.
    #[error("the axis has {points} values, more than the limit of {max}")]
    TooManyPoints {
        /// Values asked for (counted up to the first beyond the limit).
        points: usize,
        /// The limit.
        max: usize,
    },
}

/// How to write an axis (the help of every axis error).
pub const VARY_HELP: &str =
    "write PATH=V1,V2,... (numbers, dates or words) or PATH=FROM..TO/STEP, \
e.g. chips.ascend-910c.training_mfu=0.30,0.35,0.41 or chips.h100.training_mfu=0.3..0.5/0.05 or \
policy.lease-ban.from=2026-01-01..2027-07-01/quarter (steps for dates: day, week, month, quarter, \
year, or a number of days like 30d)";

/// One value on an axis: as TOML, and as a label for tables and charts.
#[derive(Clone, Debug, PartialEq)]
pub struct AxisValue {
    /// The value set into the scenario.
    pub value: toml::Value,
    /// How it prints (`0.35`, `2026-07-01`).
    pub label: String,
    /// Its position on a numeric axis (dates: days since 1970-01-01).
    pub x: f64,
}

/// A field and the values it takes.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Field path, e.g. `chips.ascend-910c.training_mfu`.
    pub path: String,
    /// The values, in the order given.
    pub values: Vec<AxisValue>,
}

fn date_value(d: NaiveDate) -> AxisValue {
    let value = toml::Value::Datetime(toml::value::Datetime {
        date: Some(toml::value::Date {
            year: d.year() as u16,
            month: d.month() as u8,
            day: d.day() as u8,
        }),
        time: None,
        offset: None,
    });
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    AxisValue {
        value,
        label: d.to_string(),
        x: (d - epoch).num_days() as f64,
    }
}

fn number_value(v: f64) -> AxisValue {
    // Shortest representation that reads back to the same float.
    let label = format!("{v}");
    // A whole number goes in as a TOML integer: integer fields (seed, chip counts) take only
    // those, and float fields take integers too (as `pue = 1` does in a file).
    let value = if v.fract() == 0.0 && v.abs() < 9.0e15 {
        toml::Value::Integer(v as i64)
    } else {
        toml::Value::Float(v)
    };
    AxisValue { value, label, x: v }
}

fn scalar(text: &str) -> Result<AxisValue, AxisError> {
    let t = text.trim();
    if let Ok(d) = t.parse::<NaiveDate>() {
        return Ok(date_value(d));
    }
    if let Ok(v) = t.parse::<f64>() {
        if !v.is_finite() {
            return Err(AxisError::Syntax {
                message: format!("'{t}' is not a finite number"),
            });
        }
        return Ok(number_value(v));
    }
    match t {
        "true" | "false" => Ok(AxisValue {
            value: toml::Value::Boolean(t == "true"),
            label: t.into(),
            x: f64::from(u8::from(t == "true")),
        }),
        "" => Err(AxisError::Syntax {
            message: "an empty value".into(),
        }),
        _ => Ok(AxisValue {
            value: toml::Value::String(t.into()),
            label: t.into(),
            x: f64::NAN,
        }),
    }
}

/// Parses one axis, `PATH=VALUES` (a `--vary` argument, or an entry of a `[sweep]` section's
/// `vary`). Only the text is checked here; whether `PATH` names a field of a scenario is checked
/// where the scenario is known.
pub fn parse_axis(spec: &str) -> Result<Axis, AxisError> {
    let err = |message: String| AxisError::Syntax { message };
    let (path, values) = spec
        .split_once('=')
        .ok_or_else(|| err("no '=' between the field path and its values".into()))?;
    let path = path.trim();
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(err(format!("'{path}' is not a field path")));
    }
    let values = values.trim();
    let out = if let Some((range, step)) = values.split_once('/') {
        let (from, to) = range
            .split_once("..")
            .ok_or_else(|| err("a step needs a range FROM..TO before the '/'".into()))?;
        let (from, to, step) = (from.trim(), to.trim(), step.trim());
        match (from.parse::<NaiveDate>(), to.parse::<NaiveDate>()) {
            (Ok(a), Ok(b)) => {
                if b < a {
                    return Err(err(format!("empty range: {b} is before {a}")));
                }
                let next: Box<dyn Fn(NaiveDate) -> Option<NaiveDate>> = match step {
                    "day" => Box::new(|d: NaiveDate| d.checked_add_days(Days::new(1))),
                    "week" => Box::new(|d: NaiveDate| d.checked_add_days(Days::new(7))),
                    "month" => Box::new(|d: NaiveDate| d.checked_add_months(Months::new(1))),
                    "quarter" => Box::new(|d: NaiveDate| d.checked_add_months(Months::new(3))),
                    "year" => Box::new(|d: NaiveDate| d.checked_add_months(Months::new(12))),
                    s => {
                        let n: u64 = s
                            .strip_suffix('d')
                            .and_then(|n| n.parse().ok())
                            .ok_or_else(|| err(format!("unknown date step '{s}'")))?;
                        if n == 0 {
                            return Err(err("zero step".into()));
                        }
                        Box::new(move |d: NaiveDate| d.checked_add_days(Days::new(n)))
                    }
                };
                let mut v = vec![];
                let mut d = a;
                while d <= b {
                    v.push(date_value(d));
                    if v.len() > MAX_POINTS {
                        return Err(AxisError::TooManyPoints {
                            points: v.len(),
                            max: MAX_POINTS,
                        });
                    }
                    d = match next(d) {
                        Some(n) => n,
                        None => break,
                    };
                }
                v
            }
            _ => {
                let num = |t: &str| -> Result<f64, AxisError> {
                    t.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| err(format!("'{t}' is neither a date nor a number")))
                };
                let (a, b, s) = (num(from)?, num(to)?, num(step)?);
                if b < a {
                    return Err(err(format!("empty range: {b} is below {a}")));
                }
                if s <= 0.0 {
                    return Err(err(format!("the step must be positive, found {s}")));
                }
                let n = ((b - a) / s + 1e-9).floor() as usize + 1;
                if n > MAX_POINTS {
                    return Err(AxisError::TooManyPoints {
                        points: n,
                        max: MAX_POINTS,
                    });
                }
                // Computed from the index, not by adding steps, so no rounding error accumulates;
                // rounded to 12 significant digits so 0.1 steps print as 0.3, not 0.30000000000000004.
                (0..n)
                    .map(|i| {
                        let v = a + s * i as f64;
                        number_value(format!("{v:.12e}").parse().expect("formatted float"))
                    })
                    .collect()
            }
        }
    } else {
        values
            .split(',')
            .map(scalar)
            .collect::<Result<Vec<_>, _>>()?
    };
    if out.is_empty() {
        return Err(err("no values".into()));
    }
    Ok(Axis {
        path: path.to_string(),
        values: out,
    })
}

/// What a message says of a sweep of `points` points, more than [`MAX_POINTS`]; `points` is
/// [`Design::points`], which saturates (10,001 axes of two values each cannot be counted).
pub fn too_many_points(points: usize) -> String {
    if points == usize::MAX {
        format!("the sweep has more points than can be counted, and the limit is {MAX_POINTS}")
    } else {
        format!("the sweep has {points} points, more than the limit of {MAX_POINTS}")
    }
}

/// How points are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Design {
    /// Every combination of axis values.
    #[default]
    Grid,
    /// Each value of each axis, with the other axes as the scenario writes them.
    OneAtATime,
}

impl Design {
    /// Every design, in the order of the docs.
    pub const ALL: [Design; 2] = [Design::Grid, Design::OneAtATime];

    /// As written in a `[sweep]` section and on the command line (`--design`).
    pub fn name(self) -> &'static str {
        match self {
            Design::Grid => "grid",
            Design::OneAtATime => "one-at-a-time",
        }
    }

    /// The design written `name`, if any.
    pub fn from_name(name: &str) -> Option<Design> {
        Design::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Points of a sweep over `axes` under this design, the baseline point included; saturates.
    pub fn points(self, axes: &[Axis]) -> usize {
        match self {
            Design::Grid => axes
                .iter()
                .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()))
                .and_then(|n| n.checked_add(1))
                .unwrap_or(usize::MAX),
            Design::OneAtATime => axes
                .iter()
                .fold(1usize, |acc, a| acc.saturating_add(a.values.len())),
        }
    }
}

/// The `[sweep]` section of a scenario, checked when the file loaded: every axis parsed and its
/// field path known to the scenario, the design known, the points within [`MAX_POINTS`].
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    /// The axes as written, each `PATH=VALUES`.
    pub vary: Vec<String>,
    /// The axes, parsed (in the order of `vary`).
    pub axes: Vec<Axis>,
    /// The design, if given.
    pub design: Option<Design>,
    /// Replications per point, if given (at least 1).
    pub replications: Option<u64>,
}

/// Most replications per point a `[sweep]` section may ask for (as `--replications` allows).
pub const MAX_REPLICATIONS: u64 = 1_000_000;

/// Why a field path names nothing: (what is wrong, how to fix it).
pub(crate) type NoField = (String, String);

/// Checks a `[sweep]` section. `field_exists(path)` says whether `path` names a field that
/// [`super::Scenario::set_field`] can set.
pub(crate) fn check(
    raw: &RawSweep,
    field_exists: &dyn Fn(&str) -> Result<(), NoField>,
) -> Result<SweepSpec, Issue> {
    let at = |p: Vec<Seg>, message: String, help: String| Issue {
        path: p,
        want: Want::Value,
        message,
        help,
    };
    let vary_at = |i: usize| vec![key("sweep"), key("vary"), Seg::Index(i)];
    if raw.vary.is_empty() {
        return Err(at(
            vec![key("sweep"), key("vary")],
            "no axes: vary is empty".into(),
            format!(
                "list at least one axis, e.g. vary = [\"sites.johor.pue=1.2,1.3\"]; {VARY_HELP}"
            ),
        ));
    }
    let mut axes: Vec<Axis> = Vec::with_capacity(raw.vary.len());
    for (i, spec) in raw.vary.iter().enumerate() {
        let axis = parse_axis(spec).map_err(|e| match e {
            AxisError::Syntax { message } => at(
                vary_at(i),
                format!("axis '{spec}': {message}"),
                VARY_HELP.into(),
            ),
            AxisError::TooManyPoints { points, max } => at(
                vary_at(i),
                format!("axis '{spec}' has {points} values, more than the limit of {max}"),
                "use fewer values or a coarser step, or split the sweep".into(),
            ),
        })?;
        axes.push(axis);
    }
    let design = match raw.design.as_deref() {
        None => None,
        Some(name) => Some(Design::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = Design::ALL.iter().map(|d| d.name()).collect();
            at(
                vec![key("sweep"), key("design")],
                format!("unknown design '{name}'"),
                format!(
                    "use design = \"grid\" (every combination, the default) or design = \
                     \"one-at-a-time\" (one axis at a time around the scenario as written){}",
                    did_you_mean(name, &names)
                ),
            )
        })?),
    };
    // The count comes before the field paths: checking a path costs a copy of the scenario, and
    // a section of 10,000 axes must be refused at once, not after 10,000 copies.
    let points = design.unwrap_or_default().points(&axes);
    if points > MAX_POINTS {
        return Err(at(
            vec![key("sweep"), key("vary")],
            too_many_points(points),
            "use fewer values or a coarser step, design = \"one-at-a-time\", or split the sweep"
                .into(),
        ));
    }
    // One axis per field (a second would override the first at every point); each path is
    // checked once.
    let mut known: HashMap<&str, usize> = HashMap::new();
    for (i, axis) in axes.iter().enumerate() {
        if let Some(j) = known.get(axis.path.as_str()) {
            return Err(at(
                vary_at(i),
                format!(
                    "axis '{}' varies {} again (vary[{j}] already does)",
                    raw.vary[i], axis.path
                ),
                "give each field one axis: put all its values in one entry".into(),
            ));
        }
        field_exists(&axis.path).map_err(|(message, help)| {
            at(
                vary_at(i),
                format!("axis '{}': {message}", raw.vary[i]),
                help,
            )
        })?;
        known.insert(&axis.path, i);
    }
    if let Some(r) = raw.replications {
        if !(1..=MAX_REPLICATIONS).contains(&r) {
            return Err(at(
                vec![key("sweep"), key("replications")],
                format!("replications must be 1 to {MAX_REPLICATIONS}, found {r}"),
                "replications per point, e.g. replications = 10; leave it out for the default (10)"
                    .into(),
            ));
        }
    }
    Ok(SweepSpec {
        vary: raw.vary.clone(),
        axes,
        design,
        replications: raw.replications,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{load_str, ScenarioError, BASELINE_TOML};

    /// The shipped scenarios' folder: the baseline's includes resolve there.
    fn scenarios() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
    }

    /// The baseline with `section` appended as its `[sweep]` (read as if beside the baseline).
    fn with_sweep(section: &str) -> Result<super::super::Scenario, ScenarioError> {
        load_str(
            &format!("{BASELINE_TOML}\n[sweep]\n{section}\n"),
            "swept.toml",
            Some(&scenarios()),
        )
    }

    /// The 1-based line of `needle` in the baseline with `section` appended.
    fn line_of(section: &str, needle: &str) -> usize {
        let text = format!("{BASELINE_TOML}\n[sweep]\n{section}\n");
        text.lines()
            .position(|l| l.contains(needle))
            .expect("needle")
            + 1
    }

    fn error(section: &str) -> (String, ScenarioError) {
        let e = with_sweep(section).expect_err("a bad [sweep] section");
        (e.to_string(), e)
    }

    #[test]
    fn whole_numbers_sweep_integer_fields() {
        // `--vary seed=1,2` once set `seed = 1.0`, which an integer field refuses.
        let axis = parse_axis("seed=1,2").unwrap();
        assert_eq!(axis.values[0].value, toml::Value::Integer(1));
        assert_eq!(axis.values[1].label, "2");
        let mut sc = load_str(BASELINE_TOML, "t.toml", Some(&scenarios())).unwrap();
        let set = sc.set_field("seed", axis.values[1].value.clone());
        assert!(set.is_ok(), "{:?}", set.err());
        assert_eq!(sc.seed, 2);
        // Fractions stay floats.
        let axis = parse_axis("chips.h100.training_mfu=0.3,0.5").unwrap();
        assert_eq!(axis.values[0].value, toml::Value::Float(0.3));
    }

    #[test]
    fn a_good_section_is_parsed_at_load() {
        let sc = with_sweep(
            "vary = [\"chips.h100.training_mfu=0.3,0.4\", \"policy.us-h20-licence-cn.from=2025-01-01..2025-07-01/quarter\"]\n\
             design = \"one-at-a-time\"\nreplications = 3",
        );
        let spec = sc.expect("loads").sweep().expect("a sweep");
        assert_eq!(spec.axes.len(), 2);
        assert_eq!(spec.axes[0].path, "chips.h100.training_mfu");
        assert_eq!(spec.axes[1].values.len(), 3);
        assert_eq!(spec.design, Some(Design::OneAtATime));
        assert_eq!(spec.replications, Some(3));
    }

    #[test]
    fn an_unknown_design_is_located_with_the_known_designs() {
        let section = "vary = [\"chips.h100.training_mfu=0.3,0.4\"]\ndesign = \"gird\"";
        let (msg, e) = error(section);
        let loc = e.location().expect("located");
        assert_eq!(
            (loc.file.as_str(), loc.line, loc.column),
            ("swept.toml", line_of(section, "gird"), 10)
        );
        assert_eq!(e.path(), Some("sweep.design"));
        assert!(msg.contains("unknown design 'gird'"), "{msg}");
        assert!(msg.contains("help: use design = \"grid\""), "{msg}");
        assert!(msg.contains("one-at-a-time"), "{msg}");
    }

    #[test]
    fn a_malformed_axis_is_located_at_its_entry_without_blaming_the_command_line() {
        let section = "vary = [\"chips.h100.training_mfu=0.3,0.4\",\n  \"garbage\"]";
        let (msg, e) = error(section);
        let loc = e.location().expect("located");
        assert_eq!((loc.line, loc.column), (line_of(section, "\"garbage\""), 3));
        assert_eq!(e.path(), Some("sweep.vary[1]"));
        assert!(msg.contains("axis 'garbage': no '='"), "{msg}");
        assert!(msg.contains("help: write PATH=V1,V2"), "{msg}");
        assert!(!msg.contains("--vary"), "{msg}");
    }

    #[test]
    fn an_axis_on_an_unknown_field_is_refused_like_set() {
        for (axis, needles) in [
            (
                "chips.h100.trainig_mfu=0.3",
                &["chips.h100.trainig_mfu", "did you mean 'training_mfu'"][..],
            ),
            ("sites.nowhere.pue=1.2", &["no site 'nowhere'"][..]),
            ("policy.no-such-rule.from=2026-01-01", &["no-such-rule"][..]),
        ] {
            let (msg, e) = error(&format!("vary = [\"{axis}\"]"));
            assert_eq!(e.path(), Some("sweep.vary[0]"), "{axis}: {msg}");
            for n in needles {
                assert!(msg.contains(n), "{axis}: lacks {n}: {msg}");
            }
        }
        // An optional key that the file leaves out can be varied, as with --set.
        with_sweep("vary = [\"sites.cn-cloud-910b.power_cap_mw=50,100\"]").expect("optional key");
    }

    #[test]
    fn empty_axes_too_many_points_and_bad_replications_are_refused() {
        for (section, path, needle) in [
            ("vary = []", "sweep.vary", "no axes"),
            (
                "vary = [\"chips.h100.training_mfu=0.1..0.9/0.01\", \"chips.h100.memory_gb=1..200/1\"]",
                "sweep.vary",
                "more than the limit",
            ),
            (
                "vary = [\"chips.h100.training_mfu=0.3\"]\nreplications = 0",
                "sweep.replications",
                "replications must be 1",
            ),
        ] {
            let (msg, e) = error(section);
            assert_eq!(e.path(), Some(path), "{section}: {msg}");
            assert!(msg.contains(needle), "{section}: {msg}");
        }
    }

    #[test]
    fn designs_count_their_points() {
        let a = parse_axis("a.x=1,2").unwrap();
        let b = parse_axis("b.y=3,4,5").unwrap();
        assert_eq!(Design::Grid.points(&[a.clone(), b.clone()]), 7);
        assert_eq!(Design::OneAtATime.points(&[a, b]), 6);
        for d in Design::ALL {
            assert_eq!(Design::from_name(d.name()), Some(d));
        }
    }
}
