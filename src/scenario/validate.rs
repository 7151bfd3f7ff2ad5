//! Raw scenario to validated [`model::World`]: ranges, references, dates and per-kind keys, each
//! failure an [`Issue`] with the field path it concerns and how to fix it (the caller locates it).
//!
//! Written defensively: no indexing that can fail, no arithmetic that can overflow, no `unwrap`; any
//! input, however odd, ends in a `World` or an `Issue`.
//!
//! # Uncertain figures
//!
//! Every non-integer figure but `size_flop` may be a distribution ([`RawQuantity`]). [`Cx::value`]
//! resolves it before the figure's range check to its nominal value (median of a lognormal, mode of
//! a triangular, midpoint of a uniform), and records it as an uncertain input with its [`Slot`]:
//! where it lands in the world, its range and its unit. A replication draws each input from a
//! stream of its own, keyed by the figure's field path (so adding or changing one uncertain figure
//! moves no other figure's draw), and sets the draws on a copy of the nominal world
//! (`template.rs`) without validating again. At load the distribution's whole support is checked
//! against the figure's range, so a replication can never draw a value the nominal world would
//! refuse; [`drawn`] still checks each draw, cheaply. `size_flop` keeps its meaning: a
//! distribution of job sizes, drawn per job by the model, its support checked against its range
//! like any other figure's.
//!
//! # Ranges
//!
//! Every figure has a physically meaningful range ([`Bound::Range`], written beside the figure
//! where it is read, and shown in its help), so that whatever validates runs to the end with
//! finite outputs; names, the horizon, listed dates and chip counts have limits too
//! ([`MAX_NAME_CHARS`], [`MAX_HORIZON_DAYS`], [`MAX_ENTITY_DAYS`], [`MAX_LISTED_DATES`],
//! [`MAX_CHIPS`], [`MAX_JOBS`]). `tests/scenario/limits.rs` states the promise as a property test.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::engine::{rng, SimDuration, SimTime, SECS_PER_DAY};
use crate::model::{
    self, Arrivals, BatchWorkload, Buying, Channel, Chip, ChipId, Delivery, Firm, FirmId,
    InferenceWorkload, JobKind, LeasePrice, Market, MarketId, Operator, PlacementStrategy,
    Planning, Policy, Pricing, Procurement, Quantity, Rule, RuleKind, Site, SiteId, Supply,
    Timeline, Workload, WorkloadKind,
};

use super::locate::{fmt_key, key, Seg, Want};
use super::raw::{
    self, Named, RawArrivals, RawChip, RawDate, RawDemand, RawFirm, RawMarket, RawOperator,
    RawPlacement, RawPlanning, RawPolicy, RawPricing, RawQuantity, RawScenario, RawSite, RawSource,
    RawWorkload, RawWorkloadKind,
};
use super::template::{
    split_demand, ChipFigure, Conversion, Figure, Member, Owner, Slot, Split, Value,
};
use super::{date_to_time, did_you_mean, list_or_none, Provenance, UncertainInput};

/// One validation failure, not yet located.
#[derive(Clone, Debug)]
pub(crate) struct Issue {
    /// Field path in the merged document.
    pub path: Vec<Seg>,
    /// Point at the key or at its value.
    pub want: Want,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

/// Everything validation produces.
pub(crate) struct Validated {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub world: model::World,
    pub provenance: Vec<Provenance>,
    pub policy_dates: Vec<super::PolicyDates>,
    /// Every figure given as a distribution, in validation order.
    pub inputs: Vec<UncertainInput>,
    /// Where each of `inputs` lands in `world`, in the same order.
    pub slots: Vec<Slot>,
    /// The demand paths firms split (`[firms.<name>.demand]`), by group.
    pub splits: Vec<Split>,
    /// In [`Mode::Sample`], `(path, value drawn)` in the order of `inputs`; empty otherwise.
    #[cfg(test)]
    pub draws: Vec<(String, f64)>,
}

/// How figures given as distributions resolve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The nominal world: median of a lognormal, mode of a triangular, midpoint of a uniform.
    Nominal,
    /// One replication's world: each figure drawn from its own stream
    /// `rng::stream_by_key(seed, replication, fnv1a64("input:" + field path))`, and the whole
    /// scenario validated around the draws. Replications use the template instead
    /// (`template.rs`); this stays as the reference the template is tested against.
    #[cfg(test)]
    Sample {
        /// Master seed.
        seed: u64,
        /// Replication index.
        replication: u64,
    },
}

type R<T> = Result<T, Issue>;

/// A field path under construction.
#[derive(Clone, Debug, Default)]
struct P(Vec<Seg>);

impl P {
    fn root(k: &str) -> P {
        P(vec![key(k)])
    }
    fn k(&self, k: &str) -> P {
        let mut v = self.0.clone();
        v.push(key(k));
        P(v)
    }
    fn i(&self, i: usize) -> P {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        P(v)
    }
    fn value(&self, message: impl Into<String>, help: impl Into<String>) -> Issue {
        Issue {
            path: self.0.clone(),
            want: Want::Value,
            message: message.into(),
            help: help.into(),
        }
    }
    fn key(&self, message: impl Into<String>, help: impl Into<String>) -> Issue {
        Issue {
            path: self.0.clone(),
            want: Want::Key,
            message: message.into(),
            help: help.into(),
        }
    }
}

/// The range a number must fall in. Every figure has one that is physically meaningful (a chip
/// between 1 and 1e6 TFLOP/s, a PUE between 1 and 3), stated where the figure is read, so that
/// whatever validates runs to the end with finite outputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Bound {
    /// `[low, high]`, both finite; with `zero`, exactly 0 is allowed too (a chip that serves no
    /// tokens), but nothing between 0 and `low`.
    Range {
        /// Smallest value (inclusive).
        low: f64,
        /// Largest value (inclusive).
        high: f64,
        /// Whether 0 is allowed below `low`.
        zero: bool,
    },
    /// [0, 1]
    Fraction,
    /// [0, 24)
    HourOfDay,
}

/// `[low, high]`.
const fn range(low: f64, high: f64) -> Bound {
    Bound::Range {
        low,
        high,
        zero: false,
    }
}

/// `0`, or `[low, high]`.
const fn zero_or(low: f64, high: f64) -> Bound {
    Bound::Range {
        low,
        high,
        zero: true,
    }
}

impl Bound {
    fn holds(self, v: f64) -> bool {
        v.is_finite()
            && match self {
                Bound::Range { low, high, zero } => (low..=high).contains(&v) || (zero && v == 0.0),
                Bound::Fraction => (0.0..=1.0).contains(&v),
                Bound::HourOfDay => (0.0..24.0).contains(&v),
            }
    }

    /// The value in range nearest `v` (for NaN, the lowest): what a figure refused for its range
    /// stands in as while the rest of the file is checked.
    fn clamp(self, v: f64) -> f64 {
        let (low, high) = match self {
            Bound::Range { low, high, .. } => (low, high),
            Bound::Fraction => (0.0, 1.0),
            Bound::HourOfDay => (0.0, 23.0),
        };
        if v.is_nan() {
            low
        } else {
            v.clamp(low, high)
        }
    }

    /// Whether every value of `[a, b]` holds (`a <= b`).
    fn holds_between(self, a: f64, b: f64) -> bool {
        self.holds(a)
            && self.holds(b)
            && match self {
                // 0 is allowed, what lies between 0 and `low` is not.
                Bound::Range { low, .. } => !(a < low && b > a),
                Bound::Fraction | Bound::HourOfDay => true,
            }
    }

    fn text(self) -> String {
        match self {
            Bound::Range {
                low,
                high,
                zero: false,
            } => format!("a number in [{}, {}]", fmt_num(low), fmt_num(high)),
            Bound::Range {
                low,
                high,
                zero: true,
            } => format!("0 or a number in [{}, {}]", fmt_num(low), fmt_num(high)),
            Bound::Fraction => "a number in [0, 1]".to_string(),
            Bound::HourOfDay => "an hour in [0, 24)".to_string(),
        }
    }

    /// The forms of a figure whose every draw stays in range.
    fn forms(self) -> String {
        match self {
            Bound::Range { .. } => format!(
                "{}, or {{ uniform = [low, high] }} or {{ triangular = [low, mode, high] }} inside \
                 that range, or {{ lognormal = {{ median, p95 }} }} narrow enough that median \
                 times e^(+-{LOGNORMAL_REACH} sigma) stays inside it",
                self.text()
            ),
            Bound::Fraction => "a number in [0, 1], or { uniform = [low, high] } or \
                 { triangular = [low, mode, high] } with high <= 1 (not lognormal, which has no \
                 upper bound)"
                .to_string(),
            Bound::HourOfDay => "an hour in [0, 24), or { uniform = [low, high] } or \
                 { triangular = [low, mode, high] } with high < 24 (not lognormal, which has no \
                 upper bound)"
                .to_string(),
        }
    }
}

/// `(low, mode, high)` of an example distribution for the figure `key`, in plausible numbers that
/// fit `bound`.
fn example(key: &str, bound: Bound) -> (f64, f64, f64) {
    let typical = match key {
        "bf16_dense_tflops" => (700.0, 800.0, 1000.0),
        "memory_gb" => (64.0, 96.0, 128.0),
        "board_power_w" => (500.0, 700.0, 1000.0),
        "all_in_power_w" => (1000.0, 1300.0, 1600.0),
        "inference_tokens_per_s" => (1500.0, 2500.0, 3500.0),
        "purchase_usd" => (20000.0, 25000.0, 35000.0),
        "lease_usd_per_chip_hour" => (1.8, 2.2, 3.0),
        "amortisation_years" => (3.0, 4.0, 5.0),
        "electricity_usd_per_kwh" => (0.06, 0.08, 0.12),
        "mtbf_hours" => (30000.0, 50000.0, 80000.0),
        "repair_hours" => (24.0, 48.0, 72.0),
        "power_cap_mw" => (50.0, 100.0, 150.0),
        "chips_per_year" => (8000.0, 12000.0, 16000.0),
        "every_days" => (45.0, 60.0, 90.0),
        "mean_gap_days" => (20.0, 30.0, 45.0),
        "checkpoint_hours" | "batch_hours" => (0.5, 1.0, 2.0),
        "restart_hours" => (0.25, 0.5, 1.0),
        "tokens_per_day" => (5e11, 1e12, 2e12),
        "growth_per_year" => (1.5, 2.5, 4.0),
        "fee_fraction" => (0.1, 0.15, 0.25),
        "grace_days" => (30.0, 90.0, 180.0),
        "delay_days" => (15.0, 30.0, 60.0),
        "factor" => (0.3, 0.5, 0.8),
        "seizure" => (0.05, 0.1, 0.3),
        "pue" => (1.1, 1.2, 1.4),
        "training_mfu" => (0.3, 0.35, 0.4),
        "size_flop" => (1e24, 2e24, 5e24),
        _ => match bound {
            Bound::Range { low, high, .. } => (low, (low + high) / 2.0, high),
            Bound::Fraction => (0.3, 0.35, 0.4),
            Bound::HourOfDay => (12.0, 14.0, 16.0),
        },
    };
    let (lo, mode, hi) = typical;
    if [lo, mode, hi].iter().all(|v| bound.holds(*v)) {
        typical
    } else {
        match bound {
            Bound::Range { low, high, .. } => (low, (low + high) / 2.0, high),
            Bound::Fraction | Bound::HourOfDay => (0.3, 0.35, 0.4),
        }
    }
}

/// z-score of the 95th percentile of the standard normal (as in [`Quantity`]).
const Z95: f64 = 1.644_853_626_951_472_2;

/// A lognormal's draws lie within this many standard deviations of the log-median:
/// [`Quantity::sample`] truncates the normal there, so this is the true support of a draw.
const LOGNORMAL_REACH: f64 = crate::model::LOGNORMAL_REACH;

/// Checks that every value `q` can draw satisfies `bound`; the message says which value does not.
/// `key` names the figure. Parameters must have passed [`Quantity::validate`] (finite, >= 0,
/// ordered), so a range that is an interval only needs its two ends checked.
fn support_fits(q: &Quantity, bound: Bound, key: &str) -> Result<(), String> {
    let must = format!("{key} must be {}", bound.text());
    let (form, low, high) = match *q {
        Quantity::Fixed(v) => (fmt_num(v), v, v),
        Quantity::Uniform { low, high } => (
            format!("uniform [{}, {}]", fmt_num(low), fmt_num(high)),
            low,
            high,
        ),
        Quantity::Triangular { low, mode, high } => (
            format!(
                "triangular [{}, {}, {}]",
                fmt_num(low),
                fmt_num(mode),
                fmt_num(high)
            ),
            low,
            high,
        ),
        Quantity::LogNormal { median, p95 } => {
            if let Some(m) = lognormal_misfit(bound, key) {
                return Err(m);
            }
            // Draws lie within LOGNORMAL_REACH sigmas of the log-median (the sampler clamps).
            let sigma = (p95 / median).ln() / Z95;
            let (mu, span) = (median.ln(), LOGNORMAL_REACH * sigma);
            let (low, high) = ((mu - span).exp(), (mu + span).exp());
            if bound.holds_between(low, high) && sigma.is_finite() {
                return Ok(());
            }
            return Err(format!(
                "lognormal with median {} and p95 {} is too wide: its draws reach from {} to {} \
                 ({LOGNORMAL_REACH} standard deviations), but {must}",
                fmt_num(median),
                fmt_num(p95),
                fmt_num(low),
                fmt_num(high)
            ));
        }
    };
    if !bound.holds(low) {
        let low = fmt_num(low);
        return Err(format!("{form} can draw values down to {low}, but {must}"));
    }
    if !bound.holds(high) {
        let high = fmt_num(high);
        return Err(format!("{form} can draw values up to {high}, but {must}"));
    }
    if !bound.holds_between(low, high) {
        return Err(format!(
            "{form} can draw values between 0 and the range, but {must}"
        ));
    }
    Ok(())
}

/// Why a lognormal (support `(0, inf)`) cannot stand for a figure with range `bound`, if it cannot.
fn lognormal_misfit(bound: Bound, key: &str) -> Option<String> {
    let must = format!("{key} must be {}", bound.text());
    match bound {
        Bound::Range { .. } => None,
        Bound::Fraction | Bound::HourOfDay => Some(format!(
            "a lognormal distribution has no upper bound, but {must}"
        )),
    }
}

