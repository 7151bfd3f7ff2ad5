//! The integration tests, compiled into one binary: the engine checked against queueing theory and its own contracts.

mod engine;
mod value_stability;
