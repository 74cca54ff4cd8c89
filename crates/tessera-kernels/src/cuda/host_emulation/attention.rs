//! Host emulation of `kernels/attention.cu`: the forward and the three backward kernels against
//! the CPU half, with causality, key padding and dropout, in every float dtype.

use super::{arg, assert_close_abs, data, launch, module, ptr, ptr_mut, sym, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::attention::rows_launch;
use crate::cuda::launch::elementwise;
use crate::plan::{AttentionBackwardPlan, AttentionPlan, AttentionSpec, DropoutMask};
use std::ffi::c_void;
use tessera_core::{DType, Layout, Philox, Shape};

type Head = (u64, u64, u64, u64, u64, u64, i32, f64, i32, f64, u64, u64);
type ForwardFn = unsafe extern "C" fn(
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    i32,
    f64,
    i32,
    f64,
    u64,
    u64,
    *const c_void,
    *const c_void,
    *const c_void,
    *const c_void,
    *mut c_void,
    *mut c_void,
);
type DeltaFn = unsafe extern "C" fn(u64, u64, *const c_void, *const c_void, *mut c_void);
type GradFn = unsafe extern "C" fn(
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    i32,
    f64,
    i32,
    f64,
    u64,
    u64,
    *const c_void,
    *const c_void,
    *const c_void,
    *const c_void,
    *const c_void,
    *const c_void,
    *const c_void,
    *mut c_void,
    *mut c_void,
);

fn head(p: &AttentionPlan, has_mask: bool) -> Head {
    let (seed, first, drop) = p.spec.dropout.map_or((0, 0, 0.0), |d| (d.seed, d.first, d.p));
    let u = |x: usize| x as u64;
    (
        u(p.problems),
        u(p.heads),
        u(p.q_len),
        u(p.kv_len),
        u(p.head_dim),
        u(p.v_dim),
        p.spec.causal as i32,
        p.scale,
        has_mask as i32,
        drop,
        seed,
        first,
    )
}

#[test]
fn host_attention_kernels_match_cpu() {
    let Some(lib) = module("attention") else { return };
    // One tile of keys with a head narrower than a warp, in every dtype; then several tiles of
    // 32 keys (f64's tiles are 8), heads wider than a warp and a block's last rows unused.
    let small: &[DType] = &FLOATS;
    for ((b, h, sq, sk, d, dv), dtypes) in
        [((2, 2, 5, 7, 6, 3), small), ((1, 2, 37, 70, 40, 33), &[DType::F32, DType::BF16])]
    {
        check(lib, [b, h, sq, sk, d, dv], dtypes);
    }
}

/// The four kernels at batch `b`, `h` heads, `sq` queries, `sk` keys, head dims `d` and `dv`.
fn check(lib: &libloading::Library, [b, h, sq, sk, d, dv]: [usize; 6], dtypes: &[DType]) {
    let l = |dims: &[usize]| Layout::contiguous(Shape::from(dims));
    let (ql, kl, vl, ml, ll) = (l(&[b, h, sq, d]), l(&[b, h, sk, d]), l(&[b, h, sk, dv]), l(&[b, sk]), l(&[b, h, sq]));
    let mask = CpuBuffer::U8((0..b * sk).map(|i| (i % 4 == 1) as u8).collect());
    for &dtype in dtypes {
        let (q, k, v) = (
            data(dtype, b * h * sq * d, 50, -2.0, 2.0),
            data(dtype, b * h * sk * d, 51, -2.0, 2.0),
            data(dtype, b * h * sk * dv, 52, -1.0, 1.0),
        );
        for (causal, masked, drop) in
            [(false, false, false), (true, true, false), (true, false, true), (false, true, true)]
        {
            let dropout = drop.then(|| DropoutMask::draw(0.25, &mut Philox::new(9), b * h * sq * sk).unwrap());
            let spec = AttentionSpec { causal, scale: None, dropout };
            let m = masked.then_some(&mask);
            let plan =
                AttentionPlan::new(arg(&q, &ql), arg(&k, &kl), arg(&v, &vl), m.map(|m| arg(m, &ml)), spec).unwrap();
            let [want_out, want_lse] = cpu::attention(&plan, [&q, &k, &v], m).unwrap();
            let lse_dtype = plan.lse_dtype;
            let (mut out, mut lse) =
                (CpuBuffer::zeros(dtype, b * h * sq * dv), CpuBuffer::zeros(lse_dtype, b * h * sq));
            let a = head(&plan, masked);
            let mp = m.map_or(std::ptr::null(), ptr);
            let f: ForwardFn = sym(lib, &format!("attention_{}", dtype.as_str()));
            let (out_p, lse_p) = (ptr_mut(&mut out), ptr_mut(&mut lse));
            // SAFETY: buffers sized as the plan says; the kernel's signature is ForwardFn.
            launch(lib, rows_launch(&plan, sq), || unsafe {
                f(
                    a.0,
                    a.1,
                    a.2,
                    a.3,
                    a.4,
                    a.5,
                    a.6,
                    a.7,
                    a.8,
                    a.9,
                    a.10,
                    a.11,
                    ptr(&q),
                    ptr(&k),
                    ptr(&v),
                    mp,
                    out_p,
                    lse_p,
                )
            });
            let what = format!("attention {dtype} causal {causal} mask {masked} dropout {drop}");
            let tol = if dtype.is_float() && dtype.size_in_bytes() == 2 { 1e-2 } else { 1e-5 };
            assert_close_abs(&format!("{what}: out"), &out, &want_out, tol, tol);
            assert_close_abs(&format!("{what}: lse"), &lse, &want_lse, 1e-5, 1e-5);

            let d_out = data(dtype, b * h * sq * dv, 53, -1.0, 1.0);
            let back = AttentionBackwardPlan::new(
                plan.clone(),
                arg(&want_out, &l(&[b, h, sq, dv])),
                arg(&want_lse, &ll),
                arg(&d_out, &l(&[b, h, sq, dv])),
            )
            .unwrap();
            let want = cpu::attention_backward(&back, [&q, &k, &v], m, [&want_out, &want_lse, &d_out]).unwrap();
            let mut delta = CpuBuffer::zeros(lse_dtype, b * h * sq);
            let fd: DeltaFn = sym(lib, &format!("attention_delta_{}", dtype.as_str()));
            let delta_p = ptr_mut(&mut delta);
            // SAFETY: as above.
            launch(lib, elementwise(b * h * sq), || unsafe {
                fd((b * h * sq) as u64, dv as u64, ptr(&want_out), ptr(&d_out), delta_p)
            });
            let (mut dq, mut dk, mut dvb) = (
                CpuBuffer::zeros(dtype, b * h * sq * d),
                CpuBuffer::zeros(dtype, b * h * sk * d),
                CpuBuffer::zeros(dtype, b * h * sk * dv),
            );
            let g: GradFn = sym(lib, &format!("attention_dkdv_{}", dtype.as_str()));
            let saved = [ptr(&d_out), ptr(&want_lse), ptr(&delta)];
            let (dk_p, dv_p, dq_p) = (ptr_mut(&mut dk), ptr_mut(&mut dvb), ptr_mut(&mut dq));
            // SAFETY: as above.
            launch(lib, rows_launch(&plan, sk), || unsafe {
                g(
                    a.0,
                    a.1,
                    a.2,
                    a.3,
                    a.4,
                    a.5,
                    a.6,
                    a.7,
                    a.8,
                    a.9,
                    a.10,
                    a.11,
                    ptr(&q),
                    ptr(&k),
                    ptr(&v),
                    mp,
                    saved[0],
                    saved[1],
                    saved[2],
                    dk_p,
                    dv_p,
                )
            });
            type DqFn = unsafe extern "C" fn(
                u64,
                u64,
                u64,
                u64,
                u64,
                u64,
                i32,
                f64,
                i32,
                f64,
                u64,
                u64,
                *const c_void,
                *const c_void,
                *const c_void,
                *const c_void,
                *const c_void,
                *const c_void,
                *const c_void,
                *mut c_void,
            );
            let fq: DqFn = sym(lib, &format!("attention_dq_{}", dtype.as_str()));
            // SAFETY: as above.
            launch(lib, rows_launch(&plan, sq), || unsafe {
                fq(
                    a.0,
                    a.1,
                    a.2,
                    a.3,
                    a.4,
                    a.5,
                    a.6,
                    a.7,
                    a.8,
                    a.9,
                    a.10,
                    a.11,
                    ptr(&q),
                    ptr(&k),
                    ptr(&v),
                    mp,
                    saved[0],
                    saved[1],
                    saved[2],
                    dq_p,
                )
            });
            for (name, got, w) in [("dq", &dq, &want[0]), ("dk", &dk, &want[1]), ("dv", &dvb, &want[2])] {
                assert_close_abs(&format!("{what}: {name}"), got, w, tol, tol);
            }
        }
    }
}
