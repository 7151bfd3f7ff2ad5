//! `manifest.json`: what was run, with which inputs, by which binary.

use serde::{Deserialize, Serialize};

use crate::metrics::JobLedger;

/// The manifest of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: String,
    /// SHA-256 over the scenario's files (child first).
    pub content_hash: String,
    /// The scenario files, child first.
    pub files: Vec<String>,
    /// Fields set on top of the files (`capsim run --set`, or a sweep point), as `path = value`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// Master seed.
    pub seed: u64,
    /// Number of replications.
    pub replications: u64,
    /// Reporting period.
    pub period: String,
    /// First and last day of the horizon.
    pub start_date: String,
    /// Last day of the horizon (inclusive).
    pub end_date: String,
    /// capsim version.
    pub capsim_version: String,
    /// Wall-clock time of the simulation, seconds.
    pub wall_time_s: f64,
    /// Events handled, all replications together.
    pub events: u64,
    /// Job ledger summed over replications.
    pub jobs: Ledger,
    /// The sites, in world order.
    pub sites: Vec<SiteEntry>,
    /// The firms, in world order.
    pub firms: Vec<FirmEntry>,
    /// The policy timeline, in scenario order.
    pub policies: Vec<PolicyEntry>,
}

/// A site as listed in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiteEntry {
    /// Site name.
    pub name: String,
    /// Jurisdiction (ISO code).
    pub jurisdiction: String,
    /// `domestic` or `foreign`.
    pub operator: String,
    /// Chip type.
    pub chip: String,
}

/// A firm as listed in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FirmEntry {
    /// Firm name.
    pub name: String,
    /// Home jurisdiction.
    pub headquarters: String,
}

/// A rule of the timeline as listed in the manifest (dates as the scenario wrote them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyEntry {
    /// Rule name.
    pub name: String,
    /// Rule kind (`export_ban`, `lease_ban`, ...).
    pub rule: String,
    /// A one-line description of what it does.
    pub summary: String,
    /// In force from (ISO date).
    pub from: String,
    /// Out of force from (ISO date), if ever.
    pub until: Option<String>,
    /// Where the rule comes from.
    pub source: Option<String>,
}

/// The job ledger in the manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Jobs generated.
    pub arrived: u64,
    /// Jobs finished.
    pub completed: u64,
    /// Jobs running at the end.
    pub running: u64,
    /// Jobs queued at the end.
    pub queued: u64,
    /// Jobs blocked at the end.
    pub blocked: u64,
}

impl Ledger {
    /// Adds one replication's ledger.
    pub fn add(&mut self, l: &JobLedger) {
        self.arrived += l.arrived;
        self.completed += l.completed;
        self.running += l.running;
        self.queued += l.queued;
        self.blocked += l.blocked;
    }
}

/// The manifest as pretty JSON bytes.
pub fn to_json(m: &Manifest) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(m).expect("a manifest always serialises");
    v.push(b'\n');
    v
}
