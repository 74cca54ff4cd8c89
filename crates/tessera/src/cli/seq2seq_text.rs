//! The text side of sequence to sequence: a tokenizer per side with the ids every
//! encoder-decoder needs (`<pad>`, `<bos>`, `<eos>`), saved in the run folder, and pairs of text
//! screened (length limits, characters the tokenizer cannot encode) and encoded.

use super::lm_text::LmTokenizer;
use super::CliResult;
use std::path::Path;
use tessera_train::seq2seq::{EncodedPair, PairProblem, PairSet, Side, Specials};

/// One side's tokenizer: a word, character or byte-level BPE tokenizer whose vocabulary has
/// `<pad>`, `<bos>` and `<eos>` (a BPE's are added after its own ids).
pub struct SideTokenizer {
    inner: LmTokenizer,
    specials: Specials,
    /// The id tokens outside the vocabulary become, if the tokenizer has one.
    unk: Option<u32>,
}

impl SideTokenizer {
    /// The tokenizer `spec` (`char`, `word`, `gpt2` or `bpe:FILE`) built from `texts` (word and
    /// character vocabularies; at most `max_vocab` words).
    pub fn build(spec: &str, texts: &[&str], max_vocab: usize) -> CliResult<SideTokenizer> {
        Ok(SideTokenizer::wrap(LmTokenizer::build(spec, texts, max_vocab)?))
    }

    /// The tokenizer `spec` saved in `dir` by [`SideTokenizer::save`].
    pub fn load(spec: &str, dir: &Path) -> CliResult<SideTokenizer> {
        Ok(SideTokenizer::wrap(LmTokenizer::load(spec, dir)?))
    }

    fn wrap(inner: LmTokenizer) -> SideTokenizer {
        let (specials, unk) = match inner.vocab() {
            Some(vocab) => (specials_of(vocab), Some(vocab.unk_id())),
            None => {
                let n = inner.vocab_size() as u32;
                (Specials { pad: n, bos: n + 1, eos: n + 2 }, None)
            }
        };
        SideTokenizer { inner, specials, unk }
    }

    /// Saves what [`SideTokenizer::load`] needs into `dir` (created if missing).
    pub fn save(&self, dir: &Path) -> CliResult<()> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        self.inner.save(dir)
    }

    /// The spec [`SideTokenizer::load`] reads back.
    pub fn spec(&self) -> String {
        self.inner.spec()
    }

    /// Number of ids, the special ones included.
    pub fn vocab_size(&self) -> usize {
        match self.inner {
            LmTokenizer::Bpe(..) => self.inner.vocab_size() + 3,
            _ => self.inner.vocab_size(),
        }
    }

    /// The reserved ids.
    pub fn specials(&self) -> Specials {
        self.specials
    }

    /// Ids of `text`, or the first character the vocabulary lacks.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, char> {
        let ids = self.inner.encode_line(text);
        match self.unk {
            Some(unk) if ids.contains(&unk) => Err(self.first_unknown(text, unk)),
            _ => Ok(ids),
        }
    }

    /// Ids of `text` with `<unk>` for what the vocabulary lacks.
    pub fn encode_lossy(&self, text: &str) -> Vec<u32> {
        self.inner.encode_line(text)
    }

    /// The first character of `text` that encodes to `unk` on its own (or, for words, the first
    /// character of the first unknown word).
    fn first_unknown(&self, text: &str, unk: u32) -> char {
        match &self.inner {
            LmTokenizer::Word(t) => text
                .split_whitespace()
                .find(|w| t.encode(w).contains(&unk))
                .and_then(|w| w.chars().next())
                .unwrap_or('?'),
            _ => text.chars().find(|c| self.inner.encode_line(&c.to_string()).contains(&unk)).unwrap_or('?'),
        }
    }

    /// Text of `ids`, the special ids left out.
    pub fn decode(&self, ids: &[u32]) -> String {
        let s = self.specials;
        let kept: Vec<u32> = ids.iter().copied().filter(|&i| i != s.pad && i != s.bos && i != s.eos).collect();
        self.inner.decode(&kept).unwrap_or_else(|_| kept.iter().map(|i| format!("#{i} ")).collect())
    }

    /// Each id as its own text, for attention maps' axes.
    pub fn token_labels(&self, ids: &[u32]) -> Vec<String> {
        let s = self.specials;
        ids.iter()
            .map(|&i| match i {
                _ if i == s.bos => "<bos>".to_string(),
                _ if i == s.eos => "<eos>".to_string(),
                _ if i == s.pad => "<pad>".to_string(),
                _ => self.inner.decode(&[i]).unwrap_or_else(|_| format!("#{i}")),
            })
            .collect()
    }
}

