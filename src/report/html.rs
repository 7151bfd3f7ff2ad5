//! `report.html`: a run's, a comparison's, or a sweep's page. One self-contained file (CSS and
//! charts inline, no scripts, no fetches) that reads well on screen and prints on A4 or Letter. A
//! sweep's page may link to its points' own pages (relative links into the sweep folder).
//!
//! Templates live in `templates/` and are compiled into the binary; minijinja escapes every value
//! (scenario names, descriptions, sources, axis values and point labels are user input). The only
//! text inserted unescaped is the charts' SVG, which capsim itself draws, and a sweep point's link,
//! built from its number alone. Numbers are formatted here, not in the templates, so that
//! formatting is tested in Rust; numbers are written as the charts' axes write them
//! ([`super::format`]).

use chrono::{Datelike, NaiveDate};
use minijinja::value::Serde;
use minijinja::Environment;
use serde::Serialize;

use super::charts::Chart;
use super::compare::{self, Comparison, Headline, Scope, Value, Window};
use super::format;
use super::observed;
use super::sweep::SweepManifest;
use super::view::RunView;
use crate::experiment::sweep::PointStat;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("report.html", include_str!("templates/report.html")),
    ("compare.html", include_str!("templates/compare.html")),
    ("sweep.html", include_str!("templates/sweep.html")),
    ("style.css", include_str!("templates/style.css")),
];

fn render(name: &str, ctx: impl Serialize) -> Vec<u8> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("default delimiters"),
    );
    for (n, src) in TEMPLATES {
        env.add_template(n, src)
            .unwrap_or_else(|e| panic!("template {n} does not compile: {e:#}"));
    }
    let t = env.get_template(name).expect("registered above");
    let mut s = t
        .render(Serde(ctx))
        .unwrap_or_else(|e| panic!("template {name} does not render: {e:#}"));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s.into_bytes()
}

// ----- numbers as a reader sees them ------------------------------------------------------------

/// A value of `unit` (the metric catalog's) for a reader, in the one number format of tables and
/// chart axes ([`format::Unit`]): shares as percentages, dollars with `$`, hours with their days
/// beside long ones, anything else as a plain number.
pub fn format_value(x: f64, unit: &str) -> String {
    match unit {
        // Hours throughout, so that values and differences in one row share a unit; days beside
        // long ones.
        "hours" if x.abs() >= 48.0 => {
            format!(
                "{} h ({} days)",
                format::number(x),
                format::number(x / 24.0)
            )
        }
        "hours" => format!("{} h", format::number(x)),
        _ => format::Unit::of(unit).format(x),
    }
}

/// A difference of `unit` for a reader, with its sign (`pp`: percentage points).
pub fn format_diff(d: f64, unit: &str) -> String {
    let sign = if d > 0.0 {
        "+"
    } else if d < 0.0 {
        "−"
    } else {
        "±"
    };
    let a = d.abs();
    match unit {
        "share" => format!("{sign}{} pp", format::number(a * 100.0)),
        _ => format!("{sign}{}", format_value(a, unit)),
    }
}

/// `run` less `base` for a reader: [`format_diff`] of [`super::compare::change`] (a difference
/// that is only rounding reads as none).
pub fn format_change(run: f64, base: f64, unit: &str) -> String {
    format_diff(super::compare::change(run, base), unit)
}

/// How a reader calls the period starting `d` (`December 2027`, `week of 2027-12-27`, ...).
pub fn period_label(d: NaiveDate, kind: &str) -> String {
    match kind {
        "month" => d.format("%B %Y").to_string(),
        "week" => format!("week of {d}"),
        "quarter" => format!("Q{} {}", (d.month() - 1) / 3 + 1, d.year()),
        "year" => d.year().to_string(),
        _ => d.to_string(),
    }
}

// ----- what the templates see -------------------------------------------------------------------

#[derive(Serialize)]
struct Cell {
    text: String,
    band: Option<String>,
    note: Option<String>,
}

fn cell(v: Option<Value>, unit: &str) -> Cell {
    match v {
        None => Cell {
            text: "—".into(),
            band: None,
            note: None,
        },
        Some(v) => Cell {
            text: format_value(v.mean, unit),
            // A band that reads as one number (all replications agree to the digits shown) is
            // left out.
            band: v.band.and_then(|(lo, hi)| {
                let (lo, hi) = (format_value(lo, unit), format_value(hi, unit));
                (lo != hi).then(|| format!("{lo} – {hi}"))
            }),
            note: None,
        },
    }
}

#[derive(Serialize)]
struct Fact {
    label: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Policy<'a> {
    name: &'a str,
    rule: &'a str,
    summary: &'a str,
    from: &'a str,
    until: Option<&'a str>,
    source: Option<&'a str>,
    /// In a comparison: not in the baseline as it is here (new, or changed).
    changed: bool,
}

#[derive(Serialize)]
struct Fig<'a> {
    number: usize,
    title: &'a str,
    /// Words after the title in the caption (how to read the chart), where the page gives them.
    note: Option<String>,
    svg: &'a str,
}

fn figs(figures: &[Chart]) -> Vec<Fig<'_>> {
    figures
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let svg = f.svg.trim_start();
            // Inline SVG in HTML takes no XML declaration; a chart's own doctype is dropped too.
            let svg = match svg.strip_prefix("<?xml") {
                Some(rest) => rest.split_once("?>").map_or(rest, |x| x.1).trim_start(),
                None => svg,
            };
            assert!(
                svg.starts_with("<svg") && !svg.to_ascii_lowercase().contains("<script"),
                "chart '{}' is not a plain <svg> document (starts {:?})",
                f.title,
                &svg[..svg.len().min(40)]
            );
            Fig {
                number: i + 1,
                title: &f.title,
                note: None,
                svg,
            }
        })
        .collect()
}

