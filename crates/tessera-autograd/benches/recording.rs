//! Recording benchmark (work in progress).
fn main() {}
