//! The Trainer through a task and data of one's own: the loop calls the task's hooks in order,
//! logs its metrics, derived metrics, evaluation sets and throughput, and learns.

use std::sync::{Arc, Mutex};
use tessera_autograd::Var;
use tessera_nn::{loss, Linear, Module};
use tessera_tensor::{DType, Device, Generator, Tensor};
use tessera_train::optim::{Optimizer, OptimizerKind, Sgd};
use tessera_train::{Batches, BoxedBatches, FitConfig, FitData, FitPlan, Metrics, Pass, Result, Step, Task, Trainer};

/// Fits `y = 2x + 1` with a 1 -> 1 linear layer; records every pass it is told about.
struct Regression<'m> {
    model: &'m Linear,
    passes: Arc<Mutex<Vec<Pass>>>,
}

impl Task for Regression<'_> {
    type Batch = (Tensor, Tensor);
    const UNIT: &'static str = "pt";
    const THROUGHPUT: Option<&'static str> = Some("points_per_sec");

    fn module(&self) -> &dyn Module {
        self.model
    }

    fn begin(&mut self, pass: Pass) {
        self.passes.lock().unwrap().push(pass);
    }

    fn step(&mut self, (x, y): &(Tensor, Tensor)) -> Result<Step> {
        let pred = self.model.forward(&Var::constant(x.clone()))?;
        let loss = loss::mse(&pred, &Var::constant(y.clone()), loss::Reduction::Mean)?;
        let err = pred.tensor().sub(y)?.abs()?.to_vec_f64()?.into_iter().fold(0.0, f64::max);
        Ok(Step { loss, weight: x.dims()[0] as f64, metrics: vec![("max_error".into(), err)] })
    }

    fn derived(&self, metrics: &mut Metrics) {
        if let Some(&l) = metrics.get("loss") {
            metrics.insert("rmse".into(), l.sqrt());
        }
    }
}

/// Batches of points, in the same order every epoch.
#[derive(Clone)]
struct Points(Vec<(Tensor, Tensor)>);

impl Points {
    fn new(xs: &[f32]) -> Points {
        let batch = |c: &[f32]| {
            let x = Tensor::from_slice(c, [c.len(), 1], &Device::Cpu).unwrap();
            let y = Tensor::from_vec(c.iter().map(|v| 2.0 * v + 1.0).collect::<Vec<f32>>(), [c.len(), 1], &Device::Cpu);
            (x, y.unwrap())
        };
        Points(xs.chunks(4).map(batch).collect())
    }
}

impl Batches for Points {
    type Batch = (Tensor, Tensor);

    fn batches_per_epoch(&self) -> usize {
        self.0.len()
    }

    fn epoch(&self, _index: usize) -> Box<dyn Iterator<Item = Result<(Tensor, Tensor)>> + '_> {
        Box::new(self.0.iter().cloned().map(Ok))
    }
}

struct Data {
    train: Points,
    holdout: Points,
}

impl FitData for Data {
    type Batch = (Tensor, Tensor);

    fn plan(&self, _cfg: &FitConfig) -> Result<FitPlan<(Tensor, Tensor)>> {
        let holdout: BoxedBatches<_> = Box::new(self.holdout.clone());
        Ok(FitPlan { train: Box::new(self.train.clone()), eval: vec![("holdout".into(), holdout)] })
    }
}

#[test]
fn a_task_of_ones_own_is_trained_with_its_hooks_and_metrics() {
    let model = Linear::new(&mut Generator::new(0), 1, 1, DType::F32, &Device::Cpu).unwrap();
    let passes = Arc::new(Mutex::new(Vec::new()));
    let task = Regression { model: &model, passes: passes.clone() };
    let sgd = Optimizer::new(model.parameters(), OptimizerKind::Sgd(Sgd { lr: 0.1, ..Sgd::default() })).unwrap();
    let mut trainer = Trainer::with_task(task, sgd);
    let xs: Vec<f32> = (0..32).map(|i| i as f32 / 16.0 - 1.0).collect();
    let data = Data { train: Points::new(&xs), holdout: Points::new(&[-0.9, 0.1, 0.7]) };
    let cfg = FitConfig { epochs: 30, seed: 5, top_k: Some(2), progress: false, ..FitConfig::default() };
    let history = trainer.fit_from(&data, &cfg, 27).unwrap();

    let expected: Vec<Pass> =
        (28..=30).flat_map(|epoch| [Pass::Train { epoch, seed: 5 }, Pass::Eval { top_k: Some(2) }]).collect();
    assert_eq!(*passes.lock().unwrap(), expected, "resuming after 27 epochs runs epochs 28 to 30");
    let logs = &history.epochs[2];
    assert_eq!(logs.epoch, 30);
    for key in ["loss", "rmse", "max_error", "holdout_loss", "holdout_rmse", "holdout_max_error", "lr", "seconds"] {
        assert!(logs.get(key).is_some(), "{key} missing from {logs:?}");
    }
    assert!(logs.get("points_per_sec").unwrap() > 0.0);
    assert!((logs.get("rmse").unwrap() - logs.get("loss").unwrap().sqrt()).abs() < 1e-12);
    assert!(history.epochs[0].get("loss").unwrap() > logs.get("loss").unwrap(), "the loss falls");

    let more = FitConfig { epochs: 300, ..cfg };
    trainer.fit(&data, &more).unwrap();
    let fitted = trainer.evaluate_on(&data.holdout, None).unwrap();
    assert!(fitted["max_error"] < 0.05, "y = 2x + 1 is learnt: {fitted:?}");
}
