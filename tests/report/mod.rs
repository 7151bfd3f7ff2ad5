//! report.html and comparison.csv against golden files, and `capsim compare` as a user meets it.
//!
//! Golden files: `tests/report/golden/report.html` (a tiny two-site scenario, 2 replications,
//! seed 7) and `tests/report/golden/comparison.csv` (that run against a lease-ban what-if of it).
//! The page is rendered with fixed placeholder charts, so chart styling changes do not touch the
//! golden files. After an intended change to the page or the table, rewrite them and review the diff:
//!
//! ```sh
//! UPDATE_GOLDEN=1 cargo test report::
//! git diff tests/report/golden/
//! ```

mod observations;
mod tables;

use crate::support::{capsim, tmp};

use std::path::Path;

use capsim::report::charts::Chart;
use capsim::report::compare;
use capsim::report::html;
use capsim::report::view::RunView;

use crate::support::{load, run, two_sites};

const WORKLOADS: &str = r#"
[[firms.acme.workloads]]
name = "pretraining"
kind = "training"
arrivals = { mean_gap_days = 45 }
size_flop = { lognormal = { median = 2e24, p95 = 6e24 } }
gang_chips = 2048
checkpoint_hours = 1
restart_hours = 0.5

[[firms.acme.workloads]]
name = "chat"
kind = "inference"
tokens_per_day = 2e11
growth_per_year = 3
batch_hours = 24
"#;

/// Sources (one with markup in it, which the page must escape).
const SOURCES: &str = r#"
[sources]
"seed" = "assumption: any seed <b>will do</b> & this one is 7"
"start_date" = "test horizon"
"#;

/// A rule of the base scenario, in force for part of the year.
const LICENCE_FEE: &str = r#"
[[policy]]
name = "my-fee"
rule = "licence_fee"
chip = "h100"
to = "MY"
fee_fraction = 0.25
from = 2025-04-01
until = 2025-09-30
source = "test: a <made-up> fee"
"#;

const LEASE_BAN: &str = r#"
[[policy]]
name = "lease-ban"
rule = "lease_ban"
firms_headquartered_in = "CN"
grace_days = 30
from = 2025-07-01
source = "what-if: \"a lease ban\" from July"
"#;

/// The tiny scenario as TOML: the base (`lease_ban = false`) or the what-if.
fn scenario_toml(lease_ban: bool) -> String {
    let (name, policies) = if lease_ban {
        (
            "two-sites-lease-ban",
            format!("{LICENCE_FEE}{LEASE_BAN}{SOURCES}"),
        )
    } else {
        ("two-sites", format!("{LICENCE_FEE}{SOURCES}"))
    };
    two_sites(&policies, WORKLOADS)
        .replace("name = \"two-sites\"", &format!("name = \"{name}\""))
        .replace(
            "description = \"test world\"",
            "description = \"A <small> test world: one firm & two sites; \\\"quoted\\\" text.\"",
        )
}

fn view(lease_ban: bool) -> RunView {
    let sc = load(&scenario_toml(lease_ban));
    let r = run(&sc, 2);
    RunView::from_run(&sc, &r)
}

/// Charts that never change, standing in for `charts::render`.
fn placeholder_charts() -> Vec<Chart> {
    ["first", "second"]
        .iter()
        .map(|n| Chart {
            name: format!("placeholder-{n}"),
            title: format!("Placeholder <{n}> chart & caption"),
            svg: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg width=\"400\" height=\"100\" \
                 viewBox=\"0 0 400 100\" xmlns=\"http://www.w3.org/2000/svg\"><rect x=\"0\" y=\"0\" \
                 width=\"400\" height=\"100\" fill=\"#ddd\"/><text x=\"10\" y=\"50\">{n}</text></svg>"
            ),
            png: vec![],
            pdf: vec![],
        })
        .collect()
}

