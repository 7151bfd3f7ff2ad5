//! Tests of the sweep charts on sweeps laid out by the real planner, with statistics made up so
//! that every effect is known.

use super::super::tests::{balanced, png_info, review_dir, save_for_review};
use super::super::{draw as base, render_sweep, style, ChartError, HEIGHT, WIDTH};
use super::draw::{fitting_ticks, x_ticks};
use super::*;
use crate::experiment::sweep::{parse_axis, Design, Plan, Shard};

const MFU: &str = "chips.h100.training_mfu=0.3,0.4,0.5";
const DATES: &str = "policy.lease-ban.from=2026-01-01..2027-01-01/quarter";
const WORDS: &str = "firms.alpha.placement=cheapest,earliest_finish,home_first";

/// The manifest of a sweep over `axes` (as `--vary` writes them) under `design`.
fn manifest(axes: &[&str], design: Design, replications: u64) -> SweepManifest {
    let plan = Plan::new(
        axes.iter().map(|a| parse_axis(a).unwrap()).collect(),
        design,
    )
    .unwrap();
    SweepManifest {
        scenario: "test-sweep".into(),
        content_hash: "0".into(),
        firms: vec!["alpha".into(), "beta".into()],
        capsim_version: "0.0.0".into(),
        ..SweepManifest::of_plan(&plan, 1, replications, "month", Shard::ALL)
    }
}

/// Value index of each axis at a point (None: as written).
fn indices(m: &SweepManifest, p: usize) -> Vec<Option<usize>> {
    m.point_values[p]
        .iter()
        .zip(&m.axes)
        .map(|(v, a)| {
            v.as_ref()
                .map(|v| a.values.iter().position(|x| x == v).unwrap())
        })
        .collect()
}

/// Statistics where `effect(metric, axis indices)` moves each metric from its level; point 0 has
/// no effect. `evictions` has no value anywhere, `blocked_jobs_end` is zero everywhere.
fn stats(
    m: &SweepManifest,
    effect: &dyn Fn(&str, &[Option<usize>]) -> f64,
    spread: f64,
) -> Vec<PointStat> {
    let mut out = Vec::new();
    for p in 0..m.points.len() {
        let idx = indices(m, p);
        for name in headline_names(&m.firms) {
            let level = match name.as_str() {
                "evictions" => continue,
                "blocked_jobs_end" => 0.0,
                n if n.contains("share") => 0.4,
                "cost_usd" => 7e8,
                "tokens_served" => 2.7e15,
                _ => 4e6,
            };
            let mean = level * (1.0 + effect(&name, &idx));
            out.push(PointStat {
                point: p,
                metric: name,
                n: m.replications as usize,
                mean,
                p05: mean * (1.0 - spread),
                p95: mean * (1.0 + spread),
            });
        }
    }
    out
}

/// A simple effect: each set axis adds (index + 1) x 5% x (axis number + 1).
fn linear(_: &str, idx: &[Option<usize>]) -> f64 {
    idx.iter()
        .enumerate()
        .map(|(a, i)| i.map_or(0.0, |i| (i + 1) as f64 * 0.05 * (a + 1) as f64))
        .sum()
}

fn axis_charts(specs: &[SweepSpec]) -> Vec<&AxisChart> {
    specs
        .iter()
        .filter_map(|s| match s {
            SweepSpec::Axis(c) => Some(c),
            SweepSpec::Tornado(_) => None,
        })
        .collect()
}

/// The axis charts of the compute-and-cost theme: one per axis.
fn compute_charts(specs: &[SweepSpec]) -> Vec<&AxisChart> {
    axis_charts(specs)
        .into_iter()
        .filter(|c| c.theme == Theme::Compute)
        .collect()
}

/// The first tornado (of compute and cost).
fn tornado(specs: &[SweepSpec]) -> Option<&Tornado> {
    specs.iter().find_map(|s| match s {
        SweepSpec::Tornado(t) => Some(t),
        SweepSpec::Axis(_) => None,
    })
}

