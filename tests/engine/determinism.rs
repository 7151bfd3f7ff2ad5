//! Determinism and tie-breaking of the run loop: same seed, same trace; equal times, first scheduled first.

use capsim::engine::rng::fnv1a64;
use capsim::engine::{Context, Model, RunOutcome, SimDuration, SimTime, Simulation};
use proptest::prelude::*;

use super::station::{Config, Service, Station};

/// Events in each trace compared.
const TRACE_EVENTS: u64 = 10_000;

/// A queue on a coarse time scale (mean service 20 s, gaps about 5.6 s), so that many events fall in
/// the same second and the trace depends on how ties are broken. Arrivals never stop within the trace.
fn coarse_config() -> Config {
    Config {
        servers: 4,
        mean_interarrival_secs: 20.0 / (0.9 * 4.0),
        service: Service::Exponential { mean_secs: 20.0 },
        warmup: 0,
        measured: u64::MAX / 2,
    }
}

/// The first `TRACE_EVENTS` events of one replication as `(time, event kind, customer id)`.
fn trace(cfg: Config, seed: u64, rep: u64) -> Vec<(u64, u8, u64)> {
    let mut station = Station::new(cfg, seed, rep);
    station.trace = Some(Vec::with_capacity(TRACE_EVENTS as usize));
    let mut sim = Simulation::new(station);
    Station::prime(&mut sim);
    assert_eq!(sim.run_events(TRACE_EVENTS), RunOutcome::ReachedEventCount);
    let station = sim.into_model();
    // Even with many events in the same second, every wait is the exact FIFO wait.
    let (mismatched, first) = station.mismatches();
    assert_eq!(
        mismatched, 0,
        "waits differ from the FIFO recursion; first (id, engine, recursion) = {first:?}"
    );
    station.trace.expect("tracing was on")
}

/// FNV-1a over the little-endian bytes of a trace.
fn fingerprint(trace: &[(u64, u8, u64)]) -> u64 {
    let mut bytes = Vec::with_capacity(trace.len() * 17);
    for &(t, kind, id) in trace {
        bytes.extend_from_slice(&t.to_le_bytes());
        bytes.push(kind);
        bytes.extend_from_slice(&id.to_le_bytes());
    }
    fnv1a64(&bytes)
}

/// Pairs of consecutive events at the same second.
fn ties(trace: &[(u64, u8, u64)]) -> usize {
    trace.windows(2).filter(|w| w[0].0 == w[1].0).count()
}

