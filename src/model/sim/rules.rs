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
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SiteRates {
    /// Price of one chip-hour of capacity (lease price or amortised capex), fees included.
    pub capacity_price: f64,
    /// What a user pays for one busy chip-hour (capacity plus electricity at owned sites).
    pub user_price: f64,
    /// Multiplier on the site's steady supply.
    pub supply_factor: f64,
}

impl CapacityModel<'_> {
    /// Recomputes what the rules in force at `t` make of prices, supply and inference placement.
    /// Called at the start and at every change point, after open accounts are closed.
    pub(super) fn refresh_rules(&mut self, t: SimTime) {
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
                    self.stop_running(r, now);
                    // Eviction checkpoints: all the work so far is kept.
                    self.credit_compute(r, now);
                    let job = self.job_mut(r);
                    job.saved_flop = job.total_flop.min(
                        job.saved_flop
                            + now.saturating_since(job.productive_from).as_secs_f64() * job.rate,
                    );
                    job.restart_pending = true;
                    self.set_state(r, JobState::Blocked);
                    evicted.push(r);
                }
            }
            for q in self.dequeue_where(site, now, |m, q| !stay[m.job(q).class as usize]) {
                self.job_mut(q).stranded = false;
                self.set_state(q, JobState::Blocked);
                evicted.push(q);
            }
        }
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
        self.retry_blocked(now, ctx);
        self.retry_stranded(now, ctx);
        for s in 0..self.sites.len() {
            self.try_start(SiteId(s as u32), now, ctx);
        }
    }
}