/// The spec named `name`.
fn spec<'a>(specs: &'a [SweepSpec], name: &str) -> &'a SweepSpec {
    specs
        .iter()
        .find(|s| s.name() == name)
        .unwrap_or_else(|| panic!("no chart '{name}'"))
}

/// The chart names of axes `axes` (as in chart names) and, with `tornado`, the tornados: each
/// with one chart per theme.
fn names_of(axes: &[&str], tornado: bool) -> Vec<String> {
    const THEMES: [&str; 6] = [
        "compute", "costs", "service", "backlog", "capacity", "firms",
    ];
    let mut out: Vec<String> = axes
        .iter()
        .enumerate()
        .flat_map(|(a, path)| THEMES.map(|t| format!("sweep-{}-{path}-{t}", a + 1)))
        .collect();
    if tornado {
        out.extend(THEMES.map(|t| format!("tornado-{t}")));
    }
    out
}

/// Whether an SVG draws exactly `text` as one text element (plotters puts it on a line of its own).
fn draws(svg: &str, text: &str) -> bool {
    svg.contains(&format!(">\n{text}\n</text>"))
}

fn svg_of(spec: &SweepSpec) -> String {
    style::register_fonts().unwrap();
    base::svg(spec).unwrap()
}

#[test]
fn one_at_a_time_sweeps_get_a_chart_per_axis_and_a_tornado_as_valid_deterministic_images() {
    let m = manifest(&[MFU, DATES, WORDS], Design::OneAtATime, 4);
    let st = stats(&m, &linear, 0.03);
    let charts = render_sweep(&m, &st).unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        names_of(
            &[
                "chips-h100-training-mfu",
                "policy-lease-ban-from",
                "firms-alpha-placement"
            ],
            true
        )
    );
    for c in &charts {
        let (w, h, colours) = png_info(&c.png);
        assert_eq!((w, h), (WIDTH, HEIGHT), "{}", c.name);
        assert!(colours > 100, "{}: only {colours} colours", c.name);
        assert!(c.svg.starts_with("<svg"), "{}", c.name);
        assert!(c.svg.trim_end().ends_with("</svg>"), "{}", c.name);
        balanced(&c.svg).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert!(c.svg.contains(&c.title), "{}: no title", c.name);
        assert!(c.svg.contains("as written"), "{}: no reference", c.name);
        assert!(c.svg.contains("Source: capsim 0.0.0 sweep of test-sweep"));
    }
    assert_eq!(
        charts[0].title,
        "Sweep over chips.h100.training_mfu: compute"
    );
    assert!(charts
        .last()
        .unwrap()
        .title
        .starts_with("Sensitivity of compute abroad by firm"));
    save_for_review("oat", &charts);
    // Same input, same bytes, PNGs included.
    let again = render_sweep(&m, &st).unwrap();
    assert!(charts == again, "a second render differs");
}

#[test]
fn axes_are_calendar_linear_or_categorical_from_their_labels() {
    let m = manifest(&[MFU, DATES, WORDS, "a.b=1,x"], Design::OneAtATime, 4);
    let specs = build(&m, &stats(&m, &linear, 0.03)).unwrap();
    let charts = compute_charts(&specs);
    let kinds: Vec<XKind> = charts.iter().map(|c| c.x.kind).collect();
    assert_eq!(
        kinds,
        [XKind::Number, XKind::Date, XKind::Category, XKind::Category]
    );
    // Dates sit at their day numbers, on a month calendar.
    let dates = &charts[1].x;
    assert_eq!(dates.values[0].1, "2026-01-01");
    assert_eq!(dates.values[1].0 - dates.values[0].0, 90.0);
    let ticks: Vec<String> = x_ticks(dates, 400.0).into_iter().map(|t| t.1).collect();
    assert!(ticks.contains(&"2026-07".to_string()), "{ticks:?}");
    // A sweep of a few days is labelled with its dates.
    let short = x_axis("p.d", &["2026-03-01".into(), "2026-03-05".into()]);
    let ticks: Vec<String> = x_ticks(&short, 400.0).into_iter().map(|t| t.1).collect();
    assert_eq!(ticks, ["2026-03-01", "2026-03-05"]);
    // Numbers on nice ticks that cover the values; categories in the order given.
    let ticks: Vec<String> = x_ticks(&charts[0].x, 400.0)
        .into_iter()
        .map(|t| t.1)
        .collect();
    for v in ["0.30", "0.40", "0.50"] {
        assert!(ticks.contains(&v.to_string()), "{ticks:?}");
    }
    let words: Vec<String> = x_ticks(&charts[2].x, 400.0)
        .into_iter()
        .map(|t| t.1)
        .collect();
    assert_eq!(words, ["cheapest", "earliest_finish", "home_first"]);
    // And drawn, in every theme's chart: calendar and category labels in the SVG (long words
    // may wrap at '_', never elsewhere).
    for c in axis_charts(&specs) {
        let svg = svg_of(&SweepSpec::Axis(c.clone()));
        if c.name.starts_with("sweep-2-") {
            assert!(draws(&svg, "2026-07"), "{}: date ticks", c.name);
            assert!(svg.contains("policy.lease-ban.from (date set at each point)"));
        }
        if c.name.starts_with("sweep-3-") {
            assert!(
                draws(&svg, "cheapest") && draws(&svg, "home_first"),
                "{}: words",
                c.name
            );
            assert!(svg.contains("earliest_"), "{}: words", c.name);
        }
    }
}

