//! A site's queue and running jobs, with the running totals placement reads (so no decision walks a
//! queue), and FIFO + EASY backfilling as a pure function ([`plan_starts`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::engine::{Context, SimTime};

use super::super::SiteId;
use super::{CapacityModel, Ev};

/// How many queued jobs behind the head backfilling looks at (as Slurm's `bf_max_job_test`): keeps
/// the cost of a start bounded however long the queue grows.
pub const BACKFILL_DEPTH: usize = 128;

/// The state of one site.
#[derive(Clone, Debug, Default)]
pub(super) struct SiteState {
    /// Inference has priority here (a copy of the site's setting, kept beside what reads it).
    pub inference_priority: bool,
    /// FLOP/s of one chip at the training MFU (a copy of the chip's figure).
    pub flop_per_chip: f64,
    pub installed: u64,
    pub in_repair: u64,
    /// Chips held by running jobs.
    pub busy_jobs: u64,
    /// Chips held by inference batches.
    pub inference_alloc: u64,
    /// Chips inference wanted at the last batches (held or not).
    pub inference_wanted: u64,
    /// Queued jobs in order, with what the scheduler reads (so a start reads no job table).
    pub queue: SiteQueue,
    /// Running jobs (order irrelevant; each job knows its position, see `Job::run_pos`).
    pub running: Vec<u32>,
    /// Running jobs by expected end, with their gangs, for the backfill shadow.
    pub ends: BTreeSet<(SimTime, u32, u64)>,
    /// Sum over running jobs of `gang x end` (seconds): with `busy_jobs`, the chip-seconds of work
    /// ahead on running jobs at any instant, exactly.
    pub run_gang_end: u128,
    /// Sum over queued jobs of `gang x expected run` (chip-seconds).
    pub queue_work: u128,
    /// The queued jobs that fit the site's training capacity (not stranded) by gang, each under
    /// its queue key. Stranded jobs are tracked by the model.
    pub queue_gangs: BTreeMap<u64, KeyedDeque<u32>>,
    /// Bumped whenever what [`plan_starts`] reads changes (the queue's first
    /// `BACKFILL_DEPTH + 1` jobs, the running jobs' ends).
    pub plan_version: u64,
    /// `(plan_version, free)` of the last plan that started nothing: the same inputs start
    /// nothing later either (time only makes backfilling harder), so the plan is skipped.
    pub idle_plan: Option<(u64, u64)>,
    pub online_acc_from: SimTime,
    pub queue_acc_from: SimTime,
    pub supply_carry: f64,
}

impl SiteState {
    pub fn new(installed: u64, inference_priority: bool, flop_per_chip: f64) -> Self {
        SiteState {
            inference_priority,
            flop_per_chip,
            installed,
            ..SiteState::default()
        }
    }

    pub fn online(&self) -> u64 {
        self.installed - self.in_repair
    }

    /// The largest gang waiting here that is not stranded, if any.
    pub fn max_queued_gang(&self) -> Option<u64> {
        self.queue_gangs.keys().next_back().copied()
    }

    /// Files queued job `job` (queue key `key`) under its gang as one that fits.
    pub fn add_fitting(&mut self, gang: u64, key: u64, job: u32) {
        self.queue_gangs.entry(gang).or_default().insert(key, job);
    }

    /// Takes queued job `job` (queue key `key`) out of the jobs that fit.
    pub fn remove_fitting(&mut self, gang: u64, key: u64, job: u32) {
        let jobs = self
            .queue_gangs
            .get_mut(&gang)
            .expect("a fitting job's gang is filed");
        let taken = jobs.remove(key);
        debug_assert_eq!(taken, job, "a fitting job's queue key finds it");
        if jobs.is_empty() {
            self.queue_gangs.remove(&gang);
        }
    }

