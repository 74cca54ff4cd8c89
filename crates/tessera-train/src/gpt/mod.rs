//! GPT language models: nanoGPT's architecture ([`Gpt`]), its training ([`GptTask`] over
//! [`GptData`]), and sampling from it with a key-value
//! cache ([`NextToken`](crate::lm::NextToken) for [`Gpt`]; [`Uncached`] re-runs the context
//! for comparison).

mod cache;
mod model;
mod task;

pub use cache::{GptState, LayerCache, Uncached};
pub use model::{Gpt, GptConfig};
pub use task::{GptBatch, GptData, GptTask};
