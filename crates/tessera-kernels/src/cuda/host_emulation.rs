//! Tests that run the kernels (unary, binary, copy, index, random, reduce, softmax, lstm) on the
//! host: the `.cu` sources compiled by the system C++ compiler with `TS_HOST_EMULATION` (see
//! common.cuh) and called as one thread over host memory. They check the kernels' indexing of
//! strided and broadcast views, dtype conversions and op formulas against the CPU reference on
//! machines without a GPU. Skipped (with a message) when no `g++`/`c++` is installed. With one
//! thread, warp shuffles and barriers are no-ops, so races and shuffle mistakes show only on a GPU
//! (tests/cuda.rs and tests/cuda_nn_ops.rs of tessera-tensor).

use super::launch::{strided, strided_exact, strided_views, StridedArg};
use super::reduce::Mode;
use crate::cpu::{self, CpuBuffer};
use crate::ops::{BinaryOp, CmpOp, UnaryOp};
use libloading::Library;
use std::ffi::c_void;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use tessera_core::{DType, Layout, Philox, Shape};

mod lstm;
mod softmax;

/// `kernels/`: `$TESSERA_KERNELS_DIR`, else the source tree this test was built from, else
/// `./kernels` (a test binary carried to another machine and run from the repository root).
fn kernels_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TESSERA_KERNELS_DIR") {
        return PathBuf::from(dir);
    }
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../kernels");
    if built.join("common.cuh").exists() {
        built
    } else {
        PathBuf::from("kernels")
    }
}

