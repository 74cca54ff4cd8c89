//! State dicts: every parameter by name, saved and loaded as safetensors with PyTorch's names and
//! layouts (a file written by `safetensors.torch.save_file(model.state_dict(), ...)` loads here,
//! and the other way round).

use crate::{Error, Module, Result};
use safetensors::tensor::{Dtype as StDtype, TensorView};
use safetensors::SafeTensors;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use tessera_tensor::{DType, Device, Tensor};

fn st_dtype(d: DType) -> StDtype {
    match d {
        DType::F32 => StDtype::F32,
        DType::F64 => StDtype::F64,
        DType::F16 => StDtype::F16,
        DType::BF16 => StDtype::BF16,
        DType::U8 => StDtype::U8,
        DType::U32 => StDtype::U32,
        DType::I64 => StDtype::I64,
    }
}

fn tessera_dtype(d: StDtype) -> Option<DType> {
    Some(match d {
        StDtype::F32 => DType::F32,
        StDtype::F64 => DType::F64,
        StDtype::F16 => DType::F16,
        StDtype::BF16 => DType::BF16,
        StDtype::U8 => DType::U8,
        StDtype::U32 => DType::U32,
        StDtype::I64 => DType::I64,
        _ => return None,
    })
}

/// Little-endian bytes of a tensor's values, exactly as held: read in its own dtype, not through
/// f64 (which rounded i64 values past 2^53 and quieted signalling NaNs).
fn to_bytes(t: &Tensor) -> Result<Vec<u8>> {
    fn le<T: tessera_tensor::Element, const N: usize>(t: &Tensor, bytes: fn(T) -> [u8; N]) -> Result<Vec<u8>> {
        Ok(t.to_vec::<T>()?.into_iter().flat_map(bytes).collect())
    }
    match t.dtype() {
        DType::F32 => le(t, f32::to_le_bytes),
        DType::F64 => le(t, f64::to_le_bytes),
        DType::F16 => le(t, tessera_tensor::f16::to_le_bytes),
        DType::BF16 => le(t, tessera_tensor::bf16::to_le_bytes),
        DType::U8 => le(t, u8::to_le_bytes),
        DType::U32 => le(t, u32::to_le_bytes),
        DType::I64 => le(t, i64::to_le_bytes),
    }
}

/// A CPU tensor of `dtype` and `shape` from its values' little-endian bytes, as a safetensors file
/// holds them (an error when their count does not fill the shape).
pub fn from_le_bytes(dtype: DType, shape: &[usize], b: &[u8]) -> Result<Tensor> {
    let cpu = Device::Cpu;
    fn chunks<const N: usize>(b: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        b.chunks_exact(N).map(|c| c.try_into().expect("chunk of N bytes"))
    }
    Ok(match dtype {
        DType::F32 => Tensor::from_vec(chunks::<4>(b).map(f32::from_le_bytes).collect(), shape, &cpu)?,
        DType::F64 => Tensor::from_vec(chunks::<8>(b).map(f64::from_le_bytes).collect(), shape, &cpu)?,
        DType::F16 => Tensor::from_vec(chunks::<2>(b).map(tessera_tensor::f16::from_le_bytes).collect(), shape, &cpu)?,
        DType::BF16 => {
            Tensor::from_vec(chunks::<2>(b).map(tessera_tensor::bf16::from_le_bytes).collect(), shape, &cpu)?
        }
        DType::U8 => Tensor::from_vec(b.to_vec(), shape, &cpu)?,
        DType::U32 => Tensor::from_vec(chunks::<4>(b).map(u32::from_le_bytes).collect(), shape, &cpu)?,
        DType::I64 => Tensor::from_vec(chunks::<8>(b).map(i64::from_le_bytes).collect(), shape, &cpu)?,
    })
}

/// The named tensors of `module`: its parameters, then its buffers (batch norm's running
/// statistics), in registration order.
pub fn state_dict(module: &dyn Module) -> Vec<(String, Tensor)> {
    module.state_entries().into_iter().map(|(n, e)| (n, e.tensor())).collect()
}

