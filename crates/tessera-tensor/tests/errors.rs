//! Bad input gives a typed error naming the op and the shapes, dtypes, dims or values at fault.

use tessera_tensor::{Conv2dSpec, ConvTranspose2dSpec, DType, Device, Error, Generator, MaxPool2dSpec, Tensor};

fn t(dims: &[usize], dtype: DType) -> Tensor {
    Tensor::zeros(dims.to_vec(), dtype, &Device::Cpu).unwrap()
}

fn message(r: tessera_tensor::Result<Tensor>) -> String {
    r.expect_err("must be an error").to_string()
}

#[test]
fn broadcast_mismatch_names_both_shapes() {
    let e = message(t(&[2, 3], DType::F32).add(&t(&[4], DType::F32)));
    assert_eq!(e, "add: shapes [2, 3] and [4] cannot be broadcast together");
}

#[test]
fn dtype_mismatch_names_both_dtypes() {
    let e = message(t(&[2], DType::F32).mul(&t(&[2], DType::F64)));
    assert_eq!(e, "mul: dtype mismatch, f32 vs f64");
}

#[test]
fn dim_out_of_range_names_dim_and_shape() {
    let e = message(t(&[2, 3], DType::F32).sum(&[2], false));
    assert_eq!(e, "sum: dim 2 is out of range for a tensor of shape [2, 3]");
    assert!(message(t(&[2, 3], DType::F32).softmax(-3)).contains("dim -3 is out of range"));
    assert!(message(t(&[2], DType::F32).transpose(0, 1)).contains("transpose"));
}

#[test]
fn duplicate_reduction_dims_are_rejected() {
    assert_eq!(message(t(&[2, 3], DType::F32).sum(&[1, -1], false)), "sum: dim 1 appears more than once");
}

#[test]
fn out_of_range_index_names_index_and_size() {
    let ids = Tensor::from_vec(vec![0u32, 7], [2], &Device::Cpu).unwrap();
    let e = message(t(&[5, 3], DType::F32).index_select(0, &ids));
    assert_eq!(e, "index_select: index 7 is out of range for dim 0 of size 5");
    let neg = Tensor::from_vec(vec![-1i64], [1, 1], &Device::Cpu).unwrap();
    assert!(message(t(&[2, 2], DType::F32).gather(1, &neg)).contains("index -1 is out of range"));
}

#[test]
fn float_indices_are_rejected() {
    let e = message(t(&[5, 3], DType::F32).index_select(0, &t(&[2], DType::F32)));
    assert_eq!(e, "index_select: dtype f32 is not supported for indices (use u32 or i64)");
}

#[test]
fn narrow_past_the_end_names_range() {
    let e = message(t(&[4, 3], DType::F32).narrow(0, 3, 2));
    assert_eq!(e, "narrow: range 3..5 is out of bounds for dim 0 of shape [4, 3]");
}

#[test]
fn reshape_with_other_element_count_names_both() {
    let e = message(t(&[4, 3], DType::F32).reshape([5, 2]));
    assert_eq!(e, "reshape: cannot reshape [4, 3] (12 elements) into [5, 2] (10 elements)");
}

#[test]
fn matmul_inner_dim_mismatch_names_shapes() {
    let e = message(t(&[2, 3], DType::F32).matmul(&t(&[4, 2], DType::F32)));
    assert_eq!(e, "matmul: shape mismatch, [2, 3] vs [4, 2]");
    assert!(message(t(&[3], DType::F32).matmul(&t(&[3, 2], DType::F32))).contains("matmul"));
    assert!(message(t(&[2, 2, 3], DType::F32).matmul(&t(&[3, 3, 2], DType::F32))).contains("cannot be broadcast"));
}

