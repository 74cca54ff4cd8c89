//! What a person sees while training: a progress bar per epoch on a terminal, plain lines when
//! the output is a file or a pipe.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Progress of one epoch: step, loss, examples per second and time left.
pub struct Progress {
    label: String,
    total: usize,
    start: Instant,
    terminal: bool,
    next_line_at: usize,
    unit: &'static str,
}

impl Progress {
    /// Starts an epoch of `total` steps, labelled e.g. `epoch 3/10`.
    pub fn new(label: impl Into<String>, total: usize) -> Self {
        Progress {
            label: label.into(),
            total,
            start: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            next_line_at: 0,
            unit: "ex",
        }
    }

    /// Counts `unit`s per second instead of examples (`tok` for a language model).
    pub fn unit(mut self, unit: &'static str) -> Self {
        self.unit = unit;
        self
    }

    /// Reports that `step` steps (of `examples` examples, or units, so far) are done, with the
    /// running loss.
    pub fn update(&mut self, step: usize, examples: usize, loss: f64) {
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        let rate = examples as f64 / secs;
        let eta = secs / step.max(1) as f64 * self.total.saturating_sub(step) as f64;
        let line = format!(
            "{} {step:>5}/{} loss {loss:.4} {rate:>8.0} {}/s ETA {}",
            self.label,
            self.total,
            self.unit,
            format_secs(eta)
        );
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let width = 24;
            let filled = (width * step / self.total.max(1)).min(width);
            let _ = write!(err, "\r[{}{}] {line}\x1b[K", "=".repeat(filled), " ".repeat(width - filled));
            let _ = err.flush();
        } else if step >= self.next_line_at || step == self.total {
            // A plain line at every quarter of the epoch.
            let _ = writeln!(err, "{line}");
            self.next_line_at = step + self.total.div_ceil(4).max(1);
        }
    }

    /// Ends the epoch's bar (a newline on a terminal).
    pub fn finish(&self) {
        if self.terminal {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// `75s` as `1:15`, `3725s` as `1:02:05`.
pub fn format_secs(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_format_as_clock() {
        assert_eq!(super::format_secs(75.2), "1:15");
        assert_eq!(super::format_secs(3725.0), "1:02:05");
    }
}
