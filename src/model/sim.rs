//! One replication of a world: the event handlers that move jobs through sites under the timeline.
//!
//! # Events and ties
//!
//! Policy change points, period ends and dated deliveries are scheduled before the run starts, so at
//! any instant they are handled before job events scheduled later (the engine breaks ties
//! first-scheduled-first): a rule that starts on a date applies to a job arriving at that instant.
//!
//! # What is modelled
//!
//! - Training and fine-tuning jobs are gangs: they start when `gang_chips` chips are free at their
//!   site (FIFO with EASY backfilling: a later job may jump the queue only if it does not delay the
//!   head job's reserved start).
//! - A running gang of `n` chips fails at `n / mtbf` per hour (superposition: one pending failure
//!   event per job, not per chip). A failure rolls the job back to its last checkpoint, sends one
//!   chip to repair, and requeues the job at the head of its site's queue; its next start costs
//!   `restart_hours`. Writing checkpoints is assumed free.
//! - A rule that stops allowing work where it is (a lease-ban deadline, say) evicts it: the job is
//!   checkpointed (nothing is lost), its chips are freed, and it is placed again. Work with no allowed
//!   site is *blocked* and retried at every rule change and delivery. No job is ever dropped.
//! - Inference is a demand stream placed once per batch on the free chips of allowed sites, in the
//!   firm's order of preference; demand beyond free capacity is reported as unserved. At sites with
//!   `inference_priority`, training leaves free the chips inference wanted at the last batch.
//!   A batch's price is fixed at its start; failures of inference chips are not modelled.
//!
//! # Costs and energy
//!
//! Leased sites charge each busy chip-hour (electricity included). Owned sites cost their amortised
//! capex on every online chip-hour plus the electricity of busy chips; firms are charged capex plus
//! electricity for the chip-hours they use. Energy counts busy chips at `all_in_power_w x PUE`; idle
//! draw is not modelled.

use std::collections::VecDeque;

use rand_distr::{Distribution, Exp};

use crate::engine::rng::{fnv1a64, splitmix64, stream_by_key, SimRng};
use crate::engine::{Context, Model, SimDuration, SimTime, Simulation};
use crate::metrics::{JobLedger, Periods, RunMetrics, FLOP_PER_PFLOP_DAY};

use super::policy::{DeliveryVerdict, Phase, WorkRef};
use super::{
    Arrivals, FirmId, JobKind, ModelError, PlacementStrategy, Pricing, SiteId, WorkloadKind, World,
};

/// Hours in a year, for amortisation.
const HOURS_PER_YEAR: f64 = 8_760.0;
/// Steady supply arrives in daily lots, so every reporting period sees its share.
const SUPPLY_LOT: SimDuration = SimDuration::from_days(1);
/// Daily lots in a (365.25-day) year.
const LOTS_PER_YEAR: f64 = 365.25;

