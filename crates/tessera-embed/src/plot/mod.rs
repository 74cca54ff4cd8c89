//! Pictures of embeddings: 2-D projections (PCA, exact t-SNE) and a labelled SVG scatter.
//!
//! ```
//! use tessera_embed::plot::{project, scatter_svg, Method};
//! let points = [0.0f32, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 2.0]; // three points in 3-D
//! let xy = project(&points, 3, &Method::Pca)?;
//! let (svg, shown) = scatter_svg("three words", &xy, &["a", "b", "c"]);
//! assert!(svg.contains("<circle") && shown == 3);
//! # Ok::<(), tessera_embed::Error>(())
//! ```

mod pca;
mod svg;
mod tsne;

pub use pca::{pca_2d, principal_axes};
pub use svg::scatter_svg;
pub use tsne::{tsne_2d, TsneConfig, TSNE_MAX_POINTS};

/// How to project to 2-D.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// The first two principal components.
    Pca,
    /// t-SNE with these settings.
    Tsne(TsneConfig),
}

/// Projects `n` points of dimension `dim` (row-major) to 2-D.
pub fn project(points: &[f32], dim: usize, method: &Method) -> crate::Result<Vec<[f64; 2]>> {
    match method {
        Method::Pca => Ok(pca_2d(points, dim)),
        Method::Tsne(cfg) => tsne_2d(points, dim, cfg),
    }
}
