//! Scenario files (TOML, format in the README's "Scenario format" section) to a validated [`model::World`], with
//! every error naming file, line, column, field path, and how to fix it.
//!
//! # Pipeline
//!
//! 1. Each scenario file is parsed twice: by `toml` for its values and by `toml_edit` for its spans
//!    (`merge.rs`). A layer is a file and the files its `include` names, combined into one table
//!    (a key written twice within a layer is an error). `extends` is followed from child to base; a
//!    missing `baseline.toml` falls back to the baseline built into the binary ([`BASELINE_TOML`],
//!    with the built-in files it includes, [`EMBEDDED_FILES`]).
//! 2. The layers merge into one `toml::Value` (`merge.rs`).
//! 3. serde reads the merged value into the raw mirror types (`raw.rs`); `serde_path_to_error`
//!    records the field path of any failure.
//! 4. `validate.rs` checks ranges, references and dates and builds the [`model::World`];
//!    `sweep.rs` checks the `[sweep]` section (axes parsed, their field paths known, the design
//!    known), so that a sweep never fails later on what the file wrote.
//!
//! Any failure in 2 to 4 carries a field path of the merged document; `locate.rs` finds the layer
//! (child first), and the file of that layer, that wrote that path and turns toml_edit's span into
//! `file:line:col`.
//!
//! # Uncertain inputs
//!
//! Any non-integer figure but `size_flop` may be written as a distribution. The loaded
//! [`Scenario::world`] is the *nominal* world (median, mode or midpoint of each distribution), and
//! [`Scenario::inputs`] lists the figures so given. The scenario is validated once, at load, into a
//! template (`template.rs`): the nominal world and, for each uncertain figure, where it lands in
//! that world. [`Scenario::world_for`] draws one value per figure for one replication and sets it on
//! a copy of the template world, without validating again (loading checked each distribution's
//! whole support against the figure's range; each draw is still checked against the range, which
//! is cheap). Each figure has its own random stream, keyed by its field path (see `validate.rs`).
//! `size_flop` keeps its older meaning: a distribution of job sizes, drawn per job by the model.
//!
//! [`Scenario::set_field`] overrides one field of the merged document and validates again (for
//! sweeps); the override enters [`Scenario::content_hash`].
//!
//! # Order
//!
//! Chips, sites and firms keep the order in which the files list them (toml's `preserve_order`;
//! keys that an extending file adds come after the base's; within a layer, the included files'
//! entries in `include` order, then the including file's own). Their ids are indexes in that order.
//! Policies keep timeline order: the base's entries, then each extending file's new ones (within a
//! layer, in the same order as chips).
//!
//! # Time
//!
//! Time zero is `start_date` at 00:00; a date `d` is the instant `(d - start_date)` days later, at
//! 00:00. **Every end date of a scenario is inclusive**: it is the last day on which the thing
//! applies or happens. The horizon ends at the end of `end_date` (`end_date - start_date + 1`
//! days); likewise a policy's `until`, a workload's `end_date` and a supply's `until` end at 00:00
//! on the *day after* the date written (a policy with `until = 2025-03-31` is in force all of
//! March 31 and out of force from April 1). Left out, they default to the end of the horizon.
//! Start dates (`from`, `start_date`) mean 00:00 on that day.

mod deserialize;
mod fields;
mod locate;
mod merge;
pub mod observations;
mod raw;
pub mod sweep;
mod template;
mod validate;

#[cfg(test)]
mod dates_tests;
#[cfg(test)]
mod include_tests;
#[cfg(test)]
mod template_tests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use sha2::{Digest, Sha256};

use crate::engine::{SimTime, SECS_PER_DAY};
use crate::model;

pub use fields::{Field, FieldKind};
pub use locate::Location;
use locate::{Locator, Seg, Want};
use merge::Layer;
pub use sweep::SweepSpec;

/// The JSON Schema of a scenario file (`capsim schema`), generated from the loader's own types:
/// editors that read it (VS Code with Even Better TOML, taplo) complete keys and flag unknown ones.
/// Every key is optional, since a what-if (`extends`) or an included file holds part of a
/// scenario; the loader says what a whole scenario lacks.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<raw::RawScenario>();
    let mut v = serde_json::to_value(schema).expect("a schema is JSON");
    fn optional(v: &mut serde_json::Value, keep: bool) {
        match v {
            serde_json::Value::Object(m) => {
                if !keep {
                    m.remove("required");
                }
                for (k, x) in m.iter_mut() {
                    // The forms of an uncertain figure keep their required keys.
                    optional(x, keep || k == "Quantity");
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| optional(x, keep)),
            _ => {}
        }
    }
    optional(&mut v, false);
    let root = v.as_object_mut().expect("an object");
    root.insert("title".into(), "capsim scenario".into());
    let props = root
        .get_mut("properties")
        .and_then(|p| p.as_object_mut())
        .expect("the scenario's keys");
    props.insert(
        "extends".into(),
        serde_json::json!({
            "type": "string",
            "description": "The scenario this one changes (a file path, relative to this file; \"baseline.toml\" for the built-in baseline)."
        }),
    );
    props.insert(
        "include".into(),
        serde_json::json!({
            "type": "array",
            "items": { "type": "string" },
            "description": "Files holding the rest of this scenario, relative to this file."
        }),
    );
    v
}

/// The baseline scenario built into the binary; `extends = "baseline.toml"` falls back to it when
/// no such file sits beside the extending file. The files it includes are in [`EMBEDDED_FILES`].
pub const BASELINE_TOML: &str = include_str!("../../scenarios/baseline.toml");

/// The baseline's observations built into the binary: what `observations = "baseline/observed.csv"`
/// names in the embedded baseline.
pub const BASELINE_OBSERVED: &str = include_str!("../../scenarios/baseline/observed.csv");

/// Every file built into the binary: (path relative to `scenarios/`, text). The embedded baseline
/// resolves its `include` and `observations` paths here (relative to the including file's folder,
/// as on disk), so every file it includes must be listed: one line each, e.g.
/// `("baseline/chips.toml", include_str!("../../scenarios/baseline/chips.toml"))`.
pub const EMBEDDED_FILES: &[(&str, &str)] = &[
    ("baseline.toml", BASELINE_TOML),
    ("baseline/observed.csv", BASELINE_OBSERVED),
    (
        "baseline/chips.toml",
        include_str!("../../scenarios/baseline/chips.toml"),
    ),
    (
        "baseline/sites.toml",
        include_str!("../../scenarios/baseline/sites.toml"),
    ),
    (
        "baseline/markets.toml",
        include_str!("../../scenarios/baseline/markets.toml"),
    ),
    (
        "baseline/policy.toml",
        include_str!("../../scenarios/baseline/policy.toml"),
    ),
    (
        "baseline/firms/bytedance.toml",
        include_str!("../../scenarios/baseline/firms/bytedance.toml"),
    ),
    (
        "baseline/firms/alibaba.toml",
        include_str!("../../scenarios/baseline/firms/alibaba.toml"),
    ),
    (
        "baseline/firms/tencent.toml",
        include_str!("../../scenarios/baseline/firms/tencent.toml"),
    ),
    (
        "baseline/firms/baidu.toml",
        include_str!("../../scenarios/baseline/firms/baidu.toml"),
    ),
    (
        "baseline/firms/deepseek.toml",
        include_str!("../../scenarios/baseline/firms/deepseek.toml"),
    ),
    (
        "baseline/firms/moonshot.toml",
        include_str!("../../scenarios/baseline/firms/moonshot.toml"),
    ),
    (
        "baseline/firms/zhipu.toml",
        include_str!("../../scenarios/baseline/firms/zhipu.toml"),
    ),
    (
        "baseline/firms/minimax.toml",
        include_str!("../../scenarios/baseline/firms/minimax.toml"),
    ),
    (
        "baseline/firms/other-cn.toml",
        include_str!("../../scenarios/baseline/firms/other-cn.toml"),
    ),
];

