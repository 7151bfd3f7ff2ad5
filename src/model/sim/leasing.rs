//! Capacity decided in the run: firms' reviews, which weigh every channel (leases here, domestic
//! orders and import or grey purchases in orders.rs); lots signed in offshore markets, renewals,
//! releases, and lots a rule ends.
//!
//! # The rule a firm follows (predictable from the inputs)
//!
//! Every `planning.every`, a firm with [`Planning`] reviews its capacity:
//!
//! 1. **Need**, in up to three parts. *Waiting work*: the gangs (chips) of its training and fine-tuning
//!    jobs that will have waited at least `patience` since they arrived (a queued job: what it
//!    waited plus what it still expects to wait where it is, from the site's running totals; a
//!    blocked job: what it waited) and may be placed at one of its option sites under the rules in
//!    force (data that must stay home does not count); with `forecast_training`, also its *planned
//!    runs*: the next run of each training workload due before its next review plus `lead`, if
//!    it would wait `patience` after arriving ([`CapacityModel::planned_need`]); less the chips of
//!    its lots, orders and purchases still on their way and the idle chips of its market sites. *The plan gap*: the
//!    effective FLOP/s of planned chips that rules refused at its own sites (supply.rs: a ban or
//!    cap on deliveries, a supply shock's cut), less what earlier reviews bought to replace them
//!    (with `replace_refused`). *Inference growth* (with `forecast_inference`): the peak demand
//!    of its inference workloads in force `max_wait` ahead, less its serving capacity now at the
//!    sites where it may place a batch (chips its inference holds, chips free, chips on their
//!    way), in tokens per second: the part rules keep on domestic chips and the rest
//!    ([`CapacityModel::inference_shortfall`]).
//! 2. It **weighs every option**, one per option site ([`super::super::site_channel`]): a lot at each
//!    market site, a block at each site that reserves a domestic cloud, a domestic order for each
//!    own supplied site, a purchase through each own site with an import or grey channel. Each gets
//!    a price per chip-hour (a lot: the site's lease index today x the market's tightness
//!    multiplier after a block; a cloud block: the cloud's cost per chip-hour x `reserve_markup`; an
//!    order or import: the site's capex and energy under the rules' fees; a grey lot: capex with its
//!    premium and energy, over `1 - seizure`) and a cost per useful PFLOP-day, times `1 + home_premium` abroad and
//!    `1 + risk_aversion x chance of loss` (the lease-ban risk it expects, the seizure chance). An
//!    option is closed if rules forbid new work there, the chip's delivery there (imports), or its
//!    channel is shut on the date.
//! 3. It takes the options **cheapest first** (ties: channel, then site) while need is left, each
//!    for the larger of the waiting gangs and the gap at the option's chip speed (one shortfall:
//!    chips a rule refused leave work waiting), plus the inference shortfall it may serve at the
//!    chip's token rate; what it takes goes to inference first, the rest comes off both others: at a market site one lot of as
//!    many whole blocks of `block_chips` as cover the need, fit the market's open room
//!    (`open_share x capacity` less what every tenant holds, in MW), what rules on deliveries there
//!    would let in (a ban, a cap, the site's power cap), and keep the firm within
//!    `max_leased_chips`; at a site that reserves a cloud, as many whole blocks as cover the need
//!    within the cloud's idle chips and the site's `reserve_share` of the cloud, moved from the
//!    cloud to the site at once (a block of a cloud the firm also rents by the hour takes no
//!    forecast inference: the forecast counted its free chips); an order or purchase as orders.rs
//!    sizes it. Every option weighed is a
//!    [`Decision`] (taken, or passed with [`Why`]).
//! 4. A signed lot's price is fixed for its term; its chips come online `lead` later.
//! 5. It **replaces leases** with owned capacity that is cheaper enough: for each of its market lots
//!    whose term ends within `max_wait` and for which nothing was bought yet this term, it weighs
//!    renewing (the lot's price on the day, with the same preference and risk factors) against the
//!    open options of step 2 that are not leases and host every kind of its work the lot's site
//!    hosts; those costing less than `1 - switch_margin` times the renewal are taken cheapest
//!    first, for whole lots up to the lot's capacity (effective FLOP/s), to arrive by the term
//!    end (if none can, within `max_wait`).
//!
//! A lot comes online as a delivery: rules on deliveries apply (a ban refuses it, a permit delays
//! it, a cap or power cap takes what fits). At the end of each term a lot is **renewed** at the
//! day's price, unless its site has at least the lot's chips idle, no job queued, and the firm has
//! no unmet need: then it is **released** whole (capacity has inertia: a busy lot is not let go
//! on a whim). A lot being replaced (step 5) is instead **held over** for one `every` at the day's
//! price while what replaces it is on its way; once it has all arrived (or been refused or
//! seized), the chips it stands for, less the firm's unmet need, are **released** (idle chips
//! first; the firm's work running on the rest is checkpointed and placed again, counted as
//! evictions) and the rest is renewed for a term. A rule that makes the tenant leave (a lease
//! ban's deadline) **ends** every lot at the site, pending ones included; what was paid stays
//! paid. A cloud block's chips go back to the cloud when it is released or ended (those held by
//! work or in repair once they are free).
//!
//! Lots listed in the scenario as a market site's `deliveries` are history: signed on their date at
//! that day's price, and renewed or released like any other.

use crate::engine::{Context, SimDuration, SimTime};
use crate::metrics::{Channel, Decision, LeaseAction, Why};

use super::super::policy::{DeliveryVerdict, Phase};
use super::super::{FirmId, Planning, Pricing, SiteId};
use super::jobs::JobState;
use super::{CapacityModel, Ev};

/// An option a review weighs.
#[derive(Clone, Copy, Debug)]
struct Opt {
    site: SiteId,
    channel: Channel,
    /// Its price per chip-hour (for a grey purchase, per chip delivered).
    price: f64,
    /// Its cost per useful PFLOP-day as ranked.
    cost: f64,
    /// Why it cannot be taken now, if it cannot.
    closed: Option<Why>,
    /// Why, if it takes nothing though open.
    short: Why,
}

/// What a review's choice of an option records.
#[derive(Clone, Copy, Debug)]
pub(super) struct Choice {
    /// Its rank by cost (1 = cheapest).
    pub rank: u32,
    /// Its cost per useful PFLOP-day as ranked.
    pub cost: f64,
    /// Its price per chip-hour as weighed (for a grey lot, per chip delivered).
    pub price: f64,
    /// The waiting need the review found, chips.
    pub need: u64,
    /// The plan gap the review found, effective FLOP/s.
    pub gap: f64,
    /// The plan gap left when this option is taken, effective FLOP/s.
    pub gap_left: f64,
    /// The option chip's effective FLOP/s.
    pub flops: f64,
    /// Why it is taken, if it is: [`Why::Cheapest`] at a review's need, [`Why::ReplacesLease`]
    /// for a purchase that replaces a lease.
    pub taken: Why,
    /// The lot a replacement purchase replaces.
    pub replaces: Option<u32>,
    /// The inference shortfall the review forecast, tokens per second.
    pub inference: f64,
    /// The gangs of planned training runs the review counted in `need`, chips.
    pub planned: u64,
}

impl Choice {
    /// The row of this option at its review: its rank, cost, price and the need found, with `why`
    /// it was taken or passed; what it took (`lot`, `chips`) and the market share are the
    /// caller's to set.
    pub fn row(
        &self,
        at: SimTime,
        firm: usize,
        site: SiteId,
        channel: Channel,
        action: LeaseAction,
        why: Why,
    ) -> Decision {
        Decision {
            usd_per_chip_hour: self.price,
            need_chips: self.need,
            rank: self.rank,
            usd_per_pflop_day: self.cost,
            gap_pflops: self.gap / 1e15,
            inference_need_tokens_per_s: self.inference,
            planned_chips: self.planned,
            why,
            ..Decision::event(at, firm as u32, site.0, 0, action, 0, channel)
        }
    }
}

/// Where a lot stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LotState {
    /// Signed; its chips are not online yet.
    Pending,
    /// Its chips are online at the site.
    Active,
    /// Released or ended by a rule.
    Ended,
}

