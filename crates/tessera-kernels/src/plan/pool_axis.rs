//! The geometry of pooling windows along one spatial dim, which both device halves and every
//! pooling (max, average, adaptive) share.

/// The windows along one spatial dim: output position `o` reads the input positions
/// `o·stride - padding + k·dilation` for `k < kernel` that lie in `0..input` (or, adaptive,
/// `floor(o·input/output)..ceil((o+1)·input/output)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolAxis {
    /// Input length.
    pub input: usize,
    /// Output length.
    pub output: usize,
    /// Window length (unused when adaptive).
    pub kernel: usize,
    /// Step between windows (unused when adaptive).
    pub stride: usize,
    /// Padding before the input (unused when adaptive).
    pub padding: usize,
    /// Spacing between taps (1 when adaptive).
    pub dilation: usize,
    /// Adaptive windows.
    pub adaptive: bool,
}

/// One window along one dim: `count` input positions `first + i·step`, and the window's length
/// clipped to the padded input (the divisor's factor when the padding counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// The first input position read.
    pub first: usize,
    /// Input positions read.
    pub count: usize,
    /// Spacing between them.
    pub step: usize,
    /// The window's length within the padded input.
    pub padded: usize,
}

impl PoolAxis {
    /// The window of output position `o` (`o < output`).
    #[inline]
    pub fn window(&self, o: usize) -> Window {
        if self.adaptive {
            // In u128: `(o + 1) * input` can pass a usize where input is a broadcast view's length.
            let (o, input, output) = (o as u128, self.input as u128, self.output as u128);
            let (start, end) = ((o * input / output) as usize, ((o + 1) * input).div_ceil(output) as usize);
            return Window { first: start, count: end - start, step: 1, padded: end - start };
        }
        let (d, start) = (self.dilation, (o * self.stride) as i64 - self.padding as i64);
        let skip = if start < 0 { (-start as usize).div_ceil(d) } else { 0 };
        let first = start + (skip * d) as i64;
        let count = if first >= self.input as i64 || skip >= self.kernel {
            0
        } else {
            (self.kernel - skip).min((self.input - first as usize).div_ceil(d))
        };
        // Saturating: the last window of a kernel near i64::MAX starts near it too (the plan keeps
        // the kernel, and input plus both paddings, within i64).
        let padded = start.saturating_add(self.kernel as i64).min((self.input + self.padding) as i64) - start;
        Window { first: first.max(0) as usize, count, step: d, padded: padded.max(0) as usize }
    }

    /// Output length of a pooled (not adaptive) axis by PyTorch's rule, `None` when below 1.
    pub(super) fn pooled_len(
        input: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
        ceil: bool,
    ) -> Option<usize> {
        // In u128, where no argument a usize can hold overflows (a kernel of usize::MAX once
        // wrapped to a span of -1 and passed as a window of one row).
        let (input, padding, stride) = (input as u128, padding as u128, stride as u128);
        let reach = dilation as u128 * (kernel as u128).checked_sub(1)? + 1;
        let span = (input + 2 * padding).checked_sub(reach)?;
        let steps = if ceil { span.div_ceil(stride) } else { span / stride };
        // In ceil mode the last window must start inside the input or its left padding.
        usize::try_from(if ceil && steps * stride >= input + padding { steps } else { steps + 1 }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan checks only the two end windows for one that misses the input: over every small
    /// axis, that finds one exactly when walking every window does.
    #[test]
    fn end_windows_decide_whether_a_window_misses_the_input() {
        let (mut axes, mut missing) = (0, 0);
        for (input, kernel, stride, dilation) in
            (1..13).flat_map(|i| (1..9).flat_map(move |k| (1..6).flat_map(move |s| (1..6).map(move |d| (i, k, s, d)))))
        {
            for (padding, ceil) in (0..=kernel / 2).flat_map(|p| [(p, false), (p, true)]) {
                let Some(output) = PoolAxis::pooled_len(input, kernel, stride, padding, dilation, ceil) else {
                    continue;
                };
                let axis = PoolAxis { input, output, kernel, stride, padding, dilation, adaptive: false };
                let misses = |o: usize| axis.window(o).count == 0;
                let any = (0..output).any(misses);
                assert_eq!(any, misses(0) || misses(output - 1), "{axis:?}");
                (axes, missing) = (axes + 1, missing + any as usize);
            }
        }
        assert!(axes > 5000 && missing > 20, "{axes} axes checked, {missing} with a window that misses");
    }
}
