//! The metric catalog: every quantity capsim reports, once, with its name, label, unit, column type,
//! kind, how it aggregates, and how to read it off a group of period rows.
//!
//! Every output iterates over this table: the columns of `timeseries.csv` ([`SITE`]) and
//! `firms.csv` ([`FIRM`]), the metrics of `summary.csv`, the headline numbers ([`HEADLINES`],
//! which name catalog entries), the comparison, the sweep and the reports. A column is never matched
//! to its value by position in two lists: adding a metric is one entry here (see CONTRIBUTING.md,
//! "Add a metric").
//!
//! How a metric aggregates:
//!
//! - across members of a group (the sites of a jurisdiction, the firms) and across periods, by its
//!   [`Kind`] and [`Aggregate`]: a flow is summed over every row; a stock is read at the end of the
//!   last period (summed, or the max, over the members); a ratio is a ratio of sums (never a mean of
//!   ratios); a percentile comes from the merged histograms of every row;
//! - across replications: each replication's value is computed from its own rows as above, and the
//!   replications' values are summarised (mean, p05, p95). Nothing is averaged across sites.

use super::{FirmPeriod, Histogram, JobKind, SitePeriod};

/// How a value is written in a CSV column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// A whole number of things (jobs, chips): an integer column.
    Count,
    /// A measured quantity: a float column (always written with a `.` or an exponent).
    Float,
}

/// What a metric measures over time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Accumulates over time (chip-hours, compute, cost, completions): summed over periods.
    Flow,
    /// A level at the end of a period (chips online, backlog): over several periods, the last one's.
    Stock,
    /// One flow over another (utilisation, offshore share, unit costs).
    Ratio,
    /// A percentile of durations (waits, completion times).
    Percentile,
}

/// How a metric combines the rows of a group (members and periods).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// The sum of the rows' values.
    Sum,
    /// A ratio of the rows' summed numerators and denominators (never a mean of ratios).
    RatioOfSums,
    /// A percentile of the rows' merged histograms.
    MergedHistogram,
    /// The largest of the rows' values.
    Max,
}

/// The rows a metric is read from: for each period (in time order), the group's members' rows, and
/// the seconds the periods cover. A site metric over a jurisdiction in one period reads one period
/// of that jurisdiction's sites; a headline number reads every period of every firm.
#[derive(Clone, Debug)]
pub struct Rows<'a, T> {
    periods: Vec<Vec<&'a T>>,
    seconds: f64,
}

impl<'a, T> Rows<'a, T> {
    /// Rows of `periods` (each period's members), covering `seconds` of simulated time.
    pub fn new(periods: Vec<Vec<&'a T>>, seconds: f64) -> Rows<'a, T> {
        Rows { periods, seconds }
    }

    /// One row: one member in one period of `seconds`.
    pub fn one(row: &'a T, seconds: f64) -> Rows<'a, T> {
        Rows::new(vec![vec![row]], seconds)
    }

    /// Every row.
    pub fn all(&self) -> impl Iterator<Item = &'a T> + '_ {
        self.periods.iter().flatten().copied()
    }

    /// The rows of the last period (stocks are read there).
    pub fn end(&self) -> impl Iterator<Item = &'a T> + '_ {
        self.periods.last().into_iter().flatten().copied()
    }

    /// Seconds of simulated time the periods cover.
    pub fn seconds(&self) -> f64 {
        self.seconds
    }

    /// Sum of `f` over every row.
    pub fn sum(&self, f: impl Fn(&T) -> f64) -> f64 {
        self.all().map(f).sum()
    }

    /// Sum of a count over every row.
    pub fn count(&self, f: impl Fn(&T) -> u64) -> f64 {
        self.all().map(f).sum::<u64>() as f64
    }

    /// Sum of a count over the last period's rows.
    pub fn count_end(&self, f: impl Fn(&T) -> u64) -> f64 {
        self.end().map(f).sum::<u64>() as f64
    }

    /// The `q`-quantile of the rows' merged histograms (None without samples).
    pub fn quantile(&self, q: f64, f: impl Fn(&T) -> &Histogram) -> Option<f64> {
        let mut h = Histogram::default();
        for r in self.all() {
            h.merge(f(r));
        }
        h.quantile(q)
    }
}

/// `a / b`, or None when `b` is not positive.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// How a metric is read off its rows.
#[derive(Clone, Copy)]
pub enum Read {
    /// From site rows (sites, jurisdictions, all sites).
    Site(fn(&Rows<SitePeriod>) -> Option<f64>),
    /// From firm rows (a firm, all firms).
    Firm(fn(&Rows<FirmPeriod>) -> Option<f64>),
}

impl std::fmt::Debug for Read {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Read::Site(_) => "Read::Site",
            Read::Firm(_) => "Read::Firm",
        })
    }
}

