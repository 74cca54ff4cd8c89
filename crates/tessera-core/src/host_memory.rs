//! A caching allocator for host memory: freed blocks of tensor size are kept and handed out
//! again, so that a training step that allocates the same buffers every iteration stops asking
//! the operating system for fresh pages (and taking a page fault on each of them).
//!
//! Install it once, in the program (a library cannot choose the global allocator):
//!
//! ```
//! #[global_allocator]
//! static ALLOCATOR: tessera_core::host_memory::CachingAllocator = tessera_core::host_memory::CachingAllocator;
//!
//! let before = tessera_core::host_memory::stats();
//! drop(vec![1.0f32; 1 << 20]); // 4 MiB: freed into the cache...
//! let again = vec![0.0f32; 1 << 20]; // ...and handed out again, zeroed
//! assert!(again.iter().all(|&x| x == 0.0));
//! let after = tessera_core::host_memory::stats();
//! assert!(after.installed);
//! assert!(after.reused_allocations > before.reused_allocations);
//! ```
//!
//! Blocks of at least [`MIN_CACHED_BYTES`] are rounded up to one of four size classes per power
//! of two (at most 25% more) and kept, per class, when freed; smaller ones go straight to the
//! system allocator, whose own free lists already reuse them. What the cache keeps is bounded by
//! a limit ([`set_cache_limit`], [`DEFAULT_CACHE_LIMIT_BYTES`] to begin with): a freed block
//! that would take the cache past it goes back to the system. [`empty_cache`] releases
//! everything cached. Every function here is thread-safe and never allocates.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

/// The smallest block the cache keeps (1 KiB); smaller ones go to the system allocator.
///
/// Where glibc's allocator begins to consolidate: before serving a request of 1 KiB or more it
/// merges every small chunk freed since, so each small op (whose result's shape, strides and
/// reference count are such chunks, freed with the op before) paid for a pass over them. A
/// `[32, 128]` f32 `add` took 683–709 ns with the cache beginning at 64 KiB, 494–514 from 1 KiB
/// (criterion, one Zen 5 thread).
pub const MIN_CACHED_BYTES: usize = 1 << MIN_OCTAVE;

/// What the cache may keep until [`set_cache_limit`] says otherwise: 4 GiB.
pub const DEFAULT_CACHE_LIMIT_BYTES: usize = 4 << 30;

/// The page size behind [`Stats::page_faults_avoided`]'s estimate.
const PAGE_BYTES: u64 = 4096;

const MIN_OCTAVE: usize = 10;
/// Blocks past 2^47 bytes (128 TiB) are never cached.
const MAX_OCTAVE: usize = 46;
const CLASSES_PER_OCTAVE: usize = 4;
const CLASSES: usize = (MAX_OCTAVE - MIN_OCTAVE + 1) * CLASSES_PER_OCTAVE;
/// Blocks kept per size class at most.
const SLOTS: usize = 512;
/// Every cached block is aligned this far (a cache line, and the widest SIMD register), so that
/// a block serves any request of its class with an alignment up to it.
const BLOCK_ALIGN: usize = 64;

/// The global allocator that caches freed blocks of tensor size (see the [module](self) docs).
///
/// Zero-sized: all its state is in this module, so [`stats`], [`empty_cache`] and
/// [`set_cache_limit`] reach it from any crate.
#[derive(Debug, Clone, Copy, Default)]
pub struct CachingAllocator;

