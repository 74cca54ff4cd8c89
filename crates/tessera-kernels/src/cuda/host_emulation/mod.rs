//! Tests that run the kernels on the host: each `kernels/<family>.cu` compiled by the system C++
//! compiler with `TS_HOST_EMULATION` (see `kernels/host_emulation.h`) and launched through
//! [`launch`] with the grid and block the CUDA half computes, one file here per family. Each
//! block's threads run as fibers that switch at `__syncthreads` and warp shuffles, so the tests
//! check the kernels' indexing of strided and broadcast views, dtype conversions and op formulas
//! against the CPU reference, and also their cooperation between threads: shared memory,
//! barriers, shuffles and atomics. A shuffle from a lane that does not exist or has returned,
//! and a deadlock, fail the launch. What stays for a GPU: timing-dependent races (the fibers
//! interleave in two fixed orders) and the PTX conversions. Skipped (with a message) when no
//! `g++`/`c++` is installed; a kernel that the host compiler refuses fails.

use crate::cpu::{self, CpuBuffer};
use crate::cuda::emulator;
use crate::cuda::launch::Shape3;
use crate::ops::registry::{registry, CudaImpl};
use crate::plan::{Arg, Distribution, RandomPlan};
use libloading::Library;
use std::ffi::c_void;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use tessera_core::{DType, Layout, Philox, Shape};

mod attention;
mod batch_norm;
mod binary;
mod cast;
mod compare;
mod conv;
mod copy;
mod creation;
mod cross_entropy;
mod index;
mod lstm;
mod norm;
mod optim;
mod pooling;
mod random;
mod reduce;
mod rotary;
mod runtime;
mod softmax;
mod unary;

/// `kernels/`: `$TESSERA_KERNELS_DIR`, else the crate's own (a link to the repository's, or the
/// packaged copy), else `./kernels` (a test binary carried to another machine and run from the
/// repository root).
fn kernels_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TESSERA_KERNELS_DIR") {
        return PathBuf::from(dir);
    }
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("kernels");
    if built.join("common.cuh").exists() {
        built
    } else {
        PathBuf::from("kernels")
    }
}

/// The host build of `kernels/<module>.cu`, or `None` (after saying so) without a compiler; a
/// compile error fails the test.
fn module(name: &str) -> Option<&'static Library> {
    build(name, &kernels_dir().join(format!("{name}.cu")))
}

/// The host build of the kernel source at `src` (which may include `common.cuh`), cached under
/// `name`; `None` (after saying so) without a compiler.
fn build(name: &str, src: &std::path::Path) -> Option<&'static Library> {
    static LIBS: OnceLock<std::sync::Mutex<std::collections::HashMap<String, &'static Library>>> = OnceLock::new();
    let mut libs = LIBS.get_or_init(Default::default).lock().unwrap();
    if let Some(l) = libs.get(name) {
        return Some(l);
    }
    let out = std::env::temp_dir().join(format!("tessera-host-kernels-{}-{name}.so", std::process::id()));
    match emulator::compile(src, &kernels_dir(), &out) {
        Err(e) if e == emulator::NO_COMPILER => {
            let _ = writeln!(std::io::stderr(), "skipped: {e} to build {}", src.display());
            return None;
        }
        Err(e) => panic!("{}: {e}", src.display()),
        Ok(()) => {}
    }
    // SAFETY: a library we just built from our own sources, with no initialisers of note.
    let lib: &'static Library = Box::leak(Box::new(unsafe { Library::new(&out) }.expect("load host kernels")));
    libs.insert(name.to_string(), lib);
    Some(lib)
}

fn sym<T: Copy>(lib: &Library, name: &str) -> T {
    // SAFETY: the caller names a kernel whose C signature is T.
    unsafe { *lib.get::<T>(name.as_bytes()).unwrap_or_else(|e| panic!("kernel {name}: {e}")) }
}

/// Runs `kernel_call` (one call of one of `lib`'s kernels) as every thread of a launch of
/// `shape`, as a GPU would run the kernel; panics with the emulator's message on a deadlock or a
/// shuffle from a missing lane.
fn launch(lib: &Library, shape: Shape3, kernel_call: impl Fn()) {
    if let Err(e) = emulator::run_launch(lib, shape, &kernel_call) {
        panic!("{e}");
    }
}

