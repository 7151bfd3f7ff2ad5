//! The job table: arrivals, starts, ends, failures and repairs, and the counters of unfinished jobs
//! (the backlog) kept as running totals per firm and kind.

use std::collections::VecDeque;

use rand_distr::{Distribution, Exp};

use crate::engine::{Context, SimDuration, SimTime};
use crate::metrics::{JobKind, JobOutcome, JobRecord, PerKind};

use super::super::{Arrivals, FirmId, SiteId, WorkloadKind};
use super::{CapacityModel, Ev};

/// Where a live job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum JobState {
    /// In a site's queue, waiting for capacity.
    Queued(SiteId),
    /// Holding chips at a site.
    Running(SiteId),
    /// No allowed site.
    Blocked,
}

/// A training or fine-tuning job. It carries its workload's fixed properties.
#[derive(Clone, Debug)]
pub(super) struct Job {
    pub firm: FirmId,
    pub kind: JobKind,
    pub gang: u64,
    pub total_flop: f64,
    /// Time between checkpoints, seconds (>= 1).
    pub checkpoint_secs: u32,
    /// Delay before productive work after a restart.
    pub restart: SimDuration,
    /// Placement class (firm and data class): which sites rules allow.
    pub class: u32,
    /// Checkpointed progress at the start of the current segment.
    pub saved_flop: f64,
    pub arrived: SimTime,
    pub state: JobState,
    /// Changes at every start and stop, so stale end and failure events are ignored.
    pub epoch: u64,
    pub restart_pending: bool,
    /// Accounting cursor: chip-time before this instant is already in the metrics.
    pub acc_from: SimTime,
    /// Productive work (after the restart delay) runs from here.
    pub productive_from: SimTime,
    /// Useful compute is credited up to here (a checkpoint, or the last stop).
    pub credited_to: SimTime,
    /// FLOP/s of the whole gang at its site.
    pub rate: f64,
    /// Expected end of the running segment.
    pub end_at: SimTime,
    /// Position in its site's `running` list while running.
    pub run_pos: u32,
    /// Its key in its site's queue while queued (see `SiteQueue`).
    pub queue_key: u64,
    /// Where the job ran or queued last (for blocked counts by site).
    pub last_site: Option<SiteId>,
    /// Its row in the metrics' job records.
    pub record: u32,
    /// Waits where its gang does not fit the site's training capacity (see `stranded`).
    pub stranded: bool,
}

/// Unfinished jobs of one firm and kind: counts by state and the arrival times (for ages).
#[derive(Clone, Debug, Default)]
pub(super) struct BacklogCounts {
    pub waiting: u64,
    pub blocked: u64,
    pub running: u64,
    /// Sum of arrival instants, seconds.
    pub arrived_sum: u128,
    /// Unfinished jobs.
    pub count: u64,
    /// (arrival, job record) in arrival order (arrivals come in time order); finished jobs are
    /// dropped from the front lazily, so the first unfinished one is the oldest.
    pub by_arrival: VecDeque<(SimTime, u32)>,
}

impl BacklogCounts {
    fn count(&mut self, state: JobState) -> &mut u64 {
        match state {
            JobState::Queued(_) => &mut self.waiting,
            JobState::Running(_) => &mut self.running,
            JobState::Blocked => &mut self.blocked,
        }
    }
}

/// Backlog counters per firm and kind.
#[derive(Clone, Debug)]
pub(super) struct Backlogs(pub Vec<PerKind<BacklogCounts>>);

impl Backlogs {
    pub fn new(firms: usize) -> Self {
        Backlogs(vec![PerKind::default(); firms])
    }

    fn of(&mut self, job: &Job) -> &mut BacklogCounts {
        &mut self.0[job.firm.0 as usize][job.kind]
    }
}

impl<'w> CapacityModel<'w> {
    pub(super) fn epoch_matches(&self, job: u32, epoch: u64) -> bool {
        self.jobs[job as usize]
            .as_ref()
            .is_some_and(|j| j.epoch == epoch)
    }

    pub(super) fn job(&self, j: u32) -> &Job {
        self.jobs[j as usize].as_ref().expect("live job")
    }

    pub(super) fn job_mut(&mut self, j: u32) -> &mut Job {
        self.jobs[j as usize].as_mut().expect("live job")
    }

    pub(super) fn new_epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    /// Moves job `j` to `state`, keeping the backlog counters exact.
    pub(super) fn set_state(&mut self, j: u32, state: JobState) {
        let job = self.jobs[j as usize].as_mut().expect("live job");
        let old = job.state;
        job.state = state;
        let b = self.backlogs.of(job);
        *b.count(old) -= 1;
        *b.count(state) += 1;
    }

