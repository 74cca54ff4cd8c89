//! `train lm --pretrained-embeddings FILE [--freeze-embeddings]`: the language model's embedding
//! table filled from a word2vec or GloVe file, trainable or frozen.

use super::embeddings::load;
use super::lm_text::LmTokenizer;
use super::CliResult;
use std::path::Path;
use tessera_nn::{Embedding, ModuleParts};
use tessera_tensor::{Device, Generator};
use tessera_train::lm::LstmLm;

/// The model's embedding parameter.
const ENCODER: &str = "encoder.weight";

/// Puts the vectors of `file` into `model`'s embedding for the tokenizer's vocabulary (a new run),
/// and freezes the embedding when asked (a new or a resumed run: a resumed run's weights then
/// come from its checkpoint, not from the file).
pub fn apply(
    model: &mut LstmLm,
    file: Option<&Path>,
    freeze: bool,
    resuming: bool,
    tokenizer: &LmTokenizer,
    seed: u64,
    device: &Device,
) -> CliResult<()> {
    let Some(file) = file else { return Ok(()) };
    if resuming {
        if freeze {
            model.map_parameters(&mut |name, p| {
                Ok(if name == ENCODER { tessera_autograd::Var::constant(p.tensor().clone()) } else { p.clone() })
            })?;
        }
        return Ok(());
    }
    let Some(vocab) = tokenizer.vocab().map(|v| v.tokens()) else {
        return Err("--pretrained-embeddings needs --tokenizer word (or char): vectors are looked up by word".into());
    };
    let vectors = load(file, None)?;
    let embed = model.config().embed;
    if vectors.dim() != embed {
        return Err(format!(
            "{} holds vectors of dimension {}, but the model's embedding has {embed}: pass --embed {}",
            file.display(),
            vectors.dim(),
            vectors.dim()
        )
        .into());
    }
    let mut g = Generator::new(seed ^ 0x7072_6574_7261_696e);
    let (table, report) = Embedding::from_pretrained(&mut g, vocab, &vectors, freeze, device)?;
    let weight = table.weight().clone();
    model.map_parameters(&mut |name, p| Ok(if name == ENCODER { weight.clone() } else { p.clone() }))?;
    say!(
        "embeddings: {} of {} vocabulary entries from {} ({} words x {}); {} missing got random vectors \
         (N(0, {:.3}^2){}){}",
        report.found,
        vocab.len(),
        file.display(),
        vectors.len(),
        vectors.dim(),
        report.missing,
        report.init_std,
        if report.missing_examples.is_empty() {
            String::new()
        } else {
            format!(", e.g. {}", report.missing_examples.join(" "))
        },
        if freeze { "; frozen: the embedding is not trained" } else { "" }
    );
    Ok(())
}