/// The text of the built-in file at `path` (relative to `scenarios/`), if there is one.
pub fn embedded_file(path: &str) -> Option<&'static str> {
    EMBEDDED_FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, text)| *text)
}

/// How the embedded baseline is named in [`Scenario::files`] and in error messages (a file it
/// includes shows as `<embedded>/` and its path relative to `scenarios/`).
pub const EMBEDDED_BASELINE: &str = "<embedded>/baseline.toml";

/// Where one figure of the scenario comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Provenance {
    /// Full field path, e.g. `chips.h100.bf16_dense_tflops`, `policy.h20-licence.from`,
    /// `firms.bytedance.workloads.pretraining.size_flop`; a whole table's source has the table's
    /// path (`sites.johor-h100`).
    pub path: String,
    /// The source text, e.g. `Nvidia H100 SXM datasheet`.
    pub source: String,
}

/// An input as a reader checks it: the field, its value as written, its unit and its source.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// Field path, as in [`Provenance::path`].
    pub field: String,
    /// The value as the scenario writes it (TOML; text unquoted; a distribution as its table;
    /// empty for a source given to a whole table or a field left to its default).
    pub value: String,
    /// The unit of the value, from the field's name (empty where it has none).
    pub unit: String,
    /// The source the scenario gives.
    pub source: String,
}

/// The unit of the field at `path`, from its last key (empty for text, tables and names).
pub fn field_unit(path: &str) -> &'static str {
    let key = path.rsplit('.').next().unwrap_or(path);
    match key {
        "size_flop" => "FLOP",
        "bf16_dense_tflops" => "TFLOPS",
        "memory_gb" => "GB",
        "board_power_w" | "all_in_power_w" => "W",
        "purchase_usd" => "USD per chip",
        "lease_usd_per_chip_hour" | "lease_prices" => "USD per chip-hour",
        "electricity_usd_per_kwh" => "USD per kWh",
        "inference_tokens_per_s" => "tokens/s per chip",
        "tokens_per_day" => "tokens/day",
        "growth_per_year" => "x per year",
        "peak_hour" => "hour of day",
        "amortisation_years" | "term_years" => "years",
        "capacity_mw" | "power_cap_mw" => "MW",
        "pue" => "ratio",
        "risk_aversion" | "home_premium" | "reserve_markup" => "multiplier",
        "start_date" | "end_date" | "from" | "until" => "date",
        "deliveries" => "chips by date",
        "supply" => "chips per year",
        "training_mfu"
        | "idle_power_fraction"
        | "order_share"
        | "busy_above"
        | "orders_share"
        | "open_share"
        | "tight_above"
        | "tight_premium"
        | "on_demand_premium"
        | "reserve_share"
        | "switch_margin"
        | "lease_ban_risk"
        | "daily_amplitude"
        | "fee_fraction"
        | "share"
        | "seizure"
        | "premium" => "fraction",
        k if k.ends_with("_hours") => "hours",
        k if k.ends_with("_days") => "days",
        k if k.ends_with("chips") => "chips",
        _ => "",
    }
}

/// The calendar dates of a policy (the world keeps simulation times, in which a rule dated before
/// the start is clamped to the start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyDates {
    /// In force from this day (the scenario's `from`).
    pub from: NaiveDate,
    /// Out of force from this day, if ever: the day after [`PolicyDates::last_day`]. Reports mark
    /// a rule's end here, where the world's [`model::Policy::until`] lies.
    pub until: Option<NaiveDate>,
    /// The last day in force, if the rule ends: the scenario's `until`, as written (inclusive).
    pub last_day: Option<NaiveDate>,
}

/// A figure of the scenario given as a distribution: drawn once per replication, from a random
/// stream of its own (see [`Scenario::world_for`]).
#[derive(Clone, Debug, PartialEq)]
pub struct UncertainInput {
    /// Field path as in provenance and error messages, e.g. `chips.ascend-910c.training_mfu`,
    /// `firms.bytedance.workloads.pretraining.checkpoint_hours`, `policy.lease-ban.grace_days`.
    pub path: String,
    /// The distribution, in the figure's unit as written (hours, days, USD, ...).
    pub quantity: model::Quantity,
    /// Its value in the nominal world [`Scenario::world`]: the median of a lognormal, the mode of a
    /// triangular, the midpoint of a uniform.
    pub nominal: f64,
}

/// A loaded, validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Run name; output goes to `output/<name>/`.
    pub name: String,
    /// One or two sentences for reports.
    pub description: String,
    /// Master seed.
    pub seed: u64,
    /// First day of the horizon (time zero is its 00:00).
    pub start_date: NaiveDate,
    /// Last day of the horizon, inclusive.
    pub end_date: NaiveDate,
    /// The validated world, times in simulation seconds. Figures given as distributions take their
    /// nominal values here; [`Scenario::world_for`] gives one replication's world.
    pub world: model::World,
    /// `policy_dates[i]` are the dates of `world.timeline.policies[i]`.
    pub policy_dates: Vec<PolicyDates>,
    /// Every `source` and `[sources]` entry of all layers, sorted by path.
    pub provenance: Vec<Provenance>,
    /// SHA-256 (hex) over the files of the layers, in the order of [`Scenario::files`]: each file's
    /// name (not its folder, so the hash does not depend on where the checkout lives), then its
    /// text; then the observations file's text, if any; then each [`Scenario::set_field`] override
    /// (path and value), in the order applied.
    pub content_hash: String,
    /// The scenario files read: the layers child first, each layer's file followed by the files it
    /// includes (depth first, in `include` order). The embedded baseline shows as
    /// [`EMBEDDED_BASELINE`], the built-in files it includes as `<embedded>/PATH`.
    pub files: Vec<String>,
    /// The figures given as distributions, in validation order (chips, sites, firms and their
    /// workloads, policies; each in file order, fields in the order of the format). Empty when every
    /// figure is a number.
    pub inputs: Vec<UncertainInput>,
    /// Dated observations of what happened, to hold the run against (from the file that
    /// `observations` names; empty without one).
    pub observations: Vec<observations::Observation>,
    /// What the scenario was built from, to validate it again.
    source: Source,
}

/// The merged document and what it came from, shared by clones of a scenario: what
/// [`Scenario::set_field`] validates again, and the template [`Scenario::world_for`] draws from.
#[derive(Clone)]
struct Source(Arc<SourceData>);

struct SourceData {
    /// The layers, child first, each with its files (to locate errors, and to hash).
    layers: Arc<Vec<Layer>>,
    /// The merged document, overrides applied.
    merged: toml::Value,
    /// Where each merged `[[policy]]` entry came from.
    policy_origin: Vec<(usize, usize)>,
    /// The `[sweep]` section, checked.
    sweep: Option<SweepSpec>,
    /// The nominal world as validated, and where each uncertain input lands in it: what each
    /// replication's world is drawn from.
    template: template::Template,
    /// [`Scenario::set_field`] overrides applied so far: (field path, value).
    overrides: Vec<(String, toml::Value)>,
}

