//! Where a job goes: the firm's strategy over the allowed sites, as a pure choice
//! ([`choose`]), and re-placement of jobs that wait where they cannot start.

use crate::engine::{Context, SimTime};

use super::super::policy::{Phase, WorkRef};
use super::super::{FirmId, PlacementStrategy, SiteId};
use super::jobs::JobState;
use super::{CapacityModel, Ev};

/// One allowed site as placement sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Option_ {
    /// The site.
    pub site: SiteId,
    /// The site's training capacity holds the gang (it can start here, now or after the work
    /// ahead of it).
    pub fits: bool,
    /// Ranks after home sites (home-first firms only).
    pub abroad: bool,
    /// The strategy's score: cost or expected finish, lower is better.
    pub score: f64,
}

/// How two options rank: sites where the job fits first; then home before abroad (home-first
/// firms); then the lower score; then the first site in scenario order.
fn rank(a: &Option_, b: &Option_) -> std::cmp::Ordering {
    b.fits
        .cmp(&a.fits)
        .then(a.abroad.cmp(&b.abroad))
        .then(a.score.total_cmp(&b.score))
        .then(a.site.cmp(&b.site))
}

/// The best option by [`rank`], or None if there is no option.
#[cfg(test)]
pub(super) fn choose<'a>(options: impl IntoIterator<Item = &'a Option_>) -> Option<&'a Option_> {
    options.into_iter().min_by(|a, b| rank(a, b))
}

