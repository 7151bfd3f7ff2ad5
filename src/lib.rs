//! # capsim
//!
//! A discrete-event capacity simulator for AI compute under export controls. An analyst writes a
//! scenario (chips, sites, firms, workloads and a dated policy timeline), runs it, and gets
//! throughput and cost curves with uncertainty bands from Monte Carlo replications.
//!
//! ## Layers
//!
//! Each module depends only on those listed before it:
//!
//! - [`engine`]: the domain-free core: [`engine::SimTime`], the event queue, the run loop, random
//!   streams.
//! - [`metrics`]: calendar periods and streaming accumulators the model writes into (bounded by
//!   periods x series, not by events); statistics across replications. It sits before the model,
//!   which records into it, and knows nothing of chips or rules.
//! - [`model`]: the world (chips, sites, firms, workloads, the policy timeline) and the simulation of
//!   one replication. No I/O.
//! - [`scenario`]: TOML files to a validated [`model::World`]; errors with file, line, column and
//!   field path.
//! - [`experiment`]: replications in parallel (rayon), gathered in a fixed order; it also sizes
//!   the pool that draws charts in parallel ([`report::charts`], one chart per task).
//! - [`report`]: CSV, JSON and output folders; pure exporters plus one place that writes files.
//! - [`api`]: what `run`, `sweep` and `compare` do, as calls: the command line and the Python
//!   package (`python/`) both use it.
//! - `cli` (in the binary): the clap commands, over [`api`].
//!
//! ## Ordering guarantee
//!
//! Events are handled in non-decreasing time; events at equal times in the order they were scheduled.
//! See [`engine`] for the full statement.
//!
//! ## Determinism contract
//!
//! Same scenario, seed and binary: byte-identical outputs, whatever the thread count. Every random
//! draw comes from a stream derived from `(seed, replication, stream name)` by a fixed function
//! ([`engine::rng`]) with a generator whose output is specified (PCG64).

pub mod api;
pub mod engine;
pub mod experiment;
pub mod metrics;
pub mod model;
pub mod report;
pub mod scenario;
#[cfg(feature = "serve")]
pub mod serve;

/// mimalloc keeps freed memory for reuse, so a run's job tables (tens of MB at high load) are not
/// faulted in afresh by every replication, and threads allocate without contention: at k = 100 times
/// the baseline's work a replication runs about 20% faster than with the system allocator (README,
/// "The simulation under load"). Outputs do not depend on it (nothing reads an address). The fuzz
/// targets keep the system allocator, which libFuzzer's memory limits hook into.
#[cfg(not(fuzzing))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
