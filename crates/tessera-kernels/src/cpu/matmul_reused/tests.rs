use super::*;
use crate::cpu::test_values::values;

/// A `[rows, cols]` row-major source in f32 or f64.
fn source<T: GemmElem>(len: usize, seed: u64, cast: fn(f64) -> T) -> Vec<T> {
    values(len, seed).into_iter().map(cast).collect()
}

/// How the test's operand lies in its source.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Source {
    /// Stored `[k, n]` with rows `ld` apart (the backward's `W_hh`).
    Rows,
    /// Stored `[n, k]` and seen transposed (the forward's `W_hhᵀ`).
    Transposed,
    /// Every third element of rows `ld` apart.
    Strided,
    /// Rows `ld` apart, the columns in reverse order.
    Reversed,
}

/// The start and step of column `j` of a `k`-row operand in its source.
fn column(source: Source, (k, ld): (usize, usize)) -> impl Fn(usize) -> (usize, usize) {
    move |j| match source {
        Source::Rows => (j, ld),
        Source::Transposed => (j * k, 1),
        Source::Strided => (3 * j, ld),
        Source::Reversed => (ld - 1 - j, ld),
    }
}

/// Every element of `m × n` products within rounding of an f64 dot product, for the shapes that
/// cut tiles at the bottom (rows past a multiple of 8, and tiles of 1 to 6 rows on AVX2) and
/// panels at the right (columns past a multiple of 32, or of 16 in a half panel), in each source
/// layout, in f32 (packed on AVX-512 or AVX2, and kept as rows for gemm as elsewhere) and f64
/// (rows for gemm); `dst`'s columns past `n` left as they were.
#[test]
fn products_match_an_f64_reference_at_every_edge() {
    for packed in [false, packs_f32()] {
        check_products(|v| v as f32, |v| v as f64, f32::EPSILON as f64, packed);
    }
    check_products(|v| v, |v| v, f64::EPSILON, false);
}

fn check_products<T: GemmElem>(narrow: fn(f64) -> T, wide: fn(T) -> f64, epsilon: f64, packed: bool) {
    for (m, k, n) in
        [(1, 1, 1), (2, 7, 40), (13, 37, 70), (32, 256, 96), (16, 1024, 48), (9, 5, 33), (8, 0, 20), (3, 20, 0)]
    {
        for layout in [Source::Rows, Source::Transposed, Source::Strided, Source::Reversed] {
            let ld = 3 * n + 1;
            let b = source(k.max(n) * ld.max(k), 2, narrow);
            let a = source(m * k, 1, narrow);
            let rhs = ReusedRhs::laid_out(&b, (k, n), column(layout, (k, ld)), packed);
            assert_eq!(matches!(rhs.form, Form::Panels(_)), packed);
            let ldd = n + 5;
            let mut dst = vec![MaybeUninit::new(narrow(7.0)); m * ldd];
            rhs.product(m, (&a, k), (&mut dst, ldd));
            let element = |p: usize, j: usize| {
                let (start, step) = column(layout, (k, ld))(j);
                wide(b[start + p * step])
            };
            for i in 0..m {
                for j in 0..ldd {
                    // SAFETY: every element was initialised above.
                    let got = wide(unsafe { dst[i * ldd + j].assume_init() });
                    if j >= n {
                        assert_eq!(got, 7.0, "({i}, {j}) of {m}x{k}x{n}: a column past n was written");
                        continue;
                    }
                    let terms = (0..k).map(|p| wide(a[i * k + p]) * element(p, j));
                    let (dot, size) = terms.fold((0.0, 0.0), |(d, s), t| (d + t, s + t.abs()));
                    let bound = (k as f64 + 1.0) * epsilon * size;
                    assert!(
                        (got - dot).abs() <= bound,
                        "({i}, {j}) of {m}x{k}x{n} from {layout:?}: {got} against {dot}"
                    );
                }
            }
        }
    }
}

/// In the packed form a row's sums do not depend on the other rows of the product: the rows of
/// a batch of 32 give the same bits in one product as in halves of 16 (two threads' parts) or
/// in parts of 5 and 27.
#[test]
fn a_rows_bits_do_not_depend_on_the_rows_beside_it() {
    let (m, k, n) = (32, 256, 1024);
    let (a, b) = (source(m * k, 3, |v| v as f32), source(n * k, 4, |v| v as f32));
    let rhs = ReusedRhs::new(&b, (k, n), column(Source::Transposed, (k, n)));
    let run = |rows: std::ops::Range<usize>| {
        let mut dst = vec![MaybeUninit::new(0.0f32); rows.len() * n];
        rhs.product(rows.len(), (&a[rows.start * k..], k), (&mut dst, n));
        // SAFETY: the product wrote every element.
        dst.into_iter().map(|v| unsafe { v.assume_init() }.to_bits()).collect::<Vec<_>>()
    };
    let whole = run(0..m);
    for cuts in [[0, 16, 32], [0, 5, 32]] {
        let parts = [run(cuts[0]..cuts[1]), run(cuts[1]..cuts[2])].concat();
        assert_eq!(parts, whole, "rows cut at {cuts:?}");
    }
}

/// f32 is packed exactly where the kernels may use AVX2 (or AVX-512); f64 never is. Kept as
/// rows, an operand whose columns are consecutive elements is borrowed, and a gathered one has
/// its rows padded off multiples of 4 KiB.
#[test]
fn the_form_follows_the_type_the_cpu_and_the_layout() {
    let b32 = source(64 * 1024, 5, |v| v as f32);
    let packed = ReusedRhs::new(&b32, (64, 1024), column(Source::Rows, (64, 1024)));
    assert_eq!(matches!(packed.form, Form::Panels(_)), packs_f32());
    let b64 = source(64 * 512, 6, |v| v);
    match ReusedRhs::new(&b64, (64, 512), column(Source::Rows, (64, 512))).form {
        Form::Rows(Cow::Borrowed(rows), 512) => assert_eq!(rows.as_ptr(), b64.as_ptr()),
        _ => panic!("a row-major f64 operand is borrowed as it is"),
    }
    match ReusedRhs::new(&b64, (64, 512), column(Source::Transposed, (64, 512))).form {
        Form::Rows(Cow::Owned(rows), 520) => assert_eq!(rows.len(), 64 * 520),
        _ => panic!("a transposed f64 operand is gathered into padded rows"),
    }
    assert_eq!(row_stride::<f32>(1024), 1040);
    assert_eq!(row_stride::<f32>(2048), 2064);
    assert_eq!(row_stride::<f32>(512), 512);
    assert_eq!(row_stride::<f32>(1040), 1040);
    assert_eq!(row_stride::<f32>(0), 0);
}
