//! One replication of a world: the event handlers that move jobs through sites under the timeline.
//!
//! The simulation is split by concern; each file holds the handlers and state of one part:
//!
//! | file | what |
//! |---|---|
//! | `jobs.rs` | the job table, arrivals, starts, ends, failures, the backlog counters |
//! | `queue.rs` | a site's queue with its running totals; FIFO + EASY backfilling (a pure function) |
//! | `placement.rs` | where a job goes (a pure choice over candidate sites) and re-placement |
//! | `inference.rs` | inference demand served in batches |
//! | `supply.rs` | deliveries, permit delays, steady supply |
//! | `leasing.rs` | firms' reviews; lease lots in offshore markets: signed, renewed, released, ended |
//! | `orders.rs` | domestic orders filled from limited national output; import and grey purchases |
//! | `rules.rs` | policy change points: prices, evictions, retries |
//! | `accounting.rs` | chip-hours, costs, energy, useful and lost compute into the metrics |
//! | `invariants.rs` | the checks every run makes, and the end of the run |
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
//!   head job's reserved start; backfilling looks at most [`queue::BACKFILL_DEPTH`] jobs deep).
//! - A job waits only where it can start: placement prefers sites whose *training capacity* (chips
//!   online less those held for inference at priority sites) holds its gang. When a site's training
//!   capacity falls below a queued job's gang (inference demand rises, a chip fails), the job is
//!   placed again; a job that no site can run now waits at its best site and is placed again when
//!   capacity appears anywhere. Jobs waiting for capacity and jobs blocked by a rule are counted
//!   apart.
//! - A running gang of `n` chips fails at `n / mtbf` per hour (superposition: one pending failure
//!   event per job, not per chip). A failure rolls the job back to its last checkpoint, sends one
//!   chip to repair, and requeues the job at the head of its site's queue; its next start costs
//!   `restart_hours`. Writing checkpoints is assumed free.
//! - Useful compute is credited when it is kept: at each checkpoint (seen when the job is next
//!   accounted), at the end, at an eviction (which checkpoints) and at the horizon. Work rolled back
//!   by a failure is *lost* compute, reported apart; both in the period the work was done.
//! - A rule that stops allowing work where it is (a lease-ban deadline, say) evicts it: the job is
//!   checkpointed (nothing is lost), its chips are freed, and it is placed again. Work with no allowed
//!   site is *blocked* and retried at every rule change and delivery. No job is ever dropped.
//! - Inference is a demand stream placed once per batch on the free chips of allowed sites, in the
//!   firm's order of preference; demand beyond free capacity is reported as unserved. At sites with
//!   `inference_priority`, training leaves free the chips inference wanted at the last batch;
//!   elsewhere training goes first (queued jobs start on the chips a batch releases before the next
//!   batch is placed). A batch ends at the next rule change, so its price is that of the rules in
//!   force; failures of inference chips are not modelled.
//!
//! # Costs and energy
//!
//! Each site's capacity is priced one of three ways ([`super::Pricing`]):
//! - *on demand* (`lease`): each busy chip-hour at the lease index x (1 + premium), electricity
//!   included; idle capacity is the operator's and not in the world's costs;
//! - *by contract*: the tenant pays every online chip-hour, busy or idle, at the index at the start
//!   of the term; a rule that makes the tenant leave ends the contract (counted in
//!   `contracts_ended`), and nothing is paid after;
//! - *owned*: amortised capex plus the idle draw's electricity on every online chip-hour, and the
//!   rest of the electricity on busy ones. An owner pays all of it, busy or idle; a cloud without
//!   an owner charges users capex plus electricity per busy chip-hour, and its idle capacity is paid
//!   by no firm.
//!
//! Sites record what they cost, the value of the chip-hours used (at the user price), and the cost
//! of idle capacity (`cost_idle_usd`), of which `cost_unpaid_usd` no firm paid. Firms record what
//! they spent, and of it what paid for capacity no work used. In every period, checked: what sites
//! cost = what firms paid + what no one paid for; each site's cost = its usage + its idle cost; and
//! what firms paid less their idle share = the usage. Energy counts busy chips at `all_in_power_w x
//! PUE` and idle ones at the chip's `idle_power_fraction` of it.

mod accounting;
mod clouds;
mod inference;
mod invariants;
mod jobs;
mod leasing;
mod orders;
mod placement;
pub mod queue;
mod rules;
mod supply;

use crate::engine::rng::{fnv1a64, splitmix64, stream_by_key, SimRng};
use crate::engine::{Context, Model, SimTime, Simulation};
use crate::metrics::{Periods, RunMetrics};

use super::{Arrivals, FirmId, ModelError, SiteId, WorkloadKind, World};
use jobs::{Backlogs, Job};
use queue::SiteState;
use rules::SiteRates;
use supply::Shipment;

