//! The text side of the language model: the corpus (shipped or from files), its split into
//! train/validation/test lines, and the tokenizer that turns lines into one id stream.

use super::training::{open_run, TrainOptions};
use super::CliResult;
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};
use tessera_text::{ByteLevelBpe, CharTokenizer, NgramModel, Normalizer, Smoothing, Vocab, WordTokenizer};

/// Seven Shakespeare plays, gzipped (provenance and licence in `data/README.md`).
const SHIPPED_CORPUS: &[u8] = include_bytes!("../../data/shakespeare_7_plays.txt.gz");

/// How the shipped corpus is named in configs and messages.
pub const SHIPPED_NAME: &str = "the shipped Shakespeare sample (7 plays, public domain; data/README.md)";

/// The text of `files` concatenated, or the shipped corpus when there are none.
pub fn read_corpus(files: &[PathBuf]) -> CliResult<String> {
    if files.is_empty() {
        let mut text = String::new();
        GzDecoder::new(SHIPPED_CORPUS)
            .read_to_string(&mut text)
            .map_err(|e| format!("the embedded corpus is damaged: {e}"))?;
        return Ok(text);
    }
    let mut text = String::new();
    for f in files {
        text.push_str(&tessera_text::io::read_text(f)?);
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
    }
    Ok(text)
}

/// How a corpus of `files` is named in messages: the files, or [`SHIPPED_NAME`] when none.
pub fn corpus_name(files: &[PathBuf]) -> String {
    if files.is_empty() {
        return SHIPPED_NAME.to_string();
    }
    files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// A corpus cut into three runs of consecutive lines.
pub struct LineSplits<'a> {
    /// The first lines.
    pub train: Vec<&'a str>,
    /// The lines after them.
    pub val: Vec<&'a str>,
    /// The last lines.
    pub test: Vec<&'a str>,
}

/// Splits `text` by lines: the last `test` fraction is the test split, the `val` fraction before
/// it the validation split, the rest training (consecutive runs, as in the Penn Treebank setup,
/// so that no split sees the others' neighbouring lines).
pub fn split_lines(text: &str, val: f64, test: f64) -> CliResult<LineSplits<'_>> {
    if !(val > 0.0 && test > 0.0 && val + test < 1.0) {
        return Err(format!("validation {val} and test {test} fractions must be positive with a sum below 1").into());
    }
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    let n_test = (n as f64 * test).round() as usize;
    let n_val = (n as f64 * val).round() as usize;
    if n_test == 0 || n_val == 0 || n_val + n_test >= n {
        let lines = if n == 1 { "line" } else { "lines" };
        return Err(format!("a corpus of {n} {lines} is too short to split into train, validation and test").into());
    }
    let (train, rest) = lines.split_at(n - n_val - n_test);
    let (val, test) = rest.split_at(n_val);
    Ok(LineSplits { train: train.to_vec(), val: val.to_vec(), test: test.to_vec() })
}

/// A tokenizer for language modelling, with an id that ends every line.
pub enum LmTokenizer {
    /// Lowercased words and punctuation over a vocabulary from the training lines.
    Word(WordTokenizer),
    /// Characters over a vocabulary from the training lines.
    Char(CharTokenizer),
    /// A byte-level BPE: GPT-2's own (no path) or a Hugging Face `tokenizer.json`'s.
    Bpe(Box<ByteLevelBpe>, Option<PathBuf>),
}

const VOCAB_FILE: &str = "vocab.json";
/// Tokens every word and character vocabulary starts with.
const SPECIAL_TOKENS: usize = 4;
/// The run folder's copy of a BPE tokenizer, so that the run does not depend on the original file.
const BPE_FILE: &str = "tokenizer.json";

impl LmTokenizer {
    /// Builds the tokenizer `spec` (`word`, `char`, `gpt2` or `bpe:FILE`); word and char vocabularies
    /// come from `train` lines (at most `max_vocab` entries; rarer words become `<unk>`).
    pub fn build(spec: &str, train: &[&str], max_vocab: usize) -> CliResult<LmTokenizer> {
        match spec {
            "word" => {
                if max_vocab <= SPECIAL_TOKENS {
                    return Err(format!(
                        "--vocab-size {max_vocab} leaves no room for words: the {SPECIAL_TOKENS} special tokens \
                         (<pad> <unk> <bos> <eos>) count in it; use at least {}",
                        SPECIAL_TOKENS + 1
                    )
                    .into());
                }
                let norm = Normalizer::new().lowercase();
                let lowered: Vec<String> = train.iter().map(|l| norm.normalize(l)).collect();
                let tok = WordTokenizer::train(lowered.iter().map(String::as_str), 1, Some(max_vocab));
                Ok(LmTokenizer::Word(tok.with_normalizer(norm)))
            }
            "char" => Ok(LmTokenizer::Char(CharTokenizer::train(train.iter().copied()))),
            "gpt2" => Ok(LmTokenizer::Bpe(Box::new(ByteLevelBpe::gpt2()), None)),
            other => match other.strip_prefix("bpe:") {
                Some(path) if !path.is_empty() => {
                    Ok(LmTokenizer::Bpe(Box::new(ByteLevelBpe::from_tokenizer_json(path)?), Some(PathBuf::from(path))))
                }
                _ => Err(format!("unknown tokenizer `{other}`: use word, char, gpt2 or bpe:FILE").into()),
            },
        }
    }

