//! Valid inputs to start from: generated here with the libraries themselves (so that they stay
//! valid as formats evolve), plus any files in `seeds/<target>/`. And the saved failures in
//! `regressions/<target>/`.

use crate::input::{join2, scratch_dir};
use crate::targets::{tiny_model, tiny_optimizer, TINY_MODEL};
use flate2::{write::GzEncoder, Compression};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use tessera_embed::{Embeddings, Format};
use tessera_nn::state_dict::to_safetensors;
use tessera_nn::Module;
use tessera_tensor::{Device, Tensor};
use tessera_text::{BpeTrainer, CharTokenizer, WordTokenizer};
use tessera_train::checkpoint::CheckpointInfo;
use tessera_train::gpt::{is_conv1d_weight, Gpt, GptConfig};
use tessera_train::lm::LstmLmConfig;
use tessera_train::seq2seq::{AttentionScore, LstmAttentionConfig, TransformerSeq2seqConfig};

/// The crate's folder of seed files, `seeds/`.
pub fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds")
}

/// The crate's folder of saved failures, `regressions/`.
pub fn regression_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions")
}

/// The files directly in `dir` (but a `README.md`), sorted by name, with their bytes (none when
/// `dir` does not exist).
pub fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let is_input = |p: &Path| p.is_file() && p.file_name().is_some_and(|n| n != "README.md");
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| is_input(p)).collect();
    paths.sort();
    paths.into_iter().filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b))).collect()
}

/// The seeds of `target`: generated ones, then the files in `seeds/<target>/`.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut out = match target {
        "idx" => idx_seeds(),
        "csv" => csv_seeds(),
        "checkpoint" => checkpoint_seeds(),
        "tokenizer_json" => vec![tiny_tokenizer_json().into_bytes()],
        "vocab" => vocab_seeds(),
        "jieba_dict" => {
            vec![b"\xe4\xba\x91\xe8\xae\xa1\xe7\xae\x97 5\n\xe5\x88\x9b\xe6\x96\xb0\xe5\x8a\x9e 3 i\n".to_vec()]
        }
        "run_folder" => run_folder_seeds(),
        "pairs" => vec![b"hello\tbonjour\ncat\tchat\nno tab here\n\xef\xbb\xbfdog\tchien\textra\n".to_vec()],
        "embeddings" => embedding_seeds(),
        "embed_eval" => vec![join2(
            b": capital-common-countries\nparis france rome italy\n: family\nking queen man woman\n",
            b"# word1 word2 score\nking queen 8.5\ncat\tdog\t7.0\nman woman 6\nparis rome 3.25\n",
        )],
        "hf_gpt2" => hf_gpt2_seeds(),
        "model_config" => model_config_seeds(),
        "tensor_ops" => tensor_ops_seeds(crate::targets::TENSOR_OPS),
        "fused_ops" => tensor_ops_seeds(crate::targets::FUSED_OPS),
        "var_ops" => var_ops_seeds(),
        "optim" => optim_seeds(),
        // Two tensors: "w" f32 [2] and "b" i64 [] (no dims), then one metadata entry.
        "safetensors_roundtrip" => {
            vec![[&[2u8, 0, 0, 1, 2][..], &[0, 0, 128, 63, 0, 0, 0, 192], &[1, 6, 0], &[7; 8], &[1, 4, 5]].concat()]
        }
        "text_pipeline" => vec![
            "\x10The cat sat on the mat.\nthe cat ate.\n我来到北京清华大学 Ünïcödé ＡＢＣ\n".as_bytes().to_vec(),
            b"\x05a b a b a c\na b c\n".to_vec(),
        ],
        "selftest" => vec![b"fuzz me".to_vec()],
        _ => Vec::new(),
    };
    out.extend(files_in(&seed_dir().join(target)).into_iter().map(|(_, b)| b));
    out
}

/// Gzips `bytes`.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).and_then(|_| e.finish()).unwrap_or_default()
}

