//! Time per event of one replication of the 2025 slice baseline (`benches/fixtures/`, as the
//! `load` bench) with the work scaled by k (a quick look; the measurement is `cargo bench --bench
//! main -- load`). Usage: `cargo run --release --example load_scaling -- 1 10 100`;
//! `SCENARIO=path` runs another scenario (e.g. `scenarios/baseline.toml`, the national one).

use std::time::Instant;

use capsim::metrics::{PeriodKind, Periods};
use capsim::model::run_replication;

fn main() {
    let path = std::env::var("SCENARIO").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/fixtures/baseline-2025-slice.toml"
        )
        .into()
    });
    let sc =
        capsim::scenario::load_file(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
    let periods = Periods::new(sc.start_date, sc.end_date, PeriodKind::Month);
    let repeat: usize = std::env::var("REPEAT")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    for arg in std::env::args()
        .skip(1)
        .flat_map(|a| std::iter::repeat_n(a, repeat))
    {
        let k: f64 = arg.parse().expect("a load factor");
        let world = sc.world.with_load_scaled(k);
        let t = Instant::now();
        let m = run_replication(&world, &periods, sc.seed, 0).expect("runs");
        let secs = t.elapsed().as_secs_f64();
        // Totals at full precision: two builds that agree here made the same decisions.
        let sum = |f: &dyn Fn(&capsim::metrics::SitePeriod) -> f64| -> f64 {
            m.site.iter().flatten().map(f).sum()
        };
        println!(
            "k={k}: {} events in {secs:.3} s = {:.0} ns/event; jobs {:?}; tokens {:?}, cost {:?}, \
             compute {:?}",
            m.events,
            secs / m.events as f64 * 1e9,
            m.jobs,
            sum(&|p| p.tokens_served),
            sum(&|p| p.cost_usd),
            sum(&|p| p.compute_pflop_days)
        );
    }
}