/// The value of a distribution in the nominal world: median, mode or midpoint.
fn nominal(q: &Quantity) -> f64 {
    match *q {
        Quantity::Fixed(v) => v,
        Quantity::LogNormal { median, .. } => median,
        Quantity::Uniform { low, high } => low + (high - low) / 2.0,
        Quantity::Triangular { mode, .. } => mode,
    }
}

/// The largest value a figure can take (a lognormal: unbounded). Shapes must have passed validation.
fn upper(q: &RawQuantity) -> f64 {
    match q {
        RawQuantity::Fixed(v) => *v,
        RawQuantity::LogNormal(_) => f64::INFINITY,
        RawQuantity::Uniform(v) | RawQuantity::Triangular(v) => v.last().copied().unwrap_or(0.0),
    }
}

/// The stream key of the uncertain figure at `path` (its displayed field path).
pub(crate) fn input_key(path: &str) -> u64 {
    let mut bytes = Vec::with_capacity(6 + path.len());
    bytes.extend_from_slice(b"input:");
    bytes.extend_from_slice(path.as_bytes());
    rng::fnv1a64(&bytes)
}

/// Example texts for the distribution forms of one figure, for help on a malformed distribution.
struct Examples {
    fixed: String,
    lognormal: String,
    uniform: String,
    triangular: String,
}

impl Examples {
    /// Examples for the figure `key`, in numbers that fit `bound`.
    fn of(key: &str, bound: Bound) -> Examples {
        let (lo, mode, hi) = example(key, bound);
        Examples {
            fixed: format!("{key} = {mode}"),
            lognormal: format!(
                "{key} = {{ lognormal = {{ median = {mode}, p95 = {hi} }} }}, with 0 < median <= p95"
            ),
            uniform: format!("{key} = {{ uniform = [{lo}, {hi}] }}, with 0 <= low <= high"),
            triangular: format!(
                "{key} = {{ triangular = [{lo}, {mode}, {hi}] }}, with low <= mode <= high and \
                 low < high"
            ),
        }
    }

    /// Examples for `size_flop`, a distribution of job sizes.
    fn size_flop() -> Examples {
        Examples {
            fixed: "size_flop = 5e24".to_string(),
            lognormal: "size_flop = { lognormal = { median = 5e24, p95 = 1.5e25 } }, with 0 < \
                        median <= p95"
                .to_string(),
            uniform: "size_flop = { uniform = [1e24, 3e24] }, with 0 <= low <= high".to_string(),
            triangular: "size_flop = { triangular = [1e24, 2e24, 5e24] }, with low <= mode <= high"
                .to_string(),
        }
    }
}

/// The last key of a path (the figure's name in messages).
fn last_key(path: &P) -> &str {
    path.0
        .iter()
        .rev()
        .find_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
        .unwrap_or("value")
}

/// A number for messages: as written for ordinary magnitudes, in exponent form beyond them (so
/// 1e300 does not print as 301 digits).
fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a.is_finite() && a != 0.0 && !(1e-4..1e15).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Checks `v` against `bound`; `help` says what the figure is.
fn num(v: f64, path: &P, bound: Bound, help: &str) -> R<f64> {
    if bound.holds(v) {
        Ok(v)
    } else {
        Err(path.value(
            format!("must be {}, found {}", bound.text(), fmt_num(v)),
            format!("{help}; the range is {}", bound.text()),
        ))
    }
}

/// A duration given as a float in some unit, which must not round to zero seconds.
fn duration(v: f64, path: &P, bound: Bound, secs_per_unit: f64, help: &str) -> R<SimDuration> {
    let v = num(v, path, bound, help)?;
    let d = SimDuration::from_secs_f64(v * secs_per_unit);
    if d.as_secs() == 0 && v > 0.0 {
        return Err(path.value(
            format!("{v} is shorter than one second, the resolution of simulated time"),
            help,
        ));
    }
    Ok(d)
}

/// A drawn value of the figure at `path`, checked against its range and converted: a duration
/// drawn shorter than the one-second resolution of simulated time is taken as one second (the
/// support check cannot exclude it for a lognormal, and it is no mistake of the file).
fn drawn_value(v: f64, path: &P, bound: Bound, conversion: Conversion, help: &str) -> R<Value> {
    let v = num(v, path, bound, help)?;
    Ok(match conversion {
        Conversion::Number => Value::Number(v),
        Conversion::Duration(secs_per_unit) => {
            let d = SimDuration::from_secs_f64(v * secs_per_unit);
            Value::Duration(if v > 0.0 { d.max(SimDuration(1)) } else { d })
        }
    })
}

/// A value drawn for the uncertain figure `slot`, checked against its range and converted (see
/// [`drawn_value`]). Loading checked that every value the distribution can draw is in range, so
/// this fails only on a bug.
pub(crate) fn drawn(v: f64, slot: &Slot) -> R<Value> {
    drawn_value(
        v,
        &P(slot.path.clone()),
        slot.bound,
        slot.conversion,
        &slot.help,
    )
    .map_err(|mut issue| {
        issue.message = format!("drawn value out of range: {}", issue.message);
        issue
    })
}

const ISO_HELP: &str = "use a two-letter upper-case ISO 3166 country code, e.g. CN, US, SG, MY, AE";

/// An ISO 3166 alpha-2 code: two upper-case ASCII letters. Rules compare these codes with `==`, so
/// `cn` for `CN` would silently never match.
fn iso(code: &str, path: &P) -> R<String> {
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Ok(code.to_string());
    }
    let upper = code.to_ascii_uppercase();
    let hint = if upper.len() == 2 && upper.bytes().all(|b| b.is_ascii_uppercase()) {
        format!("; did you mean '{upper}'?")
    } else {
        String::new()
    };
    Err(path.value(
        format!("'{code}' is not a country code"),
        format!("{ISO_HELP}{hint}"),
    ))
}

fn non_empty(s: &str, path: &P, what: &str) -> R<()> {
    if s.trim().is_empty() {
        Err(path.value(
            format!("{what} must not be empty"),
            format!("give a {what}"),
        ))
    } else {
        Ok(())
    }
}

/// A name that reports, charts and references use.
fn entry_name(name: &str, path: &P, what: &str) -> R<()> {
    if name.trim().is_empty() {
        Err(path.value(
            format!("{what} name must not be empty"),
            format!("give the {what} a short name such as `h100` or `johor-1`"),
        ))
    } else if name.chars().count() > MAX_NAME_CHARS {
        Err(path.value(
            format!(
                "{what} name is {} characters long, more than the limit of {MAX_NAME_CHARS}",
                name.chars().count()
            ),
            format!(
                "give the {what} a name of at most {MAX_NAME_CHARS} characters, such as `h100` \
                 or `johor-1` (reports and charts show it)"
            ),
        ))
    } else {
        Ok(())
    }
}

/// The longest name of a chip, site, firm, workload or policy, and of the scenario (`name`).
pub const MAX_NAME_CHARS: usize = 200;

/// The longest horizon a scenario may ask for, in days (50 years).
pub const MAX_HORIZON_DAYS: i64 = 18_263;

/// The most (sites + firms) x days of horizon: the rows of a run reported by day.
pub const MAX_ENTITY_DAYS: i64 = 2_000_000;

/// The most chips one count may give (`initial_chips`, a delivery, `gang_chips`): more than any
/// site holds, few enough that every total stays exact.
pub const MAX_CHIPS: u64 = 100_000_000;

/// A chip count of at most [`MAX_CHIPS`].
fn chip_count(n: u64, path: &P, help: &str) -> R<u64> {
    if n > MAX_CHIPS {
        return Err(path.value(
            format!("{n} chips is more than the limit of {MAX_CHIPS}"),
            format!("{help}; at most {MAX_CHIPS}"),
        ));
    }
    Ok(n)
}

/// The most dates an `arrivals.dates` list may give (and the most deliveries of a site).
pub const MAX_LISTED_DATES: usize = 10_000;

/// The most batch jobs all workloads together may send over the horizon in one replication,
/// counted at the shortest gap a replication can draw: every job is kept to the end (`jobs.csv`),
/// so a million jobs is seconds of simulation and a few hundred MB. (A job every 0.01 days over 50
/// years would be 1.8 million per workload.)
pub const MAX_JOBS: f64 = 1_000_000.0;

/// Adds `jobs`, the arrivals of the workload whose arrivals are at `path`, to the scenario's count,
/// refusing a count over [`MAX_JOBS`].
fn count_jobs(cx: &Cx, path: &P, jobs: f64, days: i64) -> R<()> {
    // A stand-in for a refused figure (see [`Cx::defer`]) may be the shortest gap there is: count
    // only figures as written.
    if !cx.deferred.borrow().is_empty() {
        return Ok(());
    }
    let total = cx.jobs.get() + jobs;
    cx.jobs.set(total);
    if total > MAX_JOBS {
        let others = total - jobs;
        return Err(path.value(
            format!(
                "about {jobs:.0} jobs over the workload's {days} days{}, more than the limit of \
                 {MAX_JOBS:.0} batch jobs per replication",
                if others > 0.0 {
                    format!(" (with the workloads before it, {total:.0})")
                } else {
                    String::new()
                }
            ),
            format!(
                "capsim keeps every job of a replication to the end (jobs.csv), at most \
                 {MAX_JOBS:.0}: space the arrivals further apart (counted at the shortest gap a \
                 distribution can draw), shorten the workload's start_date..end_date, or send fewer, \
                 larger jobs"
            ),
        ));
    }
    Ok(())
}

/// The smallest value a figure can take. Shapes must have passed validation.
fn lower(q: &RawQuantity) -> f64 {
    match q {
        RawQuantity::Fixed(v) => *v,
        RawQuantity::LogNormal(l) => {
            let sigma = (l.p95 / l.median).ln() / Z95;
            (l.median.ln() - LOGNORMAL_REACH * sigma).exp()
        }
        RawQuantity::Uniform(v) | RawQuantity::Triangular(v) => v.first().copied().unwrap_or(0.0),
    }
}

/// Sorted names for help texts.
fn sorted<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = names.map(str::to_string).collect();
    v.sort();
    v
}

/// The horizon and date conversions, and how figures given as distributions resolve.
struct Cx<'a> {
    start: NaiveDate,
    end: NaiveDate,
    horizon: SimTime,
    mode: Mode,
    /// A path as shown in messages and provenance (`policy.lease-ban.grace_days`).
    display: &'a dyn Fn(&[Seg]) -> String,
    /// The uncertain figures met so far, in validation order.
    inputs: RefCell<Vec<UncertainInput>>,
    /// Where each of them lands in the world.
    slots: RefCell<Vec<Slot>>,
    /// The entity being validated, whose figures these are.
    owner: Cell<Option<Owner>>,
    /// Batch jobs the workloads validated so far may send over the horizon (see [`MAX_JOBS`]).
    jobs: Cell<f64>,
    /// Figures refused so far whose entry was checked on with a value in range in their place
    /// (see [`Cx::defer`]): reported with every other error, never loaded.
    deferred: RefCell<Vec<Issue>>,
    /// In [`Mode::Sample`], the values drawn for them.
    #[cfg(test)]
    draws: RefCell<Vec<(String, f64)>>,
}