/// One metric of the catalog.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// Name in every output (column, `metric` field).
    pub name: &'static str,
    /// What a reader calls it.
    pub label: &'static str,
    /// Unit (`share` is a fraction 0..1; `jobs`, `chips`, `tokens`, `USD`, `hours`, ...).
    pub unit: &'static str,
    /// Column type.
    pub dtype: Dtype,
    /// Flow, stock, ratio or percentile.
    pub kind: Kind,
    /// How rows combine.
    pub aggregate: Aggregate,
    /// How it is read off a group of rows.
    pub read: Read,
    /// A ratio's numerator and denominator as sums of other metrics' columns (None: no columns
    /// hold them, or not a ratio); see [`Metric::rebuild`].
    pub parts: Option<Parts>,
}

/// A ratio as columns: the sum of the `numerator` columns over the sum of the `denominator`
/// columns, each summed over the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    /// Metrics (columns of the same table) whose sum is the numerator.
    pub numerator: &'static [&'static str],
    /// Metrics whose sum is the denominator.
    pub denominator: &'static [&'static str],
}

/// How a metric's value over several consecutive periods is rebuilt from one replication's values
/// in each period (a table's rows of one member, e.g. a firm's rows of `firms.csv`), as `capsim
/// compare --period` does from runs written at a finer period. Each rule gives what the metric
/// reads over the whole periods ([`Metric::read`]), up to the order in which floats are summed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rebuild {
    /// A flow: the sum of the periods' values.
    Sum,
    /// A stock: the last period's value.
    Last,
    /// A ratio of sums, from its [`Parts`]: sum the parts' columns over the periods, then divide
    /// (None where the denominator is not positive). Never a mean of the periods' ratios.
    Ratio(Parts),
    /// Not from the periods' values: a percentile (of histograms no table holds), or a ratio whose
    /// numerator no column holds (spend shared out within each period).
    Cannot,
}

impl Metric {
    /// The value over site rows (None for a firm metric, or where there is nothing to divide).
    pub fn of_sites(&self, rows: &Rows<SitePeriod>) -> Option<f64> {
        match self.read {
            Read::Site(f) => f(rows),
            Read::Firm(_) => None,
        }
    }

    /// The value over firm rows (None for a site metric, or where there is nothing to divide).
    pub fn of_firms(&self, rows: &Rows<FirmPeriod>) -> Option<f64> {
        match self.read {
            Read::Firm(f) => f(rows),
            Read::Site(_) => None,
        }
    }

    /// How the value over several periods is rebuilt from its values in each (see [`Rebuild`]).
    pub fn rebuild(&self) -> Rebuild {
        match (self.kind, self.parts) {
            (Kind::Flow, _) => Rebuild::Sum,
            (Kind::Stock, _) => Rebuild::Last,
            (Kind::Ratio, Some(parts)) => Rebuild::Ratio(parts),
            (Kind::Ratio, None) | (Kind::Percentile, _) => Rebuild::Cannot,
        }
    }

    /// This metric with its ratio's [`Parts`].
    const fn parts(
        mut self,
        numerator: &'static [&'static str],
        denominator: &'static [&'static str],
    ) -> Metric {
        self.parts = Some(Parts {
            numerator,
            denominator,
        });
        self
    }

    /// How the value over several periods is built, in words.
    pub fn how(&self) -> &'static str {
        match (self.kind, self.aggregate) {
            (Kind::Flow, _) => "sum",
            (Kind::Stock, Aggregate::Max) => "largest at the end",
            (Kind::Stock, Aggregate::RatioOfSums) => "at the end, ratio of sums",
            (Kind::Stock, _) => "at the end",
            (Kind::Ratio, _) => "ratio of sums",
            (Kind::Percentile, _) => "percentile of merged histograms",
        }
    }
}

const fn site(
    name: &'static str,
    label: &'static str,
    unit: &'static str,
    dtype: Dtype,
    kind: Kind,
    aggregate: Aggregate,
    read: fn(&Rows<SitePeriod>) -> Option<f64>,
) -> Metric {
    Metric {
        name,
        label,
        unit,
        dtype,
        kind,
        aggregate,
        read: Read::Site(read),
        parts: None,
    }
}

const fn firm(
    name: &'static str,
    label: &'static str,
    unit: &'static str,
    dtype: Dtype,
    kind: Kind,
    aggregate: Aggregate,
    read: fn(&Rows<FirmPeriod>) -> Option<f64>,
) -> Metric {
    Metric {
        name,
        label,
        unit,
        dtype,
        kind,
        aggregate,
        read: Read::Firm(read),
        parts: None,
    }
}

use Aggregate::{Max, MergedHistogram, RatioOfSums, Sum};
use Dtype::{Count, Float};
use Kind::{Flow, Percentile, Ratio, Stock};