    /// Expected run time of job `j` at `site` if it started now (failures aside).
    pub(super) fn expected_run(&self, j: u32, site: SiteId) -> SimDuration {
        let job = self.job(j);
        let eff = self.sites[site.0 as usize].flop_per_chip * job.gang as f64;
        let restart = if job.restart_pending {
            job.restart
        } else {
            SimDuration::ZERO
        };
        restart
            + SimDuration(super::ceil_u64(
                (job.total_flop - job.saved_flop).max(0.0) / eff,
            ))
    }

    pub(super) fn on_arrival(
        &mut self,
        f: usize,
        w: usize,
        index: u32,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) {
        let wl = &self.world.firms[f].workloads[w];
        let WorkloadKind::Batch(b) = &wl.kind else {
            return;
        };
        let total_flop = b.size_flop.sample(&mut self.size_rng[f][w]).max(1.0);
        let record = self.metrics.job_records.len() as u32;
        self.metrics.job_records.push(JobRecord {
            firm: f as u32,
            workload: w as u32,
            kind: b.kind,
            size_flop: total_flop,
            gang_chips: b.gang_chips,
            arrived: now,
            first_start: None,
            completed: None,
            sites: Vec::new(),
            evictions: 0,
            failures: 0,
            outcome: JobOutcome::Blocked,
        });
        let job = Job {
            firm: FirmId(f as u32),
            kind: b.kind,
            gang: b.gang_chips,
            total_flop,
            checkpoint_secs: u32::try_from(b.checkpoint.as_secs().max(1)).unwrap_or(u32::MAX),
            restart: b.restart,
            class: self.workload_class[f][w],
            saved_flop: 0.0,
            arrived: now,
            state: JobState::Blocked,
            epoch: 0,
            restart_pending: false,
            acc_from: now,
            productive_from: now,
            credited_to: now,
            rate: 0.0,
            end_at: now,
            run_pos: 0,
            queue_key: 0,
            last_site: None,
            record,
            stranded: false,
        };
        let j = match self.free_slots.pop() {
            Some(j) => {
                self.jobs[j as usize] = Some(job);
                j
            }
            None => {
                self.jobs.push(Some(job));
                (self.jobs.len() - 1) as u32
            }
        };
        {
            let b = self
                .backlogs
                .of(self.jobs[j as usize].as_ref().expect("just made"));
            b.blocked += 1;
            b.arrived_sum += u128::from(now.0);
            b.count += 1;
            b.by_arrival.push_back((now, record));
        }
        self.metrics.firm[f][self.periods.index(now)].jobs_arrived += 1;
        self.place(j, now, ctx);

        // The next arrival of this workload.
        let next = match &b.arrivals {
            Arrivals::At(ts) => ts.get(index as usize + 1).copied(),
            other => other
                .next_gap(&mut self.arrival_rng[f][w])
                .map(|g| now.saturating_add(g)),
        };
        let next = next.filter(|&t| t < wl.end && t < self.periods.horizon());
        self.next_arrival[f][w] = next.map_or(SimTime::MAX, |t| t.max(now));
        if let Some(t) = next {
            ctx.schedule_at(
                t.max(now),
                Ev::Arrival {
                    firm: f as u32,
                    workload: w as u32,
                    index: index + 1,
                },
            )
            .expect("not in the past");
        }
    }

    /// Starts job `j` (already out of the queue) on `site`'s chips.
    pub(super) fn start(&mut self, j: u32, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        let s = site.0 as usize;
        let run = self.expected_run(j, site);
        let epoch = self.new_epoch();
        let eff = self.world.site_chip(site).effective_flop_per_s();
        let mtbf_secs = self.world.sites[s].mtbf_hours * 3_600.0;
        self.set_state(j, JobState::Running(site));
        let run_pos = self.sites[s].running.len() as u32;
        let job = self.job_mut(j);
        let restart = if job.restart_pending {
            job.restart
        } else {
            SimDuration::ZERO
        };
        job.epoch = epoch;
        job.restart_pending = false;
        job.stranded = false;
        job.acc_from = now;
        job.productive_from = now.saturating_add(restart);
        job.credited_to = job.productive_from;
        job.rate = eff * job.gang as f64;
        job.end_at = now.saturating_add(run);
        job.last_site = Some(site);
        job.run_pos = run_pos;
        let (gang, end_at, arrived, record) = (job.gang, job.end_at, job.arrived, job.record);
        self.accrue_use(s, now);
        let st = &mut self.sites[s];
        st.busy_jobs += gang;
        st.running.push(j);
        st.ends.insert((end_at, j, gang));
        st.plan_version += 1;
        st.run_gang_end += u128::from(gang) * u128::from(end_at.0);
        let rec = &mut self.metrics.job_records[record as usize];
        if rec.first_start.is_none() {
            rec.first_start = Some(now);
            let p = self.periods.index(now);
            self.metrics.site[s][p]
                .wait_hours
                .add((now - arrived).as_hours_f64());
        }
        if !rec.sites.contains(&site.0) {
            rec.sites.push(site.0);
        }
        // Events past the horizon are never handled: not scheduling them keeps the queue from
        // growing by one stale end per restart of a job that cannot finish within the run.
        let horizon = self.periods.horizon();
        if end_at < horizon {
            ctx.schedule_at(end_at, Ev::JobEnd { job: j, epoch })
                .expect("not in the past");
        }
        let rate = gang as f64 / mtbf_secs;
        if rate > 0.0 && rate.is_finite() {
            let gap = Exp::new(rate)
                .expect("positive rate")
                .sample(&mut self.failure_rng[s]);
            let gap = SimDuration::from_secs_f64(gap);
            if gap < run && now.saturating_add(gap) < horizon {
                ctx.schedule_at(now.saturating_add(gap), Ev::JobFailure { job: j, epoch })
                    .expect("not in the past");
            }
        }
    }

