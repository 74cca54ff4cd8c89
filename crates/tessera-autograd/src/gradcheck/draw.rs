//! Random case material: a tape of numbers that proptest generates (and shrinks), and the
//! [`Draw`] that turns it into shapes, values and non-contiguous input views.

use proptest::collection::vec;
use proptest::prelude::*;
use tessera_tensor::Device;

/// The raw numbers of one case. Proptest shrinks them towards zero, which makes dims smaller and
/// values simpler; when a case needs more numbers than the tape holds, more are derived from it.
#[derive(Debug, Clone)]
pub struct Tape {
    ints: Vec<u32>,
    floats: Vec<f64>,
}

/// The proptest strategy for tapes.
pub fn tape_strategy() -> impl Strategy<Value = Tape> {
    (vec(any::<u32>(), 48), vec(-1.0f64..1.0, 192)).prop_map(|(ints, floats)| Tape { ints, floats })
}

/// Where an input's values lie. Ops with kinks draw values away from them so that central
/// differences never straddle one.
#[derive(Debug, Clone)]
pub enum Domain {
    /// Uniform in `[lo, hi]`.
    Range(f64, f64),
    /// Uniform in `[lo, hi]`, pushed at least `margin` away from every kink.
    Away {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
        /// The points to avoid.
        kinks: Vec<f64>,
        /// The least distance kept from each.
        margin: f64,
    },
    /// Pairwise distinct values in `[lo, hi]` at least `0.4 (hi - lo) / n` apart (no ties for
    /// max, min, sorting-like ops).
    Distinct(f64, f64),
}

impl Domain {
    /// Values in `[-2, 2]`.
    pub const ANY: Domain = Domain::Range(-2.0, 2.0);
    /// Values in `[0.5, 2]`: logs, roots, reciprocals and powers.
    pub const POSITIVE: Domain = Domain::Range(0.5, 2.0);

    /// Values in `[-2, 2]` at least 0.2 away from `kinks`.
    pub fn away_from(kinks: &[f64]) -> Domain {
        Domain::Away { lo: -2.0, hi: 2.0, kinks: kinks.to_vec(), margin: 0.2 }
    }
}

/// How an input reaches the op: as is, or as a non-contiguous view of a larger or smaller tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum View {
    /// The contiguous tensor itself.
    Plain,
    /// The last two dims of a tensor stored transposed.
    Transposed,
    /// A slice `start..start + len` along `dim` of a longer tensor.
    Narrowed {
        /// The narrowed dim.
        dim: usize,
        /// First entry kept.
        start: usize,
        /// Entries kept.
        len: usize,
    },
    /// A broadcast (stride-0) view of a tensor with size-1 or missing dims.
    Expanded(Vec<usize>),
}

/// One input of a check: the contiguous `f64` data that is perturbed, and the view the op sees.
#[derive(Debug, Clone)]
pub struct Input {
    /// The data, row-major.
    pub base: Vec<f64>,
    /// Its shape.
    pub base_shape: Vec<usize>,
    /// The view of it passed to the op.
    pub view: View,
    /// Whether its gradient is checked (otherwise it is a constant).
    pub requires_grad: bool,
}