impl Cx<'_> {
    /// Resolves a figure before its range check. A number is returned as written (the caller's check
    /// reports it). A distribution must be well-formed and its whole support must lie in `bound`;
    /// it is recorded as an uncertain input and resolves to its nominal value, or in
    /// [`Mode::Sample`] to one draw from its own stream. The flag says whether the value was drawn.
    fn value(
        &self,
        q: &RawQuantity,
        path: &P,
        bound: Bound,
        help: &str,
        conversion: Conversion,
    ) -> R<(f64, bool)> {
        let form = match q {
            RawQuantity::Fixed(v) => return Ok((*v, false)),
            RawQuantity::LogNormal(_) => "lognormal",
            RawQuantity::Uniform(_) => "uniform",
            RawQuantity::Triangular(_) => "triangular",
        };
        let key = last_key(path);
        let misfit = |message: String| {
            let (lo, mode, hi) = example(key, bound);
            path.k(form).value(
                message,
                format!(
                    "{key} takes {}; e.g. {key} = {{ triangular = [{lo}, {mode}, {hi}] }} ({help})",
                    bound.forms()
                ),
            )
        };
        // A lognormal on a bounded figure is wrong whatever its parameters: say so before any
        // complaint about them.
        if let (RawQuantity::LogNormal(_), Some(m)) = (q, lognormal_misfit(bound, key)) {
            return Err(misfit(m));
        }
        let quantity = quantity(path, q, &Examples::of(key, bound))?;
        support_fits(&quantity, bound, key).map_err(misfit)?;
        let shown = (self.display)(&path.0);
        let nominal = nominal(&quantity);
        let figure = self
            .owner
            .get()
            .and_then(|owner| Figure::of(owner, key))
            .ok_or_else(|| {
                path.value(
                    format!("internal error: no place in the world for the figure '{key}'"),
                    "this is a bug in capsim; please report it with the scenario",
                )
            })?;
        self.slots.borrow_mut().push(Slot {
            figure,
            path: path.0.clone(),
            bound,
            conversion,
            help: help.to_string(),
            followers: Vec::new(),
        });
        let (v, drawn) = match self.mode {
            Mode::Nominal => (nominal, false),
            #[cfg(test)]
            Mode::Sample { seed, replication } => {
                let mut g = rng::stream_by_key(seed, replication, input_key(&shown));
                let v = quantity.sample(&mut g);
                self.draws.borrow_mut().push((shown.clone(), v));
                (v, true)
            }
        };
        self.inputs.borrow_mut().push(UncertainInput {
            path: shown,
            quantity,
            nominal,
        });
        Ok((v, drawn))
    }

    /// `r`, or, when it is refused and the world is the nominal one, `stand_in` after recording
    /// the refusal: a figure out of its range, or a distribution that does not fit it, is one
    /// mistake in its entry, and the rest of the entry (and of the file) is checked on, so that
    /// `capsim validate` reports every such mistake at once rather than the first. The stand-in
    /// (the nearest value in range) only lets the checking go on; a recorded refusal fails the
    /// load.
    fn defer<T>(&self, r: R<T>, stand_in: impl FnOnce() -> T) -> R<T> {
        match r {
            Ok(v) => Ok(v),
            Err(issue) if self.mode == Mode::Nominal => {
                self.deferred.borrow_mut().push(issue);
                Ok(stand_in())
            }
            Err(issue) => Err(issue),
        }
    }

    /// The stand-in for a refused figure `q` (see [`Cx::defer`]): the number written, brought
    /// into range, or a typical value for a distribution.
    fn stand_in(q: &RawQuantity, path: &P, bound: Bound) -> f64 {
        match q {
            RawQuantity::Fixed(v) => bound.clamp(*v),
            _ => bound.clamp(example(last_key(path), bound).1),
        }
    }

    /// A country code (see [`iso`]), refused codes deferred (see [`Cx::defer`]) with the code
    /// upper-cased standing in.
    fn iso(&self, code: &str, path: &P) -> R<String> {
        self.defer(iso(code, path), || {
            let up = code.to_ascii_uppercase();
            if up.len() == 2 && up.bytes().all(|b| b.is_ascii_uppercase()) {
                up
            } else {
                "ZZ".to_string()
            }
        })
    }

    /// A figure resolved by [`Cx::value`] and checked against `bound`.
    fn num(&self, q: &RawQuantity, path: &P, bound: Bound, help: &str) -> R<f64> {
        let r = self
            .value(q, path, bound, help, Conversion::Number)
            .and_then(|(v, _)| num(v, path, bound, help));
        self.defer(r, || Self::stand_in(q, path, bound))
    }

    /// A duration resolved by [`Cx::value`]. A draw shorter than the one-second resolution of
    /// simulated time is taken as one second (the support check cannot exclude it for a lognormal,
    /// and it is no mistake of the file); a number or nominal value that short is refused.
    fn duration(
        &self,
        q: &RawQuantity,
        path: &P,
        bound: Bound,
        secs_per_unit: f64,
        help: &str,
    ) -> R<SimDuration> {
        let conversion = Conversion::Duration(secs_per_unit);
        let r = self
            .value(q, path, bound, help, conversion)
            .and_then(|(v, drawn)| {
                if drawn {
                    return match drawn_value(v, path, bound, conversion, help)? {
                        Value::Duration(d) => Ok(d),
                        Value::Number(_) => Err(path.value(
                            "internal error: a duration converted to a number",
                            "this is a bug in capsim; please report it with the scenario",
                        )),
                    };
                }
                duration(v, path, bound, secs_per_unit, help)
            });
        self.defer(r, || {
            let v = Self::stand_in(q, path, bound);
            SimDuration::from_secs_f64(v * secs_per_unit).max(SimDuration(1))
        })
    }

    fn time(&self, d: NaiveDate) -> SimTime {
        date_to_time(self.start, d)
    }

    /// 00:00 on the day after `d`, at most the end of the horizon: where an interval whose last
    /// day is `d` ends (every end date of a scenario is inclusive).
    fn day_after(&self, d: NaiveDate) -> SimTime {
        d.succ_opt()
            .map_or(self.horizon, |next| self.time(next))
            .min(self.horizon)
    }

    /// A date that must lie inside `[start_date, end_date]`.
    fn inside(&self, d: RawDate, path: &P) -> R<SimTime> {
        let d = d.0;
        if d < self.start || d > self.end {
            return Err(path.value(
                format!("{d} is outside the horizon {} to {}", self.start, self.end),
                "move the date inside the horizon, or widen start_date / end_date",
            ));
        }
        Ok(self.time(d))
    }
}

/// `errors` and the figures refused on the way (see [`Cx::defer`]).
fn with_deferred(mut errors: Vec<Issue>, cx: &Cx) -> Vec<Issue> {
    errors.extend(cx.deferred.take());
    errors
}

/// Validates `raw` into a world; `mode` says how figures given as distributions resolve, `display`
/// turns a path into the text that names it (the locator's, so input paths match error paths).
/// `r`'s value, or None with its issue added to `errors`.
fn keep<T>(r: R<T>, errors: &mut Vec<Issue>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

pub(crate) fn validate(
    raw: &RawScenario,
    mode: Mode,
    display: &dyn Fn(&[Seg]) -> String,
) -> Result<Validated, Vec<Issue>> {
    run_name(&raw.name).map_err(|e| vec![e])?;
    let start = raw.start_date.0;
    let end = raw.end_date.0;
    if end < start {
        return Err(vec![P::root("end_date").value(
            format!("end_date {end} is before start_date {start}"),
            "the horizon runs from start_date to end_date (inclusive); make end_date no earlier \
             than start_date",
        )]);
    }
    let span = (end - start).num_days().saturating_add(1);
    if span > MAX_HORIZON_DAYS {
        return Err(vec![P::root("end_date").value(
            format!(
                "the horizon {start} to {end} is {span} days, more than the limit of \
                 {MAX_HORIZON_DAYS} days (50 years)"
            ),
            format!(
                "capsim simulates at most {MAX_HORIZON_DAYS} days (50 years): move start_date or \
                 end_date closer"
            ),
        )]);
    }
    let entities = raw.sites.0.len().saturating_add(raw.firms.0.len()) as i64;
    if span.saturating_mul(entities) > MAX_ENTITY_DAYS {
        return Err(vec![P::root("end_date").value(
            format!(
                "{entities} sites and firms over {span} days make {} rows of daily output, more \
                 than the limit of {MAX_ENTITY_DAYS}",
                span.saturating_mul(entities)
            ),
            format!(
                "(sites + firms) x days in the horizon may be at most {MAX_ENTITY_DAYS}, so that a \
                 run reported by day stays within memory: shorten the horizon or split the world"
            ),
        )]);
    }
    let days = (end - start).num_days().saturating_add(1).max(1) as u64;
    let cx = Cx {
        start,
        end,
        horizon: SimTime(days.saturating_mul(SECS_PER_DAY)),
        mode,
        display,
        inputs: RefCell::new(Vec::new()),
        slots: RefCell::new(Vec::new()),
        owner: Cell::new(None),
        jobs: Cell::new(0.0),
        deferred: RefCell::new(Vec::new()),
        #[cfg(test)]
        draws: RefCell::new(Vec::new()),
    };
    let mut prov = Vec::new();

    // Every entry of a kind is checked, and every error in them reported, before the next kind
    // (which refers to them) is: chips, markets, sites, firms, policies, sources.
    let mut errors: Vec<Issue> = Vec::new();
    let mut chips = Vec::with_capacity(raw.chips.0.len());
    for (i, (name, c)) in raw.chips.0.iter().enumerate() {
        cx.owner.set(Some(Owner::Chip(i)));
        chips.extend(keep(chip(&cx, name, c, &mut prov), &mut errors));
    }
    if !errors.is_empty() {
        return Err(with_deferred(errors, &cx));
    }
    let firm_names: Vec<&str> = raw.firms.0.iter().map(|(n, _)| n.as_str()).collect();
    cx.owner.set(None);
    let mut markets = Vec::with_capacity(raw.markets.0.len());
    for (name, m) in &raw.markets.0 {
        markets.extend(keep(market(&cx, name, m, &mut prov), &mut errors));
    }
    if !errors.is_empty() {
        return Err(with_deferred(errors, &cx));
    }
    let site_names: Vec<&str> = raw.sites.0.iter().map(|(n, _)| n.as_str()).collect();
    // Firms whose planning orders domestic chips: a site one of them owns may have a supply of 0
    // (its chips are only what its owner orders from national output), and only these may an
    // output_allocation rule list. Read from the raw firms, since sites are checked before firms
    // (a firm that passes validation keeps its raw order_share).
    let ordering: Vec<&str> = raw
        .firms
        .0
        .iter()
        .filter(|(_, f)| {
            f.planning
                .as_ref()
                .is_some_and(|p| p.order_share.as_ref().is_some_and(|q| upper(q) > 0.0))
        })
        .map(|(n, _)| n.as_str())
        .collect();
    let mut sites = Vec::with_capacity(raw.sites.0.len());
    for (i, (name, s)) in raw.sites.0.iter().enumerate() {
        cx.owner.set(Some(Owner::Site(i)));
        let s = site(
            &cx,
            name,
            s,
            &chips,
            &firm_names,
            &ordering,
            &site_names,
            &markets,
            &mut prov,
        );
        sites.extend(keep(s, &mut errors));
    }
    if !errors.is_empty() {
        return Err(with_deferred(errors, &cx));
    }
    let mut firms: Vec<Firm> = Vec::with_capacity(raw.firms.0.len());
    // Each firm's demand share, as `demand` reads it, and the share it has in this world.
    let mut shares: Vec<(Share, f64)> = Vec::new();
    for (i, (name, f)) in raw.firms.0.iter().enumerate() {
        cx.owner.set(None);
        let Some(firm) = keep(firm(&cx, i, name, f, &sites, &mut prov), &mut errors) else {
            continue;
        };
        if let Some(d) = &f.demand {
            cx.owner.set(Some(Owner::Firm(i)));
            let share = keep(demand(&cx, i, name, &firm, d, &mut prov), &mut errors);
            cx.owner.set(None);
            shares.extend(share);
        }
        firms.push(firm);
    }
    if !errors.is_empty() {
        return Err(with_deferred(errors, &cx));
    }
    let splits = splits(&shares).map_err(|e| with_deferred(e, &cx))?;
    split_demand(&mut firms, &splits, |f| {
        shares
            .iter()
            .find(|(s, _)| s.member.firm == f)
            .map_or(0.0, |&(_, v)| v)
    });
    // A stand-in figure could make plans that fit look as if they do not: check them only on the
    // figures as written.
    if cx.deferred.borrow().is_empty() {
        // Sites whose supply can be nothing but 0 (on what it can be, as in `site`).
        let zero_supply: Vec<bool> = raw
            .sites
            .0
            .iter()
            .map(|(_, s)| {
                s.supply
                    .as_ref()
                    .is_some_and(|sp| upper(&sp.chips_per_year) <= 0.0)
            })
            .collect();
        planning_fits(&firms, &sites, &ordering, &zero_supply).map_err(|e| vec![e])?;
    }
    let mut policies = Vec::with_capacity(raw.policy.len());
    let mut policy_dates = Vec::with_capacity(raw.policy.len());
    let mut seen = BTreeSet::new();
    for (i, p) in raw.policy.iter().enumerate() {
        let path = P::root("policy").i(i);
        if p.enabled == Some(false) {
            // Switched off, but written out in full (the merge drops a bare `enabled = false` that
            // only switches off a base policy): checked like any other, so that a mistake in it is
            // found now rather than on the day someone switches it on; what checking it records
            // (uncertain inputs, provenance) is dropped with it.
            let (inputs, slots) = (cx.inputs.borrow().len(), cx.slots.borrow().len());
            cx.owner.set(Some(Owner::Policy(policies.len())));
            keep(
                policy(
                    &cx,
                    &path,
                    p,
                    &chips,
                    &firm_names,
                    &ordering,
                    &mut Vec::new(),
                ),
                &mut errors,
            );
            cx.inputs.borrow_mut().truncate(inputs);
            cx.slots.borrow_mut().truncate(slots);
            #[cfg(test)]
            cx.draws.borrow_mut().truncate(inputs);
            continue;
        }
        if !seen.insert(p.name.as_str()) {
            errors.push(path.k("name").value(
                format!("duplicate policy name '{}'", p.name),
                "policy names must be unique; rename one of them",
            ));
            continue;
        }
        cx.owner.set(Some(Owner::Policy(policies.len())));
        let Some(rule) = keep(
            policy(&cx, &path, p, &chips, &firm_names, &ordering, &mut prov),
            &mut errors,
        ) else {
            continue;
        };
        policies.push(rule);
        policy_dates.push(super::PolicyDates {
            from: p.from.0,
            until: p.until.and_then(|u| u.0.succ_opt()),
            last_day: p.until.map(|u| u.0),
        });
    }
    cx.owner.set(None);
    for (p, text) in &raw.sources.0 {
        if let Err(e) = source_path(p, raw) {
            errors.push(e);
            continue;
        }
        prov.push(Provenance {
            path: p.clone(),
            source: text.clone(),
        });
    }

    let errors = with_deferred(errors, &cx);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Validated {
        name: raw.name.clone(),
        description: raw.description.clone(),
        seed: raw.seed,
        start_date: start,
        end_date: end,
        world: model::World {
            horizon: cx.horizon,
            chips,
            sites,
            firms,
            markets,
            timeline: Timeline { policies },
        },
        provenance: prov,
        policy_dates,
        inputs: cx.inputs.into_inner(),
        slots: cx.slots.into_inner(),
        splits,
        #[cfg(test)]
        draws: cx.draws.into_inner(),
    })
}

/// A firm's `[firms.<name>.demand]`, read.
struct Share {
    group: String,
    /// The firm's name.
    name: String,
    member: Member,
    /// Where `written_at` is (the group's errors are located there).
    path: P,
}

/// `[firms.<name>.demand]`: the firm's share of the demand path of its group, and the share it has
/// in this world (nominal, or drawn).
fn demand(
    cx: &Cx,
    index: usize,
    name: &str,
    firm: &Firm,
    d: &RawDemand,
    prov: &mut Vec<Provenance>,
) -> R<(Share, f64)> {
    let path = P::root("firms").k(name).k("demand");
    if d.group.trim().is_empty() {
        return Err(path.k("group").value(
            "the demand group's name is empty",
            "name the demand path the firm splits with others, the same in each of them, e.g. \
             group = \"rest\"",
        ));
    }
    let written: Vec<(usize, f64)> = firm
        .workloads
        .iter()
        .enumerate()
        .filter_map(|(w, wl)| match &wl.kind {
            WorkloadKind::Inference(i) => Some((w, i.tokens_per_day)),
            WorkloadKind::Batch(_) => None,
        })
        .collect();
    if written.is_empty() {
        return Err(path.key(
            format!("firm '{name}' has a demand share but no inference workload for it to scale"),
            "a demand share scales the firm's inference segments: add them, or remove demand",
        ));
    }
    let wpath = path.k("written_at");
    let written_at = num(
        d.written_at,
        &wpath,
        range(0.0, 1.0),
        "the share of the group's path the firm's inference segments are written at (above 0, \
         up to 1; the group's sum to 1)",
    )?;
    if written_at <= 0.0 {
        return Err(wpath.value(
            "written_at is 0",
            "the firm's inference segments are its written_at of the group's path: give the share \
             they are written at, above 0, or remove demand",
        ));
    }
    let share_path = path.k("share");
    let v = cx.num(
        &d.share,
        &share_path,
        range(0.0, 1.0),
        "the firm's share of its group's demand path (0 to 1): each replication scales its \
         inference segments by share / written_at, renormalised over the group",
    )?;
    // As `nominal` takes it (the share passed `cx.num`, so its shape is sound).
    let nominal = match &d.share {
        RawQuantity::Fixed(v) => *v,
        RawQuantity::Triangular(v) => v.get(1).copied().unwrap_or(0.0),
        RawQuantity::Uniform(v) => {
            let (low, high) = (v.first().copied(), v.last().copied());
            let (low, high) = (low.unwrap_or(0.0), high.unwrap_or(0.0));
            low + (high - low) / 2.0
        }
        RawQuantity::LogNormal(l) => l.median,
    };
    sources(
        &format!("firms.{}.demand", fmt_key(name)),
        &d.source,
        raw::DEMAND_KEYS,
        &path,
        prov,
    )?;
    let member = Member {
        firm: index,
        written_at,
        nominal,
        written,
    };
    Ok((
        Share {
            group: d.group.clone(),
            name: name.to_string(),
            member,
            path: wpath,
        },
        v,
    ))
}

