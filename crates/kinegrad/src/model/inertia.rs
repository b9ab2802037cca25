//! Mass properties of geoms (inertia from geometry), shared by the loaders and
//! the primitive entities, plus the one place where mesh files are turned into
//! [`Mesh`] assets.
//!
//! Primitive formulas follow MuJoCo's `mjCGeom` (solid bodies of uniform
//! density; a capsule is a cylinder plus two hemispheres).

use super::{BodySpec, EntitySpec, GeomType, JointType, Mesh};
use crate::collision::ConvexHull;
use crate::error::{Error, Result};
use crate::math::{Mat3, Quat, Vec3};
use std::f64::consts::PI;
use std::path::Path;

/// Mass, centre of mass and inertia about the centre of mass (all in one frame).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MassProps {
    /// Mass (kg).
    pub mass: f64,
    /// Centre of mass.
    pub com: Vec3,
    /// Inertia about `com` (kg m^2).
    pub inertia: Mat3,
}

impl MassProps {
    /// Zero mass at the origin.
    pub fn zero() -> Self {
        Self {
            mass: 0.0,
            com: Vec3::zeros(),
            inertia: Mat3::zeros(),
        }
    }

    /// The same body seen from a parent frame in which this frame sits at `pos` with orientation `quat`.
    pub fn transformed(&self, pos: &Vec3, quat: &Quat) -> Self {
        let r = quat.to_rotation_matrix().into_inner();
        Self {
            mass: self.mass,
            com: r * self.com + pos,
            inertia: r * self.inertia * r.transpose(),
        }
    }

    /// Combine two mass distributions given in the same frame (parallel-axis theorem).
    pub fn add(&self, o: &MassProps) -> Self {
        let m = self.mass + o.mass;
        if m <= 0.0 {
            return Self {
                mass: m,
                com: self.com,
                inertia: self.inertia + o.inertia,
            };
        }
        let com = (self.com * self.mass + o.com * o.mass) / m;
        let shift = |mp: &MassProps| {
            let d = mp.com - com;
            mp.inertia + (Mat3::identity() * d.norm_squared() - d * d.transpose()) * mp.mass
        };
        Self {
            mass: m,
            com,
            inertia: shift(self) + shift(o),
        }
    }
}

/// Volume of a primitive (MuJoCo size conventions). Planes have no volume.
pub fn primitive_volume(kind: GeomType, size: &Vec3) -> f64 {
    match kind {
        GeomType::Sphere => 4.0 / 3.0 * PI * size.x.powi(3),
        GeomType::Capsule => PI * size.x * size.x * (2.0 * size.y + 4.0 / 3.0 * size.x),
        GeomType::Cylinder => PI * size.x * size.x * 2.0 * size.y,
        GeomType::Box => 8.0 * size.x * size.y * size.z,
        GeomType::Plane | GeomType::Mesh => 0.0,
    }
}

/// Mass properties of a solid primitive of uniform `density`, in the geom frame (com at the origin).
pub fn primitive_mass_props(kind: GeomType, size: &Vec3, density: f64) -> MassProps {
    let mass = density * primitive_volume(kind, size);
    let d = match kind {
        GeomType::Sphere => Vec3::repeat(0.4 * mass * size.x * size.x),
        GeomType::Capsule => {
            let (r, h) = (size.x, 2.0 * size.y);
            let ms = density * 4.0 / 3.0 * PI * r.powi(3);
            let mc = density * PI * r * r * h;
            let ixy = mc * (3.0 * r * r + h * h) / 12.0
                + ms * (0.4 * r * r + h * h / 4.0 + 3.0 * h * r / 8.0);
            Vec3::new(ixy, ixy, mc * r * r / 2.0 + ms * 0.4 * r * r)
        }
        GeomType::Cylinder => {
            let (r, h) = (size.x, 2.0 * size.y);
            let ixy = mass * (3.0 * r * r + h * h) / 12.0;
            Vec3::new(ixy, ixy, mass * r * r / 2.0)
        }
        GeomType::Box => {
            let s = size.component_mul(size);
            Vec3::new(s.y + s.z, s.x + s.z, s.x + s.y) * (mass / 3.0)
        }
        GeomType::Plane | GeomType::Mesh => Vec3::zeros(),
    };
    MassProps {
        mass,
        com: Vec3::zeros(),
        inertia: Mat3::from_diagonal(&d),
    }
}

/// Mass properties of a solid ellipsoid with semi-axes `size` (MuJoCo `ellipsoid`; no geom type in kinegrad).
pub fn ellipsoid_mass_props(size: &Vec3, density: f64) -> MassProps {
    let mass = density * 4.0 / 3.0 * PI * size.x * size.y * size.z;
    let s = size.component_mul(size);
    let d = Vec3::new(s.y + s.z, s.x + s.z, s.x + s.y) * (mass / 5.0);
    MassProps {
        mass,
        com: Vec3::zeros(),
        inertia: Mat3::from_diagonal(&d),
    }
}

