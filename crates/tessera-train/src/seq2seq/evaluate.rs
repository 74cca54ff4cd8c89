//! Decoding whole sets of sources in batches, and scoring the outputs against references:
//! exact match, token accuracy, sacreBLEU's corpus BLEU and chrF.

use super::batch::{SourceBatch, Specials};
use super::decode::{beam_search, greedy, BeamConfig, Hypothesis};
use super::model::Seq2seq;
use crate::Result;
use std::ops::ControlFlow;
use tessera_tensor::Device;
use tessera_text::metrics::{corpus_bleu, corpus_chrf, exact_match, token_accuracy, BleuScore, ChrfScore};

/// Decodes `sources` in batches of `batch_size` (beam search, or greedy for width 1), in
/// evaluation mode, and puts the model back in training mode. An empty source decodes to an
/// empty output.
pub fn decode_all<M: Seq2seq>(
    model: &M,
    sources: &[&[u32]],
    specials: Specials,
    beam: &BeamConfig,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<Hypothesis>> {
    let mut out = Vec::with_capacity(sources.len());
    decode_each(model, sources, specials, beam, batch_size, device, |h| {
        out.push(h);
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// [`decode_all`], handing each source's output to `each`, in order, as soon as its batch is
/// decoded (to print translations as they come); `each` may stop the decoding with
/// `ControlFlow::Break`. Returns how many outputs were handed over.
pub fn decode_each<M: Seq2seq>(
    model: &M,
    sources: &[&[u32]],
    specials: Specials,
    beam: &BeamConfig,
    batch_size: usize,
    device: &Device,
    mut each: impl FnMut(Hypothesis) -> ControlFlow<()>,
) -> Result<usize> {
    model.set_training(false);
    let result = (|| {
        let mut handed = 0;
        let empty = Hypothesis { tokens: Vec::new(), log_prob: 0.0, score: 0.0, finished: false };
        for chunk in sources.chunks(batch_size.max(1)) {
            let rows: Vec<&[u32]> = chunk.iter().copied().filter(|s| !s.is_empty()).collect();
            let mut decoded = match rows.is_empty() {
                true => Vec::new(),
                false => {
                    let batch = SourceBatch::new(&rows, specials.pad, model.source_padding(), device)?;
                    match beam.width {
                        1 => greedy(model, &batch, specials, beam.max_len)?,
                        _ => beam_search(model, &batch, specials, beam)?,
                    }
                }
            }
            .into_iter();
            for s in chunk {
                handed += 1;
                let h = if s.is_empty() { empty.clone() } else { decoded.next().unwrap_or_else(|| empty.clone()) };
                if each(h).is_break() {
                    return Ok(handed);
                }
            }
        }
        Ok(handed)
    })();
    model.set_training(true);
    result
}

/// How well outputs match their references.
#[derive(Debug, Clone)]
pub struct TranslationScores {
    /// Pairs scored.
    pub examples: usize,
    /// Fraction of outputs identical to their reference (as text).
    pub exact_match: f64,
    /// Fraction of reference tokens matched position by position.
    pub token_accuracy: f64,
    /// sacreBLEU's corpus BLEU of the texts.
    pub bleu: BleuScore,
    /// sacreBLEU's corpus chrF of the texts.
    pub chrf: ChrfScore,
}

/// Scores output ids against reference ids; `detokenize` writes both as text for exact match,
/// BLEU and chrF.
pub fn score(
    outputs: &[Vec<u32>],
    references: &[Vec<u32>],
    detokenize: impl Fn(&[u32]) -> String,
) -> Result<TranslationScores> {
    let hyps: Vec<String> = outputs.iter().map(|o| detokenize(o)).collect();
    let refs: Vec<String> = references.iter().map(|r| detokenize(r)).collect();
    Ok(TranslationScores {
        examples: outputs.len(),
        exact_match: exact_match(&hyps, &refs)?,
        token_accuracy: token_accuracy(outputs, references)?,
        bleu: corpus_bleu(&hyps, &refs)?,
        chrf: corpus_chrf(&hyps, &refs)?,
    })
}
