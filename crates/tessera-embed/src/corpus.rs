//! A training corpus: lines of text turned into word ids over a vocabulary counted from the
//! corpus itself, each line a sentence (word2vec's and gensim's `LineSentence` convention).

use crate::error::{Error, Place, Result};
use crate::words::WordTable;
use std::io::BufRead;
use std::path::Path;
use tessera_text::{Normalizer, Segmenter, WordTokenizer};

/// Longest sentence: longer lines are cut into pieces of this many words (as gensim does).
pub const MAX_SENTENCE_WORDS: usize = 10_000;

/// How lines become words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Lowercased, split at whitespace and punctuation (punctuation marks are words too): the
    /// `word` tokenizer of `tessera train lm`, so the vectors fit its vocabulary.
    En,
    /// Lowercased, then segmented by Tessera's jieba-compatible [`Segmenter`] (whitespace
    /// dropped).
    Zh,
}

impl Lang {
    /// `en` or `zh`.
    pub fn from_name(name: &str) -> Result<Lang> {
        match name {
            "en" => Ok(Lang::En),
            "zh" => Ok(Lang::Zh),
            other => Err(Error::Config(format!("unknown language `{other}`: use en or zh"))),
        }
    }
}

/// Words and their corpus counts, most frequent first (ties in order of first appearance, as
/// gensim sorts).
#[derive(Debug, Clone)]
pub struct Vocab {
    words: WordTable,
    counts: Vec<u64>,
}

impl Vocab {
    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The words, most frequent first.
    pub fn words(&self) -> &WordTable {
        &self.words
    }

    /// Count of each word in the corpus, in word order.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Sum of the counts: the corpus's in-vocabulary words.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// A tokenized corpus: the in-vocabulary words of every sentence as ids into [`Vocab`].
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The vocabulary (words seen at least `min_count` times).
    pub vocab: Vocab,
    /// Word ids, sentence after sentence (out-of-vocabulary words left out, as word2vec does).
    pub tokens: Vec<u32>,
    /// End of each sentence in `tokens`.
    pub sentence_ends: Vec<usize>,
    /// Words read, the rare ones included.
    pub words_read: u64,
    /// Lines read.
    pub lines: u64,
}

impl Corpus {
    /// The sentences, as slices of word ids.
    pub fn sentences(&self) -> impl Iterator<Item = &[u32]> + '_ {
        let starts = std::iter::once(0).chain(self.sentence_ends.iter().copied());
        starts.zip(self.sentence_ends.iter().copied()).map(move |(s, e)| &self.tokens[s..e])
    }
}

/// Reads lines into provisional ids (in order of first appearance) while counting words; then
/// [`CorpusBuilder::build`] keeps the frequent ones and renumbers by frequency.
///
/// ```
/// use tessera_embed::{CorpusBuilder, Lang};
/// let mut b = CorpusBuilder::new(Lang::En);
/// b.add_line("The cat sat. The dog sat!");
/// b.add_line("a cat");
/// let corpus = b.build(2)?;
/// let words: Vec<&str> = corpus.vocab.words().iter().collect();
/// assert_eq!(words, ["the", "cat", "sat"]); // 2, 2, 2 times; "." and "!" once
/// assert_eq!(corpus.vocab.counts(), [2, 2, 2]);
/// assert_eq!(corpus.sentences().collect::<Vec<_>>(), [&[0, 1, 2, 0, 2][..], &[1][..]]);
/// # Ok::<(), tessera_embed::Error>(())
/// ```
pub struct CorpusBuilder {
    lang: Lang,
    lowercase: Normalizer,
    segmenter: Option<Segmenter>,
    table: WordTable,
    counts: Vec<u64>,
    tokens: Vec<u32>,
    line_ends: Vec<usize>,
    lines: u64,
}

impl CorpusBuilder {
    /// An empty corpus in `lang` (creating the Chinese segmenter loads its dictionary).
    pub fn new(lang: Lang) -> Self {
        CorpusBuilder {
            lang,
            lowercase: Normalizer::new().lowercase(),
            segmenter: (lang == Lang::Zh).then(Segmenter::new),
            table: WordTable::new(),
            counts: Vec::new(),
            tokens: Vec::new(),
            line_ends: Vec::new(),
            lines: 0,
        }
    }

