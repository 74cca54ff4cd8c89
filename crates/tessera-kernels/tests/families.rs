//! Every op family has its halves under one name: `src/cpu/X.rs`, `src/cuda/X.rs` (unless CUDA
//! runs all of its ops composed) and, when its CUDA half launches kernels of its own,
//! `kernels/X.cu`; and every `.cu` file is a family's.

use std::path::Path;
use tessera_kernels::ops::registry::{families, registry, CudaImpl};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A family whose ops CUDA runs composed of other families' ops has a CPU half only.
#[test]
fn every_family_has_a_cpu_and_a_cuda_half_of_the_same_name() {
    let ops = registry();
    for family in families() {
        let composed = ops.iter().filter(|op| op.family == family).all(|op| matches!(op.cuda, CudaImpl::Composed(_)));
        let cuda = root().join("src/cuda").join(format!("{family}.rs"));
        let cpu = root().join("src/cpu").join(format!("{family}.rs"));
        assert!(cpu.exists(), "family {family} has no {}", cpu.display());
        assert_eq!(
            cuda.exists(),
            !composed,
            "family {family}: {} (all of its ops composed on CUDA: {composed})",
            cuda.display()
        );
    }
}

#[test]
fn kernel_sources_and_families_match_one_to_one() {
    let with_kernels: Vec<&str> =
        registry().iter().filter(|op| matches!(op.cuda, CudaImpl::Kernels(_))).map(|op| op.family).collect();
    for family in &with_kernels {
        let file = root().join("kernels").join(format!("{family}.cu"));
        assert!(file.exists(), "family {family} launches kernels but has no {}", file.display());
    }
    for entry in std::fs::read_dir(root().join("kernels")).expect("the kernels folder") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cu") {
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            assert!(
                with_kernels.contains(&stem.as_str()),
                "{} belongs to no op family of the registry",
                path.display()
            );
        }
    }
}

#[cfg(feature = "cuda")]
#[test]
fn every_kernel_source_is_embedded() {
    use tessera_kernels::cuda::source::{module, MODULES};
    for op in registry() {
        if matches!(op.cuda, CudaImpl::Kernels(_)) {
            assert!(module(op.family).is_some(), "kernels/{}.cu is not in cuda::source::MODULES", op.family);
        }
    }
    assert_eq!(
        MODULES.len(),
        std::fs::read_dir(root().join("kernels"))
            .unwrap()
            .filter(|e| { e.as_ref().unwrap().path().extension().is_some_and(|x| x == "cu") })
            .count()
    );
}

#[test]
fn op_names_are_unique() {
    let names: Vec<&str> = registry().iter().map(|op| op.name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names.len(), sorted.len(), "{names:?}");
}