#[test]
fn one_at_a_time_charts_show_the_points_that_set_only_their_axis() {
    let m = manifest(&[MFU, DATES], Design::OneAtATime, 4);
    let specs = build(&m, &stats(&m, &linear, 0.03)).unwrap();
    let charts = compute_charts(&specs);
    for (a, c) in charts.iter().enumerate() {
        let p = &c.panels[0];
        assert_eq!(p.metric.name, "compute_pflop_days");
        assert_eq!(p.series.len(), 1);
        let means: Vec<f64> = p.series[0]
            .points
            .iter()
            .map(|(_, s)| s.unwrap().mean)
            .collect();
        let want: Vec<f64> = (0..m.axes[a].values.len())
            .map(|i| 4e6 * (1.0 + (i + 1) as f64 * 0.05 * (a + 1) as f64))
            .collect();
        assert_eq!(means, want, "axis {a}");
        // The reference is point 0, as written.
        let b = p.baseline.unwrap();
        assert_eq!((b.mean, b.lo, b.hi), (4e6, 4e6 * 0.97, 4e6 * 1.03));
        assert!(p.baseline_band && p.series[0].band);
        assert!(c.legend.contains(&LegendItem::Line {
            label: "as written (point 0)".into(),
            style: baseline_style(),
            band: true,
        }));
        assert!(c.notes.iter().any(|n| n.starts_with("One field at a time")));
    }
    let svg = svg_of(&specs[0]);
    assert!(draws(&svg, "as written"));
    assert!(svg.contains("5th to 95th percentile"));
}

#[test]
fn a_grid_of_one_axis_has_every_point_and_a_tornado() {
    let m = manifest(&[MFU], Design::Grid, 4);
    let specs = build(&m, &stats(&m, &linear, 0.03)).unwrap();
    let names: Vec<&str> = specs.iter().map(|s| s.name()).collect();
    assert_eq!(names, names_of(&["chips-h100-training-mfu"], true));
    let c = axis_charts(&specs)[0];
    assert_eq!(c.panels[0].series.len(), 1);
    assert_eq!(c.panels[0].series[0].points.len(), 3);
    assert!(c.subtitle.contains("one-axis grid"));
    let t = tornado(&specs).unwrap();
    assert_eq!(t.panels[0].bars.len(), 1);
}

