//! The fuzz targets: each feeds arbitrary bytes to one of Tessera's file readers (their text
//! entry points after the UTF-8 check their file versions make, or a scratch file where a reader
//! takes a path only) and, when the file is accepted, uses what was read a little (encodes text,
//! segments, augments images, records an epoch), since a reader that accepts a file must also
//! leave something usable. Errors are fine; a panic, an abort or more than a second is a failure.
//!
//! A target returns the signature of what happened (see [`crate::corpus::signature`]; one per
//! reader, separated by [`OUTCOME_PARTS`], when it runs several), which the runner uses to keep
//! inputs that do something new.

use crate::corpus::{outcome, signature, OUTCOME_PARTS};
use crate::input::{scratch_dir, scratch_file, split2};
use serde_json::{json, Value};
use std::path::Path;
use tessera_nn::{Linear, Module, Relu, Sequential};
use tessera_tensor::{DType, Device, Generator};
use tessera_text::{ByteLevelBpe, CharTokenizer, SegmentMode, Segmenter, Vocab, WordTokenizer};
use tessera_train::data::{
    parse_mnist_csv, parse_mnist_idx, Augment, Dataset, LabelColumn, MnistOptions, TensorDataset,
};
use tessera_train::optim::{Adam, Optimizer, OptimizerKind};
use tessera_train::run_dir::RunDir;

/// One reader under test.
#[derive(Debug)]
pub struct Target {
    /// The name (`--target NAME`, `regressions/NAME/`, `seeds/NAME/`).
    pub name: &'static str,
    /// What the input is and what reads it.
    pub about: &'static str,
    /// Runs the reader on an input and returns the outcome's signature.
    pub run: fn(&[u8]) -> String,
    /// Words of the format, which mutations insert.
    pub tokens: &'static [&'static [u8]],
    /// Whether the format is JSON (mutations then nest deeply more often).
    pub json: bool,
    /// Whether an input holds two files ([`crate::input::join2`]).
    pub two_files: bool,
}

/// JSON's punctuation and a few values that parsers treat specially.
const JSON_TOKENS: &[&[u8]] = &[
    b"{", b"}", b"[", b"]", b":", b",", b"\"", b"null", b"true", b"false", b"\"\"", b"\\u0000", b"\\ud800", b"\\\"",
    b"{}", b"[]",
];

