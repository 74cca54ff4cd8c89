//! [`Tuner`]: trains a fresh model per configuration and fold with the [`Trainer`], scores it
//! on the fold's held-out examples, ranks the configurations, and retrains the best one on all
//! the training data.

use super::folds::{class_labels, Resampling};
use super::rank::{ConfigScore, FoldScore, Leaderboard};
use super::settings::TrainSettings;
use super::space::Config;
use crate::data::{Dataset, TensorDataset};
use crate::optim::Optimizer;
use crate::{Error, Evaluation, FitConfig, History, LossFn, Result, Supervised, Trainer, Validation};
use std::sync::Arc;
use tessera_autograd::Var;
use tessera_nn::Module;

/// Builds a fresh model for a configuration: the caller's half of a search (the configuration
/// holds the model's own keys, such as `dropout`; the settings how it will be trained).
pub type ModelBuilder<'a> = Box<dyn FnMut(&Config, &TrainSettings) -> Result<Box<dyn Module>> + 'a>;

type SharedLoss = Arc<dyn Fn(&Var, &Var) -> tessera_nn::Result<Var> + Send + Sync>;
type FoldHook<'a> = Box<dyn FnMut(&FoldReport<'_>) + 'a>;

/// What [`Tuner::cross_validate`] reports after each fold, for progress output.
#[derive(Debug, Clone, Copy)]
pub struct FoldReport<'r> {
    /// The configuration.
    pub config: &'r Config,
    /// Its position among the configurations (from 1).
    pub index: usize,
    /// The number of configurations.
    pub configs: usize,
    /// The fold (from 1).
    pub fold: usize,
    /// The number of folds.
    pub folds: usize,
    /// The model's score on the fold's held-out examples.
    pub score: FoldScore,
}

/// The best configuration retrained on all the training data.
pub struct Retrained {
    /// The trained model.
    pub model: Box<dyn Module>,
    /// How it was trained.
    pub settings: TrainSettings,
    /// Its training history.
    pub history: History,
    /// Its loss and accuracy on the test data, when given.
    pub test: Option<Evaluation>,
}

/// A hyperparameter search over classifiers: for every configuration and every fold of a
/// [`Resampling`], a fresh model from the caller's builder, trained with the [`Trainer`] on the
/// fold's training part and scored (accuracy, loss) on its held-out part.
///
/// ```
/// use tessera_tensor::{Device, Tensor};
/// use tessera_train::data::TensorDataset;
/// use tessera_train::models::mlp_classifier;
/// use tessera_train::tune::{Resampling, SearchSpace, Tuner, TRAINING_KEYS};
/// use tessera_train::Trainer;
/// // Two classes: the sign of the first input.
/// let x: Vec<f32> = (0..40).flat_map(|i| [i as f32 / 10.0 - 2.0, 1.0]).collect();
/// let y: Vec<u32> = (0..40).map(|i| (i >= 20) as u32).collect();
/// let data = TensorDataset::new(Tensor::from_vec(x, [40, 2], &Device::Cpu)?, Tensor::from_vec(y, [40], &Device::Cpu)?)?;
/// let space = SearchSpace::parse("lr=0.05,1e-5 epochs=5", TRAINING_KEYS)?;
/// let mut tuner = Tuner::new(
///     |_config, _settings| Ok(Box::new(mlp_classifier(0, 2, 2, &Device::Cpu)?) as _),
///     tessera_nn::loss::sparse_categorical_crossentropy,
/// )
/// .progress(false);
/// let board = tuner.cross_validate(&data, &space.grid()?, Resampling::KFold(2))?;
/// let best = board.best().expect("a configuration trained");
/// assert_eq!(best.config.to_string(), "lr=0.05 epochs=5");
/// let retrained = tuner.retrain(&best.config, &data, Some(&data), |task, opt| Trainer::with_task(task, opt))?;
/// assert!(retrained.test.unwrap().accuracy.unwrap() > 0.9);
/// # Ok::<(), tessera_train::Error>(())
/// ```
pub struct Tuner<'a> {
    build: ModelBuilder<'a>,
    loss: SharedLoss,
    defaults: TrainSettings,
    seed: u64,
    progress: bool,
    on_fold: Option<FoldHook<'a>>,
}

impl<'a> Tuner<'a> {
    /// A search whose models come from `build` and train with `loss` (predictions and integer
    /// class targets to a scalar); [`TrainSettings::default`] for the training keys a
    /// configuration does not set, seed 0, progress shown.
    pub fn new(
        build: impl FnMut(&Config, &TrainSettings) -> Result<Box<dyn Module>> + 'a,
        loss: impl Fn(&Var, &Var) -> tessera_nn::Result<Var> + Send + Sync + 'static,
    ) -> Self {
        Tuner {
            build: Box::new(build),
            loss: Arc::new(loss),
            defaults: TrainSettings::default(),
            seed: 0,
            progress: true,
            on_fold: None,
        }
    }

    /// The settings of the training keys a configuration does not set.
    pub fn defaults(mut self, defaults: TrainSettings) -> Self {
        self.defaults = defaults;
        self
    }

