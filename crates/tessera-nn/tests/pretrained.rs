//! `Embedding::from_pretrained`: rows from word vectors, seeded random rows for the rest, and a
//! frozen table that gets no gradient.

use std::collections::HashMap;
use tessera_autograd::Var;
use tessera_nn::{Embedding, Module, WordVectors};
use tessera_tensor::{Device, Generator, Tensor};

struct Table(usize, HashMap<String, Vec<f32>>);

impl WordVectors for Table {
    fn dim(&self) -> usize {
        self.0
    }
    fn vector(&self, word: &str) -> Option<&[f32]> {
        self.1.get(word).map(Vec::as_slice)
    }
}

/// 100 known words of dimension 8 with values of standard deviation 0.5 (±0.5 each).
fn table() -> Table {
    let words =
        (0..100).map(|i| (format!("w{i}"), (0..8).map(|j| if (i + j) % 2 == 0 { 0.5 } else { -0.5 }).collect()));
    Table(8, words.collect())
}

#[test]
fn known_words_get_their_vectors_and_the_rest_random_ones_on_the_same_scale() {
    let vocab: Vec<String> = (0..100).map(|i| format!("W{i}")).chain((0..2000).map(|i| format!("new{i}"))).collect();
    let (emb, report) =
        Embedding::from_pretrained(&mut Generator::new(1), &vocab, &table(), false, &Device::Cpu).unwrap();
    assert_eq!((report.found, report.missing, report.missing_examples.len()), (100, 2000, 10));
    assert!((report.init_std - 0.5).abs() < 1e-12);
    let w = emb.weight().tensor().to_vec::<f32>().unwrap();
    // "W7" is found through its lowercase form.
    assert_eq!(&w[7 * 8..8 * 8], table().vector("w7").unwrap());
    let random = &w[100 * 8..];
    let std = (random.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / random.len() as f64).sqrt();
    assert!((std - 0.5).abs() < 0.03, "random rows have std {std}");
    // The same generator seed gives the same table.
    let (again, _) = Embedding::from_pretrained(&mut Generator::new(1), &vocab, &table(), false, &Device::Cpu).unwrap();
    assert_eq!(again.weight().tensor().to_vec::<f32>().unwrap(), w);
}

#[test]
fn a_frozen_table_gets_no_gradient_and_a_trainable_one_does() {
    let ids = Var::constant(Tensor::from_vec(vec![0u32, 1, 1], [3], &Device::Cpu).unwrap());
    for freeze in [true, false] {
        let (emb, _) =
            Embedding::from_pretrained(&mut Generator::new(0), &["w0", "w1"], &table(), freeze, &Device::Cpu).unwrap();
        // A trainable factor after the lookup, so that the graph has something to differentiate.
        let scale = Var::param(Tensor::scalar(2.0, tessera_tensor::DType::F32, &Device::Cpu).unwrap()).unwrap();
        emb.forward(&ids).unwrap().mul(&scale).unwrap().sum_all().unwrap().backward().unwrap();
        assert!(scale.grad().is_some());
        assert_eq!(emb.weight().grad().is_some(), !freeze, "freeze {freeze}");
        assert_eq!(emb.parameters().len(), 1, "a frozen weight is still saved and loaded with the model");
    }
}

#[test]
fn bad_vectors_are_errors() {
    let short = Table(8, [("a".to_string(), vec![1.0; 3])].into());
    let Err(err) = Embedding::from_pretrained(&mut Generator::new(0), &["a"], &short, true, &Device::Cpu) else {
        panic!("a vector of the wrong length was accepted")
    };
    assert!(err.to_string().contains("the vector of `a` has 3 values, the vectors have 8"), "{err}");
    let none: [&str; 0] = [];
    assert!(Embedding::from_pretrained(&mut Generator::new(0), &none, &table(), true, &Device::Cpu).is_err());
}