/// The instants at which rules or prices change, sorted and distinct.
fn change_points(world: &World, horizon: SimTime) -> Vec<SimTime> {
    let mut v = world.timeline.change_points();
    v.extend(rules::price_change_points(world, horizon));
    v.sort_unstable();
    v.dedup();
    v
}

/// `x.ceil() as u64` without the libm call (`ceil` is not an instruction on baseline x86-64):
/// the same value for every `f64`, NaN and negatives giving 0, and saturating above `u64::MAX`.
#[inline]
pub(super) fn ceil_u64(x: f64) -> u64 {
    let t = x as u64;
    if (t as f64) < x && t < u64::MAX {
        t + 1
    } else {
        t
    }
}

#[derive(Clone, Copy, Debug)]
enum Ev {
    /// Some rule starts, ends or reaches a deadline.
    PolicyChange,
    /// The end of reporting period `0`.
    PeriodEnd(u32),
    /// A shipment of chips (an index into the model's shipments).
    Delivery { shipment: u32 },
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
    /// A firm reviews its capacity (and may sign leases).
    Review { firm: u32 },
    /// A lease lot's chips come online.
    LotOnline { lot: u32 },
    /// A lease lot's term ends: renewed or released.
    LotTermEnd { lot: u32 },
    /// Chips of lots a rule ended leave their site.
    ReleaseEnded { site: u32 },
    /// Chips allocated to a domestic order reach the firm's site.
    OrderArrives { arrival: u32 },
    /// An import or grey purchase reaches the firm's site (or is seized).
    PurchaseArrives { purchase: u32 },
    /// A domestic cloud reviews what its renters use (and so whether it buys its supply).
    CloudReview { site: u32 },
}

