//! Engine benchmarks: the classic hold model and an M/M/c queue, each beside a plain `BinaryHeap` loop.
//!
//! Every group measures the engine and, in the same group, a hand-written loop over
//! `std::collections::BinaryHeap<Reverse<(time, seq, ..)>>` that does exactly the same work: the same
//! PCG64 stream, the same exponential delays rounded to whole seconds, the same `(time, seq)` keys.
//! Criterion reports both in events per second, so the ratio reads off directly.
//!
//! - `hold/{engine,queue,plain_heap}/N`: N events pending; each operation pops the earliest event and
//!   schedules one at `now + Exp(mean one day)`. `engine` goes through [`Simulation`] and a [`Model`]
//!   whose handler reschedules; `queue` drives [`EventQueue`] directly. The pending set is built once,
//!   outside the timed part, and carries over from one iteration to the next, so each iteration is
//!   [`HOLD_OPS`] hold operations on a queue of exactly N events.
//! - `mmc/{engine,plain_heap}/64`: an M/M/64 queue at utilisation 0.9 (mean service 1000 s), from
//!   empty, for [`MMC_EVENTS`] events (arrivals plus departures, about 1,000,000 customers).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;
use std::time::Duration;

use capsim::engine::rng::{stream, SimRng};
use capsim::engine::{Context, EventQueue, Model, SimDuration, SimTime, Simulation};
use criterion::{criterion_group, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use rand_distr::{Distribution, Exp};

/// Master seed of every benchmark stream.
const SEED: u64 = 1;

/// Numbers of pending events in the hold benchmark.
const HOLD_SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];
/// Hold operations (one pop and one push each) per timed iteration.
const HOLD_OPS: u64 = 200_000;
/// Mean of the exponential hold delay, in seconds.
const HOLD_MEAN_DELAY_S: f64 = 86_400.0;

/// Servers in the M/M/c benchmark.
const MMC_SERVERS: u32 = 64;
/// Offered load per server (lambda / (c mu)).
const MMC_RHO: f64 = 0.9;
/// Mean service time, in seconds.
const MMC_MEAN_SERVICE_S: f64 = 1_000.0;
/// Events (arrivals plus departures) per timed run: about 1,000,000 customers.
const MMC_EVENTS: u64 = 2_000_000;

/// An exponential delay rounded to whole seconds: the one draw every variant makes.
#[inline(always)]
fn delay_secs(rng: &mut SimRng, dist: &Exp<f64>) -> u64 {
    dist.sample(rng).round() as u64
}

fn exp_with_mean(mean_s: f64) -> Exp<f64> {
    Exp::new(1.0 / mean_s).expect("positive finite rate")
}

// ---------------------------------------------------------------------------------------------
// Hold

/// The hold model's only event (zero-sized, so a queue entry is just its `(time, seq)` key).
#[derive(Clone, Copy)]
struct Tick;

/// A model whose every event schedules one more after an exponential delay.
struct Hold {
    rng: SimRng,
    delay: Exp<f64>,
}

impl Hold {
    fn new() -> Self {
        Hold {
            rng: stream(SEED, 0, "hold"),
            delay: exp_with_mean(HOLD_MEAN_DELAY_S),
        }
    }

    #[inline(always)]
    fn draw(&mut self) -> SimDuration {
        SimDuration(delay_secs(&mut self.rng, &self.delay))
    }
}

impl Model for Hold {
    type Event = Tick;

    #[inline]
    fn handle(&mut self, event: Tick, ctx: &mut Context<Tick>) {
        let d = self.draw();
        ctx.schedule_in(d, event);
    }
}

/// A simulation with `n` events pending, scheduled at `Exp` delays from time zero.
fn hold_simulation(n: usize) -> Simulation<Hold> {
    let mut sim = Simulation::new(Hold::new());
    let (model, ctx) = sim.parts_mut();
    for _ in 0..n {
        let d = model.draw();
        ctx.schedule_in(d, Tick);
    }
    sim
}

/// The same pending set in a bare [`EventQueue`], with its own copy of the model's generator.
struct QueueHold {
    queue: EventQueue<Tick>,
    model: Hold,
}

impl QueueHold {
    fn new(n: usize) -> Self {
        let mut model = Hold::new();
        let mut queue = EventQueue::new();
        for _ in 0..n {
            let d = model.draw();
            queue.push(SimTime::ZERO.saturating_add(d), Tick);
        }
        QueueHold { queue, model }
    }

