//! `tessera perplexity` on a Hugging Face GPT-2 folder: the printed figure equals the
//! definition computed here window by window, and bad inputs are errors that name the values.

use std::path::Path;
use std::process::Command;
use tessera_nn::state_dict::{to_safetensors, write_atomic, Metadata};
use tessera_nn::Module;
use tessera_tensor::{Device, Tensor};
use tessera_text::ByteLevelBpe;
use tessera_train::gpt::{Gpt, GptConfig};

fn tessera(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().expect("running tessera");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A small random GPT-2 with GPT-2's vocabulary, saved as `save_pretrained` lays it out.
fn write_hf_folder(dir: &Path, model_type: &str) -> Gpt {
    let cfg = GptConfig {
        vocab: 50257,
        block_size: 16,
        n_layer: 1,
        n_head: 2,
        n_embd: 8,
        gelu_tanh: true,
        ..GptConfig::small(50257)
    };
    let gpt = Gpt::new(&cfg, &Device::Cpu).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let config = serde_json::json!({ "model_type": model_type, "vocab_size": 50257, "n_positions": 16, "n_layer": 1,
        "n_head": 2, "n_embd": 8, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5 });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let tensors: Vec<(String, Tensor)> = gpt
        .parameters()
        .into_iter()
        .map(|(name, p)| {
            let conv1d = [".c_attn.weight", ".c_proj.weight", ".c_fc.weight"].iter().any(|s| name.ends_with(s));
            (name, if conv1d { p.tensor().t().unwrap().contiguous().unwrap() } else { p.tensor().clone() })
        })
        .collect();
    write_atomic(&dir.join("model.safetensors"), &to_safetensors(&tensors, &Metadata::new()).unwrap()).unwrap();
    gpt
}

/// The definition: non-overlapping windows of 16, each token after a window's first predicted
/// from the ones before it; exp of the mean negative log-likelihood.
fn reference(gpt: &Gpt, ids: &[u32]) -> (f64, usize) {
    let (mut nll, mut n) = (0.0, 0);
    for w in ids.chunks(16).filter(|w| w.len() >= 2) {
        let x = Tensor::from_vec(w.to_vec(), [1, w.len()], &Device::Cpu).unwrap();
        let logits = gpt.forward_ids(&x).unwrap().tensor().to_vec_f64().unwrap();
        for i in 0..w.len() - 1 {
            let row = &logits[i * 50257..][..50257];
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            nll += lse - row[w[i + 1] as usize];
            n += 1;
        }
    }
    ((nll / n as f64).exp(), n)
}

#[test]
fn perplexity_of_a_gpt2_folder_follows_the_definition() {
    let dir = std::env::temp_dir().join(format!("tessera-cli-ppl-{}", std::process::id()));
    let model_dir = dir.join("gpt2");
    let gpt = write_hf_folder(&model_dir, "gpt2");
    let text = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n";
    let file = dir.join("text.txt");
    std::fs::write(&file, text).unwrap();
    let (model_arg, file_arg) = (model_dir.to_str().unwrap(), file.to_str().unwrap());
    let (ok, out) = tessera(&["perplexity", "--checkpoint", model_arg, "--tokenizer", "gpt2", file_arg]);
    assert!(ok, "{out}");
    let ids = ByteLevelBpe::gpt2().encode(text);
    let (ppl, n) = reference(&gpt, &ids);
    // Windows of 16 over the ids: each full window predicts 15, the rest one fewer than it has.
    assert_eq!(n, ids.len() - ids.len().div_ceil(16));
    let printed: f64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(out.contains(&format!("over {n} tokens")), "{out}");
    assert!((printed - ppl).abs() < 1e-3 * ppl, "printed {printed}, definition {ppl}");
    let (greedy_ok, sample) =
        tessera(&["generate", "--checkpoint", model_arg, "--prompt", "To be", "--tokens", "5", "--temperature", "0"]);
    assert!(greedy_ok && sample.starts_with("To be"), "{sample}");

    write_hf_folder(&model_dir, "llama");
    let (ok, err) = tessera(&["perplexity", "--checkpoint", model_arg, file_arg]);
    assert!(!ok && err.contains("llama"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
