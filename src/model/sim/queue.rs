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
    pub installed: u64,
    pub in_repair: u64,
    /// Chips held by running jobs.
    pub busy_jobs: u64,
    /// Chips held by inference batches.
    pub inference_alloc: u64,
    /// Chips inference wanted at the last batches (held or not).
    pub inference_wanted: u64,
    /// Queued jobs in order, with what the scheduler reads (so a start reads no job table).
    pub queue: VecDeque<Waiting>,
    /// Running jobs (order irrelevant; each job knows its position, see `Job::run_pos`).
    pub running: Vec<u32>,
    /// Running jobs by expected end, with their gangs, for the backfill shadow.
    pub ends: BTreeSet<(SimTime, u32, u64)>,
    /// Sum over running jobs of `gang x end` (seconds): with `busy_jobs`, the chip-seconds of work
    /// ahead on running jobs at any instant, exactly.
    pub run_gang_end: u128,
    /// Sum over queued jobs of `gang x expected run` (chip-seconds).
    pub queue_work: u128,
    /// Gangs of queued jobs that fit the site's training capacity (not stranded; multiset:
    /// gang -> count). Stranded jobs are tracked by the model.
    pub queue_gangs: BTreeMap<u64, u32>,
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
    pub fn new(installed: u64) -> Self {
        SiteState {
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

    /// The smallest gang waiting here that is not stranded, if any (a stranded one cannot start).
    pub fn min_queued_gang(&self) -> Option<u64> {
        self.queue_gangs.keys().next().copied()
    }

    /// Chip-seconds of work ahead of a new arrival at `now`: the rest of the running jobs (by their
    /// expected ends) and every queued job.
    pub fn work_ahead(&self, now: SimTime) -> u128 {
        let running = self
            .run_gang_end
            .saturating_sub(u128::from(now.0) * u128::from(self.busy_jobs));
        running + self.queue_work
    }

    pub fn add_gang(&mut self, gang: u64) {
        *self.queue_gangs.entry(gang).or_insert(0) += 1;
    }

    pub fn remove_gang(&mut self, gang: u64) {
        match self.queue_gangs.get_mut(&gang) {
            Some(n) if *n > 1 => *n -= 1,
            _ => {
                self.queue_gangs.remove(&gang);
            }
        }
    }
}

/// A queued job as the scheduler sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// The job.
    pub job: u32,
    /// Chips in the gang.
    pub gang: u64,
    /// Expected run time if started now, seconds.
    pub run_secs: u64,
}

/// FIFO with EASY backfilling: which queued jobs start now.
///
/// `queue` is the site's queue in order (the head and at most [`BACKFILL_DEPTH`] more are looked
/// at), `free` the chips free for training, `ends` the running jobs' expected ends and
/// gangs in order of end. Jobs start from the head while they fit. If the head then waits, its start
/// is reserved at the *shadow* time (when enough running jobs will have ended), and a later job may
/// start now only if it fits in the free chips and either ends before the shadow or uses chips the
/// head will not need at the shadow. Returns the indices into `queue` to start, in order.
pub fn plan_starts(
    now: SimTime,
    mut free: u64,
    queue: &VecDeque<Waiting>,
    ends: impl Iterator<Item = (SimTime, u64)>,
) -> Vec<usize> {
    let mut start = Vec::new();
    let mut i = 0;
    while i < queue.len() && queue[i].gang <= free {
        free -= queue[i].gang;
        start.push(i);
        i += 1;
    }
    if i + 1 >= queue.len() || free == 0 {
        return start;
    }
    // The head waits: the jobs just started end too, merge them into the running ends.
    let need = queue[i].gang;
    let mut all: Vec<(SimTime, u64)> = start
        .iter()
        .map(|&k| {
            (
                now.saturating_add(crate::engine::SimDuration(queue[k].run_secs)),
                queue[k].gang,
            )
        })
        .collect();
    all.sort_unstable();
    let mut merged = all.into_iter().peekable();
    let mut ends = ends.peekable();
    let (mut shadow, mut extra) = (SimTime::MAX, free);
    let mut acc = free;
    loop {
        let next = match (ends.peek(), merged.peek()) {
            (Some(a), Some(b)) if b < a => merged.next(),
            (Some(_), _) => ends.next(),
            (None, Some(_)) => merged.next(),
            (None, None) => None,
        };
        let Some((t, g)) = next else { break };
        acc += g;
        if acc >= need {
            shadow = t;
            extra = acc - need;
            break;
        }
    }
    for (k, w) in queue.iter().enumerate().skip(i + 1).take(BACKFILL_DEPTH) {
        if free == 0 {
            break;
        }
        let fits_before = now.saturating_add(crate::engine::SimDuration(w.run_secs)) <= shadow;
        if w.gang <= free && (fits_before || w.gang <= extra) {
            if !fits_before {
                extra -= w.gang;
            }
            free -= w.gang;
            start.push(k);
        }
    }
    start
}