/// Site metrics (sites, jurisdictions, all sites), in column order of `timeseries.csv`.
#[rustfmt::skip]
pub const SITE: &[Metric] = &[
    site("chips_online", "chips online at the end", "chips", Count, Stock, Sum,
        |r| Some(r.count_end(|p| p.chips_online))),
    site("chip_hours_online", "chip-hours online", "chip-hours", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.chip_hours_online))),
    site("chip_hours_busy", "chip-hours busy", "chip-hours", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.chip_hours_busy))),
    site("chip_hours_inference", "chip-hours serving inference", "chip-hours", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.chip_hours_inference))),
    site("utilisation", "utilisation (busy over online chip-hours)", "share", Float, Ratio,
        RatioOfSums, |r| ratio(r.sum(|p| p.chip_hours_busy), r.sum(|p| p.chip_hours_online)))
        .parts(&["chip_hours_busy"], &["chip_hours_online"]),
    site("compute_pflop_days", "useful training compute (net)", "PFLOP-days", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.compute_pflop_days))),
    site("lost_pflop_days", "compute rolled back by failures", "PFLOP-days", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.lost_pflop_days))),
    site("tokens_served", "tokens served", "tokens", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.tokens_served))),
    site("training_jobs_completed", "pre-training jobs completed", "jobs", Count, Flow, Sum,
        |r| Some(r.count(|p| p.jobs_completed[JobKind::Training]))),
    site("fine_tuning_jobs_completed", "fine-tuning jobs completed", "jobs", Count, Flow, Sum,
        |r| Some(r.count(|p| p.jobs_completed[JobKind::FineTuning]))),
    site("queue_length_mean", "mean jobs waiting in site queues", "jobs", Float, Ratio,
        RatioOfSums, |r| ratio(r.sum(|p| p.queue_job_seconds), r.seconds())),
    site("jobs_waiting_end", "jobs waiting in site queues at the end", "jobs", Count, Stock, Sum,
        |r| Some(r.count_end(|p| p.jobs_waiting_end))),
    site("wait_hours_p50", "median wait from arrival to first start", "hours", Float, Percentile,
        MergedHistogram, |r| r.quantile(0.5, |p| &p.wait_hours)),
    site("wait_hours_p95", "95th percentile wait from arrival to first start", "hours", Float,
        Percentile, MergedHistogram, |r| r.quantile(0.95, |p| &p.wait_hours)),
    site("completion_hours_p50_training",
        "median pre-training job completion time (arrival to finish)", "hours", Float, Percentile,
        MergedHistogram,
        |r| r.quantile(0.5, |p| &p.completion_hours[JobKind::Training])),
    site("completion_hours_p50_fine_tuning",
        "median fine-tuning job completion time (arrival to finish)", "hours", Float, Percentile,
        MergedHistogram, |r| r.quantile(0.5, |p| &p.completion_hours[JobKind::FineTuning])),
    site("cost_usd", "what sites cost", "USD", Float, Flow, Sum, |r| Some(r.sum(|p| p.cost_usd))),
    site("cost_usage_usd", "what users paid at sites", "USD", Float, Flow, Sum,
        |r| Some(r.sum(SitePeriod::usage_cost_usd))),
    site("cost_idle_usd", "cost of idle capacity", "USD", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.cost_idle_usd))),
    site("cost_unpaid_usd", "idle capacity no firm paid for", "USD", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.cost_unpaid_usd))),
    site("usd_per_pflop_day", "training chip-hours used per useful PFLOP-day", "USD/PFLOP-day",
        Float, Ratio, RatioOfSums,
        |r| ratio(r.sum(|p| p.usage_cost_training_usd), r.sum(|p| p.compute_pflop_days))),
    site("usd_per_million_tokens", "inference chip-hours used per million tokens", "USD/M tokens",
        Float,
        Ratio, RatioOfSums, |r| {
            ratio(r.sum(|p| p.usage_cost_inference_usd), r.sum(|p| p.tokens_served) / 1e6)
        }),
    site("energy_mwh", "energy drawn", "MWh", Float, Flow, Sum, |r| Some(r.sum(|p| p.energy_mwh))),
    site("evictions", "jobs evicted by rules or moved off a replaced lease", "jobs", Count, Flow, Sum,
        |r| Some(r.count(|p| p.evictions))),
    site("failures", "chip failures that interrupted a job", "failures", Count, Flow, Sum,
        |r| Some(r.count(|p| p.failures))),
    site("blocked_jobs", "jobs evicted from here and blocked at the end", "jobs", Count, Stock, Sum,
        |r| Some(r.count_end(|p| p.blocked_jobs))),
    site("chips_delivered", "chips delivered", "chips", Count, Flow, Sum,
        |r| Some(r.count(|p| p.chips_delivered))),
    site("chips_refused", "chips stopped by a rule", "chips", Count, Flow, Sum,
        |r| Some(r.count(|p| p.chips_refused))),
    site("contracts_ended", "lease contracts ended by a rule", "contracts", Count, Flow, Sum,
        |r| Some(r.count(|p| p.contracts_ended))),
    site("lease_chips_signed", "chips leased by new contracts (and listed past leases)", "chips", Count, Flow, Sum,
        |r| Some(r.count(|p| p.lease_chips_signed))),
    site("lease_chips_ended", "chips whose lease ended (released or ended by a rule)", "chips",
        Count, Flow, Sum, |r| Some(r.count(|p| p.lease_chips_ended))),
    site("cloud_chips_reserved", "chips of domestic clouds reserved by new contracts", "chips",
        Count, Flow, Sum, |r| Some(r.count(|p| p.cloud_chips_reserved))),
    site("cloud_chips_ended", "chips of domestic-cloud blocks that ended", "chips",
        Count, Flow, Sum, |r| Some(r.count(|p| p.cloud_chips_ended))),
    site("lease_price_usd_per_chip_hour_end",
        "mean price of the leased lots online at the end, before rules' price factors", "USD/chip-hour", Float,
        Stock, RatioOfSums, |r| ratio(r.end().map(|p| p.lease_usd_per_hour).sum(),
            r.count_end(|p| p.lease_chips_active))),
    site("market_held_share_end",
        "share of its market's open capacity held at the end (the tightest of the group's sites)",
        "share", Float, Stock, Max,
        |r| r.end().filter(|p| p.in_market).map(|p| p.market_held_share).reduce(f64::max)),
    site("chips_to_orders", "of the site's supply, chips taken by firms' domestic orders",
        "chips", Count, Flow, Sum, |r| Some(r.count(|p| p.chips_to_orders))),
    site("chips_declined",
        "of the site's supply, chips its cloud did not buy (its chips were not used enough)",
        "chips", Count, Flow, Sum, |r| Some(r.count(|p| p.chips_declined))),
];

