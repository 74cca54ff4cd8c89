//! `tessera embeddings ...`: explore and evaluate word vectors (word2vec text or binary, GloVe):
//! nearest neighbours, analogies, word-pair similarity, analogy accuracy, pictures, conversion.

use super::ranges::count;
use super::CliResult;
use std::path::{Path, PathBuf};
use tessera_embed::eval::{self, Neighbour, Searcher};
use tessera_embed::{format, Embeddings, Format};

/// A vector file format, as an option value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VectorFormat {
    /// word2vec text: a `WORDS DIM` header, then `word v1 ... vDIM` lines.
    Text,
    /// word2vec binary: the header, then each word, a space and DIM little-endian f32s.
    Binary,
    /// GloVe text: `word v1 ... vDIM` lines without a header.
    Glove,
}

impl VectorFormat {
    /// The library's format.
    pub fn format(self) -> Format {
        match self {
            VectorFormat::Text => Format::Text,
            VectorFormat::Binary => Format::Binary,
            VectorFormat::Glove => Format::Glove,
        }
    }
}

/// Arguments of `tessera embeddings`.
#[derive(Debug, clap::Args)]
pub struct EmbeddingsArgs {
    #[command(subcommand)]
    command: EmbeddingsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum EmbeddingsCommand {
    /// The words nearest to WORD by cosine similarity.
    Neighbours(NeighboursArgs),
    /// "A is to B as C is to ?": the best answers by 3CosAdd (B - A + C), A, B and C left out.
    Analogy(AnalogyArgs),
    /// Spearman's correlation with human similarity scores (a WordSim-353 file).
    Similarity(SimilarityArgs),
    /// Accuracy on analogy questions (word2vec's questions-words.txt format), per section.
    Evaluate(EvaluateArgs),
    /// A 2-D picture (PCA or t-SNE) of some of the words, as SVG.
    Plot(super::embeddings_plot::PlotArgs),
    /// Rewrites a vector file in another format.
    Convert(ConvertArgs),
}

/// The vector file every subcommand reads.
#[derive(Debug, clap::Args)]
pub struct Source {
    /// The vector file: word2vec text or binary, or GloVe text.
    pub file: PathBuf,
    /// Its format (default: detected from the first lines).
    #[arg(long, value_enum)]
    pub format: Option<VectorFormat>,
}

impl Source {
    /// Reads the file, warning about duplicate words (the first vector of each is kept).
    pub fn load(&self) -> CliResult<Embeddings> {
        load(&self.file, self.format)
    }
}

/// Reads a vector file, warning about duplicate words (the first vector of each is kept).
pub fn load(path: &Path, format: Option<VectorFormat>) -> CliResult<Embeddings> {
    let loaded = format::read(path, format.map(VectorFormat::format))?;
    if let Some((word, place)) = &loaded.first_duplicate {
        warn!(
            "{}: {} rows repeat an earlier word and were skipped (the first vector of a word is kept; \
             the first repeat is `{word}` at {place})",
            path.display(),
            loaded.duplicates
        );
    }
    Ok(loaded.embeddings)
}

#[derive(Debug, clap::Args)]
struct NeighboursArgs {
    #[command(flatten)]
    source: Source,
    /// The word.
    word: String,
    /// How many neighbours.
    #[arg(short = 'k', long = "k", value_parser = count, default_value_t = 10)]
    k: usize,
    /// Search only the N most frequent words (the first N of the file).
    #[arg(long, value_parser = count)]
    top_n: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct AnalogyArgs {
    #[command(flatten)]
    source: Source,
    /// A, in "A is to B as C is to ?".
    a: String,
    /// B.
    b: String,
    /// C.
    c: String,
    /// How many answers.
    #[arg(short = 'k', long = "k", value_parser = count, default_value_t = 10)]
    k: usize,
    /// Search only the N most frequent words (the first N of the file).
    #[arg(long, value_parser = count)]
    top_n: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct SimilarityArgs {
    #[command(flatten)]
    source: Source,
    /// Word pairs with human scores: `word1<TAB>word2<TAB>score` lines, `#` comments.
    #[arg(long)]
    pairs: PathBuf,
    /// Use only the N most frequent words (pairs with others count as out of vocabulary).
    #[arg(long, value_parser = count)]
    top_n: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct EvaluateArgs {
    #[command(flatten)]
    source: Source,
    /// Analogy questions: `: section` lines, then `a b c d` lines.
    #[arg(long)]
    analogies: PathBuf,
    /// Use only the N most frequent words, as word2vec's compute-accuracy does (questions with
    /// others count as out of vocabulary).
    #[arg(long, value_parser = count, default_value_t = 30_000)]
    top_n: usize,
    /// Threads (default: the machine's cores).
    #[arg(long, value_parser = count)]
    threads: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct ConvertArgs {
    #[command(flatten)]
    source: Source,
    /// The file to write.
    #[arg(long)]
    out: PathBuf,
    /// Its format (default: binary for a `.bin` file, else word2vec text).
    #[arg(long, value_enum)]
    to: Option<VectorFormat>,
}

/// Runs `tessera embeddings ...`.
pub fn run(args: EmbeddingsArgs) -> CliResult<()> {
    match args.command {
        EmbeddingsCommand::Neighbours(a) => {
            let vectors = a.source.load()?;
            print_neighbours(&Searcher::new(&vectors, a.top_n).neighbours(&a.word, a.k)?);
        }
        EmbeddingsCommand::Analogy(a) => {
            let vectors = a.source.load()?;
            print_neighbours(&Searcher::new(&vectors, a.top_n).analogy(&a.a, &a.b, &a.c, a.k)?);
        }
        EmbeddingsCommand::Similarity(a) => similarity(a)?,
        EmbeddingsCommand::Evaluate(a) => evaluate(a)?,
        EmbeddingsCommand::Plot(a) => super::embeddings_plot::run(a)?,
        EmbeddingsCommand::Convert(a) => {
            let vectors = a.source.load()?;
            let to = a.to.map_or_else(|| Format::for_output(&a.out), VectorFormat::format);
            format::write(&vectors, &a.out, to)?;
            say!("wrote {} ({} format: {} words x {})", a.out.display(), to.name(), vectors.len(), vectors.dim());
        }
    }
    Ok(())
}

fn print_neighbours(found: &[Neighbour]) {
    for n in found {
        say!("{}\t{:.4}", n.word, n.similarity);
    }
}

fn similarity(a: SimilarityArgs) -> CliResult<()> {
    let vectors = a.source.load()?;
    let pairs = eval::read_word_pairs(&a.pairs)?;
    let score = eval::evaluate_similarity(&Searcher::new(&vectors, a.top_n), &pairs);
    let examples: Vec<String> = score.oov_examples.iter().map(|(x, y)| format!("{x}-{y}")).collect();
    say!(
        "{}: {} pairs, {} scored, {} out of vocabulary{}",
        a.pairs.display(),
        pairs.len(),
        score.pairs,
        score.oov,
        if examples.is_empty() { String::new() } else { format!(" (e.g. {})", examples.join(", ")) }
    );
    say!("Spearman {:.4}  Pearson {:.4}", score.spearman, score.pearson);
    Ok(())
}

fn evaluate(a: EvaluateArgs) -> CliResult<()> {
    let vectors = a.source.load()?;
    let sections = eval::read_analogies(&a.analogies)?;
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let searcher = Searcher::new(&vectors, Some(a.top_n));
    let score = eval::evaluate_analogies(&searcher, &sections, threads);
    say!("{:<28} {:>8} {:>8} {:>9} {:>8}", "section", "correct", "asked", "accuracy", "oov");
    let line = |s: &eval::SectionScore| {
        say!("{:<28} {:>8} {:>8} {:>8.2}% {:>8}", s.name, s.correct, s.asked, 100.0 * s.accuracy(), s.oov)
    };
    score.sections.iter().for_each(line);
    say!("{}", "-".repeat(65));
    [&score.semantic, &score.syntactic, &score.total].into_iter().for_each(line);
    let all = score.total.asked + score.total.oov;
    say!(
        "questions asked: {} of {} ({:.1}%; the others have a word outside the {} most frequent); accuracy {:.2}%",
        score.total.asked,
        all,
        100.0 * score.total.asked as f64 / all.max(1) as f64,
        searcher.len(),
        100.0 * score.total.accuracy()
    );
    Ok(())
}
