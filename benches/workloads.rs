//! The training-step workloads of `benches/training_step.rs`, each a value with a `step`, so that
//! the bench, the steady-state memory test and `examples/step_memory.rs` run the same steps.

use crate::{gpt_trainer, gpt_workload, lm_trainer, lm_workload};
use tessera_autograd::Var;
use tessera_nn::loss::{cross_entropy, sparse_categorical_crossentropy, CrossEntropy};
use tessera_nn::{Gru, Linear, Lstm, Module, Relu, Sequential};
use tessera_tensor::{AttentionSpec, DType, Device, Generator, Tensor};
use tessera_train::optim::{Adam, Optimizer, OptimizerKind};
use tessera_train::seq2seq::{PadSide, Seq2seq, SourceBatch, TransformerSeq2seq, TransformerSeq2seqConfig};

/// `mlp_step`: Linear(784,128) ReLU Linear(128,64) ReLU Linear(64,10), cross-entropy on logits
/// with class indices, Adam; random inputs of the right shapes.
pub struct MlpWorkload {
    model: Sequential,
    opt: Optimizer,
    x: Var,
    y: Var,
}

impl MlpWorkload {
    /// The model, its optimizer and one batch of `batch` random images, on the CPU.
    pub fn new(batch: usize) -> MlpWorkload {
        MlpWorkload::on(batch, &Device::Cpu)
    }

    /// [`MlpWorkload::new`] on `dev`.
    pub fn on(batch: usize, dev: &Device) -> MlpWorkload {
        let mut g = Generator::new(0);
        let model = Sequential::new()
            .add(Linear::new(&mut g, 784, 128, DType::F32, dev).expect("layer"))
            .add(Relu)
            .add(Linear::new(&mut g, 128, 64, DType::F32, dev).expect("layer"))
            .add(Relu)
            .add(Linear::new(&mut g, 64, 10, DType::F32, dev).expect("layer"));
        let opt = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).expect("optimizer");
        let x = Var::constant(Tensor::randn(&mut g, [batch, 784], DType::F32, dev).expect("inputs"));
        let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
        let y = Tensor::from_vec(labels, [batch], &Device::Cpu).and_then(|t| t.to_device(dev));
        let y = Var::constant(y.expect("labels"));
        MlpWorkload { model, opt, x, y }
    }

    /// Zero grads, forward, loss, backward, optimizer step; returns the loss.
    pub fn step(&mut self) -> Var {
        self.opt.zero_grad();
        let loss = cross_entropy(&self.model.forward(&self.x).expect("forward"), &self.y, &CrossEntropy::default())
            .expect("loss");
        backward_and_step(&mut self.opt, loss)
    }
}

/// `lstm_layer` and `gru_layer`: one recurrent layer (batch 32, seq 35, input 128, hidden 256,
/// batch-first), forward and backward of the sum of its outputs.
pub struct RecurrentLayerWorkload {
    layer: Box<dyn Module>,
    x: Var,
}

impl RecurrentLayerWorkload {
    /// An LSTM layer and one random input.
    pub fn lstm() -> RecurrentLayerWorkload {
        Self::new(|g, dev| Box::new(Lstm::new(g, 128, 256, 1, true, DType::F32, dev).expect("LSTM")))
    }

    /// A GRU layer and one random input.
    pub fn gru() -> RecurrentLayerWorkload {
        Self::new(|g, dev| Box::new(Gru::new(g, 128, 256, 1, true, DType::F32, dev).expect("GRU")))
    }

    fn new(layer: impl FnOnce(&mut Generator, &Device) -> Box<dyn Module>) -> RecurrentLayerWorkload {
        let (mut g, dev) = (Generator::new(0), Device::Cpu);
        let layer = layer(&mut g, &dev);
        let x = Var::constant(Tensor::randn(&mut g, [32, 35, 128], DType::F32, &dev).expect("inputs"));
        RecurrentLayerWorkload { layer, x }
    }

    /// Zero grads, forward, backward of the outputs' sum; returns the outputs.
    pub fn step(&mut self) -> Var {
        self.layer.zero_grad();
        let out = self.layer.forward(&self.x).expect("forward");
        out.sum_all().expect("sum").backward().expect("backward");
        out
    }
}

/// `attention`: the fused causal attention of one `train gpt` layer at its defaults (batch 12,
/// 4 heads, 64 positions, head size 32), forward and backward of the output's sum.
pub struct AttentionWorkload {
    qkv: [Var; 3],
}