/// Every target, in the order `--target all` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "idx",
        about: "MNIST IDX images and labels, raw or gzipped (two files, see input::join2), through \
                data::parse_mnist_idx, then augmentation of the first images",
        run: idx,
        tokens: &[b"\0\0\x08\x03", b"\0\0\x08\x01", b"\x1f\x8b"],
        json: false,
        two_files: true,
    },
    Target {
        name: "csv",
        about: "an MNIST CSV through data::parse_mnist_csv with each label-column option, then augmentation",
        run: csv,
        tokens: &[
            b",",
            b"\n",
            b"\r\n",
            b"label,",
            b"pixel0",
            b"255",
            b"0",
            b"9",
            b"10",
            "\u{feff}".as_bytes(),
            b" ",
            b"\"",
            b"-",
        ],
        json: false,
        two_files: false,
    },
    Target {
        name: "checkpoint",
        about: "a safetensors checkpoint through checkpoint::read_info, checkpoint::load (model and \
                optimizer) and nn::state_dict::load into a small model",
        run: checkpoint,
        tokens: &[
            b"__metadata__",
            b"\"dtype\":\"F32\"",
            b"\"shape\":[",
            b"\"data_offsets\":[",
            b"tessera-checkpoint-1",
            b"model.",
            b"optim.",
            b"\"F16\"",
            b"\"I64\"",
            b"\"BOOL\"",
        ],
        json: true,
        two_files: false,
    },
    Target {
        name: "tokenizer_json",
        about: "a Hugging Face tokenizer.json through ByteLevelBpe::from_tokenizer_json_str, then \
                encoding, decoding and a save-and-reload",
        run: tokenizer_json,
        tokens: JSON_TOKENS,
        json: true,
        two_files: false,
    },
    Target {
        name: "vocab",
        about: "a vocabulary JSON through Vocab::from_json (then the char and word tokenizers), and \
                the same two files as GPT-2's encoder.json and vocab.bpe through ByteLevelBpe::from_gpt2_strs",
        run: vocab,
        tokens: JSON_TOKENS,
        json: true,
        two_files: true,
    },
    Target {
        name: "jieba_dict",
        about: "a jieba dictionary through Segmenter::from_dict_str and as a user dictionary through \
                Segmenter::load_user_dict_str, then segmentation in every mode",
        run: jieba_dict,
        tokens: &[
            b" ",
            b"\n",
            b"\t",
            b"0",
            b"-1",
            b"18446744073709551616",
            "北京".as_bytes(),
            "清华大学".as_bytes(),
            b" n\n",
            b"\r\n",
        ],
        json: false,
        two_files: false,
    },
    Target {
        name: "run_folder",
        about: "a run folder's config.json and metrics.jsonl (two files) as `--resume` reads them: \
                the config as JSON, RunDir::resume, then one more epoch recorded (metrics and plots)",
        run: run_folder,
        tokens: &[
            b"\"epoch\":",
            b"\"loss\":",
            b"\"val_loss\":",
            b"\"accuracy\":",
            b"\"val_ppl\":",
            b"\"train\":",
            b"\n",
            b"1e308",
            b"NaN",
        ],
        json: true,
        two_files: true,
    },
];

/// A target that tests the runner itself, not in [`TARGETS`] (so not in `all`): it panics on an
/// input holding the byte 0xA1, else aborts on 0xA2, else runs forever on 0xA3, else asks for a
/// terabyte on 0xA4.
pub static SELF_TEST: Target = Target {
    name: "selftest",
    about: "the runner's own test: panics, aborts, hangs and runs out of memory on given bytes",
    run: self_test,
    tokens: &[],
    json: false,
    two_files: false,
};

/// The target called `name` (one of [`TARGETS`], or [`SELF_TEST`]).
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name).or((name == SELF_TEST.name).then_some(&SELF_TEST))
}

fn self_test(data: &[u8]) -> String {
    if data.contains(&0xA1) {
        panic!("self-test panic");
    }
    if data.contains(&0xA2) {
        std::process::abort();
    }
    if data.contains(&0xA3) {
        let mut n = 0u64;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    if data.contains(&0xA4) {
        let huge = vec![0u8; 1 << 40];
        return format!("{}", std::hint::black_box(huge).len());
    }
    "ok".into()
}

/// Text the tokenizers and segmenters are run on, beside the start of the input itself.
const SAMPLE_TEXT: &str = "Hello world, <|endoftext|> 你好，我来到北京清华大学 ünïcödé 123 ";

/// The longest prefix of the input used as text to encode or segment.
const INPUT_TEXT_BYTES: usize = 256;

/// The sample text and the start of `data` (lossily UTF-8).
fn text_with(data: &[u8]) -> String {
    let mut text = SAMPLE_TEXT.to_string();
    text.push_str(&String::from_utf8_lossy(&data[..data.len().min(INPUT_TEXT_BYTES)]));
    text
}

/// `data` as UTF-8, as the text crate's file readers check it.
fn utf8(data: &[u8], name: &str) -> tessera_text::Result<String> {
    tessera_text::io::utf8_from_bytes(data.to_vec(), name)
}

/// What an accepted MNIST file gives: a batch of its first images augmented.
fn use_mnist(result: tessera_train::Result<TensorDataset>) -> String {
    let data = match result {
        Ok(d) => d,
        Err(e) => return signature(&e.to_string()),
    };
    let first: Vec<usize> = (0..data.len().min(4)).collect();
    let augment = Augment { max_shift: 2.0, max_degrees: 10.0, flip: true, seed: 0 };
    let augmented = data.batch(&first).and_then(|b| augment.apply(&b.inputs, 0));
    format!("ok; augment {}", outcome(&augmented))
}

fn idx(data: &[u8]) -> String {
    let (images, labels) = split2(data);
    use_mnist(parse_mnist_idx(images, labels, Path::new("images"), Path::new("labels")))
}

fn csv(data: &[u8]) -> String {
    [None, Some(LabelColumn::First), Some(LabelColumn::Last)]
        .map(|label_column| use_mnist(parse_mnist_csv(data, Path::new("mnist.csv"), &MnistOptions { label_column })))
        .join(OUTCOME_PARTS)
}

/// The small model checkpoints are loaded into: Linear(2, 3), ReLU, Linear(3, 2).
pub fn tiny_model() -> tessera_nn::Result<Sequential> {
    let (mut g, cpu) = (Generator::new(0), Device::Cpu);
    let hidden = Linear::new(&mut g, 2, 3, DType::F32, &cpu)?;
    let out = Linear::new(&mut g, 3, 2, DType::F32, &cpu)?;
    Ok(Sequential::new().add(hidden).add(Relu).add(out))
}

/// The name checkpoints of [`tiny_model`] are saved under.
pub const TINY_MODEL: &str = "tiny-mlp";

/// An Adam optimizer for `model`.
pub fn tiny_optimizer(model: &Sequential) -> tessera_train::Result<Optimizer> {
    Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default()))
}

