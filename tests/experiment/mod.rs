//! Experiments: byte-identical results on any number of threads, sweeps and their shards, and
//! per-point outputs.

mod determinism;
mod periods;
mod points;
mod sweep;
