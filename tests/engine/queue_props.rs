//! Properties of `EventQueue` under arbitrary push/pop interleavings, and refusal of past scheduling.

use std::collections::BTreeMap;

use capsim::engine::{
    Context, EventId, EventQueue, Model, RunOutcome, ScheduleError, SimDuration, SimTime,
    Simulation,
};
use proptest::prelude::*;

/// One call on the queue.
#[derive(Clone, Debug)]
enum Op {
    /// Push at this time (absolute) or, in the simulation discipline, this long after the last pop.
    Push(u64),
    Pop,
}

fn ops(max_time: u64) -> impl Strategy<Value = Vec<Op>> {
    // Few distinct times, so equal times (ties) are common; pushes outnumber pops so the queue grows.
    let op = prop_oneof![3 => (0..max_time).prop_map(Op::Push), 2 => Just(Op::Pop)];
    prop::collection::vec(op, 0..400)
}

/// A popped event as `((time, id), payload)`.
type Popped = Option<((u64, u64), usize)>;

/// Pops from the queue and from the reference; returns `(expected, got)`.
fn pop_both(
    q: &mut EventQueue<usize>,
    reference: &mut BTreeMap<(u64, u64), usize>,
) -> (Popped, Popped) {
    let expected = reference.pop_first();
    let got = q.pop().map(|(t, id, ev)| ((t.as_secs(), id.0), ev));
    (expected, got)
}

proptest! {
    #![proptest_config(super::proptest_config())]

    // Any interleaving: each pop returns the smallest pending (time, push number), ids are the push
    // numbers, and every pushed event pops exactly once.
    #[test]
    fn pops_the_least_time_then_push_order_and_loses_nothing(ops in ops(8)) {
        let mut q: EventQueue<usize> = EventQueue::new();
        let mut reference: BTreeMap<(u64, u64), usize> = BTreeMap::new();
        let mut pushed = 0usize;
        let mut popped = vec![0u32; ops.len()];
        for op in &ops {
            match *op {
                Op::Push(t) => {
                    let id = q.push(SimTime(t), pushed);
                    prop_assert_eq!(id, EventId(pushed as u64));
                    reference.insert((t, pushed as u64), pushed);
                    pushed += 1;
                }
                Op::Pop => {
                    let (expected, got) = pop_both(&mut q, &mut reference);
                    prop_assert_eq!(got, expected);
                    if let Some((_, ev)) = got {
                        popped[ev] += 1;
                    }
                }
            }
            prop_assert_eq!(q.len(), reference.len());
            prop_assert_eq!(q.is_empty(), reference.is_empty());
            prop_assert_eq!(q.peek_time(), reference.keys().next().map(|&(t, _)| SimTime(t)));
            prop_assert_eq!(q.pushed(), pushed as u64);
        }
        while !reference.is_empty() {
            let (expected, got) = pop_both(&mut q, &mut reference);
            prop_assert_eq!(got, expected);
            popped[got.expect("reference was not empty").1] += 1;
        }
        prop_assert!(q.pop().is_none());
        prop_assert!(popped[..pushed].iter().all(|&n| n == 1), "pop counts {:?}", &popped[..pushed]);
    }

    // The simulation discipline (nothing is pushed before the last popped time): pops come out in
    // non-decreasing (time, seq) order, and events at equal times in push order.
    #[test]
    fn pops_never_go_back_in_time_and_ties_keep_push_order(ops in ops(4)) {
        let mut q: EventQueue<u64> = EventQueue::with_capacity(16);
        let mut now = 0u64;
        let mut pushed = 0u64;
        let mut out: Vec<(u64, u64, u64)> = Vec::new(); // (time, id, payload = push number)
        for op in ops.iter().chain(std::iter::repeat_n(&Op::Pop, 400)) {
            match *op {
                Op::Push(delay) => {
                    q.push(SimTime(now + delay), pushed);
                    pushed += 1;
                }
                Op::Pop => {
                    if let Some((t, id, ev)) = q.pop() {
                        prop_assert!(t.as_secs() >= now, "time went back from {} to {}", now, t.as_secs());
                        now = t.as_secs();
                        out.push((t.as_secs(), id.0, ev));
                    }
                }
            }
        }
        prop_assert!(q.is_empty());
        prop_assert_eq!(out.len() as u64, pushed);
        for w in out.windows(2) {
            prop_assert!((w[0].0, w[0].1) < (w[1].0, w[1].1), "out of order: {:?} then {:?}", w[0], w[1]);
            if w[0].0 == w[1].0 {
                prop_assert!(w[0].2 < w[1].2, "tie popped out of push order: {:?} then {:?}", w[0], w[1]);
            }
        }
        for &(_, id, ev) in &out {
            prop_assert_eq!(id, ev, "the id is the push number");
        }
    }
}

