//! `Debug` and `Display` for tensors, in PyTorch's style: values nested by dim, abbreviated with
//! `...` when there are more than a thousand, then shape, dtype and device.

use crate::Tensor;
use std::fmt;

/// Above this many elements, only the first and last [`EDGE`] entries of each dim are shown.
const SUMMARIZE_ABOVE: usize = 1000;
const EDGE: usize = 3;

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = match self.to_vec_f64() {
            Ok(v) => v,
            Err(e) => return write!(f, "tensor(<unreadable: {e}>)"),
        };
        let style = NumberStyle::for_values(&values, self.dtype().is_float());
        let mut body = String::new();
        let summarize = values.len() > SUMMARIZE_ABOVE;
        write_nested(&mut body, &values, self.dims(), 0, 0, &style, summarize);
        write!(f, "tensor({body}, shape={}, dtype={}, device={})", self.shape(), self.dtype(), self.device())
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// How numbers are printed: one style for the whole tensor, so columns line up.
struct NumberStyle {
    float: bool,
    scientific: bool,
    integral: bool,
    width: usize,
}

impl NumberStyle {
    fn for_values(values: &[f64], float: bool) -> Self {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let max = finite.iter().fold(0f64, |m, v| m.max(v.abs()));
        let min_nonzero = finite.iter().filter(|v| **v != 0.0).fold(f64::INFINITY, |m, v| m.min(v.abs()));
        let mut style = NumberStyle {
            float,
            scientific: float && (max >= 1e8 || min_nonzero < 1e-4),
            integral: finite.iter().all(|v| v.fract() == 0.0),
            width: 0,
        };
        style.width = values.iter().map(|&v| style.format(v).len()).max().unwrap_or(0);
        style
    }

    fn format(&self, v: f64) -> String {
        if !self.float {
            format!("{v}")
        } else if v.is_nan() {
            "nan".into()
        } else if v.is_infinite() {
            if v > 0.0 {
                "inf".into()
            } else {
                "-inf".into()
            }
        } else if self.scientific {
            format!("{v:.4e}")
        } else if self.integral {
            format!("{v}.")
        } else {
            format!("{v:.4}")
        }
    }
}

fn write_nested(
    out: &mut String,
    values: &[f64],
    dims: &[usize],
    depth: usize,
    offset: usize,
    style: &NumberStyle,
    summarize: bool,
) {
    if dims.is_empty() {
        out.push_str(&style.format(values[offset]));
        return;
    }
    let n = dims[0];
    let inner = tessera_core::saturating_product(dims[1..].iter().copied());
    out.push('[');
    let shown: Vec<Option<usize>> = if summarize && n > 2 * EDGE {
        (0..EDGE).map(Some).chain([None]).chain((n - EDGE..n).map(Some)).collect()
    } else {
        (0..n).map(Some).collect()
    };
    for (k, entry) in shown.iter().enumerate() {
        if k > 0 {
            out.push(',');
            if dims.len() > 1 {
                out.push_str(&"\n".repeat(dims.len() - 1));
                out.push_str(&" ".repeat(depth + 8));
            } else {
                out.push(' ');
            }
        }
        match entry {
            Some(i) if dims.len() == 1 => {
                let s = style.format(values[offset + i]);
                out.push_str(&format!("{s:>w$}", w = style.width));
            }
            Some(i) => write_nested(out, values, &dims[1..], depth + 1, offset + i * inner, style, summarize),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use crate::{DType, Device, Tensor};

    /// An empty tensor's other dims may multiply past a usize; showing it must not overflow.
    #[test]
    fn empty_tensor_with_huge_dims_shows_its_shape() {
        let t = Tensor::zeros([2, 0, 1 << 62, 1 << 62], DType::F32, &Device::Cpu).unwrap();
        assert!(t.to_string().contains("shape=[2, 0, 4611686018427387904, 4611686018427387904]"), "{t}");
    }

    #[test]
    fn small_tensor_shows_every_value() {
        let t = Tensor::from_vec(vec![1f32, 2.5, -3., 4.], [2, 2], &Device::Cpu).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([[ 1.0000,  2.5000],\n        [-3.0000,  4.0000]], shape=[2, 2], dtype=f32, device=cpu)"
        );
        let s = Tensor::scalar(3.0, DType::I64, &Device::Cpu).unwrap();
        assert_eq!(format!("{s:?}"), "tensor(3, shape=[], dtype=i64, device=cpu)");
    }

    #[test]
    fn big_tensor_is_abbreviated() {
        let t = Tensor::arange(0.0, 2000.0, 1.0, DType::F32, &Device::Cpu).unwrap();
        let s = t.to_string();
        assert!(s.starts_with("tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.]"), "{s}");
        assert!(s.ends_with("shape=[2000], dtype=f32, device=cpu)"));
    }
}
