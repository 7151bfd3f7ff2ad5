//! Streaming aggregation of what happens in a run into calendar periods, and statistics across
//! replications.
//!
//! Memory is bounded by periods x series (sites, firms), never by the number of events or jobs: the
//! model adds intervals and counts as they happen; percentiles come from fixed-size histograms.

pub mod catalog;
pub mod headline;
pub mod histogram;
pub mod periods;
pub mod summary;

pub use headline::{headline, headline_names};
pub use histogram::Histogram;
pub use periods::{PeriodKind, Periods};

use crate::engine::SimTime;
pub use summary::{summarise, window, Group, Members, SummaryRow};

/// Seconds in a PFLOP-day divided into FLOP: 1e15 FLOP/s for one day.
pub const FLOP_PER_PFLOP_DAY: f64 = 1e15 * 86_400.0;

/// Whether a batch job is pre-training or fine-tuning: the kinds reported separately.
///
/// Adding a kind: add a variant here and to [`JobKind::ALL`]; the compiler then walks you through
/// every place that names kinds (names in outputs, per-kind arrays).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobKind {
    /// Large gang pre-training.
    Training,
    /// Smaller fine-tuning.
    FineTuning,
}

impl JobKind {
    /// Every kind, in output order.
    pub const ALL: [JobKind; 2] = [JobKind::Training, JobKind::FineTuning];

    /// Name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Training => "training",
            JobKind::FineTuning => "fine_tuning",
        }
    }

    /// Position in [`JobKind::ALL`] and in [`PerKind`].
    pub fn index(self) -> usize {
        match self {
            JobKind::Training => 0,
            JobKind::FineTuning => 1,
        }
    }
}

/// One value per job kind, indexed by [`JobKind`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PerKind<T>(pub [T; 2]);

impl<T> std::ops::Index<JobKind> for PerKind<T> {
    type Output = T;
    fn index(&self, k: JobKind) -> &T {
        &self.0[k.index()]
    }
}

impl<T> std::ops::IndexMut<JobKind> for PerKind<T> {
    fn index_mut(&mut self, k: JobKind) -> &mut T {
        &mut self.0[k.index()]
    }
}

/// Jobs of one kind that had arrived and not finished at the end of a period, and their age.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Backlog {
    /// Waiting in a site queue for capacity.
    pub waiting: u64,
    /// With no allowed site: blocked by a rule.
    pub blocked: u64,
    /// Holding chips.
    pub running: u64,
    /// Sum over these jobs of the time since arrival, hours.
    pub age_hours_sum: f64,
    /// The oldest of them: time since arrival, hours (0 when there are none).
    pub age_hours_max: f64,
}

impl Backlog {
    /// Jobs not finished: waiting, blocked or running.
    pub fn jobs(&self) -> u64 {
        self.waiting + self.blocked + self.running
    }

    /// Mean time since arrival of the unfinished jobs, hours, or None when there are none.
    pub fn age_hours_mean(&self) -> Option<f64> {
        let n = self.jobs();
        (n > 0).then(|| self.age_hours_sum / n as f64)
    }

