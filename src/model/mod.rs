//! The world capsim simulates: chips, sites, firms, workloads, the policy timeline, and the
//! simulation that sends jobs through them.
//!
//! This layer does no I/O and no printing. It is built from validated types only: the scenario layer
//! turns files into a [`World`], and everything here may assume the world is well-formed (finite,
//! non-negative quantities; references that resolve).

pub mod chip;
pub mod firm;
pub mod market;
pub mod policy;
pub mod procurement;
pub mod sim;
pub mod site;
pub mod workload;

pub use chip::{Chip, ChipId};
pub use firm::{Firm, FirmId, PlacementStrategy};
pub use market::{order_sites, CapacityStep, Market, MarketId, Planning};
pub use policy::{Phase, Policy, Rule, RuleKind, Timeline};
pub use procurement::{purchase_factor, site_channel, Channel, Procurement};
pub use site::{Buying, Delivery, LeasePrice, Operator, Pricing, Site, SiteId, Supply};
pub use workload::{
    Arrivals, BatchWorkload, InferenceWorkload, JobKind, Quantity, Workload, WorkloadKind,
    LOGNORMAL_REACH,
};

use crate::engine::{SimDuration, SimTime};

/// A model-level validation failure (a constructor refused a value).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ModelError {
    /// What is wrong.
    pub message: String,
}

impl ModelError {
    /// A new error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ModelError {
            message: message.into(),
        }
    }
}

/// A validated world: everything a simulation needs, with times already in simulation seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    /// The end of the horizon (the start is time zero).
    pub horizon: SimTime,
    /// Chip types.
    pub chips: Vec<Chip>,
    /// Sites.
    pub sites: Vec<Site>,
    /// Firms.
    pub firms: Vec<Firm>,
    /// Offshore lease markets (capacity that firms' decisions lease).
    pub markets: Vec<Market>,
    /// The policy timeline.
    pub timeline: Timeline,
}

impl World {
    /// The chip installed at a site.
    pub fn site_chip(&self, site: SiteId) -> &Chip {
        &self.chips[self.sites[site.0 as usize].chip.0 as usize]
    }

    /// The same world with `k` times the work: every batch workload's arrival rate and every
    /// inference demand multiplied by `k` (gaps divided by `k`; listed dates are kept). Sites,
    /// chips and rules are unchanged. For load studies and the scaling benchmark
    /// (`cargo bench -- load`).
    pub fn with_load_scaled(&self, k: f64) -> World {
        assert!(
            k > 0.0 && k.is_finite(),
            "load factor must be positive, got {k}"
        );
        let mut w = self.clone();
        for firm in &mut w.firms {
            for wl in &mut firm.workloads {
                match &mut wl.kind {
                    WorkloadKind::Batch(b) => match &mut b.arrivals {
                        Arrivals::Every(d) => {
                            *d = SimDuration::from_secs_f64(d.as_secs_f64() / k).max(SimDuration(1))
                        }
                        Arrivals::Poisson { mean_gap } => {
                            *mean_gap = SimDuration::from_secs_f64(mean_gap.as_secs_f64() / k)
                                .max(SimDuration(1))
                        }
                        Arrivals::At(_) => {}
                    },
                    WorkloadKind::Inference(inf) => inf.tokens_per_day *= k,
                }
            }
        }
        w
    }

    /// A chip by name.
    pub fn chip_by_name(&self, name: &str) -> Option<ChipId> {
        self.chips
            .iter()
            .position(|c| c.name == name)
            .map(|i| ChipId(i as u32))
    }
}
pub use sim::run_replication;