/// The counters of the caching allocator, for blocks of at least [`MIN_CACHED_BYTES`] (smaller
/// allocations are not counted). Byte counts are of whole size classes, as allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Whether [`CachingAllocator`] is the program's global allocator (it has served a request).
    pub installed: bool,
    /// Bytes of cached-size blocks that are allocated and not yet freed.
    pub in_use_bytes: usize,
    /// The most `in_use_bytes` has been since the start or the last [`reset_peak`].
    pub peak_in_use_bytes: usize,
    /// Bytes of freed blocks kept for reuse.
    pub cached_bytes: usize,
    /// The most `cached_bytes` may grow to.
    pub cache_limit_bytes: usize,
    /// Requests served from the cache.
    pub reused_allocations: u64,
    /// Bytes of the requests served from the cache.
    pub reused_bytes: u64,
    /// Requests that took a fresh block from the system.
    pub fresh_allocations: u64,
    /// Bytes of those fresh blocks.
    pub fresh_bytes: u64,
}

impl Stats {
    /// An estimate of the minor page faults the cache saved: a fresh block's pages each fault
    /// once when first written, a reused block's have been written already. One per 4 KiB page
    /// of every reused block.
    pub fn page_faults_avoided(&self) -> u64 {
        self.reused_bytes / PAGE_BYTES
    }
}

/// The allocator's counters now.
pub fn stats() -> Stats {
    Stats {
        installed: INSTALLED.load(Relaxed),
        in_use_bytes: IN_USE.load(Relaxed),
        peak_in_use_bytes: PEAK_IN_USE.load(Relaxed),
        cached_bytes: CACHED.load(Relaxed),
        cache_limit_bytes: LIMIT.load(Relaxed),
        reused_allocations: REUSED.load(Relaxed),
        reused_bytes: REUSED_BYTES.load(Relaxed),
        fresh_allocations: FRESH.load(Relaxed),
        fresh_bytes: FRESH_BYTES.load(Relaxed),
    }
}

/// Returns every cached block to the system and the number of bytes released.
pub fn empty_cache() -> usize {
    let mut released = 0;
    for (class, list) in FREE_LISTS.iter().enumerate() {
        let bytes = class_bytes(class);
        let mut list = lock(list);
        while let Some(ptr) = list.pop() {
            // SAFETY: every cached pointer came from `System.alloc` with this class's layout.
            unsafe { System.dealloc(ptr as *mut u8, block_layout(bytes)) };
            CACHED.fetch_sub(bytes, Relaxed);
            released += bytes;
        }
    }
    released
}

/// Sets the most the cache keeps, in bytes (0 turns caching off), and releases what is past it.
pub fn set_cache_limit(bytes: usize) {
    LIMIT.store(bytes, Relaxed);
    if CACHED.load(Relaxed) > bytes {
        empty_cache();
    }
}

/// Starts [`Stats::peak_in_use_bytes`] again from the bytes in use now.
pub fn reset_peak() {
    PEAK_IN_USE.store(IN_USE.load(Relaxed), Relaxed);
}

static INSTALLED: AtomicBool = AtomicBool::new(false);
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK_IN_USE: AtomicUsize = AtomicUsize::new(0);
static CACHED: AtomicUsize = AtomicUsize::new(0);
static LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_CACHE_LIMIT_BYTES);
static REUSED: AtomicU64 = AtomicU64::new(0);
static REUSED_BYTES: AtomicU64 = AtomicU64::new(0);
static FRESH: AtomicU64 = AtomicU64::new(0);
static FRESH_BYTES: AtomicU64 = AtomicU64::new(0);

/// The freed blocks of one size class, as addresses (a fixed array: the allocator may not
/// allocate for its own bookkeeping).
struct FreeList {
    blocks: [usize; SLOTS],
    len: usize,
}

impl FreeList {
    fn pop(&mut self) -> Option<usize> {
        self.len = self.len.checked_sub(1)?;
        Some(self.blocks[self.len])
    }

    /// Keeps `ptr`, or returns false when the list is full.
    fn push(&mut self, ptr: usize) -> bool {
        if self.len == SLOTS {
            return false;
        }
        self.blocks[self.len] = ptr;
        self.len += 1;
        true
    }
}

static FREE_LISTS: [Mutex<FreeList>; CLASSES] =
    [const { Mutex::new(FreeList { blocks: [0; SLOTS], len: 0 }) }; CLASSES];

