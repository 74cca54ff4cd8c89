//! `tessera embeddings plot`: a 2-D picture of some words' vectors (PCA or exact t-SNE) as an
//! SVG scatter with labels placed so that they do not overlap.

use super::embeddings::Source;
use super::ranges::{count, positive};
use super::CliResult;
use clap::ArgGroup;
use std::path::PathBuf;
use tessera_embed::eval::Searcher;
use tessera_embed::plot::{project, scatter_svg, Method, TsneConfig};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum MethodChoice {
    /// The first two principal components (fast, keeps global distances).
    Pca,
    /// Exact t-SNE (up to a few thousand words; keeps neighbourhoods).
    Tsne,
}

/// Arguments of `tessera embeddings plot`.
#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("which").required(true).args(["words", "word_list"])))]
pub struct PlotArgs {
    #[command(flatten)]
    source: Source,
    /// Draw the N most frequent words (the first N of the file).
    #[arg(long, value_parser = count)]
    words: Option<usize>,
    /// Draw the words listed in this file (separated by whitespace).
    #[arg(long)]
    word_list: Option<PathBuf>,
    /// The SVG file to write.
    #[arg(long)]
    out: PathBuf,
    /// The projection.
    #[arg(long, value_enum, default_value = "pca")]
    method: MethodChoice,
    /// t-SNE: the effective number of neighbours of each point.
    #[arg(long, value_parser = positive, default_value_t = 30.0)]
    perplexity: f64,
    /// t-SNE: gradient-descent iterations.
    #[arg(long, value_parser = count, default_value_t = 1000)]
    iterations: usize,
    /// t-SNE: threads (default: the machine's cores).
    #[arg(long, value_parser = count)]
    threads: Option<usize>,
}

/// Runs `tessera embeddings plot`.
pub fn run(a: PlotArgs) -> CliResult<()> {
    let vectors = a.source.load()?;
    let searcher = Searcher::new(&vectors, None);
    let ids: Vec<u32> = match (&a.word_list, a.words) {
        (Some(list), _) => {
            let text = tessera_text::io::read_text(list)?;
            let (mut ids, mut missing) = (Vec::new(), Vec::new());
            for w in text.split_whitespace() {
                match searcher.id(w) {
                    Some(id) if !ids.contains(&id) => ids.push(id),
                    Some(_) => {}
                    None => missing.push(w),
                }
            }
            if !missing.is_empty() {
                let shown: Vec<&str> = missing.iter().take(8).copied().collect();
                warn!("{} listed words are not in {}: {}", missing.len(), a.source.file.display(), shown.join(" "));
            }
            ids
        }
        (None, Some(n)) => (0..n.min(vectors.len()) as u32).collect(),
        (None, None) => return Err("give --words N or --word-list FILE".into()),
    };
    if ids.is_empty() {
        return Err("no word to draw".into());
    }
    let dim = vectors.dim();
    let points: Vec<f32> = ids.iter().flat_map(|&i| vectors.vector(i as usize).iter().copied()).collect();
    let method = match a.method {
        MethodChoice::Pca => Method::Pca,
        MethodChoice::Tsne => Method::Tsne(TsneConfig {
            perplexity: a.perplexity,
            iterations: a.iterations,
            threads: a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            ..TsneConfig::default()
        }),
    };
    let xy = project(&points, dim, &method)?;
    let labels: Vec<&str> = ids.iter().map(|&i| vectors.word(i as usize)).collect();
    let name = match a.method {
        MethodChoice::Pca => "PCA",
        MethodChoice::Tsne => "t-SNE",
    };
    let file = a
        .source
        .file
        .file_name()
        .map_or_else(|| a.source.file.display().to_string(), |f| f.to_string_lossy().into_owned());
    let title = format!("{name} of {} words from {file}", ids.len());
    let (svg, shown) = scatter_svg(&title, &xy, &labels);
    tessera_text::io::write_atomic(&a.out, svg.as_bytes())?;
    say!("wrote {}: {} words, {shown} labels shown (the others had no free place)", a.out.display(), ids.len());
    Ok(())
}
