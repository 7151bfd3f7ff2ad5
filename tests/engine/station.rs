//! A c-server FIFO queue (M/M/c, M/D/1) written as an engine `Model`, with the statistics the tests need.
//!
//! # Time scale and rounding
//!
//! The engine's clock counts whole seconds, so every sampled duration is rounded to the nearest second.
//! The tests use a mean service time of 10^6 s, which makes the effect negligible, and account for it:
//!
//! - rounding an exponential with mean `m` to whole seconds lowers its mean by about `1 / (24 m)` s
//!   (relative 4e-14 at `m = 1e6`; [`mean_of_rounded_exp`](super::stats::mean_of_rounded_exp) gives
//!   it exactly, and the theory is evaluated at the rates the simulation really has) and adds `1/12` s²
//!   to its variance (relative 8e-14);
//! - rounded inter-arrival gaps make the arrival process a renewal process on a 1 s lattice rather
//!   than exactly Poisson; its moments differ from Poisson's by the amounts above;
//! - two events fall in the same second with probability about (event rate × 1 s) < 2e-4 per event
//!   at the busiest setting, and such a tie moves a wait by at most 1 s, against mean waits of 10^5 s.
//!
//! All of these are many orders of magnitude below the 2% tolerance and the 1% CI half-width.
//!
//! # Measurement window
//!
//! Customers are numbered in arrival order. The first `warmup` are deleted (each replication starts
//! empty, which biases early waits low). Customers `warmup .. warmup + measured` are measured; the
//! window for time averages is `[arrival of customer warmup, arrival of customer warmup + measured)`,
//! so exactly the measured customers arrive in it. Customer `warmup + measured` is the last to arrive;
//! the queue then drains, so every measured customer's wait and time in system are complete.
//!
//! # Checks computed beside the engine
//!
//! From the same drawn gaps and service times, and without the engine, the model also computes:
//!
//! - each customer's exact FIFO wait by the multi-server recursion (start = max(arrival, earliest time
//!   a server frees up)). If the engine handles every event at the right time and in the right
//!   order, the wait it produces equals this one to the second, for every customer;
//! - each customer's wait in a *companion* queue: one server `c` times as fast, fed the same
//!   arrivals and the same service requirements (Lindley's recursion). Its mean wait is known in closed
//!   form (M/M/1), and it rises and falls with the c-server queue's wait (correlation about 0.98 at
//!   the loads tested), so `E[companion] + mean(wait − companion wait)` estimates the mean wait with
//!   about 20 times less variance than the plain mean (common random numbers with an analytically
//!   solved companion). The companion never sees the engine, so an engine error is not cancelled.

use std::collections::VecDeque;

use capsim::engine::rng::{self, SimRng};
use capsim::engine::{Context, Model, RunOutcome, SimDuration, SimTime, Simulation};
use rand_distr::{Distribution, Exp};

/// Mutation switch for proving the statistical tests can fail: every service time is multiplied by
/// this. It must be 1.0; setting it to 1.03 must turn the M/M/c and M/D/1 tests red.
const SERVICE_BIAS: f64 = 1.0;

/// The model's events (domain-free names). `id` is the customer's arrival number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// Customer `id` arrives.
    Arrive { id: u64 },
    /// Customer `id`, who arrived at `arrived`, finishes service and leaves.
    Depart { id: u64, arrived: SimTime },
}

impl Ev {
    /// A small code for the event kind, for traces.
    pub fn kind(&self) -> u8 {
        match self {
            Ev::Arrive { .. } => 0,
            Ev::Depart { .. } => 1,
        }
    }

    /// The customer the event is about.
    pub fn id(&self) -> u64 {
        match *self {
            Ev::Arrive { id } | Ev::Depart { id, .. } => id,
        }
    }
}

/// How service times are drawn.
#[derive(Clone, Copy, Debug)]
pub enum Service {
    /// Exponential with this mean, in seconds.
    Exponential { mean_secs: f64 },
    /// Always exactly this many seconds.
    Fixed { secs: u64 },
}

/// One queue setting.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Number of servers.
    pub servers: u32,
    /// Mean time between arrivals (exponential), in seconds.
    pub mean_interarrival_secs: f64,
    /// Service-time distribution.
    pub service: Service,
    /// Customers deleted at the start of each replication.
    pub warmup: u64,
    /// Customers measured in each replication.
    pub measured: u64,
}

/// What one replication measured (means over the measured customers or the window).
#[derive(Clone, Copy, Debug)]
pub struct RepStats {
    /// Mean wait in queue, in seconds.
    pub mean_wait: f64,
    /// Mean wait in the companion fast single-server queue, in seconds.
    pub mean_companion_wait: f64,
    /// Time-average number in system over the window (the integral of the count over the window length).
    pub time_avg_in_system: f64,
    /// Observed arrival rate in the window times the mean time in system.
    pub lambda_times_sojourn: f64,
    /// Customers whose engine wait differed from the FIFO recursion's.
    pub mismatched_waits: u64,
    /// The first such customer: `(id, engine wait, recursion wait)`.
    pub first_mismatch: Option<(u64, u64, u64)>,
    /// Events the engine handled.
    pub events: u64,
}

