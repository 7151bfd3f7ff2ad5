//! CSV exporters: pure functions from metrics to bytes, columns in a fixed, documented order.

use chrono::{NaiveDate, NaiveDateTime};

use crate::experiment::Draw;
use crate::metrics::catalog::{self, headline_list, Dtype, Rows};
use crate::metrics::{headline, Periods, RunMetrics, SummaryRow};
use crate::model::{Operator, World};
use crate::scenario::Scenario;

/// A float cell: Rust's shortest round-trip form, always with a `.` or an exponent (`3.0`,
/// `0.1987`, `1e300`), so every reader types the column as a float; `-0.0` as `0.0`; NaN and
/// infinities (no value) as an empty cell.
pub fn float(v: f64) -> String {
    if !v.is_finite() {
        String::new()
    } else if v == 0.0 {
        "0.0".into()
    } else {
        format!("{v:?}")
    }
}

/// A count cell: an integer; a value that is not a whole, non-negative number (none: a bug) is
/// written as a float rather than truncated, and no value as an empty cell.
pub fn count(v: f64) -> String {
    if v.is_finite() && v >= 0.0 && v == v.trunc() && v < 9.0e15 {
        format!("{}", v as u64)
    } else {
        float(v)
    }
}

/// A cell of type `dtype` (empty for no value).
pub fn cell(v: Option<f64>, dtype: Dtype) -> String {
    match (v, dtype) {
        (None, _) => String::new(),
        (Some(v), Dtype::Count) => count(v),
        (Some(v), Dtype::Float) => float(v),
    }
}

fn writer() -> csv::Writer<Vec<u8>> {
    writer_sized(0)
}

/// A writer whose buffer starts at `bytes`: a file of many rows is built without the buffer
/// doubling (and briefly holding two copies) as it grows.
fn writer_sized(bytes: usize) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().from_writer(Vec::with_capacity(bytes))
}

fn finish(w: csv::Writer<Vec<u8>>) -> Vec<u8> {
    w.into_inner().expect("writing to memory cannot fail")
}

/// Length of period `p` in whole days, as written in the `period_days` columns.
fn days(periods: &Periods, p: usize) -> String {
    count(periods.days(p))
}

/// Which run a file comes from, written as its first two columns (`run`, `scenario`) so that files
/// of several runs can be stacked without reading their manifests.
#[derive(Clone, Copy, Debug)]
pub struct Tag<'a> {
    /// The run's name (its folder's name: the scenario's, or `--name`).
    pub run: &'a str,
    /// The scenario's name.
    pub scenario: &'a str,
}

impl Tag<'_> {
    fn cells(&self) -> [String; 2] {
        [self.run.to_string(), self.scenario.to_string()]
    }
}

/// The last day of period `p` (inclusive), as written in the `period_end` columns.
fn end_day(periods: &Periods, p: usize) -> String {
    let last = periods.starts[p]
        .checked_add_days(chrono::Days::new(
            (periods.days(p) as u64).saturating_sub(1),
        ))
        .unwrap_or(periods.starts[p]);
    last.to_string()
}

/// Columns of `timeseries.csv` before the site metrics ([`catalog::SITE`], in catalog order).
pub const TIMESERIES_KEYS: &[&str] = &[
    "run",
    "scenario",
    "replication",
    "period_start",
    "period_end",
    "period_days",
    "site",
    "jurisdiction",
    "operator",
    "chip",
];