impl SourceData {
    fn locator(&self) -> Locator<'_> {
        Locator {
            layers: &self.layers,
            policy_origin: &self.policy_origin,
            merged: &self.merged,
        }
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: Vec<&str> = self
            .0
            .layers
            .iter()
            .flat_map(|l| &l.parts)
            .map(|p| p.name.as_str())
            .collect();
        f.debug_struct("Source")
            .field("files", &files)
            .field("overrides", &self.0.overrides)
            .finish_non_exhaustive()
    }
}

/// Two sources are equal when their merged documents and overrides are (the layers' texts are
/// compared through [`Scenario::content_hash`] and [`Scenario::files`]).
impl PartialEq for Source {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.merged == other.0.merged && self.0.overrides == other.0.overrides)
    }
}

impl Scenario {
    /// The scenario's `[sweep]` section, if it has one, as checked when the scenario loaded.
    pub fn sweep(&self) -> Option<SweepSpec> {
        self.source.0.sweep.clone()
    }

    /// The instant of 00:00 on `d`; dates before the start map to time zero.
    pub fn date_to_time(&self, d: NaiveDate) -> SimTime {
        date_to_time(self.start_date, d)
    }

    /// The calendar day that contains instant `t`.
    pub fn time_to_date(&self, t: SimTime) -> NaiveDate {
        self.start_date
            .checked_add_days(Days::new(t.as_secs() / SECS_PER_DAY))
            .unwrap_or(NaiveDate::MAX)
    }

    /// The world of replication `replication` under master seed `seed`, and the value drawn for
    /// each of [`Scenario::inputs`], in that order: `(path, value)`, in the figure's unit as
    /// written.
    ///
    /// Each figure is drawn from its own stream, `engine::rng::stream_by_key(seed, replication,
    /// fnv1a64("input:" + path))`, so a draw depends only on `(seed, replication, path)` and the
    /// figure's distribution: adding, removing or changing another uncertain figure moves no other
    /// draw. When no figure is uncertain this is a clone of [`Scenario::world`] and no draws.
    ///
    /// Every draw lies in the support that loading checked against the figure's range, so this
    /// does not fail for a scenario that loaded; a draw of a duration below one second counts as one
    /// second. An error here would mean a bug, and is reported like a load error.
    ///
    /// The world is a copy of the template validated at load (kept apart from [`Scenario::world`],
    /// which equals it): change a field with [`Scenario::set_field`], not by editing `world`, or
    /// replications will not see the change.
    pub fn world_for(
        &self,
        seed: u64,
        replication: u64,
    ) -> Result<(model::World, Vec<(String, f64)>), ScenarioError> {
        let src = &*self.source.0;
        if self.inputs.is_empty() {
            return Ok((src.template.world.clone(), Vec::new()));
        }
        src.template
            .world_for(&self.inputs, seed, replication)
            .map_err(|issue| {
                let locator = src.locator();
                let mut e = issue_error(issue, &locator);
                if let ScenarioError::Invalid { message, .. } = &mut e {
                    message.push_str(&format!(
                        " (drawn for replication {replication} under seed {seed})"
                    ));
                }
                e
            })
    }

    /// The value each of a replication's `draws` (as [`Scenario::world_for`] returns them) has in
    /// its world: the draw itself, but for a firm's `demand.share` its share in the run, the draw
    /// renormalised over the firm's group (the draw x the sum of the group's `written_at` / the sum
    /// of the group's shares).
    pub fn in_run(&self, draws: &[(String, f64)]) -> Vec<f64> {
        self.source.0.template.in_run(draws)
    }

    /// Overrides one field of the merged scenario and validates it again: world, inputs and
    /// everything else follow the new value, and [`Scenario::content_hash`] covers the override.
    /// On error the scenario is unchanged.
    ///
    /// `path` is a dotted field path as in provenance and error messages: `chips.h100.training_mfu`,
    /// `sites.johor-h100.pue`, `sites.johor-h100.supply.chips_per_year`,
    /// `firms.bytedance.workloads.pretraining.checkpoint_hours`, `policy.lease-ban.from`, or a
    /// top-level key (`seed`, `end_date`). Entries of `policy` and of a firm's `workloads` go by
    /// name; a name with dots or other odd characters is quoted (`sites."a.b".pue`). `value` is
    /// anything the field takes in a file: a number, a distribution table, a date
    /// (`toml::Value::Datetime`), a string, an array.
    ///
    /// A path that names nothing is an [`ScenarioError::UnknownKey`] that lists what exists at the
    /// deepest level that does; a key that the table takes but the file leaves out (an optional
    /// field) is added. A value of the wrong type or out of range is the error loading would give,
    /// at the place of the field in its file, with the override named in the message.
    pub fn set_field(&mut self, path: &str, value: toml::Value) -> Result<(), ScenarioError> {
        let src = &*self.source.0;
        let locator = src.locator();
        let segs = parse_field_path(path).map_err(|message| ScenarioError::BadValue {
            at: locator.locate(&[], Want::Value),
            path: path.to_string(),
            message: format!("setting a field: cannot read the field path: {message}"),
            help: "write a dotted path such as chips.h100.training_mfu or \
                   policy.lease-ban.from; quote a name with dots: sites.\"a.b\".pue"
                .to_string(),
        })?;
        let mut merged = src.merged.clone();
        let at = assign(&mut merged, &segs, value.clone())
            .map_err(|u| unknown_field_error(path, u, &locator))?;
        let shown = locator.display(&at);
        // A field of a switched-off policy would be set and do nothing: say so instead.
        if let [Seg::Key(p), Seg::Index(i), Seg::Key(field), ..] = at.as_slice() {
            let entry = merged.get("policy").and_then(|v| v.get(*i));
            let off = entry
                .and_then(|e| e.get("enabled"))
                .and_then(toml::Value::as_bool)
                == Some(false);
            if p == "policy" && field != "enabled" && off {
                let name = entry
                    .and_then(|e| e.get("name"))
                    .and_then(toml::Value::as_str)
                    .unwrap_or("?");
                return Err(ScenarioError::BadValue {
                    at: locator.locate(&at, Want::Value),
                    path: shown.clone(),
                    message: format!(
                        "policy '{name}' is switched off (enabled = false), so setting its \
                         {field} would change nothing"
                    ),
                    help: format!(
                        "switch it on first: set policy.{name}.enabled = true before {shown}"
                    ),
                });
            }
        }
        let note = format!(" (after setting {shown} = {value})");
        let mut overrides = src.overrides.clone();
        overrides.push((shown, value));
        let next = from_parts(
            Arc::clone(&src.layers),
            merged,
            src.policy_origin.clone(),
            overrides,
        )
        .map_err(|e| with_note(e, &note))?;
        *self = next;
        Ok(())
    }

    /// The value of the field at `path` (as [`Scenario::set_field`] names it) as the scenario
    /// writes it, overrides included; None when the path names nothing or the field is left out
    /// (it takes its default).
    pub fn field_value(&self, path: &str) -> Option<toml::Value> {
        let segs = parse_field_path(path).ok()?;
        let mut cur = &self.source.0.merged;
        for k in &segs {
            cur = match cur {
                toml::Value::Table(t) => t.get(k.as_str())?,
                // Policies and workloads go by name.
                toml::Value::Array(a) => a
                    .iter()
                    .find(|e| e.get("name").and_then(toml::Value::as_str) == Some(k.as_str()))?,
                _ => return None,
            };
        }
        Some(cur.clone())
    }

