//! Encoder-decoders: step-by-step decoding agrees with teacher forcing, beam search of width 1
//! is greedy, wide beam search is exact against exhaustive search, and both models learn to
//! reverse short sequences.

use tessera_autograd::Var;
use tessera_nn::Module;
use tessera_tensor::{Device, Tensor};
use tessera_train::optim::{Adam, Optimizer, OptimizerKind};
use tessera_train::seq2seq::{
    beam_search, greedy, length_penalty, AttentionScore, BeamConfig, EncodedPair, LstmAttention, LstmAttentionConfig,
    Seq2seq, Seq2seqData, Seq2seqOptions, Seq2seqTask, SourceBatch, Specials, TransformerSeq2seq,
    TransformerSeq2seqConfig, MAX_BEAM_WIDTH,
};
use tessera_train::{FitConfig, Trainer};

const SPECIALS: Specials = Specials { pad: 0, bos: 1, eos: 2 };

fn lstm(score: AttentionScore, vocab: usize, seed: u64) -> LstmAttention {
    let cfg = LstmAttentionConfig {
        source_vocab: vocab,
        target_vocab: vocab,
        embed: 16,
        hidden: 32,
        layers: 1,
        score,
        dropout: 0.0,
        pad: 0,
        seed,
    };
    LstmAttention::new(&cfg, &Device::Cpu).unwrap()
}

fn transformer(norm_first: bool, tie: bool, vocab: usize, seed: u64) -> TransformerSeq2seq {
    let cfg = TransformerSeq2seqConfig {
        source_vocab: vocab,
        target_vocab: vocab,
        d_model: 32,
        heads: 4,
        feedforward: 64,
        encoder_layers: 2,
        decoder_layers: 2,
        dropout: 0.0,
        norm_first,
        tie_embeddings: tie,
        pad: 0,
        seed,
    };
    TransformerSeq2seq::new(&cfg, &Device::Cpu).unwrap()
}

fn sources<M: Seq2seq>(model: &M, rows: &[&[u32]]) -> SourceBatch {
    SourceBatch::new(rows, SPECIALS.pad, model.source_padding(), &Device::Cpu).unwrap()
}

