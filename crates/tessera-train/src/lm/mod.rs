//! Language modelling: the LSTM language model, its training with truncated backpropagation
//! through time, perplexity, and sampling text.
//!
//! ```
//! use tessera_tensor::Device;
//! use tessera_train::lm::{LmFitConfig, LmSplits, LmTrainer, LstmLm, LstmLmConfig};
//! use tessera_train::optim::{Adam, Clip, Optimizer, OptimizerKind};
//! let ids: Vec<u32> = (0..400).map(|i| (i % 7) as u32).collect();
//! let data = LmSplits { train: ids[..300].to_vec(), val: ids[300..350].to_vec(), test: ids[350..].to_vec() };
//! let lm = LstmLm::new(&LstmLmConfig { vocab: 7, embed: 8, hidden: 16, layers: 1, dropout: 0.0, seed: 0 }, &Device::Cpu)?;
//! let opt = Optimizer::new(lm.parameters(), OptimizerKind::Adam(Adam { lr: 0.05, ..Adam::default() }))?
//!     .with_clip(Clip::GlobalNorm(1.0));
//! let cfg = LmFitConfig { epochs: 8, batch_size: 4, seq_len: 10, eval_batch_size: 2, seed: 0, progress: false };
//! # use tessera_nn::Module;
//! let history = LmTrainer::new(&lm, opt).fit(&data, &cfg)?;
//! // A cycle of 7 tokens is easy to predict: far below the uniform perplexity of 7.
//! assert!(history.epochs.last().unwrap().get("val_ppl").unwrap() < 2.0);
//! # Ok::<(), tessera_train::Error>(())
//! ```

mod fit;
mod generate;
mod model;

pub use fit::{evaluate, LmFitConfig, LmSplits, LmTrainer};
pub use generate::{generate, Sampling};
pub use model::{LstmLm, LstmLmConfig};