/// The groups of firms that split a demand path, in the order of their first firm: each of at
/// least two firms, whose `written_at` sum to 1. Every group that does not hold is reported.
fn splits(shares: &[(Share, f64)]) -> Result<Vec<Split>, Vec<Issue>> {
    let mut out: Vec<(Split, Vec<(&str, &P)>)> = Vec::new();
    for (share, _) in shares {
        let name = share.name.as_str();
        match out.iter_mut().find(|(s, _)| s.group == share.group) {
            Some((s, at)) => {
                s.members.push(share.member.clone());
                at.push((name, &share.path));
            }
            None => out.push((
                Split {
                    group: share.group.clone(),
                    members: vec![share.member.clone()],
                },
                vec![(name, &share.path)],
            )),
        }
    }
    let groups: Vec<&str> = out.iter().map(|(s, _)| s.group.as_str()).collect();
    let mut errors = Vec::new();
    for (s, at) in &out {
        let Some(&(_, last)) = at.last() else {
            continue;
        };
        if s.members.len() < 2 {
            let others: Vec<&str> = groups.iter().copied().filter(|&g| g != s.group).collect();
            errors.push(last.value(
                format!(
                    "the demand group '{}' has only one firm{}",
                    s.group,
                    did_you_mean(&s.group, &others)
                ),
                "a group is the firms that split one demand path, so its shares can move only \
                 between two or more: give another firm the same group, or remove demand",
            ));
            continue;
        }
        let sum: f64 = s.members.iter().map(|m| m.written_at).sum();
        let off = (sum - 1.0).abs();
        if off.is_nan() || off > 1e-6 {
            let each: Vec<String> = at
                .iter()
                .zip(&s.members)
                .map(|((name, _), m)| format!("{name} {}", fmt_num(m.written_at)))
                .collect();
            errors.push(last.value(
                format!(
                    "the written_at of demand group '{}' sum to {}, not 1 ({})",
                    s.group,
                    fmt_num((sum * 1e9).round() / 1e9),
                    each.join(", ")
                ),
                "the firms of a group split one path: each firm's inference segments are written \
                 at its share of it, so these shares sum to 1",
            ));
        }
    }
    if errors.is_empty() {
        Ok(out.into_iter().map(|(s, _)| s).collect())
    } else {
        Err(errors)
    }
}

/// The run name becomes a folder under `output/`: keep it to a safe alphabet.
fn run_name(name: &str) -> R<()> {
    let path = P::root("name");
    let bad = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
    let reason = if name.is_empty() {
        Some("it is empty".to_string())
    } else if name.len() > MAX_NAME_CHARS {
        Some(format!(
            "it is {} characters long, more than the limit of {MAX_NAME_CHARS}",
            name.len()
        ))
    } else if let Some(c) = bad {
        Some(format!("{c:?} is not allowed"))
    } else if name == "." || name == ".." {
        Some("it names a folder above the output".to_string())
    } else if name.starts_with('.') {
        Some("it starts with '.', as capsim's temporary folders do".to_string())
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(r) => Err(path.value(
            format!("invalid run name '{name}': {r}"),
            format!(
                "use letters, digits, '-', '_' and '.' (not first) only, at most \
                 {MAX_NAME_CHARS} of them (output goes to output/<name>/), e.g. name = \
                 \"lease-ban-2026\""
            ),
        )),
    }
}

/// Collects a table's `source` into provenance under `base` (the table's displayed path).
fn sources(
    base: &str,
    src: &Option<RawSource>,
    allowed: &[&str],
    path: &P,
    prov: &mut Vec<Provenance>,
) -> R<Option<String>> {
    match src {
        None => Ok(None),
        Some(RawSource::Whole(s)) => {
            prov.push(Provenance {
                path: base.to_string(),
                source: s.clone(),
            });
            Ok(Some(s.clone()))
        }
        Some(RawSource::Fields(Named(fields))) => {
            let mut joined = Vec::new();
            for (field, text) in fields {
                let head = field.split('.').next().unwrap_or("");
                if head == "source" || !allowed.contains(&head) {
                    let mut names: Vec<&str> =
                        allowed.iter().copied().filter(|k| *k != "source").collect();
                    names.sort_unstable();
                    return Err(path.k("source").k(field).key(
                        format!("'{field}' is not a field of this table"),
                        format!(
                            "source keys name fields of the table: {}{}",
                            names.join(", "),
                            did_you_mean(field, &names)
                        ),
                    ));
                }
                prov.push(Provenance {
                    path: format!("{base}.{field}"),
                    source: text.clone(),
                });
                joined.push(format!("{field}: {text}"));
            }
            Ok(Some(joined.join("; ")))
        }
    }
}

fn chip(cx: &Cx, name: &str, c: &RawChip, prov: &mut Vec<Provenance>) -> R<Chip> {
    let path = P::root("chips").k(name);
    entry_name(name, &path, "chip")?;
    non_empty(&c.vendor, &path.k("vendor"), "vendor")?;
    let vendor_country = cx.iso(&c.vendor_country, &path.k("vendor_country"))?;
    let chip = Chip {
        name: name.to_string(),
        vendor: c.vendor.clone(),
        vendor_country,
        bf16_dense_tflops: cx.num(
            &c.bf16_dense_tflops,
            &path.k("bf16_dense_tflops"),
            range(1.0, 1e6),
            "dense BF16 peak from the datasheet, in TFLOP/s (e.g. 989 for an H100 SXM)",
        )?,
        memory_gb: cx.num(
            &c.memory_gb,
            &path.k("memory_gb"),
            range(0.0, 1e6),
            "accelerator memory in GB",
        )?,
        board_power_w: cx.num(
            &c.board_power_w,
            &path.k("board_power_w"),
            range(1.0, 1e5),
            "board power (TDP) in watts",
        )?,
        all_in_power_w: cx.num(
            &c.all_in_power_w,
            &path.k("all_in_power_w"),
            range(1.0, 1e5),
            "IT power per chip in watts, host and network share included, before PUE",
        )?,
        training_mfu: cx.num(
            &c.training_mfu,
            &path.k("training_mfu"),
            range(0.01, 1.0),
            "model-FLOPs utilisation is a fraction of peak: 0.40 means 40%",
        )?,
        inference_tokens_per_s: cx.num(
            &c.inference_tokens_per_s,
            &path.k("inference_tokens_per_s"),
            zero_or(1.0, 1e9),
            "decode tokens per second per chip on the reference model",
        )?,
        purchase_usd: cx.num(
            &c.purchase_usd,
            &path.k("purchase_usd"),
            range(0.0, 1e9),
            "purchase price per chip in USD",
        )?,
        lease_usd_per_chip_hour: cx.num(
            &c.lease_usd_per_chip_hour,
            &path.k("lease_usd_per_chip_hour"),
            range(0.0, 1e4),
            "typical lease price in USD per chip-hour",
        )?,
        idle_power_fraction: match &c.idle_power_fraction {
            Some(q) => cx.num(
                q,
                &path.k("idle_power_fraction"),
                Bound::Fraction,
                "what an idle chip draws as a fraction of its all-in power (e.g. 0.3); leave it \
                 out for no idle draw",
            )?,
            None => 0.0,
        },
    };
    let base = format!("chips.{}", fmt_key(name));
    sources(&base, &c.source, raw::CHIP_KEYS, &path, prov)?;
    Ok(chip)
}

/// Resolves a chip name, or says which exist.
fn chip_ref(name: &str, chips: &[Chip], path: &P) -> R<ChipId> {
    if let Some(i) = chips.iter().position(|c| c.name == name) {
        return Ok(ChipId(i as u32));
    }
    let known = sorted(chips.iter().map(|c| c.name.as_str()));
    Err(path.value(
        format!("unknown chip '{name}'"),
        format!(
            "known chips: {}{} (define it under [chips.{}] or fix the name)",
            list_or_none(&known),
            did_you_mean(name, &known),
            fmt_key(name)
        ),
    ))
}

