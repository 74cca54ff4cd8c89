//! How a configuration is trained: its training keys (learning rate, batch size, epochs,
//! optimizer, weight decay, L1 and L2 penalties) over the caller's defaults.

use super::space::{Config, Value};
use crate::optim::{matrices_and_embeddings, Adam, Optimizer, OptimizerKind, Penalty, Sgd};
use crate::{Error, Result};
use tessera_nn::Parameters;

/// The optimizers a search chooses among.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerChoice {
    /// Plain stochastic gradient descent.
    Sgd,
    /// Adam (weight decay as an L2 term).
    Adam,
    /// AdamW (decoupled weight decay).
    AdamW,
}

impl OptimizerChoice {
    /// `sgd`, `adam` or `adamw`.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerChoice::Sgd => "sgd",
            OptimizerChoice::Adam => "adam",
            OptimizerChoice::AdamW => "adamw",
        }
    }

    fn from_name(name: &str) -> Option<OptimizerChoice> {
        [OptimizerChoice::Sgd, OptimizerChoice::Adam, OptimizerChoice::AdamW].into_iter().find(|o| o.name() == name)
    }
}

/// How one configuration trains: the values of its training keys, the defaults for the keys it
/// does not set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainSettings {
    /// Learning rate (`lr`).
    pub lr: f64,
    /// Examples per optimizer step (`batch_size`).
    pub batch_size: usize,
    /// Passes over the training data (`epochs`).
    pub epochs: usize,
    /// Weight decay (`weight_decay`); `None` takes the optimizer's default (0 for sgd and
    /// adam, 0.01 for adamw, as in PyTorch).
    pub weight_decay: Option<f64>,
    /// The optimizer (`optimizer`).
    pub optimizer: OptimizerChoice,
    /// L1 and L2 penalties on the weights, not the biases (`l1`, `l2`; Keras' convention, see
    /// [`Penalty`]).
    pub penalty: Penalty,
}

impl Default for TrainSettings {
    /// `tessera train mlp`'s: Adam at 1e-3, batches of 32, 10 epochs.
    fn default() -> Self {
        TrainSettings {
            lr: 1e-3,
            batch_size: 32,
            epochs: 10,
            weight_decay: None,
            optimizer: OptimizerChoice::Adam,
            penalty: Penalty::default(),
        }
    }
}

impl TrainSettings {
    /// These settings with the training keys `config` sets in their place (other keys, a
    /// model's own, are left to the model's builder). A training key holding a value of the
    /// wrong type is an error naming it.
    pub fn with(&self, config: &Config) -> Result<TrainSettings> {
        let mut s = *self;
        for &(key, value) in config.values() {
            let wrong = |want: &str| Error::SearchSpace(format!("key `{key}` holds `{value}`, not {want}"));
            match (key, value) {
                ("lr", Value::Number(x)) => s.lr = x,
                ("weight_decay", Value::Number(x)) => s.weight_decay = Some(x),
                ("l1", Value::Number(x)) => s.penalty.l1 = x,
                ("l2", Value::Number(x)) => s.penalty.l2 = x,
                ("batch_size", Value::Count(n)) => s.batch_size = n,
                ("epochs", Value::Count(n)) => s.epochs = n,
                ("optimizer", Value::Word(w)) => {
                    s.optimizer = OptimizerChoice::from_name(w).ok_or_else(|| wrong("sgd, adam or adamw"))?
                }
                ("lr" | "weight_decay" | "l1" | "l2", _) => return Err(wrong("a number")),
                ("batch_size" | "epochs", _) => return Err(wrong("a whole number")),
                ("optimizer", _) => return Err(wrong("sgd, adam or adamw")),
                _ => {}
            }
        }
        Ok(s)
    }

    /// The optimizer these settings describe, with PyTorch's defaults for the rest.
    pub fn optimizer_kind(&self) -> OptimizerKind {
        match self.optimizer {
            OptimizerChoice::Sgd => OptimizerKind::Sgd(Sgd {
                lr: self.lr,
                weight_decay: self.weight_decay.unwrap_or(0.0),
                ..Sgd::default()
            }),
            OptimizerChoice::Adam => OptimizerKind::Adam(Adam {
                lr: self.lr,
                weight_decay: self.weight_decay.unwrap_or(0.0),
                ..Adam::default()
            }),
            OptimizerChoice::AdamW => {
                let adamw = Adam::adamw();
                OptimizerKind::Adam(Adam {
                    lr: self.lr,
                    weight_decay: self.weight_decay.unwrap_or(adamw.weight_decay),
                    ..adamw
                })
            }
        }
    }

