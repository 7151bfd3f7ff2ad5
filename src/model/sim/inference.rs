//! Inference demand served in batches: each tick releases the last batch's chips, lets training go
//! first where inference has no priority, and places the next batch in the firm's order of
//! preference. No allocation per tick; what does not change between ticks is computed once.

use crate::engine::{Context, SimTime};

use super::super::{SiteId, Workload, WorkloadKind};
use super::{CapacityModel, Ev};

/// Chips one inference batch holds at a site, and how many it wanted there.
#[derive(Clone, Copy, Debug)]
pub(super) struct Held {
    pub site: SiteId,
    pub held: u64,
    pub wanted: u64,
}

/// The running state of one inference workload.
#[derive(Clone, Debug, Default)]
pub(super) struct Service {
    /// What the current batch holds.
    pub held: Vec<Held>,
    /// When the current batch ends (what it holds is booked up to here).
    pub batch_end: SimTime,
    /// Growth rate per second, `ln(growth_per_year) / year` (0 for flat demand).
    k: f64,
    /// `exp(k x t)` at the start of the next batch, `t` counted from the workload's start.
    next_exp: Option<(SimTime, f64)>,
}

const SECS_PER_YEAR: f64 = 365.25 * 86_400.0;

impl Service {
    pub fn new(wl: &Workload) -> Self {
        let k = match &wl.kind {
            WorkloadKind::Inference(inf) if (inf.growth_per_year - 1.0).abs() >= 1e-12 => {
                inf.growth_per_year.ln() / SECS_PER_YEAR
            }
            _ => 0.0,
        };
        Service {
            k,
            ..Service::default()
        }
    }

    /// Tokens demanded over `[t0, t0 + dt)` (seconds since the workload's start) at `per_sec` tokens
    /// per second at the start, growing at `k`, with the daily cycle taken at the batch midpoint
    /// (as [`super::super::InferenceWorkload::tokens_in_batch`], for any batch length).
    fn demand(
        &mut self,
        at: SimTime,
        t0: f64,
        dt: f64,
        inf: &super::super::InferenceWorkload,
    ) -> f64 {
        let per_sec = inf.tokens_per_day / 86_400.0;
        let trend = if self.k == 0.0 {
            dt
        } else {
            let e0 = match self.next_exp {
                Some((t, e)) if t == at => e,
                _ => (self.k * t0).exp(),
            };
            let e1 = (self.k * (t0 + dt)).exp();
            self.next_exp = Some((at.saturating_add(crate::engine::SimDuration(dt as u64)), e1));
            (e1 - e0) / self.k
        };
        let mid_hour = ((t0 + dt / 2.0) / 3_600.0).rem_euclid(24.0);
        let phase = (mid_hour - inf.peak_hour) / 24.0 * std::f64::consts::TAU;
        per_sec * trend * (1.0 + inf.daily_amplitude * phase.cos())
    }
}

/// `(min(need, free), wanted)` for `need = ceil(left / per_chip)` (`left > 0`), where `wanted` is
/// `min(need, room)` if the site cannot give all it needs now (`need > free`), else `need`;
/// `free <= room`. The division is skipped where `left >= n x per_chip` shows `need >= n`: in
/// floating point that product may round up, but `left / per_chip` then still rounds to more than
/// `n - 1`, so its ceiling is at least `n` (for `n` below 2^50), and the result is the same as with
/// the division.
#[inline]
fn capped_need(left: f64, per_chip: f64, free: u64, room: u64) -> (u64, u64) {
    let at_least = |n: u64| n < (1 << 50) && left >= n as f64 * per_chip;
    if at_least(free) {
        // need >= free: all the free chips, and as many more as it needs up to the room.
        let wanted = if at_least(room) {
            room
        } else {
            super::ceil_u64(left / per_chip).min(room)
        };
        (free, wanted)
    } else {
        let need = super::ceil_u64(left / per_chip);
        let take = need.min(free);
        (take, if take < need { need.min(room) } else { take })
    }
}

