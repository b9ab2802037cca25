//! Mass properties of geoms (inertia from geometry), shared by the loaders and
//! the primitive entities, plus the one place where mesh files are turned into
//! [`Mesh`] assets.
//!
//! Primitive formulas follow MuJoCo's `mjCGeom` (solid bodies of uniform
//! density; a capsule is a cylinder plus two hemispheres).

use super::mesh::MeshInertia;
use super::{BodySpec, EntitySpec, GeomType, Mesh};
use crate::collision::ConvexHull;
use crate::error::Result;
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
        GeomType::Ellipsoid => 4.0 / 3.0 * PI * size.x * size.y * size.z,
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
        GeomType::Ellipsoid => {
            let s = size.component_mul(size);
            Vec3::new(s.y + s.z, s.x + s.z, s.x + s.y) * (mass / 5.0)
        }
        GeomType::Plane | GeomType::Mesh => Vec3::zeros(),
    };
    MassProps {
        mass,
        com: Vec3::zeros(),
        inertia: Mat3::from_diagonal(&d),
    }
}

/// Mass properties of a mesh geom's convex hull at `density`, in the mesh frame (the hull is
/// computed here if it was not yet). A mesh without a hull (collinear or coincident vertices)
/// has no mass; use [`Mesh::hull`] first to report why.
///
/// `scale` is the global length scale already baked into the mesh's vertices;
/// the result is expressed in *unscaled* units (the loaders scale lengths at
/// the end, keeping masses), so that mass does not grow with `scale^3`.
pub fn mesh_mass_props(mesh: &Mesh, density: f64, scale: f64) -> MassProps {
    let mp = match mesh.inertia {
        MeshInertia::Convex => {
            let Ok(hull) = mesh.hull() else {
                return MassProps::zero();
            };
            hull_mass_props(hull, density)
        }
        mode => triangle_mass_props(&mesh.vertices, &mesh.faces, mode, density),
    };
    let s3 = scale.powi(3);
    MassProps {
        mass: mp.mass / s3,
        com: mp.com / scale,
        inertia: mp.inertia / (s3 * scale * scale),
    }
}

/// Mass properties of the triangles `faces` of `vertices` as MuJoCo's compiler computes them
/// (`mjCMesh::ComputeVolume` and `ComputeInertia`) for `mode` `Exact`, `Legacy` or `Shell`:
/// the centre of mass from pyramids on each face with their apex at the faces' area-weighted
/// centroid (surface elements for a shell), then volume (area) and inertia from pyramids with
/// their apex at that centre; `Legacy` counts every pyramid's volume positive.
pub fn triangle_mass_props(
    vertices: &[Vec3],
    faces: &[[u32; 3]],
    mode: MeshInertia,
    density: f64,
) -> MassProps {
    let tri = |f: &[u32; 3]| {
        let (a, b, c) = (
            vertices[f[0] as usize],
            vertices[f[1] as usize],
            vertices[f[2] as usize],
        );
        let n = (b - a).cross(&(c - a));
        let len = n.norm();
        let area = if len < MINVAL { 0.0 } else { 0.5 * len };
        let normal = if len < MINVAL { n } else { n / len };
        (a, b, c, area, normal, (a + b + c) / 3.0)
    };
    let shell = mode == MeshInertia::Shell;
    // centroid of the faces
    let (mut facecen, mut total) = (Vec3::zeros(), 0.0);
    for f in faces {
        let (_, _, _, area, _, center) = tri(f);
        facecen += center * area;
        total += area;
    }
    if total >= MINVAL {
        facecen /= total;
    }
    // centre of mass
    let (mut com, mut total) = (Vec3::zeros(), 0.0);
    for f in faces {
        let (_, _, _, area, normal, center) = tri(f);
        let mut w = if shell {
            area
        } else {
            (center - facecen).dot(&normal) * area / 3.0
        };
        if mode == MeshInertia::Legacy {
            w = w.abs();
        }
        total += w;
        com += (center * 0.75 + facecen * 0.25) * w;
    }
    if total >= MINVAL {
        com /= total;
    }
    // products of inertia about the centre of mass
    let (mut p, mut size) = ([0.0f64; 6], 0.0);
    let k = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)];
    for f in faces {
        let (a, b, c, area, normal, center) = tri(f);
        let (d, e, g, cen) = (a - com, b - com, c - com, center - com);
        let mut w = if shell {
            area
        } else {
            cen.dot(&normal) * area / 3.0
        };
        if mode == MeshInertia::Legacy {
            w = w.abs();
        }
        size += w;
        let cdiv = if shell { 12.0 } else { 20.0 };
        for (j, &(r, s)) in k.iter().enumerate() {
            p[j] += w / cdiv
                * (2.0 * (d[r] * d[s] + e[r] * e[s] + g[r] * g[s])
                    + d[r] * e[s]
                    + d[s] * e[r]
                    + d[r] * g[s]
                    + d[s] * g[r]
                    + e[r] * g[s]
                    + e[s] * g[r]);
        }
    }
    if !(size >= MINVAL) {
        return MassProps::zero();
    }
    let i = Mat3::new(
        p[1] + p[2],
        -p[3],
        -p[4],
        -p[3],
        p[0] + p[2],
        -p[5],
        -p[4],
        -p[5],
        p[0] + p[1],
    );
    MassProps {
        mass: density * size,
        com,
        inertia: i * density,
    }
}

