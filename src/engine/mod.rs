//! The discrete-event engine: simulated time, the event queue, the run loop and random streams.
//!
//! The engine knows nothing of chips, sites or policies. A model implements [`Model`]: it names its
//! event type (an enum, dispatched statically through `match`) and handles one event at a time,
//! scheduling further events through the [`Context`] it is handed.
//!
//! # Ordering guarantee
//!
//! Events are handled in non-decreasing time. Events at the same time are handled in the order they
//! were scheduled (first-scheduled-first), because the queue key is `(time, sequence number)` and the
//! sequence number counts every `schedule` call of the run. A model that needs "A before B at the same
//! instant" schedules A first (capsim schedules its dated policy changes before any job event, so a
//! rule that starts on a date applies to jobs arriving at that same instant).
//!
//! Scheduling before `now` is refused with [`ScheduleError::InThePast`]; time never goes backward.
//!
//! # Determinism contract
//!
//! A run is a pure function of the model's initial state, the events scheduled before it starts, and
//! the random streams it draws from ([`rng::stream`]). The engine uses no clock, no hashing of
//! addresses and no threads; one replication is single-threaded.
//!
//! # Cancelling events
//!
//! There is no `cancel`: models mark stale events themselves (for instance with a per-entity epoch
//! carried in the event and checked in `handle`). This keeps the queue free of deletions.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::{EventId, EventQueue};
pub use time::{SimDuration, SimTime, SECS_PER_DAY, SECS_PER_HOUR};

/// Why an event could not be scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The requested time is earlier than the current simulated time.
    #[error("cannot schedule an event at {at} s: the simulation is already at {now} s")]
    InThePast {
        /// The requested time, in seconds since the start.
        at: u64,
        /// The current time, in seconds since the start.
        now: u64,
    },
}

/// A simulation model: its state, and how it reacts to each of its events.
pub trait Model {
    /// The model's events; usually an enum.
    type Event;

    /// Handles one event at `ctx.now()`; may schedule more events through `ctx`.
    fn handle(&mut self, event: Self::Event, ctx: &mut Context<Self::Event>);
}

/// What a model sees while it handles an event: the clock and the scheduler.
pub struct Context<E> {
    now: SimTime,
    queue: EventQueue<E>,
    stop_requested: bool,
}

impl<E> Context<E> {
    fn new() -> Self {
        Context {
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            stop_requested: false,
        }
    }

    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at absolute time `at`; refuses times before `now`.
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> Result<EventId, ScheduleError> {
        if at < self.now {
            return Err(ScheduleError::InThePast {
                at: at.0,
                now: self.now.0,
            });
        }
        Ok(self.queue.push(at, event))
    }

    /// Schedules `event` after `delay` from now. Never fails: the result is never in the past.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> EventId {
        let at = self.now.saturating_add(delay);
        self.queue.push(at, event)
    }

    /// Asks the run loop to stop after the current event.
    pub fn stop(&mut self) {
        self.stop_requested = true;
    }

    /// Number of pending events.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}

/// Why a run loop returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// No events were left.
    QueueEmpty,
    /// The next event lies after the time limit; the clock was advanced to the limit.
    ReachedTime,
    /// The requested number of events was handled.
    ReachedEventCount,
    /// The model called [`Context::stop`].
    Stopped,
}

/// A model together with its clock and pending events.
pub struct Simulation<M: Model> {
    model: M,
    ctx: Context<M::Event>,
    handled: u64,
}

impl<M: Model> Simulation<M> {
    /// A simulation at time zero with no pending events.
    pub fn new(model: M) -> Self {
        Simulation {
            model,
            ctx: Context::new(),
            handled: 0,
        }
    }

    /// Schedules an event from outside the model (typically before the run starts).
    pub fn schedule_at(&mut self, at: SimTime, event: M::Event) -> Result<EventId, ScheduleError> {
        self.ctx.schedule_at(at, event)
    }

    /// Schedules an event after `delay` from now.
    pub fn schedule_in(&mut self, delay: SimDuration, event: M::Event) -> EventId {
        self.ctx.schedule_in(delay, event)
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.ctx.now
    }

    /// Events handled so far.
    pub fn events_handled(&self) -> u64 {
        self.handled
    }