impl AttentionWorkload {
    /// Random queries, keys and values `[12, 4, 64, 32]`.
    pub fn new() -> AttentionWorkload {
        let (mut g, dev) = (Generator::new(0), Device::Cpu);
        let mut operand = || Var::param(Tensor::randn(&mut g, [12, 4, 64, 32], DType::F32, &dev).expect("operand"));
        AttentionWorkload { qkv: [operand().expect("q"), operand().expect("k"), operand().expect("v")] }
    }

    /// Forward and backward; returns the output.
    pub fn step(&mut self) -> Var {
        let [q, k, v] = &self.qkv;
        let spec = AttentionSpec { causal: true, scale: None, dropout: None };
        let out = Var::attention(q, k, v, None, &spec).expect("attention");
        out.sum_all().expect("sum").backward().expect("backward");
        out
    }
}

impl Default for AttentionWorkload {
    fn default() -> Self {
        Self::new()
    }
}

/// `cnn_step`: `tessera train cnn`'s convnet (Keras' MNIST example) at batch 64: forward,
/// sparse categorical cross-entropy, backward, Adam.
pub struct CnnWorkload {
    model: Sequential,
    opt: Optimizer,
    x: Var,
    y: Var,
}

impl CnnWorkload {
    /// The convnet, its optimizer and one batch of random images.
    pub fn new() -> CnnWorkload {
        let dev = Device::Cpu;
        let model = tessera_train::models::CnnConfig::grayscale(28, 10, 0).build(&dev).expect("convnet");
        let opt = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).expect("optimizer");
        let mut g = Generator::new(1);
        let x = Var::constant(Tensor::rand_uniform(&mut g, 0.0, 1.0, [64, 784], DType::F32, &dev).expect("images"));
        let y = Var::constant(Tensor::from_vec((0..64u32).map(|i| i % 10).collect(), [64], &dev).expect("labels"));
        CnnWorkload { model, opt, x, y }
    }

    /// Zero grads, forward, loss, backward, optimizer step; returns the loss.
    pub fn step(&mut self) -> Var {
        self.opt.zero_grad();
        let loss =
            sparse_categorical_crossentropy(&self.model.forward(&self.x).expect("forward"), &self.y).expect("loss");
        backward_and_step(&mut self.opt, loss)
    }
}

impl Default for CnnWorkload {
    fn default() -> Self {
        Self::new()
    }
}

/// One batch of `seq2seq_step`: sources, decoder inputs `[64, 13]` and targets `[64 * 13]`.
struct Seq2seqBatch {
    source: SourceBatch,
    input: Tensor,
    target: Var,
}

/// `seq2seq_step`: one teacher-forced step of the Transformer encoder-decoder (PyTorch's
/// `nn.Transformer`): batch 64, sources of 12..=24 ids right-padded to 24 (vocabulary 64),
/// targets of 12 ids (vocabulary 16) plus `<bos>`/`<eos>`, d_model 128, 4 heads, feed-forward
/// 512, 2 + 2 pre-LN layers, dropout 0.1, untied output layer; encode, decode, cross-entropy
/// (pad ignored, label smoothing 0.1), backward, Adam (lr 1e-3). Eight batches, taken in turn.
pub struct Seq2seqWorkload {
    model: TransformerSeq2seq,
    opt: Optimizer,
    batches: Vec<Seq2seqBatch>,
    next: usize,
    target_vocab: usize,
}

impl Seq2seqWorkload {
    /// The model, its optimizer and eight batches of pseudo-random ids.
    pub fn new() -> Seq2seqWorkload {
        let cfg = TransformerSeq2seqConfig {
            source_vocab: 64,
            target_vocab: 16,
            d_model: 128,
            heads: 4,
            feedforward: 512,
            encoder_layers: 2,
            decoder_layers: 2,
            dropout: 0.1,
            norm_first: true,
            tie_embeddings: false,
            pad: 0,
            seed: 0,
        };
        let model = TransformerSeq2seq::new(&cfg, &Device::Cpu).expect("model");
        let opt = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).expect("optimizer");
        Seq2seqWorkload { model, opt, batches: seq2seq_batches(8), next: 0, target_vocab: cfg.target_vocab }
    }

    /// One step on the next batch; returns the loss.
    pub fn step(&mut self) -> Var {
        let w = &self.batches[self.next % self.batches.len()];
        self.next += 1;
        self.opt.zero_grad();
        let memory = self.model.encode(&w.source).expect("encode");
        let logits = self.model.decode_teacher(&memory, &w.input).expect("decode");
        let (rows, steps) = (w.input.dims()[0], w.input.dims()[1]);
        let logits = logits.reshape([rows * steps, self.target_vocab]).expect("reshape");
        let loss_cfg = CrossEntropy { ignore_index: Some(0), label_smoothing: 0.1, ..CrossEntropy::default() };
        let loss = cross_entropy(&logits, &w.target, &loss_cfg).expect("loss");
        backward_and_step(&mut self.opt, loss)
    }
}