/// The view's policy timeline; with a `baseline`, rules not in it as they are here are marked.
fn policies<'a>(view: &'a RunView, baseline: Option<&RunView>) -> Vec<Policy<'a>> {
    view.manifest
        .policies
        .iter()
        .map(|p| Policy {
            changed: baseline.is_some_and(|b| !b.manifest.policies.contains(p)),
            name: &p.name,
            rule: &p.rule,
            summary: &p.summary,
            from: &p.from,
            until: p.until.as_deref(),
            source: p.source.as_deref(),
        })
        .collect()
}

fn group_label(kind: &str, group: &str) -> String {
    match (kind, group) {
        ("firms", "all") => "all firms".into(),
        ("all", "all") => "all sites".into(),
        _ => group.into(),
    }
}

fn headline_label(def: &crate::metrics::catalog::Headline, name: &str) -> String {
    let label = match name.split_once('.') {
        Some((_, firm)) => format!("{firm}: {}", def.label),
        None => capitalise(def.label),
    };
    with_unit(label, def.metric().unit)
}

/// `label` with its unit in brackets where the values do not show it.
fn with_unit(label: String, unit: &str) -> String {
    match unit {
        "share" | "jobs" | "tokens" | "" => label,
        u => format!("{label} ({u})"),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn horizon_text(w: &Window) -> String {
    format!("{} to {}", w.from, w.until)
}

/// How a reader calls the period `end` figures are read in.
fn end_label(end: Option<(NaiveDate, bool)>, kind: &str) -> String {
    match end {
        Some((d, true)) => period_label(d, kind),
        Some((d, false)) => format!("{} (partial: no full period)", period_label(d, kind)),
        None => "—".into(),
    }
}

// ----- a run's page -----------------------------------------------------------------------------

#[derive(Serialize)]
struct HeadlineRow {
    label: String,
    how: String,
    total: Cell,
    end: Cell,
}

/// One row per headline number: over the horizon, and in the last full period.
fn headline_rows(hs: &[Headline]) -> Vec<HeadlineRow> {
    hs.iter()
        .filter(|h| h.scope == Scope::Total)
        .map(|t| {
            let end = hs
                .iter()
                .find(|e| e.name == t.name && e.scope == Scope::End)
                .and_then(|e| e.value);
            HeadlineRow {
                label: headline_label(t.def, &t.name),
                how: compare::how_total(t.def).to_string(),
                total: cell(t.value, t.unit()),
                end: cell(end, t.unit()),
            }
        })
        .collect()
}

#[derive(Serialize)]
struct Site<'a> {
    name: &'a str,
    jurisdiction: &'a str,
    operator: &'a str,
    chip: &'a str,
}

#[derive(Serialize)]
struct RunPage<'a> {
    version: &'a str,
    scenario: &'a str,
    description: &'a str,
    facts: Vec<Fact>,
    horizon: String,
    last_period: String,
    any_band: bool,
    headlines: Vec<HeadlineRow>,
    policies: Vec<Policy<'a>>,
    figures: Vec<Fig<'a>>,
    sites: Vec<Site<'a>>,
    firms: Vec<(&'a str, &'a str)>,
    provenance: &'a [super::view::InputRow],
    observed: Option<Observed>,
    picture: Vec<PictureTable>,
}

/// One table of the national picture: the run's totals by jurisdiction or by chip type.
#[derive(Serialize)]
struct PictureTable {
    title: &'static str,
    rows: Vec<PictureRow>,
}

#[derive(Serialize)]
struct PictureRow {
    group: String,
    compute: String,
    compute_share: String,
    tokens: String,
    tokens_share: String,
    cost: String,
    utilisation: String,
}

/// The national picture: over the horizon, for each jurisdiction and each chip type, useful
/// compute, tokens served, what the sites cost and their utilisation (means over replications of
/// each replication's total: sums of the periods' means), with each group's share of the whole.
fn picture(view: &RunView) -> Vec<PictureTable> {
    let total = |kind: &str, group: &str, metric: &str| -> f64 {
        view.series(kind, group, metric)
            .map(|v| v.iter().flatten().map(|b| b.mean).sum())
            .unwrap_or(0.0)
    };
    let share = |x: f64, all: f64| {
        if all > 0.0 {
            format::Unit::Percent.format(x / all)
        } else {
            String::new()
        }
    };
    let (all_compute, all_tokens) = (
        total("all", "all", "compute_pflop_days"),
        total("all", "all", "tokens_served"),
    );
    [
        ("jurisdiction", "By jurisdiction of the data centre"),
        ("chip", "By chip type"),
    ]
    .into_iter()
    .filter_map(|(kind, title)| {
        let mut groups: Vec<&str> = view
            .series
            .keys()
            .filter(|(k, _, _)| k == kind)
            .map(|(_, g, _)| g.as_str())
            .collect();
        groups.dedup();
        let mut rows: Vec<(f64, f64, PictureRow)> = groups
            .into_iter()
            .map(|g| {
                let compute = total(kind, g, "compute_pflop_days");
                let tokens = total(kind, g, "tokens_served");
                let online = total(kind, g, "chip_hours_online");
                let busy = total(kind, g, "chip_hours_busy");
                let row = PictureRow {
                    group: if kind == "jurisdiction" {
                        group_label(kind, g)
                    } else {
                        g.to_string()
                    },
                    compute: format_value(compute, "PFLOP-days"),
                    compute_share: share(compute, all_compute),
                    tokens: format_value(tokens, "tokens"),
                    tokens_share: share(tokens, all_tokens),
                    cost: format_value(total(kind, g, "cost_usd"), "USD"),
                    utilisation: share(busy, online),
                };
                (compute, tokens, row)
            })
            .collect();
        if rows.is_empty() {
            return None;
        }
        // Largest first: by compute, then tokens.
        rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.total_cmp(&a.1)));
        Some(PictureTable {
            title,
            rows: rows.into_iter().map(|(_, _, r)| r).collect(),
        })
    })
    .collect()
}

/// The "model against observations" table.
#[derive(Serialize)]
struct Observed {
    scored: usize,
    inside: usize,
    share: String,
    rows: Vec<ObservedRow>,
}