    /// Number of pending events.
    pub fn pending(&self) -> usize {
        self.ctx.queue.len()
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model, mutably (between runs).
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// The model and the context together, e.g. to let the model schedule its initial events.
    pub fn parts_mut(&mut self) -> (&mut M, &mut Context<M::Event>) {
        (&mut self.model, &mut self.ctx)
    }

    /// Consumes the simulation and returns the model.
    pub fn into_model(self) -> M {
        self.model
    }

    #[inline]
    fn step_inner(&mut self, limit: SimTime) -> Option<RunOutcome> {
        match self.ctx.queue.peek_time() {
            None => Some(RunOutcome::QueueEmpty),
            Some(t) if t > limit => Some(RunOutcome::ReachedTime),
            Some(_) => {
                let (t, _, ev) = self.ctx.queue.pop().expect("peeked an event");
                debug_assert!(
                    t >= self.ctx.now,
                    "time went backward: {t} < {}",
                    self.ctx.now
                );
                self.ctx.now = t;
                self.model.handle(ev, &mut self.ctx);
                self.handled += 1;
                if self.ctx.stop_requested {
                    self.ctx.stop_requested = false;
                    Some(RunOutcome::Stopped)
                } else {
                    None
                }
            }
        }
    }

    /// Handles one event, if any is pending. Returns false when the queue is empty.
    pub fn step(&mut self) -> bool {
        !matches!(self.step_inner(SimTime::MAX), Some(RunOutcome::QueueEmpty))
    }

    /// Handles every event at or before `until`, then sets the clock to `until`
    /// (unless the model stopped the run first, or `until` is already past).
    pub fn run_until(&mut self, until: SimTime) -> RunOutcome {
        loop {
            if let Some(outcome) = self.step_inner(until) {
                if outcome != RunOutcome::Stopped && until > self.ctx.now {
                    self.ctx.now = until;
                }
                return if outcome == RunOutcome::QueueEmpty {
                    RunOutcome::ReachedTime
                } else {
                    outcome
                };
            }
        }
    }

    /// Handles events until none are left (or the model stops the run).
    pub fn run_to_end(&mut self) -> RunOutcome {
        loop {
            if let Some(outcome) = self.step_inner(SimTime::MAX) {
                return outcome;
            }
        }
    }

    /// Handles at most `n` events.
    pub fn run_events(&mut self, n: u64) -> RunOutcome {
        for _ in 0..n {
            if let Some(outcome) = self.step_inner(SimTime::MAX) {
                return outcome;
            }
        }
        RunOutcome::ReachedEventCount
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Ev {
        Ping(u32),
    }

    #[derive(Default)]
    struct Echo {
        seen: Vec<(u64, u32)>,
    }

    impl Model for Echo {
        type Event = Ev;
        fn handle(&mut self, ev: Ev, ctx: &mut Context<Ev>) {
            let Ev::Ping(n) = ev;
            self.seen.push((ctx.now().0, n));
            if n < 3 {
                ctx.schedule_in(SimDuration(10), Ev::Ping(n + 1));
            }
            let past = ctx.schedule_at(SimTime(ctx.now().0.saturating_sub(1)), Ev::Ping(99));
            if ctx.now().0 > 0 {
                assert!(matches!(past, Err(ScheduleError::InThePast { .. })));
            }
            if n == 99 {
                ctx.stop();
            }
        }
    }

    #[test]
    fn run_until_stops_at_the_limit_and_advances_the_clock() {
        let mut sim = Simulation::new(Echo::default());
        sim.schedule_at(SimTime(5), Ev::Ping(1)).unwrap();
        assert_eq!(sim.run_until(SimTime(20)), RunOutcome::ReachedTime);
        assert_eq!(sim.now(), SimTime(20));
        assert_eq!(sim.model().seen, vec![(5, 1), (15, 2)]);
        assert_eq!(sim.run_to_end(), RunOutcome::QueueEmpty);
        assert_eq!(sim.model().seen.last(), Some(&(25, 3)));
        assert!(sim.schedule_at(SimTime(1), Ev::Ping(0)).is_err());
    }

    #[test]
    fn stop_and_event_count() {
        let mut sim = Simulation::new(Echo::default());
        sim.schedule_at(SimTime(0), Ev::Ping(99)).unwrap();
        sim.schedule_at(SimTime(0), Ev::Ping(1)).unwrap();
        assert_eq!(sim.run_to_end(), RunOutcome::Stopped);
        assert_eq!(sim.events_handled(), 1);
        assert_eq!(sim.run_events(1), RunOutcome::ReachedEventCount);
        assert_eq!(sim.model().seen[1], (0, 1));
    }
}
