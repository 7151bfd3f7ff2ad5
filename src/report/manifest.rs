//! `manifest.json`: what was run, with which inputs, by which binary.

use serde::Serialize;

use crate::metrics::JobLedger;

/// The manifest of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: String,
    /// SHA-256 over the scenario's files (child first).
    pub content_hash: String,
    /// The scenario files, child first.
    pub files: Vec<String>,
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
}

/// The job ledger in the manifest.
#[derive(Clone, Debug, Default, Serialize)]
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
