//! Tests of the charts on a small run view built by hand.

use std::collections::BTreeMap;

use chrono::{Months, NaiveDate};

use super::*;
use crate::report::manifest::{FirmEntry, Ledger, Manifest, PolicyEntry, SiteEntry};
use crate::report::view::{Band, RunView};

const NAMES: [&str; 7] = [
    "throughput-compute",
    "throughput-tokens",
    "cost-spend",
    "cost-unit",
    "compute-share",
    "sites",
    "training",
];

fn policy(name: &str, from: &str, until: Option<&str>) -> PolicyEntry {
    PolicyEntry {
        name: name.into(),
        rule: "export_ban".into(),
        summary: format!("summary of {name}"),
        from: from.into(),
        until: until.map(Into::into),
        source: None,
    }
}

/// A year of monthly periods, two sites in two jurisdictions, two firms, `reps` replications.
fn view(scenario: &str, reps: usize, scale: f64) -> RunView {
    let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let periods: Vec<NaiveDate> = (0..12).map(|m| start + Months::new(m)).collect();
    let manifest = Manifest {
        scenario: scenario.into(),
        description: "test".into(),
        content_hash: "0".into(),
        files: vec![],
        overrides: vec![],
        seed: 1,
        replications: reps as u64,
        period: "month".into(),
        start_date: "2025-01-01".into(),
        end_date: "2025-12-31".into(),
        capsim_version: "0.0.0".into(),
        wall_time_s: 0.0,
        events: 0,
        jobs: Ledger::default(),
        sites: vec![
            SiteEntry {
                name: "cn-ascend".into(),
                jurisdiction: "CN".into(),
                operator: "domestic".into(),
                chip: "ascend-910c".into(),
            },
            SiteEntry {
                name: "johor-h100".into(),
                jurisdiction: "MY".into(),
                operator: "foreign".into(),
                chip: "h100".into(),
            },
        ],
        firms: vec![
            FirmEntry {
                name: "alpha".into(),
                headquarters: "CN".into(),
            },
            FirmEntry {
                name: "beta".into(),
                headquarters: "CN".into(),
            },
        ],
        policies: vec![
            policy("old-ban", "2022-10-07", None),
            policy("permit-delay", "2025-04-09", None),
            policy("lease-ban", "2025-04-20", Some("2025-10-01")),
        ],
    };
    let band = |i: usize, level: f64| {
        let mean = scale * level * (1.0 + 0.1 * i as f64);
        let spread = if reps > 1 { 0.2 * mean } else { 0.0 };
        Some(Band {
            mean,
            p05: mean - spread,
            p95: mean + spread,
            n: reps,
        })
    };
    let mut series = BTreeMap::new();
    let mut put = |kind: &str, group: &str, metric: &str, level: f64| {
        let v: Vec<Option<Band>> = (0..periods.len()).map(|i| band(i, level)).collect();
        series.insert((kind.into(), group.into(), metric.into()), v);
    };
    for (kind, group, k) in [
        ("all", "all", 2.0),
        ("jurisdiction", "CN", 1.0),
        ("jurisdiction", "MY", 1.5),
    ] {
        put(kind, group, "compute_pflop_days", 40_000.0 * k);
        put(kind, group, "lost_pflop_days", 2_000.0 * k);
        put(kind, group, "cost_usd", 5e6 * k);
        put(kind, group, "cost_idle_usd", 1e6 * k);
        put(kind, group, "cost_unpaid_usd", 1e6 * k);
        put(kind, group, "completion_hours_p50_training", 400.0 * k);
        put(kind, group, "completion_hours_p50_fine_tuning", 20.0 * k);
        put(kind, group, "usd_per_pflop_day", 140.0);
        put(kind, group, "usd_per_million_tokens", 0.05);
    }
    put("site", "cn-ascend", "utilisation", 0.5);
    put("site", "johor-h100", "utilisation", 0.7);
    put("firms", "all", "tokens_served", 9e12);
    put("firms", "all", "tokens_demanded", 9.5e12);
    // What firms paid: with the idle part (all sites, 2e6), sites' 1e7 in all.
    put("firms", "all", "cost_home_usd", 5e6);
    put("firms", "all", "cost_abroad_usd", 3e6);
    put("firms", "all", "usd_per_pflop_day", 150.0);
    put("firms", "all", "usd_per_million_tokens", 0.06);
    put("firms", "all", "backlog_training_end", 12.0);
    put("firms", "all", "backlog_fine_tuning_end", 40.0);
    for firm in ["alpha", "beta"] {
        put("firm", firm, "compute_home_pflop_days", 10_000.0);
        put("firm", firm, "compute_abroad_pflop_days", 30_000.0);
    }
    // A site that comes online mid-year: no utilisation before.
    if let Some(v) = series.get_mut(&("site".into(), "cn-ascend".into(), "utilisation".into())) {
        for b in v.iter_mut().take(3) {
            *b = None;
        }
    }
    RunView {
        run: scenario.to_string(),
        manifest,
        period_days: periods
            .iter()
            .map(|&d| ((d + Months::new(1)) - d).num_days() as f64)
            .collect(),
        periods,
        series,
        provenance: vec![],
        headlines: vec![],
    }
}

