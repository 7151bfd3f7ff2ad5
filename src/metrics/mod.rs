//! Streaming aggregation of what happens in a run into calendar periods, and statistics across
//! replications.
//!
//! Memory is bounded by periods x series (sites, firms), never by the number of events or jobs: the
//! model adds intervals and counts as they happen; percentiles come from fixed-size histograms.

pub mod headline;
pub mod histogram;
pub mod periods;
pub mod summary;

pub use headline::{headline, headline_names, HEADLINE_METRICS};
pub use histogram::Histogram;
pub use periods::{PeriodKind, Periods};
pub use summary::{summarise, Group, SummaryRow};

/// Seconds in a PFLOP-day divided into FLOP: 1e15 FLOP/s for one day.
pub const FLOP_PER_PFLOP_DAY: f64 = 1e15 * 86_400.0;

/// What one site did in one period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SitePeriod {
    /// Chips installed and not in repair at the end of the period.
    pub chips_online: u64,
    /// Chip-hours online (installed, not in repair) during the period.
    pub chip_hours_online: f64,
    /// Chip-hours held by jobs or inference batches.
    pub chip_hours_busy: f64,
    /// Of which inference.
    pub chip_hours_inference: f64,
    /// Useful training and fine-tuning compute: peak x MFU x productive chip-time, PFLOP-days.
    pub compute_pflop_days: f64,
    /// Compute rolled back by failures (already counted in `compute_pflop_days`), PFLOP-days.
    pub lost_pflop_days: f64,
    /// Inference tokens served.
    pub tokens_served: f64,
    /// Training jobs completed here.
    pub training_jobs_completed: u64,
    /// Fine-tuning jobs completed here.
    pub fine_tuning_jobs_completed: u64,
    /// Time-integral of the queue length, job-seconds (divide by period length for the mean).
    pub queue_job_seconds: f64,
    /// Spend at the site, USD (owned sites: capex on all online chips plus electricity of busy ones).
    pub cost_usd: f64,
    /// What users paid for training and fine-tuning chip-hours here, USD (for unit costs).
    pub usage_cost_training_usd: f64,
    /// What users paid for inference chip-hours here, USD (for unit costs).
    pub usage_cost_inference_usd: f64,
    /// Energy drawn by busy chips including PUE, MWh.
    pub energy_mwh: f64,
    /// Jobs evicted by a rule.
    pub evictions: u64,
    /// Chip failures that interrupted a job.
    pub failures: u64,
    /// Jobs that were evicted from here and are blocked at the end of the period.
    pub blocked_jobs: u64,
    /// Chips delivered.
    pub chips_delivered: u64,
    /// Chips stopped by a rule (bans, caps, power caps).
    pub chips_refused: u64,
    /// Waits from arrival to first start of jobs that started here, hours.
    pub wait_hours: Histogram,
    /// Arrival-to-completion times of training and fine-tuning jobs completed here, hours.
    pub completion_hours: Histogram,
}

impl SitePeriod {
    /// Busy chip-hours over online chip-hours, or None when no chip was online.
    pub fn utilisation(&self) -> Option<f64> {
        (self.chip_hours_online > 0.0).then(|| self.chip_hours_busy / self.chip_hours_online)
    }

    /// Training spend per useful PFLOP-day, USD, or None without training compute.
    pub fn usd_per_pflop_day(&self) -> Option<f64> {
        (self.compute_pflop_days > 0.0)
            .then(|| self.usage_cost_training_usd / self.compute_pflop_days)
    }

    /// Inference spend per million tokens served, USD, or None without tokens.
    pub fn usd_per_million_tokens(&self) -> Option<f64> {
        (self.tokens_served > 0.0).then(|| self.usage_cost_inference_usd / self.tokens_served * 1e6)
    }

    /// Mean number of jobs waiting in the queue over a period of `period_secs` seconds.
    pub fn queue_length_mean(&self, period_secs: f64) -> f64 {
        if period_secs > 0.0 {
            self.queue_job_seconds / period_secs
        } else {
            0.0
        }
    }
}

/// What one firm did in one period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FirmPeriod {
    /// Useful training compute at sites in the firm's home jurisdiction, PFLOP-days.
    pub compute_home_pflop_days: f64,
    /// Useful training compute at sites abroad, PFLOP-days.
    pub compute_abroad_pflop_days: f64,
    /// Chip-hours used at home (training and inference).
    pub chip_hours_home: f64,
    /// Chip-hours used abroad.
    pub chip_hours_abroad: f64,
    /// Inference tokens demanded.
    pub tokens_demanded: f64,
    /// Inference tokens served.
    pub tokens_served: f64,
    /// Of the tokens served, those served on chips made in the firm's home country.
    pub tokens_served_domestic_chips: f64,
    /// Spend at home, USD.
    pub cost_home_usd: f64,
    /// Spend abroad, USD.
    pub cost_abroad_usd: f64,
    /// Training and fine-tuning jobs that arrived.
    pub jobs_arrived: u64,
    /// Training jobs completed.
    pub training_jobs_completed: u64,
    /// Fine-tuning jobs completed.
    pub fine_tuning_jobs_completed: u64,
    /// Jobs with no allowed site at the end of the period.
    pub blocked_jobs: u64,
    /// The firm's jobs evicted by a rule.
    pub evictions: u64,
}

impl FirmPeriod {
    /// Share of useful training compute done abroad, or None when there was none.
    pub fn offshore_share(&self) -> Option<f64> {
        let total = self.compute_home_pflop_days + self.compute_abroad_pflop_days;
        (total > 0.0).then(|| self.compute_abroad_pflop_days / total)
    }

    /// Spend at home and abroad, USD.
    pub fn cost_usd(&self) -> f64 {
        self.cost_home_usd + self.cost_abroad_usd
    }
}

/// Job counts at the end of a run: the conservation ledger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobLedger {
    /// Jobs generated.
    pub arrived: u64,
    /// Jobs finished.
    pub completed: u64,
    /// Jobs holding chips at the end.
    pub running: u64,
    /// Jobs waiting in a site queue at the end.
    pub queued: u64,
    /// Jobs with no allowed site at the end.
    pub blocked: u64,
}

impl JobLedger {
    /// Whether every arrived job is accounted for.
    pub fn is_conserved(&self) -> bool {
        self.arrived == self.completed + self.running + self.queued + self.blocked
    }
}

/// Everything one replication produced.
#[derive(Clone, Debug, PartialEq)]
pub struct RunMetrics {
    /// Replication index.
    pub replication: u64,
    /// `site[s][p]`.
    pub site: Vec<Vec<SitePeriod>>,
    /// `firm[f][p]`.
    pub firm: Vec<Vec<FirmPeriod>>,
    /// Job conservation ledger at the end.
    pub jobs: JobLedger,
    /// Events the engine handled.
    pub events: u64,
}

impl RunMetrics {
    /// Empty metrics for `sites` sites and `firms` firms over `periods` periods.
    pub fn new(replication: u64, sites: usize, firms: usize, periods: usize) -> Self {
        RunMetrics {
            replication,
            site: vec![vec![SitePeriod::default(); periods]; sites],
            firm: vec![vec![FirmPeriod::default(); periods]; firms],
            jobs: JobLedger::default(),
            events: 0,
        }
    }
}