    /// Adds another group's backlog to this one.
    pub fn merge(&mut self, other: &Backlog) {
        self.waiting += other.waiting;
        self.blocked += other.blocked;
        self.running += other.running;
        self.age_hours_sum += other.age_hours_sum;
        self.age_hours_max = self.age_hours_max.max(other.age_hours_max);
    }
}

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
    /// Useful (net) training and fine-tuning compute: peak x MFU x productive chip-time that was
    /// kept (checkpointed or finished), PFLOP-days, in the period the work was done.
    pub compute_pflop_days: f64,
    /// Compute done and then rolled back by failures (not in `compute_pflop_days`), PFLOP-days, in
    /// the period the lost work was done.
    pub lost_pflop_days: f64,
    /// Inference tokens served.
    pub tokens_served: f64,
    /// Jobs completed here, by kind.
    pub jobs_completed: PerKind<u64>,
    /// Time-integral of the queue length, job-seconds (divide by period length for the mean).
    pub queue_job_seconds: f64,
    /// Jobs waiting in the site's queue at the end of the period.
    pub jobs_waiting_end: u64,
    /// What the site cost in the period, USD: on-demand lease of busy chip-hours; contracted
    /// chip-hours online while the contract runs; capex and electricity of owned chips (busy, and
    /// idle at their idle draw). Always equals
    /// `usage_cost_training_usd + usage_cost_inference_usd + cost_idle_usd`.
    pub cost_usd: f64,
    /// What users paid for training and fine-tuning chip-hours here, USD.
    pub usage_cost_training_usd: f64,
    /// What users paid for inference chip-hours here, USD.
    pub usage_cost_inference_usd: f64,
    /// Cost of online chip-hours no work used, USD (paid by the site's owner or tenant, if any).
    pub cost_idle_usd: f64,
    /// Of `cost_idle_usd`, what no firm paid (a cloud's unrented chips), USD.
    pub cost_unpaid_usd: f64,
    /// Energy drawn including PUE (busy chips, and idle ones at their idle draw), MWh.
    pub energy_mwh: f64,
    /// Contracts that ended here in the period because a rule made the tenant leave.
    pub contracts_ended: u64,
    /// Jobs evicted by a rule, or moved off a lease that owned capacity replaced.
    pub evictions: u64,
    /// Chip failures that interrupted a job.
    pub failures: u64,
    /// Jobs that were evicted from here and are blocked at the end of the period.
    pub blocked_jobs: u64,
    /// Chips delivered.
    pub chips_delivered: u64,
    /// Chips stopped by a rule (bans, caps, power caps).
    pub chips_refused: u64,
    /// Chips its tenant signed leases for here in a market (new lots, online after the lead
    /// time).
    pub lease_chips_signed: u64,
    /// Chips whose market lease ended here: released at the end of a term, or ended by a rule.
    pub lease_chips_ended: u64,
    /// Chips of a domestic cloud reserved here by new blocks (a block site's own count).
    pub cloud_chips_reserved: u64,
    /// Chips of blocks that ended here (released, replaced or ended by a rule), back to the cloud.
    pub cloud_chips_ended: u64,
    /// Of this site's steady supply, chips that went to firms' domestic orders instead.
    pub chips_to_orders: u64,
    /// Of this site's steady supply, chips its cloud declined (its chips were not used enough at
    /// its last review): they went to buyers outside the scenario.
    pub chips_declined: u64,
    /// Chips of the lots leased here and online at the end of the period.
    pub lease_chips_active: u64,
    /// What those lots cost per hour at the end of the period (chips x their price), USD.
    pub lease_usd_per_hour: f64,
    /// Share of the site's market's open capacity every tenant holds at the end of the period.
    pub market_held_share: f64,
    /// Whether the site leases in a market (the two figures above mean something).
    pub in_market: bool,
    /// Waits from arrival to first start of jobs that started here, hours.
    pub wait_hours: Histogram,
    /// Arrival-to-completion times of jobs completed here, hours, by kind.
    pub completion_hours: PerKind<Histogram>,
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

    /// What users paid here (training and inference), USD.
    pub fn usage_cost_usd(&self) -> f64 {
        self.usage_cost_training_usd + self.usage_cost_inference_usd
    }
}

