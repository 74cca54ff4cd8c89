//! Data-parallel training without MPI: two trainers on two threads joined by an in-process
//! transport take the same steps as one trainer with the same global batch (the MLP, the LSTM
//! language model and the GPT), dropout included (each rank draws its rows' part of the masks
//! of the global batch); shards split every batch; a world that does not divide the batch, and
//! ranks that built different models, are clear errors.

#[path = "data_parallel/threads.rs"]
mod threads;

use tessera_nn::{loss, Dropout, Linear, Module, Relu, Sequential, Softmax};
use tessera_tensor::{DType, Device, Generator};
use tessera_train::callbacks::{Callback, Control, EpochLogs, TrainContext};
use tessera_train::data::{mnist_sample, Batch, TensorDataset};
use tessera_train::dist::Communicator;
use tessera_train::gpt::{Gpt, GptConfig, GptData, GptTask};
use tessera_train::lm::{LmSplits, LmTask, LstmLm, LstmLmConfig};
use tessera_train::models::mlp_classifier;
use tessera_train::optim::{Adam, Optimizer, OptimizerKind, Sgd};
use tessera_train::{DataParallel, FitConfig, FitData, LossFn, Shard, Supervised, Task, Trainer, Validation};
use threads::threads;

fn data() -> TensorDataset {
    mnist_sample().unwrap().slice(0, 1000).unwrap()
}

fn cfg() -> FitConfig {
    FitConfig {
        epochs: 2,
        batch_size: 50,
        seed: 3,
        validation: Validation::Split(0.1),
        progress: false,
        ..FitConfig::default()
    }
}

/// A trained model's parameter values and its last epoch's logs (without the seconds).
type Outcome = (Vec<Vec<f32>>, Vec<(String, f64)>);

/// Fits the classifier `model` (Adam, cross-entropy) on `data` as `cfg` says.
fn fit_classifier(
    model: &dyn Module,
    data: &TensorDataset,
    cfg: &FitConfig,
    comm: Option<Communicator>,
) -> tessera_train::Result<Outcome> {
    let adam = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).unwrap();
    let task = Supervised::new(model, Box::new(loss::sparse_categorical_crossentropy) as LossFn);
    fit(task, adam, data, cfg, comm)
}

/// Trains the MLP (weights seeded `seed`) and returns its parameters and the last epoch's logs.
fn train(seed: u64, comm: Option<Communicator>) -> tessera_train::Result<Outcome> {
    fit_classifier(&mlp_classifier(seed, 784, 10, &Device::Cpu).unwrap(), &data(), &cfg(), comm)
}

