//! With the `mpi` feature: compiles `src/mpi_in_place.c`, which hands Rust the MPI library's
//! `MPI_IN_PLACE` (a macro whose value differs between MPI implementations, so it is read
//! from the library's own header rather than written here).

fn main() {
    #[cfg(feature = "mpi")]
    mpi_in_place();
}

#[cfg(feature = "mpi")]
fn mpi_in_place() {
    println!("cargo:rerun-if-changed=src/mpi_in_place.c");
    let lib = match build_probe_mpi::probe() {
        Ok(lib) => lib,
        Err(errors) => {
            let reasons: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            panic!("the mpi feature needs an MPI library (e.g. libopenmpi-dev): {}", reasons.join("; "));
        }
    };
    let mut build = cc::Build::new();
    build.file("src/mpi_in_place.c");
    match lib.mpicc {
        Some(mpicc) => {
            build.compiler(mpicc);
        }
        None => {
            build.includes(&lib.include_paths);
        }
    }
    build.compile("tessera_mpi_in_place");
}