/// All kinds' backlog at the end of the last period, merged over the members.
fn backlog_end(r: &Rows<FirmPeriod>) -> super::Backlog {
    let mut b = super::Backlog::default();
    for p in r.end() {
        for k in JobKind::ALL {
            b.merge(&p.backlog[k]);
        }
    }
    b
}

/// Firm metrics (a firm, all firms), in column order of `firms.csv`.
#[rustfmt::skip]
pub const FIRM: &[Metric] = &[
    firm("compute_home_pflop_days", "useful training compute at home", "PFLOP-days", Float, Flow,
        Sum, |r| Some(r.sum(|p| p.compute_home_pflop_days))),
    firm("compute_abroad_pflop_days", "useful training compute abroad", "PFLOP-days", Float, Flow,
        Sum, |r| Some(r.sum(|p| p.compute_abroad_pflop_days))),
    firm("lost_pflop_days", "compute rolled back by failures", "PFLOP-days", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.lost_pflop_days))),
    firm("offshore_share", "offshore share of training compute", "share", Float, Ratio,
        RatioOfSums, |r| {
            let abroad = r.sum(|p| p.compute_abroad_pflop_days);
            ratio(abroad, abroad + r.sum(|p| p.compute_home_pflop_days))
        })
        .parts(&["compute_abroad_pflop_days"],
            &["compute_abroad_pflop_days", "compute_home_pflop_days"]),
    firm("chip_hours_home", "chip-hours used at home", "chip-hours", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.chip_hours_home))),
    firm("chip_hours_abroad", "chip-hours used abroad", "chip-hours", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.chip_hours_abroad))),
    firm("chip_hours_cloud", "chip-hours rented per busy hour from domestic clouds (of those at home)", "chip-hours",
        Float, Flow, Sum, |r| Some(r.sum(|p| p.chip_hours_cloud))),
    firm("tokens_demanded", "tokens demanded", "tokens", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.tokens_demanded))),
    firm("tokens_served", "tokens served", "tokens", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.tokens_served))),
    firm("tokens_served_domestic_chips", "tokens served on domestic chips", "tokens", Float, Flow,
        Sum, |r| Some(r.sum(|p| p.tokens_served_domestic_chips))),
    firm("tokens_served_share", "share of token demand served", "share", Float, Ratio, RatioOfSums,
        |r| ratio(r.sum(|p| p.tokens_served), r.sum(|p| p.tokens_demanded)))
        .parts(&["tokens_served"], &["tokens_demanded"]),
    firm("cost_home_usd", "what firms paid at home", "USD", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.cost_home_usd))),
    firm("cost_abroad_usd", "what firms paid abroad", "USD", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.cost_abroad_usd))),
    firm("cost_usd", "what firms paid", "USD", Float, Flow, Sum,
        |r| Some(r.sum(FirmPeriod::cost_usd))),
    firm("cost_idle_usd", "of what firms paid, for capacity no work used", "USD", Float, Flow, Sum,
        |r| Some(r.sum(|p| p.cost_idle_usd))),
    firm("usd_per_pflop_day", "training spend per useful PFLOP-day", "USD/PFLOP-day", Float,
        Ratio, RatioOfSums, |r| {
            let compute = r.sum(|p| p.compute_home_pflop_days + p.compute_abroad_pflop_days);
            ratio(r.sum(FirmPeriod::spend_training_usd), compute)
        }),
    firm("usd_per_million_tokens", "inference spend per million tokens served", "USD/M tokens",
        Float, Ratio, RatioOfSums,
        |r| ratio(r.sum(FirmPeriod::spend_inference_usd), r.sum(|p| p.tokens_served) / 1e6)),
    firm("contracts_ended", "lease contracts ended by a rule", "contracts", Count, Flow, Sum,
        |r| Some(r.count(|p| p.contracts_ended))),
    firm("lease_chips_signed", "chips leased by new contracts (and listed past leases)", "chips", Count, Flow, Sum,
        |r| Some(r.count(|p| p.lease_chips_signed))),
    firm("lease_chips_ended", "chips whose lease ended (released or ended by a rule)", "chips",
        Count, Flow, Sum, |r| Some(r.count(|p| p.lease_chips_ended))),
    firm("lease_chips_replaced", "leased chips released because owned capacity bought to replace them arrived", "chips",
        Count, Flow, Sum, |r| Some(r.count(|p| p.lease_chips_replaced))),
    firm("lease_chips_held_end", "chips held under lease in markets at the end", "chips", Count,
        Stock, Sum, |r| Some(r.count_end(|p| p.lease_chips_held))),
    firm("cloud_chips_reserved", "chips of domestic clouds reserved by new contracts", "chips",
        Count, Flow, Sum, |r| Some(r.count(|p| p.cloud_chips_reserved))),
    firm("cloud_chips_ended", "chips of domestic-cloud blocks that ended", "chips",
        Count, Flow, Sum, |r| Some(r.count(|p| p.cloud_chips_ended))),
    firm("cloud_chips_held_end", "chips of domestic clouds held reserved at the end", "chips",
        Count, Stock, Sum, |r| Some(r.count_end(|p| p.cloud_chips_held))),
    firm("lease_need_chips_end", "unmet need found at the last review up to then", "chips", Count, Stock,
        Sum, |r| Some(r.count_end(|p| p.lease_need_chips))),
    firm("order_chips_placed", "domestic chips ordered", "chips", Count, Flow, Sum,
        |r| Some(r.count(|p| p.order_chips_placed))),
    firm("order_chips_delivered", "ordered domestic chips arrived", "chips", Count, Flow, Sum,
        |r| Some(r.count(|p| p.order_chips_delivered))),
    firm("order_chips_open_end", "domestic chips ordered and not yet arrived at the end", "chips",
        Count, Stock, Sum, |r| Some(r.count_end(|p| p.order_chips_open))),
    firm("import_chips_placed", "foreign chips bought under licence", "chips", Count, Flow, Sum,
        |r| Some(r.count(|p| p.import_chips_placed))),
    firm("grey_chips_placed", "smuggled chips bought", "chips", Count, Flow, Sum,
        |r| Some(r.count(|p| p.grey_chips_placed))),
    firm("grey_chips_seized", "smuggled chips seized on the way", "chips", Count, Flow, Sum,
        |r| Some(r.count(|p| p.grey_chips_seized))),
    firm("procured_chips_open_end", "import and grey chips bought and not yet arrived at the end",
        "chips", Count, Stock, Sum, |r| Some(r.count_end(|p| p.procured_chips_open))),
    firm("commitments_usd",
        "new commitments: chips ordered or bought (at purchase price with fees or premium) and lease terms signed or renewed",
        "USD", Float, Flow, Sum, |r| Some(r.sum(|p| p.commitments_usd))),
    firm("seized_usd", "purchase value of smuggled chips seized on the way", "USD", Float, Flow,
        Sum, |r| Some(r.sum(|p| p.seized_usd))),
    firm("plan_gap_pflops_end",
        "planned capacity refused by rules and not yet replaced, at the end (effective)",
        "PFLOP/s", Float, Stock, Sum, |r| Some(r.end().map(|p| p.plan_gap_pflops).sum())),
    firm("jobs_arrived", "pre-training and fine-tuning jobs arrived", "jobs", Count, Flow, Sum,
        |r| Some(r.count(|p| p.jobs_arrived))),
    firm("training_jobs_completed", "pre-training jobs completed", "jobs", Count, Flow, Sum,
        |r| Some(r.count(|p| p.jobs_completed[JobKind::Training]))),
    firm("fine_tuning_jobs_completed", "fine-tuning jobs completed", "jobs", Count, Flow, Sum,
        |r| Some(r.count(|p| p.jobs_completed[JobKind::FineTuning]))),
    firm("completion_hours_p50_training",
        "median pre-training job completion time (arrival to finish)", "hours", Float, Percentile,
        MergedHistogram,
        |r| r.quantile(0.5, |p| &p.completion_hours[JobKind::Training])),
    firm("completion_hours_p50_fine_tuning",
        "median fine-tuning job completion time (arrival to finish)", "hours", Float, Percentile,
        MergedHistogram, |r| r.quantile(0.5, |p| &p.completion_hours[JobKind::FineTuning])),
    firm("backlog_training_end", "pre-training jobs unfinished at the end", "jobs", Count, Stock,
        Sum, |r| Some(r.count_end(|p| p.backlog[JobKind::Training].jobs()))),
    firm("backlog_fine_tuning_end", "fine-tuning jobs unfinished at the end", "jobs", Count, Stock,
        Sum, |r| Some(r.count_end(|p| p.backlog[JobKind::FineTuning].jobs()))),
    firm("waiting_jobs_end", "jobs waiting for capacity at the end", "jobs", Count, Stock, Sum,
        |r| Some(r.count_end(FirmPeriod::waiting_jobs))),
    firm("blocked_jobs_end", "jobs blocked by a rule at the end", "jobs", Count, Stock, Sum,
        |r| Some(r.count_end(FirmPeriod::blocked_jobs))),
    firm("backlog_age_hours_mean_end", "mean age of unfinished jobs at the end", "hours", Float,
        Stock, RatioOfSums, |r| backlog_end(r).age_hours_mean()),
    firm("backlog_age_hours_max_end", "age of the oldest unfinished job at the end", "hours",
        Float, Stock, Max, |r| Some(backlog_end(r).age_hours_max)),
    firm("evictions", "jobs evicted by rules or moved off a replaced lease", "jobs", Count, Flow, Sum,
        |r| Some(r.count(|p| p.evictions))),
];

