//! Rule change points: prices and permissions are recomputed, work that may no longer stay is
//! evicted (checkpointed, never lost) and placed again, blocked work is retried.

use crate::engine::{Context, SimTime};

use super::super::policy::Phase;
use super::super::{FirmId, PlacementStrategy, Pricing, SiteId};
use super::jobs::JobState;
use super::{CapacityModel, Ev};

/// Hours in a year, for amortisation.
const HOURS_PER_YEAR: f64 = 8_760.0;

/// Prices and permissions at a site under the rules in force.
///
/// A busy chip-hour is worth `online_price + busy_price` (the user price). The online price is
/// charged on every online chip-hour (to the payer, if the site has one: its owner or tenant);
/// the busy price on busy ones (to whoever uses them).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SiteRates {
    /// Charged per online chip-hour, busy or idle: capex plus idle-draw energy at owned sites, the
    /// contract price while a contract runs, nothing at on-demand sites.
    pub online_price: f64,
    /// Charged per busy chip-hour on top: the rest of the energy at owned sites, the on-demand
    /// price at leased sites, nothing under contract.
    pub busy_price: f64,
    /// What a busy chip-hour is worth: `online_price + busy_price`.
    pub user_price: f64,
    /// Of it, the amortised purchase price (owned sites; 0 elsewhere).
    pub capex: f64,
    /// The firm that pays the online price, if one does (an owner, or a tenant whose contract
    /// runs).
    pub payer: Option<FirmId>,
    /// Energy of one online chip-hour (its idle draw) and of one busy chip-hour on top, MWh.
    pub mwh_online: f64,
    pub mwh_busy: f64,
    /// Multiplier on the site's steady supply.
    pub supply_factor: f64,
}

impl SiteRates {
    /// What `firm` pays for one more busy chip-hour here: the busy price where it already pays
    /// for the capacity, the user price elsewhere.
    pub fn marginal_price(&self, firm: FirmId) -> f64 {
        if self.payer == Some(firm) {
            self.busy_price
        } else {
            self.user_price
        }
    }
}

/// The instants at which prices change without a rule changing: each dated lease price, and the
/// start of each contract term after the first (terms run from a site's first scheduled chips).
pub(super) fn price_change_points(world: &super::super::World, horizon: SimTime) -> Vec<SimTime> {
    let mut v = Vec::new();
    for s in &world.sites {
        v.extend(s.lease_prices.iter().map(|p| p.from));
        if let Pricing::Contract { term, .. } = s.pricing {
            if let Some(origin) = contract_origin(s) {
                let mut t = origin.saturating_add(term);
                while t < horizon && term.as_secs() > 0 {
                    v.push(t);
                    t = t.saturating_add(term);
                }
            }
        }
    }
    v.retain(|&t| t > SimTime::ZERO && t < horizon);
    v
}

/// When a contracted site's first term starts: its first scheduled chips.
fn contract_origin(s: &super::super::Site) -> Option<SimTime> {
    let initial = (s.initial_chips > 0).then_some(SimTime::ZERO);
    let delivered = s.deliveries.iter().map(|d| d.at).min();
    let supplied = s.supply.map(|x| x.from);
    [initial, delivered, supplied].into_iter().flatten().min()
}

/// The start of the contract term in force at `t`.
fn term_start(s: &super::super::Site, term: crate::engine::SimDuration, t: SimTime) -> SimTime {
    match contract_origin(s) {
        Some(origin) if t > origin && term.as_secs() > 0 => {
            let n = (t.0 - origin.0) / term.as_secs();
            SimTime(origin.0 + n * term.as_secs())
        }
        _ => t,
    }
}

