//! Chips arriving: dated deliveries, permit delays (each rule delays a shipment at most once,
//! however many rules there are), caps and bans, power caps, and steady supply in daily lots.

use crate::engine::{Context, SimDuration, SimTime};

use super::super::policy::DeliveryVerdict;
use super::super::{Pricing, SiteId};
use super::{CapacityModel, Ev};

/// Steady supply arrives in daily lots, so every reporting period sees its share.
const SUPPLY_LOT: SimDuration = SimDuration::from_days(1);
/// Daily lots in a (365.25-day) year.
const LOTS_PER_YEAR: f64 = 365.25;

/// A shipment of chips on its way to a site.
#[derive(Clone, Debug)]
pub(super) struct Shipment {
    pub site: SiteId,
    pub chips: u64,
    /// Timeline indices of the permit rules that already delayed it.
    pub delayed: Vec<usize>,
    /// Chips the scenario planned (not bought in the run): see `deliver`.
    pub planned: bool,
}

impl CapacityModel<'_> {
    /// Registers a shipment and returns its number.
    pub(super) fn new_shipment(&mut self, site: SiteId, chips: u64, delayed: Vec<usize>) -> u32 {
        self.shipments.push(Shipment {
            site,
            chips,
            delayed,
            planned: true,
        });
        (self.shipments.len() - 1) as u32
    }

    pub(super) fn on_delivery(&mut self, shipment: u32, now: SimTime, ctx: &mut Context<Ev>) {
        let Shipment {
            site,
            chips,
            delayed,
            planned,
        } = std::mem::replace(
            &mut self.shipments[shipment as usize],
            Shipment {
                site: SiteId(0),
                chips: 0,
                delayed: Vec::new(),
                planned: true,
            },
        );
        self.deliver(site, chips, delayed, planned, now, ctx);
    }

    /// Delivers `chips` at `site` under the rules on deliveries; returns the chips refused (0 for
    /// a delayed shipment: it comes back later). `planned`: the chips are the scenario's (a dated delivery or
    /// steady supply), so what a rule refuses joins the owner's plan gap; chips the firm bought
    /// during the run are not (orders.rs returns a refused purchase's gap part itself).
    fn deliver(
        &mut self,
        site: SiteId,
        chips: u64,
        mut delayed: Vec<usize>,
        planned: bool,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) -> u64 {
        let s = site.0 as usize;
        let verdict = self.delivery_verdict(site, chips, now, &delayed);
        let p = self.periods.index(now);
        match verdict {
            DeliveryVerdict::Banned => {
                self.metrics.site[s][p].chips_refused += chips;
                if planned {
                    self.plan_refused(site, chips as f64);
                }
                chips
            }
            DeliveryVerdict::Delay { rule, delay } => {
                let at = now.saturating_add(delay);
                if at < self.periods.horizon() {
                    delayed.push(rule);
                    let shipment = self.new_shipment(site, chips, delayed);
                    self.shipments[shipment as usize].planned = planned;
                    ctx.schedule_at(at, Ev::Delivery { shipment })
                        .expect("not in the past");
                }
                0
            }
            DeliveryVerdict::Deliver { max_chips } => {
                let allowed = chips.min(max_chips);
                self.metrics.site[s][p].chips_refused += chips - allowed;
                if planned {
                    self.plan_refused(site, (chips - allowed) as f64);
                }
                chips - self.install(site, allowed, now, ctx)
            }
        }
    }

    /// Installs up to `chips` at `site` now, as many as its power cap allows (the rest refused);
    /// returns the chips installed.
    pub(super) fn install(
        &mut self,
        site: SiteId,
        chips: u64,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) -> u64 {
        let s = site.0 as usize;
        let p = self.periods.index(now);
        let n = chips.min(self.power_room(site));
        self.accrue_online(site, now);
        self.sites[s].installed += n;
        let row = &mut self.metrics.site[s][p];
        row.chips_delivered += n;
        row.chips_refused += chips - n;
        if n > 0 {
            self.retry_blocked(now, ctx);
            self.try_start(site, now, ctx);
            self.retry_stranded(now, ctx);
        }
        n
    }

    /// Planned chips that a rule refused at `site` (a ban or a cap on its deliveries, or a supply
    /// shock's cut of its steady supply): if a firm that plans owns the site, their effective
    /// FLOP/s join its plan gap, which its reviews replace through the options still open
    /// (leasing.rs).
    fn plan_refused(&mut self, site: SiteId, chips: f64) {
        if chips <= 0.0 {
            return;
        }
        let spec = &self.world.sites[site.0 as usize];
        if let Pricing::Owned { owner: Some(o), .. } = spec.pricing {
            if self.world.firms[o.0 as usize]
                .planning
                .is_some_and(|pl| pl.replace_refused)
            {
                self.leasing.firm_gap_flops[o.0 as usize] +=
                    chips * self.world.site_chip(site).effective_flop_per_s();
            }
        }
    }

    /// What the rules on deliveries in force at `now` make of `chips` arriving at `site` (rules in
    /// `delayed` already delayed them once).
    pub(super) fn delivery_verdict(
        &self,
        site: SiteId,
        chips: u64,
        now: SimTime,
        delayed: &[usize],
    ) -> DeliveryVerdict {
        let spec = &self.world.sites[site.0 as usize];
        let chip = self.world.site_chip(site);
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
        self.world
            .timeline
            .delivery(spec, chip, chips, now, delayed, &installed_in_country)
    }

    /// Chips `site`'s power cap still has room for (unbounded without a cap).
    pub(super) fn power_room(&self, site: SiteId) -> u64 {
        let s = site.0 as usize;
        let spec = &self.world.sites[s];
        let chip = self.world.site_chip(site);
        spec.power_cap_mw.map_or(u64::MAX, |mw| {
            let per_chip_w = chip.all_in_power_w * spec.pue;
            // A cloud's blocks reserved elsewhere are still its chips: they come back to it.
            ((mw * 1e6 / per_chip_w).floor() as u64)
                .saturating_sub(self.sites[s].installed)
                .saturating_sub(self.leasing.cloud_reserved[s])
        })
    }

    /// Chips the firm bought in the run (an order's allocation, an import) arrive at `site` now:
    /// delivered as any shipment; returns the chips refused (a permit's delay is not a refusal).
    pub(super) fn deliver_chips(
        &mut self,
        site: SiteId,
        chips: u64,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) -> u64 {
        self.deliver(site, chips, Vec::new(), false, now, ctx)
    }

    pub(super) fn on_supply_lot(&mut self, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        let s = site.0 as usize;
        let Some(sup) = self.world.sites[s].supply else {
            return;
        };
        let factor = self.rates[s].supply_factor;
        // What a supply shock cuts from the lot was planned for.
        self.plan_refused(site, sup.chips_per_year * (1.0 - factor) / LOTS_PER_YEAR);
        let exact = sup.chips_per_year * factor / LOTS_PER_YEAR + self.sites[s].supply_carry;
        let chips = exact.floor().max(0.0);
        self.sites[s].supply_carry = exact - chips;
        // Open orders take their share of the lot first (orders.rs).
        let chips = self.fill_orders(site, chips as u64, now, ctx);
        if chips > 0 {
            if self.cloud_buys(s) {
                self.deliver(site, chips, Vec::new(), true, now, ctx);
            } else {
                // A cloud that declined at its last review (clouds.rs): the chips go to buyers
                // outside the scenario.
                let p = self.periods.index(now);
                self.metrics.site[s][p].chips_declined += chips;
            }
        }
        let next = now.saturating_add(SUPPLY_LOT);
        if next < sup.until && next < self.periods.horizon() {
            ctx.schedule_at(next, Ev::SupplyLot { site: site.0 })
                .expect("not in the past");
        }
    }
}
