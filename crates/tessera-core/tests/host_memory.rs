//! The caching allocator installed as this test program's global allocator: reuse, zeroing,
//! reallocation, the limit and `empty_cache`, and many threads at once.

use std::sync::{Mutex, MutexGuard};
use tessera_core::host_memory::{self, CachingAllocator, MIN_CACHED_BYTES};

#[global_allocator]
static ALLOCATOR: CachingAllocator = CachingAllocator;

/// The counters are global: the tests take turns.
fn serial() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// How far the global counters may move under a test without it: the harness's own thread
/// allocates while a test runs (recording the test before it; one CI run caught a 10 KiB block
/// held across `in_use_and_peak_follow_the_blocks`), and since the cache serves blocks from
/// 1 KiB those count too. The tests move the counters by megabytes.
const OTHER_THREADS: usize = 1 << 20;

#[test]
fn a_freed_block_is_handed_out_again_and_zeroed_when_asked() {
    let _turn = serial();
    host_memory::set_cache_limit(host_memory::DEFAULT_CACHE_LIMIT_BYTES);
    let first = vec![7u8; 3 << 20];
    let address = first.as_ptr();
    drop(first);
    let before = host_memory::stats();
    assert!(before.installed);
    assert!(before.cached_bytes >= 3 << 20);

    let second = vec![0u8; 3 << 20];
    assert_eq!(second.as_ptr(), address, "the freed block comes back");
    assert!(second.iter().all(|&b| b == 0), "calloc'd memory is zero even when reused");
    let after = host_memory::stats();
    assert!(after.reused_allocations > before.reused_allocations);
    assert!(after.page_faults_avoided() >= before.page_faults_avoided() + (3 << 20) / 4096);
    let taken = before.cached_bytes as isize - after.cached_bytes as isize;
    assert!(taken.abs_diff(3 << 20) < OTHER_THREADS, "the cache gave up {taken} bytes for a 3 MiB block");
}

#[test]
fn requests_of_one_class_share_blocks_and_others_do_not() {
    let _turn = serial();
    host_memory::set_cache_limit(host_memory::DEFAULT_CACHE_LIMIT_BYTES);
    host_memory::empty_cache();
    // 1 MiB + 1 and 1.2 MiB round up to the same class (1.25 MiB); 2 MiB is another.
    let a = vec![1u8; (1 << 20) + 1];
    let address = a.as_ptr();
    drop(a);
    let other = vec![1u8; 2 << 20];
    assert_ne!(other.as_ptr(), address);
    let same_class = vec![1u8; 1_200_000];
    assert_eq!(same_class.as_ptr(), address);
}

#[test]
fn reallocation_keeps_the_contents_across_classes_and_the_system() {
    let _turn = serial();
    let mut v: Vec<u32> = (0..100).collect(); // 400 bytes: the system's
    for target in [100_000usize, 120_000, 1 << 20, 50] {
        if target > v.len() {
            v.extend((v.len() as u32..target as u32).collect::<Vec<_>>());
        } else {
            v.truncate(target);
            v.shrink_to_fit();
        }
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32), "contents at length {target}");
    }
}

#[test]
fn the_limit_bounds_the_cache_and_empty_cache_releases_it() {
    let _turn = serial();
    host_memory::set_cache_limit(1 << 20);
    let blocks: Vec<Vec<u8>> = (0..4).map(|_| vec![1u8; 512 << 10]).collect();
    drop(blocks);
    let capped = host_memory::stats();
    assert!(capped.cached_bytes <= 1 << 20, "{} bytes cached past a 1 MiB limit", capped.cached_bytes);
    assert_eq!(capped.cache_limit_bytes, 1 << 20);

    host_memory::set_cache_limit(0);
    drop(vec![1u8; 256 << 10]);
    assert_eq!(host_memory::stats().cached_bytes, 0, "a zero limit caches nothing");

    host_memory::set_cache_limit(host_memory::DEFAULT_CACHE_LIMIT_BYTES);
    drop(vec![1u8; 256 << 10]);
    assert!(host_memory::stats().cached_bytes > 0);
    assert!(host_memory::empty_cache() > 0);
    assert_eq!(host_memory::stats().cached_bytes, 0);
}

#[test]
fn in_use_and_peak_follow_the_blocks() {
    let _turn = serial();
    let base = host_memory::stats().in_use_bytes;
    host_memory::reset_peak();
    let a = vec![1u8; 8 << 20];
    let b = vec![1u8; 8 << 20];
    let held = host_memory::stats();
    assert!(held.in_use_bytes.abs_diff(base + (16 << 20)) < OTHER_THREADS, "{} in use", held.in_use_bytes);
    assert!(held.peak_in_use_bytes >= held.in_use_bytes);
    drop((a, b));
    let freed = host_memory::stats();
    assert!(freed.in_use_bytes.abs_diff(base) < OTHER_THREADS, "{} in use after the drop", freed.in_use_bytes);
    assert!(freed.peak_in_use_bytes >= held.in_use_bytes, "the peak stays");
}

#[test]
fn many_threads_allocating_and_freeing_keep_their_data_apart() {
    let _turn = serial();
    std::thread::scope(|s| {
        for t in 0..8u32 {
            s.spawn(move || {
                for round in 0..200u32 {
                    let len = MIN_CACHED_BYTES / 4 * (1 + (round % 5) as usize);
                    let tag = t * 1000 + round;
                    let v = vec![tag; len];
                    std::thread::yield_now();
                    assert!(v.iter().all(|&x| x == tag), "thread {t} round {round} saw another's data");
                }
            });
        }
    });
    let stats = host_memory::stats();
    assert!(stats.reused_allocations > 0);
}