/// Feeding the teacher-forced inputs one step at a time gives the teacher-forced logits.
fn steps_match_teacher_forcing<M: Seq2seq>(model: &M) {
    model.set_training(false);
    let src = sources(model, &[&[3, 4, 5, 6], &[7, 3]]);
    let input = [1u32, 5, 6, 4, 1, 3, 3, 7];
    let memory = model.encode(&src).unwrap();
    let teacher = model
        .decode_teacher(&memory, &Tensor::from_vec(input.to_vec(), [2, 4], &Device::Cpu).unwrap())
        .unwrap()
        .tensor()
        .to_vec::<f32>()
        .unwrap();
    let mut state = model.start(&memory).unwrap();
    let vocab = model.target_vocab();
    for t in 0..4 {
        let tokens = Tensor::from_vec(vec![input[t], input[4 + t]], [2], &Device::Cpu).unwrap();
        let step = model.decode_step(&memory, &mut state, &tokens).unwrap().tensor().to_vec::<f32>().unwrap();
        for r in 0..2 {
            for v in 0..vocab {
                let (a, b) = (step[r * vocab + v], teacher[(r * 4 + t) * vocab + v]);
                assert!((a - b).abs() < 1e-4, "step {t} row {r} class {v}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn lstm_steps_match_teacher_forcing_for_every_score() {
    for score in [AttentionScore::Dot, AttentionScore::General, AttentionScore::Additive] {
        steps_match_teacher_forcing(&lstm(score, 10, 3));
    }
}

fn beam_of_one_is_greedy<M: Seq2seq>(model: &M) {
    model.set_training(false);
    let src = sources(model, &[&[3, 4, 5, 6], &[7, 3], &[9], &[5, 5, 5, 8, 8, 3]]);
    let g = greedy(model, &src, SPECIALS, 12).unwrap();
    let b = beam_search(model, &src, SPECIALS, &BeamConfig { width: 1, length_penalty: 0.6, max_len: 12 }).unwrap();
    for (x, y) in g.iter().zip(&b) {
        assert_eq!(x.tokens, y.tokens);
        assert!((x.log_prob - y.log_prob).abs() < 1e-9);
    }
    for width in [0, MAX_BEAM_WIDTH + 1] {
        let err = beam_search(model, &src, SPECIALS, &BeamConfig { width, length_penalty: 0.6, max_len: 12 });
        assert!(err.unwrap_err().to_string().contains(&format!("beam width {width}: use 1 to 1000")));
    }
}

#[test]
fn transformer_steps_read_the_cache_as_teacher_forcing_does() {
    for (norm_first, tie) in [(false, false), (true, true)] {
        steps_match_teacher_forcing(&transformer(norm_first, tie, 10, 1));
    }
}

#[test]
fn transformer_beam_width_one_is_greedy() {
    for seed in 0..3 {
        beam_of_one_is_greedy(&transformer(true, false, 10, seed));
    }
}

#[test]
fn transformer_wide_beam_is_exhaustive() {
    wide_beam_is_exhaustive(&transformer(false, true, 5, 4));
}

#[test]
fn lstm_beam_width_one_is_greedy() {
    for seed in 0..4 {
        beam_of_one_is_greedy(&lstm(AttentionScore::General, 10, seed));
    }
}

/// The log-probability of `tokens` then `<eos>` (or without `<eos>`), summed step by step.
fn sequence_log_prob<M: Seq2seq>(model: &M, src: &SourceBatch, tokens: &[u32], eos: bool) -> f64 {
    let memory = model.encode(src).unwrap();
    let mut state = model.start(&memory).unwrap();
    let (mut prev, mut total) = (SPECIALS.bos, 0.0);
    let next: Vec<u32> = tokens.iter().copied().chain(eos.then_some(SPECIALS.eos)).collect();
    for t in next {
        let input = Tensor::from_vec(vec![prev], [1], &Device::Cpu).unwrap();
        let lp = model.decode_step(&memory, &mut state, &input).unwrap().tensor().log_softmax(-1).unwrap();
        total += lp.to_vec::<f32>().unwrap()[t as usize] as f64;
        prev = t;
    }
    total
}

/// With a beam wider than the number of prefixes, beam search finds the best-scoring output of
/// all (finished ones and those cut at the length limit), as enumeration does.
fn wide_beam_is_exhaustive<M: Seq2seq>(model: &M) {
    model.set_training(false);
    let (vocab, max_len, alpha) = (model.target_vocab() as u32, 3, 0.6);
    let src = sources(model, &[&[3, 4]]);
    let mut best = (f64::NEG_INFINITY, Vec::new());
    let mut prefixes: Vec<Vec<u32>> = vec![Vec::new()];
    for len in 0..=max_len {
        for p in &prefixes {
            let score = match len < max_len {
                true => sequence_log_prob(model, &src, p, true) / length_penalty(len + 1, alpha),
                false => sequence_log_prob(model, &src, p, false) / length_penalty(len, alpha),
            };
            if score > best.0 {
                best = (score, p.clone());
            }
        }
        prefixes = prefixes
            .iter()
            .flat_map(|p| {
                (0..vocab).filter(|&v| v != SPECIALS.eos).map(move |v| p.iter().copied().chain([v]).collect())
            })
            .collect();
    }
    let found = beam_search(model, &src, SPECIALS, &BeamConfig { width: 200, length_penalty: alpha, max_len })
        .unwrap()
        .remove(0);
    assert_eq!(found.tokens, best.1);
    assert!((found.score - best.0).abs() < 1e-4, "{} vs {}", found.score, best.0);
}

#[test]
fn lstm_wide_beam_is_exhaustive() {
    for seed in 0..3 {
        wide_beam_is_exhaustive(&lstm(AttentionScore::Additive, 5, seed));
    }
}

/// Reversing sequences of 2 to 5 symbols of 3..9, 600 pairs for training and 100 held out.
fn reversal() -> (Vec<EncodedPair>, Vec<EncodedPair>) {
    let mut state = 7u64;
    let mut next = |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let mut pairs: Vec<EncodedPair> = Vec::new();
    while pairs.len() < 700 {
        let len = 2 + next(4) as usize;
        let source: Vec<u32> = (0..len).map(|_| 3 + next(7) as u32).collect();
        if pairs.iter().any(|p| p.source == source) {
            continue;
        }
        let target = source.iter().rev().copied().collect();
        pairs.push(EncodedPair { source, target });
    }
    let test = pairs.split_off(600);
    (pairs, test)
}

fn learns_to_reverse<M: Seq2seq>(model: &M, epochs: usize, lr: f64) -> f64 {
    let (train, test) = reversal();
    let data = Seq2seqData {
        train,
        eval: vec![("val".into(), test)],
        specials: SPECIALS,
        side: model.source_padding(),
        device: Device::Cpu,
    };
    let options = Seq2seqOptions { max_len: 8, ..Seq2seqOptions::default() };
    let detok: tessera_train::seq2seq::Detokenize =
        Box::new(|ids: &[u32]| ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" "));
    let task = Seq2seqTask::new(model, SPECIALS, options, detok);
    let optimizer = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam { lr, ..Adam::default() })).unwrap();
    let mut trainer = Trainer::with_task(task, optimizer);
    let fit = FitConfig { epochs, batch_size: 32, seed: 1, progress: false, ..FitConfig::default() };
    let history = trainer.fit(&data, &fit).unwrap();
    let last = history.epochs.last().unwrap();
    assert!(last.get("val_bleu").is_some(), "{last:?}");
    last.get("val_exact_match").unwrap()
}

#[test]
fn lstm_attention_learns_to_reverse() {
    let exact = learns_to_reverse(&lstm(AttentionScore::General, 10, 0), 25, 1e-2);
    assert!(exact > 0.9, "exact match {exact}");
}

#[test]
fn transformer_learns_to_reverse() {
    let exact = learns_to_reverse(&transformer(true, true, 10, 0), 40, 3e-3);
    assert!(exact > 0.9, "exact match {exact}");
}

#[test]
fn seq2seq_is_not_a_single_input_module() {
    let model = lstm(AttentionScore::Dot, 10, 0);
    let x = Var::constant(Tensor::from_vec(vec![1u32], [1, 1], &Device::Cpu).unwrap());
    assert!(model.forward(&x).is_err());
}

/// A decoder whose next-token probabilities are a fixed function of the prefix (ids: pad 0,
/// bos 1, eos 2, `a` 3, `b` 4): after up to three `a`s another `a` is likely (0.9), after four
/// `<eos>` is nearly certain, and any prefix with a `b` most likely ends.
struct Table;

impl tessera_nn::ModuleParts for Table {}

impl Module for Table {
    fn forward(&self, x: &Var) -> tessera_nn::Result<Var> {
        Ok(x.clone())
    }
}

impl Seq2seq for Table {
    type Memory = usize;
    type State = Vec<Vec<u32>>;

    fn source_padding(&self) -> tessera_train::seq2seq::PadSide {
        tessera_train::seq2seq::PadSide::Right
    }
    fn target_vocab(&self) -> usize {
        5
    }
    fn encode(&self, source: &SourceBatch) -> tessera_train::Result<usize> {
        Ok(source.batch())
    }
    fn decode_teacher(&self, _: &usize, _: &Tensor) -> tessera_train::Result<Var> {
        Err(tessera_train::Error::Config("a table decodes step by step only".into()))
    }
    fn start(&self, rows: &usize) -> tessera_train::Result<Vec<Vec<u32>>> {
        Ok(vec![Vec::new(); *rows])
    }
    fn decode_step(&self, _: &usize, state: &mut Vec<Vec<u32>>, tokens: &Tensor) -> tessera_train::Result<Var> {
        let mut logits = Vec::new();
        for (prefix, t) in state.iter_mut().zip(tokens.to_vec::<u32>()?) {
            if t != SPECIALS.bos {
                prefix.push(t);
            }
            let p = match (prefix.contains(&4), prefix.len()) {
                (true, _) => [1e-6, 1e-6, 0.9, 0.05, 0.05],
                (false, 4) => [1e-6, 1e-6, 0.99, 0.005, 0.005],
                (false, _) => [1e-6, 1e-6, 0.05, 0.9, 0.05],
            };
            logits.extend(p.iter().map(|x: &f64| x.ln() as f32));
        }
        Ok(Var::constant(Tensor::from_vec(logits, [state.len(), 5], &Device::Cpu)?))
    }
    fn select_memory(&self, _: &usize, rows: &Tensor) -> tessera_train::Result<usize> {
        Ok(rows.elem_count())
    }
    fn select_state(&self, state: &Vec<Vec<u32>>, rows: &Tensor) -> tessera_train::Result<Vec<Vec<u32>>> {
        Ok(rows.to_vec::<i64>()?.iter().map(|&r| state[r as usize].clone()).collect())
    }
    fn attention_maps(&self, _: &usize, _: &Tensor) -> tessera_train::Result<Vec<(String, Tensor)>> {
        Ok(Vec::new())
    }
}

/// Unlikely endings among the best extensions finish early; the search must still wait for the
/// far more probable prefix `a a a a` to end rather than stop at the first `width` endings.
#[test]
fn beam_search_waits_for_a_more_probable_prefix_to_end() {
    let src = SourceBatch::new(&[&[3][..]], 0, tessera_train::seq2seq::PadSide::Right, &Device::Cpu).unwrap();
    for width in [1, 2, 3, 5] {
        for alpha in [0.0, 0.6] {
            let cfg = BeamConfig { width, length_penalty: alpha, max_len: 10 };
            let best = beam_search(&Table, &src, SPECIALS, &cfg).unwrap().remove(0);
            assert_eq!(best.tokens, [3, 3, 3, 3], "width {width}, alpha {alpha}");
            assert!(best.finished);
        }
    }
}
