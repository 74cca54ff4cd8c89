//! Host emulation of `kernels/reduce.cu`: every reduction of the table, variance and the
//! arg-reductions, over views and dim sets, in block and thread modes.

use super::{arg, assert_close, data, module, ptr, ptr_mut, sym, ulp, views, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{strided, StridedArg};
use crate::cuda::reduce::{kernel_of, Mode};
use crate::ops::{ArgReduceOp, ReduceOp};
use crate::plan::ReducePlan;
use std::ffi::c_void;
use tessera_core::DType;

type ReduceFn = unsafe extern "C" fn(u64, u64, u64, i32, StridedArg, *const c_void, *mut c_void, f64);

/// Runs the plan's kernel in block mode and in thread mode (warp mode needs 32 lanes), checks
/// that both agree, and returns the result.
fn run(lib: &libloading::Library, plan: &ReducePlan, x: &CpuBuffer) -> CpuBuffer {
    let (name, extra) = kernel_of(plan);
    let kernel = format!("reduce_{name}_{}", plan.dtype.as_str());
    let f: ReduceFn = sym(lib, &kernel);
    let l = plan.lines;
    let [block, thread] = [Mode::Block, Mode::Thread].map(|mode| {
        let mut got = CpuBuffer::zeros(plan.out_dtype, l.outputs());
        let view = strided(&plan.read).unwrap();
        // SAFETY: `x` covers the read view, `got` holds one value per output.
        unsafe {
            f(l.outputs() as u64, l.red as u64, l.post as u64, mode as i32, view, ptr(x), ptr_mut(&mut got), extra)
        };
        got
    });
    assert_eq!(block, thread, "{kernel}: block and thread modes agree");
    block
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
                    let got = run(lib, &plan, &x);
                    assert_close(&what(kernel_of(&plan).0), &got, &want, 4.0 * ulp(dtype));
                }
            }
        }
    }
}