/// What one firm did in one period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FirmPeriod {
    /// Useful (net) training compute at sites in the firm's home jurisdiction, PFLOP-days.
    pub compute_home_pflop_days: f64,
    /// Useful (net) training compute at sites abroad, PFLOP-days.
    pub compute_abroad_pflop_days: f64,
    /// Compute rolled back by failures, PFLOP-days (not in the two above).
    pub lost_pflop_days: f64,
    /// Chip-hours used at home (training and inference).
    pub chip_hours_home: f64,
    /// Chip-hours used abroad.
    pub chip_hours_abroad: f64,
    /// Of the chip-hours at home, those rented per busy hour from domestic clouds (sites no firm
    /// pays for busy or idle).
    pub chip_hours_cloud: f64,
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
    /// Of the spend, what paid for capacity no work used (owned chips and contracts), USD.
    pub cost_idle_usd: f64,
    /// Value of the chip-hours the firm's training and fine-tuning used, at the user price, USD.
    pub usage_training_usd: f64,
    /// Value of the chip-hours the firm's inference used, at the user price, USD.
    pub usage_inference_usd: f64,
    /// The firm's contracts that a rule ended in the period.
    pub contracts_ended: u64,
    /// Chips the firm signed new leases for in markets.
    pub lease_chips_signed: u64,
    /// Chips whose lease ended: released at the end of a term, or ended by a rule.
    pub lease_chips_ended: u64,
    /// Of those, chips released because capacity the firm bought to replace them had arrived.
    pub lease_chips_replaced: u64,
    /// Chips the firm holds under lease in markets at the end of the period (signed lots,
    /// online or not yet).
    pub lease_chips_held: u64,
    /// Chips of domestic clouds the firm reserved in the period (new blocks).
    pub cloud_chips_reserved: u64,
    /// Chips of the firm's blocks that ended in the period (released, replaced or ended by a
    /// rule).
    pub cloud_chips_ended: u64,
    /// Chips of domestic clouds the firm holds reserved at the end of the period.
    pub cloud_chips_held: u64,
    /// Chips of unmet need at the firm's last review in the period (jobs that waited past its
    /// patience, less lots on their way), before it signed anything.
    pub lease_need_chips: u64,
    /// Domestic chips the firm ordered.
    pub order_chips_placed: u64,
    /// Ordered chips that reached its sites (before rules on deliveries).
    pub order_chips_delivered: u64,
    /// Chips ordered and not yet arrived at the end of the period.
    pub order_chips_open: u64,
    /// Foreign chips the firm bought under licence (import orders placed).
    pub import_chips_placed: u64,
    /// Smuggled chips the firm bought (grey orders placed).
    pub grey_chips_placed: u64,
    /// Smuggled chips seized on the way to the firm.
    pub grey_chips_seized: u64,
    /// Import and grey chips bought and not yet arrived at the end of the period.
    pub procured_chips_open: u64,
    /// Planned capacity rules refused the firm and it has not replaced, at the end of the period,
    /// effective PFLOP/s.
    pub plan_gap_pflops: f64,
    /// New commitments, USD: chips ordered, imported or bought on the grey market at their
    /// purchase price (with the rules' fees, or the grey premium), and lease terms signed or
    /// renewed at their price for the whole term, when decided. Beside usage: what is spent on
    /// capacity, not what capacity cost per hour.
    pub commitments_usd: f64,
    /// Of the grey purchases, the purchase value seized on the way, USD (in no site's cost).
    pub seized_usd: f64,
    /// Training and fine-tuning jobs that arrived.
    pub jobs_arrived: u64,
    /// Jobs completed, by kind.
    pub jobs_completed: PerKind<u64>,
    /// Arrival-to-completion times of the firm's jobs completed in the period, hours, by kind.
    pub completion_hours: PerKind<Histogram>,
    /// Jobs not finished at the end of the period, by kind.
    pub backlog: PerKind<Backlog>,
    /// The firm's jobs evicted by a rule, or moved off a lease that owned capacity replaced.
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

    /// The spend that went to training and fine-tuning: what their chip-hours were worth plus
    /// their pro-rata share (by that worth) of the spend on idle capacity; in a period with no
    /// work at all, the idle spend counts as training's (capacity held for training runs).
    pub fn spend_training_usd(&self) -> f64 {
        self.cost_usd() - self.spend_inference_usd()
    }

    /// The spend that went to inference: what its chip-hours were worth plus its pro-rata share of
    /// the spend on idle capacity.
    pub fn spend_inference_usd(&self) -> f64 {
        let used = self.usage_training_usd + self.usage_inference_usd;
        if used > 0.0 {
            self.usage_inference_usd + self.cost_idle_usd * self.usage_inference_usd / used
        } else {
            0.0
        }
    }

    /// Jobs with no allowed site at the end of the period (blocked by a rule), all kinds.
    pub fn blocked_jobs(&self) -> u64 {
        self.backlog.0.iter().map(|b| b.blocked).sum()
    }

    /// Jobs waiting in a site queue for capacity at the end of the period, all kinds.
    pub fn waiting_jobs(&self) -> u64 {
        self.backlog.0.iter().map(|b| b.waiting).sum()
    }
}

/// How a job stood at the end of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// Finished.
    Completed,
    /// Holding chips.
    Running,
    /// In a site queue, waiting for capacity.
    Waiting,
    /// No allowed site (blocked by a rule).
    Blocked,
}

impl JobOutcome {
    /// Name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Completed => "completed",
            JobOutcome::Running => "running",
            JobOutcome::Waiting => "waiting",
            JobOutcome::Blocked => "blocked",
        }
    }
}