#[derive(Serialize)]
struct ObservedRow {
    date: String,
    metric: String,
    group: String,
    value: String,
    range: String,
    sim: String,
    band: String,
    status: &'static str,
    source: String,
    note: String,
}

fn observed(held: &[observed::Held]) -> Option<Observed> {
    if held.is_empty() {
        return None;
    }
    let (scored, inside) = observed::score(held);
    let rows = held
        .iter()
        .map(|h| {
            let o = &h.obs;
            let unit = o.unit.as_str();
            ObservedRow {
                date: match o.from {
                    Some(f) => format!("{f} – {}", o.date),
                    None => o.date.to_string(),
                },
                metric: o.metric.clone(),
                group: o.group.clone(),
                value: format_value(o.value, unit),
                range: format!(
                    "{} – {}",
                    format_value(o.low, unit),
                    format_value(o.high, unit)
                ),
                sim: h.sim.map_or(String::new(), |s| format_value(s.mean, unit)),
                // Only where the replications differ (as for headline numbers).
                band: h.sim.filter(|s| s.n > 1).map_or(String::new(), |s| {
                    let (lo, hi) = (format_value(s.p05, unit), format_value(s.p95, unit));
                    if lo == hi {
                        String::new()
                    } else {
                        format!("{lo} – {hi}")
                    }
                }),
                status: h.status.as_str(),
                source: o.source.clone(),
                note: o.note.clone(),
            }
        })
        .collect();
    Some(Observed {
        scored,
        inside,
        share: if scored == 0 {
            "none scored".into()
        } else {
            format::Unit::Percent.format(inside as f64 / scored as f64)
        },
        rows,
    })
}

fn run_facts(view: &RunView) -> Vec<Fact> {
    let m = &view.manifest;
    let j = &m.jobs;
    let reps = if m.replications == 1 {
        "1 (no uncertainty bands)".to_string()
    } else {
        m.replications.to_string()
    };
    let mut facts = vec![
        Fact {
            label: "Horizon",
            value: format!("{} to {}", m.start_date, m.end_date),
        },
        Fact {
            label: "Reported by",
            value: format!("{} ({} periods)", m.period, view.periods.len()),
        },
        Fact {
            label: "Replications",
            value: reps,
        },
        Fact {
            label: "Seed",
            value: m.seed.to_string(),
        },
        Fact {
            label: "Scenario files",
            value: m.files.join(", "),
        },
        Fact {
            label: "Content hash",
            value: format!("SHA-256 {}", m.content_hash),
        },
        Fact {
            label: "capsim version",
            value: m.capsim_version.clone(),
        },
        Fact {
            label: "Jobs (all replications)",
            value: format!(
                "{} arrived: {} completed, {} running, {} queued, {} blocked at the end",
                j.arrived, j.completed, j.running, j.queued, j.blocked
            ),
        },
    ];
    if !m.overrides.is_empty() {
        // Right after the scenario files, which they modify.
        let at = facts
            .iter()
            .position(|f| f.label == "Scenario files")
            .map_or(facts.len(), |i| i + 1);
        facts.insert(
            at,
            Fact {
                label: "Overrides",
                value: m.overrides.join("; "),
            },
        );
    }
    facts
}

/// `report.html` of one run, with `figures` (from `charts::render(&[view])`) inline (their SVG,
/// as trusted markup; an XML declaration before it is dropped).
pub fn run_report(view: &RunView, figures: &[Chart], held: &[observed::Held]) -> Vec<u8> {
    let m = &view.manifest;
    let window = compare::run_window(view);
    let end = compare::end_period(std::slice::from_ref(view), &window);
    let hs = compare::run_headlines(view);
    let page = RunPage {
        version: &m.capsim_version,
        scenario: &m.scenario,
        description: &m.description,
        facts: run_facts(view),
        horizon: horizon_text(&window),
        last_period: end_label(end, &m.period),
        any_band: hs.iter().any(|h| h.value.is_some_and(|v| v.band.is_some())),
        headlines: headline_rows(&hs),
        policies: policies(view, None),
        figures: figs(figures),
        sites: m
            .sites
            .iter()
            .map(|s| Site {
                name: &s.name,
                jurisdiction: &s.jurisdiction,
                operator: &s.operator,
                chip: &s.chip,
            })
            .collect(),
        firms: m
            .firms
            .iter()
            .map(|f| (f.name.as_str(), f.headquarters.as_str()))
            .collect(),
        provenance: &view.provenance,
        observed: observed(held),
        picture: picture(view),
    };
    render("report.html", page)
}

// ----- a comparison's page ----------------------------------------------------------------------

#[derive(Serialize)]
struct RunEntry<'a> {
    label: &'a str,
    scenario: &'a str,
    description: &'a str,
    seed: u64,
    replications: u64,
    period: &'a str,
    horizon: String,
    version: &'a str,
    hash: &'a str,
    policies: Vec<Policy<'a>>,
    /// Baseline rules this run does not have (by name).
    dropped: Vec<&'a str>,
}

#[derive(Serialize)]
struct DiffCell {
    value: Cell,
    diff: String,
    /// The paired difference's p05 – p95 across replications, where there is one.
    paired: Option<String>,
    ratio: String,
}

#[derive(Serialize)]
struct DiffRow {
    group: String,
    scope: &'static str,
    base: Cell,
    others: Vec<DiffCell>,
}

#[derive(Serialize)]
struct DiffBlock {
    label: String,
    total_how: String,
    rows: Vec<DiffRow>,
}

#[derive(Serialize)]
struct ComparePage<'a> {
    version: &'a str,
    title: String,
    runs: Vec<RunEntry<'a>>,
    baseline: &'a str,
    others: &'a [String],
    window: String,
    window_trimmed: bool,
    last_period: String,
    any_band: bool,
    blocks: Vec<DiffBlock>,
    figures: Vec<Fig<'a>>,
    /// Inputs whose value differs between the runs; None when a run's folder has no values.
    inputs: Option<Vec<InputDiff>>,
    /// With `--period`: each firm's offshore share period by period.
    by_period: Option<Vec<PeriodLine>>,
    /// The period of `by_period` (the runs' own, or the longer one they were rebuilt to).
    period: &'a str,
    /// Where `by_period` was rebuilt from the runs' shorter periods: how, and what it leaves out.
    rebuilt: Option<String>,
}

