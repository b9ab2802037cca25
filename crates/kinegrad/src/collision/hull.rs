//! Convex hulls: 3-D quickhull, exact mass properties, support mapping (hill climbing).

use crate::math::{Mat3, Vec3};
use crate::Error;
use std::collections::HashSet;

/// Convex hull of a point set: vertices and outward-facing triangles.
#[derive(Clone, Debug, Default)]
pub struct ConvexHull {
    /// Hull vertices (mesh frame, m).
    pub vertices: Vec<Vec3>,
    /// Triangles (indices into `vertices`), counter-clockwise seen from outside.
    pub faces: Vec<[u32; 3]>,
    /// Unit outward normal of each face.
    pub normals: Vec<Vec3>,
    /// Vertex adjacency (hull edges), used by [`ConvexHull::support`] for hill climbing.
    pub neighbors: Vec<Vec<u32>>,
}

struct QFace {
    v: [usize; 3],
    n: Vec3,
    off: f64,
    outside: Vec<usize>,
    alive: bool,
}

fn qface(p: &[Vec3], a: usize, b: usize, c: usize) -> QFace {
    let n = (p[b] - p[a]).cross(&(p[c] - p[a]));
    let n = n / n.norm().max(1e-300);
    QFace {
        v: [a, b, c],
        n,
        off: n.dot(&p[a]),
        outside: Vec::new(),
        alive: true,
    }
}