/// Serialises named tensors (plus string metadata) to safetensors bytes. A name given twice, or
/// the header's own key `__metadata__`, is an error naming it: a safetensors file holds one
/// tensor per name, and a tensor of that name made a file that no reader accepts.
pub fn to_safetensors(tensors: &[(String, Tensor)], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    let mut seen = std::collections::HashSet::with_capacity(tensors.len());
    for (name, _) in tensors {
        if name == "__metadata__" {
            return Err(Error::Config(format!(
                "the tensor name {name:?} is the safetensors header's own key for metadata"
            )));
        }
        if !seen.insert(name.as_str()) {
            return Err(Error::Config(format!(
                "the tensor name {name:?} appears twice; a safetensors file holds one tensor per name"
            )));
        }
    }
    let bytes: Vec<(String, Vec<u8>, DType, Vec<usize>)> = tensors
        .iter()
        .map(|(n, t)| Ok((n.clone(), to_bytes(t)?, t.dtype(), t.dims().to_vec())))
        .collect::<Result<_>>()?;
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, b, d, s)| {
            TensorView::new(st_dtype(*d), s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Config(format!("tensor {n}: {e}")))
        })
        .collect::<Result<_>>()?;
    // No metadata goes as none: the safetensors crate (0.8) wrote an empty map with no tensors as
    // the header `{},"__metadata__":{}}`, which no reader accepts.
    let meta = (!metadata.is_empty())
        .then(|| metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<String, String>>());
    safetensors::serialize(views, meta).map_err(|e| Error::Config(format!("safetensors: {e}")))
}

/// Named tensors, in order.
pub type NamedTensors = Vec<(String, Tensor)>;

/// String metadata stored in a safetensors header.
pub type Metadata = BTreeMap<String, String>;

/// Reads every tensor of a safetensors file (sorted by name), with its metadata.
pub fn read_safetensors(path: &Path) -> Result<(NamedTensors, Metadata)> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io { path: path.into(), source: e })?;
    let bad = |msg: String| Error::StateDict { path: path.into(), msg };
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let (_, header) =
        SafeTensors::read_metadata(&bytes).map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let meta = header.metadata().clone().unwrap_or_default().into_iter().collect();
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let dtype = tessera_dtype(view.dtype())
            .ok_or_else(|| bad(format!("tensor {name} has unsupported dtype {:?}", view.dtype())))?;
        out.push((name.clone(), from_le_bytes(dtype, view.shape(), view.data())?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((out, meta))
}

/// Saves `module`'s parameters to `path` atomically (a temporary file, then a rename).
pub fn save(module: &dyn Module, path: &Path, metadata: &BTreeMap<String, String>) -> Result<()> {
    let bytes = to_safetensors(&state_dict(module), metadata)?;
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e| Error::Io { path: path.into(), source: e };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// Loads `path` into `module`'s parameters and buffers, in place. Every one must be in the file
/// with its shape, and the file must hold nothing else: a missing, extra or mis-shaped tensor is
/// an error naming it, and then nothing is changed. Values of another float dtype are converted.
pub fn load(module: &dyn Module, path: &Path) -> Result<BTreeMap<String, String>> {
    let (tensors, meta) = read_safetensors(path)?;
    let bad = |msg: String| Error::StateDict { path: path.into(), msg };
    let mut by_name: BTreeMap<String, Tensor> = tensors.into_iter().collect();
    let mut updates = Vec::new();
    for (name, entry) in module.state_entries() {
        let want = entry.tensor().shape().clone();
        let t = by_name.remove(&name).ok_or_else(|| bad(format!("missing tensor '{name}' (shape {want})")))?;
        if *t.shape() != want {
            return Err(bad(format!("tensor '{name}' has shape {} in the file, the model expects {want}", t.shape())));
        }
        updates.push((entry, t));
    }
    if let Some(extra) = by_name.keys().next() {
        return Err(bad(format!("unexpected tensor '{extra}': the model has no parameter or buffer of that name")));
    }
    for (entry, t) in updates {
        entry.load(&t)?;
    }
    Ok(meta)
}