// ---------------------------------------------------------------------------
// Mesh assets
// ---------------------------------------------------------------------------

/// Load a mesh file (OBJ or STL) as a [`Mesh`] asset named `name`, vertices multiplied by
/// `scale`. Its convex hull (what collides and what gives the mesh its inertia) is computed
/// when first needed, so meshes that are only drawn are never hulled.
pub fn load_mesh_asset(path: &Path, scale: Vec3, name: &str) -> Result<Mesh> {
    let (vertices, faces) = crate::model::mesh_io::load_mesh(path, scale)?;
    Ok(Mesh::new(name, Some(path.to_path_buf()), vertices, faces))
}

/// [`load_mesh_asset`] for a file whose vertices are written in the frame `reference`
/// (MJCF's `<mesh refpos refquat>`): each vertex `v` becomes `scale * (q^-1 (v - p))`, as
/// MuJoCo reads it (the reference first, then the scale).
pub fn load_mesh_asset_in(
    path: &Path,
    reference: (Vec3, Quat),
    scale: Vec3,
    name: &str,
) -> Result<Mesh> {
    let (p, q) = reference;
    if p == Vec3::zeros() && q == Quat::identity() {
        return load_mesh_asset(path, scale, name);
    }
    let (mut vertices, faces) = crate::model::mesh_io::load_mesh(path, Vec3::repeat(1.0))?;
    let q_inv = q.inverse();
    for v in &mut vertices {
        *v = (q_inv * (*v - p)).component_mul(&scale);
    }
    Ok(Mesh::new(name, Some(path.to_path_buf()), vertices, faces))
}

/// Mass properties of a convex hull at `density` (hull frame).
fn hull_mass_props(hull: &ConvexHull, density: f64) -> MassProps {
    let (mass, com, inertia) = hull.mass_properties(density);
    MassProps { mass, com, inertia }
}

pub use crate::math::MINVAL;

/// Principal moments (ascending) of a rotational inertia, or why it is not one: it must be
/// finite, symmetric and positive semi-definite (within rounding: a moment below zero by less
/// than 1e-12 of the largest, or than `MINVAL`, is 0; iCub's `l_ankle_2`, written as moments of
/// 1e-20), as the parameter setters require.
pub fn principal_moments(i: &Mat3) -> std::result::Result<[f64; 3], String> {
    if !i.iter().all(|x| x.is_finite()) {
        return Err("inertia contains a non-finite value".into());
    }
    let scale = i.abs().max().max(1e-300);
    if (i - i.transpose()).abs().max() > 1e-9 * scale {
        return Err("inertia is not symmetric".into());
    }
    let mut e: Vec<f64> = i.symmetric_eigenvalues().iter().copied().collect();
    e.sort_by(f64::total_cmp);
    if e[0] < -(1e-12 * scale + MINVAL) {
        return Err(format!(
            "inertia is not positive semi-definite (principal moments {:.6e}, {:.6e}, {:.6e})",
            e[0], e[1], e[2]
        ));
    }
    Ok([e[0].max(0.0), e[1], e[2]])
}

