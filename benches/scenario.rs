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
//! - `load/paired`: the same three loads run one after the other in every iteration; it prints the
//!   median per-round ratio of time per event (k = 10 and 100 against k = 1) by wall time and by
//!   thread CPU time, which a shared machine's drifting load moves far less than the ratio of two
//!   groups measured a minute apart.
//! - `national/{national,no-decisions,slice-2025}`: one replication of the embedded (national)
//!   baseline, of the same with no firm planning (no reviews, leases, orders or purchases), and of
//!   the 2025 slice baseline, side by side, in events per second (targets: a national replication
//!   at or under 1 s; with decisions within 2x of without).
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
            let files = report::folders::run_folder_files(&sc, &r, "baseline").expect("renders");
            files.iter().map(|(_, c)| c.to_bytes().len()).sum::<usize>()
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

/// The national baseline with no decisions: no firm planning (no reviews, leases, orders or
/// purchases; the market sites hold only their listed past leases) and no cloud deciding what it
/// buys (every cloud takes all its supply). Issue 12's target: a national replication with
/// decisions within 2x of this one.
fn without_decisions() -> scenario::Scenario {
    let mut sc = scenario::baseline().expect("the embedded baseline loads");
    for f in &mut sc.world.firms {
        f.planning = None;
    }
    for s in &mut sc.world.sites {
        s.buying = None;
    }
    sc
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
        ("no-decisions", without_decisions()),
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

/// Thread CPU time: unlike wall time it leaves out the time the host takes this virtual CPU away
/// (steal), the largest part of the noise on a shared machine.
#[cfg(unix)]
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is always available on
    // Linux and macOS.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(not(unix))]
fn thread_cpu() -> Duration {
    Duration::ZERO
}

/// `load/paired`: k = 1, 10 and 100 one after the other in every iteration, so that each ratio of
/// time per event is taken within one round, seconds apart, rather than between groups measured
/// a minute apart while the machine's load drifts. Prints the median and the 10th-90th
/// percentiles of the per-round ratios, by wall time and by thread CPU time.
fn load_paired(c: &mut Criterion) {
    let sc = slice_2025();
    let periods = Periods::new(sc.start_date, sc.end_date, PeriodKind::Month);
    // Built on the first iteration: a filter that leaves this bench out skips the three
    // replications it takes to count the events.
    let built = std::cell::OnceCell::new();
    let worlds = || -> &Vec<(u32, capsim::model::World, f64)> {
        built.get_or_init(|| {
            [1u32, 10, 100]
                .into_iter()
                .map(|k| {
                    let world = sc.world.with_load_scaled(f64::from(k));
                    let events = run_replication(&world, &periods, sc.seed, 0)
                        .expect("runs")
                        .events;
                    (k, world, events as f64)
                })
                .collect()
        })
    };
    // Per round: (wall, cpu) nanoseconds per event at each k.
    let rounds = std::cell::RefCell::new(Vec::<[(f64, f64); 3]>::new());
    let mut g = c.benchmark_group("load");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(30));
    g.bench_function("paired", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut round = [(0.0, 0.0); 3];
                for (i, (_, world, events)) in worlds().iter().enumerate() {
                    let (w0, c0) = (std::time::Instant::now(), thread_cpu());
                    black_box(
                        run_replication(black_box(world), &periods, sc.seed, 0).expect("runs"),
                    );
                    let (wall, cpu) = (w0.elapsed(), thread_cpu() - c0);
                    total += wall;
                    round[i] = (
                        wall.as_nanos() as f64 / events,
                        cpu.as_nanos() as f64 / events,
                    );
                }
                rounds.borrow_mut().push(round);
            }
            total
        })
    });
    g.finish();
    let rounds = rounds.into_inner();
    if rounds.is_empty() {
        // Left out by the filter.
        return;
    }
    let worlds = worlds();
    let pct = |mut v: Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q).round() as usize]
    };
    println!(
        "load/paired: {} rounds of k = 1, 10, 100 (the 2025 slice fixture)",
        rounds.len()
    );
    for (clock, pick) in [
        ("wall", (|x: (f64, f64)| x.0) as fn((f64, f64)) -> f64),
        ("cpu ", |x: (f64, f64)| x.1),
    ] {
        let per_event: Vec<String> = (0..3)
            .map(|i| {
                let v: Vec<f64> = rounds.iter().map(|r| pick(r[i])).collect();
                format!("k={} {:.0} ns", worlds[i].0, pct(v, 0.5))
            })
            .collect();
        let ratios: Vec<String> = (1..3)
            .map(|i| {
                let v: Vec<f64> = rounds.iter().map(|r| pick(r[i]) / pick(r[0])).collect();
                format!(
                    "k={}/k=1 {:.2}x [{:.2}-{:.2}]",
                    worlds[i].0,
                    pct(v.clone(), 0.5),
                    pct(v.clone(), 0.1),
                    pct(v, 0.9)
                )
            })
            .collect();
        println!(
            "  {clock} per event (median): {}; per-round ratio median [p10-p90]: {}",
            per_event.join(", "),
            ratios.join(", ")
        );
    }
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
    load_paired,
    replications,
    sweeps
);