/// One row per (replication, period, site): the keys, then every site metric of the catalog.
pub fn timeseries(tag: Tag, world: &World, periods: &Periods, runs: &[RunMetrics]) -> Vec<u8> {
    let mut w = writer();
    let header = TIMESERIES_KEYS
        .iter()
        .copied()
        .chain(catalog::SITE.iter().map(|m| m.name));
    w.write_record(header).expect("in memory");
    for run in runs {
        for p in 0..periods.len() {
            let secs = (periods.bounds[p + 1].0 - periods.bounds[p].0) as f64;
            for (s, site) in world.sites.iter().enumerate() {
                let rows = Rows::one(&run.site[s][p], secs);
                let operator = match site.operator {
                    Operator::Domestic => "domestic",
                    Operator::Foreign => "foreign",
                };
                let mut rec = tag.cells().to_vec();
                rec.extend([
                    run.replication.to_string(),
                    periods.starts[p].to_string(),
                    end_day(periods, p),
                    days(periods, p),
                    site.name.clone(),
                    site.jurisdiction.clone(),
                    operator.to_string(),
                    world.chips[site.chip.0 as usize].name.clone(),
                ]);
                rec.extend(
                    catalog::SITE
                        .iter()
                        .map(|m| cell(m.of_sites(&rows), m.dtype)),
                );
                w.write_record(&rec).expect("in memory");
            }
        }
    }
    finish(w)
}

/// Columns of `firms.csv` before the firm metrics ([`catalog::FIRM`], in catalog order).
pub const FIRMS_KEYS: &[&str] = &[
    "run",
    "scenario",
    "replication",
    "period_start",
    "period_end",
    "period_days",
    "firm",
    "headquarters",
];

/// One row per (replication, period, firm): the keys, then every firm metric of the catalog.
pub fn firms(tag: Tag, world: &World, periods: &Periods, runs: &[RunMetrics]) -> Vec<u8> {
    let mut w = writer();
    let header = FIRMS_KEYS
        .iter()
        .copied()
        .chain(catalog::FIRM.iter().map(|m| m.name));
    w.write_record(header).expect("in memory");
    for run in runs {
        for p in 0..periods.len() {
            let secs = (periods.bounds[p + 1].0 - periods.bounds[p].0) as f64;
            for (f, firm) in world.firms.iter().enumerate() {
                let rows = Rows::one(&run.firm[f][p], secs);
                let mut rec = tag.cells().to_vec();
                rec.extend([
                    run.replication.to_string(),
                    periods.starts[p].to_string(),
                    end_day(periods, p),
                    days(periods, p),
                    firm.name.clone(),
                    firm.headquarters.clone(),
                ]);
                rec.extend(
                    catalog::FIRM
                        .iter()
                        .map(|m| cell(m.of_firms(&rows), m.dtype)),
                );
                w.write_record(&rec).expect("in memory");
            }
        }
    }
    finish(w)
}

/// Columns of `headline.csv`.
pub const HEADLINE_COLUMNS: &[&str] = &["run", "scenario", "replication", "metric", "value"];

/// `headline.csv`: every headline number of every replication over the whole horizon, one per row
/// (tidy), in replication then headline order; no value (a ratio with nothing to divide) is empty.
pub fn headlines(tag: Tag, world: &World, periods: &Periods, runs: &[RunMetrics]) -> Vec<u8> {
    let firms: Vec<String> = world.firms.iter().map(|f| f.name.clone()).collect();
    let list = headline_list(&firms);
    let mut w = writer();
    w.write_record(HEADLINE_COLUMNS).expect("in memory");
    for run in runs {
        for (h, v) in list.iter().zip(headline(run, periods)) {
            // One column of many metrics: a float column (counts too), so it has one type.
            w.write_record([
                tag.run.to_string(),
                tag.scenario.to_string(),
                run.replication.to_string(),
                h.name.clone(),
                float(v),
            ])
            .expect("in memory");
        }
    }
    finish(w)
}

/// Columns of `jobs.csv`.
pub const JOBS_COLUMNS: &[&str] = &[
    "run",
    "scenario",
    "replication",
    "job",
    "firm",
    "workload",
    "kind",
    "size_flop",
    "gang_chips",
    "arrived",
    "first_start",
    "completed",
    "wait_hours",
    "completion_hours",
    "sites",
    "evictions",
    "failures",
    "final_state",
];

