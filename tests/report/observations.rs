//! Observations: loaded and checked with the scenario, held against the run over their window,
//! and shown in `observations.csv` and report.html.

use std::path::Path;

use capsim::report::observed::{self, Status};
use capsim::scenario;

use crate::support::{capsim, run, tmp, two_sites};

/// The two-site world serving 1e12 tokens a day (flat: no growth, no daily cycle), which 4,096
/// H100 at 2,800 tokens/s (~1e12 a day) nearly cover, with its observations in `obs.csv`.
fn world(dir: &Path, observations: &str) -> String {
    let workloads = r#"
[[firms.acme.workloads]]
name = "chat"
kind = "inference"
tokens_per_day = 5e11
growth_per_year = 1
daily_amplitude = 0
"#;
    let text = format!("observations = \"obs.csv\"\n{}", two_sites("", workloads));
    let path = dir.join("world.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::write(dir.join("obs.csv"), observations).unwrap();
    path.display().to_string()
}

const HEADER: &str = "date,from,metric,group,value,low,high,unit,source,used_as_input,note\n";

#[test]
fn observations_are_held_against_the_model_over_their_window() {
    let dir = tmp("observations-held");
    let rows = [
        // Demand is served in full: 5e11 a day, in range.
        "2025-03-15,,tokens_per_day,national,5e11,4.5e11,5.5e11,tokens/day,test,false,in range",
        // The same, for the firm and a window of three months.
        "2025-06-30,2025-04-01,tokens_per_day,firm:acme,5e11,4.9e11,5.1e11,tokens/day,test,false,",
        // A range the model misses.
        "2025-06-30,,tokens_per_day,national,2e12,1.5e12,2.5e12,tokens/day,test,false,too high",
        // An input: shown, not scored.
        "2025-01-31,,chips_online,site:johor,4096,4096,4096,chips,test,true,",
        // A context figure.
        "2025-05-01,,lease_usd_per_chip_hour,chip:h100,2.35,2.0,2.7,USD/chip-hour,test,true,",
        // Before the horizon.
        "2024-06-30,,tokens_per_day,national,1e11,0.5e11,2e11,tokens/day,test,false,",
        // Vacancy: the serving fleet is idle by about half in Malaysia or at home.
        "2025-12-31,2025-01-01,offshore_vacancy,jurisdiction:MY,0.5,0.0,1.0,share,test,false,",
    ];
    let path = world(&dir, &format!("{HEADER}{}\n", rows.join("\n")));
    let sc = scenario::load_file(Path::new(&path)).expect("loads");
    assert_eq!(sc.observations.len(), rows.len());
    let result = run(&sc, 3);
    let held = observed::hold(&sc, &result);
    let status: Vec<Status> = held.iter().map(|h| h.status).collect();
    assert_eq!(
        status,
        [
            Status::Inside,
            Status::Inside,
            Status::Outside,
            Status::Input,
            Status::Context,
            Status::OutsideHorizon,
            Status::Inside,
        ]
    );
    // The daily rate is the period's flow over its days: 5e11 exactly (demand served in full).
    let sim = held[0].sim.expect("a value");
    assert!((sim.mean / 5e11 - 1.0).abs() < 1e-9, "{sim:?}");
    // The three-month window covers April to June.
    assert_eq!(
        held[1].window.map(|(a, b)| (a.to_string(), b.to_string())),
        Some(("2025-04-01".into(), "2025-06-30".into()))
    );
    // Vacancy is one less the utilisation of the Malaysian site over the year.
    let util = capsim::metrics::window(
        &result.runs,
        &result.periods,
        capsim::metrics::catalog::site_metric("utilisation").unwrap(),
        &capsim::metrics::Members::Sites(vec![0]),
        0,
        result.periods.len() - 1,
    );
    let mean_util = util.iter().flatten().sum::<f64>() / util.len() as f64;
    assert!((held[6].sim.unwrap().mean - (1.0 - mean_util)).abs() < 1e-12);
    assert_eq!(observed::score(&held), (4, 3));

    let tag = capsim::report::csv::Tag {
        run: "r",
        scenario: "s",
    };
    let csv = String::from_utf8(observed::observations_csv(tag, &held)).unwrap();
    assert!(csv.starts_with("run,scenario,line,date,from,metric,group,value,low,high,unit,status"));
    assert!(csv.lines().nth(1).unwrap().starts_with("r,s,"), "{csv}");
    assert!(csv.contains(",outside horizon,"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + rows.len());
}

#[test]
fn capsim_run_writes_observations_and_the_report_table() {
    let dir = tmp("observations-run");
    let row =
        "2025-03-15,,tokens_per_day,national,5e11,4.5e11,5.5e11,tokens/day,test source,false,\n";
    let path = world(&dir, &format!("{HEADER}{row}"));
    let out = dir.join("out").display().to_string();
    let (code, _, err) = capsim(&[
        "run",
        &path,
        "--replications",
        "2",
        "--out",
        &out,
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let folder = dir.join("out/two-sites");
    let csv = std::fs::read_to_string(folder.join("observations.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().contains(",inside,"), "{csv}");
    let page = std::fs::read_to_string(folder.join("report.html")).unwrap();
    assert!(page.contains("Model against observations"));
    assert!(
        page.contains("<strong>1 of 1</strong>"),
        "the score is shown"
    );
    assert!(page.contains("test source"));
}

#[test]
fn bad_observations_are_refused_where_they_are_written() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "2025-13-01,,tokens_per_day,national,1,1,1,t,s,false,",
            "bad-date",
            &["obs.csv:2:1", "'2025-13-01' is not a date", "YYYY-MM-DD"],
        ),
        (
            "2025-03-01,,tokens_per_dya,national,1,1,1,t,s,false,",
            "unknown-metric",
            &[
                "obs.csv:2:13",
                "unknown metric 'tokens_per_dya'",
                "tokens_per_day",
            ],
        ),
        (
            "2025-03-01,,offshore_share,site:johor,1,1,1,t,s,false,",
            "firm-metric-on-sites",
            &[
                "obs.csv:2:",
                "'offshore_share' is a firm metric",
                "firm:<id>",
            ],
        ),
        (
            "2025-03-01,,tokens_per_day,firm:acmee,1,1,1,t,s,false,",
            "unknown-firm",
            &["no firm 'acmee'", "did you mean 'acme'"],
        ),
        (
            "2025-03-01,,tokens_per_day,national,5,1,2,t,s,false,",
            "value-outside-range",
            &["obs.csv:2:", "does not hold the value 5"],
        ),
        (
            "2025-03-01,,tokens_per_day,national,1,1,1,t,,false,",
            "no-source",
            &["no source"],
        ),
        (
            "2025-03-01,2025-04-01,tokens_per_day,national,1,1,1,t,s,maybe,",
            "window-backwards",
            &["starts (2025-04-01) after it ends"],
        ),
    ];
    for (row, name, wants) in cases {
        let dir = tmp(&format!("observations-bad-{name}"));
        let path = world(&dir, &format!("{HEADER}{row}\n"));
        let (code, _, err) = capsim(&["validate", &path]);
        assert_eq!(code, 2, "{name}: {err}");
        for want in *wants {
            assert!(err.contains(want), "{name}: wanted '{want}' in\n{err}");
        }
        assert!(err.contains("help:"), "{name}: {err}");
    }
    // A missing file is refused at the `observations` key of the scenario.
    let dir = tmp("observations-missing");
    let path = world(&dir, HEADER);
    std::fs::remove_file(dir.join("obs.csv")).unwrap();
    let (code, _, err) = capsim(&["validate", &path]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("world.toml:1:16"), "{err}");
    assert!(err.contains("cannot read"), "{err}");
}

/// How many observation diamonds (and off-scale arrows) an SVG chart draws, held out and inputs,
/// the legend's samples included: the fills only they use (Okabe-Ito yellow; the inputs' grey).
fn diamonds(svg: &str) -> (usize, usize) {
    let count = |fill: &str| {
        svg.lines()
            .filter(|l| l.starts_with("<polygon") && l.contains(&format!("fill=\"{fill}\"")))
            .count()
    };
    (count("#F0E442"), count("#8C8C8C"))
}

#[test]
fn charts_draw_observations_on_the_curve_that_measures_them() {
    let dir = tmp("observations-charts");
    let rows = [
        // Tokens per day, held out and an input: on the tokens chart.
        "2025-03-15,,tokens_per_day,national,5e11,4.5e11,5.5e11,tokens/day,test,false,",
        "2025-09-30,2025-07-01,tokens_per_day,national,5e11,4e11,6e11,tokens/day,test,true,",
        // Before the horizon: in the table, not on a chart.
        "2024-06-30,,tokens_per_day,national,1e11,0.5e11,2e11,tokens/day,test,false,",
        // What the home sites cost over a quarter: on the cost chart's jurisdiction panel.
        "2025-06-30,2025-04-01,cost_usd,jurisdiction:CN,1e7,5e6,2e7,USD,test,false,",
        // Quantities no chart draws: chips online of a site, a chip's deliveries, a context figure.
        "2025-01-31,,chips_online,site:johor,4096,4096,4096,chips,test,true,",
        "2025-06-30,2025-01-01,chips_delivered,chip:h100,0,0,10,chips,test,false,",
        "2025-05-01,,lease_usd_per_chip_hour,chip:h100,2.35,2.0,2.7,USD/chip-hour,test,true,",
    ];
    let path = world(&dir, &format!("{HEADER}{}\n", rows.join("\n")));
    let out = dir.join("out").display().to_string();
    let (code, _, err) = capsim(&["run", &path, "--out", &out, "--quiet"]);
    assert_eq!(code, 0, "{err}");
    let charts = dir.join("out/two-sites/charts");
    let svg = |name: &str| std::fs::read_to_string(charts.join(format!("{name}.svg"))).unwrap();
    // (held out, inputs), each with its legend sample.
    assert_eq!(diamonds(&svg("throughput-tokens")), (1 + 1, 1 + 1));
    assert_eq!(diamonds(&svg("cost-spend")), (1 + 1, 0));
    for name in [
        "throughput-compute",
        "cost-unit",
        "compute-share",
        "sites",
        "training",
    ] {
        let s = svg(name);
        assert_eq!(diamonds(&s), (0, 0), "{name}");
        assert!(!s.contains("observed ("), "{name}: no legend entry");
    }
    let tokens = svg("throughput-tokens");
    assert!(tokens.contains("observed (held out)") && tokens.contains("observed (input)"));
    assert!(!svg("cost-spend").contains("observed (input)"));
    // The table still lists every row.
    let csv = std::fs::read_to_string(dir.join("out/two-sites/observations.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + rows.len());

    // The same run again, in another process (other hash seeds), draws the same bytes, PDFs
    // included.
    let again = dir.join("again").display().to_string();
    let (code, _, err) = capsim(&["run", &path, "--out", &again, "--quiet"]);
    assert_eq!(code, 0, "{err}");
    for name in [
        "throughput-tokens.svg",
        "throughput-tokens.png",
        "throughput-tokens.pdf",
        "cost-spend.png",
        "cost-spend.pdf",
        "training.pdf",
    ] {
        let a = std::fs::read(charts.join(name)).unwrap();
        let b = std::fs::read(dir.join("again/two-sites/charts").join(name)).unwrap();
        assert!(a == b, "{name} differs between two runs");
    }
}

/// A rate observed on one day is read off the monthly means as a line between the months'
/// middles: for demand growing 10x a year, the model's rate on a day is the analytic demand on that
/// day (within the curvature of the exponential), not the month's mean, which trails it.
#[test]
fn a_rate_on_one_day_is_read_between_the_middles_of_the_periods_around_it() {
    let dir = tmp("observations-point");
    let workloads = r#"
[[firms.acme.workloads]]
name = "chat"
kind = "inference"
tokens_per_day = 1e10
growth_per_year = 10
daily_amplitude = 0
"#;
    let text = format!("observations = \"obs.csv\"\n{}", two_sites("", workloads));
    std::fs::write(dir.join("world.toml"), text).unwrap();
    // Served in full (1e10 a day is far below the capacity): demand on 2025-06-30 (day 180).
    let want = 1e10 * 10f64.powf((180.0 + 0.5) / 365.25);
    std::fs::write(
        dir.join("obs.csv"),
        format!(
            "{HEADER}2025-06-30,,tokens_per_day,national,{want:e},{:e},{:e},tokens/day,test,false,\n",
            want * 0.99,
            want * 1.01
        ),
    )
    .unwrap();
    let sc = scenario::load_file(&dir.join("world.toml")).expect("loads");
    let result = run(&sc, 1);
    let held = observed::hold(&sc, &result);
    let sim = held[0].sim.expect("a value").mean;
    assert!((sim / want - 1.0).abs() < 0.01, "{sim:e} vs {want:e}");
    assert_eq!(held[0].status, Status::Inside);
    // June's mean alone trails the end-of-June level by several percent.
    let june = capsim::metrics::window(
        &result.runs,
        &result.periods,
        capsim::metrics::catalog::firm_metric("tokens_served").unwrap(),
        &held[0].obs.target.as_ref().unwrap().members,
        5,
        5,
    )[0]
    .unwrap()
        / 30.0;
    assert!(june < want * 0.97, "{june:e} vs {want:e}");
}
