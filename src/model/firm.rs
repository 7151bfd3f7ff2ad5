//! Firms: who needs compute, where they may get it, and how they choose.

use super::market::Planning;
use super::site::SiteId;
use super::workload::Workload;

/// Index of a firm in [`crate::model::World::firms`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FirmId(pub u32);

/// How a firm picks a site among those allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacementStrategy {
    /// Lowest expected cost of the job.
    Cheapest,
    /// Earliest expected finish (queue ahead plus run time).
    EarliestFinish,
    /// Cheapest site at home if any can take the job, else the cheapest abroad.
    HomeFirst,
}

/// A firm in the world.
#[derive(Clone, Debug, PartialEq)]
pub struct Firm {
    /// Scenario name, e.g. `bytedance`.
    pub name: String,
    /// ISO country code of the headquarters: the firm's home jurisdiction.
    pub headquarters: String,
    /// Sites the firm may use, in the scenario's order.
    pub sites: Vec<SiteId>,
    /// How it chooses among them.
    pub placement: PlacementStrategy,
    /// Its job generators.
    pub workloads: Vec<Workload>,
    /// How it reviews its capacity and leases more, if it does (its market sites stay empty
    /// otherwise, but for what they list as history).
    pub planning: Option<Planning>,
}