/// Mass properties of a mesh geom's convex hull at `density`, in the mesh frame.
///
/// `scale` is the global length scale already baked into the mesh's vertices;
/// the result is expressed in *unscaled* units (the loaders scale lengths at
/// the end, keeping masses), so that mass does not grow with `scale^3`.
pub fn mesh_mass_props(mesh: &Mesh, density: f64, scale: f64) -> MassProps {
    let mp = hull_mass_props(&mesh.hull, density);
    let s3 = scale.powi(3);
    MassProps {
        mass: mp.mass / s3,
        com: mp.com / scale,
        inertia: mp.inertia / (s3 * scale * scale),
    }
}

/// Mass properties of a closed triangle surface of uniform density (divergence theorem over tetrahedra).
fn closed_surface_mass_props(vertices: &[Vec3], faces: &[[u32; 3]], density: f64) -> MassProps {
    let mut vol = 0.0;
    let mut first = Vec3::zeros();
    let mut second = Mat3::zeros();
    for f in faces {
        let (Some(a), Some(b), Some(c)) = (
            vertices.get(f[0] as usize),
            vertices.get(f[1] as usize),
            vertices.get(f[2] as usize),
        ) else {
            continue;
        };
        let det = a.dot(&b.cross(c));
        vol += det / 6.0;
        let s = a + b + c;
        first += s * (det / 24.0);
        second += (a * a.transpose() + b * b.transpose() + c * c.transpose() + s * s.transpose())
            * (det / 120.0);
    }
    if vol < 0.0 {
        // inward-facing triangles: flip
        vol = -vol;
        first = -first;
        second = -second;
    }
    if vol <= 0.0 {
        return MassProps::zero();
    }
    let com = first / vol;
    let inertia_o = Mat3::identity() * second.trace() - second;
    let shift = Mat3::identity() * com.norm_squared() - com * com.transpose();
    MassProps {
        mass: density * vol,
        com,
        inertia: (inertia_o - shift * vol) * density,
    }
}

// ---------------------------------------------------------------------------
// Mesh assets. Everything below until the end marker is a temporary stand-in:
// replaced at merge by mesh_io + ConvexHull::from_points
// (`load_mesh_asset` -> `mesh_io::load_mesh` + `ConvexHull::from_points`,
//  `hull_mass_props` -> `ConvexHull::mass_properties`).
// ---------------------------------------------------------------------------

/// Load a mesh file (OBJ or STL) as a [`Mesh`] asset named `name`, vertices multiplied by `scale`.
pub fn load_mesh_asset(path: &Path, scale: Vec3, name: &str) -> Result<Mesh> {
    let (vertices, faces) = standin::read_mesh(path)?;
    let vertices: Vec<Vec3> = vertices.iter().map(|v| v.component_mul(&scale)).collect();
    if vertices.len() < 4 {
        return Err(Error::load(
            path,
            format!(
                "mesh '{name}' has {} vertices, at least 4 are needed",
                vertices.len()
            ),
        ));
    }
    // crude stand-in hull: all vertices, original triangles
    let hull = ConvexHull {
        vertices: vertices.clone(),
        faces: faces.clone(),
    };
    Ok(Mesh {
        name: name.to_string(),
        file: Some(path.to_path_buf()),
        vertices,
        faces,
        hull,
    })
}

/// Mass properties of a convex hull at `density` (hull frame).
fn hull_mass_props(hull: &ConvexHull, density: f64) -> MassProps {
    closed_surface_mass_props(&hull.vertices, &hull.faces, density)
}

mod standin {
    use crate::error::{Error, Result};
    use crate::math::Vec3;
    use std::path::Path;