/// The site metric called `name`.
pub fn site_metric(name: &str) -> Option<&'static Metric> {
    SITE.iter().find(|m| m.name == name)
}

/// The firm metric called `name`.
pub fn firm_metric(name: &str) -> Option<&'static Metric> {
    FIRM.iter().find(|m| m.name == name)
}

/// The rows a headline number reads, over every period of the horizon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadlineGroup {
    /// Every site (`all/all` in `summary.csv`).
    AllSites,
    /// Every firm (`firms/all`).
    AllFirms,
    /// Each firm on its own (`firm/<name>`): one headline number per firm, `<name>.<firm>`.
    EachFirm,
}

/// A headline number: a catalog metric read over a whole group for the whole horizon, one value
/// per replication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headline {
    /// Name in `headline.csv`, `records.csv`, `sweep.csv` and `comparison.csv` (per firm:
    /// `<name>.<firm>`).
    pub name: &'static str,
    /// The rows it reads.
    pub group: HeadlineGroup,
    /// The catalog metric it reads (a [`SITE`] metric for [`HeadlineGroup::AllSites`], a [`FIRM`]
    /// one otherwise).
    pub metric: &'static str,
    /// What a reader calls it.
    pub label: &'static str,
}

impl Headline {
    /// The catalog entry it reads.
    pub fn metric(&self) -> &'static Metric {
        let m = match self.group {
            HeadlineGroup::AllSites => site_metric(self.metric),
            HeadlineGroup::AllFirms | HeadlineGroup::EachFirm => firm_metric(self.metric),
        };
        m.unwrap_or_else(|| {
            panic!(
                "headline '{}' reads '{}', which the catalog does not have",
                self.name, self.metric
            )
        })
    }

    /// The `summary.csv` group it corresponds to, for firm `firm` where per firm: (kind, name).
    pub fn summary_group<'a>(&self, firm: &'a str) -> (&'static str, &'a str) {
        match self.group {
            HeadlineGroup::AllSites => ("all", "all"),
            HeadlineGroup::AllFirms => ("firms", "all"),
            HeadlineGroup::EachFirm => ("firm", firm),
        }
    }
}

