//! A run held against what was observed: for each of the scenario's observations, the model's
//! value over the same window and group (mean and p05-p95 across replications), and whether the
//! mean lies inside the observation's range. `observations.csv` holds the same.
//!
//! The window is the reporting periods from the one holding `from` to the one holding `date`. A
//! rate observed on one day (no `from`, e.g. tokens per day on 2025-06-30) is compared with the
//! model's rate on that day, read off the periods' mean rates as a straight line between the
//! middles of the two periods around it (each period's mean rate is taken at its middle), so that a
//! monthly mean does not lag a level that grows within the month; near the horizon's ends, or for
//! a level that is not a rate, it is the whole period that holds the day (run with `--period day`
//! to compare day by day). Observations outside the horizon, inputs and context figures are shown
//! but not scored.

use chrono::NaiveDate;

use crate::experiment::RunResult;
use crate::metrics::summary::Spread;
use crate::metrics::window;
use crate::scenario::observations::Observation;
use crate::scenario::Scenario;

use super::csv::float;

/// How an observation came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Scored: the model's mean lies inside the observed range.
    Inside,
    /// Scored: it lies outside.
    Outside,
    /// Also an input of the scenario: shown, not scored.
    Input,
    /// Not something the model outputs: shown for context.
    Context,
    /// Its window is not wholly inside the run's horizon.
    OutsideHorizon,
    /// The model has no value there (nothing to divide, in every replication).
    NoValue,
}

impl Status {
    /// As written in `observations.csv` and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Inside => "inside",
            Status::Outside => "outside",
            Status::Input => "input",
            Status::Context => "context",
            Status::OutsideHorizon => "outside horizon",
            Status::NoValue => "no value",
        }
    }

    /// Whether it counts toward the score.
    pub fn scored(self) -> bool {
        matches!(self, Status::Inside | Status::Outside)
    }
}

/// One observation and the model's value for it.
#[derive(Clone, Debug)]
pub struct Held {
    /// The observation.
    pub obs: Observation,
    /// First and last day of the window compared (whole reporting periods), if in the horizon.
    pub window: Option<(NaiveDate, NaiveDate)>,
    /// The model across replications (None: no value, or not a model output).
    pub sim: Option<Spread>,
    /// The outcome.
    pub status: Status,
}

/// Holds every observation of `scenario` against `result`, in file order.
pub fn hold(scenario: &Scenario, result: &RunResult) -> Vec<Held> {
    scenario
        .observations
        .iter()
        .map(|o| hold_one(o, scenario.end_date, result))
        .collect()
}

fn hold_one(o: &Observation, end: NaiveDate, result: &RunResult) -> Held {
    let periods = &result.periods;
    let held = |window, sim, status| Held {
        obs: o.clone(),
        window,
        sim,
        status,
    };
    let Some(target) = &o.target else {
        return held(None, None, Status::Context);
    };
    let first_day = o.from.unwrap_or(o.date);
    let start = periods.starts[0];
    if first_day < start || o.date > end {
        return held(None, None, Status::OutsideHorizon);
    }
    let period_of = |d: NaiveDate| periods.starts.partition_point(|&s| s <= d) - 1;
    let (first, last) = (period_of(first_day), period_of(o.date));
    let rate_of = |p: usize| -> Vec<Option<f64>> {
        window(&result.runs, periods, target.metric, &target.members, p, p)
            .into_iter()
            .map(|x| x.map(|x| x / periods.days(p)))
            .collect()
    };
    // A rate on one day: between the middles of the two periods around it.
    let point = (o.from.is_none() && target.per_day)
        .then(|| {
            let day = (o.date - start).num_days() as f64 + 0.5;
            let mid =
                |p: usize| (periods.starts[p] - start).num_days() as f64 + periods.days(p) / 2.0;
            let q = if day >= mid(first) {
                first + 1
            } else {
                first.checked_sub(1)?
            };
            if q >= periods.len() {
                return None;
            }
            let (a, b) = (first.min(q), first.max(q));
            let w = (day - mid(a)) / (mid(b) - mid(a));
            let values: Vec<f64> = rate_of(a)
                .into_iter()
                .zip(rate_of(b))
                .filter_map(|(x, y)| Some(x? + (y? - x?) * w))
                .collect();
            Some((a, b, values))
        })
        .flatten();
    let (first, last, values) = match point {
        Some(v) => v,
        None => {
            let days: f64 = (first..=last).map(|p| periods.days(p)).sum();
            let values = window(
                &result.runs,
                periods,
                target.metric,
                &target.members,
                first,
                last,
            )
            .into_iter()
            .flatten()
            .map(|x| if target.per_day { x / days } else { x })
            .collect();
            (first, last, values)
        }
    };
    let window_end = periods
        .starts
        .get(last + 1)
        .and_then(|d| d.pred_opt())
        .unwrap_or(end);
    let values = values
        .into_iter()
        .map(|x| if target.complement { 1.0 - x } else { x });
    let sim = Spread::of(values);
    let status = match sim {
        None => Status::NoValue,
        Some(_) if o.used_as_input => Status::Input,
        Some(s) if o.low <= s.mean && s.mean <= o.high => Status::Inside,
        Some(_) => Status::Outside,
    };
    held(Some((periods.starts[first], window_end)), sim, status)
}

/// (scored, inside) counts.
pub fn score(held: &[Held]) -> (usize, usize) {
    let scored = held.iter().filter(|h| h.status.scored()).count();
    let inside = held.iter().filter(|h| h.status == Status::Inside).count();
    (scored, inside)
}

/// Columns of `observations.csv`.
pub const COLUMNS: &[&str] = &[
    "run",
    "scenario",
    "line",
    "date",
    "from",
    "metric",
    "group",
    "value",
    "low",
    "high",
    "unit",
    "status",
    "window_start",
    "window_end",
    "sim_mean",
    "sim_p05",
    "sim_p95",
    "replications",
    "used_as_input",
    "source",
    "note",
];

/// `observations.csv`: one row per observation, in file order, tagged with its run.
pub fn observations_csv(tag: super::csv::Tag, held: &[Held]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(COLUMNS).expect("in memory");
    for h in held {
        let o = &h.obs;
        let date = |d: Option<NaiveDate>| d.map_or(String::new(), |d| d.to_string());
        let sim = |f: fn(&Spread) -> f64| h.sim.as_ref().map_or(String::new(), |s| float(f(s)));
        w.write_record([
            tag.run.to_string(),
            tag.scenario.to_string(),
            o.line.to_string(),
            o.date.to_string(),
            date(o.from),
            o.metric.clone(),
            o.group.clone(),
            float(o.value),
            float(o.low),
            float(o.high),
            o.unit.clone(),
            h.status.as_str().to_string(),
            date(h.window.map(|w| w.0)),
            date(h.window.map(|w| w.1)),
            sim(|s| s.mean),
            sim(|s| s.p05),
            sim(|s| s.p95),
            h.sim.map_or(String::new(), |s| s.n.to_string()),
            o.used_as_input.to_string(),
            o.source.clone(),
            o.note.clone(),
        ])
        .expect("in memory");
    }
    w.into_inner().expect("writing to memory cannot fail")
}
