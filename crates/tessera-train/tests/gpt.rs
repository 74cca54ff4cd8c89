//! The GPT model: nanoGPT's parameter names, the key-value cache against re-running the
//! context, learning a small sequence, and errors that name the values at fault.

use tessera_autograd::Var;
use tessera_nn::loss::{cross_entropy, CrossEntropy};
use tessera_nn::Module;
use tessera_tensor::{Device, Tensor};
use tessera_train::gpt::{Gpt, GptConfig, Uncached};
use tessera_train::lm::{generate, Sampling};
use tessera_train::optim::{Adam, Optimizer, OptimizerKind};

const CPU: Device = Device::Cpu;

fn tiny(vocab: usize) -> GptConfig {
    GptConfig { block_size: 12, n_layer: 2, n_head: 2, n_embd: 16, ..GptConfig::small(vocab) }
}

#[test]
fn parameters_have_nanogpt_names_and_the_output_is_tied() {
    let gpt = Gpt::new(&tiny(10), &CPU).unwrap();
    let names: Vec<String> = gpt.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(&names[..3], ["transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.ln_1.weight"]);
    assert!(names.contains(&"transformer.h.1.attn.c_attn.weight".to_string()));
    assert!(names.contains(&"transformer.h.1.mlp.c_proj.bias".to_string()));
    assert_eq!(names.last().unwrap(), "transformer.ln_f.bias");
    assert!(!names.iter().any(|n| n.starts_with("lm_head")));
    // 2 embeddings + 12 per block + 2 for ln_f.
    assert_eq!(names.len(), 2 + 2 * 12 + 2);
    let no_bias = Gpt::new(&GptConfig { bias: false, ..tiny(10) }, &CPU).unwrap();
    assert_eq!(no_bias.parameters().len(), 2 + 2 * 6 + 1);
}

#[test]
fn the_summary_counts_nanogpt_forward_flops() {
    let gpt = Gpt::new(&tiny(17), &CPU).unwrap();
    let summary = tessera_nn::summary::summarize(&gpt, &[12], tessera_tensor::DType::U32, &CPU).unwrap();
    // Parameters without the 12 x 16 position table; 2 N per token plus 4 L E T per token.
    let n = (gpt.parameter_count() - 12 * 16) as u64;
    assert_eq!(summary.total_flops(), (2 * n + 4 * 2 * 16 * 12) * 12);
}

#[test]
fn the_cache_gives_the_tokens_a_full_rerun_gives_past_the_context_length() {
    let gpt = Gpt::new(&tiny(13), &CPU).unwrap();
    let prompt = [3u32, 1, 4, 1, 5];
    // 5 + 20 tokens slide the 12-position window 13 times.
    let greedy = Sampling { temperature: 0.0, ..Sampling::default() };
    let cached = generate(&gpt, &prompt, 20, &greedy).unwrap();
    assert_eq!(cached, generate(&Uncached(&gpt), &prompt, 20, &greedy).unwrap());
    let sampled = Sampling { temperature: 1.0, top_k: Some(5), top_p: None, seed: 9 };
    assert_eq!(
        generate(&gpt, &prompt, 20, &sampled).unwrap(),
        generate(&Uncached(&gpt), &prompt, 20, &sampled).unwrap()
    );
    // A prompt longer than the context reads its last block_size ids.
    let long: Vec<u32> = (0..30).map(|i| (i * 7 % 13) as u32).collect();
    assert_eq!(generate(&gpt, &long, 3, &greedy).unwrap(), generate(&gpt, &long[18..], 3, &greedy).unwrap());
}

#[test]
fn a_tiny_gpt_learns_a_cycle() {
    let gpt = Gpt::new(&tiny(7), &CPU).unwrap();
    let mut opt = Optimizer::new(gpt.parameters(), OptimizerKind::Adam(Adam { lr: 1e-2, ..Adam::default() })).unwrap();
    let ids: Vec<u32> = (0..4 * 13 + 2).map(|i| (i % 7) as u32).collect();
    let batch = |offset: usize| {
        let x: Vec<u32> = (0..4).flat_map(|r| ids[r * 13 + offset..][..12].to_vec()).collect();
        let y: Vec<u32> = (0..4).flat_map(|r| ids[r * 13 + offset + 1..][..12].to_vec()).collect();
        (Tensor::from_vec(x, [4, 12], &CPU).unwrap(), Var::constant(Tensor::from_vec(y, [48], &CPU).unwrap()))
    };
    let mut losses = Vec::new();
    for step in 0..60 {
        let (x, y) = batch(step % 2);
        let logits = gpt.forward_ids(&x).unwrap().reshape([48, 7]).unwrap();
        let loss = cross_entropy(&logits, &y, &CrossEntropy::default()).unwrap();
        losses.push(loss.tensor().to_scalar_f64().unwrap());
        opt.zero_grad();
        loss.backward().unwrap();
        opt.step().unwrap();
    }
    // From ln 7 = 1.95 to near zero: the next id of a cycle is determined by the last.
    assert!(losses[0] > 1.7 && losses[59] < 0.1, "losses {:?} ... {:?}", &losses[..3], &losses[57..]);
}