fn specials_of(vocab: &tessera_text::Vocab) -> Specials {
    Specials { pad: vocab.pad_id(), bos: vocab.bos_id(), eos: vocab.eos_id() }
}

/// The source and target tokenizers of a run.
pub struct PairTokenizers {
    /// Reads the sources.
    pub source: SideTokenizer,
    /// Writes the targets.
    pub target: SideTokenizer,
}

/// Where each side's tokenizer lives in a run folder.
const SOURCE_DIR: &str = "source_tokenizer";
const TARGET_DIR: &str = "target_tokenizer";

impl PairTokenizers {
    /// Saves both into the run folder `dir`.
    pub fn save(&self, dir: &Path) -> CliResult<()> {
        self.source.save(&dir.join(SOURCE_DIR))?;
        self.target.save(&dir.join(TARGET_DIR))
    }

    /// Loads both from the run folder `dir` with their specs.
    pub fn load(source: &str, target: &str, dir: &Path) -> CliResult<PairTokenizers> {
        Ok(PairTokenizers {
            source: SideTokenizer::load(source, &dir.join(SOURCE_DIR))?,
            target: SideTokenizer::load(target, &dir.join(TARGET_DIR))?,
        })
    }

    /// Moves the pairs of `set` that the tokenizers cannot encode, or that are longer than
    /// `max_source`/`max_target` tokens, to its skipped lines; encodes the rest.
    pub fn screen_and_encode(&self, set: &mut PairSet, max_source: usize, max_target: usize) -> Vec<EncodedPair> {
        let mut encoded = Vec::with_capacity(set.pairs.len());
        set.screen(|pair| {
            let sides = [
                (Side::Source, &self.source, &pair.source, max_source),
                (Side::Target, &self.target, &pair.target, max_target),
            ];
            let mut ids = Vec::with_capacity(2);
            for (side, tokenizer, text, max) in sides {
                match tokenizer.encode(text) {
                    Err(ch) => return Some(PairProblem::Unencodable { side, ch }),
                    Ok(t) if t.is_empty() => return Some(PairProblem::Other(format!("{side} encodes to no tokens"))),
                    Ok(t) if t.len() > max => return Some(PairProblem::TooLong { side, tokens: t.len(), max }),
                    Ok(t) => ids.push(t),
                }
            }
            let target = ids.pop().unwrap_or_default();
            let source = ids.pop().unwrap_or_default();
            encoded.push(EncodedPair { source, target });
            None
        });
        encoded
    }
}

impl PairTokenizers {
    /// Tokenizers `source` and `target` (specs) built from the training pairs of `train`: each
    /// from its own side, or with `shared` one vocabulary from both sides (the same ids on both;
    /// both specs must then be the same).
    pub fn build(
        source: &str,
        target: &str,
        train: &PairSet,
        max_vocab: usize,
        shared: bool,
    ) -> CliResult<PairTokenizers> {
        let sources: Vec<&str> = train.pairs.iter().map(|p| p.source.as_str()).collect();
        let targets: Vec<&str> = train.pairs.iter().map(|p| p.target.as_str()).collect();
        if !shared {
            return Ok(PairTokenizers {
                source: SideTokenizer::build(source, &sources, max_vocab)?,
                target: SideTokenizer::build(target, &targets, max_vocab)?,
            });
        }
        if source != target {
            return Err(
                format!("--shared-vocab needs one tokenizer for both sides, not `{source}` and `{target}`").into()
            );
        }
        let both: Vec<&str> = sources.iter().chain(&targets).copied().collect();
        Ok(PairTokenizers {
            source: SideTokenizer::build(source, &both, max_vocab)?,
            target: SideTokenizer::build(target, &both, max_vocab)?,
        })
    }
}