#[allow(clippy::too_many_arguments)]
fn site(
    cx: &Cx,
    name: &str,
    s: &RawSite,
    chips: &[Chip],
    firms: &[&str],
    ordering: &[&str],
    site_names: &[&str],
    markets: &[Market],
    prov: &mut Vec<Provenance>,
) -> R<Site> {
    let path = P::root("sites").k(name);
    entry_name(name, &path, "site")?;
    let jurisdiction = cx.iso(&s.jurisdiction, &path.k("jurisdiction"))?;
    let chip_id = chip_ref(&s.chip, chips, &path.k("chip"))?;
    let chip = chips.get(chip_id.0 as usize);

    // Fields that belong to one kind of pricing only.
    let only = |key: &str, present: bool, kinds: &str, fix: &str| -> R<()> {
        if present {
            Err(path.k(key).key(
                format!("{key} applies only to {kinds}"),
                format!("remove it, or set {fix}"),
            ))
        } else {
            Ok(())
        }
    };
    let lease_like = matches!(s.pricing, RawPricing::Lease | RawPricing::Contract);
    only(
        "amortisation_years",
        s.amortisation_years.is_some() && s.pricing != RawPricing::Owned,
        "owned sites",
        "pricing = \"owned\"",
    )?;
    only(
        "owner",
        s.owner.is_some() && s.pricing != RawPricing::Owned,
        "owned sites",
        "pricing = \"owned\"",
    )?;
    only(
        "lease_usd_per_chip_hour",
        s.lease_usd_per_chip_hour.is_some() && !lease_like,
        "leased and contracted sites",
        "pricing = \"lease\" or \"contract\"",
    )?;
    only(
        "lease_prices",
        s.lease_prices.is_some() && !lease_like,
        "leased and contracted sites",
        "pricing = \"lease\" or \"contract\"",
    )?;
    only(
        "on_demand_premium",
        s.on_demand_premium.is_some() && s.pricing != RawPricing::Lease,
        "on-demand leased sites",
        "pricing = \"lease\"",
    )?;
    for (key, present) in [
        ("tenant", s.tenant.is_some()),
        ("term_years", s.term_years.is_some()),
        ("market", s.market.is_some()),
        ("reserves", s.reserves.is_some()),
        ("reserve_share", s.reserve_share.is_some()),
        ("reserve_markup", s.reserve_markup.is_some()),
    ] {
        only(
            key,
            present && s.pricing != RawPricing::Contract,
            "contracted sites",
            "pricing = \"contract\"",
        )?;
    }
    let firm_ref = |key: &str, firm: &str| -> R<FirmId> {
        match firms.iter().position(|f| *f == firm) {
            Some(i) => Ok(FirmId(i as u32)),
            None => {
                let known = sorted(firms.iter().copied());
                Err(path.k(key).value(
                    format!("unknown firm '{firm}'"),
                    format!(
                        "known firms: {}{} (define it under [firms.{}] or fix the name)",
                        list_or_none(&known),
                        did_you_mean(firm, &known),
                        fmt_key(firm)
                    ),
                ))
            }
        }
    };
    // The lease index before the first dated price: the site's own, else the chip's.
    let base_lease = |cx: &Cx| -> R<f64> {
        Ok(match &s.lease_usd_per_chip_hour {
            Some(p) => cx.num(
                p,
                &path.k("lease_usd_per_chip_hour"),
                range(0.0, 1e4),
                "lease price at this site in USD per chip-hour",
            )?,
            None => {
                // The chip's price: if that is uncertain, this site follows its draws.
                if let Some(Owner::Site(me)) = cx.owner.get() {
                    let lease = Figure::Chip(chip_id.0 as usize, ChipFigure::LeaseUsdPerChipHour);
                    for slot in cx.slots.borrow_mut().iter_mut() {
                        if slot.figure == lease {
                            slot.followers.push(me);
                        }
                    }
                }
                chip.map_or(0.0, |c| c.lease_usd_per_chip_hour)
            }
        })
    };
    let pricing = match s.pricing {
        RawPricing::Lease => Pricing::Lease {
            usd_per_chip_hour: base_lease(cx)?,
            on_demand_premium: match &s.on_demand_premium {
                Some(q) => cx.num(
                    q,
                    &path.k("on_demand_premium"),
                    range(0.0, 10.0),
                    "fraction above the lease index that on-demand capacity costs (0.7 = 70% \
                     more); leave it out when the price given is the on-demand price",
                )?,
                None => 0.0,
            },
        },
        RawPricing::Contract => {
            let Some(tenant) = &s.tenant else {
                return Err(path.key(
                    format!("contracted site '{name}' has no tenant"),
                    "add tenant = \"<firm>\": the firm that holds the contract",
                ));
            };
            let tenant = firm_ref("tenant", tenant)?;
            let Some(term) = &s.term_years else {
                return Err(path.key(
                    format!("contracted site '{name}' has no term_years"),
                    "add term_years = 1 (the contract's term; its price is re-set at each term's \
                     start)",
                ));
            };
            if !matches!(term, RawQuantity::Fixed(_)) {
                return Err(path.k("term_years").value(
                    "term_years must be a number, not a distribution",
                    "give the term in years, e.g. term_years = 2",
                ));
            }
            let term = cx.duration(
                term,
                &path.k("term_years"),
                range(1.0 / 365.0, 50.0),
                365.0 * SECS_PER_DAY as f64,
                "the contract's term in years (1/365 to 50)",
            )?;
            let market = match &s.market {
                None => None,
                Some(m) => {
                    let mp = path.k("market");
                    let Some(id) = markets.iter().position(|x| x.name == *m) else {
                        let known = sorted(markets.iter().map(|x| x.name.as_str()));
                        return Err(mp.value(
                            format!("unknown market '{m}'"),
                            format!(
                                "known markets: {}{} (define it under [markets.{}] or fix the \
                                 name)",
                                list_or_none(&known),
                                did_you_mean(m, &known),
                                fmt_key(m)
                            ),
                        ));
                    };
                    let market = &markets[id];
                    if market.jurisdiction != jurisdiction {
                        return Err(mp.value(
                            format!(
                                "market '{m}' is in {}, but this site is in {jurisdiction}",
                                market.jurisdiction
                            ),
                            "a site leases capacity in its own jurisdiction's market: name a \
                             market of the same jurisdiction, or fix the site's jurisdiction",
                        ));
                    }
                    if s.operator != RawOperator::Foreign {
                        return Err(mp.value(
                            "a site leased in a market must be foreign-operated",
                            "set operator = \"foreign\" (markets are capacity that foreign \
                             operators lease), or remove market",
                        ));
                    }
                    Some(MarketId(id as u32))
                }
            };
            let reserves = match &s.reserves {
                None => None,
                Some(c) => {
                    let rp = path.k("reserves");
                    if market.is_some() {
                        return Err(rp.key(
                            "a site cannot both lease in a market and reserve a domestic cloud",
                            "keep market (offshore leases) or reserves (blocks of a domestic \
                             cloud's chips), not both",
                        ));
                    }
                    let Some(id) = site_names.iter().position(|x| *x == c) else {
                        let known = sorted(site_names.iter().copied());
                        return Err(rp.value(
                            format!("unknown site '{c}'"),
                            format!(
                                "name the domestic cloud (a site with pricing = \"owned\" and no \
                                 owner) whose chips this site reserves{}",
                                did_you_mean(c, &known)
                            ),
                        ));
                    };
                    if c == name {
                        return Err(rp.value(
                            "a site cannot reserve its own chips",
                            "name the domestic cloud whose chips this site reserves",
                        ));
                    }
                    Some(SiteId(id as u32))
                }
            };
            for (key, present) in [
                ("reserve_share", s.reserve_share.is_some()),
                ("reserve_markup", s.reserve_markup.is_some()),
            ] {
                if present && reserves.is_none() {
                    return Err(path.k(key).key(
                        format!("{key} applies only to a site that reserves a domestic cloud"),
                        "remove it, or add reserves = \"<cloud site>\"",
                    ));
                }
            }
            let reserve_markup = match &s.reserve_markup {
                Some(q) => cx.num(
                    q,
                    &path.k("reserve_markup"),
                    range(0.1, 100.0),
                    "a reserved block's price as a multiple of the cloud's cost per chip-hour \
                     (capex and energy); default 1",
                )?,
                None => 1.0,
            };
            let reserve_share = match &s.reserve_share {
                Some(q) => cx.num(
                    q,
                    &path.k("reserve_share"),
                    range(0.0, 1.0),
                    "the most of the cloud's chips this site's reserved blocks may hold (0 to 1; \
                     default 0.5)",
                )?,
                None => 0.5,
            };
            Pricing::Contract {
                usd_per_chip_hour: base_lease(cx)?,
                tenant,
                term,
                market,
                reserves,
                reserve_share,
                reserve_markup,
            }
        }
        RawPricing::Owned => Pricing::Owned {
            amortisation_years: cx.num(
                s.amortisation_years
                    .as_ref()
                    .unwrap_or(&RawQuantity::Fixed(4.0)),
                &path.k("amortisation_years"),
                range(0.1, 100.0),
                "years over which the purchase price is written off (default 4)",
            )?,
            owner: match &s.owner {
                Some(o) => Some(firm_ref("owner", o)?),
                None => None,
            },
        },
    };
    let mut lease_prices = Vec::new();
    for (i, lp) in s.lease_prices.iter().flatten().enumerate() {
        let lp_path = path.k("lease_prices").i(i);
        let usd = num(
            lp.usd_per_chip_hour,
            &lp_path.k("usd_per_chip_hour"),
            range(0.0, 1e4),
            "the lease index from this date, in USD per chip-hour",
        )?;
        if i > 0 && lp.from.0 <= s.lease_prices.as_ref().expect("listed")[i - 1].from.0 {
            return Err(lp_path.k("from").value(
                format!("{} is not after the previous price's date", lp.from.0),
                "list lease prices in order of date, one per date",
            ));
        }
        // A price dated before the horizon is in force at its start (the latest such one).
        lease_prices.push(LeasePrice {
            from: cx.time(lp.from.0.max(cx.start)),
            usd_per_chip_hour: usd,
        });
    }

    chip_count(
        s.initial_chips,
        &path.k("initial_chips"),
        "chips installed at the start",
    )?;
    if let Pricing::Contract {
        reserves: Some(_), ..
    } = pricing
    {
        for (key, present) in [
            ("initial_chips", s.initial_chips > 0),
            ("supply", s.supply.is_some()),
            ("deliveries", !s.deliveries.is_empty()),
            ("procurement", s.procurement.is_some()),
            ("power_cap_mw", s.power_cap_mw.is_some()),
        ] {
            if present {
                return Err(path.k(key).key(
                    format!("{key} does not apply to a site that reserves a domestic cloud"),
                    "its chips are blocks of the cloud's chips its tenant reserves when it plans; \
                     remove it",
                ));
            }
        }
    }
    if let Pricing::Contract {
        market: Some(_), ..
    } = pricing
    {
        for (key, present) in [
            ("initial_chips", s.initial_chips > 0),
            ("supply", s.supply.is_some()),
        ] {
            if present {
                return Err(path.k(key).key(
                    format!("{key} does not apply to a site leased in a market"),
                    "its tenant signs lots there when it plans; list leases it signed in the \
                     past as deliveries (each a lot from its date), or remove market",
                ));
            }
        }
    }
    if s.deliveries.len() > MAX_LISTED_DATES {
        return Err(path.k("deliveries").value(
            format!(
                "{} deliveries listed, more than the limit of {MAX_LISTED_DATES}",
                s.deliveries.len()
            ),
            format!(
                "list at most {MAX_LISTED_DATES} deliveries, or use supply = {{ chips_per_year = ... }}"
            ),
        ));
    }
    let mut deliveries = Vec::with_capacity(s.deliveries.len());
    for (i, d) in s.deliveries.iter().enumerate() {
        chip_count(
            d.chips,
            &path.k("deliveries").i(i).k("chips"),
            "chips in one delivery",
        )?;
        let at = cx.inside(d.date, &path.k("deliveries").i(i).k("date"))?;
        deliveries.push(Delivery { at, chips: d.chips });
    }
    // Stable: same-day deliveries keep file order.
    deliveries.sort_by_key(|d| d.at);

    let supply = match &s.supply {
        None => None,
        Some(sp) => {
            let sp_path = path.k("supply");
            let chips_per_year = cx.num(
                &sp.chips_per_year,
                &sp_path.k("chips_per_year"),
                range(0.0, 1e8),
                "chips delivered per year at full rate, in monthly lots",
            )?;
            let from = match sp.from {
                Some(d) => cx.inside(d, &sp_path.k("from"))?,
                None => SimTime::ZERO,
            };
            // `until` is the last day of supply (inclusive).
            let until = match sp.until {
                Some(d) => {
                    cx.inside(d, &sp_path.k("until"))?;
                    cx.day_after(d.0)
                }
                None => cx.horizon,
            };
            if until <= from {
                return Err(sp_path.k("until").value(
                    "supply ends before it starts",
                    "until is the last day of supply (inclusive): make it no earlier than from \
                     (both default to the horizon)",
                ));
            }
            Some((
                Supply {
                    chips_per_year,
                    from,
                    until,
                },
                upper(&sp.chips_per_year),
            ))
        }
    };

    let procurement = match &s.procurement {
        None => None,
        Some(pr) => Some(procurement(
            cx,
            &path.k("procurement"),
            pr,
            &pricing,
            supply.is_some(),
        )?),
    };

    let buying = match &s.buying {
        None => None,
        Some(b) => Some(buying(
            cx,
            &path.k("buying"),
            b,
            &pricing,
            supply.is_some(),
        )?),
    };

    let delivered: u64 = deliveries
        .iter()
        .fold(0u64, |a, d| a.saturating_add(d.chips));
    // On what the supply can be (not on this replication's draw), so that every replication of a
    // valid scenario validates.
    let supplied = supply.is_some_and(|(_, most)| most > 0.0);
    let supply = supply.map(|(sp, _)| sp);
    let leased = matches!(
        pricing,
        Pricing::Contract {
            market: Some(_),
            ..
        } | Pricing::Contract {
            reserves: Some(_),
            ..
        }
    );
    // A supply of 0 at a site whose owner orders: its chips are what the owner's orders bring.
    // (That the owner lists the site is checked with the firms, in `planning_fits`.)
    let ordered = supply.is_some() && s.owner.as_deref().is_some_and(|o| ordering.contains(&o));
    if delivered == 0
        && !supplied
        && !ordered
        && s.initial_chips == 0
        && !leased
        && procurement.is_none()
    {
        return Err(path.value(
            format!("site '{name}' never receives chips"),
            "add initial_chips = 1000, deliveries = [{ date = 2025-01-01, chips = 1000 }] or \
             supply = { chips_per_year = 10000 } (or supply = { chips_per_year = 0 } with an \
             owner whose planning has order_share above 0, which orders its chips)",
        ));
    }

    let power_cap_mw = match &s.power_cap_mw {
        Some(v) => Some(cx.num(
            v,
            &path.k("power_cap_mw"),
            range(1e-3, 1e5),
            "facility power cap in MW; leave it out for no cap",
        )?),
        None => None,
    };

    let site = Site {
        name: name.to_string(),
        jurisdiction,
        operator: match s.operator {
            RawOperator::Domestic => Operator::Domestic,
            RawOperator::Foreign => Operator::Foreign,
        },
        chip: chip_id,
        pricing,
        electricity_usd_per_kwh: cx.num(
            &s.electricity_usd_per_kwh,
            &path.k("electricity_usd_per_kwh"),
            range(0.0, 100.0),
            "electricity price in USD per kWh",
        )?,
        pue: cx.num(
            &s.pue,
            &path.k("pue"),
            range(1.0, 3.0),
            "PUE is facility power over IT power: at least 1, typically 1.1 to 1.6",
        )?,
        mtbf_hours: cx.num(
            &s.mtbf_hours,
            &path.k("mtbf_hours"),
            range(1_000.0, 1e9),
            "mean time between failures of one chip, in hours (e.g. 50000)",
        )?,
        repair_hours: cx.num(
            &s.repair_hours,
            &path.k("repair_hours"),
            range(0.0, 1e5),
            "hours a failed chip is out of service",
        )?,
        power_cap_mw,
        inference_priority: s.inference_priority.unwrap_or(false),
        initial_chips: s.initial_chips,
        deliveries,
        supply,
        buying,
        procurement,
        lease_prices,
    };
    let base = format!("sites.{}", fmt_key(name));
    sources(&base, &s.source, raw::SITE_KEYS, &path, prov)?;
    Ok(site)
}

/// A domestic cloud's `buying = { from, every_days, busy_above }`.
fn buying(cx: &Cx, path: &P, b: &raw::RawBuying, pricing: &Pricing, supplied: bool) -> R<Buying> {
    if !matches!(pricing, Pricing::Owned { owner: None, .. }) {
        return Err(path.key(
            "buying applies only to a domestic cloud: an owned site with no owner",
            "remove buying: a firm's own site grows by its reviews (firms' planning), a \
             contracted or leased one by its contracts",
        ));
    }
    if !supplied {
        return Err(path.key(
            "buying needs a steady supply: it decides whether the cloud buys its lots",
            "add supply = { chips_per_year = ... }, or remove buying",
        ));
    }
    let from = match b.from {
        Some(d) => cx.inside(d, &path.k("from"))?,
        None => SimTime::ZERO,
    };
    let every = match &b.every_days {
        None => SimDuration::from_days(30),
        Some(q) => {
            if !matches!(q, RawQuantity::Fixed(_)) {
                return Err(path.k("every_days").value(
                    "every_days must be a number, not a distribution",
                    "give the days between the cloud's reviews, e.g. every_days = 30",
                ));
            }
            cx.duration(
                q,
                &path.k("every_days"),
                range(1.0, 3_650.0),
                SECS_PER_DAY as f64,
                "days between the cloud's reviews (1 to 3650), e.g. every_days = 30",
            )?
        }
    };
    let busy_above = cx.num(
        &b.busy_above,
        &path.k("busy_above"),
        Bound::Fraction,
        "the share of the time its chips must have been in use since its last review for the \
         cloud to buy until its next, e.g. busy_above = 0.5",
    )?;
    Ok(Buying {
        from,
        every,
        busy_above,
    })
}

