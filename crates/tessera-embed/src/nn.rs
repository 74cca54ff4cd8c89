//! `Embeddings` as `tessera_nn::WordVectors`, for `Embedding::from_pretrained` (feature `nn`).

use crate::vectors::Embeddings;

impl tessera_nn::WordVectors for Embeddings {
    fn dim(&self) -> usize {
        Embeddings::dim(self)
    }

    fn vector(&self, word: &str) -> Option<&[f32]> {
        self.get(word)
    }
}
