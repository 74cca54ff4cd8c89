//! Image augmentation: random shifts, small rotations and (optionally) horizontal flips, for
//! square single-channel images.

use crate::rng::SplitMix;
use crate::{Error, Result};
use tessera_tensor::{DType, Tensor};

/// Random shifts of up to `max_shift` pixels (a random crop of the image padded with zeros, at
/// sub-pixel offsets), rotations of up to `max_degrees` and, with `flip`, a left-right mirror of
/// half the images, applied to
/// each image of a batch `[n, side*side]` (or `[n, side, side]`, `[n, 1, side, side]`) with
/// bilinear sampling; pixels from outside the image are 0. Deterministic for a seed and batch
/// number. A batch of other shapes, or of images without pixels, is an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Augment {
    /// Largest shift, in pixels, along each axis.
    pub max_shift: f32,
    /// Largest rotation, in degrees, either way.
    pub max_degrees: f32,
    /// Mirror each image left to right with probability 1/2 (off for digits, whose mirror
    /// images are not digits).
    pub flip: bool,
    /// Seed of the random transforms.
    pub seed: u64,
}

impl Augment {
    /// Augments a batch; `stream` selects independent randomness per batch.
    pub fn apply(&self, batch: &Tensor, stream: u64) -> Result<Tensor> {
        let side = image_side(batch)?;
        let per = side * side;
        let pixels = batch.to_vec::<f32>()?;
        let mut out = vec![0f32; pixels.len()];
        let mut rng = SplitMix::new(self.seed, stream);
        let c = (side as f32 - 1.0) / 2.0;
        for (img, dst) in pixels.chunks(per).zip(out.chunks_mut(per)) {
            let dx = (rng.unit() as f32 * 2.0 - 1.0) * self.max_shift;
            let dy = (rng.unit() as f32 * 2.0 - 1.0) * self.max_shift;
            let a = ((rng.unit() as f32 * 2.0 - 1.0) * self.max_degrees).to_radians();
            let (sin, cos) = a.sin_cos();
            let mirror = self.flip && rng.unit() < 0.5;
            for y in 0..side {
                for out_x in 0..side {
                    let x = if mirror { side - 1 - out_x } else { out_x };
                    // Inverse map: where in the source does this output pixel come from?
                    let (ux, uy) = (x as f32 - c - dx, y as f32 - c - dy);
                    let sx = cos * ux + sin * uy + c;
                    let sy = -sin * ux + cos * uy + c;
                    dst[y * side + out_x] = bilinear(img, side, sx, sy);
                }
            }
        }
        Ok(Tensor::from_vec(out, batch.shape().clone(), batch.device())?)
    }
}

/// The side of the square images in `batch` (`[n, side*side]`, `[n, side, side]` or
/// `[n, 1, side, side]`, f32, at least one pixel each), or an error saying what the batch is
/// instead.
fn image_side(batch: &Tensor) -> Result<usize> {
    let dims = batch.dims();
    let per: usize = dims.iter().skip(1).product();
    let side = (per as f64).sqrt().round() as usize;
    let square = match dims {
        [_, _] => side * side == per,
        [_, h, w] | [_, 1, h, w] => h == w,
        _ => false,
    };
    if square && per > 0 && batch.dtype() == DType::F32 {
        return Ok(side);
    }
    Err(Error::Config(format!(
        "augmentation needs f32 square single-channel images of at least one pixel ([n, side*side], \
         [n, side, side] or [n, 1, side, side]), got a batch of shape {} and dtype {} ({per} pixels per image)",
        batch.shape(),
        batch.dtype()
    )))
}

fn bilinear(img: &[f32], side: usize, x: f32, y: f32) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |xi: f32, yi: f32| {
        if xi < 0.0 || yi < 0.0 || xi >= side as f32 || yi >= side as f32 {
            0.0
        } else {
            img[yi as usize * side + xi as usize]
        }
    };
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_tensor::Device;

    #[test]
    fn zero_augmentation_is_the_identity_and_shifts_move_pixels() {
        let mut img = vec![0f32; 25];
        img[12] = 1.0; // centre of a 5x5 image
        let t = Tensor::from_vec(img.clone(), [1, 25], &Device::Cpu).unwrap();
        let none = Augment { max_shift: 0.0, max_degrees: 0.0, flip: false, seed: 1 };
        assert_eq!(none.apply(&t, 0).unwrap().to_vec::<f32>().unwrap(), img);
        let moved = Augment { max_shift: 2.0, max_degrees: 10.0, flip: false, seed: 1 }.apply(&t, 0).unwrap();
        let v = moved.to_vec::<f32>().unwrap();
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 0.35, "mass roughly kept: {v:?}");
        assert_ne!(v, img);
        let again = Augment { max_shift: 2.0, max_degrees: 10.0, flip: false, seed: 1 }.apply(&t, 0).unwrap();
        assert_eq!(again.to_vec::<f32>().unwrap(), v, "deterministic");
    }

    #[test]
    fn flips_mirror_about_half_the_images() {
        // 64 copies of a 3x3 image lit at its left column's middle.
        let mut img = vec![0f32; 9];
        img[3] = 1.0;
        let t = Tensor::from_vec(img.repeat(64), [64, 9], &Device::Cpu).unwrap();
        let flip = Augment { max_shift: 0.0, max_degrees: 0.0, flip: true, seed: 3 };
        let v = flip.apply(&t, 0).unwrap().to_vec::<f32>().unwrap();
        let mirrored = v.chunks(9).filter(|im| im[5] == 1.0 && im[3] == 0.0).count();
        let kept = v.chunks(9).filter(|im| *im == img.as_slice()).count();
        assert_eq!(mirrored + kept, 64);
        assert!((20..=44).contains(&mirrored), "{mirrored} of 64 mirrored");
    }

    #[test]
    fn empty_or_non_square_images_are_errors() {
        let a = Augment { max_shift: 2.0, max_degrees: 10.0, flip: false, seed: 1 };
        let e = a.apply(&Tensor::zeros([4, 0], DType::F32, &Device::Cpu).unwrap(), 0).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid configuration: augmentation needs f32 square single-channel images of at least one pixel \
             ([n, side*side], [n, side, side] or [n, 1, side, side]), got a batch of shape [4, 0] and dtype f32 (0 \
             pixels per image)"
        );
        for dims in [&[4, 12][..], &[4, 1, 2, 8], &[4, 3, 4, 4], &[4]] {
            let e = a.apply(&Tensor::zeros(dims, DType::F32, &Device::Cpu).unwrap(), 0).unwrap_err().to_string();
            assert!(e.contains("augmentation needs f32 square single-channel images"), "{dims:?}: {e}");
        }
        let none = a.apply(&Tensor::zeros([0, 9], DType::F32, &Device::Cpu).unwrap(), 0).unwrap();
        assert_eq!(none.dims(), &[0, 9]);
        let planes = a.apply(&Tensor::ones([2, 1, 3, 3], DType::F32, &Device::Cpu).unwrap(), 0).unwrap();
        assert_eq!(planes.dims(), &[2, 1, 3, 3]);
    }
}
