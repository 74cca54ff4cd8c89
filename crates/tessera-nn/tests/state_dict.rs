//! Saving and loading parameters: round trips, and every mismatch is an error naming the tensor.

use std::collections::BTreeMap;
use tessera_autograd::Var;
use tessera_nn::state_dict::{load, save, to_safetensors, write_atomic};
use tessera_nn::*;
use tessera_tensor::{DType, Device, Generator, Tensor};

fn mlp(seed: u64, hidden: usize) -> Sequential {
    let mut g = Generator::new(seed);
    Sequential::new()
        .add(Linear::new(&mut g, 4, hidden, DType::F32, &Device::Cpu).unwrap())
        .add(Relu)
        .add(Linear::new(&mut g, hidden, 3, DType::F32, &Device::Cpu).unwrap())
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-nn-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("model.safetensors")
}

#[test]
fn save_then_load_restores_outputs() {
    let (a, b) = (mlp(1, 8), mlp(2, 8));
    let x = Var::constant(Tensor::randn(&mut Generator::new(3), [5, 4], DType::F32, &Device::Cpu).unwrap());
    let path = tmp("roundtrip");
    let meta = BTreeMap::from([("model".to_string(), "mlp".to_string())]);
    save(&a, &path, &meta).unwrap();
    assert_ne!(
        a.forward(&x).unwrap().tensor().to_vec::<f32>().unwrap(),
        b.forward(&x).unwrap().tensor().to_vec::<f32>().unwrap()
    );
    assert_eq!(load(&b, &path).unwrap(), meta);
    assert_eq!(
        a.forward(&x).unwrap().tensor().to_vec::<f32>().unwrap(),
        b.forward(&x).unwrap().tensor().to_vec::<f32>().unwrap()
    );
    let names: Vec<String> = b.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
}

#[test]
fn mismatched_files_are_errors_naming_the_tensor_and_change_nothing() {
    let path = tmp("mismatch");
    let target = mlp(5, 8);
    let before = target.parameters()[0].1.tensor().to_vec::<f32>().unwrap();
    save(&mlp(1, 16), &path, &BTreeMap::new()).unwrap();
    let e = load(&target, &path).unwrap_err().to_string();
    assert!(e.contains("tensor '0.weight' has shape [16, 4] in the file, the model expects [8, 4]"), "{e}");
    assert_eq!(target.parameters()[0].1.tensor().to_vec::<f32>().unwrap(), before);

    let mut tensors = state_dict::state_dict(&mlp(1, 8));
    let removed = tensors.pop().unwrap();
    write_atomic(&path, &to_safetensors(&tensors, &BTreeMap::new()).unwrap()).unwrap();
    let e = load(&target, &path).unwrap_err().to_string();
    assert!(e.contains("missing tensor '2.bias' (shape [3])"), "{e}");

    tensors.push(removed);
    tensors.push(("extra.weight".into(), Tensor::zeros([2], DType::F32, &Device::Cpu).unwrap()));
    write_atomic(&path, &to_safetensors(&tensors, &BTreeMap::new()).unwrap()).unwrap();
    let e = load(&target, &path).unwrap_err().to_string();
    assert!(e.contains("unexpected tensor 'extra.weight'"), "{e}");

    std::fs::write(&path, b"not a safetensors file").unwrap();
    assert!(load(&target, &path).unwrap_err().to_string().contains("not a valid safetensors file"));
    let e = load(&target, &path.with_file_name("absent.safetensors")).unwrap_err().to_string();
    assert!(e.contains("absent.safetensors"), "{e}");
}

#[test]
fn summary_counts_parameters_and_flops() {
    let s = summary::summarize(&mlp(0, 8), &[4], DType::F32, &Device::Cpu).unwrap();
    assert_eq!(s.rows.len(), 3);
    assert_eq!(s.rows[0].output, vec![1, 8]);
    assert_eq!(s.total_params(), 4 * 8 + 8 + 8 * 3 + 3);
    assert_eq!(s.rows[0].flops, 8 * (2 * 4 + 1));
    let text = s.to_string();
    assert!(text.contains("Linear(4 -> 8)") && text.contains("total: 67 parameters"), "{text}");
}