    /// An optimizer over `params` with these settings: [`TrainSettings::optimizer_kind`], and
    /// the penalty on the parameters of two or more dims (weights, not biases: see
    /// [`matrices_and_embeddings`]) when there is one.
    pub fn optimizer(&self, params: Parameters) -> Result<Optimizer> {
        let optimizer = Optimizer::new(params, self.optimizer_kind())?;
        if self.penalty.is_zero() {
            return Ok(optimizer);
        }
        optimizer.with_penalty(self.penalty, matrices_and_embeddings)
    }

    /// As JSON, for run folders: `{"lr": ..., "batch_size": ..., "epochs": ..., "optimizer":
    /// ..., "weight_decay": ..., "l1": ..., "l2": ...}` (the weight decay the optimizer applies).
    pub fn to_json(&self) -> serde_json::Value {
        let weight_decay = match self.optimizer_kind() {
            OptimizerKind::Sgd(s) => s.weight_decay,
            OptimizerKind::Adam(a) => a.weight_decay,
            OptimizerKind::RmsProp(r) => r.weight_decay,
        };
        serde_json::json!({ "lr": self.lr, "batch_size": self.batch_size, "epochs": self.epochs,
            "optimizer": self.optimizer.name(), "weight_decay": weight_decay, "l1": self.penalty.l1,
            "l2": self.penalty.l2 })
    }
}

#[cfg(test)]
mod tests {
    use super::super::space::{SearchSpace, DROPOUT, TRAINING_KEYS};
    use super::*;

    #[test]
    fn keys_override_the_defaults_and_others_pass_through() {
        let keys = [TRAINING_KEYS, &[DROPOUT]].concat();
        let spec = "lr=0.1 batch_size=8 epochs=3 optimizer=sgd weight_decay=0.5 dropout=0.2 l1=0 l2=1e-4";
        let space = SearchSpace::parse(spec, &keys);
        let s = TrainSettings::default().with(&space.unwrap().config(0)).unwrap();
        let want = TrainSettings {
            lr: 0.1,
            batch_size: 8,
            epochs: 3,
            weight_decay: Some(0.5),
            optimizer: OptimizerChoice::Sgd,
            penalty: Penalty { l1: 0.0, l2: 1e-4 },
        };
        assert_eq!(s, want);
        assert_eq!(s.optimizer_kind(), OptimizerKind::Sgd(Sgd { lr: 0.1, weight_decay: 0.5, ..Sgd::default() }));
        assert_eq!(TrainSettings::default().with(&Config::new(vec![])).unwrap(), TrainSettings::default());
    }

    #[test]
    fn adamw_keeps_its_own_default_decay() {
        let s = TrainSettings { optimizer: OptimizerChoice::AdamW, lr: 0.01, ..TrainSettings::default() };
        assert_eq!(s.optimizer_kind(), OptimizerKind::Adam(Adam { lr: 0.01, ..Adam::adamw() }));
        assert_eq!(s.to_json()["weight_decay"], 0.01);
        let adam = TrainSettings::default().optimizer_kind();
        assert_eq!(adam, OptimizerKind::Adam(Adam::default()));
    }

    #[test]
    fn a_training_key_of_the_wrong_type_is_refused() {
        let c = Config::new(vec![("lr", Value::Word("adam"))]);
        let e = TrainSettings::default().with(&c).unwrap_err().to_string();
        assert_eq!(e, "search space: key `lr` holds `adam`, not a number");
    }

    #[test]
    fn a_penalty_reaches_the_weights_not_the_biases() {
        let model = crate::models::mlp_classifier(0, 3, 2, &tessera_tensor::Device::Cpu).unwrap();
        let params = || tessera_nn::Module::parameters(&model);
        let penalised = TrainSettings { penalty: Penalty { l1: 0.5, l2: 0.0 }, ..TrainSettings::default() };
        let with = penalised.optimizer(params()).unwrap();
        let without = TrainSettings::default().optimizer(params()).unwrap();
        let weights: f64 = params()
            .iter()
            .filter(|(_, p)| p.rank() >= 2)
            .map(|(_, p)| p.tensor().abs().unwrap().sum_all().unwrap().to_scalar_f64().unwrap())
            .sum();
        assert!((with.penalty_value().unwrap() - 0.5 * weights).abs() < 1e-3 * weights);
        assert_eq!(without.penalty_value().unwrap(), 0.0);
        assert_eq!(penalised.to_json()["l1"], 0.5);
    }
}
