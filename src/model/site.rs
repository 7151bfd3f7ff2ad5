//! Data-centre sites: where chips are, who runs them, what an hour on them costs.

use crate::engine::SimTime;

use super::chip::ChipId;

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

/// How chip-hours at a site are priced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pricing {
    /// Leased capacity: users pay per busy chip-hour; electricity is included in the price.
    Lease {
        /// USD per chip-hour.
        usd_per_chip_hour: f64,
    },
    /// Owned chips: the purchase price is amortised over every online chip-hour, busy or idle;
    /// electricity is paid on top for busy chips.
    Owned {
        /// Years over which the purchase price is written off.
        amortisation_years: f64,
    },
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
}