    /// Every input the scenario gives a source for, with its value as written (overrides
    /// included; a distribution as its table) and its unit, in provenance order.
    pub fn inputs(&self) -> Vec<Input> {
        self.provenance
            .iter()
            .map(|p| Input {
                field: p.path.clone(),
                value: self
                    .field_value(&p.path)
                    .map(|v| match v {
                        toml::Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .unwrap_or_default(),
                unit: field_unit(&p.path).to_string(),
                source: p.source.clone(),
            })
            .collect()
    }

    /// The [`Scenario::set_field`] overrides applied so far, in order, as `path = value` (the
    /// value as TOML), for manifests and reports.
    pub fn overrides(&self) -> Vec<String> {
        self.source
            .0
            .overrides
            .iter()
            .map(|(path, value)| format!("{path} = {value}"))
            .collect()
    }
}

/// 00:00 on `d` in seconds since 00:00 on `start`, clamped at zero.
pub(crate) fn date_to_time(start: NaiveDate, d: NaiveDate) -> SimTime {
    let days = (d - start).num_days();
    if days <= 0 {
        SimTime::ZERO
    } else {
        SimTime((days as u64).saturating_mul(SECS_PER_DAY))
    }
}

/// Why a scenario could not be loaded. Every variant but [`ScenarioError::Io`] carries a
/// [`Location`]; its `Display` reads `file:line:col: field.path: what is wrong`, then a `help:` line.
///
/// Locations are boxed to keep the error small: it travels through every `?` of the loader, and
/// clippy's `result_large_err` would otherwise flag each caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A scenario file could not be read.
    #[error("{file}: cannot read the file: {source}\n  help: check the path and its permissions")]
    Io {
        /// The file as given.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The text is not valid TOML; `at.span` is toml's span of the offending text.
    #[error("{at}: TOML syntax error: {message}\n  help: {help}")]
    Syntax {
        /// Where the parser stopped.
        at: Box<Location>,
        /// The parser's description.
        message: String,
        /// How to fix it.
        help: String,
    },

    /// A key that this table does not take (a typo, or a key of another rule or workload kind).
    #[error("{at}: {path}: unknown key '{key}'\n  help: {help}")]
    UnknownKey {
        /// Where the key is written.
        at: Box<Location>,
        /// Field path of the key.
        path: String,
        /// The key.
        key: String,
        /// The keys this table takes.
        allowed: Vec<String>,
        /// The allowed keys, and the closest one if it looks like a typo.
        help: String,
    },

    /// A required key is absent.
    #[error("{at}: {path}: missing key '{key}'\n  help: {help}")]
    MissingKey {
        /// The table that lacks it.
        at: Box<Location>,
        /// Field path of the missing key.
        path: String,
        /// The key.
        key: String,
        /// What to add.
        help: String,
    },

    /// A value of the wrong type or form: a string for a number, a name outside an enumeration, a
    /// date with a time, a negative integer for a count.
    #[error("{at}: {path}: {message}\n  help: {help}")]
    BadValue {
        /// Where the value is written.
        at: Box<Location>,
        /// Its field path.
        path: String,
        /// What is wrong.
        message: String,
        /// What to write instead.
        help: String,
    },

    /// A well-typed value the scenario cannot accept: out of range, a reference to an undefined
    /// chip or site, a date outside the horizon, a duplicate name, an invalid run name.
    #[error("{at}: {path}: {message}\n  help: {help}")]
    Invalid {
        /// Where the offending value (or table) is written.
        at: Box<Location>,
        /// Its field path.
        path: String,
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },

    /// Several values are wrong (each entry of a kind is checked before the next kind): every
    /// error, each as it would be reported alone.
    #[error("{}", several(errors))]
    Several {
        /// The errors, in the order of the file.
        errors: Vec<ScenarioError>,
    },

    /// `extends` names a file that does not exist.
    #[error("{at}: extends: no such file '{target}'\n  help: {help}")]
    ExtendsNotFound {
        /// Where the `extends` value is written.
        at: Box<Location>,
        /// The path as written.
        target: String,
        /// Where it was looked for.
        help: String,
    },

    /// `include` names a file that does not exist.
    #[error("{at}: include: no such file '{target}'\n  help: {help}")]
    IncludeNotFound {
        /// Where the entry of `include` is written.
        at: Box<Location>,
        /// The path as written.
        target: String,
        /// Where it was looked for.
        help: String,
    },

    /// Following `include` leads back to a file that includes the one naming it.
    #[error(
        "{at}: include: cycle {}\n  help: remove this entry of `include`; a file may not include \
         itself or a file that includes it",
        chain.join(" -> ")
    )]
    IncludeCycle {
        /// The entry of `include` that closes the cycle.
        at: Box<Location>,
        /// The files of the cycle, the repeated one at both ends.
        chain: Vec<String>,
    },

    /// A key or entry written by two files of one layer (a file and the files it includes):
    /// splitting a scenario over files may not override silently.
    #[error("{at}: {path}: already defined at {first}\n  help: {help}")]
    DuplicateKey {
        /// Where the second definition is written.
        at: Box<Location>,
        /// Field path of the key or entry (`name`, `chips.h100`, `sources."sites.x.pue"`).
        path: String,
        /// Where the first definition is written.
        first: Box<Location>,
        /// How to fix it.
        help: String,
    },

    /// Following `extends` leads back to a file already in the chain.
    #[error(
        "{at}: extends: cycle {}\n  help: remove `extends` from one of these files",
        chain.join(" -> ")
    )]
    ExtendsCycle {
        /// The `extends` that closes the cycle.
        at: Box<Location>,
        /// The files of the cycle, the repeated one at both ends.
        chain: Vec<String>,
    },
}

impl ScenarioError {
    /// Where the error is, if it is inside a file (of several, the first's).
    pub fn location(&self) -> Option<&Location> {
        match self {
            ScenarioError::Io { .. } => None,
            ScenarioError::Several { errors } => errors.first().and_then(|e| e.location()),
            ScenarioError::Syntax { at, .. }
            | ScenarioError::UnknownKey { at, .. }
            | ScenarioError::MissingKey { at, .. }
            | ScenarioError::BadValue { at, .. }
            | ScenarioError::Invalid { at, .. }
            | ScenarioError::ExtendsNotFound { at, .. }
            | ScenarioError::ExtendsCycle { at, .. }
            | ScenarioError::IncludeNotFound { at, .. }
            | ScenarioError::IncludeCycle { at, .. }
            | ScenarioError::DuplicateKey { at, .. } => Some(at),
        }
    }

