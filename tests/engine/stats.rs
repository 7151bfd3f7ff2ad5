//! Analytic queueing results and the confidence-interval arithmetic the statistical tests use.

/// Erlang B blocking probability for `c` servers at offered load `a`, by the stable recursion
/// `B(k) = a B(k-1) / (k + a B(k-1))` (ported from `shared/peers/erlang.py`).
pub fn erlang_b(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    b
}

/// Erlang C: the probability that an arrival waits in M/M/c at offered load `a = lambda / mu < c`.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    assert!(a < f64::from(c), "unstable: a = {a} >= c = {c}");
    let rho = a / f64::from(c);
    let b = erlang_b(c, a);
    b / (1.0 - rho * (1.0 - b))
}

/// Mean wait in queue (excluding service) of M/M/c FIFO with arrival rate `lam`, service rate `mu`.
pub fn mmc_wq(c: u32, lam: f64, mu: f64) -> f64 {
    erlang_c(c, lam / mu) / (f64::from(c) * mu - lam)
}

/// Mean wait in queue of M/D/1 (Pollaczek-Khinchine with deterministic service `d = 1 / mu`):
/// `Wq = rho / (2 mu (1 - rho))`.
pub fn md1_wq(lam: f64, d: f64) -> f64 {
    let rho = lam * d;
    assert!(rho < 1.0, "unstable: rho = {rho}");
    rho * d / (2.0 * (1.0 - rho))
}

/// The mean of `round(X)` for `X` exponential with mean `m` (seconds), which is what the engine's
/// integer clock actually sees: `sum_{k>=1} P(X >= k - 1/2) = 1 / (2 sinh(1 / (2m)))`, i.e. about
/// `m - 1 / (24 m)`. Used so the theory is computed for the rates the simulation really has.
pub fn mean_of_rounded_exp(m: f64) -> f64 {
    1.0 / (2.0 * (0.5 / m).sinh())
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom, by the Cornish-Fisher expansion
/// in `1 / df` (error below 1e-3 for `df >= 5`, far below what matters for a CI half-width).
pub fn t975(df: usize) -> f64 {
    let z: f64 = 1.959_963_984_540_054;
    let n = df as f64;
    let g1 = (z.powi(3) + z) / 4.0;
    let g2 = (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / 96.0;
    let g3 = (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / 384.0;
    let g4 = (79.0 * z.powi(9) + 776.0 * z.powi(7) + 1482.0 * z.powi(5)
        - 1920.0 * z.powi(3)
        - 945.0 * z)
        / 92_160.0;
    z + g1 / n + g2 / n.powi(2) + g3 / n.powi(3) + g4 / n.powi(4)
}

/// A 95% confidence interval for a mean, from independent replications.
#[derive(Clone, Copy, Debug)]
pub struct Ci {
    /// Sample mean across replications.
    pub mean: f64,
    /// Half-width of the 95% t interval.
    pub half_width: f64,
    /// Number of replications.
    pub n: usize,
}

impl Ci {
    /// The interval from one value per independent replication.
    pub fn of(xs: &[f64]) -> Ci {
        let n = xs.len();
        assert!(n >= 2, "a CI needs at least two replications");
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        Ci {
            mean,
            half_width: t975(n - 1) * (var / n as f64).sqrt(),
            n,
        }
    }

    /// Half-width relative to `reference`.
    pub fn rel_half_width(&self, reference: f64) -> f64 {
        self.half_width / reference
    }
}

impl std::fmt::Display for Ci {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} ± {:.2} (95% CI, {} replications: [{:.2}, {:.2}])",
            self.mean,
            self.half_width,
            self.n,
            self.mean - self.half_width,
            self.mean + self.half_width
        )
    }
}

// The formulas are checked against textbook values here, so that a wrong "theory" cannot make a wrong
// simulation look right.
#[test]
fn analytic_formulas_match_textbook_values() {
    // M/M/1, rho = 0.5, mu = 1: Wq = rho / (mu - lambda) = 1.
    assert!((mmc_wq(1, 0.5, 1.0) - 1.0).abs() < 1e-12);
    // M/M/2, lambda = mu = 1: C = 1/3, Wq = C / (2 - 1) = 1/3.
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    // M/M/1 is also M/G/1: Pollaczek-Khinchine with exponential service gives twice the M/D/1 wait.
    assert!((md1_wq(0.5, 1.0) - 0.5).abs() < 1e-12);
    // Erlang C with one server is rho.
    assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
    // Rounding an exponential with mean 1e6 s to whole seconds changes its mean by about 1/(24 m).
    let m = 1e6;
    assert!((m - mean_of_rounded_exp(m) - 1.0 / (24.0 * m)).abs() < 1e-9);
}

#[test]
fn t_quantiles_match_tables() {
    for (df, table) in [
        (5, 2.571),
        (9, 2.262),
        (19, 2.093),
        (29, 2.045),
        (59, 2.001),
    ] {
        let t = t975(df);
        assert!((t - table).abs() < 2e-3, "t975({df}) = {t}, table {table}");
    }
    assert!((t975(1_000_000) - 1.960).abs() < 1e-3);
}