/// The charts as SVG only (name, svg): PNGs cost most of a render, and tests of what a chart
/// shows need only the SVG (both come from the same drawing code).
fn svgs(runs: &[RunView]) -> Vec<(&'static str, String)> {
    style::register_fonts().unwrap();
    spec::build(runs)
        .unwrap()
        .iter()
        .map(|s| (s.name, draw::svg(s).unwrap()))
        .collect()
}

pub(super) fn png_info(bytes: &[u8]) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    let px = info.color_type.samples();
    // Every third pixel is plenty to tell a chart from a blank page, and cheaper to sort.
    let mut colours: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks(px)
        .step_by(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    colours.sort_unstable();
    colours.dedup();
    (info.width, info.height, colours.len())
}

/// Checks that tags open and close in order (enough XML for our output: no comments or CDATA).
pub(super) fn balanced(svg: &str) -> Result<(), String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').ok_or("unclosed '<'")?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .ok_or(format!("</{name}> without an opening tag"))?;
            if open != name.trim() {
                return Err(format!("<{open}> closed by </{name}>"));
            }
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().unwrap_or(""));
        }
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed: {stack:?}"))
    }
}

/// `$CAPSIM_CHART_DIR`, where the tests that render charts also write their PNGs for a person to
/// look at (`CAPSIM_CHART_DIR=/tmp/c cargo test --lib report::charts`); None (write nothing) when
/// it is not set.
pub(super) fn review_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("CAPSIM_CHART_DIR").map(std::path::PathBuf::from)
}

/// Writes `charts` as `<dir>/<tag>-<name>.png` when [`review_dir`] is set.
pub(super) fn save_for_review(tag: &str, charts: &[Chart]) {
    let Some(dir) = review_dir() else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    for c in charts {
        std::fs::write(dir.join(format!("{tag}-{}.png", c.name)), &c.png).unwrap();
        std::fs::write(dir.join(format!("{tag}-{}.pdf", c.name)), &c.pdf).unwrap();
    }
}

/// Each chart's PDF: one page of 8 x 4.5 inches (576 x 324 points), its text embedded as text in
/// the bundled DejaVu Sans (subset; regular and bold) and no other font, titled with the chart's
/// title, with no date; the same bytes when drawn again (fresh hash seeds in every map).
#[test]
fn pdfs_are_one_page_in_the_bundled_font_and_the_same_when_drawn_again() {
    let charts = render(&[view("pdf-run", 3, 1.0)]).unwrap();
    let again = render(&[view("pdf-run", 3, 1.0)]).unwrap();
    for (c, d) in charts.iter().zip(&again) {
        assert!(c.pdf.starts_with(b"%PDF-"), "{}", c.name);
        assert!(c.pdf == d.pdf, "{}: PDF differs when drawn again", c.name);
        let text = String::from_utf8_lossy(&c.pdf);
        assert_eq!(
            text.matches("/Type /Page\n").count()
                + text.matches("/Type /Page ").count()
                + text.matches("/Type /Page/").count(),
            1,
            "{}",
            c.name
        );
        assert!(text.contains("/MediaBox [0 0 576 324]"), "{}", c.name);
        let fonts: Vec<&str> = text
            .match_indices("/BaseFont /")
            .map(|(i, _)| text[i + 11..].split(['\n', ' ', '/']).next().unwrap())
            .collect();
        assert!(!fonts.is_empty(), "{}: no font", c.name);
        assert!(
            fonts
                .iter()
                .all(|f| f.ends_with("+DejaVuSans") || f.ends_with("+DejaVuSans-Bold")),
            "{}: {fonts:?}",
            c.name
        );
        assert!(text.contains("/FontFile2"), "{}: font not embedded", c.name);
        assert!(!text.contains("CreationDate"), "{}", c.name);
    }
}