    /// Chip-seconds of work ahead of a new arrival at `now`: the rest of the running jobs (by their
    /// expected ends) and every queued job.
    pub fn work_ahead(&self, now: SimTime) -> u128 {
        let running = self
            .run_gang_end
            .saturating_sub(u128::from(now.0) * u128::from(self.busy_jobs));
        running + self.queue_work
    }

    /// The queued jobs, in queue order, that fit the site's training capacity (not stranded) and
    /// whose gang exceeds `cap`: found in the gang index, without a walk of the queue.
    pub fn fitting_jobs_above(&self, cap: u64) -> Vec<u32> {
        let mut found: Vec<(u64, u32)> = self
            .queue_gangs
            .range(cap.saturating_add(1)..)
            .flat_map(|(_, jobs)| jobs.iter().map(|(key, &job)| (key, job)))
            .collect();
        found.sort_unstable();
        found.into_iter().map(|(_, job)| job).collect()
    }
}

/// A queued job as the scheduler sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// The job.
    pub job: u32,
    /// Chips in the gang: a `u32` (the loader refuses more than 1e8 chips in any count), so that a
    /// queued job takes 16 bytes and the backfill walk reads a third less memory than with a `u64`;
    /// read it with [`Waiting::gang`].
    gang: u32,
    /// Expected run time if started now, seconds.
    pub run_secs: u64,
}

impl Waiting {
    pub fn new(job: u32, gang: u64, run_secs: u64) -> Self {
        Waiting {
            job,
            gang: u32::try_from(gang)
                .expect("a gang of at most u32::MAX chips (the loader allows 1e8)"),
            run_secs,
        }
    }

    /// Chips in the gang.
    pub fn gang(&self) -> u64 {
        u64::from(self.gang)
    }
}

/// Keys of jobs put at the back count up from here; keys of jobs put at the front count down.
const KEY_ORIGIN: u64 = 1 << 63;

/// A job this close to an end of the queue leaves it at once (the shift is short); one deeper
/// leaves a tombstone, cleared when it reaches an end or when the queue is compacted.
const SHIFT_AT_MOST: usize = 2 * (BACKFILL_DEPTH + 1);

/// A value that has a tombstone: a value no real one equals, left where one leaves a
/// [`KeyedDeque`] from deep inside.
pub(super) trait Tombstone: Copy {
    const TOMBSTONE: Self;
    /// Whether this is the tombstone (one field read, on the walks' path).
    fn is_tombstone(&self) -> bool;
}

impl Tombstone for u32 {
    const TOMBSTONE: u32 = u32::MAX;
    fn is_tombstone(&self) -> bool {
        *self == u32::MAX
    }
}

impl Tombstone for Waiting {
    /// No job has the largest number: jobs are numbered from 0 and fewer than `u32::MAX`.
    const TOMBSTONE: Waiting = Waiting {
        job: u32::MAX,
        gang: 0,
        run_secs: 0,
    };
    fn is_tombstone(&self) -> bool {
        self.job == u32::MAX
    }
}

/// Values in the order of their keys, in a deque: a value keyed after (before) all others is
/// pushed at the back (front) in O(1), any other is found by a search that gallops from the head.
/// One that leaves from deep inside leaves a tombstone rather than shifting the deque; tombstones
/// are cleared when they reach an end, and the deque is compacted before they outnumber the
/// values. Keys and values are kept apart, so a walk reads only values and a search only keys.
#[derive(Clone, Debug)]
pub(super) struct KeyedDeque<T> {
    /// Keys, increasing.
    keys: VecDeque<u64>,
    /// The value under each key, or a tombstone.
    values: VecDeque<T>,
    /// Values that are not tombstones.
    live: usize,
}

impl<T> Default for KeyedDeque<T> {
    fn default() -> Self {
        KeyedDeque {
            keys: VecDeque::new(),
            values: VecDeque::new(),
            live: 0,
        }
    }
}

impl<T: Tombstone> KeyedDeque<T> {
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The values, tombstones included, in key order as the deque's two parts.
    pub fn slices(&self) -> [&[T]; 2] {
        let (a, b) = self.values.as_slices();
        [a, b]
    }

