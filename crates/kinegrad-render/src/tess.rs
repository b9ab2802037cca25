//! Triangle meshes for drawing: primitives tessellated in their geom frame (MuJoCo size
//! conventions), and file meshes with per-corner normals smoothed within a crease angle.

use kinegrad::math::Vec3;
use std::collections::{HashMap, HashSet};
use std::f64::consts::PI;

/// An indexed triangle mesh with one normal per vertex, in the geom frame (f32: drawing only).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TriMesh {
    /// Vertex positions (m).
    pub pos: Vec<[f32; 3]>,
    /// Unit vertex normals.
    pub nrm: Vec<[f32; 3]>,
    /// Triangles (vertex indices), counter-clockwise seen from outside.
    pub tri: Vec<[u32; 3]>,
    /// Consistently oriented with outward normals: the rasterizer skips its back faces
    /// (primitives always; file meshes when [`TriMesh::from_mesh`] finds them so).
    pub closed: bool,
}

/// Segments around the axis of spheres, capsules and cylinders.
pub const ROUND_SEGMENTS: usize = 48;
/// Crease angle (degrees) below which adjacent mesh faces share a smoothed normal.
pub const CREASE_DEG: f64 = 40.0;

fn f3(v: &Vec3) -> [f32; 3] {
    [v.x as f32, v.y as f32, v.z as f32]
}

impl TriMesh {
    fn push_vertex(&mut self, p: Vec3, n: Vec3) -> u32 {
        self.pos.push(f3(&p));
        self.nrm.push(f3(&n.normalize()));
        (self.pos.len() - 1) as u32
    }

    /// Centre and radius of a sphere containing every vertex (centre of the bounding box).
    pub fn bounding_sphere(&self) -> (Vec3, f64) {
        if self.pos.is_empty() {
            return (Vec3::zeros(), 0.0);
        }
        let mut lo = Vec3::repeat(f64::INFINITY);
        let mut hi = Vec3::repeat(f64::NEG_INFINITY);
        for p in &self.pos {
            let v = Vec3::new(p[0] as f64, p[1] as f64, p[2] as f64);
            lo = lo.inf(&v);
            hi = hi.sup(&v);
        }
        let c = 0.5 * (lo + hi);
        let r = self
            .pos
            .iter()
            .map(|p| (Vec3::new(p[0] as f64, p[1] as f64, p[2] as f64) - c).norm())
            .fold(0.0, f64::max);
        (c, r)
    }

    /// Surface of revolution about local z. Each strip is a polyline of profile points
    /// (radius, z, normal radial component, normal z component); consecutive points of a strip
    /// are joined by a band of quads. A point of radius 0 is a pole (one vertex, a fan).
    fn lathe(strips: &[Vec<[f64; 4]>], nseg: usize) -> TriMesh {
        let mut m = TriMesh::default();
        for strip in strips {
            // ring vertex indices of each profile point (a single index for poles)
            let rings: Vec<Vec<u32>> = strip
                .iter()
                .map(|&[r, z, nr, nz]| {
                    let count = if r == 0.0 { 1 } else { nseg };
                    (0..count)
                        .map(|k| {
                            let a = 2.0 * PI * k as f64 / nseg as f64;
                            let (s, c) = a.sin_cos();
                            m.push_vertex(Vec3::new(r * c, r * s, z), Vec3::new(nr * c, nr * s, nz))
                        })
                        .collect()
                })
                .collect();
            for w in rings.windows(2) {
                let (a, b) = (&w[0], &w[1]);
                for k in 0..nseg {
                    let k1 = (k + 1) % nseg;
                    let pa = |i: usize| a[if a.len() == 1 { 0 } else { i }];
                    let pb = |i: usize| b[if b.len() == 1 { 0 } else { i }];
                    // counter-clockwise seen from outside for profiles that go from +z to -z
                    if a.len() > 1 {
                        m.tri.push([pa(k), pb(k), pa(k1)]);
                    }
                    if b.len() > 1 {
                        m.tri.push([pa(k1), pb(k), pb(k1)]);
                    }
                }
            }
        }
        m
    }

    /// Sphere of radius `r` about the origin.
    pub fn sphere(r: f64) -> TriMesh {
        Self::capsule(r, 0.0)
    }

