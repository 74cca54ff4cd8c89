//! Views and copies: transpose, permute, narrow, reshape, squeeze/unsqueeze, expand, contiguous,
//! casts, creation and random generators.

mod common;

use common::*;
use proptest::prelude::*;
use tessera_tensor::{DType, Device, Generator, Tensor};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn contiguous_copy_of_any_view_keeps_values(spec in arb_spec(4, 4)) {
        for dtype in tessera_tensor::DType::ALL {
            let (t, r) = spec.build(dtype, 0.0, 100.0);
            let c = t.contiguous().unwrap();
            prop_assert!(c.is_contiguous());
            assert_close(&c, &r, 0.0, 0.0)?;
        }
    }

    #[test]
    fn permute_and_transpose_are_views(spec in arb_spec(4, 4), seed in any::<u64>()) {
        let (t, r) = spec.build(DType::F32, -1.0, 1.0);
        let rank = r.dims.len();
        let mut perm: Vec<usize> = (0..rank).collect();
        let keys = values(seed, rank, 0.0, 1.0);
        perm.sort_by(|&a, &b| keys[a].partial_cmp(&keys[b]).unwrap());
        let iperm: Vec<isize> = perm.iter().map(|&p| p as isize).collect();
        let p = t.permute(&iperm).unwrap();
        prop_assert!(p.same_storage(&t));
        let want = RefArray::from_fn(perm.iter().map(|&d| r.dims[d]).collect(), |i| {
            let mut j = vec![0; rank];
            for (k, &d) in perm.iter().enumerate() { j[d] = i[k]; }
            r.at(&j)
        });
        assert_close(&p, &want, 0.0, 0.0)?;
    }

    #[test]
    fn reshape_keeps_row_major_order(spec in arb_spec(4, 4), split in any::<usize>()) {
        let (t, r) = spec.build(DType::F32, -1.0, 1.0);
        let n = r.data.len();
        // Reshape to [a, n / a] for some divisor a of n, or to [n].
        let divisors: Vec<usize> = (1..=n.max(1)).filter(|a| n % a == 0).collect();
        let a = divisors[split % divisors.len()];
        let shape = if n == 0 { vec![0] } else { vec![a, n / a] };
        let got = t.reshape(shape.clone()).unwrap();
        assert_close(&got, &RefArray::new(shape, r.data.clone()), 0.0, 0.0)?;
        // A contiguous source always gives a view.
        let c = t.contiguous().unwrap();
        prop_assert!(c.reshape([n]).unwrap().same_storage(&c));
    }

    #[test]
    fn squeeze_unsqueeze_expand(spec in arb_spec(3, 3), at in any::<usize>()) {
        let (t, r) = spec.build(DType::F32, -1.0, 1.0);
        let d = at % (r.dims.len() + 1);
        let u = t.unsqueeze(d as isize).unwrap();
        let mut ud = r.dims.clone();
        ud.insert(d, 1);
        assert_close(&u, &RefArray::new(ud.clone(), r.data.clone()), 0.0, 0.0)?;
        assert_close(&u.squeeze(d as isize).unwrap(), &r, 0.0, 0.0)?;
        let mut ed = ud.clone();
        ed[d] = 3;
        let e = u.expand(ed.clone()).unwrap();
        prop_assert!(e.same_storage(&t));
        assert_close(&e, &RefArray::new(ud, r.data.clone()).broadcast_to(&ed), 0.0, 0.0)?;
    }

    #[test]
    fn casts_round_trip_and_convert_like_rust(spec in arb_spec(3, 4)) {
        let (t, r) = spec.build(DType::F64, -300.0, 300.0);
        for dtype in DType::ALL {
            let c = t.to_dtype(dtype).unwrap();
            prop_assert_eq!(c.dtype(), dtype);
            let want = RefArray::new(r.dims.clone(), r.data.iter().map(|&x| match dtype {
                DType::U8 => x as u8 as f64,
                DType::U32 => x as u32 as f64,
                DType::I64 => x as i64 as f64,
                _ => round_to(dtype, x),
            }).collect());
            assert_close(&c, &want, 0.0, 0.0)?;
            // Every dtype holds small integers exactly: the round trip is the identity.
            let small = c.to_dtype(DType::U8).unwrap().to_dtype(dtype).unwrap().to_dtype(DType::U8).unwrap();
            assert_close(&small, &RefArray::new(r.dims.clone(), want.data.iter().map(|&x| (x as u8) as f64).collect()), 0.0, 0.0)?;
        }
        let f32s = t.to_dtype(DType::F32).unwrap();
        assert_close(&f32s.to_dtype(DType::F64).unwrap().to_dtype(DType::F32).unwrap(), &RefArray::new(r.dims.clone(), r.data.iter().map(|&x| x as f32 as f64).collect()), 0.0, 0.0)?;
    }
}