    /// The key of the value in `slot` (valid until the deque next changes).
    pub fn key_at(&self, slot: usize) -> u64 {
        self.keys[slot]
    }

    /// The values in key order, with their keys.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> + Clone {
        self.keys
            .iter()
            .zip(&self.values)
            .filter(|(_, v)| !v.is_tombstone())
            .map(|(k, v)| (*k, v))
    }

    /// Adds `value` (not a tombstone) under `key` (not in use).
    pub fn insert(&mut self, key: u64, value: T) {
        debug_assert!(!value.is_tombstone(), "a value is not a tombstone");
        self.live += 1;
        if self.keys.back().is_none_or(|&k| k < key) {
            self.keys.push_back(key);
            self.values.push_back(value);
        } else if self.keys.front().is_some_and(|&k| key < k) {
            self.keys.push_front(key);
            self.values.push_front(value);
        } else {
            let i = self.position(key).expect_err("a key not in use");
            self.keys.insert(i, key);
            self.values.insert(i, value);
        }
    }

    /// Where `key` is (Ok) or would go (Err): a search that gallops from the head, so that a key
    /// near the head (a job that starts) costs a few reads of memory already in cache.
    fn position(&self, key: u64) -> Result<usize, usize> {
        let n = self.keys.len();
        let mut hi = 1;
        while hi < n && self.keys[hi - 1] < key {
            hi *= 2;
        }
        let lo = hi / 2;
        let hi = hi.min(n);
        let (front, back) = self.keys.as_slices();
        let search = |slice: &[u64], offset: usize| {
            slice
                .binary_search(&key)
                .map(|i| i + offset)
                .map_err(|i| i + offset)
        };
        // [lo, hi) holds the position: search it in the deque's one or two slices.
        if hi <= front.len() {
            search(&front[lo..hi], lo)
        } else if lo >= front.len() {
            search(&back[lo - front.len()..hi - front.len()], lo)
        } else {
            match search(&front[lo..], lo) {
                Err(i) if i == front.len() => search(&back[..hi - front.len()], front.len()),
                r => r,
            }
        }
    }

    /// The first value in key order, with its key (no tombstone is left at either end).
    pub fn first(&self) -> Option<(u64, &T)> {
        let v = self.values.front()?;
        debug_assert!(!v.is_tombstone(), "no tombstone at the front");
        Some((self.keys[0], v))
    }

    /// Takes out the value under `key`.
    pub fn remove(&mut self, key: u64) -> T {
        let i = self.position(key).expect("a key in use");
        let value = if i.min(self.keys.len() - 1 - i) <= SHIFT_AT_MOST {
            self.keys.remove(i);
            self.values.remove(i).expect("in range")
        } else {
            std::mem::replace(&mut self.values[i], T::TOMBSTONE)
        };
        assert!(!value.is_tombstone(), "a value, not a tombstone");
        self.live -= 1;
        while self.values.front().is_some_and(T::is_tombstone) {
            self.keys.pop_front();
            self.values.pop_front();
        }
        while self.values.back().is_some_and(T::is_tombstone) {
            self.keys.pop_back();
            self.values.pop_back();
        }
        if self.values.len() > 2 * self.live + 64 {
            let mut keep = self.values.iter().map(|v| !v.is_tombstone());
            self.keys.retain(|_| keep.next().unwrap_or(false));
            self.values.retain(|v| !v.is_tombstone());
        }
        value
    }
}

/// A site's queue in order. Every job in it holds a key that keeps its place (keys increase from
/// the head to the back), so a job leaves from anywhere without a walk ([`KeyedDeque`]).
#[derive(Clone, Debug)]
pub(super) struct SiteQueue {
    jobs: KeyedDeque<Waiting>,
    next_back: u64,
    next_front: u64,
}

