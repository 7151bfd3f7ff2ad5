//! `cargo bench` entry point: one module per topic, each defining its criterion groups.
//!
//! Run everything with `cargo bench --bench main`, or one group with a filter, e.g.
//! `cargo bench --bench main -- hold`, `-- mmc`, `-- baseline`, `-- replications`, `-- sweep`.

use criterion::criterion_main;

mod engine;
mod scenario;

criterion_main!(engine::hold, engine::mmc, scenario::scenario_benches);