    /// The built-in files the error points into (`<embedded>/PATH`), each once, in order: a user
    /// who did not write them learns where their source is (`scenarios/PATH`).
    pub fn embedded_files(&self) -> Vec<&str> {
        let places: Vec<&Location> = match self {
            ScenarioError::Several { errors } => {
                errors.iter().filter_map(ScenarioError::location).collect()
            }
            ScenarioError::DuplicateKey { at, first, .. } => vec![at, first],
            other => other.location().into_iter().collect(),
        };
        let mut out: Vec<&str> = Vec::new();
        for f in places.into_iter().map(|l| l.file.as_str()) {
            if f.starts_with("<embedded>/") && !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }

    /// The field path the error concerns, if any (of several, the first's).
    pub fn path(&self) -> Option<&str> {
        match self {
            ScenarioError::Several { errors } => errors.first().and_then(|e| e.path()),
            ScenarioError::UnknownKey { path, .. }
            | ScenarioError::MissingKey { path, .. }
            | ScenarioError::BadValue { path, .. }
            | ScenarioError::Invalid { path, .. }
            | ScenarioError::DuplicateKey { path, .. } => Some(path),
            ScenarioError::ExtendsNotFound { .. } | ScenarioError::ExtendsCycle { .. } => {
                Some("extends")
            }
            ScenarioError::IncludeNotFound { .. } | ScenarioError::IncludeCycle { .. } => {
                Some("include")
            }
            ScenarioError::Io { .. } | ScenarioError::Syntax { .. } => None,
        }
    }
}

/// Loads the scenario at `path` and every file it extends or includes.
pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let name = path.display().to_string();
    let text = merge::read_scenario_file(path).map_err(|e| ScenarioError::Io {
        file: name.clone(),
        source: match e {
            merge::ReadError::Io(source) | merge::ReadError::NotFound(source) => source,
            other => std::io::Error::other(other.to_string()),
        },
    })?;
    let root = Layer::load(merge::FileSource::on_disk(path, text))?;
    build(merge::load_chain(root)?)
}

/// Loads a scenario from text. `display_name` names it in errors and [`Scenario::files`];
/// `extends` and `include` are resolved in `base_dir` (the current directory when `None`).
pub fn load_str(
    text: &str,
    display_name: &str,
    base_dir: Option<&Path>,
) -> Result<Scenario, ScenarioError> {
    let dir = base_dir.map(Path::to_path_buf).unwrap_or_default();
    // If the text is that of a file in `base_dir`, identify it as that file, so that a chain which
    // comes back to it is reported as a cycle at once.
    let id = Path::new(display_name)
        .file_name()
        .and_then(|f| std::fs::canonicalize(dir.join(f)).ok())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| format!("<text>/{display_name}"));
    let root = Layer::load(merge::FileSource {
        name: display_name.to_string(),
        text: text.to_string(),
        folder: merge::Folder::Disk(dir),
        id,
    })?;
    build(merge::load_chain(root)?)
}

/// The baseline built into the binary, with the built-in files it includes.
pub fn baseline() -> Result<Scenario, ScenarioError> {
    let root = Layer::load(merge::embedded_baseline())?;
    build(merge::load_chain(root)?)
}

/// Merges, deserializes and validates a chain of layers.
fn build(layers: Vec<Layer>) -> Result<Scenario, ScenarioError> {
    let merged = merge::merge(&layers)?;
    from_parts(
        Arc::new(layers),
        toml::Value::Table(merged.table),
        merged.policy_origin,
        Vec::new(),
    )
}

/// Deserializes and validates a merged document (the nominal world).
fn from_parts(
    layers: Arc<Vec<Layer>>,
    merged: toml::Value,
    policy_origin: Vec<(usize, usize)>,
    overrides: Vec<(String, toml::Value)>,
) -> Result<Scenario, ScenarioError> {
    let locator = Locator {
        layers: &layers,
        policy_origin: &policy_origin,
        merged: &merged,
    };
    let located = |issue| issue_error(issue, &locator);
    let raw = match deserialize::raw_scenario(&merged, &locator) {
        Ok(raw) => raw,
        Err(deserialize::TypeErrors { mut errors, rest }) => {
            // When only unknown keys stopped it, the rest of the file is checked as any file is,
            // and its wrong values are reported with them.
            if let Some((rest, taken)) = rest.map(|r| *r) {
                if let Err(issues) =
                    validate::validate(&rest, validate::Mode::Nominal, &|p| locator.display(p))
                {
                    errors.extend(
                        issues
                            .into_iter()
                            .filter(|i| {
                                !taken.iter().any(|t| i.path.starts_with(t))
                                    && !misspelt_for(&i.path, &taken, &merged)
                            })
                            .map(located),
                    );
                }
            }
            return Err(one_or_several(errors));
        }
    };
    let v = validate::validate(&raw, validate::Mode::Nominal, &|p| locator.display(p))
        .map_err(|issues| one_or_several(issues.into_iter().map(located).collect()))?;
    let sweep = match &raw.sweep {
        None => None,
        Some(s) => Some(
            sweep::check(s, &|path| field_exists(path, &merged, &locator))
                .map_err(|issue| issue_error(issue, &locator))?,
        ),
    };
    let (observations, observed_text) = match &raw.observations {
        None => (Vec::new(), String::new()),
        Some(path) => {
            let (file, text) = read_observations(path, &layers).map_err(|(message, help)| {
                ScenarioError::Invalid {
                    at: locator.locate(&[locate::key("observations")], locate::Want::Value),
                    path: "observations".into(),
                    message,
                    help,
                }
            })?;
            (observations::parse(&text, &file, &v.world)?, text)
        }
    };
    let mut hasher = Sha256::new();
    for f in layers.iter().flat_map(|l| &l.parts) {
        let file_name = f.name.rsplit(['/', '\\']).next().unwrap_or(&f.name);
        hasher.update(file_name.as_bytes());
        hasher.update([0]);
        hasher.update((f.text.len() as u64).to_le_bytes());
        hasher.update(f.text.as_bytes());
    }
    if !observed_text.is_empty() {
        hasher.update(b"observations\0");
        hasher.update((observed_text.len() as u64).to_le_bytes());
        hasher.update(observed_text.as_bytes());
    }
    for (path, value) in &overrides {
        let value = value.to_string();
        hasher.update(b"set_field\0");
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update((value.len() as u64).to_le_bytes());
        hasher.update(value.as_bytes());
    }
    let content_hash = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut provenance = v.provenance;
    provenance.sort();
    provenance.dedup();
    let files = layers
        .iter()
        .flat_map(|l| &l.parts)
        .map(|f| f.name.clone())
        .collect();
    let template = template::Template {
        world: v.world.clone(),
        slots: v.slots,
        splits: v.splits,
    };
    Ok(Scenario {
        name: v.name,
        description: v.description,
        seed: v.seed,
        start_date: v.start_date,
        end_date: v.end_date,
        world: v.world,
        policy_dates: v.policy_dates,
        provenance,
        content_hash,
        files,
        inputs: v.inputs,
        observations,
        source: Source(Arc::new(SourceData {
            layers,
            merged,
            policy_origin,
            sweep,
            template,
            overrides,
        })),
    })
}

/// Whether [`Scenario::set_field`] can set `path` of `merged` (a `[sweep]` axis, checked at load
/// like `--set`); else what is wrong and how to fix it.
fn field_exists(
    path: &str,
    merged: &toml::Value,
    locator: &Locator<'_>,
) -> Result<(), sweep::NoField> {
    let segs = parse_field_path(path).map_err(|m| {
        (
            format!("cannot read the field path: {m}"),
            "write a dotted path such as chips.h100.training_mfu or policy.lease-ban.from; \
             quote a name with dots: sites.\"a.b\".pue"
                .to_string(),
        )
    })?;
    // Setting a placeholder on a copy finds the field as `set_field` would; the value is checked
    // for each point when the sweep is planned. Only the top-level entry the path starts with is
    // copied (the path cannot reach outside it); a path whose first key is not there gets the
    // whole document, whose keys the error lists.
    let mut copy = match (segs.first(), merged) {
        (Some(first), toml::Value::Table(t)) if t.contains_key(first.as_str()) => {
            let mut part = toml::Table::new();
            part.insert(first.clone(), t[first.as_str()].clone());
            toml::Value::Table(part)
        }
        _ => merged.clone(),
    };
    match assign(&mut copy, &segs, toml::Value::Boolean(false)) {
        Ok(_) => Ok(()),
        Err(u) => match unknown_field_error(path, u, locator) {
            ScenarioError::UnknownKey {
                path, key, help, ..
            } => Err((format!("{path}: no field '{key}' to vary"), help)),
            other => Err((
                other.to_string(),
                "see the README's \"Scenario format\" section for field paths".to_string(),
            )),
        },
    }
}