/// A customer waiting for a server.
struct Waiting {
    id: u64,
    arrived: SimTime,
    service: SimDuration,
    /// The wait the FIFO recursion predicts.
    expected_wait: u64,
}

/// The c-server FIFO queue.
pub struct Station {
    cfg: Config,
    arrival_rng: SimRng,
    service_rng: SimRng,
    interarrival: Exp<f64>,
    service_exp: Option<Exp<f64>>,
    busy: u32,
    waiting: VecDeque<Waiting>,
    in_system: u64,
    // The window and the integral of `in_system` over it, in customer-seconds.
    window_open: bool,
    window_start: SimTime,
    window_end: SimTime,
    last_change: SimTime,
    area: u128,
    wait_sum: u128,
    sojourn_sum: u128,
    // The engine-free checks: the intended arrival time of the latest customer (the sum of the drawn
    // gaps), when each server frees up under FIFO, and the companion queue's last wait and service.
    intended_arrival: u64,
    free_at: Vec<u64>,
    companion_wait: f64,
    companion_service: f64,
    companion_wait_sum: f64,
    mismatched_waits: u64,
    first_mismatch: Option<(u64, u64, u64)>,
    /// `(time, event kind, customer id)` of every handled event, when tracing.
    pub trace: Option<Vec<(u64, u8, u64)>>,
}

impl Station {
    /// A station whose randomness comes from the `"arrivals"` and `"service"` streams of `(seed, rep)`.
    pub fn new(cfg: Config, seed: u64, rep: u64) -> Station {
        let service_exp = match cfg.service {
            Service::Exponential { mean_secs } => {
                Some(Exp::new(1.0 / (mean_secs * SERVICE_BIAS)).expect("positive rate"))
            }
            Service::Fixed { .. } => None,
        };
        Station {
            cfg,
            arrival_rng: rng::stream(seed, rep, "arrivals"),
            service_rng: rng::stream(seed, rep, "service"),
            interarrival: Exp::new(1.0 / cfg.mean_interarrival_secs).expect("positive rate"),
            service_exp,
            busy: 0,
            waiting: VecDeque::new(),
            in_system: 0,
            window_open: false,
            window_start: SimTime::ZERO,
            window_end: SimTime::ZERO,
            last_change: SimTime::ZERO,
            area: 0,
            wait_sum: 0,
            sojourn_sum: 0,
            intended_arrival: 0,
            free_at: vec![0; cfg.servers as usize],
            companion_wait: 0.0,
            companion_service: 0.0,
            companion_wait_sum: 0.0,
            mismatched_waits: 0,
            first_mismatch: None,
            trace: None,
        }
    }

    fn next_interarrival(&mut self) -> SimDuration {
        SimDuration::from_secs_f64(self.interarrival.sample(&mut self.arrival_rng))
    }

    fn next_service(&mut self) -> SimDuration {
        match (self.cfg.service, &self.service_exp) {
            (Service::Exponential { .. }, Some(exp)) => {
                SimDuration::from_secs_f64(exp.sample(&mut self.service_rng))
            }
            (Service::Fixed { secs }, _) => SimDuration::from_secs_f64(secs as f64 * SERVICE_BIAS),
            (Service::Exponential { .. }, None) => unreachable!("built in new"),
        }
    }

    fn is_measured(&self, id: u64) -> bool {
        (self.cfg.warmup..self.cfg.warmup + self.cfg.measured).contains(&id)
    }

    /// Schedules the arrival of customer `id` after `gap`, and advances the intended arrival clock.
    fn schedule_arrival(&mut self, id: u64, gap: SimDuration, ctx: &mut Context<Ev>) {
        self.intended_arrival += gap.as_secs();
        // The companion's Lindley step: the previous customer's wait plus its service, less the gap.
        self.companion_wait =
            (self.companion_wait + self.companion_service - gap.as_secs_f64()).max(0.0);
        ctx.schedule_in(gap, Ev::Arrive { id });
    }

    /// The FIFO wait of a customer arriving now with this service time, by the multi-server
    /// recursion, computed from the intended (not the engine's) arrival time; updates `free_at`.
    fn recursion_wait(&mut self, service: SimDuration) -> u64 {
        let t = self.intended_arrival;
        let (server, &free) = self
            .free_at
            .iter()
            .enumerate()
            .min_by_key(|&(_, &f)| f)
            .expect("at least one server");
        let start = t.max(free);
        self.free_at[server] = start + service.as_secs();
        start - t
    }

    /// Adds `in_system × (now − last change)` to the window's integral; call before the count changes.
    fn integrate(&mut self, now: SimTime) {
        if self.window_open {
            self.area +=
                u128::from(self.in_system) * u128::from((now - self.last_change).as_secs());
        }
        self.last_change = now;
    }

