//! Same scenario, seed and binary: byte-identical outputs, whatever the thread count.

use capsim::report;
use capsim::scenario;

fn files(threads: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    let sc = scenario::baseline().unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut sc = sc.clone();
        sc.seed = seed;
        let r = crate::support::run(&sc, 3);
        report::folders::run_files(&sc, &r, "run")
            .into_iter()
            .filter(|(name, _)| name.ends_with(".csv"))
            .map(|(name, content)| (name, content.to_bytes()))
            .collect()
    })
}

#[test]
fn same_seed_gives_byte_identical_csvs_on_1_2_or_16_threads() {
    let a = files(1, 11);
    let b = files(2, 11);
    assert!(a.len() >= 4, "timeseries, firms, summary and provenance");
    for ((na, ba), (nb, bb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(ba == bb, "{na} differs between 1 and 2 threads");
    }
    let d = files(16, 11);
    for ((na, ba), (_, bd)) in a.iter().zip(&d) {
        assert!(ba == bd, "{na} differs between 1 and 16 threads");
    }
    let c = files(2, 12);
    assert!(a[0].1 != c[0].1, "another seed must give other results");
}
