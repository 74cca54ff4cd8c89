//! Shared machinery for the property tests: random shapes and views (contiguous, transposed,
//! narrowed, expanded) with the logical values each holds, and naive reference arrays.
#![allow(dead_code)]

pub mod cuda;
pub mod sequence;

use proptest::prelude::*;
use tessera_tensor::{DType, Device, Tensor};

/// A row-major array of f64: the naive reference every op is checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct RefArray {
    pub dims: Vec<usize>,
    pub data: Vec<f64>,
}

impl RefArray {
    pub fn new(dims: Vec<usize>, data: Vec<f64>) -> Self {
        assert_eq!(dims.iter().product::<usize>(), data.len());
        RefArray { dims, data }
    }

    pub fn strides(&self) -> Vec<usize> {
        strides(&self.dims)
    }

    pub fn at(&self, idx: &[usize]) -> f64 {
        self.data[linear(idx, &self.strides())]
    }

    /// Builds an array of `dims` from a function of the multi-index.
    pub fn from_fn(dims: Vec<usize>, f: impl Fn(&[usize]) -> f64) -> Self {
        let data = indices(&dims).iter().map(|i| f(i)).collect();
        RefArray { dims, data }
    }

    /// NumPy broadcasting of `self` to `dims`.
    pub fn broadcast_to(&self, dims: &[usize]) -> RefArray {
        let lead = dims.len() - self.dims.len();
        RefArray::from_fn(dims.to_vec(), |i| {
            let src: Vec<usize> =
                self.dims.iter().enumerate().map(|(d, &n)| if n == 1 { 0 } else { i[d + lead] }).collect();
            self.at(&src)
        })
    }
}

pub fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for d in (0..dims.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * dims[d + 1].max(1);
    }
    s
}

pub fn linear(idx: &[usize], strides: &[usize]) -> usize {
    idx.iter().zip(strides).map(|(i, s)| i * s).sum()
}