fn checkpoint(data: &[u8]) -> String {
    let path = match scratch_file("last.safetensors", data) {
        Ok(p) => p,
        Err(e) => return format!("scratch file: {e}"),
    };
    let info = tessera_train::checkpoint::read_info(&path);
    let config = info.as_ref().map(|i| serde_json::from_str::<Value>(&i.config));
    let model = match tiny_model() {
        Ok(m) => m,
        Err(e) => return format!("model: {e}"),
    };
    let loaded = tiny_optimizer(&model)
        .and_then(|mut opt| tessera_train::checkpoint::load(&path, TINY_MODEL, &model, Some(&mut opt)));
    let model_only = tessera_train::checkpoint::load(&path, TINY_MODEL, &model, None);
    let state_dict = tessera_nn::state_dict::load(&model, &path);
    let config = match config {
        Ok(c) => outcome(&c),
        Err(_) => "-".into(),
    };
    let parts = [
        ("info", outcome(&info)),
        ("config", config),
        ("load", outcome(&loaded)),
        ("model only", outcome(&model_only)),
        ("state dict", outcome(&state_dict)),
    ];
    parts.map(|(reader, outcome)| format!("{reader} {outcome}")).join(OUTCOME_PARTS)
}

/// Encodes and decodes text with an accepted tokenizer, and saves and reloads it.
fn use_bpe(bpe: &ByteLevelBpe, data: &[u8]) -> String {
    let ids = bpe.encode(&text_with(data));
    let decoded = bpe.decode(&ids);
    let reloaded = ByteLevelBpe::from_tokenizer_json_str(&bpe.to_tokenizer_json(), "saved tokenizer.json");
    format!("ok; decode {}; reload {}", outcome(&decoded), outcome(&reloaded))
}

fn tokenizer_json(data: &[u8]) -> String {
    match utf8(data, "tokenizer.json").and_then(|t| ByteLevelBpe::from_tokenizer_json_str(&t, "tokenizer.json")) {
        Ok(bpe) => use_bpe(&bpe, data),
        Err(e) => signature(&e.to_string()),
    }
}

/// Encodes and decodes text with the char and word tokenizers of an accepted vocabulary.
fn use_vocab(vocab: Vocab, data: &[u8]) -> String {
    let text = text_with(data);
    let chars = CharTokenizer::new(vocab.clone());
    let char_decoded = chars.decode(&chars.encode(&text));
    let words = WordTokenizer::new(vocab);
    let word_decoded = words.decode(&words.encode(&text));
    format!("ok; chars {}; words {}", outcome(&char_decoded), outcome(&word_decoded))
}