#[test]
fn a_grid_of_several_axes_overlays_the_other_axes_and_draws_no_tornado() {
    // Two axes: a line per value of the other, legend by value under the other's path.
    let m = manifest(&["a.x=1,2", "b.y=3,4,5"], Design::Grid, 4);
    let specs = build(&m, &stats(&m, &linear, 0.03)).unwrap();
    let names: Vec<&str> = specs.iter().map(|s| s.name()).collect();
    assert_eq!(names, names_of(&["a-x", "b-y"], false));
    assert!(tornado(&specs).is_none());
    let charts = compute_charts(&specs);
    let a = &charts[0];
    assert_eq!(a.panels[0].series.len(), 3);
    assert_eq!(
        a.panels[0].series[2].label.as_deref(),
        Some("b.y=5"),
        "series follow the other axis's values"
    );
    // At a.x=2 (index 1) and b.y=5 (index 2): 5% x 2 + 10% x 3.
    let (x, s) = a.panels[0].series[2].points[1];
    assert_eq!(x, 2.0);
    assert!((s.unwrap().mean - 4e6 * 1.4).abs() < 1e-3);
    assert!(a
        .legend
        .contains(&LegendItem::Heading("One line per value of b.y".into())));
    assert!(a.legend.iter().any(|l| matches!(l,
        LegendItem::Line { label, .. } if label == "5")));
    assert_eq!(charts[1].panels[0].series.len(), 2);

    // Three axes, four combinations of the others: one series each, named by both.
    let m = manifest(&["a.x=1,2", "b.y=3,4", "c.z=x,w"], Design::Grid, 4);
    let specs = build(&m, &stats(&m, &linear, 0.03)).unwrap();
    let a = axis_charts(&specs)[0];
    let labels: Vec<&str> = a.panels[0]
        .series
        .iter()
        .map(|s| s.label.as_deref().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "b.y=3, c.z=x",
            "b.y=3, c.z=w",
            "b.y=4, c.z=x",
            "b.y=4, c.z=w"
        ]
    );
    assert!(!a.notes.iter().any(|n| n.contains("slice")));

    // More than five combinations: the slice at the others' middle values, said in a note.
    let m = manifest(&["a.x=1,2", "b.y=3,4,5", "c.z=x,w,v"], Design::Grid, 4);
    let specs = build(&m, &stats(&m, &linear, 0.03)).unwrap();
    let a = axis_charts(&specs)[0];
    assert_eq!(a.panels[0].series.len(), 1);
    assert_eq!(a.panels[0].series[0].label.as_deref(), Some("b.y=4, c.z=w"));
    assert_eq!(a.panels[0].series[0].points.len(), 2);
    let note = a.notes.iter().find(|n| n.contains("slice")).expect("note");
    assert!(
        note.contains("9 combinations") && note.contains("b.y=4, c.z=w"),
        "{note}"
    );
    balanced(&svg_of(&specs[0])).unwrap();
}

#[test]
fn tornado_bars_are_ordered_by_swing_and_labelled_with_the_values_at_their_ends() {
    let m = manifest(&[MFU, DATES], Design::OneAtATime, 4);
    // Compute: the date axis swings most, falling as the date gets later. Cost: the MFU axis
    // swings most. Tokens served: neither moves.
    let effect = |metric: &str, idx: &[Option<usize>]| -> f64 {
        let (mfu, date) = (idx[0], idx[1]);
        match metric {
            "compute_pflop_days" => {
                mfu.map_or(0.0, |i| 0.01 * i as f64) - date.map_or(0.0, |i| 0.05 * i as f64)
            }
            "cost_usd" => {
                mfu.map_or(0.0, |i| 0.2 * i as f64) + date.map_or(0.0, |i| 0.01 * i as f64)
            }
            "tokens_served" => 0.0,
            _ => linear(metric, idx),
        }
    };
    let specs = build(&m, &stats(&m, &effect, 0.03)).unwrap();
    let t = tornado(&specs).unwrap();
    let panel = |name: &str| {
        specs
            .iter()
            .find_map(|s| match s {
                SweepSpec::Tornado(t) => t.panels.iter().find(|p| p.metric.name == name),
                SweepSpec::Axis(_) => None,
            })
            .unwrap()
    };
    let compute = panel("compute_pflop_days");
    let order: Vec<&str> = compute.bars.iter().map(|b| b.axis.as_str()).collect();
    assert_eq!(order, ["policy.lease-ban.from", "chips.h100.training_mfu"]);
    let top = &compute.bars[0];
    assert_eq!(
        (top.low_label.as_str(), top.high_label.as_str()),
        ("2027-01-01", "2026-01-01")
    );
    assert!((top.swing() - 4e6 * 0.2).abs() < 1e-3);
    assert!(compute.bars[0].swing() > compute.bars[1].swing());
    let cost = panel("cost_usd");
    let order: Vec<&str> = cost.bars.iter().map(|b| b.axis.as_str()).collect();
    assert_eq!(order, ["chips.h100.training_mfu", "policy.lease-ban.from"]);
    assert_eq!(
        (
            cost.bars[0].low_label.as_str(),
            cost.bars[0].high_label.as_str()
        ),
        ("0.3", "0.5")
    );
    // No movement: bars of zero swing, in axis order.
    let flat = panel("tokens_served");
    assert!(flat.bars.iter().all(|b| b.swing() == 0.0 && b.values > 1));
    let order: Vec<&str> = flat.bars.iter().map(|b| b.axis.as_str()).collect();
    assert_eq!(order, ["chips.h100.training_mfu", "policy.lease-ban.from"]);
    // The reference is point 0 with its band.
    assert_eq!(compute.baseline.unwrap().mean, 4e6);
    assert!(compute.baseline_band);
    let svg = svg_of(&SweepSpec::Tornado(t.clone()));
    for text in ["2027-01-01", "0.3", "policy.lease-ban.from"] {
        assert!(draws(&svg, text), "tornado: no '{text}'");
    }
    let svg = svg_of(spec(&specs, "tornado-service"));
    assert!(draws(&svg, "same at every value"), "tornado-service");
}

