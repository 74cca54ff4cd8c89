//! Gradient checks of matmul, indexing and shaping ops.

use super::draw::{Domain, Draw};
use super::problem::Problem;
use super::OpCheck;
use crate::{Result, Var};
use tessera_tensor::{DType, Device, Tensor};

/// An index tensor of `shape` holding `values`, as u32 or i64 at random.
fn index_tensor(d: &mut Draw, values: Vec<usize>, shape: Vec<usize>) -> Result<Tensor> {
    let device = d.device();
    Ok(if d.coin() {
        Tensor::from_vec(values.into_iter().map(|i| i as i64).collect(), shape, &device)?
    } else {
        Tensor::from_vec(values.into_iter().map(|i| i as u32).collect(), shape, &device)?
    })
}

/// A shape of rank 1..=3 and one of its dims (as a possibly negative `isize`, and as a `usize`).
fn shape_and_dim(d: &mut Draw) -> (Vec<usize>, isize, usize) {
    let shape = d.shape(1, 3);
    let dim = d.int(0, shape.len() - 1);
    let signed = if d.coin() { dim as isize - shape.len() as isize } else { dim as isize };
    (shape, signed, dim)
}

/// Joins the pieces of a split into one Var, each piece flattened.
fn join(pieces: Vec<Var>) -> Result<Var> {
    let flat = pieces.iter().map(Var::flatten_all).collect::<Result<Vec<_>>>()?;
    Var::cat(&flat, 0)
}

fn one_input(shape: &[usize], d: &mut Draw, f: impl Fn(&Var) -> Result<Var> + 'static) -> Problem {
    Problem::new(vec![d.input(shape, &Domain::ANY)], move |v| f(&v[0]))
}

