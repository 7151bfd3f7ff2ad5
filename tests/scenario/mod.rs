//! The scenario layer: every shipped scenario loads and runs, the test-world builder goes through
//! the real loader (its errors included), and a scenario split over files with `include` loads and
//! runs as the single file.

mod builder;
mod checks;
mod include;
mod limits;
mod schema;
mod shipped;
