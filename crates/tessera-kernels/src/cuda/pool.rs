//! A per-device caching allocator: freed blocks go to size-bucketed free lists and are handed
//! out again, so a training step's temporaries do not call the driver allocator each time.
//!
//! Buckets: requests up to 1 MiB round up to a power of two (at least 512 bytes); larger ones
//! round up to a multiple of 2 MiB, which bounds the waste at 2 MiB per block. Blocks are reused
//! only within one stream (Tessera uses one stream per device), so stream order makes reuse safe
//! without events. When the driver is out of memory the pool frees every cached block and
//! retries once.

use crate::Result;
use std::collections::HashMap;

/// The smallest block handed out, in bytes.
pub const MIN_BLOCK: usize = 512;
const SMALL_LIMIT: usize = 1 << 20;
const LARGE_GRANULE: usize = 2 << 20;

/// The bucket (block size) a request of `bytes` is served from.
pub fn bucket_size(bytes: usize) -> usize {
    if bytes <= MIN_BLOCK {
        MIN_BLOCK
    } else if bytes <= SMALL_LIMIT {
        bytes.next_power_of_two()
    } else {
        bytes.div_ceil(LARGE_GRANULE) * LARGE_GRANULE
    }
}

/// Where blocks really come from: the driver, or a fake in tests.
pub trait RawAllocator {
    /// Allocates `bytes` bytes, returning a device address.
    fn alloc(&mut self, bytes: usize) -> Result<u64>;
    /// Frees a block returned by `alloc`.
    fn free(&mut self, ptr: u64);
}

/// Counters, for tests and for `cargo xtask bench` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Calls to the underlying allocator.
    pub driver_allocs: u64,
    /// Requests served from a free list.
    pub reuses: u64,
    /// Bytes in blocks handed out and not yet returned.
    pub in_use_bytes: usize,
    /// Bytes in blocks sitting on free lists.
    pub cached_bytes: usize,
}

/// The caching pool over an allocator.
#[derive(Debug)]
pub struct Pool<A: RawAllocator> {
    raw: A,
    free: HashMap<usize, Vec<u64>>,
    stats: PoolStats,
}

impl<A: RawAllocator> Pool<A> {
    /// An empty pool over `raw`.
    pub fn new(raw: A) -> Self {
        Pool { raw, free: HashMap::new(), stats: PoolStats::default() }
    }

    /// A block of at least `bytes` bytes: (address, block size). Return it with [`Pool::give`].
    pub fn take(&mut self, bytes: usize) -> Result<(u64, usize)> {
        let size = bucket_size(bytes);
        if let Some(ptr) = self.free.get_mut(&size).and_then(Vec::pop) {
            self.stats.reuses += 1;
            self.stats.cached_bytes -= size;
            self.stats.in_use_bytes += size;
            return Ok((ptr, size));
        }
        let ptr = match self.raw.alloc(size) {
            Ok(p) => p,
            Err(_) if self.stats.cached_bytes > 0 => {
                self.release_cached();
                self.raw.alloc(size)?
            }
            Err(e) => return Err(e),
        };
        self.stats.driver_allocs += 1;
        self.stats.in_use_bytes += size;
        Ok((ptr, size))
    }

    /// Returns a block (address and the size [`Pool::take`] gave) to its free list.
    pub fn give(&mut self, ptr: u64, size: usize) {
        self.stats.in_use_bytes -= size;
        self.stats.cached_bytes += size;
        self.free.entry(size).or_default().push(ptr);
    }

    /// Frees every cached block back to the allocator.
    pub fn release_cached(&mut self) {
        for (_, ptrs) in self.free.drain() {
            for p in ptrs {
                self.raw.free(p);
            }
        }
        self.stats.cached_bytes = 0;
    }

    /// The counters.
    pub fn stats(&self) -> PoolStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[derive(Default)]
    struct Fake {
        next: u64,
        live: HashMap<u64, usize>,
        limit: usize,
    }

    impl RawAllocator for Fake {
        fn alloc(&mut self, bytes: usize) -> Result<u64> {
            let live: usize = self.live.values().sum();
            if self.limit > 0 && live + bytes > self.limit {
                let free = self.limit - live;
                return Err(Error::OutOfDeviceMemory { device: 0, requested: bytes, free, total: self.limit });
            }
            self.next += bytes as u64;
            self.live.insert(self.next, bytes);
            Ok(self.next)
        }
        fn free(&mut self, ptr: u64) {
            self.live.remove(&ptr);
        }
    }

    #[test]
    fn buckets_round_up() {
        assert_eq!(bucket_size(0), 512);
        assert_eq!(bucket_size(513), 1024);
        assert_eq!(bucket_size(1 << 20), 1 << 20);
        assert_eq!(bucket_size((1 << 20) + 1), 2 << 20);
        assert_eq!(bucket_size((5 << 20) + 3), 6 << 20);
        for b in [1usize, 700, 5000, 1 << 20, 3 << 20, 1_000_000_007] {
            assert!(bucket_size(b) >= b && bucket_size(b) - b < (2 << 20));
        }
    }

    #[test]
    fn freed_blocks_are_reused_without_the_driver() {
        let mut pool = Pool::new(Fake::default());
        let (a, sa) = pool.take(1000).unwrap();
        let (_b, _) = pool.take(4000).unwrap();
        pool.give(a, sa);
        // A "training step": the same temporaries again come from the free lists.
        for _ in 0..10 {
            let (p, s) = pool.take(900).unwrap();
            assert_eq!(p, a);
            pool.give(p, s);
        }
        let s = pool.stats();
        assert_eq!((s.driver_allocs, s.reuses), (2, 10));
        assert_eq!((s.in_use_bytes, s.cached_bytes), (4096, 1024));
    }

    #[test]
    fn out_of_memory_releases_the_cache_and_retries() {
        let mut pool = Pool::new(Fake { limit: 4096, ..Default::default() });
        let (a, sa) = pool.take(2048).unwrap();
        pool.give(a, sa);
        // 2048 cached + 4096 requested exceeds the limit: the pool frees its cache and retries.
        let (_p, size) = pool.take(4096).unwrap();
        assert_eq!(size, 4096);
        assert_eq!(pool.stats().cached_bytes, 0);
        let e = pool.take(1).expect_err("nothing cached left to free").to_string();
        assert_eq!(e, "CUDA device 0 is out of memory: 512 B asked for, 0 B free of 4.0 KiB");
    }
}