impl CapacityModel<'_> {
    /// Chips at `site` that training could ever use under current inference: chips online less
    /// those inference wants at a priority site (elsewhere training goes first).
    pub(super) fn training_capacity(&self, site: SiteId) -> u64 {
        let st = &self.sites[site.0 as usize];
        if self.world.sites[site.0 as usize].inference_priority {
            st.online()
                .saturating_sub(st.inference_wanted.max(st.inference_alloc))
        } else {
            st.online()
        }
    }

    /// Chips free for training now.
    pub(super) fn free_for_training(&self, site: SiteId) -> u64 {
        let st = &self.sites[site.0 as usize];
        let reserve = if self.world.sites[site.0 as usize].inference_priority {
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
        let job = self.job_mut(j);
        let (gang, stranded, class) = (job.gang, job.stranded, job.class);
        let st = &mut self.sites[site.0 as usize];
        st.queue_work += u128::from(gang) * u128::from(run);
        if stranded {
            self.stranded.insert((class, gang, j));
        } else {
            st.add_gang(gang);
        }
        let w = Waiting {
            job: j,
            gang,
            run_secs: run,
        };
        if front || st.queue.len() <= BACKFILL_DEPTH {
            st.plan_version += 1;
        }
        if front {
            st.queue.push_front(w);
        } else {
            st.queue.push_back(w);
        }
    }

    /// Takes the job at position `i` out of `site`'s queue.
    pub(super) fn dequeue_at(&mut self, site: SiteId, i: usize, now: SimTime) -> u32 {
        self.accrue_queue(site, now);
        let w = self.sites[site.0 as usize]
            .queue
            .remove(i)
            .expect("queue position in range");
        let (j, gang, run) = (w.job, w.gang, w.run_secs);
        self.sites[site.0 as usize].plan_version += 1;
        let job = self.job(j);
        let (stranded, class) = (job.stranded, job.class);
        let st = &mut self.sites[site.0 as usize];
        st.queue_work -= u128::from(gang) * u128::from(run);
        if stranded {
            self.stranded.remove(&(class, gang, j));
        } else {
            st.remove_gang(gang);
        }
        j
    }

    /// Takes every job for which `out` says so out of `site`'s queue, in one pass (an eviction of
    /// many jobs at a rule change), and returns them in queue order.
    pub(super) fn dequeue_where(
        &mut self,
        site: SiteId,
        now: SimTime,
        out: impl Fn(&Self, u32) -> bool,
    ) -> Vec<u32> {
        self.accrue_queue(site, now);
        let s = site.0 as usize;
        let queue = std::mem::take(&mut self.sites[s].queue);
        let (removed, keep): (Vec<Waiting>, Vec<Waiting>) =
            queue.into_iter().partition(|w| out(self, w.job));
        self.sites[s].queue = keep.into();
        if removed.is_empty() {
            return Vec::new();
        }
        self.sites[s].plan_version += 1;
        for w in &removed {
            let job = self.job(w.job);
            let (stranded, class) = (job.stranded, job.class);
            let st = &mut self.sites[s];
            st.queue_work -= u128::from(w.gang) * u128::from(w.run_secs);
            if stranded {
                self.stranded.remove(&(class, w.gang, w.job));
            } else {
                st.remove_gang(w.gang);
            }
        }
        removed.into_iter().map(|w| w.job).collect()
    }

    /// Takes job `j` out of `site`'s queue (a walk: for evictions and re-placement only).
    pub(super) fn dequeue(&mut self, site: SiteId, j: u32, now: SimTime) {
        let i = self.sites[site.0 as usize]
            .queue
            .iter()
            .position(|q| q.job == j)
            .expect("queued job is in its site's queue");
        self.dequeue_at(site, i, now);
    }

    /// Starts queued jobs at `site`: FIFO with EASY backfilling ([`plan_starts`]).
    pub(super) fn try_start(&mut self, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        let s = site.0 as usize;
        let free = self.free_for_training(site);
        let st = &self.sites[s];
        let Some(head) = st.queue.front() else {
            return;
        };
        // Nothing can start: the head does not fit and no queued gang fits the free chips.
        if head.gang > free && st.min_queued_gang().is_none_or(|g| g > free) {
            return;
        }
        if st.idle_plan == Some((st.plan_version, free)) {
            return;
        }
        let ends = st.ends.iter().map(|&(t, _, g)| (t, g));
        let starts = plan_starts(now, free, &st.queue, ends);
        if starts.is_empty() {
            let st = &mut self.sites[s];
            st.idle_plan = Some((st.plan_version, free));
            return;
        }
        // Remove from the back so earlier positions stay valid, then start in queue order.
        let mut started = Vec::with_capacity(starts.len());
        for &i in starts.iter().rev() {
            started.push(self.dequeue_at(site, i, now));
        }
        for j in started.into_iter().rev() {
            self.start(j, site, now, ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(gang: u64, run_secs: u64) -> Waiting {
        Waiting {
            job: 0,
            gang,
            run_secs,
        }
    }

    #[test]
    fn fifo_starts_from_the_head_while_jobs_fit() {
        let q = VecDeque::from([w(4, 10), w(4, 10), w(4, 10)]);
        assert_eq!(
            plan_starts(SimTime(0), 8, &q, std::iter::empty()),
            vec![0, 1]
        );
    }

    #[test]
    fn a_short_job_backfills_before_the_heads_shadow() {
        // 2 chips free; the head needs 8; a running job of 6 chips ends at t=100 -> shadow 100.
        let q = VecDeque::from([w(8, 50), w(2, 90), w(2, 200)]);
        let ends = [(SimTime(100), 6)];
        // The 90 s job ends before the shadow: it starts. The 200 s one would delay the head.
        assert_eq!(plan_starts(SimTime(0), 2, &q, ends.into_iter()), vec![1]);
    }

    #[test]
    fn a_long_job_backfills_on_chips_the_head_will_not_need() {
        // 4 free, head needs 8, a running 6-chip job ends at 100: at the shadow 10 chips are free,
        // 2 more than the head needs, so a long 2-chip job may start now; a second may not.
        let q = VecDeque::from([w(8, 50), w(2, 500), w(2, 500)]);
        let ends = [(SimTime(100), 6)];
        assert_eq!(plan_starts(SimTime(0), 4, &q, ends.into_iter()), vec![1]);
    }

    #[test]
    fn no_backfill_when_it_would_delay_the_head() {
        let q = VecDeque::from([w(8, 50), w(4, 500)]);
        let ends = [(SimTime(100), 4)];
        assert_eq!(
            plan_starts(SimTime(0), 4, &q, ends.into_iter()),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn jobs_started_from_the_head_count_toward_the_shadow() {
        // 6 free: job 0 (4 chips, 10 s) starts; head job 1 needs 8: shadow at 10 s when job 0 ends
        // (2 + 4 = 6 < 8) ... then the running 4-chip job at 20 s gives 10 >= 8: shadow 20.
        let q = VecDeque::from([w(4, 10), w(8, 50), w(2, 15), w(2, 30)]);
        let ends = [(SimTime(20), 4)];
        // Job 2 (15 s) ends before the shadow (20): starts. Job 3 (30 s) needs the extra: at the
        // shadow 2 + 4 + 4 = 10 chips, 2 spare, but job 2 took the 2 free chips: nothing left.
        assert_eq!(plan_starts(SimTime(0), 6, &q, ends.into_iter()), vec![0, 2]);
    }

    #[test]
    fn a_head_that_can_never_fit_lets_others_use_the_free_chips() {
        let q = VecDeque::from([w(100, 50), w(2, 500), w(2, 500)]);
        let ends = [(SimTime(100), 6)];
        assert_eq!(plan_starts(SimTime(0), 4, &q, ends.into_iter()), vec![1, 2]);
    }
}
