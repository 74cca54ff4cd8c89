//! index_select, gather, scatter_add, cat, stack, split and chunk against naive references.

mod common;

use common::*;
use proptest::prelude::*;
use tessera_tensor::{DType, Device, Tensor};

fn index_tensor(idx: &[usize], dims: &[usize], dtype: DType) -> Tensor {
    let v: Vec<f64> = idx.iter().map(|&i| i as f64).collect();
    tensor_of(dtype, dims, &v)
}

fn arb_dim_of(rank_spec: impl Strategy<Value = Spec>) -> impl Strategy<Value = (Spec, usize)> {
    rank_spec.prop_filter("needs a dim", |s| !s.dims.is_empty()).prop_flat_map(|s| {
        let r = s.dims.len();
        (Just(s), 0..r)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn index_select_picks_slices((spec, dim) in arb_dim_of(arb_spec(3, 4)), picks in prop::collection::vec(any::<usize>(), 0..6), i64_idx in any::<bool>()) {
        let (t, r) = spec.build(DType::F32, -3.0, 3.0);
        let size = r.dims[dim];
        let dtype = if i64_idx { DType::I64 } else { DType::U32 };
        if size == 0 {
            if !picks.is_empty() {
                prop_assert!(t.index_select(dim as isize, &index_tensor(&picks, &[picks.len()], dtype)).is_err());
            }
            return Ok(());
        }
        let idx: Vec<usize> = picks.iter().map(|p| p % size).collect();
        let got = t.index_select(dim as isize, &index_tensor(&idx, &[idx.len()], dtype)).unwrap();
        let mut od = r.dims.clone();
        od[dim] = idx.len();
        let want = RefArray::from_fn(od, |i| { let mut j = i.to_vec(); j[dim] = idx[i[dim]]; r.at(&j) });
        assert_close(&got, &want, 0.0, 0.0)?;
    }

    #[test]
    fn gather_then_scatter_add((spec, dim) in arb_dim_of(arb_spec(3, 4)), seed in any::<u64>()) {
        let (t, r) = spec.build(DType::F64, -3.0, 3.0);
        let size = r.dims[dim];
        prop_assume!(size > 0);
        // An index no larger than the input on each dim, and free on `dim`.
        let mut idims: Vec<usize> = r.dims.iter().map(|&n| n.min(3)).collect();
        idims[dim] = 4;
        let count: usize = idims.iter().product();
        let idx: Vec<usize> = values(seed, count, 0.0, size as f64).iter().map(|&v| (v as usize).min(size - 1)).collect();
        let index = index_tensor(&idx, &idims, DType::I64);
        let got = t.gather(dim as isize, &index).unwrap();
        let istr = strides(&idims);
        let want = RefArray::from_fn(idims.clone(), |i| { let mut j = i.to_vec(); j[dim] = idx[linear(i, &istr)]; r.at(&j) });
        assert_close(&got, &want, 0.0, 0.0)?;

        // scatter_add of the gathered values back into zeros accumulates repeated positions.
        let src = got.clone();
        let zeros = Tensor::zeros(r.dims.clone(), DType::F64, &Device::Cpu).unwrap();
        let scattered = zeros.scatter_add(dim as isize, &index, &src).unwrap();
        let mut expect = vec![0.0; r.data.len()];
        let rstr = r.strides();
        for i in indices(&idims) {
            let mut j = i.clone();
            j[dim] = idx[linear(&i, &istr)];
            expect[linear(&j, &rstr)] += want.at(&i);
        }
        assert_close(&scattered, &RefArray::new(r.dims.clone(), expect), 1e-12, 1e-12)?;
    }

    #[test]
    fn scatter_add_of_a_spread_index_adds_whole_slices((spec, dim) in arb_dim_of(arb_spec(3, 4)), n in 0usize..6, seed in any::<u64>()) {
        // An embedding's backward: a 1-D index along `dim`, expanded over the source's other dims.
        let (base, r) = spec.build(DType::F64, -3.0, 3.0);
        let size = r.dims[dim];
        prop_assume!(size > 0);
        let idx: Vec<usize> = values(seed, n, 0.0, size as f64).iter().map(|&v| (v as usize).min(size - 1)).collect();
        let mut sdims = r.dims.clone();
        sdims[dim] = n;
        let src_vals = values(seed ^ 1, sdims.iter().product(), -3.0, 3.0);
        let src = tensor_of(DType::F64, &sdims, &src_vals);
        let mut along = vec![1; sdims.len()];
        along[dim] = n;
        let index = index_tensor(&idx, &[n], DType::I64).reshape(along).unwrap().expand(sdims.clone()).unwrap();
        let got = base.scatter_add(dim as isize, &index, &src).unwrap();
        let mut expect = r.data.clone();
        let (rstr, sstr) = (r.strides(), strides(&sdims));
        for i in indices(&sdims) {
            let mut j = i.clone();
            j[dim] = idx[i[dim]];
            expect[linear(&j, &rstr)] += src_vals[linear(&i, &sstr)];
        }
        assert_close(&got, &RefArray::new(r.dims.clone(), expect), 1e-12, 1e-12)?;
    }

    #[test]
    fn cat_stack_split_chunk_round_trip((spec, dim) in arb_dim_of(arb_spec(3, 4)), size in 1usize..4, other in any::<u64>()) {
        let (t, r) = spec.build(DType::F32, -3.0, 3.0);
        let pieces = t.split(size, dim as isize).unwrap();
        let n = r.dims[dim];
        prop_assert_eq!(pieces.len(), n.div_ceil(size));
        if !pieces.is_empty() {
            let back = Tensor::cat(&pieces, dim as isize).unwrap();
            assert_close(&back, &r, 0.0, 0.0)?;
        }
        let chunks = t.chunk(size, dim as isize).unwrap();
        prop_assert!(chunks.len() <= size.max(1));
        if !chunks.is_empty() {
            assert_close(&Tensor::cat(&chunks, dim as isize).unwrap(), &r, 0.0, 0.0)?;
        }
        // cat of two different tensors along dim.
        let second = Spec { dims: r.dims.clone(), kind: spec.kind, seed: other }.build(DType::F32, -3.0, 3.0);
        let both = Tensor::cat(&[t.clone(), second.0.clone()], dim as isize).unwrap();
        let mut od = r.dims.clone();
        od[dim] *= 2;
        let want = RefArray::from_fn(od, |i| if i[dim] < n { r.at(i) } else { let mut j = i.to_vec(); j[dim] -= n; second.1.at(&j) });
        assert_close(&both, &want, 0.0, 0.0)?;
        // stack adds a dim.
        let stacked = Tensor::stack(&[t.clone(), second.0], dim as isize).unwrap();
        let mut sd = r.dims.clone();
        sd.insert(dim, 2);
        let want = RefArray::from_fn(sd, |i| { let mut j = i.to_vec(); let k = j.remove(dim); if k == 0 { r.at(&j) } else { second.1.at(&j) } });
        assert_close(&stacked, &want, 0.0, 0.0)?;
    }
}

#[test]
fn embedding_lookup_is_index_select_on_rows() {
    let d = Device::Cpu;
    let table = Tensor::arange(0.0, 12.0, 1.0, DType::F32, &d).unwrap().reshape([4, 3]).unwrap();
    let ids = Tensor::from_vec(vec![3u32, 0, 3], [3], &d).unwrap();
    let rows = table.index_select(0, &ids).unwrap();
    assert_eq!(rows.to_vec::<f32>().unwrap(), vec![9., 10., 11., 0., 1., 2., 9., 10., 11.]);
}