#[test]
fn metrics_without_values_or_only_zeros_get_no_panel_and_are_named() {
    let m = manifest(&[MFU, DATES], Design::OneAtATime, 4);
    let specs = build(&m, &stats(&m, &linear, 0.03)).unwrap();
    // Per axis, and for the tornados: the charts of the themes together have a panel for every
    // headline number but the two with no value or only zeros, each once.
    for prefix in ["sweep-1-", "sweep-2-", "tornado-"] {
        let mut names: Vec<&str> = Vec::new();
        for s in specs.iter().filter(|s| s.name().starts_with(prefix)) {
            let (theme, panels): (Theme, Vec<&MetricInfo>) = match s {
                SweepSpec::Axis(c) => (c.theme, c.panels.iter().map(|p| &p.metric).collect()),
                SweepSpec::Tornado(t) => (t.theme, t.panels.iter().map(|p| &p.metric).collect()),
            };
            assert!(
                !panels.is_empty() && panels.len() <= MAX_PANELS,
                "{}: {} panels",
                s.name(),
                panels.len()
            );
            assert!(panels.iter().all(|p| p.theme == theme), "{}", s.name());
            names.extend(panels.iter().map(|p| p.name.as_str()));
        }
        let all = headline_names(&m.firms);
        assert_eq!(names.len(), all.len() - 2, "{prefix}: {names:?}");
        for n in &all {
            let drawn = names.iter().filter(|x| *x == n).count();
            let expect = usize::from(n != "evictions" && n != "blocked_jobs_end");
            assert_eq!(drawn, expect, "{prefix}: {n}");
        }
    }
    for s in &specs {
        let notes = match s {
            SweepSpec::Axis(c) => &c.notes,
            SweepSpec::Tornado(t) => &t.notes,
        };
        assert!(
            notes
                .iter()
                .any(|n| n.contains("no value at any point: evictions")
                    && n.contains("zero at every point: blocked_jobs_end")),
            "{}: {notes:?}",
            s.name()
        );
    }
}

#[test]
fn a_theme_with_more_numbers_than_a_chart_holds_is_split_evenly() {
    let mut m = manifest(&[MFU], Design::Grid, 2);
    m.firms = (1..=10).map(|i| format!("firm{i}")).collect();
    let specs = build(&m, &stats(&m, &linear, 0.03)).unwrap();
    let firms: Vec<&AxisChart> = axis_charts(&specs)
        .into_iter()
        .filter(|c| c.theme == Theme::Firms)
        .collect();
    let parts: Vec<(&str, usize)> = firms
        .iter()
        .map(|c| (c.name.as_str(), c.panels.len()))
        .collect();
    assert_eq!(
        parts,
        [
            ("sweep-1-chips-h100-training-mfu-firms-1", 5),
            ("sweep-1-chips-h100-training-mfu-firms-2", 5)
        ]
    );
    assert!(firms[1].title.ends_with("compute abroad by firm (2 of 2)"));
    assert_eq!(firms[1].panels[0].metric.name, "offshore_share.firm6");
    assert!(specs.iter().any(|s| s.name() == "tornado-firms-2"));
}

