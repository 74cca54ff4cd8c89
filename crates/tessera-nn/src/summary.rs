//! Model summary: per layer, its output shape, parameter count and FLOPs per example.

use crate::{Module, Result};
use std::fmt;
use tessera_autograd::{no_grad, Var};
use tessera_tensor::{DType, Device, Tensor};

/// One row of a summary.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerRow {
    /// The layer's name in the model (`0`, `encoder.lstm`).
    pub name: String,
    /// What the layer is (`Linear(784 -> 128)`).
    pub kind: String,
    /// Output shape for one example (batch dim shown as 1).
    pub output: Vec<usize>,
    /// Trainable scalars.
    pub params: usize,
    /// Floating-point operations per example.
    pub flops: u64,
}

/// The whole summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// One row per layer (children of a container, else the module itself).
    pub rows: Vec<LayerRow>,
}

impl Summary {
    /// Total trainable scalars.
    pub fn total_params(&self) -> usize {
        self.rows.iter().map(|r| r.params).sum()
    }

    /// Total FLOPs per example.
    pub fn total_flops(&self) -> u64 {
        self.rows.iter().map(|r| r.flops).sum()
    }
}

/// Runs one example of `input_dims` (without the batch dim) through `model` to find every
/// layer's output shape, and counts parameters and FLOPs. Inputs of float dtypes get zeros,
/// integer inputs (token ids) get zeros too, which every vocabulary has.
pub fn summarize(model: &dyn Module, input_dims: &[usize], dtype: DType, device: &Device) -> Result<Summary> {
    let mut dims = vec![1];
    dims.extend_from_slice(input_dims);
    let mut x = Var::constant(Tensor::zeros(dims, dtype, device)?);
    let children = model.children();
    let layers: Vec<(String, &dyn Module)> = if children.is_empty() { vec![("model".into(), model)] } else { children };
    let mut rows = Vec::new();
    for (name, layer) in layers {
        let per_example: Vec<usize> = x.dims()[1..].to_vec();
        let flops = layer.flops_per_example(&per_example);
        x = no_grad(|| layer.forward(&x))?;
        rows.push(LayerRow {
            name,
            kind: layer.describe(),
            output: x.dims().to_vec(),
            params: layer.parameter_count(),
            flops,
        });
    }
    Ok(Summary { rows })
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = |d: &[usize]| format!("[{}]", d.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "));
        // Columns as wide as their longest entry, so long layer names and types stay aligned.
        let name_w = self.rows.iter().map(|r| r.name.len()).chain([6]).max().unwrap_or(6);
        let kind_w = self.rows.iter().map(|r| r.kind.len()).chain([28]).max().unwrap_or(28);
        let rule = "-".repeat(name_w + kind_w + 46);
        writeln!(
            f,
            "{:<name_w$} {:<kind_w$} {:<16} {:>12} {:>14}",
            "layer", "type", "output", "params", "FLOPs/example"
        )?;
        writeln!(f, "{rule}")?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<name_w$} {:<kind_w$} {:<16} {:>12} {:>14}",
                r.name,
                r.kind,
                shape(&r.output),
                thousands(r.params as u64),
                thousands(r.flops)
            )?;
        }
        writeln!(f, "{rule}")?;
        write!(
            f,
            "total: {} parameters ({:.2} MB as f32), {} FLOPs per example",
            thousands(self.total_params() as u64),
            self.total_params() as f64 * 4.0 / 1e6,
            thousands(self.total_flops())
        )
    }
}