/// MuJoCo's triangle inequality on principal moments `a <= b <= c`: `a + b >= c`, with its
/// tolerance `mjMINVAL` plus a few ulps of `c` for the eigen-decomposition's rounding.
pub fn check_triangle(m: &[f64; 3]) -> std::result::Result<(), String> {
    let tol = MINVAL + 4.0 * f64::EPSILON * m[2];
    if m[0] + m[1] < m[2] - tol {
        return Err(format!(
            "inertia must satisfy A + B >= C for its principal moments (got {:.6e} + {:.6e} < {:.6e})",
            m[0], m[1], m[2]
        ));
    }
    Ok(())
}

/// Multiply every length of an entity by `s` (masses stay, inertias scale by `s^2`).
/// Meshes are not touched: the loaders bake `s` into mesh vertices when reading them.
pub fn apply_scale(spec: &mut EntitySpec, s: f64) {
    if s == 1.0 {
        return;
    }
    for b in &mut spec.bodies {
        scale_body(b, s);
    }
    // keyframes: the length coordinates (slide joints, free joints' positions) and their rates
    let (mut qa, mut da) = (0, 0);
    for j in spec.bodies.iter().flat_map(|b| &b.joints) {
        let lengths = match j.kind {
            crate::joint::JointType::Slide => 1,
            crate::joint::JointType::Free => 3,
            _ => 0,
        };
        for k in &mut spec.keyframes {
            if let Some(q) = &mut k.qpos {
                q.iter_mut().skip(qa).take(lengths).for_each(|x| *x *= s);
            }
            if let Some(v) = &mut k.qvel {
                v.iter_mut().skip(da).take(lengths).for_each(|x| *x *= s);
            }
        }
        qa += j.kind.nq();
        da += j.kind.nv();
    }
}