/// The host build of `kernels/<module>.cu`, or `None` (after saying so) without a compiler.
fn module(name: &str) -> Option<&'static Library> {
    static LIBS: OnceLock<std::sync::Mutex<std::collections::HashMap<String, &'static Library>>> = OnceLock::new();
    let mut libs = LIBS.get_or_init(Default::default).lock().unwrap();
    if let Some(l) = libs.get(name) {
        return Some(l);
    }
    let out = std::env::temp_dir().join(format!("tessera-host-kernels-{}-{name}.so", std::process::id()));
    let src = kernels_dir().join(format!("{name}.cu"));
    let built = ["g++", "c++"].iter().any(|cxx| {
        std::process::Command::new(cxx)
            .args(["-O1", "-std=c++17", "-shared", "-fPIC", "-DTS_HOST_EMULATION", "-Wno-unknown-pragmas", "-x", "c++"])
            .arg("-I")
            .arg(kernels_dir())
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .status()
            .is_ok_and(|s| s.success())
    });
    if !built {
        let _ = writeln!(std::io::stderr(), "skipped: no host C++ compiler to build {name}.cu");
        return None;
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
    let f = cpu::uniform(&mut g, DType::F64, n, lo, hi).unwrap();
    cpu::cast(&f, &Layout::contiguous(Shape::new(vec![n])), dtype)
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

type UnaryFn = unsafe extern "C" fn(u64, StridedArg, *const c_void, *mut c_void, f64, f64);
type ZipFn = unsafe extern "C" fn(u64, StridedArg, StridedArg, *const c_void, *const c_void, *mut c_void);
type CopyFn = unsafe extern "C" fn(u64, StridedArg, *const c_void, *mut c_void);

#[test]
fn host_unary_kernels_match_cpu() {
    let Some(lib) = module("unary") else { return };
    let ops = [
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Exp,
        UnaryOp::Sqrt,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Gelu,
        UnaryOp::GeluTanh,
        UnaryOp::Silu,
        UnaryOp::Powf(1.5),
        UnaryOp::Clamp(-0.5, 0.5),
        UnaryOp::Affine(3.0, -2.0),
    ];
    for dtype in FLOATS.into_iter().chain([DType::I64, DType::U8]) {
        let x = data(dtype, 60, 1, if dtype == DType::U8 { 0.0 } else { -3.0 }, 3.0);
        for op in ops {
            if dtype.is_int() && (!op.supports_int() || (op == UnaryOp::Neg && dtype == DType::U8)) {
                continue;
            }
            let x = if op == UnaryOp::Sqrt || matches!(op, UnaryOp::Powf(_)) {
                cpu::unary(UnaryOp::Abs, &x, &Layout::contiguous(Shape::new(vec![60]))).unwrap()
            } else {
                x.clone()
            };
            for (name, l) in views() {
                let want = cpu::unary(op, &x, &l).unwrap();
                let mut got = CpuBuffer::zeros(dtype, l.elem_count());
                let (p0, p1) = match op {
                    UnaryOp::Powf(p) => (p, 0.0),
                    UnaryOp::Clamp(a, b) | UnaryOp::Affine(a, b) => (a, b),
                    _ => (0.0, 0.0),
                };
                let f: UnaryFn = sym(lib, &format!("unary_{}_{}", op.name(), dtype.as_str()));
                // SAFETY: buffers sized for the view; the kernel's signature is UnaryFn.
                unsafe { f(l.elem_count() as u64, strided(&l).unwrap(), ptr(&x), ptr_mut(&mut got), p0, p1) };
                assert_close(&format!("{} {dtype} {name}", op.name()), &got, &want, 2.0 * ulp(dtype));
            }
        }
    }
}

#[test]
fn host_binary_and_compare_kernels_match_cpu() {
    let Some(lib) = module("binary") else { return };
    let pairs: [(&[usize], &[usize]); 4] =
        [(&[3, 4, 5], &[3, 4, 5]), (&[3, 1, 5], &[4, 1]), (&[5], &[2, 1]), (&[], &[2, 3])];
    for dtype in FLOATS.into_iter().chain([DType::I64, DType::U8, DType::U32]) {
        for (sa, sb) in pairs {
            let (la, lb) = (Layout::contiguous(Shape::from(sa)), Layout::contiguous(Shape::from(sb)));
            let (a, b) = (data(dtype, la.elem_count(), 2, 1.0, 40.0), data(dtype, lb.elem_count(), 3, 1.0, 40.0));
            let shape = tessera_core::broadcast_shapes(la.shape(), lb.shape(), "t").unwrap();
            let v = strided_views(&[&la.broadcast_as(&shape).unwrap(), &lb.broadcast_as(&shape).unwrap()]).unwrap();
            let n = shape.elem_count() as u64;
            let int_ops =
                [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Maximum, BinaryOp::Minimum];
            let ops: &[BinaryOp] = if dtype.is_int() {
                &int_ops
            } else {
                &[
                    BinaryOp::Add,
                    BinaryOp::Sub,
                    BinaryOp::Mul,
                    BinaryOp::Div,
                    BinaryOp::Pow,
                    BinaryOp::Maximum,
                    BinaryOp::Minimum,
                ]
            };
            for &op in ops {
                let (want, _) = cpu::binary(op, &a, &la, &b, &lb).unwrap();
                let mut got = CpuBuffer::zeros(dtype, n as usize);
                let f: ZipFn = sym(lib, &format!("binary_{}_{}", op.name(), dtype.as_str()));
                // SAFETY: as above.
                unsafe { f(n, v[0], v[1], ptr(&a), ptr(&b), ptr_mut(&mut got)) };
                assert_close(&format!("{} {dtype} {sa:?} {sb:?}", op.name()), &got, &want, 2.0 * ulp(dtype));
            }
            for op in [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge] {
                let (want, _) = cpu::compare(op, &a, &la, &b, &lb).unwrap();
                let mut got = CpuBuffer::zeros(DType::U8, n as usize);
                let f: ZipFn = sym(lib, &format!("cmp_{}_{}", op.name(), dtype.as_str()));
                // SAFETY: as above.
                unsafe { f(n, v[0], v[1], ptr(&a), ptr(&b), ptr_mut(&mut got)) };
                assert_eq!(got, want, "{} {dtype} {sa:?} {sb:?}", op.name());
            }
        }
    }
}

#[test]
fn host_copy_cast_and_cat_kernels_match_cpu() {
    let Some(lib) = module("copy") else { return };
    let all = [DType::F32, DType::F64, DType::F16, DType::BF16, DType::U8, DType::U32, DType::I64];
    for from in all {
        let x = data(from, 60, 4, -400.0, 400.0);
        for (name, l) in views() {
            let n = l.elem_count();
            let mut got = CpuBuffer::zeros(from, n);
            let w = match from.size_in_bytes() {
                1 => "u8",
                2 => "u16",
                4 => "u32",
                _ => "u64",
            };
            let f: CopyFn = sym(lib, &format!("copy_{w}"));
            // SAFETY: as above.
            unsafe { f(n as u64, strided(&l).unwrap(), ptr(&x), ptr_mut(&mut got)) };
            assert_eq!(got, cpu::copy_strided(&x, &l), "copy {from} {name}");
            for to in all.into_iter().filter(|&t| t != from) {
                let want = cpu::cast(&x, &l, to);
                let mut got = CpuBuffer::zeros(to, n);
                let f: CopyFn = sym(lib, &format!("cast_{}_{}", from.as_str(), to.as_str()));
                // SAFETY: as above.
                unsafe { f(n as u64, strided(&l).unwrap(), ptr(&x), ptr_mut(&mut got)) };
                // f64 -> bf16 rounds through f32 in the kernel (double rounding): allow one ulp.
                let tol = if from == DType::F64 && to == DType::BF16 { ulp(to) } else { 0.0 };
                assert_close(&format!("cast {from}->{to} {name}"), &got, &want, tol);
            }
        }
    }
    // cat along dim 1 of a transposed view and a contiguous one.
    type CatFn = unsafe extern "C" fn(u64, u64, u64, u64, StridedArg, *const c_void, *mut c_void);
    let f: CatFn = sym(lib, "cat_u32");
    let x = data(DType::F32, 60, 5, -1.0, 1.0);
    let (a, b) = (
        Layout::contiguous(Shape::new(vec![5, 4, 3])),
        Layout::contiguous(Shape::new(vec![3, 4, 5])).transpose(0, 2).unwrap(),
    );
    let (want, shape) = cpu::cat(&[(&x, &a), (&x, &b)], 1).unwrap();
    let mut got = CpuBuffer::zeros(DType::F32, shape.elem_count());
    let mut start = 0;
    for l in [&a, &b] {
        let block = (l.dims()[1] * 3) as u64;
        // SAFETY: as above.
        unsafe { f(60, block, 8 * 3, start, strided(l).unwrap(), ptr(&x), ptr_mut(&mut got)) };
        start += block;
    }
    assert_eq!(got, want, "cat");
}

#[test]
fn host_index_kernels_match_cpu() {
    let Some(lib) = module("index") else { return };
    // The bounds check finds the first bad position (the one the CPU's error names).
    type CheckFn = unsafe extern "C" fn(u64, *const c_void, u64, *mut c_void);
    let f: CheckFn = sym(lib, "check_indices");
    for (idx, want) in [(vec![1i64, 9, -1, 7], 1u64), (vec![0, 4, 3], u64::MAX), (vec![2, 0, -3], 2)] {
        let mut first = CpuBuffer::I64(vec![-1]);
        let idx = CpuBuffer::I64(idx);
        // SAFETY: as above.
        unsafe { f(idx.len() as u64, ptr(&idx), 5, ptr_mut(&mut first)) };
        assert_eq!(first, CpuBuffer::I64(vec![want as i64]), "check_indices {idx:?}");
    }
    let x = data(DType::F32, 60, 6, -5.0, 5.0);
    let base = Layout::contiguous(Shape::new(vec![3, 4, 5]));
    let idx = CpuBuffer::I64(vec![2, 0, 3, 3, 1]);
    // index_select along dim 1 of a permuted view ([4, 5, 3]: select along dim 0).
    let l = base.permute(&[1, 2, 0]).unwrap();
    let il = Layout::contiguous(Shape::new(vec![5]));
    let (want, shape) = cpu::index_select(&x, &l, 0, &idx, &il).unwrap();
    let mut got = CpuBuffer::zeros(DType::F32, shape.elem_count());
    type SelFn = unsafe extern "C" fn(u64, u64, u64, u64, StridedArg, *const c_void, *const c_void, *mut c_void);
    let f: SelFn = sym(lib, "index_select_f32");
    // SAFETY: as above.
    unsafe { f(shape.elem_count() as u64, 5, 4, 15, strided(&l).unwrap(), ptr(&x), ptr(&idx), ptr_mut(&mut got)) };
    assert_eq!(got, want, "index_select");
    // gather along dim 2 of the transposed view, index shape [5, 2, 3].
    let t = base.transpose(0, 2).unwrap();
    let gi = CpuBuffer::I64((0..30).map(|i| (i * 7 % 3) as i64).collect());
    let gl = Layout::contiguous(Shape::new(vec![5, 2, 3]));
    let (want, _) = cpu::gather(&x, &t, 2, &gi, &gl).unwrap();
    let mut got = CpuBuffer::zeros(DType::F32, 30);
    type GatherFn = unsafe extern "C" fn(u64, u64, StridedArg, *const c_void, *const c_void, *mut c_void);
    let f: GatherFn = sym(lib, "gather_f32");
    let view = strided_exact(gl.dims(), t.strides(), t.offset()).unwrap();
    // SAFETY: as above.
    unsafe { f(30, 2, view, ptr(&x), ptr(&gi), ptr_mut(&mut got)) };
    assert_eq!(got, want, "gather");
    // scatter_add with repeated indices into a narrowed base, for f32, bf16 and u8 (CAS path).
    for dtype in [DType::F32, DType::BF16, DType::U8] {
        let b = data(dtype, 60, 7, 0.0, 4.0);
        let s = data(dtype, 24, 8, 0.0, 4.0);
        let bl = base.narrow(2, 1, 3).unwrap();
        let sl = Layout::contiguous(Shape::new(vec![2, 4, 3]));
        let si = CpuBuffer::I64((0..24).map(|i| (i * 5 % 3) as i64).collect());
        let want = cpu::scatter_add(&b, &bl, 0, &si, &sl, &s, &sl).unwrap();
        let mut got = cpu::copy_strided(&b, &bl);
        type ScatterFn =
            unsafe extern "C" fn(u64, u64, StridedArg, StridedArg, *const c_void, *const c_void, *mut c_void);
        let f: ScatterFn = sym(lib, &format!("scatter_add_{}", dtype.as_str()));
        let ss = strided_exact(sl.dims(), sl.strides(), 0).unwrap();
        let os = strided_exact(sl.dims(), &bl.shape().contiguous_strides(), 0).unwrap();
        // SAFETY: as above.
        unsafe { f(24, 0, ss, os, ptr(&s), ptr(&si), ptr_mut(&mut got)) };
        assert_close(&format!("scatter_add {dtype}"), &got, &want, ulp(dtype));
    }
}

#[test]
fn host_random_kernels_match_cpu() {
    let Some(lib) = module("random") else { return };
    type FillFn = unsafe extern "C" fn(u64, u64, u64, f64, f64, *mut c_void);
    for dtype in FLOATS {
        for (kernel, a, b) in [("uniform", -2.0, 3.0), ("normal", 1.0, 2.0), ("bernoulli", 0.3, 0.0)] {
            let mut g = Philox::new(99);
            g.take(5);
            let first = g.offset();
            let want = match kernel {
                "uniform" => cpu::uniform(&mut g, dtype, 1001, a, b),
                "normal" => cpu::normal(&mut g, dtype, 1001, a, b),
                _ => cpu::bernoulli(&mut g, dtype, 1001, a),
            }
            .unwrap();
            let mut got = CpuBuffer::zeros(dtype, 1001);
            let f: FillFn = sym(lib, &format!("{kernel}_{}", dtype.as_str()));
            // SAFETY: as above.
            unsafe { f(1001, 99, first, a, b, ptr_mut(&mut got)) };
            assert_close(&format!("{kernel} {dtype}"), &got, &want, if kernel == "normal" { ulp(dtype) } else { 0.0 });
        }
    }
}

type ReduceFn = unsafe extern "C" fn(u64, u64, u64, i32, StridedArg, *const c_void, *mut c_void, f64);

#[test]
fn host_reduce_kernels_match_cpu() {
    use crate::ops::ReduceOp;
    let Some(lib) = module("reduce") else { return };
    let dim_sets: [&[usize]; 5] = [&[0], &[1], &[2], &[0, 2], &[0, 1, 2]];
    for dtype in FLOATS.into_iter().chain([DType::U8, DType::I64]) {
        let x = data(dtype, 60, 9, if dtype.is_int() { 0.0 } else { -2.0 }, 9.0);
        for (name, l) in views() {
            for dims in dim_sets {
                let (read, pre, red, post) = super::reduce::plan(&l, dims).unwrap();
                let outputs = pre * post;
                let run = |kernel: String, out_dtype: DType, extra: f64| {
                    let f: ReduceFn = sym(lib, &kernel);
                    let args = (outputs as u64, red as u64, post as u64, strided(&read).unwrap());
                    // Block mode and thread mode run as one thread (warp mode needs 32 lanes).
                    let [block, thread] = [Mode::Block, Mode::Thread].map(|mode| {
                        let mut got = CpuBuffer::zeros(out_dtype, outputs);
                        // SAFETY: as above.
                        unsafe { f(args.0, args.1, args.2, mode as i32, args.3, ptr(&x), ptr_mut(&mut got), extra) };
                        got
                    });
                    assert_eq!(block, thread, "{kernel}: block and thread modes agree");
                    block
                };
                let what = |op: &str| format!("{op} {dtype} {name} {dims:?}");
                for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min] {
                    if op == ReduceOp::Mean && dtype.is_int() {
                        continue;
                    }
                    let (want, _) = cpu::reduce(op, &x, &l, dims, false).unwrap();
                    let (kname, extra) = match op {
                        ReduceOp::Mean => ("sum", 1.0 / red as f64),
                        ReduceOp::Sum => ("sum", 1.0),
                        _ => (op.name(), 0.0),
                    };
                    let got = run(format!("reduce_{kname}_{}", dtype.as_str()), want.dtype(), extra);
                    assert_close(&what(op.name()), &got, &want, 4.0 * ulp(dtype));
                }
                if !dtype.is_int() {
                    let (want, _) = cpu::var(&x, &l, dims, false, 1).unwrap();
                    let got = run(format!("reduce_var_{}", dtype.as_str()), dtype, 1.0);
                    assert_close(&what("var"), &got, &want, 4.0 * ulp(dtype));
                }
                if dims.len() == 1 {
                    for greater in [true, false] {
                        let (want, _) = cpu::arg_reduce(&x, &l, dims[0], false, greater).unwrap();
                        let op = if greater { "argmax" } else { "argmin" };
                        let got = run(format!("reduce_{op}_{}", dtype.as_str()), DType::I64, 0.0);
                        assert_eq!(got, want, "{}", what(op));
                    }
                }
            }
        }
    }
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