/// Nothing panics while a list is locked, but a poisoned lock must not take the allocator down.
fn lock(list: &Mutex<FreeList>) -> MutexGuard<'_, FreeList> {
    list.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The size class of a request of `size` bytes: its index and its size in bytes, or `None` for
/// a size the cache does not keep.
fn size_class(size: usize) -> Option<(usize, usize)> {
    if size < MIN_CACHED_BYTES {
        return None;
    }
    let octave = (usize::BITS - 1 - size.leading_zeros()) as usize;
    let quarter = 1usize << (octave - 2);
    let steps = (size - (1 << octave)).div_ceil(quarter);
    let index = (octave - MIN_OCTAVE) * CLASSES_PER_OCTAVE + steps;
    (index < CLASSES).then(|| (index, class_bytes(index)))
}

/// The size in bytes of class `index`: `2^octave * (1 + step / 4)`.
fn class_bytes(index: usize) -> usize {
    let octave = MIN_OCTAVE + index / CLASSES_PER_OCTAVE;
    (1 << octave) + (index % CLASSES_PER_OCTAVE) * (1 << (octave - 2))
}

fn block_layout(bytes: usize) -> Layout {
    // A class size is a multiple of 2^8, so this never fails.
    Layout::from_size_align(bytes, BLOCK_ALIGN).expect("class sizes are valid layouts")
}

/// The class of a request the cache serves, or `None` for one it passes to the system.
fn cached_class(layout: Layout) -> Option<(usize, usize)> {
    if layout.align() > BLOCK_ALIGN {
        return None;
    }
    size_class(layout.size())
}

fn note_in_use(bytes: usize) {
    let now = IN_USE.fetch_add(bytes, Relaxed) + bytes;
    PEAK_IN_USE.fetch_max(now, Relaxed);
}

impl CachingAllocator {
    /// A cached block of class `class` and `bytes`, or a fresh one; the flag says which.
    ///
    /// # Safety
    /// `bytes` must be the size of class `class`.
    unsafe fn take(&self, class: usize, bytes: usize, zeroed: bool) -> (*mut u8, bool) {
        if let Some(ptr) = lock(&FREE_LISTS[class]).pop() {
            CACHED.fetch_sub(bytes, Relaxed);
            note_in_use(bytes);
            REUSED.fetch_add(1, Relaxed);
            REUSED_BYTES.fetch_add(bytes as u64, Relaxed);
            return (ptr as *mut u8, true);
        }
        let layout = block_layout(bytes);
        // SAFETY: the layout has a non-zero size.
        let alloc = || unsafe {
            if zeroed {
                System.alloc_zeroed(layout)
            } else {
                System.alloc(layout)
            }
        };
        let mut ptr = alloc();
        if ptr.is_null() && CACHED.load(Relaxed) > 0 {
            // Out of memory with blocks of other sizes in the cache: give them back and retry.
            empty_cache();
            ptr = alloc();
        }
        if !ptr.is_null() {
            note_in_use(bytes);
            FRESH.fetch_add(1, Relaxed);
            FRESH_BYTES.fetch_add(bytes as u64, Relaxed);
        }
        (ptr, false)
    }

    /// Keeps a freed block of class `class` in the cache, or returns it to the system when the
    /// cache is at its limit or the class's list is full.
    ///
    /// # Safety
    /// `ptr` must be a block of this allocator's class `class` of `bytes`, no longer used.
    unsafe fn give_back(&self, ptr: *mut u8, class: usize, bytes: usize) {
        IN_USE.fetch_sub(bytes, Relaxed);
        let room = LIMIT.load(Relaxed).saturating_sub(CACHED.load(Relaxed)) >= bytes;
        if room {
            let mut list = lock(&FREE_LISTS[class]);
            if list.push(ptr as usize) {
                CACHED.fetch_add(bytes, Relaxed);
                return;
            }
        }
        // SAFETY: the caller's contract: the block came from `System` with this class's layout.
        unsafe { System.dealloc(ptr, block_layout(bytes)) };
    }
}