impl ConvexHull {
    /// Quickhull of `points`. Errors (`Error::invalid`) for fewer than 4 points, non-finite
    /// coordinates, or collinear points. Coplanar (flat) point sets are inflated: every point
    /// is duplicated at `+-1e-6 x extent` along the plane normal, giving a thin slab.
    pub fn from_points(points: &[Vec3]) -> Result<ConvexHull, Error> {
        if points.len() < 4 {
            return Err(Error::invalid(
                "convex hull",
                format!("needs at least 4 points, got {}", points.len()),
            ));
        }
        if points.iter().any(|p| !p.iter().all(|x| x.is_finite())) {
            return Err(Error::invalid(
                "convex hull",
                "non-finite point coordinates",
            ));
        }
        let mut lo = points[0];
        let mut hi = points[0];
        for p in points {
            lo = lo.inf(p);
            hi = hi.sup(p);
        }
        let extent = (hi - lo).norm();
        if extent <= 0.0 {
            return Err(Error::invalid("convex hull", "all points coincide"));
        }
        let eps = 1e-10 * extent;
        // Initial simplex: extreme points along the axes, farthest pair.
        let mut ext = [0usize; 6];
        for (i, p) in points.iter().enumerate() {
            for k in 0..3 {
                if p[k] < points[ext[2 * k]][k] {
                    ext[2 * k] = i;
                }
                if p[k] > points[ext[2 * k + 1]][k] {
                    ext[2 * k + 1] = i;
                }
            }
        }
        let (mut i0, mut i1, mut dbest) = (0, 0, -1.0);
        for &x in &ext {
            for &y in &ext {
                let d = (points[x] - points[y]).norm_squared();
                if d > dbest {
                    dbest = d;
                    i0 = x;
                    i1 = y;
                }
            }
        }
        let e = (points[i1] - points[i0]).normalize();
        let (mut i2, mut dl) = (0, -1.0);
        for (i, p) in points.iter().enumerate() {
            let r = p - points[i0];
            let d = (r - e * e.dot(&r)).norm();
            if d > dl {
                dl = d;
                i2 = i;
            }
        }
        if dl <= 1e-9 * extent {
            return Err(Error::invalid(
                "convex hull",
                "points are collinear (need 4 non-coplanar points)",
            ));
        }
        let pn = (points[i1] - points[i0])
            .cross(&(points[i2] - points[i0]))
            .normalize();
        let (mut i3, mut dp) = (0, 0.0f64);
        for (i, p) in points.iter().enumerate() {
            let d = pn.dot(&(p - points[i0]));
            if d.abs() > dp.abs() {
                dp = d;
                i3 = i;
            }
        }
        if dp.abs() <= 1e-9 * extent {
            // Flat: inflate into a thin slab.
            let delta = 1e-6 * extent;
            let mut inflated = Vec::with_capacity(points.len() * 2);
            for p in points {
                inflated.push(p + pn * delta);
                inflated.push(p - pn * delta);
            }
            return Self::from_points(&inflated);
        }
        let p = points;
        let mut faces: Vec<QFace> = Vec::new();
        let centroid = (p[i0] + p[i1] + p[i2] + p[i3]) / 4.0;
        for (a, b, c) in [(i0, i1, i2), (i0, i1, i3), (i0, i2, i3), (i1, i2, i3)] {
            let f = qface(p, a, b, c);
            if f.n.dot(&(centroid - p[a])) > 0.0 {
                faces.push(qface(p, a, c, b));
            } else {
                faces.push(f);
            }
        }
        let init = [i0, i1, i2, i3];
        for (i, q) in p.iter().enumerate() {
            if init.contains(&i) {
                continue;
            }
            for f in faces.iter_mut() {
                if f.n.dot(q) - f.off > eps {
                    f.outside.push(i);
                    break;
                }
            }
        }
        let mut edges: HashSet<(usize, usize)> = HashSet::new();
        while let Some(fi) = faces.iter().position(|f| f.alive && !f.outside.is_empty()) {
            let f = &faces[fi];
            let eye = *f
                .outside
                .iter()
                .max_by(|&&x, &&y| (f.n.dot(&p[x])).total_cmp(&f.n.dot(&p[y])))
                .unwrap();
            let pe = p[eye];
            let visible: Vec<usize> = (0..faces.len())
                .filter(|&k| faces[k].alive && faces[k].n.dot(&pe) - faces[k].off > eps)
                .collect();
            edges.clear();
            for &k in &visible {
                let v = faces[k].v;
                for e in [(v[0], v[1]), (v[1], v[2]), (v[2], v[0])] {
                    if !edges.remove(&(e.1, e.0)) {
                        edges.insert(e);
                    }
                }
            }
            let mut orphans: Vec<usize> = Vec::new();
            for &k in &visible {
                faces[k].alive = false;
                orphans.append(&mut faces[k].outside);
            }
            let first_new = faces.len();
            let mut horizon: Vec<(usize, usize)> = edges.iter().copied().collect();
            horizon.sort_unstable();
            for (a, b) in horizon {
                faces.push(qface(p, a, b, eye));
            }
            for q in orphans {
                if q == eye {
                    continue;
                }
                for f in faces[first_new..].iter_mut() {
                    if f.n.dot(&p[q]) - f.off > eps {
                        f.outside.push(q);
                        break;
                    }
                }
            }
        }
        // Compact.
        let mut map = vec![u32::MAX; p.len()];
        let mut hull = ConvexHull::default();
        for f in faces.iter().filter(|f| f.alive) {
            let mut t = [0u32; 3];
            for (k, &vi) in f.v.iter().enumerate() {
                if map[vi] == u32::MAX {
                    map[vi] = hull.vertices.len() as u32;
                    hull.vertices.push(p[vi]);
                }
                t[k] = map[vi];
            }
            hull.faces.push(t);
            hull.normals.push(f.n);
        }
        hull.neighbors = vec![Vec::new(); hull.vertices.len()];
        for t in &hull.faces {
            for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                if !hull.neighbors[a as usize].contains(&b) {
                    hull.neighbors[a as usize].push(b);
                }
                if !hull.neighbors[b as usize].contains(&a) {
                    hull.neighbors[b as usize].push(a);
                }
            }
        }
        Ok(hull)
    }

    /// Largest vertex distance from the frame origin.
    pub fn bound_radius(&self) -> f64 {
        self.vertices.iter().map(|v| v.norm()).fold(0.0, f64::max)
    }

    /// Farthest vertex in direction `dir` (mesh frame). Hill climbing over the vertex graph when
    /// adjacency is available (exact for convex hulls), else a linear scan. Ties go to the first
    /// vertex found.
    pub fn support(&self, dir: &Vec3) -> Vec3 {
        self.support_idx(dir).0
    }

    /// [`ConvexHull::support`] with the vertex index (`u32::MAX` for an empty hull).
    pub fn support_idx(&self, dir: &Vec3) -> (Vec3, u32) {
        if self.vertices.is_empty() {
            return (Vec3::zeros(), u32::MAX);
        }
        if self.neighbors.len() != self.vertices.len() || self.vertices.len() <= 32 {
            let mut best = 0;
            let mut bd = f64::NEG_INFINITY;
            for (i, v) in self.vertices.iter().enumerate() {
                let d = v.dot(dir);
                if d > bd {
                    bd = d;
                    best = i;
                }
            }
            return (self.vertices[best], best as u32);
        }
        let mut cur = 0usize;
        let mut cd = self.vertices[0].dot(dir);
        loop {
            let mut moved = false;
            for &nb in &self.neighbors[cur] {
                let d = self.vertices[nb as usize].dot(dir);
                if d > cd {
                    cd = d;
                    cur = nb as usize;
                    moved = true;
                }
            }
            if !moved {
                return (self.vertices[cur], cur as u32);
            }
        }
    }

    /// Volume of the closed triangle mesh.
    pub fn volume(&self) -> f64 {
        self.mass_properties(1.0).0
    }

    /// Mass, centre of mass and inertia about the centre of mass (mesh axes) of the solid hull
    /// at uniform `density`: exact integrals over the tetrahedra formed by each face and a
    /// reference point (the vertex mean, for numerical accuracy).
    pub fn mass_properties(&self, density: f64) -> (f64, Vec3, Mat3) {
        if self.vertices.is_empty() {
            return (0.0, Vec3::zeros(), Mat3::zeros());
        }
        let r = self.vertices.iter().fold(Vec3::zeros(), |s, v| s + v) / self.vertices.len() as f64;
        let mut vol = 0.0;
        let mut first = Vec3::zeros();
        let mut second = Mat3::zeros();
        for t in &self.faces {
            let a = self.vertices[t[0] as usize] - r;
            let b = self.vertices[t[1] as usize] - r;
            let c = self.vertices[t[2] as usize] - r;
            let det = a.dot(&b.cross(&c));
            let s = a + b + c;
            vol += det / 6.0;
            first += s * (det / 24.0);
            second +=
                (a * a.transpose() + b * b.transpose() + c * c.transpose() + s * s.transpose())
                    * (det / 120.0);
        }
        if vol.abs() < 1e-300 {
            return (0.0, r, Mat3::zeros());
        }
        let com_rel = first / vol;
        // Second moment about the centre of mass.
        let c = (second - com_rel * com_rel.transpose() * vol) * density;
        let inertia = Mat3::identity() * c.trace() - c;
        (vol * density, com_rel + r, inertia)
    }
}