/// An IDX file of unsigned bytes.
pub fn idx_file(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, dims.len() as u8];
    bytes.extend(dims.iter().flat_map(|d| d.to_be_bytes()));
    bytes.extend(data);
    bytes
}

fn idx_seeds() -> Vec<Vec<u8>> {
    let pixels: Vec<u8> = (0..48).map(|i| (i * 37 % 256) as u8).collect();
    let (images, labels) = (idx_file(&[3, 4, 4], &pixels), idx_file(&[3], &[1, 7, 9]));
    let big: Vec<u8> = (0..784).map(|i| if i % 29 == 0 { 255 } else { 0 }).collect();
    vec![
        join2(&images, &labels),
        join2(&gzip(&images), &gzip(&labels)),
        join2(&idx_file(&[1, 28, 28], &big), &idx_file(&[1], &[5])),
    ]
}

fn csv_seeds() -> Vec<Vec<u8>> {
    let last = "0,12,255,0,3\n0,0,128,64,7\n0,1,2,3,9\n";
    let first = "label,p0,p1,p2,p3\n4,0,0,200,0\n2,10,0,0,0\n";
    let row: Vec<String> = std::iter::once("8".to_string()).chain((0..784).map(|i| (i % 256).to_string())).collect();
    vec![last.into(), first.into(), row.join(",").into_bytes(), gzip(last.as_bytes())]
}

/// The bytes of a file the library writes into the scratch folder.
fn written(name: &str, write: impl FnOnce(&Path) -> Result<(), String>) -> Option<Vec<u8>> {
    let path = scratch_dir().ok()?.join(name);
    write(&path).ok()?;
    std::fs::read(&path).ok()
}

fn checkpoint_seeds() -> Vec<Vec<u8>> {
    let Ok(model) = tiny_model() else { return Vec::new() };
    let info = CheckpointInfo { model: TINY_MODEL.into(), epoch: 3, config: json!({"inputs": 2}).to_string() };
    let full = written("seed.safetensors", |p| {
        let opt = tiny_optimizer(&model).map_err(|e| e.to_string())?;
        tessera_train::checkpoint::save(p, &model, Some(&opt), &info).map_err(|e| e.to_string())
    });
    let model_only = written("seed-model.safetensors", |p| {
        tessera_train::checkpoint::save(p, &model, None, &info).map_err(|e| e.to_string())
    });
    let state_dict = written("seed-state.safetensors", |p| {
        tessera_nn::state_dict::save(&model, p, &Default::default()).map_err(|e| e.to_string())
    });
    [full, model_only, state_dict].into_iter().flatten().collect()
}

/// Text the seed tokenizers are trained on.
const TRAINING_TEXT: [&str; 3] = ["hello world, hello tessera", "the quick brown fox", "fuzzing finds bugs"];

/// A small byte-level BPE's `tokenizer.json`.
pub fn tiny_tokenizer_json() -> String {
    BpeTrainer::new(270).train(TRAINING_TEXT).map(|t| t.to_tokenizer_json()).unwrap_or_default()
}

/// GPT-2's two files for the tokenizer of [`tiny_tokenizer_json`]: `encoder.json` (token to id)
/// and `vocab.bpe` (merges, one per line).
fn tiny_gpt2_files() -> Option<(String, String)> {
    let doc: Value = serde_json::from_str(&tiny_tokenizer_json()).ok()?;
    let model = doc.get("model")?;
    let merges: Vec<String> = model
        .get("merges")?
        .as_array()?
        .iter()
        .map(|m| match m {
            Value::Array(pair) => pair.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
            other => other.as_str().unwrap_or_default().to_string(),
        })
        .collect();
    Some((model.get("vocab")?.to_string(), format!("#version: 0.2\n{}\n", merges.join("\n"))))
}