#[derive(Clone, Copy, Debug)]
enum Ev {
    /// Some rule starts, ends or reaches a deadline.
    PolicyChange,
    /// The end of reporting period `0`.
    PeriodEnd(u32),
    /// A shipment of chips; `delayed` has bit `i` set once permit rule `i` has delayed it.
    Delivery { site: u32, chips: u64, delayed: u64 },
    /// A daily lot of a site's steady supply.
    SupplyLot { site: u32 },
    /// The next job of a batch workload; `index` counts its arrivals.
    Arrival {
        firm: u32,
        workload: u32,
        index: u32,
    },
    /// The next batch of an inference workload.
    InferenceTick { firm: u32, workload: u32 },
    /// A running job finishes, if its epoch still matches.
    JobEnd { job: u32, epoch: u64 },
    /// A running job loses a chip, if its epoch still matches.
    JobFailure { job: u32, epoch: u64 },
    /// A chip comes back from repair.
    RepairDone { site: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JobState {
    Queued(SiteId),
    Running(SiteId),
    Blocked,
}

#[derive(Clone, Debug)]
struct Job {
    firm: FirmId,
    workload: u32,
    kind: JobKind,
    gang: u64,
    total_flop: f64,
    /// Checkpointed progress at the start of the current segment.
    saved_flop: f64,
    arrived: SimTime,
    started_once: bool,
    state: JobState,
    /// Changes at every start and stop, so stale end and failure events are ignored.
    epoch: u64,
    restart_pending: bool,
    /// Accounting cursor: chip-time before this instant is already in the metrics.
    acc_from: SimTime,
    /// Productive work (after the restart delay) runs from here.
    productive_from: SimTime,
    /// FLOP/s of the whole gang at its site.
    rate: f64,
    /// Expected end of the running segment.
    end_at: SimTime,
    /// Where the job ran or queued last (for blocked counts by site).
    last_site: Option<SiteId>,
}

#[derive(Clone, Debug, Default)]
struct SiteState {
    installed: u64,
    in_repair: u64,
    busy_jobs: u64,
    inference_alloc: u64,
    inference_wanted: u64,
    queue: VecDeque<u32>,
    running: Vec<u32>,
    online_acc_from: SimTime,
    queue_acc_from: SimTime,
    supply_carry: f64,
}

impl SiteState {
    fn online(&self) -> u64 {
        self.installed - self.in_repair
    }
}

#[derive(Clone, Debug, Default)]
struct InferenceAlloc {
    /// (site, chips held, chips wanted) for the current batch.
    held: Vec<(SiteId, u64, u64)>,
}

/// The model of one replication.
struct CapacityModel<'w> {
    world: &'w World,
    periods: &'w Periods,
    metrics: RunMetrics,
    sites: Vec<SiteState>,
    jobs: Vec<Option<Job>>,
    free_slots: Vec<u32>,
    blocked: Vec<u32>,
    inference: Vec<Vec<InferenceAlloc>>,
    arrival_rng: Vec<Vec<SimRng>>,
    size_rng: Vec<Vec<SimRng>>,
    failure_rng: Vec<SimRng>,
    next_epoch: u64,
    ledger: JobLedger,
    error: Option<ModelError>,
    /// What rules make of each site, refreshed at every change point (rules change nothing between).
    rates: Vec<SiteRates>,
    /// `home[f][s]`: site `s` is in firm `f`'s home jurisdiction.
    home: Vec<Vec<bool>>,
    /// Per firm, its sites in order of preference for inference, with whether rules allow a new
    /// batch there and whether they allow a running service to stay. Refreshed with `rates`.
    inference_order: Vec<Vec<(SiteId, bool, bool)>>,
}

/// Prices and permissions at a site under the rules in force.
#[derive(Clone, Copy, Debug, Default)]
struct SiteRates {
    /// Price of one chip-hour of capacity (lease price or amortised capex), fees included.
    capacity_price: f64,
    /// What a user pays for one busy chip-hour (capacity plus electricity at owned sites).
    user_price: f64,
    /// Multiplier on the site's steady supply.
    supply_factor: f64,
}

/// Runs one replication of `world` and returns what happened, per period.
///
/// Deterministic: the result depends only on the world, the periods, `seed` and `replication`.
/// Fails only if an internal invariant breaks (a bug), with a message naming the values.
pub fn run_replication(
    world: &World,
    periods: &Periods,
    seed: u64,
    replication: u64,
) -> Result<RunMetrics, ModelError> {
    let horizon = periods.horizon();
    let key = |name: &str, a: u64, b: u64| fnv1a64(name.as_bytes()) ^ splitmix64((a << 32) | b);
    let per_workload = |name: &str| -> Vec<Vec<SimRng>> {
        world
            .firms
            .iter()
            .enumerate()
            .map(|(f, firm)| {
                (0..firm.workloads.len())
                    .map(|w| stream_by_key(seed, replication, key(name, f as u64, w as u64)))
                    .collect()
            })
            .collect()
    };
    let model = CapacityModel {
        world,
        periods,
        metrics: RunMetrics::new(
            replication,
            world.sites.len(),
            world.firms.len(),
            periods.len(),
        ),
        sites: world
            .sites
            .iter()
            .map(|s| SiteState {
                installed: s.initial_chips,
                ..SiteState::default()
            })
            .collect(),
        jobs: Vec::new(),
        free_slots: Vec::new(),
        blocked: Vec::new(),
        inference: world
            .firms
            .iter()
            .map(|f| vec![InferenceAlloc::default(); f.workloads.len()])
            .collect(),
        arrival_rng: per_workload("arrivals"),
        size_rng: per_workload("sizes"),
        failure_rng: (0..world.sites.len())
            .map(|s| stream_by_key(seed, replication, key("failures", s as u64, 0)))
            .collect(),
        next_epoch: 0,
        ledger: JobLedger::default(),
        error: None,
        rates: Vec::new(),
        home: world
            .firms
            .iter()
            .map(|f| {
                world
                    .sites
                    .iter()
                    .map(|s| s.jurisdiction == f.headquarters)
                    .collect()
            })
            .collect(),
        inference_order: Vec::new(),
    };
    let mut model = model;
    model.refresh_rules(SimTime::ZERO);
    let mut sim = Simulation::new(model);
    let at = |sim: &mut Simulation<CapacityModel>, t: SimTime, ev: Ev| {
        sim.schedule_at(t, ev)
            .expect("initial events are not in the past");
    };
    // Order matters for ties at one instant: rules, then period ends, then deliveries, then jobs.
    for t in world.timeline.change_points() {
        if t < horizon {
            at(&mut sim, t, Ev::PolicyChange);
        }
    }
    for p in 0..periods.len() {
        at(&mut sim, periods.bounds[p + 1], Ev::PeriodEnd(p as u32));
    }
    for (s, site) in world.sites.iter().enumerate() {
        for d in &site.deliveries {
            let ev = Ev::Delivery {
                site: s as u32,
                chips: d.chips,
                delayed: 0,
            };
            at(&mut sim, d.at, ev);
        }
        if let Some(sup) = &site.supply {
            if sup.from < horizon {
                at(&mut sim, sup.from, Ev::SupplyLot { site: s as u32 });
            }
        }
    }
    for (f, firm) in world.firms.iter().enumerate() {
        for (w, wl) in firm.workloads.iter().enumerate() {
            let (firm, workload) = (f as u32, w as u32);
            match &wl.kind {
                WorkloadKind::Inference(_) => {
                    at(&mut sim, wl.start, Ev::InferenceTick { firm, workload });
                }
                WorkloadKind::Batch(b) => {
                    let first = match &b.arrivals {
                        Arrivals::Every(_) => Some(wl.start),
                        Arrivals::Poisson { .. } => {
                            let (m, _) = sim.parts_mut();
                            let gap = b.arrivals.next_gap(&mut m.arrival_rng[f][w]);
                            gap.map(|g| wl.start.saturating_add(g))
                        }
                        Arrivals::At(ts) => ts.first().copied(),
                    };
                    if let Some(t) = first.filter(|&t| t <= wl.end && t < horizon) {
                        let ev = Ev::Arrival {
                            firm,
                            workload,
                            index: 0,
                        };
                        at(&mut sim, t, ev);
                    }
                }
            }
        }
    }
    sim.run_until(horizon);
    let events = sim.events_handled();
    let mut model = sim.into_model();
    if let Some(e) = model.error.take() {
        return Err(e);
    }
    model.finish(horizon, events)
}

impl Model for CapacityModel<'_> {
    type Event = Ev;