/// The model of one replication.
struct CapacityModel<'w> {
    world: &'w World,
    periods: &'w Periods,
    metrics: RunMetrics,
    sites: Vec<SiteState>,
    jobs: Vec<Option<Job>>,
    free_slots: Vec<u32>,
    /// Jobs with no allowed site.
    blocked: Vec<u32>,
    /// Queued jobs that wait at a site whose training capacity cannot hold their gang (no site
    /// could when they were placed), as (placement class, gang, job).
    stranded: std::collections::BTreeSet<(u32, u64, u32)>,
    /// Placement classes: jobs of one firm with one data class have the same allowed sites.
    classes: Vec<(FirmId, Option<&'w str>)>,
    /// `workload_class[f][w]`: the placement class of firm `f`'s workload `w`.
    workload_class: Vec<Vec<u32>>,
    /// Per class, the firm's sites where rules allow a new placement now, in the firm's order.
    /// Refreshed with `rates`.
    class_sites: Vec<Vec<SiteId>>,
    /// Per firm and kind: counts and ages of unfinished jobs.
    backlogs: Backlogs,
    inference: Vec<Vec<inference::Service>>,
    /// Scratch buffer for an inference batch's allocations (no allocation per tick).
    held_scratch: Vec<inference::Held>,
    arrival_rng: Vec<Vec<SimRng>>,
    /// `next_arrival[f][w]`: when firm `f`'s batch workload `w` sends its next job (its plan, drawn
    /// one arrival ahead; `SimTime::MAX` when it sends no more).
    next_arrival: Vec<Vec<SimTime>>,
    size_rng: Vec<Vec<SimRng>>,
    failure_rng: Vec<SimRng>,
    /// Per site, draws whether its grey-market lots are seized (streams of their own: one site's
    /// purchases do not move another's draws, and without grey purchases no other draw changes).
    seizure_rng: Vec<SimRng>,
    next_epoch: u64,
    completed: u64,
    shipments: Vec<Shipment>,
    error: Option<ModelError>,
    /// What rules make of each site, refreshed at every change point (rules change nothing between).
    rates: Vec<SiteRates>,
    /// Rule change points, sorted (batches of inference end at the next one).
    change_points: Vec<SimTime>,
    /// `home[f][s]`: site `s` is in firm `f`'s home jurisdiction.
    home: Vec<Vec<bool>>,
    /// `domestic_chip[f][s]`: site `s`'s chip is made in firm `f`'s home country.
    domestic_chip: Vec<Vec<bool>>,
    /// Per firm, its sites in order of preference for inference, with whether rules allow a new
    /// batch there and whether they allow a running service to stay. Refreshed with `rates`.
    inference_order: Vec<Vec<(SiteId, bool, bool)>>,
    /// The online price per site and period, on online chip-hours and on busy ones (their
    /// difference is the idle cost).
    capacity_online: Vec<Vec<f64>>,
    capacity_busy: Vec<Vec<f64>>,
    /// Lease lots in markets and what they hold.
    leasing: leasing::Leasing,
    /// Domestic orders open and on their way.
    orders: orders::Orders,
    /// Per site, what a cloud that buys by its use measured since its last review.
    cloud_use: Vec<clouds::CloudUse>,
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
    let (nsites, nperiods) = (world.sites.len(), periods.len());
    let firm_site = |f: &dyn Fn(&super::Firm, usize) -> bool| -> Vec<Vec<bool>> {
        world
            .firms
            .iter()
            .map(|firm| (0..nsites).map(|s| f(firm, s)).collect())
            .collect()
    };
    // Placement classes: (firm, data class) in first-seen order.
    let mut classes: Vec<(FirmId, Option<&str>)> = Vec::new();
    let workload_class: Vec<Vec<u32>> = world
        .firms
        .iter()
        .enumerate()
        .map(|(f, firm)| {
            firm.workloads
                .iter()
                .map(|wl| {
                    let dc = match &wl.kind {
                        WorkloadKind::Batch(b) => b.data_class.as_deref(),
                        WorkloadKind::Inference(_) => None,
                    };
                    let key = (FirmId(f as u32), dc);
                    match classes.iter().position(|c| *c == key) {
                        Some(i) => i as u32,
                        None => {
                            classes.push(key);
                            (classes.len() - 1) as u32
                        }
                    }
                })
                .collect()
        })
        .collect();
    let mut model = CapacityModel {
        world,
        periods,
        metrics: RunMetrics::new(replication, nsites, world.firms.len(), nperiods),
        sites: world
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let flop = world.site_chip(SiteId(i as u32)).effective_flop_per_s();
                SiteState::new(s.initial_chips, s.inference_priority, flop)
            })
            .collect(),
        jobs: Vec::new(),
        free_slots: Vec::new(),
        blocked: Vec::new(),
        stranded: Default::default(),
        classes,
        workload_class,
        class_sites: Vec::new(),
        backlogs: Backlogs::new(world.firms.len()),
        inference: world
            .firms
            .iter()
            .map(|f| f.workloads.iter().map(inference::Service::new).collect())
            .collect(),
        held_scratch: Vec::new(),
        arrival_rng: per_workload("arrivals"),
        next_arrival: world
            .firms
            .iter()
            .map(|f| vec![SimTime::MAX; f.workloads.len()])
            .collect(),
        size_rng: per_workload("sizes"),
        failure_rng: (0..nsites)
            .map(|s| stream_by_key(seed, replication, key("failures", s as u64, 0)))
            .collect(),
        seizure_rng: (0..nsites)
            .map(|s| stream_by_key(seed, replication, key("seizures", s as u64, 0)))
            .collect(),
        next_epoch: 0,
        completed: 0,
        shipments: Vec::new(),
        error: None,
        rates: Vec::new(),
        change_points: change_points(world, horizon),
        home: firm_site(&|f, s| world.sites[s].jurisdiction == f.headquarters),
        domestic_chip: firm_site(&|f, s| {
            world.site_chip(SiteId(s as u32)).vendor_country == f.headquarters
        }),
        inference_order: Vec::new(),
        capacity_online: vec![vec![0.0; nperiods]; nsites],
        capacity_busy: vec![vec![0.0; nperiods]; nsites],
        leasing: leasing::Leasing::new(world),
        orders: orders::Orders::new(world),
        cloud_use: vec![clouds::CloudUse::default(); nsites],
    };
    model.refresh_rules(SimTime::ZERO);
    // Room for the jobs the workloads are expected to send (growing the tables as jobs arrive would
    // copy them again and again; the estimate is capped, so a wild scenario only loses the hint).
    let expected = expected_arrivals(world, horizon).min(1 << 20);
    model.metrics.job_records.reserve(expected);
    model.jobs.reserve(expected);
    // Shipments are numbered in the order they are scheduled.
    // At a market site, a listed delivery is a past lease (a lot), not a shipment.
    let mut initial = Vec::new();
    for (s, site) in world.sites.iter().enumerate() {
        let market = model.site_market(SiteId(s as u32)).is_some();
        for d in &site.deliveries {
            let ev = if market {
                Ev::LotOnline {
                    lot: model.history_lot(SiteId(s as u32), d.chips),
                }
            } else {
                Ev::Delivery {
                    shipment: model.new_shipment(SiteId(s as u32), d.chips, Vec::new()),
                }
            };
            initial.push((d.at, ev));
        }
    }
    let mut sim = Simulation::new(model);
    let at = |sim: &mut Simulation<CapacityModel>, t: SimTime, ev: Ev| {
        sim.schedule_at(t, ev)
            .expect("initial events are not in the past");
    };
    // Order matters for ties at one instant: rules, then period ends, then deliveries, then jobs.
    for t in change_points(world, horizon) {
        if t < horizon {
            at(&mut sim, t, Ev::PolicyChange);
        }
    }
    for p in 0..periods.len() {
        at(&mut sim, periods.bounds[p + 1], Ev::PeriodEnd(p as u32));
    }
    let mut next = initial.into_iter();
    for (s, site) in world.sites.iter().enumerate() {
        for _ in &site.deliveries {
            let (t, ev) = next.next().expect("one shipment or lot per delivery");
            at(&mut sim, t, ev);
        }
        if let Some(sup) = &site.supply {
            // A supply of 0 (a site its owner only orders for) has no lots to deliver.
            if sup.from < horizon && sup.chips_per_year > 0.0 {
                at(&mut sim, sup.from, Ev::SupplyLot { site: s as u32 });
            }
        }
    }
    for (f, firm) in world.firms.iter().enumerate() {
        if let Some(pl) = firm.planning {
            let first = SimTime::ZERO.saturating_add(pl.every);
            if first < horizon {
                at(&mut sim, first, Ev::Review { firm: f as u32 });
            }
        }
    }
    for (s, site) in world.sites.iter().enumerate() {
        if let Some(b) = site.buying {
            let first = b.from.saturating_add(b.every);
            if first < horizon {
                at(&mut sim, first, Ev::CloudReview { site: s as u32 });
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
                    if let Some(t) = first.filter(|&t| t < wl.end && t < horizon) {
                        sim.parts_mut().0.next_arrival[f][w] = t;
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

/// Roughly how many batch jobs the workloads send over the horizon (a capacity hint).
fn expected_arrivals(world: &World, horizon: SimTime) -> usize {
    let mut n = 0.0;
    for firm in &world.firms {
        for wl in &firm.workloads {
            let WorkloadKind::Batch(b) = &wl.kind else {
                continue;
            };
            let span = wl.end.min(horizon).saturating_since(wl.start).as_secs_f64();
            n += match &b.arrivals {
                Arrivals::Every(d) => span / d.as_secs_f64().max(1.0) + 1.0,
                Arrivals::Poisson { mean_gap } => {
                    span / mean_gap.as_secs_f64().max(1.0) * 1.1 + 16.0
                }
                Arrivals::At(ts) => ts.len() as f64,
            };
        }
    }
    n as usize
}

impl Model for CapacityModel<'_> {
    type Event = Ev;

    fn handle(&mut self, ev: Ev, ctx: &mut Context<Ev>) {
        let now = ctx.now();
        match ev {
            Ev::PolicyChange => self.on_policy_change(now, ctx),
            Ev::PeriodEnd(p) => self.on_period_end(p as usize, now),
            Ev::Delivery { shipment } => self.on_delivery(shipment, now, ctx),
            Ev::SupplyLot { site } => self.on_supply_lot(SiteId(site), now, ctx),
            Ev::CloudReview { site } => self.on_cloud_review(SiteId(site), now, ctx),
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
            Ev::RepairDone { site } => self.on_repair_done(SiteId(site), now, ctx),
            Ev::Review { firm } => self.on_review(firm as usize, now, ctx),
            Ev::LotOnline { lot } => self.on_lot_online(lot, now, ctx),
            Ev::LotTermEnd { lot } => self.on_lot_term_end(lot, now, ctx),
            Ev::ReleaseEnded { site } => self.on_release_ended(SiteId(site), now, ctx),
            Ev::OrderArrives { arrival } => self.on_order_arrives(arrival, now, ctx),
            Ev::PurchaseArrives { purchase } => self.on_purchase_arrives(purchase, now, ctx),
        }
        if cfg!(debug_assertions) {
            self.check_capacity(now);
        }
        if self.error.is_some() {
            ctx.stop();
        }
    }
}

impl CapacityModel<'_> {
    fn is_home(&self, firm: FirmId, site: SiteId) -> bool {
        self.home[firm.0 as usize][site.0 as usize]
    }
}

#[cfg(test)]
mod ceil_tests {
    use super::ceil_u64;

    #[test]
    fn ceil_u64_is_ceil_as_u64_everywhere() {
        let mut xs = vec![
            0.0,
            -0.0,
            -0.5,
            -1.5,
            0.1,
            0.5,
            1.0,
            1.0 + f64::EPSILON,
            2.5,
            4_503_599_627_370_495.5,
            9_007_199_254_740_993.0,
            1.8e19,
            u64::MAX as f64,
            2e19,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..100_000 {
            state = super::splitmix64(state);
            xs.push(f64::from_bits(state));
            xs.push((state >> 11) as f64 / 1024.0);
        }
        for x in xs {
            assert_eq!(ceil_u64(x), x.ceil() as u64, "{x:e}");
        }
    }
}
