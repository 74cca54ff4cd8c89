//! Cosine search over the vectors, restricted to the most frequent words. Only the inverse norms
//! are stored beside the vectors (no normalised copy), so a search costs no second matrix.

use crate::error::{Error, Result};
use crate::simd::dot;
use crate::vectors::Embeddings;
use crate::words::WordTable;

/// A word and its cosine similarity to a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour {
    /// The word.
    pub word: String,
    /// Cosine similarity.
    pub similarity: f32,
}

/// Nearest-neighbour and analogy search over the first `top_n` words of some embeddings (the
/// most frequent, in word2vec's file order), by cosine similarity.
///
/// ```
/// use tessera_embed::{eval::Searcher, Embeddings};
/// let e = Embeddings::from_parts(["man", "woman", "king", "queen"], 2,
///     vec![1.0, 0.0,  1.0, 1.0,  3.0, 0.1,  3.0, 1.1])?;
/// let s = Searcher::new(&e, None);
/// let best = &s.analogy("man", "king", "woman", 1)?[0]; // king - man + woman
/// assert_eq!(best.word, "queen");
/// # Ok::<(), tessera_embed::Error>(())
/// ```
pub struct Searcher<'a> {
    emb: &'a Embeddings,
    n: usize,
    dim: usize,
    /// 1 / |v| per searched word (0 for a zero vector).
    inv_norm: Vec<f32>,
    /// Lowercased words, each mapped (through `folded_ids`) to its most frequent variant.
    folded: WordTable,
    folded_ids: Vec<u32>,
}

impl<'a> Searcher<'a> {
    /// Searches the first `top_n` words of `emb` (all of them when `None`).
    pub fn new(emb: &'a Embeddings, top_n: Option<usize>) -> Self {
        let n = top_n.map_or(emb.len(), |t| t.min(emb.len()));
        let dim = emb.dim();
        let inv_norm = emb.as_slice()[..n * dim]
            .chunks_exact(dim.max(1))
            .map(|row| {
                let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
                if norm > 0.0 {
                    1.0 / norm
                } else {
                    0.0
                }
            })
            .collect();
        let mut folded = WordTable::with_capacity(n, n * 8);
        let mut folded_ids = Vec::with_capacity(n);
        for i in 0..n {
            if folded.insert(&emb.word(i).to_lowercase()).is_ok() {
                folded_ids.push(i as u32);
            }
        }
        Searcher { emb, n, dim, inv_norm, folded, folded_ids }
    }

    /// Number of words searched.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether no word is searched.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Word `id` (below [`Searcher::len`]).
    pub fn word(&self, id: u32) -> &str {
        self.emb.word(id as usize)
    }

    /// The id of `word` among the searched words ignoring case (the most frequent of its case
    /// variants), as word2vec's `compute-accuracy` and gensim's evaluations match words.
    pub fn id_folded(&self, word: &str) -> Option<u32> {
        self.folded.id(&word.to_lowercase()).map(|i| self.folded_ids[i as usize])
    }

    /// The id of `word` among the searched words: an exact match, else one ignoring case.
    pub fn id(&self, word: &str) -> Option<u32> {
        match self.emb.id(word) {
            Some(i) if i < self.n => Some(i as u32),
            _ => self.id_folded(word),
        }
    }

    fn require(&self, word: &str) -> Result<u32> {
        self.id(word).ok_or_else(|| Error::UnknownWord {
            word: word.to_string(),
            within: if self.n < self.emb.len() {
                format!(" (its {} most frequent words)", self.n)
            } else {
                String::new()
            },
        })
    }

    /// The unit-length vector of word `id` (below [`Searcher::len`]).
    pub fn unit(&self, id: u32) -> Vec<f32> {
        let s = self.inv_norm[id as usize];
        self.emb.vector(id as usize).iter().map(|v| v * s).collect()
    }

    /// Cosine similarity of words `a` and `b` (ids below [`Searcher::len`]).
    pub fn cosine(&self, a: u32, b: u32) -> f32 {
        let (va, vb) = (self.emb.vector(a as usize), self.emb.vector(b as usize));
        dot(va, vb) * self.inv_norm[a as usize] * self.inv_norm[b as usize]
    }