fn vocab_seeds() -> Vec<Vec<u8>> {
    let chars = CharTokenizer::train(TRAINING_TEXT).vocab().to_json("char");
    let words = WordTokenizer::train(TRAINING_TEXT, 1, None).vocab().to_json("word");
    let mut out = vec![join2(chars.as_bytes(), b""), join2(words.as_bytes(), b"")];
    out.extend(tiny_gpt2_files().map(|(e, m)| join2(e.as_bytes(), m.as_bytes())));
    out
}

fn run_folder_seeds() -> Vec<Vec<u8>> {
    let config = json!({
        "model": "mlp",
        "train": {"data": null, "augment": false, "epochs": 3, "batch_size": 32, "lr": 0.001,
                  "val_split": 0.1, "patience": null, "seed": 0},
        "device": "cpu", "inputs": 784, "classes": 10, "optimizer": "adam"
    });
    let metrics: String = (1..=3)
        .map(|e| json!({"epoch": e, "loss": 1.0 / e as f64, "accuracy": 0.8, "val_loss": 0.5, "val_accuracy": 0.9}))
        .map(|m| format!("{m}\n"))
        .collect();
    let lm = "{\"epoch\":1,\"ppl\":300.5,\"val_ppl\":320.25}\n{\"epoch\":2,\"ppl\":200.0,\"val_ppl\":250.0}\n";
    vec![join2(config.to_string().as_bytes(), metrics.as_bytes()), join2(b"{\"train\":{\"epochs\":2}}", lm.as_bytes())]
}

fn embedding_seeds() -> Vec<Vec<u8>> {
    let data = vec![0.5, -1.0, 2.0, 0.25, 0.0, -3.5, 1.0, 1.0, 1.5];
    let Ok(vectors) = Embeddings::from_parts(["the", "cat", "sat"], 3, data) else { return Vec::new() };
    [Format::Text, Format::Binary, Format::Glove]
        .into_iter()
        .filter_map(|f| {
            let mut bytes = Vec::new();
            tessera_embed::format::write_to(&vectors, &mut bytes, f).ok().map(|()| bytes)
        })
        .collect()
}

/// A small GPT's sizes, shared by the Hugging Face folder and the config seeds.
fn tiny_gpt_config() -> GptConfig {
    GptConfig { block_size: 4, n_layer: 1, n_head: 2, n_embd: 4, ..GptConfig::small(8) }
}