const fn headline(
    name: &'static str,
    group: HeadlineGroup,
    metric: &'static str,
    label: &'static str,
) -> Headline {
    Headline {
        name,
        group,
        metric,
        label,
    }
}

use HeadlineGroup::{AllFirms, AllSites, EachFirm};

/// The headline numbers, in output order; the per-firm ones ([`HeadlineGroup::EachFirm`]) come
/// last, one per firm.
///
/// Costs: `cost_usd` is what the sites cost; `cost_firms_usd` what firms paid; the difference is
/// the idle capacity no firm paid for (a cloud's unrented chips; `cost_unpaid_usd` in the site
/// tables). `cost_idle_usd` is all idle capacity's cost, of which firms paid `cost_firms_idle_usd`
/// (owned chips and contracts standing idle). Unit costs are firms' spend (idle capacity charged
/// pro rata to what the firm used) over useful compute or tokens served.
#[rustfmt::skip]
pub const HEADLINES: &[Headline] = &[
    headline("compute_pflop_days", AllSites, "compute_pflop_days", "useful training compute (net)"),
    headline("lost_pflop_days", AllSites, "lost_pflop_days", "compute rolled back by failures"),
    headline("compute_abroad_share", AllFirms, "offshore_share", "share of training compute abroad"),
    headline("cost_usd", AllSites, "cost_usd", "what sites cost"),
    headline("cost_firms_usd", AllFirms, "cost_usd", "what firms paid"),
    headline("cost_idle_usd", AllSites, "cost_idle_usd", "cost of idle capacity"),
    headline("cost_firms_idle_usd", AllFirms, "cost_idle_usd",
        "of what firms paid, for capacity no work used"),
    headline("usd_per_pflop_day", AllFirms, "usd_per_pflop_day",
        "training spend per useful PFLOP-day"),
    headline("usd_per_million_tokens", AllFirms, "usd_per_million_tokens",
        "inference spend per million tokens served"),
    headline("contracts_ended", AllFirms, "contracts_ended", "lease contracts ended by a rule"),
    headline("lease_chips_signed", AllFirms, "lease_chips_signed", "chips leased by new contracts"),
    headline("lease_chips_held_end", AllFirms, "lease_chips_held_end",
        "chips held under lease in markets at the end"),
    headline("order_chips_placed", AllFirms, "order_chips_placed", "domestic chips ordered"),
    headline("import_chips_placed", AllFirms, "import_chips_placed",
        "foreign chips bought under licence"),
    headline("grey_chips_placed", AllFirms, "grey_chips_placed", "smuggled chips bought"),
    headline("cloud_chips_reserved", AllFirms, "cloud_chips_reserved",
        "domestic-cloud chips reserved by new contracts"),
    headline("grey_chips_seized", AllFirms, "grey_chips_seized", "smuggled chips seized"),
    headline("tokens_served", AllFirms, "tokens_served", "tokens served"),
    headline("tokens_served_share", AllFirms, "tokens_served_share", "share of token demand served"),
    headline("training_jobs_completed", AllFirms, "training_jobs_completed",
        "pre-training jobs completed"),
    headline("fine_tuning_jobs_completed", AllFirms, "fine_tuning_jobs_completed",
        "fine-tuning jobs completed"),
    headline("completion_hours_p50_training", AllFirms, "completion_hours_p50_training",
        "median pre-training job completion time (arrival to finish)"),
    headline("completion_hours_p50_fine_tuning", AllFirms, "completion_hours_p50_fine_tuning",
        "median fine-tuning job completion time (arrival to finish)"),
    headline("backlog_training_end", AllFirms, "backlog_training_end",
        "pre-training jobs unfinished at the end"),
    headline("backlog_fine_tuning_end", AllFirms, "backlog_fine_tuning_end",
        "fine-tuning jobs unfinished at the end"),
    headline("waiting_jobs_end", AllFirms, "waiting_jobs_end", "jobs waiting for capacity at the end"),
    headline("blocked_jobs_end", AllFirms, "blocked_jobs_end", "jobs blocked by a rule at the end"),
    headline("backlog_age_hours_mean_end", AllFirms, "backlog_age_hours_mean_end",
        "mean age of unfinished jobs at the end"),
    headline("evictions", AllFirms, "evictions", "jobs evicted by rules or moved off a replaced lease"),
    headline("offshore_share", EachFirm, "offshore_share", "share of its training compute abroad"),
];