/// Where a lot's chips come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// Leased in offshore market `0` (it takes the market's room, in MW).
    Market(usize),
    /// Reserved out of domestic cloud site `0`'s chips (they go back to it when the lot ends).
    Cloud(SiteId),
}

/// A lease lot: chips at one market site (or one site that reserves a domestic cloud), for one
/// tenant, at one price per term.
#[derive(Clone, Copy, Debug)]
pub(super) struct Lot {
    pub site: SiteId,
    pub firm: FirmId,
    pub source: Source,
    pub chips: u64,
    /// Market room it takes, MW.
    pub mw: f64,
    /// Its price for the current term, USD per chip-hour (before rules' price factors).
    pub price: f64,
    pub state: LotState,
    /// A lot listed in the scenario: its price and room are taken when it starts.
    pub history: bool,
    /// When its current term (or hold-over) ends (`SimTime::MAX`: not online yet, or no term).
    pub term_end: SimTime,
    /// Capacity the firm bought to replace it that is still on its way, effective FLOP/s.
    pub replace_open_flops: f64,
    /// Capacity the firm bought to replace it that has arrived, effective FLOP/s.
    pub replaced_flops: f64,
    /// Whether a review already bought what replaces it this term.
    pub replace_decided: bool,
}

impl Lot {
    /// A lot of `chips` at `site` for `firm`: not online yet, taking no room, priced at 0 until
    /// set, with no term and nothing bought to replace it.
    fn new(site: SiteId, firm: FirmId, source: Source, chips: u64) -> Lot {
        Lot {
            site,
            firm,
            source,
            chips,
            mw: 0.0,
            price: 0.0,
            state: LotState::Pending,
            history: false,
            term_end: SimTime::MAX,
            replace_open_flops: 0.0,
            replaced_flops: 0.0,
            replace_decided: false,
        }
    }
}

/// The leasing state of a replication.
#[derive(Clone, Debug, Default)]
pub(super) struct Leasing {
    pub lots: Vec<Lot>,
    /// Per market, MW held by every tenant's lots (pending and active).
    pub held_mw: Vec<f64>,
    /// Per site, the sum over its active lots of chips x price (USD per hour), and their chips.
    pub site_usd_per_hour: Vec<f64>,
    pub site_chips: Vec<u64>,
    /// Per site, chips of ended lots still to be taken out (they were in repair).
    pub release_debt: Vec<u64>,
    /// Per firm, chips under lease in markets (pending and active) and pending only.
    pub firm_held: Vec<u64>,
    /// Per firm, chips it holds reserved at domestic clouds.
    pub firm_reserved: Vec<u64>,
    /// Per site, chips of it (a domestic cloud) that active lots hold reserved.
    pub cloud_reserved: Vec<u64>,
    pub firm_pending: Vec<u64>,
    /// Per firm, the unmet need found at its last review.
    pub firm_need: Vec<u64>,
    /// Per firm, planned capacity that rules refused (deliveries to its own sites) and it has not
    /// replaced yet, effective FLOP/s.
    pub firm_gap_flops: Vec<f64>,
    /// Per lot, the permit rules that already delayed it.
    pub delayed: Vec<Vec<usize>>,
    /// Per firm, its sites whose chips are lots (market sites, reserved cloud sites), in its order.
    pub firm_market_sites: Vec<Vec<SiteId>>,
    /// Per firm, the sites new capacity may come to: its market sites, and the sites it orders
    /// domestic chips for (see orders.rs).
    pub firm_option_sites: Vec<Vec<SiteId>>,
}

impl Leasing {
    pub fn new(world: &super::super::World) -> Self {
        // Sites whose chips are lots: market sites and sites that reserve a domestic cloud.
        let lots_at = |s: SiteId| match world.sites[s.0 as usize].pricing {
            Pricing::Contract {
                market, reserves, ..
            } => market.is_some() || reserves.is_some(),
            _ => false,
        };
        let firm_market_sites: Vec<Vec<SiteId>> = world
            .firms
            .iter()
            .map(|f| f.sites.iter().copied().filter(|&s| lots_at(s)).collect())
            .collect();
        let firm_option_sites = world
            .firms
            .iter()
            .enumerate()
            .map(|(i, firm)| {
                if firm.planning.is_none() {
                    return Vec::new();
                }
                let mut v: Vec<SiteId> = firm
                    .sites
                    .iter()
                    .copied()
                    .filter(|&s| {
                        super::super::site_channel(&world.firms, &world.sites, i, s).is_some()
                    })
                    .collect();
                v.sort_unstable();
                v
            })
            .collect();
        Leasing {
            lots: Vec::new(),
            delayed: Vec::new(),
            held_mw: vec![0.0; world.markets.len()],
            site_usd_per_hour: vec![0.0; world.sites.len()],
            site_chips: vec![0; world.sites.len()],
            release_debt: vec![0; world.sites.len()],
            firm_held: vec![0; world.firms.len()],
            firm_reserved: vec![0; world.firms.len()],
            cloud_reserved: vec![0; world.sites.len()],
            firm_pending: vec![0; world.firms.len()],
            firm_need: vec![0; world.firms.len()],
            firm_gap_flops: vec![0.0; world.firms.len()],
            firm_market_sites,
            firm_option_sites,
        }
    }
}

