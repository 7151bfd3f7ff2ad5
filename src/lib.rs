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

pub mod engine;
