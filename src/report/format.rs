//! Numbers as a reader sees them: the one formatter of `report.html`'s tables and the charts' axes,
//! so that a number reads the same in a table and on an axis (`153T`, `$2.1B`, `45.7%` in both).
//!
//! The convention: three significant digits at most, trailing zeros dropped, and a suffix for
//! thousands (`k`), millions (`M`), billions (`B`) and trillions (`T`), written without a space;
//! dollars with a leading `$` (`-$2.5M` below zero); shares as percentages of the same three
//! digits (`0.4567` is `45.7%`). A thousand trillion or more is written in scientific notation
//! with the same three digits (`7.62e17`). Not finite: `n/a`.
//!
//! CSVs are machine data and keep their full round-trip precision (`csv::number`); nothing here
//! reaches them.

/// How a number is written for a reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A count or quantity: `12.5k`, `3M`, `180T`.
    Plain,
    /// US dollars: `$2.5M`, `$0.04`, `-$1.2k`.
    Usd,
    /// A fraction written as a percentage: 0.05 is `5%`.
    Percent,
}

impl Unit {
    /// The way to write a value of the metric catalog's `unit` (`share`: a percentage, `USD`:
    /// dollars, any other: plain).
    pub fn of(unit: &str) -> Unit {
        match unit {
            "share" => Unit::Percent,
            "USD" => Unit::Usd,
            _ => Unit::Plain,
        }
    }

    /// `v` for a reader (see [the module docs](self)).
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Plain => number(v),
            Unit::Usd if v < 0.0 => format!("-${}", number(-v)),
            Unit::Usd => format!("${}", number(v)),
            Unit::Percent => format!("{}%", number(v * 100.0)),
        }
    }

    /// Tick labels of an axis: like [`Unit::format`], but ticks with the same suffix get the same
    /// number of decimals (`$0.05, $0.10, $0.15`, not `$0.05, $0.1, $0.15`). A tick alone, or
    /// ticks that need no decimals, read as [`Unit::format`] writes them.
    pub fn format_ticks(self, ticks: &[f64]) -> Vec<String> {
        let value = |t: f64| if self == Unit::Percent { t * 100.0 } else { t };
        let parts: Vec<(f64, String)> = ticks
            .iter()
            .map(|&t| {
                if t == 0.0 {
                    (0.0, String::new())
                } else {
                    scaled(value(t))
                }
            })
            .collect();
        parts
            .iter()
            .map(|(x, suffix)| {
                let x = *x;
                let d = parts
                    .iter()
                    .filter(|p| p.1 == *suffix && p.0 != 0.0)
                    .map(|p| decimals_of(p.0))
                    .max()
                    .unwrap_or(0);
                let d = if x == 0.0 { 0 } else { d };
                let n = format!("{x:.d$}");
                match self {
                    Unit::Plain => format!("{n}{suffix}"),
                    Unit::Usd if x < 0.0 => format!("-${}{suffix}", &n[1..]),
                    Unit::Usd => format!("${n}{suffix}"),
                    Unit::Percent => format!("{n}{suffix}%"),
                }
            })
            .collect()
    }
}

/// A number in readable units: three significant digits at most, trailing zeros dropped, and a
/// suffix for thousands (k), millions (M), billions (B) and trillions (T). Not finite: `n/a`.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v.abs() < 1e-12 {
        return "0".into();
    }
    let (x, suffix) = scaled(v);
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).clamp(0, 6) as usize;
    format!("{}{suffix}", trim_zeros(format!("{x:.decimals$}")))
}

/// `v` divided by its thousands power, with the suffix: k, M, B (billion) or T (trillion); from a
/// thousand trillion, by its power of ten, with the exponent as the suffix (`e17`).
fn scaled(v: f64) -> (f64, String) {
    let a = v.abs();
    if a >= 1e15 * 0.9995 {
        // Rounded to three digits by the formatter, mantissa and exponent both, so that 9.996e16
        // is 1e17, not 10e16 (a division by a power of ten, inexact from 1e23, could round the
        // other way).
        let text = format!("{v:.2e}");
        if let Some((m, e)) = text.split_once('e') {
            if let (Ok(m), Ok(e)) = (m.parse::<f64>(), e.parse::<i32>()) {
                return (m, format!("e{e}"));
            }
        }
    }
    let (div, suffix) = if a >= 1e12 * 0.9995 {
        (1e12, "T")
    } else if a >= 1e9 * 0.9995 {
        (1e9, "B")
    } else if a >= 1e6 * 0.9995 {
        (1e6, "M")
    } else if a >= 1e3 * 0.9995 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    (v / div, suffix.to_string())
}

