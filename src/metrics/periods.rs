//! Calendar-aligned reporting periods (day, week, month, quarter, year) mapped onto simulation
//! time.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

use crate::engine::{SimTime, SECS_PER_DAY};

/// The length of a reporting period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PeriodKind {
    /// Calendar days.
    Day,
    /// ISO weeks (Monday to Sunday); the first and last may be partial.
    Week,
    /// Calendar months; the first and last may be partial.
    #[default]
    Month,
    /// Calendar quarters (January, April, July, October); the first and last may be partial.
    Quarter,
    /// Calendar years; the first and last may be partial.
    Year,
}

impl PeriodKind {
    /// Name as written on the command line and in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Day => "day",
            PeriodKind::Week => "week",
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
            PeriodKind::Year => "year",
        }
    }

    /// The kind [`PeriodKind::as_str`] names (`day`, `week`, `month`, `quarter`, `year`).
    pub fn parse(s: &str) -> Option<PeriodKind> {
        [
            PeriodKind::Day,
            PeriodKind::Week,
            PeriodKind::Month,
            PeriodKind::Quarter,
            PeriodKind::Year,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether every period of this kind lies inside one period of `coarser` (so that periods of
    /// this kind add up to periods of `coarser`): days nest in every kind, months in quarters and
    /// years, quarters in years, every kind in itself; weeks only in weeks (an ISO week can
    /// straddle two months, quarters or years).
    pub fn nests_in(self, coarser: PeriodKind) -> bool {
        use PeriodKind::*;
        matches!(
            (self, coarser),
            (Day, _) | (Month, Month | Quarter | Year) | (Quarter, Quarter | Year) | (Year, Year)
        ) || (self == Week && coarser == Week)
    }

    /// Whether a period of this kind starting on `start` and `days` long covers its whole calendar
    /// day, week (Monday to Sunday), month, quarter or year (so a reader of outputs can tell, from
    /// a period's start and `period_days`, what [`Periods::is_full`] says).
    pub fn is_full(self, start: NaiveDate, days: u32) -> bool {
        match self {
            PeriodKind::Day => days == 1,
            PeriodKind::Week => start.weekday() == Weekday::Mon && days == 7,
            PeriodKind::Month | PeriodKind::Quarter | PeriodKind::Year => {
                let first = self.calendar_start(start) == Some(start);
                let next = self.next_start(start);
                first && next.is_some_and(|n| (n - start).num_days() == i64::from(days))
            }
        }
    }

    /// The first day of the calendar month, quarter or year holding `d` (None for days and
    /// weeks).
    fn calendar_start(self, d: NaiveDate) -> Option<NaiveDate> {
        let month = match self {
            PeriodKind::Day | PeriodKind::Week => return None,
            PeriodKind::Month => d.month(),
            PeriodKind::Quarter => (d.month() - 1) / 3 * 3 + 1,
            PeriodKind::Year => 1,
        };
        NaiveDate::from_ymd_opt(d.year(), month, 1)
    }

    /// The first day of the period after the one holding `d`.
    fn next_start(self, d: NaiveDate) -> Option<NaiveDate> {
        match self {
            PeriodKind::Day => d.checked_add_days(Days::new(1)),
            PeriodKind::Week => {
                let to_monday = 7 - u64::from(d.weekday().num_days_from_monday());
                d.checked_add_days(Days::new(to_monday))
            }
            PeriodKind::Month => self.calendar_start(d)?.checked_add_months(Months::new(1)),
            PeriodKind::Quarter => self.calendar_start(d)?.checked_add_months(Months::new(3)),
            PeriodKind::Year => self.calendar_start(d)?.checked_add_months(Months::new(12)),
        }
    }
}

/// The periods of one run: `bounds[i]..bounds[i + 1]` is period `i`, labelled by `starts[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Periods {
    /// Kind of period.
    pub kind: PeriodKind,
    /// First calendar day of each period (the first may be the scenario start mid-month).
    pub starts: Vec<NaiveDate>,
    /// Period boundaries in simulation time; one more than `starts`. The last is the horizon.
    pub bounds: Vec<SimTime>,
}

impl Periods {
    /// Periods covering `start ..= end` (whole days), aligned to the calendar.
    pub fn new(start: NaiveDate, end_inclusive: NaiveDate, kind: PeriodKind) -> Periods {
        let stop = end_inclusive
            .checked_add_days(Days::new(1))
            .expect("end date within chrono's range");
        let mut starts = vec![start];
        let mut d = start;
        loop {
            let next = kind.next_start(d).expect("date within chrono's range");
            if next >= stop {
                break;
            }
            debug_assert!(kind != PeriodKind::Week || next.weekday() == Weekday::Mon);
            starts.push(next);
            d = next;
        }
        let secs = |x: NaiveDate| SimTime((x - start).num_days() as u64 * SECS_PER_DAY);
        let mut bounds: Vec<SimTime> = starts.iter().map(|&x| secs(x)).collect();
        bounds.push(secs(stop));
        Periods {
            kind,
            starts,
            bounds,
        }
    }

    /// Number of periods.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// True if there are no periods (never for a valid horizon).
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The end of the last period.
    pub fn horizon(&self) -> SimTime {
        *self.bounds.last().expect("at least one bound")
    }

    /// Index of the period holding `t` (the last period for `t` at or after the horizon).
    #[inline]
    pub fn index(&self, t: SimTime) -> usize {
        let i = self.bounds.partition_point(|&b| b <= t);
        i.saturating_sub(1).min(self.len() - 1)
    }

    /// Length of period `p` in days (whole days: periods are made of calendar days).
    pub fn days(&self, p: usize) -> f64 {
        (self.bounds[p + 1].0 - self.bounds[p].0) as f64 / SECS_PER_DAY as f64
    }

    /// Whether period `p` covers its whole calendar day, week (Monday to Sunday) or month; the
    /// first and last periods of a horizon may be partial.
    pub fn is_full(&self, p: usize) -> bool {
        self.kind.is_full(self.starts[p], self.days(p) as u32)
    }

    /// Calls `f(period, seconds)` for each period overlapped by `[t0, t1)`.
    #[inline]
    pub fn split(&self, t0: SimTime, t1: SimTime, mut f: impl FnMut(usize, f64)) {
        if t1 <= t0 {
            return;
        }
        let mut i = self.index(t0);
        let mut a = t0;
        loop {
            let b = if i + 1 < self.len() {
                t1.min(self.bounds[i + 1])
            } else {
                t1
            };
            if b > a {
                f(i, (b.0 - a.0) as f64);
            }
            if b >= t1 || i + 1 >= self.len() {
                break;
            }
            a = b;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// Periods nest where, for every horizon, each finer period lies inside one coarser period.
    #[test]
    fn nesting_is_what_the_calendar_gives() {
        let kinds = [
            PeriodKind::Day,
            PeriodKind::Week,
            PeriodKind::Month,
            PeriodKind::Quarter,
            PeriodKind::Year,
        ];
        let (start, end) = (d(2024, 12, 20), d(2027, 2, 10));
        for fine in kinds {
            for coarse in kinds {
                let f = Periods::new(start, end, fine);
                let c = Periods::new(start, end, coarse);
                let inside = (0..f.len()).all(|i| {
                    let k = c.index(f.bounds[i]);
                    f.bounds[i + 1] <= c.bounds[k + 1]
                });
                assert_eq!(fine.nests_in(coarse), inside, "{fine:?} in {coarse:?}");
            }
        }
    }

    #[test]
    fn months_are_calendar_aligned() {
        let p = Periods::new(d(2025, 1, 15), d(2025, 3, 31), PeriodKind::Month);
        assert_eq!(p.starts, vec![d(2025, 1, 15), d(2025, 2, 1), d(2025, 3, 1)]);
        assert_eq!(p.bounds[1].0, 17 * 86_400);
        assert_eq!(p.horizon().0, 76 * 86_400);
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2025-01-01 is a Wednesday.
        let p = Periods::new(d(2025, 1, 1), d(2025, 1, 20), PeriodKind::Week);
        assert_eq!(
            p.starts,
            vec![d(2025, 1, 1), d(2025, 1, 6), d(2025, 1, 13), d(2025, 1, 20)]
        );
    }

    #[test]
    fn partial_periods_are_known() {
        let w = Periods::new(d(2025, 1, 1), d(2025, 1, 24), PeriodKind::Week);
        assert_eq!(w.days(0), 5.0);
        assert!(!w.is_full(0));
        assert!(w.is_full(1) && w.is_full(2));
        assert_eq!(w.days(3), 5.0);
        assert!(!w.is_full(3));
        let m = Periods::new(d(2025, 1, 15), d(2025, 3, 31), PeriodKind::Month);
        assert!(!m.is_full(0));
        assert!(m.is_full(1) && m.is_full(2));
        assert_eq!(m.days(1), 28.0);
    }

    #[test]
    fn quarters_and_years_are_calendar_aligned_and_may_be_partial() {
        let q = Periods::new(d(2024, 2, 10), d(2025, 5, 31), PeriodKind::Quarter);
        assert_eq!(
            q.starts,
            vec![
                d(2024, 2, 10),
                d(2024, 4, 1),
                d(2024, 7, 1),
                d(2024, 10, 1),
                d(2025, 1, 1),
                d(2025, 4, 1)
            ]
        );
        assert!(!q.is_full(0) && !q.is_full(5));
        assert!((1..5).all(|p| q.is_full(p)));
        assert_eq!(q.days(1), 91.0);
        assert_eq!(q.days(4), 90.0);
        assert_eq!(q.days(5), 61.0);
        let y = Periods::new(d(2024, 1, 1), d(2026, 6, 30), PeriodKind::Year);
        assert_eq!(y.starts, vec![d(2024, 1, 1), d(2025, 1, 1), d(2026, 1, 1)]);
        assert_eq!((y.days(0), y.days(1), y.days(2)), (366.0, 365.0, 181.0));
        assert!(y.is_full(0) && y.is_full(1) && !y.is_full(2));
        assert!(PeriodKind::Year.is_full(d(2025, 1, 1), 365));
        assert!(!PeriodKind::Quarter.is_full(d(2025, 2, 1), 90));
        for k in ["day", "week", "month", "quarter", "year"] {
            assert_eq!(PeriodKind::parse(k).map(PeriodKind::as_str), Some(k));
        }
    }

    #[test]
    fn split_covers_the_interval_exactly() {
        let p = Periods::new(d(2025, 1, 1), d(2025, 12, 31), PeriodKind::Month);
        let mut total = 0.0;
        let mut seen = vec![];
        p.split(SimTime(20 * 86_400), SimTime(70 * 86_400), |i, s| {
            seen.push(i);
            total += s;
        });
        assert_eq!(seen, vec![0, 1, 2]);
        assert_eq!(total, 50.0 * 86_400.0);
        assert_eq!(p.index(SimTime(31 * 86_400)), 1);
        assert_eq!(p.index(SimTime(31 * 86_400 - 1)), 0);
    }
}
