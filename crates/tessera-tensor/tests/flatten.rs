//! `flatten` and `unflatten`: PyTorch's shapes, negative dims, views when possible, errors
//! naming the dims.

use tessera_tensor::{DType, Device, Result, Tensor};

fn t(dims: &[usize]) -> Tensor {
    let n: usize = dims.iter().product();
    Tensor::from_vec((0..n).map(|v| v as f32).collect(), dims.to_vec(), &Device::Cpu).unwrap()
}

#[test]
fn flatten_merges_a_dim_range() -> Result<()> {
    let x = t(&[2, 3, 4, 5]);
    assert_eq!(x.flatten(1, -1)?.dims(), [2, 60]);
    assert_eq!(x.flatten(0, -1)?.dims(), [120]);
    assert_eq!(x.flatten(-3, 2)?.dims(), [2, 12, 5]);
    assert_eq!(x.flatten(2, 2)?.dims(), [2, 3, 4, 5]);
    let f = x.flatten(1, 2)?;
    assert!(f.same_storage(&x), "a view of contiguous data");
    assert_eq!(f.to_vec::<f32>()?, x.to_vec::<f32>()?);
    // A transposed input is copied, keeping the logical order.
    let tr = x.transpose(1, 2)?;
    assert_eq!(tr.flatten(1, 2)?.to_vec::<f32>()?, tr.contiguous()?.to_vec::<f32>()?);
    let s = Tensor::scalar(3.0, DType::F32, &Device::Cpu)?;
    assert_eq!(s.flatten(0, -1)?.dims(), [1]);
    Ok(())
}

#[test]
fn unflatten_splits_a_dim() -> Result<()> {
    let x = t(&[2, 12, 5]);
    assert_eq!(x.unflatten(1, &[3, 4])?.dims(), [2, 3, 4, 5]);
    assert_eq!(x.unflatten(-2, &[usize::MAX, 6])?.dims(), [2, 2, 6, 5]);
    assert_eq!(x.unflatten(-1, &[5])?.dims(), [2, 12, 5]);
    let u = x.unflatten(1, &[2, 2, 3])?;
    assert_eq!((u.dims(), u.to_vec::<f32>()?), ([2, 2, 2, 3, 5].as_slice(), x.to_vec::<f32>()?));
    Ok(())
}

#[test]
fn bad_dims_are_errors_naming_them() {
    let x = t(&[2, 3, 4]);
    let e = x.flatten(2, 1).unwrap_err().to_string();
    assert_eq!(e, "flatten: start_dim 2 (dim 2) comes after end_dim 1 (dim 1) for shape [2, 3, 4]");
    let e = x.flatten(0, 3).unwrap_err().to_string();
    assert_eq!(e, "flatten: dim 3 is out of range for a tensor of shape [2, 3, 4]");
    let e = x.unflatten(1, &[2, 2]).unwrap_err().to_string();
    assert!(e.starts_with("unflatten: sizes [2, 2] do not split dim 1 (size 3) of shape [2, 3, 4]"), "{e}");
    let e = x.unflatten(2, &[usize::MAX, usize::MAX]).unwrap_err().to_string();
    assert!(e.contains("sizes [-1, -1]"), "{e}");
    assert!(x.unflatten(-4, &[2]).unwrap_err().to_string().contains("dim -4 is out of range"));
    assert!(x.unflatten(0, &[]).is_err());
}
