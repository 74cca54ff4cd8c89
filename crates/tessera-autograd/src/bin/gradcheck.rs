//! Gradient checks (work in progress).
fn main() {}
