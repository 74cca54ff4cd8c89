//! Host emulation of `kernels/random.cu`: uniform, normal and Bernoulli fills and dropout from
//! the same Philox counters as the CPU.

use super::{arg, assert_close, data, launch, module, ptr, ptr_mut, sym, ulp, views, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{elementwise, strided, StridedArg};
use crate::plan::{Distribution, DropoutMask, DropoutPlan, RandomPlan};
use std::ffi::c_void;
use tessera_core::{DType, Philox};

#[test]
fn host_random_kernels_match_cpu() {
    let Some(lib) = module("random") else { return };
    type FillFn = unsafe extern "C" fn(u64, u64, u64, f64, f64, *mut c_void);
    let dists = [
        Distribution::Uniform { lo: -2.0, hi: 3.0 },
        Distribution::Normal { mean: 1.0, std: 2.0 },
        Distribution::Bernoulli { p: 0.3 },
    ];
    for dtype in FLOATS.into_iter().chain([DType::U8]) {
        for dist in dists.iter().filter(|d| dtype.is_float() || matches!(d, Distribution::Bernoulli { .. })) {
            let mut g = Philox::new(99);
            g.take(5);
            let plan = RandomPlan::new(*dist, &mut g, dtype, 1001).unwrap();
            let want = cpu::random(&plan);
            let mut got = CpuBuffer::zeros(dtype, 1001);
            let f: FillFn = sym(lib, &format!("{}_{}", dist.name(), dtype.as_str()));
            let (a, b) = dist.params();
            let got_out = ptr_mut(&mut got);
            // SAFETY: `got` holds 1001 values; the kernel's signature is FillFn.
            launch(lib, elementwise(1001), || unsafe { f(1001, plan.seed, plan.first, a, b, got_out) });
            let tol = if matches!(dist, Distribution::Normal { .. }) { ulp(dtype) } else { 0.0 };
            assert_close(&format!("{} {dtype}", dist.name()), &got, &want, tol);
        }
    }
}

#[test]
fn host_dropout_matches_cpu_over_views() {
    let Some(lib) = module("random") else { return };
    type DropoutFn = unsafe extern "C" fn(u64, u64, u64, f64, f64, StridedArg, *const c_void, *mut c_void);
    for dtype in FLOATS {
        let x = data(dtype, 60, 4, -3.0, 3.0);
        for (name, l) in views() {
            let mut g = Philox::new(17);
            g.take(3);
            let mask = DropoutMask::draw(0.4, &mut g, l.elem_count()).unwrap();
            let plan = DropoutPlan::new(arg(&x, &l), mask).unwrap();
            let want = cpu::dropout(&plan, &x).unwrap();
            let mut got = CpuBuffer::zeros(dtype, l.elem_count());
            let f: DropoutFn = sym(lib, &format!("dropout_{}", dtype.as_str()));
            let got_out = ptr_mut(&mut got);
            // SAFETY: buffers sized for the view; the kernel's signature is DropoutFn.
            launch(lib, elementwise(l.elem_count().div_ceil(4)), || unsafe {
                f(
                    l.elem_count() as u64,
                    mask.seed,
                    mask.first,
                    mask.p,
                    mask.scale(),
                    strided(&l).unwrap(),
                    ptr(&x),
                    got_out,
                )
            });
            assert_close(&format!("dropout {dtype} {name}"), &got, &want, ulp(dtype));
        }
    }
}