/// An input whose value differs between compared runs.
#[derive(Serialize)]
struct InputDiff {
    field: String,
    unit: String,
    /// Per run, in run order (empty where the run has no such input).
    values: Vec<String>,
}

/// The inputs whose value differs between `views` (in field order); None when a view has no
/// values (a folder written before `inputs.csv`).
fn input_diffs(views: &[RunView]) -> Option<Vec<InputDiff>> {
    use std::collections::BTreeMap;
    if views
        .iter()
        .any(|v| !v.provenance.is_empty() && v.provenance.iter().all(|i| i.value.is_empty()))
    {
        return None;
    }
    let mut by_field: BTreeMap<&str, (String, Vec<String>)> = BTreeMap::new();
    for (r, v) in views.iter().enumerate() {
        for i in &v.provenance {
            let e = by_field
                .entry(&i.field)
                .or_insert_with(|| (i.unit.clone(), vec![String::new(); views.len()]));
            e.1[r] = i.value.clone();
        }
    }
    Some(
        by_field
            .into_iter()
            .filter(|(_, (_, values))| values.iter().any(|x| *x != values[0]))
            .map(|(field, (unit, values))| InputDiff {
                field: field.to_string(),
                unit,
                values,
            })
            .collect(),
    )
}

/// `report.html` of a comparison of `views` (baseline first), with `figures` (from
/// `charts::render(views)`) inline.
/// One firm's offshore share in one period, in every run (the comparison by period).
#[derive(Serialize)]
struct PeriodLine {
    firm: String,
    period: String,
    base: Cell,
    others: Vec<DiffCell>,
}

/// The cells of every run after the first against it: its value, its change (shares in points),
/// the paired band where there is one, and its ratio where `ratio` gives one ("—" otherwise).
fn diff_cells(
    values: &[Option<Value>],
    paired: &[Option<Value>],
    unit: &str,
    ratio: Option<&dyn Fn(usize) -> Option<f64>>,
) -> Vec<DiffCell> {
    (1..values.len())
        .map(|i| DiffCell {
            value: cell(values[i], unit),
            diff: match (values[i], values[0]) {
                (Some(v), Some(b)) => format_change(v.mean, b.mean, unit),
                _ => "—".into(),
            },
            paired: paired[i]
                .and_then(|p| p.band)
                .map(|(lo, hi)| format!("{} – {}", format_diff(lo, unit), format_diff(hi, unit))),
            ratio: ratio
                .and_then(|f| f(i))
                .map_or("—".into(), |x| format!("×{x:.3}")),
        })
        .collect()
}

/// The offshore share of each firm in each period where the baseline has one, from a comparison
/// by period: firm by firm (in the runs' order), leaving out firms that train abroad in no period
/// of any run.
fn period_lines(rows: &[compare::PeriodRow]) -> Vec<PeriodLine> {
    let shares: Vec<&compare::PeriodRow> = rows
        .iter()
        .filter(|r| r.metric == "offshore_share" && r.values[0].is_some())
        .collect();
    let mut firms: Vec<&str> = Vec::new();
    for r in &shares {
        let abroad = r.values.iter().flatten().any(|v| v.mean > 0.0);
        if abroad && !firms.contains(&r.firm.as_str()) {
            firms.push(&r.firm);
        }
    }
    let mut shares: Vec<&compare::PeriodRow> = shares
        .into_iter()
        .filter(|r| firms.contains(&r.firm.as_str()))
        .collect();
    shares.sort_by_key(|r| (firms.iter().position(|f| *f == r.firm), r.start));
    shares
        .into_iter()
        .map(|r| PeriodLine {
            firm: r.firm.clone(),
            period: format!("{} to {}", r.start, r.end),
            base: cell(r.values[0], r.unit),
            others: diff_cells(&r.values, &r.paired, r.unit, None),
        })
        .collect()
}

/// What a comparison by `period` of runs written by `from` says of how its figures were rebuilt.
fn rebuilt_note(period: &str, from: &str) -> String {
    let left_out: Vec<&str> = crate::metrics::catalog::FIRM
        .iter()
        .filter(|m| super::view::cannot_coarsen(m.name))
        .map(|m| m.name)
        .collect();
    let fromly = if from == "day" {
        "daily".to_string()
    } else {
        format!("{from}ly")
    };
    format!(
        "The runs were written by {from}: each {period} is rebuilt from its {from}s in each \
         replication (flows summed, stocks at the {period}'s end, shares as the ratio of the \
         summed parts, never a mean of {fromly} ratios), then summarised across replications, as \
         a run written by {period} gives it (up to rounding in the last digits). Figures that \
         cannot be rebuilt from {fromly} values are not compared by {period}: {}; run with \
         --period {period} for them.",
        left_out.join(", ")
    )
}

