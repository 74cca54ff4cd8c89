//! `Var::backward_hooked` names each leaf once, as soon as its gradient is final for the pass:
//! the gradient read at that moment is the one the pass ends with.

use std::collections::HashMap;
use tessera_autograd::{Var, VarId};
use tessera_tensor::{Device, Tensor};

fn param(values: &[f64]) -> Var {
    Var::param(Tensor::from_vec(values.to_vec(), [values.len()], &Device::Cpu).unwrap()).unwrap()
}

/// Runs a hooked backward of `loss`, recording for each named leaf the gradient it had when
/// named, and the order of the names.
fn hooked(loss: &Var, leaves: &[&Var]) -> (Vec<VarId>, HashMap<VarId, Vec<f64>>) {
    let mut order = Vec::new();
    let mut seen = HashMap::new();
    loss.backward_hooked(None, false, &mut |id| {
        order.push(id);
        let leaf = leaves.iter().find(|l| l.id() == id).expect("a leaf of the graph");
        seen.insert(id, leaf.grad().unwrap().to_vec::<f64>().unwrap());
    })
    .unwrap();
    (order, seen)
}

#[test]
fn a_leaf_is_named_once_after_its_last_contribution() -> tessera_autograd::Result<()> {
    // A three-layer chain where the first weight is also used by the last layer (tied), as an
    // embedding and an output projection are.
    let (w1, w2, w3) = (param(&[0.5, -1.0]), param(&[2.0, 0.25]), param(&[1.5, 3.0]));
    let h1 = w1.mul(&w2)?.tanh()?;
    let h2 = h1.mul(&w3)?.add(&w2)?;
    let loss = h2.mul(&w1)?.sum_all()?;
    let (order, seen) = hooked(&loss, &[&w1, &w2, &w3]);
    assert_eq!(order.len(), 3, "each leaf once");
    assert_eq!(order[0], w3.id(), "w3 is only used in the middle: final before w1 and w2");
    for w in [&w1, &w2, &w3] {
        assert_eq!(seen[&w.id()], w.grad().unwrap().to_vec::<f64>()?, "named with its final gradient");
    }
    Ok(())
}

#[test]
fn unreached_and_constant_leaves_are_not_named() {
    let (used, unused) = (param(&[1.0, 2.0]), param(&[3.0]));
    let c = Var::constant(Tensor::from_vec(vec![4.0f64, 5.0], [2], &Device::Cpu).unwrap());
    let _other = unused.square().unwrap();
    let loss = used.mul(&c).unwrap().sum_all().unwrap();
    let (order, _) = hooked(&loss, &[&used]);
    assert_eq!(order, vec![used.id()]);
    assert!(unused.grad().is_none());
}

#[test]
fn gradients_accumulated_over_passes_are_named_with_their_sum() {
    let w = param(&[2.0]);
    w.square().unwrap().sum_all().unwrap().backward().unwrap();
    let loss = w.square().unwrap().sum_all().unwrap();
    let (order, seen) = hooked(&loss, &[&w]);
    assert_eq!(order, vec![w.id()]);
    assert_eq!(seen[&w.id()], vec![8.0]);
}

#[test]
fn a_leaf_loss_names_itself_and_clones_share_an_id() {
    let w = param(&[2.0]);
    assert_eq!(w.clone().id(), w.id());
    assert_ne!(param(&[2.0]).id(), w.id());
    let seed = Tensor::from_vec(vec![1.0f64], [1], &Device::Cpu).unwrap();
    let mut named = Vec::new();
    w.backward_hooked(Some(&seed), false, &mut |id| named.push(id)).unwrap();
    assert_eq!(named, vec![w.id()]);
}

#[test]
fn a_kept_graph_names_the_leaves_again_on_the_next_pass() {
    let w = param(&[3.0]);
    let loss = w.square().unwrap().sum_all().unwrap();
    let mut named = 0;
    loss.backward_hooked(None, true, &mut |_| named += 1).unwrap();
    loss.backward_hooked(None, false, &mut |_| named += 1).unwrap();
    assert_eq!(named, 2);
    assert_eq!(w.grad().unwrap().to_vec::<f64>().unwrap(), vec![12.0]);
}