impl CapacityModel<'_> {
    pub(super) fn on_inference_tick(
        &mut self,
        f: usize,
        w: usize,
        now: SimTime,
        ctx: &mut Context<Ev>,
    ) {
        let wl = &self.world.firms[f].workloads[w];
        let WorkloadKind::Inference(inf) = &wl.kind else {
            return;
        };
        // Release the last batch's chips; where inference has no priority, training goes first.
        let mut previous = std::mem::take(&mut self.held_scratch);
        std::mem::swap(&mut previous, &mut self.inference[f][w].held);
        for h in &previous {
            self.accrue_use(h.site.0 as usize, now);
            let st = &mut self.sites[h.site.0 as usize];
            st.inference_alloc -= h.held;
            st.inference_wanted -= h.wanted;
        }
        for h in &previous {
            if !self.world.sites[h.site.0 as usize].inference_priority {
                self.try_start(h.site, now, ctx);
            }
        }
        // A batch ends at the next rule change, so its price is that of the rules in force.
        let next_change = self
            .change_points
            .get(self.change_points.partition_point(|&c| c <= now))
            .copied()
            .unwrap_or(SimTime::MAX);
        let horizon = self.periods.horizon();
        let batch_end = now
            .saturating_add(inf.batch)
            .min(horizon)
            .min(wl.end)
            .min(next_change);
        if batch_end <= now {
            // The last tick (at the workload's end) only releases the last batch's chips.
            for h in &previous {
                self.try_start(h.site, now, ctx);
            }
            self.retry_stranded(now, ctx);
            previous.clear();
            self.held_scratch = previous;
            return;
        }
        self.inference[f][w].batch_end = batch_end;
        let secs = (batch_end - now).as_secs_f64();
        let t0 = (now - wl.start).as_secs_f64();
        let demand = self.inference[f][w].demand(now, t0, secs, inf);
        let firm = &self.world.firms[f];
        let firm_id = super::super::FirmId(f as u32);
        let share = self.world.timeline.domestic_inference_share(firm, now);
        let p = self.periods.index(now);
        let mut held = std::mem::take(&mut self.inference[f][w].held);
        let mut served_total = 0.0;
        let mut served_domestic = 0.0;
        for (portion, domestic_only) in [(demand * share, true), (demand * (1.0 - share), false)] {
            let mut left = portion;
            for i in 0..self.inference_order[f].len() {
                if left <= 0.0 {
                    break;
                }
                let (s, place, stay) = self.inference_order[f][i];
                // A new batch where rules allow one, or where a running service may stay.
                if !(place || (stay && previous.iter().any(|h| h.site == s && h.held > 0))) {
                    continue;
                }
                let domestic = self.domestic_chip[f][s.0 as usize];
                if domestic_only && !domestic {
                    continue;
                }
                let per_chip = self.world.site_chip(s).inference_tokens_per_s * secs;
                let st = &self.sites[s.0 as usize];
                let free = st
                    .online()
                    .saturating_sub(st.busy_jobs + st.inference_alloc);
                let room = st.online().saturating_sub(st.inference_alloc);
                // The chips the rest of the portion needs, `ceil(left / per_chip)`, and what the
                // site gives of them: `take = min(need, free)` now, and it wants
                // `min(need, room)`. Where the demand fills what the site offers, those minima
                // are known without the division (a saturated site, common under load).
                let (take, wanted) = capped_need(left, per_chip, free, room);
                let served = left.min(take as f64 * per_chip);
                left -= served;
                served_total += served;
                if domestic {
                    served_domestic += served;
                }
                self.accrue_use(s.0 as usize, now);
                let st = &mut self.sites[s.0 as usize];
                st.inference_alloc += take;
                st.inference_wanted += wanted;
                self.metrics.site[s.0 as usize][p].tokens_served += served;
                self.accrue_busy(s, firm_id, take, now, batch_end, true);
                held.push(Held {
                    site: s,
                    held: take,
                    wanted,
                });
            }
        }
        let fr = &mut self.metrics.firm[f][p];
        fr.tokens_demanded += demand;
        fr.tokens_served += served_total;
        fr.tokens_served_domestic_chips += served_domestic;
        // At priority sites, training where inference now wants more may no longer fit; where it
        // wants less, queued jobs may start. (Elsewhere training went first, before the batch.)
        let mut seen = 0u64;
        for h in held.iter().chain(previous.iter()) {
            let site = h.site;
            // Each site once (a batch touches few sites; a bitmask covers the first 64, later
            // ones may be looked at twice, which is harmless).
            if site.0 < 64 {
                let bit = 1u64 << site.0;
                if seen & bit != 0 {
                    continue;
                }
                seen |= bit;
            }
            if self.world.sites[site.0 as usize].inference_priority {
                self.replace_unfit(site, now, ctx);
                self.try_start(site, now, ctx);
            }
        }
        self.inference[f][w].held = held;
        self.retry_stranded(now, ctx);
        previous.clear();
        self.held_scratch = previous;
        if batch_end < horizon {
            ctx.schedule_at(
                batch_end,
                Ev::InferenceTick {
                    firm: f as u32,
                    workload: w as u32,
                },
            )
            .expect("not in the past");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::InferenceWorkload;
    use super::*;
    use crate::engine::SimDuration;

    #[test]
    fn cached_demand_matches_the_workloads_own_integral() {
        let inf = InferenceWorkload {
            tokens_per_day: 5.5e12,
            growth_per_year: 2.5,
            daily_amplitude: 0.4,
            peak_hour: 14.0,
            batch: SimDuration::from_hours(1),
        };
        let wl = Workload {
            name: "x".into(),
            start: SimTime(0),
            end: SimTime::MAX,
            kind: WorkloadKind::Inference(inf.clone()),
        };
        let mut svc = Service::new(&wl);
        for h in 0..2_000u64 {
            let t = SimTime(h * 3_600);
            let a = svc.demand(t, t.0 as f64, 3_600.0, &inf);
            let b = inf.tokens_in_batch(SimDuration(t.0));
            assert!((a / b - 1.0).abs() < 1e-9, "hour {h}: {a} vs {b}");
        }
    }
}

#[cfg(test)]
mod capped_need_tests {
    use super::capped_need;

    /// The formula `capped_need` spares the division of.
    fn direct(left: f64, per_chip: f64, free: u64, room: u64) -> (u64, u64) {
        let need = super::super::ceil_u64(left / per_chip);
        let take = need.min(free);
        (take, if take < need { need.min(room) } else { take })
    }

    #[test]
    fn capped_need_is_the_direct_formula() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state = super::super::splitmix64(state);
            state
        };
        for i in 0..200_000 {
            let per_chip = 1.0 + (next() % 10_000_000) as f64 / 7.0;
            let room = next() % 5_000;
            let free = room - next() % (room + 1);
            // Around the boundaries where `left` is a whole number of chips' worth, and away.
            let n = (next() % 6_000) as f64;
            let left = match i % 4 {
                0 => n * per_chip,
                1 => f64::from_bits((n * per_chip).to_bits().wrapping_add(next() % 5)).max(1e-9),
                2 => f64::from_bits((n * per_chip).to_bits().wrapping_sub(next() % 5)).max(1e-9),
                _ => (next() % 1_000_000_000) as f64 / 3.0 + 1e-6,
            };
            if left <= 0.0 {
                continue;
            }
            assert_eq!(
                capped_need(left, per_chip, free, room),
                direct(left, per_chip, free, room),
                "left {left:e} per_chip {per_chip:e} free {free} room {room}"
            );
        }
    }
}
