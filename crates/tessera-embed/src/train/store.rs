//! The two weight matrices that every training thread reads and updates without locks
//! (Hogwild, as the original word2vec and gensim do), in two variants: plain `f32` accesses
//! through raw pointers, and relaxed atomic loads and stores of each value's bits.

use crate::simd::Kernel;
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// How the threads share the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SharedUpdates {
    /// Plain loads and stores through raw pointers, vectorised: what word2vec's C code does.
    /// Threads may read a value while another writes it; an update can be lost or a read see
    /// an older value, which Hogwild SGD tolerates. The fastest (see the crate README for the
    /// measurement).
    #[default]
    Plain,
    /// Every value is an `AtomicU32` read and written with relaxed ordering: no data race in
    /// Rust's memory model (updates can still be lost between a load and a store, as above),
    /// but values move one at a time instead of eight.
    Atomic,
}

/// Weights that several threads access at once through a [`Store`].
pub(crate) struct SharedMatrix {
    cells: Box<[UnsafeCell<f32>]>,
}

// SAFETY: threads access the cells only through `Plain` (raw pointers from `UnsafeCell::raw_get`,
// never references), which the Hogwild scheme below explains.
unsafe impl Sync for SharedMatrix {}

impl SharedMatrix {
    pub(crate) fn new(values: Vec<f32>) -> SharedMatrix {
        SharedMatrix { cells: values.into_iter().map(UnsafeCell::new).collect() }
    }

    pub(crate) fn into_vec(self) -> Vec<f32> {
        self.cells.into_vec().into_iter().map(UnsafeCell::into_inner).collect()
    }
}

/// Row operations on shared weights. `scratch` is the calling thread's buffer of `dim` values
/// (the atomic variant copies a row into it).
pub(crate) trait Store: Sync {
    /// `row · x`.
    fn dot(&self, row: u32, x: &[f32], scratch: &mut [f32]) -> f32;
    /// `acc += g * row; row += g * x`.
    fn update(&self, row: u32, g: f32, x: &[f32], acc: &mut [f32], scratch: &mut [f32]);
    /// `row += x`.
    fn add(&self, row: u32, x: &[f32], scratch: &mut [f32]);
    /// `out += row`.
    fn add_to(&self, row: u32, out: &mut [f32]);
    /// `out = row`.
    fn read(&self, row: u32, out: &mut [f32]);
    /// Starts loading `row` into cache (a hint).
    fn prefetch(&self, row: u32);
}

/// Plain accesses ([`SharedUpdates::Plain`]) with kernel `K`.
///
/// The Hogwild scheme: every thread reads and writes rows of both matrices at once, without
/// locks. All accesses go through raw pointers derived from the `UnsafeCell`s (no `&`/`&mut`
/// to the values is ever formed), every pointer stays inside the matrix (`row < rows` is checked
/// on each access), and the matrix outlives the threads (they run in a `std::thread::scope`
/// that borrows it). Two threads may touch the same value at the same time: Rust's memory model
/// calls that a data race, and this code accepts it knowingly, as word2vec and gensim do. The
/// consequence is the one Hogwild SGD is designed around: a lost or stale `f32` update. Aligned
/// 4-byte loads and stores do not tear on the targets Tessera builds for. With one thread there
/// is no concurrency at all; [`SharedUpdates::Atomic`] is the race-free alternative.
pub(crate) struct Plain<'a, K> {
    base: *mut f32,
    rows: usize,
    dim: usize,
    _matrix: PhantomData<&'a SharedMatrix>,
    _kernel: PhantomData<K>,
}

// SAFETY: see the type's documentation: shared access is the point, and it is by raw pointer.
unsafe impl<K> Sync for Plain<'_, K> {}

impl<'a, K: Kernel> Plain<'a, K> {
    pub(crate) fn new(m: &'a SharedMatrix, dim: usize) -> Self {
        let base = UnsafeCell::raw_get(m.cells.as_ptr());
        Plain { base, rows: m.cells.len() / dim, dim, _matrix: PhantomData, _kernel: PhantomData }
    }

    #[inline(always)]
    fn row(&self, row: u32) -> *mut f32 {
        let row = row as usize;
        assert!(row < self.rows, "row {row} outside the {} rows", self.rows);
        // SAFETY: `row < rows`, so the row's `dim` values lie inside the allocation.
        unsafe { self.base.add(row * self.dim) }
    }
}