#[test]
fn one_replication_draws_no_band() {
    let m = manifest(&[MFU, DATES], Design::OneAtATime, 1);
    let specs = build(&m, &stats(&m, &linear, 0.0)).unwrap();
    for s in &specs {
        let svg = svg_of(s);
        assert!(!svg.contains("5th to 95th"), "{}", s.name());
    }
    let c = axis_charts(&specs)[0];
    assert!(c.subtitle.contains("One replication per point"));
    assert!(c.panels.iter().all(|p| !p.baseline_band));
}

#[test]
fn bad_manifests_are_errors() {
    let m = manifest(&[MFU], Design::Grid, 2);
    let st = stats(&m, &linear, 0.03);
    let mut odd = m.clone();
    odd.design = "latin_square".into();
    let e = render_sweep(&odd, &st).unwrap_err();
    assert!(matches!(e, ChartError::BadSweep { .. }), "{e}");
    assert!(e.to_string().contains("latin_square"));
    let mut short = m.clone();
    short.point_values.pop();
    assert!(matches!(
        render_sweep(&short, &st),
        Err(ChartError::BadSweep { .. })
    ));
    let mut fewer = m.clone();
    fewer.points.truncate(2);
    fewer.point_values.truncate(2);
    let e = render_sweep(&fewer, &st).unwrap_err();
    assert!(e.to_string().contains("point 2"), "{e}");
}

#[test]
fn names_ticks_and_ranges() {
    assert_eq!(slug("chips.h100.training_mfu"), "chips-h100-training-mfu");
    assert_eq!(slug("policy.lease-ban.from"), "policy-lease-ban-from");
    assert_eq!(slug("..."), "axis");
    // Tick labels never crowd: at most one tick per label width plus a gap.
    style::register_fonts().unwrap();
    let ticks = fitting_ticks(2.7651e15, 2.7853e15, 250.0, Unit::Plain);
    assert!(ticks.len() >= 2, "{ticks:?}");
    let gap = |t: &[(f64, String)]| (t[1].0 - t[0].0) / (2.7853e15 - 2.7651e15) * 250.0;
    let widest = ticks
        .iter()
        .map(|t| base::text_w(&t.1, 14.5, false))
        .fold(0.0, f64::max);
    assert!(gap(&ticks) >= widest + 14.0, "{ticks:?}");
    let ticks = fitting_ticks(0.288, 0.512, 400.0, Unit::Plain);
    let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
    assert_eq!(labels, ["0.30", "0.35", "0.40", "0.45", "0.50"]);
    assert_eq!(grid_cols(9), 3);
    assert_eq!(grid_cols(11), 4);
}

/// The headline numbers the sweeps report (experiment::sweep), each of which the table names.
const HEADLINES: [&str; 18] = [
    "compute_pflop_days",
    "lost_pflop_days",
    "compute_abroad_share",
    "cost_usd",
    "cost_firms_usd",
    "cost_idle_usd",
    "tokens_served",
    "tokens_served_share",
    "training_jobs_completed",
    "fine_tuning_jobs_completed",
    "completion_hours_p50_training",
    "completion_hours_p50_fine_tuning",
    "backlog_training_end",
    "backlog_fine_tuning_end",
    "waiting_jobs_end",
    "blocked_jobs_end",
    "backlog_age_hours_mean_end",
    "evictions",
];

