//! Data-centre sites: where chips are, who runs them, what an hour on them costs.

use crate::engine::{SimDuration, SimTime};

use super::chip::ChipId;
use super::firm::FirmId;

/// Index of a site in [`crate::model::World::sites`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SiteId(pub u32);

/// Who operates a site, relative to the firms that use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// Operated by a firm of the site's own jurisdiction (a domestic cluster, owned or leased).
    Domestic,
    /// Operated by a foreign company: capacity that firms lease.
    Foreign,
}

/// How chip-hours at a site are priced, and who pays for capacity no work uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pricing {
    /// On-demand rental: users pay per busy chip-hour, at the lease index times
    /// `1 + on_demand_premium`; electricity is included. Idle capacity is the operator's.
    Lease {
        /// The lease index before the site's first dated price ([`Site::lease_prices`]), USD per
        /// chip-hour.
        usd_per_chip_hour: f64,
        /// Fraction above the index that on-demand capacity costs (0: the index is the price).
        on_demand_premium: f64,
    },
    /// Capacity reserved by contract: the tenant pays every online chip-hour, busy or idle, at the
    /// lease index at the start of the current term (terms run from the site's first chips, each
    /// `term` long); electricity is included. A rule that makes the tenant leave ends the contract.
    Contract {
        /// The lease index before the site's first dated price, USD per chip-hour.
        usd_per_chip_hour: f64,
        /// The firm that holds the contract (the only one that may list the site).
        tenant: FirmId,
        /// Length of one term; the price is re-set at each term's start.
        term: crate::engine::SimDuration,
        /// The market the site's chips are leased in, if its capacity is decided: the tenant
        /// signs lots there when it plans, each priced on the day it is signed or renewed (see
        /// [`super::market`]), and dated deliveries are lots signed in the past. `None`: the
        /// site's dated chips are the contract, terms running from its first chips.
        market: Option<super::market::MarketId>,
        /// The domestic cloud (a site no firm owns) whose chips the site holds, if its capacity is
        /// reserved there: the tenant reserves blocks of the cloud's idle chips when it plans,
        /// each priced at the cloud's price per chip-hour on the day it is signed or renewed and
        /// paid busy or idle; released chips go back to the cloud.
        reserves: Option<SiteId>,
        /// With `reserves`: the most of the cloud's chips this site's lots may hold (the cloud
        /// keeps the rest for renters by the hour).
        reserve_share: f64,
        /// With `reserves`: a reserved block's price as a multiple of the cloud's cost per
        /// chip-hour (its capex and energy, what its renters by the hour pay).
        reserve_markup: f64,
    },
    /// Owned chips: the purchase price is amortised over every online chip-hour, busy or idle;
    /// electricity is paid for busy chips and, at the chip's idle fraction, for idle ones.
    Owned {
        /// Years over which the purchase price is written off.
        amortisation_years: f64,
        /// The firm that owns the chips and pays for them busy or idle (the only one that may
        /// list the site); `None` for a cloud that rents chip-hours to whoever uses them, its
        /// idle capacity paid by no firm.
        owner: Option<FirmId>,
    },
}

impl Pricing {
    /// The firm that pays for this site's capacity whether or not it is used, if one does.
    pub fn payer(&self) -> Option<FirmId> {
        match *self {
            Pricing::Lease { .. } => None,
            Pricing::Contract { tenant, .. } => Some(tenant),
            Pricing::Owned { owner, .. } => owner,
        }
    }
}

/// A dated lease price: the index from `from` on, until the next one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeasePrice {
    /// When this price takes effect.
    pub from: SimTime,
    /// USD per chip-hour.
    pub usd_per_chip_hour: f64,
}

/// A dated delivery of chips to a site.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Delivery {
    /// When the chips arrive (before any policy delay).
    pub at: SimTime,
    /// How many chips.
    pub chips: u64,
}

/// A steady supply of chips, delivered in daily lots between two instants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Supply {
    /// Chips per year at full rate (before supply shocks).
    pub chips_per_year: f64,
    /// First delivery.
    pub from: SimTime,
    /// No lots at or after this instant: 00:00 on the day after the scenario's `until` (the last
    /// day of supply), or the end of the horizon.
    pub until: SimTime,
}

/// How a domestic cloud buys its supply line's output: by what its renters use (see
/// `model/sim/clouds.rs`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Buying {
    /// Its first review judges the time from here; until then it buys every lot (history).
    pub from: SimTime,
    /// Between reviews.
    pub every: SimDuration,
    /// It buys until its next review when its chips were in use (held by renters' work or
    /// reserved as blocks) at least this share of the time since its last one.
    pub busy_above: f64,
}

/// A site in the world.
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    /// Scenario name, e.g. `johor-h100`.
    pub name: String,
    /// ISO country code of the site, e.g. `MY`.
    pub jurisdiction: String,
    /// Domestic or foreign operator.
    pub operator: Operator,
    /// The one chip type installed here.
    pub chip: ChipId,
    /// How chip-hours are priced.
    pub pricing: Pricing,
    /// Electricity, USD per kWh.
    pub electricity_usd_per_kwh: f64,
    /// Power usage effectiveness (>= 1).
    pub pue: f64,
    /// Mean time between failures of one chip, hours.
    pub mtbf_hours: f64,
    /// Time a failed chip is out of service, hours.
    pub repair_hours: f64,
    /// Facility power cap, MW (chips beyond it are not installed), if any.
    pub power_cap_mw: Option<f64>,
    /// Whether inference batches have priority over training for free chips.
    pub inference_priority: bool,
    /// Chips already installed at the start (a stockpile), not subject to delivery rules.
    pub initial_chips: u64,
    /// Dated deliveries.
    pub deliveries: Vec<Delivery>,
    /// Steady supply, if any.
    pub supply: Option<Supply>,
    /// How a domestic cloud buys its supply (by what its renters use), if it decides; without
    /// it, the cloud takes every lot.
    pub buying: Option<Buying>,
    /// How its owner buys more chips from abroad (import or grey market), if it may.
    pub procurement: Option<super::procurement::Procurement>,
    /// The lease index by date (leased and contracted sites), in order of date.
    pub lease_prices: Vec<LeasePrice>,
}

impl Site {
    /// The lease index at `t`: the last dated price at or before `t`, else the base price (0 for
    /// owned sites).
    pub fn lease_index(&self, t: SimTime) -> f64 {
        let base = match self.pricing {
            Pricing::Lease {
                usd_per_chip_hour, ..
            }
            | Pricing::Contract {
                usd_per_chip_hour, ..
            } => usd_per_chip_hour,
            Pricing::Owned { .. } => 0.0,
        };
        let i = self.lease_prices.partition_point(|p| p.from <= t);
        if i == 0 {
            base
        } else {
            self.lease_prices[i - 1].usd_per_chip_hour
        }
    }
}
