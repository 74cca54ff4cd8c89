//! Language modelling: the LSTM language model, the task that trains it with truncated
//! backpropagation through time (run by [`Trainer`](crate::Trainer)), perplexity, and sampling
//! text from any model that implements [`NextToken`].
//!
//! ```
//! use tessera_tensor::Device;
//! use tessera_train::lm::{LmSplits, LmTask, LstmLm, LstmLmConfig};
//! use tessera_train::optim::{Adam, Clip, Optimizer, OptimizerKind};
//! use tessera_train::{FitConfig, Trainer};
//! let ids: Vec<u32> = (0..400).map(|i| (i % 7) as u32).collect();
//! let data = LmSplits { train: ids[..300].to_vec(), val: ids[300..350].to_vec(), test: ids[350..].to_vec() };
//! let lm = LstmLm::new(&LstmLmConfig { vocab: 7, embed: 8, hidden: 16, layers: 1, dropout: 0.0, seed: 0 }, &Device::Cpu)?;
//! let opt = Optimizer::new(lm.parameters(), OptimizerKind::Adam(Adam { lr: 0.05, ..Adam::default() }))?
//!     .with_clip(Clip::GlobalNorm(1.0))?;
//! let cfg = FitConfig { epochs: 8, batch_size: 4, seq_len: 10, eval_batch_size: Some(2), progress: false, ..FitConfig::default() };
//! # use tessera_nn::Module;
//! let history = Trainer::with_task(LmTask::new(&lm), opt).fit(&data, &cfg)?;
//! // A cycle of 7 tokens is easy to predict: far below the uniform perplexity of 7.
//! assert!(history.epochs.last().unwrap().get("val_ppl").unwrap() < 2.0);
//! # Ok::<(), tessera_train::Error>(())
//! ```

mod generate;
mod model;
mod task;

pub use generate::{generate, generate_each, NextToken, Sampling};
pub use model::{LstmLm, LstmLmConfig};
pub use task::{evaluate, LmSplits, LmTask};