fn find<'a>(charts: &'a [Chart], name: &str) -> &'a Chart {
    charts.iter().find(|c| c.name == name).expect(name)
}

#[test]
fn every_chart_is_drawn_as_valid_png_and_svg_deterministically() {
    let charts = render(&[view("test-run", 8, 1.0)]).unwrap();
    // Same input, same bytes: every SVG, and the PNGs of the two charts with the most drawing (a
    // second full render would double the slowest test of an unoptimised build).
    let again = svgs(&[view("test-run", 8, 1.0)]);
    let specs = spec::build(&[view("test-run", 8, 1.0)]).unwrap();
    for (c, (name, svg)) in charts.iter().zip(&again) {
        assert_eq!(c.name, *name);
        // The chart is the drawing with its title and description for assistive technology.
        let body = &svg[svg.find('>').unwrap() + 1..];
        let (head, rest) = c.svg.split_once("</desc>").expect("a <desc>");
        assert!(rest == body, "{name}: SVG differs between two renders");
        assert!(
            head.starts_with(&format!(
                "{} role=\"img\" aria-labelledby=\"{name}-title {name}-desc\">",
                &svg[..svg.find('>').unwrap()]
            )),
            "{name}: {head}"
        );
        assert!(
            head.contains(&format!("<title id=\"{name}-title\">")),
            "{name}"
        );
    }
    for s in specs
        .iter()
        .filter(|s| s.name == "sites" || s.name == "compute-share")
    {
        let png = draw::png(s).unwrap_or_else(|_| panic!("png"));
        assert!(find(&charts, s.name).png == png, "{}: PNG differs", s.name);
    }
    let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, NAMES);
    save_for_review("one", &charts);
    for c in &charts {
        let (w, h, colours) = png_info(&c.png);
        assert_eq!((w, h), (WIDTH, HEIGHT), "{}", c.name);
        // 200 dpi, in the PNG's pHYs chunk.
        let dims = png::Decoder::new(c.png.as_slice())
            .read_info()
            .unwrap()
            .info()
            .pixel_dims
            .expect("a pHYs chunk");
        assert_eq!(
            (dims.xppu, dims.yppu, dims.unit),
            (
                draw::PIXELS_PER_METRE,
                draw::PIXELS_PER_METRE,
                png::Unit::Meter
            )
        );
        assert!(colours > 100, "{}: only {colours} colours", c.name);
        assert!(c.svg.starts_with("<svg"), "{}", c.name);
        assert!(c.svg.trim_end().ends_with("</svg>"), "{}", c.name);
        balanced(&c.svg).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert!(!c.title.is_empty());
        assert!(c.svg.contains(&c.title.replace('\'', "&apos;")) || c.svg.contains(&c.title));
        // Every chart carries the policy timeline: marks 1, 2 and 2 end, the key, the note on the
        // rule in force throughout.
        for text in [
            "2025-04-09  permit-delay: summary of permit-delay",
            "2025-04-20 to 2025-10-01  lease-ban: summary of lease-ban",
            "2 end",
            "1 other rule in force for the whole horizon",
        ] {
            assert!(c.svg.contains(text), "{}: no '{text}'", c.name);
        }
        assert!(
            !c.svg.contains("old-ban"),
            "{}: a rule from before the start is keyed",
            c.name
        );
    }
    let expect = [
        (
            "throughput-compute",
            &[
                "China (CN)",
                "Malaysia (MY)",
                "All sites",
                "PFLOP/s (average over the period)",
                "Lost to failures, all sites (4.76% of all compute done)",
                "lost to failures, all sites",
                "daily rates",
                "2025-07",
            ][..],
        ),
        (
            "throughput-tokens",
            &[
                "tokens served",
                "tokens demanded",
                "tokens per day",
                "% of demand",
            ],
        ),
        (
            "cost-spend",
            &[
                "USD per day",
                "China (CN)",
                "$",
                "paid by firms at home",
                "paid by firms abroad",
                "idle, paid by no firm",
                "what the sites cost (total)",
            ],
        ),
        (
            "cost-unit",
            &["USD per PFLOP-day", "USD per million tokens", "test-run"],
        ),
        (
            "compute-share",
            &["alpha (home: CN)", "beta (home: CN)", "abroad", "at home"],
        ),
        (
            "sites",
            &[
                "cn-ascend (CN, ascend-910c)",
                "johor-h100 (MY, h100)",
                "Utilisation",
                "no chips online",
                "100%",
            ],
        ),
        (
            "training",
            &[
                "days, median job (log scale)",
                "China (CN)",
                "Malaysia (MY)",
                "Pre-training: median days from arrival to completion",
                "Fine-tuning: median days from arrival to completion",
                "Pre-training: jobs not finished at the end of the period",
                "Fine-tuning: jobs not finished at the end of the period",
                "jobs waiting, blocked or running",
                "all firms&apos; jobs",
            ],
        ),
    ];
    for (name, texts) in expect {
        let c = find(&charts, name);
        for t in texts {
            assert!(
                c.svg.contains(t),
                "{name}: no '{t}' in {:?}",
                c.svg
                    .split(['>', '<'])
                    .filter(|x| x.contains(&t[..8]))
                    .collect::<Vec<_>>()
            );
        }
        if name != "sites" {
            assert!(
                c.svg.contains("5th to 95th percentile"),
                "{name}: no band legend"
            );
        }
    }
}