fn ptr(b: &CpuBuffer) -> *const c_void {
    crate::dispatch!(b, v => v.as_ptr() as *const c_void)
}

fn ptr_mut(b: &mut CpuBuffer) -> *mut c_void {
    match b {
        CpuBuffer::F32(v) => v.as_mut_ptr() as _,
        CpuBuffer::F64(v) => v.as_mut_ptr() as _,
        CpuBuffer::F16(v) => v.as_mut_ptr() as _,
        CpuBuffer::BF16(v) => v.as_mut_ptr() as _,
        CpuBuffer::U8(v) => v.as_mut_ptr() as _,
        CpuBuffer::U32(v) => v.as_mut_ptr() as _,
        CpuBuffer::I64(v) => v.as_mut_ptr() as _,
    }
}

/// Values of `dtype` from a seed: a mix of signs and magnitudes, exactly representable inputs.
fn data(dtype: DType, n: usize, seed: u64, lo: f64, hi: f64) -> CpuBuffer {
    let mut g = Philox::new(seed);
    let plan = RandomPlan::new(Distribution::Uniform { lo, hi }, &mut g, DType::F64, n).unwrap();
    cpu::cast(&cpu::random(&plan), &Layout::contiguous(Shape::new(vec![n])), dtype)
}

/// A plan's view of `buf` through `layout`.
fn arg<'a>(buf: &CpuBuffer, layout: &'a Layout) -> Arg<'a> {
    Arg::new(buf.dtype(), layout)
}

fn assert_close(what: &str, got: &CpuBuffer, want: &CpuBuffer, rtol: f64) {
    assert_eq!(got.dtype(), want.dtype(), "{what}");
    let l = Layout::contiguous(Shape::new(vec![want.len()]));
    for (i, (g, w)) in got.to_f64_vec(&l).iter().zip(want.to_f64_vec(&l)).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || *g == w || (g - w).abs() <= rtol * w.abs().max(1e-30);
        assert!(ok, "{what}: element {i}: kernel {g}, cpu {w}");
    }
}

fn ulp(dtype: DType) -> f64 {
    match dtype {
        DType::F32 => 2e-6,
        DType::F64 => 1e-13,
        DType::F16 => 1e-3,
        DType::BF16 => 8e-3,
        _ => 0.0,
    }
}

/// Views of a [3, 4, 5] buffer of 60 elements.
fn views() -> Vec<(&'static str, Layout)> {
    let base = Layout::contiguous(Shape::new(vec![3, 4, 5]));
    vec![
        ("contiguous", base.clone()),
        ("transposed", base.transpose(0, 2).unwrap()),
        ("narrowed", base.narrow(1, 1, 2).unwrap()),
        ("expanded", base.narrow(0, 2, 1).unwrap().broadcast_as(&Shape::new(vec![4, 4, 5])).unwrap()),
        ("permuted", base.permute(&[1, 2, 0]).unwrap()),
    ]
}

const FLOATS: [DType; 4] = [DType::F32, DType::F64, DType::F16, DType::BF16];

#[test]
fn every_declared_kernel_exists_in_its_module() {
    let mut checked = 0;
    for op in registry() {
        let CudaImpl::Kernels(symbols) = &op.cuda else { continue };
        let Some(lib) = module(op.family) else { return };
        for s in symbols {
            // SAFETY: only looks the symbol up.
            let found = unsafe { lib.get::<*const c_void>(s.as_bytes()) }.is_ok();
            assert!(found, "op {}: kernel {s} is not in kernels/{}.cu", op.name, op.family);
            checked += 1;
        }
    }
    assert!(checked > 300, "only {checked} kernels checked");
}
/// `|got - want| <= atol + rtol * |want|` element by element.
fn assert_close_abs(what: &str, got: &CpuBuffer, want: &CpuBuffer, atol: f64, rtol: f64) {
    assert_eq!((got.dtype(), got.len()), (want.dtype(), want.len()), "{what}");
    let l = Layout::contiguous(Shape::new(vec![want.len()]));
    for (i, (g, w)) in got.to_f64_vec(&l).iter().zip(want.to_f64_vec(&l)).enumerate() {
        let ok = (g.is_nan() && w.is_nan()) || (g - w).abs() <= atol + rtol * w.abs();
        assert!(ok, "{what}: element {i}: kernel {g}, cpu {w}");
    }
}