/// The index of the first difference, for failure messages.
fn first_difference(a: &[(u64, u8, u64)], b: &[(u64, u8, u64)]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

#[test]
fn same_seed_gives_an_identical_event_trace() {
    let a = trace(coarse_config(), 7, 0);
    let b = trace(coarse_config(), 7, 0);
    assert_eq!(a.len(), TRACE_EVENTS as usize);
    assert!(
        a == b,
        "traces differ first at event {:?}",
        first_difference(&a, &b)
    );
    // Replications of one seed run on different threads in the statistical tests; the trace must not
    // depend on the thread either.
    let c = std::thread::spawn(|| trace(coarse_config(), 7, 0))
        .join()
        .expect("no panic");
    assert!(
        a == c,
        "trace on another thread differs first at event {:?}",
        first_difference(&a, &c)
    );
}

#[test]
fn another_seed_or_replication_gives_a_different_trace() {
    let base = trace(coarse_config(), 7, 0);
    for (seed, rep) in [(8, 0), (7, 1)] {
        let other = trace(coarse_config(), seed, rep);
        let same = base.iter().zip(&other).filter(|(x, y)| x == y).count();
        // Not merely unequal somewhere: a different stream diverges almost at once.
        assert!(
            same < base.len() / 10,
            "seed {seed}, replication {rep}: {same} of {} events identical to seed 7, replication 0",
            base.len()
        );
    }
}

// A regression pin: the fingerprint of a trace full of same-second ties. It changes if tie-breaking,
// event timing, stream derivation or sampling changes (the last two are also pinned on their own in
// `value_stability`, which tells them apart). If a deliberate change moves it, re-derive it from the
// failure message, and say why in the commit.
#[test]
fn event_trace_fingerprint_is_pinned() {
    let t = trace(coarse_config(), 42, 0);
    let n_ties = ties(&t);
    assert!(
        n_ties > 1_000,
        "only {n_ties} same-second pairs: the trace would not exercise tie-breaking"
    );
    let fp = fingerprint(&t);
    assert_eq!(
        fp,
        0xba03_ea0f_e51b_f67b,
        "trace fingerprint changed: got {fp:#018x} ({n_ties} same-second pairs; last event {:?})",
        t.last()
    );
}

/// Records the order in which it sees labelled events; some events schedule more.
#[derive(Default)]
struct Recorder {
    seen: Vec<(u64, char)>,
}

impl Model for Recorder {
    type Event = char;
    fn handle(&mut self, ev: char, ctx: &mut Context<char>) {
        self.seen.push((ctx.now().as_secs(), ev));
        match ev {
            // Scheduled while other events are pending at this very time: it goes after them.
            'a' => {
                ctx.schedule_in(SimDuration::ZERO, 'e');
                ctx.schedule_at(SimTime(5), 'f')
                    .expect("now is not the past");
            }
            'e' => {
                ctx.schedule_at(SimTime(7), 'g').expect("future");
                ctx.schedule_in(SimDuration(2), 'h');
            }
            _ => {}
        }
    }
}

#[test]
fn equal_times_are_handled_first_scheduled_first() {
    let mut sim = Simulation::new(Recorder::default());
    for (t, ev) in [(5, 'a'), (1, 'b'), (5, 'c'), (1, 'd')] {
        sim.schedule_at(SimTime(t), ev).expect("future");
    }
    assert_eq!(sim.run_to_end(), RunOutcome::QueueEmpty);
    // b and d at 1 in the order scheduled; a, c at 5, then e and f (scheduled by a, after c);
    // g and h both at 7, g scheduled first.
    assert_eq!(
        sim.model().seen,
        vec![
            (1, 'b'),
            (1, 'd'),
            (5, 'a'),
            (5, 'c'),
            (5, 'e'),
            (5, 'f'),
            (7, 'g'),
            (7, 'h')
        ]
    );
}

/// A cascade: event `k` schedules children after the delays `plan[k]` (0 means "now").
struct Cascade {
    plan: Vec<Vec<u64>>,
    next_label: usize,
    seen: Vec<(u64, usize)>,
}

impl Model for Cascade {
    type Event = usize;
    fn handle(&mut self, ev: usize, ctx: &mut Context<usize>) {
        self.seen.push((ctx.now().as_secs(), ev));
        for &d in self.plan.get(ev).map_or(&[][..], |v| &v[..]) {
            if self.next_label < self.plan.len() {
                ctx.schedule_in(SimDuration(d), self.next_label);
                self.next_label += 1;
            }
        }
    }
}

/// The specification, written as plainly as possible: keep every pending event with its time and the
/// order it was scheduled in, and always handle the one with the smallest (time, order).
fn reference_order(plan: &[Vec<u64>], initial: &[u64]) -> Vec<(u64, usize)> {
    let mut pending: Vec<(u64, usize, usize)> = Vec::new(); // (time, order scheduled, label)
    let mut scheduled = 0;
    let mut next_label = 0;
    for &t in initial {
        pending.push((t, scheduled, next_label));
        scheduled += 1;
        next_label += 1;
    }
    let mut seen = Vec::new();
    while let Some(i) = (0..pending.len()).min_by_key(|&i| (pending[i].0, pending[i].1)) {
        let (now, _, ev) = pending.remove(i);
        seen.push((now, ev));
        for &d in plan.get(ev).map_or(&[][..], |v| &v[..]) {
            if next_label < plan.len() {
                pending.push((now + d, scheduled, next_label));
                scheduled += 1;
                next_label += 1;
            }
        }
    }
    seen
}

proptest! {
    #![proptest_config(super::proptest_config())]

    // Many events at few distinct times, half of them scheduled from inside handlers at zero delay:
    // the run loop must handle them exactly in (time, first scheduled) order.
    #[test]
    fn run_loop_matches_the_reference_order(
        initial in prop::collection::vec(0u64..4, 1..8),
        plan in prop::collection::vec(prop::collection::vec(0u64..3, 0..4), 1..200),
    ) {
        let n_initial = initial.len().min(plan.len());
        let initial = &initial[..n_initial];
        let mut sim = Simulation::new(Cascade { plan: plan.clone(), next_label: 0, seen: Vec::new() });
        for &t in initial {
            let label = sim.model().next_label;
            sim.schedule_at(SimTime(t), label).expect("time zero, nothing is past");
            sim.model_mut().next_label += 1;
        }
        prop_assert_eq!(sim.run_to_end(), RunOutcome::QueueEmpty);
        prop_assert_eq!(&sim.model().seen, &reference_order(&plan, initial));
    }
}