/// What happened to one training or fine-tuning job (one row of `jobs.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    /// Firm index in the world.
    pub firm: u32,
    /// Workload index within the firm.
    pub workload: u32,
    /// Training or fine-tuning.
    pub kind: JobKind,
    /// Work to do, FLOP.
    pub size_flop: f64,
    /// Chips in the gang.
    pub gang_chips: u64,
    /// When it arrived.
    pub arrived: SimTime,
    /// When it first started, if it did.
    pub first_start: Option<SimTime>,
    /// When it finished, if it did.
    pub completed: Option<SimTime>,
    /// Site indices it ran on, in the order it first ran there.
    pub sites: Vec<u32>,
    /// Times it was evicted (by a rule, or moved off a replaced lease).
    pub evictions: u32,
    /// Chip failures that interrupted it.
    pub failures: u32,
    /// Where it stood at the end of the run.
    pub outcome: JobOutcome,
}

/// A way to acquire capacity (see `model/procurement.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    /// Leased abroad in a market.
    Lease,
    /// Domestic chips ordered from national output.
    Domestic,
    /// Foreign chips imported under licence.
    Import,
    /// Foreign chips smuggled.
    Grey,
    /// Blocks of a domestic cloud's chips reserved for a term.
    Cloud,
}

impl Channel {
    /// Name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Lease => "lease",
            Channel::Domestic => "domestic",
            Channel::Import => "import",
            Channel::Grey => "grey",
            Channel::Cloud => "cloud",
        }
    }
}

/// Why a review took or passed an option (empty for decisions that are not a review's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Not a review's choice (a renewal, a release, a listed lease, a lot a rule ended...).
    None,
    /// Taken: the cheapest option left, with room for some of the need.
    Cheapest,
    /// Passed: cheaper options already covered the need.
    NeedMet,
    /// Passed: rules in force forbid new work there (a lease ban).
    RulesForbid,
    /// Passed: rules in force stop deliveries of the chip there (an export ban), for a lease or an
    /// import.
    Banned,
    /// Passed: the channel is not open on this date.
    Closed,
    /// Passed: no room for a whole lot (the market's open room, the firm's lease cap, a cap on
    /// deliveries or the site's power cap).
    NoRoom,
    /// Passed: the output or channel cannot deliver a whole lot within the firm's `max_wait`.
    TooSlow,
    /// Passed: enforcement would seize every smuggled lot.
    Enforced,
    /// Taken: a purchase that replaces a lease at its term end (it costs less than
    /// `1 - switch_margin` times renewing the lease).
    ReplacesLease,
    /// A lease released, or held over until it can be, because what replaces it was bought.
    Replaced,
    /// A domestic cloud buys: its chips were in use at least its threshold since its last review.
    Used,
    /// A domestic cloud buys: its use was below its threshold, but at the growth it measured its
    /// use over the next interval reaches it.
    Growing,
    /// A domestic cloud declines: its chips were in use less than its threshold.
    Unused,
}

impl Why {
    /// Name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Why::None => "",
            Why::Cheapest => "cheapest",
            Why::NeedMet => "need_met",
            Why::RulesForbid => "rules_forbid",
            Why::Banned => "banned",
            Why::Closed => "closed",
            Why::NoRoom => "no_room",
            Why::TooSlow => "too_slow",
            Why::Enforced => "enforced",
            Why::ReplacesLease => "replaces_lease",
            Why::Replaced => "replaced",
            Why::Used => "used",
            Why::Growing => "growing",
            Why::Unused => "unused",
        }
    }
}

/// What a firm decided about its capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseAction {
    /// A new lot signed at a review (online after the lead time).
    Sign,
    /// A lot listed in the scenario as history, starting on its date.
    History,
    /// A lot renewed at the end of its term, at the day's price.
    Renew,
    /// A lot let go at the end of its term: its chips were idle and no work waited.
    Release,
    /// A lot ended by a rule (its tenant may no longer stay).
    EndedByRule,
    /// An order of domestic chips, filled from national output (`lot` numbers the order).
    Order,
    /// A lot, or the part of it that did not fit, refused when it came online by a rule on
    /// deliveries (an export ban, a cap, the site's power cap) or one that makes its tenant leave.
    Refused,
    /// An import of foreign chips under licence (`lot` numbers the purchase).
    Import,
    /// A grey-market purchase of smuggled chips (`lot` numbers the purchase).
    Grey,
    /// A grey-market purchase seized on the way: paid, never delivered.
    Seized,
    /// An option a review weighed and did not take (`why` says why).
    Pass,
    /// A lot kept for one more review interval at the day's price, not renewed for a term: what
    /// replaces it is on its way, or the chips it replaces are still busy.
    HoldOver,
    /// A domestic cloud's review: it buys its supply's lots until its next review.
    CloudBuys,
    /// A domestic cloud's review: it declines its supply's lots until its next review.
    CloudDeclines,
}