    #[inline(never)]
    fn run(&mut self, ops: u64) -> SimTime {
        let mut now = SimTime::ZERO;
        for _ in 0..ops {
            let (t, _, ev) = self.queue.pop().expect("the hold set never empties");
            now = t;
            let d = self.model.draw();
            self.queue.push(t.saturating_add(d), ev);
        }
        now
    }
}

/// The same work with no engine: a std max-heap of reversed `(time, seq)` pairs.
struct PlainHold {
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    next_seq: u64,
    rng: SimRng,
    delay: Exp<f64>,
}

impl PlainHold {
    fn new(n: usize) -> Self {
        let mut h = PlainHold {
            heap: BinaryHeap::new(),
            next_seq: 0,
            rng: stream(SEED, 0, "hold"),
            delay: exp_with_mean(HOLD_MEAN_DELAY_S),
        };
        for _ in 0..n {
            let d = delay_secs(&mut h.rng, &h.delay);
            h.push(d);
        }
        h
    }

    #[inline(always)]
    fn push(&mut self, at: u64) {
        self.heap.push(Reverse((at, self.next_seq)));
        self.next_seq += 1;
    }

    #[inline(never)]
    fn run(&mut self, ops: u64) -> u64 {
        let mut now = 0;
        for _ in 0..ops {
            let Reverse((t, _)) = self.heap.pop().expect("the hold set never empties");
            now = t;
            let d = delay_secs(&mut self.rng, &self.delay);
            self.push(t.saturating_add(d));
        }
        now
    }
}

/// Checks, before timing, that the three hold variants make the same draws and pop the same times.
fn check_hold_same_work() {
    const N: usize = 1_000;
    const OPS: u64 = 20_000;
    let mut sim = hold_simulation(N);
    sim.run_events(OPS);
    let mut queue = QueueHold::new(N);
    let mut plain = PlainHold::new(N);
    assert_eq!(sim.now(), queue.run(OPS), "engine and queue hold differ");
    assert_eq!(sim.now().0, plain.run(OPS), "engine and plain hold differ");
}