    fn handle(&mut self, ev: Ev, ctx: &mut Context<Ev>) {
        let now = ctx.now();
        match ev {
            Ev::PolicyChange => self.on_policy_change(now, ctx),
            Ev::PeriodEnd(p) => self.on_period_end(p as usize, now),
            Ev::Delivery {
                site,
                chips,
                delayed,
            } => self.on_delivery(SiteId(site), chips, delayed, now, ctx),
            Ev::SupplyLot { site } => self.on_supply_lot(SiteId(site), now, ctx),
            Ev::Arrival {
                firm,
                workload,
                index,
            } => self.on_arrival(firm as usize, workload as usize, index, now, ctx),
            Ev::InferenceTick { firm, workload } => {
                self.on_inference_tick(firm as usize, workload as usize, now, ctx)
            }
            Ev::JobEnd { job, epoch } => {
                if self.epoch_matches(job, epoch) {
                    self.on_job_end(job, now, ctx);
                }
            }
            Ev::JobFailure { job, epoch } => {
                if self.epoch_matches(job, epoch) {
                    self.on_job_failure(job, now, ctx);
                }
            }
            Ev::RepairDone { site } => {
                let s = SiteId(site);
                self.accrue_online(s, now);
                self.sites[s.0 as usize].in_repair -= 1;
                self.try_start(s, now, ctx);
            }
        }
        if cfg!(debug_assertions) {
            self.check_capacity(now);
        }
        if self.error.is_some() {
            ctx.stop();
        }
    }
}

impl<'w> CapacityModel<'w> {
    // ----- small helpers -------------------------------------------------------------------

    fn epoch_matches(&self, job: u32, epoch: u64) -> bool {
        self.jobs[job as usize]
            .as_ref()
            .is_some_and(|j| j.epoch == epoch)
    }

    fn job(&self, j: u32) -> &Job {
        self.jobs[j as usize].as_ref().expect("live job")
    }

    fn job_mut(&mut self, j: u32) -> &mut Job {
        self.jobs[j as usize].as_mut().expect("live job")
    }

    fn new_epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    fn is_home(&self, firm: FirmId, site: SiteId) -> bool {
        self.home[firm.0 as usize][site.0 as usize]
    }

