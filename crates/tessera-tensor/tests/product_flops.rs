//! `product_flops` counts each CPU product's `2 m n k` exactly, for every path that calls `gemm`:
//! matmul, convolution and the attention tiles. One test in its own binary, so that no other
//! test's products run while it counts.

use tessera_tensor::{product_flops, AttentionSpec, Conv2dSpec, DType, Device, Tensor};

fn ones(shape: &[usize]) -> Tensor {
    Tensor::ones(shape.to_vec(), DType::F32, &Device::Cpu).expect("ones")
}

/// The floating-point operations `f` adds to the count.
fn counted(f: impl FnOnce()) -> u64 {
    let before = product_flops();
    f();
    product_flops() - before
}

#[test]
fn each_products_multiply_adds_are_counted_twice() {
    let (a, b) = (ones(&[4, 3]), ones(&[3, 5]));
    assert_eq!(counted(|| drop(a.matmul(&b).expect("matmul"))), 2 * 4 * 3 * 5);

    // A batched product over a broadcast weight: one product of 2 * 4 rows.
    let batched = ones(&[2, 4, 3]);
    assert_eq!(counted(|| drop(batched.matmul(&b).expect("batched matmul"))), 2 * 2 * 4 * 3 * 5);

    // A bias on an output large next to its operands joins the product as one more inner term
    // (`k + 1`), which is not counted: the product is still `[40, 3] @ [3, 50]`.
    let (x, w, bias) = (ones(&[40, 3]), ones(&[3, 50]), ones(&[50]));
    assert_eq!(counted(|| drop(x.matmul_bias(&w, &bias).expect("matmul_bias"))), 2 * 40 * 3 * 50);

    // Two images of 3 channels, 6 x 6, into 2 channels through 3 x 3 kernels: per image a
    // product of [2, 27] by [27, 16] (16 output positions).
    let (x, w) = (ones(&[2, 3, 6, 6]), ones(&[2, 3, 3, 3]));
    let conv = counted(|| drop(x.conv2d(&w, None, &Conv2dSpec::default()).expect("conv2d")));
    assert_eq!(conv, 2 * (2 * 2 * 27 * 16));

    // One problem of 8 queries and 8 keys of width 4 in one tile: scores and weighted values.
    let q = ones(&[1, 1, 8, 4]);
    let spec = AttentionSpec { causal: false, scale: None, dropout: None };
    let attention = counted(|| drop(Tensor::attention(&q, &q, &q, None, &spec).expect("attention")));
    assert_eq!(attention, 2 * (2 * 8 * 8 * 4));
}
