//! Tessera's developer programs, run through `cargo xtask`: `gradcheck` (property-based gradient
//! checks of every differentiable op and every hand-written backward rule of the workspace) and
//! `compile-kernels` (every CUDA kernel compiled with NVRTC, with its resources and the symbols
//! each op declares). They live here, not in the library crates, so that users of those crates
//! compile neither them nor their dependencies.