/// Tries to schedule `back` seconds before now from inside `handle`, and records what came back.
struct PastScheduler {
    back: u64,
    results: Vec<(u64, usize, Result<EventId, ScheduleError>, usize)>,
}

impl Model for PastScheduler {
    type Event = ();
    fn handle(&mut self, _: (), ctx: &mut Context<()>) {
        let now = ctx.now().as_secs();
        let before = ctx.pending();
        let r = ctx.schedule_at(SimTime(now - self.back.min(now)), ());
        self.results.push((now, before, r, ctx.pending()));
    }
}

proptest! {
    #![proptest_config(super::proptest_config())]

    // Scheduling before now is refused with `InThePast` carrying both times, and nothing is queued;
    // scheduling at now itself is allowed.
    #[test]
    fn schedule_at_before_now_is_an_error_not_a_panic(now in 1u64..1_000_000, back in 1u64..1_000_000) {
        let back = back.min(now);
        let mut sim = Simulation::new(PastScheduler { back, results: Vec::new() });
        sim.schedule_at(SimTime(now), ()).expect("future");
        prop_assert_eq!(sim.run_events(1), RunOutcome::ReachedEventCount);
        let (seen_now, before, result, after) = sim.model().results[0].clone();
        prop_assert_eq!(seen_now, now);
        prop_assert_eq!(result, Err(ScheduleError::InThePast { at: now - back, now }));
        prop_assert_eq!(after, before, "a refused event must not be queued");
        // From outside, too, once the clock has moved.
        prop_assert_eq!(sim.run_until(SimTime(now + 10)), RunOutcome::ReachedTime);
        prop_assert_eq!(
            sim.schedule_at(SimTime(now + 9), ()),
            Err(ScheduleError::InThePast { at: now + 9, now: now + 10 })
        );
        prop_assert!(sim.schedule_at(SimTime(now + 10), ()).is_ok(), "now itself is not the past");
    }
}

/// Records the times it handles events at.
#[derive(Default)]
struct Clock {
    seen: Vec<u64>,
}

impl Model for Clock {
    type Event = ();
    fn handle(&mut self, _: (), ctx: &mut Context<()>) {
        self.seen.push(ctx.now().as_secs());
    }
}

#[test]
fn in_the_past_error_names_both_times_and_schedule_in_never_fails() {
    let msg = ScheduleError::InThePast { at: 3, now: 10 }.to_string();
    assert!(
        msg.contains("3 s") && msg.contains("10 s"),
        "message: {msg}"
    );
    // schedule_in never lands in the past: zero delay after the clock moved is "now".
    let mut sim = Simulation::new(Clock::default());
    assert_eq!(sim.run_until(SimTime(50)), RunOutcome::ReachedTime);
    assert_eq!(sim.schedule_in(SimDuration(0), ()), EventId(0));
    // ...and a delay past the end of time saturates instead of overflowing.
    assert_eq!(sim.schedule_in(SimDuration(u64::MAX), ()), EventId(1));
    assert_eq!(sim.run_to_end(), RunOutcome::QueueEmpty);
    assert_eq!(sim.model().seen, vec![50, u64::MAX]);
}