    /// Adds one line (a sentence).
    pub fn add_line(&mut self, line: &str) {
        self.lines += 1;
        let lowered = self.lowercase.normalize(line);
        let before = self.tokens.len();
        match (&self.segmenter, self.lang) {
            (Some(seg), Lang::Zh) => {
                for w in seg.cut(&lowered) {
                    if !w.trim().is_empty() {
                        add_word(&mut self.table, &mut self.counts, &mut self.tokens, w);
                    }
                }
            }
            _ => {
                for w in WordTokenizer::words(&lowered) {
                    add_word(&mut self.table, &mut self.counts, &mut self.tokens, w);
                }
            }
        }
        if self.tokens.len() > before {
            self.line_ends.push(self.tokens.len());
        }
    }

    /// Adds every line of `path`, read as a stream; bytes that are not UTF-8 are an error naming
    /// the file and line.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        self.add_reader(std::io::BufReader::with_capacity(1 << 20, file), &path.display().to_string())
    }

    /// Adds every line of `reader`; `name` names it in errors.
    pub fn add_reader(&mut self, mut reader: impl BufRead, name: &str) -> Result<()> {
        let mut buf = Vec::new();
        let mut line_no = 0;
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf).map_err(|e| Error::io(name, e))? == 0 {
                return Ok(());
            }
            line_no += 1;
            let line = std::str::from_utf8(&buf).map_err(|e| {
                let reason = format!("not valid UTF-8 (byte {} of the line)", e.valid_up_to() + 1);
                Error::malformed(name, Place::Line(line_no), reason)
            })?;
            self.add_line(line);
        }
    }

    /// The corpus over the words seen at least `min_count` times, numbered by falling count;
    /// sentences longer than [`MAX_SENTENCE_WORDS`] are cut.
    pub fn build(self, min_count: u64) -> Result<Corpus> {
        let words_read = self.tokens.len() as u64;
        let mut order: Vec<u32> =
            (0..self.table.len() as u32).filter(|&i| self.counts[i as usize] >= min_count).collect();
        if order.is_empty() {
            return Err(Error::Config(format!(
                "no word occurs at least {min_count} times in the corpus ({words_read} words, {} distinct): \
                 lower --min-count or give more text",
                self.table.len()
            )));
        }
        // A stable sort keeps first appearance among equal counts.
        order.sort_by_key(|&i| std::cmp::Reverse(self.counts[i as usize]));
        let mut new_id = vec![u32::MAX; self.table.len()];
        let mut words = WordTable::with_capacity(order.len(), order.len() * 8);
        let mut counts = Vec::with_capacity(order.len());
        for (rank, &old) in order.iter().enumerate() {
            new_id[old as usize] = rank as u32;
            let _ = words.insert(self.table.word(old as usize));
            counts.push(self.counts[old as usize]);
        }
        let mut tokens = Vec::with_capacity(self.tokens.len());
        let mut sentence_ends = Vec::with_capacity(self.line_ends.len());
        let mut start = 0;
        for &end in &self.line_ends {
            let mut in_sentence = 0;
            for &t in &self.tokens[start..end] {
                let id = new_id[t as usize];
                if id != u32::MAX {
                    tokens.push(id);
                    in_sentence += 1;
                    if in_sentence == MAX_SENTENCE_WORDS {
                        sentence_ends.push(tokens.len());
                        in_sentence = 0;
                    }
                }
            }
            if in_sentence > 0 {
                sentence_ends.push(tokens.len());
            }
            start = end;
        }
        Ok(Corpus { vocab: Vocab { words, counts }, tokens, sentence_ends, words_read, lines: self.lines })
    }
}

fn add_word(table: &mut WordTable, counts: &mut Vec<u64>, tokens: &mut Vec<u32>, w: &str) {
    let id = match table.insert(w) {
        Ok(id) => {
            counts.push(0);
            id
        }
        Err(id) => id,
    };
    counts[id as usize] += 1;
    tokens.push(id);
}
