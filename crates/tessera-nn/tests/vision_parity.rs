//! The vision layers against PyTorch: outputs, every gradient and the running statistics after a
//! training forward (`fixtures/make_vision_fixtures.py` made `fixtures/vision.safetensors`,
//! float64), and the Keras convnet's state dict loaded by PyTorch's names.

use tessera_autograd::Var;
use tessera_nn::*;
use tessera_tensor::{AvgPool2dSpec, Conv2dSpec, ConvTranspose2dSpec, DType, Device, Generator, MaxPool2dSpec};

mod common;
use common::{close, Fixtures};

const F64: DType = DType::F64;
const CPU: Device = Device::Cpu;

fn fixtures() -> Fixtures {
    Fixtures::load("vision.safetensors")
}

/// Loads the case's parameters and buffers, runs the layer, checks output and gradients, then the
/// buffers against PyTorch's after its forward.
fn run_case(f: &Fixtures, case: &str, layer: &dyn Module, training: bool) {
    f.load_params(case, layer);
    for (n, b) in layer.buffers() {
        b.set(f.get(&format!("{case}.before.{n}")).to_dtype(b.get().dtype()).unwrap());
    }
    layer.set_training(training);
    let x = f.input(case, 0);
    let out = layer.forward(&x).unwrap();
    f.check(case, &out, &layer.parameters(), &[x]);
    for (n, b) in layer.buffers() {
        close(case, &n, &b.get(), &f.get(&format!("{case}.buffer.{n}")));
    }
}

fn conv(shape: ConvShape, spec: Conv2dSpec) -> Conv2d {
    Conv2d::new(&mut Generator::new(0), shape, spec, F64, &CPU).unwrap()
}

#[test]
fn convolutions_match_pytorch() {
    let f = fixtures();
    let grouped = Conv2dSpec { stride: [2, 2], padding: [1, 1], groups: 2, ..Conv2dSpec::default() };
    run_case(&f, "conv_grouped", &conv(ConvShape::new(4, 6, 3), grouped), true);
    let dilated = Conv2dSpec { dilation: [2, 1], padding: [2, 0], ..Conv2dSpec::default() };
    let shape = ConvShape { in_channels: 3, out_channels: 5, kernel: [3, 2], bias: false };
    run_case(&f, "conv_dilated_no_bias", &conv(shape, dilated), true);
    let spec =
        ConvTranspose2dSpec { stride: [2, 2], padding: [1, 1], output_padding: [1, 1], dilation: [1, 1], groups: 2 };
    let t = ConvTranspose2d::new(&mut Generator::new(0), ConvShape::new(4, 6, 3), spec, F64, &CPU).unwrap();
    run_case(&f, "conv_transpose", &t, true);
}

#[test]
fn pooling_matches_pytorch() {
    let f = fixtures();
    let max = MaxPool2dSpec { stride: [2, 2], padding: [1, 1], ..MaxPool2dSpec::new([3, 3]) };
    run_case(&f, "max_pool", &MaxPool2d::new(max), true);
    let ceil = MaxPool2dSpec { dilation: [2, 2], ceil_mode: true, ..MaxPool2dSpec::new([2, 2]) };
    run_case(&f, "max_pool_ceil_dilated", &MaxPool2d::new(ceil), true);
    let avg = AvgPool2dSpec {
        stride: [2, 2],
        padding: [1, 1],
        ceil_mode: true,
        count_include_pad: false,
        ..AvgPool2dSpec::new([3, 3])
    };
    run_case(&f, "avg_pool", &AvgPool2d::new(avg), true);
    let divisor = AvgPool2dSpec { divisor_override: Some(3), ..AvgPool2dSpec::new([2, 2]) };
    run_case(&f, "avg_pool_divisor", &AvgPool2d::new(divisor), true);
    run_case(&f, "adaptive_avg_pool", &AdaptiveAvgPool2d::new([3, 2]), true);
    run_case(&f, "flatten", &Flatten::new(), true);
}

#[test]
fn batch_norm_matches_pytorch_in_training_and_evaluation() {
    let f = fixtures();
    let bn2 = || BatchNorm::new_2d(3, BatchNormConfig::default(), F64, &CPU).unwrap();
    run_case(&f, "batch_norm_2d_train", &bn2(), true);
    run_case(&f, "batch_norm_2d_eval", &bn2(), false);
    let cumulative = BatchNormConfig { momentum: None, ..BatchNormConfig::default() };
    run_case(&f, "batch_norm_1d_train", &BatchNorm::new_1d(5, cumulative, F64, &CPU).unwrap(), true);
    let plain = BatchNormConfig { affine: false, ..BatchNormConfig::default() };
    run_case(&f, "batch_norm_1d_seq_train", &BatchNorm::new_1d(3, plain, F64, &CPU).unwrap(), true);
}

#[test]
fn the_keras_convnet_loads_pytorchs_state_dict_and_agrees() {
    let (f, g) = (fixtures(), &mut Generator::new(0));
    let bn = |c| BatchNorm::new_2d(c, BatchNormConfig::default(), F64, &CPU).unwrap();
    let net = Sequential::new()
        .add(Unflatten::new(1, [1, 8, 8]))
        .add(Conv2d::new(g, ConvShape::new(1, 32, 3), Conv2dSpec::default(), F64, &CPU).unwrap())
        .add(bn(32))
        .add(Relu)
        .add(Conv2d::new(g, ConvShape::new(32, 64, 3), Conv2dSpec::default(), F64, &CPU).unwrap())
        .add(bn(64))
        .add(Relu)
        .add(MaxPool2d::new(MaxPool2dSpec::new([2, 2])))
        .add(Dropout::new(0.25, 0).unwrap())
        .add(Flatten::new())
        .add(Linear::new(g, 256, 128, F64, &CPU).unwrap())
        .add(Relu)
        .add(Dropout::new(0.5, 0).unwrap())
        .add(Linear::new(g, 128, 10, F64, &CPU).unwrap())
        .add(Softmax { dim: -1 });
    let mut theirs: Vec<String> =
        f.0.keys().filter_map(|k| k.strip_prefix("convnet.state.")).map(str::to_string).collect();
    let mut ours: Vec<String> = net.state_entries().into_iter().map(|(n, _)| n).collect();
    theirs.sort();
    ours.sort();
    assert_eq!(ours, theirs, "state dict names");
    for (n, entry) in net.state_entries() {
        entry.load(&f.get(&format!("convnet.state.{n}"))).unwrap();
    }
    net.set_training(false);
    let out = net.forward(&Var::constant(f.get("convnet.in.0"))).unwrap();
    close("convnet", "output", out.tensor(), &f.get("convnet.out"));
}
