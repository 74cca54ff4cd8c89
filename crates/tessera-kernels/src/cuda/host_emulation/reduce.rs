//! Host emulation of `kernels/reduce.cu`: every reduction of the table, variance and the
//! arg-reductions, over views and dim sets, in the launch mode the CUDA half picks and in the
//! other two.

use super::{arg, assert_close, data, launch, module, ptr, ptr_mut, sym, ulp, views, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{strided, Shape3, StridedArg};
use crate::cuda::reduce::{kernel_of, mode_for, Mode};
use crate::ops::{ArgReduceOp, ReduceOp};
use crate::plan::ReducePlan;
use std::ffi::c_void;
use tessera_core::{DType, Layout, Shape};

type ReduceFn = unsafe extern "C" fn(u64, u64, u64, i32, StridedArg, *const c_void, *mut c_void, f64);

/// Runs the plan's kernel in the mode and launch shape [`mode_for`] picks, and in the other two
/// modes (block mode with 2 warps per block, to keep the test short): each mode's result.
fn run(lib: &libloading::Library, plan: &ReducePlan, x: &CpuBuffer) -> Vec<(Mode, CpuBuffer)> {
    let (name, extra) = kernel_of(plan);
    let kernel = format!("reduce_{name}_{}", plan.dtype.as_str());
    let f: ReduceFn = sym(lib, &kernel);
    let l = plan.lines;
    let outputs = l.outputs();
    let picked = mode_for(outputs, l.red, l.post);
    let others = [
        (Mode::Block, Shape3 { grid: outputs.min(3) as u32, block: 64 }),
        (Mode::Warp, Shape3 { grid: 2, block: 64 }),
        (Mode::Thread, Shape3 { grid: 1, block: 32 }),
    ];
    std::iter::once(picked)
        .chain(others.into_iter().filter(|(m, _)| *m != picked.0))
        .map(|(mode, shape)| {
            let mut got = CpuBuffer::zeros(plan.out_dtype, outputs);
            let (view, out) = (strided(&plan.read).unwrap(), ptr_mut(&mut got));
            // SAFETY: `x` covers the read view, `got` holds one value per output.
            launch(lib, shape, || unsafe {
                f(outputs as u64, l.red as u64, l.post as u64, mode as i32, view, ptr(x), out, extra)
            });
            (mode, got)
        })
        .collect()
}

#[test]
fn host_reduce_kernels_match_cpu() {
    let Some(lib) = module("reduce") else { return };
    let dim_sets: [&[isize]; 5] = [&[0], &[1], &[2], &[0, 2], &[0, 1, 2]];
    for dtype in FLOATS.into_iter().chain([DType::U8, DType::I64]) {
        let x = data(dtype, 60, 9, if dtype.is_int() { 0.0 } else { -2.0 }, 9.0);
        for (name, l) in views() {
            for dims in dim_sets {
                let what = |op: &str| format!("{op} {dtype} {name} {dims:?}");
                let mut plans: Vec<ReducePlan> = ReduceOp::ALL
                    .iter()
                    .filter_map(|&op| ReducePlan::reduce(op, arg(&x, &l), dims, false).ok())
                    .collect();
                plans.extend(ReducePlan::variance(arg(&x, &l), dims, false, 1).ok());
                if let [d] = dims {
                    for op in [ArgReduceOp::ArgMax, ArgReduceOp::ArgMin] {
                        plans.push(ReducePlan::arg(op, arg(&x, &l), *d, false).unwrap());
                    }
                }
                for plan in plans {
                    let want = cpu::reduce(&plan, &x).unwrap();
                    for (mode, got) in run(lib, &plan, &x) {
                        assert_close(&format!("{} {mode:?}", what(kernel_of(&plan).0)), &got, &want, 4.0 * ulp(dtype));
                    }
                }
            }
        }
    }
}

#[test]
fn host_reduce_kernels_match_cpu_in_each_mode_at_its_sizes() {
    let Some(lib) = module("reduce") else { return };
    // Long lines take a block each, short ones a warp, and many columns a thread each.
    for (dims, dim, mode) in
        [(vec![4, 1500], 1, Mode::Block), (vec![40, 70], 1, Mode::Warp), (vec![5, 2100], 0, Mode::Thread)]
    {
        for dtype in [DType::F32, DType::F16, DType::I64] {
            let n = dims.iter().product();
            let x = data(dtype, n, 12, if dtype.is_int() { 0.0 } else { -2.0 }, 9.0);
            let l = Layout::contiguous(Shape::new(dims.clone()));
            let plans = [
                ReducePlan::reduce(ReduceOp::Sum, arg(&x, &l), &[dim], false).unwrap(),
                ReducePlan::reduce(ReduceOp::Max, arg(&x, &l), &[dim], false).unwrap(),
                ReducePlan::arg(ArgReduceOp::ArgMin, arg(&x, &l), dim, false).unwrap(),
            ];
            for plan in plans {
                let lines = plan.lines;
                assert_eq!(mode_for(lines.outputs(), lines.red, lines.post).0, mode, "{dims:?} along {dim}");
                let want = cpu::reduce(&plan, &x).unwrap();
                for (m, got) in run(lib, &plan, &x) {
                    // A sum of 1500 values in another order: its rounding grows with the length.
                    let tol = if dtype.is_int() { 0.0 } else { 64.0 * ulp(dtype) };
                    assert_close(
                        &format!("{} {dtype} {dims:?} along {dim} {m:?}", kernel_of(&plan).0),
                        &got,
                        &want,
                        tol,
                    );
                }
            }
        }
    }
}
