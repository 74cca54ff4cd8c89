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
