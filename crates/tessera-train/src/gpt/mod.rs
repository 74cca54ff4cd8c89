//! GPT language models: nanoGPT's architecture ([`Gpt`]) and sampling from it with a key-value
//! cache ([`NextToken`](crate::lm::NextToken) for [`Gpt`]; [`Uncached`] re-runs the context
//! for comparison).

mod cache;
mod model;

pub use cache::{GptState, LayerCache, Uncached};
pub use model::{Gpt, GptConfig};
