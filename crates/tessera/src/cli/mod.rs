//! Command-line definitions and dispatch; one file per subcommand.

// First, so that its `say!` and `warn!` macros are in scope in every module below.
#[macro_use]
pub mod output;

mod bpe;
mod device;
mod distributed;
mod embeddings;
mod embeddings_plot;
mod eval;
mod explain;
mod generate;
mod input;
mod lm_text;
mod mlp;
mod penalty;
mod perplexity;
mod predict;
mod pretrained;
mod ranges;
mod saved;
mod segment;
mod seq2seq_data;
mod seq2seq_text;
mod summary;
mod tokenize;
mod train_gpt;
mod train_lm;
mod train_mlp;
mod train_seq2seq;
mod training;
mod translate;
mod tune;
mod word2vec;

use clap::{Parser, Subcommand};

pub use input::CliResult;

/// Tessera: a deep-learning framework. Train and evaluate models, tokenize and segment text.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a model (`tessera train mlp`: the MNIST classifier; `tessera train lm`: an LSTM language
    /// model; `tessera train gpt`: a GPT, nanoGPT's recipe; `tessera train seq2seq`: an
    /// encoder-decoder; `tessera train word2vec`: word vectors).
    Train(training::TrainArgs),
    /// Evaluate a saved checkpoint on test data.
    Eval(eval::EvalArgs),
    /// Predict classes with a saved checkpoint.
    Predict(predict::PredictArgs),
    /// Saliency maps: which pixels a classifier's decision depends on, as pictures.
    Explain(explain::ExplainArgs),
    /// Sample text from a language model trained with `tessera train lm` or `tessera train gpt`.
    Generate(generate::GenerateArgs),
    /// A GPT's perplexity on text files (a `tessera train gpt` run or a Hugging Face GPT-2 folder).
    Perplexity(perplexity::PerplexityArgs),
    /// Translate text with an encoder-decoder trained by `tessera train seq2seq`: one output
    /// line per input line, by beam search.
    Translate(translate::TranslateArgs),
    /// Print a model's layers, output shapes, parameters and FLOPs.
    Summary(summary::SummaryArgs),
    /// Tokenize text: one line of ids (or tokens) per input line.
    Tokenize(tokenize::TokenizeArgs),
    /// Segment Chinese text into words separated by spaces, line by line.
    Segment(segment::SegmentArgs),
    /// Byte-level BPE tools.
    Bpe(bpe::BpeArgs),
    /// Explore and evaluate word vectors: neighbours, analogies, similarity and analogy
    /// benchmarks, pictures, format conversion.
    Embeddings(embeddings::EmbeddingsArgs),
    /// Choose hyperparameters by validation: every configuration of a grid (or `--random N` of
    /// them) scored by stratified k-fold cross-validation or a validation split, a ranked table
    /// (tune.csv, tune.svg), and the best configuration retrained on all the training data.
    Tune(tune::TuneArgs),
}

/// Runs the parsed command on a rayon pool of its own (`RAYON_NUM_THREADS` threads, by default
/// one per core). A training step then runs on a thread of the pool, which splits each kernel's
/// work with the others directly and keeps them spinning between kernels; from the main thread
/// every parallel kernel would be handed to the pool and the main thread put to sleep until it
/// ends (a GPT step on 2 threads: about 57 against 45 ms). Without threads to spare for a pool,
/// the command runs here. Returns the process's exit code (errors printed).
pub fn run_on_pool(cli: Cli) -> std::process::ExitCode {
    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("tessera-{i}"))
        // The main thread's usual stack, for the command's own frames.
        .stack_size(8 << 20)
        .build();
    match pool {
        Ok(pool) => pool.install(|| output::exit_code(run(cli))),
        Err(_) => output::exit_code(run(cli)),
    }
}

/// Runs the parsed command on the calling thread.
pub fn run(cli: Cli) -> CliResult<()> {
    match cli.command {
        Command::Train(args) => training::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Perplexity(args) => perplexity::run(args),
        Command::Translate(args) => translate::run(args),
        Command::Summary(args) => summary::run(args),
        Command::Tokenize(args) => tokenize::run(args),
        Command::Segment(args) => segment::run(args),
        Command::Bpe(args) => bpe::run(args),
        Command::Embeddings(args) => embeddings::run(args),
        Command::Tune(args) => tune::run(args),
    }
}