fn vocab(data: &[u8]) -> String {
    let (first, second) = split2(data);
    let vocab = match utf8(first, "vocab.json").and_then(|t| Vocab::from_json(&t, "vocab.json")) {
        Ok((vocab, _kind)) => use_vocab(vocab, data),
        Err(e) => signature(&e.to_string()),
    };
    let files = utf8(first, "encoder.json").and_then(|e| Ok((e, utf8(second, "vocab.bpe")?)));
    let gpt2 = files.and_then(|(e, m)| ByteLevelBpe::from_gpt2_strs(&e, &m, "encoder.json", "vocab.bpe"));
    let gpt2 = match gpt2 {
        Ok(bpe) => use_bpe(&bpe, data),
        Err(e) => signature(&e.to_string()),
    };
    [format!("vocab {vocab}"), format!("gpt2 {gpt2}")].join(OUTCOME_PARTS)
}

/// Segments text in every mode with an accepted dictionary.
fn use_segmenter(seg: &Segmenter, data: &[u8]) -> String {
    let text = text_with(data);
    let words = seg.cut(&text).len() + seg.cut_with(&text, false).len() + seg.cut_all(&text).len();
    let search = seg.tokenize(&text, SegmentMode::Search, true).len();
    format!("ok; {} words", if words + search > 0 { "some" } else { "no" })
}

fn jieba_dict(data: &[u8]) -> String {
    let dict = match utf8(data, "dict.txt").and_then(|t| Segmenter::from_dict_str(&t, "dict.txt")) {
        Ok(seg) => use_segmenter(&seg, data),
        Err(e) => signature(&e.to_string()),
    };
    let mut seg = Segmenter::empty();
    let user = match utf8(data, "user.dict").and_then(|t| seg.load_user_dict_str(&t, "user.dict")) {
        Ok(()) => use_segmenter(&seg, data),
        Err(e) => signature(&e.to_string()),
    };
    [format!("dict {dict}"), format!("user {user}")].join(OUTCOME_PARTS)
}

/// Writes the run folder's two files into a scratch folder `run`.
fn write_run_folder(config: &[u8], metrics: &[u8]) -> std::io::Result<std::path::PathBuf> {
    let dir = scratch_dir()?.join("run");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("config.json"), config)?;
    std::fs::write(dir.join("metrics.jsonl"), metrics)?;
    Ok(dir)
}

fn run_folder(data: &[u8]) -> String {
    let (config, metrics) = split2(data);
    let dir = match write_run_folder(config, metrics) {
        Ok(d) => d,
        Err(e) => return format!("scratch folder: {e}"),
    };
    // As `tessera train --resume` reads config.json (the command's `resolve`): JSON with a
    // `train` object; the epochs done come from the last checkpoint, here from the config.
    let config: Result<Value, _> = serde_json::from_slice(config);
    let train = config.as_ref().ok().and_then(|c| c.get("train"));
    let done = train.and_then(|t| t.get("epochs")).and_then(Value::as_u64).unwrap_or(1).min(u32::MAX as u64);
    let resumed = RunDir::resume(&dir, done as usize);
    let recorded = match resumed {
        Ok(mut run) => {
            let epoch = json!({"epoch": done + 1, "loss": 0.5, "val_loss": 0.6, "accuracy": 0.9, "val_ppl": 12.0});
            let metrics = epoch.as_object().cloned().unwrap_or_default();
            format!("ok; record {}", outcome(&run.record_epoch(metrics)))
        }
        Err(e) => signature(&e.to_string()),
    };
    let config = format!("config {}{}", outcome(&config), if train.is_some() { " train" } else { "" });
    [config, format!("resume {recorded}")].join(OUTCOME_PARTS)
}