#[test]
fn bad_sizes_and_long_inputs_are_errors_that_name_the_values() {
    let err = Gpt::new(&GptConfig { n_head: 3, ..tiny(10) }, &CPU).err().unwrap().to_string();
    assert!(err.contains('3') && err.contains("16"), "{err}");
    let gpt = Gpt::new(&tiny(10), &CPU).unwrap();
    let ids = Tensor::zeros([1, 13], tessera_tensor::DType::U32, &CPU).unwrap();
    let err = gpt.forward_ids(&ids).err().unwrap().to_string();
    assert!(err.contains("13") && err.contains("12"), "{err}");
}

mod training {
    use super::*;
    use tessera_train::callbacks::LrScheduler;
    use tessera_train::checkpoint::{self, CheckpointInfo};
    use tessera_train::gpt::{GptData, GptTask};
    use tessera_train::optim::{matrices_and_embeddings, Clip};
    use tessera_train::schedule::{LrSchedule, Scheduler};
    use tessera_train::{FitConfig, Trainer};

    /// A stream where each id is one of three successors of the one before, drawn with
    /// probabilities 1/2, 1/4, 1/4 (entropy 1.04 nats).
    fn data(grad_accum: usize) -> GptData {
        let mut x = 1u64;
        let ids: Vec<u32> = std::iter::successors(Some(0u32), |&prev| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            Some((prev * 5 + 1 + (x >> 62) as u32 % 3) % 9)
        })
        .take(3000)
        .collect();
        let cut = ids.len() * 9 / 10;
        GptData {
            train: ids[..cut].to_vec(),
            val: ids[cut..].to_vec(),
            block_size: 12,
            iters: 200,
            eval_interval: 50,
            eval_iters: 4,
            grad_accum,
        }
    }

    fn gpt() -> Gpt {
        Gpt::new(&GptConfig { dropout: 0.1, ..tiny(9) }, &CPU).unwrap()
    }

    fn trainer<'m>(model: &'m Gpt, d: &GptData) -> Trainer<GptTask<'m>> {
        let adamw = Adam { lr: 3e-3, betas: (0.9, 0.99), weight_decay: 0.1, ..Adam::adamw() };
        let opt = Optimizer::new(model.parameters(), OptimizerKind::Adam(adamw))
            .unwrap()
            .with_decay_only(matrices_and_embeddings)
            .with_clip(Clip::GlobalNorm(1.0))
            .unwrap();
        let cosine = LrSchedule::CosineWithWarmup { warmup: 10, total: d.iters, min_lr: 3e-4 };
        Trainer::with_task(GptTask::new(model), opt)
            .callback(LrScheduler::new(Scheduler::new(cosine, 3e-3).unwrap(), None))
    }

    fn cfg(intervals: usize) -> FitConfig {
        FitConfig { epochs: intervals, batch_size: 4, seed: 5, progress: false, ..FitConfig::default() }
    }

    fn weights(m: &Gpt) -> Vec<Vec<f32>> {
        m.parameters().iter().map(|(_, p)| p.tensor().to_vec::<f32>().unwrap()).collect()
    }

    #[test]
    fn gpt_training_learns_the_successor_structure() {
        let (model, d) = (gpt(), data(1));
        let history = trainer(&model, &d).fit(&d, &cfg(d.intervals())).unwrap();
        let last = history.epochs.last().unwrap();
        let val = last.get("val_loss").unwrap();
        // From ln 9 = 2.20 towards the stream's entropy, 1.04 nats.
        assert!(history.epochs[0].get("val_loss").unwrap() > val && val < 1.25, "val_loss {val}");
        assert!(last.get("train_loss").is_some() && last.get("tokens_per_sec").unwrap() > 0.0);
    }

    #[test]
    fn resuming_gpt_training_matches_an_unbroken_run_with_accumulation_and_dropout() {
        let d = GptData { iters: 40, eval_interval: 20, ..data(2) };
        let unbroken = gpt();
        trainer(&unbroken, &d).fit(&d, &cfg(2)).unwrap();

        let first = gpt();
        let mut t = trainer(&first, &d);
        t.fit(&d, &cfg(1)).unwrap();
        let dir = std::env::temp_dir().join(format!("tessera-gpt-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("last.safetensors");
        let info = CheckpointInfo { model: "gpt".into(), epoch: 1, config: first.config().to_json().to_string() };
        checkpoint::save(&file, &first, Some(t.optimizer()), &info).unwrap();

        let resumed = gpt();
        let mut t = trainer(&resumed, &d);
        let info = checkpoint::load(&file, "gpt", &resumed, Some(t.optimizer_mut())).unwrap();
        t.fit_from(&d, &cfg(2), info.epoch).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(weights(&resumed), weights(&unbroken), "resumed weights differ from the unbroken run's");
    }
}

mod hugging_face {
    use super::*;
    use std::path::Path;
    use tessera_nn::state_dict::{to_safetensors, write_atomic, Metadata};
    use tessera_train::gpt::load_hf_gpt2;

    /// Writes `gpt` as `save_pretrained` lays out a GPT2LMHeadModel: `transformer.` names,
    /// Conv1D weights `[in, out]`, the causal-mask buffer and a tied `lm_head.weight`.
    fn save_as_hf(gpt: &Gpt, dir: &Path, model_type: &str) {
        std::fs::create_dir_all(dir).unwrap();
        let c = gpt.config();
        let config = serde_json::json!({ "model_type": model_type, "vocab_size": c.vocab, "n_positions": c.block_size,
            "n_layer": c.n_layer, "n_head": c.n_head, "n_embd": c.n_embd, "activation_function": "gelu_new",
            "layer_norm_epsilon": 1e-5 });
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        for (name, p) in gpt.parameters() {
            let conv1d = [".c_attn.weight", ".c_proj.weight", ".c_fc.weight"].iter().any(|s| name.ends_with(s));
            let t = if conv1d { p.tensor().t().unwrap().contiguous().unwrap() } else { p.tensor().clone() };
            tensors.push((name, t));
        }
        let mask = Tensor::ones([1, 1, c.block_size, c.block_size], tessera_tensor::DType::U8, &CPU).unwrap();
        tensors.push(("transformer.h.0.attn.bias".into(), mask));
        tensors.push(("lm_head.weight".into(), gpt.parameters()[0].1.tensor().clone()));
        write_atomic(&dir.join("model.safetensors"), &to_safetensors(&tensors, &Metadata::new()).unwrap()).unwrap();
    }

    #[test]
    fn a_gpt2_folder_loads_with_conv1d_weights_transposed_and_gives_the_same_logits() {
        let dir = std::env::temp_dir().join(format!("tessera-hf-gpt2-{}", std::process::id()));
        let source = Gpt::new(&GptConfig { gelu_tanh: true, ..tiny(17) }, &CPU).unwrap();
        save_as_hf(&source, &dir, "gpt2");
        let loaded = load_hf_gpt2(&dir, &CPU).unwrap();
        assert!(loaded.config().gelu_tanh && loaded.config().block_size == 12);
        let ids = Tensor::from_vec(vec![1u32, 5, 9, 16, 0, 3], [2, 3], &CPU).unwrap();
        let (a, b) = (source.forward_ids(&ids).unwrap(), loaded.forward_ids(&ids).unwrap());
        assert_eq!(a.tensor().to_vec::<f32>().unwrap(), b.tensor().to_vec::<f32>().unwrap());

        save_as_hf(&source, &dir, "llama");
        let err = load_hf_gpt2(&dir, &CPU).err().unwrap().to_string();
        assert!(err.contains("model_type is \"llama\"") && err.contains("config.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The folders and logits `fixtures/make_gpt2_fixtures.py` made with `transformers`.
    fn fixture(name: &str) -> (std::path::PathBuf, std::collections::BTreeMap<String, Tensor>) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let (tensors, _) =
            tessera_nn::state_dict::read_safetensors(&dir.join(format!("{name}.logits.safetensors"))).unwrap();
        (dir.join(name), tensors.into_iter().collect())
    }

    #[test]
    fn gpt2_models_saved_by_transformers_give_its_logits_and_perplexity() {
        for name in ["gpt2_tanh", "gpt2_exact"] {
            let (dir, want) = fixture(name);
            let model = load_hf_gpt2(&dir, &CPU).unwrap();
            model.set_training(false);
            let logits = model.forward_ids(&want["ids"]).unwrap();
            let (got, expected) = (logits.tensor().to_vec::<f32>().unwrap(), want["logits"].to_vec::<f32>().unwrap());
            assert_eq!(logits.dims(), want["logits"].dims(), "{name}");
            let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "{name}: logits differ from transformers' by up to {worst}");

            let stream = want["stream"].to_vec::<u32>().unwrap();
            let (ppl, predicted) = tessera_train::gpt::perplexity(&model, &stream).unwrap();
            let reference = want["perplexity"].to_vec::<f64>().unwrap()[0];
            let windows = stream.len().div_ceil(model.config().block_size);
            assert_eq!(predicted, stream.len() - windows, "{name}: one unpredicted token per window");
            assert!((ppl - reference).abs() < 1e-4 * reference, "{name}: perplexity {ppl}, transformers {reference}");
        }
    }
}