fn scale_body(b: &mut BodySpec, s: f64) {
    b.pos *= s;
    b.ipos *= s;
    b.inertia *= s * s;
    for j in &mut b.joints {
        j.pos *= s;
        if j.kind.range_unit() == Some(crate::joint::RangeUnit::Length) {
            // a margin in metres (an angular joint's is an angle)
            j.margin *= s;
            if let Some(r) = &mut j.range {
                r[0] *= s;
                r[1] *= s;
            }
            j.reference *= s;
            j.springref *= s;
        }
    }
    for site in &mut b.sites {
        site.pos *= s;
    }
    for g in &mut b.geoms {
        g.pos *= s;
        g.margin *= s;
        g.gap *= s;
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
    fn box_hull_matches_primitive() {
        let v: Vec<Vec3> = (0..8)
            .map(|i| {
                Vec3::new(
                    if i & 1 == 0 { -1.0 } else { 1.0 },
                    if i & 2 == 0 { -2.0 } else { 2.0 },
                    if i & 4 == 0 { -3.0 } else { 3.0 },
                )
            })
            .collect();
        let a = hull_mass_props(&ConvexHull::from_points(&v).unwrap(), 2.0);
        let b = primitive_mass_props(GeomType::Box, &Vec3::new(1.0, 2.0, 3.0), 2.0);
        assert!((a.mass - b.mass).abs() < 1e-9);
        assert!((a.inertia - b.inertia).norm() < 1e-9 * b.inertia.norm());
        assert!(a.com.norm() < 1e-12);
    }

    /// A cube (`size` m) and a "mesh" whose vertices all lie on a line (no hull), as OBJ text.
    const CUBE: &str = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\n\
        f 1 3 2\nf 1 4 3\nf 5 6 7\nf 5 7 8\nf 1 2 6\nf 1 6 5\nf 2 3 7\nf 2 7 6\n\
        f 3 4 8\nf 3 8 7\nf 4 1 5\nf 4 5 8\n";
    const LINE: &str = "v 0 0 0\nv 1 0 0\nv 2 0 0\nv 3 0 0\nf 1 2 3\nf 1 3 4\n";

    fn model_of(urdf: bool, text: &str, dir: &Path) -> Result<crate::Model> {
        let (file, spec) = if urdf {
            let f = dir.join("robot.urdf");
            (f.clone(), crate::model::urdf::load_str(text, &f, 1.0)?)
        } else {
            let f = dir.join("robot.xml");
            (f.clone(), crate::model::mjcf::load_str(text, &f, 1.0)?)
        };
        let _ = file;
        let mut b = crate::ModelBuilder::new();
        b.add_entity(
            spec,
            crate::math::Pose::default(),
            crate::model::builder::BaseMode::AsIs,
        );
        b.build()
    }

    /// Issue 16 item 8: every mesh was hulled when loaded, drawn-only ones too. Now a mesh is
    /// hulled when a geom that can collide uses it (or inertia comes from it): a URDF
    /// `<visual>` mesh and an MJCF geom with contype = conaffinity = 0 are never hulled, and a
    /// mesh with no hull is fine as a visual but an error naming its file as a collision mesh.
    #[test]
    fn visual_only_meshes_are_not_hulled() {
        let dir = std::env::temp_dir().join(format!("kinegrad_hull_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in [("vis.obj", CUBE), ("col.obj", CUBE), ("line.obj", LINE)] {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let urdf = |visual: &str, collision: &str| {
            format!(
                r#"<robot name="r"><link name="base">
                  <inertial><mass value="1"/><inertia ixx="1" iyy="1" izz="1" ixy="0" ixz="0" iyz="0"/></inertial>
                  <visual><geometry><mesh filename="{visual}"/></geometry></visual>
                  <collision><geometry><mesh filename="{collision}"/></geometry></collision>
                </link></robot>"#
            )
        };
        let m = model_of(true, &urdf("vis.obj", "col.obj"), &dir).unwrap();
        let hulled = |m: &crate::Model, stem: &str| {
            let k = m.meshes.iter().position(|x| x.name == stem).unwrap();
            m.meshes[k].hull_if_computed().is_some()
        };
        assert!(!hulled(&m, "vis"), "URDF visual mesh hulled");
        assert!(hulled(&m, "col"), "URDF collision mesh not hulled");
        // a line is a fine visual, and an error naming the file as a collision mesh
        let m = model_of(true, &urdf("line.obj", "col.obj"), &dir).unwrap();
        assert!(!hulled(&m, "line"));
        let e = model_of(true, &urdf("vis.obj", "line.obj"), &dir)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line.obj") && e.contains("collinear"), "{e}");

        let mjcf = r#"<mujoco><asset><mesh name="vis" file="vis.obj"/><mesh name="col" file="col.obj"/></asset>
            <worldbody><body name="b"><freejoint/><inertial pos="0 0 0" mass="1" diaginertia="1 1 1"/>
              <geom type="mesh" mesh="vis" contype="0" conaffinity="0" group="1"/>
              <geom type="mesh" mesh="col"/>
            </body></worldbody></mujoco>"#;
        let m = model_of(false, mjcf, &dir).unwrap();
        assert!(!hulled(&m, "vis"), "MJCF visual-only mesh hulled");
        assert!(hulled(&m, "col"), "MJCF colliding mesh not hulled");
        // inertia from a drawn-only geom's mesh counts (as MuJoCo counts its mass), from its
        // triangles (MuJoCo's legacy mesh inertia), without a hull: two unit cubes of 1000
        let m = model_of(
            false,
            &mjcf.replace(
                r#"<inertial pos="0 0 0" mass="1" diaginertia="1 1 1"/>"#,
                "",
            ),
            &dir,
        )
        .unwrap();
        assert!(!hulled(&m, "vis"));
        let b = m.body_name.iter().position(|n| n == "b").unwrap();
        assert!(
            (m.params0.body_mass[b] - 2000.0).abs() < 1e-9,
            "{}",
            m.params0.body_mass[b]
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