/// A site's `procurement = { channel, chips_per_year, lead_days, ... }`.
fn procurement(
    cx: &Cx,
    path: &P,
    pr: &raw::RawProcurement,
    pricing: &Pricing,
    supplied: bool,
) -> R<Procurement> {
    if !matches!(pricing, Pricing::Owned { owner: Some(_), .. }) {
        return Err(path.key(
            "procurement applies only to a site a firm owns",
            "set pricing = \"owned\" and owner = \"<firm>\": the owner orders the chips, or \
             remove procurement",
        ));
    }
    if supplied {
        return Err(path.key(
            "a site with procurement has no steady supply: its chips come from its owner's orders",
            "remove supply (the channel's chips_per_year is what the owner may buy a year), or \
             remove procurement",
        ));
    }
    let channel = match pr.channel {
        raw::RawChannel::Import => Channel::Import,
        raw::RawChannel::Grey => Channel::Grey,
    };
    let chips_per_year = cx.num(
        &pr.chips_per_year,
        &path.k("chips_per_year"),
        range(0.0, 1e8),
        "the most chips the channel brings a year (an export quota, a smuggling network's reach)",
    )?;
    // On what the figure can be (not this replication's draw), as for a supply.
    if upper(&pr.chips_per_year) <= 0.0 {
        return Err(path.k("chips_per_year").value(
            "a channel that can bring no chips",
            "give the most chips the channel brings a year, e.g. chips_per_year = 10000, or \
             remove procurement",
        ));
    }
    let lead = SimDuration::from_secs_f64(
        cx.num(
            &pr.lead_days,
            &path.k("lead_days"),
            range(0.0, 3_650.0),
            "days from the channel sending an order to its chips at the site (0 to 3650)",
        )? * SECS_PER_DAY as f64,
    );
    let from = match pr.from {
        Some(d) => cx.inside(d, &path.k("from"))?,
        None => SimTime::ZERO,
    };
    let until = match pr.until {
        Some(d) => {
            cx.inside(d, &path.k("until"))?;
            cx.day_after(d.0)
        }
        None => cx.horizon,
    };
    if until <= from {
        return Err(path.k("until").value(
            "the channel closes before it opens",
            "until is the channel's last day (inclusive): make it no earlier than from",
        ));
    }
    let grey_only = |key: &str, v: &Option<RawQuantity>| -> R<()> {
        if channel != Channel::Grey && v.is_some() {
            return Err(path.k(key).key(
                format!("{key} applies only to the grey channel"),
                format!(
                    "remove {key}: an import pays the rules' licence fees, and customs, not \
                         enforcement, stop it"
                ),
            ));
        }
        Ok(())
    };
    grey_only("premium", &pr.premium)?;
    grey_only("seizure", &pr.seizure)?;
    let premium = match &pr.premium {
        Some(q) => cx.num(
            q,
            &path.k("premium"),
            range(0.0, 100.0),
            "price above the chip's purchase price, as a fraction (0.5 = +50%)",
        )?,
        None => 0.0,
    };
    let seizure = match &pr.seizure {
        Some(q) => cx.num(
            q,
            &path.k("seizure"),
            range(0.0, 1.0),
            "chance a grey lot is seized on the way (0 to 1), before any grey_enforcement rule",
        )?,
        None => 0.0,
    };
    let lot_chips = match pr.lot_chips {
        Some(n) => {
            chip_count(
                n,
                &path.k("lot_chips"),
                "chips per lot bought through the channel",
            )?;
            if n == 0 {
                return Err(path.k("lot_chips").value(
                    "lot_chips must be at least 1",
                    "give the chips of one lot, e.g. lot_chips = 512, or leave it out for the \
                     firm's block_chips",
                ));
            }
            Some(n)
        }
        None => None,
    };
    Ok(Procurement {
        channel,
        chips_per_year,
        lead,
        from,
        until,
        premium,
        seizure,
        lot_chips,
    })
}

fn firm(
    cx: &Cx,
    index: usize,
    name: &str,
    f: &RawFirm,
    sites: &[Site],
    prov: &mut Vec<Provenance>,
) -> R<Firm> {
    let path = P::root("firms").k(name);
    entry_name(name, &path, "firm")?;
    let headquarters = cx.iso(&f.headquarters, &path.k("headquarters"))?;
    let known = sorted(sites.iter().map(|s| s.name.as_str()));
    if f.sites.is_empty() {
        return Err(path.k("sites").value(
            format!("firm '{name}' has no sites"),
            format!(
                "list at least one site it may use; known sites: {}",
                list_or_none(&known)
            ),
        ));
    }
    let mut ids = Vec::with_capacity(f.sites.len());
    for (i, s) in f.sites.iter().enumerate() {
        let sp = path.k("sites").i(i);
        let Some(id) = sites.iter().position(|x| x.name == *s) else {
            return Err(sp.value(
                format!("unknown site '{s}'"),
                format!(
                    "known sites: {}{} (define it under [sites.{}] or fix the name)",
                    list_or_none(&known),
                    did_you_mean(s, &known),
                    fmt_key(s)
                ),
            ));
        };
        let id = SiteId(id as u32);
        if ids.contains(&id) {
            return Err(sp.value(format!("site '{s}' is listed twice"), "remove the repeat"));
        }
        if let Some(payer) = sites[id.0 as usize].pricing.payer() {
            if payer.0 as usize != index {
                let (role, key) = match sites[id.0 as usize].pricing {
                    Pricing::Contract { .. } => ("contracted by", "tenant"),
                    _ => ("owned by", "owner"),
                };
                return Err(sp.value(
                    format!("site '{s}' is {role} another firm; only that firm may use it"),
                    format!(
                        "remove it from this firm's sites, or change the site's {key} (a firm \
                         that shares capacity rents it: pricing = \"lease\", or owned without \
                         an owner)"
                    ),
                ));
            }
        }
        ids.push(id);
    }
    let base = format!("firms.{}", fmt_key(name));
    let mut workloads = Vec::with_capacity(f.workloads.len());
    let mut seen = BTreeSet::new();
    for (i, w) in f.workloads.iter().enumerate() {
        let wp = path.k("workloads").i(i);
        if !seen.insert(w.name.as_str()) {
            return Err(wp.k("name").value(
                format!("duplicate workload name '{}' in firm '{name}'", w.name),
                "workload names must be unique within a firm; rename one of them",
            ));
        }
        cx.owner.set(Some(Owner::Workload(index, i)));
        workloads.push(workload(cx, &base, &wp, w, prov)?);
        cx.owner.set(None);
    }
    let planning = match &f.planning {
        None => None,
        Some(pl) => {
            cx.owner.set(Some(Owner::Firm(index)));
            let pl = planning(cx, &base, &path.k("planning"), pl, prov);
            cx.owner.set(None);
            Some(pl?)
        }
    };
    sources(&base, &f.source, raw::FIRM_KEYS, &path, prov)?;
    Ok(Firm {
        name: name.to_string(),
        headquarters,
        sites: ids,
        placement: match f.placement {
            RawPlacement::Cheapest => PlacementStrategy::Cheapest,
            RawPlacement::EarliestFinish => PlacementStrategy::EarliestFinish,
            RawPlacement::HomeFirst => PlacementStrategy::HomeFirst,
        },
        workloads,
        planning,
    })
}

/// Planning that could never do anything is a mistake in the file: a market site its tenant does
/// not list (its lots would stand idle), a firm that plans but has nothing to lease or order, a lot
/// larger than the firm may hold.
/// `ordering`: the firms whose `order_share` can be above 0; `zero_supply`: the sites whose supply
/// can be nothing but 0 (both on what the figures can be, not this replication's draw).
fn planning_fits(firms: &[Firm], sites: &[Site], ordering: &[&str], zero_supply: &[bool]) -> R<()> {
    // A site with a supply of 0 and nothing else gets only what its owner orders for it, and a
    // firm orders only for the sites it lists, in its home country.
    for (id, site) in sites.iter().enumerate() {
        let Pricing::Owned { owner: Some(o), .. } = site.pricing else {
            continue;
        };
        let firm = &firms[o.0 as usize];
        if !zero_supply[id]
            || site.initial_chips > 0
            || !site.deliveries.is_empty()
            || !ordering.contains(&firm.name.as_str())
        {
            continue;
        }
        let listed = firm.sites.contains(&SiteId(id as u32));
        let home = site.jurisdiction == firm.headquarters;
        if !listed || !home {
            return Err(P::root("sites").k(&site.name).k("owner").value(
                format!(
                    "site '{}' has a supply of 0, so its chips are what '{}' orders, but '{}' {}",
                    site.name,
                    firm.name,
                    firm.name,
                    if listed {
                        "orders only at home"
                    } else {
                        "does not list it"
                    }
                ),
                if listed {
                    format!(
                        "a firm orders domestic chips for its own sites in its home country ({}): \
                         give the site a supply above 0, or move it home",
                        firm.headquarters
                    )
                } else {
                    format!(
                        "add \"{}\" to [firms.{}] sites (a firm orders only for the sites it \
                         lists), or give the site a supply above 0",
                        site.name,
                        fmt_key(&firm.name)
                    )
                },
            ));
        }
    }
    for site in sites {
        if let Pricing::Contract {
            tenant,
            market: Some(_),
            ..
        } = site.pricing
        {
            let firm = &firms[tenant.0 as usize];
            let id = sites
                .iter()
                .position(|s| s.name == site.name)
                .expect("listed");
            if !firm.sites.contains(&SiteId(id as u32)) {
                return Err(P::root("sites").k(&site.name).k("tenant").value(
                    format!(
                        "site '{}' leases in a market for '{}', which does not list it",
                        site.name, firm.name
                    ),
                    format!(
                        "add \"{}\" to [firms.{}] sites (its lots would stand idle otherwise), \
                         or remove market",
                        site.name,
                        fmt_key(&firm.name)
                    ),
                ));
            }
        }
    }
    for (id, site) in sites.iter().enumerate() {
        let Pricing::Contract {
            tenant,
            reserves: Some(cloud),
            ..
        } = site.pricing
        else {
            continue;
        };
        let path = P::root("sites").k(&site.name);
        let c = &sites[cloud.0 as usize];
        if !matches!(c.pricing, Pricing::Owned { owner: None, .. }) {
            return Err(path.k("reserves").value(
                format!("site '{}' is not a domestic cloud", c.name),
                "name a site with pricing = \"owned\" and no owner (a cloud that rents its chips \
                 on), whose chips this site reserves",
            ));
        }
        if c.chip != site.chip || c.jurisdiction != site.jurisdiction {
            return Err(path.k("reserves").value(
                format!(
                    "cloud '{}' has other chips or is elsewhere than this site",
                    c.name
                ),
                "a reserved block is the cloud's own chips: give this site the cloud's chip and \
                 jurisdiction",
            ));
        }
        let shares: f64 = sites
            .iter()
            .filter_map(|x| match x.pricing {
                Pricing::Contract {
                    reserves: Some(other),
                    reserve_share,
                    ..
                } if other == cloud => Some(reserve_share),
                _ => None,
            })
            .sum();
        if shares > 1.0 + 1e-9 {
            return Err(path.k("reserve_share").value(
                format!(
                    "the sites that reserve cloud '{}' may hold {shares} of it together, more \
                     than all of it",
                    c.name
                ),
                "lower reserve_share at the sites that reserve this cloud so that they add up to \
                 1 at most (each defaults to 0.5)",
            ));
        }
        let firm = &firms[tenant.0 as usize];
        if firm.planning.is_none() || !firm.sites.contains(&SiteId(id as u32)) {
            return Err(path.k("tenant").value(
                format!(
                    "site '{}' reserves cloud chips for '{}', which {}",
                    site.name,
                    firm.name,
                    if firm.planning.is_none() {
                        "does not plan"
                    } else {
                        "does not list it"
                    }
                ),
                format!(
                    "its chips come only from its tenant's reviews: add [firms.{}.planning] and \
                     list \"{}\" among its sites, or remove reserves",
                    fmt_key(&firm.name),
                    site.name
                ),
            ));
        }
    }
    for (id, site) in sites.iter().enumerate() {
        let (Some(_), Pricing::Owned { owner: Some(o), .. }) = (site.procurement, site.pricing)
        else {
            continue;
        };
        let firm = &firms[o.0 as usize];
        if firm.planning.is_none() || !firm.sites.contains(&SiteId(id as u32)) {
            return Err(P::root("sites").k(&site.name).k("procurement").key(
                format!(
                    "site '{}' buys chips through a channel for '{}', which {}",
                    site.name,
                    firm.name,
                    if firm.planning.is_none() {
                        "does not plan"
                    } else {
                        "does not list it"
                    }
                ),
                if firm.planning.is_none() {
                    format!(
                        "its chips come only from its owner's orders: add [firms.{}.planning], or \
                         remove procurement",
                        fmt_key(&firm.name)
                    )
                } else {
                    format!(
                        "its chips come only from its owner's orders: add \"{}\" to [firms.{}] \
                         sites, or remove procurement",
                        site.name,
                        fmt_key(&firm.name)
                    )
                },
            ));
        }
    }
    for (f, firm) in firms.iter().enumerate() {
        let Some(pl) = firm.planning else { continue };
        let path = P::root("firms").k(&firm.name).k("planning");
        let leases = firm.sites.iter().any(|s| {
            matches!(
                sites[s.0 as usize].pricing,
                Pricing::Contract {
                    market: Some(_),
                    ..
                } | Pricing::Contract {
                    reserves: Some(_),
                    ..
                }
            )
        });
        // On what its order share can be (a range reaching above 0 orders in some replications).
        let orders =
            (ordering.contains(&firm.name.as_str()) && firm.sites.iter().any(|&s| {
                let site = &sites[s.0 as usize];
                matches!(site.pricing, Pricing::Owned { owner: Some(o), .. } if o.0 as usize == f)
                    && site.supply.is_some()
                    && site.jurisdiction == firm.headquarters
            })) || firm
                .sites
                .iter()
                .any(|s| sites[s.0 as usize].procurement.is_some());
        if !leases && !orders {
            return Err(path.key(
                format!(
                    "firm '{}' plans, but has nothing to lease or order",
                    firm.name
                ),
                "list a contracted site with market = \"...\" or reserves = \"...\" among its \
                 sites, or set order_share above 0 with an owned, supplied site at home; or \
                 remove planning",
            ));
        }
        if leases && pl.block_chips > pl.max_leased_chips {
            return Err(path.k("block_chips").value(
                format!(
                    "a lot of {} chips is more than the {} the firm may hold (max_leased_chips)",
                    pl.block_chips, pl.max_leased_chips
                ),
                "make block_chips at most max_leased_chips, or raise max_leased_chips",
            ));
        }
    }
    Ok(())
}

