//! GPT language models: nanoGPT's architecture ([`Gpt`]), its training ([`GptTask`] over
//! [`GptData`]), Hugging Face GPT-2 folders ([`load_hf_gpt2`]), and sampling from it with a key-value
//! cache ([`NextToken`](crate::lm::NextToken) for [`Gpt`]; [`Uncached`] re-runs the context
//! for comparison), and its self-attention weights for attention maps
//! ([`Gpt::self_attention_weights`]).

mod attention_map;
mod cache;
mod config;
mod hf;
mod model;
mod task;

pub use cache::{GptState, LayerCache, Uncached};
pub use config::GptConfig;
pub use hf::{hf_config, is_conv1d_weight, is_hf_folder, load_hf_gpt2};
pub use model::Gpt;
pub use task::{nanogpt_optimizer, perplexity, GptBatch, GptData, GptTask};
