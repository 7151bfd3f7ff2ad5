//! `report.html`: a run's, or a comparison's, page. One self-contained file (CSS and charts inline,
//! no scripts, no fetches) that reads well on screen and prints on A4 or Letter.
//!
//! Templates live in `templates/` and are compiled into the binary; minijinja escapes every value
//! (scenario names, descriptions and sources are user input). The only markup inserted unescaped is
//! the charts' SVG, which capsim itself draws. Numbers are formatted here, not in the templates, so
//! that formatting is tested in Rust.

use chrono::NaiveDate;
use minijinja::value::Serde;
use minijinja::Environment;
use serde::Serialize;

use super::charts::Chart;
use super::compare::{self, Comparison, Headline, Metric, Scope, Value, Window};
use super::view::RunView;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("report.html", include_str!("templates/report.html")),
    ("compare.html", include_str!("templates/compare.html")),
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

/// `x` with three significant figures and a short-scale suffix (k, M, bn, tn).
pub fn compact(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let a = x.abs();
    let (v, suffix) = if a >= 1e15 {
        return format!("{} tn", thousands(x / 1e12));
    } else if a >= 1e12 {
        (x / 1e12, " tn")
    } else if a >= 1e9 {
        (x / 1e9, " bn")
    } else if a >= 1e6 {
        (x / 1e6, " M")
    } else if a >= 1e4 {
        (x / 1e3, " k")
    } else if a >= 1e3 {
        return thousands(x);
    } else {
        (x, "")
    };
    let va = v.abs();
    let s = if va >= 99.95 {
        format!("{v:.0}")
    } else if va >= 9.995 {
        format!("{v:.1}")
    } else if va == 0.0 {
        "0".into()
    } else if va >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.1e}")
    };
    format!("{s}{suffix}")
}

