//! Domestic orders: a firm that plans may order more of the chips its own sites are supplied with,
//! from the national output of that chip, which is limited and shared.
//!
//! # The rule
//!
//! - **What a firm may order.** For each of its own sites (`owner` = the firm) in its home country
//!   that has a steady `supply`, when its `planning.order_share` is above 0: more of that site's
//!   chip. What orders draw on is the chip's **uncommitted output**: the supply of every site of
//!   that country supplied with the chip that no firm owns (domestic clouds, which buy what is not
//!   committed to a firm), supply shocks included. Firms' own supply lines are theirs.
//! - **How orders are filled.** Each daily lot of such a site goes first to open orders, each
//!   firm's oldest order first, by a stated rule (`Timeline::allocation`): without an
//!   `output_allocation` rule in force, every firm with open orders for the chip, in scenario
//!   order, takes up to its `order_share` of the lot (a quota); under one, open orders take up to
//!   the rule's `orders_share` of the lot together, the firms it lists first, in its order, each
//!   up to its open chips, then the others pro rata to their open chips (whole chips by largest
//!   remainder). The rest of the lot is the site's. What an order receives arrives at the firm's
//!   site `order_lead_days` later (as a delivery: rules on deliveries apply). So output binds:
//!   what the orders take, the clouds do not get.
//! - **How much a review orders.** An order competes with leases at the firm's review on price per
//!   useful FLOP (the site's capex and energy per chip-hour over the chip's effective FLOP/s). It is
//!   for whole lots of `block_chips`, and at most what the firm can expect of national output
//!   within `max_wait_days` (less `order_lead_days`), less the open orders served no later than
//!   its own: its `order_share` of output after its own open orders (no rule), or the rule's
//!   `orders_share` after those of the firms listed up to itself (all open orders, when it is
//!   not listed).

use crate::engine::{Context, SimTime};
use crate::metrics::{Channel, Decision, LeaseAction};

use super::super::policy::DeliveryVerdict;

use super::super::{FirmId, Planning, SiteId, World};
use super::leasing::Choice;
use super::{CapacityModel, Ev};

/// Daily lots in a (365.25-day) year, as in supply.rs.
const LOTS_PER_YEAR: f64 = 365.25;

/// An open order.
#[derive(Clone, Copy, Debug)]
pub(super) struct Order {
    pub firm: FirmId,
    pub site: SiteId,
    /// Chips not yet allocated from national output.
    pub left: u64,
    /// The lease lot it replaces, if it does.
    pub replaces: Option<u32>,
}

/// Chips allocated to an order, on their way to the firm's site.
#[derive(Clone, Copy, Debug)]
pub(super) struct Arrival {
    pub firm: FirmId,
    pub site: SiteId,
    pub chips: u64,
    /// The lease lot they replace, if they do.
    pub replaces: Option<u32>,
}

/// The orders of a replication.
#[derive(Clone, Debug, Default)]
pub(super) struct Orders {
    /// Open orders, oldest first.
    pub open: Vec<Order>,
    /// Per firm, chips ordered and not yet arrived (open and in transit).
    pub firm_open: Vec<u64>,
    /// Allocations on their way.
    pub arrivals: Vec<Arrival>,
    /// Orders numbered in the order they are placed.
    pub placed: u32,
    /// Per firm, import and grey chips bought and not yet arrived.
    pub firm_procured_open: Vec<u64>,
    /// Per site, when its import or grey channel has sent every order taken so far.
    pub channel_free_at: Vec<SimTime>,
    /// Import and grey purchases on their way.
    pub purchases: Vec<Purchase>,
    /// Per site, import or grey chips bought and not yet arrived.
    pub site_procured_open: Vec<u64>,
    /// Per site, chips ordered for it and not yet arrived (open and in transit).
    pub site_ordered_open: Vec<u64>,
    /// Per firm, of the chips ordered or bought and not yet arrived, those that replace leases
    /// (they are not capacity for waiting work: the leases they replace go).
    pub firm_replacing: Vec<u64>,
}