/// `report.html` of a comparison; with `by_period`, a table of each firm's offshore share period by
/// period.
pub fn compare_report(
    c: &Comparison,
    views: &[RunView],
    figures: &[Chart],
    by_period: Option<&[compare::PeriodRow]>,
) -> Vec<u8> {
    let base = &views[0];
    let last = end_label(compare::end_period(views, &c.window), &base.manifest.period);
    let runs = c
        .labels
        .iter()
        .zip(views)
        .enumerate()
        .map(|(i, (label, v))| {
            let m = &v.manifest;
            let baseline = (i > 0).then_some(base);
            RunEntry {
                label,
                scenario: &m.scenario,
                description: &m.description,
                seed: m.seed,
                replications: m.replications,
                period: &m.period,
                horizon: format!("{} to {}", m.start_date, m.end_date),
                version: &m.capsim_version,
                hash: &m.content_hash[..m.content_hash.len().min(12)],
                policies: policies(v, baseline),
                dropped: baseline.map_or(vec![], |b| {
                    b.manifest
                        .policies
                        .iter()
                        .filter(|bp| !m.policies.iter().any(|p| p.name == bp.name))
                        .map(|bp| bp.name.as_str())
                        .collect()
                }),
            }
        })
        .collect();
    let mut blocks: Vec<DiffBlock> = Vec::new();
    for r in &c.rows {
        let unit = r.unit();
        let row = DiffRow {
            group: group_label(&r.group_kind, &r.group),
            scope: match r.scope {
                Scope::End => "last full period",
                Scope::Total => "whole horizon",
            },
            base: cell(r.values[0], unit),
            // A share's change is its difference in points, not a ratio.
            others: diff_cells(
                &r.values,
                &r.paired,
                unit,
                (!r.is_share()).then_some(&|i| r.ratio(i)),
            ),
        };
        let label = headline_label(r.def, &r.name);
        // Rows of one number are adjacent (end, then total): one block, which says how the total
        // is built.
        if blocks.last().is_none_or(|b| b.label != label) {
            blocks.push(DiffBlock {
                label,
                total_how: String::new(),
                rows: vec![],
            });
        }
        let block = blocks.last_mut().expect("just pushed");
        if r.scope == Scope::Total {
            block.total_how = r.how.clone();
        }
        block.rows.push(row);
    }
    let page = ComparePage {
        version: env!("CARGO_PKG_VERSION"),
        title: c.labels.join(" vs "),
        runs,
        baseline: &c.labels[0],
        others: &c.labels[1..],
        window: horizon_text(&c.window),
        window_trimmed: c.window_trimmed,
        last_period: last,
        any_band: c
            .rows
            .iter()
            .any(|r| r.values.iter().flatten().any(|v| v.band.is_some())),
        blocks,
        figures: figs(figures),
        inputs: input_diffs(views),
        by_period: by_period.map(period_lines),
        period: by_period
            .and_then(|rows| rows.first())
            .map_or(base.manifest.period.as_str(), |r| r.period),
        rebuilt: by_period
            .and_then(|rows| rows.first())
            .and_then(|r| Some((r.period, r.rebuilt_from?)))
            .map(|(period, from)| rebuilt_note(period, from)),
    };
    render("compare.html", page)
}

// ----- a sweep's page ---------------------------------------------------------------------------

/// (title, unit, how) of a sweep headline number, from the catalog; its title is the sweep
/// charts' panel title ([`super::charts::headline_title`]) and a firm's name stays as the scenario
/// spells it.
fn sweep_metric(name: &str) -> (String, &'static str, &'static str) {
    let title = super::charts::headline_title(name);
    match crate::metrics::catalog::headline_of(name) {
        Some((def, _)) => (title, def.metric().unit, compare::how_total(def)),
        None => (title, "", ""),
    }
}

/// Where point `p`'s run folder is, relative to the sweep folder: `points/NNN`, zero-padded to the
/// digits of the largest point index, at least 3 (as `capsim sweep` names them).
pub fn point_folder(p: usize, points: usize) -> String {
    let width = points.saturating_sub(1).to_string().len().max(3);
    format!("points/{p:0width$}")
}

#[derive(Serialize)]
struct AxisRow<'a> {
    number: usize,
    path: &'a str,
    values: &'a [String],
}

#[derive(Serialize)]
struct PointEntry<'a> {
    number: usize,
    label: &'a str,
    /// Link to the point's run report, where the sweep wrote point folders.
    href: Option<String>,
    /// Each axis's value at the point (`as written` where the point leaves it).
    values: Vec<&'a str>,
}

#[derive(Serialize)]
struct PointRow<'a> {
    point: &'a PointEntry<'a>,
    value: Cell,
    /// The mean minus point 0's.
    diff: String,
}

#[derive(Serialize)]
struct SweepBlock<'a> {
    label: String,
    /// The metric's name in `sweep.csv`.
    name: String,
    how: &'static str,
    rows: Vec<PointRow<'a>>,
}

#[derive(Serialize)]
struct SweepPage<'a> {
    version: &'a str,
    scenario: &'a str,
    lede: String,
    facts: Vec<Fact>,
    axes: Vec<AxisRow<'a>>,
    points: &'a [PointEntry<'a>],
    replications: u64,
    any_band: bool,
    point_folders: bool,
    blocks: Vec<SweepBlock<'a>>,
    /// Points past [`PAGE_POINTS`], left out of the tables (sweep.csv has them).
    more_points: usize,
    /// Headline numbers no point has a value for, and those zero at every point (no block).
    empty: Vec<String>,
    zero: Vec<String>,
    figures: Vec<Fig<'a>>,
}

fn sweep_facts(m: &SweepManifest, point_folders: bool) -> Vec<Fact> {
    let n = m.points.len();
    vec![
        Fact {
            label: "Design",
            value: match m.design.as_str() {
                "grid" => "grid: every combination of the axes' values".into(),
                "one_at_a_time" => {
                    "one at a time: each axis varied alone, the others as written".into()
                }
                other => other.to_string(),
            },
        },
        Fact {
            label: "Points",
            value: format!("{n} (point 0 is the scenario as written)"),
        },
        Fact {
            label: "Replications per point",
            value: if m.replications == 1 {
                "1 (no uncertainty bands)".into()
            } else {
                m.replications.to_string()
            },
        },
        Fact {
            label: "Seed",
            value: format!("{} (the same replication seeds at every point)", m.seed),
        },
        Fact {
            label: "Reported by",
            value: m.period.clone(),
        },
        Fact {
            label: "Content hash",
            value: format!("SHA-256 {}", m.content_hash),
        },
        Fact {
            label: "capsim version",
            value: m.capsim_version.clone(),
        },
        Fact {
            label: "Shard",
            value: m.shard.clone(),
        },
        Fact {
            label: "Point run folders",
            value: if point_folders {
                format!(
                    "{}/ to {}/: each point's full run, with its own report (linked below)",
                    point_folder(0, n),
                    point_folder(n.saturating_sub(1), n)
                )
            } else {
                "none: this sweep kept the headline numbers only (--headline-only, or merged \
                 shards); for a point's full run, `capsim run` the scenario with --set for each \
                 of its axes"
                    .into()
            },
        },
    ]
}

