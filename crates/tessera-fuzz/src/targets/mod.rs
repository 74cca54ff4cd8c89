//! The fuzz targets: each feeds arbitrary bytes to one of Tessera's file readers (their text
//! entry points after the UTF-8 check their file versions make, or a scratch file where a reader
//! takes a path only) and, when the file is accepted, uses what was read a little (encodes text,
//! segments, augments images, records an epoch), since a reader that accepts a file must also
//! leave something usable. One target, `tensor_ops`, reads no file: it reads a program of tensor
//! ops and their arguments from the bytes. Errors are fine; a panic, an abort or more than a
//! second is a failure.
//!
//! A target returns the signature of what happened (see [`crate::corpus::signature`]; one per
//! reader, separated by [`crate::corpus::OUTCOME_PARTS`], when it runs several), which the runner
//! uses to keep inputs that do something new.

mod checkpoint;
mod embed;
mod fused_ops;
mod mnist;
mod models;
mod ops;
mod optim;
mod run_folder;
mod safetensors_roundtrip;
mod text;
mod text_pipeline;
mod var_ops;

pub use checkpoint::{tiny_model, tiny_optimizer, TINY_MODEL};

use checkpoint::checkpoint;
use embed::{embed_eval, embeddings};
use fused_ops::fused_ops;
pub use fused_ops::OPS as FUSED_OPS;
use mnist::{csv, idx};
use models::{hf_gpt2, model_config};
use ops::tensor_ops;
pub use ops::OPS as TENSOR_OPS;
use optim::optim;
use run_folder::run_folder;
use safetensors_roundtrip::safetensors_roundtrip;
use text::{jieba_dict, pairs, tokenizer_json, vocab};
use text_pipeline::text_pipeline;
use var_ops::var_ops;
pub use var_ops::OPS as VAR_OPS;

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
    Target {
        name: "pairs",
        about: "a tab-separated pairs file (`train seq2seq --pairs`) through seq2seq::PairSet::read_with with each \
                column rule, then its summary and both sides tokenized",
        run: pairs,
        tokens: &[b"\t", b"\n", b"\r\n", b" ", "\u{feff}".as_bytes(), b"\xff", "\u{2028}".as_bytes()],
        json: false,
        two_files: false,
    },
    Target {
        name: "embeddings",
        about: "a vector file through tessera_embed::format::read_from as word2vec text, word2vec binary and \
                GloVe, and through format::read's detection; accepted vectors are searched and written back",
        run: embeddings,
        tokens: &[b" ", b"\n", b"\t", b"\r", b"3 4\n", b"1 1\n", b"0 0\n", b"nan", b"inf", b"-1e39", b"\0\0\x80\x7f"],
        json: false,
        two_files: false,
    },
    Target {
        name: "embed_eval",
        about: "an analogy file (word2vec's questions-words.txt) and a word-pair file (WordSim-353) (two files) \
                through tessera_embed::eval's parsers, then scored with a few vectors",
        run: embed_eval,
        tokens: &[b": ", b"\n", b"\t", b" ", b"#", b"king", b"queen", b"nan", b"1e308", b"-0"],
        json: false,
        two_files: true,
    },
    Target {
        name: "hf_gpt2",
        about: "a Hugging Face GPT-2 folder's config.json and model.safetensors (two files) through \
                gpt::load_hf_gpt2, then a forward pass",
        run: hf_gpt2,
        tokens: &[
            b"\"model_type\":\"gpt2\"",
            b"\"n_embd\":",
            b"\"n_head\":",
            b"\"n_layer\":",
            b"\"n_positions\":",
            b"\"vocab_size\":",
            b"\"activation_function\":\"gelu\"",
            b"transformer.",
            b"\"F32\"",
            b"\"BF16\"",
            b"\"shape\":[",
            b"\"data_offsets\":[",
            b"0",
            b"4294967296",
        ],
        json: true,
        two_files: true,
    },
    Target {
        name: "model_config",
        about: "a checkpoint's model configuration (JSON) through GptConfig, LstmLmConfig and Seq2seqConfig's \
                from_json, then, when small, the model built and run on a few tokens",
        run: model_config,
        tokens: &[
            b"\"arch\":\"transformer\"",
            b"\"arch\":\"lstm-attention\"",
            b"\"n_head\":",
            b"\"n_embd\":",
            b"\"heads\":",
            b"\"pad\":",
            b"\"vocab\":",
            b"\"layers\":",
            b"\"dropout\":",
            b"0",
            b"1",
            b"18446744073709551615",
            b"0.999999",
        ],
        json: true,
        two_files: false,
    },
    Target {
        name: "tensor_ops",
        about: "not a file: a program of up to 8 tensor ops (creation, views, indexing, broadcasts, reductions, \
                products, convolutions, pooling and their gradients, norms, rotary) over small tensors, every \
                size, dim, padding, stride and value read from the input among edge values (0, 2^32, usize::MAX, \
                isize::MIN, NaN, infinities)",
        run: tensor_ops,
        tokens: &[],
        json: false,
        two_files: false,
    },
    Target {
        name: "fused_ops",
        about: "not a file: tensor_ops's program with the fused kernels added (attention and its gradient, \
                cross-entropy's gradient, the LSTM cell, batch, layer and RMS norms and their gradients, \
                products with a bias), every unary op, dropout and random tensors, over operands that include \
                some shaped for them",
        run: fused_ops,
        tokens: &[],
        json: false,
        two_files: false,
    },
    Target {
        name: "var_ops",
        about: "not a file: a program of recorded autograd ops (views, broadcasts, indexing, reductions, \
                products, convolutions, pooling, norms, attention, dropout, unary ops) over parameters, then \
                backward from the sum of the last result; a gradient whose shape or dtype is not its \
                parameter's is a failure",
        run: var_ops,
        tokens: &[],
        json: false,
        two_files: false,
    },
    Target {
        name: "optim",
        about: "not a file: parameters in every float dtype, an optimizer of each kind with settings read from \
                the input (mostly valid, sometimes edge values), clipping, a penalty, a group, loss scaling, then \
                steps with gradients of any shape and dtype set or cleared, rate changes, and the state saved and \
                loaded again; a step that changes a parameter's shape or dtype is a failure",
        run: optim,
        tokens: &[],
        json: false,
        two_files: false,
    },
    Target {
        name: "text_pipeline",
        about: "any text (lossily UTF-8) through each normalizer, a byte-level BPE trained on it and GPT-2's, \
                jieba segmentation, char and word vocabularies and stream batches, an n-gram model trained on its \
                lines, and BLEU and chrF between its lines; a BPE, segmentation or char vocabulary that does not \
                give the text back, a normalization step that is not idempotent, offsets that do not slice the \
                text, probabilities outside [0, 1] or summing past 1, and scores outside [0, 100] are failures",
        run: text_pipeline,
        tokens: &[
            b" ",
            b"\n",
            b"\t",
            b"\r\n",
            "\u{feff}".as_bytes(),
            "\u{301}".as_bytes(),
            "\u{130}".as_bytes(),
            "\u{ff21}".as_bytes(),
            "\u{3000}".as_bytes(),
            "北京".as_bytes(),
            b"<|endoftext|>",
            b"<s>",
            b"</s>",
            b"<unk>",
            b"\xff",
        ],
        json: false,
        two_files: false,
    },
    Target {
        name: "safetensors_roundtrip",
        about: "not a file: named tensors of every dtype with shapes, raw-bit values, names (empty, repeated, \
                __metadata__, any Unicode) and metadata read from the input, written by state_dict::to_safetensors \
                and read back; a written file that reads back other names, shapes, dtypes, bits or metadata is a \
                failure",
        run: safetensors_roundtrip,
        tokens: &[],
        json: false,
        two_files: false,
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
pub(super) fn text_with(data: &[u8]) -> String {
    let mut text = SAMPLE_TEXT.to_string();
    text.push_str(&String::from_utf8_lossy(&data[..data.len().min(INPUT_TEXT_BYTES)]));
    text
}

/// `data` as UTF-8, as the text crate's file readers check it.
pub(super) fn utf8(data: &[u8], name: &str) -> tessera_text::Result<String> {
    tessera_text::io::utf8_from_bytes(data.to_vec(), name)
}
