//! The integration tests, compiled into one binary: the engine against queueing theory, the model
//! against published runs and its policy rules, the command line as a user meets it.

mod engine;
mod model;
mod value_stability;
