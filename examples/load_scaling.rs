//! Time per event of one baseline replication with the work scaled by k (a quick look; the
//! measurement is `cargo bench --bench main -- load`). Usage: `cargo run --release --example
//! load_scaling -- 1 10 100`.

use std::time::Instant;

use capsim::metrics::{PeriodKind, Periods};
use capsim::model::run_replication;

fn main() {
    let sc = capsim::scenario::baseline().expect("the embedded baseline loads");
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
        println!(
            "k={k}: {} events in {secs:.3} s = {:.0} ns/event; jobs {:?}",
            m.events,
            secs / m.events as f64 * 1e9,
            m.jobs
        );
    }
}