#[test]
fn unsupported_dtype_says_what_to_do() {
    let e = message(t(&[2], DType::U32).exp());
    assert_eq!(e, "exp: dtype u32 is not supported (unsigned integer input)");
    assert!(message(t(&[2], DType::I64).mean(&[], false)).contains("cast to a float dtype"));
    assert!(message(t(&[2, 2], DType::I64).matmul(&t(&[2, 2], DType::I64))).contains("matmul: dtype i64"));
}

#[test]
fn where_needs_a_u8_mask() {
    let e = message(t(&[2], DType::F32).where_cond(&t(&[2], DType::F32), &t(&[2], DType::F32)));
    assert_eq!(e, "where: dtype f32 is not supported for the mask (expected u8, as comparisons give)");
}

#[test]
fn integer_division_by_zero_is_an_error() {
    let e = message(t(&[2], DType::I64).div(&t(&[1], DType::I64)));
    assert_eq!(e, "div: integer division by zero (i64 divisor)");
}

#[test]
fn wrong_length_data_names_shape() {
    let e = message(Tensor::from_vec(vec![1f32, 2., 3.], [2, 2], &Device::Cpu));
    assert_eq!(e, "from_vec: 3 elements given for shape [2, 2] (4 expected)");
}

#[test]
fn typed_read_of_another_dtype_is_an_error() {
    let e = t(&[2], DType::F32).to_vec::<f64>().unwrap_err();
    assert!(matches!(e, Error::WrongElementType { .. }));
    assert_eq!(e.to_string(), "to_vec: tensor has dtype f32, f64 was requested");
}

#[test]
fn cat_of_mismatched_shapes_or_nothing_is_an_error() {
    assert!(message(Tensor::cat(&[t(&[2, 3], DType::F32), t(&[2, 4], DType::F32)], 0))
        .contains("cat: shape mismatch, [2, 3] vs [2, 4]"));
    assert_eq!(message(Tensor::cat(&[], 0)), "cat: no tensors given");
    assert!(message(Tensor::stack(&[t(&[2], DType::F32), t(&[3], DType::F32)], 0)).contains("stack: shape mismatch"));
}

#[test]
fn bad_creation_arguments_are_errors() {
    let d = Device::Cpu;
    assert!(message(Tensor::arange(0.0, 1.0, 0.0, DType::F32, &d)).contains("nonzero step"));
    let mut g = Generator::new(0);
    assert_eq!(
        message(Tensor::bernoulli(&mut g, 1.5, [2], DType::F32, &d)),
        "bernoulli: probability 1.5 is not in [0, 1]"
    );
    assert!(message(Tensor::randn(&mut g, [2], DType::I64, &d)).contains("random values need a float dtype"));
    assert!(message(Tensor::rand_uniform(&mut g, 2.0, 1.0, [2], DType::F32, &d)).contains("lo <= hi"));
}

#[test]
fn shapes_whose_elements_cannot_be_counted_or_held_are_errors() {
    // 2^33 x 2^33 elements wrap round to 0 in a usize: such a shape once made a tensor with no
    // storage behind it (release builds) or panicked (debug builds).
    let (d, huge) = (Device::Cpu, [1usize << 33, 1 << 33]);
    let held = "has more f32 elements than any buffer can hold";
    assert_eq!(message(Tensor::zeros(huge, DType::F32, &d)), format!("full: shape [8589934592, 8589934592] {held}"));
    assert!(message(Tensor::randn(&mut Generator::new(0), huge, DType::F32, &d)).contains(held));
    assert!(message(Tensor::eye(usize::MAX, 2, DType::F32, &d)).contains("has more f32 elements"));
    assert!(message(Tensor::arange(0.0, 1e30, 1.0, DType::F32, &d)).contains(held));
    let counted = "has more elements than can be counted";
    assert!(message(t(&[0], DType::F32).reshape(huge)).contains(counted));
    assert!(message(t(&[1, 1], DType::F32).expand(huge)).contains(counted));
    assert!(message(Tensor::from_vec(Vec::<f32>::new(), huge, &d)).contains("from_vec"));
    let one = t(&[1, 1], DType::F32);
    let (column, row) = (one.expand([1 << 33, 1]).unwrap(), one.expand([1, 1 << 33]).unwrap());
    assert!(message(column.add(&row)).contains(counted));
}