    pub fn read_mesh(path: &Path) -> Result<(Vec<Vec3>, Vec<[u32; 3]>)> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::load(path, format!("cannot read mesh: {e}")))?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match ext.as_str() {
            "obj" => read_obj(path, &String::from_utf8_lossy(&bytes)),
            "stl" => read_stl(path, &bytes),
            _ => Err(Error::load(
                path,
                format!("unsupported mesh format '.{ext}' (obj and stl are read)"),
            )),
        }
    }

    fn read_obj(path: &Path, text: &str) -> Result<(Vec<Vec3>, Vec<[u32; 3]>)> {
        let mut v = Vec::new();
        let mut f = Vec::new();
        for (ln, line) in text.lines().enumerate() {
            let mut it = line.split_whitespace();
            match it.next() {
                Some("v") => {
                    let c: Vec<f64> = it.take(3).filter_map(|s| s.parse().ok()).collect();
                    if c.len() != 3 {
                        return Err(Error::load(path, format!("line {}: bad vertex", ln + 1)));
                    }
                    v.push(Vec3::new(c[0], c[1], c[2]));
                }
                Some("f") => {
                    let mut idx = Vec::new();
                    for tok in it {
                        let first = tok.split('/').next().unwrap_or("");
                        let i: i64 = first.parse().map_err(|_| {
                            Error::load(path, format!("line {}: bad face index '{tok}'", ln + 1))
                        })?;
                        let i = if i < 0 { v.len() as i64 + i } else { i - 1 };
                        if i < 0 || i as usize >= v.len() {
                            return Err(Error::load(
                                path,
                                format!("line {}: face index out of range", ln + 1),
                            ));
                        }
                        idx.push(i as u32);
                    }
                    for k in 2..idx.len() {
                        f.push([idx[0], idx[k - 1], idx[k]]);
                    }
                }
                _ => {}
            }
        }
        Ok((v, f))
    }

    fn read_stl(path: &Path, b: &[u8]) -> Result<(Vec<Vec3>, Vec<[u32; 3]>)> {
        let is_binary = b.len() >= 84 && {
            let n = u32::from_le_bytes([b[80], b[81], b[82], b[83]]) as usize;
            b.len() == 84 + 50 * n
        };
        let mut v = Vec::new();
        let mut f = Vec::new();
        if is_binary {
            let n = (b.len() - 84) / 50;
            for t in 0..n {
                let base = 84 + 50 * t + 12;
                let mut tri = [0u32; 3];
                for (k, slot) in tri.iter_mut().enumerate() {
                    let o = base + 12 * k;
                    let r = |i: usize| {
                        f32::from_le_bytes([b[o + i], b[o + i + 1], b[o + i + 2], b[o + i + 3]])
                            as f64
                    };
                    v.push(Vec3::new(r(0), r(4), r(8)));
                    *slot = (v.len() - 1) as u32;
                }
                f.push(tri);
            }
        } else {
            let text = String::from_utf8_lossy(b);
            let mut cur = Vec::new();
            for line in text.lines() {
                let mut it = line.split_whitespace();
                if it.next() == Some("vertex") {
                    let c: Vec<f64> = it.take(3).filter_map(|s| s.parse().ok()).collect();
                    if c.len() != 3 {
                        return Err(Error::load(path, "bad ASCII STL vertex"));
                    }
                    v.push(Vec3::new(c[0], c[1], c[2]));
                    cur.push((v.len() - 1) as u32);
                    if cur.len() == 3 {
                        f.push([cur[0], cur[1], cur[2]]);
                        cur.clear();
                    }
                }
            }
        }
        Ok((v, f))
    }
}

// ---------------------------------------------------------------------------
// end of the stand-in
// ---------------------------------------------------------------------------

/// Multiply every length of an entity by `s` (masses stay, inertias scale by `s^2`).
/// Meshes are not touched: the loaders bake `s` into mesh vertices when reading them.
pub fn apply_scale(spec: &mut EntitySpec, s: f64) {
    if s == 1.0 {
        return;
    }
    for b in &mut spec.bodies {
        scale_body(b, s);
    }
}

fn scale_body(b: &mut BodySpec, s: f64) {
    b.pos *= s;
    b.ipos *= s;
    b.inertia *= s * s;
    for j in &mut b.joints {
        j.pos *= s;
        j.margin *= s;
        if j.kind == JointType::Slide {
            if let Some(r) = &mut j.range {
                r[0] *= s;
                r[1] *= s;
            }
            j.reference *= s;
            j.springref *= s;
        }
    }
    for g in &mut b.geoms {
        g.pos *= s;
        g.margin *= s;
        if g.kind != GeomType::Mesh {
            g.size *= s;
        }
    }
}

/// A tiny inertia for placeholder masses: a solid sphere of radius 1 cm.
pub fn small_inertia(mass: f64) -> Mat3 {
    Mat3::identity() * (0.4 * mass * 1e-4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_surface_matches_primitive() {
        let v: Vec<Vec3> = (0..8)
            .map(|i| {
                Vec3::new(
                    if i & 1 == 0 { -1.0 } else { 1.0 },
                    if i & 2 == 0 { -2.0 } else { 2.0 },
                    if i & 4 == 0 { -3.0 } else { 3.0 },
                )
            })
            .collect();
        let f = [
            [0, 2, 1],
            [1, 2, 3],
            [4, 5, 6],
            [5, 7, 6],
            [0, 1, 4],
            [1, 5, 4],
            [2, 6, 3],
            [3, 6, 7],
            [0, 4, 2],
            [2, 4, 6],
            [1, 3, 5],
            [3, 7, 5],
        ];
        let a = closed_surface_mass_props(&v, &f, 2.0);
        let b = primitive_mass_props(GeomType::Box, &Vec3::new(1.0, 2.0, 3.0), 2.0);
        assert!((a.mass - b.mass).abs() < 1e-9);
        assert!((a.inertia - b.inertia).norm() < 1e-9 * b.inertia.norm());
        assert!(a.com.norm() < 1e-12);
    }
}
