//! Triangle meshes used as geoms: raw triangles for drawing, convex hull for collision and inertia.

use crate::collision::ConvexHull;
use crate::math::Vec3;
use std::path::PathBuf;

/// A mesh asset, already scaled into the geom frame's units (m).
#[derive(Clone, Debug)]
pub struct Mesh {
    /// Asset name (MJCF name, or the file stem).
    pub name: String,
    /// Source file, if loaded from disk.
    pub file: Option<PathBuf>,
    /// Vertices of the original mesh (m), mesh frame.
    pub vertices: Vec<Vec3>,
    /// Triangles of the original mesh (vertex indices).
    pub faces: Vec<[u32; 3]>,
    /// Convex hull used for collision and for inertia from geometry.
    pub hull: ConvexHull,
}
