use super::*;

fn units(parts: &[Part]) -> Vec<(usize, usize)> {
    parts.iter().map(|p| (p.u0, p.w)).collect()
}

fn rows(parts: &[Part]) -> Vec<(usize, usize)> {
    parts.iter().map(|p| (p.row0, p.rows)).collect()
}

#[test]
fn unit_bands_cover_the_units_in_widths_of_16() {
    assert_eq!(units(&unit_parts(5, 256, 2)), [(0, 128), (128, 128)]);
    assert_eq!(units(&unit_parts(5, 40, 3)), [(0, 16), (16, 16), (32, 8)]);
    assert_eq!(units(&unit_parts(5, 7, 1)), [(0, 7)]);
    assert_eq!(units(&unit_parts(5, 0, 2)), [(0, 0)]);
    assert!(unit_parts(5, 256, 2).iter().all(|p| (p.row0, p.rows) == (0, 5)));
}

#[test]
fn row_bands_cover_the_rows_with_every_unit() {
    assert_eq!(rows(&row_parts(32, 8, 2)), [(0, 16), (16, 16)]);
    assert_eq!(rows(&row_parts(7, 8, 3)), [(0, 2), (2, 2), (4, 3)]);
    assert_eq!(rows(&row_parts(2, 8, 3)), [(0, 1), (1, 1)]);
    assert_eq!(rows(&row_parts(0, 8, 2)), [(0, 0)]);
    assert!(row_parts(7, 8, 3).iter().all(|p| (p.u0, p.w) == (0, 8)));
}

/// Two threads split the LSTM layer's step (batch 32) by rows, a batch of 8 by units, and one
/// thread not at all.
#[test]
fn the_split_follows_the_rows_a_thread_gets() {
    let on = |threads: usize, batch: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| split(batch, 256, 4))
    };
    assert_eq!(on(2, 32), row_parts(32, 256, 2));
    assert_eq!(on(2, 8), unit_parts(8, 256, 2));
    assert_eq!(on(1, 32), unit_parts(32, 256, 1));
}

/// Every (step, band) pair runs once, and only after every band of the step before finished: on
/// a pool of one thread (which runs the workers one after the other), of two, and of three
/// threads for two bands (a thread with no worker of its own).
#[test]
fn each_step_runs_every_band_once_after_the_step_before() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let steps = 60;
    for threads in [1, 2, 3] {
        for parts in [2, 3] {
            let bands = unit_parts(1, 16 * parts, parts);
            let finished: Vec<AtomicUsize> = (0..steps).map(|_| AtomicUsize::new(0)).collect();
            let runs: Vec<AtomicUsize> = (0..steps * parts).map(|_| AtomicUsize::new(0)).collect();
            let early = AtomicUsize::new(0);
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                each_step(steps, &bands, |s, i| {
                    if s > 0 && finished[s - 1].load(SeqCst) != parts {
                        early.fetch_add(1, SeqCst);
                    }
                    runs[s * parts + i].fetch_add(1, SeqCst);
                    finished[s].fetch_add(1, SeqCst);
                })
            });
            let case = format!("{parts} bands on {threads} threads");
            assert_eq!(early.load(SeqCst), 0, "{case}: a band ran before the step before finished");
            assert!(runs.iter().all(|r| r.load(SeqCst) == 1), "{case}: a band ran other than once");
        }
    }
}

/// Bands of rows run each one's steps once and in order, without waiting for each other.
#[test]
fn each_step_runs_each_row_bands_steps_in_order() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let steps = 60;
    for threads in [1, 2, 3] {
        let parts = row_parts(3, 16, 3);
        let next: Vec<AtomicUsize> = parts.iter().map(|_| AtomicUsize::new(0)).collect();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            each_step(steps, &parts, |s, i| {
                assert_eq!(next[i].swap(s + 1, SeqCst), s, "part {i} ran step {s} out of order");
            })
        });
        assert!(next.iter().all(|n| n.load(SeqCst) == steps), "{threads} threads: a part skipped a step");
    }
}

/// A part that panics ends the sequence with that panic on every pool size, where another
/// worker would otherwise wait for the band's step forever.
#[test]
fn each_step_passes_a_parts_panic_on() {
    for parts in [unit_parts(1, 32, 2), row_parts(2, 32, 2)] {
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let outcome = pool.install(|| {
                std::panic::catch_unwind(|| {
                    each_step(40, &parts, |s, i| {
                        if s == 20 && i == 1 {
                            panic!("part failed");
                        }
                    })
                })
            });
            let message = outcome.expect_err("the panic reaches the caller");
            assert_eq!(message.downcast_ref::<&str>(), Some(&"part failed"), "{parts:?} on {threads} threads");
        }
    }
}
