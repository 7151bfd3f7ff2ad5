//! The world capsim simulates: chips, sites, firms, workloads, the policy timeline, and the
//! simulation that sends jobs through them.
//!
//! This layer does no I/O and no printing. It is built from validated types only: the scenario layer
//! turns files into a [`World`], and everything here may assume the world is well-formed (finite,
//! non-negative quantities; references that resolve).

pub mod chip;
pub mod firm;
pub mod policy;
pub mod sim;
pub mod site;
pub mod workload;

pub use chip::{Chip, ChipId};
pub use firm::{Firm, FirmId, PlacementStrategy};
pub use policy::{Phase, Policy, Rule, RuleKind, Timeline};
pub use site::{Delivery, Operator, Pricing, Site, SiteId, Supply};
pub use workload::{
    Arrivals, BatchWorkload, InferenceWorkload, JobKind, Quantity, Workload, WorkloadKind,
};

use crate::engine::SimTime;

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
    /// The policy timeline.
    pub timeline: Timeline,
}

impl World {
    /// The chip installed at a site.
    pub fn site_chip(&self, site: SiteId) -> &Chip {
        &self.chips[self.sites[site.0 as usize].chip.0 as usize]
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
