//! Saving as a fuzz target: named tensors of every dtype, with shapes, values (raw bits: NaN
//! payloads, -0.0, subnormals, integers past 2^53) and names read from the input (empty ones,
//! repeated ones, `__metadata__`, any Unicode), and string metadata, written with
//! `state_dict::to_safetensors` and read back with `state_dict::read_safetensors`. Refusing is
//! fine; a panic is a failure, and so is a file that was written but reads back other names,
//! shapes, dtypes, bits or metadata.

use super::ops::Reader;
use crate::input::scratch_file;
use std::collections::BTreeMap;
use tessera_nn::state_dict::{from_le_bytes, read_safetensors, to_safetensors};
use tessera_tensor::{bf16, f16, DType, Tensor};

/// Names: ordinary, empty, repeated, the header's own key, non-ASCII, with quotes and escapes.
const NAMES: [&str; 10] =
    ["w", "b", "", "__metadata__", "0.weight", "naïve·名", "a\"b", "back\\slash", "line\nbreak", "w"];

const DTYPES: [DType; 7] = [DType::F32, DType::F64, DType::F16, DType::BF16, DType::U8, DType::U32, DType::I64];

/// The values' bits, whatever the dtype.
fn bits(t: &Tensor) -> tessera_tensor::Result<Vec<u64>> {
    Ok(match t.dtype() {
        DType::F32 => t.to_vec::<f32>()?.iter().map(|v| v.to_bits() as u64).collect(),
        DType::F64 => t.to_vec::<f64>()?.iter().map(|v| v.to_bits()).collect(),
        DType::F16 => t.to_vec::<f16>()?.iter().map(|v| v.to_bits() as u64).collect(),
        DType::BF16 => t.to_vec::<bf16>()?.iter().map(|v| v.to_bits() as u64).collect(),
        DType::U8 => t.to_vec::<u8>()?.iter().map(|&v| v as u64).collect(),
        DType::U32 => t.to_vec::<u32>()?.iter().map(|&v| v as u64).collect(),
        DType::I64 => t.to_vec::<i64>()?.iter().map(|&v| v as u64).collect(),
    })
}

pub(super) fn safetensors_roundtrip(data: &[u8]) -> String {
    let mut r = Reader::new(data);
    let mut tensors = Vec::new();
    for _ in 0..r.byte() % 4 {
        let (name, dtype) = (NAMES[r.byte() % NAMES.len()], DTYPES[r.byte() % DTYPES.len()]);
        let dims: Vec<usize> = (0..r.byte() % 4).map(|_| r.byte() % 4).collect();
        let bytes: Vec<u8> =
            (0..dims.iter().product::<usize>() * dtype.size_in_bytes()).map(|_| r.byte() as u8).collect();
        match from_le_bytes(dtype, &dims, &bytes) {
            Ok(t) => tensors.push((name.to_string(), t)),
            Err(e) => return format!("tensor: {e}"),
        }
    }
    let metadata: BTreeMap<String, String> = (0..r.byte() % 3)
        .map(|_| (NAMES[r.byte() % NAMES.len()].into(), NAMES[r.byte() % NAMES.len()].into()))
        .collect();
    let bytes = match to_safetensors(&tensors, &metadata) {
        Ok(b) => b,
        Err(e) => return format!("refused: {e}"),
    };
    let path = match scratch_file("roundtrip.safetensors", &bytes) {
        Ok(p) => p,
        Err(e) => return format!("scratch file: {e}"),
    };
    let (back, meta) = read_safetensors(&path).unwrap_or_else(|e| panic!("a written file did not read back: {e}"));
    assert_eq!(meta, metadata, "metadata");
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(back.len(), tensors.len(), "tensors written {:?}", tensors.iter().map(|t| &t.0).collect::<Vec<_>>());
    for ((name, want), (got_name, got)) in tensors.iter().zip(&back) {
        assert_eq!((name, want.dims(), want.dtype()), (got_name, got.dims(), got.dtype()));
        assert_eq!(bits(want).expect("bits"), bits(got).expect("bits"), "values of {name:?}");
    }
    format!("ok, {} tensors", tensors.len().min(2))
}
