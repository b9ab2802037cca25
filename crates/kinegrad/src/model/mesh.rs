//! Triangle meshes used as geoms: raw triangles for drawing (and MJCF meshes' inertia, as
//! MuJoCo computes it: [`MeshInertia`]), convex hull for collision and other meshes' inertia.
//!
//! The hull is computed on first use ([`Mesh::hull`]) and kept: the model builder asks for it for
//! every mesh geom that can collide, the loaders when a body's inertia comes from its geoms.
//! A mesh only drawn (URDF `<visual>`, MJCF geoms with `contype = conaffinity = 0`) is never
//! hulled.

use crate::collision::ConvexHull;
use crate::error::Error;
use crate::math::Vec3;
use std::path::PathBuf;
use std::sync::OnceLock;

/// How a mesh's geom gets its mass and inertia (MuJoCo's `<mesh inertia>`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MeshInertia {
    /// The solid convex hull (kinegrad's default outside MJCF, MuJoCo's `convex`).
    #[default]
    Convex,
    /// The solid the triangles enclose, signed tetrahedra from the centroid (`exact`).
    Exact,
    /// As `Exact` but each tetrahedron's volume counted positive (`legacy`: MuJoCo's default
    /// for MJCF meshes; it overcounts non-star-shaped meshes, as MuJoCo does).
    Legacy,
    /// Mass on the surface (`shell`).
    Shell,
}

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
    /// How a geom of this mesh gets its inertia ([`MeshInertia`]).
    pub inertia: MeshInertia,
    /// Convex hull of `vertices` once computed, or why it cannot be.
    hull: OnceLock<Result<ConvexHull, String>>,
}

impl Mesh {
    /// A mesh asset from its (scaled) vertices and triangles; the hull is computed on demand.
    pub fn new(
        name: impl Into<String>,
        file: Option<PathBuf>,
        vertices: Vec<Vec3>,
        faces: Vec<[u32; 3]>,
    ) -> Mesh {
        Mesh {
            name: name.into(),
            file,
            vertices,
            faces,
            inertia: MeshInertia::Convex,
            hull: OnceLock::new(),
        }
    }

    /// Convex hull of the vertices, used for collision and for inertia from geometry; computed
    /// on the first call (thread-safe) and kept. Errors name the mesh and its file.
    pub fn hull(&self) -> Result<&ConvexHull, Error> {
        let r = self.hull.get_or_init(|| {
            ConvexHull::from_points(&self.vertices).map_err(|e| match e {
                Error::Invalid { message, .. } => message,
                e => e.to_string(),
            })
        });
        r.as_ref().map_err(|msg| match &self.file {
            Some(f) => Error::load(f, format!("mesh '{}': convex hull: {msg}", self.name)),
            None => Error::invalid(
                format!("mesh '{}'", self.name),
                format!("convex hull: {msg}"),
            ),
        })
    }

    /// The hull if it has been computed successfully, without computing it.
    pub fn hull_if_computed(&self) -> Option<&ConvexHull> {
        self.hull.get().and_then(|r| r.as_ref().ok())
    }
}
