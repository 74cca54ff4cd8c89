use super::*;
use crate::models::mlp_classifier;
use tessera_nn::{Linear, Module, Softmax};

fn image(seed: u64, n: usize) -> Tensor {
    Tensor::rand_uniform(&mut Generator::new(seed), 0.0, 1.0, [n], DType::F32, &Device::Cpu).unwrap()
}

#[test]
fn the_gradient_of_a_linear_model_is_its_weight_row() {
    let w = Tensor::from_vec(vec![1f32, -2., 3., 0.5, 0., 4.], [2, 3], &Device::Cpu).unwrap();
    let model = Sequential::new().add(Linear::from_tensors(w, None).unwrap()).add(Softmax { dim: -1 });
    let x = Tensor::from_vec(vec![0.3f32, 0.1, 0.7], [3], &Device::Cpu).unwrap();
    let a = attribute(&logits(&model), &x, 1, &SaliencyMethod::Gradient).unwrap();
    assert_eq!(a.values, [0.5, 0., 4.]);
    // The score is the logit, not the probability the softmax layer gives.
    assert!((a.score - (0.15 + 2.8)).abs() < 1e-6, "{}", a.score);
}

#[test]
fn integrated_gradients_are_complete_for_the_mnist_classifier() {
    let model = mlp_classifier(3, 64, 10, &Device::Cpu).unwrap();
    model.set_training(false);
    let x = image(4, 64);
    let scores = logits(&model);
    let predicted = class_scores(&scores, &x)
        .unwrap()
        .iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (c, &s)| if s > best.1 { (c, s) } else { best })
        .0;
    for class in [predicted, (predicted + 1) % 10] {
        let a = attribute(&scores, &x, class, &SaliencyMethod::IntegratedGradients { steps: 200 }).unwrap();
        let err = a.completeness_error().unwrap();
        assert!(err < 0.01, "class {class}: attributions sum off by {:.3}% of the score change", err * 100.0);
    }
}

#[test]
fn smoothgrad_without_noise_is_the_gradient_and_is_seeded() {
    let model = mlp_classifier(5, 16, 4, &Device::Cpu).unwrap();
    let (x, scores) = (image(6, 16), logits(&model));
    let plain = attribute(&scores, &x, 2, &SaliencyMethod::Gradient).unwrap();
    let quiet = attribute(&scores, &x, 2, &SaliencyMethod::SmoothGrad { samples: 3, noise: 0.0, seed: 1 }).unwrap();
    for (p, q) in plain.values.iter().zip(&quiet.values) {
        assert!((p - q).abs() < 1e-5);
    }
    let noisy = |seed| attribute(&scores, &x, 2, &SaliencyMethod::SmoothGrad { samples: 8, noise: 0.2, seed }).unwrap();
    assert_eq!(noisy(7).values, noisy(7).values);
    assert_ne!(noisy(7).values, plain.values);
}

#[test]
fn bad_settings_are_errors() {
    let model = mlp_classifier(5, 16, 4, &Device::Cpu).unwrap();
    let (x, scores) = (image(6, 16), logits(&model));
    let err = attribute(&scores, &x, 4, &SaliencyMethod::Gradient).unwrap_err().to_string();
    assert!(err.contains("class 4 is out of range for 4 classes"), "{err}");
    let err = attribute(&scores, &x, 0, &SaliencyMethod::IntegratedGradients { steps: 0 }).unwrap_err().to_string();
    assert!(err.contains("steps must be at least 1"), "{err}");
}
