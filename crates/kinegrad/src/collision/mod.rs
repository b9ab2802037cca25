//! Collision detection: broadphase and one narrowphase routine per shape pair.
//! (Being filled in: see the collision work item.)

use crate::math::Vec3;

/// Convex hull of a point set: vertices and outward-facing triangles.
#[derive(Clone, Debug, Default)]
pub struct ConvexHull {
    /// Hull vertices (mesh frame, m).
    pub vertices: Vec<Vec3>,
    /// Triangles (indices into `vertices`), counter-clockwise seen from outside.
    pub faces: Vec<[u32; 3]>,
}
pub mod detect;
