//! The integration tests, compiled into one binary, one module per layer of capsim:
//!
//! - `engine`: the discrete-event core against queueing theory, its ordering and determinism
//!   contracts, and pinned random draws (value stability);
//! - `scenario`: the loader as a user meets it, and every shipped scenario;
//! - `model`: the world model's behaviour, rule by rule and strategy by strategy, and its calibration
//!   against published training runs;
//! - `experiment`: replications and sweeps (determinism across threads, shards, points);
//! - `report`: the report page and comparison table against golden files;
//! - `cli`: the command line as a user meets it.
//!
//! `support` holds what they share: scratch folders, the binary, and the `WorldBuilder` for small
//! test worlds.

mod support;

mod cli;
mod engine;
mod experiment;
mod model;
mod report;
mod scenario;