#[test]
fn creation_ops_give_known_values() {
    let d = Device::Cpu;
    assert_eq!(
        Tensor::arange(1.0, 2.0, 0.25, DType::F32, &d).unwrap().to_vec::<f32>().unwrap(),
        vec![1.0, 1.25, 1.5, 1.75]
    );
    assert_eq!(Tensor::arange(5.0, 0.0, -2.0, DType::I64, &d).unwrap().to_vec::<i64>().unwrap(), vec![5, 3, 1]);
    assert_eq!(Tensor::arange(0.0, 0.0, 1.0, DType::F32, &d).unwrap().dims(), &[0]);
    assert_eq!(Tensor::eye(2, 3, DType::U8, &d).unwrap().to_vec::<u8>().unwrap(), vec![1, 0, 0, 0, 1, 0]);
    assert_eq!(Tensor::full(2.5, [2], DType::BF16, &d).unwrap().to_vec_f64().unwrap(), vec![2.5, 2.5]);
    assert_eq!(Tensor::ones([2, 0], DType::F32, &d).unwrap().elem_count(), 0);
    assert_eq!(Tensor::zeros((), DType::I64, &d).unwrap().to_scalar_f64().unwrap(), 0.0);
}

#[test]
fn random_tensors_are_reproducible_and_well_distributed() {
    let d = Device::Cpu;
    let n = 200_000;
    let draw = |seed| {
        let mut g = Generator::new(seed);
        let u = Tensor::rand_uniform(&mut g, -1.0, 3.0, [n], DType::F32, &d).unwrap();
        let z = Tensor::randn(&mut g, [n], DType::F64, &d).unwrap();
        let b = Tensor::bernoulli(&mut g, 0.3, [n], DType::U8, &d).unwrap();
        (u.to_vec_f64().unwrap(), z.to_vec_f64().unwrap(), b.to_vec_f64().unwrap())
    };
    let (u, z, b) = draw(11);
    assert_eq!((u.clone(), z.clone(), b.clone()), draw(11), "same seed, same numbers");
    assert_ne!(u, draw(12).0);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let var = |v: &[f64]| {
        let m = mean(v);
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64
    };
    assert!(u.iter().all(|&x| (-1.0..3.0).contains(&x)));
    assert!((mean(&u) - 1.0).abs() < 0.02 && (var(&u) - 16.0 / 12.0).abs() < 0.02);
    assert!(mean(&z).abs() < 0.01 && (var(&z) - 1.0).abs() < 0.02);
    assert!((mean(&b) - 0.3).abs() < 0.01);
    // Draws continue the stream rather than repeating it.
    let mut g = Generator::new(5);
    let a = Tensor::randn(&mut g, [4], DType::F32, &d).unwrap().to_vec::<f32>().unwrap();
    let c = Tensor::randn(&mut g, [4], DType::F32, &d).unwrap().to_vec::<f32>().unwrap();
    assert_ne!(a, c);
}

#[test]
fn views_share_storage_and_clone_is_cheap() {
    let d = Device::Cpu;
    let t = Tensor::zeros([4, 5], DType::F32, &d).unwrap();
    for v in [t.t().unwrap(), t.narrow(1, 1, 2).unwrap(), t.reshape([20]).unwrap(), t.unsqueeze(0).unwrap(), t.clone()]
    {
        assert!(v.same_storage(&t));
    }
    assert!(!t.copy().unwrap().same_storage(&t));
}

#[test]
fn fused_adam_step_and_assign_update_in_place() {
    use tessera_tensor::OptimStep;
    let d = Device::Cpu;
    let p = Tensor::from_vec(vec![1.0f64, -2.0], [2], &d).unwrap();
    let view = p.reshape([1, 2]).unwrap();
    let g = Tensor::from_vec(vec![0.5f64, 0.25], [2], &d).unwrap();
    let (m, v) = (p.zeros_like().unwrap(), p.zeros_like().unwrap());
    let step =
        OptimStep::Adam { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false, step: 1 };
    p.optim_step_(&step, &g, &[&m, &v], 1.0).unwrap();
    // The first Adam step moves each weight by lr * sign(grad) (bias-corrected m / sqrt(v) = ±1).
    let got = view.to_vec::<f64>().unwrap();
    assert!((got[0] - 0.9).abs() < 1e-7 && (got[1] + 2.1).abs() < 1e-7, "{got:?}");
    assert!((m.to_vec::<f64>().unwrap()[0] - 0.05).abs() < 1e-12);
    // The state must be distinct from the parameter, and dense.
    assert!(p.optim_step_(&step, &g, &[&p, &v], 1.0).is_err());
    assert!(p.optim_step_(&step, &g, &[&m.narrow(0, 0, 1).unwrap(), &v], 1.0).is_err());
    p.assign_(&g).unwrap();
    assert_eq!(view.to_vec::<f64>().unwrap(), vec![0.5, 0.25]);
    assert!(p.assign_(&Tensor::zeros([3], DType::F64, &d).unwrap()).is_err());
}