#[test]
fn outputs_the_system_cannot_hold_are_errors_not_aborts() {
    // 2^58 f32 elements (1 EiB) can be counted and fit an isize, so the shape checks pass; the
    // allocation itself is refused on any machine, and the process once aborted there.
    let (d, side) = (Device::Cpu, 1usize << 29);
    let refused = "the system refused 1.0 EiB of host memory for 288230376151711744 f32 elements";
    assert_eq!(message(Tensor::zeros([side, side], DType::F32, &d)), format!("full: {refused}"));
    assert!(message(Tensor::randn(&mut Generator::new(0), [side, side], DType::F32, &d)).ends_with(refused));
    assert!(message(Tensor::eye(side, side, DType::F32, &d)).starts_with("eye: the system refused"));
    assert!(message(Tensor::arange(0.0, (1u64 << 58) as f64, 1.0, DType::F64, &d)).starts_with("arange: the system"));
    // Outputs far larger than their inputs: a broadcast, an outer product, a copy of an expand.
    let one = t(&[1, 1], DType::F32);
    let (column, row) = (one.expand([side, 1]).unwrap(), one.expand([1, side]).unwrap());
    assert_eq!(message(column.mul(&row)), format!("mul: {refused}"));
    assert_eq!(message(column.matmul(&row)), format!("matmul: {refused}"));
    assert!(message(column.lt(&row)).starts_with("lt: the system refused 256.0 PiB"));
    let square = one.expand([side, side]).unwrap();
    assert_eq!(message(square.contiguous()), format!("contiguous: {refused}"));
    assert!(square.to_vec::<f32>().unwrap_err().to_string().starts_with("to_cpu: the system refused"));
    // A reduction copies its view densely first: summing the expand panicked with a capacity
    // overflow (found by the var_ops fuzz target).
    assert_eq!(message(square.sum_all()), format!("sum: {refused}"));
    // So do elementwise ops and softmax rows, whose outputs are the view's size.
    assert_eq!(message(square.exp()), format!("exp: {refused}"));
    assert_eq!(message(square.softmax(-1)), format!("softmax: {refused}"));
    assert_eq!(message(square.logsumexp(0, false)), format!("logsumexp: {refused}"));
    let many = Tensor::zeros([1], DType::I64, &d).unwrap().expand([side]).unwrap();
    assert_eq!(message(t(&[1, side], DType::F32).index_select(0, &many)), format!("index_select: {refused}"));
    // Windows sized by their arguments: a convolution's padding, an adaptive pooling's output.
    let (image, kernel) = (t(&[1, 1, 1, 1], DType::F32), t(&[1, 1, 1, 1], DType::F32));
    let padded = Conv2dSpec { padding: [side / 2, side / 2], ..Conv2dSpec::default() };
    assert!(message(image.conv2d(&kernel, None, &padded)).starts_with("conv2d: the system refused 1.0 EiB"));
    assert_eq!(message(image.adaptive_avg_pool2d([side, side])), format!("adaptive_avg_pool2d: {refused}"));
    // Found by the tensor_ops fuzz target: an empty tensor's other dims bound nothing. Reducing
    // its empty dim, splitting along a huge one, or pooling it once aborted or ran for seconds.
    let empty = t(&[0, 1 << 40], DType::F32).transpose(0, 1).unwrap();
    assert!(message(empty.sum(&[1], false)).starts_with("sum: the system refused 4.0 TiB of host memory"));
    assert!(message(empty.logsumexp(1, false)).starts_with("logsumexp: the system refused 4.0 TiB"));
    let e = empty.split(1, 0).unwrap_err().to_string();
    assert!(e.ends_with("1099511627776 pieces of dim 0 (size 1099511627776) are more views than host memory can hold"));
    // An empty base returns at once, but only after its indices are checked.
    let (index, src) = (Tensor::from_vec(vec![0i64], [1], &d).unwrap(), t(&[1], DType::F32));
    assert!(message(t(&[0], DType::F32).scatter_add(0, &index, &src)).contains("out of range"));
    let planes = t(&[0, 1 << 33, 1 << 40], DType::F32);
    let pooled = planes.avg_pool2d(&tessera_tensor::AvgPool2dSpec::new([2, 2])).unwrap();
    assert_eq!(pooled.dims(), [0, 1 << 32, 1 << 39]);
    let huge = tessera_tensor::Shape::new(vec![1 << 33, 1 << 33, 1 << 33]);
    let e = message(Tensor::adaptive_avg_pool2d_backward(&image, &huge, [1, 1]));
    assert!(e.contains("shape [8589934592, 8589934592, 8589934592] has more f32 elements than any buffer"), "{e}");
}

