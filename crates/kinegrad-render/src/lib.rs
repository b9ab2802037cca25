//! kinegrad-render: an offscreen CPU rasterizer for kinegrad models.
//!
//! No GPU, no OpenGL: triangles of each visible geom (primitives tessellated, file meshes with
//! their real triangles) are rasterized with a z-buffer into RGB, depth (distance along the
//! camera axis, metres), segmentation (geom index) and world-frame normal images, lit by an
//! ambient term, a headlight and a key light (Lambert), with a checkered ground plane.
//!
//! * [`RenderScene::new`] turns a [`kinegrad::Model`] into drawables once;
//! * [`RenderScene::set_debug`] adds debug shapes (markers, arrows, paths) drawn with it;
//! * [`Renderer::render`] draws one frame from the geoms' world poses (`Data::geom_xpos` and
//!   `Data::geom_xmat` after forward kinematics) through a [`Camera`].
//!
//! The physics crate does not depend on this one: stepping never pays for rendering.
#![warn(missing_docs)]
// `!(x > 0.0)` is used on purpose so that NaN fails the check (as in the engine crate).
#![allow(clippy::needless_range_loop, clippy::neg_cmp_op_on_partial_ord)]

pub mod camera;
pub mod configuration;
pub mod raster;
pub mod scene;
pub mod tess;

pub use camera::Camera;
pub use raster::{Frame, Outputs, Renderer};
pub use scene::{DebugShape, Drawable, RenderScene, Surface};
pub use tess::TriMesh;