/// The checks of this file.
pub(super) fn checks() -> Vec<OpCheck> {
    vec![
        OpCheck::new("matmul", |d| {
            let (m, k, n) = (d.int(1, 4), d.int(1, 4), d.int(1, 4));
            let full = d.shape(0, 2);
            let partner = d.broadcast_partner(&full);
            let (ba, bb) = if d.coin() { (full, partner) } else { (partner, full) };
            let a = d.input(&[ba.as_slice(), &[m, k]].concat(), &Domain::ANY);
            let b = d.input(&[bb.as_slice(), &[k, n]].concat(), &Domain::ANY);
            Ok(Problem::new(vec![a, b], |v| v[0].matmul(&v[1])))
        }),
        OpCheck::new("matmul_bias", |d| {
            let (m, k, n) = (d.int(1, 4), d.int(1, 4), d.int(1, 4));
            let batch = d.shape(0, 1);
            let a = d.input(&[batch.as_slice(), &[m, k]].concat(), &Domain::ANY);
            let b = d.input(&[k, n], &Domain::ANY);
            let c = d.input(&[n], &Domain::ANY);
            Ok(Problem::new(vec![a, b, c], |v| v[0].matmul_bias(&v[1], &v[2])))
        }),
        OpCheck::new("index_select", |d| {
            let (shape, dim, u) = shape_and_dim(d);
            let n = d.int(1, 5);
            let values = d.indices(n, shape[u]);
            let idx = index_tensor(d, values, vec![n])?;
            Ok(one_input(&shape, d, move |x| x.index_select(dim, &idx)))
        }),
        OpCheck::new("gather", |d| {
            let (shape, dim, u) = shape_and_dim(d);
            let ishape: Vec<usize> =
                shape.iter().enumerate().map(|(i, &s)| if i == u { d.int(1, 4) } else { d.int(1, s) }).collect();
            let values = d.indices(ishape.iter().product(), shape[u]);
            let idx = index_tensor(d, values, ishape)?;
            Ok(one_input(&shape, d, move |x| x.gather(dim, &idx)))
        }),
        OpCheck::new("scatter_add", |d| {
            let (shape, dim, u) = shape_and_dim(d);
            let ishape: Vec<usize> =
                shape.iter().enumerate().map(|(i, &s)| if i == u { d.int(1, 4) } else { d.int(1, s) }).collect();
            let values = d.indices(ishape.iter().product(), shape[u]);
            let idx = index_tensor(d, values, ishape.clone())?;
            let (x, src) = (d.input(&shape, &Domain::ANY), d.input(&ishape, &Domain::ANY));
            Ok(Problem::new(vec![x, src], move |v| v[0].scatter_add(dim, &idx, &v[1])))
        }),
        OpCheck::new("narrow", |d| {
            let (shape, dim, u) = shape_and_dim(d);
            let start = d.int(0, shape[u] - 1);
            let len = d.int(1, shape[u] - start);
            Ok(one_input(&shape, d, move |x| x.narrow(dim, start, len)))
        }),
        OpCheck::new("split", |d| {
            let (shape, dim, u) = shape_and_dim(d);
            let size = d.int(1, shape[u]);
            Ok(one_input(&shape, d, move |x| join(x.split(size, dim)?)))
        }),
        OpCheck::new("chunk", |d| {
            let (shape, dim, _) = shape_and_dim(d);
            let chunks = d.int(1, 4);
            Ok(one_input(&shape, d, move |x| join(x.chunk(chunks, dim)?)))
        }),
        OpCheck::new("cat", |d| {
            let (shape, dim, u) = shape_and_dim(d);
            let inputs = (0..d.int(1, 3))
                .map(|_| {
                    let mut s = shape.clone();
                    s[u] = d.int(1, 3);
                    d.input(&s, &Domain::ANY)
                })
                .collect();
            Ok(Problem::new(inputs, move |v| Var::cat(v, dim)))
        }),
        OpCheck::new("stack", |d| {
            let shape = d.shape(0, 3);
            let dim = d.int(0, shape.len()) as isize;
            let inputs = (0..d.int(1, 3)).map(|_| d.input(&shape, &Domain::ANY)).collect();
            Ok(Problem::new(inputs, move |v| Var::stack(v, dim)))
        }),
        OpCheck::new("reshape", |d| {
            let shape = d.shape(0, 3);
            let mut target: Vec<usize> = shape.iter().rev().copied().collect();
            if !target.is_empty() && d.coin() {
                let i = d.int(0, target.len() - 1);
                target[i] = usize::MAX;
            }
            Ok(one_input(&shape, d, move |x| x.reshape(target.clone())))
        }),
        OpCheck::new("flatten_all", |d| {
            let shape = d.shape(0, 3);
            Ok(one_input(&shape, d, Var::flatten_all))
        }),
        OpCheck::new("permute", |d| {
            let shape = d.shape(0, 3);
            let mut perm: Vec<isize> = (0..shape.len() as isize).collect();
            for i in (1..perm.len()).rev() {
                let j = d.int(0, i);
                perm.swap(i, j);
            }
            Ok(one_input(&shape, d, move |x| x.permute(&perm)))
        }),
        OpCheck::new("transpose", |d| {
            let (shape, d0, _) = shape_and_dim(d);
            let d1 = d.int(0, shape.len() - 1) as isize;
            Ok(one_input(&shape, d, move |x| x.transpose(d0, d1)))
        }),
        OpCheck::new("t", |d| {
            let shape = d.shape(2, 3);
            Ok(one_input(&shape, d, Var::t))
        }),
        OpCheck::new("squeeze", |d| {
            let mut shape = d.shape(0, 2);
            let dim = d.int(0, shape.len());
            shape.insert(dim, 1);
            let dim = if d.coin() { dim } else { d.int(0, shape.len() - 1) };
            Ok(one_input(&shape, d, move |x| x.squeeze(dim as isize)))
        }),
        OpCheck::new("unsqueeze", |d| {
            let shape = d.shape(0, 3);
            let dim = d.int(0, shape.len()) as isize;
            Ok(one_input(&shape, d, move |x| x.unsqueeze(dim)))
        }),
        OpCheck::new("expand", |d| {
            let target = d.shape(0, 3);
            let shape = d.broadcast_partner(&target);
            Ok(one_input(&shape, d, move |x| x.expand(target.clone())))
        }),
        OpCheck::new("contiguous", |d| {
            let shape = d.shape(0, 3);
            Ok(one_input(&shape, d, Var::contiguous))
        }),
        OpCheck::new("copy", |d| {
            let shape = d.shape(0, 3);
            Ok(one_input(&shape, d, Var::copy))
        }),
        OpCheck::new("to_dtype", |d| {
            // A round trip through f32 (and f16/bf16 at times): the steps must be large enough
            // for the rounding not to dominate the differences.
            let (shape, via) = (d.shape(0, 3), d.pick(&[DType::F32, DType::F32, DType::BF16, DType::F16]));
            let (step, tol) = if via == DType::F32 { (1e-2, 1e-4) } else { (0.25, 0.05) };
            let x = d.input(&shape, &Domain::Range(-1.0, 1.0));
            Ok(Problem::new(vec![x], move |v| v[0].to_dtype(via)?.to_dtype(DType::F64)).with_tolerance(step, tol, tol))
        }),
        OpCheck::new("to_device", |d| {
            let shape = d.shape(0, 3);
            // A round trip through the CPU (a real one when the check runs on a GPU): the
            // gradient must come back through both moves.
            let device = d.device();
            Ok(one_input(&shape, d, move |x| x.to_device(&Device::Cpu)?.to_device(&device)))
        }),
    ]
}