/// A headline number as it appears in outputs: its entry, and the firm for a per-firm one.
#[derive(Clone, Debug)]
pub struct HeadlineName {
    /// The entry.
    pub headline: &'static Headline,
    /// Firm index, for a per-firm number.
    pub firm: Option<usize>,
    /// Output name (`cost_usd`, `offshore_share.<firm>`).
    pub name: String,
}

/// The headline numbers for these firms, in output order.
pub fn headline_list(firms: &[String]) -> Vec<HeadlineName> {
    let mut out = Vec::new();
    for h in HEADLINES.iter().filter(|h| h.group != EachFirm) {
        out.push(HeadlineName {
            headline: h,
            firm: None,
            name: h.name.to_string(),
        });
    }
    for h in HEADLINES.iter().filter(|h| h.group == EachFirm) {
        for (i, f) in firms.iter().enumerate() {
            out.push(HeadlineName {
                headline: h,
                firm: Some(i),
                name: format!("{}.{f}", h.name),
            });
        }
    }
    out
}

/// The headline entry an output name (`cost_usd`, `offshore_share.<firm>`) stands for, and the
/// firm's name for a per-firm one.
pub fn headline_of(name: &str) -> Option<(&'static Headline, Option<&str>)> {
    if let Some(h) = HEADLINES
        .iter()
        .find(|h| h.group != EachFirm && h.name == name)
    {
        return Some((h, None));
    }
    let (prefix, firm) = name.split_once('.')?;
    HEADLINES
        .iter()
        .find(|h| h.group == EachFirm && h.name == prefix)
        .map(|h| (h, Some(firm)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_headlines_read_catalog_entries() {
        for list in [SITE, FIRM] {
            let mut names: Vec<_> = list.iter().map(|m| m.name).collect();
            names.sort();
            let n = names.len();
            names.dedup();
            assert_eq!(names.len(), n, "a metric name appears twice");
        }
        for h in HEADLINES {
            let m = h.metric();
            assert!(matches!(
                (h.group, m.read),
                (AllSites, Read::Site(_)) | (AllFirms | EachFirm, Read::Firm(_))
            ));
        }
        let names = headline_list(&["a".into(), "b".into()]);
        assert_eq!(names.last().unwrap().name, "offshore_share.b");
        let (h, f) = headline_of("offshore_share.a").unwrap();
        assert_eq!((h.name, f), ("offshore_share", Some("a")));
        assert_eq!(headline_of("cost_usd").unwrap().0.group, AllSites);
    }

    #[test]
    fn stocks_read_the_last_period_and_ratios_divide_sums() {
        let a = SitePeriod {
            chips_online: 10,
            chip_hours_online: 100.0,
            chip_hours_busy: 100.0,
            ..SitePeriod::default()
        };
        let b = SitePeriod {
            chips_online: 4,
            chip_hours_online: 300.0,
            ..SitePeriod::default()
        };
        let rows = Rows::new(vec![vec![&a], vec![&b]], 2.0);
        let get = |n: &str| site_metric(n).unwrap().of_sites(&rows);
        assert_eq!(get("chips_online"), Some(4.0));
        assert_eq!(get("chip_hours_online"), Some(400.0));
        assert_eq!(get("utilisation"), Some(0.25));
        assert_eq!(get("wait_hours_p50"), None);
        assert_eq!(
            site_metric("utilisation")
                .unwrap()
                .of_firms(&Rows::new(vec![], 0.0)),
            None
        );
    }

    /// What [`Metric::rebuild`] says of each firm metric is what the metric reads over the
    /// whole periods: a flow the sum of the periods' values, a stock the last period's, a ratio
    /// its parts' sums divided; a metric it cannot rebuild is a percentile or a ratio without
    /// parts. Three periods of made-up values, the middle one with no compute at all.
    #[test]
    fn firm_metrics_rebuild_from_their_periods_as_they_read_over_them() {
        let period = |k: f64, compute: bool| {
            let mut p = FirmPeriod {
                compute_home_pflop_days: if compute { 3.0 * k } else { 0.0 },
                compute_abroad_pflop_days: if compute { 5.0 + k } else { 0.0 },
                lost_pflop_days: 0.5 * k,
                chip_hours_home: 10.0 * k,
                chip_hours_abroad: 7.0 + k,
                tokens_demanded: 1e9 * k,
                tokens_served: 0.75e9 * k,
                cost_home_usd: 1e6 * k,
                cost_abroad_usd: 2e6,
                cost_idle_usd: 1e5 * k,
                usage_training_usd: 5e5 * k,
                usage_inference_usd: 2e5,
                lease_chips_signed: 8 * k as u64,
                lease_chips_held: 100 + k as u64,
                order_chips_open: 40 - k as u64,
                plan_gap_pflops: 2.0 * k,
                jobs_arrived: 3 * k as u64,
                evictions: k as u64,
                ..FirmPeriod::default()
            };
            p.jobs_completed.0 = [k as u64, 2 * k as u64];
            p.backlog.0[0].waiting = 2 + k as u64;
            p.backlog.0[0].age_hours_sum = 50.0 * k;
            p.backlog.0[0].age_hours_max = 30.0 * k;
            p
        };
        let periods = [period(1.0, true), period(2.0, false), period(3.0, true)];
        let whole = Rows::new(periods.iter().map(|p| vec![p]).collect(), 3.0);
        let each: Vec<Rows<FirmPeriod>> = periods.iter().map(|p| Rows::one(p, 1.0)).collect();
        let sum_of = |name: &str| -> f64 {
            let m = firm_metric(name).unwrap();
            each.iter().map(|r| m.of_firms(r).unwrap()).sum()
        };
        let close = |a: Option<f64>, b: Option<f64>, what: &str| match (a, b) {
            (Some(a), Some(b)) => {
                assert!(
                    (a - b).abs() <= 1e-12 * a.abs().max(1.0),
                    "{what}: {a} vs {b}"
                )
            }
            (a, b) => assert_eq!(a, b, "{what}"),
        };
        let mut cannot = Vec::new();
        for m in FIRM {
            let over = m.of_firms(&whole);
            match m.rebuild() {
                Rebuild::Sum => close(over, Some(sum_of(m.name)), m.name),
                Rebuild::Last => close(over, m.of_firms(&each[2]), m.name),
                Rebuild::Ratio(parts) => {
                    let add = |cols: &[&str]| cols.iter().map(|c| sum_of(c)).sum::<f64>();
                    close(
                        over,
                        ratio(add(parts.numerator), add(parts.denominator)),
                        m.name,
                    );
                    // Never the mean of the periods' ratios (the middle period has none).
                    assert_eq!(m.aggregate, RatioOfSums, "{}", m.name);
                }
                Rebuild::Cannot => {
                    assert!(
                        m.kind == Kind::Percentile || (m.kind == Kind::Ratio && m.parts.is_none()),
                        "{}",
                        m.name
                    );
                    cannot.push(m.name);
                }
            }
        }
        assert_eq!(
            cannot,
            [
                "usd_per_pflop_day",
                "usd_per_million_tokens",
                "completion_hours_p50_training",
                "completion_hours_p50_fine_tuning"
            ]
        );
        // Each part names a column of the same table.
        for m in SITE.iter().chain(FIRM) {
            if let Some(p) = m.parts {
                let list = if matches!(m.read, Read::Firm(_)) {
                    FIRM
                } else {
                    SITE
                };
                for c in p.numerator.iter().chain(p.denominator) {
                    assert!(list.iter().any(|x| x.name == *c), "{}: {c}", m.name);
                }
            }
        }
    }
}
