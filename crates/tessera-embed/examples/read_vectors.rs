//! Reads a vector file and reports its size, the time taken and the process's peak memory (for
//! the 1 GB reading measurement in `benches/word2vec_gensim.py`).
//!
//! ```sh
//! cargo run --release -p tessera-embed --example read_vectors -- FILE [text|binary|glove]
//! ```

use std::time::Instant;
use tessera_embed::{format, Format};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: read_vectors FILE [text|binary|glove]")?;
    let fmt = args.next().map(|f| Format::from_name(&f)).transpose()?;
    let bytes = std::fs::metadata(&path)?.len();
    let started = Instant::now();
    let loaded = format::read(std::path::Path::new(&path), fmt)?;
    let secs = started.elapsed().as_secs_f64();
    let e = &loaded.embeddings;
    // Linux reports the peak resident set in /proc/self/status.
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        })
        .unwrap_or_else(|| "?".into());
    println!(
        "read {path} ({:?}, {:.2} GB): {} words x {} in {secs:.2} s ({:.0} MB/s); {} duplicates; vectors {:.0} MB; peak RSS {peak} kB",
        loaded.format,
        bytes as f64 / 1e9,
        e.len(),
        e.dim(),
        bytes as f64 / 1e6 / secs,
        loaded.duplicates,
        (e.len() * e.dim() * 4) as f64 / 1e6,
    );
    Ok(())
}