impl Default for Seq2seqWorkload {
    fn default() -> Self {
        Self::new()
    }
}

/// The end of every optimizer step here: backward from `loss`, then the update; returns the loss.
fn backward_and_step(opt: &mut Optimizer, loss: Var) -> Var {
    loss.backward().expect("backward");
    opt.step().expect("optimizer step");
    loss
}

/// `n` batches of pseudo-random ids (pad 0, bos 1, eos 2; ids from 3): 64 sources of 12..=24
/// tokens (the first of each batch 24 long, so every batch pads to 24) and 64 targets of 12.
fn seq2seq_batches(n: usize) -> Vec<Seq2seqBatch> {
    let (batch, src_max, tgt_len, src_vocab, tgt_vocab) = (64usize, 24usize, 12usize, 64u64, 16u64);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let dev = Device::Cpu;
    (0..n)
        .map(|_| {
            let sources: Vec<Vec<u32>> = (0..batch)
                .map(|r| {
                    let len = if r == 0 { src_max } else { 12 + next(13) as usize };
                    (0..len).map(|_| 3 + next(src_vocab - 3) as u32).collect()
                })
                .collect();
            let refs: Vec<&[u32]> = sources.iter().map(Vec::as_slice).collect();
            let source = SourceBatch::new(&refs, 0, PadSide::Right, &dev).expect("sources");
            let (mut input, mut target) = (Vec::new(), Vec::new());
            for _ in 0..batch {
                let t: Vec<u32> = (0..tgt_len).map(|_| 3 + next(tgt_vocab - 3) as u32).collect();
                input.push(1);
                input.extend_from_slice(&t);
                target.extend_from_slice(&t);
                target.push(2);
            }
            let input = Tensor::from_vec(input, [batch, tgt_len + 1], &dev).expect("inputs");
            let target = Var::constant(Tensor::from_vec(target, [batch * (tgt_len + 1)], &dev).expect("targets"));
            Seq2seqBatch { source, input, target }
        })
        .collect()
}

/// Hands `visit` a step that trains on `items` one after the other, round and round.
fn visit_cycling<T>(
    visit: &mut dyn FnMut(&'static str, &mut dyn FnMut()),
    name: &'static str,
    items: &[T],
    mut step: impl FnMut(&T),
) {
    let mut next = 0;
    visit(name, &mut || {
        step(&items[next % items.len()]);
        next += 1;
    });
}

/// Builds each training-step workload in turn (MLP at batch 32 and 256, LSTM and GRU layers, LM,
/// GPT, the GPT's attention, CNN, seq2seq) and hands its step to `visit` with the bench's name for
/// it; the workload is dropped when `visit` returns.
pub fn each_training_step(visit: &mut dyn FnMut(&'static str, &mut dyn FnMut())) {
    for (name, batch) in [("mlp_step/b32", 32), ("mlp_step/b256", 256)] {
        let mut mlp = MlpWorkload::new(batch);
        visit(name, &mut || drop(mlp.step()));
    }
    for (name, mut layer) in
        [("lstm_layer", RecurrentLayerWorkload::lstm()), ("gru_layer", RecurrentLayerWorkload::gru())]
    {
        visit(name, &mut || drop(layer.step()));
    }
    {
        let (lm, windows) = lm_workload(8);
        let mut trainer = lm_trainer(&lm);
        visit_cycling(visit, "lm_step", &windows, |w| drop(trainer.train_step(w).expect("LM step")));
    }
    {
        let (gpt, batches) = gpt_workload(8);
        let mut trainer = gpt_trainer(&gpt);
        visit_cycling(visit, "gpt_step", &batches, |b| drop(trainer.train_step(b).expect("GPT step")));
    }
    let mut attention = AttentionWorkload::new();
    visit("attention", &mut || drop(attention.step()));
    drop(attention);
    let mut cnn = CnnWorkload::new();
    visit("cnn_step", &mut || drop(cnn.step()));
    drop(cnn);
    let mut seq2seq = Seq2seqWorkload::new();
    visit("seq2seq_step", &mut || drop(seq2seq.step()));
}