/// What the sweep is, in a sentence.
fn sweep_lede(m: &SweepManifest) -> String {
    let n = m.points.len();
    let axes = match m.axes.len() {
        1 => "one field".to_string(),
        k => format!("{k} fields"),
    };
    let how = if m.design == "one_at_a_time" {
        "one at a time"
    } else {
        "in every combination"
    };
    let reps = match m.replications {
        1 => "once".to_string(),
        r => format!("{r} times"),
    };
    format!(
        "The scenario as written and {} variation{} of it, moving {axes} {how}; every point run \
         {reps}, with the same replication seeds.",
        n.saturating_sub(1),
        if n == 2 { "" } else { "s" }
    )
}

/// How to read sweep chart `chart` (its name, see [`super::charts::render_sweep`]).
fn sweep_chart_note(chart: &Chart, m: &SweepManifest) -> Option<String> {
    if chart.name.starts_with("tornado") {
        return Some(
            "Each bar spans the lowest to the highest mean an axis gives a headline number over \
             its values, the other axes as written; the line is the scenario as written and its \
             faint band the 5th to 95th percentile across replications: swings inside it are \
             within the noise."
                .into(),
        );
    }
    let k: usize = chart
        .name
        .strip_prefix("sweep-")?
        .split('-')
        .next()?
        .parse()
        .ok()?;
    let axis = m.axes.get(k.checked_sub(1)?)?;
    let others = if m.design == "grid" && m.axes.len() > 1 {
        " (one line per combination of the other axes' values, or one slice of them, as the \
         chart's note says)"
    } else {
        ""
    };
    Some(format!(
        "Each of these headline numbers against {}: the mean at each value{others}, with its 5th to 95th \
         percentile band across replications; the dashed line is the scenario as written \
         (point 0), with its own faint band.",
        axis.path
    ))
}

/// Most points a sweep page tabulates: beyond that the page would run to megabytes of rows that no
/// reader scrolls; the charts and sweep.csv cover every point.
pub const PAGE_POINTS: usize = 200;