/// An instant as an ISO 8601 local date-time from the scenario's start (`2026-03-14T06:30:00`).
fn timestamp(start: NaiveDate, t: crate::engine::SimTime) -> String {
    let secs = i64::try_from(t.0).unwrap_or(i64::MAX);
    let at: Option<NaiveDateTime> = start
        .and_hms_opt(0, 0, 0)
        .and_then(|d| d.checked_add_signed(chrono::TimeDelta::try_seconds(secs)?));
    at.map(|d| d.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// `jobs.csv`: one row per (replication, training or fine-tuning job), jobs numbered in arrival
/// order within their replication. Times are ISO 8601 date-times from the scenario's start; a job
/// that never started or finished has empty cells there.
pub fn jobs(tag: Tag, world: &World, periods: &Periods, runs: &[RunMetrics]) -> Vec<u8> {
    let start = periods.starts.first().copied().unwrap_or_default();
    let hours = |a: crate::engine::SimTime, b: crate::engine::SimTime| {
        float(b.saturating_since(a).as_hours_f64())
    };
    // About 200 bytes a row.
    let rows: usize = runs.iter().map(|r| r.job_records.len()).sum();
    let mut w = writer_sized(rows.saturating_mul(200).min(1 << 30));
    w.write_record(JOBS_COLUMNS).expect("in memory");
    for run in runs {
        for (i, j) in run.job_records.iter().enumerate() {
            let firm = world.firms.get(j.firm as usize);
            let workload = firm
                .and_then(|f| f.workloads.get(j.workload as usize))
                .map_or_else(|| j.workload.to_string(), |wl| wl.name.clone());
            let sites: Vec<&str> = j
                .sites
                .iter()
                .map(|&s| world.sites.get(s as usize).map_or("?", |s| s.name.as_str()))
                .collect();
            w.write_record([
                tag.run.to_string(),
                tag.scenario.to_string(),
                run.replication.to_string(),
                i.to_string(),
                firm.map_or_else(|| j.firm.to_string(), |f| f.name.clone()),
                workload,
                j.kind.as_str().to_string(),
                float(j.size_flop),
                j.gang_chips.to_string(),
                timestamp(start, j.arrived),
                j.first_start
                    .map(|t| timestamp(start, t))
                    .unwrap_or_default(),
                j.completed.map(|t| timestamp(start, t)).unwrap_or_default(),
                j.first_start
                    .map(|t| hours(j.arrived, t))
                    .unwrap_or_default(),
                j.completed.map(|t| hours(j.arrived, t)).unwrap_or_default(),
                sites.join(";"),
                j.evictions.to_string(),
                j.failures.to_string(),
                j.outcome.as_str().to_string(),
            ])
            .expect("in memory");
        }
    }
    finish(w)
}

/// Columns of `decisions.csv`.
pub const DECISIONS_COLUMNS: &[&str] = &[
    "run",
    "scenario",
    "replication",
    "at",
    "firm",
    "site",
    "jurisdiction",
    "chip",
    "lot",
    "action",
    "chips",
    "usd_per_chip_hour",
    "need_chips",
    "market_held_share",
    "channel",
    "rank",
    "usd_per_pflop_day",
    "gap_pflops",
    "inference_need_tokens_per_s",
    "planned_chips",
    "why",
];

/// `decisions.csv`: one row per (replication, decision) in time order. At a firm's review, one row
/// per option it weighed (a lease at each market site, a domestic order, an import, a grey
/// purchase), ranked by cost per useful PFLOP-day (`rank`, `usd_per_pflop_day`), with the need
/// (`need_chips`: waiting gangs and planned runs, less what is on its way; `planned_chips`: the
/// planned runs' gangs; `gap_pflops`: planned capacity rules refused;
/// `inference_need_tokens_per_s`: forecast inference demand beyond its serving capacity) and what
/// it did:
/// `sign`, `order`, `import`, `grey`, or `pass` with `why`. Besides: past leases the scenario
/// lists, renewals and releases at the end of a term, leases a rule ended, lots refused on
/// arrival, and grey lots seized; and each domestic cloud's review (no firm: `cloud_buys` or
/// `cloud_declines`, `market_held_share` the share of its chip-time in use since its last review).
/// `usd_per_chip_hour` is the lot's price from then on (0 once it has ended); `market_held_share`
/// is the share of the market's open capacity every tenant holds after the decision.
pub fn decisions(tag: Tag, world: &World, periods: &Periods, runs: &[RunMetrics]) -> Vec<u8> {
    let start = periods.starts.first().copied().unwrap_or_default();
    let mut w = writer();
    w.write_record(DECISIONS_COLUMNS).expect("in memory");
    for run in runs {
        for d in &run.decisions {
            let site = world.sites.get(d.site as usize);
            w.write_record([
                tag.run.to_string(),
                tag.scenario.to_string(),
                run.replication.to_string(),
                timestamp(start, d.at),
                // A domestic cloud's own review has no firm.
                world
                    .firms
                    .get(d.firm as usize)
                    .map_or_else(String::new, |f| f.name.clone()),
                site.map_or_else(|| d.site.to_string(), |s| s.name.clone()),
                site.map_or_else(String::new, |s| s.jurisdiction.clone()),
                site.map_or_else(String::new, |s| {
                    world
                        .chips
                        .get(s.chip.0 as usize)
                        .map_or_else(String::new, |c| c.name.clone())
                }),
                d.lot.to_string(),
                d.action.as_str().to_string(),
                d.chips.to_string(),
                float(d.usd_per_chip_hour),
                d.need_chips.to_string(),
                float(d.market_held_share),
                d.channel.as_str().to_string(),
                d.rank.to_string(),
                float(d.usd_per_pflop_day),
                float(d.gap_pflops),
                float(d.inference_need_tokens_per_s),
                d.planned_chips.to_string(),
                d.why.as_str().to_string(),
            ])
            .expect("in memory");
        }
    }
    finish(w)
}

/// Columns of `summary.csv`.
pub const SUMMARY_COLUMNS: &[&str] = &[
    "run",
    "scenario",
    "period_start",
    "period_end",
    "period_days",
    "group_kind",
    "group",
    "metric",
    "replications",
    "mean",
    "p05",
    "p95",
];

/// One row per (period, group, metric), across replications.
pub fn summary(tag: Tag, periods: &Periods, rows: &[SummaryRow]) -> Vec<u8> {
    let mut out = Vec::new();
    summary_to(&mut out, tag, periods, rows).expect("writing to memory cannot fail");
    out
}

/// [`summary`], written to `out` as it is made (the largest file of a long daily run: hundreds of
/// MB that need not be held in memory).
pub fn summary_to(
    out: &mut dyn std::io::Write,
    tag: Tag,
    periods: &Periods,
    rows: &[SummaryRow],
) -> std::io::Result<()> {
    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record(SUMMARY_COLUMNS)?;
    for r in rows {
        w.write_record([
            tag.run,
            tag.scenario,
            &periods.starts[r.period].to_string(),
            &end_day(periods, r.period),
            &days(periods, r.period),
            r.group.kind(),
            r.group.name(),
            r.metric,
            &r.n.to_string(),
            &float(r.mean),
            &float(r.p05),
            &float(r.p95),
        ])?;
    }
    w.flush()
}

/// Columns of `draws.csv`.
pub const DRAWS_COLUMNS: &[&str] = &["run", "scenario", "replication", "field", "value", "in_run"];

/// `draws.csv`: the value each replication drew for each uncertain input (header only when the
/// scenario has none).
pub fn draws(tag: Tag, draws: &[Vec<Draw>]) -> Vec<u8> {
    let mut w = writer();
    w.write_record(DRAWS_COLUMNS).expect("in memory");
    for (r, rep) in draws.iter().enumerate() {
        for d in rep {
            // Shortest round-trip form: the exact values drawn and used.
            w.write_record([
                tag.run,
                tag.scenario,
                &r.to_string(),
                &d.field,
                &float(d.value),
                &float(d.in_run),
            ])
            .expect("in memory");
        }
    }
    finish(w)
}

/// Columns of `inputs.csv`.
pub const INPUTS_COLUMNS: &[&str] = &["run", "scenario", "field", "value", "unit", "source"];

/// `inputs.csv`: every input the scenario gives a source for, with its value as used (a
/// distribution as its table) and its unit.
pub fn inputs(tag: Tag, scenario: &Scenario) -> Vec<u8> {
    let mut w = writer();
    w.write_record(INPUTS_COLUMNS).expect("in memory");
    for i in scenario.inputs() {
        w.write_record([
            tag.run,
            tag.scenario,
            &i.field,
            &i.value,
            &i.unit,
            &i.source,
        ])
        .expect("in memory");
    }
    finish(w)
}

/// `provenance.csv`: every input figure's field path and the source the scenario gives for it.
pub fn provenance(tag: Tag, scenario: &Scenario) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["run", "scenario", "field", "source"])
        .expect("in memory");
    for p in &scenario.provenance {
        w.write_record([tag.run, tag.scenario, &p.path, &p.source])
            .expect("in memory");
    }
    w.into_inner().expect("in memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_always_read_as_floats_and_round_trip() {
        assert_eq!(float(3.0), "3.0");
        assert_eq!(float(0.1987), "0.1987");
        assert_eq!(float(1e300), "1e300");
        assert_eq!(float(-0.0), "0.0");
        assert_eq!(float(f64::NAN), "");
        assert_eq!(float(f64::INFINITY), "");
        assert_eq!(float(2.5e12), "2500000000000.0");
        let x = 0.1 + 0.2;
        assert_eq!(float(x).parse::<f64>().unwrap(), x);
        assert_eq!(count(3.0), "3");
        assert_eq!(count(0.0), "0");
        assert_eq!(cell(None, Dtype::Count), "");
    }

    /// `jobs.csv` from records made by hand (the model fills them in a run).
    #[test]
    fn jobs_have_one_row_each_with_names_iso_times_and_empty_cells_for_what_did_not_happen() {
        use crate::engine::SimTime;
        use crate::metrics::{JobKind, JobOutcome, JobRecord, PeriodKind};
        let sc = crate::scenario::baseline().unwrap();
        let w = &sc.world;
        let periods = Periods::new(sc.start_date, sc.end_date, PeriodKind::Month);
        let mut run = RunMetrics::new(1, w.sites.len(), w.firms.len(), periods.len());
        let h = 3600;
        let job = |arrived: u64, first_start, completed, outcome| JobRecord {
            firm: 0,
            workload: 0,
            kind: JobKind::FineTuning,
            size_flop: 1e21,
            gang_chips: 64,
            arrived: SimTime(arrived),
            first_start,
            completed,
            sites: vec![0, 1],
            evictions: 1,
            failures: 0,
            outcome,
        };
        run.job_records = vec![
            job(
                h,
                Some(SimTime(3 * h)),
                Some(SimTime(27 * h + 1800)),
                JobOutcome::Completed,
            ),
            job(2 * h, None, None, JobOutcome::Blocked),
        ];
        let tag = Tag {
            run: "r",
            scenario: "s",
        };
        let text = String::from_utf8(jobs(tag, w, &periods, &[run])).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], JOBS_COLUMNS.join(","));
        let (firm, workload) = (&w.firms[0].name, &w.firms[0].workloads[0].name);
        let sites = format!("{};{}", w.sites[0].name, w.sites[1].name);
        let start = sc.start_date;
        assert_eq!(
            lines[1],
            format!(
                "r,s,1,0,{firm},{workload},fine_tuning,1e21,64,{start}T01:00:00,{start}T03:00:00,\
                 {}T03:30:00,2.0,26.5,{sites},1,0,completed",
                start.succ_opt().unwrap()
            )
        );
        assert_eq!(
            lines[2],
            format!("r,s,1,1,{firm},{workload},fine_tuning,1e21,64,{start}T02:00:00,,,,,{sites},1,0,blocked")
        );
    }

    #[test]
    fn timestamps_are_iso_date_times_from_the_start() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
        assert_eq!(
            timestamp(d, crate::engine::SimTime(86_400 + 6 * 3600 + 1800)),
            "2026-03-15T06:30:00"
        );
    }
}