/// Compares `actual` with the golden file `name`, or rewrites it when `UPDATE_GOLDEN=1`.
fn golden(name: &str, actual: &[u8]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/report/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with UPDATE_GOLDEN=1 cargo test report::",
            path.display()
        )
    });
    if expected != actual {
        let (e, a) = (
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(actual),
        );
        let line = e
            .lines()
            .zip(a.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(e.lines().count().min(a.lines().count()));
        panic!(
            "{name} differs from {} at line {}:\n  expected: {}\n  actual:   {}\n\
             If the change is intended: UPDATE_GOLDEN=1 cargo test report:: and review git diff tests/report/golden/",
            path.display(),
            line + 1,
            e.lines().nth(line).unwrap_or("<end of file>"),
            a.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}

#[test]
fn run_report_matches_its_golden_file_and_is_self_contained() {
    let v = view(false);
    let page = html::run_report(&v, &placeholder_charts(), &[]);
    golden("report.html", &page);

    let text = String::from_utf8(page).unwrap();
    // Self-contained: no scripts, nothing fetched.
    for bad in ["<script", "src=", "href=", "url(", "@import"] {
        assert!(!text.contains(bad), "report.html contains {bad}");
    }
    // Scenario text is escaped; our SVG is inserted as markup, without its XML declaration.
    assert!(text.contains("A &lt;small&gt; test world: one firm &amp; two sites"));
    assert!(text.contains("any seed &lt;b&gt;will do&lt;") && text.contains("&amp; this one is 7"));
    assert!(!text.contains("<small>") && !text.contains("<?xml"));
    assert!(text.contains("<svg width=\"400\""));
    assert!(text.contains("<b>Figure 2.</b> Placeholder &lt;second&gt; chart &amp; caption"));
    // The facts and headline numbers a reader looks for.
    for needle in [
        "<h1>two-sites</h1>",
        "2025-01-01 to 2025-12-31",
        "Seed</th><td>7</td>",
        "Share of training compute abroad",
        "December 2025",
        "licence fee: +25% on h100 in MY",
        "test: a &lt;made-up&gt; fee",
        "@media print",
        "break-inside: avoid",
    ] {
        assert!(text.contains(needle), "report.html lacks {needle}");
    }
}

#[test]
fn comparison_table_matches_its_golden_file() {
    let (base, whatif) = (view(false), view(true));
    let views = [base, whatif];
    let c = compare::compare(&views).unwrap();
    let csv = compare::comparison_csv(&c);
    golden("comparison.csv", &csv);

    // The lease ban brings offshore training home.
    let text = String::from_utf8(csv).unwrap();
    let value = |run: &str, statistic: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("offshore_share.acme,firm,acme,end,")
                    && l.contains(&format!(",{run},{statistic},"))
            })
            .and_then(|l| l.rsplit(',').next())
            .map(str::to_string)
    };
    assert_eq!(value("two-sites", "mean").as_deref(), Some("1.0"));
    assert_eq!(value("two-sites-lease-ban", "mean").as_deref(), Some("0.0"));
    // A share's difference is in percentage points, with no ratio.
    assert_eq!(
        value("two-sites-lease-ban", "diff_pp").as_deref(),
        Some("-100.0")
    );
    assert_eq!(value("two-sites-lease-ban", "ratio"), None);
    let page = String::from_utf8(html::compare_report(
        &c,
        &views,
        &placeholder_charts(),
        None,
    ))
    .unwrap();
    assert!(page.contains("two-sites vs two-sites-lease-ban"));
    assert!(page.contains("what-if: &quot;a lease ban&quot; from July"));
    assert!(!page.contains("<script") && !page.contains("href="));
}

// ----- the command line ---------------------------------------------------------------------------

fn p(s: &str) -> &Path {
    Path::new(s)
}