impl CapacityModel<'_> {
    /// May work of `firm` with `data_class` be placed at (or stay at) `site` at `t`?
    pub(super) fn allows(
        &self,
        firm: FirmId,
        data_class: Option<&str>,
        site: SiteId,
        t: SimTime,
        phase: Phase,
    ) -> bool {
        let work = WorkRef {
            firm: &self.world.firms[firm.0 as usize],
            id: firm,
            data_class,
        };
        self.world
            .timeline
            .allows(work, &self.world.sites[site.0 as usize], t, phase)
    }

    /// Expected wait before `gang` chips start at `site`: zero if they are free now and no one
    /// waits; else the chip-seconds of work ahead (kept as running totals) spread over the site's
    /// training capacity. None if the capacity cannot hold the gang.
    pub(super) fn expected_wait_secs(&self, site: SiteId, gang: u64, now: SimTime) -> Option<f64> {
        let cap = self.training_capacity(site);
        if cap < gang || cap == 0 {
            return None;
        }
        let st = &self.sites[site.0 as usize];
        if st.queue.is_empty() && self.free_for_training(site) >= gang {
            return Some(0.0);
        }
        // (u128 to f64 is a library call; the totals fit 64 bits in any real world.)
        let ahead = st.work_ahead(now);
        let ahead = u64::try_from(ahead).map_or(ahead as f64, |a| a as f64);
        Some(ahead / cap as f64)
    }

    /// The best allowed site for job `j` now, by its firm's strategy (see [`choose`]).
    fn best_site(&self, j: u32, now: SimTime) -> Option<Option_> {
        let job = self.job(j);
        let (firm, gang, class) = (job.firm, job.gang, job.class as usize);
        let remaining = (job.total_flop - job.saved_flop).max(0.0);
        let restart_secs = if job.restart_pending {
            job.restart.as_secs_f64()
        } else {
            0.0
        };
        let f = &self.world.firms[firm.0 as usize];
        let home_first = f.placement == PlacementStrategy::HomeFirst;
        // Sites where rules allow a placement now (refreshed at every rule change). A plain loop:
        // this runs for every arrival.
        let mut best: Option<Option_> = None;
        for &s in &self.class_sites[class] {
            let st = &self.sites[s.0 as usize];
            if st.installed < gang {
                continue;
            }
            let run_secs = restart_secs + remaining / (st.flop_per_chip * gang as f64);
            let wait = self.expected_wait_secs(s, gang, now);
            let score = match f.placement {
                PlacementStrategy::Cheapest | PlacementStrategy::HomeFirst => {
                    run_secs / 3_600.0 * gang as f64 * self.marginal_price(firm, s)
                }
                PlacementStrategy::EarliestFinish => wait.unwrap_or(f64::MAX / 4.0) + run_secs,
            };
            let o = Option_ {
                site: s,
                fits: wait.is_some(),
                abroad: home_first && !self.is_home(firm, s),
                score,
            };
            if best.is_none_or(|b| rank(&o, &b).is_lt()) {
                best = Some(o);
            }
        }
        best
    }

    /// Sends job `j` (not in any queue, not running) to the best allowed site, or blocks it.
    pub(super) fn place(&mut self, j: u32, now: SimTime, ctx: &mut Context<Ev>) {
        match self.best_site(j, now) {
            None => {
                self.set_state(j, JobState::Blocked);
                self.blocked.push(j);
            }
            Some(o) => {
                self.set_state(j, JobState::Queued(o.site));
                let job = self.job_mut(j);
                job.last_site = Some(o.site);
                job.stranded = !o.fits;
                self.enqueue(j, o.site, false, now);
                self.try_start(o.site, now, ctx);
            }
        }
    }

    /// Marks queued job `j` at `site` as stranded (its gang fits nowhere now) or not.
    fn set_stranded(&mut self, j: u32, site: SiteId, stranded: bool) {
        let job = self.job_mut(j);
        if job.stranded == stranded {
            return;
        }
        job.stranded = stranded;
        let (gang, class, key) = (job.gang, job.class, job.queue_key);
        let st = &mut self.sites[site.0 as usize];
        if stranded {
            st.remove_fitting(gang, key, j);
            self.stranded.insert((class, gang, j));
        } else {
            self.stranded.remove(&(class, gang, j));
            st.add_fitting(gang, key, j);
        }
    }

    /// Looks again at queued job `j`: it moves if another site is better now that its own cannot
    /// start it (or capacity appeared elsewhere); it keeps its place if its own site is still best.
    pub(super) fn reconsider(&mut self, j: u32, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        match self.best_site(j, now) {
            Some(o) if o.site == site => self.set_stranded(j, site, !o.fits),
            _ => {
                self.dequeue(site, j, now);
                self.job_mut(j).stranded = false;
                self.place(j, now, ctx);
            }
        }
    }

    /// Looks again at the jobs queued at `site` whose gang its training capacity no longer holds
    /// (inference wants more, a chip failed): the jobs not yet known to be stranded whose gang
    /// exceeds the capacity, found in the site's gang index without a walk of the queue; stranded
    /// jobs are left to [`Self::retry_stranded`].
    pub(super) fn replace_unfit(&mut self, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        let cap = self.training_capacity(site);
        let st = &self.sites[site.0 as usize];
        if st.max_queued_gang().is_none_or(|g| g <= cap) {
            return;
        }
        let unfit = st.fitting_jobs_above(cap);
        for j in unfit {
            self.reconsider(j, site, now, ctx);
        }
    }

    /// Looks again at the stranded jobs whose gang the training capacity of a site they may use
    /// now holds (per placement class, against its largest capacity first: it costs nothing while
    /// none does).
    pub(super) fn retry_stranded(&mut self, now: SimTime, ctx: &mut Context<Ev>) {
        if self.stranded.is_empty() {
            return;
        }
        let mut candidates = Vec::new();
        for c in 0..self.classes.len() as u32 {
            let Some(&(first, smallest, _)) = self.stranded.range((c, 0, 0)..).next() else {
                break;
            };
            if first != c {
                continue;
            }
            let largest = self.class_sites[c as usize]
                .iter()
                .map(|&s| self.training_capacity(s))
                .max()
                .unwrap_or(0);
            if largest >= smallest {
                candidates.extend(
                    self.stranded
                        .range((c, 0, 0)..=(c, largest, u32::MAX))
                        .map(|&(_, _, j)| j),
                );
            }
        }
        for j in candidates {
            let Some(job) = self.jobs[j as usize].as_ref() else {
                continue;
            };
            let (JobState::Queued(site), true) = (job.state, job.stranded) else {
                continue;
            };
            self.reconsider(j, site, now, ctx);
            if let Some(JobState::Queued(s)) = self.jobs[j as usize].as_ref().map(|x| x.state) {
                self.try_start(s, now, ctx);
            }
        }
    }

    /// Places every blocked job again (a rule or the capacity changed).
    pub(super) fn retry_blocked(&mut self, now: SimTime, ctx: &mut Context<Ev>) {
        let blocked = std::mem::take(&mut self.blocked);
        for j in blocked {
            self.place(j, now, ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(site: u32, fits: bool, abroad: bool, score: f64) -> Option_ {
        Option_ {
            site: SiteId(site),
            fits,
            abroad,
            score,
        }
    }

    #[test]
    fn a_site_where_the_job_fits_beats_a_better_score_where_it_cannot_start() {
        let opts = [o(0, false, false, 1.0), o(1, true, false, 100.0)];
        assert_eq!(choose(&opts).unwrap().site, SiteId(1));
    }

    #[test]
    fn home_first_then_score_then_scenario_order() {
        let opts = [
            o(0, true, true, 1.0),
            o(1, true, false, 5.0),
            o(2, true, false, 5.0),
        ];
        assert_eq!(choose(&opts).unwrap().site, SiteId(1));
        let opts = [o(0, true, false, 9.0), o(1, true, false, 5.0)];
        assert_eq!(choose(&opts).unwrap().site, SiteId(1));
    }

    #[test]
    fn with_nowhere_to_start_the_best_score_still_wins() {
        let opts = [o(0, false, false, 9.0), o(1, false, false, 5.0)];
        assert_eq!(choose(&opts).unwrap().site, SiteId(1));
        assert!(choose(&[]).is_none());
    }
}