#[test]
fn sizes_and_positions_past_a_usize_are_errors_not_overflows() {
    // Found by a sweep of hostile arguments: both overflowed (a panic in debug builds).
    let x = t(&[3, 4], DType::F32);
    let e = message(x.unflatten(1, &[1 << 33, 1 << 33]));
    assert!(e.starts_with("unflatten: sizes [8589934592, 8589934592] do not split dim 1 (size 4)"), "{e}");
    let e = message(t(&[1, 1, 2, 4], DType::F32).rotary(usize::MAX, 10_000.0));
    assert!(e.contains("rotary: positions from offset 18446744073709551615 over 2 rows"), "{e}");
    // Found by a sweep of hostile layer arguments. A pooling kernel of usize::MAX rows wrapped to
    // a span of -1 and pooled a 4-row image into 1 row; half of it as padding wrapped the
    // windows' starts.
    let image = t(&[1, 1, 4, 4], DType::F32);
    let pool = |padding| {
        let spec = MaxPool2dSpec { padding: [padding, 0], ..MaxPool2dSpec::new([usize::MAX, 1]) };
        message(image.max_pool2d(&spec).map(|(y, _)| y))
    };
    assert!(pool(0).contains("is larger than the padded input"));
    assert!(pool(usize::MAX / 2).contains("padding [9223372036854775807, 0] is too large for input [1, 1, 4, 4]"));
    // A transposed convolution's padding of usize::MAX overflowed when doubled, and a stride of
    // 2^31 gave an image whose element count saturated.
    let kernel = t(&[1, 1, 3, 3], DType::F32);
    let spec = ConvTranspose2dSpec { padding: [usize::MAX, 0], ..ConvTranspose2dSpec::default() };
    assert!(message(image.conv_transpose2d(&kernel, None, &spec)).contains("gives no output rows or columns"));
    let spec = ConvTranspose2dSpec { stride: [1 << 31, 1 << 31], ..ConvTranspose2dSpec::default() };
    let e = message(image.conv_transpose2d(&kernel, None, &spec));
    assert!(e.contains("1 x 1 images of 6442450947x6442450947 pixels are more than a buffer holds"), "{e}");
}

#[test]
fn bad_views_are_errors() {
    assert!(message(t(&[2, 3], DType::F32).permute(&[0, 0])).contains("is not a permutation"));
    assert!(message(t(&[2, 3], DType::F32).expand([4, 3])).contains("cannot be broadcast"));
    assert!(t(&[2, 3], DType::F32).split(0, 0).unwrap_err().to_string().contains("split size must be positive"));
    assert!(message(t(&[2, 3], DType::F32).clamp(1.0, 0.0)).contains("lower bound 1 exceeds upper bound 0"));
    assert!(
        message(t(&[2, 3], DType::F32).to_scalar_f64().map(|_| t(&[1], DType::F32))).contains("has 6 elements, not 1")
    );
}