fn bench_hold(c: &mut Criterion) {
    check_hold_same_work();
    let mut group = c.benchmark_group("hold");
    group
        .throughput(Throughput::Elements(HOLD_OPS))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in HOLD_SIZES {
        // Each state is built lazily (a filter may skip the benchmark) and only once: criterion
        // calls the closure again for every sample, and the set carries over between them.
        let mut sim = None;
        group.bench_function(BenchmarkId::new("engine", n), |b| {
            let sim = sim.get_or_insert_with(|| hold_simulation(n));
            b.iter(|| {
                sim.run_events(HOLD_OPS);
                black_box(sim.now())
            })
        });
        drop(sim);

        let mut queue = None;
        group.bench_function(BenchmarkId::new("queue", n), |b| {
            let queue = queue.get_or_insert_with(|| QueueHold::new(n));
            b.iter(|| black_box(queue.run(HOLD_OPS)))
        });
        drop(queue);

        let mut plain = None;
        group.bench_function(BenchmarkId::new("plain_heap", n), |b| {
            let plain = plain.get_or_insert_with(|| PlainHold::new(n));
            b.iter(|| black_box(plain.run(HOLD_OPS)))
        });
        drop(plain);
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// M/M/c

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum MmcEvent {
    Arrival,
    Departure,
}

/// An M/M/c FIFO queue: `c` servers, Poisson arrivals, exponential service, integer seconds.
struct Mmc {
    servers: u32,
    busy: u32,
    /// Arrival times of the customers waiting for a server, oldest first.
    waiting: VecDeque<u64>,
    arrival_rng: SimRng,
    service_rng: SimRng,
    interarrival: Exp<f64>,
    service: Exp<f64>,
    arrivals: u64,
    departures: u64,
    wait_sum_s: u64,
}

impl Mmc {
    fn new() -> Self {
        let mean_interarrival = MMC_MEAN_SERVICE_S / (MMC_RHO * f64::from(MMC_SERVERS));
        Mmc {
            servers: MMC_SERVERS,
            busy: 0,
            waiting: VecDeque::new(),
            arrival_rng: stream(SEED, 0, "arrivals"),
            service_rng: stream(SEED, 0, "service"),
            interarrival: exp_with_mean(mean_interarrival),
            service: exp_with_mean(MMC_MEAN_SERVICE_S),
            arrivals: 0,
            departures: 0,
            wait_sum_s: 0,
        }
    }

    #[inline(always)]
    fn next_interarrival(&mut self) -> u64 {
        delay_secs(&mut self.arrival_rng, &self.interarrival)
    }

    #[inline(always)]
    fn next_service(&mut self) -> u64 {
        delay_secs(&mut self.service_rng, &self.service)
    }

    /// The state change of an arrival at `now`: returns the service time to schedule, if the
    /// customer starts at once (the caller also schedules the next arrival).
    #[inline(always)]
    fn on_arrival(&mut self, now: u64) -> Option<u64> {
        self.arrivals += 1;
        if self.busy < self.servers {
            self.busy += 1;
            Some(self.next_service())
        } else {
            self.waiting.push_back(now);
            None
        }
    }

    /// The state change of a departure at `now`: returns the service time of the next customer,
    /// if one was waiting.
    #[inline(always)]
    fn on_departure(&mut self, now: u64) -> Option<u64> {
        self.departures += 1;
        match self.waiting.pop_front() {
            Some(arrived) => {
                self.wait_sum_s += now - arrived;
                Some(self.next_service())
            }
            None => {
                self.busy -= 1;
                None
            }
        }
    }
}

impl Model for Mmc {
    type Event = MmcEvent;

    #[inline]
    fn handle(&mut self, event: MmcEvent, ctx: &mut Context<MmcEvent>) {
        let now = ctx.now().0;
        match event {
            MmcEvent::Arrival => {
                let gap = self.next_interarrival();
                ctx.schedule_in(SimDuration(gap), MmcEvent::Arrival);
                if let Some(s) = self.on_arrival(now) {
                    ctx.schedule_in(SimDuration(s), MmcEvent::Departure);
                }
            }
            MmcEvent::Departure => {
                if let Some(s) = self.on_departure(now) {
                    ctx.schedule_in(SimDuration(s), MmcEvent::Departure);
                }
            }
        }
    }
}

fn mmc_simulation() -> Simulation<Mmc> {
    let mut sim = Simulation::new(Mmc::new());
    let (model, ctx) = sim.parts_mut();
    let first = model.next_interarrival();
    ctx.schedule_in(SimDuration(first), MmcEvent::Arrival);
    sim
}

/// The same model and draws in a hand-written loop over a std heap.
#[inline(never)]
fn mmc_plain(events: u64) -> Mmc {
    let mut m = Mmc::new();
    let mut heap: BinaryHeap<Reverse<(u64, u64, MmcEvent)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, at: u64, ev: MmcEvent| {
        heap.push(Reverse((at, seq, ev)));
        seq += 1;
    };
    let first = m.next_interarrival();
    push(&mut heap, first, MmcEvent::Arrival);
    for _ in 0..events {
        let Reverse((now, _, ev)) = heap.pop().expect("arrivals never stop");
        match ev {
            MmcEvent::Arrival => {
                let gap = m.next_interarrival();
                push(&mut heap, now.saturating_add(gap), MmcEvent::Arrival);
                if let Some(s) = m.on_arrival(now) {
                    push(&mut heap, now.saturating_add(s), MmcEvent::Departure);
                }
            }
            MmcEvent::Departure => {
                if let Some(s) = m.on_departure(now) {
                    push(&mut heap, now.saturating_add(s), MmcEvent::Departure);
                }
            }
        }
    }
    m
}

/// Checks, before timing, that the engine and the plain loop simulate the same customers.
fn check_mmc_same_work() {
    const EVENTS: u64 = 200_000;
    let mut sim = mmc_simulation();
    sim.run_events(EVENTS);
    let engine = sim.model();
    let plain = mmc_plain(EVENTS);
    assert_eq!(engine.arrivals + engine.departures, EVENTS);
    assert_eq!(
        (engine.arrivals, engine.departures, engine.wait_sum_s),
        (plain.arrivals, plain.departures, plain.wait_sum_s),
        "engine and plain M/M/c differ"
    );
}

fn bench_mmc(c: &mut Criterion) {
    check_mmc_same_work();
    let mut group = c.benchmark_group("mmc");
    group
        .throughput(Throughput::Elements(MMC_EVENTS))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function(BenchmarkId::new("engine", MMC_SERVERS), |b| {
        b.iter_batched(
            mmc_simulation,
            |mut sim| {
                sim.run_events(MMC_EVENTS);
                sim
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function(BenchmarkId::new("plain_heap", MMC_SERVERS), |b| {
        b.iter(|| black_box(mmc_plain(MMC_EVENTS)))
    });
    group.finish();
}

criterion_group!(hold, bench_hold);
criterion_group!(mmc, bench_mmc);
