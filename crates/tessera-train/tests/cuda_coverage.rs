//! Every op that the built-in models dispatch has a CUDA implementation for the same dtypes.
//!
//! Each model trains an epoch on a little data, evaluates and decodes, on the CPU, in f32, bf16
//! and f16, while `record_dispatches` notes every kernel it runs (forward, backward, optimizer);
//! each must be in the op registry with a CUDA kernel for its dtypes (or cuBLAS for a float
//! product). A model that starts using an op or a dtype the CUDA half lacks fails here, on a
//! machine without a GPU, instead of on the first GPU run.

use tessera_autograd::autocast;
use tessera_nn::{loss, Module};
use tessera_tensor::ops::registry::{registry, CudaImpl, KernelOp};
use tessera_tensor::{record_dispatches, DType, Device, Dispatch};
use tessera_train::data::mnist_sample;
use tessera_train::gpt::{Gpt, GptConfig, GptData, GptTask};
use tessera_train::lm::{generate, LmSplits, LmTask, LstmLm, LstmLmConfig, Sampling};
use tessera_train::models::{mlp_classifier, CnnConfig};
use tessera_train::optim::{Adam, Clip, Optimizer, OptimizerKind};
use tessera_train::seq2seq::{
    beam_search, AttentionScore, BeamConfig, EncodedPair, LstmAttention, LstmAttentionConfig, Seq2seq, Seq2seqData,
    Seq2seqOptions, Seq2seqTask, SourceBatch, Specials, TransformerSeq2seq, TransformerSeq2seqConfig,
};
use tessera_train::{FitConfig, FitData, LossFn, Precision, Supervised, Task, Trainer};

const CPU: Device = Device::Cpu;
const SPECIALS: Specials = Specials { pad: 0, bos: 1, eos: 2 };

/// Why the CUDA half cannot run `d`, or `None` when it can.
fn missing_on_cuda(ops: &[KernelOp], d: &Dispatch) -> Option<String> {
    let Some(op) = ops.iter().find(|k| k.name == d.op) else {
        return Some(format!("{d:?}: the op registry has no '{}'", d.op));
    };
    let dtype = d.dtypes.first().copied().unwrap_or(DType::F32);
    let symbols = match &op.cuda {
        CudaImpl::Host => return None,
        CudaImpl::Cublas => return (!dtype.is_float()).then(|| format!("{d:?}: cuBLAS multiplies float dtypes only")),
        CudaImpl::Kernels(symbols) => symbols,
        // The parts run in the composed op's dtype, the first input's (the others agree with it or
        // are indices).
        CudaImpl::Composed(parts) => {
            return parts.iter().find_map(|&op| missing_on_cuda(ops, &Dispatch { op, dtypes: vec![dtype] }))
        }
    };
    let wanted = match d.op {
        "to_dtype" => {
            // A composed op's cast comes with the composed op's dtypes, the input's alone: it
            // widens f16 and bf16 to f32 (`sum_squares`) and leaves wider dtypes as they are.
            let to = match d.dtypes.get(1) {
                Some(&to) => to,
                None if dtype.size_in_bytes() < 4 => DType::F32,
                None => return None,
            };
            format!("cast_{}_{}", dtype.as_str(), to.as_str())
        }
        // Copies, concatenation and fills move bits: one kernel per width.
        "contiguous" | "cat" | "full" => format!("_u{}", 8 * dtype.size_in_bytes()),
        _ => format!("_{}", dtype.as_str()),
    };
    (!symbols.iter().any(|s| s.ends_with(&wanted)))
        .then(|| format!("{d:?}: no CUDA kernel ending in '{wanted}' among {symbols:?}"))
}

/// Trains through `trainer` one pass of `data` in each precision and runs `after` (evaluation,
/// decoding) in it, recording every dispatch; fails naming each one the CUDA half cannot run.
/// Returns the ops seen.
fn check<T: Task, D: FitData<Batch = T::Batch>>(
    what: &str,
    mut trainer: Trainer<T>,
    data: &D,
    fit: &FitConfig,
    after: impl Fn(),
) -> Vec<&'static str> {
    let ops = registry();
    let (mut problems, mut seen) = (Vec::new(), Vec::new());
    for precision in Precision::ALL {
        trainer = trainer.precision(precision);
        let (history, log) = record_dispatches(|| {
            let history = trainer.fit(data, fit);
            autocast(precision, &after);
            history
        });
        history.unwrap_or_else(|e| panic!("{what} in {precision}: {e}"));
        problems
            .extend(log.iter().filter_map(|d| missing_on_cuda(&ops, d)).map(|p| format!("{what} in {precision}: {p}")));
        seen.extend(log.iter().map(|d| d.op));
        // The products ran in the low dtype: casts to it were dispatched.
        if precision != Precision::F32 {
            let cast = Dispatch { op: "to_dtype", dtypes: vec![DType::F32, precision.dtype()] };
            assert!(log.contains(&cast), "{what} in {precision}: no product ran in {precision}");
        }
    }
    assert!(problems.is_empty(), "ops without a CUDA implementation:\n{}", problems.join("\n"));
    seen.sort();
    seen.dedup();
    seen
}

fn adam(model: &dyn Module) -> Optimizer {
    Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default()))
        .unwrap()
        .with_clip(Clip::GlobalNorm(1.0))
        .unwrap()
}

fn one_epoch(batch_size: usize) -> FitConfig {
    FitConfig { epochs: 1, batch_size, seed: 1, progress: false, eval_batch_size: Some(4), ..FitConfig::default() }
}

