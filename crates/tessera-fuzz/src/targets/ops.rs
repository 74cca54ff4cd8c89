//! Tensor ops with arguments read from the input: a short program over a few small tensors, in
//! which every size, dim, padding, stride, offset and value comes from the edges where
//! arithmetic wraps or divides by zero (0, 1, 2^32, `usize::MAX`, `isize::MIN`, NaN,
//! infinities). Sizes are either at most [`SMALL`] or at least 2^32, so an output is mostly
//! either tiny or far past the worker's address-space cap, which must then be refused with an
//! error; quotients of huge sizes (a padding over a stride) can land between, and those ops are
//! skipped (see [`MAX_COMPUTED_ELEMENTS`]).

use crate::corpus::{outcome, OUTCOME_PARTS};
use tessera_tensor::{
    AvgPool2dSpec, BinaryOp, CmpOp, Conv2dSpec, ConvTranspose2dSpec, DType, Device, Im2ColSpec, MaxPool2dSpec,
    ReduceOp, Result, Shape, Tensor,
};

/// The largest small size.
pub(super) const SMALL: usize = 5;

/// Sizes, strides, paddings, offsets: small ones and ones that overflow when added, doubled or
/// multiplied.
const SIZES: [usize; 16] = [
    0,
    1,
    2,
    3,
    4,
    SMALL,
    1 << 32,
    (1 << 32) + 1,
    1 << 33,
    1 << 40,
    1 << 62,
    isize::MAX as usize,
    isize::MAX as usize + 1,
    usize::MAX / 3,
    usize::MAX - 1,
    usize::MAX,
];

/// Dims: in range for ranks up to 4 from both ends, and past it.
const DIMS: [isize; 12] = [0, 1, 2, 3, -1, -2, -3, -4, 4, 7, isize::MIN, isize::MAX];

/// Values for scalars, ranges and epsilons.
const FLOATS: [f64; 12] =
    [0.0, 1.0, -1.0, 0.5, 2.0, -0.0, 1e-30, 1e30, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX];

/// Outputs past this many elements are not computed: quotients of huge sizes (a padding of
/// 2^62 over a stride of 2^40) give valid outputs of millions of elements, which are slow, not
/// wrong.
pub(super) const MAX_COMPUTED_ELEMENTS: usize = 1 << 20;

/// Ops per input at most.
const MAX_OPS: usize = 8;
/// Results larger than this are not kept as operands (they are computed and checked, though).
const MAX_KEPT_ELEMENTS: usize = 4096;

/// The input, read a byte at a time (zeros once it runs out).
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    pub(super) fn byte(&mut self) -> usize {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b as usize
    }

    pub(super) fn size(&mut self) -> usize {
        SIZES[self.byte() % SIZES.len()]
    }

    pub(super) fn pair(&mut self) -> [usize; 2] {
        [self.size(), self.size()]
    }

    pub(super) fn dim(&mut self) -> isize {
        DIMS[self.byte() % DIMS.len()]
    }

    pub(super) fn float(&mut self) -> f64 {
        FLOATS[self.byte() % FLOATS.len()]
    }

    pub(super) fn flag(&mut self) -> bool {
        self.byte() % 2 == 1
    }

    /// Up to four sizes.
    pub(super) fn sizes(&mut self) -> Vec<usize> {
        let rank = self.byte() % 5;
        (0..rank).map(|_| self.size()).collect()
    }

    pub(super) fn dtype(&mut self) -> DType {
        [DType::F32, DType::F64, DType::F16, DType::BF16, DType::U8, DType::U32, DType::I64][self.byte() % 7]
    }

    /// One of the operands.
    pub(super) fn pick<'t, T>(&mut self, pool: &'t [T]) -> &'t T {
        &pool[self.byte() % pool.len()]
    }

    /// One of the operands, or none.
    pub(super) fn maybe<'t, T>(&mut self, pool: &'t [T]) -> Option<&'t T> {
        if self.flag() {
            Some(self.pick(pool))
        } else {
            None
        }
    }

    pub(super) fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }
}

/// The operands every program starts from: floats of ranks 0 to 4 (one of them empty) and
/// integer indices.
pub(super) fn start() -> Result<Vec<Tensor>> {
    let cpu = Device::Cpu;
    let floats = |dims: &[usize]| {
        let n = dims.iter().product::<usize>();
        Tensor::from_vec((0..n).map(|i| (i as f32 - 3.0) * 0.5).collect::<Vec<f32>>(), dims.to_vec(), &cpu)
    };
    Ok(vec![
        floats(&[])?,
        floats(&[3])?,
        floats(&[2, 3])?,
        floats(&[2, 0])?,
        floats(&[1, 2, 4, 4])?,
        floats(&[2, 1, 3, 3])?,
        Tensor::from_vec(vec![0i64, 2, 1, -1, 5], [5], &cpu)?,
        Tensor::from_vec(vec![1u32, 0, 1, 2], [2, 2], &cpu)?,
    ])
}

