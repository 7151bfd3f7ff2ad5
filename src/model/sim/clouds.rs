//! Domestic clouds that decide what they buy: a cloud with `buying` buys its supply line's output
//! only while its renters use what it has.
//!
//! # The rule
//!
//! - **What a cloud is.** A site no firm owns, supplied with a share of national output
//!   (`supply`), that rents its chips by the hour to the firms that list it and in blocks to those
//!   that reserve them (`model/sim/leasing.rs`).
//! - **Its review.** From `buying.from` it reviews every `buying.every`. At a review it measures
//!   its use since the last one (since `from`, at the first): the chip-time its chips were held
//!   (by renters' jobs and inference batches, or reserved as blocks) over the chip-time they were
//!   online (reserved ones included). From its second review it also forecasts its use over the
//!   next interval: the chips held on average since the last review, times their growth since
//!   the review before (this average over the previous one, at most x2; no forecast when the
//!   previous average was under 1% of the chips online now, so one late renter is not a trend),
//!   over the chips online now. It buys until the next review when either share is at least
//!   `buying.busy_above` (`why` = `used` when its use reached it, `growing` when only the
//!   forecast did), and declines otherwise. Before `from` it buys every lot (history).
//! - **What it buys.** Each daily lot of its supply, after firms' orders have taken theirs
//!   (`model/sim/orders.rs`: orders bind first). A lot it declines is not installed: those chips
//!   go to buyers outside the scenario (`chips_declined` per site and period), and cost no one
//!   in it anything.
//!
//! So a cloud's fleet follows its renters' use, bounded by its share of output: an idle cloud
//! stops adding chips, a busy one takes all it is offered. Dated deliveries and `initial_chips`
//! stay facts.

use crate::engine::{Context, SimTime};
use crate::metrics::{Channel, Decision, LeaseAction, Why};

use super::super::SiteId;
use super::{CapacityModel, Ev};

/// The most a cloud's forecast lets its use grow from one review interval to the next.
const MAX_GROWTH: f64 = 2.0;
/// A cloud forecasts from a trend only when the previous interval's average held chips were at
/// least this share of its chips online now.
const MIN_TREND_SHARE: f64 = 0.01;

/// What a cloud measured of its use since its last review.
#[derive(Clone, Copy, Debug)]
pub(super) struct CloudUse {
    /// Chip-seconds held (by renters' work or reserved as blocks).
    used: f64,
    /// Chip-seconds online (reserved chips included).
    online: f64,
    /// Measured up to here.
    from: SimTime,
    /// Chips held on average over the previous review's interval (none before the first review).
    prev_held: Option<f64>,
    /// When it last reviewed (none before the first review).
    reviewed: Option<SimTime>,
    /// Whether it buys its lots until its next review.
    pub buys: bool,
}

impl Default for CloudUse {
    fn default() -> Self {
        CloudUse {
            used: 0.0,
            online: 0.0,
            from: SimTime::ZERO,
            prev_held: None,
            reviewed: None,
            buys: true,
        }
    }
}

impl CapacityModel<'_> {
    /// Brings the use of site `s` up to `now`, if it is a cloud that buys by its use. Called before
    /// anything that changes its chips online, held or reserved.
    pub(super) fn accrue_use(&mut self, s: usize, now: SimTime) {
        let Some(b) = self.world.sites[s].buying else {
            return;
        };
        let st = &self.sites[s];
        let reserved = self.leasing.cloud_reserved[s];
        let held = (st.busy_jobs + st.inference_alloc + reserved) as f64;
        let online = (st.online() + reserved) as f64;
        let u = &mut self.cloud_use[s];
        let start = u.from.max(b.from);
        if now > start {
            let secs = now.saturating_since(start).as_secs() as f64;
            u.used += held * secs;
            u.online += online * secs;
        }
        u.from = now;
    }

    /// A cloud's review: it buys until the next one if its chips were in use at least
    /// `busy_above` of the time since the last, or if its forecast of its use over the next
    /// interval reaches that (module docs); a cloud with no chips online buys.
    pub(super) fn on_cloud_review(&mut self, site: SiteId, now: SimTime, ctx: &mut Context<Ev>) {
        let s = site.0 as usize;
        let Some(b) = self.world.sites[s].buying else {
            return;
        };
        self.accrue_use(s, now);
        // The interval this review measured: since the last review, or since `from` at the first.
        let start = self.cloud_use[s].reviewed.unwrap_or(b.from).max(b.from);
        let secs = now.saturating_since(start).as_secs() as f64;
        let online_now = (self.sites[s].online() + self.leasing.cloud_reserved[s]) as f64;
        let u = &mut self.cloud_use[s];
        let share = if u.online > 0.0 {
            u.used / u.online
        } else {
            0.0
        };
        // Chips held on average over the interval, and one interval ahead at the growth measured
        // since the previous one.
        let held = if secs > 0.0 { u.used / secs } else { 0.0 };
        let forecast = match u.prev_held {
            Some(p) if online_now > 0.0 && p >= MIN_TREND_SHARE * online_now => {
                held * (held / p).min(MAX_GROWTH) / online_now
            }
            _ => 0.0,
        };
        let used = u.online <= 0.0 || share >= b.busy_above;
        u.buys = used || forecast >= b.busy_above;
        let (action, why) = match (u.buys, used) {
            (true, true) => (LeaseAction::CloudBuys, Why::Used),
            (true, false) => (LeaseAction::CloudBuys, Why::Growing),
            (false, _) => (LeaseAction::CloudDeclines, Why::Unused),
        };
        u.prev_held = Some(held);
        u.reviewed = Some(now);
        u.used = 0.0;
        u.online = 0.0;
        // Logged in decisions.csv with no firm: the share of its chip-time in use is the row's
        // `market_held_share`.
        self.metrics.decisions.push(Decision {
            market_held_share: share,
            why,
            ..Decision::event(
                now,
                Decision::NO_FIRM,
                site.0,
                0,
                action,
                0,
                Channel::Domestic,
            )
        });
        debug_assert!(b.every.as_secs() > 0, "a cloud reviews at intervals");
        let next = now.saturating_add(b.every);
        if next < self.periods.horizon() {
            ctx.schedule_at(next, Ev::CloudReview { site: site.0 })
                .expect("not in the past");
        }
    }

    /// Whether site `s` buys its supply's lots now (every site but a cloud that declined at its
    /// last review).
    pub(super) fn cloud_buys(&self, s: usize) -> bool {
        self.cloud_use[s].buys
    }
}