/// `[firms.<name>.planning]`.
fn planning(
    cx: &Cx,
    base: &str,
    path: &P,
    pl: &RawPlanning,
    prov: &mut Vec<Provenance>,
) -> R<Planning> {
    // A fraction or multiplier that may be uncertain (drawn per replication), with its default.
    let figure =
        |q: &Option<RawQuantity>, default: f64, key: &str, bound: Bound, help: &str| match q {
            Some(q) => cx.num(q, &path.k(key), bound, help),
            None => Ok(default),
        };
    let day = SECS_PER_DAY as f64;
    // A number of days that may be 0 (no delay).
    let days_or_zero = |v: f64, key: &str, help: &str| -> R<SimDuration> {
        if v == 0.0 {
            return Ok(SimDuration::ZERO);
        }
        duration(v, &path.k(key), zero_or(1.0 / 86_400.0, 3_650.0), day, help)
    };
    let planning = Planning {
        every: duration(
            pl.every_days,
            &path.k("every_days"),
            range(1.0, 3_650.0),
            day,
            "days between the firm's reviews of its capacity (1 to 3650; e.g. 30 for monthly)",
        )?,
        lead: days_or_zero(
            pl.lead_days,
            "lead_days",
            "days from signing a lease to its chips coming online (0 to 3650)",
        )?,
        block_chips: chip_count(
            pl.block_chips,
            &path.k("block_chips"),
            "chips per lease lot (leases are signed in whole lots)",
        )?,
        patience: days_or_zero(
            pl.patience_days,
            "patience_days",
            "days a job may wait before the firm counts it as unmet need (0 to 3650)",
        )?,
        max_leased_chips: chip_count(
            pl.max_leased_chips,
            &path.k("max_leased_chips"),
            "the most chips the firm holds under lease in all markets together",
        )?,
        order_share: figure(
            &pl.order_share,
            0.0,
            "order_share",
            range(0.0, 1.0),
            "share of each day's national output of a chip the firm's domestic orders may take \
             (0 to 1; default 0: it does not order)",
        )?,
        order_lead: days_or_zero(
            pl.order_lead_days.unwrap_or(0.0),
            "order_lead_days",
            "days from allocation out of national output to the chips at the firm's site (0 to \
             3650; default 0)",
        )?,
        max_wait: days_or_zero(
            pl.max_wait_days.unwrap_or(365.0),
            "max_wait_days",
            "the longest the firm waits for ordered chips, days (0 to 3650; default 365)",
        )?,
        risk_aversion: figure(
            &pl.risk_aversion,
            0.0,
            "risk_aversion",
            range(0.0, 100.0),
            "how much a chance of losing chips weighs on an option's cost: cost x (1 + \
             risk_aversion x chance); 0 (the default) is risk-neutral",
        )?,
        lease_ban_risk: figure(
            &pl.lease_ban_risk,
            0.0,
            "lease_ban_risk",
            range(0.0, 1.0),
            "the chance the firm assigns to a lease ban within a year (0 to 1; default 0)",
        )?,
        replace_refused: pl.replace_refused.unwrap_or(true),
        home_premium: figure(
            &pl.home_premium,
            0.0,
            "home_premium",
            range(0.0, 100.0),
            "how much more an option abroad may cost per useful FLOP before home is preferred: \
             0.2 = home wins unless abroad is 20% cheaper (default 0)",
        )?,
        switch_margin: figure(
            &pl.switch_margin,
            0.25,
            "switch_margin",
            range(0.0, 1.0),
            "how much cheaper per useful FLOP an option must be than renewing a lease for the \
             firm to replace the lease with it: 0.25 (the default) = 25% cheaper; 1 = never",
        )?,
        forecast_inference: pl.forecast_inference.unwrap_or(false),
        forecast_training: pl.forecast_training.unwrap_or(false),
    };
    if planning.block_chips == 0 {
        return Err(path.k("block_chips").value(
            "block_chips must be at least 1",
            "give the size of one lease lot in chips, e.g. block_chips = 2048",
        ));
    }
    sources(
        &format!("{base}.planning"),
        &pl.source,
        raw::PLANNING_KEYS,
        path,
        prov,
    )?;
    Ok(planning)
}

/// `[markets.<name>]`.
fn market(cx: &Cx, name: &str, m: &RawMarket, prov: &mut Vec<Provenance>) -> R<Market> {
    let path = P::root("markets").k(name);
    entry_name(name, &path, "market")?;
    let jurisdiction = cx.iso(&m.jurisdiction, &path.k("jurisdiction"))?;
    if m.capacity_mw.is_empty() {
        return Err(path.k("capacity_mw").value(
            "capacity_mw lists no capacity",
            "list the market's capacity by date, e.g. capacity_mw = [{ from = 2025-01-01, mw = \
             500 }]",
        ));
    }
    let mut capacity = Vec::with_capacity(m.capacity_mw.len());
    for (i, c) in m.capacity_mw.iter().enumerate() {
        let cp = path.k("capacity_mw").i(i);
        let mw = num(
            c.mw,
            &cp.k("mw"),
            range(0.0, 1e6),
            "data-centre power online for lease from this date, MW (all tenants)",
        )?;
        if i > 0 && c.from.0 <= m.capacity_mw[i - 1].from.0 {
            return Err(cp.k("from").value(
                format!("{} is not after the previous step's date", c.from.0),
                "list capacity steps in order of date, one per date",
            ));
        }
        capacity.push(crate::model::CapacityStep {
            from: cx.time(c.from.0.max(cx.start)),
            mw,
        });
    }
    let market = Market {
        name: name.to_string(),
        jurisdiction,
        capacity,
        open_share: num(
            m.open_share,
            &path.k("open_share"),
            range(0.0, 1.0),
            "share of the market's capacity the scenario's firms may lease (0 to 1); the rest \
             is held by other tenants",
        )?,
        tight_above: num(
            m.tight_above,
            &path.k("tight_above"),
            range(0.0, 1.0),
            "share of the open capacity held above which lease prices rise (0 to 1)",
        )?,
        tight_premium: num(
            m.tight_premium,
            &path.k("tight_premium"),
            range(0.0, 10.0),
            "price premium when the open capacity is fully held (0.5 = +50%)",
        )?,
    };
    sources(
        &format!("markets.{}", fmt_key(name)),
        &m.source,
        raw::MARKET_KEYS,
        &path,
        prov,
    )?;
    Ok(market)
}

/// An example for a key a workload kind needs.
fn workload_example(key: &str) -> &'static str {
    match key {
        "arrivals" => "arrivals = { every_days = 60 }",
        "size_flop" => "size_flop = 5e24",
        "gang_chips" => "gang_chips = 4096",
        "checkpoint_hours" => "checkpoint_hours = 1.0",
        "restart_hours" => "restart_hours = 0.5",
        "tokens_per_day" => "tokens_per_day = 1e12",
        _ => "see the README's \"Scenario format\" section",
    }
}

fn workload<'a>(
    cx: &Cx,
    firm_base: &str,
    path: &P,
    w: &'a RawWorkload,
    prov: &mut Vec<Provenance>,
) -> R<Workload> {
    entry_name(&w.name, &path.k("name"), "workload")?;
    let kind = w.kind.as_str();
    // "an inference workload", "a training workload".
    let a_kind = if kind.starts_with('i') {
        format!("an {kind}")
    } else {
        format!("a {kind}")
    };
    let specific: &[&str] = match w.kind {
        RawWorkloadKind::Training | RawWorkloadKind::FineTuning => raw::WORKLOAD_BATCH_KEYS,
        RawWorkloadKind::Inference => raw::WORKLOAD_INFERENCE_KEYS,
    };
    let takes = format!(
        "{a_kind} workload takes {}, besides {}",
        specific.join(", "),
        raw::WORKLOAD_COMMON_KEYS.join(", ")
    );
    for (k, present) in w.kind_keys() {
        if present && !specific.contains(&k) {
            return Err(path.k(k).key(
                format!("'{k}' does not apply to {a_kind} workload"),
                format!("remove it, or change kind; {takes}"),
            ));
        }
    }
    let need = |v: &'a Option<RawQuantity>, k: &str| -> R<&'a RawQuantity> {
        v.as_ref().ok_or_else(|| {
            path.value(
                format!("{a_kind} workload needs '{k}'"),
                format!("add {}", workload_example(k)),
            )
        })
    };

    let start_d = w.start_date.map_or(cx.start, |d| d.0);
    let end_d = w.end_date.map_or(cx.end, |d| d.0);
    let start = match w.start_date {
        Some(d) => cx.inside(d, &path.k("start_date"))?,
        None => SimTime::ZERO,
    };
    // `end_date` is the workload's last day (inclusive): it ends at 00:00 on the day after.
    let end = match w.end_date {
        Some(d) => {
            cx.inside(d, &path.k("end_date"))?;
            cx.day_after(d.0)
        }
        None => cx.horizon,
    };
    if end_d < start_d {
        return Err(path.k("end_date").value(
            format!("end_date {end_d} is before start_date {start_d}"),
            "make end_date no earlier than start_date (both default to the horizon)",
        ));
    }

    let kind_model = match w.kind {
        RawWorkloadKind::Training | RawWorkloadKind::FineTuning => {
            let arrivals = match &w.arrivals {
                Some(a) => arrivals(cx, &path.k("arrivals"), a, start_d, end_d)?,
                None => {
                    return Err(path.value(
                        format!("{a_kind} workload needs 'arrivals'"),
                        format!("add {}", workload_example("arrivals")),
                    ))
                }
            };
            let size_flop = match &w.size_flop {
                // A distribution of job sizes, drawn per job by the model: not an uncertain input.
                Some(q) => {
                    let sp = path.k("size_flop");
                    let size = quantity(&sp, q, &Examples::size_flop())?;
                    // The range every job's size is drawn in: a job of at most 1e30 FLOP runs
                    // for a finite time on one chip of 1 TFLOP/s at 1% MFU.
                    let bound = range(1e6, 1e30);
                    support_fits(&size, bound, "size_flop").map_err(|m| {
                        let at = match q {
                            RawQuantity::Fixed(_) => sp.clone(),
                            RawQuantity::LogNormal(_) => sp.k("lognormal"),
                            RawQuantity::Uniform(_) => sp.k("uniform"),
                            RawQuantity::Triangular(_) => sp.k("triangular"),
                        };
                        at.value(
                            m,
                            format!(
                                "size_flop is the model FLOPs of one job, {}; e.g. {}",
                                bound.text(),
                                Examples::size_flop().lognormal
                            ),
                        )
                    })?;
                    size
                }
                None => {
                    return Err(path.value(
                        format!("{a_kind} workload needs 'size_flop'"),
                        format!("add {}", workload_example("size_flop")),
                    ))
                }
            };
            let gang_chips = match w.gang_chips {
                Some(0) => {
                    return Err(path.k("gang_chips").value(
                        "must be at least 1",
                        "the number of chips one job runs on, e.g. gang_chips = 4096",
                    ))
                }
                Some(n) => chip_count(
                    n,
                    &path.k("gang_chips"),
                    "the number of chips one job runs on, e.g. gang_chips = 4096",
                )?,
                None => {
                    return Err(path.value(
                        format!("{a_kind} workload needs 'gang_chips'"),
                        format!("add {}", workload_example("gang_chips")),
                    ))
                }
            };
            let checkpoint = cx.duration(
                need(&w.checkpoint_hours, "checkpoint_hours")?,
                &path.k("checkpoint_hours"),
                range(1e-6, 1e5),
                3_600.0,
                "hours between checkpoints of running work, e.g. 1.0",
            )?;
            let restart = cx.duration(
                need(&w.restart_hours, "restart_hours")?,
                &path.k("restart_hours"),
                range(0.0, 1e5),
                3_600.0,
                "hours lost at every restart after a failure or eviction, e.g. 0.5",
            )?;
            if let Some(dc) = &w.data_class {
                non_empty(dc, &path.k("data_class"), "data class")?;
            }
            WorkloadKind::Batch(BatchWorkload {
                kind: if w.kind == RawWorkloadKind::Training {
                    JobKind::Training
                } else {
                    JobKind::FineTuning
                },
                arrivals,
                size_flop,
                gang_chips,
                checkpoint,
                restart,
                data_class: w.data_class.clone(),
            })
        }
        RawWorkloadKind::Inference => WorkloadKind::Inference(InferenceWorkload {
            tokens_per_day: cx.num(
                need(&w.tokens_per_day, "tokens_per_day")?,
                &path.k("tokens_per_day"),
                zero_or(1.0, 1e18),
                "mean demand in tokens per day at start_date",
            )?,
            growth_per_year: cx.num(
                w.growth_per_year
                    .as_ref()
                    .unwrap_or(&RawQuantity::Fixed(1.0)),
                &path.k("growth_per_year"),
                range(0.01, 1000.0),
                "multiplicative growth per year: 1 is flat, 3 triples each year",
            )?,
            daily_amplitude: cx.num(
                w.daily_amplitude
                    .as_ref()
                    .unwrap_or(&RawQuantity::Fixed(0.0)),
                &path.k("daily_amplitude"),
                Bound::Fraction,
                "daily cycle as a fraction of the mean: 0 is flat, 0.5 is +-50%",
            )?,
            peak_hour: cx.num(
                w.peak_hour.as_ref().unwrap_or(&RawQuantity::Fixed(14.0)),
                &path.k("peak_hour"),
                Bound::HourOfDay,
                "hour of the daily peak, 0 to 24 (default 14)",
            )?,
            batch: cx.duration(
                w.batch_hours.as_ref().unwrap_or(&RawQuantity::Fixed(1.0)),
                &path.k("batch_hours"),
                range(0.01, 8_766.0),
                3_600.0,
                "hours per inference batch (default 1): shorter is finer and slower",
            )?,
        }),
    };

    let base = format!("{firm_base}.workloads.{}", fmt_key(&w.name));
    let allowed: Vec<&str> = raw::WORKLOAD_COMMON_KEYS
        .iter()
        .chain(specific)
        .copied()
        .collect();
    sources(&base, &w.source, &allowed, path, prov)?;
    Ok(Workload {
        name: w.name.clone(),
        start,
        end,
        kind: kind_model,
    })
}

