//! `tessera train word2vec` and `tessera embeddings ...` end to end on the shipped Shakespeare
//! text, and `train lm --pretrained-embeddings` with and without `--freeze-embeddings`.

use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tessera::embed::eval::Searcher;
use tessera::embed::{format, Embeddings};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().expect("running tessera")
}

fn tessera(args: &[&str]) -> String {
    let out = run(args);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "tessera {args:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

fn tessera_fails(args: &[&str]) -> String {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "tessera {args:?} should fail");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The first `lines` lines of the shipped corpus, written to `dir`.
fn shipped_slice(dir: &Path, lines: usize) -> PathBuf {
    let gz = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/shakespeare_7_plays.txt.gz")).unwrap();
    let mut text = String::new();
    GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
    let path = dir.join("slice.txt");
    std::fs::write(&path, text.lines().take(lines).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    path
}

fn vectors(path: &Path) -> Embeddings {
    format::read(path, None).unwrap().embeddings
}

fn words_of(listing: &str) -> Vec<&str> {
    listing.lines().map(|l| l.split('\t').next().unwrap()).collect()
}

/// `../shared/data` beside the workspace (or `TESSERA_DATA`), when it holds the evaluation sets.
fn shared_eval() -> Option<PathBuf> {
    let root = std::env::var("TESSERA_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    root.join("eval/questions-words.txt").is_file().then(|| root.join("eval"))
}

#[test]
fn word2vec_on_the_shipped_plays_learns_and_every_embeddings_command_reads_it() {
    let dir = fresh_dir("cli-w2v");
    let out = dir.join("v.txt");
    let o = out.to_str().unwrap();
    let printed =
        tessera(&["train", "word2vec", "--threads", "1", "--seed", "1", "--dim", "50", "--epochs", "3", "--out", o]);
    assert!(printed.contains("corpus: the shipped Shakespeare sample") && printed.contains("words/s"), "{printed}");
    let v = vectors(&out);
    assert_eq!(v.dim(), 50);
    assert_eq!(v.word(0), ",", "the most frequent word comes first");

    // What a working trainer learns from 200,000 words of early modern English: each word's
    // partner is among its nearest neighbours (ranks seen over seeds 1-6: 2-4, 1-2, 1, 4-7).
    let s = Searcher::new(&v, None);
    for (word, partner, within) in [("thou", "thy", 5), ("my", "your", 3), ("he", "she", 3), ("lord", "lady", 10)] {
        let near: Vec<String> = s.neighbours(word, within).unwrap().into_iter().map(|n| n.word).collect();
        assert!(near.iter().any(|w| w == partner), "{word}: {near:?} lacks {partner}");
    }

    let listing = tessera(&["embeddings", "neighbours", o, "thou", "-k", "5"]);
    assert_eq!(listing.lines().count(), 5);
    assert!(listing.lines().all(|l| l.split('\t').nth(1).is_some_and(|x| x.parse::<f32>().is_ok())), "{listing}");
    let answers = tessera(&["embeddings", "analogy", o, "i", "my", "thou", "-k", "3"]);
    assert_eq!(words_of(&answers)[0], "thy", "{answers}");
    assert!(!words_of(&answers).iter().any(|w| ["i", "my", "thou"].contains(w)));

    // Similarity and analogy files in the standard formats.
    let pairs = dir.join("pairs.tsv");
    std::fs::write(
        &pairs,
        "# w1\tw2\tscore\nthou\tthy\t9\nmy\tyour\t8\nking\tqueen\t7\nthou\twhereof\t1\nzzz\tking\t5\n",
    )
    .unwrap();
    let sim = tessera(&["embeddings", "similarity", o, "--pairs", pairs.to_str().unwrap()]);
    assert!(
        sim.contains("5 pairs, 4 scored, 1 out of vocabulary (e.g. zzz-king)") && sim.contains("Spearman"),
        "{sim}"
    );
    let questions = dir.join("q.txt");
    std::fs::write(&questions, ": pronouns\nI my thou thy\nhe his she her\n: gram-none\nfoo bar baz qux\n").unwrap();
    let acc = tessera(&["embeddings", "evaluate", o, "--analogies", questions.to_str().unwrap(), "--threads", "2"]);
    assert!(acc.contains("questions asked: 2 of 3"), "{acc}");
    assert!(acc.lines().any(|l| l.starts_with("pronouns") && l.contains(" 2 ")), "{acc}");

    // Pictures: PCA of the 150 most frequent words, t-SNE of a word list.
    let svg = dir.join("pca.svg");
    let said = tessera(&["embeddings", "plot", o, "--words", "150", "--out", svg.to_str().unwrap()]);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.matches("<circle").count() == 150, "{said}");
    let list = dir.join("words.txt");
    std::fs::write(&list, "king queen lord lady sir madam thou thee thy my your his her nosuchword\n").unwrap();
    let tsne = dir.join("tsne.svg");
    let (l, t) = (list.to_str().unwrap(), tsne.to_str().unwrap());
    let said =
        tessera(&["embeddings", "plot", o, "--word-list", l, "--method", "tsne", "--perplexity", "4", "--out", t]);
    assert!(said.contains("13 words") && std::fs::read_to_string(&tsne).unwrap().contains(">queen</text>"), "{said}");

    // Conversions keep every value.
    let bin = dir.join("v.bin");
    tessera(&["embeddings", "convert", o, "--out", bin.to_str().unwrap()]);
    let glove = dir.join("v.glove");
    tessera(&["embeddings", "convert", bin.to_str().unwrap(), "--out", glove.to_str().unwrap(), "--to", "glove"]);
    for other in [&bin, &glove] {
        let w = vectors(other);
        assert!(w.words().iter().eq(v.words().iter()) && w.as_slice() == v.as_slice(), "{}", other.display());
    }

    match shared_eval() {
        None => eprintln!("skipping the WordSim-353 and questions-words runs: ../shared/data/eval is absent"),
        Some(eval) => {
            let ws = eval.join("wordsim353.tsv");
            let sim = tessera(&["embeddings", "similarity", o, "--pairs", ws.to_str().unwrap()]);
            assert!(sim.contains("353 pairs"), "{sim}");
            let qw = eval.join("questions-words.txt");
            let acc = tessera(&["embeddings", "evaluate", o, "--analogies", qw.to_str().unwrap()]);
            assert!(acc.contains("capital-common-countries") && acc.contains("of 19544"), "{acc}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The vocabulary of a `train lm` run and its embedding rows from the last checkpoint.
fn lm_embedding(run: &Path) -> (Vec<String>, Vec<f32>) {
    let vocab = tessera::text::Vocab::load_of_kind(run.join("vocab.json"), "word").unwrap();
    let (tensors, _) = tessera::nn::state_dict::read_safetensors(&run.join("checkpoints/last.safetensors")).unwrap();
    let weight = tensors.iter().find(|(n, _)| n == "model.encoder.weight").expect("the embedding is saved");
    (vocab.tokens().to_vec(), weight.1.to_vec::<f32>().unwrap())
}

#[test]
fn pretrained_vectors_start_the_language_model_and_frozen_ones_stay() {
    let dir = fresh_dir("cli-w2v-lm");
    let corpus = shipped_slice(&dir, 600);
    let c = corpus.to_str().unwrap();
    let vec_path = dir.join("v.txt");
    let v = vec_path.to_str().unwrap();
    tessera(&["train", "word2vec", "--corpus", c, "--dim", "16", "--min-count", "2", "--epochs", "1", "--out", v]);
    let file = vectors(&vec_path);
    let lm = ["train", "lm", "--corpus", c, "--hidden", "16", "--seq-len", "16", "--batch-size", "8", "--epochs", "1"];
    fn with<'a>(lm: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        lm.iter().chain(extra).copied().collect()
    }

    let frozen = dir.join("frozen");
    let f = frozen.to_str().unwrap();
    let said = tessera(&with(&lm, &["--embed", "16", "--pretrained-embeddings", v, "--freeze-embeddings", "--out", f]));
    let line = said.lines().find(|l| l.starts_with("embeddings: ")).unwrap_or_else(|| panic!("{said}"));
    assert!(line.contains("missing got random vectors") && line.contains("frozen"), "{line}");
    let rows_match = |run: &Path| {
        let (vocab, weight) = lm_embedding(run);
        let found: Vec<bool> = vocab
            .iter()
            .enumerate()
            .filter_map(|(i, w)| file.get(w).map(|x| x == &weight[i * 16..(i + 1) * 16]))
            .collect();
        assert!(found.len() > 100, "{} words found", found.len());
        found
    };
    assert!(rows_match(&frozen).iter().all(|&same| same), "a frozen row moved");
    // Resumed, the embedding stays frozen.
    tessera(&["train", "lm", "--resume", f, "--epochs", "2"]);
    assert!(rows_match(&frozen).iter().all(|&same| same), "a frozen row moved after resuming");

    let trained = dir.join("trained");
    tessera(&with(&lm, &["--embed", "16", "--pretrained-embeddings", v, "--out", trained.to_str().unwrap()]));
    assert!(rows_match(&trained).iter().all(|&same| !same), "an unfrozen row did not train");

    let err = tessera_fails(&with(
        &lm,
        &["--embed", "20", "--pretrained-embeddings", v, "--out", dir.join("x").to_str().unwrap()],
    ));
    assert!(err.contains("vectors of dimension 16") && err.contains("--embed 16"), "{err}");
    let err =
        tessera_fails(&with(&lm, &["--embed", "16", "--freeze-embeddings", "--out", dir.join("y").to_str().unwrap()]));
    assert!(err.contains("--pretrained-embeddings"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_word2vec_input_is_a_clear_error() {
    let dir = fresh_dir("cli-w2v-bad");
    let err = tessera_fails(&["train", "word2vec", "--out", "/nonexistent-dir/v.txt"]);
    assert!(err.contains("the folder /nonexistent-dir does not exist"), "{err}");
    let err = tessera_fails(&["train", "word2vec", "--dim", "0", "--out", "v.txt"]);
    assert!(err.contains("invalid value '0' for '--dim <DIM>': must be at least 1"), "{err}");
    // Checked before anything is read or allocated (a buffer per thread held every sample).
    let err = tessera_fails(&["train", "word2vec", "--negative", "1000000000", "--out", "v.txt"]);
    assert!(err.contains("negative is 1000000000: at most 10000 noise words per example"), "{err}");
    let err = tessera_fails(&["train", "word2vec", "--threads", "100000", "--out", "v.txt"]);
    assert!(err.contains("threads is 100000: at most 1024"), "{err}");
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, b"good line\nbad \xff line\n").unwrap();
    let out = dir.join("v.txt");
    let err = tessera_fails(&["train", "word2vec", "--corpus", bad.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(err.contains("bad.txt: line 2: not valid UTF-8"), "{err}");
    let vecs = dir.join("short.txt");
    std::fs::write(&vecs, "3 2\na 1 2\nb 3 4\n").unwrap();
    let err = tessera_fails(&["embeddings", "neighbours", vecs.to_str().unwrap(), "a"]);
    assert!(err.contains("short.txt: end of file: the header announces 3 words, the file has 2 rows"), "{err}");
    std::fs::write(&vecs, "2 2\na 1 2\nb 3 4\n").unwrap();
    let err = tessera_fails(&["embeddings", "neighbours", vecs.to_str().unwrap(), "nosuchword"]);
    assert!(err.contains("`nosuchword` is not in the vocabulary"), "{err}");
    std::fs::write(&vecs, "2 2\na 1 2\na 3 4\n").unwrap();
    let o = run(&["embeddings", "neighbours", vecs.to_str().unwrap(), "a"]);
    assert!(o.status.success());
    let warned = String::from_utf8_lossy(&o.stderr);
    assert!(warned.contains("1 rows repeat an earlier word") && warned.contains("`a` at line 3"), "{warned}");
    std::fs::remove_dir_all(&dir).unwrap();
}