    /// Cosine similarity of two words (`None` when either is not searched).
    pub fn similarity(&self, a: &str, b: &str) -> Option<f32> {
        Some(self.cosine(self.id(a)?, self.id(b)?))
    }

    /// The searched rows with their inverse norms.
    fn rows(&self) -> impl Iterator<Item = (&[f32], f32)> + '_ {
        self.emb.as_slice()[..self.n * self.dim].chunks_exact(self.dim.max(1)).zip(self.inv_norm.iter().copied())
    }

    /// The `k` words most similar to `query` (any length; compared by cosine), leaving out
    /// `exclude`; best first.
    pub fn nearest(&self, query: &[f32], k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
        let norm = query.iter().map(|v| v * v).sum::<f32>().sqrt();
        let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
        if k == 0 {
            return best;
        }
        for (i, (row, inv)) in self.rows().enumerate() {
            let s = dot(row, query) * inv * scale;
            if best.len() == k && s <= best[k - 1].1 {
                continue;
            }
            if exclude.contains(&(i as u32)) {
                continue;
            }
            let at = best.partition_point(|&(_, b)| b >= s);
            best.insert(at, (i as u32, s));
            best.truncate(k);
        }
        best
    }

    fn named(&self, found: Vec<(u32, f32)>) -> Vec<Neighbour> {
        found.into_iter().map(|(i, s)| Neighbour { word: self.word(i).to_string(), similarity: s }).collect()
    }

    /// The `k` nearest words to `word` by cosine, the word itself left out.
    pub fn neighbours(&self, word: &str, k: usize) -> Result<Vec<Neighbour>> {
        let id = self.require(word)?;
        Ok(self.named(self.nearest(self.emb.vector(id as usize), k, &[id])))
    }

    /// The 3CosAdd query of "`a` is to `b` as `c` is to ?": `b - a + c` on unit vectors.
    pub fn analogy_query(&self, a: u32, b: u32, c: u32) -> Vec<f32> {
        let (va, vb, vc) = (self.emb.vector(a as usize), self.emb.vector(b as usize), self.emb.vector(c as usize));
        let (sa, sb, sc) = (self.inv_norm[a as usize], self.inv_norm[b as usize], self.inv_norm[c as usize]);
        (0..self.dim).map(|i| vb[i] * sb - va[i] * sa + vc[i] * sc).collect()
    }

    /// "`a` is to `b` as `c` is to ?": the `k` best answers by 3CosAdd, the three inputs left
    /// out.
    pub fn analogy(&self, a: &str, b: &str, c: &str, k: usize) -> Result<Vec<Neighbour>> {
        let (ia, ib, ic) = (self.require(a)?, self.require(b)?, self.require(c)?);
        Ok(self.named(self.nearest(&self.analogy_query(ia, ib, ic), k, &[ia, ib, ic])))
    }

    /// The best answer to each query, leaving out its three words: queries are processed in
    /// blocks so that each row is read once per block, spread over `threads` threads.
    pub fn best_batch(&self, queries: &[(Vec<f32>, [u32; 3])], threads: usize) -> Vec<Option<u32>> {
        let threads = threads.max(1).min(queries.len().max(1));
        let per = queries.len().div_ceil(threads).max(1);
        let mut out = vec![None; queries.len()];
        std::thread::scope(|s| {
            for (qs, os) in queries.chunks(per).zip(out.chunks_mut(per)) {
                s.spawn(move || {
                    for (qb, ob) in qs.chunks(32).zip(os.chunks_mut(32)) {
                        self.best_block(qb, ob);
                    }
                });
            }
        });
        out
    }

    fn best_block(&self, queries: &[(Vec<f32>, [u32; 3])], out: &mut [Option<u32>]) {
        let mut best = vec![(f32::NEG_INFINITY, None); queries.len()];
        for (i, (row, inv)) in self.rows().enumerate() {
            for ((q, skip), b) in queries.iter().zip(best.iter_mut()) {
                let s = dot(row, q) * inv;
                if s > b.0 && !skip.contains(&(i as u32)) {
                    *b = (s, Some(i as u32));
                }
            }
        }
        for (o, (_, id)) in out.iter_mut().zip(best) {
            *o = id;
        }
    }
}