/// Every dtype's values come back bit for bit, the ones an f64 cannot hold included: i64 past
/// 2^53 (an f64 detour rounded 2^53 + 1 to 2^53), signalling NaNs with payloads, -0.0 and
/// subnormals.
#[test]
fn every_dtype_round_trips_bit_for_bit() {
    use tessera_nn::state_dict::read_safetensors;
    use tessera_tensor::{bf16, f16};
    let cpu = Device::Cpu;
    let tensors = vec![
        (
            "bf16".to_string(),
            Tensor::from_vec([0x7f81u16, 0x8000, 0x0001, 0xff80].map(bf16::from_bits).to_vec(), [4], &cpu).unwrap(),
        ),
        (
            "f16".to_string(),
            Tensor::from_vec([0x7d01u16, 0x8000, 0x0001, 0xfc00].map(f16::from_bits).to_vec(), [2, 2], &cpu).unwrap(),
        ),
        (
            "f32".to_string(),
            Tensor::from_vec([0x7fa0_0001u32, 0x8000_0000, 1, 0x7f80_0000].map(f32::from_bits).to_vec(), [4], &cpu)
                .unwrap(),
        ),
        (
            "f64".to_string(),
            Tensor::from_vec(vec![f64::from_bits(0x7ff0_0000_0000_0001), -0.0, f64::from_bits(1)], [3], &cpu).unwrap(),
        ),
        ("i64".to_string(), Tensor::from_vec(vec![i64::MIN, i64::MAX, (1 << 53) + 1, -1], [4], &cpu).unwrap()),
        ("u32".to_string(), Tensor::from_vec(vec![u32::MAX, 0, 16_777_217], [3], &cpu).unwrap()),
        ("u8".to_string(), Tensor::from_vec(vec![255u8, 0], [2], &cpu).unwrap()),
    ];
    let path = tmp("every-dtype");
    write_atomic(&path, &to_safetensors(&tensors, &BTreeMap::new()).unwrap()).unwrap();
    let (back, _) = read_safetensors(&path).unwrap();
    let bits = |t: &Tensor| -> Vec<u64> {
        match t.dtype() {
            DType::BF16 => t.to_vec::<bf16>().unwrap().iter().map(|v| v.to_bits() as u64).collect(),
            DType::F16 => t.to_vec::<f16>().unwrap().iter().map(|v| v.to_bits() as u64).collect(),
            DType::F32 => t.to_vec::<f32>().unwrap().iter().map(|v| v.to_bits() as u64).collect(),
            DType::F64 => t.to_vec::<f64>().unwrap().iter().map(|v| v.to_bits()).collect(),
            DType::I64 => t.to_vec::<i64>().unwrap().iter().map(|&v| v as u64).collect(),
            DType::U32 => t.to_vec::<u32>().unwrap().iter().map(|&v| v as u64).collect(),
            DType::U8 => t.to_vec::<u8>().unwrap().iter().map(|&v| v as u64).collect(),
        }
    };
    assert_eq!(back.len(), tensors.len());
    for ((name, want), (got_name, got)) in tensors.iter().zip(&back) {
        assert_eq!((name, want.dims(), want.dtype()), (got_name, got.dims(), got.dtype()));
        assert_eq!(bits(want), bits(got), "{name}");
    }
}

/// Two tensors of one name made the safetensors crate panic, and a tensor named `__metadata__`
/// (the header's key for metadata) made a file no reader accepts (found by the
/// `safetensors_roundtrip` fuzz target): both refused, naming the tensor.
#[test]
fn repeated_and_reserved_names_are_refused() {
    let t = Tensor::from_vec(vec![1f32], [1], &Device::Cpu).unwrap();
    let tensors = vec![("w".to_string(), t.clone()), ("b".to_string(), t.clone()), ("w".to_string(), t.clone())];
    let err = to_safetensors(&tensors, &BTreeMap::new()).unwrap_err().to_string();
    assert!(err.contains("\"w\"") && err.contains("twice"), "{err}");
    let reserved = vec![("__metadata__".to_string(), t)];
    let meta = BTreeMap::from([("k".to_string(), "v".to_string())]);
    for meta in [BTreeMap::new(), meta] {
        let err = to_safetensors(&reserved, &meta).unwrap_err().to_string();
        assert!(err.contains("__metadata__") && err.contains("header"), "{err}");
    }
}

/// No tensors and no metadata made a header no reader accepts (`{},"__metadata__":{}}`, from the
/// safetensors crate; found by the `safetensors_roundtrip` fuzz target): with and without
/// metadata, an empty state dict reads back empty.
#[test]
fn an_empty_state_dict_round_trips() {
    use tessera_nn::state_dict::read_safetensors;
    for meta in [BTreeMap::new(), BTreeMap::from([("k".to_string(), "v".to_string())])] {
        let path = tmp(&format!("empty-{}", meta.len()));
        write_atomic(&path, &to_safetensors(&[], &meta).unwrap()).unwrap();
        let (tensors, back) = read_safetensors(&path).unwrap();
        assert!(tensors.is_empty());
        assert_eq!(back, meta);
    }
}
