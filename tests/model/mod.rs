//! The world model checked end to end through the public API: each rule, placement strategy and
//! scheduling feature on a small world against a control run without it, and calibration against
//! published training runs.

mod allocation;
mod calibration;
mod channels;
mod cloud_buying;
mod clouds;
mod costs;
mod leasing;
mod placement;
mod policies;
mod regressions;
mod rules;
mod scheduling;