fn trim_zeros(mut s: String) -> String {
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// Decimals needed to write `x` exactly (up to 6).
fn decimals_of(x: f64) -> usize {
    (0..6)
        .find(|&d| {
            let m = x * 10f64.powi(d as i32);
            (m - m.round()).abs() < 1e-6 * m.abs().max(1.0)
        })
        .unwrap_or(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let cases = [
            (0.0, "0"),
            (5.0, "5"),
            (12.5, "12.5"),
            (42.25, "42.2"),
            (150.0, "150"),
            (999.0, "999"),
            (999.6, "1k"),
            (1000.0, "1k"),
            (1234.0, "1.23k"),
            (2500.0, "2.5k"),
            (20_000.0, "20k"),
            (125_000.0, "125k"),
            (999_999.0, "1M"),
            (3_000_000.0, "3M"),
            (7.5e9, "7.5B"),
            (1.53e14, "153T"),
            (9.99e14, "999T"),
            (1.5e15, "1.5e15"),
            (7.61504e17, "7.62e17"),
            (9.9996e16, "1e17"),
            (-3.2e18, "-3.2e18"),
            (9.995e24, "1e25"),
            (9.9951e23, "1e24"),
            (1.234e25, "1.23e25"),
            (0.0421, "0.0421"),
            (0.05, "0.05"),
            (0.30000000000000004, "0.3"),
            (-2500.0, "-2.5k"),
            (-999.7, "-1k"),
            (f64::NAN, "n/a"),
        ];
        for (v, want) in cases {
            assert_eq!(number(v), want, "{v}");
        }
        assert_eq!(Unit::Usd.format(2.5e6), "$2.5M");
        assert_eq!(Unit::Usd.format(-2.5e6), "-$2.5M");
        assert_eq!(Unit::Percent.format(0.05), "5%");
        assert_eq!(Unit::Percent.format(0.025), "2.5%");
        assert_eq!(Unit::Percent.format(0.4567), "45.7%");
        assert_eq!(Unit::of("share"), Unit::Percent);
        assert_eq!(Unit::of("USD"), Unit::Usd);
        assert_eq!(Unit::of("PFLOP-days"), Unit::Plain);
    }

    #[test]
    fn ticks_past_a_thousand_trillion_are_scientific() {
        assert_eq!(
            Unit::Plain.format_ticks(&[0.0, 1e15, 2e15, 3e15]),
            ["0", "1e15", "2e15", "3e15"]
        );
        assert_eq!(
            Unit::Plain.format_ticks(&[2.5e17, 5e17, 7.5e17]),
            ["2.5e17", "5.0e17", "7.5e17"]
        );
    }

    #[test]
    fn ticks_share_decimals() {
        assert_eq!(
            Unit::Usd.format_ticks(&[0.0, 0.05, 0.1, 0.15]),
            ["$0", "$0.05", "$0.10", "$0.15"]
        );
        assert_eq!(
            Unit::Usd.format_ticks(&[-1e6, 0.0, 1e6]),
            ["-$1M", "$0", "$1M"]
        );
        assert_eq!(
            Unit::Plain.format_ticks(&[0.0, 500e3, 1e6, 1.5e6]),
            ["0", "500k", "1.0M", "1.5M"]
        );
        assert_eq!(
            Unit::Percent.format_ticks(&[0.0, 0.002, 0.004]),
            ["0%", "0.2%", "0.4%"]
        );
    }

    /// A tick alone reads as the value does anywhere else.
    #[test]
    fn a_tick_alone_reads_as_the_value() {
        for unit in [Unit::Plain, Unit::Usd, Unit::Percent] {
            for v in [0.0, 0.05, 0.25, 3.0, 40.0, 2500.0, 3e5, 2e6, 7.5e9, 3e14] {
                assert_eq!(unit.format_ticks(&[v]), [unit.format(v)], "{unit:?} {v}");
            }
        }
    }
}
