//! Measures the two ways training threads share the weights (`SharedUpdates::Plain`, raw
//! pointers; `SharedUpdates::Atomic`, relaxed `AtomicU32`s) on the same corpus, 1 and 2 threads.
//!
//! ```sh
//! cargo run --release -p tessera-embed --example hogwild -- ../shared/data/text/shakespeare.txt [EPOCHS]
//! ```
//! Without a corpus argument it trains on a small generated text (a smoke run).

use std::time::Instant;
use tessera_embed::{train, CorpusBuilder, Lang, SharedUpdates, Word2VecConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut b = CorpusBuilder::new(Lang::En);
    match args.first() {
        Some(path) => b.add_file(std::path::Path::new(path))?,
        None => (0..2000).for_each(|i| b.add_line(&format!("the {} sat on the {} near word{}", i % 7, i % 11, i % 13))),
    }
    let epochs = args.get(1).map_or(Ok(5), |e| e.parse())?;
    let corpus = b.build(5)?;
    println!("corpus: {} words, vocabulary {}", corpus.words_read, corpus.vocab.len());
    for threads in [1, 2] {
        for updates in [SharedUpdates::Plain, SharedUpdates::Atomic] {
            let cfg = Word2VecConfig { threads, updates, epochs, ..Word2VecConfig::default() };
            let t = Instant::now();
            let (_, r) = train::train(&corpus, &cfg, &mut |_| {})?;
            println!(
                "{updates:?} threads {threads}: {:.0} words/s ({:.2} s, loss {:.4}, kernel {}, wall {:.2} s)",
                r.words_per_sec,
                r.seconds,
                r.final_loss,
                r.kernel,
                t.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
