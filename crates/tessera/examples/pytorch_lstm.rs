//! A PyTorch-style character language model: a user-defined module (Embedding, LSTM, Linear)
//! whose parts come from `#[derive(Module)]` and whose `forward` is written by hand, trained
//! with the same `Trainer` as every model. The Python it mirrors:
//!
//! ```python
//! class LSTMModel(nn.Module):
//!     def __init__(self, vocab_size, embed_dim, hidden_dim):
//!         super().__init__()
//!         self.embedding = nn.Embedding(vocab_size, embed_dim)
//!         self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
//!         self.fc = nn.Linear(hidden_dim, vocab_size)
//!
//!     def forward(self, x):
//!         x = self.embedding(x)
//!         out, _ = self.lstm(x)
//!         return self.fc(out)
//!
//! model = LSTMModel(vocab_size, 64, 128)
//! criterion = nn.CrossEntropyLoss()
//! optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
//! for epoch in range(2):
//!     for x, y in DataLoader(train, batch_size=32, shuffle=True):
//!         optimizer.zero_grad()
//!         loss = criterion(model(x).reshape(-1, vocab_size), y.reshape(-1))
//!         loss.backward()
//!         optimizer.step()
//! ```
//!
//! On the Shakespeare plays shipped with Tessera (`crates/tessera/data/README.md`):
//! `cargo run --release -p tessera --example pytorch_lstm`. With `TESSERA_EXAMPLE_BATCHES=N`
//! it trains one epoch of N batches only (`cargo xtask test` runs it so, through its test).

use flate2::read::GzDecoder;
use std::io::Read;
use tessera::autograd::Var;
use tessera::nn::loss::{cross_entropy, CrossEntropy};
use tessera::nn::{Embedding, Linear, Lstm, Module};
use tessera::tensor::{DType::F32, Device, Generator, Tensor};
use tessera::text::CharTokenizer;
use tessera::train::data::TensorDataset;
use tessera::train::optim::{Adam, Optimizer, OptimizerKind};
use tessera::train::{FitConfig, Trainer, Validation};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Freed tensor buffers are reused rather than returned to the system, as in the `tessera` program.
#[global_allocator]
static ALLOCATOR: tessera::core::host_memory::CachingAllocator = tessera::core::host_memory::CachingAllocator;

#[derive(Module)]
struct LstmModel {
    embedding: Embedding,
    lstm: Lstm,
    fc: Linear,
}

impl LstmModel {
    fn new(g: &mut Generator, vocab_size: usize, embed_dim: usize, hidden_dim: usize) -> Result<Self> {
        let cpu = Device::Cpu;
        Ok(LstmModel {
            embedding: Embedding::new(g, vocab_size, embed_dim, None, F32, &cpu)?,
            lstm: Lstm::new(g, embed_dim, hidden_dim, 1, true, F32, &cpu)?,
            fc: Linear::new(g, hidden_dim, vocab_size, F32, &cpu)?,
        })
    }
}

impl Module for LstmModel {
    fn forward(&self, x: &Var) -> tessera::nn::Result<Var> {
        let x = self.embedding.forward(x)?;
        let (out, _) = self.lstm.forward_with_state(&x, None)?;
        self.fc.forward(&out)
    }
}

const SEQ_LEN: usize = 64;

/// The shipped text as windows of `SEQ_LEN` character ids `x` and the ids one step ahead `y`:
/// the vocabulary size, then the first 90% of the windows to train on, the rest to validate.
fn shakespeare_windows() -> Result<(usize, TensorDataset, TensorDataset)> {
    let gz = include_bytes!("../data/shakespeare_7_plays.txt.gz");
    let mut text = String::new();
    GzDecoder::new(&gz[..]).read_to_string(&mut text)?;
    let chars = CharTokenizer::train([text.as_str()]);
    let ids = chars.encode(&text);
    let n = (ids.len() - 1) / SEQ_LEN;
    let x = Tensor::from_slice(&ids[..n * SEQ_LEN], [n, SEQ_LEN], &Device::Cpu)?;
    let y = Tensor::from_slice(&ids[1..n * SEQ_LEN + 1], [n, SEQ_LEN], &Device::Cpu)?;
    let data = TensorDataset::new(x, y)?;
    let n_train = n * 9 / 10;
    Ok((chars.vocab().len(), data.slice(0, n_train)?, data.slice(n_train, n - n_train)?))
}

fn main() -> Result<()> {
    let few = std::env::var("TESSERA_EXAMPLE_BATCHES").ok().map(|n| n.parse()).transpose()?;
    run(few)
}

/// The script; `few = Some(n)` trains one epoch of `n` batches (a quick check that it runs).
fn run(few: Option<usize>) -> Result<()> {
    let (vocab_size, train, val) = shakespeare_windows()?;
    let model = LstmModel::new(&mut Generator::new(0), vocab_size, 64, 128)?;
    let criterion = move |logits: &Var, y: &Var| {
        let rows = logits.elem_count() / vocab_size;
        cross_entropy(&logits.reshape([rows, vocab_size])?, &y.flatten_all()?, &CrossEntropy::default())
    };
    let adam = OptimizerKind::Adam(Adam { lr: 2e-3, ..Adam::default() });
    let optimizer = Optimizer::new(model.parameters(), adam)?;
    let mut trainer = Trainer::new(&model, optimizer, Box::new(criterion));
    let (train, val, epochs) = match few {
        Some(n) => (train.slice(0, n * 32)?, val.slice(0, 32)?, 1),
        None => (train, val, 2),
    };
    let fit = FitConfig { epochs, batch_size: 32, validation: Validation::Data(val.clone()), ..FitConfig::default() };
    trainer.fit(&train, &fit)?;
    let result = trainer.evaluate(&val, 256, None)?;
    println!("validation loss {:.4}, perplexity {:.2} per character", result.loss, result.loss.exp());
    Ok(())
}

#[test]
fn runs_on_a_few_batches() {
    run(Some(3)).unwrap();
}