    /// Ellipsoid with semi-axes `semi`: the unit sphere scaled per axis (normals by the
    /// inverse scale, renormalized).
    pub fn ellipsoid(semi: &Vec3) -> TriMesh {
        let mut m = Self::sphere(1.0);
        for (p, n) in m.pos.iter_mut().zip(m.nrm.iter_mut()) {
            let mut q = Vec3::zeros();
            for k in 0..3 {
                p[k] = (p[k] as f64 * semi[k]) as f32;
                q[k] = n[k] as f64 / semi[k];
            }
            let q = q.normalize();
            *n = [q.x as f32, q.y as f32, q.z as f32];
        }
        m
    }

    /// Capsule: radius `r`, segment from z = -h to z = +h.
    pub fn capsule(r: f64, h: f64) -> TriMesh {
        let nlat = ROUND_SEGMENTS / 4; // rings per hemisphere
        let mut strip = Vec::new();
        for i in 0..=nlat {
            let t = 0.5 * PI * (1.0 - i as f64 / nlat as f64); // pi/2 .. 0
            strip.push([r * t.cos(), h + r * t.sin(), t.cos(), t.sin()]);
        }
        for i in 0..=nlat {
            let t = -0.5 * PI * i as f64 / nlat as f64; // 0 .. -pi/2
            if h == 0.0 && i == 0 {
                continue; // sphere: the equator ring is already there
            }
            strip.push([r * t.cos(), -h + r * t.sin(), t.cos(), t.sin()]);
        }
        // the poles have radius r cos(pi/2) ~ 1e-17: make them exact poles
        strip.first_mut().unwrap()[0] = 0.0;
        strip.last_mut().unwrap()[0] = 0.0;
        let mut m = Self::lathe(&[strip], ROUND_SEGMENTS);
        m.closed = true;
        m
    }

    /// Cylinder: radius `r`, from z = -h to z = +h, with flat caps.
    pub fn cylinder(r: f64, h: f64) -> TriMesh {
        let mut m = Self::lathe(
            &[
                vec![[0.0, h, 0.0, 1.0], [r, h, 0.0, 1.0]],
                vec![[r, h, 1.0, 0.0], [r, -h, 1.0, 0.0]],
                vec![[r, -h, 0.0, -1.0], [0.0, -h, 0.0, -1.0]],
            ],
            ROUND_SEGMENTS,
        );
        m.closed = true;
        m
    }

    /// Box with half extents `e`, flat-shaded.
    pub fn cuboid(e: &Vec3) -> TriMesh {
        let mut m = TriMesh::default();
        for axis in 0..3 {
            for sign in [1.0, -1.0] {
                let mut n = Vec3::zeros();
                n[axis] = sign;
                // two tangent axes forming a right-handed frame with n
                let (u, v) = ((axis + 1) % 3, (axis + 2) % 3);
                let corner = |a: f64, b: f64| {
                    let mut p = Vec3::zeros();
                    p[axis] = sign * e[axis];
                    p[u] = a * e[u];
                    p[v] = b * e[v];
                    p
                };
                let i0 = m.push_vertex(corner(-1.0, -1.0), n);
                let i1 = m.push_vertex(corner(1.0, -1.0), n);
                let i2 = m.push_vertex(corner(1.0, 1.0), n);
                let i3 = m.push_vertex(corner(-1.0, 1.0), n);
                if sign > 0.0 {
                    m.tri.push([i0, i1, i2]);
                    m.tri.push([i0, i2, i3]);
                } else {
                    m.tri.push([i0, i2, i1]);
                    m.tri.push([i0, i3, i2]);
                }
            }
        }
        m.closed = true;
        m
    }

    /// Square in the local xy plane, normal +z, half extent `half`, centred at (cx, cy).
    pub fn quad(cx: f64, cy: f64, half: [f64; 2]) -> TriMesh {
        let mut m = TriMesh::default();
        let n = Vec3::z();
        let c = |a: f64, b: f64| Vec3::new(cx + a * half[0], cy + b * half[1], 0.0);
        let i0 = m.push_vertex(c(-1.0, -1.0), n);
        let i1 = m.push_vertex(c(1.0, -1.0), n);
        let i2 = m.push_vertex(c(1.0, 1.0), n);
        let i3 = m.push_vertex(c(-1.0, 1.0), n);
        m.tri.push([i0, i1, i2]);
        m.tri.push([i0, i2, i3]);
        m
    }

