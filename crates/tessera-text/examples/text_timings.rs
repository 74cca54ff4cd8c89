//! Times GPT-2 encoding, BPE training and Chinese segmentation on given files and prints one
//! JSON object; `benches/text/compare_reference.py` runs it next to the Python references.
//!
//! `cargo run --release -p tessera-text --example text_timings -- ENGLISH.txt CHINESE.txt IDS_OUT`

use std::time::Instant;

use tessera_text::{BpeTrainer, ByteLevelBpe, Segmenter};

fn best_of<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..reps {
        let start = Instant::now();
        let v = f();
        best = best.min(start.elapsed().as_secs_f64());
        out = Some(v);
    }
    match out {
        Some(v) => (best, v),
        None => (best, f()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [english, chinese, ids_out] = args.as_slice() else {
        return Err("usage: text_timings ENGLISH.txt CHINESE.txt IDS_OUT".into());
    };
    let en = tessera_text::io::read_text(english)?;
    let zh = tessera_text::io::read_text(chinese)?;

    let gpt2 = ByteLevelBpe::gpt2();
    let (cold, ids) = best_of(3, || {
        gpt2.clear_cache();
        gpt2.encode(&en)
    });
    let (warm, _) = best_of(3, || gpt2.encode(&en));
    let lines: Vec<&str> = en.lines().collect();
    let (per_line, _) = best_of(3, || {
        gpt2.clear_cache();
        lines.iter().map(|l| gpt2.encode(l).len()).sum::<usize>()
    });
    let text_ids: Vec<String> = ids.iter().map(u32::to_string).collect();
    tessera_text::io::write_atomic(ids_out, text_ids.join(" ").as_bytes())?;

    let (train, trained) = best_of(1, || BpeTrainer::new(8000).train([en.as_str()]));
    let trained = trained?;
    let vocab = trained.vocab_size();
    // The trained tokenizer as tokenizer.json, and its ids for the first lines, so the script can
    // check that Hugging Face loads the file and agrees.
    trained.save_tokenizer_json(format!("{ids_out}.tokenizer.json"))?;
    let trained_lines: Vec<String> = lines
        .iter()
        .take(5000)
        .map(|l| trained.encode(l).iter().map(u32::to_string).collect::<Vec<_>>().join(" "))
        .collect();
    tessera_text::io::write_atomic(format!("{ids_out}.trained_ids"), trained_lines.join("\n").as_bytes())?;

    let ours = Segmenter::new();
    let jieba = jieba_rs::Jieba::new();
    let zh_lines: Vec<&str> = zh.lines().collect();
    let (seg_ours, n_ours) = best_of(5, || zh_lines.iter().map(|l| ours.cut(l).len()).sum::<usize>());
    let (seg_jieba, n_jieba) = best_of(5, || zh_lines.iter().map(|l| jieba.cut(l, true).len()).sum::<usize>());
    let same = zh_lines.iter().all(|l| ours.cut(l) == jieba.cut(l, true));

    println!(
        "{{\"gpt2_cold_s\": {cold:.4}, \"gpt2_warm_s\": {warm:.4}, \"gpt2_lines_cold_s\": {per_line:.4}, \
         \"n_ids\": {}, \"bpe_train_8k_s\": {train:.3}, \"bpe_vocab\": {vocab}, \
         \"segment_s\": {seg_ours:.4}, \"jieba_rs_segment_s\": {seg_jieba:.4}, \"words\": {n_ours}, \
         \"jieba_rs_words\": {n_jieba}, \"same_as_jieba_rs\": {same}, \"en_bytes\": {}, \"zh_bytes\": {}}}",
        ids.len(),
        en.len(),
        zh.len()
    );
    Ok(())
}