/// A Hugging Face GPT-2 folder as `save_pretrained` writes one: GPT-2's names, `Conv1D` weights
/// `[in, out]`, and a `config.json`.
fn hf_gpt2_seeds() -> Vec<Vec<u8>> {
    let cfg = tiny_gpt_config();
    let Ok(gpt) = Gpt::new(&cfg, &Device::Cpu) else { return Vec::new() };
    let tensors: Option<Vec<(String, Tensor)>> = gpt
        .parameters()
        .into_iter()
        .map(|(name, p)| {
            let t = p.tensor().clone();
            let t = if is_conv1d_weight(&name) { t.t().and_then(|t| t.contiguous()).ok()? } else { t };
            Some((name, t))
        })
        .collect();
    let Some(weights) = tensors.and_then(|t| to_safetensors(&t, &Default::default()).ok()) else { return Vec::new() };
    let config = json!({"model_type": "gpt2", "vocab_size": cfg.vocab, "n_positions": cfg.block_size,
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd": cfg.n_embd, "activation_function": "gelu_new"});
    vec![join2(config.to_string().as_bytes(), &weights)]
}

fn model_config_seeds() -> Vec<Vec<u8>> {
    let lm = LstmLmConfig { vocab: 9, embed: 4, hidden: 5, layers: 2, dropout: 0.1, seed: 3 };
    let lstm = LstmAttentionConfig {
        source_vocab: 9,
        target_vocab: 7,
        embed: 4,
        hidden: 6,
        layers: 1,
        score: AttentionScore::Additive,
        dropout: 0.0,
        pad: 0,
        seed: 1,
    };
    let transformer = TransformerSeq2seqConfig {
        source_vocab: 9,
        target_vocab: 7,
        d_model: 8,
        heads: 2,
        feedforward: 16,
        encoder_layers: 1,
        decoder_layers: 1,
        dropout: 0.1,
        norm_first: true,
        tie_embeddings: true,
        pad: 0,
        seed: 2,
    };
    [tiny_gpt_config().to_json(), lm.to_json(), lstm.to_json(), transformer.to_json()]
        .map(|v| v.to_string().into_bytes())
        .to_vec()
}

/// One program per op of the `ops` a program chooses from: a cast that always succeeds (so that
/// each seed is accepted), then the op on the image operand `[1, 2, 4, 4]` with small arguments;
/// and one that chains a creation, a view and a reduction.
fn tensor_ops_seeds(ops: usize) -> Vec<Vec<u8>> {
    let cast = [26, 0, 0];
    let mut seeds: Vec<Vec<u8>> =
        (0..ops as u8).map(|op| [&cast[..], &[op, 4, 1, 2, 3, 2, 1, 0, 1, 2]].concat()).collect();
    seeds.push(vec![0, 0, 1, 2, 2, 3, 0, 3, 8, 2, 0, 21, 8, 0, 1]);
    seeds
}

/// One program per op of `var_ops`: a negation of the scalar parameter (which always succeeds,
/// so that each seed is accepted), then the op on the image operand `[1, 2, 4, 4]` with small
/// arguments; backward runs from the last result that succeeded.
fn var_ops_seeds() -> Vec<Vec<u8>> {
    let neg = [14, 0, 0];
    (0..crate::targets::VAR_OPS as u8).map(|op| [&neg[..], &[op, 4, 1, 2, 3, 2, 1, 0, 1, 2]].concat()).collect()
}

/// One step of each optimizer kind over a `[2, 3]` f32 parameter given a gradient of its own
/// shape and dtype, with no options; and Adam over two parameters (f32 and f64) with every
/// option but loss scaling, two steps, a rate change and its state loaded into a second
/// optimizer. A setting byte `4i + 1` reads `[0, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.99, 1][i]`.
fn optim_seeds() -> Vec<Vec<u8>> {
    let (no_options, one_grad) = ([0u8; 5], [0u8, 2, 0, 0, 0]);
    let sgd = [0u8, 13, 21, 1, 0, 1];
    let adam = [1u8, 13, 21, 25, 5, 1, 1];
    let rmsprop = [2u8, 13, 25, 5, 1, 21];
    let mut seeds: Vec<Vec<u8>> =
        [&sgd[..], &adam, &rmsprop].iter().map(|kind| [&[0, 2, 0], *kind, &no_options, &one_grad].concat()).collect();
    let options = [1u8, 1, 29, 1, 5, 5, 0, 1, 1, 13, 0, 1, 0];
    let steps = [0u8, 2, 0, 0, 4, 1, 1, 3, 1, 1];
    seeds.push([&[1, 2, 0, 4, 1], &adam[..], &options, &steps, &adam, &no_options, &[0, 2, 0, 0, 4, 1]].concat());
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{execute, Verdict};
    use crate::targets::TARGETS;

    #[test]
    fn every_target_has_seeds_that_are_accepted() {
        for target in TARGETS {
            let seeds = seeds(target.name);
            assert!(!seeds.is_empty(), "{} has no seeds", target.name);
            for (i, seed) in seeds.iter().enumerate() {
                assert!(seed.len() < 16 << 10, "{} seed {i} is {} bytes", target.name, seed.len());
                match execute(target, seed).verdict {
                    Verdict::Done(outcome) => assert!(
                        outcome.starts_with("ok") || outcome.contains(" ok") || outcome.contains("info ok"),
                        "{} seed {i}: {outcome}",
                        target.name
                    ),
                    Verdict::Panic(p) => panic!("{} seed {i} panicked: {}", target.name, p.message),
                }
            }
        }
    }
}
