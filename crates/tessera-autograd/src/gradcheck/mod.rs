//! Gradient checking (work in progress).