fn note_installed() {
    if !INSTALLED.load(Relaxed) {
        INSTALLED.store(true, Relaxed);
    }
}

// SAFETY: requests the cache does not serve go to `System` unchanged, with their own layout;
// served ones get a block of their class (at least their size, aligned to `BLOCK_ALIGN`, which
// is at least their alignment), and a block is only handed out again after it was freed.
// Freed blocks are found again by the class of the request's size, which is the class they were
// allocated in, because `dealloc` and `realloc` receive the layout the block was requested with.
unsafe impl GlobalAlloc for CachingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_installed();
        match cached_class(layout) {
            // SAFETY: `bytes` is the size of `class`.
            Some((class, bytes)) => unsafe { self.take(class, bytes, false).0 },
            // SAFETY: the caller's layout, passed on.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_installed();
        match cached_class(layout) {
            Some((class, bytes)) => {
                // SAFETY: `bytes` is the size of `class`.
                let (ptr, reused) = unsafe { self.take(class, bytes, true) };
                if reused {
                    // SAFETY: the block holds at least `layout.size()` bytes.
                    unsafe { ptr.write_bytes(0, layout.size()) };
                }
                ptr
            }
            // SAFETY: the caller's layout, passed on.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match cached_class(layout) {
            // SAFETY: `ptr` was allocated with this layout, so in this class.
            Some((class, bytes)) => unsafe { self.give_back(ptr, class, bytes) },
            // SAFETY: the caller's pointer and layout, passed on.
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees that `new_size` with the old alignment is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (cached_class(layout), cached_class(new_layout)) {
            // SAFETY: the caller's arguments, passed on.
            (None, None) => unsafe { System.realloc(ptr, layout, new_size) },
            (Some((old, _)), Some((new, _))) if old == new => ptr,
            _ => {
                // SAFETY: a valid non-zero layout (the caller's contract).
                let moved = unsafe { self.alloc(new_layout) };
                if !moved.is_null() {
                    // SAFETY: both blocks hold at least the smaller size and do not overlap;
                    // `ptr` was allocated with `layout`.
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                moved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_cover_each_request_with_at_most_a_quarter_more() {
        let mut last = (0, 0);
        for size in (MIN_CACHED_BYTES..MIN_CACHED_BYTES * 64).step_by(997).chain([1 << 30, (1 << 30) + 1, 3 << 40]) {
            let (class, bytes) = size_class(size).unwrap();
            assert!(bytes >= size && bytes as f64 <= size as f64 * 1.25, "{size} -> {bytes}");
            assert_eq!(bytes % BLOCK_ALIGN, 0);
            assert!(class >= last.0 && bytes >= last.1, "classes grow with the size");
            assert_eq!(class_bytes(class), bytes);
            assert_eq!(size_class(bytes), Some((class, bytes)), "a class's own size is in it");
            last = (class, bytes);
        }
    }

    #[test]
    fn small_huge_and_over_aligned_requests_are_not_cached() {
        assert_eq!(size_class(MIN_CACHED_BYTES - 1), None);

        assert_eq!(size_class(MIN_CACHED_BYTES), Some((0, MIN_CACHED_BYTES)));
        assert_eq!(cached_class(Layout::from_size_align(1 << 20, 4096).unwrap()), None);
        assert!(cached_class(Layout::from_size_align(1 << 20, 64).unwrap()).is_some());
    }

    #[test]
    fn the_last_class_is_the_largest_cached_size() {
        let largest = (1 << 46) + 3 * (1 << 44);
        assert_eq!(size_class(largest), Some((CLASSES - 1, largest)));
        assert_eq!(size_class(largest + 1), None);
    }
}