#[test]
fn every_headline_number_has_words_and_a_unit_and_others_a_generic_title() {
    let mut titles = Vec::new();
    for name in HEADLINES {
        let m = metric_info(name);
        assert_ne!(m.title, name, "{name} has no title of its own");
        assert!(!m.unit_title.is_empty(), "{name} has no unit");
        titles.push(m.title);
    }
    titles.sort();
    titles.dedup();
    assert_eq!(
        titles.len(),
        HEADLINES.len(),
        "two headline numbers share a title"
    );
    assert_eq!(metric_info("cost_idle_usd").unit, Unit::Usd);
    assert_eq!(metric_info("offshore_share.alpha").unit, Unit::Percent);
    let g = metric_info("energy_mwh");
    assert_eq!((g.title.as_str(), g.unit_title.as_str()), ("Energy", "MWh"));
    let g = metric_info("wait_hours_p95");
    assert_eq!(
        (g.title.as_str(), g.unit_title.as_str()),
        ("Wait p95", "hours")
    );
    let g = metric_info("new_thing");
    assert_eq!((g.title.as_str(), g.unit_title.as_str()), ("New thing", ""));
    for odd in ["", "_", "_usd", "é_share"] {
        assert!(
            !metric_info(odd).title.is_empty() || odd.is_empty(),
            "{odd:?}"
        );
    }
}

/// A one-axis sweep whose tokens served sit between 2,760T and 2,800T at every point.
fn tokens_near_2780t() -> (SweepManifest, Vec<PointStat>) {
    let m = manifest(&[MFU], Design::Grid, 4);
    let st = stats(
        &m,
        &|name, idx| {
            let i = idx[0].map_or(1.0, |i| i as f64);
            if name == "tokens_served" {
                // 2.7e15 x (1 + ...) in 2.76e15 ..= 2.80e15.
                2.76e15 / 2.7e15 - 1.0 + i * 0.02e15 / 2.7e15
            } else {
                0.0
            }
        },
        0.002,
    );
    (m, st)
}

#[test]
fn sweep_value_axes_start_at_zero_and_say_how_far_the_means_spread() {
    let (m, st) = tokens_near_2780t();
    let specs = build(&m, &st).unwrap();
    let service = match spec(&specs, "sweep-1-chips-h100-training-mfu-service") {
        SweepSpec::Axis(c) => c,
        SweepSpec::Tornado(_) => unreachable!(),
    };
    let p = service
        .panels
        .iter()
        .find(|p| p.metric.name == "tokens_served")
        .unwrap();
    let (ticks, lo, hi) = super::draw::panel_axis(p, 5);
    assert_eq!(lo, 0.0, "the axis of 2,760T..2,800T starts at {lo}");
    assert!(hi >= 2.8e15 && ticks[0] == 0.0, "{ticks:?}");
    // 2,760T..2,800T around 2,780T as written: 40/2780 = 1.4%.
    assert_eq!(p.spread.as_deref(), Some("spread 1.4%"));
    let share = service
        .panels
        .iter()
        .find(|p| p.metric.name == "tokens_served_share")
        .unwrap();
    assert_eq!(share.spread.as_deref(), Some("spread 0 pts"));
    // Negative values keep 0 in view too.
    assert_eq!(super::draw::value_ticks(-5.0, -3.0, 4).2, 0.0);
    let svg = svg_of(spec(&specs, "sweep-1-chips-h100-training-mfu-service"));
    assert!(draws(&svg, "spread 1.4%"), "the spread is cut");
    assert!(svg.contains("Value axes start at 0"));
    if review_dir().is_some() {
        save_for_review("near", &render_sweep(&m, &st).unwrap());
    }
}

#[test]
fn a_tornado_far_from_zero_marks_its_broken_axis() {
    let (m, st) = tokens_near_2780t();
    let specs = build(&m, &st).unwrap();
    let SweepSpec::Tornado(t) = spec(&specs, "tornado-service") else {
        panic!("a one-axis grid has tornados");
    };
    let p = t
        .panels
        .iter()
        .find(|p| p.metric.name == "tokens_served")
        .unwrap();
    let (lo, _, broken) = super::draw::tornado_range(p).unwrap();
    assert!(lo > 2.7e15 && broken);
    let svg = svg_of(spec(&specs, "tornado-service"));
    assert!(svg.contains(super::draw::BROKEN));
    assert!(t
        .notes
        .iter()
        .any(|n| n.starts_with("Tornado axes span the swings and do not start at 0")));
}