/// An import or grey purchase on its way.
#[derive(Clone, Copy, Debug)]
pub(super) struct Purchase {
    pub firm: FirmId,
    pub site: SiteId,
    pub chips: u64,
    /// Its number in decisions.csv.
    pub number: u32,
    /// The part of the firm's plan gap it was bought to replace, effective FLOP/s: back in the gap
    /// if the lot is seized or refused.
    pub gap_flops: f64,
    /// The lease lot it replaces, if it does.
    pub replaces: Option<u32>,
}

impl Orders {
    pub fn new(world: &World) -> Self {
        Orders {
            firm_open: vec![0; world.firms.len()],
            firm_procured_open: vec![0; world.firms.len()],
            channel_free_at: vec![SimTime::ZERO; world.sites.len()],
            site_procured_open: vec![0; world.sites.len()],
            site_ordered_open: vec![0; world.sites.len()],
            firm_replacing: vec![0; world.firms.len()],
            ..Orders::default()
        }
    }
}

impl CapacityModel<'_> {
    /// Uncommitted output of `site`'s chip in its country at `t` (the supply of the sites no firm
    /// owns), chips per day.
    fn output_per_day(&self, site: SiteId, t: SimTime) -> f64 {
        let (chip, country) = (
            self.world.sites[site.0 as usize].chip,
            &self.world.sites[site.0 as usize].jurisdiction,
        );
        let mut per_day = 0.0;
        for (i, s) in self.world.sites.iter().enumerate() {
            let Some(sup) = s.supply else { continue };
            if s.chip == chip
                && s.jurisdiction == *country
                && s.pricing.payer().is_none()
                && sup.from <= t
                && t < sup.until
            {
                per_day += sup.chips_per_year * self.rates[i].supply_factor / LOTS_PER_YEAR;
            }
        }
        per_day
    }

    /// Per firm, the chips it has open (not yet allocated) for `site`'s chip made in `site`'s
    /// country: one pass over the open orders.
    fn open_by_firm(&self, site: SiteId) -> Vec<u64> {
        let spec = &self.world.sites[site.0 as usize];
        let mut open = vec![0; self.world.firms.len()];
        for o in &self.orders.open {
            let os = &self.world.sites[o.site.0 as usize];
            if os.chip == spec.chip && os.jurisdiction == spec.jurisdiction {
                open[o.firm.0 as usize] += o.left;
            }
        }
        open
    }

    /// The rate at which firm `f` may expect allocations of `site`'s chip at `t`, chips per day,
    /// and the open orders served no later than its next one (its own included): under an
    /// `output_allocation` rule, the rule's share of output, after the open orders of the firms
    /// listed before it (all open orders, when it is not listed: the others share pro rata);
    /// without one, its own `order_share` of output, after its own open orders.
    fn order_outlook(&self, f: usize, pl: &Planning, site: SiteId, t: SimTime) -> (f64, u64) {
        let out = self.output_per_day(site, t);
        let spec = &self.world.sites[site.0 as usize];
        let chip = &self.world.chips[spec.chip.0 as usize];
        let open = self.open_by_firm(site);
        match self.world.timeline.allocation(&spec.jurisdiction, chip, t) {
            None => (pl.order_share * out, open[f]),
            Some(a) => {
                let name = &self.world.firms[f].name;
                let ahead = match a.priority.iter().position(|p| p == name) {
                    Some(rank) => a.priority[..=rank]
                        .iter()
                        .filter_map(|p| self.world.firms.iter().position(|x| x.name == *p))
                        .map(|g| open[g])
                        .sum(),
                    None => open.iter().sum(),
                };
                (a.orders_share * out, ahead)
            }
        }
    }

    /// Orders whole lots of `site`'s chip to cover `need`, within what national output can deliver
    /// by `deadline`; returns the chips ordered.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn place_order(
        &mut self,
        f: usize,
        pl: &Planning,
        site: SiteId,
        need: u64,
        choice: Choice,
        deadline: SimTime,
        now: SimTime,
    ) -> u64 {
        let (rate, open) = self.order_outlook(f, pl, site, now);
        let days = deadline
            .saturating_since(now)
            .as_secs()
            .saturating_sub(pl.order_lead.as_secs()) as f64
            / 86_400.0;
        let reachable = (rate * days).floor() as u64;
        let block = pl.block_chips;
        let n = need
            .div_ceil(block)
            .saturating_mul(block)
            .min(reachable.saturating_sub(open) / block * block);
        if n == 0 {
            return 0;
        }
        self.orders.open.push(Order {
            firm: FirmId(f as u32),
            site,
            left: n,
            replaces: choice.replaces,
        });
        self.orders.firm_open[f] += n;
        self.orders.site_ordered_open[site.0 as usize] += n;
        let p = self.periods.index(now);
        self.metrics.firm[f][p].order_chips_placed += n;
        self.metrics.firm[f][p].commitments_usd += n as f64 * self.purchase_usd(site, now);
        let number = self.orders.placed;
        self.orders.placed += 1;
        let taken = if reachable > 0 {
            (open + n) as f64 / reachable as f64
        } else {
            0.0
        };
        self.metrics.decisions.push(Decision {
            lot: number,
            chips: n,
            usd_per_chip_hour: self.rates[site.0 as usize].user_price,
            market_held_share: taken,
            ..choice.row(
                now,
                f,
                site,
                Channel::Domestic,
                LeaseAction::Order,
                choice.taken,
            )
        });
        n
    }

    /// Chips a purchase through `site`'s channel may still bring: the site's power cap and, for an
    /// import, a cap on deliveries in force, less what is already on its way there.
    pub(super) fn procurement_room(&self, site: SiteId, now: SimTime) -> u64 {
        let s = site.0 as usize;
        let mut room = self.power_room(site);
        let import = self.world.sites[s]
            .procurement
            .is_some_and(|p| p.channel == Channel::Import);
        if import {
            if let DeliveryVerdict::Deliver { max_chips } =
                self.delivery_verdict(site, u64::MAX / 4, now, &[])
            {
                room = room.min(max_chips);
            }
        }
        room.saturating_sub(self.orders.site_procured_open[s])
    }

    /// What one chip for `site` costs to buy at `t`: its purchase price times the rules' fees, or,
    /// through a grey channel, times `1 + premium` instead.
    pub(super) fn purchase_usd(&self, site: SiteId, t: SimTime) -> f64 {
        let chip = self.world.site_chip(site);
        chip.purchase_usd
            * super::super::purchase_factor(
                &self.world.timeline,
                &self.world.sites[site.0 as usize],
                chip,
                t,
            )
    }

    /// The chance a grey lot bound for `site` is seized now.
    pub(super) fn seizure_chance(&self, site: SiteId, now: SimTime) -> f64 {
        let spec = &self.world.sites[site.0 as usize];
        let own = spec.procurement.map_or(0.0, |p| p.seizure);
        self.world
            .timeline
            .seizure(spec, self.world.site_chip(site), now, own)
    }

    /// Buys whole lots of `site`'s chip through its import or grey channel to cover `need`: the
    /// channel sends orders one after another at its `chips_per_year`, each arriving `lead` after
    /// it is sent, and the firm buys no more than arrives by `deadline`; returns the chips.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn place_procurement(
        &mut self,
        f: usize,
        pl: &Planning,
        site: SiteId,
        need: u64,
        choice: Choice,
        deadline: SimTime,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) -> u64 {
        let s = site.0 as usize;
        let pr = self.world.sites[s].procurement.expect("a procurement site");
        let per_sec = pr.chips_per_year / (LOTS_PER_YEAR * 86_400.0);
        if per_sec <= 0.0 {
            return 0;
        }
        let start = now.max(self.orders.channel_free_at[s]).max(pr.from);
        // The last instant the channel may still be sending for this order.
        let latest = deadline.0.saturating_sub(pr.lead.as_secs()).min(pr.until.0);
        let room = if latest > start.0 {
            ((latest - start.0) as f64 * per_sec).floor() as u64
        } else {
            0
        };
        let block = pr.lot_chips.unwrap_or(pl.block_chips);
        let fits = self.procurement_room(site, now);
        let n = need
            .div_ceil(block)
            .saturating_mul(block)
            .min(room / block * block)
            .min(fits / block * block);
        if n == 0 {
            return 0;
        }
        let sent = start.saturating_add(crate::engine::SimDuration::from_secs_f64(
            n as f64 / per_sec,
        ));
        self.orders.channel_free_at[s] = sent;
        self.orders.firm_procured_open[f] += n;
        self.orders.site_procured_open[s] += n;
        let p = self.periods.index(now);
        let action = if pr.channel == Channel::Grey {
            self.metrics.firm[f][p].grey_chips_placed += n;
            self.metrics.firm[f][p].commitments_usd += n as f64 * self.purchase_usd(site, now);
            LeaseAction::Grey
        } else {
            self.metrics.firm[f][p].import_chips_placed += n;
            self.metrics.firm[f][p].commitments_usd += n as f64 * self.purchase_usd(site, now);
            LeaseAction::Import
        };
        let number = self.orders.placed;
        self.orders.placed += 1;
        let at = sent.saturating_add(pr.lead);
        if at < self.periods.horizon() {
            let purchase = self.orders.purchases.len() as u32;
            self.orders.purchases.push(Purchase {
                firm: FirmId(f as u32),
                site,
                chips: n,
                number,
                gap_flops: choice.gap_left.min(n as f64 * choice.flops),
                replaces: choice.replaces,
            });
            ctx.schedule_at(at, Ev::PurchaseArrives { purchase })
                .expect("not in the past");
        }
        self.metrics.decisions.push(Decision {
            lot: number,
            chips: n,
            market_held_share: ((n as f64 / per_sec) / ((latest - start.0) as f64)).min(1.0),
            ..choice.row(now, f, site, pr.channel, action, choice.taken)
        });
        n
    }

    /// An import or grey purchase reaches the firm's site: an import as a delivery (rules on
    /// deliveries apply); a grey lot is seized whole with the chance the rules in force set, or
    /// installed as far as the site's power cap allows (no export rule stops it).
    pub(super) fn on_purchase_arrives(
        &mut self,
        purchase: u32,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) {
        let Purchase {
            firm,
            site,
            chips,
            number,
            gap_flops,
            replaces,
        } = self.orders.purchases[purchase as usize];
        let (f, s) = (firm.0 as usize, site.0 as usize);
        self.orders.firm_procured_open[f] -= chips;
        self.orders.site_procured_open[s] -= chips;
        let pr = self.world.sites[s].procurement.expect("a procurement site");
        if pr.channel != Channel::Grey {
            // What a rule refuses of it, the firm still has to replace (its gap part; its waiting
            // part comes back as waiting work).
            let refused = self.deliver_chips(site, chips, now, ctx);
            if refused > 0 {
                self.leasing.firm_gap_flops[f] += gap_flops * refused as f64 / chips as f64;
            }
            self.replacement_arrived(replaces, f, site, chips, chips - refused);
            return;
        }
        let chance = self.seizure_chance(site, now);
        let p = self.periods.index(now);
        if chance > 0.0 && rand::Rng::random::<f64>(&mut self.seizure_rng[s]) < chance {
            self.metrics.firm[f][p].grey_chips_seized += chips;
            self.metrics.firm[f][p].seized_usd += chips as f64 * self.purchase_usd(site, now);
            self.leasing.firm_gap_flops[f] += gap_flops;
            self.metrics.decisions.push(Decision::event(
                now,
                f as u32,
                site.0,
                number,
                LeaseAction::Seized,
                chips,
                Channel::Grey,
            ));
            self.replacement_arrived(replaces, f, site, chips, 0);
            return;
        }
        let got = self.install(site, chips, now, ctx);
        if got < chips {
            self.leasing.firm_gap_flops[f] += gap_flops * (chips - got) as f64 / chips as f64;
        }
        self.replacement_arrived(replaces, f, site, chips, got);
    }

    /// Takes open orders' shares of a daily lot of `chips` at `site`; returns what is left for the
    /// site. Without an `output_allocation` rule in force, each firm that plans takes up to its
    /// `order_share` of the lot, in scenario order; under one, open orders take up to the rule's
    /// `orders_share` of the lot together: the firms it lists first, in its order, each up to
    /// its open chips, then the others in proportion to their open chips (whole chips by largest
    /// remainder, ties to the firm listed first in the scenario).
    pub(super) fn fill_orders(
        &mut self,
        site: SiteId,
        chips: u64,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) -> u64 {
        if self.orders.open.is_empty() || chips == 0 {
            return chips;
        }
        let s = &self.world.sites[site.0 as usize];
        if s.pricing.payer().is_some() {
            // A firm's own supply line: committed, not for orders.
            return chips;
        }
        let chip = &self.world.chips[s.chip.0 as usize];
        let n = self.world.firms.len();
        let want = self.open_by_firm(site);
        let give: Vec<u64> = match self.world.timeline.allocation(&s.jurisdiction, chip, now) {
            None => {
                let mut left = chips;
                (0..n)
                    .map(|f| {
                        let share = self.world.firms[f]
                            .planning
                            .map_or(0.0, |pl| pl.order_share);
                        let take = ((chips as f64 * share).floor() as u64)
                            .min(left)
                            .min(want[f]);
                        left -= take;
                        take
                    })
                    .collect()
            }
            Some(a) => {
                let mut give = vec![0; n];
                let mut left = ((chips as f64 * a.orders_share).floor() as u64).min(chips);
                let mut first = vec![false; n];
                for name in a.priority {
                    if let Some(f) = self.world.firms.iter().position(|x| x.name == *name) {
                        first[f] = true;
                        give[f] = want[f].min(left);
                        left -= give[f];
                    }
                }
                let rest: Vec<usize> = (0..n).filter(|&f| !first[f] && want[f] > 0).collect();
                let total: u64 = rest.iter().map(|&f| want[f]).sum();
                if total <= left {
                    for &f in &rest {
                        give[f] = want[f];
                    }
                } else if left > 0 {
                    pro_rata(&rest, &want, total, left, &mut give);
                }
                give
            }
        };
        let mut left = chips;
        for (f, take) in give.into_iter().enumerate() {
            if take > 0 {
                left -= self.allocate(f, site, take, now, ctx);
            }
        }
        self.orders.open.retain(|o| o.left > 0);
        left
    }

    /// Allocates up to `take` chips of a lot at `site` to firm `f`'s open orders for its chip,
    /// oldest first: they arrive at the firm's site `order_lead` later; returns the chips taken.
    fn allocate(
        &mut self,
        f: usize,
        site: SiteId,
        mut take: u64,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) -> u64 {
        let Some(pl) = self.world.firms[f].planning else {
            return 0;
        };
        let s = &self.world.sites[site.0 as usize];
        let (chip, country) = (s.chip, &s.jurisdiction);
        let mut taken = 0;
        for i in 0..self.orders.open.len() {
            if take == 0 {
                break;
            }
            let o = self.orders.open[i];
            let osite = &self.world.sites[o.site.0 as usize];
            if o.firm.0 as usize != f || osite.chip != chip || osite.jurisdiction != *country {
                continue;
            }
            let k = take.min(o.left);
            self.orders.open[i].left -= k;
            take -= k;
            taken += k;
            let p = self.periods.index(now);
            self.metrics.site[site.0 as usize][p].chips_to_orders += k;
            let at = now.saturating_add(pl.order_lead);
            if at < self.periods.horizon() {
                let arrival = self.orders.arrivals.len() as u32;
                self.orders.arrivals.push(Arrival {
                    firm: o.firm,
                    site: o.site,
                    chips: k,
                    replaces: o.replaces,
                });
                ctx.schedule_at(at, Ev::OrderArrives { arrival })
                    .expect("not in the past");
            }
        }
        taken
    }

    /// Chips allocated to an order reach the firm's site.
    pub(super) fn on_order_arrives(&mut self, arrival: u32, now: SimTime, ctx: &mut Context<Ev>) {
        let Arrival {
            firm,
            site,
            chips,
            replaces,
        } = self.orders.arrivals[arrival as usize];
        let f = firm.0 as usize;
        self.orders.firm_open[f] -= chips;
        self.orders.site_ordered_open[site.0 as usize] -= chips;
        let p = self.periods.index(now);
        self.metrics.firm[f][p].order_chips_delivered += chips;
        let refused = self.deliver_chips(site, chips, now, ctx);
        self.replacement_arrived(replaces, f, site, chips, chips - refused);
    }

    /// `chips` bought to replace lease lot `replaces` (if any) reached firm `f`'s `site`, of which
    /// `got` were installed: the lot counts them as its replacement.
    fn replacement_arrived(
        &mut self,
        replaces: Option<u32>,
        f: usize,
        site: SiteId,
        chips: u64,
        got: u64,
    ) {
        let Some(l) = replaces else { return };
        let flops = self.world.site_chip(site).effective_flop_per_s();
        self.orders.firm_replacing[f] -= chips;
        let lot = &mut self.leasing.lots[l as usize];
        lot.replace_open_flops = (lot.replace_open_flops - chips as f64 * flops).max(0.0);
        lot.replaced_flops += got as f64 * flops;
    }
}