#[test]
fn runs_are_overlaid_with_scenario_names() {
    let mut what_if = view("what-if", 8, 0.6);
    what_if
        .manifest
        .policies
        .push(policy("new-rule", "2025-08-01", None));
    let runs = [view("baseline", 8, 1.0), what_if];
    let charts = svgs(&runs);
    assert_eq!(charts.len(), NAMES.len());
    for (name, svg) in &charts {
        assert!(
            svg.contains("baseline") && svg.contains("what-if"),
            "{name}"
        );
        assert!(svg.contains("new-rule [only in what-if]: "), "{name}");
        balanced(svg).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let svg = |name: &str| &charts.iter().find(|c| c.0 == name).expect(name).1;
    // Split charts get a panel per group, runs overlaid in each.
    assert!(svg("throughput-compute").contains("All sites"));
    assert!(svg("throughput-compute").contains("Malaysia (MY)"));
    // A panel per firm, each run's series of both metrics in it: colour for the run, dash for
    // the metric, and a legend for each.
    let share = spec::build(&runs)
        .unwrap()
        .into_iter()
        .find(|s| s.name == "compute-share")
        .unwrap();
    let titles: Vec<_> = share.panels.iter().map(|p| p.title.as_deref()).collect();
    assert_eq!(titles, [Some("alpha"), Some("beta")]);
    for p in &share.panels {
        let spec::Body::Lines(series) = &p.body else {
            panic!("compute-share draws lines")
        };
        let styles: Vec<_> = series
            .iter()
            .map(|s| (s.style.color, s.style.dash))
            .collect();
        assert_eq!(styles.len(), 4);
        assert_eq!(styles[0].1, styles[1].1, "one dash for a metric");
        assert_ne!(styles[0].0, styles[1].0, "one colour for a run");
        assert_ne!(styles[0].1, styles[2].1);
        assert_eq!(styles[0].0, styles[2].0);
    }
    for label in ["abroad", "at home", "baseline", "what-if"] {
        assert!(svg("compute-share").contains(label), "{label}");
    }
    // Each run's share of compute lost goes in a note: in the panel's title it would not fit.
    let spec = spec::build(&runs).unwrap().remove(0);
    let lost = spec.panels.last().and_then(|p| p.title.as_deref());
    assert_eq!(lost, Some("Lost to failures, all sites"));
    assert!(spec.notes.iter().any(|n| n
        .starts_with("Lost to failures, as a share of all compute done: baseline ")
        && n.contains(", what-if ")));
    // One PNG of the comparison (the full set costs seconds in an unoptimised build).
    let png = draw::png(&spec).unwrap_or_else(|_| panic!("png"));
    let (w, h, colours) = png_info(&png);
    assert_eq!((w, h), (WIDTH, HEIGHT));
    assert!(colours > 100);
    // Every PNG of the comparison only for a person to look at (seconds in a debug build).
    if review_dir().is_some() {
        save_for_review("two", &render(&runs).unwrap());
    }
}

#[test]
fn one_replication_draws_no_band() {
    for (name, svg) in svgs(&[view("single", 1, 1.0)]) {
        assert!(!svg.contains("5th to 95th percentile"), "{name}");
        assert!(svg.contains("One replication"), "{name}");
    }
}

#[test]
fn bad_input_is_an_error() {
    assert!(matches!(render(&[]), Err(ChartError::NoRuns)));
    let mut weekly = view("weekly", 2, 1.0);
    weekly.manifest.period = "week".into();
    let e = render(&[view("monthly", 2, 1.0), weekly]).unwrap_err();
    assert!(matches!(e, ChartError::MixedPeriods { .. }), "{e}");
    assert!(e.to_string().contains("--period"));
    let mut bad = view("bad", 2, 1.0);
    bad.manifest.policies[1].from = "soon".into();
    assert!(matches!(render(&[bad]), Err(ChartError::BadDate { .. })));
}

#[test]
fn missing_series_still_draw() {
    let mut v = view("sparse", 4, 1.0);
    v.series.clear();
    let charts = svgs(&[v]);
    assert_eq!(charts.len(), NAMES.len());
    for (name, svg) in &charts {
        balanced(svg).unwrap_or_else(|e| panic!("{name}: {e}"));
        if *name != "sites" {
            assert!(svg.contains("no data"), "{name}");
        }
    }
}

#[test]
fn close_rules_are_staggered() {
    let mut v = view("crowded", 2, 1.0);
    v.manifest.policies = vec![
        policy("a", "2025-03-01", None),
        policy("b", "2025-03-03", None),
        policy("c", "2025-03-05", Some("2025-03-08")),
        policy("d", "2025-09-01", None),
    ];
    let specs = spec::build(&[v]).unwrap();
    let s = &specs[0];
    let labels: Vec<&str> = s.marks.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(labels, ["1", "2", "3", "3 end", "4"]);
    let levels = draw::mark_levels(s, 1000.0);
    // The four early labels each get their own level; the lone September one sits on the first.
    assert_eq!(levels, [0, 1, 2, 3, 0]);
}

/// The means of a panel's series, per series (None where a period has no value).
fn means(panel: &spec::Panel) -> Vec<Vec<Option<f64>>> {
    match &panel.body {
        spec::Body::Lines(series) => series
            .iter()
            .map(|s| s.points.iter().map(|p| p.v.map(|v| v.mean)).collect())
            .collect(),
        spec::Body::Heatmap(_) => panic!("a heatmap"),
    }
}

#[test]
fn period_lengths_come_from_the_dates() {
    let v = view("months", 1, 1.0);
    let days = spec::period_days(&v).unwrap();
    assert_eq!(days[..3], [31.0, 28.0, 31.0]);
    assert_eq!(days[11], 31.0);
    // A horizon that ends on 2025-12-10 leaves a last month of 10 days.
    let mut short = view("short", 1, 1.0);
    short.manifest.end_date = "2025-12-10".into();
    assert_eq!(spec::period_days(&short).unwrap()[11], 10.0);
}

#[test]
fn a_partial_last_week_at_the_same_daily_rate_draws_at_the_same_height() {
    // Four weeks from Monday 2025-01-06; the horizon ends on Friday 2025-01-31, so the last
    // week has 5 days. Every flow runs at the same daily rate throughout.
    let mut v = view("weekly", 1, 1.0);
    v.manifest.period = "week".into();
    v.manifest.start_date = "2025-01-06".into();
    v.manifest.end_date = "2025-01-31".into();
    let start = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
    v.periods = (0..4).map(|w| start + chrono::Days::new(7 * w)).collect();
    let days = [7.0, 7.0, 7.0, 5.0];
    let flow = |per_day: f64| -> Vec<Option<Band>> {
        days.iter()
            .map(|d| {
                let mean = per_day * d;
                Some(Band {
                    mean,
                    p05: mean,
                    p95: mean,
                    n: 1,
                })
            })
            .collect()
    };
    v.series.clear();
    let mut put = |kind: &str, group: &str, metric: &str, per_day: f64| {
        v.series
            .insert((kind.into(), group.into(), metric.into()), flow(per_day));
    };
    put("all", "all", "compute_pflop_days", 1_300.0);
    put("all", "all", "lost_pflop_days", 65.0);
    put("jurisdiction", "CN", "compute_pflop_days", 1_300.0);
    put("all", "all", "cost_usd", 3e5);
    put("all", "all", "cost_idle_usd", 1e5);
    put("firms", "all", "cost_home_usd", 1.5e5);
    put("firms", "all", "cost_abroad_usd", 0.5e5);
    put("firms", "all", "tokens_served", 3e11);
    put("firms", "all", "tokens_demanded", 3.2e11);
    put("firm", "alpha", "compute_abroad_pflop_days", 800.0);
    let specs = spec::build(&[v]).unwrap();
    let chart = |name: &str| specs.iter().find(|s| s.name == name).expect(name);
    let flat = |panel: &spec::Panel, want: f64| {
        for (i, s) in means(panel).iter().enumerate() {
            if s.iter().all(Option::is_none) {
                continue;
            }
            for m in s {
                let m = m.expect("a value in every week");
                assert!((m - want).abs() < 1e-9 * want, "series {i}: {m} != {want}");
            }
        }
    };
    let compute = chart("throughput-compute");
    flat(&compute.panels[0], 1_300.0);
    let lost = compute.panels.last().unwrap();
    assert!(lost
        .title
        .as_deref()
        .unwrap()
        .starts_with("Lost to failures"));
    flat(lost, 65.0);
    assert_eq!(
        means(&chart("throughput-tokens").panels[0])[0],
        [Some(3e11); 4]
    );
    let spend = &chart("cost-spend").panels[0];
    assert_eq!(means(spend)[0], [Some(1.5e5); 4]);
    assert_eq!(means(spend)[3], [Some(3e5); 4]);
    assert_eq!(
        means(&chart("compute-share").panels[0])[1],
        [Some(800.0); 4]
    );
}

#[test]
fn spend_stacks_who_paid_up_to_what_the_sites_cost() {
    let specs = spec::build(&[view("spend", 4, 1.0)]).unwrap();
    let spend = specs.iter().find(|s| s.name == "cost-spend").unwrap();
    let top = &spend.panels[0];
    let spec::Body::Lines(series) = &top.body else {
        panic!("lines")
    };
    let stacked: Vec<_> = series.iter().filter(|s| s.stacked).collect();
    let total: Vec<_> = series.iter().filter(|s| !s.stacked).collect();
    assert_eq!((stacked.len(), total.len()), (3, 1));
    for i in 0..total[0].points.len() {
        let sum: f64 = stacked.iter().map(|s| s.points[i].v.unwrap().mean).sum();
        let t = total[0].points[i].v.unwrap().mean;
        assert!(
            (sum - t).abs() < 1e-6 * t,
            "period {i}: parts {sum} != total {t}"
        );
    }
    // The unit-cost chart reads the summary's net figure.
    let unit = specs.iter().find(|s| s.name == "cost-unit").unwrap();
    assert!(unit.panels[0].title.as_deref().unwrap().contains("useful"));
}

#[test]
fn completion_times_come_per_kind_beside_the_backlog() {
    for runs in [
        vec![view("one", 4, 1.0)],
        vec![view("a", 4, 1.0), view("b", 4, 0.5)],
    ] {
        let specs = spec::build(&runs).unwrap();
        let t = specs.iter().find(|s| s.name == "training").unwrap();
        let titles: Vec<&str> = t
            .panels
            .iter()
            .map(|p| p.title.as_deref().unwrap())
            .collect();
        assert_eq!(
            titles,
            [
                "Pre-training: median days from arrival to completion",
                "Fine-tuning: median days from arrival to completion",
                "Pre-training: jobs not finished at the end of the period",
                "Fine-tuning: jobs not finished at the end of the period",
            ]
        );
        assert_eq!(t.cols, 2, "each kind's backlog under its completion time");
        assert!(t.panels[0].log && !t.panels[2].log);
        // 400 hours at all sites in the first month: 16.7 days; the backlog is a count.
        let first = |p: &spec::Panel| means(p)[0][0].unwrap();
        assert!((first(&t.panels[0]) - 400.0 * 2.0 / 24.0).abs() < 1e-9);
        assert_eq!(first(&t.panels[2]), 12.0);
    }
}

#[test]
fn no_lost_compute_is_said_not_drawn() {
    let mut v = view("no-failures", 2, 1.0);
    v.series.retain(|k, _| k.2 != "lost_pflop_days");
    let specs = spec::build(&[v]).unwrap();
    let c = &specs[0];
    assert!(c
        .panels
        .iter()
        .all(|p| !p.title.as_deref().unwrap_or("").contains("Lost")));
    assert!(c.notes.iter().any(|n| n.contains("No compute was lost")));
}

// ---------------------------------------------------------------------------------------------
// Observations on the charts

mod observations {
    use super::*;
    use crate::metrics::catalog::{self, Metric};
    use crate::metrics::Members;
    use crate::report::observed::{Held, Status};
    use crate::scenario::observations::{Observation, Target};

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// An observation of `metric` over `group` (`members` as the scenario resolves it), held with
    /// `window` (None: outside the horizon).
    #[allow(clippy::too_many_arguments)]
    fn held(
        on: &str,
        from: Option<&str>,
        metric: &'static Metric,
        per_day: bool,
        group: &str,
        members: Members,
        (low, value, high): (f64, f64, f64),
        input: bool,
        window: Option<(&str, &str)>,
    ) -> Held {
        Held {
            obs: Observation {
                line: 2,
                date: date(on),
                from: from.map(date),
                metric: metric.name.into(),
                group: group.into(),
                value,
                low,
                high,
                unit: String::new(),
                source: "test".into(),
                used_as_input: input,
                note: String::new(),
                target: Some(Target {
                    metric,
                    members,
                    per_day,
                    complement: false,
                }),
            },
            window: window.map(|(a, b)| (date(a), date(b))),
            sim: None,
            status: if input {
                Status::Input
            } else {
                Status::NoValue
            },
        }
    }

    fn firm(name: &str) -> &'static Metric {
        catalog::firm_metric(name).unwrap()
    }

    fn site(name: &str) -> &'static Metric {
        catalog::site_metric(name).unwrap()
    }

    fn all_firms() -> Members {
        Members::Firms(vec![0, 1])
    }

    /// The test run's observations: two of tokens per day (one an input), one before the horizon,
    /// a quarter's compute in CN, chips of a chip (no chart), and backlogs far above the curve.
    fn observations() -> Vec<Held> {
        let tokens = firm("tokens_served");
        let month = Some(("2025-03-01", "2025-03-31"));
        let quarter = Some(("2025-04-01", "2025-06-30"));
        vec![
            // Its value near the curve (~3e11 a day), its range far above: cut at the cap.
            held(
                "2025-03-15",
                None,
                tokens,
                true,
                "national",
                all_firms(),
                (3e11, 4e11, 5e13),
                false,
                month,
            ),
            held(
                "2025-06-30",
                Some("2025-04-01"),
                tokens,
                true,
                "national",
                all_firms(),
                (4e11, 5e11, 6e11),
                true,
                quarter,
            ),
            held(
                "2024-06-30",
                None,
                tokens,
                true,
                "national",
                all_firms(),
                (1e11, 2e11, 3e11),
                false,
                None,
            ),
            held(
                "2025-06-30",
                Some("2025-04-01"),
                site("compute_pflop_days"),
                false,
                "jurisdiction:CN",
                Members::Sites(vec![0]),
                (91.0 * 1500.0, 91.0 * 2000.0, 91.0 * 2500.0),
                false,
                quarter,
            ),
            held(
                "2025-06-30",
                None,
                site("chips_online"),
                false,
                "chip:h100",
                Members::Sites(vec![1]),
                (4000.0, 4096.0, 4096.0),
                true,
                Some(("2025-06-01", "2025-06-30")),
            ),
            held(
                "2025-08-31",
                None,
                firm("backlog_training_end"),
                false,
                "national",
                all_firms(),
                (800.0, 1000.0, 1200.0),
                false,
                Some(("2025-08-01", "2025-08-31")),
            ),
        ]
    }

    fn observed_specs(v: RunView, held: &[Held]) -> Vec<spec::Spec> {
        let mut specs = spec::build(&[v]).unwrap();
        observed::attach(&mut specs, held);
        specs
    }

    fn chart<'a>(specs: &'a [spec::Spec], name: &str) -> &'a spec::Spec {
        specs.iter().find(|s| s.name == name).expect(name)
    }

    fn counts(spec: &spec::Spec) -> Vec<usize> {
        spec.panels.iter().map(|p| p.observed.len()).collect()
    }

    #[test]
    fn observations_go_on_the_curve_that_measures_them_in_its_units() {
        let specs = observed_specs(view("obs", 2, 1.0), &observations());
        let tokens = chart(&specs, "throughput-tokens");
        // Tokens served, not the unserved share; the one before the horizon is left out.
        assert_eq!(counts(tokens), [2, 0]);
        let (a, b) = (&tokens.panels[0].observed[0], &tokens.panels[0].observed[1]);
        // A day's figure on its day; a window's at its middle, with the window as a bar.
        assert_eq!((a.x, a.span, a.value, a.input), (73.5, None, 4e11, false));
        assert_eq!((b.x, b.span, b.input), (135.5, Some((90.0, 181.0)), true));
        // Near the curve, so linear; the range running far above is cut at the top edge, and the
        // axis need only reach the value.
        assert!(!tokens.panels[0].log && !a.off_scale);
        assert_eq!((a.high, a.axis_high), (5e13, 4e11));
        assert_eq!(b.axis_high, b.high);

        // A quarter's total compute in CN, per day over the quarter's 91 days, on CN's panel.
        let compute = chart(&specs, "throughput-compute");
        assert_eq!(counts(compute), [0, 1, 0]);
        let c = &compute.panels[1].observed[0];
        assert_eq!((c.low, c.value, c.high), (1500.0, 2000.0, 2500.0));
        // Not stacked layers (who paid), not a chip (no such series), not the heatmap.
        for name in ["cost-spend", "cost-unit", "compute-share", "sites"] {
            assert!(
                counts(chart(&specs, name)).iter().all(|&n| n == 0),
                "{name}"
            );
            assert!(chart(&specs, name)
                .legend
                .iter()
                .all(|i| !matches!(i, spec::LegendItem::Observed { .. })));
        }
        // Legends: both kinds on the tokens chart, only held out on the compute chart.
        let observed_items = |s: &spec::Spec| -> Vec<bool> {
            s.legend
                .iter()
                .filter_map(|i| match i {
                    spec::LegendItem::Observed { input, .. } => Some(*input),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(observed_items(tokens), [false, true]);
        assert_eq!(observed_items(compute), [false]);
        assert!(tokens.notes.iter().any(|n| n.starts_with("Diamonds")));
    }

    #[test]
    fn far_observations_take_a_log_axis_or_go_off_the_scale() {
        style::register_fonts().unwrap();
        // Backlogs of ~12 to 25 jobs, observed at 1,000: the panel goes to a log axis.
        let specs = observed_specs(view("far", 2, 1.0), &observations());
        let training = chart(&specs, "training");
        assert_eq!(counts(training), [0, 0, 1, 0]);
        let p = &training.panels[2];
        assert!(p.log && p.y_title.ends_with("(log scale)"));
        assert!(!p.observed[0].off_scale);
        assert!(training.notes.iter().any(|n| n.contains("Log scale")));

        // With a period of no backlog it cannot: the observation is drawn off the scale, and
        // the axis stays the curve's.
        let mut v = view("zero", 2, 1.0);
        let key = ("firms".into(), "all".into(), "backlog_training_end".into());
        v.series.get_mut(&key).unwrap()[0] = Some(Band {
            mean: 0.0,
            p05: 0.0,
            p95: 0.0,
            n: 2,
        });
        let specs = observed_specs(v, &observations());
        let training = chart(&specs, "training");
        let p = &training.panels[2];
        assert!(!p.log && p.observed[0].off_scale);
        assert!(training
            .notes
            .iter()
            .any(|n| n.contains("Arrows at the top")));
        let svg = draw::svg(training).unwrap();
        // The arrow, in the held-out colours, labelled with the value.
        assert!(
            svg.contains("\n1k off scale\n</text>"),
            "the value by the arrow"
        );
        let yellow = svg
            .lines()
            .filter(|l| l.starts_with("<polygon") && l.contains("fill=\"#F0E442\""))
            .count();
        assert_eq!(yellow, 1 + 1, "the arrow and the legend's sample");
        if review_dir().is_some() {
            let chart = finish(training.name, &training.title, "", training).unwrap();
            save_for_review("off-scale", &[chart]);
        }
    }

    #[test]
    fn observations_draw_deterministically_in_their_styles() {
        style::register_fonts().unwrap();
        let held = observations();
        let a = render_observed(&[view("det", 2, 1.0)], &held).unwrap();
        let b = render_observed(&[view("det", 2, 1.0)], &held).unwrap();
        let tokens = find(&a, "throughput-tokens");
        assert!(tokens.svg == find(&b, "throughput-tokens").svg);
        assert!(tokens.png == find(&b, "throughput-tokens").png);
        let fills = |svg: &str, fill: &str| {
            svg.lines()
                .filter(|l| l.starts_with("<polygon") && l.contains(&format!("fill=\"{fill}\"")))
                .count()
        };
        // One held out and one input, each with its legend sample.
        assert_eq!(fills(&tokens.svg, "#F0E442"), 2);
        assert_eq!(fills(&tokens.svg, "#8C8C8C"), 2);
        assert!(tokens.svg.contains("observed (held out)"));
        assert!(tokens.svg.contains("observed (input)"));
        // Without observations, the charts are what they were.
        let plain = render(&[view("det", 2, 1.0)]).unwrap();
        for c in &plain {
            assert_eq!(fills(&c.svg, "#F0E442") + fills(&c.svg, "#8C8C8C"), 0);
        }
        save_for_review("observed", &a);
    }
}