/// Runs `train` on `world` ranks, one thread each, with rank `r` passing `seed_of(r)`.
fn run_ranks<F>(world: usize, seed_of: fn(usize) -> u64, train: F) -> Vec<tessera_train::Result<Outcome>>
where
    F: Fn(u64, Option<Communicator>) -> tessera_train::Result<Outcome> + Copy + Send + 'static,
{
    let handles: Vec<_> = threads(world)
        .into_iter()
        .map(|t| {
            std::thread::spawn(move || {
                let rank = t.rank;
                train(seed_of(rank), Some(Communicator::with_transport(Box::new(t), rank)))
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Checks that two ranks end with the parameters (1e-5 relative) and last logs (see
/// `assert_same_logs`) of one process. Rank 1 built its weights with another seed: rank 0's are
/// broadcast at the start.
fn two_ranks_match_one<F>(train: F)
where
    F: Fn(u64, Option<Communicator>) -> tessera_train::Result<Outcome> + Copy + Send + 'static,
{
    let (one, one_logs) = train(11, None).unwrap();
    for result in run_ranks(2, |rank| 11 + rank as u64 * 100, train) {
        let (params, logs) = result.unwrap();
        for (a, b) in params.iter().zip(&one) {
            let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            let diff = a.iter().zip(b).fold(0f32, |m, (p, q)| m.max((p - q).abs()));
            assert!(diff <= 1e-5 * scale, "largest difference {diff:e} against {scale:e}");
        }
        assert_same_logs(&logs, &one_logs);
    }
}

/// Checks that a rank logged the metrics of one process, each within 1e-6 relative.
fn assert_same_logs(logs: &[(String, f64)], one: &[(String, f64)]) {
    assert_eq!(logs.len(), one.len());
    for ((k, v), (k1, v1)) in logs.iter().zip(one) {
        assert_eq!(k, k1);
        // A perplexity is the exponential of a mean loss: compared as that loss, since exp
        // turns the loss's last-bit differences (ranks evaluate fewer rows per product, so
        // their sums round differently) into ppl times as large.
        let (v, v1) = if k.ends_with("ppl") { (v.ln(), v1.ln()) } else { (*v, *v1) };
        assert!((v - v1).abs() <= 1e-6 * v1.abs().max(1.0), "{k}: {v} against {v1}");
    }
}

#[test]
fn two_ranks_take_the_steps_of_one() {
    two_ranks_match_one(train);
}

/// One epoch of the MLP on 60 examples, validated on 2 (fewer than three processes), then
/// evaluated on 7 more in batches of 4: the last epoch's logs and the test metrics.
fn train_small_validation(seed: u64, comm: Option<Communicator>) -> tessera_train::Result<Outcome> {
    let (d, model) = (data(), mlp_classifier(seed, 784, 10, &Device::Cpu).unwrap());
    let adam = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).unwrap();
    let mut trainer = Trainer::new(&model, adam, Box::new(loss::sparse_categorical_crossentropy) as LossFn);
    if let Some(c) = comm {
        trainer = trainer.distributed(c);
    }
    let validation = Validation::Data(d.slice(100, 2).unwrap());
    let history =
        trainer.fit(&d.slice(0, 60).unwrap(), &FitConfig { epochs: 1, batch_size: 6, validation, ..cfg() })?;
    let test = trainer.evaluate(&d.slice(200, 7).unwrap(), 4, Some(5))?;
    let mut logs: Vec<(String, f64)> =
        history.epochs[0].values.iter().filter(|(k, _)| *k != "seconds").map(|(k, v)| (k.clone(), *v)).collect();
    logs.extend([("test_loss".into(), test.loss), ("test_top5".into(), test.top_k.unwrap())]);
    logs.push(("test_accuracy".into(), test.accuracy.unwrap()));
    Ok((Vec::new(), logs))
}

#[test]
fn ranks_evaluate_their_rows_and_report_the_whole_sets_metrics() {
    // Three processes, two validation examples: rank 0's rows of the set are none, and it
    // takes the metrics' names from the others. The test set's batches of 4 and 3 examples
    // split 1/1/2 and 1/1/1.
    let (_, one) = train_small_validation(11, None).unwrap();
    assert!(one.iter().any(|(k, _)| k == "val_accuracy"));
    for result in run_ranks(3, |rank| 11 + rank as u64, train_small_validation) {
        let (_, logs) = result.unwrap();
        assert_same_logs(&logs, &one);
    }
}

/// Fits `task`'s module on `data` (distributed over `comm` when given): its parameters and the
/// last epoch's logs.
fn fit<T: Task, D: FitData<Batch = T::Batch>>(
    task: T,
    optimizer: Optimizer,
    data: &D,
    cfg: &FitConfig,
    comm: Option<impl Into<DataParallel>>,
) -> tessera_train::Result<Outcome> {
    let mut trainer = Trainer::with_task(task, optimizer);
    if let Some(c) = comm {
        trainer = trainer.distributed(c);
    }
    let history = trainer.fit(data, cfg)?;
    let params =
        trainer.task().module().parameters().iter().map(|(_, p)| p.tensor().to_vec::<f32>().unwrap()).collect();
    let logs = history
        .epochs
        .last()
        .unwrap()
        .values
        .iter()
        .filter(|(k, _)| !["seconds", "tokens_per_sec"].contains(&k.as_str()));
    Ok((params, logs.map(|(k, v)| (k.clone(), *v)).collect()))
}

/// A token stream over 12 ids.
fn stream(len: usize) -> Vec<u32> {
    (0..len as u32).map(|i| (i * 7 + i / 3) % 12).collect()
}

fn adam(model: &dyn Module) -> Optimizer {
    Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam { lr: 1e-2, ..Adam::default() })).unwrap()
}

#[test]
fn two_ranks_draw_the_dropout_masks_of_one() {
    two_ranks_match_one(|seed, comm| {
        let mut g = Generator::new(seed);
        let model = Sequential::new()
            .add(Linear::new(&mut g, 784, 64, DType::F32, &Device::Cpu).unwrap())
            .add(Relu)
            .add(Dropout::new(0.4, seed).unwrap())
            .add(Linear::new(&mut g, 64, 10, DType::F32, &Device::Cpu).unwrap())
            .add(Softmax { dim: -1 });
        fit_classifier(&model, &data(), &cfg(), comm)
    });
    // Embedding, attention-weight and residual dropout.
    two_ranks_match_one(|seed, comm| train_gpt_with(seed, 0.2, comm));
}

#[test]
fn two_ranks_train_the_language_models_as_one() {
    // Without dropout: the LSTM drops time-major `[steps, batch, width]` tensors, of which a
    // rank's rows are not one contiguous part, so its masks differ from one process's.
    two_ranks_match_one(|seed, comm| {
        let cfg = LstmLmConfig { vocab: 12, embed: 8, hidden: 16, layers: 2, dropout: 0.0, seed };
        let lm = LstmLm::new(&cfg, &Device::Cpu).unwrap();
        let ids = stream(1200);
        let splits = LmSplits { train: ids[..1000].to_vec(), val: ids[1000..].to_vec(), test: Vec::new() };
        let fit_cfg =
            FitConfig { epochs: 2, batch_size: 4, seq_len: 10, seed: 3, progress: false, ..FitConfig::default() };
        fit(LmTask::new(&lm), adam(&lm), &splits, &fit_cfg, comm)
    });
    two_ranks_match_one(train_gpt::<Communicator>);
}

/// Trains a small GPT (2 micro-batches per step, tied embeddings) on a token stream.
fn train_gpt<P: Into<DataParallel>>(seed: u64, comm: Option<P>) -> tessera_train::Result<Outcome> {
    train_gpt_with(seed, 0.0, comm)
}

/// [`train_gpt`] with `dropout`.
fn train_gpt_with<P: Into<DataParallel>>(seed: u64, dropout: f64, comm: Option<P>) -> tessera_train::Result<Outcome> {
    let cfg = GptConfig { block_size: 8, n_layer: 2, n_head: 2, n_embd: 16, seed, dropout, ..GptConfig::small(12) };
    let gpt = Gpt::new(&cfg, &Device::Cpu).unwrap();
    let ids = stream(600);
    let data = GptData {
        train: ids[..500].to_vec(),
        val: ids[500..].to_vec(),
        block_size: 8,
        iters: 12,
        eval_interval: 6,
        eval_iters: 2,
        grad_accum: 2,
    };
    let fit_cfg =
        FitConfig { epochs: data.intervals(), batch_size: 4, seed: 3, progress: false, ..FitConfig::default() };
    // SGD, not Adam: the key projection's bias has a gradient of exactly 0 in exact
    // arithmetic (a constant added to every score of a row), so its computed gradient is
    // rounding noise that Adam would scale up to full-size steps, different on 1 and 2 ranks.
    let sgd = OptimizerKind::Sgd(Sgd { lr: 0.1, momentum: 0.9, ..Sgd::default() });
    fit(GptTask::new(&gpt), Optimizer::new(gpt.parameters(), sgd).unwrap(), &data, &fit_cfg, comm)
}

#[test]
fn buckets_sent_during_backward_or_after_it_average_alike() {
    // 512-byte buckets: the GPT's 40-odd gradients go out in some 30 all-reduces, launched from
    // backward as they become final (overlap) or all after it; both are the one-process steps.
    two_ranks_match_one(|seed, comm| {
        train_gpt(seed, comm.map(|c| DataParallel::new(c).bucket_bytes(512).overlap(true)))
    });
    two_ranks_match_one(|seed, comm| {
        train_gpt(seed, comm.map(|c| DataParallel::new(c).bucket_bytes(512).overlap(false)))
    });
    two_ranks_match_one(|seed, comm| {
        let model = mlp_classifier(seed, 784, 10, &Device::Cpu).unwrap();
        let adam = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).unwrap();
        let task = tessera_train::Supervised::new(&model, Box::new(loss::sparse_categorical_crossentropy) as LossFn);
        fit(task, adam, &data(), &cfg(), comm.map(|c| DataParallel::new(c).bucket_bytes(4096)))
    });
}

#[test]
fn ranks_that_built_different_models_are_refused() {
    let handles: Vec<_> = threads(2)
        .into_iter()
        .map(|t| {
            std::thread::spawn(move || {
                let rank = t.rank;
                let model = mlp_classifier(0, 784 - rank, 10, &Device::Cpu).unwrap();
                let dp = tessera_train::DataParallel::new(Communicator::with_transport(Box::new(t), rank));
                dp.sync_parameters(&model).unwrap_err().to_string()
            })
        })
        .collect();
    let errors: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(errors[0].contains("rank 1") && errors[0].contains("different model"), "{}", errors[0]);
    assert!(errors[1].contains("rank 1 differs from rank 0") && errors[1].contains("[128, 783]"), "{}", errors[1]);
}

#[test]
fn shards_split_every_global_batch() {
    let d = data();
    let whole = FitConfig { validation: Validation::None, ..cfg() };
    let batches = |shard: Shard| -> Vec<Batch> {
        let plan = d.plan(&FitConfig { shard, ..whole.clone() }).unwrap();
        plan.train.epoch(1).collect::<Result<_, _>>().unwrap()
    };
    let all = batches(Shard::default());
    let (a, b) = (batches(Shard { rank: 0, world: 2 }), batches(Shard { rank: 1, world: 2 }));
    assert_eq!((all.len(), a.len(), b.len()), (20, 20, 20));
    for ((g, x), y) in all.iter().zip(&a).zip(&b) {
        assert_eq!((x.len(), y.len()), (25, 25));
        let joined: Vec<f32> = [x.inputs.to_vec::<f32>().unwrap(), y.inputs.to_vec::<f32>().unwrap()].concat();
        assert_eq!(joined, g.inputs.to_vec::<f32>().unwrap());
    }
    let odd = d.plan(&FitConfig { shard: Shard { rank: 0, world: 3 }, ..whole }).err().unwrap();
    assert!(odd.to_string().contains("batch size 50 is not divisible by the 3 processes"), "{odd}");
}

#[test]
fn token_stream_shards_split_every_window_by_rows() {
    let ids = stream(600);
    let splits = LmSplits { train: ids[..500].to_vec(), val: Vec::new(), test: Vec::new() };
    let cfg = FitConfig { batch_size: 4, seq_len: 10, seed: 3, ..FitConfig::default() };
    let windows = |shard: Shard| {
        let plan = splits.plan(&FitConfig { shard, ..cfg.clone() }).unwrap();
        plan.train.epoch(0).collect::<Result<Vec<_>, _>>().unwrap()
    };
    let (all, a, b) =
        (windows(Shard::default()), windows(Shard { rank: 0, world: 2 }), windows(Shard { rank: 1, world: 2 }));
    // 125 tokens per row: 12 windows of 10 steps and one of 4.
    assert_eq!((all.len(), a.len(), b.len()), (13, 13, 13));
    for ((g, x), y) in all.iter().zip(&a).zip(&b) {
        assert_eq!((x.shape, y.shape), ([2, g.shape[1]], [2, g.shape[1]]));
        assert_eq!([x.input.clone(), y.input.clone()].concat(), g.input);
        assert_eq!([x.target.clone(), y.target.clone()].concat(), g.target);
    }
    let data = GptData {
        train: ids[..500].to_vec(),
        val: ids[500..].to_vec(),
        block_size: 8,
        iters: 4,
        eval_interval: 4,
        eval_iters: 1,
        grad_accum: 2,
    };
    let batches = |shard: Shard| {
        let plan = data.plan(&FitConfig { shard, ..cfg.clone() }).unwrap();
        plan.train.epoch(0).collect::<Result<Vec<_>, _>>().unwrap()
    };
    let (all, a, b) =
        (batches(Shard::default()), batches(Shard { rank: 0, world: 2 }), batches(Shard { rank: 1, world: 2 }));
    for ((g, x), y) in all.iter().zip(&a).zip(&b) {
        assert_eq!((x.batch_size, y.batch_size, x.micro.len()), (2, 2, 2));
        for ((gm, xm), ym) in g.micro.iter().zip(&x.micro).zip(&y.micro) {
            assert_eq!([xm.0.clone(), ym.0.clone()].concat(), gm.0);
            assert_eq!([xm.1.clone(), ym.1.clone()].concat(), gm.1);
        }
    }
    let odd = splits.plan(&FitConfig { shard: Shard { rank: 0, world: 3 }, ..cfg }).err().unwrap();
    assert!(odd.to_string().contains("batch size 4 is not divisible by the 3 processes"), "{odd}");
}

/// Halves the learning rate after every epoch.
struct Halve;

impl Callback for Halve {
    fn on_epoch_end(&mut self, _logs: &EpochLogs, ctx: &mut TrainContext<'_>) -> tessera_train::Result<Control> {
        let lr = ctx.optimizer.learning_rate();
        ctx.optimizer.set_learning_rate(lr / 2.0);
        Ok(Control::Continue)
    }
}

#[test]
fn every_rank_goes_on_at_rank_0s_learning_rate() {
    // Only rank 0 has the schedule (as only rank 0 replays a resumed run's epochs through its
    // callbacks): both ranks end at its learning rate, with the same parameters.
    let handles: Vec<_> = threads(2)
        .into_iter()
        .map(|t| {
            std::thread::spawn(move || {
                let rank = t.rank;
                let model = mlp_classifier(11, 784, 10, &Device::Cpu).unwrap();
                let adam = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).unwrap();
                let loss = Box::new(loss::sparse_categorical_crossentropy) as LossFn;
                let mut trainer = Trainer::new(&model, adam, loss);
                if rank == 0 {
                    trainer = trainer.callback(Halve);
                }
                let mut trainer = trainer.distributed(Communicator::with_transport(Box::new(t), rank));
                trainer.fit(&data(), &cfg()).unwrap();
                let params: Vec<Vec<f32>> =
                    model.parameters().iter().map(|(_, p)| p.tensor().to_vec::<f32>().unwrap()).collect();
                (trainer.optimizer().learning_rate(), params)
            })
        })
        .collect();
    let ranks: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(ranks[0].0, 1e-3 / 4.0);
    assert_eq!(ranks[1].0, ranks[0].0);
    assert_eq!(ranks[1].1, ranks[0].1);
}