/// Splits `left` chips among the firms `rest` in proportion to their open chips `want` (which add
/// up to `total`, more than `left`): each gets the whole part of its share, and the chips left
/// over go one each to the largest remainders (ties to the lower firm index); adds to `give`.
fn pro_rata(rest: &[usize], want: &[u64], total: u64, left: u64, give: &mut [u64]) {
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(rest.len());
    let mut given = 0;
    for &f in rest {
        let exact = left as u128 * want[f] as u128;
        let whole = (exact / total as u128) as u64;
        give[f] += whole;
        given += whole;
        remainders.push((exact % total as u128, f));
    }
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, f) in remainders.iter().take((left - given) as usize) {
        give[f] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::pro_rata;

    #[test]
    fn pro_rata_shares_are_whole_chips_that_add_up_and_follow_the_open_orders() {
        // 7 chips among open orders of 30, 30 and 40.
        let want = [30, 30, 40, 0];
        let mut give = [0; 4];
        pro_rata(&[0, 1, 2], &want, 100, 7, &mut give);
        // Exact shares 2.1, 2.1, 2.8: wholes 2, 2, 2; the one left over goes to the largest
        // remainder (0.8, firm 2).
        assert_eq!(give, [2, 2, 3, 0]);
        // Equal remainders: the lower index first.
        let mut give = [0; 4];
        pro_rata(&[0, 1], &[5, 5, 0, 0], 10, 3, &mut give);
        assert_eq!(give, [2, 1, 0, 0]);
        // Never more than a firm's open chips, and always all of `left`.
        for left in 0..100u64 {
            let mut give = [0; 4];
            pro_rata(&[0, 1, 2], &want, 100, left, &mut give);
            assert_eq!(give.iter().sum::<u64>(), left);
            assert!(give.iter().zip(want).all(|(g, w)| *g <= w));
        }
    }
}