/// `errors` (at least one) as one error, in the order of the files: by file as first met, then
/// line and column (errors without a place keep theirs, after the located ones).
fn one_or_several(mut errors: Vec<ScenarioError>) -> ScenarioError {
    let mut files: Vec<String> = Vec::new();
    for e in &errors {
        if let Some(at) = e.location() {
            if !files.contains(&at.file) {
                files.push(at.file.clone());
            }
        }
    }
    errors.sort_by_key(|e| {
        e.location().map_or((usize::MAX, 0, 0), |at| {
            let file = files
                .iter()
                .position(|f| *f == at.file)
                .unwrap_or(usize::MAX);
            (file, at.line, at.column)
        })
    });
    if errors.len() == 1 {
        errors.remove(0)
    } else {
        ScenarioError::Several { errors }
    }
}

/// Several errors as the command line prints them: the first as any error, each of the others on
/// its own `error:` line, then how many there are.
fn several(errors: &[ScenarioError]) -> String {
    let mut out = String::new();
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            out.push_str("\nerror: ");
        }
        out.push_str(&e.to_string());
    }
    out.push_str(&format!("\n({} errors in all)", errors.len()));
    out
}

/// A validation issue, located.
fn issue_error(issue: validate::Issue, locator: &Locator<'_>) -> ScenarioError {
    ScenarioError::Invalid {
        at: locator.locate(&issue.path, issue.want),
        path: locator.display(&issue.path),
        message: issue.message,
        help: issue.help,
    }
}

/// The observations file that `observations = PATH` names: relative to the folder of the file that
/// writes it (in the child-most layer that does), or a built-in file for the embedded baseline (and,
/// as for `extends = "baseline.toml"`, for `baseline/observed.csv` where no such file exists).
/// Returns (name for errors, text); Err: (message, help).
fn read_observations(path: &str, layers: &[Layer]) -> Result<(String, String), (String, String)> {
    let layer = layers
        .iter()
        .find(|l| l.table.contains_key("observations"))
        .expect("a merged key comes from some layer");
    let file = layer
        .parts
        .iter()
        .find(|p| p.doc.as_table().contains_key("observations"))
        .unwrap_or(layer.first());
    let built_in =
        |rel: &str| embedded_file(rel).map(|text| (format!("<embedded>/{rel}"), text.to_string()));
    match &file.folder {
        merge::Folder::Embedded(folder) => merge::embedded_join(folder, path)
            .and_then(|rel| built_in(&rel))
            .ok_or_else(|| {
                let names: Vec<String> =
                    EMBEDDED_FILES.iter().map(|(p, _)| p.to_string()).collect();
                (
                    format!("no built-in observations file '{path}'"),
                    format!(
                        "capsim has built in: {}; name a file beside your scenario",
                        names.join(", ")
                    ),
                )
            }),
        merge::Folder::Disk(dir) => {
            let file = dir.join(path);
            let name = file.display().to_string();
            match merge::read_scenario_file(&file) {
                Ok(text) => Ok((name, text)),
                // As `extends = "baseline.toml"`: the built-in copy when there is no such file.
                Err(merge::ReadError::NotFound(_)) if path == "baseline/observed.csv" => {
                    built_in(path).ok_or_else(|| {
                        (
                            format!("cannot read '{name}': no such file"),
                            "give the path of a CSV file, relative to this scenario file".into(),
                        )
                    })
                }
                Err(e) => Err((
                    format!("cannot read '{name}': {e}"),
                    "give the path of a CSV file, relative to this scenario file".into(),
                )),
            }
        }
    }
}

/// Splits a dotted field path into its keys; a key may be quoted (`sites."a.b".pue`), with `\"`
/// and `\\` escapes inside the quotes.
fn parse_field_path(path: &str) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut chars = path.chars().peekable();
    loop {
        let mut k = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated quote in '{path}'")),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\')) => k.push(c),
                        _ => return Err(format!("unknown escape in '{path}'")),
                    },
                    Some(c) => k.push(c),
                }
            }
            if !matches!(chars.peek(), None | Some('.')) {
                return Err(format!("a quoted key must be followed by '.' in '{path}'"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                k.push(c);
                chars.next();
            }
            if k.is_empty() {
                return Err(format!("empty key in '{path}'"));
            }
        }
        keys.push(k);
        // Past the '.', if any.
        if chars.next().is_none() {
            return Ok(keys);
        }
    }
}

/// A field path of [`Scenario::set_field`] that names nothing.
struct UnknownField {
    /// The deepest path that exists.
    at: Vec<Seg>,
    /// The key not found there.
    key: String,
    /// What exists there: entry names, or keys.
    existing: Vec<String>,
    /// What the level holds (`"chip"`, `"policy"`, `"key"`), for the message.
    what: &'static str,
    /// Keys the table takes that the file leaves out, if known.
    also: Vec<String>,
}

/// The keys a table of the merged document takes, by where it is (`None`: not a table of fields).
pub(super) fn table_keys(at: &[Seg]) -> Option<Vec<&'static str>> {
    let is = |s: &Seg, k: &str| matches!(s, Seg::Key(x) if x == k);
    Some(match at {
        [] => vec![
            "name",
            "description",
            "start_date",
            "end_date",
            "seed",
            "observations",
            "sources",
            "chips",
            "sites",
            "firms",
            "markets",
            "policy",
            "sweep",
        ],
        [c, _] if is(c, "chips") => raw::CHIP_KEYS.to_vec(),
        [c, _] if is(c, "sites") => raw::SITE_KEYS.to_vec(),
        [c, _, sp] if is(c, "sites") && is(sp, "supply") => {
            vec!["chips_per_year", "from", "until"]
        }
        [c, _, p] if is(c, "sites") && is(p, "procurement") => raw::PROCUREMENT_KEYS.to_vec(),
        [c, _, b] if is(c, "sites") && is(b, "buying") => raw::BUYING_KEYS.to_vec(),
        [c, _] if is(c, "firms") => raw::FIRM_KEYS.to_vec(),
        [c, _, p] if is(c, "firms") && is(p, "planning") => raw::PLANNING_KEYS.to_vec(),
        [c, _, d] if is(c, "firms") && is(d, "demand") => raw::DEMAND_KEYS.to_vec(),
        [c, _] if is(c, "markets") => raw::MARKET_KEYS.to_vec(),
        [c, _, w, Seg::Index(_)] if is(c, "firms") && is(w, "workloads") => [
            raw::WORKLOAD_COMMON_KEYS,
            raw::WORKLOAD_BATCH_KEYS,
            raw::WORKLOAD_INFERENCE_KEYS,
        ]
        .concat(),
        [c, _, w, Seg::Index(_), a]
            if is(c, "firms") && is(w, "workloads") && is(a, "arrivals") =>
        {
            vec!["every_days", "mean_gap_days", "dates"]
        }
        [p, Seg::Index(_)] if is(p, "policy") => {
            let mut keys = raw::POLICY_COMMON_KEYS.to_vec();
            for k in raw::RawRuleKind::all() {
                let (req, opt) = k.keys();
                for key in req.iter().chain(opt) {
                    if !keys.contains(key) {
                        keys.push(key);
                    }
                }
            }
            keys
        }
        _ => return None,
    })
}

