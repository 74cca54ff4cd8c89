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
use tessera_core::DType;

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