/// The number of ops the `tensor_ops` target chooses from.
pub const OPS: usize = 36;

/// The length of `dim` of `x` (`None` when out of range).
fn dim_len(x: &Tensor, dim: isize) -> Option<usize> {
    let d = if dim < 0 { dim.checked_add(x.rank() as isize)? } else { dim };
    x.dims().get(usize::try_from(d).ok()?).copied()
}

/// Whether a reduction of `x` may have an output past [`MAX_COMPUTED_ELEMENTS`]: `x` is empty
/// and its other dims multiply past that (`[0, 858993460]` reduced over its first dim is 0.9G
/// values, slow to fill, not wrong).
pub(super) fn reduces_large(x: &Tensor) -> bool {
    let nonzero = x.dims().iter().filter(|&&d| d > 0).try_fold(1usize, |n, &d| n.checked_mul(d));
    x.elem_count() == 0 && nonzero.is_none_or(|n| n > MAX_COMPUTED_ELEMENTS)
}

/// The first of `parts`, or `whole` when there are none.
fn first(parts: Vec<Tensor>, whole: Tensor) -> Tensor {
    parts.into_iter().next().unwrap_or(whole)
}

/// Runs op number `op` on operands from `pool`, with arguments from the reader; `None` when
/// its output would be past [`MAX_COMPUTED_ELEMENTS`].
pub(super) fn step(op: usize, r: &mut Reader<'_>, pool: &[Tensor]) -> Result<Option<Tensor>> {
    let cpu = Device::Cpu;
    let x = r.pick(pool).clone();
    let large = |shape: &Shape| shape.elem_count() > MAX_COMPUTED_ELEMENTS;
    Ok(Some(match op {
        0 => Tensor::full(r.float(), r.sizes(), r.dtype(), &cpu)?,
        1 => Tensor::arange(r.float(), r.float(), r.float(), r.dtype(), &cpu)?,
        2 => Tensor::eye(r.size(), r.size(), r.dtype(), &cpu)?,
        3 => x.reshape(r.sizes())?,
        4 => x.expand(r.sizes())?.contiguous()?,
        5 => x.narrow(r.dim(), r.size(), r.size())?,
        6 => x.permute(&[r.dim(), r.dim(), r.dim()][..x.rank().min(3)])?,
        7 => x.transpose(r.dim(), r.dim())?,
        8 => x.flatten(r.dim(), r.dim())?,
        9 => x.unflatten(r.dim(), &r.sizes())?,
        10 => x.squeeze(r.dim())?.unsqueeze(r.dim())?,
        11 | 12 => {
            let (count, dim) = (r.size(), r.dim());
            // split cuts pieces of `count`, chunk of ceil(n / count) (at least 1). A dim of 2^64 - 1
            // in an empty tensor gives millions of views, which is slow, not wrong.
            let size = if op == 11 { count } else { dim_len(&x, dim).map_or(1, |n| n.div_ceil(count.max(1)).max(1)) };
            if dim_len(&x, dim).is_some_and(|n| size > 0 && n.div_ceil(size) > MAX_KEPT_ELEMENTS) {
                return Ok(None);
            }
            let parts = if op == 11 { x.split(count, dim)? } else { x.chunk(count, dim)? };
            first(parts, x)
        }
        13 => Tensor::cat(&[x, r.pick(pool).clone()], r.dim())?,
        14 => Tensor::stack(&[x, r.pick(pool).clone()], r.dim())?,
        15 => x.index_select(r.dim(), r.pick(pool))?,
        16 => x.gather(r.dim(), r.pick(pool))?,
        17 => x.scatter_add(r.dim(), r.pick(pool), r.pick(pool))?,
        18 => {
            let op = [BinaryOp::Add, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow, BinaryOp::Maximum][r.byte() % 5];
            x.binary(op, r.pick(pool))?
        }
        19 => x.compare([CmpOp::Eq, CmpOp::Lt, CmpOp::Ge][r.byte() % 3], r.pick(pool))?,
        20 => x.where_cond(r.pick(pool), r.pick(pool))?,
        21 => {
            let op = [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min][r.byte() % 4];
            let (dims, n, keepdim) = ([r.dim(), r.dim()], 1 + r.byte() % 2, r.flag());
            if reduces_large(&x) {
                return Ok(None);
            }
            x.reduce(op, &dims[..n], keepdim)?
        }
        22 => {
            let (dim, keepdim, correction) = (r.dim(), r.flag(), r.size());
            if reduces_large(&x) {
                return Ok(None);
            }
            x.variance(&[dim], keepdim, correction)?
        }
        23 => {
            let (dim, keepdim) = (r.dim(), r.flag());
            if reduces_large(&x) {
                return Ok(None);
            }
            x.argmax(dim, keepdim)?
        }
        24 => match r.byte() % 3 {
            0 => x.softmax(r.dim())?,
            1 => x.log_softmax(r.dim())?,
            _ => {
                let (dim, keepdim) = (r.dim(), r.flag());
                if reduces_large(&x) {
                    return Ok(None);
                }
                x.logsumexp(dim, keepdim)?
            }
        },
        25 => x.matmul(r.pick(pool))?,
        26 => x.to_dtype(r.dtype())?,
        27 => {
            let spec = Conv2dSpec { stride: r.pair(), padding: r.pair(), dilation: r.pair(), groups: r.size() };
            let weight = r.pick(pool);
            if large(&x.conv2d_plan(weight, None, &spec)?.out_shape) {
                return Ok(None);
            }
            x.conv2d(weight, None, &spec)?
        }
        28 => {
            let spec = ConvTranspose2dSpec {
                stride: r.pair(),
                padding: r.pair(),
                output_padding: r.pair(),
                dilation: r.pair(),
                groups: r.size(),
            };
            let weight = r.pick(pool);
            if large(&x.conv_transpose2d_plan(weight, None, &spec)?.out_shape) {
                return Ok(None);
            }
            x.conv_transpose2d(weight, None, &spec)?
        }
        29 => {
            let spec = Conv2dSpec { stride: r.pair(), padding: r.pair(), ..Conv2dSpec::default() };
            if r.flag() {
                x.conv2d_input_grad(r.pick(pool), &spec, r.pair())?
            } else {
                x.conv2d_weight_grad(r.pick(pool), &spec, r.pair())?
            }
        }
        30 => {
            // Small paddings: a huge one over a huge stride gives a valid, merely large output.
            let padding = [r.byte() % (SMALL + 1), r.byte() % (SMALL + 1)];
            let spec = Im2ColSpec { kernel: r.pair(), stride: r.pair(), padding, dilation: r.pair() };
            if r.flag() {
                x.im2col(&spec)?
            } else {
                x.col2im(&spec, r.pair())?
            }
        }
        31 => {
            let spec = MaxPool2dSpec {
                stride: r.pair(),
                padding: r.pair(),
                dilation: r.pair(),
                ceil_mode: r.flag(),
                ..MaxPool2dSpec::new(r.pair())
            };
            let (y, indices) = x.max_pool2d(&spec)?;
            Tensor::max_pool2d_backward(&y, &indices, x.shape(), &spec)?
        }
        32 => {
            let spec = AvgPool2dSpec {
                stride: r.pair(),
                padding: r.pair(),
                ceil_mode: r.flag(),
                count_include_pad: r.flag(),
                divisor_override: r.flag().then(|| r.size()),
                ..AvgPool2dSpec::new(r.pair())
            };
            let y = x.avg_pool2d(&spec)?;
            Tensor::avg_pool2d_backward(&y, x.shape(), &spec)?
        }
        33 => {
            let size = r.pair();
            let y = x.adaptive_avg_pool2d(size)?;
            Tensor::adaptive_avg_pool2d_backward(&y, &Shape::new(r.sizes()), size)?
        }
        34 => x.layer_norm(None, None, r.float())?.0,
        _ => x.rotary(r.size(), r.float())?,
    }))
}

