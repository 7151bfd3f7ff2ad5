//! The scenario layer: every shipped scenario loads and runs, and the test-world builder goes
//! through the real loader (its errors included).

mod builder;
mod checks;
mod limits;
mod shipped;
