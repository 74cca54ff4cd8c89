//! `#[derive(Module)]`: PyTorch's dotted names through nested structs, `Vec`, `Option`, boxed and
//! generic fields; skipped fields; train/eval mode reaching every child; parameter maps and
//! device moves that keep the parameters shared.

use tessera_autograd::Var;
use tessera_nn::{Dropout, Linear, Module, ModuleParts, Part, Relu, Result, Sequential};
use tessera_tensor::{DType, Device, Generator, Tensor};

fn linear(g: &mut Generator, i: usize, o: usize) -> Linear {
    Linear::new(g, i, o, DType::F32, &Device::Cpu).unwrap()
}

#[derive(Module)]
struct Block {
    fc: Linear,
    drop: Dropout,
}

impl Module for Block {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.drop.forward(&self.fc.forward(x)?)
    }
}

#[derive(Module)]
struct Encoder {
    layers: Vec<Block>,
    norm_scale: Var,
}

impl Module for Encoder {
    fn forward(&self, x: &Var) -> Result<Var> {
        let mut x = x.clone();
        for b in &self.layers {
            x = b.forward(&x)?;
        }
        Ok(x.mul(&self.norm_scale)?)
    }
}

#[derive(Module)]
struct Model {
    encoder: Encoder,
    head: Option<Linear>,
    no_head: Option<Linear>,
    extra: Vec<Box<dyn Module>>,
    #[module(skip)]
    label: String,
    #[module(skip)]
    _cache: Vec<f64>,
}

impl Module for Model {
    fn forward(&self, x: &Var) -> Result<Var> {
        let x = self.encoder.forward(x)?;
        match &self.head {
            Some(h) => h.forward(&x),
            None => Ok(x),
        }
    }
}

fn model(dropout: f64) -> Model {
    let mut g = Generator::new(1);
    let block = |g: &mut Generator, i, o| Block { fc: linear(g, i, o), drop: Dropout::new(dropout, 7).unwrap() };
    Model {
        encoder: Encoder {
            layers: vec![block(&mut g, 4, 6), block(&mut g, 6, 6)],
            norm_scale: Var::param(Tensor::ones([6], DType::F32, &Device::Cpu).unwrap()).unwrap(),
        },
        head: Some(linear(&mut g, 6, 3)),
        no_head: None,
        extra: vec![Box::new(Relu), Box::new(Sequential::new().add(linear(&mut g, 3, 2)))],
        label: "test".into(),
        _cache: vec![],
    }
}

fn names(m: &dyn Module) -> Vec<String> {
    m.parameters().into_iter().map(|(n, _)| n).collect()
}

#[test]
fn parameters_have_pytorch_dotted_names_in_field_order() {
    let m = model(0.0);
    assert_eq!(
        names(&m),
        [
            "encoder.layers.0.fc.weight",
            "encoder.layers.0.fc.bias",
            "encoder.layers.1.fc.weight",
            "encoder.layers.1.fc.bias",
            "encoder.norm_scale",
            "head.weight",
            "head.bias",
            "extra.1.0.weight",
            "extra.1.0.bias",
        ]
    );
    assert_eq!(m.parameter_count(), 4 * 6 + 6 + 6 * 6 + 6 + 6 + 6 * 3 + 3 + 3 * 2 + 2);
    assert_eq!(m.label, "test");
    // The parameters are the fields' own variables, not copies.
    assert!(
        m.parameters()[5].1.tensor().to_vec::<f32>().unwrap()
            == m.head.as_ref().unwrap().weight().to_vec::<f32>().unwrap()
    );
}