/// A program of up to [`MAX_OPS`] ops over [`start`]'s operands and the results kept so far.
pub(super) fn tensor_ops(data: &[u8]) -> String {
    match start() {
        Ok(pool) => program(data, pool, OPS, step, Tensor::elem_count).0.join(OUTCOME_PARTS),
        Err(e) => format!("operands: {e}"),
    }
}

/// One op of a program over operands `T` (tensors, or recorded values): runs op number `op`
/// (below the target's op count) with operands from the pool and arguments from the reader;
/// `Ok(None)` when skipped as too large.
pub(super) type Step<T, E> = fn(usize, &mut Reader<'_>, &[T]) -> std::result::Result<Option<T>, E>;

/// Runs the program in `data` over the operands `pool`: up to [`MAX_OPS`] ops, each chosen
/// among `ops` by a byte and run by `step`, its result kept as an operand when its `size` is
/// small. Returns each op's outcome and the last result.
pub(super) fn program<T: Clone, E: std::fmt::Display>(
    data: &[u8],
    mut pool: Vec<T>,
    ops: usize,
    step: Step<T, E>,
    size: fn(&T) -> usize,
) -> (Vec<String>, Option<T>) {
    let mut r = Reader::new(data);
    let (mut outcomes, mut last) = (Vec::new(), None);
    for _ in 0..MAX_OPS {
        if r.done() {
            break;
        }
        let op = r.byte() % ops;
        let result = step(op, &mut r, &pool);
        outcomes.push(match &result {
            Ok(None) => format!("{op}: large"),
            result => format!("{op}: {}", outcome(result)),
        });
        if let Ok(Some(t)) = result {
            if size(&t) <= MAX_KEPT_ELEMENTS {
                pool.push(t.clone());
            }
            last = Some(t);
        }
    }
    (outcomes, last)
}