#[test]
fn compare_writes_csv_charts_and_report_and_refuses_what_is_not_a_run() {
    let dir = tmp("report-compare");
    let out = dir.join("out");
    for (file, lease_ban) in [("base.toml", false), ("whatif.toml", true)] {
        let f = dir.join(file);
        std::fs::write(&f, scenario_toml(lease_ban)).unwrap();
        let (code, _, stderr) =
            capsim(&[p("run"), &f, p("--out"), &out, p("--replications"), p("2")]);
        assert_eq!(code, 0, "{stderr}");
    }
    let (a, b) = (out.join("two-sites"), out.join("two-sites-lease-ban"));
    assert!(a.join("report.html").is_file(), "run writes report.html");
    let cmp = dir.join("cmp");
    let (code, stdout, stderr) = capsim(&[p("compare"), &a, &b, p("--out"), &cmp]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), cmp.display().to_string());
    for f in ["comparison.csv", "report.html"] {
        assert!(cmp.join(f).is_file(), "{f} missing");
    }
    let charts: Vec<_> = std::fs::read_dir(cmp.join("charts"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // Every chart as SVG, PNG and PDF.
    assert!(charts.iter().any(|c| c.ends_with(".svg")), "{charts:?}");
    for svg in charts.iter().filter(|c| c.ends_with(".svg")) {
        for ext in [".png", ".pdf"] {
            let other = svg.replace(".svg", ext);
            assert!(charts.contains(&other), "{other} missing: {charts:?}");
        }
    }
    assert_eq!(charts.len() % 3, 0, "{charts:?}");
    // Each run lists its inputs with their values; the comparison lists the inputs that differ
    // (the what-if's lease ban and its description), and no other.
    let inputs = std::fs::read_to_string(a.join("inputs.csv")).unwrap();
    assert!(
        inputs.starts_with("run,scenario,field,value,unit,source\n"),
        "{inputs}"
    );
    assert!(inputs.contains("two-sites,two-sites,seed,7,,"), "{inputs}");
    let page = std::fs::read_to_string(cmp.join("report.html")).unwrap();
    let section =
        &page[page.find("id=\"inputs\"").unwrap()..page.find("id=\"differences\"").unwrap()];
    assert!(
        section.contains("<code>policy.lease-ban</code>"),
        "{section}"
    );
    assert!(
        section.contains("rule = &quot;lease_ban&quot;"),
        "{section}"
    );
    assert!(!section.contains("<code>seed</code>"), "{section}");

    // A folder that is not a run folder: exit 2, naming the file and saying what to give instead.
    let empty = dir.join("not-a-run");
    std::fs::create_dir_all(&empty).unwrap();
    let refused = dir.join("refused");
    let (code, _, stderr) = capsim(&[p("compare"), &a, &empty, p("--out"), &refused]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("manifest.json") && stderr.contains("help:"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Runs reported by different periods: exit 2, saying how to fix it. (A copy of a run whose
    // manifest says `week` stands in for a weekly run, which would take another simulation.)
    let weekly = dir.join("weekly");
    std::fs::create_dir_all(&weekly).unwrap();
    for f in ["summary.csv", "headline.csv", "provenance.csv"] {
        std::fs::copy(b.join(f), weekly.join(f)).unwrap();
    }
    let manifest = std::fs::read_to_string(b.join("manifest.json")).unwrap();
    let manifest = manifest.replace("\"period\": \"month\"", "\"period\": \"week\"");
    std::fs::write(weekly.join("manifest.json"), manifest).unwrap();
    let (code, _, stderr) = capsim(&[p("compare"), &a, &weekly, p("--out"), &refused]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--period month"), "{stderr}");
    assert!(!refused.exists(), "a refused comparison writes nothing");

    // --out naming a run folder would replace the run: refused.
    let (code, _, stderr) = capsim(&[p("compare"), &a, &b, p("--out"), &a]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is a run folder"), "{stderr}");
    assert!(a.join("summary.csv").is_file(), "the run folder is intact");
}

// ----- one type per column ------------------------------------------------------------------------

/// Whether `cell` reads as a float in every CSV reader: a `.` or an exponent, or empty (no value).
fn is_float_cell(cell: &str) -> bool {
    cell.is_empty() || ((cell.contains('.') || cell.contains('e')) && cell.parse::<f64>().is_ok())
}

/// Every CSV of a daily run has one type per column, as the catalog says: every cell of a float
/// column has a `.` or an exponent (or is empty), every cell of a count column is a u64. (Daily
/// periods make whole-number floats common: a reader that guesses types from the first rows must
/// still read a float column as floats.)
#[test]
fn every_csv_of_a_daily_run_has_one_type_per_column() {
    use capsim::experiment::{self, RunOptions};
    use capsim::metrics::catalog::{self, Dtype};
    use capsim::metrics::PeriodKind;

    let sc = load(&scenario_toml(true));
    let options = RunOptions {
        seed: sc.seed,
        replications: 2,
        period: PeriodKind::Day,
        threads: None,
    };
    let result = experiment::execute(&sc, options).unwrap();
    let files = capsim::report::folders::run_files(&sc, &result, "daily");
    let dtype_of = |column: &str| -> Option<Dtype> {
        let metric = catalog::SITE
            .iter()
            .chain(catalog::FIRM)
            .find(|m| m.name == column);
        match column {
            "mean" | "p05" | "p95" | "size_flop" | "wait_hours" | "completion_hours" => {
                Some(Dtype::Float)
            }
            "replication" | "period_days" | "replications" | "job" | "gang_chips" | "evictions"
            | "failures" => Some(Dtype::Count),
            _ => metric.map(|m| m.dtype),
        }
    };
    let check = |file: &str, column: &str, cell: &str, dtype: Dtype| match dtype {
        Dtype::Float => assert!(is_float_cell(cell), "{file}: {column} = {cell:?}"),
        Dtype::Count => assert!(cell.parse::<u64>().is_ok(), "{file}: {column} = {cell:?}"),
    };
    let mut checked = Vec::new();
    for (name, bytes) in &files {
        if !name.ends_with(".csv") || name == "provenance.csv" {
            continue;
        }
        let bytes = bytes.to_bytes();
        let mut rdr = ::csv::Reader::from_reader(bytes.as_slice());
        let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
        if ["timeseries.csv", "firms.csv", "summary.csv"].contains(&name.as_str()) {
            for c in ["period_start", "period_end", "period_days"] {
                assert!(header.iter().any(|h| h == c), "{name} lacks {c}");
            }
        }
        // Every file says which run and scenario it comes from.
        assert_eq!(header[..2], ["run", "scenario"], "{name}");
        let mut rows = 0;
        let at = |c: &str| header.iter().position(|h| h == c);
        for rec in rdr.records() {
            let rec = rec.unwrap();
            rows += 1;
            assert_eq!((&rec[0], &rec[1]), ("daily", sc.name.as_str()), "{name}");
            // The last day of a period is its first plus its length less one.
            if let (Some(s), Some(e), Some(d)) =
                (at("period_start"), at("period_end"), at("period_days"))
            {
                let start: chrono::NaiveDate = rec[s].parse().unwrap();
                let days: u64 = rec[d].parse().unwrap();
                let end = start.checked_add_days(chrono::Days::new(days - 1)).unwrap();
                assert_eq!(rec[e], end.to_string(), "{name}");
            }
            for (column, cell) in header.iter().zip(rec.iter()) {
                let dtype = match (name.as_str(), column.as_str()) {
                    // One column of many metrics: floats, counts included.
                    ("headline.csv", "value") | ("draws.csv", "value" | "in_run") => {
                        Some(Dtype::Float)
                    }
                    _ => dtype_of(column),
                };
                if let Some(d) = dtype {
                    check(name, column, cell, d);
                }
            }
        }
        checked.push((name.clone(), rows));
    }
    let names: Vec<&str> = checked.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "timeseries.csv",
        "firms.csv",
        "summary.csv",
        "headline.csv",
        "jobs.csv",
    ] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }
    assert!(checked
        .iter()
        .all(|(n, rows)| *rows > 0
            || ["draws.csv", "jobs.csv", "decisions.csv"].contains(&n.as_str())));

    // The comparison of two daily runs, too.
    let base = load(&scenario_toml(false));
    let base = experiment::execute(
        &base,
        RunOptions {
            seed: base.seed,
            replications: 2,
            period: PeriodKind::Day,
            threads: None,
        },
    )
    .unwrap();
    let views = [
        RunView::from_run(&load(&scenario_toml(false)), &base),
        RunView::from_run(&sc, &result),
    ];
    let c = compare::compare(&views).unwrap();
    let csv = compare::comparison_csv(&c);
    let mut rdr = ::csv::Reader::from_reader(csv.as_slice());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, compare::COMPARISON_COLUMNS);
    let mut statistics = std::collections::BTreeSet::new();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        // Long form: one float per row, never empty (a statistic with no value is left out).
        assert!(!rec[8].is_empty());
        check("comparison.csv", "value", &rec[8], Dtype::Float);
        statistics.insert(rec[7].to_string());
    }
    // The runs share seed 7: whole-horizon differences are paired.
    for s in [
        "mean",
        "diff",
        "diff_p05",
        "diff_pp",
        "diff_pp_p95",
        "ratio",
    ] {
        assert!(statistics.contains(s), "{s}: {statistics:?}");
    }
}

#[test]
fn a_run_folder_read_back_is_the_run_as_it_was_made() {
    // `summary.csv` is streamed to disk and streamed back (compare reads folders this way): every
    // series, period and band reads back to the bit.
    let sc = load(&scenario_toml(true));
    let r = run(&sc, 2);
    let made = RunView::from_run(&sc, &r);
    let dir = tmp("view-read-back");
    let files = capsim::report::folders::run_files(&sc, &r, "run");
    let folder = capsim::report::output::write_folder(
        &dir,
        "run",
        capsim::report::output::Kind::Run,
        &files,
    )
    .unwrap();
    let read = RunView::read(&folder).unwrap();
    assert_eq!(read.periods, made.periods);
    assert_eq!(read.period_days, made.period_days);
    assert!(!made.series.is_empty());
    assert_eq!(read.series, made.series);
    assert_eq!(read.headlines, made.headlines);
    // The inputs, with their values and units, from inputs.csv.
    assert_eq!(read.provenance, made.provenance);
    assert!(made
        .provenance
        .iter()
        .any(|i| i.field == "seed" && i.value == "7"));
}

#[test]
fn compare_by_quarter_pairs_each_firm_figure_period_by_period() {
    let dir = tmp("report-compare-quarter");
    let out = dir.join("out");
    for (file, lease_ban) in [("base.toml", false), ("whatif.toml", true)] {
        let f = dir.join(file);
        std::fs::write(&f, scenario_toml(lease_ban)).unwrap();
        let (code, _, stderr) = capsim(&[
            p("run"),
            &f,
            p("--out"),
            &out,
            p("--replications"),
            p("4"),
            p("--period"),
            p("quarter"),
        ]);
        assert_eq!(code, 0, "{stderr}");
    }
    let (a, b) = (out.join("two-sites"), out.join("two-sites-lease-ban"));
    let cmp = dir.join("cmp");
    let (code, _, stderr) = capsim(&[
        p("compare"),
        &a,
        &b,
        p("--period"),
        p("quarter"),
        p("--out"),
        &cmp,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(cmp.join("periods.csv")).unwrap();
    let mut rdr = ::csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        rdr.headers().unwrap(),
        capsim::report::compare::PERIODS_COLUMNS
    );
    let rows: Vec<::csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let get = |metric: &str, start: &str, run: &str, stat: &str| -> Option<f64> {
        rows.iter()
            .find(|r| {
                &r[0] == metric
                    && &r[2] == "acme"
                    && &r[3] == start
                    && &r[6] == run
                    && &r[7] == stat
            })
            .map(|r| r[8].parse().unwrap())
    };
    // Every quarter of the year, each a ratio of its own sums, read from the runs' firms.csv.
    let firms = std::fs::read_to_string(a.join("firms.csv")).unwrap();
    let quarters = ["2025-01-01", "2025-04-01", "2025-07-01", "2025-10-01"];
    for q in quarters {
        assert!(
            get("offshore_share", q, "two-sites", "mean").is_some(),
            "{q}"
        );
        assert!(firms.contains(&format!(",{q},")), "{q}");
    }
    // Before the ban the runs are the same in every replication: the paired band is zero. After
    // it (from July), the what-if trains at home: the share falls, in percentage points, and its
    // paired band lies at or below zero.
    assert_eq!(
        get(
            "offshore_share",
            "2025-01-01",
            "two-sites-lease-ban",
            "diff_pp"
        ),
        Some(0.0)
    );
    assert_eq!(
        get(
            "offshore_share",
            "2025-01-01",
            "two-sites-lease-ban",
            "diff_pp_p95"
        ),
        Some(0.0)
    );
    let after = get(
        "offshore_share",
        "2025-10-01",
        "two-sites-lease-ban",
        "diff_pp",
    )
    .unwrap();
    assert!(after < -10.0, "{after}");
    let hi = get(
        "offshore_share",
        "2025-10-01",
        "two-sites-lease-ban",
        "diff_pp_p95",
    )
    .unwrap();
    assert!(hi <= 0.0, "{hi}");
    // The paired mean is the difference of the means; shares have no `diff`, no ratio anywhere.
    let base = get("offshore_share", "2025-10-01", "two-sites", "mean").unwrap();
    let what_if = get(
        "offshore_share",
        "2025-10-01",
        "two-sites-lease-ban",
        "mean",
    )
    .unwrap();
    assert!((after - 100.0 * (what_if - base)).abs() < 1e-9);
    assert!(rows.iter().all(|r| &r[7] != "ratio"));
    assert!(get("cost_usd", "2025-10-01", "two-sites-lease-ban", "diff").is_some());
    // The page shows the offshore share by firm and quarter.
    let page = std::fs::read_to_string(cmp.join("report.html")).unwrap();
    assert!(page.contains("Offshore share of training, by firm and quarter"));
    // Asking for months of runs written by quarter is refused, saying how to get them.
    let (code, _, stderr) = capsim(&[
        p("compare"),
        &a,
        &b,
        p("--period"),
        p("month"),
        p("--out"),
        &dir.join("never"),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--period month") && stderr.contains("reported by quarter"));
    assert!(
        stderr.contains("a quarter cannot be split into months"),
        "{stderr}"
    );
    assert!(!dir.join("never").exists());
}

/// `compare --period quarter` of runs written by month rebuilds each quarter from its months in
/// each replication (flows summed, stocks at the quarter's end, shares from summed parts), then
/// summarises: `periods.csv` has the same rows as for the same runs written by quarter, every
/// count and stock to the digit and every float to rounding in the last digits (the simulation
/// adds a quarter's flows in another order), less the figures months cannot rebuild (medians of
/// completion times, unit costs), which the page names. Weeks into months are refused.
#[test]
fn compare_by_quarter_of_runs_written_by_month_matches_runs_written_by_quarter() {
    let dir = tmp("report-compare-rebuilt");
    let compare_by_quarter = |written: &str| -> (Vec<::csv::StringRecord>, String) {
        let out = dir.join(written);
        for (file, lease_ban) in [("base.toml", false), ("whatif.toml", true)] {
            let f = dir.join(file);
            std::fs::write(&f, scenario_toml(lease_ban)).unwrap();
            let (code, _, stderr) = capsim(&[
                p("run"),
                &f,
                p("--out"),
                &out,
                p("--replications"),
                p("4"),
                p("--period"),
                p(written),
                p("--quiet"),
            ]);
            assert_eq!(code, 0, "{stderr}");
        }
        let cmp = dir.join(format!("cmp-{written}"));
        let (code, _, stderr) = capsim(&[
            p("compare"),
            &out.join("two-sites"),
            &out.join("two-sites-lease-ban"),
            p("--period"),
            p("quarter"),
            p("--out"),
            &cmp,
        ]);
        assert_eq!(code, 0, "{stderr}");
        let text = std::fs::read_to_string(cmp.join("periods.csv")).unwrap();
        let rows = ::csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(Result::unwrap)
            .collect();
        (
            rows,
            std::fs::read_to_string(cmp.join("report.html")).unwrap(),
        )
    };
    let (by_quarter, _) = compare_by_quarter("quarter");
    let (rebuilt, page) = compare_by_quarter("month");
    let left_out = |r: &::csv::StringRecord| capsim::report::view::cannot_coarsen(&r[0]);
    let expected: Vec<&::csv::StringRecord> = by_quarter.iter().filter(|r| !left_out(r)).collect();
    assert!(
        by_quarter.iter().any(left_out),
        "the quarterly runs have medians"
    );
    assert!(!rebuilt.iter().any(left_out));
    assert_eq!(rebuilt.len(), expected.len());
    let (mut same, mut worst) = (0, 0.0f64);
    for (a, b) in rebuilt.iter().zip(&expected) {
        // Every key: metric, firm, period, unit, run, statistic.
        assert_eq!(
            a.iter().take(8).collect::<Vec<_>>(),
            b.iter().take(8).collect::<Vec<_>>()
        );
        if a[8] == b[8] {
            same += 1;
            continue;
        }
        let (x, y): (f64, f64) = (a[8].parse().unwrap(), b[8].parse().unwrap());
        let counted = matches!(&a[5], "jobs" | "chips" | "contracts");
        assert!(!counted, "a count differs: {a:?} vs {b:?}");
        // Differences of near-equal runs (diff, diff_p05, ...) are measured against the runs'
        // values, not against themselves.
        let scale = expected
            .iter()
            .filter(|r| r[0] == a[0] && r[2] == a[2] && r[3] == a[3] && &r[7] == "mean")
            .map(|r| r[8].parse::<f64>().unwrap().abs())
            .fold(x.abs().max(y.abs()), f64::max);
        let rel = (x - y).abs() / scale.max(1e-300);
        worst = worst.max(rel);
        assert!(rel < 1e-9, "{a:?} vs {b:?}");
    }
    eprintln!(
        "rebuilt by quarter from months: {} of {} values the same to the digit, the others \
         within {worst:e} (relative)",
        same,
        rebuilt.len()
    );
    assert!(page.contains("The runs were written by month: each quarter is rebuilt"));
    assert!(page.contains("completion_hours_p50_training"));

    // Weeks do not add up to months.
    let week = dir.join("week");
    let f = dir.join("base.toml");
    let (code, _, stderr) = capsim(&[p("run"), &f, p("--out"), &week, p("--period"), p("week")]);
    assert_eq!(code, 0, "{stderr}");
    let w = week.join("two-sites");
    let (code, _, stderr) = capsim(&[
        p("compare"),
        &w,
        &w,
        p("--period"),
        p("month"),
        p("--out"),
        &dir.join("never"),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("an ISO week can straddle two months") && stderr.contains("--period day"),
        "{stderr}"
    );
    assert!(!dir.join("never").exists());
}