/// `x` rounded to an integer with comma thousands separators.
fn thousands(x: f64) -> String {
    let r = x.round();
    let digits = format!("{}", r.abs() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if r < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// A value of `unit` for a reader.
pub fn format_value(x: f64, unit: &str) -> String {
    match unit {
        "share" => format!("{:.1}%", x * 100.0),
        "USD" => {
            if x < 0.0 {
                format!("-${}", compact(-x))
            } else {
                format!("${}", compact(x))
            }
        }
        // Hours throughout, so that values and differences in one row share a unit; days beside
        // long ones.
        "hours" if x.abs() >= 48.0 => format!("{} h ({:.1} days)", compact(x), x / 24.0),
        "hours" => format!("{} h", compact(x)),
        "jobs" if x == x.trunc() => format!("{x:.0}"),
        "jobs" => format!("{x:.1}"),
        _ => compact(x),
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
        "share" => format!("{sign}{:.1} pp", a * 100.0),
        _ => format!("{sign}{}", format_value(a, unit)),
    }
}

/// How a reader calls the period starting `d` (`December 2027`, `week of 2027-12-27`, ...).
pub fn period_label(d: NaiveDate, kind: &str) -> String {
    match kind {
        "month" => d.format("%B %Y").to_string(),
        "week" => format!("week of {d}"),
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

fn metric_label(m: &Metric) -> String {
    match m.unit {
        "share" | "jobs" | "tokens" => capitalise(m.label),
        u => format!("{} ({u})", capitalise(m.label)),
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

// ----- a run's page -----------------------------------------------------------------------------

#[derive(Serialize)]
struct HeadlineRow {
    group: String,
    total: Option<Cell>,
    end: Cell,
}

#[derive(Serialize)]
struct HeadlineBlock {
    label: String,
    has_total: bool,
    total_how: &'static str,
    rows: Vec<HeadlineRow>,
}

fn headline_blocks(hs: &[Headline]) -> Vec<HeadlineBlock> {
    let find = |metric: &str, kind: &str, group: &str, scope: Scope| {
        hs.iter()
            .find(|h| {
                h.metric.name == metric
                    && h.group_kind == kind
                    && h.group == group
                    && h.scope == scope
            })
            .and_then(|h| h.value)
    };
    let mut out: Vec<HeadlineBlock> = Vec::new();
    for m in compare::METRICS {
        let mut rows = Vec::new();
        let mut total_how = "";
        for h in hs
            .iter()
            .filter(|h| h.metric.name == m.name && h.scope == Scope::End)
        {
            let total = find(m.name, &h.group_kind, &h.group, Scope::Total);
            let mut total_cell = (m.total != compare::Aggregate::None).then(|| cell(total, m.unit));
            if let Some(t) = hs.iter().find(|x| {
                x.metric.name == m.name
                    && x.group_kind == h.group_kind
                    && x.group == h.group
                    && x.scope == Scope::Total
            }) {
                total_how = t.how();
            }
            let mut end_cell = cell(h.value, m.unit);
            // Served tokens read best beside demand: the share of demand met.
            if m.name == "tokens_served" {
                let share = |served: Option<Value>, demanded: Option<Value>| {
                    let (s, d) = (served?.mean, demanded?.mean);
                    (d > 0.0).then(|| format!("{:.1}% of demand", 100.0 * s / d))
                };
                end_cell.note = share(
                    h.value,
                    find("tokens_demanded", &h.group_kind, &h.group, Scope::End),
                );
                if let Some(c) = total_cell.as_mut() {
                    c.note = share(
                        total,
                        find("tokens_demanded", &h.group_kind, &h.group, Scope::Total),
                    );
                }
            }
            rows.push(HeadlineRow {
                group: group_label(&h.group_kind, &h.group),
                total: total_cell,
                end: end_cell,
            });
        }
        out.push(HeadlineBlock {
            label: metric_label(m),
            has_total: m.total != compare::Aggregate::None,
            total_how: if m.total == compare::Aggregate::None {
                "none (a count at each period's end)"
            } else {
                total_how
            },
            rows,
        });
    }
    out
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
    headlines: Vec<HeadlineBlock>,
    policies: Vec<Policy<'a>>,
    figures: Vec<Fig<'a>>,
    sites: Vec<Site<'a>>,
    firms: Vec<(&'a str, &'a str)>,
    provenance: &'a [(String, String)],
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
pub fn run_report(view: &RunView, figures: &[Chart]) -> Vec<u8> {
    let m = &view.manifest;
    let window = compare::run_window(view);
    let hs = compare::headlines(view, &window);
    let last = window.periods(view).last().map(|&p| view.periods[p]);
    let page = RunPage {
        version: &m.capsim_version,
        scenario: &m.scenario,
        description: &m.description,
        facts: run_facts(view),
        horizon: horizon_text(&window),
        last_period: last.map_or("—".into(), |d| period_label(d, &m.period)),
        any_band: hs.iter().any(|h| h.value.is_some_and(|v| v.band.is_some())),
        headlines: headline_blocks(&hs),
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
    total_how: &'static str,
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
}

/// `report.html` of a comparison of `views` (baseline first), with `figures` (from
/// `charts::render(views)`) inline.
pub fn compare_report(c: &Comparison, views: &[RunView], figures: &[Chart]) -> Vec<u8> {
    let base = &views[0];
    let last = c
        .window
        .periods(base)
        .last()
        .map(|&p| period_label(base.periods[p], &base.manifest.period));
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
    for m in compare::METRICS {
        let rows: Vec<DiffRow> = c
            .rows
            .iter()
            .filter(|r| r.metric.name == m.name)
            .map(|r| DiffRow {
                group: group_label(&r.group_kind, &r.group),
                scope: match r.scope {
                    Scope::End => "last period",
                    Scope::Total => "whole window",
                },
                base: cell(r.values[0], m.unit),
                others: (1..r.values.len())
                    .map(|i| DiffCell {
                        value: cell(r.values[i], m.unit),
                        diff: r.diff(i).map_or("—".into(), |d| format_diff(d, m.unit)),
                        ratio: r.ratio(i).map_or("—".into(), |x| format!("×{x:.3}")),
                    })
                    .collect(),
            })
            .collect();
        if !rows.is_empty() {
            blocks.push(DiffBlock {
                label: metric_label(m),
                total_how: c
                    .rows
                    .iter()
                    .find(|r| r.metric.name == m.name && r.scope == Scope::Total)
                    .map_or("none (a count at each period's end)", |r| r.how),
                rows,
            });
        }
    }
    let page = ComparePage {
        version: env!("CARGO_PKG_VERSION"),
        title: c.labels.join(" vs "),
        runs,
        baseline: &c.labels[0],
        others: &c.labels[1..],
        window: horizon_text(&c.window),
        window_trimmed: c.window_trimmed,
        last_period: last.unwrap_or_else(|| "—".into()),
        any_band: c
            .rows
            .iter()
            .any(|r| r.values.iter().flatten().any(|v| v.band.is_some())),
        blocks,
        figures: figs(figures),
    };
    render("compare.html", page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(3.456), "3.46");
        assert_eq!(compact(42.25), "42.2");
        assert_eq!(compact(999.6), "1000");
        assert_eq!(compact(1234.0), "1,234");
        assert_eq!(compact(12_345.0), "12.3 k");
        assert_eq!(compact(2.5e6), "2.50 M");
        assert_eq!(compact(7.1e9), "7.10 bn");
        assert_eq!(compact(3.3e13), "33.0 tn");
        assert_eq!(compact(1.5e15), "1,500 tn");
        assert_eq!(format_value(0.4567, "share"), "45.7%");
        assert_eq!(format_value(2.5e6, "USD"), "$2.50 M");
        assert_eq!(format_value(30.0, "hours"), "30.0 h");
        assert_eq!(format_value(165.0, "hours"), "165 h (6.9 days)");
        assert_eq!(format_value(4.57e6, "PFLOP-days"), "4.57 M");
        assert_eq!(format_value(2.0, "jobs"), "2");
        assert_eq!(format_value(0.5, "jobs"), "0.5");
        assert_eq!(format_diff(-0.031, "share"), "−3.1 pp");
        assert_eq!(format_diff(1.5e6, "USD"), "+$1.50 M");
        assert_eq!(format_diff(0.0, "jobs"), "±0");
        let d = NaiveDate::from_ymd_opt(2027, 12, 1).unwrap();
        assert_eq!(period_label(d, "month"), "December 2027");
    }

    #[test]
    fn xml_declarations_are_dropped_and_scripts_refused() {
        let chart = |svg: &str| Chart {
            name: "c".into(),
            title: "t".into(),
            svg: svg.into(),
            png: vec![],
        };
        let ok = [chart(
            "<?xml version=\"1.0\"?>\n<svg viewBox=\"0 0 1 1\"></svg>",
        )];
        assert!(figs(&ok)[0].svg.starts_with("<svg"));
        let bad = [chart("<svg><script>alert(1)</script></svg>")];
        assert!(std::panic::catch_unwind(|| figs(&bad)).is_err());
    }
}