impl CapacityModel<'_> {
    /// The market a site leases in, if its capacity is decided.
    pub(super) fn site_market(&self, site: SiteId) -> Option<usize> {
        match self.world.sites[site.0 as usize].pricing {
            Pricing::Contract { market, .. } => market.map(|m| m.0 as usize),
            _ => None,
        }
    }

    /// The domestic cloud a site reserves chips of, if it does.
    pub(super) fn site_cloud(&self, site: SiteId) -> Option<SiteId> {
        match self.world.sites[site.0 as usize].pricing {
            Pricing::Contract { reserves, .. } => reserves,
            _ => None,
        }
    }

    /// The channel of lot `lot`'s decisions.
    fn lot_channel(lot: &Lot) -> Channel {
        match lot.source {
            Source::Market(_) => Channel::Lease,
            Source::Cloud(_) => Channel::Cloud,
        }
    }

    /// The share of what lot `lot` draws on that every tenant's lots hold at `t`: its market's open
    /// capacity, or its cloud's chips (those left plus those reserved).
    fn lot_share(&self, lot: &Lot, t: SimTime) -> f64 {
        match lot.source {
            Source::Market(m) => self.held_share(m, t, 0.0),
            Source::Cloud(c) => self.cloud_share(c, 0),
        }
    }

    /// The share of cloud `c`'s chips reserved, with `extra` more.
    fn cloud_share(&self, c: SiteId, extra: u64) -> f64 {
        let reserved = self.leasing.cloud_reserved[c.0 as usize] + extra;
        let all = reserved + self.sites[c.0 as usize].installed;
        if all > 0 {
            reserved as f64 / all as f64
        } else {
            0.0
        }
    }

    /// Sums again what lots take of their source (a market's room, a cloud's chips).
    fn recompute_source(&mut self, source: Source) {
        match source {
            Source::Market(m) => self.recompute_market(m),
            Source::Cloud(c) => {
                self.leasing.cloud_reserved[c.0 as usize] = self
                    .leasing
                    .lots
                    .iter()
                    .filter(|l| l.source == source && l.state == LotState::Active)
                    .map(|l| l.chips)
                    .sum();
            }
        }
    }

    /// MW one chip at `site` takes of its market's room: its all-in IT power (markets are sized in
    /// IT MW, as the industry reports them).
    fn mw_per_chip(&self, site: SiteId) -> f64 {
        self.world.site_chip(site).all_in_power_w / 1e6
    }

    /// The share of market `m`'s open capacity held at `t` with `extra_mw` more (infinite when the
    /// market has no open capacity).
    fn held_share(&self, m: usize, t: SimTime, extra_mw: f64) -> f64 {
        let open = self.world.markets[m].open_mw(t);
        let held = self.leasing.held_mw[m] + extra_mw;
        if open > 0.0 {
            held / open
        } else if held > 0.0 {
            // Nothing open (before the first capacity step, or none open to the firms): full.
            1.0
        } else {
            0.0
        }
    }

    /// The price of a lot of `chips` at `site` signed or renewed at `t` (`already_held`: its room is
    /// already counted in the market).
    fn lot_price(&self, site: SiteId, chips: u64, t: SimTime, already_held: bool) -> f64 {
        if let Pricing::Contract {
            reserves: Some(c),
            reserve_markup,
            ..
        } = self.world.sites[site.0 as usize].pricing
        {
            // A reserved block: the cloud's cost per chip-hour on the day (its capex and energy),
            // times the site's markup.
            return self.rates[c.0 as usize].user_price * reserve_markup;
        }
        let m = self.site_market(site).expect("a market site");
        let extra = if already_held {
            0.0
        } else {
            chips as f64 * self.mw_per_chip(site)
        };
        let share = self.held_share(m, t, extra);
        self.world.sites[site.0 as usize].lease_index(t)
            * self.world.markets[m].price_multiplier(share)
    }

    /// What one term of `chips` at market site `site` at `price` an hour commits its tenant to,
    /// USD (before rules' price factors; a term cut short by a rule is not refunded).
    fn term_value(&self, site: SiteId, chips: u64, price: f64) -> f64 {
        let Pricing::Contract { term, .. } = self.world.sites[site.0 as usize].pricing else {
            unreachable!("lots are at contracted sites");
        };
        chips as f64 * price * term.as_secs_f64() / 3_600.0
    }

    /// Chips at `site` that nothing holds now.
    fn idle_chips(&self, site: SiteId) -> u64 {
        let st = &self.sites[site.0 as usize];
        st.online()
            .saturating_sub(st.busy_jobs)
            .saturating_sub(st.inference_alloc)
    }

    /// Firm `f`'s unmet need at `now` (step 1 of the rule in the module docs), chips, and the part
    /// of it found in planned runs before the subtractions (with `forecast_training`).
    pub(super) fn unmet_need(&self, f: usize, pl: &Planning, now: SimTime) -> (u64, u64) {
        let option_sites = &self.leasing.firm_option_sites[f];
        let patience = pl.patience.as_secs_f64();
        let mut need: u64 = 0;
        for job in self.jobs.iter().flatten() {
            if job.firm.0 as usize != f {
                continue;
            }
            let waited = now.saturating_since(job.arrived).as_secs_f64();
            let late = match job.state {
                JobState::Running(_) => false,
                JobState::Blocked => waited >= patience,
                // What it waited and what it still expects to wait where it is.
                JobState::Queued(s) => self
                    .expected_wait_secs(s, job.gang, now)
                    .is_none_or(|w| waited + w >= patience),
            };
            if !late {
                continue;
            }
            let class_sites = &self.class_sites[job.class as usize];
            if option_sites.iter().any(|s| class_sites.contains(s)) {
                need = need.saturating_add(job.gang);
            }
        }
        let planned = if pl.forecast_training {
            self.planned_need(f, pl, now)
        } else {
            0
        };
        need = need.saturating_add(planned);
        // Idle leased chips will take the work (a lot is sized to gangs); idle chips at home are
        // not counted: they are there, and the work still waits, so they do not fit its gangs.
        let idle: u64 = self.leasing.firm_market_sites[f]
            .iter()
            .map(|&s| self.idle_chips(s))
            .sum();
        // Chips bought to replace leases are not capacity for it: the leases go.
        let coming = (self.orders.firm_open[f] + self.orders.firm_procured_open[f])
            .saturating_sub(self.orders.firm_replacing[f]);
        let need = need
            .saturating_sub(self.leasing.firm_pending[f])
            .saturating_sub(coming)
            .saturating_sub(idle);
        (need, planned)
    }

    /// The gangs of firm `f`'s planned training runs that count as need at `now` (step 1 of the
    /// rule in the module docs): the next run of each of its training workloads, if it is due
    /// at or after `now` and no later than its next review plus a lease's `lead` (a later review could
    /// still have chips in place for it), and if, where it may run and new capacity may come, it
    /// would wait at least `patience` after its arrival: the shortest expected wait for its gang
    /// now, less the time until it arrives (the work ahead drains meanwhile). The run's date is
    /// the scenario's next draw of its arrivals: the firm knows its own plan. The estimate leans
    /// to buying too little: work that arrives before the run joins the queue ahead of it.
    pub(super) fn planned_need(&self, f: usize, pl: &Planning, now: SimTime) -> u64 {
        let option_sites = &self.leasing.firm_option_sites[f];
        let window_end = now.saturating_add(pl.every).saturating_add(pl.lead);
        let patience = pl.patience.as_secs_f64();
        let mut planned: u64 = 0;
        for (w, wl) in self.world.firms[f].workloads.iter().enumerate() {
            let super::super::WorkloadKind::Batch(b) = &wl.kind else {
                continue;
            };
            let due = self.next_arrival[f][w];
            if b.kind != crate::metrics::JobKind::Training || due < now || due > window_end {
                continue;
            }
            let class_sites = &self.class_sites[self.workload_class[f][w] as usize];
            if !option_sites.iter().any(|s| class_sites.contains(s)) {
                continue;
            }
            let until = (due - now).as_secs_f64();
            let wait = class_sites
                .iter()
                .filter_map(|&s| self.expected_wait_secs(s, b.gang_chips, now))
                .fold(f64::INFINITY, f64::min);
            if wait - until >= patience {
                planned = planned.saturating_add(b.gang_chips);
            }
        }
        planned
    }

    /// Whether firm `f` may serve inference at `site` (a new batch may be placed there under the
    /// rules in force), whether
    /// the site's chip is made in the firm's home country, and its tokens per second per chip.
    fn serves_inference(&self, f: usize, site: SiteId) -> (bool, bool, f64) {
        let serves = self.inference_order[f]
            .iter()
            .any(|&(s, place, _)| s == site && place);
        (
            serves,
            self.domestic_chip[f][site.0 as usize],
            self.world.site_chip(site).inference_tokens_per_s,
        )
    }

    /// Firm `f`'s forecast inference shortfall at `now` (step 1 of the rule in the module docs), in
    /// tokens per second: `(on domestic chips, on any chip)`. The demand is the peak (trend x
    /// `1 + daily_amplitude`) of its inference workloads in force `max_wait` ahead (the last
    /// instant of the horizon at most), with the share that rules in force now keep on domestic
    /// chips; the capacity, at the sites where it may place a batch now, is what its inference
    /// holds there, the chips free there, and the chips on their way to it there (lots, orders
    /// and purchases), each at its chip's token rate.
    pub(super) fn inference_shortfall(&self, f: usize, pl: &Planning, now: SimTime) -> (f64, f64) {
        let firm = &self.world.firms[f];
        let last = SimTime(self.periods.horizon().0.saturating_sub(1));
        let at = now.saturating_add(pl.max_wait).min(last);
        let mut demand = 0.0;
        for wl in &firm.workloads {
            let super::super::WorkloadKind::Inference(inf) = &wl.kind else {
                continue;
            };
            if wl.start <= at && at < wl.end {
                let years = (at - wl.start).as_secs_f64() / (365.25 * 86_400.0);
                demand += inf.tokens_per_day / 86_400.0
                    * inf.growth_per_year.powf(years)
                    * (1.0 + inf.daily_amplitude);
            }
        }
        if demand <= 0.0 {
            return (0.0, 0.0);
        }
        let (mut cap_dom, mut cap_foreign) = (0.0, 0.0);
        for &(s, place, _) in &self.inference_order[f] {
            if !place {
                continue;
            }
            let st = &self.sites[s.0 as usize];
            let held: u64 = self.inference[f]
                .iter()
                .flat_map(|svc| svc.held.iter())
                .filter(|h| h.site == s)
                .map(|h| h.held)
                .sum();
            let free = st
                .online()
                .saturating_sub(st.busy_jobs + st.inference_alloc);
            let coming = self.chips_coming(f, s);
            let cap =
                (held + free + coming) as f64 * self.world.site_chip(s).inference_tokens_per_s;
            if self.domestic_chip[f][s.0 as usize] {
                cap_dom += cap;
            } else {
                cap_foreign += cap;
            }
        }
        let share = self.world.timeline.domestic_inference_share(firm, now);
        let short_dom = (demand * share - cap_dom).max(0.0);
        let spare_dom = (cap_dom - demand * share).max(0.0);
        let short_any = (demand * (1.0 - share) - cap_foreign - spare_dom).max(0.0);
        (short_dom, short_any)
    }

    /// Chips on their way to firm `f` at `site`: its pending lots there, and the chips ordered or
    /// bought for the site (an own site's orders and purchases are its owner's).
    fn chips_coming(&self, f: usize, site: SiteId) -> u64 {
        let firm = FirmId(f as u32);
        let s = site.0 as usize;
        let lots: u64 = self
            .leasing
            .lots
            .iter()
            .filter(|l| l.firm == firm && l.site == site && l.state == LotState::Pending)
            .map(|l| l.chips)
            .sum();
        let owned = self.world.sites[s].pricing.payer() == Some(firm);
        let bought = if owned {
            self.orders.site_ordered_open[s] + self.orders.site_procured_open[s]
        } else {
            0
        };
        lots + bought
    }

    /// Sums site `s`'s active lots again (after any lot there changes; lots are few).
    fn recompute_site_lots(&mut self, s: usize) {
        let (mut usd, mut chips) = (0.0, 0);
        for lot in &self.leasing.lots {
            if lot.site.0 as usize == s && lot.state == LotState::Active {
                usd += lot.chips as f64 * lot.price;
                chips += lot.chips;
            }
        }
        self.leasing.site_usd_per_hour[s] = usd;
        self.leasing.site_chips[s] = chips;
    }

    /// Sums the room market `m`'s lots take again (signed lots, pending or active; a listed past
    /// lease takes room from its date).
    fn recompute_market(&mut self, m: usize) {
        self.leasing.held_mw[m] = self
            .leasing
            .lots
            .iter()
            .filter(|l| l.source == Source::Market(m) && l.state != LotState::Ended && !l.history)
            .map(|l| l.mw)
            .sum();
    }

    /// The price of an online chip-hour at market site `s`: its active lots' mean price.
    pub(super) fn lot_mean_price(&self, s: usize) -> f64 {
        let chips = self.leasing.site_chips[s];
        if chips > 0 {
            self.leasing.site_usd_per_hour[s] / chips as f64
        } else {
            0.0
        }
    }

    fn decide(&mut self, d: Decision) {
        self.metrics.decisions.push(d);
    }

    /// A firm's review (see the module docs).
    pub(super) fn on_review(&mut self, f: usize, now: SimTime, ctx: &mut Context<Ev>) {
        let Some(pl) = self.world.firms[f].planning else {
            return;
        };
        let next = now.saturating_add(pl.every);
        if next < self.periods.horizon() {
            ctx.schedule_at(next, Ev::Review { firm: f as u32 })
                .expect("not in the past");
        }
        let (mut waiting, planned) = self.unmet_need(f, &pl, now);
        let mut gap = self.leasing.firm_gap_flops[f];
        if gap < 0.0 || !gap.is_finite() {
            self.error = Some(super::super::ModelError::new(format!(
                "invariant broken at {now}: firm '{}' has a plan gap of {gap} FLOP/s",
                self.world.firms[f].name
            )));
            return;
        }
        self.leasing.firm_need[f] = waiting;
        // Forecast inference beyond what its serving capacity takes: on domestic chips only, and
        // on any chip (step 1).
        let (mut inf_dom, mut inf_any) = if pl.forecast_inference {
            self.inference_shortfall(f, &pl, now)
        } else {
            (0.0, 0.0)
        };
        let inference_found = inf_dom + inf_any;
        let short = waiting > 0 || gap > 0.0 || inference_found > 0.0;
        // Lots that may come up for replacement (step 5).
        let leases = pl.switch_margin < 1.0
            && self.leasing.lots.iter().any(|l| {
                l.firm.0 as usize == f
                    && l.state == LotState::Active
                    && l.term_end < self.periods.horizon()
            });
        if !short && !leases {
            return;
        }
        let found = waiting;
        let gap_found = gap;
        // What it buys must arrive within `max_wait`.
        let horizon = now.saturating_add(pl.max_wait);
        // Every option, with its cost per useful FLOP as ranked; cheapest first, then by channel,
        // then site (see the module docs).
        let mut options: Vec<Opt> = self.leasing.firm_option_sites[f]
            .iter()
            .map(|&s| self.weigh(f, &pl, s, now))
            .collect();
        options.sort_by(|a, b| {
            a.cost
                .total_cmp(&b.cost)
                .then(a.channel.cmp(&b.channel))
                .then(a.site.cmp(&b.site))
        });
        for (i, &o) in options.iter().enumerate() {
            if !short {
                break;
            }
            let flops = self.world.site_chip(o.site).effective_flop_per_s();
            // Chips of this option that cover what is left: the larger of the waiting gangs and
            // the gap at this chip's speed. They overlap (chips a rule refused leave work waiting),
            // so one purchase answers both; a gap under a millionth of a chip is none. The
            // forecast inference shortfall it can serve comes on top, at the chip's token rate.
            let gap_chips = super::ceil_u64(gap / flops - 1e-6);
            let (serves, domestic, per_chip) = self.serves_inference(f, o.site);
            // A block of a cloud the firm also rents by the hour is chips the forecast already
            // counted as free capacity: reserving them serves no forecast shortfall.
            let counted = self.site_cloud(o.site).is_some_and(|c| {
                self.inference_order[f]
                    .iter()
                    .any(|&(s, place, _)| s == c && place)
            });
            let inf_tokens = match (serves && !counted, domestic) {
                (false, _) => 0.0,
                (true, true) => inf_dom + inf_any,
                (true, false) => inf_any,
            };
            let inf_chips = if inf_tokens > 0.0 {
                super::ceil_u64(inf_tokens / per_chip - 1e-6)
            } else {
                0
            };
            let wanted = waiting.max(gap_chips).saturating_add(inf_chips);
            let choice = Choice {
                rank: i as u32 + 1,
                cost: o.cost,
                price: o.price,
                need: found,
                gap: gap_found,
                gap_left: gap,
                flops,
                taken: Why::Cheapest,
                replaces: None,
                inference: inference_found,
                planned,
            };
            let (n, why) = match o.closed {
                Some(why) => (0, why),
                None if wanted == 0 => (0, Why::NeedMet),
                None => {
                    let n = match o.channel {
                        Channel::Lease => self.sign_lot(f, &pl, o.site, wanted, choice, now, ctx),
                        Channel::Cloud => {
                            self.reserve_cloud(f, &pl, o.site, wanted, choice, now, ctx)
                        }
                        Channel::Domestic => {
                            self.place_order(f, &pl, o.site, wanted, choice, horizon, now)
                        }
                        Channel::Import | Channel::Grey => self
                            .place_procurement(f, &pl, o.site, wanted, choice, horizon, now, ctx),
                    };
                    (n, if n > 0 { Why::Cheapest } else { o.short })
                }
            };
            if n > 0 {
                // The forecast inference shortfall first (what only domestic chips serve first,
                // on a domestic chip), then the waiting work and the gap.
                let for_inference = n.min(inf_chips);
                let mut tokens = for_inference as f64 * per_chip;
                if domestic {
                    let d = tokens.min(inf_dom);
                    inf_dom -= d;
                    tokens -= d;
                }
                inf_any = (inf_any - tokens).max(0.0);
                let rest = n - for_inference;
                waiting = waiting.saturating_sub(rest);
                gap = (gap - rest as f64 * flops).max(0.0);
            } else {
                self.decide(choice.row(now, f, o.site, o.channel, LeaseAction::Pass, why));
            }
        }
        self.leasing.firm_gap_flops[f] = gap;
        self.replace_leases(f, &pl, &options, now, ctx);
    }

    /// Step 5 of the rule (module docs): for each of the firm's lots whose term ends within its
    /// `max_wait` and for which nothing was bought yet this term, buys what replaces it by its
    /// term end through the options `ranked` (the review's, cheapest first) that cost less than
    /// `1 - switch_margin` times renewing the lot and host all the work the lot's site hosts for
    /// the firm.
    fn replace_leases(
        &mut self,
        f: usize,
        pl: &Planning,
        ranked: &[Opt],
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) {
        if pl.switch_margin >= 1.0 {
            return;
        }
        for l in 0..self.leasing.lots.len() {
            let lot = self.leasing.lots[l];
            if lot.firm.0 as usize != f
                || !matches!(lot.source, Source::Market(_))
                || lot.state != LotState::Active
                || lot.replace_decided
                || lot.term_end >= self.periods.horizon()
                || lot.term_end > now.saturating_add(pl.max_wait)
            {
                continue;
            }
            let lot_flops = self.world.site_chip(lot.site).effective_flop_per_s();
            let mut left = lot.chips as f64 * lot_flops;
            let renewal = self.lot_price(lot.site, lot.chips, now, true);
            let renewal = self.ranked_cost(f, pl, lot.site, renewal, pl.lease_ban_risk);
            for (i, o) in ranked.iter().enumerate() {
                if left <= lot_flops * 1e-6 {
                    break;
                }
                if o.closed.is_some()
                    || matches!(o.channel, Channel::Lease | Channel::Cloud)
                    || o.cost >= renewal * (1.0 - pl.switch_margin)
                    || !self.hosts_same_work(f, lot.site, o.site)
                {
                    continue;
                }
                let flops = self.world.site_chip(o.site).effective_flop_per_s();
                // Whole lots of the option, no more than the lease's capacity.
                let block = self.world.sites[o.site.0 as usize]
                    .procurement
                    .and_then(|pr| pr.lot_chips)
                    .unwrap_or(pl.block_chips);
                let wanted = (left / flops + 1e-6).floor() as u64 / block * block;
                if wanted == 0 {
                    continue;
                }
                let choice = Choice {
                    rank: i as u32 + 1,
                    cost: o.cost,
                    price: o.price,
                    need: lot.chips,
                    gap: 0.0,
                    gap_left: 0.0,
                    flops,
                    taken: Why::ReplacesLease,
                    replaces: Some(l as u32),
                    inference: 0.0,
                    planned: 0,
                };
                // To arrive by the term end; if none can, within `max_wait` (the lot is then held
                // over until it arrives).
                let mut n = 0;
                for deadline in [lot.term_end, now.saturating_add(pl.max_wait)] {
                    n = match o.channel {
                        Channel::Domestic => {
                            self.place_order(f, pl, o.site, wanted, choice, deadline, now)
                        }
                        Channel::Import | Channel::Grey => self
                            .place_procurement(f, pl, o.site, wanted, choice, deadline, now, ctx),
                        Channel::Lease | Channel::Cloud => {
                            unreachable!("leases are replaced by owned capacity only")
                        }
                    };
                    if n > 0 {
                        break;
                    }
                }
                if n > 0 {
                    left -= n as f64 * flops;
                    let lot = &mut self.leasing.lots[l];
                    lot.replace_open_flops += n as f64 * flops;
                    lot.replace_decided = true;
                    self.orders.firm_replacing[f] += n;
                }
            }
        }
    }

    /// Whether every placement class of firm `f` that may run at `lot_site` may also run at `alt`.
    fn hosts_same_work(&self, f: usize, lot_site: SiteId, alt: SiteId) -> bool {
        self.classes.iter().enumerate().all(|(c, &(firm, _))| {
            firm.0 as usize != f
                || !self.class_sites[c].contains(&lot_site)
                || self.class_sites[c].contains(&alt)
        })
    }

    /// A price per chip-hour at `site` as firm `f` ranks it: per useful PFLOP-day, times
    /// `1 + home_premium` abroad and `1 + risk_aversion x loss` (the chance of losing the chips).
    fn ranked_cost(&self, f: usize, pl: &Planning, site: SiteId, price: f64, loss: f64) -> f64 {
        let chip = self.world.site_chip(site);
        let abroad =
            self.world.sites[site.0 as usize].jurisdiction != self.world.firms[f].headquarters;
        let per_pflop_day = price * 24.0 / (chip.effective_flop_per_s() / 1e15);
        per_pflop_day
            * if abroad { 1.0 + pl.home_premium } else { 1.0 }
            * (1.0 + pl.risk_aversion * loss)
    }

    /// Option `site` for firm `f` now: its channel, price, cost per useful PFLOP-day as ranked,
    /// and whether it is closed.
    fn weigh(&self, f: usize, pl: &Planning, site: SiteId, now: SimTime) -> Opt {
        let firm = FirmId(f as u32);
        let s = site.0 as usize;
        let spec = &self.world.sites[s];
        let channel = super::super::site_channel(&self.world.firms, &self.world.sites, f, site)
            .expect("an option site has a channel");
        let mut closed = None;
        if !self.allows(firm, None, site, now, Phase::Sign) {
            closed = Some(Why::RulesForbid);
        }
        let (price, loss, short) = match channel {
            Channel::Lease => {
                if self.delivery_verdict(site, 1, now, &[]) == DeliveryVerdict::Banned {
                    closed = closed.or(Some(Why::Banned));
                }
                (
                    self.lot_price(site, pl.block_chips, now, false),
                    pl.lease_ban_risk,
                    Why::NoRoom,
                )
            }
            Channel::Domestic => (self.rates[s].user_price, 0.0, Why::TooSlow),
            Channel::Cloud => {
                if self.reservable(site) < pl.block_chips {
                    closed = closed.or(Some(Why::NoRoom));
                }
                (
                    self.lot_price(site, pl.block_chips, now, false),
                    0.0,
                    Why::NoRoom,
                )
            }
            Channel::Import | Channel::Grey => {
                let pr = spec.procurement.expect("a procurement site");
                if now < pr.from || now >= pr.until {
                    closed = closed.or(Some(Why::Closed));
                }
                if channel == Channel::Import
                    && self.delivery_verdict(site, 1, now, &[]) == DeliveryVerdict::Banned
                {
                    closed = closed.or(Some(Why::Banned));
                }
                if self.procurement_room(site, now) < pr.lot_chips.unwrap_or(pl.block_chips) {
                    closed = closed.or(Some(Why::NoRoom));
                }
                if channel == Channel::Import {
                    (self.rates[s].user_price, 0.0, Why::TooSlow)
                } else {
                    let p = self.seizure_chance(site, now);
                    if p >= 1.0 {
                        closed = closed.or(Some(Why::Enforced));
                    }
                    // Seized chips are paid for and draw no power: the capex per chip delivered,
                    // plus the energy of a chip that is.
                    let r = &self.rates[s];
                    (
                        r.capex / (1.0 - p).max(1e-9) + (r.user_price - r.capex),
                        p,
                        Why::TooSlow,
                    )
                }
            }
        };
        let cost = self.ranked_cost(f, pl, site, price, loss);
        Opt {
            site,
            channel,
            price,
            cost,
            closed,
            short,
        }
    }

    /// Signs as many lots at market site `site` as cover `need` within the market's room and the
    /// firm's cap; returns the chips signed.
    #[allow(clippy::too_many_arguments)]
    fn sign_lot(
        &mut self,
        f: usize,
        pl: &Planning,
        site: SiteId,
        need: u64,
        choice: Choice,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) -> u64 {
        let firm = FirmId(f as u32);
        let m = self.site_market(site).expect("a market site");
        let per_chip = self.mw_per_chip(site);
        let open = self.world.markets[m].open_mw(now);
        let room_chips = if per_chip > 0.0 {
            ((open - self.leasing.held_mw[m]).max(0.0) / per_chip).floor() as u64
        } else {
            u64::MAX
        };
        let firm_room = pl
            .max_leased_chips
            .saturating_sub(self.leasing.firm_held[f]);
        // What rules on deliveries would let in now (a ban, a cap, the site's power cap).
        let pending_here: u64 = self
            .leasing
            .lots
            .iter()
            .filter(|l| l.site == site && l.state == LotState::Pending)
            .map(|l| l.chips)
            .sum();
        let rule_room = match self.delivery_verdict(site, u64::MAX / 4, now, &[]) {
            DeliveryVerdict::Banned => 0,
            DeliveryVerdict::Delay { .. } => u64::MAX,
            DeliveryVerdict::Deliver { max_chips } => max_chips,
        }
        .min(self.power_room(site))
        .saturating_sub(pending_here);
        let block = pl.block_chips;
        let wanted = need.div_ceil(block).saturating_mul(block);
        let n = wanted
            .min(room_chips / block * block)
            .min(firm_room / block * block)
            .min(rule_room / block * block);
        if n == 0 {
            return 0;
        }
        let price = self.lot_price(site, n, now, false);
        let lot = self.push_lot(Lot {
            mw: n as f64 * per_chip,
            price,
            ..Lot::new(site, firm, Source::Market(m), n)
        });
        self.recompute_market(m);
        self.leasing.firm_held[f] += n;
        self.leasing.firm_pending[f] += n;
        let p = self.periods.index(now);
        self.metrics.firm[f][p].lease_chips_signed += n;
        self.metrics.site[site.0 as usize][p].lease_chips_signed += n;
        self.metrics.firm[f][p].commitments_usd += self.term_value(site, n, price);
        let share = self.held_share(m, now, 0.0);
        self.decide(Decision {
            lot,
            chips: n,
            usd_per_chip_hour: price,
            market_held_share: share,
            ..choice.row(
                now,
                f,
                site,
                Channel::Lease,
                LeaseAction::Sign,
                Why::Cheapest,
            )
        });
        let at = now.saturating_add(pl.lead);
        if at < self.periods.horizon() {
            ctx.schedule_at(at, Ev::LotOnline { lot })
                .expect("not in the past");
        }
        n
    }

    /// Chips of the cloud that site `site` reserves that a new block there may take now: the
    /// cloud's idle chips, within the site's `reserve_share` of the cloud's chips (those left
    /// plus those every tenant holds reserved).
    fn reservable(&self, site: SiteId) -> u64 {
        let Pricing::Contract {
            reserves: Some(c),
            reserve_share,
            ..
        } = self.world.sites[site.0 as usize].pricing
        else {
            unreachable!("a site that reserves a cloud");
        };
        let held_here = self.leasing.site_chips[site.0 as usize];
        let all = self.leasing.cloud_reserved[c.0 as usize] + self.sites[c.0 as usize].installed;
        let cap = ((all as f64 * reserve_share).floor() as u64).saturating_sub(held_here);
        self.idle_chips(c).min(cap)
    }

    /// Reserves as many whole blocks of the domestic cloud's idle chips at site `site` as cover
    /// `need`, within [`Self::reservable`]; returns the chips reserved. The chips move from the
    /// cloud to the site now (they are idle there), priced at the cloud's price per chip-hour for
    /// a term, paid busy or idle.
    #[allow(clippy::too_many_arguments)]
    fn reserve_cloud(
        &mut self,
        f: usize,
        pl: &Planning,
        site: SiteId,
        need: u64,
        choice: Choice,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) -> u64 {
        let c = self.site_cloud(site).expect("a site that reserves a cloud");
        let block = pl.block_chips;
        let n = need
            .div_ceil(block)
            .saturating_mul(block)
            .min(self.reservable(site) / block * block);
        if n == 0 {
            return 0;
        }
        let price = self.lot_price(site, n, now, false);
        let (s, cs) = (site.0 as usize, c.0 as usize);
        // The chips leave the cloud at its rates so far, and come to the site.
        self.set_site_rates(cs, now);
        self.sites[cs].installed -= n;
        self.set_site_rates(s, now);
        self.sites[s].installed += n;
        let lot = self.push_lot(Lot {
            price,
            state: LotState::Active,
            ..Lot::new(site, FirmId(f as u32), Source::Cloud(c), n)
        });
        self.recompute_source(Source::Cloud(c));
        self.recompute_site_lots(s);
        self.set_site_rates(s, now);
        self.set_site_rates(cs, now);
        self.leasing.firm_reserved[f] += n;
        let p = self.periods.index(now);
        self.metrics.firm[f][p].cloud_chips_reserved += n;
        self.metrics.site[s][p].cloud_chips_reserved += n;
        self.metrics.firm[f][p].commitments_usd += self.term_value(site, n, price);
        self.decide(Decision {
            lot,
            chips: n,
            usd_per_chip_hour: price,
            market_held_share: self.cloud_share(c, 0),
            ..choice.row(
                now,
                f,
                site,
                Channel::Cloud,
                LeaseAction::Sign,
                Why::Cheapest,
            )
        });
        self.schedule_term_end(lot, now, ctx);
        self.capacity_came(FirmId(f as u32), site, now, ctx);
        n
    }

    /// `n` chips that left site `s` go back to the domestic cloud it reserves, if it does.
    fn back_to_cloud(&mut self, s: usize, n: u64, now: SimTime, ctx: &mut Context<Ev>) {
        let Some(c) = self.site_cloud(SiteId(s as u32)) else {
            return;
        };
        if n == 0 {
            return;
        }
        let cs = c.0 as usize;
        self.set_site_rates(cs, now);
        self.sites[cs].installed += n;
        self.recompute_source(Source::Cloud(c));
        self.set_site_rates(cs, now);
        self.retry_blocked(now, ctx);
        self.try_start(c, now, ctx);
        self.retry_stranded(now, ctx);
    }

    /// Registers a lot listed in the scenario (a past lease) and returns its number.
    pub(super) fn history_lot(&mut self, site: SiteId, chips: u64) -> u32 {
        let Pricing::Contract { tenant, market, .. } = self.world.sites[site.0 as usize].pricing
        else {
            unreachable!("history lots are at market sites");
        };
        let source = Source::Market(market.expect("a market site").0 as usize);
        self.push_lot(Lot {
            mw: chips as f64 * self.mw_per_chip(site),
            history: true,
            ..Lot::new(site, tenant, source, chips)
        })
    }

    /// Adds lot `lot` and returns its number (lots are numbered in the order they are added).
    fn push_lot(&mut self, lot: Lot) -> u32 {
        self.leasing.delayed.push(Vec::new());
        self.leasing.lots.push(lot);
        (self.leasing.lots.len() - 1) as u32
    }

    /// New capacity at `site` for `firm`: the firm's waiting jobs may move there, blocked ones may
    /// start.
    fn capacity_came(&mut self, firm: FirmId, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        self.reconsider_waiting(firm, now, ctx);
        self.retry_blocked(now, ctx);
        self.try_start(site, now, ctx);
        self.retry_stranded(now, ctx);
    }

    /// A lot's chips come online (a signed lot after its lead time, a listed one on its date), as
    /// a delivery: a rule that makes the tenant leave or bans the chip there refuses it, a permit
    /// delays it (once per rule), a cap or the site's power cap takes what fits and refuses the
    /// rest.
    pub(super) fn on_lot_online(&mut self, l: u32, now: SimTime, ctx: &mut Context<Ev>) {
        let lot = self.leasing.lots[l as usize];
        if lot.state != LotState::Pending {
            return;
        }
        let (site, f, s) = (lot.site, lot.firm.0 as usize, lot.site.0 as usize);
        let p = self.periods.index(now);
        if lot.history {
            // A listed lease is signed on its date: it takes its room and its price now.
            let price = self.lot_price(site, lot.chips, now, false);
            self.leasing.lots[l as usize].price = price;
            self.leasing.lots[l as usize].history = false;
            self.recompute_source(lot.source);
            self.leasing.firm_held[f] += lot.chips;
            self.leasing.firm_pending[f] += lot.chips;
            self.metrics.firm[f][p].lease_chips_signed += lot.chips;
            self.metrics.site[s][p].lease_chips_signed += lot.chips;
            self.metrics.firm[f][p].commitments_usd += self.term_value(site, lot.chips, price);
            let share = self.lot_share(&lot, now);
            self.decide(Decision {
                usd_per_chip_hour: price,
                market_held_share: share,
                ..Decision::event(
                    now,
                    f as u32,
                    site.0,
                    l,
                    LeaseAction::History,
                    lot.chips,
                    Channel::Lease,
                )
            });
        }
        let delayed = std::mem::take(&mut self.leasing.delayed[l as usize]);
        let fits = if self.allows(lot.firm, None, site, now, Phase::Stay) {
            match self.delivery_verdict(site, lot.chips, now, &delayed) {
                DeliveryVerdict::Banned => 0,
                DeliveryVerdict::Delay { rule, delay } => {
                    let at = now.saturating_add(delay);
                    if at < self.periods.horizon() {
                        let mut delayed = delayed;
                        delayed.push(rule);
                        self.leasing.delayed[l as usize] = delayed;
                        ctx.schedule_at(at, Ev::LotOnline { lot: l })
                            .expect("not in the past");
                    }
                    return;
                }
                DeliveryVerdict::Deliver { max_chips } => {
                    lot.chips.min(max_chips).min(self.power_room(site))
                }
            }
        } else {
            0
        };
        if fits < lot.chips {
            // What does not fit is refused: the lot shrinks to what does (or ends).
            let refused = lot.chips - fits;
            self.metrics.site[s][p].chips_refused += refused;
            if fits == 0 {
                self.end_lot(l, now, LeaseAction::Refused, Why::None);
                return;
            }
            let per_chip = self.mw_per_chip(site);
            let lot_mut = &mut self.leasing.lots[l as usize];
            lot_mut.chips = fits;
            lot_mut.mw = fits as f64 * per_chip;
            debug_assert!(
                matches!(lot.source, Source::Market(_)),
                "cloud blocks are never pending"
            );
            self.leasing.firm_held[f] -= refused;
            self.leasing.firm_pending[f] -= refused;
            self.recompute_source(lot.source);
            self.decide(Decision {
                usd_per_chip_hour: lot.price,
                market_held_share: self.lot_share(&lot, now),
                ..Decision::event(
                    now,
                    f as u32,
                    site.0,
                    l,
                    LeaseAction::Refused,
                    refused,
                    Self::lot_channel(&lot),
                )
            });
        }
        self.leasing.firm_pending[f] -= fits;
        self.set_site_rates(s, now);
        self.sites[s].installed += fits;
        self.metrics.site[s][p].chips_delivered += fits;
        self.leasing.lots[l as usize].state = LotState::Active;
        self.recompute_site_lots(s);
        self.set_site_rates(s, now);
        self.schedule_term_end(l, now, ctx);
        self.capacity_came(lot.firm, site, now, ctx);
    }

    fn schedule_term_end(&mut self, l: u32, now: SimTime, ctx: &mut Context<Ev>) {
        let site = self.leasing.lots[l as usize].site;
        let Pricing::Contract { term, .. } = self.world.sites[site.0 as usize].pricing else {
            unreachable!("lots are at contracted sites");
        };
        if term.as_secs() > 0 {
            self.end_term_at(l, now.saturating_add(term), ctx);
        }
    }

    /// Lot `l`'s current term (or hold-over) ends at `at`.
    fn end_term_at(&mut self, l: u32, at: SimTime, ctx: &mut Context<Ev>) {
        self.leasing.lots[l as usize].term_end = at;
        if at < self.periods.horizon() {
            ctx.schedule_at(at, Ev::LotTermEnd { lot: l })
                .expect("not in the past");
        }
    }

    /// Looks again at firm `firm`'s queued jobs, oldest first: new capacity may let them start
    /// sooner elsewhere.
    fn reconsider_waiting(&mut self, firm: FirmId, now: SimTime, ctx: &mut Context<Ev>) {
        let mut queued: Vec<(SimTime, u32, SiteId)> = self
            .jobs
            .iter()
            .enumerate()
            .filter_map(|(j, job)| {
                let job = job.as_ref()?;
                match job.state {
                    JobState::Queued(s) if job.firm == firm => Some((job.arrived, j as u32, s)),
                    _ => None,
                }
            })
            .collect();
        queued.sort_unstable();
        for (_, j, site) in queued {
            // Still queued where it was (an earlier move may have started it).
            if self.jobs[j as usize]
                .as_ref()
                .is_some_and(|x| x.state == JobState::Queued(site))
            {
                self.reconsider(j, site, now, ctx);
            }
        }
    }

    /// The end of a lot's term: renewed or released (see the module docs).
    pub(super) fn on_lot_term_end(&mut self, l: u32, now: SimTime, ctx: &mut Context<Ev>) {
        let lot = self.leasing.lots[l as usize];
        if lot.state != LotState::Active {
            return;
        }
        let (site, f, s) = (lot.site, lot.firm.0 as usize, lot.site.0 as usize);
        let need = match self.world.firms[f].planning {
            Some(pl) => self.unmet_need(f, &pl, now).0,
            None => 0,
        };
        self.set_site_rates(s, now);
        let p = self.periods.index(now);
        let lot_flops = self.world.site_chip(site).effective_flop_per_s();
        // Chips of the lot that the capacity bought to replace it stands for (step 5).
        let replaced = ((lot.replaced_flops / lot_flops + 1e-6).floor() as u64).min(lot.chips);
        let why = if lot.replace_decided {
            Why::Replaced
        } else {
            Why::None
        };
        if need == 0 && self.idle_chips(site) >= lot.chips && self.sites[s].queue.is_empty() {
            self.sites[s].installed -= lot.chips;
            self.end_lot(l, now, LeaseAction::Release, why);
            // A lot that was being replaced counts as replaced whole.
            let replaced = if lot.replace_decided { lot.chips } else { 0 };
            self.count_release(f, s, p, lot.chips, replaced);
            self.set_site_rates(s, now);
            self.back_to_cloud(s, lot.chips, now, ctx);
            return;
        }
        let hold = self.world.firms[f].planning.map(|pl| pl.every);
        // A rule that forbids new contracts here (a lease ban in its grace period) forbids
        // renewing: the lot is held over one review interval at a time (30 days for a firm that
        // does not plan) until the rule ends it or its chips stand idle.
        let forbidden = !self.allows(lot.firm, None, site, now, Phase::Sign);
        let hold = match hold {
            None if forbidden => Some(SimDuration::from_days(30)),
            h => h,
        };
        let why = if forbidden { Why::RulesForbid } else { why };
        let action = match hold {
            // What replaces it is on its way, or the rules forbid renewing it: kept one more
            // review interval.
            Some(every) if lot.replace_open_flops > 0.0 || forbidden => {
                let price = self.lot_price(site, lot.chips, now, true);
                self.leasing.lots[l as usize].price = price;
                self.recompute_site_lots(s);
                self.metrics.firm[f][p].commitments_usd +=
                    lot.chips as f64 * price * every.as_secs_f64() / 3_600.0;
                self.end_term_at(l, now.saturating_add(every), ctx);
                LeaseAction::HoldOver
            }
            _ => {
                // It keeps as many as its waiting work needs.
                let replaced = replaced.saturating_sub(need);
                if replaced > 0 {
                    self.release_replaced(l, replaced, now, ctx);
                    if self.leasing.lots[l as usize].state == LotState::Ended {
                        self.set_site_rates(s, now);
                        return;
                    }
                }
                let lot = &mut self.leasing.lots[l as usize];
                lot.replaced_flops = 0.0;
                lot.replace_decided = false;
                let chips = lot.chips;
                let price = self.lot_price(site, chips, now, true);
                self.leasing.lots[l as usize].price = price;
                self.recompute_site_lots(s);
                self.metrics.firm[f][p].commitments_usd += self.term_value(site, chips, price);
                self.schedule_term_end(l, now, ctx);
                LeaseAction::Renew
            }
        };
        let lot = self.leasing.lots[l as usize];
        self.decide(Decision {
            usd_per_chip_hour: lot.price,
            need_chips: need,
            market_held_share: self.lot_share(&lot, now),
            why,
            ..Decision::event(
                now,
                f as u32,
                site.0,
                l,
                action,
                lot.chips,
                Self::lot_channel(&lot),
            )
        });
        self.set_site_rates(s, now);
    }

    /// Releases `chips` of lot `l` at its term end because what replaces them has arrived: idle
    /// chips first, then the firm's work running there is checkpointed and moves (youngest first)
    /// until enough are free; chips in repair leave when they come back.
    fn release_replaced(&mut self, l: u32, chips: u64, now: SimTime, ctx: &mut Context<Ev>) {
        let lot = self.leasing.lots[l as usize];
        let (site, f, s) = (lot.site, lot.firm.0 as usize, lot.site.0 as usize);
        let p = self.periods.index(now);
        let mut evicted = Vec::new();
        let running = self.sites[s].running.clone();
        for &r in running.iter().rev() {
            if self.idle_chips(site) >= chips {
                break;
            }
            if self.job(r).firm == lot.firm {
                self.checkpoint_out(r, now);
                evicted.push(r);
            }
        }
        let now_free = chips.min(self.idle_chips(site));
        self.sites[s].installed -= now_free;
        if now_free < chips {
            // Held by this instant's inference or in repair: they leave once free.
            self.leasing.release_debt[s] += chips - now_free;
            ctx.schedule_at(now, Ev::ReleaseEnded { site: site.0 })
                .expect("not in the past");
        }
        self.count_release(f, s, p, chips, chips);
        if chips == lot.chips {
            self.end_lot(l, now, LeaseAction::Release, Why::Replaced);
        } else {
            let per_chip = self.mw_per_chip(site);
            let lot_mut = &mut self.leasing.lots[l as usize];
            lot_mut.chips -= chips;
            lot_mut.mw = lot_mut.chips as f64 * per_chip;
            debug_assert!(
                matches!(lot.source, Source::Market(_)),
                "cloud blocks are not replaced"
            );
            self.leasing.firm_held[f] -= chips;
            self.recompute_source(lot.source);
            self.recompute_site_lots(s);
            self.decide(Decision {
                market_held_share: self.lot_share(&lot, now),
                why: Why::Replaced,
                ..Decision::event(
                    now,
                    f as u32,
                    site.0,
                    l,
                    LeaseAction::Release,
                    chips,
                    Self::lot_channel(&lot),
                )
            });
        }
        // The moved work is placed again, after the chips it held have gone.
        self.count_and_place_evicted(evicted, now, ctx);
    }

    /// Counts `chips` of a lot at site `s` released in period `p`, `replaced` of them because
    /// capacity bought to replace them had arrived.
    fn count_release(&mut self, f: usize, s: usize, p: usize, chips: u64, replaced: u64) {
        // Lease counts are of market lots; cloud blocks have their own, at the firm and the site.
        if self.site_cloud(SiteId(s as u32)).is_none() {
            self.metrics.firm[f][p].lease_chips_ended += chips;
            self.metrics.site[s][p].lease_chips_ended += chips;
        } else {
            self.metrics.firm[f][p].cloud_chips_ended += chips;
            self.metrics.site[s][p].cloud_chips_ended += chips;
        }
        self.metrics.firm[f][p].lease_chips_replaced += replaced.min(chips);
    }

    /// Takes lot `l` off the books (its chips are the caller's to remove).
    fn end_lot(&mut self, l: u32, now: SimTime, action: LeaseAction, why: Why) {
        let lot = self.leasing.lots[l as usize];
        let (f, s) = (lot.firm.0 as usize, lot.site.0 as usize);
        if lot.state == LotState::Pending {
            self.leasing.firm_pending[f] -= lot.chips;
        }
        match lot.source {
            Source::Market(_) => self.leasing.firm_held[f] -= lot.chips,
            Source::Cloud(c) => {
                self.leasing.firm_reserved[f] -= lot.chips;
                // The cloud's reserved chips change: its use so far counts them (clouds.rs).
                self.accrue_use(c.0 as usize, now);
            }
        }
        self.leasing.lots[l as usize].state = LotState::Ended;
        self.recompute_source(lot.source);
        self.recompute_site_lots(s);
        let share = self.lot_share(&lot, now);
        self.decide(Decision {
            market_held_share: share,
            why,
            ..Decision::event(
                now,
                f as u32,
                lot.site.0,
                l,
                action,
                lot.chips,
                Self::lot_channel(&lot),
            )
        });
    }

    /// At a rule change (after evictions): ends the lots at sites whose tenant may no longer stay.
    /// Their chips leave once nothing holds them (the same instant, after this instant's inference
    /// batches; chips in repair when they come back).
    pub(super) fn end_lots_by_rule(&mut self, now: SimTime, ctx: &mut Context<Ev>) {
        let p = self.periods.index(now);
        for l in 0..self.leasing.lots.len() {
            let lot = self.leasing.lots[l];
            if lot.state == LotState::Ended || (lot.history && lot.state == LotState::Pending) {
                continue;
            }
            if self.allows(lot.firm, None, lot.site, now, Phase::Stay) {
                continue;
            }
            let (f, s) = (lot.firm.0 as usize, lot.site.0 as usize);
            if lot.state == LotState::Active {
                self.leasing.release_debt[s] += lot.chips;
                ctx.schedule_at(now, Ev::ReleaseEnded { site: lot.site.0 })
                    .expect("not in the past");
            }
            self.end_lot(l as u32, now, LeaseAction::EndedByRule, Why::None);
            self.metrics.firm[f][p].contracts_ended += 1;
            self.metrics.site[s][p].contracts_ended += 1;
            if matches!(lot.source, Source::Market(_)) {
                self.metrics.firm[f][p].lease_chips_ended += lot.chips;
                self.metrics.site[s][p].lease_chips_ended += lot.chips;
            } else {
                self.metrics.firm[f][p].cloud_chips_ended += lot.chips;
                self.metrics.site[s][p].cloud_chips_ended += lot.chips;
            }
        }
    }

    /// Takes the chips of ended lots out of a site, as many as nothing holds.
    pub(super) fn on_release_ended(&mut self, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        let s = site.0 as usize;
        self.accrue_online(site, now);
        let n = self.leasing.release_debt[s].min(self.idle_chips(site));
        self.sites[s].installed -= n;
        self.leasing.release_debt[s] -= n;
        self.back_to_cloud(s, n, now, ctx);
    }

    /// A chip back from repair at a site that owes ended lots' chips leaves instead; true if so.
    pub(super) fn repaired_chip_leaves(
        &mut self,
        site: SiteId,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) -> bool {
        let s = site.0 as usize;
        if self.leasing.release_debt[s] == 0 {
            return false;
        }
        self.leasing.release_debt[s] -= 1;
        self.sites[s].installed -= 1;
        self.back_to_cloud(s, 1, now, ctx);
        true
    }

    /// Stocks at the end of period `p`.
    pub(super) fn record_lease_stocks(&mut self, p: usize) {
        let end = self.periods.bounds[p + 1];
        for s in 0..self.world.sites.len() {
            if self.site_cloud(SiteId(s as u32)).is_some() {
                let row = &mut self.metrics.site[s][p];
                row.lease_chips_active = self.leasing.site_chips[s];
                row.lease_usd_per_hour = self.leasing.site_usd_per_hour[s];
                continue;
            }
            let Some(m) = self.site_market(SiteId(s as u32)) else {
                continue;
            };
            let share = self.held_share(m, end, 0.0);
            let row = &mut self.metrics.site[s][p];
            row.lease_chips_active = self.leasing.site_chips[s];
            row.lease_usd_per_hour = self.leasing.site_usd_per_hour[s];
            row.market_held_share = share;
            row.in_market = true;
        }
        for f in 0..self.leasing.firm_held.len() {
            let row = &mut self.metrics.firm[f][p];
            row.lease_chips_held = self.leasing.firm_held[f];
            row.cloud_chips_held = self.leasing.firm_reserved[f];
            row.lease_need_chips = self.leasing.firm_need[f];
            row.order_chips_open = self.orders.firm_open[f];
            row.procured_chips_open = self.orders.firm_procured_open[f];
            row.plan_gap_pflops = self.leasing.firm_gap_flops[f] / 1e15;
        }
    }
}