impl Default for SiteQueue {
    fn default() -> Self {
        SiteQueue {
            jobs: KeyedDeque::default(),
            next_back: KEY_ORIGIN,
            next_front: KEY_ORIGIN,
        }
    }
}

impl SiteQueue {
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The jobs in queue order, with their keys.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Waiting)> + Clone {
        self.jobs.iter()
    }

    /// The front job, with its key, if any.
    pub fn front(&self) -> Option<(u64, &Waiting)> {
        self.jobs.first()
    }

    /// The jobs in queue order as the two parts of the deque, with tombstones (see
    /// [`Tombstone`]); a job's index in them taken as one is its slot ([`SiteQueue::key_at`]).
    pub fn slices(&self) -> [&[Waiting]; 2] {
        self.jobs.slices()
    }

    /// The key of the job in `slot` (valid until the queue next changes).
    pub fn key_at(&self, slot: usize) -> u64 {
        self.jobs.key_at(slot)
    }

    /// Puts `w` at the front or the back; returns its key.
    pub fn push(&mut self, w: Waiting, front: bool) -> u64 {
        let key = if front {
            self.next_front -= 1;
            self.next_front
        } else {
            self.next_back += 1;
            self.next_back - 1
        };
        self.jobs.insert(key, w);
        key
    }

    /// Takes the job under `key` out of the queue.
    pub fn remove(&mut self, key: u64) -> Waiting {
        self.jobs.remove(key)
    }
}

/// FIFO with EASY backfilling: which queued jobs start now.
///
/// `queue` is the site's queue in order as the two parts of its deque, which may hold tombstones
/// (skipped; the head and at most [`BACKFILL_DEPTH`] more live jobs are looked at), `free` the
/// chips free for training, `ends` the running jobs' expected ends and gangs in order of end. Jobs
/// start from the head while they fit. If the head then waits, its start is reserved at the
/// *shadow* time (when enough running jobs will have ended), and a later job may start now only if
/// it fits in the free chips and either ends before the shadow or uses chips the head will not need
/// at the shadow. `smallest` is a lower bound on the gang of any queued job that could start (1 if
/// unknown): once fewer chips than that are free, the walk stops. Returns the slots (indices in
/// the two parts taken as one) of the jobs to start, in queue order.
///
/// A plain loop over the slices, not an iterator chain: this walk is the scheduler's inner loop.
pub fn plan_starts(
    now: SimTime,
    mut free: u64,
    smallest: u64,
    queue: [&[Waiting]; 2],
    ends: impl Iterator<Item = (SimTime, u64)>,
) -> Vec<usize> {
    let smallest = smallest.max(1);
    let mut start = Vec::new();
    let mut started_ends: Vec<(SimTime, u64)> = Vec::new();
    // From the front while jobs fit: the first that does not is the head, which waits.
    let mut head = None;
    let mut slot = 0usize;
    'fifo: for part in queue {
        for w in part {
            if !w.is_tombstone() {
                if w.gang() > free {
                    head = Some((slot, w.gang()));
                    break 'fifo;
                }
                free -= w.gang();
                start.push(slot);
                started_ends.push((
                    now.saturating_add(crate::engine::SimDuration(w.run_secs)),
                    w.gang(),
                ));
            }
            slot += 1;
        }
    }
    let Some((head_slot, need)) = head else {
        return start;
    };
    let behind = head_slot + 1;
    if free < smallest || behind == queue[0].len() + queue[1].len() {
        return start;
    }
    let (shadow, mut extra) = head_shadow(need, free, started_ends, ends);
    // The jobs behind the head, at most `BACKFILL_DEPTH` of them.
    let mut looked = 0usize;
    let mut base = 0usize;
    for part in queue {
        let from = behind.saturating_sub(base).min(part.len());
        for (j, w) in part[from..].iter().enumerate() {
            if w.is_tombstone() {
                continue;
            }
            if looked == BACKFILL_DEPTH || free < smallest {
                return start;
            }
            looked += 1;
            if w.gang() > free {
                continue;
            }
            let fits_before = now.saturating_add(crate::engine::SimDuration(w.run_secs)) <= shadow;
            if fits_before || w.gang() <= extra {
                if !fits_before {
                    extra -= w.gang();
                }
                free -= w.gang();
                start.push(base + from + j);
            }
        }
        base += part.len();
    }
    start
}

