//! Every layer and loss against PyTorch: forward outputs and gradients for fixed weights and
//! inputs (`fixtures/make_fixtures.py` made `fixtures/layers.safetensors` with PyTorch, float64).

use std::collections::BTreeMap;
use std::path::Path;
use tessera_autograd::Var;
use tessera_nn::loss::{self, CrossEntropy, Reduction};
use tessera_nn::state_dict::read_safetensors;
use tessera_nn::*;
use tessera_tensor::{DType, Device, Generator, Tensor};

mod common;
use common::{close, Fixtures};

fn rng() -> Generator {
    Generator::new(0)
}

const F64: DType = DType::F64;
const CPU: Device = Device::Cpu;

fn check_module(f: &Fixtures, case: &str, module: &dyn Module) {
    f.load_params(case, module);
    let x = f.input(case, 0);
    let out = module.forward(&x).unwrap();
    f.check(case, &out, &module.parameters(), &[x]);
}

#[test]
fn linear_matches_pytorch() {
    let f = Fixtures::load("layers.safetensors");
    check_module(&f, "linear", &Linear::new(&mut rng(), 5, 3, F64, &CPU).unwrap());
    check_module(&f, "linear3d", &Linear::new(&mut rng(), 5, 3, F64, &CPU).unwrap());
}

#[test]
fn embedding_with_padding_matches_pytorch() {
    let f = Fixtures::load("layers.safetensors");
    let e = Embedding::new(&mut rng(), 10, 4, Some(1), F64, &CPU).unwrap();
    // Our own initialisation zeroes the padding row, as PyTorch's does.
    assert!(e.weight().tensor().narrow(0, 1, 1).unwrap().to_vec::<f64>().unwrap().iter().all(|&v| v == 0.0));
    f.load_params("embedding", &e);
    let ids = Var::constant(f.get("embedding.in.0"));
    let out = e.forward(&ids).unwrap();
    f.check("embedding", &out, &e.parameters(), &[]);
}

#[test]
fn lstm_with_initial_state_matches_pytorch() {
    let f = Fixtures::load("layers.safetensors");
    let lstm = Lstm::new(&mut rng(), 4, 6, 2, true, F64, &CPU).unwrap();
    f.load_params("lstm", &lstm);
    let (x, h, c) = (f.input("lstm", 0), f.input("lstm", 1), f.input("lstm", 2));
    let (out, state) = lstm.forward_with_state(&x, Some(&LstmState { h: h.clone(), c: c.clone() })).unwrap();
    close("lstm", "h_n", state.h.tensor(), &f.get("lstm.out.0"));
    close("lstm", "c_n", state.c.tensor(), &f.get("lstm.out.1"));
    f.check("lstm", &out, &lstm.parameters(), &[x, h, c]);
}

#[test]
fn gru_matches_pytorch() {
    let f = Fixtures::load("layers.safetensors");
    let gru = Gru::new(&mut rng(), 4, 5, 2, false, F64, &CPU).unwrap();
    f.load_params("gru", &gru);
    let (x, h) = (f.input("gru", 0), f.input("gru", 1));
    let (out, hn) = gru.forward_with_state(&x, Some(&h)).unwrap();
    close("gru", "h_n", hn.tensor(), &f.get("gru.out.0"));
    f.check("gru", &out, &gru.parameters(), &[x, h]);
}

#[test]
fn layer_norm_and_activations_match_pytorch() {
    let f = Fixtures::load("layers.safetensors");
    check_module(&f, "layer_norm", &LayerNorm::new(6, 1e-5, F64, &CPU).unwrap());
    check_module(&f, "gelu", &Gelu { tanh_approximation: false });
    check_module(&f, "gelu_tanh", &Gelu { tanh_approximation: true });
    check_module(&f, "softmax", &Softmax { dim: -1 });
    check_module(&f, "log_softmax", &LogSoftmax { dim: -1 });
}

fn check_loss(f: &Fixtures, case: &str, loss: impl Fn(&Var, &Var) -> tessera_nn::Result<Var>) {
    let (a, b) = (f.input(case, 0), f.input(case, 1));
    let out = loss(&a, &b).unwrap();
    f.check(case, &out, &[], &[a, b]);
}

#[test]
fn losses_match_pytorch() {
    let f = Fixtures::load("layers.safetensors");
    let ce = |cfg: CrossEntropy| move |x: &Var, t: &Var| loss::cross_entropy(x, t, &cfg);
    check_loss(&f, "ce", ce(CrossEntropy::default()));
    check_loss(
        &f,
        "ce_smooth_ignore",
        ce(CrossEntropy { ignore_index: Some(-100), label_smoothing: 0.1, ..Default::default() }),
    );
    check_loss(&f, "ce_sum", ce(CrossEntropy { reduction: Reduction::Sum, ..Default::default() }));
    check_loss(&f, "ce_none", ce(CrossEntropy { reduction: Reduction::None, ..Default::default() }));
    check_loss(&f, "nll", |x, t| loss::nll(x, t, &CrossEntropy::default()));
    check_loss(&f, "mse", |a, b| loss::mse(a, b, Reduction::Mean));
    check_loss(&f, "bce_logits", |a, b| loss::binary_cross_entropy_with_logits(a, b, Reduction::Mean));
    check_loss(&f, "sparse_cce", loss::sparse_categorical_crossentropy);
}

#[test]
fn state_dict_saved_by_pytorch_loads_and_gives_its_outputs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut g = rng();
    let mlp = Sequential::new()
        .add(Linear::new(&mut g, 4, 8, DType::F32, &CPU).unwrap())
        .add(Relu)
        .add(Linear::new(&mut g, 8, 3, DType::F32, &CPU).unwrap());
    state_dict::load(&mlp, &dir.join("mlp_state.safetensors")).unwrap();
    let io: BTreeMap<String, Tensor> =
        read_safetensors(&dir.join("mlp_io.safetensors")).unwrap().0.into_iter().collect();
    let out = mlp.forward(&Var::constant(io["input"].clone())).unwrap();
    let (a, b) = (out.tensor().to_vec::<f32>().unwrap(), io["output"].to_vec::<f32>().unwrap());
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-6, "{a:?} vs {b:?}");
    }
}