/// `report.html` of a whole (or merged) sweep: its facts, axes and points, every headline number
/// at every point (mean, p05 – p95, difference from point 0), and `figures` (from
/// [`super::charts::render_sweep`]) inline. With `point_folders`, each point's label links to its
/// run report (`points/NNN/report.html`, relative). The tables stop after [`PAGE_POINTS`] points,
/// with a note.
pub fn sweep_report(
    m: &SweepManifest,
    stats: &[PointStat],
    figures: &[Chart],
    point_folders: bool,
) -> Vec<u8> {
    let n = m.points.len();
    let entries: Vec<PointEntry> = m
        .points
        .iter()
        .enumerate()
        .map(|(p, label)| PointEntry {
            number: p,
            label,
            href: point_folders.then(|| format!("{}/report.html", point_folder(p, n))),
            values: (0..m.axes.len())
                .map(|a| {
                    m.point_values
                        .get(p)
                        .and_then(|v| v.get(a))
                        .and_then(|v| v.as_deref())
                        .unwrap_or("as written")
                })
                .collect(),
        })
        .collect();
    let shown = n.min(PAGE_POINTS);
    let at: std::collections::HashMap<(usize, &str), &PointStat> = stats
        .iter()
        .map(|s| ((s.point, s.metric.as_str()), s))
        .collect();
    let value = |p: usize, metric: &str| {
        at.get(&(p, metric)).map(|s| Value {
            mean: s.mean,
            band: (s.n > 1).then_some((s.p05, s.p95)),
        })
    };
    let mut blocks = Vec::new();
    let (mut empty, mut zero) = (Vec::new(), Vec::new());
    for name in crate::metrics::headline_names(&m.firms) {
        let (label, unit, how) = sweep_metric(&name);
        // As the sweep charts do: a number no point has, or zero everywhere, gets no block.
        let values: Vec<Value> = (0..n).filter_map(|p| value(p, &name)).collect();
        if values.is_empty() {
            empty.push(label);
            continue;
        }
        if values
            .iter()
            .all(|v| v.mean == 0.0 && v.band.is_none_or(|(lo, hi)| lo == 0.0 && hi == 0.0))
        {
            zero.push(label);
            continue;
        }
        let reference = value(0, &name);
        let rows = entries[..shown]
            .iter()
            .map(|e| {
                let v = value(e.number, &name);
                PointRow {
                    point: e,
                    value: cell(v, unit),
                    diff: match (e.number, v, reference) {
                        (0, _, _) => "reference".into(),
                        (_, Some(v), Some(r)) => format_change(v.mean, r.mean, unit),
                        _ => "—".into(),
                    },
                }
            })
            .collect();
        blocks.push(SweepBlock {
            label: with_unit(label, unit),
            name,
            how,
            rows,
        });
    }
    let mut figs = figs(figures);
    for (f, chart) in figs.iter_mut().zip(figures) {
        f.note = sweep_chart_note(chart, m);
    }
    let page = SweepPage {
        version: &m.capsim_version,
        scenario: &m.scenario,
        lede: sweep_lede(m),
        facts: sweep_facts(m, point_folders),
        axes: m
            .axes
            .iter()
            .enumerate()
            .map(|(i, a)| AxisRow {
                number: i + 1,
                path: &a.path,
                values: &a.values,
            })
            .collect(),
        points: &entries[..shown],
        more_points: n - shown,
        replications: m.replications,
        any_band: stats.iter().any(|s| s.n > 1),
        point_folders,
        blocks,
        empty,
        zero,
        figures: figs,
    };
    render("sweep.html", page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(format_value(0.4567, "share"), "45.7%");
        assert_eq!(format_value(0.05, "share"), "5%");
        assert_eq!(format_value(2.5e6, "USD"), "$2.5M");
        assert_eq!(format_value(-2.5e6, "USD"), "-$2.5M");
        assert_eq!(format_value(30.0, "hours"), "30 h");
        assert_eq!(format_value(165.0, "hours"), "165 h (6.88 days)");
        assert_eq!(format_value(4.57e6, "PFLOP-days"), "4.57M");
        assert_eq!(format_value(1.53e14, "tokens"), "153T");
        assert_eq!(format_value(2.1e9, "tokens"), "2.1B");
        assert_eq!(format_value(2.0, "jobs"), "2");
        assert_eq!(format_value(0.5, "jobs"), "0.5");
        assert_eq!(format_value(2441.0, "jobs"), "2.44k");
        assert_eq!(format_diff(-0.031, "share"), "−3.1 pp");
        assert_eq!(format_diff(1.5e6, "USD"), "+$1.5M");
        assert_eq!(format_diff(0.0, "jobs"), "±0");
        assert_eq!(format_change(13.3 + 1.8e-15, 13.3, "hours"), "±0 h");
        assert_eq!(format_change(14.3, 13.3, "hours"), "+1 h");
        let d = NaiveDate::from_ymd_opt(2027, 12, 1).unwrap();
        assert_eq!(period_label(d, "month"), "December 2027");
    }

    /// A number reads the same in a table as on a chart's axis: the table's formatter and the
    /// axes' labeller (a lone value or a log tick: `Unit::format`; a linear axis's tick:
    /// `Unit::format_ticks`) give the same string for the same value, in every unit both write.
    #[test]
    fn tables_and_axes_write_a_number_alike() {
        let values = [
            0.0, 0.004, 0.05, 0.25, 1.0, 2.5, 12.0, 40.0, 150.0, 999.0, 2500.0, 20e3, 3e5, 2e6,
            7.5e9, 2.1e9, 3e14, 1.5e14,
        ];
        for (unit, axis) in [
            ("share", format::Unit::Percent),
            ("USD", format::Unit::Usd),
            ("PFLOP-days", format::Unit::Plain),
            ("tokens", format::Unit::Plain),
            ("jobs", format::Unit::Plain),
        ] {
            for x in values {
                let table = format_value(x, unit);
                assert_eq!(table, axis.format(x), "{unit} {x}");
                assert_eq!(table, axis.format_ticks(&[x])[0], "{unit} {x} as a tick");
            }
        }
        // The page that used to read "153 tn" beside an axis reading "300T".
        assert_eq!(format_value(1.53e14, "tokens"), "153T");
        assert_eq!(
            format::Unit::Plain.format_ticks(&[0.0, 1.5e14, 3e14])[2],
            "300T"
        );
    }

    #[test]
    fn xml_declarations_are_dropped_and_scripts_refused() {
        let chart = |svg: &str| Chart {
            name: "c".into(),
            title: "t".into(),
            svg: svg.into(),
            png: vec![],
            pdf: vec![],
        };
        let ok = [chart(
            "<?xml version=\"1.0\"?>\n<svg viewBox=\"0 0 1 1\"></svg>",
        )];
        assert!(figs(&ok)[0].svg.starts_with("<svg"));
        let bad = [chart("<svg><script>alert(1)</script></svg>")];
        assert!(std::panic::catch_unwind(|| figs(&bad)).is_err());
    }

    /// Checks that every element the page opens is closed, in order (void elements and `/>`
    /// aside), and that nothing but markup uses `<`; returns the first problem.
    fn balanced(html: &str) -> Result<(), String> {
        const VOID: &[&str] = &["meta", "br", "hr", "img", "input", "link", "wbr"];
        let mut stack: Vec<String> = Vec::new();
        let mut rest = html;
        while let Some(i) = rest.find('<') {
            rest = &rest[i + 1..];
            let end = rest
                .find('>')
                .ok_or_else(|| format!("unclosed '<' before {:?}", &rest[..rest.len().min(40)]))?;
            let tag = &rest[..end];
            rest = &rest[end + 1..];
            if tag.starts_with('!') {
                continue; // doctype
            }
            if tag.contains('<') {
                return Err(format!("'<' inside a tag: {tag:?}"));
            }
            let closing = tag.starts_with('/');
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if name.is_empty() {
                return Err(format!("a '<' that opens no tag: <{tag}>"));
            }
            if closing {
                match stack.pop() {
                    Some(open) if open == name => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            } else if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
                stack.push(name);
            }
        }
        if stack.is_empty() {
            Ok(())
        } else {
            Err(format!("never closed: {stack:?}"))
        }
    }

    #[test]
    fn the_tag_check_catches_what_it_should() {
        assert!(balanced("<p><b>x</b><br></p><svg><rect/></svg>").is_ok());
        assert!(balanced("<p><b>x</p>").is_err());
        assert!(balanced("<p>x").is_err());
        assert!(balanced("<td>a < b</td>").is_err());
    }

    /// minijinja's HTML escaping, to find user text in the page.
    fn escaped(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#x27;")
            .replace('/', "&#x2f;")
    }

    /// A grid of two axes (one with a hostile path and value), 2 x 2 + 1 points, 3 replications.
    fn hostile_sweep() -> (SweepManifest, Vec<PointStat>, Vec<Chart>) {
        use super::super::sweep::AxisEntry;
        let evil_path = "policy.<script>alert('x')</script>.from";
        let evil_value = "2026-01-01\"><b>bold</b>";
        let axes = vec![
            AxisEntry {
                path: "chips.h100.training_mfu".into(),
                values: vec!["0.3".into(), "0.45".into()],
            },
            AxisEntry {
                path: evil_path.into(),
                values: vec!["2025-07-01".into(), evil_value.into()],
            },
        ];
        let mut points = vec!["as written".to_string()];
        let mut point_values = vec![vec![None, None]];
        for a in &axes[0].values {
            for b in &axes[1].values {
                points.push(format!("{}={a}, {evil_path}={b}", axes[0].path));
                point_values.push(vec![Some(a.clone()), Some(b.clone())]);
            }
        }
        let firms = vec!["acme".to_string()];
        let mut stats = Vec::new();
        for p in 0..points.len() {
            for name in crate::metrics::headline_names(&firms) {
                let mean = match name.as_str() {
                    "evictions" => 0.0,
                    "completion_hours_p50_training" if p > 0 => continue, // no value: a dash
                    "compute_abroad_share" | "tokens_served_share" => 0.25 + 0.05 * p as f64,
                    "offshore_share.acme" => continue, // no value anywhere
                    _ => 1.0e6 * (1.0 + p as f64),
                };
                stats.push(PointStat {
                    point: p,
                    metric: name,
                    n: 3,
                    mean,
                    p05: mean * 0.9,
                    p95: mean * 1.1,
                });
            }
        }
        let manifest = SweepManifest {
            scenario: "evil<i>scenario</i>".into(),
            content_hash: "abc123".into(),
            seed: 42,
            replications: 3,
            period: "month".into(),
            design: "grid".into(),
            axes,
            points,
            point_values,
            written: vec![None, None],
            firms,
            shard: "all".into(),
            capsim_version: "9.9.9".into(),
        };
        let charts = [
            "sweep-1-chips-h100-training-mfu",
            "sweep-2-policy-x",
            "tornado",
        ]
        .iter()
        .map(|n| Chart {
            name: n.to_string(),
            title: format!("Chart <{n}>"),
            svg: "<?xml version=\"1.0\"?>\n<svg viewBox=\"0 0 10 10\"><g><rect/></g></svg>".into(),
            png: vec![],
            pdf: vec![],
        })
        .collect();
        (manifest, stats, charts)
    }

    /// A very large sweep tabulates its first [`PAGE_POINTS`] points and says how many it left out.
    #[test]
    fn a_large_sweep_page_stops_at_page_points_and_says_so() {
        let (mut m, stats, charts) = hostile_sweep();
        let extra = PAGE_POINTS + 7 - m.points.len();
        for i in 0..extra {
            m.points.push(format!("extra point {i}"));
            m.point_values.push(vec![Some("0.3".into()), None]);
        }
        let page = String::from_utf8(sweep_report(&m, &stats, &charts, true)).unwrap();
        balanced(&page).unwrap();
        assert!(page.contains("the other 7 are left out"), "note missing");
        let last_shown = PAGE_POINTS - 1 - (m.points.len() - extra);
        assert!(page.contains(&format!("extra point {last_shown}<")));
        assert!(!page.contains(&format!("extra point {}<", last_shown + 1)));
        let (small, stats, charts) = hostile_sweep();
        let page = String::from_utf8(sweep_report(&small, &stats, &charts, true)).unwrap();
        assert!(!page.contains("left out of this page"));
    }

    #[test]
    fn sweep_page_is_well_formed_escaped_complete_and_links_only_to_point_folders_it_has() {
        let (m, stats, charts) = hostile_sweep();
        for folders in [false, true] {
            let page = String::from_utf8(sweep_report(&m, &stats, &charts, folders)).unwrap();
            balanced(&page).unwrap_or_else(|e| panic!("point folders {folders}: {e}"));
            // Nothing of the user's text goes in unescaped.
            assert!(!page.contains("<script"), "a script tag got through");
            assert!(!page.contains("<b>bold"), "markup in a value got through");
            assert!(
                !page.contains("<i>scenario"),
                "markup in the name got through"
            );
            assert!(page.contains(&escaped("evil<i>scenario</i>")));
            // Every axis, value and point label is named.
            for a in &m.axes {
                assert!(page.contains(&escaped(&a.path)), "axis {} missing", a.path);
                for v in &a.values {
                    assert!(page.contains(&escaped(v)), "value {v} missing");
                }
            }
            for (p, label) in m.points.iter().enumerate() {
                assert!(
                    page.contains(&escaped(label)),
                    "point {p} '{label}' missing"
                );
                let href = format!("href=\"points/{p:03}/report.html\"");
                assert_eq!(page.contains(&href), folders, "point {p}: {href}");
            }
            if !folders {
                assert!(!page.contains("href="), "a link without point folders");
            }
            assert_eq!(page.matches("<a ").count(), page.matches("</a>").count());
            // Point 0 is the reference; differences are against it, in the run report's units.
            assert!(page.contains("<span class=\"band\">reference</span>"));
            assert!(page.contains("<td class=\"num diff\">reference</td>"));
            assert!(page.contains("$2M"), "point 1's spend");
            assert!(page.contains("+$1M"), "point 1's spend against point 0");
            assert!(page.contains("$1.8M – $2.2M"), "point 1's band");
            assert!(page.contains("30%") && page.contains("+5 pp"));
            // Left out, and said so: no value anywhere, or zero everywhere.
            assert!(page.contains("acme: compute abroad"));
            assert!(!page.contains("offshore_share.acme</code>"));
            assert!(page.contains("zero at every point: Jobs evicted by rules"));
            // A value missing at some points reads as a dash.
            assert!(page.contains("<span class=\"v\">—</span>"));
            // Facts, and the charts inline with their captions.
            for fact in ["grid: every combination", "abc123", "9.9.9", "month", "42"] {
                assert!(page.contains(&escaped(fact)), "fact {fact} missing");
            }
            assert!(page.contains("<th scope=\"row\">Shard</th><td>all</td>"));
            assert_eq!(page.matches("<figure ").count(), 3);
            assert!(!page.contains("<?xml"));
            assert!(page.contains("Chart &lt;tornado&gt;. Each bar spans"));
            assert!(page.contains(&format!(
                "Each of these headline numbers against {}: the mean at each value (one line per combination",
                escaped(&m.axes[1].path)
            )));
            assert!(page.contains("common random numbers"));
            assert!(page.contains("5th to the 95th percentile"));
        }
    }

    #[test]
    fn point_folders_are_numbered_as_capsim_sweep_names_them() {
        assert_eq!(point_folder(0, 1), "points/000");
        assert_eq!(point_folder(7, 9), "points/007");
        assert_eq!(point_folder(999, 1000), "points/999");
        assert_eq!(point_folder(5, 1001), "points/0005");
        assert_eq!(point_folder(10_000, 10_001), "points/10000");
    }
}