/// When a waiting head that needs `need` chips can start, with `free` chips free now and the
/// running jobs ending as `ends` and `started` (the jobs just started ahead of it) say: the first
/// end by which enough chips are free, and how many of them the head leaves spare then
/// (`SimTime::MAX` and all free chips if the ends never free enough).
fn head_shadow(
    need: u64,
    free: u64,
    mut started: Vec<(SimTime, u64)>,
    ends: impl Iterator<Item = (SimTime, u64)>,
) -> (SimTime, u64) {
    started.sort_unstable();
    let mut merged = started.into_iter().peekable();
    let mut ends = ends.peekable();
    let mut acc = free;
    loop {
        let next = match (ends.peek(), merged.peek()) {
            (Some(a), Some(b)) if b < a => merged.next(),
            (Some(_), _) => ends.next(),
            (None, Some(_)) => merged.next(),
            (None, None) => None,
        };
        let Some((t, g)) = next else {
            return (SimTime::MAX, free);
        };
        acc += g;
        if acc >= need {
            return (t, acc - need);
        }
    }
}

impl CapacityModel<'_> {
    /// Chips at `site` that training could ever use under current inference: chips online less
    /// those inference wants at a priority site (elsewhere training goes first).
    pub(super) fn training_capacity(&self, site: SiteId) -> u64 {
        let st = &self.sites[site.0 as usize];
        if st.inference_priority {
            st.online()
                .saturating_sub(st.inference_wanted.max(st.inference_alloc))
        } else {
            st.online()
        }
    }

    /// Chips free for training now.
    pub(super) fn free_for_training(&self, site: SiteId) -> u64 {
        let st = &self.sites[site.0 as usize];
        let reserve = if st.inference_priority {
            st.inference_wanted.max(st.inference_alloc)
        } else {
            st.inference_alloc
        };
        st.online().saturating_sub(st.busy_jobs + reserve)
    }

    /// Puts job `j` in `site`'s queue (at the back, or the front after a failure).
    pub(super) fn enqueue(&mut self, j: u32, site: SiteId, front: bool, now: SimTime) {
        self.accrue_queue(site, now);
        let run = self.expected_run(j, site).as_secs();
        let job = self.job(j);
        let (gang, stranded, class) = (job.gang, job.stranded, job.class);
        let st = &mut self.sites[site.0 as usize];
        st.queue_work += u128::from(gang) * u128::from(run);
        let w = Waiting::new(j, gang, run);
        if front || st.queue.len() <= BACKFILL_DEPTH {
            st.plan_version += 1;
        }
        let key = st.queue.push(w, front);
        if stranded {
            self.stranded.insert((class, gang, j));
        } else {
            st.add_fitting(gang, key, j);
        }
        self.job_mut(j).queue_key = key;
    }

    /// Takes the job under `key` out of `site`'s queue.
    fn dequeue_key(&mut self, site: SiteId, key: u64, now: SimTime) -> u32 {
        self.accrue_queue(site, now);
        let st = &mut self.sites[site.0 as usize];
        let w = st.queue.remove(key);
        st.plan_version += 1;
        st.queue_work -= u128::from(w.gang()) * u128::from(w.run_secs);
        let job = self.job(w.job);
        if job.stranded {
            self.stranded.remove(&(job.class, w.gang(), w.job));
        } else {
            self.sites[site.0 as usize].remove_fitting(w.gang(), key, w.job);
        }
        w.job
    }

    /// Takes every job for which `out` says so out of `site`'s queue (an eviction of many jobs at a
    /// rule change), and returns them in queue order.
    pub(super) fn dequeue_where(
        &mut self,
        site: SiteId,
        now: SimTime,
        out: impl Fn(&Self, u32) -> bool,
    ) -> Vec<u32> {
        let keys: Vec<u64> = self.sites[site.0 as usize]
            .queue
            .iter()
            .filter(|(_, w)| out(self, w.job))
            .map(|(k, _)| k)
            .collect();
        keys.into_iter()
            .map(|k| self.dequeue_key(site, k, now))
            .collect()
    }

    /// Takes queued job `j` out of `site`'s queue.
    pub(super) fn dequeue(&mut self, site: SiteId, j: u32, now: SimTime) {
        let key = self.job(j).queue_key;
        let taken = self.dequeue_key(site, key, now);
        debug_assert_eq!(taken, j, "a job's queue key finds it");
    }

    /// Starts queued jobs at `site`: FIFO with EASY backfilling ([`plan_starts`]).
    ///
    /// Most calls find nothing to do (the same plan as last time, or no queued gang that fits):
    /// that check is inlined where it is called, and only a plan goes out of line.
    #[inline]
    pub(super) fn try_start(&mut self, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        let free = self.free_for_training(site);
        let st = &self.sites[site.0 as usize];
        if st.queue.is_empty() || st.idle_plan == Some((st.plan_version, free)) {
            return;
        }
        // Nothing can start: the head does not fit and no queued gang fits the free chips.
        let head = st.queue.front().map_or(0, |(_, w)| w.gang());
        if head > free && st.queue_gangs.keys().next().is_none_or(|&g| g > free) {
            return;
        }
        self.plan_and_start(site, now, free, ctx);
    }

    /// Plans which queued jobs start at `site` with `free` chips free, and starts them.
    #[inline(never)]
    fn plan_and_start(&mut self, site: SiteId, now: SimTime, free: u64, ctx: &mut Context<Ev>) {
        let st = &mut self.sites[site.0 as usize];
        let ends = st.ends.iter().map(|&(t, _, g)| (t, g));
        // Stranded jobs' gangs exceed the training capacity, so the smallest gang that could
        // start is the smallest filed as fitting.
        let smallest = st.queue_gangs.keys().next().copied().unwrap_or(u64::MAX);
        let slots = plan_starts(now, free, smallest, st.queue.slices(), ends);
        let keys: Vec<u64> = slots.into_iter().map(|i| st.queue.key_at(i)).collect();
        if keys.is_empty() {
            st.idle_plan = Some((st.plan_version, free));
            return;
        }
        // Out of the queue first, then started in queue order.
        let started: Vec<u32> = keys
            .into_iter()
            .map(|key| self.dequeue_key(site, key, now))
            .collect();
        for j in started {
            self.start(j, site, now, ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(gang: u64, run_secs: u64) -> Waiting {
        Waiting::new(0, gang, run_secs)
    }

    #[test]
    fn fifo_starts_from_the_head_while_jobs_fit() {
        let q = [w(4, 10), w(4, 10), w(4, 10)];
        assert_eq!(
            plan_starts(SimTime(0), 8, 1, [&q, &[]], std::iter::empty()),
            vec![0, 1]
        );
    }

    #[test]
    fn a_short_job_backfills_before_the_heads_shadow() {
        // 2 chips free; the head needs 8; a running job of 6 chips ends at t=100 -> shadow 100.
        let q = [w(8, 50), w(2, 90), w(2, 200)];
        let ends = [(SimTime(100), 6)];
        // The 90 s job ends before the shadow: it starts. The 200 s one would delay the head.
        assert_eq!(
            plan_starts(SimTime(0), 2, 1, [&q, &[]], ends.into_iter()),
            vec![1]
        );
    }

    #[test]
    fn a_long_job_backfills_on_chips_the_head_will_not_need() {
        // 4 free, head needs 8, a running 6-chip job ends at 100: at the shadow 10 chips are free,
        // 2 more than the head needs, so a long 2-chip job may start now; a second may not.
        let q = [w(8, 50), w(2, 500), w(2, 500)];
        let ends = [(SimTime(100), 6)];
        assert_eq!(
            plan_starts(SimTime(0), 4, 1, [&q, &[]], ends.into_iter()),
            vec![1]
        );
    }

    #[test]
    fn no_backfill_when_it_would_delay_the_head() {
        let q = [w(8, 50), w(4, 500)];
        let ends = [(SimTime(100), 4)];
        assert_eq!(
            plan_starts(SimTime(0), 4, 1, [&q, &[]], ends.into_iter()),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn jobs_started_from_the_head_count_toward_the_shadow() {
        // 6 free: job 0 (4 chips, 10 s) starts; head job 1 needs 8: shadow at 10 s when job 0 ends
        // (2 + 4 = 6 < 8) ... then the running 4-chip job at 20 s gives 10 >= 8: shadow 20.
        let q = [w(4, 10), w(8, 50), w(2, 15), w(2, 30)];
        let ends = [(SimTime(20), 4)];
        // Job 2 (15 s) ends before the shadow (20): starts. Job 3 (30 s) needs the extra: at the
        // shadow 2 + 4 + 4 = 10 chips, 2 spare, but job 2 took the 2 free chips: nothing left.
        assert_eq!(
            plan_starts(SimTime(0), 6, 1, [&q, &[]], ends.into_iter()),
            vec![0, 2]
        );
    }

    #[test]
    fn a_head_that_can_never_fit_lets_others_use_the_free_chips() {
        let q = [w(100, 50), w(2, 500), w(2, 500)];
        let ends = [(SimTime(100), 6)];
        assert_eq!(
            plan_starts(SimTime(0), 4, 1, [&q, &[]], ends.into_iter()),
            vec![1, 2]
        );
    }

    proptest::proptest! {
        /// The bound on the smallest gang only shortens the walk: the plan is the same as without.
        #[test]
        fn the_smallest_gang_bound_changes_no_plan(
            free in 0u64..64,
            queue in proptest::collection::vec((1u64..40, 1u64..400), 1..40),
            ends in proptest::collection::vec((1u64..500, 1u64..40), 0..20),
        ) {
            let q: Vec<Waiting> = queue.iter().map(|&(g, r)| w(g, r)).collect();
            let mut ends: Vec<(SimTime, u64)> =
                ends.into_iter().map(|(t, g)| (SimTime(t), g)).collect();
            ends.sort_unstable();
            let smallest = q.iter().map(|w| w.gang()).min().unwrap();
            proptest::prop_assert_eq!(
                plan_starts(SimTime(0), free, smallest, [&q, &[]], ends.iter().copied()),
                plan_starts(SimTime(0), free, 1, [&q, &[]], ends.iter().copied())
            );
        }
    }

    proptest::proptest! {
        /// A plan over a deque's two parts, tombstones and all, starts the jobs a plan over the
        /// same jobs laid out in one slice starts.
        #[test]
        fn a_plan_skips_tombstones_and_spans_both_parts_of_the_deque(
            jobs in proptest::collection::vec((1u64..40, 1u64..400), 1..600),
            fronts in 0usize..200,
            removals in proptest::collection::vec(proptest::num::usize::ANY, 0..300),
            front_pops in 0usize..400,
            free in 0u64..64,
            ends in proptest::collection::vec((1u64..500, 1u64..40), 0..20),
        ) {
            let mut q = SiteQueue::default();
            for (n, &(g, r)) in jobs.iter().enumerate() {
                let job = Waiting::new(n as u32, g, r);
                q.push(job, n < fronts);
            }
            for i in removals {
                if q.is_empty() {
                    break;
                }
                let key = q.iter().nth(i % q.len()).map(|(k, _)| k).unwrap();
                q.remove(key);
            }
            // Jobs leaving from the front bring the tombstones left deep inside into the window.
            for _ in 0..front_pops {
                let Some((key, _)) = q.front() else { break };
                q.remove(key);
            }
            let mut ends: Vec<(SimTime, u64)> =
                ends.into_iter().map(|(t, g)| (SimTime(t), g)).collect();
            ends.sort_unstable();
            let live: Vec<(u64, Waiting)> = q.iter().map(|(k, w)| (k, *w)).collect();
            let laid_out: Vec<Waiting> = live.iter().map(|(_, w)| *w).collect();
            let want: Vec<u64> = plan_starts(SimTime(0), free, 1, [&laid_out, &[]], ends.iter().copied())
                .into_iter()
                .map(|i| live[i].0)
                .collect();
            let got: Vec<u64> = plan_starts(SimTime(0), free, 1, q.slices(), ends.iter().copied())
                .into_iter()
                .map(|slot| q.key_at(slot))
                .collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    mod keyed_deque {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::super::{KeyedDeque, SHIFT_AT_MOST};

        #[derive(Clone, Debug)]
        enum Op {
            Back,
            Front,
            /// Re-insert a removed key (un-stranding a job files it again mid-queue).
            Reinsert(usize),
            /// Remove the live key at this rank (modulo the count).
            Remove(usize),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => Just(Op::Back),
                1 => Just(Op::Front),
                1 => any::<usize>().prop_map(Op::Reinsert),
                4 => any::<usize>().prop_map(Op::Remove),
            ]
        }

        proptest! {
            /// Any sequence of inserts (at either end or in the middle) and removals (near an
            /// end or deep inside, leaving tombstones) keeps the same values in the same order as
            /// an ordered map, and never lets tombstones outnumber the values.
            #[test]
            fn agrees_with_an_ordered_map(ops in proptest::collection::vec(op(), 1..2_000)) {
                let mut deque = KeyedDeque::<u32>::default();
                let mut model = BTreeMap::new();
                let mut removed = Vec::new();
                let (mut back, mut front) = (1u64 << 63, 1u64 << 63);
                for (n, op) in ops.into_iter().enumerate() {
                    let value = n as u32;
                    match op {
                        Op::Back => {
                            deque.insert(back, value);
                            model.insert(back, value);
                            back += 1;
                        }
                        Op::Front => {
                            front -= 1;
                            deque.insert(front, value);
                            model.insert(front, value);
                        }
                        Op::Reinsert(i) if !removed.is_empty() => {
                            let key = removed.swap_remove(i % removed.len());
                            deque.insert(key, value);
                            model.insert(key, value);
                        }
                        Op::Remove(i) if !model.is_empty() => {
                            let key = *model.keys().nth(i % model.len()).unwrap();
                            prop_assert_eq!(deque.remove(key), model.remove(&key).unwrap());
                            removed.push(key);
                        }
                        _ => {}
                    }
                    prop_assert_eq!(deque.len(), model.len());
                    prop_assert!(deque.values.len() <= 2 * deque.len() + 64);
                }
                let got: Vec<(u64, u32)> = deque.iter().map(|(k, v)| (k, *v)).collect();
                let want: Vec<(u64, u32)> = model.into_iter().collect();
                prop_assert_eq!(got, want);
            }
        }

        #[test]
        fn a_job_deep_inside_leaves_a_tombstone_and_one_near_an_end_does_not() {
            let n = 4 * SHIFT_AT_MOST as u64;
            let mut d = KeyedDeque::<u32>::default();
            for k in 0..n {
                d.insert(k, k as u32);
            }
            d.remove(n / 2);
            assert_eq!((d.len(), d.values.len()), (n as usize - 1, n as usize));
            d.remove(1);
            assert_eq!((d.len(), d.values.len()), (n as usize - 2, n as usize - 1));
            assert!(d.iter().all(|(k, _)| k != n / 2 && k != 1));
        }
    }
}