#[test]
fn children_are_the_module_fields_and_describe_defaults_to_the_type_name() {
    let m = model(0.0);
    let children: Vec<(String, String)> = m.children().into_iter().map(|(n, c)| (n, c.describe())).collect();
    let expect =
        [("encoder", "Encoder"), ("head", "Linear(6 -> 3)"), ("extra.0", "Relu"), ("extra.1", "Sequential(1 layers)")];
    assert_eq!(children, expect.map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!(m.describe(), "Model");
    let parts = m.encoder.parts();
    assert!(matches!(parts[0].1, Part::Module(_)) && matches!(parts[2].1, Part::Parameter(_)));
    assert_eq!(parts.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["layers.0", "layers.1", "norm_scale"]);
}

#[test]
fn set_training_reaches_dropout_inside_vec_elements() {
    let m = model(0.5);
    let x = Var::constant(Tensor::ones([64, 6], DType::F32, &Device::Cpu).unwrap());
    let zeros =
        |b: &Block| b.drop.forward(&x).unwrap().tensor().to_vec::<f32>().unwrap().iter().filter(|v| **v == 0.0).count();
    assert!(m.encoder.layers.iter().all(|b| zeros(b) > 0), "training mode drops some values");
    m.set_training(false);
    assert!(m.encoder.layers.iter().all(|b| zeros(b) == 0), "evaluation mode keeps every value");
    m.set_training(true);
    assert!(zeros(&m.encoder.layers[1]) > 0);
}

#[test]
fn map_parameters_replaces_every_parameter_with_its_name() {
    let mut m = model(0.0);
    let mut seen = Vec::new();
    m.map_parameters(&mut |name, p| {
        seen.push(name.to_string());
        Ok(Var::param(p.tensor().to_dtype(DType::F64)?)?)
    })
    .unwrap();
    assert_eq!(seen, names(&m));
    assert!(m.parameters().iter().all(|(_, p)| p.tensor().dtype() == DType::F64));
    let x = Var::constant(Tensor::ones([2, 4], DType::F64, &Device::Cpu).unwrap());
    assert_eq!(m.forward(&x).unwrap().dims(), [2, 3]);
}

#[test]
fn moving_to_the_device_the_parameters_are_on_keeps_them_shared() {
    let mut m = model(0.0);
    let before = m.parameters();
    m.to_device_(&Device::Cpu).unwrap();
    // An update through the variables held before the move is seen by the model.
    before[0].1.tensor().assign_(&Tensor::zeros([6, 4], DType::F32, &Device::Cpu).unwrap()).unwrap();
    assert!(m.parameters()[0].1.tensor().to_vec::<f32>().unwrap().iter().all(|v| *v == 0.0));
}

#[test]
fn moving_to_a_gpu_moves_every_parameter_when_one_is_present() {
    let Ok(gpu) = Device::cuda(0) else {
        eprintln!("no CUDA device: skipping the move to a GPU");
        return;
    };
    let mut m = model(0.0);
    m.to_device_(&gpu).unwrap();
    assert!(m.parameters().iter().all(|(_, p)| *p.device() == gpu && p.requires_grad()));
    let x = Var::constant(Tensor::ones([2, 4], DType::F32, &gpu).unwrap());
    let y = m.forward(&x).unwrap();
    assert_eq!(y.dims(), [2, 3]);
    y.sum_all().unwrap().backward().unwrap();
    assert!(m.parameters().iter().all(|(_, p)| p.grad().is_some()));
}

/// A generic model: the derive bounds `M` by what a field needs.
#[derive(Module)]
struct Residual<M>(M, #[module(skip)] f64);

impl<M: Module> Module for Residual<M> {
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(self.0.forward(x)?.scale(self.1)?.add(x)?)
    }
}

#[test]
fn tuple_and_generic_structs_name_fields_by_index() {
    let r = Residual(linear(&mut Generator::new(0), 4, 4), 0.5);
    assert_eq!(names(&r), ["0.weight", "0.bias"]);
    let x = Var::constant(Tensor::ones([1, 4], DType::F32, &Device::Cpu).unwrap());
    assert_eq!(r.forward(&x).unwrap().dims(), [1, 4]);
}
