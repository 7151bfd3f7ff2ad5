//! The checks every run makes (capacity never exceeded, jobs conserved, costs that reconcile,
//! finite and non-negative outputs), period-end snapshots, and the end of the run.

use crate::engine::SimTime;
use crate::metrics::{JobKind, JobLedger, JobOutcome, RunMetrics};

use super::super::ModelError;
use super::super::SiteId;
use super::jobs::JobState;
use super::CapacityModel;

/// Relative tolerance of the cost reconciliation (sums of many float products).
const COST_TOLERANCE: f64 = 1e-9;

impl CapacityModel<'_> {
    pub(super) fn on_period_end(&mut self, p: usize, now: SimTime) {
        self.record_lease_stocks(p);
        for (s, st) in self.sites.iter().enumerate() {
            let row = &mut self.metrics.site[s][p];
            row.chips_online = st.online();
            row.jobs_waiting_end = st.queue.len() as u64;
        }
        for &j in &self.blocked {
            let job = self.jobs[j as usize].as_ref().expect("blocked job is live");
            if let Some(s) = job.last_site {
                self.metrics.site[s.0 as usize][p].blocked_jobs += 1;
            }
        }
        for (f, per_kind) in self.backlogs.0.iter_mut().enumerate() {
            for k in JobKind::ALL {
                let c = &mut per_kind[k];
                // Drop finished jobs from the front: the first left is the oldest unfinished.
                while let Some(&(_, record)) = c.by_arrival.front() {
                    if self.metrics.job_records[record as usize]
                        .completed
                        .is_none()
                    {
                        break;
                    }
                    c.by_arrival.pop_front();
                }
                let b = &mut self.metrics.firm[f][p].backlog[k];
                b.waiting = c.waiting;
                b.blocked = c.blocked;
                b.running = c.running;
                b.age_hours_sum =
                    (u128::from(c.count) * u128::from(now.0) - c.arrived_sum) as f64 / 3_600.0;
                b.age_hours_max = c
                    .by_arrival
                    .front()
                    .map_or(0.0, |&(t, _)| now.saturating_since(t).as_hours_f64());
            }
        }
    }

    /// Checks that no site holds more chips than it has online.
    pub(super) fn check_capacity(&mut self, now: SimTime) {
        for (s, st) in self.sites.iter().enumerate() {
            if st.busy_jobs + st.inference_alloc > st.online() {
                self.error = Some(ModelError::new(format!(
                    "invariant broken at {now}: site '{}' has {} chips busy with jobs and {} with \
                     inference but only {} online",
                    self.world.sites[s].name,
                    st.busy_jobs,
                    st.inference_alloc,
                    st.online()
                )));
            }
        }
    }

    /// Closes every account at the horizon, checks the run's invariants and hands the metrics out.
    pub(super) fn finish(
        mut self,
        horizon: SimTime,
        events: u64,
    ) -> Result<RunMetrics, ModelError> {
        for s in 0..self.sites.len() {
            let site = SiteId(s as u32);
            self.accrue_online(site, horizon);
            self.accrue_queue(site, horizon);
            for r in self.sites[s].running.clone() {
                self.accrue_job(r, horizon);
                // Work in flight at the horizon counts as useful (it is not lost).
                self.credit_compute(r, horizon);
            }
        }
        self.check_capacity(horizon);
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut ledger = JobLedger {
            arrived: self.metrics.job_records.len() as u64,
            completed: self.completed,
            ..JobLedger::default()
        };
        for job in self.jobs.iter().flatten() {
            let outcome = match job.state {
                JobState::Running(_) => {
                    ledger.running += 1;
                    JobOutcome::Running
                }
                JobState::Queued(_) => {
                    ledger.queued += 1;
                    JobOutcome::Waiting
                }
                JobState::Blocked => {
                    ledger.blocked += 1;
                    JobOutcome::Blocked
                }
            };
            self.metrics.job_records[job.record as usize].outcome = outcome;
        }
        let counted: u64 = self
            .backlogs
            .0
            .iter()
            .flat_map(|k| k.0.iter())
            .map(|c| c.waiting + c.blocked + c.running)
            .sum();
        if !ledger.is_conserved() || counted != ledger.running + ledger.queued + ledger.blocked {
            return Err(ModelError::new(format!(
                "invariant broken: jobs not conserved: arrived {} != completed {} + running {} + \
                 queued {} + blocked {} (backlog counters: {counted})",
                ledger.arrived, ledger.completed, ledger.running, ledger.queued, ledger.blocked
            )));
        }
        self.close_costs()?;
        self.check_outputs()?;
        self.metrics.jobs = ledger;
        self.metrics.events = events;
        Ok(self.metrics)
    }

    /// Sets each site's idle cost (and what of it no firm paid) and each payer's share of it, and
    /// checks, per period, that what sites cost equals what firms paid plus what no one paid for,
    /// that each site's cost is its usage plus its idle cost, and that what firms paid less their
    /// idle share is the usage.
    fn close_costs(&mut self) -> Result<(), ModelError> {
        for s in 0..self.sites.len() {
            let payer = self.world.sites[s].pricing.payer();
            for p in 0..self.periods.len() {
                let idle = self.capacity_online[s][p] - self.capacity_busy[s][p];
                let scale = self.capacity_online[s][p].abs().max(1.0);
                if idle < -COST_TOLERANCE * scale {
                    return Err(ModelError::new(format!(
                        "invariant broken: site '{}' period {p}: capacity cost of busy chip-hours \
                         {} exceeds that of online chip-hours {}",
                        self.world.sites[s].name,
                        self.capacity_busy[s][p],
                        self.capacity_online[s][p]
                    )));
                }
                let idle = idle.max(0.0);
                self.metrics.site[s][p].cost_idle_usd = idle;
                // Idle capacity is the payer's while it pays (an owner always; a tenant until
                // its contract ends, after which the online price is zero and so is the idle).
                match payer {
                    Some(f) => self.metrics.firm[f.0 as usize][p].cost_idle_usd += idle,
                    None => self.metrics.site[s][p].cost_unpaid_usd = idle,
                }
            }
        }
        for p in 0..self.periods.len() {
            let sum_sites = |g: fn(&crate::metrics::SitePeriod) -> f64| -> f64 {
                self.metrics.site.iter().map(|r| g(&r[p])).sum()
            };
            let sites = sum_sites(|r| r.cost_usd);
            let usage = sum_sites(|r| r.usage_cost_usd());
            let idle = sum_sites(|r| r.cost_idle_usd);
            let unpaid = sum_sites(|r| r.cost_unpaid_usd);
            let firms: f64 = self.metrics.firm.iter().map(|r| r[p].cost_usd()).sum();
            let firms_idle: f64 = self.metrics.firm.iter().map(|r| r[p].cost_idle_usd).sum();
            let tol = COST_TOLERANCE * sites.abs().max(1.0);
            if (sites - (firms + unpaid)).abs() > tol
                || (sites - (usage + idle)).abs() > tol
                || (firms - firms_idle - usage).abs() > tol
            {
                return Err(ModelError::new(format!(
                    "invariant broken: costs do not reconcile in period {p}: sites cost {sites} \
                     (usage {usage}, idle {idle}) but firms paid {firms} (of it {firms_idle} for \
                     idle capacity) and no one paid {unpaid}"
                )));
            }
        }
        Ok(())
    }

    /// Every number the run reports is finite and non-negative; busy never exceeds online.
    fn check_outputs(&self) -> Result<(), ModelError> {
        for (s, rows) in self.metrics.site.iter().enumerate() {
            for (p, r) in rows.iter().enumerate() {
                for (name, v) in [
                    ("cost_usd", r.cost_usd),
                    ("cost_idle_usd", r.cost_idle_usd),
                    ("cost_unpaid_usd", r.cost_unpaid_usd),
                    ("usage_cost_training_usd", r.usage_cost_training_usd),
                    ("usage_cost_inference_usd", r.usage_cost_inference_usd),
                    ("energy_mwh", r.energy_mwh),
                    ("chip_hours_online", r.chip_hours_online),
                    ("chip_hours_busy", r.chip_hours_busy),
                    ("chip_hours_inference", r.chip_hours_inference),
                    ("compute_pflop_days", r.compute_pflop_days),
                    ("lost_pflop_days", r.lost_pflop_days),
                    ("tokens_served", r.tokens_served),
                    ("queue_job_seconds", r.queue_job_seconds),
                ] {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(ModelError::new(format!(
                            "invariant broken: {name} = {v} at site '{}' in period {p}",
                            self.world.sites[s].name
                        )));
                    }
                }
                if r.chip_hours_busy > r.chip_hours_online * (1.0 + 1e-9) + 1e-6 {
                    return Err(ModelError::new(format!(
                        "invariant broken: site '{}' period {p}: {} chip-hours busy > {} online",
                        self.world.sites[s].name, r.chip_hours_busy, r.chip_hours_online
                    )));
                }
            }
        }
        for (f, rows) in self.metrics.firm.iter().enumerate() {
            for (p, r) in rows.iter().enumerate() {
                for (name, v) in [
                    ("compute_home_pflop_days", r.compute_home_pflop_days),
                    ("compute_abroad_pflop_days", r.compute_abroad_pflop_days),
                    ("lost_pflop_days", r.lost_pflop_days),
                    ("chip_hours_home", r.chip_hours_home),
                    ("chip_hours_abroad", r.chip_hours_abroad),
                    ("chip_hours_cloud", r.chip_hours_cloud),
                    ("tokens_demanded", r.tokens_demanded),
                    ("tokens_served", r.tokens_served),
                    (
                        "tokens_served_domestic_chips",
                        r.tokens_served_domestic_chips,
                    ),
                    ("cost_home_usd", r.cost_home_usd),
                    ("cost_abroad_usd", r.cost_abroad_usd),
                    ("cost_idle_usd", r.cost_idle_usd),
                    ("usage_training_usd", r.usage_training_usd),
                    ("usage_inference_usd", r.usage_inference_usd),
                    ("plan_gap_pflops", r.plan_gap_pflops),
                    ("commitments_usd", r.commitments_usd),
                    ("seized_usd", r.seized_usd),
                ] {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(ModelError::new(format!(
                            "invariant broken: {name} = {v} for firm '{}' in period {p}",
                            self.world.firms[f].name
                        )));
                    }
                }
                if r.chip_hours_cloud > r.chip_hours_home * (1.0 + 1e-9) + 1e-6 {
                    return Err(ModelError::new(format!(
                        "invariant broken: firm '{}' rented {} chip-hours from domestic clouds in \
                         period {p}, more than the {} it used at home",
                        self.world.firms[f].name, r.chip_hours_cloud, r.chip_hours_home
                    )));
                }
            }
        }
        // Every lease and block is one firm's at one site: the two views count the same chips.
        type Count<T> = fn(&T) -> u64;
        let counts: [(
            &str,
            Count<crate::metrics::SitePeriod>,
            Count<crate::metrics::FirmPeriod>,
        ); 4] = [
            (
                "lease_chips_signed",
                |r| r.lease_chips_signed,
                |r| r.lease_chips_signed,
            ),
            (
                "lease_chips_ended",
                |r| r.lease_chips_ended,
                |r| r.lease_chips_ended,
            ),
            (
                "cloud_chips_reserved",
                |r| r.cloud_chips_reserved,
                |r| r.cloud_chips_reserved,
            ),
            (
                "cloud_chips_ended",
                |r| r.cloud_chips_ended,
                |r| r.cloud_chips_ended,
            ),
        ];
        for p in 0..self.metrics.site.first().map_or(0, Vec::len) {
            for (name, site, firm) in counts {
                let sites: u64 = self.metrics.site.iter().map(|rows| site(&rows[p])).sum();
                let firms: u64 = self.metrics.firm.iter().map(|rows| firm(&rows[p])).sum();
                if sites != firms {
                    return Err(ModelError::new(format!(
                        "invariant broken: {name} in period {p}: {sites} chips at the sites, \
                         {firms} at the firms"
                    )));
                }
            }
        }
        for d in &self.metrics.decisions {
            for (name, v) in [
                ("usd_per_chip_hour", d.usd_per_chip_hour),
                ("usd_per_pflop_day", d.usd_per_pflop_day),
                ("gap_pflops", d.gap_pflops),
                ("inference_need_tokens_per_s", d.inference_need_tokens_per_s),
                ("market_held_share", d.market_held_share),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    let who = self.world.firms.get(d.firm as usize).map_or_else(
                        || format!("cloud '{}'", self.world.sites[d.site as usize].name),
                        |f| format!("firm '{}'", f.name),
                    );
                    return Err(ModelError::new(format!(
                        "invariant broken: {name} = {v} in a decision of {who} at {}",
                        d.at
                    )));
                }
            }
        }
        Ok(())
    }
}
