//! Simulated time: integer seconds in newtypes, so that event order never depends on float rounding.
//!
//! `SimTime` is an instant (seconds since the start of a run); `SimDuration` is a span. Floats appear
//! only at the edges (`from_hours_f64`, `as_hours_f64`), where they are rounded once, to the nearest second.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Seconds in one hour.
pub const SECS_PER_HOUR: u64 = 3_600;
/// Seconds in one day.
pub const SECS_PER_DAY: u64 = 86_400;

/// An instant of simulated time: whole seconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time in whole seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The latest representable instant; used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Seconds since the start of the run.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// Hours since the start of the run, as a float (for reporting only).
    pub fn as_hours_f64(self) -> f64 {
        self.0 as f64 / SECS_PER_HOUR as f64
    }

    /// The span from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at [`SimTime::MAX`] instead of overflowing.
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A span of whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s)
    }
    /// A span of whole hours.
    pub const fn from_hours(h: u64) -> Self {
        SimDuration(h * SECS_PER_HOUR)
    }
    /// A span of whole days.
    pub const fn from_days(d: u64) -> Self {
        SimDuration(d * SECS_PER_DAY)
    }
    /// A span given in seconds as a float, rounded to the nearest second.
    /// Negative or NaN inputs give zero; values beyond `u64` saturate.
    pub fn from_secs_f64(s: f64) -> Self {
        if s.is_nan() || s <= 0.0 {
            SimDuration(0)
        } else {
            // `as` saturates for floats beyond the integer range.
            SimDuration(s.round() as u64)
        }
    }
    /// A span given in hours as a float, rounded to the nearest second.
    pub fn from_hours_f64(h: f64) -> Self {
        Self::from_secs_f64(h * SECS_PER_HOUR as f64)
    }
    /// A span given in days as a float, rounded to the nearest second.
    pub fn from_days_f64(d: f64) -> Self {
        Self::from_secs_f64(d * SECS_PER_DAY as f64)
    }
    /// Whole seconds.
    pub const fn as_secs(self) -> u64 {
        self.0
    }
    /// Seconds as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64
    }
    /// Hours as a float.
    pub fn as_hours_f64(self) -> f64 {
        self.0 as f64 / SECS_PER_HOUR as f64
    }
    /// Days as a float.
    pub fn as_days_f64(self) -> f64 {
        self.0 as f64 / SECS_PER_DAY as f64
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(
            self.0
                .checked_add(d.0)
                .unwrap_or_else(|| panic!("SimTime overflow: {} s + {} s", self.0, d.0)),
        )
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// The span between two instants. Panics if `rhs` is later than `self` (a broken invariant).
    fn sub(self, rhs: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(rhs.0)
                .unwrap_or_else(|| panic!("negative span: {} s - {} s", self.0, rhs.0)),
        )
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}s", self.0)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_to_the_second() {
        assert_eq!(SimDuration::from_hours(2).as_secs(), 7_200);
        assert_eq!(SimDuration::from_days(1).as_secs(), 86_400);
        assert_eq!(SimDuration::from_hours_f64(0.5).as_secs(), 1_800);
        assert_eq!(SimDuration::from_days_f64(1.5).as_secs(), 129_600);
        assert_eq!(SimDuration::from_secs_f64(1.4999).as_secs(), 1);
        assert_eq!(SimDuration::from_secs_f64(-3.0).as_secs(), 0);
        assert_eq!(SimDuration::from_secs_f64(f64::NAN).as_secs(), 0);
        assert_eq!(SimDuration::from_secs_f64(1e300).as_secs(), u64::MAX);
    }

    #[test]
    fn arithmetic() {
        let t = SimTime(10) + SimDuration::from_secs(5);
        assert_eq!(t, SimTime(15));
        assert_eq!(t - SimTime(10), SimDuration(5));
        assert_eq!(SimTime(3).saturating_since(SimTime(10)), SimDuration::ZERO);
        assert_eq!(SimTime::MAX.saturating_add(SimDuration(1)), SimTime::MAX);
    }
}
