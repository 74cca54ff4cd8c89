//! Host emulation of `kernels/pooling.cu`: max, average and adaptive average pooling, forward
//! and backward, over several window configurations, in every float dtype.

use super::{arg, assert_close_abs, data, launch, module, ptr, ptr_mut, sym, ulp, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::elementwise;
use crate::plan::{AvgPool2dSpec, MaxPool2dSpec, PoolBackwardPlan, PoolKind, PoolPlan};
use libloading::Library;
use std::ffi::c_void;
use tessera_core::{DType, Layout, Shape};

type Axes = [u64; 13];
type MaxFn = unsafe extern "C" fn(
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    *const c_void,
    *mut c_void,
    *mut c_void,
);
type MaxBackFn = unsafe extern "C" fn(u64, u64, u64, *const c_void, *const c_void, *mut c_void);
type AvgFn = unsafe extern "C" fn(
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    i32,
    u64,
    *const c_void,
    *mut c_void,
);

fn axes(plan: &PoolPlan) -> Axes {
    let mut a = [plan.planes as u64; 13];
    a[1..7].copy_from_slice(&plan.axis_args(0));
    a[7..].copy_from_slice(&plan.axis_args(1));
    a
}

fn divisor(plan: &PoolPlan) -> (i32, u64) {
    match plan.kind {
        PoolKind::Avg(s) => (s.count_include_pad as i32, s.divisor_override.unwrap_or(0) as u64),
        _ => (0, 0),
    }
}

fn kinds() -> Vec<PoolKind> {
    let max = MaxPool2dSpec::new([3, 2]);
    let avg = AvgPool2dSpec::new([3, 3]);
    vec![
        PoolKind::Max(MaxPool2dSpec::new([2, 2])),
        PoolKind::Max(max.stride([2, 1]).padding([1, 1]).dilation([2, 1]).ceil_mode(true)),
        PoolKind::Max(MaxPool2dSpec::new([3, 3]).stride([2, 2]).ceil_mode(true)),
        PoolKind::Avg(AvgPool2dSpec::new([2, 2])),
        PoolKind::Avg(avg.stride([2, 2]).padding([1, 1]).ceil_mode(true)),
        PoolKind::Avg(avg.stride([2, 1]).padding([1, 0]).count_include_pad(false)),
        PoolKind::Avg(avg.padding([1, 1]).divisor_override(Some(5))),
        PoolKind::AdaptiveAvg([3, 4]),
        PoolKind::AdaptiveAvg([9, 1]),
    ]
}

fn run_max(lib: &Library, plan: &PoolPlan, x: &CpuBuffer, dy: &CpuBuffer, what: &str) {
    let dtype = plan.dtype;
    let [want_y, want_i] = cpu::max_pool2d(plan, x).unwrap();
    let n = plan.planes * plan.plane_out();
    let (mut y, mut idx) = (CpuBuffer::zeros(dtype, n), CpuBuffer::zeros(DType::I64, n));
    let f: MaxFn = sym(lib, &format!("max_pool2d_{}", dtype.as_str()));
    let a = axes(plan);
    let y_out = ptr_mut(&mut y);
    let idx_out = ptr_mut(&mut idx);
    // SAFETY: buffers sized as the plan says; the kernel's signature is MaxFn.
    launch(lib, elementwise(n), || unsafe {
        f(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], ptr(x), y_out, idx_out)
    });
    assert_eq!(y, want_y, "{what}: y");
    assert_eq!(idx, want_i, "{what}: indices");
    let ol = Layout::contiguous(plan.out_shape.clone());
    let back = PoolBackwardPlan::new(plan.clone(), arg(dy, &ol), Some(arg(&want_i, &ol))).unwrap();
    let want_dx = cpu::max_pool2d_backward(&back, dy, &want_i).unwrap();
    let wide = if matches!(dtype, DType::F16 | DType::BF16) { DType::F32 } else { dtype };
    let mut acc = CpuBuffer::zeros(wide, plan.planes * plan.plane_in());
    let g: MaxBackFn = sym(lib, &format!("max_pool2d_backward_{}", dtype.as_str()));
    let (pin, pout) = (plan.plane_in() as u64, plan.plane_out() as u64);
    let acc_out = ptr_mut(&mut acc);
    // SAFETY: as above.
    launch(lib, elementwise(n), || unsafe { g(n as u64, pin, pout, ptr(dy), ptr(&want_i), acc_out) });
    let dx = cpu::cast(&acc, &Layout::contiguous(Shape::new(vec![acc.len()])), dtype);
    let tol = 2.0 * ulp(dtype);
    assert_close_abs(&format!("{what}: dx"), &dx, &want_dx, tol, tol);
}

