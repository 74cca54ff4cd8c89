//! Every op family has its halves under one name: `src/cpu/X.rs`, `src/cuda/X.rs` and, when its
//! CUDA half launches kernels of its own, `kernels/X.cu`; and every `.cu` file is a family's.

use std::path::Path;
use tessera_kernels::ops::registry::{families, registry, CudaImpl};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_family_has_a_cpu_and_a_cuda_half_of_the_same_name() {
    for family in families() {
        for half in ["cpu", "cuda"] {
            let file = root().join("src").join(half).join(format!("{family}.rs"));
            assert!(file.exists(), "family {family} has no {}", file.display());
        }
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
