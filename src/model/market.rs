//! Offshore lease markets and firms' planning: capacity that is the outcome of decisions.
//!
//! A market is the data-centre capacity of one jurisdiction that foreign operators lease to
//! tenants, in MW of IT load online by date (the figure the industry reports). Of it, `open_share` may be leased by the
//! scenario's firms (the rest is held by other tenants). A contracted site that names a market
//! ([`super::Pricing::Contract`] with `market`) starts empty: its tenant signs lots of chips there
//! when it plans, each lot using `chips x all-in (IT) power` of the market's room. The price of a
//! lot is the site's lease index on the day it is signed (or renewed), times the market's tightness
//! multiplier ([`Market::price_multiplier`]) at the share of the open capacity held once it is
//! signed.
//!
//! The decision rule ([`Planning`]) is deliberately simple, so a reader can predict it from the
//! inputs: see `model/sim/leasing.rs`.

use crate::engine::{SimDuration, SimTime};

use super::{Firm, FirmId, Pricing, Site, SiteId};

/// Index of a market in [`crate::model::World::markets`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MarketId(pub u32);

/// A dated level of a market's capacity: from `from` on, until the next one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CapacityStep {
    /// When this level takes effect.
    pub from: SimTime,
    /// IT load online for lease, MW (all tenants).
    pub mw: f64,
}

/// An offshore lease market.
#[derive(Clone, Debug, PartialEq)]
pub struct Market {
    /// Scenario name, e.g. `my`.
    pub name: String,
    /// ISO code of the jurisdiction its sites are in.
    pub jurisdiction: String,
    /// Capacity online by date, in order of date (0 before the first step).
    pub capacity: Vec<CapacityStep>,
    /// Share of the capacity that the scenario's firms may lease; the rest is other tenants'.
    pub open_share: f64,
    /// Share of the open capacity held above which prices rise.
    pub tight_above: f64,
    /// Price premium when the open capacity is fully held (0.5: +50%), reached linearly from
    /// `tight_above`.
    pub tight_premium: f64,
}

impl Market {
    /// Capacity online at `t`, MW (all tenants).
    pub fn capacity_mw(&self, t: SimTime) -> f64 {
        let i = self.capacity.partition_point(|c| c.from <= t);
        if i == 0 {
            0.0
        } else {
            self.capacity[i - 1].mw
        }
    }

    /// The capacity the scenario's firms may hold at `t`, MW.
    pub fn open_mw(&self, t: SimTime) -> f64 {
        self.capacity_mw(t) * self.open_share
    }

    /// The multiplier on the lease index when a share `held` of the open capacity is held:
    /// 1 up to `tight_above`, rising linearly to `1 + tight_premium` at 1, and no higher (a market
    /// that shrank under its contracts is full, not dearer).
    pub fn price_multiplier(&self, held: f64) -> f64 {
        let held = held.min(1.0);
        if held <= self.tight_above || self.tight_above >= 1.0 {
            1.0
        } else {
            1.0 + self.tight_premium * (held - self.tight_above) / (1.0 - self.tight_above)
        }
    }
}

/// How a firm reviews its capacity (see `model/sim/leasing.rs` for the rule).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Planning {
    /// Time between reviews (the first is one `every` after the horizon starts).
    pub every: SimDuration,
    /// From signing a lease to its chips coming online.
    pub lead: SimDuration,
    /// Leases are signed in lots of this many chips.
    pub block_chips: u64,
    /// A job counts as unmet need once it has waited this long since it arrived.
    pub patience: SimDuration,
    /// The most chips the firm holds under lease in all markets together.
    pub max_leased_chips: u64,
    /// Share of each daily lot of national output its domestic orders may take (0: it does not
    /// order; see `model/sim/orders.rs`).
    pub order_share: f64,
    /// From allocation out of national output to the chips at its site.
    pub order_lead: SimDuration,
    /// The longest it waits for ordered chips: an order is at most what its share of output (or
    /// an import or grey channel) can deliver in this time.
    pub max_wait: SimDuration,
    /// How much a chance of losing an option's chips weighs on its cost: the cost per useful
    /// FLOP is multiplied by `1 + risk_aversion x chance` (0: risk-neutral; the expected loss of
    /// grey lots is priced in either way).
    pub risk_aversion: f64,
    /// The chance the firm assigns to a lease ban within a year (what it expects of future rules):
    /// the chance of losing a lease option.
    pub lease_ban_risk: f64,
    /// Whether planned chips that rules refuse (deliveries to its own sites) join its need: the
    /// firm then replaces what a rule took from its plan (see `model/sim/leasing.rs`).
    pub replace_refused: bool,
    /// How much dearer capacity abroad must be cheaper to be chosen: options abroad cost
    /// `1 + home_premium` times their price per useful FLOP (0: no preference).
    pub home_premium: f64,
    /// How much cheaper per useful FLOP an option must be than renewing a lease for the firm to
    /// replace the lease with it at its term end: it replaces when the option costs less than
    /// `1 - switch_margin` times the renewal (1: it never replaces a lease; see
    /// `model/sim/leasing.rs`).
    pub switch_margin: f64,
    /// Whether the firm forecasts its inference demand: at a review it buys ahead for the peak
    /// demand of its own path `max_wait` ahead, beyond what its serving capacity (held, free and
    /// on its way) can take (see `model/sim/leasing.rs`).
    pub forecast_inference: bool,
    /// Whether the firm counts its planned training runs before they arrive: the next run of each
    /// training workload due before its next review plus `lead` counts as need when it would wait
    /// `patience` where it may run (see `model/sim/leasing.rs`).
    pub forecast_training: bool,
}

/// The sites firm `f` may order domestic chips for: its own sites (`owner` = the firm) in its home
/// country with a steady supply, when it plans with an `order_share` above 0 (see
/// `model/sim/orders.rs`).
pub fn order_sites(firms: &[Firm], sites: &[Site], f: usize) -> Vec<SiteId> {
    let firm = &firms[f];
    if firm.planning.is_none_or(|p| p.order_share <= 0.0) {
        return Vec::new();
    }
    firm.sites
        .iter()
        .copied()
        .filter(|&s| {
            let site = &sites[s.0 as usize];
            matches!(site.pricing, Pricing::Owned { owner: Some(o), .. } if o == FirmId(f as u32))
                && site.supply.is_some()
                && site.jurisdiction == firm.headquarters
        })
        .collect()
}