impl LeaseAction {
    /// Name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseAction::Sign => "sign",
            LeaseAction::History => "history",
            LeaseAction::Renew => "renew",
            LeaseAction::Release => "release",
            LeaseAction::EndedByRule => "ended_by_rule",
            LeaseAction::Order => "order",
            LeaseAction::Refused => "refused",
            LeaseAction::Import => "import",
            LeaseAction::Grey => "grey",
            LeaseAction::HoldOver => "hold_over",
            LeaseAction::Seized => "seized",
            LeaseAction::Pass => "pass",
            LeaseAction::CloudBuys => "cloud_buys",
            LeaseAction::CloudDeclines => "cloud_declines",
        }
    }
}

/// One lease decision (one row of `decisions.csv`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// When it was taken.
    pub at: SimTime,
    /// Firm index in the world.
    pub firm: u32,
    /// Site index of the lot.
    pub site: u32,
    /// The lot (numbered in the order lots are signed or listed, per replication): its rows are
    /// its life.
    pub lot: u32,
    /// What was decided.
    pub action: LeaseAction,
    /// Chips in the lot.
    pub chips: u64,
    /// The lot's price from this decision on (the lease index times the market's tightness
    /// multiplier), USD per chip-hour; 0 for a lot that ended.
    pub usd_per_chip_hour: f64,
    /// The firm's unmet need when it decided, chips (0 where not a review).
    pub need_chips: u64,
    /// Share of the market's open capacity held after the decision (for an order: the share of
    /// what the output can deliver in time that the firm's orders take).
    pub market_held_share: f64,
    /// The channel of the option.
    pub channel: Channel,
    /// At a review, the option's rank by cost (1 = cheapest); 0 otherwise.
    pub rank: u32,
    /// At a review, the option's cost per useful PFLOP-day as ranked (its price per chip-hour x 24
    /// over the chip's effective PFLOP/s, times the firm's preference and risk factors), USD; 0
    /// otherwise.
    pub usd_per_pflop_day: f64,
    /// At a review, the planned capacity rules had refused and the firm had not yet replaced,
    /// effective PFLOP/s; 0 otherwise.
    pub gap_pflops: f64,
    /// At a review of a firm that forecasts inference, the peak demand `max_wait` ahead that its
    /// serving capacity (held, free and on its way) would not take, tokens per second; 0
    /// otherwise.
    pub inference_need_tokens_per_s: f64,
    /// At a review of a firm that forecasts its training, the gangs of its planned runs counted in
    /// `need_chips` (before what is on its way comes off), chips; 0 otherwise.
    pub planned_chips: u64,
    /// Why a review took or passed the option.
    pub why: Why,
}

impl Decision {
    /// `firm` of a decision no firm took: a domestic cloud's own review (`site` is the cloud).
    pub const NO_FIRM: u32 = u32::MAX;

    /// A decision through `channel` that is not a review's choice (a listed lease, a renewal, a
    /// release, a lot a rule ended or refused, a seizure): no price, need or share until set, rank 0
    /// and no `why`.
    pub fn event(
        at: SimTime,
        firm: u32,
        site: u32,
        lot: u32,
        action: LeaseAction,
        chips: u64,
        channel: Channel,
    ) -> Decision {
        Decision {
            at,
            firm,
            site,
            lot,
            action,
            chips,
            usd_per_chip_hour: 0.0,
            need_chips: 0,
            market_held_share: 0.0,
            channel,
            rank: 0,
            usd_per_pflop_day: 0.0,
            gap_pflops: 0.0,
            inference_need_tokens_per_s: 0.0,
            planned_chips: 0,
            why: Why::None,
        }
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
    /// Jobs waiting in a site queue for capacity at the end.
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
    /// One record per training or fine-tuning job, in arrival order.
    pub job_records: Vec<JobRecord>,
    /// Lease decisions, in time order.
    pub decisions: Vec<Decision>,
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
            job_records: Vec::new(),
            decisions: Vec::new(),
            events: 0,
        }
    }
}