impl CapacityModel<'_> {
    /// What the rules in force at `t` make of site `i`'s prices, payer and supply.
    pub(super) fn site_rates(&self, i: usize, t: SimTime) -> SiteRates {
        let tl = &self.world.timeline;
        let s = &self.world.sites[i];
        let site = SiteId(i as u32);
        let chip = self.world.site_chip(site);
        let factor = tl.price_factor(s, chip, t);
        let kwh = chip.all_in_power_w * s.pue / 1_000.0;
        let idle = chip.idle_power_fraction;
        let mut capex = 0.0;
        let (online_price, busy_price, payer) = match s.pricing {
            Pricing::Lease {
                on_demand_premium, ..
            } => (
                0.0,
                s.lease_index(t) * (1.0 + on_demand_premium) * factor,
                None,
            ),
            Pricing::Contract {
                tenant,
                term,
                market,
                reserves,
                ..
            } => {
                if self.allows(tenant, None, site, t, Phase::Stay) {
                    let price = if reserves.is_some() {
                        // A cloud block's price is the cloud's, fees included.
                        self.lot_mean_price(i)
                    } else if market.is_some() {
                        // Each lot keeps the price it was signed or renewed at.
                        self.lot_mean_price(i) * factor
                    } else {
                        s.lease_index(term_start(s, term, t)) * factor
                    };
                    (price, 0.0, Some(tenant))
                } else {
                    // The contract has ended: the operator's capacity is no one's cost.
                    (0.0, 0.0, None)
                }
            }
            Pricing::Owned {
                amortisation_years,
                owner,
            } => {
                let factor = super::super::purchase_factor(tl, s, chip, t);
                capex = chip.purchase_usd * factor / (amortisation_years * HOURS_PER_YEAR);
                let energy = kwh * s.electricity_usd_per_kwh;
                (capex + idle * energy, (1.0 - idle) * energy, owner)
            }
        };
        SiteRates {
            online_price,
            busy_price,
            user_price: online_price + busy_price,
            capex,
            payer,
            mwh_online: idle * kwh / 1_000.0,
            mwh_busy: (1.0 - idle) * kwh / 1_000.0,
            supply_factor: tl.supply_factor(chip, t),
        }
    }

    /// Recomputes what the rules in force at `t` make of prices, supply and inference placement.
    /// Called at the start and at every change point, after open accounts are closed. Contracts
    /// whose tenant may no longer stay end here (counted once, in the period of `t`).
    pub(super) fn refresh_rules(&mut self, t: SimTime) {
        let rates: Vec<SiteRates> = (0..self.world.sites.len())
            .map(|i| self.site_rates(i, t))
            .collect();
        // Contracts that end now.
        if !self.rates.is_empty() {
            let p = self.periods.index(t);
            for (i, s) in self.world.sites.iter().enumerate() {
                // (Lots in markets end in `end_lots_by_rule`, one count per lot.)
                if let Pricing::Contract {
                    tenant,
                    market: None,
                    reserves: None,
                    ..
                } = s.pricing
                {
                    if self.rates[i].payer.is_some() && rates[i].payer.is_none() {
                        self.metrics.firm[tenant.0 as usize][p].contracts_ended += 1;
                        self.metrics.site[i][p].contracts_ended += 1;
                    }
                }
            }
        }
        self.rates = rates;
        self.class_sites = self
            .classes
            .iter()
            .map(|&(firm, dc)| {
                self.world.firms[firm.0 as usize]
                    .sites
                    .iter()
                    .copied()
                    .filter(|&s| self.allows(firm, dc, s, t, Phase::Place))
                    .collect()
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
                        let per_token = self.rates[s.0 as usize].marginal_price(firm_id)
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

    pub(super) fn on_policy_change(&mut self, now: SimTime, ctx: &mut Context<Ev>) {
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
            // Rules judge work by its placement class (firm and data class): one verdict per
            // class here, and the site's jobs are looked at only if some class must leave.
            let stay: Vec<bool> = self
                .classes
                .iter()
                .map(|&(firm, dc)| self.allows(firm, dc, site, now, Phase::Stay))
                .collect();
            if stay.iter().all(|&ok| ok) {
                continue;
            }
            for r in self.sites[s].running.clone() {
                if !stay[self.job(r).class as usize] {
                    self.checkpoint_out(r, now);
                    evicted.push(r);
                }
            }
            for q in self.dequeue_where(site, now, |m, q| !stay[m.job(q).class as usize]) {
                self.job_mut(q).stranded = false;
                self.set_state(q, JobState::Blocked);
                evicted.push(q);
            }
        }
        self.count_and_place_evicted(evicted, now, ctx);
        self.end_lots_by_rule(now, ctx);
        self.retry_blocked(now, ctx);
        self.retry_stranded(now, ctx);
        for s in 0..self.sites.len() {
            self.try_start(SiteId(s as u32), now, ctx);
        }
    }

    /// Stops running job `r` with a checkpoint (all the work so far is kept) and blocks it until it
    /// is placed again.
    pub(super) fn checkpoint_out(&mut self, r: u32, now: SimTime) {
        self.stop_running(r, now);
        self.credit_compute(r, now);
        let job = self.job_mut(r);
        job.saved_flop = job.total_flop.min(
            job.saved_flop + now.saturating_since(job.productive_from).as_secs_f64() * job.rate,
        );
        job.restart_pending = true;
        self.set_state(r, JobState::Blocked);
    }

    /// Counts the jobs `evicted` (checkpointed out, or taken out of a queue) as evictions and
    /// places them again.
    pub(super) fn count_and_place_evicted(
        &mut self,
        evicted: Vec<u32>,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) {
        let p = self.periods.index(now);
        for &j in &evicted {
            let job = self.job(j);
            let (f, site, record) = (job.firm.0 as usize, job.last_site, job.record as usize);
            self.metrics.firm[f][p].evictions += 1;
            self.metrics.job_records[record].evictions += 1;
            if let Some(s) = site {
                self.metrics.site[s.0 as usize][p].evictions += 1;
            }
        }
        for j in evicted {
            self.place(j, now, ctx);
        }
    }
}