/// What the entries of a table of named entries are called.
fn entry_kind(at: &[Seg]) -> Option<&'static str> {
    match at {
        [Seg::Key(k)] if k == "chips" => Some("chip"),
        [Seg::Key(k)] if k == "sites" => Some("site"),
        [Seg::Key(k)] if k == "firms" => Some("firm"),
        [Seg::Key(k)] if k == "markets" => Some("market"),
        _ => None,
    }
}

/// Sets the field at `keys` of the merged document to `value`; returns its path. Entries of
/// `policy` and of a firm's `workloads` are found by name. A missing last key is added if its table
/// takes it.
fn assign(
    root: &mut toml::Value,
    keys: &[String],
    value: toml::Value,
) -> Result<Vec<Seg>, UnknownField> {
    let mut at: Vec<Seg> = Vec::new();
    let mut cur = root;
    for (i, k) in keys.iter().enumerate() {
        let last = i + 1 == keys.len();
        let unknown = |at: &[Seg], existing: Vec<String>, what, also| UnknownField {
            at: at.to_vec(),
            key: k.clone(),
            existing,
            what,
            also,
        };
        let named_array = matches!(at.as_slice(), [Seg::Key(p)] if p == "policy")
            || matches!(at.as_slice(), [Seg::Key(f), _, Seg::Key(w)] if f == "firms" && w == "workloads");
        cur = match cur {
            toml::Value::Table(t) => {
                if !t.contains_key(k.as_str()) {
                    let existing: Vec<String> = t.keys().cloned().collect();
                    if let Some(kind) = entry_kind(&at) {
                        return Err(unknown(&at, existing, kind, Vec::new()));
                    }
                    let takes = table_keys(&at).unwrap_or_default();
                    if last && takes.contains(&k.as_str()) {
                        t.insert(k.clone(), value);
                        at.push(Seg::Key(k.clone()));
                        return Ok(at);
                    }
                    let also = takes
                        .iter()
                        .filter(|x| !t.contains_key(**x))
                        .map(|x| x.to_string())
                        .collect();
                    return Err(unknown(&at, existing, "key", also));
                }
                at.push(Seg::Key(k.clone()));
                match t.get_mut(k.as_str()) {
                    Some(v) => v,
                    None => return Err(unknown(&at, Vec::new(), "key", Vec::new())),
                }
            }
            toml::Value::Array(a) if named_array => {
                let name_of =
                    |e: &toml::Value| e.get("name").and_then(|n| n.as_str()).map(str::to_string);
                let Some(j) = a
                    .iter()
                    .position(|e| name_of(e).as_deref() == Some(k.as_str()))
                else {
                    let existing = a.iter().filter_map(name_of).collect();
                    let what = if at.len() == 1 { "policy" } else { "workload" };
                    return Err(unknown(&at, existing, what, Vec::new()));
                };
                at.push(Seg::Index(j));
                match a.get_mut(j) {
                    Some(v) => v,
                    None => return Err(unknown(&at, Vec::new(), "key", Vec::new())),
                }
            }
            _ => return Err(unknown(&at, Vec::new(), "value", Vec::new())),
        };
        if last {
            *cur = value;
            return Ok(at);
        }
    }
    Err(UnknownField {
        at,
        key: String::new(),
        existing: Vec::new(),
        what: "key",
        also: Vec::new(),
    })
}

/// The error for a [`Scenario::set_field`] path that names nothing.
fn unknown_field_error(given: &str, u: UnknownField, loc: &Locator<'_>) -> ScenarioError {
    let mut full = u.at.clone();
    full.push(Seg::Key(u.key.clone()));
    let here = if u.at.is_empty() {
        "the top level".to_string()
    } else {
        loc.display(&u.at)
    };
    let mut existing = u.existing.clone();
    existing.sort();
    let help = match u.what {
        "value" => format!(
            "setting '{given}': {here} is a value, not a table; set {here} itself (an array \
             is set whole)"
        ),
        "key" => {
            let mut also = u.also.clone();
            also.sort();
            let mut options = existing.clone();
            options.extend(also.iter().cloned());
            format!(
                "setting '{given}': {here} has {}{}{}",
                list_or_none(&existing),
                if also.is_empty() {
                    String::new()
                } else {
                    format!("; it also takes {}", also.join(", "))
                },
                did_you_mean(&u.key, &options)
            )
        }
        what => format!(
            "setting '{given}': no {what} '{}' in {here}; defined: {}{}",
            u.key,
            list_or_none(&existing),
            did_you_mean(&u.key, &existing)
        ),
    };
    ScenarioError::UnknownKey {
        at: loc.locate(&u.at, Want::Value),
        path: loc.display(&full),
        key: u.key,
        allowed: existing,
        help,
    }
}

/// Appends `note` to an error's message (or, for errors without one, to its help).
fn with_note(mut e: ScenarioError, note: &str) -> ScenarioError {
    match &mut e {
        ScenarioError::Several { errors } => {
            let taken = std::mem::take(errors);
            *errors = taken.into_iter().map(|e| with_note(e, note)).collect();
        }
        ScenarioError::BadValue { message, .. } | ScenarioError::Invalid { message, .. } => {
            message.push_str(note)
        }
        ScenarioError::UnknownKey { help, .. }
        | ScenarioError::MissingKey { help, .. }
        | ScenarioError::Syntax { help, .. }
        | ScenarioError::ExtendsNotFound { help, .. }
        | ScenarioError::IncludeNotFound { help, .. }
        | ScenarioError::DuplicateKey { help, .. } => help.push_str(note),
        ScenarioError::Io { .. }
        | ScenarioError::ExtendsCycle { .. }
        | ScenarioError::IncludeCycle { .. } => {}
    }
    e
}