impl<K: Kernel> Store for Plain<'_, K> {
    #[inline(always)]
    fn dot(&self, row: u32, x: &[f32], _: &mut [f32]) -> f32 {
        debug_assert_eq!(x.len(), self.dim);
        // SAFETY: the row holds `dim` values (see `row`), `x` holds `dim`; the kernel matches
        // the instruction set the caller was compiled for (see `train::run`).
        unsafe { K::dot(self.row(row), x.as_ptr(), self.dim) }
    }

    #[inline(always)]
    fn update(&self, row: u32, g: f32, x: &[f32], acc: &mut [f32], _: &mut [f32]) {
        debug_assert!(x.len() == self.dim && acc.len() == self.dim);
        // SAFETY: as in `dot`; `acc` is the thread's own buffer, so it overlaps nothing shared.
        unsafe { K::update(self.row(row), g, x.as_ptr(), acc.as_mut_ptr(), self.dim) }
    }

    #[inline(always)]
    fn add(&self, row: u32, x: &[f32], _: &mut [f32]) {
        debug_assert_eq!(x.len(), self.dim);
        // SAFETY: as in `dot`.
        unsafe { K::axpy(1.0, x.as_ptr(), self.row(row), self.dim) }
    }

    #[inline(always)]
    fn add_to(&self, row: u32, out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.dim);
        // SAFETY: as in `dot`; `out` is the thread's own buffer.
        unsafe { K::axpy(1.0, self.row(row), out.as_mut_ptr(), self.dim) }
    }

    #[inline(always)]
    fn read(&self, row: u32, out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.dim);
        // SAFETY: as in `dot`; `out` is the thread's own buffer.
        unsafe { std::ptr::copy_nonoverlapping(self.row(row), out.as_mut_ptr(), self.dim) }
    }

    #[inline(always)]
    fn prefetch(&self, row: u32) {
        let row = (row as usize).min(self.rows.saturating_sub(1));
        crate::simd::prefetch(self.base.wrapping_add(row * self.dim), self.dim);
    }
}

/// Relaxed atomic accesses ([`SharedUpdates::Atomic`]): a row is copied into the thread's
/// scratch buffer, computed on with kernel `K`, and stored back value by value.
pub(crate) struct Atomic<'a, K> {
    cells: &'a [AtomicU32],
    dim: usize,
    _kernel: PhantomData<K>,
}

impl<'a, K: Kernel> Atomic<'a, K> {
    pub(crate) fn new(cells: &'a [AtomicU32], dim: usize) -> Self {
        Atomic { cells, dim, _kernel: PhantomData }
    }

    #[inline(always)]
    fn cells(&self, row: u32) -> &[AtomicU32] {
        &self.cells[row as usize * self.dim..(row as usize + 1) * self.dim]
    }

    #[inline(always)]
    fn store(&self, row: u32, values: &[f32]) {
        for (c, v) in self.cells(row).iter().zip(values) {
            c.store(v.to_bits(), Relaxed);
        }
    }
}

impl<K: Kernel> Store for Atomic<'_, K> {
    #[inline(always)]
    fn dot(&self, row: u32, x: &[f32], scratch: &mut [f32]) -> f32 {
        self.read(row, scratch);
        // SAFETY: both buffers hold `dim` values; the kernel matches the caller's features.
        unsafe { K::dot(scratch.as_ptr(), x.as_ptr(), self.dim) }
    }

    #[inline(always)]
    fn update(&self, row: u32, g: f32, x: &[f32], acc: &mut [f32], scratch: &mut [f32]) {
        self.read(row, scratch);
        // SAFETY: three distinct buffers of `dim` values owned by this thread.
        unsafe { K::update(scratch.as_mut_ptr(), g, x.as_ptr(), acc.as_mut_ptr(), self.dim) };
        self.store(row, scratch);
    }

    #[inline(always)]
    fn add(&self, row: u32, x: &[f32], scratch: &mut [f32]) {
        self.read(row, scratch);
        // SAFETY: two distinct buffers of `dim` values owned by this thread.
        unsafe { K::axpy(1.0, x.as_ptr(), scratch.as_mut_ptr(), self.dim) };
        self.store(row, scratch);
    }

    #[inline(always)]
    fn add_to(&self, row: u32, out: &mut [f32]) {
        for (o, c) in out.iter_mut().zip(self.cells(row)) {
            *o += f32::from_bits(c.load(Relaxed));
        }
    }

    #[inline(always)]
    fn read(&self, row: u32, out: &mut [f32]) {
        for (o, c) in out.iter_mut().zip(self.cells(row)) {
            *o = f32::from_bits(c.load(Relaxed));
        }
    }

    #[inline(always)]
    fn prefetch(&self, row: u32) {
        if let Some(c) = self.cells.get(row as usize * self.dim) {
            crate::simd::prefetch(c.as_ptr() as *const f32, self.dim);
        }
    }
}