    /// The spec that [`LmTokenizer::load`] reads back.
    pub fn spec(&self) -> String {
        match self {
            LmTokenizer::Word(_) => "word".into(),
            LmTokenizer::Char(_) => "char".into(),
            LmTokenizer::Bpe(_, Some(path)) => format!("bpe:{}", path.display()),
            LmTokenizer::Bpe(_, None) => "gpt2".into(),
        }
    }

    /// Saves what [`LmTokenizer::load`] needs into the run folder `dir`: the vocabulary, or a
    /// copy of the BPE's `tokenizer.json` (GPT-2's is built in).
    pub fn save(&self, dir: &Path) -> CliResult<()> {
        match self {
            LmTokenizer::Word(t) => t.vocab().save(dir.join(VOCAB_FILE), "word")?,
            LmTokenizer::Char(t) => t.vocab().save(dir.join(VOCAB_FILE), "char")?,
            LmTokenizer::Bpe(_, None) => {}
            LmTokenizer::Bpe(_, Some(path)) => {
                let copy = dir.join(BPE_FILE);
                if copy != *path {
                    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                    tessera_text::io::write_atomic(&copy, &bytes)?;
                }
            }
        }
        Ok(())
    }

    /// The tokenizer `spec` of the run in `dir`.
    pub fn load(spec: &str, dir: &Path) -> CliResult<LmTokenizer> {
        let vocab = |kind: &str| Vocab::load_of_kind(dir.join(VOCAB_FILE), kind);
        match spec {
            "word" => {
                Ok(LmTokenizer::Word(WordTokenizer::new(vocab("word")?).with_normalizer(Normalizer::new().lowercase())))
            }
            "char" => Ok(LmTokenizer::Char(CharTokenizer::new(vocab("char")?))),
            other if other.starts_with("bpe:") && dir.join(BPE_FILE).exists() => {
                let copy = dir.join(BPE_FILE);
                Ok(LmTokenizer::Bpe(Box::new(ByteLevelBpe::from_tokenizer_json(&copy)?), Some(copy)))
            }
            other => LmTokenizer::build(other, &[], 0),
        }
    }

    /// The word or character vocabulary; byte-level BPE has merges instead.
    pub fn vocab(&self) -> Option<&Vocab> {
        match self {
            LmTokenizer::Word(t) => Some(t.vocab()),
            LmTokenizer::Char(t) => Some(t.vocab()),
            LmTokenizer::Bpe(..) => None,
        }
    }

    /// Number of ids.
    pub fn vocab_size(&self) -> usize {
        match self {
            LmTokenizer::Bpe(t, _) => t.vocab_size(),
            _ => self.vocab().map_or(0, Vocab::len),
        }
    }

    /// The id that ends a line: `<eos>` for words and characters, the newline token for BPE.
    pub fn line_end(&self) -> u32 {
        match self {
            LmTokenizer::Bpe(t, _) => t.encode("\n").first().copied().unwrap_or(0),
            _ => self.vocab().map_or(0, Vocab::eos_id),
        }
    }

    /// Says on standard error how many of `ids` (the tokens of `what`) stand for text outside the
    /// word or character vocabulary, which the model reads as `<unk>`; byte-level BPE spells
    /// anything, so it has none.
    pub fn warn_unknown(&self, ids: &[u32], what: &str) -> CliResult<()> {
        let Some(unk) = self.vocab().map(Vocab::unk_id) else { return Ok(()) };
        let unknown = ids.iter().filter(|&&id| id == unk).count();
        if unknown > 0 {
            warn!(
                "warning: {unknown} of {what}'s {} tokens are not in the run's vocabulary; the model reads them as {}",
                ids.len(),
                self.decode(&[unk])?
            );
        }
        Ok(())
    }

    /// Ids of one line, without the line end.
    pub fn encode_line(&self, line: &str) -> Vec<u32> {
        match self {
            LmTokenizer::Word(t) => t.encode(line),
            LmTokenizer::Char(t) => t.encode(line),
            LmTokenizer::Bpe(t, _) => t.encode(line),
        }
    }