/// Text between backticks, in order (serde quotes names that way in its messages).
fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Turns a serde failure on the merged document into a located error.
fn serde_error(mut path: Vec<Seg>, msg: &str, loc: &Locator<'_>) -> ScenarioError {
    let msg = msg.trim();

    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let names = backticked(rest);
        let k = names.first().cloned().unwrap_or_default();
        let allowed: Vec<String> = names.into_iter().skip(1).collect();
        if path.last() != Some(&Seg::Key(k.clone())) {
            path.push(Seg::Key(k.clone()));
        }
        let help = unknown_key_help(&path, &k, &allowed, loc);
        return ScenarioError::UnknownKey {
            at: loc.locate(&path, Want::Key),
            path: loc.display(&path),
            key: k,
            allowed,
            help,
        };
    }

    if let Some(rest) = msg.strip_prefix("missing field ") {
        let k = backticked(rest).into_iter().next().unwrap_or_default();
        let table = if path.is_empty() {
            "the top level of the file".to_string()
        } else {
            format!("[{}]", loc.display(&path))
        };
        path.push(Seg::Key(k.clone()));
        return ScenarioError::MissingKey {
            at: loc.locate(&path, Want::Value),
            path: loc.display(&path),
            help: format!(
                "add `{k} = ...` to {table} (see the README's \"Scenario format\" section)"
            ),
            key: k,
        };
    }

    let (message, help) = if let Some(rest) = msg.strip_prefix("unknown variant ") {
        let names = backticked(rest);
        let given = names.first().cloned().unwrap_or_default();
        let options: Vec<String> = names.into_iter().skip(1).collect();
        (
            format!("'{given}' is not one of the accepted values"),
            format!(
                "use one of: {}{}",
                options.join(", "),
                did_you_mean(&given, &options)
            ),
        )
    } else if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, "?"));
        let whole = matches!(
            expected,
            "u64" | "u32" | "u16" | "u8" | "usize" | "i64" | "i32"
        );
        let expected = friendly_type(expected);
        if whole && found == "map" {
            // Most figures take a distribution; counts do not.
            let k = match path.last() {
                Some(Seg::Key(k)) => k.clone(),
                _ => "this".to_string(),
            };
            return ScenarioError::BadValue {
                at: loc.locate(&path, Want::Value),
                path: loc.display(&path),
                message: format!(
                    "{k} is a whole count and takes no distribution: found a table, expected {expected}"
                ),
                help: format!(
                    "write {expected}, e.g. {k} = 512; counts (gang_chips, initial_chips, \
                     deliveries' chips, max_chips, seed) are the same in every replication, while \
                     other figures take {{ lognormal = .. }}, {{ uniform = .. }} or \
                     {{ triangular = .. }}"
                ),
            };
        }
        (
            format!(
                "wrong type: found {}, expected {expected}",
                friendly_found(found)
            ),
            format!("write {expected} here"),
        )
    } else if let Some(rest) = msg.strip_prefix("invalid value: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, "?"));
        let expected = friendly_type(expected);
        (
            format!("found {found}, expected {expected}"),
            format!("write {expected} here"),
        )
    } else if msg.starts_with(raw::DATE_MESSAGE) {
        (
            msg.to_string(),
            "write a TOML local date, unquoted and without a time: 2025-04-09".to_string(),
        )
    } else {
        (
            msg.to_string(),
            "see the README's \"Scenario format\" section for the accepted forms of this key"
                .to_string(),
        )
    };
    ScenarioError::BadValue {
        at: loc.locate(&path, Want::Value),
        path: loc.display(&path),
        message,
        help,
    }
}

/// Serde's names for expected types, in the words of the format.
fn friendly_type(expected: &str) -> String {
    match expected {
        "f64" | "f32" => "a number".to_string(),
        "u64" | "u32" | "u16" | "u8" | "usize" => "a whole number >= 0".to_string(),
        "i64" | "i32" => "a whole number".to_string(),
        "a boolean" => "true or false".to_string(),
        "a sequence" => "an array [ ... ]".to_string(),
        "a map" => "a table".to_string(),
        e if e.starts_with("struct ") => "a table".to_string(),
        e if e.starts_with("a table of named entries") => "a table".to_string(),
        e => e.to_string(),
    }
}

/// Serde's names for found values, in the words of the format.
fn friendly_found(found: &str) -> String {
    match found {
        "map" => "a table".to_string(),
        "sequence" => "an array".to_string(),
        f => f.to_string(),
    }
}

/// Help for an unknown key: the allowed keys, split by rule or kind where the table has one.
fn unknown_key_help(path: &[Seg], k: &str, allowed: &[String], loc: &Locator<'_>) -> String {
    let parent = &path[..path.len().saturating_sub(1)];
    let entry = |key_name: &str| -> Option<String> {
        let mut v = loc.merged;
        for seg in parent {
            v = match seg {
                Seg::Key(s) => v.get(s.as_str())?,
                Seg::Index(i) => v.get(*i)?,
            };
        }
        v.get(key_name)?.as_str().map(str::to_string)
    };
    let suggestion = did_you_mean(k, allowed);
    match parent {
        [Seg::Key(p), Seg::Index(_)] if p == "policy" => {
            let rule = entry("rule").and_then(|r| raw::RawRuleKind::from_name(&r));
            match rule {
                Some(rule) => {
                    let (req, opt) = rule.keys();
                    let mut keys: Vec<&str> = req.iter().chain(opt).copied().collect();
                    keys.sort_unstable();
                    format!(
                        "rule '{}' takes {}, besides {}{}",
                        rule.as_str(),
                        keys.join(", "),
                        raw::POLICY_COMMON_KEYS.join(", "),
                        suggestion
                    )
                }
                None => format!("allowed keys: {}{}", allowed.join(", "), suggestion),
            }
        }
        [Seg::Key(f), _, Seg::Key(w), Seg::Index(_)] if f == "firms" && w == "workloads" => {
            let kind = entry("kind");
            let specific = match kind.as_deref() {
                Some("training") | Some("fine_tuning") => Some(raw::WORKLOAD_BATCH_KEYS),
                Some("inference") => Some(raw::WORKLOAD_INFERENCE_KEYS),
                _ => None,
            };
            match (kind, specific) {
                (Some(kind), Some(keys)) => format!(
                    "{} {kind} workload takes {}, besides {}{}",
                    if kind.starts_with('i') { "an" } else { "a" },
                    keys.join(", "),
                    raw::WORKLOAD_COMMON_KEYS.join(", "),
                    suggestion
                ),
                _ => format!("allowed keys: {}{}", allowed.join(", "), suggestion),
            }
        }
        _ if allowed.is_empty() => "this table takes no keys; remove it".to_string(),
        _ => format!("allowed keys here: {}{}", allowed.join(", "), suggestion),
    }
}

/// `a, b, c`, or `(none)`.
pub(crate) fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(", ")
    }
}

/// `"; did you mean 'x'?"` when one of `options` is close to `given` (case-insensitive edit
/// distance at most a third of the length, and at least 1 allowed), else `""`.
/// Whether `path` names a key the document lacks where one of the unknown keys `taken` beside it
/// looks like a misspelling of it: the key is reported once, as the unknown key that says what it
/// may mean, not also as missing.
fn misspelt_for(path: &[Seg], taken: &[Vec<Seg>], merged: &toml::Value) -> bool {
    let Some((Seg::Key(k), parent)) = path.split_last() else {
        return false;
    };
    let mut at = Some(merged);
    for seg in parent {
        at = match (at, seg) {
            (Some(toml::Value::Table(t)), Seg::Key(key)) => t.get(key),
            (Some(toml::Value::Array(a)), Seg::Index(i)) => a.get(*i),
            _ => None,
        };
    }
    let lacks = matches!(at, Some(toml::Value::Table(t)) if !t.contains_key(k));
    lacks
        && taken.iter().any(|t| match t.split_last() {
            Some((Seg::Key(u), p)) => p == parent && !did_you_mean(u, &[k]).is_empty(),
            _ => false,
        })
}

pub(crate) fn did_you_mean<S: AsRef<str>>(given: &str, options: &[S]) -> String {
    let g = given.to_lowercase();
    let limit = (g.chars().count() / 3).max(1);
    options
        .iter()
        .map(|o| (edit_distance(&g, &o.as_ref().to_lowercase()), o.as_ref()))
        .filter(|(d, o)| *d <= limit && *o != given)
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| format!("; did you mean '{o}'?"))
        .unwrap_or_default()
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