    /// Takes a running job off its chips after accounting its chip-time (compute is credited by the
    /// caller, which knows whether the work is kept). The caller sets the new state.
    pub(super) fn stop_running(&mut self, j: u32, now: SimTime) -> SiteId {
        self.accrue_job(j, now);
        let epoch = self.new_epoch();
        let job = self.job_mut(j);
        let JobState::Running(site) = job.state else {
            unreachable!("stop_running on a job that is not running");
        };
        job.epoch = epoch;
        let (gang, end_at, pos) = (job.gang, job.end_at, job.run_pos as usize);
        self.accrue_use(site.0 as usize, now);
        let st = &mut self.sites[site.0 as usize];
        st.busy_jobs -= gang;
        st.ends.remove(&(end_at, j, gang));
        st.plan_version += 1;
        st.run_gang_end -= u128::from(gang) * u128::from(end_at.0);
        debug_assert_eq!(st.running[pos], j, "run_pos tracks the running list");
        st.running.swap_remove(pos);
        if let Some(&moved) = st.running.get(pos) {
            self.job_mut(moved).run_pos = pos as u32;
        }
        site
    }

    pub(super) fn on_job_end(&mut self, j: u32, now: SimTime, ctx: &mut Context<Ev>) {
        let site = self.stop_running(j, now);
        self.credit_compute(j, now);
        let job = self.jobs[j as usize].take().expect("live job");
        self.free_slots.push(j);
        self.completed += 1;
        let b = self.backlogs.of(&job);
        b.running -= 1;
        b.arrived_sum -= u128::from(job.arrived.0);
        b.count -= 1;
        let rec = &mut self.metrics.job_records[job.record as usize];
        rec.completed = Some(now);
        rec.outcome = JobOutcome::Completed;
        let p = self.periods.index(now);
        let (s, f) = (site.0 as usize, job.firm.0 as usize);
        let hours = (now - job.arrived).as_hours_f64();
        let row = &mut self.metrics.site[s][p];
        row.completion_hours[job.kind].add(hours);
        row.jobs_completed[job.kind] += 1;
        let fr = &mut self.metrics.firm[f][p];
        fr.completion_hours[job.kind].add(hours);
        fr.jobs_completed[job.kind] += 1;
        self.try_start(site, now, ctx);
    }

    pub(super) fn on_job_failure(&mut self, j: u32, now: SimTime, ctx: &mut Context<Ev>) {
        let site = self.stop_running(j, now);
        let s = site.0 as usize;
        // Keep the work up to the last checkpoint; what follows it is lost.
        let kept_to = self.checkpoint_before(j, now);
        self.credit_compute(j, kept_to);
        self.record_lost(j, site, kept_to, now);
        let job = self.job_mut(j);
        let kept = kept_to.saturating_since(job.productive_from).as_secs_f64();
        job.saved_flop = (job.saved_flop + kept * job.rate).min(job.total_flop);
        job.restart_pending = true;
        let record = job.record as usize;
        self.metrics.job_records[record].failures += 1;
        let p = self.periods.index(now);
        self.metrics.site[s][p].failures += 1;
        // The failed chip goes to repair; the rest of the gang waits at the head of the queue.
        self.accrue_online(site, now);
        self.sites[s].in_repair += 1;
        let repair = SimDuration::from_hours_f64(self.world.sites[s].repair_hours);
        ctx.schedule_at(now.saturating_add(repair), Ev::RepairDone { site: site.0 })
            .expect("not in the past");
        self.set_state(j, JobState::Queued(site));
        self.enqueue(j, site, true, now);
        // One chip fewer: jobs here whose gang no longer fits are placed again.
        self.replace_unfit(site, now, ctx);
        self.try_start(site, now, ctx);
    }

    pub(super) fn on_repair_done(&mut self, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        self.accrue_online(site, now);
        self.sites[site.0 as usize].in_repair -= 1;
        if self.repaired_chip_leaves(site, now, ctx) {
            return;
        }
        self.try_start(site, now, ctx);
        self.retry_stranded(now, ctx);
    }
}