fn arrivals(
    cx: &Cx,
    path: &P,
    a: &RawArrivals,
    start_d: NaiveDate,
    end_d: NaiveDate,
) -> R<Arrivals> {
    let given: Vec<&str> = [
        ("every_days", a.every_days.is_some()),
        ("mean_gap_days", a.mean_gap_days.is_some()),
        ("dates", a.dates.is_some()),
    ]
    .iter()
    .filter(|(_, p)| *p)
    .map(|(k, _)| *k)
    .collect();
    let help = "write one of { every_days = 60 }, { mean_gap_days = 30 } (Poisson) or \
                { dates = [2025-03-01, 2025-09-01] }";
    match given.as_slice() {
        [] => return Err(path.value("arrivals is empty", help)),
        [_] => {}
        [_, second, ..] => {
            return Err(path.k(second).key(
                format!(
                    "arrivals takes one of every_days, mean_gap_days, dates; found {}",
                    given.join(" and ")
                ),
                help,
            ))
        }
    }
    // The workload's days (both ends inclusive), and the jobs a gap of `gap_days` sends over them
    // (a drawn gap under one second is one second).
    let days = (end_d - start_d).num_days().saturating_add(1).max(0);
    let jobs = |gap_days: f64| days as f64 / gap_days.max(1.0 / SECS_PER_DAY as f64);
    if let Some(d) = &a.every_days {
        let at = path.k("every_days");
        let gap = cx.duration(
            d,
            &at,
            range(0.01, 36_525.0),
            SECS_PER_DAY as f64,
            "days between job arrivals, e.g. every_days = 60",
        )?;
        count_jobs(cx, &at, jobs(lower(d)), days)?;
        return Ok(Arrivals::Every(gap));
    }
    if let Some(d) = &a.mean_gap_days {
        let at = path.k("mean_gap_days");
        let mean_gap = cx.duration(
            d,
            &at,
            range(0.01, 36_525.0),
            SECS_PER_DAY as f64,
            "mean days between job arrivals, e.g. mean_gap_days = 30",
        )?;
        count_jobs(cx, &at, jobs(lower(d)), days)?;
        return Ok(Arrivals::Poisson { mean_gap });
    }
    let dates = a.dates.as_deref().unwrap_or(&[]);
    if dates.is_empty() {
        return Err(path.k("dates").value("no dates given", help));
    }
    if dates.len() > MAX_LISTED_DATES {
        return Err(path.k("dates").value(
            format!(
                "{} dates listed, more than the limit of {MAX_LISTED_DATES}",
                dates.len()
            ),
            format!(
                "list at most {MAX_LISTED_DATES} arrival dates, or use {{ every_days = ... }} or \
                 {{ mean_gap_days = ... }} for regular or random arrivals"
            ),
        ));
    }
    count_jobs(cx, &path.k("dates"), dates.len() as f64, days)?;
    let mut times = Vec::with_capacity(dates.len());
    for (i, d) in dates.iter().enumerate() {
        let dp = path.k("dates").i(i);
        let t = cx.inside(*d, &dp)?;
        if d.0 < start_d || d.0 > end_d {
            return Err(dp.value(
                format!(
                    "{} is outside the workload's dates {start_d} to {end_d}",
                    d.0
                ),
                "move the arrival inside the workload's start_date / end_date, or widen them",
            ));
        }
        times.push(t);
    }
    times.sort();
    Ok(Arrivals::At(times))
}

/// A figure's parameters as a [`Quantity`], checked for shape and order (not against the figure's
/// range); `ex` gives the help texts, in the figure's own terms.
fn quantity(path: &P, q: &RawQuantity, ex: &Examples) -> R<Quantity> {
    let (q, at, help) = match q {
        RawQuantity::Fixed(v) => (Quantity::Fixed(*v), path.clone(), &ex.fixed),
        RawQuantity::LogNormal(l) => (
            Quantity::LogNormal {
                median: l.median,
                p95: l.p95,
            },
            path.k("lognormal"),
            &ex.lognormal,
        ),
        RawQuantity::Uniform(v) => {
            let at = path.k("uniform");
            let help = &ex.uniform;
            match v.as_slice() {
                [low, high] => (
                    Quantity::Uniform {
                        low: *low,
                        high: *high,
                    },
                    at,
                    help,
                ),
                _ => {
                    return Err(at.value(
                        format!("uniform needs [low, high], found {} numbers", v.len()),
                        format!("e.g. {help}"),
                    ))
                }
            }
        }
        RawQuantity::Triangular(v) => {
            let at = path.k("triangular");
            let help = &ex.triangular;
            match v.as_slice() {
                [low, mode, high] => (
                    Quantity::Triangular {
                        low: *low,
                        mode: *mode,
                        high: *high,
                    },
                    at,
                    help,
                ),
                _ => {
                    return Err(at.value(
                        format!(
                            "triangular needs [low, mode, high], found {} numbers",
                            v.len()
                        ),
                        format!("e.g. {help}"),
                    ))
                }
            }
        }
    };
    match q.validate() {
        Ok(()) => Ok(q),
        Err(e) => Err(at.value(e.message, format!("e.g. {help}"))),
    }
}

fn policy<'a>(
    cx: &Cx,
    path: &P,
    p: &'a RawPolicy,
    chips: &[Chip],
    firms: &[&str],
    orderers: &[&str],
    prov: &mut Vec<Provenance>,
) -> R<Policy> {
    entry_name(&p.name, &path.k("name"), "policy")?;
    let rule_name = p.rule.as_str();
    let (req, opt) = p.rule.keys();
    let takes = {
        let mut keys: Vec<&str> = req.iter().chain(opt).copied().collect();
        keys.sort_unstable();
        format!(
            "rule '{rule_name}' takes {}, besides {}",
            keys.join(", "),
            raw::POLICY_COMMON_KEYS.join(", ")
        )
    };
    for (k, present) in p.rule_keys() {
        if present && !req.contains(&k) && !opt.contains(&k) {
            return Err(path.k(k).key(
                format!("'{k}' does not apply to rule '{rule_name}'"),
                format!("remove it, or change the rule; {takes}"),
            ));
        }
    }
    for k in req {
        if !p
            .rule_keys()
            .iter()
            .any(|(name, present)| name == k && *present)
        {
            // At the missing key's path (located at the policy's table, where it is not): a key
            // misspelt there is reported once, as unknown, not also as missing.
            return Err(path.k(k).value(
                format!("rule '{rule_name}' needs '{k}'"),
                format!("add {k} = ...; {takes}"),
            ));
        }
    }

    // A switched-off policy may lie beyond this horizon (it is checked, not run: a shorter
    // what-if of a base that switches a later rule off must still load).
    let on = p.enabled != Some(false);
    if on && p.from.0 > cx.end {
        return Err(path.k("from").value(
            format!("from {} is after end_date {}", p.from.0, cx.end),
            "a rule that starts after the horizon has no effect: move it inside the horizon, \
             or remove it (or set enabled = false)",
        ));
    }
    let from = cx.time(p.from.0);
    let until = match p.until {
        None => None,
        Some(u) => {
            let up = path.k("until");
            if u.0 < p.from.0 {
                return Err(up.value(
                    format!("until {} is before from {}", u.0, p.from.0),
                    "until is the last day the rule is in force (inclusive): make it no earlier \
                     than from",
                ));
            }
            if on && u.0 > cx.end {
                return Err(up.value(
                    format!("until {} is after end_date {}", u.0, cx.end),
                    "leave until out if the rule stays in force to the end of the horizon",
                ));
            }
            Some(cx.day_after(u.0))
        }
    };

    // Rule-specific keys were checked for presence above; `missing` only guards that invariant.
    let missing = |k: &str| path.value(format!("rule '{rule_name}' needs '{k}'"), takes.clone());
    let s = |v: &Option<String>, k: &str| v.clone().ok_or_else(|| missing(k));
    let f = |v: &'a Option<RawQuantity>, k: &str| v.as_ref().ok_or_else(|| missing(k));
    let chip_name = |v: &Option<String>, k: &str| -> R<String> {
        let c = s(v, k)?;
        chip_ref(&c, chips, &path.k(k))?;
        Ok(c)
    };
    let opt_chip = |v: &Option<String>| -> R<Option<String>> {
        match v {
            Some(c) => {
                chip_ref(c, chips, &path.k("chip"))?;
                Ok(Some(c.clone()))
            }
            None => Ok(None),
        }
    };
    let country = |v: &Option<String>, k: &str| -> R<String> { cx.iso(&s(v, k)?, &path.k(k)) };

    let rule = match p.rule.0 {
        RuleKind::ExportBan => Rule::ExportBan {
            chip: chip_name(&p.chip, "chip")?,
            to: country(&p.to, "to")?,
        },
        RuleKind::LicenceFee => Rule::LicenceFee {
            chip: chip_name(&p.chip, "chip")?,
            to: country(&p.to, "to")?,
            fee_fraction: cx.num(
                f(&p.fee_fraction, "fee_fraction")?,
                &path.k("fee_fraction"),
                range(0.0, 100.0),
                "price uplift as a fraction: 0.15 is +15%",
            )?,
        },
        RuleKind::LeaseBan => Rule::LeaseBan {
            firms_headquartered_in: country(&p.firms_headquartered_in, "firms_headquartered_in")?,
            grace: cx.duration(
                f(&p.grace_days, "grace_days")?,
                &path.k("grace_days"),
                range(0.0, 36_525.0),
                SECS_PER_DAY as f64,
                "days the firms keep the capacity they hold under contract before the contracts \
                 end and running work is evicted, e.g. grace_days = 90",
            )?,
        },
        RuleKind::DataResidency => {
            let dc = s(&p.data_class, "data_class")?;
            non_empty(&dc, &path.k("data_class"), "data class")?;
            Rule::DataResidency { data_class: dc }
        }
        RuleKind::ChipCap => Rule::ChipCap {
            country: country(&p.country, "country")?,
            chip: opt_chip(&p.chip)?,
            max_chips: p.max_chips.ok_or_else(|| missing("max_chips"))?,
        },
        RuleKind::PermitDelay => Rule::PermitDelay {
            through: country(&p.through, "through")?,
            chip: opt_chip(&p.chip)?,
            delay: cx.duration(
                f(&p.delay_days, "delay_days")?,
                &path.k("delay_days"),
                range(0.0, 36_525.0),
                SECS_PER_DAY as f64,
                "days a shipment is held for its permit, e.g. delay_days = 60",
            )?,
        },
        RuleKind::DomesticMandate => Rule::DomesticMandate {
            firms_headquartered_in: country(&p.firms_headquartered_in, "firms_headquartered_in")?,
            share: cx.num(
                f(&p.inference_share, "inference_share")?,
                &path.k("inference_share"),
                Bound::Fraction,
                "share of inference on domestic chips: 0.5 is half",
            )?,
        },
        RuleKind::SupplyShock => Rule::SupplyShock {
            chip: chip_name(&p.chip, "chip")?,
            factor: cx.num(
                f(&p.factor, "factor")?,
                &path.k("factor"),
                range(0.0, 1e3),
                "multiplier on the steady supply: 0.5 halves it, 0 stops it",
            )?,
        },
        RuleKind::GreyEnforcement => Rule::GreyEnforcement {
            to: country(&p.to, "to")?,
            chip: opt_chip(&p.chip)?,
            seizure: cx.num(
                f(&p.seizure, "seizure")?,
                &path.k("seizure"),
                Bound::Fraction,
                "chance a smuggled lot is seized on the way: 0.3 is 30%",
            )?,
        },
        RuleKind::OutputAllocation => {
            let mut priority: Vec<String> = Vec::new();
            for (i, firm) in p.priority.iter().flatten().enumerate() {
                let at = path.k("priority").i(i);
                if !firms.contains(&firm.as_str()) {
                    let known = sorted(firms.iter().copied());
                    return Err(at.value(
                        format!("unknown firm '{firm}'"),
                        format!(
                            "priority lists the firms served first, by name; known firms: {}{}",
                            list_or_none(&known),
                            did_you_mean(firm, &known)
                        ),
                    ));
                }
                if !orderers.contains(&firm.as_str()) {
                    return Err(at.value(
                        format!("'{firm}' does not order domestic chips"),
                        format!(
                            "a firm is served from national output only if its planning has \
                             order_share above 0 (the rule then sets how much it takes): set \
                             firms.{}.planning.order_share, or remove it from priority",
                            fmt_key(firm)
                        ),
                    ));
                }
                if priority.contains(firm) {
                    return Err(at.value(
                        format!("'{firm}' is listed twice"),
                        "list each firm once, in the order it is served",
                    ));
                }
                priority.push(firm.clone());
            }
            Rule::OutputAllocation {
                country: country(&p.country, "country")?,
                chip: opt_chip(&p.chip)?,
                orders_share: cx.num(
                    f(&p.orders_share, "orders_share")?,
                    &path.k("orders_share"),
                    Bound::Fraction,
                    "share of each day's uncommitted output that open orders may take together: \
                     0.6 is 60%",
                )?,
                priority,
            }
        }
    };

    let base = format!("policy.{}", fmt_key(&p.name));
    let allowed: Vec<&str> = raw::POLICY_COMMON_KEYS
        .iter()
        .chain(req)
        .chain(opt)
        .copied()
        .collect();
    let source = sources(&base, &p.source, &allowed, path, prov)?;
    Ok(Policy {
        name: p.name.clone(),
        from,
        until,
        rule,
        source,
    })
}

/// A `[sources]` key must name something the scenario defines, or its provenance is silently lost.
/// Checked up to the entry name (`chips.h100...`); names may contain dots, so the longest defined
/// name that prefixes the rest wins.
fn source_path(p: &str, raw: &RawScenario) -> R<()> {
    let path = P::root("sources").k(p);
    let (head, rest) = match p.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (p, None),
    };
    let names: Vec<&str> =
        match head {
            "chips" => raw.chips.0.iter().map(|(n, _)| n.as_str()).collect(),
            "sites" => raw.sites.0.iter().map(|(n, _)| n.as_str()).collect(),
            "firms" => raw.firms.0.iter().map(|(n, _)| n.as_str()).collect(),
            "markets" => raw.markets.0.iter().map(|(n, _)| n.as_str()).collect(),
            "policy" => raw.policy.iter().map(|p| p.name.as_str()).collect(),
            "name" | "description" | "start_date" | "end_date" | "seed" | "observations"
                if rest.is_none() =>
            {
                return Ok(())
            }
            _ => return Err(path.key(
                format!("'{p}' is not a field path of this scenario"),
                "paths start with chips., sites., firms., markets., policy. or a top-level key, \
                 e.g. \
                 \"chips.h100.bf16_dense_tflops\" = \"Nvidia H100 datasheet\"",
            )),
        };
    let rest = rest.unwrap_or("");
    let found = names
        .iter()
        .any(|n| rest == *n || rest.strip_prefix(n).is_some_and(|r| r.starts_with('.')));
    if found {
        return Ok(());
    }
    let first = rest.split('.').next().unwrap_or("");
    let known = sorted(names.into_iter());
    Err(path.key(
        format!("'{p}' names no defined entry of [{head}]"),
        format!(
            "defined: {}{}",
            list_or_none(&known),
            did_you_mean(first, &known)
        ),
    ))
}
