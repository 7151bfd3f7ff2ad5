//! What happens is added to the metrics here: chip-hours, costs, energy, useful and lost compute,
//! queue lengths. Accounts are brought up to date lazily (at a job's stop, a rule change, the end)
//! and split over the periods they span.

use crate::engine::SimTime;
use crate::metrics::FLOP_PER_PFLOP_DAY;

use super::super::{FirmId, SiteId};
use super::jobs::JobState;
use super::CapacityModel;

impl CapacityModel<'_> {
    /// What `firm` pays for one more busy chip-hour at `site`.
    pub(super) fn marginal_price(&self, firm: FirmId, site: SiteId) -> f64 {
        self.rates[site.0 as usize].marginal_price(firm)
    }

    /// Adds `chips` busy chips at `site` for `firm` over `[a, b)` to the metrics: the busy
    /// share of the site's cost, the value of the work (the user price) and what the firm pays
    /// (the busy price where it already pays for the capacity, the user price elsewhere).
    pub(super) fn accrue_busy(
        &mut self,
        site: SiteId,
        firm: FirmId,
        chips: u64,
        a: SimTime,
        b: SimTime,
        inference: bool,
    ) {
        if chips == 0 || b <= a {
            return;
        }
        let r = self.rates[site.0 as usize];
        self.accrue_busy_at(site, firm, chips as f64, a, b, inference, r);
    }

    /// [`Self::accrue_busy`] at rates `r`, for `chips` that may be negative (to take back what was
    /// booked at other rates: see [`Self::set_site_rates`]).
    #[allow(clippy::too_many_arguments)]
    fn accrue_busy_at(
        &mut self,
        site: SiteId,
        firm: FirmId,
        chips: f64,
        a: SimTime,
        b: SimTime,
        inference: bool,
        r: super::rules::SiteRates,
    ) {
        let s = site.0 as usize;
        let f = firm.0 as usize;
        let home = self.is_home(firm, site);
        let paid = r.marginal_price(firm);
        let (site_rows, firm_rows) = (&mut self.metrics.site[s], &mut self.metrics.firm[f]);
        let capacity_busy = &mut self.capacity_busy[s];
        self.periods.split(a, b, |p, secs| {
            let h = chips * secs / 3_600.0;
            let row = &mut site_rows[p];
            row.chip_hours_busy += h;
            row.energy_mwh += h * r.mwh_busy;
            row.cost_usd += h * r.busy_price;
            capacity_busy[p] += h * r.online_price;
            let fr = &mut firm_rows[p];
            if inference {
                row.chip_hours_inference += h;
                row.usage_cost_inference_usd += h * r.user_price;
                fr.usage_inference_usd += h * r.user_price;
            } else {
                row.usage_cost_training_usd += h * r.user_price;
                fr.usage_training_usd += h * r.user_price;
            }
            if home {
                fr.chip_hours_home += h;
                fr.cost_home_usd += h * paid;
                if r.payer.is_none() {
                    // Rented per busy hour at home: a domestic cloud.
                    fr.chip_hours_cloud += h;
                }
            } else {
                fr.chip_hours_abroad += h;
                fr.cost_abroad_usd += h * paid;
            }
        });
    }

    /// Changes site `s`'s rates at `now` outside a rule change (a lease lot came, went or was
    /// re-priced): open accounts are closed at the old rates first, and the inference batches that
    /// hold chips there, booked to their end when placed, are booked again from `now` at the new
    /// rates.
    pub(super) fn set_site_rates(&mut self, s: usize, now: SimTime) {
        let site = SiteId(s as u32);
        self.accrue_online(site, now);
        for r in self.sites[s].running.clone() {
            self.accrue_job(r, now);
        }
        let (old, new) = (self.rates[s], self.site_rates(s, now));
        let mut rebook = Vec::new();
        for (f, services) in self.inference.iter().enumerate() {
            for svc in services {
                if svc.batch_end > now {
                    for h in svc.held.iter().filter(|h| h.site == site && h.held > 0) {
                        rebook.push((FirmId(f as u32), h.held as f64, svc.batch_end));
                    }
                }
            }
        }
        for (firm, chips, end) in rebook {
            self.accrue_busy_at(site, firm, -chips, now, end, true, old);
            self.accrue_busy_at(site, firm, chips, now, end, true, new);
        }
        self.rates[s] = new;
    }

    /// Brings a running job's chip-time up to `now`, and credits its compute up to its last
    /// checkpoint.
    pub(super) fn accrue_job(&mut self, j: u32, now: SimTime) {
        let job = self.job(j);
        let JobState::Running(site) = job.state else {
            return;
        };
        let (firm, gang, a) = (job.firm, job.gang, job.acc_from);
        self.accrue_busy(site, firm, gang, a, now, false);
        self.job_mut(j).acc_from = now;
        let kept = self.checkpoint_before(j, now);
        self.credit_compute(j, kept);
    }

    /// The last checkpoint of running job `j` at or before `t` (its productive start if none).
    pub(super) fn checkpoint_before(&self, j: u32, t: SimTime) -> SimTime {
        let job = self.job(j);
        let done = t.saturating_since(job.productive_from).as_secs();
        let every = u64::from(job.checkpoint_secs);
        SimTime(job.productive_from.0 + done / every * every)
    }

    /// Credits job `j`'s productive work from its credit cursor up to `upto` as useful compute.
    pub(super) fn credit_compute(&mut self, j: u32, upto: SimTime) {
        let job = self.job(j);
        let site = match job.state {
            JobState::Running(s) => s,
            // Stopped just now: credited at the site it ran on.
            JobState::Queued(_) | JobState::Blocked => job.last_site.expect("ran somewhere"),
        };
        let (firm, rate, a) = (job.firm, job.rate, job.credited_to.max(job.productive_from));
        if upto <= a {
            return;
        }
        self.job_mut(j).credited_to = upto;
        let home = self.is_home(firm, site);
        let (site_rows, firm_rows) = (
            &mut self.metrics.site[site.0 as usize],
            &mut self.metrics.firm[firm.0 as usize],
        );
        self.periods.split(a, upto, |p, secs| {
            let pfd = rate * secs / FLOP_PER_PFLOP_DAY;
            site_rows[p].compute_pflop_days += pfd;
            if home {
                firm_rows[p].compute_home_pflop_days += pfd;
            } else {
                firm_rows[p].compute_abroad_pflop_days += pfd;
            }
        });
    }

    /// Records job `j`'s work over `[a, b)` at `site` as lost (rolled back by a failure).
    pub(super) fn record_lost(&mut self, j: u32, site: SiteId, a: SimTime, b: SimTime) {
        let job = self.job(j);
        let (firm, rate) = (job.firm, job.rate);
        let a = a.max(job.productive_from);
        let (site_rows, firm_rows) = (
            &mut self.metrics.site[site.0 as usize],
            &mut self.metrics.firm[firm.0 as usize],
        );
        self.periods.split(a, b, |p, secs| {
            let pfd = rate * secs / FLOP_PER_PFLOP_DAY;
            site_rows[p].lost_pflop_days += pfd;
            firm_rows[p].lost_pflop_days += pfd;
        });
    }

    /// Brings a site's online chip-hours, their cost (capex and idle draw of owned chips, a
    /// running contract) and its payer's spend up to `now`.
    pub(super) fn accrue_online(&mut self, site: SiteId, now: SimTime) {
        let s = site.0 as usize;
        self.accrue_use(s, now);
        let from = self.sites[s].online_acc_from;
        let online = self.sites[s].online() as f64;
        let r = self.rates[s];
        let payer = r.payer.map(|f| (f.0 as usize, self.is_home(f, site)));
        let rows = &mut self.metrics.site[s];
        let mut firm_rows = payer.map(|(f, home)| (&mut self.metrics.firm[f], home));
        let capacity_online = &mut self.capacity_online[s];
        self.periods.split(from, now, |p, secs| {
            let h = online * secs / 3_600.0;
            rows[p].chip_hours_online += h;
            rows[p].energy_mwh += h * r.mwh_online;
            rows[p].cost_usd += h * r.online_price;
            capacity_online[p] += h * r.online_price;
            if let Some((fr, home)) = firm_rows.as_mut() {
                if *home {
                    fr[p].cost_home_usd += h * r.online_price;
                } else {
                    fr[p].cost_abroad_usd += h * r.online_price;
                }
            }
        });
        self.sites[s].online_acc_from = now;
    }

    /// Brings a site's queue-length integral up to `now`.
    pub(super) fn accrue_queue(&mut self, site: SiteId, now: SimTime) {
        let s = site.0 as usize;
        let from = self.sites[s].queue_acc_from;
        let len = self.sites[s].queue.len() as f64;
        let rows = &mut self.metrics.site[s];
        self.periods
            .split(from, now, |p, secs| rows[p].queue_job_seconds += len * secs);
        self.sites[s].queue_acc_from = now;
    }
}