    fn data_class(&self, firm: FirmId, workload: u32) -> Option<&'w str> {
        match &self.world.firms[firm.0 as usize].workloads[workload as usize].kind {
            WorkloadKind::Batch(b) => b.data_class.as_deref(),
            WorkloadKind::Inference(_) => None,
        }
    }

    fn allows(
        &self,
        firm: FirmId,
        data_class: Option<&str>,
        site: SiteId,
        t: SimTime,
        phase: Phase,
    ) -> bool {
        let work = WorkRef {
            firm: &self.world.firms[firm.0 as usize],
            data_class,
        };
        self.world
            .timeline
            .allows(work, &self.world.sites[site.0 as usize], t, phase)
    }

    /// Recomputes what the rules in force at `t` make of prices, supply and inference placement.
    /// Called at the start and at every change point, after open accounts are closed.
    fn refresh_rules(&mut self, t: SimTime) {
        let tl = &self.world.timeline;
        self.rates = self
            .world
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let chip = self.world.site_chip(SiteId(i as u32));
                let factor = tl.price_factor(s, chip, t);
                let capacity_price = match s.pricing {
                    Pricing::Lease { usd_per_chip_hour } => usd_per_chip_hour * factor,
                    Pricing::Owned { amortisation_years } => {
                        chip.purchase_usd * factor / (amortisation_years * HOURS_PER_YEAR)
                    }
                };
                let energy = match s.pricing {
                    Pricing::Lease { .. } => 0.0,
                    Pricing::Owned { .. } => {
                        chip.all_in_power_w * s.pue / 1_000.0 * s.electricity_usd_per_kwh
                    }
                };
                SiteRates {
                    capacity_price,
                    user_price: capacity_price + energy,
                    supply_factor: tl.supply_factor(chip, t),
                }
            })
            .collect();
        self.inference_order = self
            .world
            .firms
            .iter()
            .enumerate()
            .map(|(f, firm)| {
                let firm_id = FirmId(f as u32);
                // Home first if the firm says so, then cheapest per token, then scenario order.
                let mut v: Vec<(bool, f64, SiteId)> = firm
                    .sites
                    .iter()
                    .map(|&s| {
                        let abroad = firm.placement == PlacementStrategy::HomeFirst
                            && !self.is_home(firm_id, s);
                        let per_token = self.rates[s.0 as usize].user_price
                            / self.world.site_chip(s).inference_tokens_per_s;
                        (abroad, per_token, s)
                    })
                    .collect();
                v.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
                v.into_iter()
                    .map(|(_, _, s)| {
                        let place = self.allows(firm_id, None, s, t, Phase::Place);
                        let stay = self.allows(firm_id, None, s, t, Phase::Stay);
                        (s, place, stay)
                    })
                    .filter(|&(_, place, stay)| place || stay)
                    .collect()
            })
            .collect();
    }

    /// Price of one chip-hour of capacity at `site` (lease price or amortised capex), rules included.
    fn capacity_price(&self, site: SiteId) -> f64 {
        self.rates[site.0 as usize].capacity_price
    }

    /// Electricity drawn by one busy chip for one hour, kWh (PUE included).
    fn kwh_per_chip_hour(&self, site: SiteId) -> f64 {
        let s = &self.world.sites[site.0 as usize];
        self.world.site_chip(site).all_in_power_w * s.pue / 1_000.0
    }

    /// What a user pays for one busy chip-hour at `site`.
    fn user_price(&self, site: SiteId) -> f64 {
        self.rates[site.0 as usize].user_price
    }

    fn free_for_training(&self, site: SiteId) -> u64 {
        let st = &self.sites[site.0 as usize];
        let reserve = if self.world.sites[site.0 as usize].inference_priority {
            st.inference_wanted.max(st.inference_alloc)
        } else {
            st.inference_alloc
        };
        st.online().saturating_sub(st.busy_jobs + reserve)
    }

    // ----- accounting ----------------------------------------------------------------------

    /// Adds `chips` busy chips at `site` for `firm` over `[a, b)` to the metrics.
    fn accrue_busy(
        &mut self,
        site: SiteId,
        firm: FirmId,
        chips: u64,
        a: SimTime,
        b: SimTime,
        inference: bool,
    ) {
        if chips == 0 || b <= a {
            return;
        }
        let s = site.0 as usize;
        let f = firm.0 as usize;
        let home = self.is_home(firm, site);
        let user_price = self.user_price(site);
        let site_price = match self.world.sites[s].pricing {
            // Owned capacity is costed on online chip-hours (see `accrue_online`); only energy here.
            Pricing::Owned { .. } => user_price - self.capacity_price(site),
            Pricing::Lease { .. } => user_price,
        };
        let mwh_per_chip_hour = self.kwh_per_chip_hour(site) / 1_000.0;
        let (site_rows, firm_rows) = (&mut self.metrics.site[s], &mut self.metrics.firm[f]);
        self.periods.split(a, b, |p, secs| {
            let h = chips as f64 * secs / 3_600.0;
            let row = &mut site_rows[p];
            row.chip_hours_busy += h;
            if inference {
                row.chip_hours_inference += h;
            }
            row.energy_mwh += h * mwh_per_chip_hour;
            row.cost_usd += h * site_price;
            if inference {
                row.usage_cost_inference_usd += h * user_price;
            } else {
                row.usage_cost_training_usd += h * user_price;
            }
            let fr = &mut firm_rows[p];
            if home {
                fr.chip_hours_home += h;
                fr.cost_home_usd += h * user_price;
            } else {
                fr.chip_hours_abroad += h;
                fr.cost_abroad_usd += h * user_price;
            }
        });
    }

    /// Adds productive compute at `flop_per_s` over `[a, b)`.
    fn accrue_compute(
        &mut self,
        site: SiteId,
        firm: FirmId,
        flop_per_s: f64,
        a: SimTime,
        b: SimTime,
    ) {
        if b <= a {
            return;
        }
        let home = self.is_home(firm, site);
        let (site_rows, firm_rows) = (
            &mut self.metrics.site[site.0 as usize],
            &mut self.metrics.firm[firm.0 as usize],
        );
        self.periods.split(a, b, |p, secs| {
            let pfd = flop_per_s * secs / FLOP_PER_PFLOP_DAY;
            site_rows[p].compute_pflop_days += pfd;
            if home {
                firm_rows[p].compute_home_pflop_days += pfd;
            } else {
                firm_rows[p].compute_abroad_pflop_days += pfd;
            }
        });
    }

    /// Brings a running job's metrics up to `now`.
    fn accrue_job(&mut self, j: u32, now: SimTime) {
        let job = self.job(j);
        let JobState::Running(site) = job.state else {
            return;
        };
        let (firm, gang, a, pa, rate) = (
            job.firm,
            job.gang,
            job.acc_from,
            job.productive_from,
            job.rate,
        );
        self.accrue_busy(site, firm, gang, a, now, false);
        self.accrue_compute(site, firm, rate, a.max(pa), now);
        self.job_mut(j).acc_from = now;
    }

    /// Brings a site's online chip-hours (and owned capex) up to `now`.
    fn accrue_online(&mut self, site: SiteId, now: SimTime) {
        let s = site.0 as usize;
        let from = self.sites[s].online_acc_from;
        let online = self.sites[s].online() as f64;
        let capex = match self.world.sites[s].pricing {
            Pricing::Owned { .. } => self.capacity_price(site),
            Pricing::Lease { .. } => 0.0,
        };
        let rows = &mut self.metrics.site[s];
        self.periods.split(from, now, |p, secs| {
            let h = online * secs / 3_600.0;
            rows[p].chip_hours_online += h;
            rows[p].cost_usd += h * capex;
        });
        self.sites[s].online_acc_from = now;
    }

    /// Brings a site's queue-length integral up to `now`.
    fn accrue_queue(&mut self, site: SiteId, now: SimTime) {
        let s = site.0 as usize;
        let from = self.sites[s].queue_acc_from;
        let len = self.sites[s].queue.len() as f64;
        let rows = &mut self.metrics.site[s];
        self.periods
            .split(from, now, |p, secs| rows[p].queue_job_seconds += len * secs);
        self.sites[s].queue_acc_from = now;
    }

    // ----- jobs ----------------------------------------------------------------------------

    fn on_arrival(&mut self, f: usize, w: usize, index: u32, now: SimTime, ctx: &mut Context<Ev>) {
        let wl = &self.world.firms[f].workloads[w];
        let WorkloadKind::Batch(b) = &wl.kind else {
            return;
        };
        let total_flop = b.size_flop.sample(&mut self.size_rng[f][w]).max(1.0);
        let job = Job {
            firm: FirmId(f as u32),
            workload: w as u32,
            kind: b.kind,
            gang: b.gang_chips,
            total_flop,
            saved_flop: 0.0,
            arrived: now,
            started_once: false,
            state: JobState::Blocked,
            epoch: 0,
            restart_pending: false,
            acc_from: now,
            productive_from: now,
            rate: 0.0,
            end_at: now,
            last_site: None,
        };
        let j = match self.free_slots.pop() {
            Some(j) => {
                self.jobs[j as usize] = Some(job);
                j
            }
            None => {
                self.jobs.push(Some(job));
                (self.jobs.len() - 1) as u32
            }
        };
        self.ledger.arrived += 1;
        self.metrics.firm[f][self.periods.index(now)].jobs_arrived += 1;
        self.place(j, now, ctx);

        // The next arrival of this workload.
        let next = match &b.arrivals {
            Arrivals::At(ts) => ts.get(index as usize + 1).copied(),
            other => other
                .next_gap(&mut self.arrival_rng[f][w])
                .map(|g| now.saturating_add(g)),
        };
        if let Some(t) = next.filter(|&t| t <= wl.end && t < self.periods.horizon()) {
            ctx.schedule_at(
                t.max(now),
                Ev::Arrival {
                    firm: f as u32,
                    workload: w as u32,
                    index: index + 1,
                },
            )
            .expect("not in the past");
        }
    }

    /// Sends a job to the best allowed site, or blocks it.
    fn place(&mut self, j: u32, now: SimTime, ctx: &mut Context<Ev>) {
        let job = self.job(j);
        let (firm, gang, wl) = (job.firm, job.gang, job.workload);
        let remaining = (job.total_flop - job.saved_flop).max(0.0);
        let dc = self.data_class(firm, wl);
        let f = &self.world.firms[firm.0 as usize];
        let restart_secs = match &f.workloads[wl as usize].kind {
            WorkloadKind::Batch(b) if job.restart_pending => b.restart.as_secs_f64(),
            _ => 0.0,
        };
        let candidates: Vec<SiteId> = f
            .sites
            .iter()
            .copied()
            .filter(|&s| self.sites[s.0 as usize].installed >= gang)
            .filter(|&s| self.allows(firm, dc, s, now, Phase::Place))
            .collect();
        let score = |s: SiteId| -> f64 {
            let eff = self.world.site_chip(s).effective_flop_per_s() * gang as f64;
            let run_secs = restart_secs + remaining / eff;
            match f.placement {
                PlacementStrategy::Cheapest | PlacementStrategy::HomeFirst => {
                    run_secs / 3_600.0 * gang as f64 * self.user_price(s)
                }
                PlacementStrategy::EarliestFinish => {
                    self.expected_wait_secs(s, gang, now) + run_secs
                }
            }
        };
        let home_first = f.placement == PlacementStrategy::HomeFirst;
        let best = candidates
            .iter()
            .map(|&s| {
                let abroad = home_first && !self.is_home(firm, s);
                (abroad, score(s), s)
            })
            .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)))
            .map(|x| x.2);
        match best {
            None => {
                self.job_mut(j).state = JobState::Blocked;
                self.blocked.push(j);
            }
            Some(s) => {
                self.accrue_queue(s, now);
                let job = self.job_mut(j);
                job.state = JobState::Queued(s);
                job.last_site = Some(s);
                self.sites[s.0 as usize].queue.push_back(j);
                self.try_start(s, now, ctx);
            }
        }
    }

    /// Rough wait before `gang` chips are free at `site`: the work ahead spread over its chips.
    fn expected_wait_secs(&self, site: SiteId, gang: u64, now: SimTime) -> f64 {
        let st = &self.sites[site.0 as usize];
        if st.queue.is_empty() && self.free_for_training(site) >= gang {
            return 0.0;
        }
        let ahead: f64 = st
            .running
            .iter()
            .map(|&r| {
                let job = self.job(r);
                job.gang as f64 * job.end_at.saturating_since(now).as_secs_f64()
            })
            .chain(st.queue.iter().map(|&q| {
                let job = self.job(q);
                let eff = self.world.site_chip(site).effective_flop_per_s() * job.gang as f64;
                job.gang as f64 * (job.total_flop - job.saved_flop).max(0.0) / eff
            }))
            .sum();
        ahead / st.online().max(1) as f64
    }

    /// Expected run time of a queued job at `site` if it started now (failures aside).
    fn expected_run(&self, j: u32, site: SiteId) -> SimDuration {
        let job = self.job(j);
        let eff = self.world.site_chip(site).effective_flop_per_s() * job.gang as f64;
        let restart =
            match &self.world.firms[job.firm.0 as usize].workloads[job.workload as usize].kind {
                WorkloadKind::Batch(b) if job.restart_pending => b.restart,
                _ => SimDuration::ZERO,
            };
        restart
            + SimDuration::from_secs_f64(((job.total_flop - job.saved_flop).max(0.0) / eff).ceil())
    }

    /// Starts queued jobs at `site`: FIFO with EASY backfilling.
    fn try_start(&mut self, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        let s = site.0 as usize;
        let mut changed = false;
        // Start the head while it fits.
        while let Some(&head) = self.sites[s].queue.front() {
            if self.job(head).gang > self.free_for_training(site) {
                break;
            }
            if !changed {
                self.accrue_queue(site, now);
                changed = true;
            }
            self.sites[s].queue.pop_front();
            self.start(head, site, now, ctx);
        }
        if self.sites[s].queue.len() > 1 {
            // The head is waiting: reserve its start time (the shadow), and let later jobs start now
            // only if they end before it, or use chips the head will not need.
            let head = self.sites[s].queue[0];
            let need = self.job(head).gang;
            let mut free = self.free_for_training(site);
            let mut ends: Vec<(SimTime, u64)> = self.sites[s]
                .running
                .iter()
                .map(|&r| (self.job(r).end_at, self.job(r).gang))
                .collect();
            ends.sort_unstable();
            let (mut shadow, mut extra) = (SimTime::MAX, free);
            let mut acc = free;
            for (t, g) in ends {
                acc += g;
                if acc >= need {
                    shadow = t;
                    extra = acc - need;
                    break;
                }
            }
            let mut i = 1;
            while i < self.sites[s].queue.len() && free > 0 {
                let q = self.sites[s].queue[i];
                let g = self.job(q).gang;
                let fits_before = now.saturating_add(self.expected_run(q, site)) <= shadow;
                if g <= free && (fits_before || g <= extra) {
                    if !changed {
                        self.accrue_queue(site, now);
                        changed = true;
                    }
                    self.sites[s].queue.remove(i);
                    if !fits_before {
                        extra -= g;
                    }
                    free -= g;
                    self.start(q, site, now, ctx);
                } else {
                    i += 1;
                }
            }
        }
    }

    fn start(&mut self, j: u32, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        let s = site.0 as usize;
        let run = self.expected_run(j, site);
        let epoch = self.new_epoch();
        let eff = self.world.site_chip(site).effective_flop_per_s();
        let mtbf_secs = self.world.sites[s].mtbf_hours * 3_600.0;
        let (gang, first_start, arrived, restart) = {
            let job = self.job(j);
            let restart = match &self.world.firms[job.firm.0 as usize].workloads
                [job.workload as usize]
                .kind
            {
                WorkloadKind::Batch(b) if job.restart_pending => b.restart,
                _ => SimDuration::ZERO,
            };
            (job.gang, !job.started_once, job.arrived, restart)
        };
        {
            let job = self.job_mut(j);
            job.state = JobState::Running(site);
            job.epoch = epoch;
            job.started_once = true;
            job.restart_pending = false;
            job.acc_from = now;
            job.productive_from = now.saturating_add(restart);
            job.rate = eff * gang as f64;
            job.end_at = now.saturating_add(run);
            job.last_site = Some(site);
        }
        self.sites[s].busy_jobs += gang;
        self.sites[s].running.push(j);
        if first_start {
            let p = self.periods.index(now);
            self.metrics.site[s][p]
                .wait_hours
                .add((now - arrived).as_hours_f64());
        }
        ctx.schedule_at(now.saturating_add(run), Ev::JobEnd { job: j, epoch })
            .expect("not in the past");
        let rate = gang as f64 / mtbf_secs;
        if rate > 0.0 && rate.is_finite() {
            let gap = Exp::new(rate)
                .expect("positive rate")
                .sample(&mut self.failure_rng[s]);
            let gap = SimDuration::from_secs_f64(gap);
            if gap < run {
                ctx.schedule_at(now.saturating_add(gap), Ev::JobFailure { job: j, epoch })
                    .expect("not in the past");
            }
        }
    }

    /// Takes a running job off its chips (after accounting), leaving it stateless for the caller.
    fn stop_running(&mut self, j: u32, now: SimTime) -> SiteId {
        self.accrue_job(j, now);
        let epoch = self.new_epoch();
        let job = self.job_mut(j);
        let JobState::Running(site) = job.state else {
            unreachable!("stop_running on a job that is not running");
        };
        job.epoch = epoch;
        let gang = job.gang;
        let st = &mut self.sites[site.0 as usize];
        st.busy_jobs -= gang;
        let pos = st
            .running
            .iter()
            .position(|&r| r == j)
            .expect("running job is listed");
        st.running.swap_remove(pos);
        site
    }

    fn on_job_end(&mut self, j: u32, now: SimTime, ctx: &mut Context<Ev>) {
        let site = self.stop_running(j, now);
        let job = self.jobs[j as usize].take().expect("live job");
        self.free_slots.push(j);
        self.ledger.completed += 1;
        let p = self.periods.index(now);
        let (s, f) = (site.0 as usize, job.firm.0 as usize);
        let row = &mut self.metrics.site[s][p];
        let hours = (now - job.arrived).as_hours_f64();
        row.completion_hours[job.kind].add(hours);
        row.jobs_completed[job.kind] += 1;
        let fr = &mut self.metrics.firm[f][p];
        fr.completion_hours[job.kind].add(hours);
        fr.jobs_completed[job.kind] += 1;
        self.try_start(site, now, ctx);
    }

    fn on_job_failure(&mut self, j: u32, now: SimTime, ctx: &mut Context<Ev>) {
        let site = self.stop_running(j, now);
        let s = site.0 as usize;
        let (firm, wl) = (self.job(j).firm, self.job(j).workload);
        let ckpt = match &self.world.firms[firm.0 as usize].workloads[wl as usize].kind {
            WorkloadKind::Batch(b) => b.checkpoint.as_secs_f64().max(1.0),
            WorkloadKind::Inference(_) => unreachable!("inference is not a job"),
        };
        let job = self.job_mut(j);
        let productive = now.saturating_since(job.productive_from).as_secs_f64();
        let kept = (productive / ckpt).floor() * ckpt;
        let lost_flop = (productive - kept) * job.rate;
        job.saved_flop = (job.saved_flop + kept * job.rate).min(job.total_flop);
        job.restart_pending = true;
        job.state = JobState::Queued(site);
        let p = self.periods.index(now);
        self.metrics.site[s][p].failures += 1;
        self.metrics.site[s][p].lost_pflop_days += lost_flop / FLOP_PER_PFLOP_DAY;
        // The failed chip goes to repair; the rest of the gang waits at the head of the queue.
        self.accrue_online(site, now);
        self.sites[s].in_repair += 1;
        let repair = SimDuration::from_hours_f64(self.world.sites[s].repair_hours);
        ctx.schedule_at(now.saturating_add(repair), Ev::RepairDone { site: site.0 })
            .expect("not in the past");
        self.accrue_queue(site, now);
        self.sites[s].queue.push_front(j);
        self.try_start(site, now, ctx);
    }

    // ----- rules ---------------------------------------------------------------------------

    fn on_policy_change(&mut self, now: SimTime, ctx: &mut Context<Ev>) {
        // Prices may change now: close every open account at the old prices first.
        for s in 0..self.sites.len() {
            self.accrue_online(SiteId(s as u32), now);
            for r in self.sites[s].running.clone() {
                self.accrue_job(r, now);
            }
        }
        self.refresh_rules(now);
        // Evict work that may no longer stay where it is.
        let mut evicted = Vec::new();
        for s in 0..self.sites.len() {
            let site = SiteId(s as u32);
            let stay = |m: &Self, j: u32| {
                let job = m.job(j);
                m.allows(
                    job.firm,
                    m.data_class(job.firm, job.workload),
                    site,
                    now,
                    Phase::Stay,
                )
            };
            for r in self.sites[s].running.clone() {
                if !stay(self, r) {
                    self.stop_running(r, now);
                    let job = self.job_mut(r);
                    job.saved_flop = job.total_flop.min(
                        job.saved_flop
                            + now.saturating_since(job.productive_from).as_secs_f64() * job.rate,
                    );
                    job.restart_pending = true;
                    evicted.push(r);
                }
            }
            let queued: Vec<u32> = self.sites[s].queue.iter().copied().collect();
            if queued.iter().any(|&q| !stay(self, q)) {
                self.accrue_queue(site, now);
                let (keep, out): (Vec<u32>, Vec<u32>) =
                    queued.into_iter().partition(|&q| stay(self, q));
                self.sites[s].queue = keep.into();
                evicted.extend(out);
            }
        }
        let p = self.periods.index(now);
        for &j in &evicted {
            let job = self.job(j);
            let (f, site) = (job.firm.0 as usize, job.last_site);
            self.metrics.firm[f][p].evictions += 1;
            if let Some(s) = site {
                self.metrics.site[s.0 as usize][p].evictions += 1;
            }
        }
        for j in evicted {
            self.place(j, now, ctx);
        }
        self.retry_blocked(now, ctx);
        for s in 0..self.sites.len() {
            self.try_start(SiteId(s as u32), now, ctx);
        }
    }

    fn retry_blocked(&mut self, now: SimTime, ctx: &mut Context<Ev>) {
        let blocked = std::mem::take(&mut self.blocked);
        for j in blocked {
            self.place(j, now, ctx);
        }
    }

    // ----- chips ---------------------------------------------------------------------------

    fn on_delivery(
        &mut self,
        site: SiteId,
        chips: u64,
        delayed: u64,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) {
        let s = site.0 as usize;
        let spec = &self.world.sites[s];
        let chip = self.world.site_chip(site);
        let delayed_rules: Vec<usize> = (0..64).filter(|i| delayed & (1u64 << i) != 0).collect();
        let installed_in_country = |filter: Option<&str>| -> u64 {
            self.world
                .sites
                .iter()
                .enumerate()
                .filter(|(_, x)| x.jurisdiction == spec.jurisdiction)
                .filter(|(i, _)| {
                    filter.is_none_or(|c| self.world.site_chip(SiteId(*i as u32)).name == c)
                })
                .map(|(i, _)| self.sites[i].installed)
                .sum()
        };
        let verdict = self.world.timeline.delivery(
            spec,
            chip,
            chips,
            now,
            &delayed_rules,
            &installed_in_country,
        );
        let p = self.periods.index(now);
        match verdict {
            DeliveryVerdict::Banned => self.metrics.site[s][p].chips_refused += chips,
            DeliveryVerdict::Delay { rule, delay } => {
                let at = now.saturating_add(delay);
                if at < self.periods.horizon() {
                    let ev = Ev::Delivery {
                        site: site.0,
                        chips,
                        delayed: delayed | (1u64 << (rule % 64)),
                    };
                    ctx.schedule_at(at, ev).expect("not in the past");
                }
            }
            DeliveryVerdict::Deliver { max_chips } => {
                let power_room = spec.power_cap_mw.map_or(u64::MAX, |mw| {
                    let per_chip_w = chip.all_in_power_w * spec.pue;
                    ((mw * 1e6 / per_chip_w).floor() as u64).saturating_sub(self.sites[s].installed)
                });
                let n = chips.min(max_chips).min(power_room);
                self.accrue_online(site, now);
                self.sites[s].installed += n;
                let row = &mut self.metrics.site[s][p];
                row.chips_delivered += n;
                row.chips_refused += chips - n;
                if n > 0 {
                    self.retry_blocked(now, ctx);
                    self.try_start(site, now, ctx);
                }
            }
        }
    }

    fn on_supply_lot(&mut self, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        let s = site.0 as usize;
        let Some(sup) = self.world.sites[s].supply else {
            return;
        };
        let factor = self.rates[s].supply_factor;
        let exact = sup.chips_per_year * factor / LOTS_PER_YEAR + self.sites[s].supply_carry;
        let chips = exact.floor().max(0.0);
        self.sites[s].supply_carry = exact - chips;
        if chips > 0.0 {
            self.on_delivery(site, chips as u64, 0, now, ctx);
        }
        let next = now.saturating_add(SUPPLY_LOT);
        if next < sup.until && next < self.periods.horizon() {
            ctx.schedule_at(next, Ev::SupplyLot { site: site.0 })
                .expect("not in the past");
        }
    }

    // ----- inference -----------------------------------------------------------------------

    fn on_inference_tick(&mut self, f: usize, w: usize, now: SimTime, ctx: &mut Context<Ev>) {
        let firm_id = FirmId(f as u32);
        // Release the last batch's chips.
        let previous = std::mem::take(&mut self.inference[f][w].held);
        for &(site, held, wanted) in &previous {
            let st = &mut self.sites[site.0 as usize];
            st.inference_alloc -= held;
            st.inference_wanted -= wanted;
        }
        let wl = &self.world.firms[f].workloads[w];
        let WorkloadKind::Inference(inf) = &wl.kind else {
            return;
        };
        let horizon = self.periods.horizon();
        // The last tick (at the workload's end) only releases the last batch's chips.
        let batch_end = now.saturating_add(inf.batch).min(horizon).min(wl.end);
        if batch_end <= now {
            for &(site, _, _) in &previous {
                self.try_start(site, now, ctx);
            }
            return;
        }
        let secs = (batch_end - now).as_secs_f64();
        let demand = inf.tokens_in_batch(now - wl.start) * secs / inf.batch.as_secs_f64();
        let firm = &self.world.firms[f];
        let share = self.world.timeline.domestic_inference_share(firm, now);
        // Sites in the firm's order of preference, where rules allow a new batch or (for a service
        // already running there) allow it to stay.
        let order: Vec<SiteId> = self.inference_order[f]
            .iter()
            .filter(|&&(s, place, stay)| {
                place || (stay && previous.iter().any(|&(x, h, _)| x == s && h > 0))
            })
            .map(|&(s, _, _)| s)
            .collect();
        let mut held: Vec<(SiteId, u64, u64)> = Vec::new();
        let mut served_total = 0.0;
        let mut served_domestic = 0.0;
        for (portion, domestic_only) in [(demand * share, true), (demand * (1.0 - share), false)] {
            let mut left = portion;
            for &s in &order {
                if left <= 0.0 {
                    break;
                }
                let chip = self.world.site_chip(s);
                let domestic = chip.vendor_country == firm.headquarters;
                if domestic_only && !domestic {
                    continue;
                }
                let per_chip = chip.inference_tokens_per_s * secs;
                let need = (left / per_chip).ceil() as u64;
                let st = &self.sites[s.0 as usize];
                let free = st
                    .online()
                    .saturating_sub(st.busy_jobs + st.inference_alloc);
                let take = need.min(free);
                let wanted = if take < need {
                    need.min(st.online().saturating_sub(st.inference_alloc))
                } else {
                    take
                };
                let served = left.min(take as f64 * per_chip);
                left -= served;
                served_total += served;
                if domestic {
                    served_domestic += served;
                }
                let st = &mut self.sites[s.0 as usize];
                st.inference_alloc += take;
                st.inference_wanted += wanted;
                let p = self.periods.index(now);
                self.metrics.site[s.0 as usize][p].tokens_served += served;
                self.accrue_busy(s, firm_id, take, now, batch_end, true);
                held.push((s, take, wanted));
            }
        }
        let p = self.periods.index(now);
        let fr = &mut self.metrics.firm[f][p];
        fr.tokens_demanded += demand;
        fr.tokens_served += served_total;
        fr.tokens_served_domestic_chips += served_domestic;
        self.inference[f][w].held = held;
        for &(site, _, _) in &previous {
            self.try_start(site, now, ctx);
        }
        if batch_end < horizon {
            ctx.schedule_at(
                batch_end,
                Ev::InferenceTick {
                    firm: f as u32,
                    workload: w as u32,
                },
            )
            .expect("not in the past");
        }
    }

    // ----- periods, invariants, the end ----------------------------------------------------

    fn on_period_end(&mut self, p: usize, now: SimTime) {
        for (s, st) in self.sites.iter().enumerate() {
            self.metrics.site[s][p].chips_online = st.online();
        }
        for &j in &self.blocked {
            let job = self.jobs[j as usize].as_ref().expect("blocked job is live");
            if let Some(s) = job.last_site {
                self.metrics.site[s.0 as usize][p].blocked_jobs += 1;
            }
        }
        for job in self.jobs.iter().flatten() {
            let b = &mut self.metrics.firm[job.firm.0 as usize][p].backlog[job.kind];
            match job.state {
                JobState::Queued(_) => b.waiting += 1,
                JobState::Running(_) => b.running += 1,
                JobState::Blocked => b.blocked += 1,
            }
            let age = now.saturating_since(job.arrived).as_hours_f64();
            b.age_hours_sum += age;
            b.age_hours_max = b.age_hours_max.max(age);
        }
    }

    fn check_capacity(&mut self, now: SimTime) {
        for (s, st) in self.sites.iter().enumerate() {
            if st.busy_jobs + st.inference_alloc > st.online() {
                self.error = Some(ModelError::new(format!(
                    "invariant broken at {now}: site '{}' has {} chips busy with jobs and {} with \
                     inference but only {} online",
                    self.world.sites[s].name,
                    st.busy_jobs,
                    st.inference_alloc,
                    st.online()
                )));
            }
        }
    }

    fn finish(mut self, horizon: SimTime, events: u64) -> Result<RunMetrics, ModelError> {
        for s in 0..self.sites.len() {
            let site = SiteId(s as u32);
            self.accrue_online(site, horizon);
            self.accrue_queue(site, horizon);
            for r in self.sites[s].running.clone() {
                self.accrue_job(r, horizon);
            }
        }
        self.check_capacity(horizon);
        let mut ledger = self.ledger;
        for job in self.jobs.iter().flatten() {
            match job.state {
                JobState::Running(_) => ledger.running += 1,
                JobState::Queued(_) => ledger.queued += 1,
                JobState::Blocked => ledger.blocked += 1,
            }
        }
        if !ledger.is_conserved() {
            self.error = Some(ModelError::new(format!(
                "invariant broken: jobs not conserved: arrived {} != completed {} + running {} + \
                 queued {} + blocked {}",
                ledger.arrived, ledger.completed, ledger.running, ledger.queued, ledger.blocked
            )));
        }
        for (s, rows) in self.metrics.site.iter().enumerate() {
            for (p, r) in rows.iter().enumerate() {
                for (name, v) in [
                    ("cost_usd", r.cost_usd),
                    ("energy_mwh", r.energy_mwh),
                    ("chip_hours_busy", r.chip_hours_busy),
                    ("compute_pflop_days", r.compute_pflop_days),
                    ("tokens_served", r.tokens_served),
                ] {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(ModelError::new(format!(
                            "invariant broken: {name} = {v} at site '{}' in period {p}",
                            self.world.sites[s].name
                        )));
                    }
                }
                if r.chip_hours_busy > r.chip_hours_online * (1.0 + 1e-9) + 1e-6 {
                    return Err(ModelError::new(format!(
                        "invariant broken: site '{}' period {p}: {} chip-hours busy > {} online",
                        self.world.sites[s].name, r.chip_hours_busy, r.chip_hours_online
                    )));
                }
            }
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        self.metrics.jobs = ledger;
        self.metrics.events = events;
        Ok(self.metrics)
    }
}