/// Every multi-index of `dims` in row-major order.
pub fn indices(dims: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = dims.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0; dims.len()];
    for _ in 0..n {
        out.push(idx.clone());
        for d in (0..dims.len()).rev() {
            idx[d] += 1;
            if idx[d] < dims[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// Deterministic pseudo-random values in `[lo, hi)` from a seed (splitmix64).
pub fn values(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            lo + (hi - lo) * ((z >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// How a test input is laid out in memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ViewKind {
    Contiguous,
    /// Stored with dims `a` and `b` swapped, then transposed back.
    Transposed(usize, usize),
    /// Stored with `pad` extra entries on `dim` (half before), then narrowed.
    Narrowed {
        dim: usize,
        pad: usize,
    },
    /// Stored with the dims in the mask set to 1, then expanded (zero strides).
    Expanded(u8),
}

/// A random input: its logical shape, layout kind and value seed.
#[derive(Debug, Clone)]
pub struct Spec {
    pub dims: Vec<usize>,
    pub kind: ViewKind,
    pub seed: u64,
}

pub fn arb_dims(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=max_dim, 0..=max_rank)
}

pub fn arb_kind(rank: usize) -> BoxedStrategy<ViewKind> {
    if rank == 0 {
        return Just(ViewKind::Contiguous).boxed();
    }
    prop_oneof![
        Just(ViewKind::Contiguous),
        (0..rank, 0..rank).prop_map(|(a, b)| ViewKind::Transposed(a, b)),
        (0..rank, 1..4usize).prop_map(|(dim, pad)| ViewKind::Narrowed { dim, pad }),
        any::<u8>().prop_map(ViewKind::Expanded),
    ]
    .boxed()
}

pub fn arb_spec_with(dims: impl Strategy<Value = Vec<usize>>) -> impl Strategy<Value = Spec> {
    dims.prop_flat_map(|dims| {
        let rank = dims.len();
        (Just(dims), arb_kind(rank), any::<u64>()).prop_map(|(dims, kind, seed)| Spec { dims, kind, seed })
    })
}

pub fn arb_spec(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Spec> {
    arb_spec_with(arb_dims(max_rank, max_dim))
}

pub const ALL_FLOATS: [DType; 4] = [DType::F32, DType::F64, DType::F16, DType::BF16];

/// Rounds f64 values to what `dtype` can hold, so references see the tensor's actual inputs.
pub fn round_to(dtype: DType, v: f64) -> f64 {
    use tessera_tensor::{bf16, f16};
    match dtype {
        DType::F32 => v as f32 as f64,
        DType::F64 => v,
        DType::F16 => f16::from_f64(v).to_f64(),
        DType::BF16 => bf16::from_f64(v).to_f64(),
        // Float to integer truncates toward zero and saturates (NaN gives 0), as `as` does.
        DType::U8 => v as u8 as f64,
        DType::U32 => v as u32 as f64,
        DType::I64 => v as i64 as f64,
    }
}

/// A tensor of `dtype` holding `data` (row-major, converted) with `dims`.
pub fn tensor_of(dtype: DType, dims: &[usize], data: &[f64]) -> Tensor {
    Tensor::from_vec(data.to_vec(), dims.to_vec(), &Device::Cpu)
        .and_then(|t| t.to_dtype(dtype))
        .expect("valid test tensor")
}

impl Spec {
    /// The tensor (laid out as `kind` says) and the logical values it holds, in `[lo, hi)`.
    pub fn build(&self, dtype: DType, lo: f64, hi: f64) -> (Tensor, RefArray) {
        let dims = self.dims.clone();
        let n: usize = dims.iter().product();
        match self.kind {
            ViewKind::Contiguous => {
                let v: Vec<f64> = values(self.seed, n, lo, hi).into_iter().map(|x| round_to(dtype, x)).collect();
                (tensor_of(dtype, &dims, &v), RefArray::new(dims, v))
            }
            ViewKind::Transposed(a, b) => {
                let v: Vec<f64> = values(self.seed, n, lo, hi).into_iter().map(|x| round_to(dtype, x)).collect();
                let logical = RefArray::new(dims.clone(), v);
                let mut sdims = dims.clone();
                sdims.swap(a, b);
                let stored = RefArray::from_fn(sdims.clone(), |i| {
                    let mut j = i.to_vec();
                    j.swap(a, b);
                    logical.at(&j)
                });
                let t = tensor_of(dtype, &sdims, &stored.data).transpose(a as isize, b as isize).unwrap();
                (t, logical)
            }
            ViewKind::Narrowed { dim, pad } => {
                let v: Vec<f64> = values(self.seed, n, lo, hi).into_iter().map(|x| round_to(dtype, x)).collect();
                let logical = RefArray::new(dims.clone(), v);
                let before = pad / 2;
                let mut sdims = dims.clone();
                sdims[dim] += pad;
                let stored = RefArray::from_fn(sdims.clone(), |i| {
                    if i[dim] < before || i[dim] >= before + dims[dim] {
                        return 99.0;
                    }
                    let mut j = i.to_vec();
                    j[dim] -= before;
                    logical.at(&j)
                });
                let t = tensor_of(dtype, &sdims, &stored.data).narrow(dim as isize, before, dims[dim]).unwrap();
                (t, logical)
            }
            ViewKind::Expanded(mask) => {
                let bdims: Vec<usize> =
                    dims.iter().enumerate().map(|(d, &n)| if mask & (1 << (d % 8)) != 0 { 1 } else { n }).collect();
                let bn: usize = bdims.iter().product();
                let v: Vec<f64> = values(self.seed, bn, lo, hi).into_iter().map(|x| round_to(dtype, x)).collect();
                let base = RefArray::new(bdims.clone(), v);
                let t = tensor_of(dtype, &bdims, &base.data).expand(dims.clone()).unwrap();
                (t, base.broadcast_to(&dims))
            }
        }
    }
}

/// Absolute and relative tolerance for results in `dtype`.
pub fn tolerance(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F32 => (1e-5, 1e-5),
        DType::F64 => (1e-12, 1e-12),
        DType::F16 => (2e-3, 2e-3),
        DType::BF16 => (1.6e-2, 1.6e-2),
        _ => (0.0, 0.0),
    }
}

/// Checks `got` against `want` elementwise: `|got - want| <= atol + rtol * |want|`, NaN matching
/// NaN and infinities matching exactly.
pub fn assert_close(got: &Tensor, want: &RefArray, atol: f64, rtol: f64) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.dims(), &want.dims[..], "shape");
    let g = got.to_vec_f64().unwrap();
    for (i, (&a, &b)) in g.iter().zip(&want.data).enumerate() {
        let ok = if b.is_nan() {
            a.is_nan()
        } else if b.is_infinite() {
            a == b
        } else {
            (a - b).abs() <= atol + rtol * b.abs()
        };
        prop_assert!(
            ok,
            "element {} of shape {:?}: got {}, want {} (atol {}, rtol {})",
            i,
            want.dims,
            a,
            b,
            atol,
            rtol
        );
    }
    Ok(())
}

/// NumPy's broadcast of two shapes, or `None` when they are incompatible.
pub fn try_broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    (0..rank)
        .map(|i| {
            let x = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
            let y = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
            match (x, y) {
                _ if x == y => Some(x),
                (1, _) => Some(y),
                (_, 1) => Some(x),
                _ => None,
            }
        })
        .collect()
}
