//! The graph's behaviour: accumulation, zero_grad, detach, no_grad, freeing, and errors.

use tessera_autograd::{no_grad, Error, Var};
use tessera_tensor::{DType, Device, Tensor};

fn t(data: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape.to_vec(), &Device::Cpu).unwrap()
}

fn grad(v: &Var) -> Vec<f64> {
    v.grad().expect("a gradient").to_vec_f64().unwrap()
}

#[test]
fn chain_rule_and_shared_inputs() -> Result<(), Error> {
    let x = Var::param(t(&[1.0, 2.0, 3.0], &[3]))?;
    // y = sum(x * x + 3x): dy/dx = 2x + 3, with x used on two paths.
    let y = x.mul(&x)?.add(&x.scale(3.0)?)?.sum_all()?;
    y.backward()?;
    assert_eq!(grad(&x), vec![5.0, 7.0, 9.0]);
    Ok(())
}

#[test]
fn gradients_accumulate_until_zero_grad() -> Result<(), Error> {
    let x = Var::param(t(&[2.0], &[1]))?;
    x.square()?.sum_all()?.backward()?;
    x.square()?.sum_all()?.backward()?;
    assert_eq!(grad(&x), vec![8.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
    x.scale(5.0)?.sum_all()?.backward()?;
    assert_eq!(grad(&x), vec![5.0]);
    Ok(())
}

#[test]
fn graph_is_freed_unless_kept() -> Result<(), Error> {
    let x = Var::param(t(&[1.0, 2.0], &[2]))?;
    let y = x.exp()?.sum_all()?;
    y.backward_with(None, true)?;
    y.backward()?;
    assert!(matches!(y.backward(), Err(Error::GraphFreed { op: "sum_all" })));
    Ok(())
}

#[test]
fn detach_and_no_grad_record_nothing() -> Result<(), Error> {
    let x = Var::param(t(&[1.0, 2.0], &[2]))?;
    let d = x.detach();
    assert!(!d.requires_grad() && d.is_leaf());
    let y = no_grad(|| x.square())?;
    assert!(!y.requires_grad() && y.is_leaf());
    assert!(matches!(y.sum_all()?.backward(), Err(Error::NoGradRequired)));
    // Recording is back on after the scope.
    assert!(x.square()?.requires_grad());
    // A detached branch contributes nothing.
    x.mul(&d)?.sum_all()?.backward()?;
    assert_eq!(grad(&x), vec![1.0, 2.0]);
    Ok(())
}

#[test]
fn op_without_rule_is_an_error_that_names_it() -> Result<(), Error> {
    let x = Var::param(t(&[1.0, 2.0], &[2]))?;
    let y = Var::from_op("my_custom_op", x.tensor().exp()?, &[&x], None);
    assert!(y.requires_grad());
    let err = y.sum_all()?.backward().unwrap_err();
    assert_eq!(err, Error::NoBackwardRule { op: "my_custom_op" });
    assert!(err.to_string().contains("my_custom_op"));
    assert!(x.grad().is_none(), "no gradient may be half-written");
    Ok(())
}

#[test]
fn non_differentiable_ops_give_constants() -> Result<(), Error> {
    let x = Var::param(t(&[1.0, 3.0, 2.0], &[3]))?;
    assert!(!x.argmax(0, false)?.requires_grad());
    assert!(!x.gt(&x)?.requires_grad());
    assert!(!x.to_dtype(DType::I64)?.requires_grad());
    assert!(x.to_dtype(DType::F32)?.requires_grad());
    Ok(())
}

#[test]
fn backward_needs_a_scalar_or_an_explicit_gradient() -> Result<(), Error> {
    let x = Var::param(t(&[1.0, 2.0], &[2]))?;
    let y = x.scale(2.0)?;
    assert!(matches!(y.backward(), Err(Error::NonScalarOutput { .. })));
    y.backward_with(Some(&t(&[1.0, 10.0], &[2])), false)?;
    assert_eq!(grad(&x), vec![2.0, 20.0]);
    Ok(())
}

#[test]
fn integer_leaves_cannot_require_grad() {
    let ids = Tensor::from_vec(vec![1u32, 2], [2], &Device::Cpu).unwrap();
    assert!(matches!(Var::param(ids), Err(Error::NonFloatGrad { .. })));
}

#[test]
fn dropping_a_long_chain_does_not_overflow_the_stack() -> Result<(), Error> {
    let x = Var::param(t(&[1.0], &[1]))?;
    let mut y = x.clone();
    for _ in 0..200_000 {
        y = y.add_scalar(1e-6)?;
    }
    let loss = y.sum_all()?;
    loss.backward()?;
    assert_eq!(grad(&x), vec![1.0]);
    drop(loss);
    let mut z = x.clone();
    for _ in 0..200_000 {
        z = z.add_scalar(1e-6)?;
    }
    drop(z);
    Ok(())
}

#[test]
fn broadcast_gradients_are_summed_to_the_input_shape() -> Result<(), Error> {
    let a = Var::param(t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]))?;
    let b = Var::param(t(&[10.0, 20.0, 30.0], &[3]))?;
    let c = Var::param(t(&[2.0, 3.0], &[2, 1]))?;
    a.add(&b)?.mul(&c)?.sum_all()?.backward()?;
    assert_eq!(grad(&b), vec![5.0, 5.0, 5.0]);
    assert_eq!(grad(&c), vec![66.0, 75.0]);
    Ok(())
}

#[test]
fn var_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Var>();
}
