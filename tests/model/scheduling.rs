//! Behaviour of the site scheduler: EASY backfilling, and inference priority over training.
//! Each test asserts what its control shows too.

use capsim::metrics::{PeriodKind, RunMetrics};

use crate::support::{run_by, WorldBuilder, H100};

/// FLOP that `gang` H100s do in `days` days.
fn h100_flop(gang: u64, days: f64) -> f64 {
    gang as f64 * H100.effective_flop_per_s() * days * 86_400.0
}

fn busy_by_day(m: &RunMetrics) -> Vec<f64> {
    m.site[0].iter().map(|p| p.chip_hours_busy).collect()
}

/// One site of 1,000 chips. On 2025-01-02, in this order: job A (600 chips, 10 days) starts; job B
/// (800 chips, 5 days) waits for A and is the head of the queue; then, if `c_days` is given, job C
/// (400 chips, `c_days` days), which fits in the 400 free chips now.
fn backfill_world(c_days: Option<f64>) -> RunMetrics {
    let job = |name: &'static str, gang: u64, days: f64| {
        move |w: crate::support::world::WorkloadBuilder| {
            w.name(name)
                .dates(["2025-01-02"])
                .gang(gang)
                .size_flop(h100_flop(gang, days))
        }
    };
    let sc = WorldBuilder::new()
        .horizon("2025-01-01", "2025-02-28")
        .chip(H100)
        .site("s", |s| s.chips(1_000))
        .firm("acme", |f| {
            let f = f
                .sites(["s"])
                .training(job("a", 600, 10.0))
                .training(job("b", 800, 5.0));
            match c_days {
                Some(d) => f.training(job("c", 400, d)),
                None => f,
            }
        })
        .build();
    run_by(&sc, 1, PeriodKind::Day).runs.remove(0)
}

#[test]
fn easy_backfilling_lets_a_small_job_jump_the_queue_only_when_the_head_is_not_delayed() {
    let (jan_2, jan_4) = (1, 3);
    let full_day = 1_000.0 * 24.0;
    let no_c = busy_by_day(&backfill_world(None));
    assert_eq!(no_c[jan_2], 600.0 * 24.0);

    // A 2-day C ends long before A frees the head's chips: it starts at once, beside A (a plain
    // FIFO queue would hold it behind B, leaving Jan 2 at 600 chips busy, as the control shows)...
    let short = busy_by_day(&backfill_world(Some(2.0)));
    assert_eq!(short[jan_2], full_day);
    // ...and from the day after it ends, the site runs exactly as without it: B was not delayed.
    for d in jan_4..no_c.len() {
        assert!(
            (short[d] - no_c[d]).abs() < 1e-6,
            "day {d}: {} vs {}",
            short[d],
            no_c[d]
        );
    }

    // Control: a 20-day C would still hold 400 chips when A ends, and B needs 800 of the 1,000, so C
    // waits behind B: until B ends the site runs exactly as without C.
    let long = busy_by_day(&backfill_world(Some(20.0)));
    assert_eq!(long[jan_2], 600.0 * 24.0);
    let b_ends = 1 + 10 + 5; // arrives on day 1, A runs 10 days, then B 5.
    for d in 0..b_ends {
        assert!(
            (long[d] - no_c[d]).abs() < 1e-6,
            "day {d}: {} vs {}",
            long[d],
            no_c[d]
        );
    }
    assert!(long.iter().sum::<f64>() > no_c.iter().sum::<f64>() + 400.0 * 24.0 * 19.0);
}

#[test]
fn inference_priority_keeps_training_off_the_chips_inference_wants() {
    // 1,000 chips; a 1-day fine-tuning job of 512 chips arrives every day, and inference wants
    // about 600 chips all the time. The first job starts before the first inference batch, so on
    // day one inference gets only the 488 chips left.
    let tokens_per_day = 599.5 * H100.inference_tokens_per_s * 86_400.0;
    let world = |priority: bool| {
        WorldBuilder::new()
            .horizon("2025-01-01", "2025-01-31")
            .chip(H100)
            .site("s", |s| {
                let s = s.chips(1_000);
                if priority {
                    s.inference_priority()
                } else {
                    s
                }
            })
            .firm("acme", |f| {
                f.sites(["s"])
                    .fine_tuning(|w| w.every_days(1.0).gang(512).size_flop(h100_flop(512, 1.0)))
                    .inference(|w| w.tokens_per_day(tokens_per_day))
            })
            .build()
    };
    let served_share = |m: &RunMetrics, day: usize| {
        let row = &m.firm[0][day];
        row.tokens_served / row.tokens_demanded
    };
    let with = run_by(&world(true), 1, PeriodKind::Day).runs.remove(0);
    assert!(served_share(&with, 0) < 0.85, "day one is short");
    // From day two on, training leaves the 600 chips to inference: every token is served.
    for d in 1..31 {
        assert!(
            (served_share(&with, d) - 1.0).abs() < 1e-9,
            "day {d}: {}",
            served_share(&with, d)
        );
    }

    // Control: without priority each ending job hands its chips to the next job, and inference
    // stays short (488 of ~600 chips) all month.
    let without = run_by(&world(false), 1, PeriodKind::Day).runs.remove(0);
    for d in 0..31 {
        assert!(
            served_share(&without, d) < 0.85,
            "day {d}: {}",
            served_share(&without, d)
        );
    }
}