    fn start_service(
        &mut self,
        id: u64,
        arrived: SimTime,
        service: SimDuration,
        expected_wait: u64,
        ctx: &mut Context<Ev>,
    ) {
        let wait = (ctx.now() - arrived).as_secs();
        if wait != expected_wait {
            self.mismatched_waits += 1;
            self.first_mismatch.get_or_insert((id, wait, expected_wait));
        }
        if self.is_measured(id) {
            self.wait_sum += u128::from(wait);
        }
        ctx.schedule_in(service, Ev::Depart { id, arrived });
    }

    /// Schedules the first arrival.
    pub fn prime(sim: &mut Simulation<Station>) {
        let (model, ctx) = sim.parts_mut();
        let gap = model.next_interarrival();
        model.schedule_arrival(0, gap, ctx);
    }

    /// Customers whose engine wait differed from the FIFO recursion's, and the first of them as
    /// `(id, engine wait, recursion wait)`.
    pub fn mismatches(&self) -> (u64, Option<(u64, u64, u64)>) {
        (self.mismatched_waits, self.first_mismatch)
    }

    /// The statistics of a finished run.
    pub fn stats(&self, events: u64) -> RepStats {
        let n = self.cfg.measured as f64;
        let window = (self.window_end - self.window_start).as_secs_f64();
        RepStats {
            mean_wait: self.wait_sum as f64 / n,
            mean_companion_wait: self.companion_wait_sum / n,
            time_avg_in_system: self.area as f64 / window,
            // (arrivals in the window / window) × (sojourn sum / arrivals in the window)
            lambda_times_sojourn: self.sojourn_sum as f64 / window,
            mismatched_waits: self.mismatched_waits,
            first_mismatch: self.first_mismatch,
            events,
        }
    }
}

impl Model for Station {
    type Event = Ev;

    fn handle(&mut self, ev: Ev, ctx: &mut Context<Ev>) {
        let now = ctx.now();
        if let Some(trace) = &mut self.trace {
            trace.push((now.as_secs(), ev.kind(), ev.id()));
        }
        self.integrate(now);
        match ev {
            Ev::Arrive { id } => {
                let last = self.cfg.warmup + self.cfg.measured;
                if id == self.cfg.warmup {
                    self.window_open = true;
                    self.window_start = now;
                }
                if id == last {
                    self.window_open = false;
                    self.window_end = now;
                }
                self.in_system += 1;
                let service = self.next_service();
                let expected_wait = self.recursion_wait(service);
                self.companion_service = service.as_secs_f64() / f64::from(self.cfg.servers);
                if self.is_measured(id) {
                    self.companion_wait_sum += self.companion_wait;
                }
                if self.busy < self.cfg.servers {
                    self.busy += 1;
                    self.start_service(id, now, service, expected_wait, ctx);
                } else {
                    self.waiting.push_back(Waiting {
                        id,
                        arrived: now,
                        service,
                        expected_wait,
                    });
                }
                if id < last {
                    let gap = self.next_interarrival();
                    self.schedule_arrival(id + 1, gap, ctx);
                }
            }
            Ev::Depart { id, arrived } => {
                self.in_system -= 1;
                if self.is_measured(id) {
                    self.sojourn_sum += u128::from((now - arrived).as_secs());
                }
                match self.waiting.pop_front() {
                    Some(w) => self.start_service(w.id, w.arrived, w.service, w.expected_wait, ctx),
                    None => self.busy -= 1,
                }
            }
        }
    }
}

/// Runs replication `rep` of `cfg` under `seed` until the queue drains, and returns its statistics.
pub fn run_replication(cfg: Config, seed: u64, rep: u64) -> RepStats {
    let mut sim = Simulation::new(Station::new(cfg, seed, rep));
    Station::prime(&mut sim);
    assert_eq!(sim.run_to_end(), RunOutcome::QueueEmpty);
    let m = sim.model();
    assert!(
        m.in_system == 0 && m.busy == 0 && m.waiting.is_empty(),
        "the queue drains at the end"
    );
    m.stats(sim.events_handled())
}

/// Runs replications `0..reps`, independent (each has its own streams `(seed, rep, name)`), spread
/// over the available cores. Each is a pure function of `(cfg, seed, rep)` and the results come back
/// in replication order, so the thread count cannot change them.
pub fn run_replications(cfg: Config, seed: u64, reps: u64) -> Vec<RepStats> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let mut out: Vec<Option<RepStats>> = vec![None; reps as usize];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..reps)
                        .step_by(threads as usize)
                        .map(|rep| (rep, run_replication(cfg, seed, rep)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (rep, stats) in h.join().expect("replication panicked") {
                out[rep as usize] = Some(stats);
            }
        }
    });
    out.into_iter()
        .map(|r| r.expect("every replication ran"))
        .collect()
}