fn run_avg(lib: &Library, plan: &PoolPlan, x: &CpuBuffer, dy: &CpuBuffer, what: &str) {
    let dtype = plan.dtype;
    let want_y = cpu::avg_pool2d(plan, x).unwrap();
    let mut y = CpuBuffer::zeros(dtype, plan.planes * plan.plane_out());
    let f: AvgFn = sym(lib, &format!("avg_pool2d_{}", dtype.as_str()));
    let (a, (pad, div)) = (axes(plan), divisor(plan));
    let y_out = ptr_mut(&mut y);
    // SAFETY: buffers sized as the plan says; the kernel's signature is AvgFn.
    launch(lib, elementwise(plan.planes * plan.plane_out()), || unsafe {
        f(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], pad, div, ptr(x), y_out)
    });
    let tol = 2.0 * ulp(dtype);
    assert_close_abs(&format!("{what}: y"), &y, &want_y, tol, tol);
    let ol = Layout::contiguous(plan.out_shape.clone());
    let back = PoolBackwardPlan::new(plan.clone(), arg(dy, &ol), None).unwrap();
    let want_dx = cpu::avg_pool2d_backward(&back, dy).unwrap();
    let mut dx = CpuBuffer::zeros(dtype, plan.planes * plan.plane_in());
    let g: AvgFn = sym(lib, &format!("avg_pool2d_backward_{}", dtype.as_str()));
    let dx_out = ptr_mut(&mut dx);
    // SAFETY: as above.
    launch(lib, elementwise(plan.planes * plan.plane_in()), || unsafe {
        g(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], pad, div, ptr(dy), dx_out)
    });
    assert_close_abs(&format!("{what}: dx"), &dx, &want_dx, tol, tol);
}

#[test]
fn host_pooling_kernels_match_cpu() {
    let Some(lib) = module("pooling") else { return };
    let shape = [2, 3, 7, 6];
    let xl = Layout::contiguous(Shape::new(shape.to_vec()));
    // A transposed view too: the CPU half reads it, the kernel its contiguous copy.
    let tl = Layout::contiguous(Shape::new(vec![2, 3, 6, 7])).transpose(2, 3).unwrap();
    for dtype in FLOATS {
        let x = data(dtype, 2 * 3 * 7 * 6, 80, -3.0, 3.0);
        for kind in kinds() {
            let plan = PoolPlan::new(kind, arg(&x, &xl)).unwrap();
            let dy = data(dtype, plan.out_shape.elem_count(), 81, -1.0, 1.0);
            let what = format!("{kind:?} {dtype}");
            match kind {
                PoolKind::Max(_) => run_max(lib, &plan, &x, &dy, &what),
                _ => run_avg(lib, &plan, &x, &dy, &what),
            }
            let t = PoolPlan::new(kind, arg(&x, &tl)).unwrap();
            let xc = cpu::copy_strided(&x, &tl);
            let contiguous = PoolPlan::new(kind, arg(&xc, &xl)).unwrap();
            match kind {
                PoolKind::Max(_) => {
                    assert_eq!(cpu::max_pool2d(&t, &x).unwrap(), cpu::max_pool2d(&contiguous, &xc).unwrap(), "{what}");
                }
                _ => assert_eq!(cpu::avg_pool2d(&t, &x).unwrap(), cpu::avg_pool2d(&contiguous, &xc).unwrap(), "{what}"),
            }
        }
    }
}