    /// The seed of the folds and of every fit's shuffling (each model's initial weights are the
    /// builder's to seed).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether each fit shows its progress and epochs (as [`FitConfig::progress`]).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Calls `f` after every fold is scored.
    pub fn on_fold(mut self, f: impl FnMut(&FoldReport<'_>) + 'a) -> Self {
        self.on_fold = Some(Box::new(f));
        self
    }

    /// How `config` trains: its training keys over the defaults.
    pub fn settings(&self, config: &Config) -> Result<TrainSettings> {
        self.defaults.with(config)
    }

    fn loss_fn(&self) -> LossFn {
        let loss = Arc::clone(&self.loss);
        Box::new(move |pred, target| loss(pred, target))
    }

    fn fit_config(&self, s: &TrainSettings) -> FitConfig {
        FitConfig {
            epochs: s.epochs,
            batch_size: s.batch_size,
            seed: self.seed,
            validation: Validation::None,
            progress: self.progress,
            ..FitConfig::default()
        }
    }

    /// Scores every configuration on every fold of `data` (class labels `[n]` as targets) as
    /// `resampling` cuts it, and ranks them. Every configuration's settings are checked before
    /// anything trains. A model whose loss becomes NaN or infinite scores as diverged (ranked
    /// last); other errors stop the search.
    pub fn cross_validate(
        &mut self,
        data: &TensorDataset,
        configs: &[Config],
        resampling: Resampling,
    ) -> Result<Leaderboard> {
        if configs.is_empty() {
            return Err(Error::SearchSpace("no configuration to run".into()));
        }
        let settings = configs.iter().map(|c| self.settings(c)).collect::<Result<Vec<_>>>()?;
        let folds = resampling.folds(&class_labels(data.targets())?, self.seed)?;
        let mut scores = Vec::with_capacity(configs.len());
        for (i, (config, s)) in configs.iter().zip(&settings).enumerate() {
            let mut fold_scores = Vec::with_capacity(folds.len());
            for (f, fold) in folds.iter().enumerate() {
                let (train, held_out) = (subset(data, &fold.train)?, subset(data, &fold.held_out)?);
                let score = self.score(config, s, &train, &held_out)?;
                let report =
                    FoldReport { config, index: i + 1, configs: configs.len(), fold: f + 1, folds: folds.len(), score };
                if let Some(on_fold) = self.on_fold.as_mut() {
                    on_fold(&report);
                }
                fold_scores.push(score);
            }
            scores.push(ConfigScore { order: i, config: config.clone(), settings: *s, folds: fold_scores });
        }
        Ok(Leaderboard::rank(scores))
    }

    /// A fresh model of `config` trained on `train` and scored on `held_out`.
    fn score(
        &mut self,
        config: &Config,
        s: &TrainSettings,
        train: &TensorDataset,
        held_out: &TensorDataset,
    ) -> Result<FoldScore> {
        let model = (self.build)(config, s)?;
        let optimizer = Optimizer::new(model.parameters(), s.optimizer_kind())?;
        let mut trainer = Trainer::new(&*model, optimizer, self.loss_fn());
        match trainer.fit(train, &self.fit_config(s)) {
            Err(Error::NonFiniteLoss { .. }) => return Ok(FoldScore::DIVERGED),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let e = trainer.evaluate(held_out, s.batch_size.max(256), None)?;
        let accuracy = e.accuracy.ok_or_else(not_a_classifier)?;
        Ok(FoldScore { accuracy, loss: e.loss })
    }

    /// Trains a fresh model of `config` on all of `train` (no validation split) through the
    /// trainer `make_trainer` makes of the task and optimizer (add a run folder, checkpoints,
    /// callbacks there; `|task, opt| Trainer::with_task(task, opt)` for none), then scores it on
    /// `test` when given.
    pub fn retrain<F>(
        &mut self,
        config: &Config,
        train: &TensorDataset,
        test: Option<&TensorDataset>,
        make_trainer: F,
    ) -> Result<Retrained>
    where
        F: for<'m> FnOnce(Supervised<'m>, Optimizer) -> Trainer<Supervised<'m>>,
    {
        let settings = self.settings(config)?;
        let model = (self.build)(config, &settings)?;
        let optimizer = Optimizer::new(model.parameters(), settings.optimizer_kind())?;
        let (history, test) = {
            let mut trainer = make_trainer(Supervised::new(&*model, self.loss_fn()), optimizer);
            let history = trainer.fit(train, &self.fit_config(&settings))?;
            let test = match test {
                Some(t) => Some(trainer.evaluate(t, settings.batch_size.max(256), Some(5))?),
                None => None,
            };
            (history, test)
        };
        if let Some(t) = &test {
            t.accuracy.ok_or_else(not_a_classifier)?;
        }
        Ok(Retrained { model, settings, history, test })
    }
}

fn not_a_classifier() -> Error {
    Error::Config(
        "the model's outputs are not class scores `[n, classes]` for integer targets `[n]`: a search ranks \
         classifiers by accuracy"
            .into(),
    )
}

/// The examples of `data` at `indices`.
fn subset(data: &TensorDataset, indices: &[usize]) -> Result<TensorDataset> {
    let b = data.batch(indices)?;
    TensorDataset::new(b.inputs, b.targets)
}