#[test]
fn the_classifiers_run_on_cuda() {
    let (train, _) = mnist_sample().unwrap().split(0.99, 3).unwrap(); // 50 images
    let sparse_cce = || Box::new(loss::sparse_categorical_crossentropy) as LossFn;
    let fit = FitConfig { validation: tessera_train::Validation::Split(0.2), ..one_epoch(16) };
    let mlp = mlp_classifier(0, 784, 10, &CPU).unwrap();
    let seen = check("mlp", Trainer::with_task(Supervised::new(&mlp, sparse_cce()), adam(&mlp)), &train, &fit, || {});
    for op in ["matmul_bias", "relu_backward", "softmax", "optim_step_"] {
        assert!(seen.contains(&op), "the MLP ran no {op}: {seen:?}");
    }
    let cnn = CnnConfig { batch_norm: true, ..CnnConfig::grayscale(28, 10, 0) }.build(&CPU).unwrap();
    let seen = check("cnn", Trainer::with_task(Supervised::new(&cnn, sparse_cce()), adam(&cnn)), &train, &fit, || {});
    for op in ["conv2d", "conv2d_weight_grad", "max_pool2d_backward", "batch_norm_backward", "dropout"] {
        assert!(seen.contains(&op), "the CNN ran no {op}: {seen:?}");
    }
}

/// A token stream over `vocab` ids.
fn stream(len: usize, vocab: u32) -> Vec<u32> {
    (0..len as u32).map(|i| (i * 7 + i / 3) % vocab).collect()
}

#[test]
fn the_language_models_run_on_cuda() {
    let lm =
        LstmLm::new(&LstmLmConfig { vocab: 12, embed: 8, hidden: 16, layers: 2, dropout: 0.1, seed: 7 }, &CPU).unwrap();
    let ids = stream(900, 12);
    let splits = LmSplits { train: ids[..600].to_vec(), val: ids[600..750].to_vec(), test: ids[750..].to_vec() };
    let fit = FitConfig { seq_len: 10, ..one_epoch(4) };
    let sampling = Sampling { temperature: 1.0, top_k: Some(4), top_p: Some(0.9), seed: 1 };
    let seen = check("lstm lm", Trainer::with_task(LmTask::new(&lm), adam(&lm)), &splits, &fit, || {
        generate(&lm, &[1, 2], 5, &sampling).unwrap();
    });
    for op in ["lstm_sequence", "lstm_sequence_backward", "gather", "scatter_add"] {
        assert!(seen.contains(&op), "the LSTM LM ran no {op}: {seen:?}");
    }

    let cfg = GptConfig { block_size: 8, n_layer: 2, n_head: 2, n_embd: 16, dropout: 0.1, ..GptConfig::small(12) };
    let gpt = Gpt::new(&cfg, &CPU).unwrap();
    let ids = stream(400, 12);
    let data = GptData {
        train: ids[..360].to_vec(),
        val: ids[360..].to_vec(),
        block_size: 8,
        iters: 3,
        eval_interval: 3,
        eval_iters: 1,
        grad_accum: 2,
    };
    let seen = check("gpt", Trainer::with_task(GptTask::new(&gpt), adam(&gpt)), &data, &one_epoch(2), || {
        generate(&gpt, &[1, 2, 3], 10, &sampling).unwrap();
    });
    for op in ["attention", "attention_backward", "layer_norm", "norm_backward", "gelu_backward"] {
        assert!(seen.contains(&op), "the GPT ran no {op}: {seen:?}");
    }
}

/// Tiny reversal pairs.
fn pairs() -> Vec<EncodedPair> {
    (0..24u32)
        .map(|i| {
            let source: Vec<u32> = (0..2 + i % 3).map(|k| 3 + (i + k) % 6).collect();
            EncodedPair { target: source.iter().rev().copied().collect(), source }
        })
        .collect()
}

fn seq2seq<M: Seq2seq>(what: &str, model: &M) -> Vec<&'static str> {
    let data = Seq2seqData {
        train: pairs(),
        eval: vec![("val".into(), pairs()[..6].to_vec())],
        specials: SPECIALS,
        side: model.source_padding(),
        device: CPU,
    };
    let options = Seq2seqOptions { max_len: 6, label_smoothing: 0.1, ..Seq2seqOptions::default() };
    let detok: tessera_train::seq2seq::Detokenize = Box::new(|ids: &[u32]| format!("{ids:?}"));
    let trainer = Trainer::with_task(Seq2seqTask::new(model, SPECIALS, options, detok), adam(model));
    check(what, trainer, &data, &one_epoch(8), || {
        let source = SourceBatch::new(&[&[3, 4, 5], &[6, 7]], SPECIALS.pad, model.source_padding(), &CPU).unwrap();
        beam_search(model, &source, SPECIALS, &BeamConfig { width: 3, length_penalty: 0.6, max_len: 6 }).unwrap();
    })
}

#[test]
fn the_encoder_decoders_run_on_cuda() {
    let cfg = LstmAttentionConfig {
        source_vocab: 10,
        target_vocab: 10,
        embed: 8,
        hidden: 16,
        layers: 1,
        score: AttentionScore::Additive,
        dropout: 0.1,
        pad: 0,
        seed: 0,
    };
    let seen = seq2seq("lstm-attention", &LstmAttention::new(&cfg, &CPU).unwrap());
    assert!(seen.contains(&"lstm_sequence_backward"), "{seen:?}");
    let cfg = TransformerSeq2seqConfig {
        source_vocab: 10,
        target_vocab: 10,
        d_model: 16,
        heads: 2,
        feedforward: 32,
        encoder_layers: 1,
        decoder_layers: 1,
        dropout: 0.1,
        norm_first: false,
        tie_embeddings: true,
        pad: 0,
        seed: 0,
    };
    let seen = seq2seq("transformer", &TransformerSeq2seq::new(&cfg, &CPU).unwrap());
    assert!(seen.contains(&"attention_backward"), "{seen:?}");
}