    /// A file mesh: each triangle corner gets the area-weighted mean normal of the faces around
    /// its vertex whose normals lie within [`CREASE_DEG`] of the corner's own face, so curved
    /// surfaces look smooth and sharp edges stay sharp. Degenerate faces are dropped.
    pub fn from_mesh(vertices: &[Vec3], faces: &[[u32; 3]]) -> TriMesh {
        let nv = vertices.len();
        let faces: Vec<[u32; 3]> = faces
            .iter()
            .copied()
            .filter(|f| f.iter().all(|&i| (i as usize) < nv))
            .collect();
        // area-weighted face normals (cross product = 2 area n)
        let fnrm: Vec<Vec3> = faces
            .iter()
            .map(|f| {
                let [a, b, c] = f.map(|i| vertices[i as usize]);
                (b - a).cross(&(c - a))
            })
            .collect();
        // vertex -> faces (CSR)
        let mut start = vec![0usize; nv + 1];
        for f in &faces {
            for &i in f {
                start[i as usize + 1] += 1;
            }
        }
        for i in 0..nv {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut adj = vec![0usize; start[nv]];
        for (k, f) in faces.iter().enumerate() {
            for &i in f {
                adj[fill[i as usize]] = k;
                fill[i as usize] += 1;
            }
        }
        let cos_crease = CREASE_DEG.to_radians().cos();
        let mut m = TriMesh::default();
        let mut index: HashMap<(u32, [i16; 3]), u32> = HashMap::new();
        for (k, f) in faces.iter().enumerate() {
            let nf = fnrm[k];
            let len = nf.norm();
            if !(len > 1e-20) {
                continue;
            }
            let uf = nf / len;
            let mut out = [0u32; 3];
            for (c, &vi) in f.iter().enumerate() {
                let mut n = Vec3::zeros();
                for &g in &adj[start[vi as usize]..start[vi as usize + 1]] {
                    let ng = fnrm[g];
                    let lg = ng.norm();
                    if lg > 1e-20 && ng.dot(&uf) >= cos_crease * lg {
                        n += ng;
                    }
                }
                let n = n.try_normalize(1e-30).unwrap_or(uf);
                let key = (vi, [0, 1, 2].map(|j| (n[j] * 1000.0).round() as i16));
                out[c] = *index
                    .entry(key)
                    .or_insert_with(|| m.push_vertex(vertices[vi as usize], n));
            }
            m.tri.push(out);
        }
        m.closed = is_oriented_outward(vertices, &faces);
        m
    }
}

/// Whether back faces of a file mesh can be skipped: no edge is traversed twice in the same
/// direction (consistent winding; vertices at identical positions are welded first, OBJ files
/// repeat them), and the volume swept from the centroid of the face corners is positive (the winding points
/// outwards). Meshes split into parts by material (each part open along the seams) qualify, as in
/// OpenGL renderers that cull back faces; flat sheets (zero volume) and inconsistent or inverted
/// meshes are drawn two-sided.
fn is_oriented_outward(vertices: &[Vec3], faces: &[[u32; 3]]) -> bool {
    if faces.is_empty() {
        return false;
    }
    let mut weld: HashMap<[u64; 3], u32> = HashMap::with_capacity(vertices.len());
    let id: Vec<u32> = vertices
        .iter()
        .map(|v| {
            let n = weld.len() as u32;
            *weld
                .entry([v.x, v.y, v.z].map(|x| (x + 0.0).to_bits()))
                .or_insert(n)
        })
        .collect();
    let mut directed: HashSet<(u32, u32)> = HashSet::with_capacity(3 * faces.len());
    let centroid = faces
        .iter()
        .flat_map(|f| f.iter().map(|&i| vertices[i as usize]))
        .sum::<Vec3>()
        / (3 * faces.len()) as f64;
    let (mut volume, mut scale) = (0.0, 0.0);
    for f in faces {
        let w = f.map(|i| id[i as usize]);
        if w[0] == w[1] || w[1] == w[2] || w[2] == w[0] {
            continue; // degenerate, never drawn
        }
        for k in 0..3 {
            if !directed.insert((w[k], w[(k + 1) % 3])) {
                return false;
            }
        }
        let [a, b, c] = f.map(|i| vertices[i as usize] - centroid);
        let v = a.dot(&b.cross(&c));
        volume += v;
        scale += v.abs();
    }
    volume > 1e-6 * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_closed_outward(m: &TriMesh, centre: Vec3) {
        // every triangle faces away from the centre and normals point outwards
        for t in &m.tri {
            let p = t.map(|i| {
                let v = m.pos[i as usize];
                Vec3::new(v[0] as f64, v[1] as f64, v[2] as f64)
            });
            let n = (p[1] - p[0]).cross(&(p[2] - p[0]));
            let mid = (p[0] + p[1] + p[2]) / 3.0 - centre;
            assert!(n.dot(&mid) > 0.0, "inward triangle {t:?}");
            for &i in t {
                let vn = m.nrm[i as usize];
                let vn = Vec3::new(vn[0] as f64, vn[1] as f64, vn[2] as f64);
                assert!((vn.norm() - 1.0).abs() < 1e-5);
                assert!(vn.dot(&mid) > -1e-9);
            }
        }
    }

    fn volume(m: &TriMesh) -> f64 {
        m.tri
            .iter()
            .map(|t| {
                let p = t.map(|i| {
                    let v = m.pos[i as usize];
                    Vec3::new(v[0] as f64, v[1] as f64, v[2] as f64)
                });
                p[0].dot(&p[1].cross(&p[2])) / 6.0
            })
            .sum()
    }

    #[test]
    fn primitives_are_closed_and_outward() {
        let s = TriMesh::sphere(0.5);
        check_closed_outward(&s, Vec3::zeros());
        let v = 4.0 / 3.0 * PI * 0.125;
        assert!((volume(&s) - v).abs() < 0.01 * v);
        let c = TriMesh::capsule(0.2, 0.3);
        check_closed_outward(&c, Vec3::zeros());
        let vc = PI * 0.04 * 0.6 + 4.0 / 3.0 * PI * 0.008;
        assert!((volume(&c) - vc).abs() < 0.01 * vc);
        let y = TriMesh::cylinder(0.2, 0.3);
        check_closed_outward(&y, Vec3::zeros());
        let vy = PI * 0.04 * 0.6;
        assert!((volume(&y) - vy).abs() < 0.01 * vy);
        assert!(s.closed && c.closed && y.closed && !TriMesh::quad(0.0, 0.0, [1.0, 1.0]).closed);
        let b = TriMesh::cuboid(&Vec3::new(0.1, 0.2, 0.3));
        check_closed_outward(&b, Vec3::zeros());
        assert!((volume(&b) - 0.048).abs() < 1e-6);
        assert_eq!(b.tri.len(), 12);
        let (c0, r) = b.bounding_sphere();
        assert!(c0.norm() < 1e-6 && (r - (0.14f64).sqrt()).abs() < 1e-6);
    }

    #[test]
    fn mesh_normals_keep_creases() {
        // a unit cube as 8 shared vertices: creases of 90 degrees must stay flat-shaded
        let v: Vec<Vec3> = (0..8)
            .map(|i| Vec3::new((i & 1) as f64, ((i >> 1) & 1) as f64, ((i >> 2) & 1) as f64))
            .collect();
        let f = vec![
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
        let m = TriMesh::from_mesh(&v, &f);
        assert!(m.closed);
        let inverted: Vec<[u32; 3]> = f.iter().map(|t| [t[0], t[2], t[1]]).collect();
        assert!(!TriMesh::from_mesh(&v, &inverted).closed);
        assert!(TriMesh::from_mesh(&v, &f[2..]).closed); // open but consistent and outward
        let mut flipped_one = f.clone();
        flipped_one[5] = [f[5][0], f[5][2], f[5][1]];
        assert!(!TriMesh::from_mesh(&v, &flipped_one).closed);
        assert!(!TriMesh::from_mesh(&v, &f[..2]).closed); // a flat square: two-sided
        assert_eq!(m.tri.len(), 12);
        assert_eq!(m.pos.len(), 24); // each corner vertex split into its 3 face normals
        check_closed_outward(&m, Vec3::repeat(0.5));
        for n in &m.nrm {
            let big = n.iter().filter(|x| x.abs() > 0.999).count();
            assert_eq!(big, 1, "normal {n:?} is not axis aligned");
        }
        // degenerate faces and bad indices are dropped
        let m2 = TriMesh::from_mesh(&v, &[[0, 1, 1], [0, 1, 99], [0, 2, 1]]);
        assert_eq!(m2.tri.len(), 1);
    }

    #[test]
    fn smooth_mesh_gets_shared_normals() {
        // an octahedron-ish fine sphere made from the UV sphere's positions without normals
        let s = TriMesh::sphere(1.0);
        let v: Vec<Vec3> = s
            .pos
            .iter()
            .map(|p| Vec3::new(p[0] as f64, p[1] as f64, p[2] as f64))
            .collect();
        let m = TriMesh::from_mesh(&v, &s.tri);
        // normals close to the radial direction everywhere
        for (p, n) in m.pos.iter().zip(&m.nrm) {
            let d = Vec3::new(p[0] as f64, p[1] as f64, p[2] as f64).normalize();
            let n = Vec3::new(n[0] as f64, n[1] as f64, n[2] as f64);
            assert!(d.dot(&n) > 0.99);
        }
    }
}
