//! Gradients in f32 agree with f64, and ops on empty tensors backward without errors.

use tessera_autograd::{Error, Var};
use tessera_tensor::{DType, Device, Generator, Tensor};

fn mlp_grads(dtype: DType) -> Result<Vec<Vec<f64>>, Error> {
    let mut g = Generator::new(11);
    let dev = Device::Cpu;
    let x = Var::constant(Tensor::randn(&mut g, [4, 5], DType::F64, &dev)?.to_dtype(dtype)?);
    let w1 = Var::param(Tensor::randn(&mut g, [5, 6], DType::F64, &dev)?.to_dtype(dtype)?)?;
    let b1 = Var::param(Tensor::randn(&mut g, [6], DType::F64, &dev)?.to_dtype(dtype)?)?;
    let w2 = Var::param(Tensor::randn(&mut g, [6, 3], DType::F64, &dev)?.to_dtype(dtype)?)?;
    let targets = Tensor::from_vec(vec![0i64, 2, 1, 2], [4, 1], &dev)?;
    let logits = x.matmul(&w1)?.add(&b1)?.gelu()?.matmul(&w2)?;
    let loss = logits.log_softmax(-1)?.gather(1, &targets)?.mean(&[], false)?.neg()?;
    loss.backward()?;
    [w1, b1, w2].iter().map(|p| Ok(p.grad().expect("a gradient").to_vec_f64()?)).collect()
}

#[test]
fn f32_gradients_match_f64() -> Result<(), Error> {
    let (single, double) = (mlp_grads(DType::F32)?, mlp_grads(DType::F64)?);
    for (s, d) in single.iter().flatten().zip(double.iter().flatten()) {
        assert!((s - d).abs() <= 1e-5 + 1e-4 * d.abs(), "f32 {s} vs f64 {d}");
    }
    Ok(())
}

#[test]
fn gradients_keep_the_leaf_dtype() -> Result<(), Error> {
    let x = Var::param(Tensor::ones([2, 2], DType::F32, &Device::Cpu)?)?;
    x.to_dtype(DType::F64)?.square()?.sum_all()?.backward()?;
    assert_eq!(x.grad().unwrap().dtype(), DType::F32);
    Ok(())
}

#[test]
fn empty_tensors_backward_to_empty_gradients() -> Result<(), Error> {
    let x = Var::param(Tensor::zeros([0, 3], DType::F64, &Device::Cpu)?)?;
    let w = Var::param(Tensor::ones([3, 2], DType::F64, &Device::Cpu)?)?;
    let y = x.exp()?.matmul(&w)?.sum(&[0], false)?;
    assert_eq!(y.dims(), &[2]);
    y.sum_all()?.backward()?;
    assert_eq!(x.grad().unwrap().dims(), &[0, 3]);
    assert_eq!(w.grad().unwrap().to_vec_f64()?, vec![0.0; 6]);
    Ok(())
}
