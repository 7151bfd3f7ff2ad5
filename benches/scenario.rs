//! Scenario benchmarks: one replication of the shipped baseline (three years, monthly periods), the
//! whole `capsim run` pipeline behind it, and replications and a sweep on 1, 2, 4, 8 and 16
//! threads (as many of those as the machine has cores).
//!
//! - `baseline/replication`: one replication of the embedded baseline (target: well under a second).
//! - `baseline/run_and_files`: loading excluded, the replication plus summary and every output file's
//!   bytes (CSV, JSON, charts, report.html), as `capsim run` does before writing.
//! - `replications/{threads}`: 64 replications (and their summary) on a pool of `threads` threads;
//!   the ratio to `replications/1` is the scaling on this machine (targets: at least 1.8x on 2
//!   cores, 14x on 16).
//! - `load/{k}`: one replication of the 2025 slice baseline (`benches/fixtures/`, the baseline
//!   before the national rebuild, kept so the figure stays comparable) with every arrival rate and
//!   inference demand multiplied by `k` (1, 10, 100), in events per second: the cost of an event
//!   must not grow with the load (the README gives the time per event at each k).
//! - `national/{national,slice-2025}`: one replication of the embedded (national) baseline and of
//!   the 2025 slice baseline, side by side, in events per second (target: a national replication
//!   at or under 1 s).
//! - `sweep/{threads}`: a 3-point sweep (plus the baseline point) of 16 replications each: 64
//!   (point, replication) pairs, headline numbers only.
//!
//! For the machine's own ceiling, run N copies of `replications/1` at once and compare their
//! per-iteration time with one copy's (see README, Performance).

use std::hint::black_box;
use std::time::Duration;

use capsim::experiment::{self, sweep, RunOptions};
use capsim::metrics::{PeriodKind, Periods};
use capsim::model::run_replication;
use capsim::report;
use capsim::scenario;
use criterion::{criterion_group, BenchmarkId, Criterion, SamplingMode, Throughput};

fn baseline(c: &mut Criterion) {
    let sc = scenario::baseline().expect("the embedded baseline loads");
    let periods = Periods::new(sc.start_date, sc.end_date, PeriodKind::Month);
    let mut g = c.benchmark_group("baseline");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("replication", |b| {
        b.iter(|| run_replication(black_box(&sc.world), &periods, sc.seed, 0).expect("runs"))
    });
    g.bench_function("run_and_files", |b| {
        b.iter(|| {
            let options = RunOptions {
                seed: sc.seed,
                replications: 1,
                period: PeriodKind::Month,
                threads: Some(1),
            };
            let r = experiment::execute(&sc, options).expect("runs");
            report::folders::run_folder_files(&sc, &r).expect("renders")
        })
    });
    g.finish();
}

/// The baseline as shipped before the national rebuild (a 1.5% slice of inference, 2025-27).
fn slice_2025() -> scenario::Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/fixtures/baseline-2025-slice.toml");
    scenario::load_file(&path).expect("the 2025 slice fixture loads")
}

fn national(c: &mut Criterion) {
    let mut g = c.benchmark_group("national");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(20));
    for (name, sc) in [
        (
            "national",
            scenario::baseline().expect("the embedded baseline loads"),
        ),
        ("slice-2025", slice_2025()),
    ] {
        let periods = Periods::new(sc.start_date, sc.end_date, PeriodKind::Month);
        let events = run_replication(&sc.world, &periods, sc.seed, 0)
            .expect("runs")
            .events;
        g.throughput(Throughput::Elements(events));
        g.bench_function(name, |b| {
            b.iter(|| run_replication(black_box(&sc.world), &periods, sc.seed, 0).expect("runs"))
        });
    }
    g.finish();
}

fn load(c: &mut Criterion) {
    let sc = slice_2025();
    let periods = Periods::new(sc.start_date, sc.end_date, PeriodKind::Month);
    let mut g = c.benchmark_group("load");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(20));
    for k in [1u32, 10, 100] {
        let world = sc.world.with_load_scaled(f64::from(k));
        let events = run_replication(&world, &periods, sc.seed, 0)
            .expect("runs")
            .events;
        g.throughput(Throughput::Elements(events));
        g.bench_with_input(BenchmarkId::from_parameter(k), &world, |b, w| {
            b.iter(|| run_replication(black_box(w), &periods, sc.seed, 0).expect("runs"))
        });
    }
    g.finish();
}

/// Replications per iteration of `replications/{threads}`: enough to keep 16 threads busy.
const REPLICATIONS: u64 = 64;
/// Replications per point of `sweep/{threads}` (4 points).
const SWEEP_REPLICATIONS: u64 = 16;

/// 1, 2, 4, 8, 16: those this machine has the cores for.
fn thread_counts() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    [1, 2, 4, 8, 16]
        .into_iter()
        .filter(|&t| t <= cores.max(2))
        .collect()
}

fn replications(c: &mut Criterion) {
    let sc = scenario::baseline().expect("the embedded baseline loads");
    let mut g = c.benchmark_group("replications");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(15))
        .throughput(Throughput::Elements(REPLICATIONS));
    for threads in thread_counts() {
        g.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, &t| {
            b.iter(|| {
                let options = RunOptions {
                    seed: sc.seed,
                    replications: REPLICATIONS,
                    period: PeriodKind::Month,
                    threads: Some(t),
                };
                experiment::execute(&sc, options).expect("runs")
            })
        });
    }
    g.finish();
}

fn sweeps(c: &mut Criterion) {
    let sc = scenario::baseline().expect("the embedded baseline loads");
    let axis = sweep::parse_axis("chips.ascend-910c.training_mfu=0.30,0.35,0.41").expect("axis");
    let plan = sweep::Plan::new(vec![axis], sweep::Design::Grid).expect("plan");
    let points = plan.scenarios(&sc).expect("points");
    let mut g = c.benchmark_group("sweep");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(15))
        .throughput(Throughput::Elements(
            points.len() as u64 * SWEEP_REPLICATIONS,
        ));
    for threads in thread_counts() {
        g.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, &t| {
            b.iter(|| {
                sweep::run_pairs(
                    &points,
                    PeriodKind::Month,
                    sc.seed,
                    SWEEP_REPLICATIONS,
                    sweep::Shard::ALL,
                    Some(t),
                    &|| {},
                )
                .expect("runs")
            })
        });
    }
    g.finish();
}

criterion_group!(
    scenario_benches,
    baseline,
    national,
    load,
    replications,
    sweeps
);