/// Draws numbers from a [`Tape`] in order, for a check that runs on one device.
pub struct Draw<'a> {
    tape: &'a Tape,
    next_int: usize,
    next_float: usize,
    device: Device,
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl<'a> Draw<'a> {
    /// Starts at the beginning of `tape`, for a check on the CPU.
    pub fn new(tape: &'a Tape) -> Self {
        Draw::on(tape, Device::Cpu)
    }

    /// Starts at the beginning of `tape`, for a check on `device`.
    pub fn on(tape: &'a Tape, device: Device) -> Self {
        Draw { tape, next_int: 0, next_float: 0, device }
    }

    /// The device the check runs on: where its inputs and constants live.
    pub fn device(&self) -> Device {
        self.device
    }

    fn raw_int(&mut self) -> u64 {
        let (i, n) = (self.next_int, self.tape.ints.len());
        self.next_int += 1;
        let v = self.tape.ints[i % n] as u64;
        if i < n {
            v
        } else {
            mix(v ^ (i as u64) << 32)
        }
    }

    fn raw_unit(&mut self) -> f64 {
        let (i, n) = (self.next_float, self.tape.floats.len());
        self.next_float += 1;
        let v = self.tape.floats[i % n];
        if i < n {
            v
        } else {
            let bits = mix(v.to_bits() ^ i as u64);
            (bits >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    /// An integer in `lo..=hi` (shrinks towards `lo`).
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.raw_int() % (hi - lo + 1) as u64) as usize
    }

    /// A fair coin (shrinks towards `false`).
    pub fn coin(&mut self) -> bool {
        self.int(0, 1) == 1
    }

    /// One of `items`.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.int(0, items.len() - 1)].clone()
    }

    /// Uniform in `[lo, hi]`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.raw_unit() + 1.0) / 2.0
    }

    /// A shape of rank `min_rank..=max_rank` with dims in `1..=4`.
    pub fn shape(&mut self, min_rank: usize, max_rank: usize) -> Vec<usize> {
        let rank = self.int(min_rank, max_rank);
        (0..rank).map(|_| self.int(1, 4)).collect()
    }

    /// A shape that broadcasts with `shape` to `shape`: some dims set to 1, maybe leading dims
    /// dropped.
    pub fn broadcast_partner(&mut self, shape: &[usize]) -> Vec<usize> {
        let drop = if shape.is_empty() { 0 } else { self.int(0, shape.len()) };
        shape[drop..].iter().map(|&d| if self.coin() { 1 } else { d }).collect()
    }

    /// `n` values from `domain`.
    pub fn values(&mut self, n: usize, domain: &Domain) -> Vec<f64> {
        match domain {
            Domain::Range(lo, hi) => (0..n).map(|_| self.uniform(*lo, *hi)).collect(),
            Domain::Away { lo, hi, kinks, margin } => (0..n)
                .map(|_| {
                    let v = self.uniform(*lo, *hi);
                    match kinks.iter().find(|&&k| (v - k).abs() < *margin) {
                        Some(&k) if v >= k => k + margin,
                        Some(&k) => k - margin,
                        None => v,
                    }
                })
                .collect(),
            Domain::Distinct(lo, hi) => {
                let keys: Vec<f64> = (0..n).map(|_| self.raw_unit()).collect();
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]).then(a.cmp(&b)));
                let mut out = vec![0.0; n];
                let cell = (hi - lo) / n.max(1) as f64;
                for (rank, &i) in order.iter().enumerate() {
                    out[i] = lo + cell * (rank as f64 + 0.5 + 0.3 * self.raw_unit());
                }
                out
            }
        }
    }

    /// An input the op sees with `shape`, values from `domain`, reached through a random view.
    /// Broadcast views repeat values, so `Distinct` domains never get one.
    pub fn input(&mut self, shape: &[usize], domain: &Domain) -> Input {
        let can_expand = !matches!(domain, Domain::Distinct(..)) && shape.iter().any(|&d| d > 1);
        let mut kinds = vec![0];
        if shape.len() >= 2 {
            kinds.push(1);
        }
        if !shape.is_empty() {
            kinds.push(2);
        }
        if can_expand {
            kinds.push(3);
        }
        let (base_shape, view) = match self.pick(&kinds) {
            1 => {
                let mut s = shape.to_vec();
                let r = s.len();
                s.swap(r - 2, r - 1);
                (s, View::Transposed)
            }
            2 => {
                let dim = self.int(0, shape.len() - 1);
                let extra = self.int(1, 2);
                let start = self.int(0, extra);
                let mut s = shape.to_vec();
                s[dim] += extra;
                (s, View::Narrowed { dim, start, len: shape[dim] })
            }
            3 => (self.broadcast_partner(shape), View::Expanded(shape.to_vec())),
            _ => (shape.to_vec(), View::Plain),
        };
        let base = self.values(base_shape.iter().product(), domain);
        Input { base, base_shape, view, requires_grad: true }
    }

    /// Like [`Draw::input`] but a constant: no gradient is checked for it.
    pub fn constant(&mut self, shape: &[usize], domain: &Domain) -> Input {
        Input { requires_grad: false, ..self.input(shape, domain) }
    }

    /// `n` indices in `0..size`, repeats allowed.
    pub fn indices(&mut self, n: usize, size: usize) -> Vec<usize> {
        (0..n).map(|_| self.int(0, size - 1)).collect()
    }
}