    /// Ids of each line.
    pub fn encode_lines(&self, lines: &[&str]) -> Vec<Vec<u32>> {
        lines.iter().map(|l| self.encode_line(l)).collect()
    }

    /// Ids of a prompt: its lines, each but the last followed by the line end.
    pub fn encode_prompt(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                ids.push(self.line_end());
            }
            ids.extend(self.encode_line(line));
        }
        ids
    }

    /// Text of `ids`; the line end becomes a newline.
    pub fn decode(&self, ids: &[u32]) -> CliResult<String> {
        let end = self.line_end();
        let mut lines = Vec::new();
        for run in ids.split(|&id| id == end) {
            lines.push(match self {
                LmTokenizer::Word(t) => t.decode(run)?,
                LmTokenizer::Char(t) => t.decode(run)?,
                LmTokenizer::Bpe(t, _) => t.decode(run)?,
            });
        }
        Ok(lines.join("\n"))
    }
}

/// Lines of ids as one stream, each line followed by `line_end`.
pub fn stream(lines: &[Vec<u32>], line_end: u32) -> Vec<u32> {
    let mut ids = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        ids.extend_from_slice(l);
        ids.push(line_end);
    }
    ids
}

/// Lines of ids as the "sentences" of an n-gram model: the ids spelled as strings, so that the
/// n-gram model sees exactly the tokens (and `<unk>`s) the network sees; its `</s>` plays the
/// line end, so both models predict the same number of tokens.
fn ngram_sentences(lines: &[Vec<u32>]) -> Vec<Vec<String>> {
    lines.iter().map(|l| l.iter().map(u32::to_string).collect()).collect()
}

/// The interpolated Kneser-Ney bigram model (discount 0.75) trained on `train` lines, and its
/// perplexity on `val` and `test` lines.
pub fn bigram_baseline(train: &[Vec<u32>], val: &[Vec<u32>], test: &[Vec<u32>]) -> CliResult<(f64, f64)> {
    let lm = NgramModel::train(2, &ngram_sentences(train), Smoothing::KneserNey { discount: 0.75 })?;
    Ok((lm.perplexity(&ngram_sentences(val)), lm.perplexity(&ngram_sentences(test))))
}

/// The run folder of a language-model run (see [`open_run`]) with the tokenizer saved in it
/// (a new run) or as it was (`--resume`), said on the terminal; and the epochs already done.
pub fn open_lm_run(
    args: &impl serde::Serialize,
    opts: &TrainOptions,
    model: &str,
    device: &tessera_tensor::Device,
    tokenizer: &LmTokenizer,
) -> CliResult<(tessera_train::run_dir::RunDir, usize)> {
    let (run, done) = open_run(args, opts, model, device, serde_json::json!({}))?;
    if opts.resume.is_none() {
        tokenizer.save(run.path())?;
    }
    say!("run folder: {}", run.path().display());
    Ok((run, done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_consecutive_runs_of_lines() {
        let text: String = (0..20).map(|i| format!("line {i}\n")).collect();
        let s = split_lines(&text, 0.1, 0.2).unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (14, 2, 4));
        assert_eq!((s.val[0], s.test[0], s.test[3]), ("line 14", "line 16", "line 19"));
        assert!(split_lines("a\nb\n", 0.1, 0.1).is_err());
        assert!(split_lines(&text, 0.6, 0.5).is_err());
    }

    #[test]
    fn word_ids_round_trip_through_lines() {
        let train = ["The cat sat.", "The dog sat!"];
        let tok = LmTokenizer::build("word", &train, 100).unwrap();
        let ids = tok.encode_prompt("the cat\nthe dog");
        assert_eq!(ids.iter().filter(|&&i| i == tok.line_end()).count(), 1);
        assert_eq!(tok.decode(&ids).unwrap(), "the cat\nthe dog");
        let lines = tok.encode_lines(&train);
        assert_eq!(stream(&lines, tok.line_end()).len(), 4 + 1 + 4 + 1);
    }

    #[test]
    fn shipped_corpus_is_the_seven_plays() {
        let text = read_corpus(&[]).unwrap();
        assert_eq!(text.len(), 935_804);
        assert!(text.starts_with("ALL'S WELL THAT ENDS WELL"));
    }

    #[test]
    fn bigram_baseline_beats_uniform_on_repetitive_text() {
        let lines: Vec<Vec<u32>> = (0..50).map(|i| vec![4 + i % 3, 5 + i % 3, 6]).collect();
        let (val, test) = bigram_baseline(&lines[..40], &lines[40..45], &lines[45..]).unwrap();
        assert!(val < 3.0 && test < 3.0, "bigram perplexities {val} {test}");
    }
}
